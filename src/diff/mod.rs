//! Review diffs (`strata diff`): two renders of each overlay compared by resource identity.
//! `model` computes the diff once; `group` folds what many environments share (the same
//! change, the same finding, environment names into globs); `terminal`, `markdown`, `html`
//! and `json` render it; `git`
//! extracts a revision without touching the checkout; `secrets` masks Secret values before
//! anything sees them. Documentation: docs/diff.md.

pub mod git;
pub mod group;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
pub mod secrets;
pub mod terminal;

use std::path::{Path, PathBuf};

use globset::GlobBuilder;

use crate::error::{Error, Result};
use crate::kustomize::build::Builder;
use crate::kustomize::load::{self, kustomization};
use crate::model::ResourceSet;

/// Does `dir` hold a kustomization file?
pub fn is_kustomization_dir(dir: &Path) -> bool {
    kustomization::FILE_NAMES
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// The environment names (paths relative to the roots, `/`-separated) that `patterns`
/// name: a literal path as given, a glob (`overlays/*`) expanded to the directories holding
/// a kustomization below any of `roots`. Sorted, without repeats, in pattern order.
pub fn expand(patterns: &[String], roots: &[&Path]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for pattern in patterns {
        let p = group::normalize(pattern);
        if !p.contains(['*', '?', '[', '{']) {
            if !out.contains(&p) {
                out.push(p);
            }
            continue;
        }
        let glob = GlobBuilder::new(&p)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::new(format!("invalid directory pattern `{p}`: {e}")))?
            .compile_matcher();
        let prefix: PathBuf = p
            .split('/')
            .take_while(|s| !s.contains(['*', '?', '[', '{']))
            .collect();
        let mut found = Vec::new();
        for root in roots {
            let mut stack = vec![(root.join(&prefix), 0usize)];
            while let Some((d, depth)) = stack.pop() {
                if let Ok(rel) = d.strip_prefix(root) {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if glob.is_match(&rel) && is_kustomization_dir(&d) && !is_component(&d) {
                        found.push(rel);
                    }
                }
                if depth >= 12 {
                    continue;
                }
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let hidden = e.file_name().to_string_lossy().starts_with('.');
                    if !hidden && e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push((e.path(), depth + 1));
                    }
                }
            }
        }
        if found.is_empty() {
            return Err(Error::new(format!(
                "`{p}` matches no directory holding a kustomization"
            )));
        }
        found.sort();
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// A `kind: Component` directory is a piece of overlays, not an environment (alone it patches
/// objects the overlays bring): globs skip it.
fn is_component(dir: &Path) -> bool {
    kustomization::FILE_NAMES.iter().any(|f| {
        std::fs::read_to_string(dir.join(f))
            .is_ok_and(|t| t.lines().any(|l| l.trim_end() == "kind: Component"))
    })
}

/// An overlay's inputs: the resources its `resources:` (and `bases:`) entries name, each
/// directory rendered fully on its own and each file read as written, without the overlay's
/// own components, patches and transformers. Diffing these against the overlay's output
/// shows exactly what the overlay does.
pub fn inputs(builder: &Builder, dir: &Path) -> Result<ResourceSet> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::new(format!("cannot open {}: {e}", dir.display())))?;
    let kf = kustomization::read(&builder.loader, &dir)?;
    let mut set = ResourceSet::new();
    let entries = kf
        .spec
        .resources
        .iter()
        .map(|r| ("resources", r))
        .chain(kf.spec.bases.iter().map(|r| ("bases", r)));
    for (i, (field, rel)) in entries.enumerate() {
        let what = format!("{field}[{i}]");
        if load::is_remote(rel) {
            return Err(
                Error::new(format!("{what}: remote resource `{rel}` is not supported"))
                    .in_file(kf.display()),
            );
        }
        let path = load::resolve_dir(&builder.loader, &kf.dir, rel, &what)
            .map_err(|e| e.in_file(kf.display()))?;
        if path.is_dir() {
            set.extend(builder.render(&path)?);
        } else {
            let path = load::check_within(&builder.loader, &kf.dir, path, rel, &what)
                .map_err(|e| e.in_file(kf.display()))?;
            set.extend(builder.loader.resources(&path)?);
        }
    }
    Ok(set)
}

/// Text safe inside HTML (and Markdown's inline HTML).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
