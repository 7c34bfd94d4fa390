//! The configs a kustomization lists under `transformers:` and `generators:`: written inline,
//! in files, or as the resources of a directory kustomization. Each is one of kustomize's
//! builtin configs (`apiVersion: builtin`, `builtins/configs.rs`, `builtins/generators.rs`),
//! an exec KRM function (`exec.rs`, only when the build allows it), or a kind of the layer
//! above the engine ([`Kinds`]: strata's own kinds, in `hostnet`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::configurations::TransformerConfig;
use crate::kustomize::load::kustomization::KustFile;
use crate::kustomize::load::{self, LoadedFile, Loader};
use crate::model::{Actor, Resource, ResourceSet};
use crate::yaml;

/// What a listed config is.
#[derive(Clone)]
pub enum Kind {
    /// kustomize's builtin transformer configs (`apiVersion: builtin`, `builtins/configs.rs`).
    Builtin(Arc<crate::kustomize::builtins::configs::Builtin>),
    /// kustomize's builtin generator configs, listed under `generators:`.
    Generator(Arc<crate::kustomize::builtins::generators::Config>),
    /// An exec KRM function (`exec.rs`), as a transformer or a generator.
    Function(Arc<crate::kustomize::exec::Function>),
    /// A kind of the layer above the engine ([`Kinds`]): strata's own.
    Extension(Arc<dyn Transform>),
}

/// Transformer kinds that a layer above the engine supplies (strata's own kinds, in
/// `hostnet`). The engine hands it every `transformers:` entry that is neither a kustomize
/// builtin nor an exec function, and runs what it returns in the listed order.
pub trait Kinds: Send + Sync {
    /// Reads one listed config: `display`/`src`/`doc_index` locate its fields for errors.
    /// A config it does not know is an error saying what it runs.
    fn parse(
        &self,
        display: &Arc<PathBuf>,
        src: &Arc<str>,
        doc_index: usize,
        value: &Value,
    ) -> Result<Configured>;
}

/// One configured transform of a [`Kinds`] extension.
pub trait Transform: Send + Sync {
    /// Applies it to the accumulated resources; `t` is its config, for errors; `tc` the
    /// field specs in effect (where kustomize finds images, labels...).
    fn apply(&self, t: &Configured, set: &mut ResourceSet, tc: &TransformerConfig) -> Result<()>;
    /// Runs after every other listed transformer of the kustomization (strata's
    /// Substitution, so that patches and registry rules may use placeholders).
    fn runs_last(&self) -> bool {
        false
    }
    /// For the layer above, to read back what it parsed.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// One listed config: what it is, and where it was written.
pub struct Configured {
    pub kind: Kind,
    pub actor: Arc<Actor>,
    /// The config file as shown, its text and which document of it this is.
    pub display: Arc<PathBuf>,
    pub src: Arc<str>,
    pub doc_index: usize,
    /// The config's `apiVersion`, `kind`, `metadata.name` and `metadata.namespace`.
    pub identity: [String; 4],
}

/// The `apiVersion`, `kind`, `metadata.name` and `metadata.namespace` of a config.
pub fn identity_of(value: &Value) -> [String; 4] {
    let s = |p: &str| {
        value
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    [
        s("/apiVersion"),
        s("/kind"),
        s("/metadata/name"),
        s("/metadata/namespace"),
    ]
}

impl Configured {
    /// An error at a field of this config.
    pub fn error_at(&self, path: &[&str], message: impl Into<String>) -> Error {
        Error::new(message)
            .in_file(&self.display)
            .at_opt(yaml::locate(&self.src, self.doc_index, path))
            .context(format!("in {}", self.actor.what))
    }
}

/// What a build may run besides kustomize's builtins: exec functions (only when asked,
/// `--enable-exec`) and the kinds of the layer above.
#[derive(Clone, Copy, Default)]
pub struct Runners<'a> {
    pub enable_exec: bool,
    pub kinds: Option<&'a dyn Kinds>,
}

/// Which list of a kustomization a config is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Transformers,
    Generators,
}

