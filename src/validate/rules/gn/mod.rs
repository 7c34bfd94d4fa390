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

mod crd;
mod probe;
mod values;

pub use crd::GN005;

pub const GN001: Rule = Rule {
    doc: RuleDoc {
        code: "GN001",
        name: "schema",
        severity: Severity::Error,
        summary: "unknown field or wrong type in a built-in kind",
        why: "The API server rejects a wrong type (`containerPort: \"80\"`) or an invalid port \
              (`containerPort: 70000`), and with server-side field validation also an unknown field \
              (`hostNetwrok: true`); with client-side apply the unknown field is dropped silently, \
              so the setting never takes effect. A field a release after the ClusterProfile's \
              `kubernetesVersion` added is unknown to that API server in the same way.",
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

/// The most wrong values of one object reported (each costs a read of the object).
const MAX_TYPE_ERRORS: usize = 50;

/// Takes the value at a JSON pointer out of an object (out of its map, or nulled in a list,
/// keeping the other items' indexes); false when there is nothing there.
fn remove_at(obj: &mut Map<String, Value>, pointer: &str) -> bool {
    let key = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let segs: Vec<String> = pointer.split('/').skip(1).map(key).collect();
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur: &mut Value = match parents.first() {
        None => return obj.remove(last).is_some(),
        Some(first) => match obj.get_mut(first) {
            Some(v) => v,
            None => return false,
        },
    };
    for seg in &parents[1..] {
        cur = match cur {
            Value::Object(m) => match m.get_mut(seg) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Object(m) => m.remove(last).is_some(),
        Value::Array(a) => match last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
            Some(v) if !v.is_null() => {
                *v = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
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

/// The kinds the field table has (`apps/v1 DaemonSet`).
fn field_kinds() -> &'static std::collections::HashSet<&'static str> {
    static KINDS: std::sync::OnceLock<std::collections::HashSet<&str>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| field_versions().keys().map(|(k, _)| *k).collect())
}

/// How objects of one built-in kind are checked: the typed read, and the field names of the
/// object at a path (for "did you mean").
struct Typed {
    read: fn(&Map<String, Value>) -> Reading,
    fields: fn(&[String]) -> Option<&'static [&'static str]>,
}

/// The typed reading of a built-in kind; `None` for kinds strata does not know the type of.
fn typed(group: &str, version: &str, kind: &str) -> Option<Typed> {
    use api::*;
    macro_rules! t {
        ($t:ty) => {
            Typed {
                read: read_as::<$t>,
                fields: probe::fields_at::<$t>,
            }
        };
    }
    Some(match (group, version, kind) {
        ("", "v1", "Pod") => t!(core::v1::Pod),
        ("", "v1", "Service") => t!(core::v1::Service),
        ("", "v1", "ConfigMap") => t!(core::v1::ConfigMap),
        ("", "v1", "Secret") => t!(core::v1::Secret),
        ("", "v1", "ServiceAccount") => t!(core::v1::ServiceAccount),
        ("", "v1", "Namespace") => t!(core::v1::Namespace),
        ("", "v1", "PersistentVolumeClaim") => t!(core::v1::PersistentVolumeClaim),
        ("", "v1", "ReplicationController") => t!(core::v1::ReplicationController),
        ("apps", "v1", "Deployment") => t!(apps::v1::Deployment),
        ("apps", "v1", "DaemonSet") => t!(apps::v1::DaemonSet),
        ("apps", "v1", "StatefulSet") => t!(apps::v1::StatefulSet),
        ("apps", "v1", "ReplicaSet") => t!(apps::v1::ReplicaSet),
        ("batch", "v1", "Job") => t!(batch::v1::Job),
        ("batch", "v1", "CronJob") => t!(batch::v1::CronJob),
        ("rbac.authorization.k8s.io", "v1", "Role") => t!(rbac::v1::Role),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => t!(rbac::v1::RoleBinding),
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => t!(rbac::v1::ClusterRole),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            t!(rbac::v1::ClusterRoleBinding)
        }
        ("networking.k8s.io", "v1", "Ingress") => t!(networking::v1::Ingress),
        ("networking.k8s.io", "v1", "NetworkPolicy") => t!(networking::v1::NetworkPolicy),
        ("policy", "v1", "PodDisruptionBudget") => t!(policy::v1::PodDisruptionBudget),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            t!(autoscaling::v2::HorizontalPodAutoscaler)
        }
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            t!(autoscaling::v1::HorizontalPodAutoscaler)
        }
        ("", "v1", "Endpoints") => t!(core::v1::Endpoints),
        ("", "v1", "LimitRange") => t!(core::v1::LimitRange),
        ("", "v1", "ResourceQuota") => t!(core::v1::ResourceQuota),
        ("", "v1", "PersistentVolume") => t!(core::v1::PersistentVolume),
        ("", "v1", "PodTemplate") => t!(core::v1::PodTemplate),
        ("apps", "v1", "ControllerRevision") => t!(apps::v1::ControllerRevision),
        ("discovery.k8s.io", "v1", "EndpointSlice") => t!(discovery::v1::EndpointSlice),
        ("networking.k8s.io", "v1", "IngressClass") => t!(networking::v1::IngressClass),
        ("storage.k8s.io", "v1", "StorageClass") => t!(storage::v1::StorageClass),
        ("storage.k8s.io", "v1", "CSIDriver") => t!(storage::v1::CSIDriver),
        ("storage.k8s.io", "v1", "VolumeAttachment") => t!(storage::v1::VolumeAttachment),
        ("scheduling.k8s.io", "v1", "PriorityClass") => t!(scheduling::v1::PriorityClass),
        ("node.k8s.io", "v1", "RuntimeClass") => t!(node::v1::RuntimeClass),
        ("coordination.k8s.io", "v1", "Lease") => t!(coordination::v1::Lease),
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            t!(admissionregistration::v1::MutatingWebhookConfiguration)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            t!(admissionregistration::v1::ValidatingWebhookConfiguration)
        }
        ("certificates.k8s.io", "v1", "CertificateSigningRequest") => {
            t!(certificates::v1::CertificateSigningRequest)
        }
        ("", "v1", "Node") => t!(core::v1::Node),
        ("", "v1", "Event") => t!(core::v1::Event),
        ("events.k8s.io", "v1", "Event") => t!(events::v1::Event),
        ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema") => t!(flowcontrol::v1::FlowSchema),
        ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration") => {
            t!(flowcontrol::v1::PriorityLevelConfiguration)
        }
        ("storage.k8s.io", "v1", "CSINode") => t!(storage::v1::CSINode),
        ("storage.k8s.io", "v1", "CSIStorageCapacity") => t!(storage::v1::CSIStorageCapacity),
        ("storage.k8s.io", "v1", "VolumeAttributesClass") => {
            t!(storage::v1::VolumeAttributesClass)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") => {
            t!(admissionregistration::v1::ValidatingAdmissionPolicy)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding") => {
            t!(admissionregistration::v1::ValidatingAdmissionPolicyBinding)
        }
        ("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicy") => {
            t!(admissionregistration::v1::MutatingAdmissionPolicy)
        }
        ("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicyBinding") => {
            t!(admissionregistration::v1::MutatingAdmissionPolicyBinding)
        }
        ("networking.k8s.io", "v1", "IPAddress") => t!(networking::v1::IPAddress),
        ("networking.k8s.io", "v1", "ServiceCIDR") => t!(networking::v1::ServiceCIDR),
        ("resource.k8s.io", "v1", "DeviceClass") => t!(resource::v1::DeviceClass),
        ("resource.k8s.io", "v1", "ResourceClaim") => t!(resource::v1::ResourceClaim),
        ("resource.k8s.io", "v1", "ResourceClaimTemplate") => {
            t!(resource::v1::ResourceClaimTemplate)
        }
        ("resource.k8s.io", "v1", "ResourceSlice") => t!(resource::v1::ResourceSlice),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => t!(
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition
        ),
        ("apiregistration.k8s.io", "v1", "APIService") => t!(
            k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService
        ),
        _ => return None,
    })
}

