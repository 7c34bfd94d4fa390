//! `crds:`: files of legacy OpenAPI definitions (kube-openapi's `name -> {Schema,
//! Dependencies}` map, JSON or YAML) whose `x-kubernetes-*` annotations teach the built-in
//! transformers where fields of custom kinds live, as kustomize v5.5 reads them
//! (`api/internal/accumulator/loadconfigfromcrds.go`):
//!
//! * a definition whose properties include `kind`, `apiVersion` and `metadata` is a kind,
//!   named by the last `.`-separated part of the definition name (`...v1beta1.MyKind` is
//!   `MyKind`, any group and version);
//! * its properties, and the properties of definitions reached through `$ref` (the `$ref`
//!   is a definition name of the same file; anything else leads nowhere), give field specs at
//!   their path: `x-kubernetes-annotation` (commonAnnotations), `x-kubernetes-label-selector`
//!   (commonLabels, and `labels` with `includeSelectors`), `x-kubernetes-identity`
//!   (namePrefix), and `x-kubernetes-object-ref-api-version` with
//!   `x-kubernetes-object-ref-kind` (a name reference to that kind, the name at
//!   `x-kubernetes-object-ref-name-key`, default `name`). An annotation counts only when its
//!   value is a string, as in kustomize; properties written inline below a property are not
//!   looked at.
//!
//! These do not give merge keys to strategic merge patches (that is `openapi:`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomize::configurations::{NameRefSpec, TransformerConfig as Config};
use crate::kustomize::fieldspec::OwnedFieldSpec;
use crate::kustomize::load::kustomization::KustFile;
use crate::kustomize::load::{self, LoadedFile, Loader};

/// Reads the `crds:` files of a kustomization into field specs.
pub fn load(kf: &KustFile, loader: &Loader) -> Result<Config> {
    let mut config = Config::default();
    for (i, rel) in kf.spec.crds.iter().enumerate() {
        let idx = i.to_string();
        let what = format!("crds[{i}]");
        let path = load::resolve_within(loader, &kf.dir, rel, &what).map_err(|e| {
            e.in_file(kf.display())
                .at_opt(kf.file.locate(0, &["crds", &idx]))
        })?;
        let file = loader.load(&path)?;
        let one = read(&file).map_err(|(at, message)| {
            let refs: Vec<&str> = at.iter().map(String::as_str).collect();
            Error::new(format!(
                "invalid CRD definitions at `{}`: {message}",
                pointer(&at)
            ))
            .in_file(&file.display)
            .at_opt(file.locate(0, &refs))
            .context(format!("in crds[{i}] of {}", kf.display().display()))
        })?;
        config.merge(&one).map_err(|e| e.in_file(&file.display))?;
    }
    Ok(config)
}

/// A problem at a place of the file (keys from its root).
type Problem = (Vec<String>, String);

fn pointer(at: &[String]) -> String {
    crate::model::pointer::of_keys(at)
}

fn child(at: &[String], key: &str) -> Vec<String> {
    let mut v = at.to_vec();
    v.push(key.to_string());
    v
}

/// One definition: its properties, in file order.
struct Definition<'v> {
    at: Vec<String>,
    properties: Vec<(&'v str, &'v Map<String, Value>)>,
}

