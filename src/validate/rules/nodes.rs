//! Where a workload's pods can land: its nodeSelector, required node affinity and
//! tolerations, against the profile's node pools (when the profile has them).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Workload;
use crate::validate::profile::{ClusterProfile, NodePool};

/// The node selector labels of a pod spec.
pub fn node_selector(w: &Workload<'_>) -> BTreeMap<String, String> {
    w.pod
        .get("nodeSelector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn required_terms<'a>(w: &Workload<'a>) -> Vec<&'a Value> {
    w.pod
        .get("affinity")
        .and_then(|a| a.get("nodeAffinity"))
        .and_then(|a| a.get("requiredDuringSchedulingIgnoredDuringExecution"))
        .and_then(|r| r.get("nodeSelectorTerms"))
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default()
}

/// Do `labels` meet every `matchExpressions` requirement of `term` (a node selector term, or a
/// label selector: both spell their requirements alike)?
pub(super) fn term_matches(term: &Value, labels: &BTreeMap<String, String>) -> bool {
    let Some(exprs) = term.get("matchExpressions").and_then(Value::as_array) else {
        return true;
    };
    exprs.iter().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let have = labels.get(key).map(String::as_str);
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => true,
        }
    })
}

fn tolerates(w: &Workload<'_>, pool: &NodePool) -> bool {
    let tolerations: Vec<&Value> = w
        .pod
        .get("tolerations")
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    pool.taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| {
            tolerations.iter().any(|t| {
                let key = t.get("key").and_then(Value::as_str).unwrap_or("");
                let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                let value = t.get("value").and_then(Value::as_str).unwrap_or("");
                (effect.is_empty() || effect == taint.effect)
                    && ((op == "Exists" && (key.is_empty() || key == taint.key))
                        || (key == taint.key && value == taint.value))
            })
        })
}

/// Can the pod land on a node with these labels (ignoring taints)?
fn selects(w: &Workload<'_>, labels: &BTreeMap<String, String>) -> bool {
    let sel = node_selector(w);
    sel.iter().all(|(k, v)| labels.get(k) == Some(v)) && {
        let terms = required_terms(w);
        terms.is_empty() || terms.iter().any(|t| term_matches(t, labels))
    }
}

/// The node pools a workload can land on (by index); `None` when the profile has no pools.
pub fn eligible_pools(w: &Workload<'_>, profile: &ClusterProfile) -> Option<Vec<usize>> {
    if profile.spec.node_pools.is_empty() {
        return None;
    }
    Some(
        profile
            .spec
            .node_pools
            .iter()
            .enumerate()
            .filter(|(_, p)| selects(w, &p.labels) && tolerates(w, p))
            .map(|(i, _)| i)
            .collect(),
    )
}

/// How many nodes a workload can land on, when known.
pub fn eligible_nodes(w: &Workload<'_>, profile: &ClusterProfile) -> Option<u32> {
    match eligible_pools(w, profile) {
        Some(pools) => Some(
            pools
                .iter()
                .map(|i| profile.spec.node_pools[*i].count)
                .sum(),
        ),
        None => profile.spec.nodes,
    }
}

/// Can two workloads have pods on one node?
pub fn can_share_node(a: &Workload<'_>, b: &Workload<'_>, profile: &ClusterProfile) -> bool {
    if let (Some(pa), Some(pb)) = (eligible_pools(a, profile), eligible_pools(b, profile)) {
        return pa.iter().any(|p| pb.contains(p));
    }
    // Without pools: only contradicting placement keeps them apart. Each workload may land
    // on a node meeting its nodeSelector and one of its required node affinity terms; two
    // workloads never share a node when every pair of their terms contradicts.
    let (ta, tb) = (placement_terms(a), placement_terms(b));
    !ta.iter().all(|x| {
        tb.iter()
            .all(|y| x.iter().any(|r| y.iter().any(|s| contradicts(r, s))))
    })
}

/// One requirement on a node label: the key, the operator and its values.
struct Requirement {
    key: String,
    op: String,
    values: Vec<String>,
}

/// A workload's placement as alternatives (its required node affinity terms, ORed), each
/// the requirements a node must all meet (the term's expressions and the nodeSelector).
fn placement_terms(w: &Workload<'_>) -> Vec<Vec<Requirement>> {
    let selector: Vec<Requirement> = node_selector(w)
        .into_iter()
        .map(|(key, v)| Requirement {
            key,
            op: "In".into(),
            values: vec![v],
        })
        .collect();
    let terms = required_terms(w);
    let expressions = |term: &Value| -> Vec<Requirement> {
        term.get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| Requirement {
                key: e.get("key").and_then(Value::as_str).unwrap_or("").into(),
                op: e
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                values: e
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            })
            .collect()
    };
    if terms.is_empty() {
        return vec![selector];
    }
    terms
        .into_iter()
        .map(|t| {
            let mut reqs = expressions(t);
            reqs.extend(selector.iter().map(|r| Requirement {
                key: r.key.clone(),
                op: r.op.clone(),
                values: r.values.clone(),
            }));
            reqs
        })
        .collect()
}

/// Can no node label meet both requirements?
fn contradicts(a: &Requirement, b: &Requirement) -> bool {
    if a.key != b.key {
        return false;
    }
    let one_way = |x: &Requirement, y: &Requirement| match (x.op.as_str(), y.op.as_str()) {
        ("Exists" | "In", "DoesNotExist") => true,
        ("In", "In") => !x.values.iter().any(|v| y.values.contains(v)),
        ("In", "NotIn") => x.values.iter().all(|v| y.values.contains(v)),
        _ => false,
    };
    one_way(a, b) || one_way(b, a)
}