/// What to say about an unknown field: the known field nearest to it (`did you mean`), else
/// the fields the object there has.
fn unknown_field_fix(t: &Typed, path: &str, field: &str) -> String {
    let mut segs: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    segs.pop();
    match (t.fields)(&segs) {
        Some(known) => match crate::error::closest(field, known) {
            Some(near) => format!("did you mean `{near}`?"),
            None => {
                let mut names: Vec<&str> = known.to_vec();
                names.sort_unstable();
                format!(
                    "the fields here are {}; check `kubectl explain`",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        },
        None => format!("check the spelling of `{field}` against `kubectl explain`"),
    }
}

/// GN001's typed read of one object.
fn schema_findings(index: usize, r: &Resource, out: &mut Vec<Finding>) {
    let (group, version, kind) = r.gvk();
    let Some(t) = typed(group, version, kind) else {
        return;
    };
    let mut result = (t.read)(r.obj());
    let id = r.id();
    // Kubernetes reads `8.0` as the integer 8 (JSON has one number type); so does the
    // typed read, on a copy, when the object does not read as it is. Every wrong value is
    // reported: each one found is taken out of the copy and the copy read again.
    if result.is_err() {
        let mut value = Value::Object(r.obj().clone());
        crate::render::integral_floats_as_integers(&mut value);
        let Value::Object(mut copy) = value else {
            return;
        };
        result = (t.read)(&copy);
        let mut reported = 0;
        while let Err((path, msg)) = &result {
            out.push(Finding::new(
                "GN001",
                index,
                path.clone(),
                format!(
                    "{id}: {} does not read as {kind}: {msg}",
                    if path.is_empty() { "the object" } else { path }
                ),
            ));
            reported += 1;
            if path.is_empty() || reported >= MAX_TYPE_ERRORS || !remove_at(&mut copy, path) {
                return;
            }
            result = (t.read)(&copy);
        }
    }
    match result {
        Err(_) => {}
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
                let fix = unknown_field_fix(&t, &path, &field);
                out.push(Finding {
                    code: "GN001",
                    severity: None,
                    message: format!("{id}: `{field}` is not a field of {kind} at {path}"),
                    resource: index,
                    path,
                    other: None,
                    fix: Some(fix),
                    at_key: true,
                });
            }
        }
    }
}

