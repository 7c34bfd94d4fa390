//! `vars` (deprecated in kustomize, replaced by `replacements`): `$(NAME)` in the fields of
//! the var reference specs becomes the value of a field of one resource. As in kustomize
//! (`api/internal/accumulator`): each kustomization declares its vars after its transformers
//! ran, binding each to the one resource its `objref` names (by any identity it had); the
//! declarations travel up the tree with the field specs (`configurations::Config`), and at the top,
//! after hashes and name references, every var takes the value of its field in the final
//! resource and is substituted. A var nobody uses is harmless; a `$(NAME)` with no var is
//! left as written.
//!
//! One difference, by design: kustomize's label transformer puts one shared YAML node in
//! `metadata/labels` and in the selectors, so a `$(NAME)` in a `commonLabels` value is
//! substituted in the selectors too (through the shared node); strata substitutes only the
//! fields of the specs.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::configurations::Config;
use crate::kustomize::fieldspec::OwnedFieldSpec;
use crate::kustomize::load::kustomization::KustFile;
use crate::model::{ResId, ResourceSet, split_api_version};

/// One declared var, bound to the identity its resource had when it was declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub name: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub obj_name: String,
    pub namespace: String,
    pub field_path: String,
    /// The matched resource's identity at declaration (none: nothing matched; an error when
    /// the vars are resolved, as in kustomize).
    pub target: Option<ResId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    objref: ObjRef,
    #[serde(default)]
    fieldref: FieldRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
