//! strata's own transformer kinds (`apiVersion: strata.dev/v1alpha1`): HostNetwork,
//! Substitution, ImageRegistry, SecurityContext. A kustomization lists their files under
//! `transformers:`, so a tree stays a normal kustomize tree; the engine hands these configs
//! to [`super::Kinds`]. Each config is read strictly: an unknown field or a wrong type is an
//! error with file and line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Context;
use crate::error::{Error, Result};
use crate::kustomize::configurations::TransformerConfig;
use crate::kustomize::listed::{Configured, Kind, Transform, identity_of};
use crate::kustomize::load::kustomization::Selector;
use crate::kustomize::selector::Target;
use crate::model::{Actor, Resource, ResourceSet};
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
    /// The resources to substitute in (kustomize's selector fields); all when empty.
    #[serde(default)]
    pub targets: Vec<TargetEntry>,
    /// Placeholder names that are text, not variables: left as written, never an error
    /// (a vendored Grafana dashboard's `${datasource}`).
    #[serde(default)]
    pub ignore: Vec<String>,
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

/// One of strata's kinds, parsed.
#[derive(Debug, Clone)]
pub enum Spec {
    HostNetwork(HostNetworkSpec),
    Substitution(SubstitutionSpec),
    ImageRegistry(ImageRegistrySpec),
    SecurityContext(SecurityContextSpec),
}

/// A configured strata kind, as the engine runs it: the render's [`Context`] gives
/// Substitution its values from outside the tree and takes ImageRegistry's report.
pub struct Strata {
    pub spec: Spec,
    ctx: Arc<Mutex<Context>>,
}

impl Transform for Strata {
    fn apply(&self, t: &Configured, set: &mut ResourceSet, tc: &TransformerConfig) -> Result<()> {
        let ctx = || self.ctx.lock().expect("strata context lock");
        match &self.spec {
            Spec::HostNetwork(spec) => super::host_network::apply(t, spec, set),
            Spec::ImageRegistry(spec) => {
                super::image_registry::apply(t, spec, set, &tc.images, &mut ctx().images)
            }
            Spec::SecurityContext(spec) => super::security_context::apply(t, spec, set),
            Spec::Substitution(spec) => {
                let overrides = ctx().overrides.clone();
                let used = super::substitution::apply(t, spec, &overrides, set)?;
                let mut ctx = ctx();
                ctx.used.extend(used.names);
                for (name, file, value, source) in used.overridden {
                    let line = yaml::locate(&t.src, t.doc_index, &["spec", "vars", &name])
                        .map_or(t.actor.line, |(l, _)| l);
                    let note = format!(
                        "{name} is {value:?} from {source}, not {file:?} as spec.vars of {} ({}:{line}) says",
                        t.actor.what,
                        t.display.display(),
                    );
                    if !ctx.notes.contains(&note) {
                        ctx.notes.push(note);
                    }
                }
                Ok(())
            }
        }
    }

    fn runs_last(&self) -> bool {
        matches!(self.spec, Spec::Substitution(_))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
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

/// The compiled target list of a config's `spec.targets`.
pub fn targets(t: &Configured, entries: &[TargetEntry]) -> Result<Targets> {
    if entries.is_empty() {
        return Err(t
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
            t.error_at(
                &["spec", "targets", &idx],
                format!("invalid target: {}", one_line(&msg)),
            )
        })?;
        out.push((target, e.allow_no_match, i));
    }
    Ok(Targets { entries: out })
}

/// A config given as a value rather than read from a kustomization (a KRM function's
/// `functionConfig`), shown as `display`; `src` is its YAML text, for locating fields.
pub fn from_value(
    display: &Path,
    src: &str,
    value: &Value,
    ctx: &Arc<Mutex<Context>>,
) -> Result<Configured> {
    parse_doc(
        &Arc::new(display.to_path_buf()),
        &Arc::from(src),
        0,
        value,
        ctx,
    )
}

/// Reads one config of strata's kinds (the engine calls this through [`super::StrataKinds`]).
pub fn parse_doc(
    display: &Arc<PathBuf>,
    src: &Arc<str>,
    doc_index: usize,
    value: &Value,
    ctx: &Arc<Mutex<Context>>,
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
        "HostNetwork" => strict(spec).map(Spec::HostNetwork),
        "Substitution" => strict(spec).map(Spec::Substitution),
        "ImageRegistry" => strict(spec).map(Spec::ImageRegistry),
        "SecurityContext" => strict(spec).map(Spec::SecurityContext),
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
        kind: Kind::Extension(Arc::new(Strata {
            spec: kind_parsed,
            ctx: ctx.clone(),
        })),
        actor,
        display: display.clone(),
        src: src.clone(),
        doc_index,
        identity: identity_of(value),
    })
}