/// Fields a Kubernetes release after the oldest in the table added: (`apiVersion Kind`,
/// pattern with `*` for list indexes) -> minor. Written by scripts/field-versions.py.
fn field_versions() -> &'static std::collections::HashMap<(&'static str, &'static str), u32> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<(&str, &str), u32>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("field_versions.tsv")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let (kind, pattern, minor) = (cols.next()?, cols.next()?, cols.next()?);
                Some(((kind, pattern), minor.parse().ok()?))
            })
            .collect()
    })
}

/// The oldest release the field table knows: a target before it is checked as this one.
const OLDEST_FIELDS_MINOR: u32 = 25;

/// Fields of `m` (below `pointer`, matched by `pattern`) that Kubernetes 1.`target` does not
/// have yet: (pointer, the release that added it). A newer field's own fields are not listed.
fn newer_fields(
    kind: &str,
    m: &Map<String, Value>,
    pointer: &mut String,
    pattern: &mut String,
    target: u32,
    out: &mut Vec<(String, u32)>,
) {
    for (k, child) in m {
        let (pl, tl) = (pointer.len(), pattern.len());
        push_key(pointer, k);
        push_key(pattern, k);
        match field_versions().get(&(kind, pattern.as_str())) {
            Some(&since) if since > target => out.push((pointer.clone(), since)),
            _ => newer_fields_below(kind, child, pointer, pattern, target, out),
        }
        pointer.truncate(pl);
        pattern.truncate(tl);
    }
}

fn newer_fields_below(
    kind: &str,
    v: &Value,
    pointer: &mut String,
    pattern: &mut String,
    target: u32,
    out: &mut Vec<(String, u32)>,
) {
    match v {
        Value::Object(m) => newer_fields(kind, m, pointer, pattern, target, out),
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let (pl, tl) = (pointer.len(), pattern.len());
                crate::model::pointer::push_index(pointer, i);
                pattern.push_str("/*");
                newer_fields_below(kind, child, pointer, pattern, target, out);
                pointer.truncate(pl);
                pattern.truncate(tl);
            }
        }
        _ => {}
    }
}

fn gn001(input: &Input<'_>, out: &mut Vec<Finding>, assumed: &mut Vec<String>) {
    // Fields the target release does not have: its API server drops them (client-side
    // apply) or refuses them (strict field validation), as it does unknown fields.
    if let Some(target) = target_minor(input).filter(|t| *t < NEWEST_MINOR) {
        if target < OLDEST_FIELDS_MINOR {
            assumed.push(format!(
                "kubernetesVersion 1.{target}: fields are checked as of 1.{OLDEST_FIELDS_MINOR}, the oldest release strata knows the fields of"
            ));
        }
        let target = target.max(OLDEST_FIELDS_MINOR);
        for (index, r) in input.resources.iter().enumerate() {
            let (_, _, kind) = r.gvk();
            let key = format!("{} {kind}", r.api_version());
            if !field_kinds().contains(key.as_str()) {
                continue;
            }
            let mut found = Vec::new();
            newer_fields(
                &key,
                r.obj(),
                &mut String::new(),
                &mut String::new(),
                target,
                &mut found,
            );
            for (path, since) in found {
                let field = path.rsplit('/').next().unwrap_or("").to_string();
                out.push(Finding {
                    code: "GN001",
                    severity: None,
                    message: format!(
                        "{}: `{field}` is not a field of {kind} in Kubernetes 1.{target} (added in 1.{since}), the ClusterProfile's kubernetesVersion",
                        r.id()
                    ),
                    resource: index,
                    path,
                    other: None,
                    fix: Some(format!(
                        "drop `{field}` for clusters older than 1.{since}, or raise kubernetesVersion if the cluster is newer"
                    )),
                    at_key: true,
                });
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
                        out.push(Finding::new(
                            "GN001",
                            w.index,
                            format!("{cpath}/ports/{i}/{field}"),
                            format!("{}: {field} {n} is not a port number (1-65535)", w.r.id()),
                        ));
                    }
                }
            }
        }
    }
}

