//! `strata fn`: a KRM function (KRM Functions Specification, `config.kubernetes.io/v1`
//! ResourceList). The functionConfig is one strata kind: HostNetwork, Substitution,
//! ImageRegistry or SecurityContext (applied to the items with the transform code renders
//! use), or a ClusterProfile (the items are validated against it). A ConfigMap (what
//! `kpt fn eval -- NAME=VALUE` passes) is a Substitution whose vars are its data.
//! Findings go to `results`; the items are returned unchanged when the transform fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::hostnet::{Context, kinds};
use crate::kustomize::load::Loader;
use crate::model::{Origin, Resource};
use crate::validate::{self, ClusterProfile, Severity};
use crate::yaml;

const PATH_ANNOTATIONS: [&str; 2] = [
    "internal.config.kubernetes.io/path",
    "config.kubernetes.io/path",
];
const INDEX_ANNOTATIONS: [&str; 2] = [
    "internal.config.kubernetes.io/index",
    "config.kubernetes.io/index",
];

/// The function's output: the ResourceList text, and whether it holds an error result.
pub struct Output {
    pub text: String,
    pub failed: bool,
}

fn annotation<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    let a = obj.get("metadata")?.get("annotations")?;
    keys.iter().find_map(|k| a.get(*k).and_then(Value::as_str))
}

/// A JSON pointer as a KRM field path: `/spec/containers/0/image` is
/// `spec.containers[0].image`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn resource_ref(obj: &Map<String, Value>) -> Value {
    let s = |p: &str| {
        Value::Object(obj.clone())
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut r = json!({
        "apiVersion": s("/apiVersion"),
        "kind": s("/kind"),
        "name": s("/metadata/name"),
    });
    let ns = s("/metadata/namespace");
    if !ns.is_empty() {
        r["namespace"] = Value::String(ns);
    }
    r
}

fn file_of(obj: &Map<String, Value>) -> Option<Value> {
    let path = annotation(obj, &PATH_ANNOTATIONS)?;
    let mut f = json!({ "path": path });
    if let Some(i) = annotation(obj, &INDEX_ANNOTATIONS).and_then(|i| i.parse::<u64>().ok()) {
        f["index"] = json!(i);
    }
    Some(f)
}

fn result_for(
    obj: Option<&Map<String, Value>>,
    severity: &str,
    message: String,
    pointer: Option<&str>,
) -> Value {
    let mut r = json!({ "message": message, "severity": severity });
    if let Some(obj) = obj {
        r["resourceRef"] = resource_ref(obj);
        if let Some(f) = file_of(obj) {
            r["file"] = f;
        }
    }
    if let Some(p) = pointer {
        r["field"] = json!({ "path": field_path(p) });
    }
    r
}

