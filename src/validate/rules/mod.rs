//! The rules, one file per family, and what they share: the pod-bearing workloads of a set,
//! their containers and the host ports they claim.

pub(crate) mod gn;
mod hn;
mod im;
mod nodes;
mod np;
mod ps;
mod pt;
mod ro;
mod sc;
mod sv;

use serde_json::{Map, Value};

use super::{Finding, Rule};
use crate::hostnet::workloads;
use crate::model::Resource;

/// Every rule, in code order (a test keeps it sorted and the codes unique).
pub fn all() -> Vec<Rule> {
    vec![
        gn::GN001,
        gn::GN002,
        gn::GN003,
        gn::GN004,
        gn::GN005,
        gn::GN006,
        hn::HN001,
        hn::HN002,
        hn::HN003,
        hn::HN004,
        im::IM001,
        im::IM002,
        np::NP001,
        ps::PS001,
        pt::PT001,
        pt::PT002,
        pt::PT003,
        ro::RO001,
        ro::RO002,
        sc::SC001,
        sc::SC002,
        sv::SV001,
    ]
}

/// A pod-bearing resource with its pod spec.
pub struct Workload<'a> {
    pub index: usize,
    pub r: &'a Resource,
    /// JSON pointer of the pod spec.
    pub base: String,
    pub pod: &'a Map<String, Value>,
    /// The host ports, computed once (every PT rule, PS001 and RO002 ask for them).
    ports: Vec<HostPort>,
}

impl Workload<'_> {
    pub fn host_network(&self) -> bool {
        self.pod.get("hostNetwork") == Some(&Value::Bool(true))
    }

    /// The labels its pods get: the template's, beside the pod spec
    /// (`/spec/template/spec` -> `/spec/template/metadata/labels`); a Pod's own.
    pub fn pod_labels(&self) -> Option<&Value> {
        let template = self.base.strip_suffix("/spec").unwrap_or("");
        let mut keys = template.split('/').filter(|k| !k.is_empty());
        let metadata = match keys.next() {
            Some(first) => keys
                .try_fold(self.r.obj().get(first)?, |v, k| v.get(k))?
                .get("metadata"),
            None => self.r.obj().get("metadata"),
        };
        metadata.and_then(|m| m.get("labels"))
    }

    /// Every container with its JSON pointer.
    pub fn containers(&self) -> Vec<(String, &Map<String, Value>)> {
        let mut out = Vec::new();
        for list in workloads::CONTAINER_LISTS {
            if let Some(Value::Array(items)) = self.pod.get(*list) {
                for (i, c) in items.iter().enumerate() {
                    if let Value::Object(c) = c {
                        out.push((format!("{}/{list}/{i}", self.base), c));
                    }
                }
            }
        }
        out
    }

    /// The host ports the pod claims: (hostIP, protocol, port, JSON pointer of the field).
    /// Under hostNetwork every containerPort is a host port.
    pub fn host_ports(&self) -> &[HostPort] {
        &self.ports
    }

    fn compute_host_ports(&self) -> Vec<HostPort> {
        let hn = self.host_network();
        let mut out = Vec::new();
        for (cpath, c) in self.containers() {
            if cpath.contains("/ephemeralContainers/") {
                continue;
            }
            let init = cpath.contains("/initContainers/")
                && c.get("restartPolicy").and_then(Value::as_str) != Some("Always");
            let declared = c
                .get("ports")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            // A host-network container that declares no ports still binds the one its args
            // name (`--web.listen-address=:$(PORT)` with PORT in its env): a claim the
            // scheduler does not know of, and the conflicts it causes are real.
            if hn
                && !declared
                && !init
                && cpath.contains("/containers/")
                && let Some(l) = listen_port(c)
            {
                out.push(HostPort {
                    ip: String::new(),
                    protocol: "TCP".into(),
                    port: l.port,
                    path: format!("{cpath}{}", l.path),
                    container: c
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    init,
                    link_local: l.text.contains("169.254."),
                });
            }
            let Some(Value::Array(ports)) = c.get("ports") else {
                continue;
            };
            let link_local = c
                .get("args")
                .into_iter()
                .chain(c.get("command"))
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .any(|a| a.contains("169.254.") || a == "-localip" || a == "--localip");
            for (i, p) in ports.iter().enumerate() {
                let Some(p) = p.as_object() else { continue };
                let cp = p.get("containerPort").and_then(Value::as_u64);
                let hp = p
                    .get("hostPort")
                    .and_then(Value::as_u64)
                    .filter(|h| *h != 0);
                let (port, field) = match (hn, hp, cp) {
                    (_, Some(h), _) => (h, "hostPort"),
                    (true, None, Some(c)) => (c, "containerPort"),
                    _ => continue,
                };
                let Ok(port) = u16::try_from(port) else {
                    continue;
                };
                out.push(HostPort {
                    ip: p
                        .get("hostIP")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    protocol: p
                        .get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("TCP")
                        .to_string(),
                    port,
                    path: format!("{cpath}/ports/{i}/{field}"),
                    container: c
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    init,
                    link_local,
                });
            }
        }
        out
    }

    /// The replicas a controller asks for (1 when unset; `None` for DaemonSets, Jobs, Pods).
    pub fn replicas(&self) -> Option<u64> {
        match self.r.kind() {
            "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController" => Some(
                self.r
                    .obj()
                    .get("spec")
                    .and_then(|s| s.get("replicas"))
                    .and_then(Value::as_u64)
                    .unwrap_or(1),
            ),
            _ => None,
        }
    }
}

