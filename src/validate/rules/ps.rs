//! PS: Pod Security Admission.

use serde_json::Value;

use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const PS001: Rule = Rule {
    doc: RuleDoc {
        code: "PS001",
        name: "pod-security-forbids-host-access",
        severity: Severity::Error,
        summary: "host-network, hostPID, hostIPC or hostPort pod in a namespace whose Pod Security level forbids it",
        why: "Pod Security `baseline` and `restricted` forbid host namespaces and host ports. `enforce` \
              applies to Pods only: the Deployment is accepted and its ReplicaSet then cannot create pods, \
              so a GitOps sync looks green while nothing runs.",
        example: "a DaemonSet with hostNetwork in a namespace labelled pod-security.kubernetes.io/enforce: baseline",
        fix: "Label the namespace `pod-security.kubernetes.io/enforce: privileged` (only where host access is needed), \
              or move the workload to such a namespace.",
    },
    check: ps001,
    each: None,
};

fn ps001(input: &Input<'_>, out: &mut Vec<Finding>, assumed: &mut Vec<String>) {
    for w in input.workloads.iter() {
        let host = [
            ("hostNetwork", "host network"),
            ("hostPID", "host PID namespace"),
            ("hostIPC", "host IPC namespace"),
        ]
        .into_iter()
        .find(|(f, _)| w.pod.get(*f) == Some(&Value::Bool(true)))
        .map(|(f, what)| (format!("{}/{f}", w.base), what.to_string()))
        .or_else(|| {
            w.host_ports()
                .first()
                .map(|hp| (hp.path.clone(), format!("host port {}", hp.port)))
        });
        let Some((path, what)) = host else { continue };
        let ns = if w.r.namespace().is_empty() {
            "default"
        } else {
            w.r.namespace()
        };
        let from_set = input.namespaces.get(ns).map(|r| {
            r.labels()
                .into_iter()
                .find(|(k, _)| *k == "pod-security.kubernetes.io/enforce")
                .map(|(_, v)| v.to_string())
        });
        let (level, source) = match from_set {
            Some(Some(level)) => (Some(level), format!("the Namespace {ns} in this render")),
            // A Namespace without an enforce label gets the cluster's default level (the API
            // server's admission configuration), `privileged` unless configured otherwise.
            Some(None) => match &input.profile.spec.pod_security.default {
                Some(l) => (
                    Some(l.clone()),
                    format!(
                        "the ClusterProfile's podSecurity default: the Namespace {ns} in this render has no enforce label"
                    ),
                ),
                // Kubernetes' own default; said, since a cluster's admission configuration
                // (or a managed offering) may set another.
                None => {
                    assumed.push(format!(
                        "the Namespace {ns} in the render has no pod-security.kubernetes.io/enforce label: \
                         its level is the cluster's default, assumed privileged (Kubernetes' default); \
                         give the ClusterProfile's podSecurity.default if the cluster sets another"
                    ));
                    (Some("privileged".to_string()), String::new())
                }
            },
            None => match input.profile.spec.pod_security.namespaces.get(ns) {
                Some(l) => (
                    Some(l.clone()),
                    format!("the ClusterProfile's podSecurity for {ns}"),
                ),
                None => match &input.profile.spec.pod_security.default {
                    Some(l) => (
                        Some(l.clone()),
                        "the ClusterProfile's podSecurity default".to_string(),
                    ),
                    None => (None, String::new()),
                },
            },
        };
        match level.as_deref() {
            Some("privileged") => {}
            Some(level) => out.push(Finding {
                code: "PS001",
                severity: None,
                message: format!("{} uses the {what} in namespace {ns}, whose Pod Security level is {level} (from {source}): its pods will be rejected", w.r.id()),
                resource: w.index,
                path,
                other: None,
                fix: None,
                at_key: false,
            }),
            None => {
                assumed.push("Pod Security level unknown for namespaces not in the render: give the ClusterProfile's podSecurity".into());
                out.push(Finding {
                    code: "PS001",
                    severity: Some(Severity::Warning),
                    message: format!("{} uses the {what} in namespace {ns}, whose Pod Security level is unknown", w.r.id()),
                    resource: w.index,
                    path,
                    other: None,
                    fix: Some(format!("add the Namespace {ns} with pod-security.kubernetes.io/enforce: privileged to the render, or give its level in the ClusterProfile")),
                    at_key: false,
                });
            }
        }
    }
}