pub const GN004: Rule = Rule {
    doc: RuleDoc {
        code: "GN004",
        name: "defined-twice",
        severity: Severity::Warning,
        summary: "the same object defined twice in the manifests validated together",
        why: "kubectl apply (and Argo CD) apply every document in order: the last definition of an \
              object wins and the earlier ones never take effect, so a reviewer reading the first \
              sees settings that are not applied. strata validates the last definition, the one \
              that will run, and reports each earlier one. (A kustomization refuses duplicates \
              itself; this concerns plain manifest files and directories.)",
        example: "# a.yaml\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\n---\n# b.yaml\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}",
        fix: "Keep one definition: remove the other, or rename it if both are meant to exist.",
    },
    check: gn004,
    each: None,
};

/// GN004's findings come from [`earlier_definitions`], which `validate` calls on the whole
/// input before the rules see only the last definition of each object: nothing is left to
/// find here.
fn gn004(_: &Input<'_>, _: &mut Vec<Finding>, _: &mut Vec<String>) {}

/// The objects defined more than once: (index of an earlier definition, index of the last),
/// in input order. Identities as `kubectl apply` sees them (`default` and no namespace are
/// one).
pub fn earlier_definitions(resources: &[Resource]) -> Vec<(usize, usize)> {
    let mut last = std::collections::HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        last.insert(r.unique_id(), i);
    }
    if last.len() == resources.len() {
        return Vec::new();
    }
    resources
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let kept = last[&r.unique_id()];
            (kept != i).then_some((i, kept))
        })
        .collect()
}

pub const GN002: Rule = Rule {
    doc: RuleDoc {
        code: "GN002",
        name: "removed-api-version",
        severity: Severity::Error,
        summary: "apiVersion the target Kubernetes version no longer serves, or does not serve yet",
        why: "The API server refuses an object whose group/version it no longer serves (`no matches for \
              kind \"DaemonSet\" in version \"extensions/v1beta1\"`): the sync fails, or an old manifest \
              is skipped while the rest applies. The versions and the release that removed each are \
              Kubernetes' deprecated API migration guide; the target is the ClusterProfile's \
              `kubernetesVersion` (the newest release when unset). A kind a later release \
              introduced (`resource.k8s.io/v1` from 1.34, `admissionregistration.k8s.io/v1` \
              ValidatingAdmissionPolicy from 1.30) is refused the same way by an older API server.",
        example: "apiVersion: extensions/v1beta1\nkind: DaemonSet",
        fix: "Move to the served version (apps/v1 for workloads, networking.k8s.io/v1 for Ingress...), \
              adding what it requires (a `selector` for apps/v1 workloads).",
    },
    check: gn002,
    each: None,
};

/// An apiVersion Kubernetes deprecated and later stopped serving, from its deprecated API
/// migration guide (the releases as pluto's table and the API server's own deprecation
/// warnings give them).
struct Retired {
    api: &'static str,
    /// The kinds it concerns; empty: every kind of it.
    kinds: &'static [&'static str],
    /// The minor release of 1.x that deprecated it (the API server warns from then on).
    deprecated_in: u32,
    /// The minor release of 1.x that stopped serving it.
    removed_in: u32,
    /// What to use instead, and the first release that serves it.
    instead: &'static str,
    instead_since: u32,
}

