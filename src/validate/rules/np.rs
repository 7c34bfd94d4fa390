//! NP: NetworkPolicies over host-network pods.

use std::collections::BTreeMap;

use serde_json::Value;

use super::nodes::term_matches;
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const NP001: Rule = Rule {
    doc: RuleDoc {
        code: "NP001",
        name: "network-policy-over-host-pods",
        severity: Severity::Warning,
        summary: "NetworkPolicy whose podSelector selects host-network pods, which it does not restrict",
        why: "A host-network pod has the node's IP and sits in the node's network namespace, outside the \
              pod network the CNI filters: the Kubernetes NetworkPolicy documentation leaves the behaviour \
              for hostNetwork pods undefined, and most CNIs ignore them. A policy written for such pods \
              looks like protection in review and in Git while their ports stay open to whatever reaches \
              the node. (A namespace-wide policy, `podSelector: {}`, is not reported: it is written for the \
              namespace, not for these pods.)",
        example: "kind: NetworkPolicy\nspec:\n  podSelector:\n    matchLabels: {app: node-exporter}   # a hostNetwork DaemonSet\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: prometheus}}}]",
        fix: "Enforce it at the node instead: the host firewall, the nodes' security group, or the CNI's \
              host endpoint policies (e.g. a Calico HostEndpoint with a GlobalNetworkPolicy).",
    },
    check: np001,
    each: None,
};

/// Does a LabelSelector (`matchLabels` and `matchExpressions`) select pods with `labels`?
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| labels.get(k).map(String::as_str) == Some(v))
        });
    match_labels && term_matches(selector, labels)
}

/// A selector with no requirement: every pod of the namespace.
fn selects_all(selector: &Value) -> bool {
    ["matchLabels", "matchExpressions"]
        .iter()
        .all(|f| match selector.get(*f) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => true,
        })
}

fn np001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    let host: Vec<_> = input
        .workloads
        .iter()
        .filter(|w| w.host_network())
        .map(|w| {
            let labels: BTreeMap<String, String> = w
                .pod_labels()
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect();
            (w, labels)
        })
        .collect();
    if host.is_empty() {
        return;
    }
    for (pi, policy) in input.resources.iter().enumerate() {
        let (group, _, kind) = policy.gvk();
        if kind != "NetworkPolicy" || !matches!(group, "networking.k8s.io" | "extensions") {
            continue;
        }
        let Some(selector) = policy.obj().get("spec").and_then(|s| s.get("podSelector")) else {
            continue;
        };
        if !selector.is_object() || selects_all(selector) {
            continue;
        }
        let selected: Vec<_> = host
            .iter()
            .filter(|(w, labels)| {
                w.r.namespace() == policy.namespace() && selects(selector, labels)
            })
            .map(|(w, _)| w)
            .collect();
        let Some(first) = selected.first() else {
            continue;
        };
        let names = selected
            .iter()
            .map(|w| w.r.id().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Finding {
            code: "NP001",
            severity: None,
            message: format!(
                "{} selects the pods of {names}, which run on the host network: it does not restrict them (they share the node's IP and network namespace; Kubernetes leaves NetworkPolicy's effect on such pods undefined, and most CNIs ignore them)",
                policy.id()
            ),
            resource: pi,
            path: "/spec/podSelector".into(),
            other: Some((
                first.index,
                format!("{}/hostNetwork", first.base),
                format!("{} runs on the host network", first.r.id()),
            )),
            fix: Some(format!(
                "enforce what this policy means for {names} at the node instead: the host firewall, the nodes' security group, or the CNI's host endpoint policies (e.g. a Calico HostEndpoint)"
            )),
            at_key: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors() {
        let l = labels(&[("app", "agent"), ("tier", "node")]);
        assert!(selects(&json!({"matchLabels": {"app": "agent"}}), &l));
        assert!(!selects(&json!({"matchLabels": {"app": "web"}}), &l));
        assert!(selects(
            &json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent", "x"]}]}),
            &l
        ));
        assert!(!selects(
            &json!({"matchLabels": {"app": "agent"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["node"]}]}),
            &l
        ));
        assert!(selects(
            &json!({"matchExpressions": [{"key": "gone", "operator": "DoesNotExist"}]}),
            &l
        ));
        assert!(selects_all(&json!({})));
        assert!(selects_all(
            &json!({"matchLabels": {}, "matchExpressions": []})
        ));
        assert!(!selects_all(
            &json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]})
        ));
    }
}
