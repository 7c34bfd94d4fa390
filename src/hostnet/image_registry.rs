//! `ImageRegistry`: moves container images to another registry by rules. Each rule's `match`
//! is a glob (globset) on the image name normalised as container runtimes do (`nginx` is
//! `docker.io/library/nginx`, `prom/x` is `docker.io/prom/x`), without tag or digest; the
//! first rule that matches wins, and its `registry` replaces the literal directory prefix of
//! the glob (`docker.io/library/*` -> `docker.io/library`). Tag and digest are kept exactly.
//! Images no rule matches, or already under a rule's `registry`, are left as written.
//!
//! It reaches every image field kustomize's `images` reaches: the `image` of every container
//! list anywhere in an object (pod specs, templates, custom kinds embedding them), and the
//! fields of the `images` field specs, kustomize's and those the tree's `configurations:`
//! add (a Prometheus `spec.image`).

use globset::{Glob, GlobMatcher};
use serde_json::Value;

use super::kinds::ImageRegistrySpec;
use crate::error::Result;
use crate::hostnet::workloads;
use crate::kustomize::builtins::images::split;
use crate::kustomize::fieldspec::{self, OwnedFieldSpec};
use crate::kustomize::listed::Configured;
use crate::model::ResourceSet;
use crate::model::pointer::{push_index, push_key};

/// An image reference split and normalised: (registry/path name, tag, digest).
pub fn normalise(image: &str) -> (String, &str, &str) {
    let (name, tag, digest) = split(image);
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        // Docker Hub by its host name: `docker.io/nginx` and `index.docker.io/nginx` are
        // `docker.io/library/nginx` to a container runtime.
        match name
            .strip_prefix("docker.io/")
            .or_else(|| name.strip_prefix("index.docker.io/"))
        {
            Some(path) if !path.contains('/') => format!("docker.io/library/{path}"),
            Some(path) => format!("docker.io/{path}"),
            None => name.to_string(),
        }
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    (full, tag, digest)
}

struct Rule {
    matcher: GlobMatcher,
    prefix: String,
    registry: String,
}

/// What a rule set did to the images of a render, for `--explain`.
#[derive(Debug, Default)]
pub struct Report {
    pub unmatched: Vec<String>,
}

pub fn apply(
    t: &Configured,
    spec: &ImageRegistrySpec,
    set: &mut ResourceSet,
    images: &[OwnedFieldSpec],
    report: &mut Report,
) -> Result<()> {
    if spec.rules.is_empty() {
        return Err(t.error_at(&["spec", "rules"], "`rules` is empty"));
    }
    let mut rules = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let idx = i.to_string();
        let glob = Glob::new(&rule.pattern).map_err(|e| {
            t.error_at(
                &["spec", "rules", &idx, "match"],
                format!("`{}` is not a valid glob: {e}", rule.pattern),
            )
        })?;
        if rule.registry.trim().is_empty() || rule.registry.ends_with('/') {
            return Err(t.error_at(
                &["spec", "rules", &idx, "registry"],
                "`registry` must be a registry host with an optional path, without a trailing `/`",
            ));
        }
        let host = rule.registry.split('/').next().unwrap_or("");
        // A placeholder (`<REGISTRY>`) is checked only after Substitution, by the runtime.
        let placeholder = rule.registry.contains('<') || rule.registry.contains('$');
        let has_host = host.contains('.') || host.contains(':') || host == "localhost";
        if !placeholder && !has_host {
            return Err(t
                .error_at(
                    &["spec", "rules", &idx, "registry"],
                    format!(
                        "`registry: {}` does not start with a registry host: container runtimes would pull `{}/...` from docker.io/{}",
                        rule.registry, rule.registry, rule.registry
                    ),
                )
                .help("start it with the registry's host name (with a `.` or a `:port`, or `localhost`), e.g. `mirror.example.com/library`"));
        }
        let literal_end = rule
            .pattern
            .find(['*', '?', '[', '{'])
            .unwrap_or(rule.pattern.len());
        let prefix = match rule.pattern[..literal_end].rfind('/') {
            Some(slash) => rule.pattern[..slash].to_string(),
            None => String::new(),
        };
        rules.push(Rule {
            matcher: glob.compile_matcher(),
            prefix,
            registry: rule.registry.clone(),
        });
    }
    let actor = t.actor.clone();
    for r in set.iter_mut() {
        // kustomize leaves CRDs alone (their schemas name `image` fields).
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        let specs: Vec<&OwnedFieldSpec> = images.iter().filter(|s| s.applies_to(r)).collect();
        let mut changed = Vec::new();
        let mut move_one = |image: &mut String, pointer: String| {
            if let Some(new) = moved(image, &rules, report)
                && *image != new
            {
                *image = new;
                if !changed.contains(&pointer) {
                    changed.push(pointer);
                }
            }
        };
        r.edit_value(|obj| {
            // Every container list anywhere in the object (pod specs, pod templates, and
            // custom kinds that embed them), as kustomize's image walk finds them.
            let mut pointer = String::new();
            container_images(obj, &mut pointer, &mut move_one);
            // The `images` field specs: kustomize's and the tree's `configurations:` (a
            // Prometheus `spec.image`, say).
            for spec in &specs {
                let _ = fieldspec::visit::<()>(obj, &spec.path, false, &mut |v| {
                    if let Value::String(s) = v {
                        move_one(s, format!("/{}", spec.path.replace("[]", "")));
                    }
                    Ok(())
                });
            }
        });
        for p in changed {
            r.changed(p, &actor);
        }
    }
    Ok(())
}

