//! Loading: files and directories into documents and resources, each file read and parsed
//! once per process however many overlays share it, and kustomize's load restriction
//! (a kustomization reads files only below its own directory, symlinks resolved).

pub mod kustomization;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{Origin, Resource};
use crate::yaml::{self, Document};

/// A parsed file: its text (kept for locating fields in diagnostics) and its documents.
#[derive(Debug)]
pub struct LoadedFile {
    /// The path as shown to the user.
    pub display: Arc<PathBuf>,
    pub src: String,
    pub docs: Vec<Document>,
    /// Where its nodes start, indexed on first use (kustomizations are located into once
    /// per patch, image and generator entry, and again by every overlay built on them).
    pub positions: std::sync::OnceLock<crate::yaml::Positions>,
}

impl LoadedFile {
    /// Where the node at `path` in document `doc` starts: `(line, column)`, 1-based, as
    /// [`crate::yaml::locate`] finds it.
    pub fn locate(&self, doc: usize, path: &[&str]) -> Option<(usize, usize)> {
        self.positions
            .get_or_init(|| crate::yaml::Positions::of(&self.src))
            .find(doc, path)
    }
}

/// Reads and parses files. Kustomizations and patches are parsed once and kept. Resource
/// files are kept parsed only when `share` is set (several renders in one process reuse
/// them); a single render parses each once and moves the values out, never copying them.
#[derive(Default)]
pub struct Loader {
    files: Mutex<HashMap<PathBuf, Arc<LoadedFile>>>,
    resources: Mutex<HashMap<PathBuf, Arc<Vec<Resource>>>>,
    /// The text of every resource file read, for locating fields in diagnostics.
    sources: Mutex<HashMap<Arc<PathBuf>, Arc<str>>>,
    share: bool,
    cwd: Option<PathBuf>,
    /// Files may be read from outside a kustomization's directory
    /// (`--load-restrictor LoadRestrictionsNone`).
    unrestricted: bool,
    /// The repository root: nothing below no kustomization, file or program outside it is
    /// read or run, whatever the load restriction (symlinks resolved). Set by the Argo CD
    /// plugin, whose repository is untrusted input to its sidecar.
    boundary: Option<PathBuf>,
    /// Every file, directory and program a render named and reached (canonical): its
    /// inputs (`strata inputs`).
    inputs: Mutex<std::collections::BTreeSet<PathBuf>>,
    /// What a render should say without failing: fields kustomize ignores, in the order met.
    warnings: Mutex<Vec<Error>>,
}

impl Loader {
    pub fn new() -> Self {
        Self::with_sharing(false)
    }

    /// A loader that keeps parsed resource files for later renders in the same process.
    pub fn with_sharing(share: bool) -> Self {
        Loader {
            share,
            cwd: std::env::current_dir()
                .ok()
                .and_then(|d| d.canonicalize().ok()),
            ..Default::default()
        }
    }

    /// kustomize's load restriction: root-only (the default), or none.
    pub fn set_root_only(&mut self, root_only: bool) {
        self.unrestricted = !root_only;
    }

    /// Confines every read to the repository root `root` (canonical).
    pub fn set_boundary(&mut self, root: Option<PathBuf>) {
        self.boundary = root;
    }

