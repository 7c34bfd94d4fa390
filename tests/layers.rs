//! The layers of `src/` point one way (lib.rs and ARCHITECTURE.md name them): a module may
//! use its own layer and those below it, never one above. This reads every `crate::`
//! path in `src/` and fails naming the file, the line and the two layers when one points
//! up.

use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    &["error", "yaml", "model", "parallel"],
    &["kustomize"],
    &["hostnet"],
    &["validate", "report", "render", "diff"],
    &["argocd", "krm"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/kustomize/load/mod.rs` is
/// `kustomize`); `None` for lib.rs and main.rs.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Every top-level module named by a `crate::` path in `text`, with its line.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            } else if let Some(group) = after.strip_prefix('{') {
                // `use crate::{a::x, b};` on one line.
                let group = group.split('}').next().unwrap_or("");
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_module_is_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut missing: Vec<String> = files
        .iter()
        .filter_map(|f| module_of(&src, f))
        .filter(|m| layer_of(m).is_none())
        .collect();
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "modules in no layer of tests/layers.rs: {missing:?}"
    );
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut up = Vec::new();
    for f in &files {
        let Some(module) = module_of(&src, f) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (line, used) in uses(&text) {
            if let Some(theirs) = layer_of(&used)
                && theirs > own
            {
                up.push(format!(
                    "{}:{line}: `{module}` (layer {own}) uses `{used}` (layer {theirs})",
                    f.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(up.is_empty(), "imports that point up:\n{}", up.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    // The checker itself: a `crate::` path in code is seen, one in a comment is not.
    let text = "use crate::cli::run;\n// crate::validate is named here only\nlet x = crate::kustomize::build::Builder::new();\nuse crate::{model::Resource, diff};\n";
    assert_eq!(
        uses(text),
        vec![
            (1, "cli".to_string()),
            (3, "kustomize".to_string()),
            (4, "model".to_string()),
            (4, "diff".to_string())
        ]
    );
}
