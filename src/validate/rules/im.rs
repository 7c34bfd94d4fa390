//! IM: images and placeholders.

use serde_json::Value;

use crate::hostnet::substitution::placeholders;
use crate::kustomize::builtins::images::split;
use crate::model::Resource;
use crate::model::pointer::{self, Seg};
use crate::validate::{Finding, Input, Rule, RuleDoc, Severity};

pub const IM001: Rule = Rule {
    doc: RuleDoc {
        code: "IM001",
        name: "unresolved-placeholder",
        severity: Severity::Error,
        summary: "unresolved placeholder (`<NAME>`, `${NAME}` or `__PILLAR__NAME__`) in a string",
        why: "A placeholder left in an image (`registry-<REGION_ID>-vpc...`) is a broken reference that \
              fails only at pull time on the node; elsewhere it is a wrong value applied silently. \
              `<NAME>` (upper case with an underscore) and the upstream DNS manifests' \
              `__PILLAR__DNS__SERVER__` form are flagged anywhere; `${NAME}` in images, \
              metadata and single-token values, not in scripts or templates carried as text, which \
              use it on purpose.",
        example: "image: registry-<REGION_ID>-vpc.ack.aliyuncs.com/acs/node-exporter:v0.17.0-slim",
        fix: "Add a Substitution with the variable (or pass `--set NAME=VALUE`); write `$${NAME}` for a literal `${NAME}`.",
    },
    // Nothing to read in the set as a whole.
    check: |_, _, _| {},
    each: Some(im001),
};

/// Is a `${NAME}` in this string more likely a placeholder left by mistake than a runtime
/// variable? Shell scripts, Grafana dashboards and config files carried in strings use
/// `${...}` on purpose; those are multi-word or multi-line. A single token (an image, a host
/// name, `registry-${REGION_ID}-vpc`), or a field of `metadata`, is flagged.
fn flags_dollar_form(s: &str, path: &str) -> bool {
    path.starts_with("/metadata/")
        || path.ends_with("/image")
        || !s.trim().contains(char::is_whitespace)
}

/// Finds the placeholders in the strings below `v`, with their pointers. The path is kept as
/// steps; a pointer is written only for a string with a placeholder.
fn walk<'v>(v: &'v Value, path: &mut Vec<Seg<'v>>, found: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            let all = placeholders(s);
            if all.is_empty() {
                return;
            }
            let pointer = pointer::of_segs(path);
            let mut seen: Vec<String> = Vec::new();
            for p in all {
                if (p.starts_with('<') || p.starts_with("__") || flags_dollar_form(s, &pointer))
                    && !seen.contains(&p)
                {
                    seen.push(p.clone());
                    found.push((pointer.clone(), p));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, found);
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                path.push(Seg::Key(k));
                walk(item, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Every string of the object is read.
fn im001(index: usize, r: &Resource, out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    let mut path = Vec::new();
    for (k, v) in r.obj() {
        path.push(Seg::Key(k));
        walk(v, &mut path, &mut found);
        path.pop();
    }
    out.extend(
        found
            .into_iter()
            .filter(|(p, _)| !r.literals.contains(p))
            .map(|(path, placeholder)| Finding {
                code: "IM001",
                severity: None,
                message: format!("{placeholder} is not substituted in {}", r.id()),
                resource: index,
                path,
                other: None,
                fix: None,
                at_key: false,
            }),
    );
}

pub const IM002: Rule = Rule {
    doc: RuleDoc {
        code: "IM002",
        name: "image-without-version",
        severity: Severity::Warning,
        summary: "image without a tag or digest, or tagged `latest`",
        why: "A moving tag makes every node pull whatever is newest: two nodes can run different code, \
              and a rollback rolls back nothing.",
        example: "image: nginx            # or nginx:latest",
        fix: "Pin a version tag, or better a digest (`@sha256:...`).",
    },
    check: im002,
    each: None,
};

fn im002(input: &Input<'_>, out: &mut Vec<Finding>, _: &mut Vec<String>) {
    for w in input.workloads.iter() {
        for (cpath, c) in w.containers() {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            let (_, tag, digest) = split(image);
            if digest.is_empty() && (tag.is_empty() || tag == "latest") {
                out.push(Finding {
                    code: "IM002",
                    severity: None,
                    message: format!("image {image} of {} has no version", w.r.id()),
                    resource: w.index,
                    path: format!("{cpath}/image"),
                    other: None,
                    fix: None,
                    at_key: false,
                });
            }
        }
    }
}