struct ObjRef {
    #[serde(default)]
    apiversion: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
struct FieldRef {
    #[serde(default)]
    fieldpath: String,
}

/// kustomize's default `varReference` field specs: container commands, args, env values and
/// mount paths of every workload, NFS servers, Ingress hosts, Service ports, and every label
/// and annotation.
pub fn default_specs() -> Vec<OwnedFieldSpec> {
    const CONTAINER_FIELDS: &[&str] = &[
        "containers/args",
        "containers/command",
        "containers/env/value",
        "containers/volumeMounts/mountPath",
        "initContainers/args",
        "initContainers/command",
        "initContainers/env/value",
        "initContainers/volumeMounts/mountPath",
    ];
    let mut out = Vec::new();
    let mut add = |kind: &str, path: String| {
        out.push(OwnedFieldSpec {
            group: String::new(),
            version: String::new(),
            kind: kind.to_string(),
            path,
            create: false,
        })
    };
    let workloads: &[(&str, &str, &str)] = &[
        (
            "CronJob",
            "spec/jobTemplate/spec/template/spec/",
            "spec/jobTemplate/spec/template/volumes/nfs/server",
        ),
        (
            "DaemonSet",
            "spec/template/spec/",
            "spec/template/spec/volumes/nfs/server",
        ),
        (
            "Deployment",
            "spec/template/spec/",
            "spec/template/spec/volumes/nfs/server",
        ),
        (
            "Job",
            "spec/template/spec/",
            "spec/template/spec/volumes/nfs/server",
        ),
        ("Pod", "spec/", "spec/volumes/nfs/server"),
        (
            "ReplicaSet",
            "spec/template/spec/",
            "spec/template/spec/volumes/nfs/server",
        ),
        (
            "StatefulSet",
            "spec/template/spec/",
            "spec/volumeClaimTemplates/spec/nfs/server",
        ),
    ];
    for (kind, pod_spec, nfs) in workloads {
        for f in CONTAINER_FIELDS {
            add(kind, format!("{pod_spec}{f}"));
        }
        add(kind, nfs.to_string());
        if *kind == "Deployment" {
            add(kind, "spec/template/metadata/annotations".into());
        }
    }
    add("Ingress", "spec/rules/host".into());
    add("Ingress", "spec/tls/hosts".into());
    add("Ingress", "spec/tls/secretName".into());
    add("Service", "spec/ports/port".into());
    add("Service", "spec/ports/targetPort".into());
    add("PersistentVolume", "spec/nfs/server".into());
    add("", "metadata/labels".into());
    add("", "metadata/annotations".into());
    out
}

/// Declares the `vars` of one kustomization (after its transformers ran): binds each to the
/// one resource of `set` its `objref` names and adds it to `config`.
pub fn declare(kf: &KustFile, set: &ResourceSet, config: &mut Config) -> Result<()> {
    let Some(raw) = kf.spec.vars.as_ref().filter(|v| !v.is_null()) else {
        return Ok(());
    };
    // kustomize reads these through Go's `encoding/json`: field names match in any case.
    let entries: Vec<Entry> = serde_path_to_error::deserialize(lower_keys(raw)).map_err(|e| {
        kf.error_at(
            &["vars"],
            format!("invalid `vars` at `{}`: {}", e.path(), e.inner()),
        )
    })?;
    for (i, e) in entries.into_iter().enumerate() {
        let idx = i.to_string();
        let (group, version) = if e.objref.apiversion.is_empty() {
            (e.objref.group.clone(), e.objref.version.clone())
        } else {
            let (g, v) = split_api_version(&e.objref.apiversion);
            (g.to_string(), v.to_string())
        };
        let o = &e.objref;
        let matched: Vec<ResId> = set
            .iter()
            .filter(|r| {
                r.all_ids().any(|id| {
                    id.group == group
                        && id.version == version
                        && id.kind == o.kind
                        && id.name == o.name
                        && (o.namespace.is_empty() || id.namespace == o.namespace)
                })
            })
            .map(|r| r.id())
            .collect();
        if matched.len() > 1 {
            return Err(kf.error_at(
                &["vars", &idx],
                format!(
                    "var `{}`: {} resources match its objref {}/{} (unable to disambiguate)",
                    e.name,
                    matched.len(),
                    o.kind,
                    o.name
                ),
            ));
        }
        if config.vars.iter().any(|v| v.name == e.name) {
            return Err(kf.error_at(
                &["vars", &idx],
                format!("var `{}` already encountered", e.name),
            ));
        }
        config.vars.push(Var {
            name: e.name,
            group,
            version,
            kind: o.kind.clone(),
            obj_name: o.name.clone(),
            namespace: o.namespace.clone(),
            field_path: if e.fieldref.fieldpath.is_empty() {
                "metadata.name".into()
            } else {
                e.fieldref.fieldpath
            },
            target: matched.into_iter().next(),
        });
    }
    Ok(())
}

fn lower_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower_keys).collect()),
        other => other.clone(),
    }
}

/// Substitutes every declared var in the fields of the var reference specs (the defaults and
/// the `configurations:` ones). Run once, at the top, after hashes and name references.
pub fn resolve(set: &mut ResourceSet, config: &Config) -> Result<()> {
    if config.vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for v in &config.vars {
        let describe = || {
            format!(
                "var `{}` (objref {}/{}, fieldpath {})",
                v.name, v.kind, v.obj_name, v.field_path
            )
        };
        let res = v.target.as_ref().and_then(|t| {
            set.iter()
                .find(|r| r.id() == *t)
                .or_else(|| set.iter().find(|r| r.all_ids().any(|id| id == *t)))
        });
        let Some(res) = res else {
            return Err(Error::new(format!(
                "{} cannot be mapped to a field in the set of known resources",
                describe()
            ))
            .help("the objref names no resource of the kustomization that declares the var"));
        };
        let obj = Value::Object(res.obj().clone());
        let segments = var_path(&v.field_path);
        let value = crate::kustomize::builtins::replacements::get(&obj, &segments)
            .ok()
            .flatten()
            .filter(|x| !x.is_null())
            .cloned()
            .ok_or_else(|| {
                Error::new(format!(
                    "the field of {} is not found in {}/{}",
                    describe(),
                    res.kind(),
                    res.name()
                ))
            })?;
        values.push((v.name.clone(), value));
    }
    let tc = config.effective()?;
    let specs = &tc.var_reference;
    for r in set.iter_mut() {
        let (kind, name) = (r.kind().to_string(), r.name().to_string());
        crate::kustomize::fieldspec::visit_resource(r, specs, Some(false), &mut |field| {
            substitute_field(field, &values)
        })
        .map_err(|e| Error::new(format!("vars: in {kind}/{name}: {e}")))?;
    }
    Ok(())
}

