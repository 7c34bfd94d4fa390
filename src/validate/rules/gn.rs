//! GN: the schema of built-in kinds, from the `k8s-openapi` crate (Kubernetes' own API types):
//! a rendered object must read as its type (no wrong types) and keep every field it has (no
//! unknown fields: a patch that wrote `hostNetwrok` is found by comparing the object with its
//! typed round trip); declared ports must be valid port numbers.

use k8s_openapi::api;
use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
use serde_json::{Map, Value};

use crate::model::Resource;
use crate::model::pointer::push_key;
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
    // Every object is read as its type: the costliest check.
    each: Some(schema_findings),
};

/// How an object reads as its type: the first error (JSON pointer, message), or the JSON
/// pointers of the fields the type does not have.
type Reading = Result<Vec<String>, (String, String)>;

/// Reads `v` as `T` straight from the value (no copy, nothing written back), noting every
/// field the type's deserializer skips: those are the fields the API server does not know.
fn read_as<T: DeserializeOwned>(v: &Map<String, Value>) -> Reading {
    let fields =
        || MapDeserializer::<_, serde_json::Error>::new(v.iter().map(|(k, v)| (k.as_str(), v)));
    // Most objects read cleanly: the path of an error is tracked only on a second reading of
    // the objects that do not (tracking it costs a string per field).
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(pointer_of(&path));
    if T::deserialize(serde_ignored::Deserializer::new(fields(), &mut note)).is_ok() {
        return Ok(unknown);
    }
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(pointer_of(&path));
    let de = serde_ignored::Deserializer::new(fields(), &mut note);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(_) => Ok(unknown),
        Err(e) => {
            let mut pointer = String::new();
            for seg in e.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => {
                        crate::model::pointer::push_index(&mut pointer, *index)
                    }
                    serde_path_to_error::Segment::Map { key } => push_key(&mut pointer, key),
                    _ => {}
                }
            }
            Err((pointer, e.into_inner().to_string()))
        }
    }
}

/// The value at a JSON pointer below an object.
fn value_at<'v>(obj: &'v Map<String, Value>, pointer: &str) -> Option<&'v Value> {
    let mut segs = pointer.split('/').skip(1);
    let key = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let mut v = obj.get(&key(segs.next()?))?;
    for seg in segs {
        v = match v {
            Value::Object(m) => m.get(&key(seg))?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// The JSON pointer of a path reported by `serde_ignored`.
fn pointer_of(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}/{index}", pointer_of(parent)),
        Path::Map { parent, key } => {
            let mut p = pointer_of(parent);
            push_key(&mut p, key);
            p
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => pointer_of(parent),
    }
}

/// How an object of a built-in kind reads as its type; `None` for kinds strata does not know
/// the type of.
fn typed(group: &str, version: &str, kind: &str, v: &Map<String, Value>) -> Option<Reading> {
    use api::*;
    Some(match (group, version, kind) {
        ("", "v1", "Pod") => read_as::<core::v1::Pod>(v),
        ("", "v1", "Service") => read_as::<core::v1::Service>(v),
        ("", "v1", "ConfigMap") => read_as::<core::v1::ConfigMap>(v),
        ("", "v1", "Secret") => read_as::<core::v1::Secret>(v),
        ("", "v1", "ServiceAccount") => read_as::<core::v1::ServiceAccount>(v),
        ("", "v1", "Namespace") => read_as::<core::v1::Namespace>(v),
        ("", "v1", "PersistentVolumeClaim") => read_as::<core::v1::PersistentVolumeClaim>(v),
        ("", "v1", "ReplicationController") => read_as::<core::v1::ReplicationController>(v),
        ("apps", "v1", "Deployment") => read_as::<apps::v1::Deployment>(v),
        ("apps", "v1", "DaemonSet") => read_as::<apps::v1::DaemonSet>(v),
        ("apps", "v1", "StatefulSet") => read_as::<apps::v1::StatefulSet>(v),
        ("apps", "v1", "ReplicaSet") => read_as::<apps::v1::ReplicaSet>(v),
        ("batch", "v1", "Job") => read_as::<batch::v1::Job>(v),
        ("batch", "v1", "CronJob") => read_as::<batch::v1::CronJob>(v),
        ("rbac.authorization.k8s.io", "v1", "Role") => read_as::<rbac::v1::Role>(v),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => read_as::<rbac::v1::RoleBinding>(v),
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => read_as::<rbac::v1::ClusterRole>(v),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            read_as::<rbac::v1::ClusterRoleBinding>(v)
        }
        ("networking.k8s.io", "v1", "Ingress") => read_as::<networking::v1::Ingress>(v),
        ("networking.k8s.io", "v1", "NetworkPolicy") => read_as::<networking::v1::NetworkPolicy>(v),
        ("policy", "v1", "PodDisruptionBudget") => read_as::<policy::v1::PodDisruptionBudget>(v),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            read_as::<autoscaling::v2::HorizontalPodAutoscaler>(v)
        }
        _ => return None,
    })
}

