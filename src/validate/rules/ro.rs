//! RO: replicas and rollouts of host-port workloads.

use serde_json::Value;

use super::{Workload, nodes};
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const RO001: Rule = Rule {
    doc: RuleDoc {
        code: "RO001",
        name: "replicas-exceed-nodes",
        severity: Severity::Error,
        summary: "host-network Deployment/StatefulSet/ReplicaSet with more replicas than eligible nodes",
        why: "Each host-network replica claims its ports on its node, so at most one replica fits per node: \
              the rest stay Pending or crash-loop with \"bind() ... Address in use\".",
        example: "an nginx Deployment with hostNetwork and replicas: 2 on a one-node cluster",
        fix: "Run at most one replica per eligible node (add required pod anti-affinity on \
              kubernetes.io/hostname), lower replicas, or use a DaemonSet.",
    },
    check: ro001,
    each: None,
};

/// Does the pod spec require one pod per node (required anti-affinity on the hostname)?
pub(super) fn one_per_node(w: &Workload<'_>) -> bool {
    w.pod
        .get("affinity")
        .and_then(|a| a.get("podAntiAffinity"))
        .and_then(|a| a.get("requiredDuringSchedulingIgnoredDuringExecution"))
        .and_then(Value::as_array)
        .is_some_and(|terms| {
            terms.iter().any(|t| {
                t.get("topologyKey").and_then(Value::as_str) == Some("kubernetes.io/hostname")
            })
        })
}

fn claims_host_ports(w: &Workload<'_>) -> bool {
    !w.host_ports().is_empty()
}

fn ro001(input: &Input<'_>, out: &mut Vec<Finding>, assumed: &mut Vec<String>) {
    for w in input.workloads.iter() {
        let Some(replicas) = w.replicas() else {
            continue;
        };
        if !w.host_network() && !claims_host_ports(w) {
            continue;
        }
        let replicas_path = "/spec/replicas".to_string();
        // Host-network pods, or pods that only claim host ports: say which.
        let what = if w.host_network() {
            "host-network replicas"
        } else {
            "replicas with host ports"
        };
        match nodes::eligible_nodes(w, input.profile) {
            Some(n) if replicas > u64::from(n) => out.push(Finding {
                code: "RO001",
                severity: None,
                message: format!(
                    "{} asks for {replicas} {what} but only {n} node{} can run them",
                    w.r.id(),
                    if n == 1 { "" } else { "s" }
                ),
                resource: w.index,
                path: replicas_path,
                other: None,
                fix: Some(format!(
                    "lower replicas to at most {n}, or make more nodes eligible"
                )),
                at_key: false,
            }),
            Some(_) => {}
            None => {
                assumed.push(
                    "no node count in the ClusterProfile: RO001 cannot compare replicas with nodes"
                        .into(),
                );
                if replicas > 1 && !one_per_node(w) {
                    out.push(Finding {
                        code: "RO001",
                        severity: Some(Severity::Warning),
                        message: format!(
                            "{} has {replicas} {what} and nothing keeps two of them off one node",
                            w.r.id()
                        ),
                        resource: w.index,
                        path: replicas_path,
                        other: None,
                        fix: Some("add required pod anti-affinity on kubernetes.io/hostname, or give the profile's node count".into()),
                        at_key: false,
                    });
                }
            }
        }
    }
}

pub const RO002: Rule = Rule {
    doc: RuleDoc {
        code: "RO002",
        name: "rollout-cannot-finish",
        severity: Severity::Error,
        summary: "rollout that can never finish because the surge pod cannot bind its ports",
        why: "A surge pod with host ports cannot start beside the old pod on its node (KEP-1591); a \
              DaemonSet may not set both maxSurge and maxUnavailable; a Deployment's surge pod needs a \
              free node (maxSurge 25% rounds up: replicas 2 on 2 nodes surges 1 pod with nowhere to go).",
        example: "DaemonSet with hostNetwork and updateStrategy.rollingUpdate.maxSurge: 1",
        fix: "Set maxSurge: 0 and maxUnavailable: 1 (strata's HostNetwork transform does this with rollout: safe).",
    },
    check: ro002,
    each: None,
};

