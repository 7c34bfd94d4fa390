//! HN: host networking itself.

use serde_json::Value;

use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const HN001: Rule = Rule {
    doc: RuleDoc {
        code: "HN001",
        name: "host-network-dns-policy",
        severity: Severity::Error,
        summary: "hostNetwork without `dnsPolicy: ClusterFirstWithHostNet`",
        why: "With hostNetwork, the default dnsPolicy ClusterFirst silently falls back to the node's \
              resolv.conf, so cluster service names stop resolving (Kubernetes docs, DNS for Services and Pods).",
        example: "spec:\n  hostNetwork: true\n  # no dnsPolicy: cluster DNS does not work",
        fix: "Set `dnsPolicy: ClusterFirstWithHostNet`, or an explicit `Default` if the pod must use the node's resolver.",
    },
    check: hn001,
    each: None,
};

fn hn001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        let policy = w.pod.get("dnsPolicy").and_then(Value::as_str);
        if matches!(policy, None | Some("ClusterFirst")) {
            let path = if policy.is_some() {
                format!("{}/dnsPolicy", w.base)
            } else {
                format!("{}/hostNetwork", w.base)
            };
            out.push(Finding {
                code: "HN001",
                severity: None,
                message: format!(
                    "{} runs on the host network with dnsPolicy {}: cluster names will not resolve",
                    w.r.id(),
                    policy.unwrap_or("unset (ClusterFirst)")
                ),
                resource: w.index,
                path,
                other: None,
                fix: None,
            });
        }
    }
}

pub const HN002: Rule = Rule {
    doc: RuleDoc {
        code: "HN002",
        name: "host-network-undeclared-ports",
        severity: Severity::Warning,
        summary: "hostNetwork container that declares no ports",
        why: "The scheduler's NodePorts filter only knows declared ports: a host-network pod that declares \
              none can land beside another that binds the same port and crash with \"address in use\".",
        example: "containers:\n- name: exporter\n  args: [--web.listen-address=0.0.0.0:20000]\n  # no ports:",
        fix: "Declare every port the process listens on under `ports:` (containerPort = the listen port).",
    },
    check: hn002,
    each: None,
};

/// A listen port visible in a container's args (`--web.listen-address=0.0.0.0:20000`,
/// `--port=8080`, `--metrics-bind-address=:8443`).
fn visible_port(c: &serde_json::Map<String, Value>) -> Option<String> {
    let args = c
        .get("args")
        .into_iter()
        .chain(c.get("command"))
        .filter_map(Value::as_array)
        .flatten();
    for a in args.filter_map(Value::as_str) {
        let Some((flag, value)) = a.split_once('=') else {
            continue;
        };
        let flag = flag.trim_start_matches('-');
        // Whole words of the flag name: `--port`, `--metrics-port`, `--listen-address`,
        // `--web.listen-address`, `--bind-address` (not `--report-interval` or `--transport`).
        let words: Vec<&str> = flag.split(['-', '.', '_']).collect();
        let listens = words
            .iter()
            .any(|w| matches!(*w, "port" | "listen" | "bind"))
            || words
                .last()
                .is_some_and(|w| *w == "address" || *w == "addr");
        if !listens {
            continue;
        }
        let port = value.rsplit(':').next().unwrap_or(value);
        if port.parse::<u16>().is_ok_and(|p| p >= 1) {
            return Some(format!("{a} (port {port})"));
        }
    }
    None
}

fn hn002(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        for (cpath, c) in w.containers() {
            // Init and debug containers run to completion or on demand; they rarely listen.
            if !cpath.contains("/containers/") {
                continue;
            }
            let declared = c
                .get("ports")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            if declared {
                continue;
            }
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let seen = visible_port(c)
                .map(|p| format!("; it appears to listen on {p}"))
                .unwrap_or_default();
            out.push(Finding {
                code: "HN002",
                severity: None,
                message: format!(
                    "container {name} of {} runs on the host network and declares no ports{seen}",
                    w.r.id()
                ),
                resource: w.index,
                path: cpath,
                other: None,
                fix: None,
            });
        }
    }
}

pub const HN003: Rule = Rule {
    doc: RuleDoc {
        code: "HN003",
        name: "host-port-mismatch",
        severity: Severity::Error,
        summary: "hostPort different from containerPort under hostNetwork",
        why: "The API server rejects a pod whose hostPort differs from its containerPort when hostNetwork \
              is true (validatePodHostNetworkDeps): the object never reaches the cluster.",
        example: "hostNetwork: true\ncontainers:\n- ports:\n  - containerPort: 80\n    hostPort: 8080",
        fix: "Make the process listen on the host port and set containerPort to it, or drop hostPort.",
    },
    check: hn003,
    each: None,
};

fn hn003(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        for (cpath, c) in w.containers() {
            let Some(Value::Array(ports)) = c.get("ports") else {
                continue;
            };
            for (i, p) in ports.iter().enumerate() {
                let cp = p.get("containerPort").and_then(Value::as_u64);
                let hp = p
                    .get("hostPort")
                    .and_then(Value::as_u64)
                    .filter(|h| *h != 0);
                if let (Some(cp), Some(hp)) = (cp, hp)
                    && cp != hp
                {
                    {
                        out.push(Finding {
                            code: "HN003",
                            severity: None,
                            message: format!("hostPort {hp} differs from containerPort {cp} under hostNetwork in {}", w.r.id()),
                            resource: w.index,
                            path: format!("{cpath}/ports/{i}/hostPort"),
                            other: None,
                            fix: Some(format!("set hostPort to {cp} (or remove it), and listen on that port")),
                        });
                    }
                }
            }
        }
    }
}

pub const HN004: Rule = Rule {
    doc: RuleDoc {
        code: "HN004",
        name: "host-network-net-sysctls",
        severity: Severity::Error,
        summary: "network sysctls (`net.*`) with hostNetwork",
        why: "Network sysctls would change the node's own network stack; the API server rejects them on \
              host-network pods (ValidateHostSysctl).",
        example: "hostNetwork: true\nsecurityContext:\n  sysctls:\n  - {name: net.core.somaxconn, value: \"1024\"}",
        fix: "Remove the net.* sysctls, or set them on the node instead.",
    },
    check: hn004,
    each: None,
};

fn hn004(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        let Some(Value::Array(sysctls)) =
            w.pod.get("securityContext").and_then(|s| s.get("sysctls"))
        else {
            continue;
        };
        for (i, s) in sysctls.iter().enumerate() {
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            if name.starts_with("net.") {
                out.push(Finding {
                    code: "HN004",
                    severity: None,
                    message: format!(
                        "sysctl {name} on host-network {}: the API server rejects it",
                        w.r.id()
                    ),
                    resource: w.index,
                    path: format!("{}/securityContext/sysctls/{i}", w.base),
                    other: None,
                    fix: None,
                });
            }
        }
    }
}
