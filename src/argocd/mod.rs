//! Argo CD config management plugin (CMP): the front end `argocd-cmp-server` runs in the
//! repo-server sidecar. `generate` renders the app's source path with the usual pipeline and
//! validates it; `parameters` announces the substitution variables the overlay declares;
//! `discover` tells Argo CD whether an app is strata's (`discover.rs`); `check` lints a
//! plugin.yaml and the sidecar patch (`check.rs`). The sidecar image has no shell: every step
//! of plugin.yaml is a strata command.
//!
//! The contract (Argo CD, "Config Management Plugins"): the command runs in the app's source
//! path with ARGOCD_APP_NAME, ARGOCD_APP_NAMESPACE, ARGOCD_APP_REVISION,
//! ARGOCD_APP_SOURCE_PATH, ARGOCD_APP_SOURCE_REPO_URL, KUBE_VERSION, KUBE_API_VERSIONS and the
//! app's `ARGOCD_ENV_<NAME>` in the environment, and the UI parameters in
//! ARGOCD_APP_PARAMETERS (JSON) and `PARAM_<NAME>`; stdout must be Kubernetes objects only,
//! and the server kills the command after ARGOCD_EXEC_TIMEOUT.

pub mod apps;
pub mod check;
pub mod discover;
pub mod hydrate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::hostnet::kinds::{Spec, Strata};
use crate::hostnet::substitution::Overrides;
use crate::kustomize::build::Builder;
use crate::kustomize::listed::{self, Kind};
use crate::kustomize::load::kustomization;
use crate::kustomize::load::{self, Loader};
use crate::validate::{self, ClusterProfile};