fn read(file: &LoadedFile) -> std::result::Result<Config, Problem> {
    let doc = match file.docs.as_slice() {
        [] => return Ok(Config::default()),
        [one] => &one.value,
        [_, ..] => {
            return Err((
                Vec::new(),
                "a CRD definitions file holds one document".into(),
            ));
        }
    };
    let Value::Object(entries) = doc else {
        return Err((
            Vec::new(),
            "expected a mapping of definition names to {Schema, Dependencies}".into(),
        ));
    };
    let mut defs: HashMap<&str, Definition<'_>> = HashMap::new();
    let mut order = Vec::new();
    for (name, entry) in entries {
        let at = vec![name.clone()];
        let Value::Object(entry) = entry else {
            return Err((at, "a definition must be a mapping with `Schema`".into()));
        };
        let mut schema = None;
        for (k, v) in entry {
            // Go's encoding/json matches field names without regard to case.
            if k.eq_ignore_ascii_case("schema") {
                schema = Some((k, v));
            } else if !k.eq_ignore_ascii_case("dependencies") {
                return Err((
                    child(&at, k),
                    "unknown field: a definition has `Schema` and `Dependencies`".into(),
                ));
            }
        }
        let mut properties = Vec::new();
        if let Some((key, schema)) = schema {
            let sat = child(&at, key);
            let Value::Object(schema) = schema else {
                return Err((sat, "`Schema` must be a mapping".into()));
            };
            match schema.get("properties") {
                None | Some(Value::Null) => {}
                Some(Value::Object(props)) => {
                    for (p, pv) in props {
                        let Value::Object(pm) = pv else {
                            return Err((
                                child(&child(&sat, "properties"), p),
                                "a property schema must be a mapping".into(),
                            ));
                        };
                        properties.push((p.as_str(), pm));
                    }
                }
                Some(_) => return Err((child(&sat, "properties"), "must be a mapping".into())),
            }
        }
        order.push(name.as_str());
        defs.insert(name, Definition { at, properties });
    }
    let mut config = Config::default();
    for name in order {
        let def = &defs[name];
        let is_kind = ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|k| def.properties.iter().any(|(p, _)| p == k));
        if !is_kind {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        let mut stack = Vec::new();
        walk(&defs, name, kind, &mut Vec::new(), &mut stack, &mut config)?;
    }
    Ok(config)
}

/// A string-valued extension (kube-openapi lowercases extension keys).
fn extension<'v>(p: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

fn spec(kind: &str, path: &[&str]) -> OwnedFieldSpec {
    OwnedFieldSpec {
        group: String::new(),
        version: String::new(),
        kind: kind.to_string(),
        path: path.join("/"),
        create: false,
    }
}

fn add(list: &mut Vec<OwnedFieldSpec>, s: OwnedFieldSpec) {
    if !list.iter().any(|x| x.kind == s.kind && x.path == s.path) {
        list.push(s);
    }
}

