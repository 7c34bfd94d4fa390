//! `strata argocd check DIR`: lints the plugin files in DIR (a ConfigManagementPlugin and the
//! repo-server sidecar patch) for the mistakes that make a CMP fail in ways that are hard to
//! see from the Argo CD UI: a sidecar that does not run argocd-cmp-server, missing mounts
//! (the server socket, the plugins directory, plugin.yaml), running as another user than
//! Argo CD's 999, a /tmp shared with the repo-server (other apps' sources), a step run through
//! a shell (the strata sidecar image has none), and a shell pipeline whose failures are
//! swallowed (no `set -o pipefail`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::yaml;

pub const CMP_SERVER: &str = "/var/run/argocd/argocd-cmp-server";
pub const PLUGIN_CONFIG: &str = "/home/argocd/cmp-server/config/plugin.yaml";
pub const PLUGINS_DIR: &str = "/home/argocd/cmp-server/plugins";
pub const VAR_FILES: &str = "/var/run/argocd";
pub const ARGOCD_UID: i64 = 999;

/// One problem found, at a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
    pub help: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "error: {}\n  --> {}:{}\n  = help: {}",
            self.message,
            self.file.display(),
            self.line,
            self.help
        )
    }
}

struct Doc<'a> {
    file: &'a Path,
    src: &'a str,
    index: usize,
    value: &'a Value,
}

