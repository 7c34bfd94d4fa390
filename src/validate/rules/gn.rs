//! GN: the schema of built-in kinds, from the `k8s-openapi` crate (Kubernetes' own API types):
//! a rendered object must read as its type (no wrong types) and keep every field it has (no
//! unknown fields: a patch that wrote `hostNetwrok` is found by comparing the object with its
//! typed round trip); declared ports must be valid port numbers.

use k8s_openapi::api;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const GN001: Rule = Rule {
    doc: RuleDoc {
        code: "GN001",
        name: "schema",
        severity: Severity::Error,
        summary: "unknown field or wrong type in a built-in kind",
        why: "The API server rejects a wrong type (`containerPort: \"80\"`) or an invalid port \
              (`containerPort: 70000`), and with server-side field validation also an unknown field \
              (`hostNetwrok: true`); with client-side apply the unknown field is dropped silently, \
              so the setting never takes effect.",
        example: "spec:\n  template:\n    spec:\n      hostNetwrok: true",
        fix: "Fix the field name or the value's type, as `kubectl explain KIND.FIELD` describes it.",
    },
    check: gn001,
};

/// Reads `v` as `T` and writes it back; the error names the JSON pointer of the bad field.
fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, (String, String)> {
    let typed: T = serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let mut pointer = String::new();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => {
                    pointer.push_str(&format!("/{index}"))
                }
                serde_path_to_error::Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                }
                _ => {}
            }
        }
        (pointer, e.into_inner().to_string())
    })?;
    serde_json::to_value(&typed).map_err(|e| (String::new(), e.to_string()))
}

/// The typed round trip of a built-in kind; `None` for kinds strata does not know the type of.
fn typed(
    group: &str,
    version: &str,
    kind: &str,
    v: &Value,
) -> Option<Result<Value, (String, String)>> {
    use api::*;
    Some(match (group, version, kind) {
        ("", "v1", "Pod") => round_trip::<core::v1::Pod>(v),
        ("", "v1", "Service") => round_trip::<core::v1::Service>(v),
        ("", "v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(v),
        ("", "v1", "Secret") => round_trip::<core::v1::Secret>(v),
        ("", "v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(v),
        ("", "v1", "Namespace") => round_trip::<core::v1::Namespace>(v),
        ("", "v1", "PersistentVolumeClaim") => round_trip::<core::v1::PersistentVolumeClaim>(v),
        ("", "v1", "ReplicationController") => round_trip::<core::v1::ReplicationController>(v),
        ("apps", "v1", "Deployment") => round_trip::<apps::v1::Deployment>(v),
        ("apps", "v1", "DaemonSet") => round_trip::<apps::v1::DaemonSet>(v),
        ("apps", "v1", "StatefulSet") => round_trip::<apps::v1::StatefulSet>(v),
        ("apps", "v1", "ReplicaSet") => round_trip::<apps::v1::ReplicaSet>(v),
        ("batch", "v1", "Job") => round_trip::<batch::v1::Job>(v),
        ("batch", "v1", "CronJob") => round_trip::<batch::v1::CronJob>(v),
        ("rbac.authorization.k8s.io", "v1", "Role") => round_trip::<rbac::v1::Role>(v),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => {
            round_trip::<rbac::v1::RoleBinding>(v)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => {
            round_trip::<rbac::v1::ClusterRole>(v)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(v)
        }
        ("networking.k8s.io", "v1", "Ingress") => round_trip::<networking::v1::Ingress>(v),
        ("networking.k8s.io", "v1", "NetworkPolicy") => {
            round_trip::<networking::v1::NetworkPolicy>(v)
        }
        ("policy", "v1", "PodDisruptionBudget") => round_trip::<policy::v1::PodDisruptionBudget>(v),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            round_trip::<autoscaling::v2::HorizontalPodAutoscaler>(v)
        }
        _ => return None,
    })
}

/// Fields of `input` that the typed round trip lost: unknown to the type.
fn unknown_fields(input: &Value, typed: &Value, path: &mut String, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                match b.get(k) {
                    Some(w) => unknown_fields(v, w, path, out),
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                unknown_fields(v, w, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn gn001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for (index, r) in input.resources.iter().enumerate() {
        let (group, version, kind) = r.gvk();
        let mut value = Value::Object(r.obj.clone());
        // Kubernetes reads `8.0` as the integer 8 (JSON has one number type); so do the
        // typed reads.
        crate::render::integral_floats_as_integers(&mut value);
        let Some(result) = typed(group, version, kind, &value) else {
            continue;
        };
        let id = r.id();
        match result {
            Err((path, msg)) => out.push(Finding {
                code: "GN001",
                severity: None,
                message: format!(
                    "{id}: {} does not read as {kind}: {msg}",
                    if path.is_empty() {
                        "the object".to_string()
                    } else {
                        path.clone()
                    }
                ),
                resource: index,
                path,
                other: None,
                fix: None,
            }),
            Ok(back) => {
                let mut unknown = Vec::new();
                unknown_fields(&value, &back, &mut String::new(), &mut unknown);
                for path in unknown {
                    let field = path
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .replace("~1", "/")
                        .replace("~0", "~");
                    out.push(Finding {
                        code: "GN001",
                        severity: None,
                        message: format!("{id}: `{field}` is not a field of {kind} at {path}"),
                        resource: index,
                        path,
                        other: None,
                        fix: Some(format!(
                            "check the spelling of `{field}` against `kubectl explain`"
                        )),
                    });
                }
            }
        }
    }
    // Port numbers: the types take any 32-bit integer, the API server only 1-65535.
    for w in input.workloads.iter() {
        for (cpath, c) in w.containers() {
            let Some(Value::Array(ports)) = c.get("ports") else {
                continue;
            };
            for (i, p) in ports.iter().enumerate() {
                for field in ["containerPort", "hostPort"] {
                    let Some(n) = p.get(field).and_then(Value::as_i64) else {
                        continue;
                    };
                    let valid = if field == "hostPort" {
                        (0..=65535).contains(&n)
                    } else {
                        (1..=65535).contains(&n)
                    };
                    if !valid {
                        out.push(Finding {
                            code: "GN001",
                            severity: None,
                            message: format!(
                                "{}: {field} {n} is not a port number (1-65535)",
                                w.r.id()
                            ),
                            resource: w.index,
                            path: format!("{cpath}/ports/{i}/{field}"),
                            other: None,
                            fix: None,
                        });
                    }
                }
            }
        }
    }
}
