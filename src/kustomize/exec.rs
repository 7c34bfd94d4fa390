//! Exec KRM functions listed under `transformers:` or `generators:` (a config annotated
//! `config.kubernetes.io/function: {exec: {path: ...}}`), run as kustomize runs them with
//! `--enable-alpha-plugins --enable-exec` (`api/internal/plugins/fnplugin`, kyaml's
//! `runfn` and `FunctionFilter`):
//!
//! - the program (its path relative to the kustomization's directory) runs in that
//!   directory, with a `config.kubernetes.io/v1` ResourceList on stdin: for a transformer the
//!   accumulated resources, each annotated with its identity; for a generator the function's
//!   config alone. The config is the ResourceList's `functionConfig`, marked
//!   `config.kubernetes.io/local-config` so that nothing generated from it reaches the output;
//! - stdout is a ResourceList or a plain stream of objects. A transformer's output replaces
//!   the resources: one with the identity of an input takes its place (keeping what the build
//!   knows of it: earlier names, prefixes), a new one is appended, an input missing from the
//!   output is removed; the same identity twice is an error. A generator's objects are added
//!   as generated ConfigMaps are, with the behavior (`kustomize.config.k8s.io/behavior`) and
//!   name hash (`kustomize.config.k8s.io/needs-hash`) their annotations ask for;
//! - a program that exits non-zero fails the render, with what it printed on stderr.
//!
//! Container functions need a container runtime, which strata does not use: they are an
//! error naming the function.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::model::{Origin, Resource, ResourceSet};
use crate::yaml;

/// The annotation keys that carry a function spec, in kustomize's order.
pub const FUNCTION_ANNOTATIONS: [&str; 2] =
    ["config.kubernetes.io/function", "config.k8s.io/function"];

/// kustomize's annotation of each input object's identity (`plugins/utils`).
const ID: &str = "kustomize.config.k8s.io/id";
/// kyaml's annotations of each input's position in the ResourceList.
const KYAML_IDS: [&str; 2] = ["internal.config.kubernetes.io/id", "config.k8s.io/id"];
/// What a generator's objects ask of the build.
const BEHAVIOR: &str = "kustomize.config.k8s.io/behavior";
const NEEDS_HASH: &str = "kustomize.config.k8s.io/needs-hash";

/// The function spec of a config, if it has one: `Some(Ok(path))` for an exec function,
/// `Some(Err(...))` for one strata cannot run (a container), `None` for a plain config.
pub fn spec_of(value: &Value) -> Option<std::result::Result<String, String>> {
    let annotations = value.get("metadata")?.get("annotations")?;
    let text = FUNCTION_ANNOTATIONS
        .iter()
        .find_map(|k| annotations.get(*k).and_then(Value::as_str))
        .filter(|t| !t.trim().is_empty());
    let spec = match text {
        Some(text) => match yaml::parse_single(text) {
            Ok(Some(doc)) => doc.value,
            Ok(None) => Value::Null,
            Err(e) => {
                return Some(Err(format!(
                    "the function annotation is not YAML: {}",
                    e.message
                )));
            }
        },
        None => {
            if let Some(image) = annotations
                .get("config.kubernetes.io/container")
                .and_then(Value::as_str)
            {
                return Some(Err(format!("a container function (image `{image}`)")));
            }
            value.get("metadata")?.get("configFn")?.clone()
        }
    };
    let exec = spec
        .get("exec")
        .and_then(|e| e.get("path"))
        .and_then(Value::as_str);
    let image = spec
        .get("container")
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str);
    match (image, exec) {
        (Some(image), _) if !image.is_empty() => {
            Some(Err(format!("a container function (image `{image}`)")))
        }
        (_, Some(path)) if !path.is_empty() => Some(Ok(path.to_string())),
        _ => Some(Err(
            "the function spec names neither `exec.path` nor `container.image`".into(),
        )),
    }
}

/// An exec function, configured.
#[derive(Debug, Clone)]
pub struct Function {
    /// The program, absolute.
    pub program: PathBuf,
    /// The directory it runs in (the kustomization's).
    pub dir: PathBuf,
    /// Its config, as the ResourceList's `functionConfig`.
    pub config: Value,
    /// `api: ..., kind: ..., name: ...`, for messages.
    pub name: String,
    /// Where its config was read, for the objects it generates.
    pub origin: Origin,
}

