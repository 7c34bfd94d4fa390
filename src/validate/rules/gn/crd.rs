//! GN005: custom resources against the schema of their CustomResourceDefinition, offline.
//! The CRDs are those of the rendered set and those the ClusterProfile lists (`crds:`), so a
//! custom resource is checked as the API server would check it once its CRD is installed.
//!
//! A CRD's `openAPIV3Schema` is a structural schema (OpenAPI v3, close to JSON Schema draft
//! 4). It is turned into JSON Schema and checked with the `jsonschema` crate: `nullable`
//! admits null; `x-kubernetes-int-or-string` admits an integer or a string; an object with
//! `properties` admits no other field unless `x-kubernetes-preserve-unknown-fields` (the API
//! server prunes unknown fields, and with kubectl's default strict field validation refuses
//! them: `unknown field "spec.foo"`); `x-kubernetes-embedded-resource` objects and the root
//! also admit `apiVersion`, `kind` and `metadata`, which the API server checks itself.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::model::Resource;
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const GN005: Rule = Rule {
    doc: RuleDoc {
        code: "GN005",
        name: "custom-resource-schema",
        severity: Severity::Error,
        summary: "custom resource that its CustomResourceDefinition's schema refuses",
        why: "The API server validates a custom resource against the openAPIV3Schema of its CRD's \
              version: a wrong type, a missing required field, a value outside its enum or range, or \
              (with kubectl's default strict field validation) an unknown field is refused, and the \
              sync fails for that object. Peers need the schemas converted and fetched; strata uses \
              the CRDs of the render and of the ClusterProfile's `crds:`.",
        example: "a ServiceMonitor with `spec.endpoints: {port: web}` (a list expected) next to the \
                  prometheus-operator CRD",
        fix: "Correct the field as the CRD's schema describes it (`kubectl explain KIND.FIELD` once \
              the CRD is installed).",
    },
    check: gn005,
    each: None,
};

/// A compiled schema per (group, version, kind), or why a version cannot be used.
enum Version {
    Schema(Box<jsonschema::Validator>),
    /// Defined but not served (`served: false`).
    NotServed,
    /// Served without a schema (`x-kubernetes-preserve-unknown-fields` everywhere): nothing
    /// to check.
    Open,
}

struct Crd {
    name: String,
    versions: HashMap<String, Version>,
}

/// The CRDs known: `(group, kind)` -> its versions. The render's win over the profile's.
fn crds(input: &Input<'_>) -> HashMap<(String, String), Crd> {
    let mut out = HashMap::new();
    let from_render = input
        .resources
        .iter()
        .filter(|r| r.kind() == "CustomResourceDefinition")
        .filter(|r| r.api_version() == "apiextensions.k8s.io/v1")
        .map(Resource::obj);
    for obj in input
        .profile
        .crds
        .iter()
        .filter_map(Value::as_object)
        .chain(from_render)
    {
        if let Some((key, crd)) = read_crd(obj) {
            out.insert(key, crd);
        }
    }
    out
}

fn read_crd(obj: &Map<String, Value>) -> Option<((String, String), Crd)> {
    let spec = obj.get("spec")?;
    let group = spec.get("group")?.as_str()?.to_string();
    let kind = spec.pointer("/names/kind")?.as_str()?.to_string();
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut versions = HashMap::new();
    for v in spec.get("versions")?.as_array()? {
        let Some(vname) = v.get("name").and_then(Value::as_str) else {
            continue;
        };
        let version = if v.get("served").and_then(Value::as_bool) == Some(false) {
            Version::NotServed
        } else {
            match v.pointer("/schema/openAPIV3Schema") {
                Some(s) => {
                    let schema = to_json_schema(s, true);
                    match jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft4)
                        .build(&schema)
                    {
                        Ok(validator) => Version::Schema(Box::new(validator)),
                        // A schema the API server would have refused with its CRD: the CRD
                        // is the problem, not its resources.
                        Err(_) => Version::Open,
                    }
                }
                None => Version::Open,
            }
        };
        versions.insert(vname.to_string(), version);
    }
    Some(((group, kind), Crd { name, versions }))
}