/// Runs the function on a ResourceList text.
pub fn run(input: &str) -> Output {
    let mut results: Vec<Value> = Vec::new();
    let fatal = |message: String| {
        let list = json!({
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": [],
            "results": [{ "message": message, "severity": "error" }],
        });
        Output {
            text: yaml::to_yaml(&list),
            failed: true,
        }
    };
    let mut list = match yaml::parse_single(input) {
        Ok(Some(doc)) => match doc.value {
            Value::Object(m) => m,
            _ => return fatal("the input is not a ResourceList".into()),
        },
        Ok(None) => return fatal("no input: pass a ResourceList on stdin".into()),
        Err(e) => return fatal(format!("the input is not YAML: {e}")),
    };
    if list.get("kind").and_then(Value::as_str) != Some("ResourceList") {
        return fatal("the input is not a ResourceList (kind: ResourceList)".into());
    }
    let items: Vec<Value> = match list.get("items") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return fatal("`items` must be a list".into()),
    };
    let fc = list.get("functionConfig").cloned().unwrap_or(Value::Null);

    // Items as resources, remembering where kpt read them.
    let mut set = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().cloned().unwrap_or_default();
        let file = annotation(&obj, &PATH_ANNOTATIONS)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("items[{i}]")));
        let doc_index = annotation(&obj, &INDEX_ANNOTATIONS)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        let origin = Origin {
            file: Arc::new(file),
            line: 1,
            doc_index,
            item: None,
        };
        match Resource::from_value(item.clone(), origin) {
            Ok(r) => set.push(r),
            Err(e) => {
                results.push(result_for(Some(&obj), "error", e.message, None));
            }
        }
    }

    let kind = fc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = fc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let display = Path::new("functionConfig");
    let fc_src = yaml::to_yaml(&fc);
    let mut new_items: Option<Vec<Value>> = None;
    if results.is_empty() {
        if fc.is_null() {
            results.push(result_for(
                None,
                "error",
                "no functionConfig: pass a strata kind (HostNetwork, Substitution, ImageRegistry, SecurityContext, ClusterProfile) with --fn-config, or NAME=VALUE substitution variables".into(),
                None,
            ));
        } else if kind == "ClusterProfile" {
            match ClusterProfile::from_value(&fc, &fc_src, display) {
                Err(e) => results.push(error_result(&e)),
                Ok(profile) => {
                    let loader = Loader::new();
                    let report = validate::validate(&set, &profile, &loader);
                    for d in &report.diagnostics {
                        let obj = set.iter().find(|r| r.id() == d.resource).map(|r| r.obj());
                        let sev = match d.severity {
                            Severity::Error => "error",
                            Severity::Warning => "warning",
                        };
                        let mut r = result_for(
                            obj,
                            sev,
                            format!("{}: {}", d.code, d.message),
                            Some(&d.path),
                        );
                        r["tags"] = json!({ "code": d.code, "fix": d.fix });
                        results.push(r);
                    }
                }
            }
        } else {
            // Substitution values from the function's environment only.
            let ctx = std::sync::Arc::new(std::sync::Mutex::new(Context {
                ..Default::default()
            }));
            let configured = if kind == "ConfigMap" && api == "v1" {
                let data = fc.get("data").cloned().unwrap_or(json!({}));
                let sub = json!({
                    "apiVersion": kinds::API_VERSION,
                    "kind": "Substitution",
                    "metadata": { "name": fc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("function-input") },
                    "spec": { "vars": data },
                });
                let src = yaml::to_yaml(&sub);
                kinds::from_value(display, &src, &sub, &ctx)
            } else {
                kinds::from_value(display, &fc_src, &fc, &ctx)
            };
            match configured {
                Err(e) => results.push(error_result(&e)),
                Ok(c) => {
                    let oa = crate::kustomize::schema::openapi::Tracker::new();
                    match crate::kustomize::builtins::run_listed(
                        std::slice::from_ref(&c),
                        &crate::kustomize::load::Loader::new(),
                        crate::kustomize::configurations::TransformerConfig::defaults(),
                        &mut set,
                        &oa,
                        None,
                    ) {
                        Err(e) => results.push(error_result(&e)),
                        Ok(()) => {
                            for r in &set {
                                for ch in r.changes.iter().filter(|c| c.note.is_some()) {
                                    results.push(result_for(
                                        Some(r.obj()),
                                        "warning",
                                        format!(
                                            "{}: {}",
                                            ch.by.what,
                                            ch.note.as_deref().unwrap_or("")
                                        ),
                                        Some(&ch.path),
                                    ));
                                }
                            }
                            new_items =
                                Some(set.iter().map(|r| Value::Object(r.obj().clone())).collect());
                        }
                    }
                }
            }
        }
    }
    let failed = results
        .iter()
        .any(|r| r.get("severity").and_then(Value::as_str) == Some("error"));
    list.insert("items".into(), Value::Array(new_items.unwrap_or(items)));
    if !results.is_empty() {
        list.insert("results".into(), Value::Array(results));
    }
    Output {
        text: yaml::to_yaml(&Value::Object(list)),
        failed,
    }
}

fn error_result(e: &crate::error::Error) -> Value {
    let mut message = e.message.clone();
    for c in &e.context {
        message.push_str(&format!("; {c}"));
    }
    if let Some(h) = &e.help {
        message.push_str(&format!(" (help: {h})"));
    }
    let mut r = json!({ "message": message, "severity": "error" });
    if let Some(f) = &e.file {
        r["file"] = json!({ "path": f.display().to_string() });
    }
    if let Some(l) = e.line {
        r["tags"] = json!({ "line": l.to_string() });
    }
    r
}