/// Where the rules move `image`, or `None` (recorded as unmatched when no rule matches).
fn moved(image: &str, rules: &[Rule], report: &mut Report) -> Option<String> {
    let (name, tag, digest) = normalise(image);
    // Already under a rule's registry: moved before (a render of rendered output changes
    // nothing).
    if rules.iter().any(|rule| {
        name.strip_prefix(rule.registry.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }) {
        return None;
    }
    let Some(rule) = rules.iter().find(|rule| rule.matcher.is_match(&name)) else {
        if !report.unmatched.iter().any(|u| u == image) {
            report.unmatched.push(image.to_string());
        }
        return None;
    };
    let rest = if rule.prefix.is_empty() {
        name.as_str()
    } else {
        name.strip_prefix(&rule.prefix)
            .map(|s| s.trim_start_matches('/'))
            .unwrap_or(&name)
    };
    let mut new = format!("{}/{rest}", rule.registry);
    if !tag.is_empty() {
        new.push(':');
        new.push_str(tag);
    }
    if !digest.is_empty() {
        new.push('@');
        new.push_str(digest);
    }
    Some(new)
}

/// Calls `f` with every `image` string of every element of a `containers`,
/// `initContainers` or `ephemeralContainers` list anywhere below `v`, and its JSON pointer.
fn container_images(v: &mut Value, pointer: &mut String, f: &mut dyn FnMut(&mut String, String)) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let len = pointer.len();
                push_key(pointer, k);
                if workloads::CONTAINER_LISTS.contains(&k.as_str())
                    && let Value::Array(items) = child
                {
                    for (i, item) in items.iter_mut().enumerate() {
                        if let Some(Value::String(image)) = item.get_mut("image") {
                            f(image, format!("{pointer}/{i}/image"));
                        }
                    }
                }
                container_images(child, pointer, f);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                push_index(pointer, i);
                container_images(item, pointer, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_container_runtimes() {
        assert_eq!(
            normalise("nginx"),
            ("docker.io/library/nginx".into(), "", "")
        );
        assert_eq!(
            normalise("nginx:1.27"),
            ("docker.io/library/nginx".into(), "1.27", "")
        );
        assert_eq!(
            normalise("prom/node-exporter:v1"),
            ("docker.io/prom/node-exporter".into(), "v1", "")
        );
        assert_eq!(
            normalise("quay.io/x/y@sha256:ab"),
            ("quay.io/x/y".into(), "", "sha256:ab")
        );
        assert_eq!(normalise("localhost/app"), ("localhost/app".into(), "", ""));
        assert_eq!(
            normalise("docker.io/nginx:1"),
            ("docker.io/library/nginx".into(), "1", "")
        );
        assert_eq!(
            normalise("index.docker.io/prom/x"),
            ("docker.io/prom/x".into(), "", "")
        );
        assert_eq!(
            normalise("host:5000/app:v2"),
            ("host:5000/app".into(), "v2", "")
        );
    }
}