const RETIRED: &[Retired] = &[
    Retired {
        api: "extensions/v1beta1",
        kinds: &["DaemonSet", "Deployment", "ReplicaSet"],
        deprecated_in: 9,
        removed_in: 16,
        instead: "apps/v1",
        instead_since: 9,
    },
    Retired {
        api: "extensions/v1beta1",
        kinds: &["NetworkPolicy"],
        deprecated_in: 9,
        removed_in: 16,
        instead: "networking.k8s.io/v1",
        instead_since: 8,
    },
    Retired {
        api: "extensions/v1beta1",
        kinds: &["PodSecurityPolicy"],
        deprecated_in: 10,
        removed_in: 16,
        instead: "policy/v1beta1",
        instead_since: 10,
    },
    Retired {
        api: "extensions/v1beta1",
        kinds: &["Ingress"],
        deprecated_in: 14,
        removed_in: 22,
        instead: "networking.k8s.io/v1",
        instead_since: 19,
    },
    Retired {
        api: "apps/v1beta1",
        kinds: &[],
        deprecated_in: 9,
        removed_in: 16,
        instead: "apps/v1",
        instead_since: 9,
    },
    Retired {
        api: "apps/v1beta2",
        kinds: &[],
        deprecated_in: 9,
        removed_in: 16,
        instead: "apps/v1",
        instead_since: 9,
    },
    Retired {
        api: "networking.k8s.io/v1beta1",
        kinds: &["Ingress", "IngressClass"],
        deprecated_in: 19,
        removed_in: 22,
        instead: "networking.k8s.io/v1",
        instead_since: 19,
    },
    Retired {
        api: "rbac.authorization.k8s.io/v1beta1",
        kinds: &[],
        deprecated_in: 17,
        removed_in: 22,
        instead: "rbac.authorization.k8s.io/v1",
        instead_since: 8,
    },
    Retired {
        api: "apiextensions.k8s.io/v1beta1",
        kinds: &[],
        deprecated_in: 16,
        removed_in: 22,
        instead: "apiextensions.k8s.io/v1",
        instead_since: 16,
    },
    Retired {
        api: "admissionregistration.k8s.io/v1beta1",
        kinds: &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
        deprecated_in: 16,
        removed_in: 22,
        instead: "admissionregistration.k8s.io/v1",
        instead_since: 16,
    },
    Retired {
        api: "apiregistration.k8s.io/v1beta1",
        kinds: &["APIService"],
        deprecated_in: 10,
        removed_in: 22,
        instead: "apiregistration.k8s.io/v1",
        instead_since: 10,
    },
    Retired {
        api: "scheduling.k8s.io/v1beta1",
        kinds: &["PriorityClass"],
        deprecated_in: 14,
        removed_in: 22,
        instead: "scheduling.k8s.io/v1",
        instead_since: 14,
    },
    Retired {
        api: "certificates.k8s.io/v1beta1",
        kinds: &["CertificateSigningRequest"],
        deprecated_in: 19,
        removed_in: 22,
        instead: "certificates.k8s.io/v1",
        instead_since: 19,
    },
    Retired {
        api: "coordination.k8s.io/v1beta1",
        kinds: &["Lease"],
        deprecated_in: 14,
        removed_in: 22,
        instead: "coordination.k8s.io/v1",
        instead_since: 14,
    },
    Retired {
        api: "storage.k8s.io/v1beta1",
        kinds: &["StorageClass"],
        deprecated_in: 6,
        removed_in: 22,
        instead: "storage.k8s.io/v1",
        instead_since: 6,
    },
    Retired {
        api: "storage.k8s.io/v1beta1",
        kinds: &["VolumeAttachment"],
        deprecated_in: 13,
        removed_in: 22,
        instead: "storage.k8s.io/v1",
        instead_since: 13,
    },
    Retired {
        api: "storage.k8s.io/v1beta1",
        kinds: &["CSINode"],
        deprecated_in: 17,
        removed_in: 22,
        instead: "storage.k8s.io/v1",
        instead_since: 17,
    },
    Retired {
        api: "storage.k8s.io/v1beta1",
        kinds: &["CSIDriver"],
        deprecated_in: 19,
        removed_in: 22,
        instead: "storage.k8s.io/v1",
        instead_since: 18,
    },
    Retired {
        api: "batch/v1beta1",
        kinds: &["CronJob"],
        deprecated_in: 21,
        removed_in: 25,
        instead: "batch/v1",
        instead_since: 21,
    },
    Retired {
        api: "policy/v1beta1",
        kinds: &["PodDisruptionBudget"],
        deprecated_in: 21,
        removed_in: 25,
        instead: "policy/v1",
        instead_since: 21,
    },
    Retired {
        api: "policy/v1beta1",
        kinds: &["PodSecurityPolicy"],
        deprecated_in: 21,
        removed_in: 25,
        instead: "Pod Security Admission (namespace labels)",
        instead_since: 23,
    },
    Retired {
        api: "discovery.k8s.io/v1beta1",
        kinds: &["EndpointSlice"],
        deprecated_in: 21,
        removed_in: 25,
        instead: "discovery.k8s.io/v1",
        instead_since: 21,
    },
    Retired {
        api: "events.k8s.io/v1beta1",
        kinds: &["Event"],
        deprecated_in: 19,
        removed_in: 25,
        instead: "events.k8s.io/v1",
        instead_since: 19,
    },
    Retired {
        api: "node.k8s.io/v1beta1",
        kinds: &["RuntimeClass"],
        deprecated_in: 22,
        removed_in: 25,
        instead: "node.k8s.io/v1",
        instead_since: 20,
    },
    Retired {
        api: "autoscaling/v2beta1",
        kinds: &[],
        deprecated_in: 22,
        removed_in: 25,
        instead: "autoscaling/v2",
        instead_since: 23,
    },
    Retired {
        api: "autoscaling/v2beta2",
        kinds: &[],
        deprecated_in: 23,
        removed_in: 26,
        instead: "autoscaling/v2",
        instead_since: 23,
    },
    Retired {
        api: "flowcontrol.apiserver.k8s.io/v1beta1",
        kinds: &[],
        deprecated_in: 23,
        removed_in: 26,
        instead: "flowcontrol.apiserver.k8s.io/v1beta2",
        instead_since: 23,
    },
    Retired {
        api: "storage.k8s.io/v1beta1",
        kinds: &["CSIStorageCapacity"],
        deprecated_in: 24,
        removed_in: 27,
        instead: "storage.k8s.io/v1",
        instead_since: 24,
    },
    Retired {
        api: "flowcontrol.apiserver.k8s.io/v1beta2",
        kinds: &[],
        deprecated_in: 26,
        removed_in: 29,
        instead: "flowcontrol.apiserver.k8s.io/v1beta3",
        instead_since: 26,
    },
    Retired {
        api: "flowcontrol.apiserver.k8s.io/v1beta3",
        kinds: &[],
        deprecated_in: 29,
        removed_in: 32,
        instead: "flowcontrol.apiserver.k8s.io/v1",
        instead_since: 29,
    },
];