/// Argo CD's default for ARGOCD_EXEC_TIMEOUT.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Parses a Go duration (`time.ParseDuration`): `90s`, `2m`, `1h30m`, `1.5s`, `500ms`.
pub fn parse_go_duration(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (e.g. 90s, 2m, 1h30m)");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(bad());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// The time the command may take: ARGOCD_EXEC_TIMEOUT or Argo CD's default.
pub fn exec_timeout(env: &HashMap<String, String>) -> std::result::Result<Duration, String> {
    match env
        .get("ARGOCD_EXEC_TIMEOUT")
        .filter(|v| !v.trim().is_empty())
    {
        Some(v) => parse_go_duration(v).map_err(|e| format!("ARGOCD_EXEC_TIMEOUT: {e}")),
        None => Ok(DEFAULT_TIMEOUT),
    }
}

/// When to give up on our own, before the server kills us without a word: a tenth of the
/// timeout early (at least 100ms, at most 10s).
pub fn deadline(timeout: Duration) -> Duration {
    let margin = (timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(10));
    timeout.saturating_sub(margin)
}

/// Argo CD's name for a parameter's environment variable: `PARAM_` and the name upper-cased
/// with every character outside `[A-Z0-9_]` replaced by `_`.
pub fn param_env_name(name: &str) -> String {
    let up: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("PARAM_{up}")
}

/// The substitution values the app's UI parameters give. ARGOCD_APP_PARAMETERS is a JSON list
/// of `{name, string|array|map}`: a `string` parameter sets the variable of its name, a `map`
/// sets one variable per key, an `array` holds `NAME=VALUE` items. Without it, `PARAM_<NAME>`
/// is read for each declared variable.
pub fn parameter_values(
    env: &HashMap<String, String>,
    declared: &[String],
) -> Result<IndexMap<String, String>> {
    let mut out = IndexMap::new();
    let raw = env
        .get("ARGOCD_APP_PARAMETERS")
        .map(String::as_str)
        .unwrap_or("")
        .trim();
    if raw.is_empty() || raw == "null" {
        for name in declared {
            if let Some(v) = env.get(&param_env_name(name)) {
                out.insert(name.clone(), v.clone());
            }
        }
        return Ok(out);
    }
    let bad = |msg: String| {
        Error::new(format!("ARGOCD_APP_PARAMETERS: {msg}"))
            .help("set parameters in the Application's `spec.source.plugin.parameters` as {name, string|array|map}")
    };
    let list: Vec<Value> =
        serde_json::from_str(raw).map_err(|e| bad(format!("not a JSON list: {e}")))?;
    for (i, p) in list.iter().enumerate() {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("parameter {i} has no `name`")))?;
        if let Some(v) = p.get("string") {
            out.insert(name.to_string(), scalar(v));
        } else if let Some(Value::Object(m)) = p.get("map") {
            for (k, v) in m {
                out.insert(k.clone(), scalar(v));
            }
        } else if let Some(Value::Array(items)) = p.get("array") {
            for item in items {
                let item = scalar(item);
                match item.split_once('=') {
                    Some((k, v)) if !k.is_empty() => {
                        out.insert(k.to_string(), v.to_string());
                    }
                    _ => {
                        return Err(bad(format!(
                            "parameter `{name}`: array items are NAME=VALUE, got `{item}`"
                        )));
                    }
                }
            }
        } else {
            return Err(bad(format!(
                "parameter `{name}` has no `string`, `array` or `map`"
            )));
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A substitution variable an overlay declares.
#[derive(Debug, Clone)]
pub struct Declared {
    pub name: String,
    pub value: String,
    /// `Substitution region (overlays/cn-hangzhou/region.yaml)`.
    pub by: String,
}

/// The substitution variables a kustomization tree declares (its own Substitution configs
/// and those of its resources and components), in the order met; a later value (the
/// overlay's) wins over an earlier one as it does when rendering.
pub fn declared_vars(
    dir: &Path,
    options: &crate::kustomize::build::Options,
) -> Result<Vec<Declared>> {
    let builder = crate::hostnet::builder().with_options(options.clone());
    let mut out: IndexMap<String, Declared> = IndexMap::new();
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::new(format!("cannot open {}: {e}", dir.display())))?;
    walk(&builder, &builder.loader, &dir, &mut Vec::new(), &mut out)?;
    Ok(out.into_values().collect())
}

fn walk(
    builder: &Builder,
    loader: &Loader,
    dir: &Path,
    seen: &mut Vec<PathBuf>,
    out: &mut IndexMap<String, Declared>,
) -> Result<()> {
    if seen.iter().any(|d| d == dir) {
        return Ok(());
    }
    seen.push(dir.to_path_buf());
    let kf = kustomization::read(loader, dir)?;
    let children = kf
        .spec
        .resources
        .iter()
        .chain(&kf.spec.bases)
        .chain(&kf.spec.components);
    for rel in children {
        if load::is_remote(rel) {
            continue;
        }
        if let Ok(p) = load::resolve_dir(loader, &kf.dir, rel, "resources")
            && p.is_dir()
        {
            walk(builder, loader, &p, seen, out)?;
        }
    }
    if !kf.spec.transformers.is_empty() {
        let build = |d: &Path| builder.render(d);
        let kinds = crate::hostnet::StrataKinds::new(Overrides::default());
        let listed = listed::Listed::Transformers;
        let configs = listed::load(
            &kf,
            loader,
            listed,
            &kf.spec.transformers,
            &build,
            // Listed, not run: an exec function is only read here.
            listed::Runners {
                enable_exec: builder.options().enable_exec,
                kinds: Some(kinds.as_ref()),
            },
        )?;
        for c in configs {
            let Kind::Extension(x) = &c.kind else {
                continue;
            };
            if let Some(Spec::Substitution(spec)) =
                x.as_any().downcast_ref::<Strata>().map(|s| &s.spec)
            {
                for (k, v) in &spec.vars {
                    out.insert(
                        k.clone(),
                        Declared {
                            name: k.clone(),
                            value: v.clone(),
                            by: format!("{} ({})", c.actor.what, c.display.display()),
                        },
                    );
                }
            }
        }
    }
    Ok(())
}

/// Why `generate` produced nothing.
#[derive(Debug)]
pub enum Failure {
    /// The input could not be rendered (exit 2).
    Error(String),
    /// The render has error-level validation findings (exit 1).
    Findings(String),
}

/// The Argo CD build environment the command was given, for messages.
pub fn app_label(env: &HashMap<String, String>) -> String {
    match env.get("ARGOCD_APP_NAME").filter(|s| !s.is_empty()) {
        Some(app) => format!("app `{app}`"),
        None => "the app".to_string(),
    }
}

/// The app's source path as Argo CD names it, else `dir`.
pub fn source_path(dir: &Path, env: &HashMap<String, String>) -> String {
    env.get("ARGOCD_APP_SOURCE_PATH")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| dir.display().to_string())
}

/// The values the app gives: its `plugin.env` (`ARGOCD_ENV_NAME`), then its parameters,
/// which win. Nothing else of the sidecar's environment is a substitution value.
pub fn plugin_overrides(
    env: &HashMap<String, String>,
    parameters: IndexMap<String, String>,
) -> Overrides {
    let mut o = Overrides::default();
    let mut names: Vec<(&String, &String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("ARGOCD_ENV_"))
        .collect();
    names.sort();
    for (k, v) in names {
        let name = &k["ARGOCD_ENV_".len()..];
        if !name.is_empty() {
            o.insert(name, v.clone(), format!("{k} (the app's plugin env)"));
        }
    }
    for (k, v) in parameters {
        o.insert(&k, v, "the app's parameters".into());
    }
    o
}

/// Renders `dir` for Argo CD with the sidecar's build options: the YAML stream of plain
/// objects, validated; `env` is the process environment.
/// The repository an app's source path is in, as argocd-cmp-server lays it out: the
/// working directory without `ARGOCD_APP_SOURCE_PATH` at its end; else the nearest directory
/// above holding `.git`; else the working directory itself. Nothing outside it is read.
pub fn repository_root(dir: &Path, env: &HashMap<String, String>) -> PathBuf {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if let Some(source) = env
        .get("ARGOCD_APP_SOURCE_PATH")
        .map(|s| s.trim_matches('/'))
        .filter(|s| !s.is_empty() && *s != ".")
    {
        let depth = Path::new(source).components().count();
        if dir.ends_with(source)
            && let Some(root) = dir.ancestors().nth(depth)
        {
            return root.to_path_buf();
        }
    }
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf()
}