impl Doc<'_> {
    fn problem<S: AsRef<str>>(
        &self,
        path: &[S],
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Problem {
        let path: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
        let line = yaml::locate(self.src, self.index, &path).map_or(1, |(l, _)| l);
        Problem {
            file: self.file.to_path_buf(),
            line,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// Lints the `.yaml`/`.yml` files directly in `dir`. An error if it holds no
/// ConfigManagementPlugin or no sidecar.
pub fn check_dir(dir: &Path) -> Result<Vec<Problem>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::new(format!("cannot read {}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    let mut texts = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f)
            .map_err(|e| Error::new(format!("cannot read the file: {e}")).in_file(f))?;
        let docs = yaml::parse_stream(&src).map_err(|e| Error::from_yaml(e, f))?;
        texts.push((f.clone(), src, docs));
    }
    let mut problems = Vec::new();
    let (mut plugins, mut sidecars) = (0, 0);
    for (file, src, docs) in &texts {
        for (index, d) in docs.iter().enumerate() {
            let doc = Doc {
                file,
                src,
                index,
                value: &d.value,
            };
            match d.value.get("kind").and_then(Value::as_str) {
                Some("ConfigManagementPlugin") => {
                    plugins += 1;
                    check_plugin(&doc, &mut problems);
                }
                Some("Deployment") => {
                    sidecars += check_sidecars(&doc, &mut problems);
                }
                _ => {}
            }
        }
    }
    if plugins == 0 {
        return Err(Error::new(format!(
            "{} holds no ConfigManagementPlugin (plugin.yaml)",
            dir.display()
        ))
        .help("pass the directory with plugin.yaml and the repo-server sidecar patch"));
    }
    if sidecars == 0 {
        return Err(Error::new(format!(
            "{} holds no repo-server sidecar (a Deployment patch with a container running {CMP_SERVER})",
            dir.display()
        ))
        .help("pass the directory with plugin.yaml and the repo-server sidecar patch"));
    }
    Ok(problems)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Does a shell script run a pipeline (`a | b`, not `a || b`)?
fn has_pipeline(script: &str) -> bool {
    let b = script.as_bytes();
    (0..b.len())
        .any(|i| b[i] == b'|' && b.get(i + 1) != Some(&b'|') && (i == 0 || b[i - 1] != b'|'))
}

fn check_plugin(doc: &Doc<'_>, out: &mut Vec<Problem>) {
    let spec = doc.value.get("spec");
    if doc.value.get("apiVersion").and_then(Value::as_str) != Some("argoproj.io/v1alpha1") {
        out.push(doc.problem(
            &["apiVersion"],
            "a ConfigManagementPlugin's apiVersion is argoproj.io/v1alpha1",
            "set `apiVersion: argoproj.io/v1alpha1`",
        ));
    }
    // Each step argocd-cmp-server runs: (its path under `spec`, as plugin.yaml spells it).
    let steps: [&[&str]; 4] = [
        &["init"],
        &["generate"],
        &["discover", "find"],
        &["parameters", "dynamic"],
    ];
    for path in steps {
        let step = path.join(".");
        let at = |rest: &[&str]| -> Vec<String> {
            std::iter::once("spec")
                .chain(path.iter().copied())
                .chain(rest.iter().copied())
                .map(str::to_string)
                .collect()
        };
        let Some(cmd) = spec.and_then(|s| path.iter().try_fold(s, |v, k| v.get(*k))) else {
            if step == "generate" {
                out.push(doc.problem(
                    &["spec"],
                    "the plugin has no `spec.generate`",
                    "add `generate: {command: [strata, argocd, generate]}`",
                ));
            }
            continue;
        };
        // `discover.find` may be a `glob` instead of a command.
        if step == "discover.find" && cmd.get("command").is_none() {
            continue;
        }
        for key in ["command", "args"] {
            if let Some(Value::Array(a)) = cmd.get(key)
                && a.iter().any(|w| !w.is_string())
            {
                out.push(doc.problem(
                    &at(&[key]),
                    format!("`spec.{step}.{key}` holds an item that is not a string (a `: ` in an unquoted item makes it a mapping)"),
                    "quote the item: '...'",
                ));
            }
        }
        let command = strings(cmd.get("command"));
        let args = strings(cmd.get("args"));
        if command.is_empty() {
            out.push(doc.problem(
                &at(&[]),
                format!("`spec.{step}` has no `command`"),
                "give the command as a list, e.g. [strata, argocd, generate]",
            ));
            continue;
        }
        let shell = Path::new(&command[0])
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| matches!(*n, "sh" | "bash" | "ash" | "dash" | "zsh"));
        let Some(shell) = shell else { continue };
        let instead = match step.as_str() {
            "init" => "drop `init` (`strata argocd generate` reports a source path that is not a kustomization)".to_string(),
            "discover.find" => "use `command: [strata, argocd, discover]`".to_string(),
            "parameters.dynamic" => "use `command: [strata, argocd, parameters]`".to_string(),
            _ => format!("use `command: [strata, argocd, {step}]`"),
        };
        out.push(doc.problem(
            &at(&["command"]),
            format!(
                "`spec.{step}` runs `{shell}`, which the strata sidecar image does not have (it holds the static strata binary only): argocd-cmp-server cannot start the step"
            ),
            instead,
        ));
        let all: Vec<&String> = command.iter().chain(&args).collect();
        if let Some(pos) = all.iter().position(|a| a.as_str() == "-c") {
            let script = all.get(pos + 1).map(|s| s.as_str()).unwrap_or("");
            if has_pipeline(script) && !script.contains("pipefail") {
                out.push(doc.problem(
                    &at(&[if args.is_empty() { "command" } else { "args" }]),
                    format!(
                        "`spec.{step}` runs a shell pipeline without `set -o pipefail`: when a command before the last `|` fails, the step still succeeds and Argo CD applies what was printed"
                    ),
                    "run strata directly: [strata, argocd, generate] (in an image of your own with a shell, start the script with `set -euo pipefail;` and use bash)",
                ));
            }
        }
    }
    if spec.and_then(|s| s.get("discover")).is_none() {
        out.push(doc.problem(
            &["spec"],
            "the plugin has no `spec.discover`: only Applications naming the plugin will use it",
            "add `discover: {find: {command: [strata, argocd, discover]}}`",
        ));
    }
}

/// Checks every container running the CMP server in a Deployment patch; returns how many.
fn check_sidecars(doc: &Doc<'_>, out: &mut Vec<Problem>) -> usize {
    let pod = doc.value.pointer("/spec/template/spec");
    let containers = pod
        .and_then(|p| p.get("containers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let volumes = pod
        .and_then(|p| p.get("volumes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pod_sc = pod.and_then(|p| p.get("securityContext"));
    // A sidecar: runs the CMP server, or mounts the plugins directory (one that should).
    let is_sidecar = |c: &Value| {
        strings(c.get("command"))
            .iter()
            .any(|s| s.contains("argocd-cmp-server"))
            || mounts(c)
                .iter()
                .any(|(path, _, _)| path == PLUGINS_DIR || path == PLUGIN_CONFIG)
    };
    let mut count = 0;
    for (ci, c) in containers.iter().enumerate() {
        if !is_sidecar(c) {
            continue;
        }
        count += 1;
        let i = ci.to_string();
        let at = |rest: &[&'static str]| -> Vec<String> {
            ["spec", "template", "spec", "containers", i.as_str()]
                .iter()
                .chain(rest)
                .map(|s| s.to_string())
                .collect()
        };
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let command = strings(c.get("command"));
        if command != [CMP_SERVER] {
            out.push(doc.problem(
                &at(&["command"]),
                format!(
                    "sidecar `{name}` must run {CMP_SERVER} (found {:?}): the repo-server talks to the plugin through it",
                    command
                ),
                format!("set `command: [{CMP_SERVER}]`; the server runs strata as plugin.yaml says"),
            ));
        }
        let m = mounts(c);
        let find = |path: &str| m.iter().find(|(p, _, _)| p == path);
        for (path, volume, why) in [
            (VAR_FILES, "var-files", "the server's socket and binary"),
            (
                PLUGINS_DIR,
                "plugins",
                "where the server registers the plugin",
            ),
        ] {
            if find(path).is_none() {
                out.push(doc.problem(
                    &at(&["volumeMounts"]),
                    format!("sidecar `{name}` does not mount {path} ({why})"),
                    format!("add `{{mountPath: {path}, name: {volume}}}` to its volumeMounts"),
                ));
            }
        }
        match find(PLUGIN_CONFIG) {
            None => out.push(doc.problem(
                &at(&["volumeMounts"]),
                format!("sidecar `{name}` does not mount plugin.yaml at {PLUGIN_CONFIG}"),
                "mount the plugin's ConfigMap there with `subPath: plugin.yaml`",
            )),
            Some((_, _, sub)) if sub.as_deref() != Some("plugin.yaml") => out.push(doc.problem(
                &at(&["volumeMounts"]),
                format!("sidecar `{name}` mounts {PLUGIN_CONFIG} without `subPath: plugin.yaml`"),
                "add `subPath: plugin.yaml` so the mount is the file, not the ConfigMap directory",
            )),
            _ => {}
        }
        match find("/tmp") {
            None => out.push(doc.problem(
                &at(&["volumeMounts"]),
                format!("sidecar `{name}` has no /tmp of its own"),
                "mount an emptyDir of its own at /tmp (Argo CD runs sidecars with a read-only root filesystem)",
            )),
            Some((_, vol, _)) => {
                let shared = containers.iter().enumerate().any(|(oi, o)| {
                    oi != ci && mounts(o).iter().any(|(_, v, _)| v == vol)
                }) || vol == "tmp";
                let empty_dir = volumes.iter().any(|v| {
                    v.get("name").and_then(Value::as_str) == Some(vol.as_str())
                        && v.get("emptyDir").is_some()
                });
                if shared {
                    out.push(doc.problem(
                        &at(&["volumeMounts"]),
                        format!("sidecar `{name}` shares its /tmp volume `{vol}` with another container (the repo-server keeps other apps' sources there)"),
                        "give the sidecar an emptyDir of its own, e.g. `cmp-tmp`",
                    ));
                } else if !empty_dir {
                    out.push(doc.problem(
                        &["spec", "template", "spec", "volumes"],
                        format!("the /tmp volume `{vol}` of sidecar `{name}` is not an emptyDir defined in the patch"),
                        format!("add `{{name: {vol}, emptyDir: {{}}}}` to the pod's volumes"),
                    ));
                }
            }
        }
        let sc = c.get("securityContext");
        let get = |k: &str| {
            sc.and_then(|s| s.get(k))
                .or_else(|| pod_sc.and_then(|s| s.get(k)))
        };
        if get("runAsNonRoot") != Some(&Value::Bool(true)) {
            out.push(doc.problem(
                &at(&["securityContext"]),
                format!("sidecar `{name}` does not set `runAsNonRoot: true`"),
                "set `securityContext: {runAsNonRoot: true, runAsUser: 999}`",
            ));
        }
        if get("runAsUser").and_then(Value::as_i64) != Some(ARGOCD_UID) {
            out.push(doc.problem(
                &at(&["securityContext"]),
                format!("sidecar `{name}` does not run as UID 999: the CMP server's socket and files belong to Argo CD's user 999"),
                "set `runAsUser: 999`",
            ));
        }
    }
    count
}

/// A container's mounts: (mountPath, volume name, subPath).
fn mounts(c: &Value) -> Vec<(String, String, Option<String>)> {
    c.get("volumeMounts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| {
                    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
                    (
                        s("mountPath").unwrap_or_default(),
                        s("name").unwrap_or_default(),
                        s("subPath"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines() {
        assert!(has_pipeline("strata render . | tee x"));
        assert!(!has_pipeline("strata render . || exit 1"));
        assert!(!has_pipeline("strata argocd generate"));
    }
}
