//! SC: security of host access. A host-network pod that is compromised reaches every network
//! service of its node; these rules name what turns it into a compromised node. The exception
//! is reviewed, not implicit: `strata.dev/host-access-reason` on the workload records why it
//! needs the access and silences both rules.
//!
//! SC001 is the pod sharing the node's namespaces or all of its kernel powers (`privileged`,
//! `hostPID`, `hostIPC`); SC002 is node powers handed out piecemeal (the capabilities that act
//! on the node's network and mounts, and hostPath volumes of the container runtime's socket or
//! of the root filesystem). Each field is reported once, by one of them.

use serde_json::{Map, Value};

use super::Workload;
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

/// The annotation that records why a workload needs host access.
pub const REASON_ANNOTATION: &str = "strata.dev/host-access-reason";

pub const SC001: Rule = Rule {
    doc: RuleDoc {
        code: "SC001",
        name: "host-access-without-reason",
        severity: Severity::Warning,
        summary: "hostNetwork with `privileged: true`, `hostPID` or `hostIPC`, without a reason annotation",
        why: "A compromised host-network pod reaches every network service of its node; with privileged \
              containers or the host's process or IPC namespace it owns the node. Such access should be \
              deliberate and reviewed.",
        example: "hostNetwork: true\nhostPID: true   # and no strata.dev/host-access-reason annotation",
        fix: "Drop the access if it is not needed, or record why with the annotation \
              `strata.dev/host-access-reason: \"...\"` on the workload.",
    },
    check: sc001,
    each: None,
};

pub const SC002: Rule = Rule {
    doc: RuleDoc {
        code: "SC002",
        name: "host-risk-without-reason",
        severity: Severity::Warning,
        summary: "hostNetwork with `NET_ADMIN`, `NET_RAW` or `SYS_ADMIN`, or a hostPath of the container \
                  runtime's socket or of `/`, without a reason annotation",
        why: "In the node's network namespace, NET_ADMIN rewrites the node's interfaces, routes and firewall, \
              NET_RAW reads and forges packets on its interfaces, and SYS_ADMIN mounts filesystems and is \
              close to root; the container runtime's socket (`/run/containerd/containerd.sock`, \
              `/var/run/docker.sock`, `/var/run/crio/crio.sock`, or a directory holding one) starts \
              privileged containers at will, and a hostPath of `/` hands over the node's files and \
              credentials. Any of them turns a compromised pod into a compromised node. CNI, load-balancer \
              and monitoring agents need some of them: hence a warning, silenced by the reason annotation \
              once someone has reviewed it. (A privileged container has every capability: SC001 reports \
              it, and its capabilities are not reported again.)",
        example: "hostNetwork: true\ncontainers:\n- securityContext:\n    capabilities: {add: [NET_ADMIN]}\nvolumes:\n- name: cri\n  hostPath: {path: /run/containerd/containerd.sock}\n# and no strata.dev/host-access-reason annotation",
        fix: "Drop the capability or the mount if it is not needed, or record why with the annotation \
              `strata.dev/host-access-reason: \"...\"` on the workload.",
    },
    check: sc002,
    each: None,
};

/// Has the workload recorded why it needs host access?
fn has_reason(w: &Workload<'_>) -> bool {
    w.r.annotations()
        .iter()
        .any(|(k, v)| *k == REASON_ANNOTATION && !v.trim().is_empty())
}

fn is_privileged(c: &Map<String, Value>) -> bool {
    c.get("securityContext").and_then(|s| s.get("privileged")) == Some(&Value::Bool(true))
}

fn sc001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input
        .workloads
        .iter()
        .filter(|w| w.host_network() && !has_reason(w))
    {
        for (field, what) in [("hostPID", "process"), ("hostIPC", "IPC")] {
            if w.pod.get(field) == Some(&Value::Bool(true)) {
                out.push(Finding {
                    code: "SC001",
                    severity: None,
                    message: format!(
                        "{} uses the host's network and {what} namespaces without a recorded reason",
                        w.r.id()
                    ),
                    resource: w.index,
                    path: format!("{}/{field}", w.base),
                    other: None,
                    fix: None,
                    at_key: false,
                });
            }
        }
        for (cpath, c) in w.containers() {
            if is_privileged(c) {
                out.push(Finding {
                    code: "SC001",
                    severity: None,
                    message: format!(
                        "privileged container on the host network in {} without a recorded reason",
                        w.r.id()
                    ),
                    resource: w.index,
                    path: format!("{cpath}/securityContext/privileged"),
                    other: None,
                    fix: None,
                    at_key: false,
                });
            }
        }
    }
}

/// The capabilities that act on the node from its network namespace, with what they allow.
const RISKY_CAPABILITIES: &[(&str, &str)] = &[
    ("ALL", "every capability"),
    (
        "NET_ADMIN",
        "control of the node's interfaces, routes and firewall",
    ),
    ("NET_RAW", "raw packets on the node's interfaces"),
    ("SYS_ADMIN", "mounts and most of root's powers"),
];

/// Host paths of the container runtimes' sockets and runtime directories, with what they are
/// (`/var/run` is read as `/run`, which it links to): mounting one, or a directory above one,
/// hands the pod the runtime's API.
const RUNTIME_PATHS: &[(&str, &str)] = &[
    ("/run/containerd/containerd.sock", "containerd's socket"),
    ("/run/docker.sock", "Docker's socket"),
    ("/run/cri-dockerd.sock", "cri-dockerd's socket"),
    ("/run/dockershim.sock", "the dockershim socket"),
    (
        "/run/k3s/containerd/containerd.sock",
        "k3s' containerd socket",
    ),
    ("/run/crio/crio.sock", "CRI-O's socket"),
    ("/run/podman/podman.sock", "Podman's socket"),
    (
        "/run/containerd",
        "containerd's runtime directory, which holds its socket",
    ),
    (
        "/run/crio",
        "CRI-O's runtime directory, which holds its socket",
    ),
    (
        "/run/docker",
        "Docker's runtime directory, with its containers' state",
    ),
];