    /// The inputs of the renders so far: every file, directory and program they named and
    /// reached (canonical paths), sorted.
    pub fn inputs(&self) -> Vec<PathBuf> {
        self.inputs
            .lock()
            .expect("loader inputs lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Refuses a path (canonical: symlinks resolved) outside the repository root; records
    /// the others as inputs.
    pub fn admit(&self, canonical: &Path, what: &str, rel: &str) -> Result<()> {
        self.boundary_check(canonical, what, rel)?;
        self.inputs
            .lock()
            .expect("loader inputs lock")
            .insert(canonical.to_path_buf());
        Ok(())
    }

    fn boundary_check(&self, canonical: &Path, what: &str, rel: &str) -> Result<()> {
        match &self.boundary {
            Some(root) if !canonical.starts_with(root) => Err(Error::new(format!(
                "{what}: `{rel}` resolves to {}, outside the repository {}",
                canonical.display(),
                root.display()
            ))
            .help("a render reads nothing outside its repository (symlinks are resolved first): keep what the app needs in the repository")),
            _ => Ok(()),
        }
    }

    /// Reads a kustomize config (document `doc` of `file`, already parsed to `value`) as
    /// kustomize does: fields it does not know are ignored, and each is reported as a warning
    /// at its line, so that a misspelled or misplaced field does not pass unseen. `what`
    /// names the config in messages ("field specs", "PrefixSuffixTransformer config").
    pub fn read_config<T: serde::de::DeserializeOwned>(
        &self,
        file: &LoadedFile,
        doc: usize,
        value: Value,
        what: &str,
    ) -> Result<T> {
        // Go reads a field given as null (`templateLabels:` with nothing after it) as absent.
        let value = match value {
            Value::Object(m) => {
                Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            other => other,
        };
        let mut ignored: Vec<String> = Vec::new();
        let result: std::result::Result<T, _> =
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut |p| {
                ignored.push(p.to_string())
            }));
        let located = |path: &str| {
            let segs: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
            file.locate(doc, &segs)
        };
        let parsed = result.map_err(|e| {
            let path = e.path().to_string();
            Error::new(format!("invalid {what} at `{path}`: {}", e.inner()))
                .in_file(&file.display)
                .at_opt(located(&path))
        })?;
        for path in ignored {
            self.warn(
                Error::new(format!(
                    "`{path}` is not a field of {what}; kustomize ignores it, and so does strata"
                ))
                .in_file(&file.display)
                .at_opt(located(&path))
                .help("remove it, or check its spelling and indentation"),
            );
        }
        Ok(parsed)
    }

    /// The warnings met so far, each once, in order; they are taken.
    pub fn take_warnings(&self) -> Vec<Error> {
        let mut all = std::mem::take(&mut *self.warnings.lock().expect("loader warnings lock"));
        let mut seen = std::collections::HashSet::new();
        all.retain(|w| seen.insert(w.to_string()));
        all
    }

    /// Records a warning.
    pub fn warn(&self, warning: Error) {
        self.warnings
            .lock()
            .expect("loader warnings lock")
            .push(warning);
    }

    /// The text of a file read earlier, by the path as shown to the user.
    pub fn source(&self, display: &Path) -> Option<Arc<str>> {
        let sources = self.sources.lock().expect("loader sources lock");
        sources.get(&display.to_path_buf()).cloned()
    }

    /// How a path is shown: relative to the working directory when below it.
    pub fn display_path(&self, canonical: &Path) -> PathBuf {
        if let Some(cwd) = &self.cwd
            && let Ok(rel) = canonical.strip_prefix(cwd)
        {
            if rel.as_os_str().is_empty() {
                return PathBuf::from(".");
            }
            return rel.to_path_buf();
        }
        canonical.to_path_buf()
    }

    /// Reads and parses a YAML or JSON file (cached by its canonical path).
    pub fn load(&self, canonical: &Path) -> Result<Arc<LoadedFile>> {
        if let Some(f) = self.files.lock().expect("loader cache lock").get(canonical) {
            return Ok(f.clone());
        }
        let (display, src) = self.read_text(canonical)?;
        let docs = yaml::parse_stream(&src).map_err(|e| Error::from_yaml(e, &display))?;
        let file = Arc::new(LoadedFile {
            display,
            src,
            docs,
            positions: Default::default(),
        });
        self.files
            .lock()
            .expect("loader cache lock")
            .insert(canonical.to_path_buf(), file.clone());
        Ok(file)
    }

    /// A file's text (UTF-8), with the path as shown.
    fn read_text(&self, canonical: &Path) -> Result<(Arc<PathBuf>, String)> {
        let display = Arc::new(self.display_path(canonical));
        self.admit(canonical, "a file", &display.display().to_string())?;
        let bytes = std::fs::read(canonical)
            .map_err(|e| Error::new(format!("cannot read the file: {e}")).in_file(&display))?;
        let src = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let bad = e.as_bytes()[good.len()];
            let good = std::str::from_utf8(good).unwrap_or_default();
            let line = good.matches('\n').count() + 1;
            let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Error::new(format!(
                "the file is not valid UTF-8: byte 0x{bad:02x} at line {line}, column {column}"
            ))
            .in_file(&display)
            .at(line, column)
            .help("Kubernetes manifests are UTF-8 text: re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")
        })?;
        Ok((display, src))
    }

    /// The resources of a text that is not a file (standard input), shown as `display`.
    pub fn resources_from_text(&self, display: &str, text: String) -> Result<Vec<Resource>> {
        let display = Arc::new(PathBuf::from(display));
        let text: Arc<str> = Arc::from(text);
        self.sources
            .lock()
            .expect("loader sources lock")
            .insert(display.clone(), text.clone());
        parse_resources(&display, &text)
    }

    /// The resources of a manifest file: every document, `kind: List` (and `*List`) unpacked.
    pub fn resources(&self, canonical: &Path) -> Result<Vec<Resource>> {
        if let Some(r) = self
            .resources
            .lock()
            .expect("loader cache lock")
            .get(canonical)
        {
            return Ok(r.as_ref().clone());
        }
        let (display, src) = self.read_text(canonical)?;
        let src: Arc<str> = Arc::from(src);
        // Kept before the resources are read, for errors to quote.
        self.sources
            .lock()
            .expect("loader sources lock")
            .insert(display.clone(), src.clone());
        let out = parse_resources(&display, &src)?;
        if self.share {
            self.resources
                .lock()
                .expect("loader cache lock")
                .insert(canonical.to_path_buf(), Arc::new(out.clone()));
        }
        Ok(out)
    }
}