/// What to use instead of `t` on Kubernetes 1.`minor`: its replacement, or, where that is
/// retired by then too (flow control's betas, PodSecurityPolicy's two groups), the
/// replacement's own, and so on.
fn replacement_at(t: &'static Retired, kind: &str, minor: u32) -> &'static str {
    let mut at = t;
    for _ in 0..RETIRED.len() {
        match RETIRED.iter().find(|n| {
            n.api == at.instead
                && (n.kinds.is_empty() || n.kinds.contains(&kind))
                && minor >= n.removed_in
        }) {
            Some(next) => at = next,
            None => break,
        }
    }
    at.instead
}

/// The retired apiVersion `r` uses, if any.
fn retired(r: &Resource) -> Option<&'static Retired> {
    let api = r.api_version();
    RETIRED
        .iter()
        .find(|t| t.api == api && (t.kinds.is_empty() || t.kinds.contains(&r.kind())))
}

/// The newest Kubernetes minor release strata knows the served versions of (the k8s-openapi
/// schema in use).
const NEWEST_MINOR: u32 = 37;

/// The minor release of 1.x the ClusterProfile targets (`kubernetesVersion`), if it says.
fn target_minor(input: &Input<'_>) -> Option<u32> {
    input
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
        })
}

fn gn002(input: &Input<'_>, out: &mut Vec<Finding>, assumed: &mut Vec<String>) {
    let target = target_minor(input);
    let minor = target.unwrap_or(NEWEST_MINOR);
    let mut assumed_once = false;
    for (index, r) in input.resources.iter().enumerate() {
        // A kind a later release introduced: not served yet.
        let key = format!("{} {}", r.api_version(), r.kind());
        if let Some(&since) = field_versions().get(&(key.as_str(), ""))
            && since > minor
        {
            let message = format!(
                "{} uses {}, which Kubernetes serves from 1.{since} (the target is 1.{minor})",
                r.id(),
                r.api_version()
            );
            let fix = format!(
                "upgrade the cluster to 1.{since}, or use the beta version its release serves (if enabled)"
            );
            out.push(Finding::new("GN002", index, "/apiVersion", message).with_fix(fix));
            continue;
        }
        let Some(t) = retired(r).filter(|t| minor >= t.removed_in) else {
            continue;
        };
        if target.is_none() && !assumed_once {
            assumed.push(format!(
                "no kubernetesVersion in the ClusterProfile: removed API versions are those of Kubernetes 1.{NEWEST_MINOR}"
            ));
            assumed_once = true;
        }
        let message = format!(
            "{} uses {}, which Kubernetes stopped serving in 1.{} (the target is 1.{minor})",
            r.id(),
            t.api,
            t.removed_in
        );
        let fix = format!("use {}", replacement_at(t, r.kind(), minor));
        out.push(Finding::new("GN002", index, "/apiVersion", message).with_fix(fix));
    }
}

