//! Back references, fixed once at the end of a build (kustomize's `FixBackReferences`): where
//! an object refers to another by name and namespace, and a transform moved the referred
//! object, the reference follows it. Today: ServiceAccount subjects of RoleBindings and
//! ClusterRoleBindings, when a `namespace` moved the ServiceAccount.

use serde_json::Value;

use crate::model::{ResId, ResourceSet};

pub fn fix_back_references(set: &mut ResourceSet) {
    // Service accounts that moved: (earlier ids, current namespace, current name).
    let moved: Vec<(Vec<ResId>, String, String)> = set
        .iter()
        .filter(|r| {
            r.kind() == "ServiceAccount" && r.api_version() == "v1" && !r.previous_ids.is_empty()
        })
        .map(|r| {
            (
                r.previous_ids.clone(),
                r.namespace().to_string(),
                r.name().to_string(),
            )
        })
        .collect();
    if moved.is_empty() {
        return;
    }
    for r in set.iter_mut() {
        let id = r.id();
        if id.group != "rbac.authorization.k8s.io"
            || !(id.kind == "RoleBinding" || id.kind == "ClusterRoleBinding")
        {
            continue;
        }
        let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") else {
            continue;
        };
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            if s.get("kind").and_then(Value::as_str) != Some("ServiceAccount") {
                continue;
            }
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ns = s
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let hits: Vec<&(Vec<ResId>, String, String)> = moved
                .iter()
                .filter(|(prev, _, _)| prev.iter().any(|p| p.name == name && p.same_namespace(&ns)))
                .collect();
            if let [(_, new_ns, new_name)] = hits.as_slice() {
                s.insert("name".into(), Value::String(new_name.clone()));
                if !new_ns.is_empty() {
                    s.insert("namespace".into(), Value::String(new_ns.clone()));
                }
            }
        }
    }
}
