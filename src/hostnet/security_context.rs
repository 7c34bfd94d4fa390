//! `SecurityContext`: fills the pod and container security contexts of the targeted
//! workloads. By default only what a workload does not set is filled (mappings are filled
//! key by key, lists and scalars are kept as written); with `override: true` every given
//! field is set. Containers, init containers and ephemeral containers all get `containers`.

use serde_json::{Map, Value};

use super::kinds::{SecurityContextSpec, targets};
use crate::error::Result;
use crate::hostnet::workloads;
use crate::kustomize::listed::Configured;
use crate::model::ResourceSet;

/// Fields of Kubernetes' PodSecurityContext (core/v1).
const POD_FIELDS: &[&str] = &[
    "appArmorProfile",
    "fsGroup",
    "fsGroupChangePolicy",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxChangePolicy",
    "seLinuxOptions",
    "seccompProfile",
    "supplementalGroups",
    "supplementalGroupsPolicy",
    "sysctls",
    "windowsOptions",
];
/// Fields of Kubernetes' SecurityContext (core/v1), for containers.
const CONTAINER_FIELDS: &[&str] = &[
    "allowPrivilegeEscalation",
    "appArmorProfile",
    "capabilities",
    "privileged",
    "procMount",
    "readOnlyRootFilesystem",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "windowsOptions",
];

pub fn apply(t: &Configured, spec: &SecurityContextSpec, set: &mut ResourceSet) -> Result<()> {
    for (field, given, known, other) in [
        (
            "pod",
            &spec.pod,
            POD_FIELDS,
            ("containers", CONTAINER_FIELDS),
        ),
        (
            "containers",
            &spec.containers,
            CONTAINER_FIELDS,
            ("pod", POD_FIELDS),
        ),
    ] {
        for k in given.keys() {
            if !known.contains(&k.as_str()) {
                let elsewhere = if other.1.contains(&k.as_str()) {
                    format!(": it is a field of spec.{}", other.0)
                } else {
                    String::new()
                };
                return Err(t
                    .error_at(
                        &["spec", field, k],
                        format!("unknown field `{k}` in spec.{field}{elsewhere}"),
                    )
                    .help(format!(
                        "spec.{field} takes the fields of Kubernetes' {}: {}",
                        if field == "pod" {
                            "PodSecurityContext"
                        } else {
                            "SecurityContext"
                        },
                        known.join(", ")
                    )));
            }
        }
    }
    if spec.pod.is_empty() && spec.containers.is_empty() {
        return Err(t.error_at(&["spec"], "nothing to set: give `pod` and/or `containers`"));
    }
    let targets = targets(t, &spec.targets)?;
    let actor = t.actor.clone();
    for i in targets.select_pod_bearing(set, t)? {
        let r = &mut set[i];
        let Some(base) = workloads::pod_spec_path(r).map(workloads::pointer) else {
            continue;
        };
        let mut changed = Vec::new();
        if let Some(pod) = workloads::pod_spec_mut(r) {
            if !spec.pod.is_empty() {
                let path = format!("{base}/securityContext");
                let sc = pod
                    .entry("securityContext")
                    .or_insert_with(|| Value::Object(Map::new()));
                fill(sc, &spec.pod, spec.override_existing, &path, &mut changed);
            }
            if !spec.containers.is_empty() {
                for (list, ci, c) in workloads::containers_mut(pod) {
                    let path = format!("{base}/{list}/{ci}/securityContext");
                    let sc = c
                        .entry("securityContext")
                        .or_insert_with(|| Value::Object(Map::new()));
                    fill(
                        sc,
                        &spec.containers,
                        spec.override_existing,
                        &path,
                        &mut changed,
                    );
                }
            }
        }
        for p in changed {
            r.changed(p, &actor);
        }
    }
    Ok(())
}

/// Sets `given` into `target` (a mapping): missing keys always, present ones only with
/// `override`; nested mappings key by key.
fn fill(
    target: &mut Value,
    given: &Map<String, Value>,
    override_existing: bool,
    path: &str,
    changed: &mut Vec<String>,
) {
    if !target.is_object() {
        if !override_existing && !target.is_null() {
            return;
        }
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (k, v) in given {
        let p = format!("{path}/{k}");
        match (map.get_mut(k), v) {
            (Some(existing @ Value::Object(_)), Value::Object(sub)) => {
                fill(existing, sub, override_existing, &p, changed)
            }
            (Some(existing), _) if !existing.is_null() => {
                if override_existing && existing != v {
                    *existing = v.clone();
                    changed.push(p);
                }
            }
            _ => {
                map.insert(k.clone(), v.clone());
                changed.push(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fill_keeps_explicit_values_unless_override() {
        let given = json!({"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true});
        let given = given.as_object().unwrap();
        let mut sc =
            json!({"readOnlyRootFilesystem": false, "capabilities": {"add": ["NET_ADMIN"]}});
        let mut changed = Vec::new();
        fill(&mut sc, given, false, "/sc", &mut changed);
        assert_eq!(
            sc,
            json!({"readOnlyRootFilesystem": false, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "runAsNonRoot": true})
        );
        assert_eq!(changed, ["/sc/runAsNonRoot", "/sc/capabilities/drop"]);
        let mut changed = Vec::new();
        fill(&mut sc, given, true, "/sc", &mut changed);
        assert_eq!(sc["readOnlyRootFilesystem"], json!(true));
        assert_eq!(changed, ["/sc/readOnlyRootFilesystem"]);
        // Idempotent.
        let mut changed = Vec::new();
        fill(&mut sc, given, true, "/sc", &mut changed);
        assert!(changed.is_empty());
    }
}