pub const GN006: Rule = Rule {
    doc: RuleDoc {
        code: "GN006",
        name: "deprecated-api-version",
        severity: Severity::Warning,
        summary: "apiVersion the target Kubernetes version still serves but a later release removes",
        why: "A deprecated group/version applies today, with a warning from the API server that \
              nobody reads in an Argo CD sync; the release that stops serving it turns the same \
              manifest into a failed sync (GN002), often in the middle of a cluster upgrade. \
              Reported only when the target (`kubernetesVersion`) already serves the replacement, \
              so that there is something to do now. The releases are those of Kubernetes' \
              deprecated API migration guide.",
        example: "# kubernetesVersion: \"1.24\"\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget",
        fix: "Move to the replacement the message names before upgrading to the release that \
              removes it.",
    },
    check: gn006,
    each: None,
};

fn gn006(input: &Input<'_>, out: &mut Vec<Finding>, _assumed: &mut Vec<String>) {
    // Without a target the newest release is assumed, which serves none of them: GN002's.
    let Some(minor) = target_minor(input) else {
        return;
    };
    for (index, r) in input.resources.iter().enumerate() {
        let Some(t) = retired(r).filter(|t| {
            minor >= t.deprecated_in && minor < t.removed_in && minor >= t.instead_since
        }) else {
            continue;
        };
        let message = format!(
            "{} uses {}, deprecated since 1.{} and no longer served from 1.{} (the target is 1.{minor})",
            r.id(),
            t.api,
            t.deprecated_in,
            t.removed_in
        );
        let fix = format!(
            "use {} (served since 1.{}) before upgrading to 1.{}",
            t.instead, t.instead_since, t.removed_in
        );
        out.push(Finding::new("GN006", index, "/apiVersion", message).with_fix(fix));
    }
}

pub const GN003: Rule = Rule {
    doc: RuleDoc {
        code: "GN003",
        name: "api-server-requires",
        severity: Severity::Error,
        summary: "a field the API server requires or refuses: a missing selector, container name, image or containerPort, a selector that does not match the template, a value outside its closed set (dnsPolicy, restartPolicy, protocol, Service type, update strategy...), a container or port name that is not a DNS label or IANA service name",
        why: "The typed schema check (GN001) accepts a missing field; the API server does not: \
              `spec.selector: Required value`, `selector does not match template labels`, \
              `containers[0].image: Required value`, `ports[0].containerPort: Required value`, \
              `dnsPolicy: Unsupported value` (also restartPolicy, with what a Deployment or a \
              Job allows, imagePullPolicy, protocols, Service type and traffic policies, update \
              strategies), `ports[0].name: must be no more than 15 characters`, a container name \
              that is not a DNS label. The sync fails on the cluster, not in review.",
        example: "kind: Deployment\nspec:\n  template: ...   # no selector",
        fix: "Add the field as the message says (`kubectl explain KIND.FIELD`).",
    },
    check: gn003,
    each: None,
};

