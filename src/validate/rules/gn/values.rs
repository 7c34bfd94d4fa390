//! GN003's value checks: fields the API server validates as a closed set of values
//! (`Unsupported value: "ClusterFirstWithHostnet": supported values: ...`) and names it
//! validates as DNS labels or IANA service names (`must be no more than 15 characters`).
//! The typed schema (GN001) reads all of them as plain strings.

use serde_json::Value;

use super::super::Workload;
use crate::model::Resource;
use crate::model::pointer::push_key;

const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

/// A field with a closed set of values. `defaulted`: the field is a plain string that the
/// API server defaults when empty, so `""` is accepted like an absent field (Helm charts
/// write `imagePullPolicy: ""`); an optional (pointer) field keeps `""` as a value, refused.
struct Closed {
    path: &'static str,
    values: &'static [&'static str],
    defaulted: bool,
}

const fn closed(path: &'static str, values: &'static [&'static str], defaulted: bool) -> Closed {
    Closed {
        path,
        values,
        defaulted,
    }
}

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];

/// Pod fields with a closed set of values, relative to the pod spec.
const POD: &[Closed] = &[
    closed(
        "dnsPolicy",
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        true,
    ),
    closed("restartPolicy", RESTART_POLICIES, true),
    closed(
        "preemptionPolicy",
        &["PreemptLowerPriority", "Never"],
        false,
    ),
];

/// Container fields with a closed set of values, relative to the container.
const CONTAINER: &[Closed] = &[
    closed(
        "imagePullPolicy",
        &["Always", "IfNotPresent", "Never"],
        true,
    ),
    closed(
        "terminationMessagePolicy",
        &["File", "FallbackToLogsOnError"],
        true,
    ),
    closed("ports/*/protocol", PROTOCOLS, true),
];

