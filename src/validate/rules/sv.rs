//! SV: Services in front of host-network pods.

use serde_json::Value;

use super::ro::one_per_node;
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const SV001: Rule = Rule {
    doc: RuleDoc {
        code: "SV001",
        name: "service-over-colocated-host-pods",
        severity: Severity::Error,
        summary: "Service over host-network pods of which several can land on one node",
        why: "A Service in front of host-network pods has the nodes' IPs as endpoints: each pod is \
              reached at nodeIP:port. Two replicas on one node cannot both bind that port (the second \
              crash-loops with \"address already in use\" or stays Pending), and the Service keeps \
              sending traffic to the node whatever pod holds the port.",
        example: "Deployment with hostNetwork and replicas: 3, no pod anti-affinity, behind a ClusterIP Service",
        fix: "Keep one pod per node (required pod anti-affinity on kubernetes.io/hostname, or a DaemonSet), \
              or drop hostNetwork and let the Service reach pod IPs.",
    },
    check: sv001,
    each: None,
};

/// Does `selector` (a Service's `spec.selector`) select pods with `labels`?
fn selects(selector: &serde_json::Map<String, Value>, labels: Option<&Value>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

fn sv001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for (si, svc) in input.resources.iter().enumerate() {
        if svc.kind() != "Service" || svc.api_version() != "v1" {
            continue;
        }
        let spec = svc.obj().get("spec");
        if spec.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("ExternalName") {
            continue;
        }
        let Some(selector) = spec
            .and_then(|s| s.get("selector"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for w in input
            .workloads
            .iter()
            .filter(|w| w.host_network() && w.r.namespace() == svc.namespace())
        {
            let labels = w.pod_labels();
            if !selects(selector, labels) {
                continue;
            }
            let Some(replicas) = w.replicas().filter(|r| *r > 1) else {
                continue;
            };
            if one_per_node(w) {
                continue;
            }
            out.push(Finding {
                code: "SV001",
                severity: None,
                message: format!(
                    "{} routes to host-network pods of {}, whose {replicas} replicas can land on one node: they cannot all bind their ports there, and the Service's endpoints are node IPs",
                    svc.id(),
                    w.r.id()
                ),
                resource: si,
                path: "/spec/selector".into(),
                other: Some((
                    w.index,
                    "/spec/replicas".into(),
                    format!("{} asks for {replicas} replicas", w.r.id()),
                )),
                fix: None,
                at_key: false,
            });
        }
    }
}
