//! PT: host ports: conflicts between workloads, reserved ports, the node security group.

use std::collections::HashMap;

use super::{HostPort, nodes};
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const PT001: Rule = Rule {
    doc: RuleDoc {
        code: "PT001",
        name: "host-port-conflict",
        severity: Severity::Error,
        summary: "two workloads that can land on one node claim the same host port",
        why: "Two pods cannot bind one (hostIP, protocol, port) on a node: the second stays Pending, or, \
              when a port is undeclared, crash-loops with \"bind: address already in use\".",
        example: "two DaemonSets with hostNetwork both listening on containerPort 9100",
        fix: "Move one to another port, or keep them on disjoint nodes (nodeSelector, node affinity, taints).",
    },
    check: pt001,
    each: None,
};

fn overlaps(a: &HostPort, b: &HostPort) -> bool {
    let any = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
    a.protocol == b.protocol && a.port == b.port && (any(&a.ip) || any(&b.ip) || a.ip == b.ip)
}

fn pt001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    let ws = &input.workloads;
    // Claims bucketed by (protocol, port): only claims in one bucket are compared, so the rule
    // is linear in the number of claims unless many workloads share one port.
    let mut buckets: HashMap<(&str, u16), Vec<(usize, &HostPort)>> = HashMap::new();
    for (wi, w) in ws.iter().enumerate() {
        for hp in w.host_ports() {
            buckets
                .entry((hp.protocol.as_str(), hp.port))
                .or_default()
                .push((wi, hp));
        }
    }
    let mut keys: Vec<&(&str, u16)> = buckets.keys().collect();
    keys.sort();
    for key in keys {
        let claims = &buckets[key];
        for (i, (wa, a)) in claims.iter().enumerate() {
            for (wb, b) in &claims[i + 1..] {
                if !overlaps(a, b) {
                    continue;
                }
                let (x, y) = (&ws[*wa], &ws[*wb]);
                let same = wa == wb;
                // An ordinary init container runs alone before the pod's containers: within
                // one pod it never holds a port at the same time as another container.
                if same && (a.init || b.init) {
                    continue;
                }
                if !same && !nodes::can_share_node(x, y, input.profile) {
                    continue;
                }
                let other = if same {
                    format!("container {} of the same pod claims it too", b.container)
                } else {
                    format!("{} claims it too (container {})", y.r.id(), b.container)
                };
                out.push(Finding {
                    code: "PT001",
                    severity: None,
                    message: format!(
                        "host port {}/{} of {} (container {}) is also claimed by {}",
                        a.port,
                        a.protocol,
                        x.r.id(),
                        a.container,
                        if same {
                            "another container of the same pod".to_string()
                        } else {
                            y.r.id().to_string()
                        }
                    ),
                    resource: x.index,
                    path: a.path.clone(),
                    other: Some((y.index, b.path.clone(), other)),
                    // Two containers of one pod always share its node: only the port can move.
                    fix: same.then(|| {
                        "give one of the two containers another port (containers of one pod always share its node and its network namespace)".to_string()
                    }),
                    at_key: false,
                });
            }
        }
    }
}

pub const PT002: Rule = Rule {
    doc: RuleDoc {
        code: "PT002",
        name: "reserved-host-port",
        severity: Severity::Error,
        summary: "host port the node itself uses",
        why: "The scheduler does not know the ports of the node's own daemons (sshd, DNS, the API server, \
              kubelet, kube-proxy, CNI agents, the NodePort range): the pod schedules, then fails to bind.",
        example: "hostNetwork: true\ncontainers:\n- ports:\n  - containerPort: 80",
        fix: "Use a free port (the profile's `reservedPorts` lists what the nodes use).",
    },
    check: pt002,
    each: None,
};

fn pt002(input: &Input<'_>, out: &mut Vec<Finding>, assumed: &mut Vec<String>) {
    if !input.profile.given {
        assumed.push("no ClusterProfile: reserved ports are the defaults (22, 53, 80, 443, 2379-2380, 6443, 9099, 9890, 10248-10259, 30000-32767)".into());
    }
    for w in input.workloads.iter() {
        // A port bound to link-local addresses (node-local-dns' 169.254.20.10:53) does not
        // meet the node daemons, which listen on the node's own addresses.
        for hp in w.host_ports().iter().filter(|hp| !hp.link_local()) {
            if let Some((a, b)) = input.profile.is_reserved(hp.port) {
                let range = if a == b {
                    String::new()
                } else {
                    format!(" (in {a}-{b})")
                };
                out.push(Finding {
                    code: "PT002",
                    severity: None,
                    message: format!(
                        "host port {}{range} of {} is reserved on the nodes",
                        hp.port,
                        w.r.id()
                    ),
                    resource: w.index,
                    path: hp.path.clone(),
                    other: None,
                    fix: None,
                    at_key: false,
                });
            }
        }
    }
}

pub const PT003: Rule = Rule {
    doc: RuleDoc {
        code: "PT003",
        name: "host-port-not-allowed",
        severity: Severity::Error,
        summary: "host port the node security group does not open",
        why: "A host port is reachable from off the node only if the node's security group allows it: \
              the pod runs, and nothing can reach it.",
        example: "allowedHostPorts: [\"20000-20999\"] in the profile, and containerPort 9100",
        fix: "Use a port the security group allows, or open the port in the security group and the profile.",
    },
    check: pt003,
    each: None,
};

fn pt003(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter() {
        for hp in w.host_ports() {
            if input.profile.is_allowed(hp.port) == Some(false) {
                out.push(Finding {
                    code: "PT003",
                    severity: None,
                    message: format!(
                        "host port {} of {} is not open in the node security group",
                        hp.port,
                        w.r.id()
                    ),
                    resource: w.index,
                    path: hp.path.clone(),
                    other: None,
                    fix: None,
                    at_key: false,
                });
            }
        }
    }
}
