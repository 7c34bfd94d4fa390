//! `HostNetwork`: puts the targeted workloads on the host network, the way that works:
//! `hostNetwork: true`; `dnsPolicy: ClusterFirstWithHostNet` so cluster names still resolve
//! (an explicit `Default` or `None` is kept, and noted); optionally `hostPID`; `hostPort` equal
//! to `containerPort` on every declared port, so the scheduler keeps two such pods apart; and
//! a rollout that can finish (no surge pod that could never bind its ports).

use serde_json::{Value, json};

use super::kinds::{HostNetworkSpec, targets};
use crate::error::{Error, Result};
use crate::hostnet::workloads;
use crate::kustomize::listed::Configured;
use crate::model::{Resource, ResourceSet};

pub fn apply(t: &Configured, spec: &HostNetworkSpec, set: &mut ResourceSet) -> Result<()> {
    if !matches!(
        spec.dns_policy.as_str(),
        "ClusterFirstWithHostNet" | "Default"
    ) {
        let why = match spec.dns_policy.as_str() {
            "None" => {
                "`None` needs a dnsConfig with a nameserver, which HostNetwork does not write; set it on the workload itself"
            }
            "ClusterFirst" => {
                "under hostNetwork `ClusterFirst` silently behaves as `Default` (the node's resolver); say `Default` if that is meant"
            }
            _ => "it is not a dnsPolicy",
        };
        return Err(t.error_at(
            &["spec", "dnsPolicy"],
            format!(
                "dnsPolicy `{}` cannot be set by HostNetwork: {why}",
                spec.dns_policy
            ),
        )
        .help("use ClusterFirstWithHostNet (cluster DNS, the default) or Default (the node's resolver)"));
    }
    if !matches!(spec.rollout.as_str(), "safe" | "keep") {
        return Err(t.error_at(
            &["spec", "rollout"],
            format!("rollout `{}` is not `safe` or `keep`", spec.rollout),
        ));
    }
    let targets = targets(t, &spec.targets)?;
    for i in targets.select_pod_bearing(set, t)? {
        apply_one(t, spec, &mut set[i])?;
    }
    Ok(())
}

fn apply_one(t: &Configured, spec: &HostNetworkSpec, r: &mut Resource) -> Result<()> {
    let base = workloads::pointer(workloads::pod_spec_path(r).expect("checked"));
    let id = r.id();
    let origin = r.origin.clone();
    let actor = t.actor.clone();
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    {
        let pod = workloads::pod_spec_mut(r).ok_or_else(|| {
            Error::new(format!("the pod spec of {id} is not a mapping")).in_file(&t.display)
        })?;
        if pod.get("hostNetwork") != Some(&json!(true)) {
            pod.insert("hostNetwork".into(), json!(true));
            changes.push((format!("{base}/hostNetwork"), None));
        }
        match pod.get("dnsPolicy").and_then(Value::as_str) {
            Some(p @ ("Default" | "None")) if p != spec.dns_policy => {
                changes.push((
                    format!("{base}/dnsPolicy"),
                    Some(format!(
                        "explicit dnsPolicy {p} kept: the pod uses {}, not cluster DNS",
                        if p == "Default" {
                            "the node's DNS"
                        } else {
                            "the nameservers of its dnsConfig"
                        }
                    )),
                ));
            }
            Some(p) if p == spec.dns_policy => {}
            _ => {
                pod.insert("dnsPolicy".into(), json!(spec.dns_policy));
                changes.push((format!("{base}/dnsPolicy"), None));
            }
        }
        if let Some(pid) = spec.host_pid
            && pod.get("hostPID") != Some(&json!(pid))
        {
            pod.insert("hostPID".into(), json!(pid));
            changes.push((format!("{base}/hostPID"), None));
        }
        // A mismatching explicit hostPort is checked even with `hostPorts: false`: the API
        // server rejects it under hostNetwork either way.
        for (list, ci, c) in workloads::containers_mut(pod) {
            let cname = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let Some(Value::Array(ports)) = c.get_mut("ports") else {
                continue;
            };
            for (pi, port) in ports.iter_mut().enumerate() {
                let Some(port) = port.as_object_mut() else {
                    continue;
                };
                let Some(cp) = port.get("containerPort").and_then(Value::as_i64) else {
                    continue;
                };
                match port.get("hostPort").and_then(Value::as_i64) {
                    Some(hp) if hp == cp => {}
                    Some(hp) if hp != 0 => {
                        return Err(t
                            .error_at(&["spec", "hostPorts"], format!(
                                "container {cname} of {id} declares hostPort {hp} for containerPort {cp}; \
                                 under hostNetwork the API server requires them to be equal"
                            ))
                            .context(format!("at {base}/{list}/{ci}/ports/{pi} of {id} (from {origin})"))
                            .help(
                                "under hostNetwork the process binds the node's port itself: set containerPort to the port \
                                 it listens on and hostPort to the same value, or remove hostPort",
                            ));
                    }
                    _ if spec.host_ports => {
                        port.insert("hostPort".into(), json!(cp));
                        changes.push((format!("{base}/{list}/{ci}/ports/{pi}/hostPort"), None));
                    }
                    _ => {}
                }
            }
        }
    }
    if spec.rollout == "safe" {
        safe_rollout(r, &mut changes);
    }
    for (path, note) in changes {
        match note {
            None => r.changed(path, &actor),
            Some(n) => r.note(path, &actor, n),
        }
    }
    Ok(())
}

/// A rollout that can finish with host ports: no surge (the new pod could not bind beside the
/// old one on its node), and at least one pod may be unavailable so the rollout progresses.
fn safe_rollout(r: &mut Resource, changes: &mut Vec<(String, Option<String>)>) {
    let (field, kind) = match r.kind() {
        "DaemonSet" => ("updateStrategy", "DaemonSet"),
        "Deployment" => ("strategy", "Deployment"),
        _ => return,
    };
    let spec = r.field_entry("spec").or_insert_with(|| json!({}));
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    let strategy = spec.entry(field).or_insert_with(|| json!({}));
    let Some(strategy) = strategy.as_object_mut() else {
        return;
    };
    match strategy.get("type").and_then(Value::as_str) {
        Some("OnDelete") | Some("Recreate") => return,
        Some(_) => {}
        None => {
            strategy.insert("type".into(), json!("RollingUpdate"));
            changes.push((format!("/spec/{field}/type"), None));
        }
    }
    let ru = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
    let Some(ru) = ru.as_object_mut() else { return };
    let zero = |v: Option<&Value>| match v {
        None => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.trim_end_matches('%').trim() == "0",
        _ => false,
    };
    if !zero(ru.get("maxSurge")) || (kind == "Deployment" && ru.get("maxSurge").is_none()) {
        ru.insert("maxSurge".into(), json!(0));
        changes.push((format!("/spec/{field}/rollingUpdate/maxSurge"), None));
    }
    if zero(ru.get("maxUnavailable")) {
        ru.insert("maxUnavailable".into(), json!(1));
        changes.push((format!("/spec/{field}/rollingUpdate/maxUnavailable"), None));
    }
}
