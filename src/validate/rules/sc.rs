//! SC: security of host access.

use serde_json::Value;

use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

/// The annotation that records why a workload needs host access.
pub const REASON_ANNOTATION: &str = "strata.dev/host-access-reason";

pub const SC001: Rule = Rule {
    doc: RuleDoc {
        code: "SC001",
        name: "host-access-without-reason",
        severity: Severity::Warning,
        summary: "hostNetwork with `privileged: true` or `hostPID`, without a reason annotation",
        why: "A compromised host-network pod reaches every network service of its node; with privileged \
              containers or the host's process namespace it owns the node. Such access should be deliberate \
              and reviewed.",
        example: "hostNetwork: true\nhostPID: true   # and no strata.dev/host-access-reason annotation",
        fix: "Drop the access if it is not needed, or record why with the annotation \
              `strata.dev/host-access-reason: \"...\"` on the workload.",
    },
    check: sc001,
    each: None,
};

fn sc001(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter().filter(|w| w.host_network()) {
        if w.r
            .annotations()
            .iter()
            .any(|(k, v)| *k == REASON_ANNOTATION && !v.trim().is_empty())
        {
            continue;
        }
        if w.pod.get("hostPID") == Some(&Value::Bool(true)) {
            out.push(Finding {
                code: "SC001",
                severity: None,
                message: format!(
                    "{} uses the host's network and process namespaces without a recorded reason",
                    w.r.id()
                ),
                resource: w.index,
                path: format!("{}/hostPID", w.base),
                other: None,
                fix: None,
                at_key: false,
            });
        }
        for (cpath, c) in w.containers() {
            if c.get("securityContext").and_then(|s| s.get("privileged"))
                == Some(&Value::Bool(true))
            {
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