impl Listed {
    pub fn field(self) -> &'static str {
        match self {
            Listed::Transformers => "transformers",
            Listed::Generators => "generators",
        }
    }
}

/// Reads the configs a kustomization lists under `transformers:` or `generators:`, in
/// order: configs written inline (YAML text), files below the kustomization, or
/// directories holding a kustomization whose resources are the configs (`build_dir` builds
/// those). Each is a kustomize builtin, an exec KRM function (run only when `enable_exec`),
/// or one of strata's kinds (transformers only).
pub fn load(
    kf: &KustFile,
    loader: &Loader,
    listed: Listed,
    entries: &[String],
    build_dir: &dyn Fn(&Path) -> Result<Vec<Resource>>,
    runners: Runners<'_>,
) -> Result<Vec<Configured>> {
    let field = listed.field();
    let mut out = Vec::new();
    for (i, rel) in entries.iter().enumerate() {
        let idx = i.to_string();
        let at = |e: Error| {
            if e.file.is_some() {
                e.context(format!("in {field}[{i}] of {}", kf.display().display()))
            } else {
                e.in_file(kf.display())
                    .at_opt(yaml::locate(&kf.file.src, 0, &[field, &idx]))
            }
        };
        let classify = |file: &Arc<LoadedFile>, d: usize, value: &Value| {
            classify(kf, loader, listed, file, d, value, runners).map_err(at)
        };
        if let Some(file) = inline(kf, field, i, rel) {
            let file = Arc::new(file);
            for (d, doc) in file.docs.iter().enumerate() {
                out.push(classify(&file, d, &doc.value)?);
            }
            continue;
        }
        let dir = load::resolve_dir(loader, &kf.dir, rel, &format!("{field}[{i}]")).map_err(at)?;
        if dir.is_dir() {
            for r in build_dir(&dir).map_err(at)? {
                let src = loader
                    .source(&r.origin.file)
                    .unwrap_or_else(|| Arc::from(""));
                let origin = r.origin.clone();
                let value = r.into_value();
                let file = Arc::new(LoadedFile {
                    display: origin.file.clone(),
                    src: src.to_string(),
                    docs: Vec::new(),
                    positions: Default::default(),
                });
                out.push(classify(&file, origin.doc_index, &value)?);
            }
            continue;
        }
        let path =
            load::check_within(loader, &kf.dir, dir, rel, &format!("{field}[{i}]")).map_err(at)?;
        let file = loader.load(&path).map_err(at)?;
        for (d, doc) in file.docs.iter().enumerate() {
            out.push(classify(&file, d, &doc.value)?);
        }
    }
    Ok(out)
}

/// An entry written as YAML text (`- |-` and a config), as a file of its own whose lines
/// are the kustomization's: errors in it point into the kustomization. `None` when the
/// entry is a path.
fn inline(kf: &KustFile, field: &str, i: usize, entry: &str) -> Option<LoadedFile> {
    let docs = yaml::parse_stream(entry).ok()?;
    if docs.is_empty() || !docs.iter().all(|d| d.value.is_object()) {
        return None;
    }
    // The text of a block scalar stands in the kustomization below the entry's line,
    // indented: re-indent it and put it at the same lines, so that positions agree.
    let placed = kf
        .file
        .locate(0, &[field, &i.to_string()])
        .and_then(|(line, _)| {
            let lines: Vec<&str> = kf.file.src.lines().collect();
            let first = (line..lines.len()).find(|&l| !lines[l].trim().is_empty())?;
            let indent = lines[first].len() - lines[first].trim_start().len();
            let pad = " ".repeat(indent);
            let matches = entry.lines().enumerate().all(|(j, l)| {
                lines
                    .get(first + j)
                    .is_some_and(|k| l.is_empty() || *k == format!("{pad}{l}"))
            });
            matches.then(|| {
                let mut src = "\n".repeat(first);
                for l in entry.lines() {
                    if !l.is_empty() {
                        src.push_str(&pad);
                    }
                    src.push_str(l);
                    src.push('\n');
                }
                src
            })
        });
    let src = placed.unwrap_or_else(|| entry.to_string());
    let docs = yaml::parse_stream(&src).ok()?;
    Some(LoadedFile {
        display: Arc::new(kf.display().to_path_buf()),
        src,
        docs,
        positions: Default::default(),
    })
}