impl Function {
    /// `path`: the spec's `exec.path`, relative to `dir` (the kustomization's directory).
    pub fn new(path: &str, dir: &Path, mut config: Value, origin: Origin) -> Function {
        let s = |p: &str| {
            config
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let name = format!(
            "api: {}, kind: {}, name: {}",
            s("/apiVersion"),
            s("/kind"),
            s("/metadata/name")
        );
        if let Some(md) = config.as_object_mut().map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()))
        }) && let Some(md) = md.as_object_mut()
        {
            let a = md
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(a) = a.as_object_mut() {
                a.insert(
                    crate::kustomize::build::LOCAL_CONFIG.into(),
                    Value::String("true".into()),
                );
            }
        }
        Function {
            program: dir.join(path),
            dir: dir.to_path_buf(),
            config,
            name,
            origin,
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::new(message)
            .in_file(&self.origin.file)
            .at(self.origin.line, 1)
            .context(format!("in the exec function {}", self.name))
    }

    /// Runs the program on a ResourceList of `items`; returns the objects it printed.
    fn run(&self, items: Vec<Value>) -> Result<Vec<Value>> {
        let list = json!({
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": self.config,
        });
        let input = yaml::to_yaml(&list);
        let mut child = Command::new(&self.program)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                self.error(format!("cannot run {}: {e}", self.program.display()))
                    .help("the exec path is relative to the kustomization's directory; the file must be executable")
            })?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || {
            // A program that does not read its input closes the pipe early: not an error.
            let _ = stdin.write_all(input.as_bytes());
        });
        let out = child
            .wait_with_output()
            .map_err(|e| self.error(format!("cannot run {}: {e}", self.program.display())))?;
        let _ = writer.join();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let said = stderr.trim();
            return Err(self.error(format!(
                "{} failed ({}){}",
                self.program.display(),
                out.status,
                if said.is_empty() {
                    String::new()
                } else {
                    format!(":\n{said}")
                }
            )));
        }
        // What the program says on stderr is its log: pass it on, as kustomize does.
        if !stderr.trim().is_empty() {
            eprint!("{stderr}");
        }
        let text = String::from_utf8(out.stdout)
            .map_err(|_| self.error("the function printed output that is not UTF-8 text"))?;
        let docs = yaml::parse_stream(&text).map_err(|e| {
            self.error(format!(
                "the function's output is not valid YAML: {} (line {} of its output)",
                e.message, e.line
            ))
        })?;
        let mut objects = Vec::new();
        for doc in docs {
            let is_list = |v: &Value| {
                matches!(
                    v.get("kind").and_then(Value::as_str),
                    Some("ResourceList" | "List")
                ) && (v.get("items").is_some() || v.get("functionConfig").is_some())
            };
            if is_list(&doc.value) {
                if let Some(Value::Array(items)) = doc.value.get("items") {
                    objects.extend(items.iter().cloned());
                }
            } else {
                objects.push(doc.value);
            }
        }
        Ok(objects)
    }

    /// The function as a transformer: its output replaces `set` (see the module docs).
    pub fn transform(&self, set: &mut ResourceSet) -> Result<()> {
        let items = set
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut obj = r.obj().clone();
                let id = r.id();
                let mut key = String::new();
                for (k, v) in [
                    ("group", &id.group),
                    ("kind", &id.kind),
                    ("name", &id.name),
                    ("namespace", &id.namespace),
                    ("version", &id.version),
                ] {
                    if !v.is_empty() {
                        key.push_str(&format!("{k}: {v}\n"));
                    }
                }
                let a = annotations_mut(&mut obj);
                a.insert(ID.into(), Value::String(key));
                for k in KYAML_IDS {
                    a.insert(k.into(), Value::String((i + 1).to_string()));
                }
                Value::Object(obj)
            })
            .collect();
        let output = self.run(items)?;
        let mut out: ResourceSet = Vec::with_capacity(output.len());
        for value in output {
            let mut r = self.resource(value)?;
            if out.iter().any(|o| o.unique_id() == r.unique_id()) {
                return Err(self.error(format!("the function generated {} twice", r.id())));
            }
            // An output object with the identity of an input takes its place.
            if let Some(old) = set.iter().find(|o| o.unique_id() == r.unique_id()) {
                r.origin = old.origin.clone();
                r.previous_ids = old.previous_ids.clone();
                r.prefixes = old.prefixes.clone();
                r.suffixes = old.suffixes.clone();
                r.changes = old.changes.clone();
                r.literals = old.literals.clone();
            }
            out.push(r);
        }
        // Inputs keep their places; new objects follow, in the order printed.
        let mut result: ResourceSet = Vec::with_capacity(out.len());
        let mut taken = vec![false; out.len()];
        for old in set.iter() {
            if let Some(j) = out.iter().position(|o| o.unique_id() == old.unique_id()) {
                taken[j] = true;
                result.push(out[j].clone());
            }
        }
        result.extend(
            out.into_iter()
                .zip(taken)
                .filter(|(_, t)| !t)
                .map(|(r, _)| r),
        );
        *set = result;
        Ok(())
    }

    /// The function as a generator: the objects it prints, each with the behavior and the
    /// hash its annotations ask for.
    pub fn generate(
        &self,
    ) -> Result<Vec<(crate::kustomize::builtins::generators::Behavior, Resource)>> {
        let output = self.run(vec![self.config.clone()])?;
        let mut out: Vec<(crate::kustomize::builtins::generators::Behavior, Resource)> = Vec::new();
        for value in output {
            let mut r = self.resource(value)?;
            if out.iter().any(|(_, o)| o.unique_id() == r.unique_id()) {
                return Err(self.error(format!("the function generated {} twice", r.id())));
            }
            let (behavior, needs_hash) = {
                let a: Vec<(String, String)> = r
                    .annotations()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let get = |key: &str| a.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                (get(BEHAVIOR), get(NEEDS_HASH))
            };
            let needs_hash = match needs_hash.as_deref() {
                None => false,
                Some(v) => parse_go_bool(v).ok_or_else(|| {
                    self.error(format!(
                        "the annotation {NEEDS_HASH:?} contains an invalid value ({v:?})"
                    ))
                })?,
            };
            let behavior = match behavior.as_deref() {
                None | Some("") | Some("create") => {
                    crate::kustomize::builtins::generators::Behavior::Create
                }
                Some("merge") => crate::kustomize::builtins::generators::Behavior::Merge,
                Some("replace") => crate::kustomize::builtins::generators::Behavior::Replace,
                Some(other) => {
                    return Err(self.error(format!(
                        "unknown behavior `{other}` in {BEHAVIOR}: expected create, merge or replace"
                    )));
                }
            };
            {
                let mut md = r.metadata_mut();
                if let Some(Value::Object(a)) = md.get_mut("annotations") {
                    a.shift_remove(BEHAVIOR);
                    a.shift_remove(NEEDS_HASH);
                    if needs_hash {
                        a.insert(
                            crate::kustomize::builtins::generators::NEEDS_HASH.into(),
                            "enabled".into(),
                        );
                    }
                } else if needs_hash {
                    let mut a = Map::new();
                    a.insert(
                        crate::kustomize::builtins::generators::NEEDS_HASH.into(),
                        "enabled".into(),
                    );
                    md.insert("annotations".into(), Value::Object(a));
                }
            }
            out.push((behavior, r));
        }
        Ok(out)
    }

    /// One printed object as a resource, with the bookkeeping annotations taken off.
    fn resource(&self, mut value: Value) -> Result<Resource> {
        if let Some(Value::Object(a)) = value.pointer_mut("/metadata/annotations") {
            a.shift_remove(ID);
            for k in KYAML_IDS {
                a.shift_remove(k);
            }
        }
        Resource::from_value(value, self.origin.clone())
            .map_err(|e| e.context(format!("in the output of the exec function {}", self.name)))
    }
}

fn annotations_mut(obj: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let md = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !md.is_object() {
        *md = Value::Object(Map::new());
    }
    let a = md
        .as_object_mut()
        .expect("a mapping")
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !a.is_object() {
        *a = Value::Object(Map::new());
    }
    a.as_object_mut().expect("a mapping")
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The origin of a config written at `line` of `file`.
pub fn origin(file: &Arc<PathBuf>, line: usize) -> Origin {
    Origin {
        file: file.clone(),
        line,
        doc_index: 0,
        item: None,
    }
}