/// An int-or-percent value resolved against `total` (percent rounded up or down).
fn resolve(v: Option<&Value>, total: u64, default_percent: u64, round_up: bool) -> u64 {
    let percent = |p: u64| {
        let x = total.saturating_mul(p);
        if round_up { x.div_ceil(100) } else { x / 100 }
    };
    match v {
        None => percent(default_percent),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => match s.trim().strip_suffix('%') {
            Some(p) => percent(p.trim().parse().unwrap_or(0)),
            None => s.trim().parse().unwrap_or(0),
        },
        _ => 0,
    }
}

fn ro002(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter() {
        if w.host_ports().is_empty() {
            continue;
        }
        let spec = w.r.obj().get("spec");
        match w.r.kind() {
            "DaemonSet" => {
                let strategy = spec.and_then(|s| s.get("updateStrategy"));
                if strategy.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("OnDelete")
                {
                    continue;
                }
                let ru = strategy.and_then(|s| s.get("rollingUpdate"));
                let surge = ru.and_then(|r| r.get("maxSurge"));
                let unavailable = ru.and_then(|r| r.get("maxUnavailable"));
                let nonzero = |v: Option<&Value>| resolve(v, 100, 0, true) > 0;
                if nonzero(surge) {
                    let both = unavailable.is_some() && nonzero(unavailable);
                    out.push(Finding {
                        code: "RO002",
                        severity: None,
                        message: if both {
                            format!("{} sets both maxSurge and maxUnavailable; the API server allows only one non-zero, and a surge pod with host ports cannot bind beside the old one", w.r.id())
                        } else {
                            format!("{} surges pods with host ports: the new pod cannot bind beside the old one on its node", w.r.id())
                        },
                        resource: w.index,
                        path: "/spec/updateStrategy/rollingUpdate/maxSurge".into(),
                        other: None,
                        fix: None,
                        at_key: false,
                    });
                }
            }
            "Deployment" => {
                let strategy = spec.and_then(|s| s.get("strategy"));
                if strategy.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("Recreate")
                {
                    continue;
                }
                let replicas = w.replicas().unwrap_or(1);
                let ru = strategy.and_then(|s| s.get("rollingUpdate"));
                let surge = resolve(ru.and_then(|r| r.get("maxSurge")), replicas, 25, true);
                let unavailable = resolve(
                    ru.and_then(|r| r.get("maxUnavailable")),
                    replicas,
                    25,
                    false,
                );
                if surge == 0 {
                    continue;
                }
                let Some(n) = nodes::eligible_nodes(w, input.profile) else {
                    continue;
                };
                if replicas > u64::from(n) {
                    continue; // RO001 reports that the replicas themselves do not fit.
                }
                // The surge pods need nodes no old pod occupies.
                let occupied = replicas.saturating_sub(unavailable);
                if occupied + surge > u64::from(n) && unavailable == 0 {
                    let explicit = ru.and_then(|r| r.get("maxSurge")).is_some();
                    out.push(Finding {
                        code: "RO002",
                        severity: None,
                        message: format!(
                            "{}: a rollout surges {surge} pod{} with host ports, but all {n} eligible node{} already run one and maxUnavailable is 0: the rollout never finishes",
                            w.r.id(),
                            if surge == 1 { "" } else { "s" },
                            if n == 1 { "" } else { "s" }
                        ),
                        resource: w.index,
                        path: if explicit { "/spec/strategy/rollingUpdate/maxSurge".into() } else { "/spec/replicas".into() },
                        other: None,
                        fix: Some("set strategy.rollingUpdate to maxSurge: 0, maxUnavailable: 1".into()),
                        at_key: false,
                    });
                }
            }
            _ => {}
        }
    }
}