/// Fields of other kinds with a closed set of values: (the groups of the kind, the kind,
/// the field); `*` in a path is every item of a list.
const OBJECT: &[(&[&str], &str, Closed)] = &[
    (
        &["apps", "extensions"],
        "Deployment",
        closed("spec/strategy/type", &["Recreate", "RollingUpdate"], true),
    ),
    (
        &["apps", "extensions"],
        "DaemonSet",
        closed(
            "spec/updateStrategy/type",
            &["RollingUpdate", "OnDelete"],
            true,
        ),
    ),
    (
        &["apps"],
        "StatefulSet",
        closed(
            "spec/updateStrategy/type",
            &["RollingUpdate", "OnDelete"],
            true,
        ),
    ),
    (
        &["apps"],
        "StatefulSet",
        closed(
            "spec/podManagementPolicy",
            &["OrderedReady", "Parallel"],
            true,
        ),
    ),
    (
        &[""],
        "Service",
        closed(
            "spec/type",
            &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
            true,
        ),
    ),
    (
        &[""],
        "Service",
        closed("spec/externalTrafficPolicy", &["Cluster", "Local"], true),
    ),
    (
        &[""],
        "Service",
        closed("spec/internalTrafficPolicy", &["Cluster", "Local"], false),
    ),
    (
        &[""],
        "Service",
        closed("spec/sessionAffinity", &["None", "ClientIP"], true),
    ),
    (
        &[""],
        "Service",
        closed(
            "spec/ipFamilyPolicy",
            &["SingleStack", "PreferDualStack", "RequireDualStack"],
            false,
        ),
    ),
    (
        &[""],
        "Service",
        closed("spec/ipFamilies/*", &["IPv4", "IPv6"], false),
    ),
    (
        &[""],
        "Service",
        closed("spec/ports/*/protocol", PROTOCOLS, true),
    ),
    (
        &["networking.k8s.io", "extensions"],
        "NetworkPolicy",
        closed("spec/policyTypes/*", &["Ingress", "Egress"], false),
    ),
    (
        &["networking.k8s.io", "extensions"],
        "NetworkPolicy",
        closed("spec/ingress/*/ports/*/protocol", PROTOCOLS, false),
    ),
    (
        &["networking.k8s.io", "extensions"],
        "NetworkPolicy",
        closed("spec/egress/*/ports/*/protocol", PROTOCOLS, false),
    ),
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

/// The values of `field` under `v` (below the pointer `at`) that are not among its values: a
/// finding's pointer and message each.
fn check(field: &Closed, v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    let mut found = Vec::new();
    at_path(v, field.path, at.to_string(), &mut found);
    let name = field
        .path
        .rsplit('/')
        .find(|s| *s != "*")
        .unwrap_or(field.path);
    for (ptr, value) in found {
        unsupported(name, field, ptr, value, out);
    }
}

/// A finding's pointer and message for a string at `ptr` not among the field's values.
fn unsupported(
    name: &str,
    field: &Closed,
    ptr: String,
    v: &Value,
    out: &mut Vec<(String, String)>,
) {
    let Some(s) = v.as_str() else {
        return; // a wrong type is GN001's
    };
    if field.values.contains(&s) || (s.is_empty() && field.defaulted) {
        return;
    }
    let hint = field
        .values
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .map(|a| format!(" (did you mean `{a}`?)"))
        .unwrap_or_default();
    out.push((
        ptr,
        format!(
            "{name} `{s}` is not one of {}{hint}",
            field.values.join(", ")
        ),
    ));
}

/// The pod's and its containers' fields with a closed set of values, its container names
/// (DNS labels) and container port names (IANA service names); for apps workloads and Jobs,
/// the restart policy their controller allows.
pub fn pod(w: &Workload<'_>, out: &mut Vec<(String, String)>) {
    let pod = Value::Object(w.pod.clone());
    for field in POD {
        check(field, &pod, &w.base, out);
    }
    // The controllers restart pods their own way: apps workloads only with `Always`, Jobs
    // only with `OnFailure` or `Never` (`Unsupported value: "Never": supported values:
    // "Always"`). Unset or empty, the policy is defaulted to `Always`, which a Job refuses
    // (`restartPolicy: Required value`).
    let (group, _, kind) = w.r.gvk();
    let only: Option<&[&str]> = match (group, kind) {
        ("apps" | "extensions", "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet") => {
            Some(&["Always"])
        }
        ("", "ReplicationController") => Some(&["Always"]),
        ("batch", "Job" | "CronJob") => Some(&["OnFailure", "Never"]),
        _ => None,
    };
    let policy = w.pod.get("restartPolicy");
    let effective = match policy {
        None | Some(Value::Null) => Some(""),
        Some(v) => v.as_str(),
    };
    if let (Some(only), Some(effective)) = (only, effective)
        && (effective.is_empty() || RESTART_POLICIES.contains(&effective))
        && !only.contains(&if effective.is_empty() {
            "Always"
        } else {
            effective
        })
    {
        let said = if effective.is_empty() {
            "unset (so `Always`)".to_string()
        } else {
            format!("`{effective}`")
        };
        out.push((
            if policy.is_some() {
                format!("{}/restartPolicy", w.base)
            } else {
                w.base.clone()
            },
            format!(
                "restartPolicy {said} is not allowed in a {kind}'s pods, only {}",
                only.join(" or ")
            ),
        ));
    }
    for (cpath, c) in w.containers() {
        // The API server refuses `ports` on an ephemeral container altogether; its names
        // would say nothing more.
        let ephemeral = cpath.contains("/ephemeralContainers/");
        let c_value = Value::Object(c.clone());
        for field in CONTAINER {
            check(field, &c_value, &cpath, out);
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
            // An empty name is no name (the API server checks only a given one).
            if let Some(name) = p.get("name").and_then(Value::as_str)
                && !name.is_empty()
                && !ephemeral
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

/// The fields of `r` outside pod specs with a closed set of values (of the built-in kinds
/// only: a custom resource may have a `Service` kind of its own).
pub fn object(r: &Resource, out: &mut Vec<(String, String)>) {
    let (group, _, kind) = r.gvk();
    let v = Value::Object(r.obj().clone());
    for (groups, k, field) in OBJECT {
        if *k == kind && groups.contains(&group) {
            check(field, &v, "", out);
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
    fn empty_values_the_api_server_defaults() {
        let v = serde_json::json!({"a": "", "b": ""});
        let mut out = Vec::new();
        check(&closed("a", PROTOCOLS, true), &v, "", &mut out);
        assert!(out.is_empty(), "{out:?}");
        check(&closed("b", PROTOCOLS, false), &v, "", &mut out);
        assert_eq!(out[0].0, "/b");
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
        check(
            &closed("spec/ports/*/protocol", PROTOCOLS, true),
            &v,
            "",
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            out[0].1,
            "protocol `tcp` is not one of TCP, UDP, SCTP (did you mean `TCP`?)"
        );
    }
}