pub fn generate(
    dir: &Path,
    env: &HashMap<String, String>,
    options: crate::kustomize::build::Options,
) -> std::result::Result<String, Failure> {
    let err = |e: Error| Failure::Error(e.to_string());
    let options = crate::kustomize::build::Options {
        repository_root: Some(repository_root(dir, env)),
        ..options
    };
    let declared: Vec<String> = declared_vars(dir, &options)
        .map_err(err)?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let set_values = parameter_values(env, &declared).map_err(err)?;
    let overrides = plugin_overrides(env, set_values);
    let kinds = crate::hostnet::StrataKinds::new(overrides);
    let builder = kinds.builder(false).with_options(options);
    let set = builder.render(dir).map_err(err)?;
    // Argo CD shows the plugin's stderr only when it fails: these matter in its logs.
    for note in &kinds.context().notes {
        eprintln!("note: {note}");
    }
    for unused in kinds.unused_overrides() {
        eprintln!("warning: {unused}");
    }
    let mut profile = crate::validate::profile::profile_of(&builder.loader, dir)
        .map_err(err)?
        .unwrap_or_else(ClusterProfile::assumed);
    if profile.spec.kubernetes_version.is_none()
        && let Some(v) = env.get("KUBE_VERSION").filter(|v| !v.is_empty())
    {
        // Argo CD's KUBE_VERSION is `1.30` or `v1.30.2+k3s1`-like: its MAJOR.MINOR is used.
        let bare = v.trim_start_matches('v');
        let mut parts = bare.split(['.', '+', '-']);
        match (parts.next(), parts.next()) {
            (Some(major), Some(minor))
                if !major.is_empty()
                    && !minor.is_empty()
                    && major.bytes().all(|b| b.is_ascii_digit())
                    && minor.bytes().all(|b| b.is_ascii_digit()) =>
            {
                profile.spec.kubernetes_version = Some(format!("{major}.{minor}"));
            }
            _ => eprintln!(
                "warning: KUBE_VERSION {v:?} is not a Kubernetes version: validated for the newest release strata knows"
            ),
        }
    }
    let report = validate::errors(&set, &profile, &builder.loader);
    if report.errors() > 0 {
        let text = crate::report::render(
            &report,
            crate::report::Format::Human,
            &builder.loader,
            false,
        );
        return Err(Failure::Findings(format!(
            "{text}error: {} (source path {}) has {} validation error(s); nothing was generated. Fix the overlay \
             (or suppress a finding with the annotation strata.dev/ignore: CODE) and sync again\n",
            app_label(env),
            source_path(dir, env),
            report.errors()
        )));
    }
    if let Some(apis) = env.get("KUBE_API_VERSIONS").filter(|s| !s.is_empty()) {
        let known: Vec<&str> = apis.split(',').map(str::trim).collect();
        for r in &set {
            let api = r.api_version();
            if !known.contains(&api) && !known.contains(&format!("{api}/{}", r.kind()).as_str()) {
                eprintln!(
                    "warning: {} uses {api}, which the destination cluster does not serve (KUBE_API_VERSIONS)",
                    r.id()
                );
            }
        }
    }
    Ok(crate::render::to_string(&set, crate::render::Format::Yaml))
}

/// The dynamic parameters announcement: one string parameter per substitution variable the
/// overlay declares, with its current value, as Argo CD's UI shows them.
pub fn parameters(
    dir: &Path,
    env: &HashMap<String, String>,
    options: crate::kustomize::build::Options,
) -> Result<String> {
    let options = crate::kustomize::build::Options {
        repository_root: Some(repository_root(dir, env)),
        ..options
    };
    let declared = declared_vars(dir, &options)?;
    let names: Vec<String> = declared.iter().map(|d| d.name.clone()).collect();
    let set = parameter_values(env, &names)?;
    let list: Vec<Value> = declared
        .iter()
        .map(|d| {
            let (value, from) = if let Some(v) = set.get(&d.name) {
                (v.clone(), "the app's parameters".to_string())
            } else if let Some(v) = env.get(&format!("ARGOCD_ENV_{}", d.name)) {
                (v.clone(), format!("ARGOCD_ENV_{}", d.name))
            } else {
                (d.value.clone(), d.by.clone())
            };
            json!({
                "name": d.name,
                "title": d.name,
                "tooltip": format!("strata substitution variable ({}); current value from {from}", d.by),
                "itemType": "string",
                "collectionType": "string",
                "string": value,
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&Value::Array(list)).expect("JSON values serialize") + "\n")
}