/// What one listed config is: an exec KRM function (with its annotation), a kustomize
/// builtin (`apiVersion: builtin`), or one of strata's kinds.
fn classify(
    kf: &KustFile,
    loader: &Loader,
    listed: Listed,
    file: &Arc<LoadedFile>,
    doc_index: usize,
    value: &Value,
    runners: Runners<'_>,
) -> Result<Configured> {
    let Runners { enable_exec, kinds } = runners;
    let s = |p: &str| value.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (api, kind, name) = (s("/apiVersion"), s("/kind"), s("/metadata/name"));
    let line = file.locate(doc_index, &[]).map_or(1, |(l, _)| l);
    let err = |path: &[&str], msg: String| {
        Error::new(msg)
            .in_file(&file.display)
            .at_opt(file.locate(doc_index, path))
    };
    let configured = |kind_parsed: Kind| Configured {
        kind: kind_parsed,
        actor: Arc::new(Actor {
            what: format!("{kind} {name}"),
            file: file.display.clone(),
            line,
        }),
        display: file.display.clone(),
        src: Arc::from(file.src.as_str()),
        doc_index,
        identity: identity_of(value),
    };
    if let Some(spec) = crate::kustomize::exec::spec_of(value) {
        let path = spec.map_err(|why| {
            err(
                &["metadata", "annotations"],
                format!("{kind} {name} is {why}, which strata cannot run"),
            )
            .help("strata runs exec KRM functions (`exec: {path: ...}`), not containers: no container runtime is assumed")
        })?;
        if !enable_exec {
            return Err(err(
                &["metadata", "annotations"],
                format!("{kind} {name} is an exec KRM function (`{path}`): it runs a program from the repository, which strata does only when asked"),
            )
            .help("render with `--enable-alpha-plugins --enable-exec` (kustomize's flags) if you trust this repository"));
        }
        // The program must be in the repository (symlinks resolved) when a root is set.
        if let Ok(program) = kf.dir.join(&path).canonicalize() {
            loader.admit(&program, &format!("{kind} {name}"), &path)?;
        }
        let origin = crate::kustomize::exec::origin(&file.display, line);
        return Ok(configured(Kind::Function(Arc::new(
            crate::kustomize::exec::Function::new(&path, &kf.dir, value.clone(), origin),
        ))));
    }
    let builtin = api == "builtin";
    match listed {
        Listed::Transformers if builtin => {
            if crate::kustomize::builtins::generators::KINDS.split(", ").any(|k| k == kind) {
                return Err(err(
                    &["kind"],
                    format!("{kind} is a generator: list it under `generators`, not `transformers`"),
                ));
            }
            let parsed = crate::kustomize::builtins::configs::parse(kf, loader, file, doc_index, value)?;
            Ok(configured(Kind::Builtin(Arc::new(parsed))))
        }
        Listed::Generators if builtin => {
            if crate::kustomize::builtins::configs::KINDS.split(", ").any(|k| k.trim() == kind) {
                return Err(err(
                    &["kind"],
                    format!("{kind} is a transformer: list it under `transformers`, not `generators`"),
                ));
            }
            let parsed = crate::kustomize::builtins::generators::parse_config(kf, loader, file, doc_index, value)?;
            Ok(configured(Kind::Generator(Arc::new(parsed))))
        }
        Listed::Transformers => match kinds {
            Some(k) => k.parse(&file.display, &Arc::from(file.src.as_str()), doc_index, value),
            None => Err(err(
                &["apiVersion"],
                format!("`transformers` entry `{kind}` ({api}) is neither one of kustomize's builtin transformers nor an exec KRM function"),
            )),
        },
        Listed::Generators => Err(err(
            &["kind"],
            format!(
                "`generators` entry `{kind}` ({api}) is neither one of kustomize's builtin generators ({}) nor an exec KRM function",
                crate::kustomize::builtins::generators::KINDS
            ),
        )
        .help("generator plugins other than kustomize's builtin ones and exec functions are not supported")),
    }
}
