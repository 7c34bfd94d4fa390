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
              resolv.conf, so cluster service names stop resolving (Kubernetes docs, DNS for Services and Pods). \
              An error when the pod evidently needs them: a `*.svc` or `*.cluster.local` name, or a Service of \
              the render named as a host, in its env, args, command or the ConfigMaps it reads. Otherwise a \
              warning: CNI and load-balancer agents (flannel, calico, metallb...) reach the API server through \
              KUBERNETES_SERVICE_HOST and must work before cluster DNS exists, so they rightly leave dnsPolicy unset.",
        example: "spec:\n  hostNetwork: true\n  # no dnsPolicy: cluster DNS does not work\n  containers:\n  - env:\n    - {name: PUSHGATEWAY, value: http://pushgateway.monitoring.svc:9091}",
        fix: "Set `dnsPolicy: ClusterFirstWithHostNet`, or an explicit `Default` if the pod must use the node's resolver.",
    },
    check: hn001,
    each: None,
};

/// A name only cluster DNS resolves, in a string: `x.ns.svc`, `x.svc`, `*.cluster.local`, or
/// the name of a Service of the render used as a host (`http://name`, `name.ns:port`,
/// `name:port`, `name/path`, or the whole value; a bare name only in the Service's own
/// namespace).
fn cluster_name_in(text: &str, services: &[(&str, &str)], pod_ns: &str) -> Option<String> {
    let is_host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_host_char).unwrap_or(rest.len());
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_host_char(c)).unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches('.').to_ascii_lowercase();
        let after = &rest[end..];
        let before_ok = start == 0 || !text[..text.len() - rest.len()].ends_with(['-', '_']);
        rest = after;
        if token.is_empty() || !before_ok {
            continue;
        }
        if token.ends_with(".svc") || token.contains(".svc.") || token.ends_with(".cluster.local") {
            return Some(token);
        }
        // A host position: after a URL scheme, before a port or a path, or the whole string.
        let whole = token.len() == text.trim().len();
        let after_scheme = text[..text.len() - after.len() - end].ends_with("://");
        let host_position = whole
            || after_scheme
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()))
            || after.starts_with('/');
        for (name, ns) in services {
            let qualified = token == format!("{name}.{ns}");
            let bare = token == *name && *ns == pod_ns;
            if (qualified || bare) && host_position {
                return Some(token);
            }
        }
    }
    None
}

/// Where a pod evidently needs cluster DNS: (what, the name).
fn cluster_dns_evidence(
    w: &crate::validate::rules::Workload<'_>,
    input: &Input<'_>,
    services: &[(&str, &str)],
) -> Option<(String, String)> {
    let ns = w.r.namespace();
    let mut config_maps: Vec<&str> = Vec::new();
    for (_, c) in w.containers() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let mut strings: Vec<(&str, &str)> = Vec::new();
        for field in ["args", "command"] {
            for v in c.get(field).and_then(Value::as_array).into_iter().flatten() {
                if let Some(s) = v.as_str() {
                    strings.push((field, s));
                }
            }
        }
        for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
            if let Some(s) = e.get("value").and_then(Value::as_str) {
                strings.push(("env", s));
            }
            if let Some(cm) = e
                .pointer("/valueFrom/configMapKeyRef/name")
                .and_then(Value::as_str)
            {
                config_maps.push(cm);
            }
        }
        for e in c
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(cm) = e.pointer("/configMapRef/name").and_then(Value::as_str) {
                config_maps.push(cm);
            }
        }
        for (field, s) in strings {
            if let Some(found) = cluster_name_in(s, services, ns) {
                return Some((format!("the {field} of container {name}"), found));
            }
        }
    }
    for v in w
        .pod
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(cm) = v.pointer("/configMap/name").and_then(Value::as_str) {
            config_maps.push(cm);
        }
    }
    for r in input.resources.iter().filter(|r| {
        r.kind() == "ConfigMap" && r.namespace() == ns && config_maps.contains(&r.name())
    }) {
        for (key, v) in r
            .obj()
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(found) = v.as_str().and_then(|s| cluster_name_in(s, services, ns)) {
                return Some((format!("key {key} of ConfigMap {}", r.name()), found));
            }
        }
    }
    None
}