/// `path` with repeated and trailing slashes and `.` segments dropped, `/var/run` read as
/// `/run`.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let parts = match parts.as_slice() {
        ["var", "run", rest @ ..] => [&["run"], rest].concat(),
        _ => parts,
    };
    format!("/{}", parts.join("/"))
}

/// What a hostPath is (said after its path), when it is the root or reaches a runtime's
/// socket.
fn risky_host_path(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let p = normalize(path);
    if p == "/" {
        return Some("the node's root filesystem".into());
    }
    if let Some((_, what)) = RUNTIME_PATHS.iter().find(|(r, _)| *r == p) {
        return Some(format!("{what} (the container runtime's API)"));
    }
    let below = format!("{p}/");
    RUNTIME_PATHS
        .iter()
        .find(|(r, _)| r.starts_with(&below))
        .map(|(r, _)| format!("which holds the container runtime's socket (e.g. {r})"))
}

fn sc002(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input
        .workloads
        .iter()
        .filter(|w| w.host_network() && !has_reason(w))
    {
        let id = w.r.id();
        let containers = w.containers();
        for (cpath, c) in &containers {
            // A privileged container has every capability already: SC001 reports it.
            if is_privileged(c) {
                continue;
            }
            let Some(added) = c
                .get("securityContext")
                .and_then(|s| s.get("capabilities"))
                .and_then(|s| s.get("add"))
                .and_then(Value::as_array)
            else {
                continue;
            };
            // Every risky capability of the container in one finding, at the first of them.
            let mut first = None;
            let mut named = Vec::new();
            for (i, cap) in added.iter().enumerate() {
                let Some(cap) = cap.as_str() else { continue };
                let upper = cap.trim().to_ascii_uppercase();
                let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
                if let Some((name, what)) = RISKY_CAPABILITIES.iter().find(|(n, _)| *n == bare) {
                    first.get_or_insert(i);
                    if !named.iter().any(|(n, _)| n == name) {
                        named.push((*name, *what));
                    }
                }
            }
            let Some(first) = first else { continue };
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let described: Vec<String> = named
                .iter()
                .map(|(n, what)| format!("{n} ({what})"))
                .collect();
            let list = match described.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("capabilities {} and {last}", rest.join(", "))
                }
                _ => format!("capability {}", described.join("")),
            };
            let caps = named.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
            out.push(Finding {
                code: "SC002",
                severity: None,
                message: format!(
                    "container {name} of {id} adds {list} on the host network without a recorded reason"
                ),
                resource: w.index,
                path: format!("{cpath}/securityContext/capabilities/add/{first}"),
                other: None,
                fix: Some(format!(
                    "drop {caps} from container {name} if it does not need {}, or record why on the workload: `{REASON_ANNOTATION}: \"...\"`",
                    if named.len() > 1 { "them" } else { "it" }
                )),
                at_key: false,
            });
        }
        let volumes = w.pod.get("volumes").and_then(Value::as_array);
        for (i, v) in volumes.into_iter().flatten().enumerate() {
            let Some(path) = v.pointer("/hostPath/path").and_then(Value::as_str) else {
                continue;
            };
            let Some(what) = risky_host_path(path) else {
                continue;
            };
            let volume = v.get("name").and_then(Value::as_str).unwrap_or("");
            // Who mounts it, and where (a volume no container mounts gives nothing).
            let mounts: Vec<String> = containers
                .iter()
                .flat_map(|(_, c)| {
                    let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
                    c.get("volumeMounts")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|m| m.get("name").and_then(Value::as_str) == Some(volume))
                        .map(move |m| {
                            let at = m.get("mountPath").and_then(Value::as_str).unwrap_or("?");
                            format!("{cname} at {at}")
                        })
                })
                .collect();
            if mounts.is_empty() {
                continue;
            }
            out.push(Finding {
                code: "SC002",
                severity: None,
                message: format!(
                    "{id} mounts the host's {path}, {what}, on the host network without a recorded reason (volume {volume}, in {})",
                    mounts.join(", ")
                ),
                resource: w.index,
                path: format!("{}/volumes/{i}/hostPath/path", w.base),
                other: None,
                fix: Some(format!(
                    "drop the hostPath volume {volume} if the pod does not need {path}, or record why on the workload: `{REASON_ANNOTATION}: \"...\"`"
                )),
                at_key: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_sockets_and_the_root() {
        for risky in [
            "/",
            "//",
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/run/containerd/containerd.sock",
            "/var/run/containerd/",
            "/var/run/crio/crio.sock",
            "/var/run/docker",
            "/run",
            "/var/run",
            "/run/k3s",
        ] {
            assert!(risky_host_path(risky).is_some(), "{risky}");
        }
        for fine in [
            "/proc",
            "/sys",
            "/var/run/calico",
            "/run/xtables.lock",
            "/var/lib/docker2",
            "/run/containerd2",
            "/var/lib/kubelet",
            "/var",
            "relative",
        ] {
            assert!(risky_host_path(fine).is_none(), "{fine}");
        }
        assert!(risky_host_path("/").unwrap().contains("root filesystem"));
        assert!(
            risky_host_path("/var/run")
                .unwrap()
                .contains("/run/containerd/containerd.sock")
        );
    }
}