/// A listen port visible in a container's args or command (`--web.listen-address=0.0.0.0:20000`,
/// `--port=8080`, `--metrics-bind-address=:8443`), `$(VAR)` expanded from its env as the
/// kubelet expands it.
pub struct ListenPort {
    pub port: u16,
    /// The argument as expanded.
    pub text: String,
    /// JSON pointer of the argument below the container (`/args/2`).
    pub path: String,
}

pub fn listen_port(c: &serde_json::Map<String, Value>) -> Option<ListenPort> {
    let env: Vec<(&str, &str)> = c
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e.get("name")?.as_str()?, e.get("value")?.as_str()?)))
        .collect();
    for field in ["args", "command"] {
        let Some(list) = c.get(field).and_then(Value::as_array) else {
            continue;
        };
        for (i, a) in list.iter().enumerate() {
            let Some(a) = a.as_str() else { continue };
            let mut expanded = a.to_string();
            for (name, value) in &env {
                expanded = expanded.replace(&format!("$({name})"), value);
            }
            let Some((flag, value)) = expanded.split_once('=') else {
                continue;
            };
            let flag = flag.trim_start_matches('-');
            // Whole words of the flag name: `--port`, `--metrics-port`, `--listen-address`,
            // `--web.listen-address`, `--bind-address` (not `--report-interval`, `--transport`).
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
            if let Ok(port) = port.parse::<u16>()
                && port >= 1
            {
                return Some(ListenPort {
                    port,
                    path: format!("/{field}/{i}"),
                    text: expanded.clone(),
                });
            }
        }
    }
    None
}

/// One host port a pod claims: declared (`hostPort`, or `containerPort` under hostNetwork),
/// or, for a host-network container that declares none, the port its args listen on.
#[derive(Debug, Clone)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: u16,
    pub path: String,
    pub container: String,
    /// Claimed by an ordinary init container: it runs alone, to completion, before the
    /// pod's containers start (a native sidecar, `restartPolicy: Always`, is not one).
    pub init: bool,
    /// The container binds specific link-local addresses, not the node's: `169.254.x.x` in
    /// its args, or node-local-dns' `-localip` list (its link-local address and the DNS
    /// Service's IP, template placeholders in the upstream manifest).
    pub link_local: bool,
}

impl HostPort {
    /// Bound to a link-local address (its hostIP, or its container's args), where no node
    /// daemon listens.
    pub fn link_local(&self) -> bool {
        self.link_local
            || self.ip.starts_with("169.254.")
            || self.ip.to_ascii_lowercase().starts_with("fe80:")
    }
}

/// The findings of a check that reads each object on its own, in resource order. A large set
/// is read on all cores in pieces of at most 64 objects, so that a thread done with the other
/// rules (or with the output, written beside validation) finds work left to take.
pub fn each_object(
    resources: &[Resource],
    check: impl Fn(usize, &Resource) -> Vec<Finding> + Sync,
    out: &mut Vec<Finding>,
) {
    if resources.len() < crate::parallel::PARALLEL_MIN {
        for (index, r) in resources.iter().enumerate() {
            out.extend(check(index, r));
        }
    } else {
        use rayon::prelude::*;
        let per_object: Vec<Vec<Finding>> = resources
            .par_iter()
            .enumerate()
            .with_max_len(64)
            .map(|(index, r)| check(index, r))
            .collect();
        out.extend(per_object.into_iter().flatten());
    }
}

/// The pod-bearing resources of a set.
/// Read on all cores for a large set, in set order either way.
pub fn workloads(resources: &[Resource]) -> Vec<Workload<'_>> {
    fn workload((index, r): (usize, &Resource)) -> Option<Workload<'_>> {
        let path = workloads::pod_spec_path(r)?;
        let pod = workloads::pod_spec(r)?;
        let mut w = Workload {
            index,
            r,
            base: workloads::pointer(path),
            pod,
            ports: Vec::new(),
        };
        w.ports = w.compute_host_ports();
        Some(w)
    }
    if resources.len() < crate::parallel::PARALLEL_MIN {
        resources.iter().enumerate().filter_map(workload).collect()
    } else {
        use rayon::prelude::*;
        resources
            .par_iter()
            .enumerate()
            .filter_map(workload)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_documented() {
        let rules = all();
        let codes: Vec<&str> = rules.iter().map(|r| r.doc.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted, "rule codes must be unique and in order");
        for r in &rules {
            let d = &r.doc;
            assert!(
                !d.name.is_empty() && d.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                d.code
            );
            for (what, text) in [
                ("summary", d.summary),
                ("why", d.why),
                ("example", d.example),
                ("fix", d.fix),
            ] {
                assert!(text.len() > 10, "{} has no {what}", d.code);
            }
        }
    }
}