fn gn003(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    // An apps workload without a pod template (a patch file read as a manifest, a
    // half-written object) is no workload to the rules below; the API server still requires
    // its selector and its template.
    // A CustomResourceDefinition's spec: what the API server requires of every one.
    for (index, r) in input.resources.iter().enumerate() {
        if r.kind() != "CustomResourceDefinition" || r.api_version() != "apiextensions.k8s.io/v1" {
            continue;
        }
        let missing: Vec<&str> = [
            ("/spec/group", "spec.group"),
            ("/spec/names/kind", "spec.names.kind"),
            ("/spec/names/plural", "spec.names.plural"),
            ("/spec/scope", "spec.scope"),
            ("/spec/versions", "spec.versions"),
        ]
        .into_iter()
        .filter(|(p, _)| value_at(r.obj(), p).is_none_or(Value::is_null))
        .map(|(_, name)| name)
        .collect();
        if !missing.is_empty() {
            out.push(Finding {
                code: "GN003",
                severity: None,
                message: format!(
                    "{}: {} required (a CRD patch file given as a manifest?)",
                    r.id(),
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                        + if missing.len() > 1 { " are" } else { " is" }
                ),
                resource: index,
                path: "/spec".into(),
                other: None,
                fix: Some(
                    "a patch belongs under the kustomization's `patches:`, not `resources:`".into(),
                ),
                at_key: false,
            });
        }
    }
    let with_pods: std::collections::HashSet<usize> =
        input.workloads.iter().map(|w| w.index).collect();
    for (index, r) in input.resources.iter().enumerate() {
        let (group, _, kind) = r.gvk();
        if with_pods.contains(&index)
            || group != "apps"
            || !matches!(
                kind,
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
            )
        {
            continue;
        }
        let spec = r.obj().get("spec");
        let mut missing = Vec::new();
        if spec.and_then(|s| s.get("selector")).is_none() {
            missing.push("`spec.selector`");
        }
        if spec
            .and_then(|s| s.pointer("/template/spec/containers"))
            .is_none()
        {
            missing.push("`spec.template` with its containers");
        }
        let message = format!(
            "{}: {} required",
            r.id(),
            missing.join(" and ") + if missing.len() > 1 { " are" } else { " is" }
        );
        out.push(Finding::new("GN003", index, "/spec", message).with_fix(
            "a workload selects and describes its pods: give `selector` and `template` (a patch \
             belongs under the kustomization's `patches:`, not `resources:`)",
        ));
    }
    for (index, r) in input.resources.iter().enumerate() {
        let mut bad_values = Vec::new();
        values::object(r, &mut bad_values);
        for (path, message) in bad_values {
            out.push(Finding::new(
                "GN003",
                index,
                path,
                format!("{}: {message}", r.id()),
            ));
        }
    }
    let mut push = |w: &super::Workload<'_>, path: String, message: String| {
        out.push(Finding {
            code: "GN003",
            severity: None,
            message: format!("{}: {message}", w.r.id()),
            resource: w.index,
            path,
            other: None,
            fix: None,
            at_key: false,
        });
    };
    for w in &input.workloads {
        let (group, _, kind) = w.r.gvk();
        // apps workloads select their pods: the selector is required and must match the
        // template's labels.
        if matches!(group, "apps" | "extensions")
            && matches!(
                kind,
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
            )
            && w.r.api_version() != "extensions/v1beta1"
        {
            let spec = w.r.obj().get("spec");
            let selector = spec.and_then(|s| s.get("selector"));
            let match_labels = selector
                .and_then(|s| s.get("matchLabels"))
                .and_then(Value::as_object);
            let expressions = selector
                .and_then(|s| s.get("matchExpressions"))
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty());
            if match_labels.is_none_or(|m| m.is_empty()) && !expressions {
                push(
                    w,
                    "/spec".into(),
                    "`spec.selector` is required (and must select the template's labels)".into(),
                );
            } else if let Some(m) = match_labels {
                let labels = spec
                    .and_then(|s| s.get("template"))
                    .and_then(|t| t.get("metadata"))
                    .and_then(|m| m.get("labels"));
                if let Some((k, v)) = m
                    .iter()
                    .find(|(k, v)| labels.and_then(|l| l.get(k.as_str())) != Some(*v))
                {
                    push(
                        w,
                        "/spec/selector/matchLabels".into(),
                        format!(
                            "`selector` does not match template `labels`: the template has no {k}: {v}"
                        ),
                    );
                }
            }
        }
        let mut bad_values = Vec::new();
        values::pod(w, &mut bad_values);
        for (path, message) in bad_values {
            push(w, path, message);
        }
        for (cpath, c) in w.containers() {
            let label = match c.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => cpath.rsplit_once(&w.base).map_or(cpath.clone(), |(_, r)| {
                    r.trim_start_matches('/').to_string()
                }),
            };
            for field in ["name", "image"] {
                if c.get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    push(
                        w,
                        cpath.clone(),
                        format!("container {label} has no `{field}`, which is required"),
                    );
                }
            }
            for (i, p) in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if p.get("containerPort").is_none() {
                    let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                    push(
                        w,
                        format!("{cpath}/ports/{i}"),
                        format!(
                            "port {i}{} of container {} has no `containerPort`, which is required",
                            if name.is_empty() {
                                String::new()
                            } else {
                                format!(" ({name})")
                            },
                            c.get("name").and_then(Value::as_str).unwrap_or("?")
                        ),
                    );
                }
            }
        }
    }
}