/// A var's field path (`spec.ports[0].port`, `spec.containers[name=x].image`) as segments.
fn var_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in crate::kustomize::builtins::replacements::split_path(path) {
        // `ports[0]` is `ports` then `0`.
        match seg.find('[') {
            Some(open) if open > 0 && seg.ends_with(']') && !seg.contains('=') => {
                out.push(seg[..open].to_string());
                out.push(seg[open + 1..seg.len() - 1].to_string());
            }
            _ => out.push(seg),
        }
    }
    out
}

fn substitute_field(
    field: &mut Value,
    values: &[(String, Value)],
) -> std::result::Result<(), String> {
    match field {
        Value::String(s) => *field = replace(s, values),
        Value::Object(m) => {
            for v in m.values_mut() {
                if let Value::String(s) = v {
                    *v = replace(s, values);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => *item = replace(s, values),
                    _ => return Err("invalid value type expect a string".into()),
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The text of a value placed inside a longer string (Go's `%v`).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// kustomize's `DoReplacements`: `$(NAME)` becomes the var's value (keeping its type when it
/// is the whole string), `$$` is a literal `$`, anything else stays as written.
pub fn replace(input: &str, values: &[(String, Value)]) -> Value {
    let lookup = |name: &str| -> Option<&Value> {
        values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .filter(|v| text_of(v).is_some())
    };
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match lookup(name) {
                            Some(v) if input.len() == name.len() + 3 => return v.clone(),
                            Some(v) => out.push_str(&text_of(v).unwrap_or_default()),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().expect("non-empty");
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint.min(input.len())..]);
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vals() -> Vec<(String, Value)> {
        vec![
            ("SVC".into(), json!("demo-mysql")),
            ("PORT".into(), json!(3306)),
            ("MAP".into(), json!({"a": 1})),
        ]
    }

    #[test]
    fn replaces_like_kustomize() {
        let v = vals();
        assert_eq!(replace("$(SVC)", &v), json!("demo-mysql"));
        assert_eq!(replace("$(PORT)", &v), json!(3306));
        assert_eq!(
            replace("echo $(SVC):$(PORT);", &v),
            json!("echo demo-mysql:3306;")
        );
        assert_eq!(replace("$$(SVC)", &v), json!("$(SVC)"));
        assert_eq!(replace("$(NOPE) $(MAP)", &v), json!("$(NOPE) $(MAP)"));
        assert_eq!(replace("a $x $( b", &v), json!("a $x $( b"));
        assert_eq!(replace("cost: 5$", &v), json!("cost: 5$"));
        assert_eq!(replace("é$é", &v), json!("é$é"));
    }

    #[test]
    fn field_paths_split_indexes() {
        assert_eq!(
            var_path("spec.ports[0].port"),
            vec!["spec", "ports", "0", "port"]
        );
        assert_eq!(var_path("metadata.name"), vec!["metadata", "name"]);
    }

    #[test]
    fn substitutes_sequences_and_maps() {
        let v = vals();
        let mut f = json!(["-c", "echo $(SVC)"]);
        substitute_field(&mut f, &v).unwrap();
        assert_eq!(f, json!(["-c", "echo demo-mysql"]));
        let mut m = json!({"a": "$(PORT)", "b": 1});
        substitute_field(&mut m, &v).unwrap();
        assert_eq!(m, json!({"a": 3306, "b": 1}));
        assert!(substitute_field(&mut json!([1]), &v).is_err());
    }
}