/// A structural schema as JSON Schema (draft 4), with Kubernetes' extensions spelt out.
fn to_json_schema(s: &Value, root: bool) -> Value {
    let Some(m) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                let props = v
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, s)| (name.clone(), to_json_schema(s, false)))
                            .collect::<Map<String, Value>>()
                    })
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(k.clone(), to_json_schema(v, false));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = v
                    .as_array()
                    .map(|l| l.iter().map(|s| to_json_schema(s, false)).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Array(list));
            }
            // Kubernetes' extensions and annotations for humans and tools.
            "nullable" | "description" | "example" | "externalDocs" | "default" => {}
            k if k.starts_with("x-kubernetes-") => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let flag = |name: &str| m.get(name).and_then(Value::as_bool) == Some(true);
    if flag("x-kubernetes-int-or-string") {
        out.remove("type");
        out.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if root || flag("x-kubernetes-embedded-resource") {
        let props = out
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = props.as_object_mut() {
            for field in ["apiVersion", "kind", "metadata"] {
                p.entry(field).or_insert_with(|| json!({}));
            }
            if root {
                p.entry("status").or_insert_with(|| json!({}));
            }
        }
    }
    let has_properties = out.get("properties").is_some_and(Value::is_object);
    if has_properties
        && !out.contains_key("additionalProperties")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if flag("nullable") {
        let inner = Value::Object(std::mem::take(&mut out));
        return json!({"anyOf": [{"type": "null"}, inner]});
    }
    Value::Object(out)
}

fn gn005(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    let crds = crds(input);
    if crds.is_empty() {
        return;
    }
    for (index, r) in input.resources.iter().enumerate() {
        let (group, version, kind) = r.gvk();
        let Some(crd) = crds.get(&(group.to_string(), kind.to_string())) else {
            continue;
        };
        let finding = |path: String, message: String| Finding {
            code: "GN005",
            severity: None,
            message: format!("{}: {message}", r.id()),
            resource: index,
            path,
            other: None,
            fix: None,
            at_key: false,
        };
        match crd.versions.get(version) {
            None | Some(Version::NotServed) => {
                let mut served: Vec<&str> = crd
                    .versions
                    .iter()
                    .filter(|(_, v)| !matches!(v, Version::NotServed))
                    .map(|(n, _)| n.as_str())
                    .collect();
                served.sort_unstable();
                out.push(finding(
                    "/apiVersion".into(),
                    format!(
                        "the CRD {} does not serve version {version} (it serves {})",
                        crd.name,
                        served.join(", ")
                    ),
                ));
            }
            Some(Version::Open) => {}
            Some(Version::Schema(validator)) => {
                // The API server prunes null fields (not nullable ones aside) before it
                // validates: `spec:` holding only comments is no spec.
                let mut instance = Value::Object(r.obj().clone());
                drop_nulls(&mut instance);
                for e in validator.iter_errors(&instance) {
                    let path = e.instance_path().as_str().to_string();
                    // An unknown field: one finding on each, at its key.
                    if let jsonschema::error::ValidationErrorKind::AdditionalProperties {
                        unexpected,
                    } = e.kind()
                    {
                        for field in unexpected {
                            let mut at = path.clone();
                            crate::model::pointer::push_key(&mut at, field);
                            let mut f = finding(
                                at.clone(),
                                format!(
                                    "`{field}` is not a field of {kind} at {at} (the schema of CRD {})",
                                    crd.name
                                ),
                            );
                            f.at_key = true;
                            out.push(f);
                        }
                        continue;
                    }
                    // A required field written empty (`spec:` with only comments under it)
                    // is null, which the API server drops: say so.
                    if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
                        && let Some(name) = property.as_str()
                    {
                        let mut at = path.clone();
                        crate::model::pointer::push_key(&mut at, name);
                        if super::value_at(r.obj(), &at).is_some_and(Value::is_null) {
                            out.push(finding(
                                at.clone(),
                                format!(
                                    "`{name}` is empty (null: nothing but comments under it?), which the API server drops, and the schema of CRD {} requires it: write `{name}: {{}}` or its fields",
                                    crd.name
                                ),
                            ));
                            continue;
                        }
                    }
                    let shown = if path.is_empty() { "the object" } else { &path };
                    out.push(finding(
                        path.clone(),
                        format!("{shown}: {e} (the schema of CRD {})", crd.name),
                    ));
                }
            }
        }
    }
}

/// Removes object members whose value is null, at every depth.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