/// kustomize's `loadCrdIntoConfig`: the field specs of definition `name`'s properties at
/// `path`, for `kind`.
fn walk<'v>(
    defs: &HashMap<&'v str, Definition<'v>>,
    name: &'v str,
    kind: &str,
    path: &mut Vec<&'v str>,
    stack: &mut Vec<&'v str>,
    config: &mut Config,
) -> std::result::Result<(), Problem> {
    let Some(def) = defs.get(name) else {
        return Ok(());
    };
    if stack.contains(&name) {
        return Err((
            def.at.clone(),
            format!(
                "definition `{name}` refers to itself through `$ref` ({} -> {name}); kustomize \
                 recurses without end on this",
                stack.join(" -> ")
            ),
        ));
    }
    stack.push(name);
    for &(prop, p) in &def.properties {
        path.push(prop);
        if extension(p, "x-kubernetes-annotation").is_some() {
            add(&mut config.common_annotations, spec(kind, path));
        }
        if extension(p, "x-kubernetes-label-selector").is_some() {
            add(&mut config.common_labels, spec(kind, path));
        }
        if extension(p, "x-kubernetes-identity").is_some() {
            add(&mut config.name_prefix, spec(kind, path));
        }
        if let (Some(version), Some(ref_kind)) = (
            extension(p, "x-kubernetes-object-ref-api-version"),
            extension(p, "x-kubernetes-object-ref-kind"),
        ) {
            let key = extension(p, "x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut at = path.clone();
            at.push(key);
            let referrer = spec(kind, &at);
            // kustomize takes the api-version as a version (a group in it never matches).
            let nr = NameRefSpec {
                group: String::new(),
                version: version.to_string(),
                kind: ref_kind.to_string(),
                referrers: vec![referrer],
            };
            config
                .merge(&Config {
                    name_reference: vec![nr],
                    ..Config::default()
                })
                .map_err(|e| (def.at.clone(), e.message))?;
        }
        if let Some(target) = p.get("$ref").and_then(Value::as_str)
            && !target.is_empty()
        {
            walk(defs, target, kind, path, stack, config)?;
        }
        path.pop();
    }
    stack.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use serde_json::json;

    fn read_json(v: Value) -> std::result::Result<Config, Problem> {
        let src = serde_json::to_string_pretty(&v).unwrap();
        let docs = crate::yaml::parse_stream(&src).unwrap();
        read(&LoadedFile {
            display: Arc::new(PathBuf::from("crd.json")),
            src,
            docs,
            positions: Default::default(),
        })
    }

    fn paths(specs: &[OwnedFieldSpec]) -> Vec<String> {
        specs
            .iter()
            .map(|s| format!("{}:{}", s.kind, s.path))
            .collect()
    }

    #[test]
    fn annotations_give_field_specs_for_the_kind() {
        let c = read_json(json!({
            "a.b/v1.MyKind": {"Schema": {"properties": {
                "kind": {}, "apiVersion": {}, "metadata": {},
                "spec": {"$ref": "a.b/v1.Spec"},
                "top": {"x-kubernetes-identity": ""}
            }}},
            "a.b/v1.Spec": {"schema": {"properties": {
                "sel": {"x-kubernetes-label-selector": ""},
                "ann": {"X-Kubernetes-Annotation": ""},
                "notString": {"x-kubernetes-identity": true},
                "secret": {"x-kubernetes-object-ref-api-version": "v1",
                           "x-kubernetes-object-ref-kind": "Secret"},
                "cm": {"x-kubernetes-object-ref-api-version": "v1",
                       "x-kubernetes-object-ref-kind": "ConfigMap",
                       "x-kubernetes-object-ref-name-key": "cmName"},
                "kindOnly": {"x-kubernetes-object-ref-kind": "Secret"},
                "inline": {"properties": {"deep": {"x-kubernetes-identity": ""}}},
                "elsewhere": {"$ref": "#/definitions/a.b/v1.Spec"}
            }}, "Dependencies": []},
            // Not a kind (no metadata): its annotations count only through a `$ref`.
            "a.b/v1.Other": {"Schema": {"properties": {"kind": {}, "apiVersion": {},
                "x": {"x-kubernetes-identity": ""}}}}
        }))
        .unwrap();
        assert_eq!(paths(&c.common_labels), ["MyKind:spec/sel"]);
        assert_eq!(paths(&c.common_annotations), ["MyKind:spec/ann"]);
        assert_eq!(paths(&c.name_prefix), ["MyKind:top"]);
        let refs: Vec<String> = c
            .name_reference
            .iter()
            .map(|n| {
                format!(
                    "{}/{}<-{}",
                    n.version,
                    n.kind,
                    paths(&n.referrers).join(",")
                )
            })
            .collect();
        // In kustomize's order of kinds (ConfigMap before Secret), as every merged list is.
        assert_eq!(
            refs,
            [
                "v1/ConfigMap<-MyKind:spec/cm/cmName",
                "v1/Secret<-MyKind:spec/secret/name"
            ]
        );
    }

    #[test]
    fn malformed_files_and_cycles_are_errors() {
        let e = read_json(json!({"a.K": {"Schema": {"properties": []}}})).unwrap_err();
        assert_eq!(pointer(&e.0), "/a.K/Schema/properties");
        let e = read_json(json!({"a.K": {"Schema": {}, "Extra": 1}})).unwrap_err();
        assert!(e.1.contains("unknown field"), "{e:?}");
        let e = read_json(json!(["a"])).unwrap_err();
        assert!(e.1.contains("expected a mapping"), "{e:?}");
        let e = read_json(json!({
            "a.K": {"Schema": {"properties": {"kind": {}, "apiVersion": {}, "metadata": {},
                "spec": {"$ref": "a.S"}}}},
            "a.S": {"Schema": {"properties": {"next": {"$ref": "a.S"}}}}
        }))
        .unwrap_err();
        assert!(e.1.contains("refers to itself"), "{e:?}");
        assert!(read_json(json!({})).unwrap().name_prefix.is_empty());
    }
}
