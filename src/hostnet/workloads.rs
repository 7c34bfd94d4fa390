//! Where pod specs and containers live, as data: one table for every pod-bearing kind. The
//! host-network transforms (and validation) reach pod specs only through it.

use serde_json::{Map, Value};

use crate::model::Resource;

/// (group, kind, path from the object root to the pod spec).
pub const POD_SPECS: &[(&str, &str, &[&str])] = &[
    ("", "Pod", &["spec"]),
    ("", "PodTemplate", &["template", "spec"]),
    ("", "ReplicationController", &["spec", "template", "spec"]),
    ("apps", "Deployment", &["spec", "template", "spec"]),
    ("apps", "StatefulSet", &["spec", "template", "spec"]),
    ("apps", "DaemonSet", &["spec", "template", "spec"]),
    ("apps", "ReplicaSet", &["spec", "template", "spec"]),
    ("batch", "Job", &["spec", "template", "spec"]),
    // Removed versions (GN002 reports them), still workloads to every rule and transform.
    ("extensions", "Deployment", &["spec", "template", "spec"]),
    ("extensions", "DaemonSet", &["spec", "template", "spec"]),
    ("extensions", "ReplicaSet", &["spec", "template", "spec"]),
    (
        "batch",
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

/// The pod-bearing kinds, for messages: `Pod, PodTemplate, ...`.
pub fn pod_bearing_kinds() -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for (_, k, _) in POD_SPECS {
        if !kinds.contains(k) {
            kinds.push(k);
        }
    }
    kinds.join(", ")
}

/// The container lists of a pod spec.
pub const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// The path to a resource's pod spec, when its kind has one.
pub fn pod_spec_path(r: &Resource) -> Option<&'static [&'static str]> {
    let (group, _, kind) = r.gvk();
    POD_SPECS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, p)| *p)
}

/// The JSON pointer of a pod spec path (`/spec/template/spec`).
pub fn pointer(path: &[&str]) -> String {
    path.iter().map(|s| format!("/{s}")).collect()
}

/// The pod spec of a pod-bearing resource, created (as an empty mapping, with its parents)
/// when missing. `None` for kinds without one, or when something on the way is not a mapping.
pub fn pod_spec_mut(r: &mut Resource) -> Option<&mut Map<String, Value>> {
    let path = pod_spec_path(r)?;
    let (first, rest) = path.split_first()?;
    let mut cur = object_in(
        r.field_entry(first)
            .or_insert_with(|| Value::Object(Map::new())),
    )?;
    for seg in rest {
        cur = object_in(
            cur.entry(seg.to_string())
                .or_insert_with(|| Value::Object(Map::new())),
        )?;
    }
    Some(cur)
}

/// The mapping in `v`, which becomes an empty one when it is null.
fn object_in(v: &mut Value) -> Option<&mut Map<String, Value>> {
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

/// The pod spec, read-only.
pub fn pod_spec(r: &Resource) -> Option<&Map<String, Value>> {
    let path = pod_spec_path(r)?;
    let mut cur = r.obj();
    for seg in path {
        cur = cur.get(*seg)?.as_object()?;
    }
    Some(cur)
}

/// Every container of a pod spec, mutable, with its list name and index.
pub fn containers_mut(
    spec: &mut Map<String, Value>,
) -> Vec<(&'static str, usize, &mut Map<String, Value>)> {
    let mut out = Vec::new();
    for (list, value) in spec.iter_mut() {
        let Some(name) = CONTAINER_LISTS.iter().find(|l| **l == list.as_str()) else {
            continue;
        };
        if let Value::Array(items) = value {
            for (i, c) in items.iter_mut().enumerate() {
                if let Value::Object(c) = c {
                    out.push((*name, i, c));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;
    use serde_json::json;
    use std::sync::Arc;

    fn res(v: Value) -> Resource {
        Resource::from_value(
            v,
            Origin {
                file: Arc::new("t".into()),
                line: 1,
                doc_index: 0,
                item: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn every_pod_bearing_kind_has_its_pod_spec() {
        for (group, kind, path) in POD_SPECS {
            let api = if group.is_empty() {
                "v1".to_string()
            } else {
                format!("{group}/v1")
            };
            let mut r = res(json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}));
            pod_spec_mut(&mut r)
                .unwrap()
                .insert("hostNetwork".into(), json!(true));
            let ptr = format!("{}/hostNetwork", pointer(path));
            assert!(r.obj().get(path[0]).is_some(), "{kind}");
            assert_eq!(
                Value::Object(r.obj().clone()).pointer(&ptr),
                Some(&json!(true)),
                "{kind}"
            );
        }
        let cm = res(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}));
        assert!(pod_spec_path(&cm).is_none());
    }

    #[test]
    fn containers_of_all_three_lists() {
        let mut spec = json!({"containers": [{"name": "a"}], "initContainers": [{"name": "b"}],
            "ephemeralContainers": [{"name": "c"}], "volumes": [{"name": "v"}]});
        let names: Vec<String> = containers_mut(spec.as_object_mut().unwrap())
            .into_iter()
            .map(|(l, i, c)| format!("{l}[{i}]={}", c["name"].as_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                "containers[0]=a",
                "initContainers[0]=b",
                "ephemeralContainers[0]=c"
            ]
        );
    }
}
