//! GN003's value checks: fields the API server validates as a closed set of values
//! (`Unsupported value: "ClusterFirstWithHostnet": supported values: ...`) and names it
//! validates as DNS labels or IANA service names (`must be no more than 15 characters`).
//! The typed schema (GN001) reads all of them as plain strings.

use serde_json::Value;

use super::super::Workload;
use crate::model::Resource;
use crate::model::pointer::push_key;

const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

/// Pod fields with a closed set of values, relative to the pod spec.
const POD: &[(&str, &[&str])] = &[
    (
        "dnsPolicy",
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
    ),
    ("restartPolicy", &["Always", "OnFailure", "Never"]),
    ("preemptionPolicy", &["PreemptLowerPriority", "Never"]),
];

/// Container fields with a closed set of values, relative to the container.
const CONTAINER: &[(&str, &[&str])] = &[
    ("imagePullPolicy", &["Always", "IfNotPresent", "Never"]),
    (
        "terminationMessagePolicy",
        &["File", "FallbackToLogsOnError"],
    ),
    ("ports/*/protocol", PROTOCOLS),
];

/// Fields of other kinds with a closed set of values: (kind, path, values); `*` is every
/// item of a list.
const OBJECT: &[(&str, &str, &[&str])] = &[
    (
        "Deployment",
        "spec/strategy/type",
        &["Recreate", "RollingUpdate"],
    ),
    (
        "DaemonSet",
        "spec/updateStrategy/type",
        &["RollingUpdate", "OnDelete"],
    ),
    (
        "StatefulSet",
        "spec/updateStrategy/type",
        &["RollingUpdate", "OnDelete"],
    ),
    (
        "StatefulSet",
        "spec/podManagementPolicy",
        &["OrderedReady", "Parallel"],
    ),
    (
        "Service",
        "spec/type",
        &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
    ),
    (
        "Service",
        "spec/externalTrafficPolicy",
        &["Cluster", "Local"],
    ),
    (
        "Service",
        "spec/internalTrafficPolicy",
        &["Cluster", "Local"],
    ),
    ("Service", "spec/sessionAffinity", &["None", "ClientIP"]),
    (
        "Service",
        "spec/ipFamilyPolicy",
        &["SingleStack", "PreferDualStack", "RequireDualStack"],
    ),
    ("Service", "spec/ipFamilies/*", &["IPv4", "IPv6"]),
    ("Service", "spec/ports/*/protocol", PROTOCOLS),
    (
        "NetworkPolicy",
        "spec/policyTypes/*",
        &["Ingress", "Egress"],
    ),
    (
        "NetworkPolicy",
        "spec/ingress/*/ports/*/protocol",
        PROTOCOLS,
    ),
    ("NetworkPolicy", "spec/egress/*/ports/*/protocol", PROTOCOLS),
];

/// The values at `path` under `v` (`*` for every item of a list), with their JSON pointers
/// below `at`.
fn at_path<'v>(v: &'v Value, path: &str, at: String, out: &mut Vec<(String, &'v Value)>) {
    let (head, rest) = match path.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let mut visit = |child: &'v Value, ptr: String| match rest {
        Some(rest) => at_path(child, rest, ptr, out),
        None => out.push((ptr, child)),
    };
    if head == "*" {
        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
            visit(item, format!("{at}/{i}"));
        }
    } else if let Some(child) = v.get(head) {
        let mut ptr = at;
        push_key(&mut ptr, head);
        visit(child, ptr);
    }
}

/// A finding's pointer and message for a string at `ptr` not among `allowed`.
fn unsupported(
    field: &str,
    ptr: String,
    v: &Value,
    allowed: &[&str],
    out: &mut Vec<(String, String)>,
) {
    let Some(s) = v.as_str() else {
        return; // a wrong type is GN001's
    };
    if allowed.contains(&s) {
        return;
    }
    let hint = allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .map(|a| format!(" (did you mean `{a}`?)"))
        .unwrap_or_default();
    out.push((
        ptr,
        format!("{field} `{s}` is not one of {}{hint}", allowed.join(", ")),
    ));
}