fn hn001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    let services: Vec<(&str, &str)> = input
        .resources
        .iter()
        .filter(|r| r.kind() == "Service" && r.api_version() == "v1")
        .map(|r| (r.name(), r.namespace()))
        .collect();
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        let policy = w.pod.get("dnsPolicy").and_then(Value::as_str);
        if matches!(policy, None | Some("ClusterFirst")) {
            let path = if policy.is_some() {
                format!("{}/dnsPolicy", w.base)
            } else {
                format!("{}/hostNetwork", w.base)
            };
            let policy = policy.unwrap_or("unset (ClusterFirst)");
            let (severity, message) = match cluster_dns_evidence(w, input, &services) {
                Some((place, name)) => (
                    None,
                    format!(
                        "{} runs on the host network with dnsPolicy {policy}, and {place} names {name}, which only cluster DNS resolves: it will not resolve",
                        w.r.id()
                    ),
                ),
                None => (
                    Some(Severity::Warning),
                    format!(
                        "{} runs on the host network with dnsPolicy {policy}: cluster names will not resolve (nothing in its env, args or ConfigMaps names one; agents that reach the API server by KUBERNETES_SERVICE_HOST need none)",
                        w.r.id()
                    ),
                ),
            };
            out.push(Finding {
                code: "HN001",
                severity,
                message,
                resource: w.index,
                path,
                other: None,
                fix: None,
                at_key: false,
            });
        }
    }
}

pub const HN002: Rule = Rule {
    doc: RuleDoc {
        code: "HN002",
        name: "host-network-undeclared-ports",
        severity: Severity::Warning,
        summary: "hostNetwork container that declares no ports, or is probed on a port it does not declare",
        why: "The scheduler's NodePorts filter only knows declared ports: a host-network pod that declares \
              none can land beside another that binds the same port and crash with \"address in use\". A \
              probe on an undeclared port is such a port too: the kubelet probes the node's address, where \
              the process listens.",
        example: "containers:\n- name: exporter\n  args: [--web.listen-address=0.0.0.0:20000]\n  # no ports:",
        fix: "Declare every port the process listens on under `ports:` (containerPort = the listen port).",
    },
    check: hn002,
    each: None,
};

/// The numeric ports a container's probes connect to (`httpGet`, `tcpSocket`, `grpc`), with
/// the JSON pointer of each below the container. Named ports refer to declared ones.
fn probe_ports(c: &serde_json::Map<String, Value>) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        for handler in ["httpGet", "tcpSocket", "grpc"] {
            let Some(port) = c.get(probe).and_then(|p| p.get(handler)).and_then(|h| {
                // A probe of another host than the pod's own address is not the pod's port.
                (h.get("host").is_none()).then(|| h.get("port"))?
            }) else {
                continue;
            };
            let number = port
                .as_u64()
                .or_else(|| port.as_str().and_then(|s| s.parse().ok()));
            if let Some(n) = number.filter(|n| *n > 0) {
                out.push((format!("/{probe}/{handler}/port"), n));
            }
        }
    }
    out
}

fn hn002(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        for (cpath, c) in w.containers() {
            // Init and debug containers run to completion or on demand; they rarely listen.
            if !cpath.contains("/containers/") {
                continue;
            }
            let declared: Vec<&Value> = c
                .get("ports")
                .and_then(Value::as_array)
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            if !declared.is_empty() {
                // Declared ports, and a probe on a port that is not one of them: the process
                // listens there too (the kubelet probes the node's address), undeclared.
                let numbers: Vec<u64> = declared
                    .iter()
                    .filter_map(|p| p.get("containerPort").and_then(Value::as_u64))
                    .collect();
                for (probe_path, port) in probe_ports(c) {
                    if numbers.contains(&port) {
                        continue;
                    }
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                    out.push(Finding {
                        code: "HN002",
                        severity: None,
                        message: format!(
                            "container {name} of {} runs on the host network and is probed on port {port}, which it does not declare: the scheduler does not know the node's port {port} is taken",
                            w.r.id()
                        ),
                        resource: w.index,
                        path: format!("{cpath}{probe_path}"),
                        other: None,
                        fix: Some(format!(
                            "declare containerPort: {port} under the container's ports"
                        )),
                        at_key: false,
                    });
                }
                continue;
            }
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let seen = super::listen_port(c)
                .map(|l| format!("; it appears to listen on {} (port {})", l.text, l.port))
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
                at_key: false,
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
        // The API server checks the pod's containers, not its init containers.
        for (cpath, c) in w
            .containers()
            .into_iter()
            .filter(|(p, _)| p.contains("/containers/"))
        {
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
                            at_key: false,
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
                    at_key: false,
                });
            }
        }
    }
}
