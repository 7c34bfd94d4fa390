//! strata's own transformer kinds (`apiVersion: strata.dev/v1alpha1`): HostNetwork,
//! Substitution, ImageRegistry, SecurityContext. A kustomization lists their files under
//! `transformers:`, so a tree stays a normal kustomize tree; kustomize's builtin configs
//! (`apiVersion: builtin`) listed there are read by `builtin.rs`. Each config is read strictly: an
//! unknown field or a wrong type is an error with file and line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::selector::Target;
use crate::error::{Error, Result};
use crate::load::kustomization::{KustFile, Selector};
use crate::load::{self, LoadedFile, Loader};
use crate::model::{Actor, Resource};
use crate::yaml;

pub const API_VERSION: &str = "strata.dev/v1alpha1";

/// A target entry: kustomize's selector fields, plus `allowNoMatch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetEntry {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
    /// A target that matches nothing is an error unless this is set.
    #[serde(default)]
    pub allow_no_match: bool,
}

impl TargetEntry {
    fn selector(&self) -> Selector {
        Selector {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            label_selector: self.label_selector.clone(),
            annotation_selector: self.annotation_selector.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostNetworkSpec {
    pub targets: Vec<TargetEntry>,
    #[serde(default = "default_dns_policy")]
    pub dns_policy: String,
    /// Kubernetes spells it `hostPID`, not camelCase `hostPid`.
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(default = "yes")]
    pub host_ports: bool,
    #[serde(default = "default_rollout")]
    pub rollout: String,
}

fn default_dns_policy() -> String {
    "ClusterFirstWithHostNet".into()
}
fn default_rollout() -> String {
    "safe".into()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubstitutionSpec {
    #[serde(default)]
    pub vars: IndexMap<String, String>,
    #[serde(default = "yes")]
    pub strict: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageRegistrySpec {
    pub rules: Vec<RegistryRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistryRule {
    /// A glob (globset syntax) on the normalised image name, without tag or digest.
    #[serde(rename = "match")]
    pub pattern: String,
    /// The registry (and path) that replaces the literal directory prefix of `match`.
    pub registry: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecurityContextSpec {
    pub targets: Vec<TargetEntry>,
    #[serde(default)]
    pub pod: serde_json::Map<String, Value>,
    #[serde(default)]
    pub containers: serde_json::Map<String, Value>,
    #[serde(default, rename = "override")]
    pub override_existing: bool,
}

#[derive(Debug, Clone)]
pub enum Kind {
    HostNetwork(HostNetworkSpec),
    Substitution(SubstitutionSpec),
    ImageRegistry(ImageRegistrySpec),
    SecurityContext(SecurityContextSpec),
    /// kustomize's builtin transformer configs (`apiVersion: builtin`, `builtin.rs`).
    Builtin(Arc<super::builtin::Builtin>),
    /// kustomize's builtin generator configs, listed under `generators:`.
    Generator(Arc<super::generators::Config>),
    /// An exec KRM function (`exec.rs`), as a transformer or a generator.
    Function(Arc<super::exec::Function>),
}

/// A compiled target list.
pub struct Targets {
    entries: Vec<(Target, bool, usize)>,
}

impl Targets {
    /// The resources a target list selects, with an error for an entry that selects none
    /// (unless it allows that).
    pub fn select(&self, set: &[Resource], t: &Configured) -> Result<Vec<usize>> {
        Ok(self
            .select_by(set, t)?
            .into_iter()
            .map(|(i, _)| i)
            .collect())
    }

    /// Like `select`, for transforms of pod specs: selecting a resource without one (a
    /// ConfigMap) is an error at the target that selected it.
    pub fn select_pod_bearing(&self, set: &[Resource], t: &Configured) -> Result<Vec<usize>> {
        let selected = self.select_by(set, t)?;
        if let Some((i, by)) = selected
            .iter()
            .find(|(i, _)| super::workloads::pod_spec_path(&set[*i]).is_none())
        {
            let idx = by.to_string();
            return Err(t
                .error_at(
                    &["spec", "targets", &idx],
                    format!(
                        "this target selects {}, which has no pod spec",
                        set[*i].id()
                    ),
                )
                .help(format!(
                    "target only pod-bearing kinds: {}",
                    super::workloads::pod_bearing_kinds()
                )));
        }
        Ok(selected.into_iter().map(|(i, _)| i).collect())
    }

    /// The selected resources, each with the index of the first target that selects it.
    fn select_by(&self, set: &[Resource], t: &Configured) -> Result<Vec<(usize, usize)>> {
        let mut selected: Vec<Option<usize>> = vec![None; set.len()];
        for (target, allow_no_match, index) in &self.entries {
            let mut hit = false;
            for (i, r) in set.iter().enumerate() {
                if target.matches(r) {
                    selected[i].get_or_insert(*index);
                    hit = true;
                }
            }
            if !hit && !allow_no_match {
                let idx = index.to_string();
                return Err(t
                    .error_at(
                        &["spec", "targets", &idx],
                        "this target matches no resource",
                    )
                    .help(
                        "fix the target, or add `allowNoMatch: true` to it if that is intended",
                    ));
            }
        }
        Ok(selected
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|by| (i, by)))
            .collect())
    }
}

/// A selector compile error on one line: the regex crate's message spans several lines (the
/// pattern, a caret, then `error: ...`), which would read as a second error.
fn one_line(msg: &str) -> String {
    match msg.split_once("regex parse error:") {
        Some((head, rest)) => {
            let reason = rest
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or_else(|| rest.trim());
            format!("{head}{reason}")
        }
        None => msg.to_string(),
    }
}

/// One configured strata transform: what, from where.
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
fn identity_of(value: &Value) -> [String; 4] {
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

    pub fn targets(&self, entries: &[TargetEntry]) -> Result<Targets> {
        if entries.is_empty() {
            return Err(self
                .error_at(
                    &["spec", "targets"],
                    "`targets` is empty: say which workloads this applies to",
                )
                .help("e.g. `targets: [{kind: DaemonSet, name: node-exporter}]`"));
        }
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let target = Target::compile(&e.selector()).map_err(|msg| {
                let idx = i.to_string();
                self.error_at(
                    &["spec", "targets", &idx],
                    format!("invalid target: {}", one_line(&msg)),
                )
            })?;
            out.push((target, e.allow_no_match, i));
        }
        Ok(Targets { entries: out })
    }
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
    enable_exec: bool,
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
            classify(kf, loader, listed, file, d, value, enable_exec).map_err(at)
        };
        if let Some(file) = inline(kf, field, i, rel) {
            let file = Arc::new(file);
            for (d, doc) in file.docs.iter().enumerate() {
                out.push(classify(&file, d, &doc.value)?);
            }
            continue;
        }
        let dir = load::resolve_dir(&kf.dir, rel, &format!("{field}[{i}]")).map_err(at)?;
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
    enable_exec: bool,
) -> Result<Configured> {
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
    if let Some(spec) = super::exec::spec_of(value) {
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
        let origin = super::exec::origin(&file.display, line);
        return Ok(configured(Kind::Function(Arc::new(
            super::exec::Function::new(&path, &kf.dir, value.clone(), origin),
        ))));
    }
    let builtin = api == "builtin";
    match listed {
        Listed::Transformers if builtin => {
            if super::generators::KINDS.split(", ").any(|k| k == kind) {
                return Err(err(
                    &["kind"],
                    format!("{kind} is a generator: list it under `generators`, not `transformers`"),
                ));
            }
            let parsed = super::builtin::parse(kf, loader, file, doc_index, value)?;
            Ok(configured(Kind::Builtin(Arc::new(parsed))))
        }
        Listed::Generators if builtin => {
            if super::builtin::KINDS.split(", ").any(|k| k.trim() == kind) {
                return Err(err(
                    &["kind"],
                    format!("{kind} is a transformer: list it under `transformers`, not `generators`"),
                ));
            }
            let parsed = super::generators::parse_config(kf, loader, file, doc_index, value)?;
            Ok(configured(Kind::Generator(Arc::new(parsed))))
        }
        Listed::Transformers => parse_doc(
            &file.display,
            &Arc::from(file.src.as_str()),
            doc_index,
            value,
        ),
        Listed::Generators => Err(err(
            &["kind"],
            format!(
                "`generators` entry `{kind}` ({api}) is neither one of kustomize's builtin generators ({}) nor an exec KRM function",
                super::generators::KINDS
            ),
        )
        .help("generator plugins other than kustomize's builtin ones and exec functions are not supported")),
    }
}

/// A config given as a value rather than read from a kustomization (a KRM function's
/// `functionConfig`), shown as `display`; `src` is its YAML text, for locating fields.
pub fn from_value(display: &Path, src: &str, value: &Value) -> Result<Configured> {
    parse_doc(&Arc::new(display.to_path_buf()), &Arc::from(src), 0, value)
}

fn parse_doc(
    display: &Arc<PathBuf>,
    src: &Arc<str>,
    doc_index: usize,
    value: &Value,
) -> Result<Configured> {
    let err = |path: &[&str], msg: String| {
        Error::new(msg)
            .in_file(display)
            .at_opt(yaml::locate(src, doc_index, path))
    };
    let api = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if api.starts_with("strata.dev/") && api != API_VERSION {
        return Err(err(
            &["apiVersion"],
            format!("unknown strata apiVersion `{api}`: the transformer kinds are {API_VERSION}"),
        ));
    }
    if api != API_VERSION {
        return Err(err(
            &["apiVersion"],
            format!(
                "`transformers` entry `{kind}` ({api}) is not supported by strata yet: strata runs its own kinds \
                 (apiVersion {API_VERSION}: HostNetwork, Substitution, ImageRegistry, SecurityContext) and \
                 kustomize's builtin configs (apiVersion builtin)"
            ),
        )
        .help("strata also runs exec KRM functions (a `config.kubernetes.io/function` annotation with `exec: {path: ...}`, \
               rendered with `--enable-alpha-plugins --enable-exec`); Go plugins and kustomize's legacy exec plugins are not supported"));
    }
    if name.is_empty() {
        return Err(err(
            &["metadata"],
            format!("the {kind} config needs `metadata.name`"),
        ));
    }
    if let Some(Value::Object(top)) = Some(value) {
        for k in top.keys() {
            if !["apiVersion", "kind", "metadata", "spec"].contains(&k.as_str()) {
                return Err(err(
                    &[k],
                    format!(
                        "unknown field `{k}` in {kind} {name}: expected apiVersion, kind, metadata and spec"
                    ),
                ));
            }
        }
    }
    // `spec:` with nothing after it is an empty spec, as when it is left out.
    let spec = match value.get("spec") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    fn strict<T: DeserializeOwned>(spec: Value) -> std::result::Result<T, (Vec<String>, String)> {
        serde_path_to_error::deserialize(spec).map_err(|e| {
            let path: Vec<String> = e
                .path()
                .iter()
                .map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => index.to_string(),
                    serde_path_to_error::Segment::Map { key } => key.clone(),
                    other => other.to_string(),
                })
                .collect();
            (path, e.into_inner().to_string())
        })
    }
    let parsed = match kind {
        "HostNetwork" => strict(spec).map(Kind::HostNetwork),
        "Substitution" => strict(spec).map(Kind::Substitution),
        "ImageRegistry" => strict(spec).map(Kind::ImageRegistry),
        "SecurityContext" => strict(spec).map(Kind::SecurityContext),
        other => {
            return Err(err(
                &["kind"],
                format!(
                    "unknown strata kind `{other}`: expected HostNetwork, Substitution, ImageRegistry or SecurityContext"
                ),
            ));
        }
    };
    let kind_parsed = parsed.map_err(|(path, msg)| {
        let mut full = vec!["spec".to_string()];
        full.extend(path.iter().cloned());
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        err(
            &refs,
            format!("invalid {kind} {name}: {msg} (at {})", full.join(".")),
        )
    })?;
    let line = yaml::locate(src, doc_index, &[]).map_or(1, |(l, _)| l);
    let actor = Arc::new(Actor {
        what: format!("{kind} {name}"),
        file: display.clone(),
        line,
    });
    Ok(Configured {
        kind: kind_parsed,
        actor,
        display: display.clone(),
        src: src.clone(),
        doc_index,
        identity: identity_of(value),
    })
}