/// GN001's typed read of one object.
fn schema_findings(index: usize, r: &Resource, out: &mut Vec<Finding>) {
    let (group, version, kind) = r.gvk();
    let Some(mut result) = typed(group, version, kind, r.obj()) else {
        return;
    };
    // Kubernetes reads `8.0` as the integer 8 (JSON has one number type); so does the
    // typed read, on a copy, when the object does not read as it is.
    if result.is_err() {
        let mut value = Value::Object(r.obj().clone());
        crate::render::integral_floats_as_integers(&mut value);
        if let Value::Object(m) = &value {
            result = typed(group, version, kind, m).unwrap_or(result);
        }
    }
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
        Ok(unknown) => {
            // A field set to null is not sent; the API server never sees it.
            let unknown = unknown
                .into_iter()
                .filter(|p| value_at(r.obj(), p).is_some_and(|v| !v.is_null()));
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

fn gn001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
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

pub const GN002: Rule = Rule {
    doc: RuleDoc {
        code: "GN002",
        name: "removed-api-version",
        severity: Severity::Error,
        summary: "apiVersion the target Kubernetes version no longer serves",
        why: "The API server refuses an object whose group/version it no longer serves (`no matches for \
              kind \"DaemonSet\" in version \"extensions/v1beta1\"`): the sync fails, or an old manifest \
              is skipped while the rest applies. The versions and the release that removed each are \
              Kubernetes' deprecated API migration guide; the target is the ClusterProfile's \
              `kubernetesVersion` (the newest release when unset).",
        example: "apiVersion: extensions/v1beta1\nkind: DaemonSet",
        fix: "Move to the served version (apps/v1 for workloads, networking.k8s.io/v1 for Ingress...), \
              adding what it requires (a `selector` for apps/v1 workloads).",
    },
    check: gn002,
    each: None,
};

/// (apiVersion, kinds (empty: every kind of it), the minor release of 1.x that stopped
/// serving it, its replacement), from Kubernetes' deprecated API migration guide.
const REMOVED: &[(&str, &[&str], u32, &str)] = &[
    (
        "extensions/v1beta1",
        &[
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "NetworkPolicy",
            "PodSecurityPolicy",
        ],
        16,
        "apps/v1 (networking.k8s.io/v1 for NetworkPolicy)",
    ),
    (
        "extensions/v1beta1",
        &["Ingress"],
        22,
        "networking.k8s.io/v1",
    ),
    ("apps/v1beta1", &[], 16, "apps/v1"),
    ("apps/v1beta2", &[], 16, "apps/v1"),
    (
        "networking.k8s.io/v1beta1",
        &["Ingress", "IngressClass"],
        22,
        "networking.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        &[],
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        &[],
        22,
        "apiextensions.k8s.io/v1",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[],
        22,
        "admissionregistration.k8s.io/v1",
    ),
    (
        "apiregistration.k8s.io/v1beta1",
        &[],
        22,
        "apiregistration.k8s.io/v1",
    ),
    ("scheduling.k8s.io/v1beta1", &[], 22, "scheduling.k8s.io/v1"),
    (
        "certificates.k8s.io/v1beta1",
        &[],
        22,
        "certificates.k8s.io/v1",
    ),
    (
        "coordination.k8s.io/v1beta1",
        &[],
        22,
        "coordination.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
        22,
        "storage.k8s.io/v1",
    ),
    ("batch/v1beta1", &["CronJob"], 25, "batch/v1"),
    ("policy/v1beta1", &["PodDisruptionBudget"], 25, "policy/v1"),
    (
        "policy/v1beta1",
        &["PodSecurityPolicy"],
        25,
        "Pod Security Admission (namespace labels)",
    ),
    ("discovery.k8s.io/v1beta1", &[], 25, "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", &[], 25, "events.k8s.io/v1"),
    ("node.k8s.io/v1beta1", &[], 25, "node.k8s.io/v1"),
    ("autoscaling/v2beta1", &[], 25, "autoscaling/v2"),
    ("autoscaling/v2beta2", &[], 26, "autoscaling/v2"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        &[],
        26,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        &["CSIStorageCapacity"],
        27,
        "storage.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        &[],
        29,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        &[],
        32,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
];

/// The newest Kubernetes minor release strata knows the served versions of (the k8s-openapi
/// schema in use).
const NEWEST_MINOR: u32 = 37;

fn gn002(input: &Input<'_>, out: &mut Vec<Finding>, assumed: &mut Vec<String>) {
    let target = input
        .profile
        .spec
        .kubernetes_version
        .as_deref()
        .and_then(|v| {
            v.trim_start_matches('v')
                .split('.')
                .nth(1)?
                .parse::<u32>()
                .ok()
        });
    let minor = target.unwrap_or(NEWEST_MINOR);
    let mut assumed_once = false;
    for (index, r) in input.resources.iter().enumerate() {
        let api = r.api_version();
        let Some((_, _, removed_in, instead)) = REMOVED.iter().find(|(v, kinds, removed, _)| {
            *v == api && (kinds.is_empty() || kinds.contains(&r.kind())) && minor >= *removed
        }) else {
            continue;
        };
        if target.is_none() && !assumed_once {
            assumed.push(format!(
                "no kubernetesVersion in the ClusterProfile: removed API versions are those of Kubernetes 1.{NEWEST_MINOR}"
            ));
            assumed_once = true;
        }
        out.push(Finding {
            code: "GN002",
            severity: None,
            message: format!(
                "{} uses {api}, which Kubernetes stopped serving in 1.{removed_in} (the target is 1.{minor})",
                r.id()
            ),
            resource: index,
            path: "/apiVersion".into(),
            other: None,
            fix: Some(format!("use {instead}")),
        });
    }
}