/// The pod's and its containers' fields with a closed set of values, its container names
/// (DNS labels) and container port names (IANA service names); for apps workloads and Jobs,
/// the restart policy their controller allows.
pub fn pod(w: &Workload<'_>, out: &mut Vec<(String, String)>) {
    let pod = Value::Object(w.pod.clone());
    for (path, allowed) in POD {
        let mut found = Vec::new();
        at_path(&pod, path, w.base.clone(), &mut found);
        for (ptr, v) in found {
            unsupported(path, ptr, v, allowed, out);
        }
    }
    // The controllers restart pods their own way: apps workloads only with `Always`, Jobs
    // only with `OnFailure` or `Never` (`Unsupported value: "Never": supported values:
    // "Always"`).
    let (group, _, kind) = w.r.gvk();
    let only: Option<&[&str]> = match (group, kind) {
        ("apps" | "extensions", "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet") => {
            Some(&["Always"])
        }
        ("", "ReplicationController") => Some(&["Always"]),
        ("batch", "Job" | "CronJob") => Some(&["OnFailure", "Never"]),
        _ => None,
    };
    if let (Some(only), Some(policy)) = (only, w.pod.get("restartPolicy").and_then(Value::as_str))
        && POD[1].1.contains(&policy)
        && !only.contains(&policy)
    {
        out.push((
            format!("{}/restartPolicy", w.base),
            format!(
                "restartPolicy `{policy}` is not allowed in a {kind}'s pods, only {}",
                only.join(" or ")
            ),
        ));
    }
    for (cpath, c) in w.containers() {
        let c_value = Value::Object(c.clone());
        for (path, allowed) in CONTAINER {
            let mut found = Vec::new();
            at_path(&c_value, path, cpath.clone(), &mut found);
            for (ptr, v) in found {
                let field = path.rsplit('/').next().unwrap_or(path);
                unsupported(field, ptr, v, allowed, out);
            }
        }
        if let Some(name) = c.get("name").and_then(Value::as_str)
            && !name.is_empty()
            && let Err(why) = dns_label(name)
        {
            out.push((
                format!("{cpath}/name"),
                format!("container name `{name}` is not a DNS label: {why}"),
            ));
        }
        for (i, p) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(name) = p.get("name").and_then(Value::as_str)
                && let Err(why) = iana_service_name(name)
            {
                out.push((
                    format!("{cpath}/ports/{i}/name"),
                    format!("port name `{name}` is not an IANA service name: {why}"),
                ));
            }
        }
    }
}

/// The fields of `r` outside pod specs with a closed set of values.
pub fn object(r: &Resource, out: &mut Vec<(String, String)>) {
    let kind = r.kind();
    let v = Value::Object(r.obj().clone());
    for (k, path, allowed) in OBJECT {
        if *k != kind {
            continue;
        }
        let mut found = Vec::new();
        at_path(&v, path, String::new(), &mut found);
        for (ptr, value) in found {
            let field = path.rsplit('/').find(|s| *s != "*").unwrap_or(path);
            unsupported(field, ptr, value, allowed, out);
        }
    }
}

/// A DNS-1123 label (RFC 1123), as the API server checks container names.
fn dns_label(s: &str) -> Result<(), &'static str> {
    if s.len() > 63 {
        return Err("at most 63 characters");
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !s.chars().all(|c| ok(c) || c == '-') {
        return Err("lower-case letters, digits and `-` only");
    }
    if !s.starts_with(ok) || !s.ends_with(ok) {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

/// An IANA service name (RFC 6335), as the API server checks container port names.
fn iana_service_name(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > 15 {
        return Err("1 to 15 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("lower-case letters, digits and `-` only");
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        return Err("at least one letter");
    }
    if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
        return Err("no `-` at either end and no `--`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns_label("node-exporter").is_ok());
        assert!(dns_label("Node").is_err() && dns_label("-a").is_err());
        assert!(dns_label(&"a".repeat(64)).is_err());
        assert!(iana_service_name("metrics").is_ok() && iana_service_name("http-2").is_ok());
        assert!(iana_service_name("prometheus-metrics").is_err()); // 18 characters
        assert!(iana_service_name("8080").is_err() && iana_service_name("a--b").is_err());
        assert!(iana_service_name("HTTP").is_err());
    }

    #[test]
    fn paths_with_every_item() {
        let v =
            serde_json::json!({"spec": {"ports": [{"protocol": "tcp"}, {"protocol": "UDP"}, {}]}});
        let mut found = Vec::new();
        at_path(&v, "spec/ports/*/protocol", String::new(), &mut found);
        let ptrs: Vec<_> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(ptrs, ["/spec/ports/0/protocol", "/spec/ports/1/protocol"]);
        let mut out = Vec::new();
        unsupported(
            "protocol",
            found[0].0.clone(),
            found[0].1,
            PROTOCOLS,
            &mut out,
        );
        assert_eq!(
            out[0].1,
            "protocol `tcp` is not one of TCP, UDP, SCTP (did you mean `TCP`?)"
        );
    }
}