/// The resources of a file's text, in document order. Each document becomes resources as soon
/// as it is read, while it is in cache (a large file's pieces on all cores); the first error
/// in document order is the one reported, a YAML error before any other.
fn parse_resources(display: &Arc<PathBuf>, src: &str) -> Result<Vec<Resource>> {
    let per_doc = yaml::parse_stream_map(src, |doc: Document| {
        let origin = Origin {
            file: display.clone(),
            line: doc.line,
            // Set below: a piece of a large file does not know how many documents precede it.
            doc_index: 0,
            item: None,
        };
        let mut out = Vec::with_capacity(1);
        unpack(doc.value, origin, &mut out).map(|()| out)
    })
    .map_err(|e| Error::from_yaml(e, display))?;
    let mut out = Vec::with_capacity(per_doc.len());
    for (i, resources) in per_doc.into_iter().enumerate() {
        let start = out.len();
        out.extend(resources?);
        for r in &mut out[start..] {
            r.origin.doc_index = i;
        }
    }
    Ok(out)
}

/// Adds a document to `out`, unpacking `kind: List` (and `FooList` with `items`), as
/// kustomize and kubectl do.
fn unpack(value: Value, origin: Origin, out: &mut Vec<Resource>) -> Result<()> {
    let is_list = |fields: &serde_json::Map<String, Value>| {
        fields
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k == "List" || k.ends_with("List"))
            && fields.contains_key("items")
    };
    match value {
        Value::Object(mut list) if is_list(&list) => {
            let Some(Value::Array(items)) = list.remove("items") else {
                return Err(Error::new("`items` of a List must be a list")
                    .in_file(&origin.file)
                    .at(origin.line, 1));
            };
            for (k, item) in items.into_iter().enumerate() {
                let mut origin = origin.clone();
                origin.item.get_or_insert(k);
                unpack(item, origin, out)?;
            }
        }
        value => out.push(Resource::from_value(value, origin)?),
    }
    Ok(())
}

/// Resolves `rel` against the kustomization directory `base_dir`, following symlinks, and
/// requires the result to stay below `base_dir` (kustomize's `LoadRestrictionsRootOnly`).
/// `what` names the field for the error ("resources", "patches[2].path").
pub fn resolve_within(loader: &Loader, base_dir: &Path, rel: &str, what: &str) -> Result<PathBuf> {
    let joined = base_dir.join(rel);
    let canonical = joined
        .canonicalize()
        .map_err(|e| open_error(what, rel, &e))?;
    check_within(loader, base_dir, canonical, rel, what)
}

/// The load restriction for a path already resolved (symlinks followed).
pub fn check_within(
    loader: &Loader,
    base_dir: &Path,
    canonical: PathBuf,
    rel: &str,
    what: &str,
) -> Result<PathBuf> {
    loader.admit(&canonical, what, rel)?;
    if !loader.unrestricted && !canonical.starts_with(base_dir) {
        return Err(Error::new(format!(
            "{what}: `{rel}` resolves to {}, outside the kustomization directory {}",
            loader.display_path(&canonical).display(),
            loader.display_path(base_dir).display()
        ))
        .help(
            "a kustomization may read files only below its own directory (kustomize's \
             root-only load restriction; symlinks are resolved first); move the file, list \
             the directory that holds it as a resource, or render with \
             `--load-restrictor LoadRestrictionsNone`",
        ));
    }
    Ok(canonical)
}

/// Resolves a directory reference (a base or component) without the root restriction, as
/// kustomize allows `../base`.
pub fn resolve_dir(loader: &Loader, base_dir: &Path, rel: &str, what: &str) -> Result<PathBuf> {
    let dir = base_dir
        .join(rel)
        .canonicalize()
        .map_err(|e| open_error(what, rel, &e))?;
    loader.admit(&dir, what, rel)?;
    Ok(dir)
}

fn open_error(what: &str, rel: &str, e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::new(format!("{what}: `{rel}` does not exist"))
            .help("paths in a kustomization are relative to the directory that holds it")
    } else {
        Error::new(format!("{what}: `{rel}` cannot be opened: {e}"))
    }
}

/// Is `rel` a remote resource kustomize would fetch (a URL or a git reference)?
pub fn is_remote(rel: &str) -> bool {
    rel.contains("://")
        || rel.starts_with("git@")
        || rel.starts_with("github.com/")
        || rel.starts_with("gitlab.com/")
        || rel.starts_with("bitbucket.org/")
}
