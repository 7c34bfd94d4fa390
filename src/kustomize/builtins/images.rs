//! `images` (kustomize's ImageTagTransformer): rewrite container image names, tags and
//! digests, with kustomize's rules: the entry's `name` matches an image whose name (before
//! `:tag` and `@digest`) is exactly it. Each entry visits every `containers` and
//! `initContainers` list anywhere in an object, then the fields of the `images` field specs
//! (kustomize's defaults and the tree's `configurations:`), so a field both reach is
//! rewritten twice, as kustomize rewrites it; CustomResourceDefinitions are left alone.

use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::fieldspec::{self, OwnedFieldSpec};
use crate::kustomize::load::kustomization::{ImageEntry, KustFile};
use crate::model::pointer::push_key;
use crate::model::{Actor, ResourceSet};

/// Splits an image reference into name, tag and digest, as kustomize does: the tag's colon is
/// searched after the first slash, so a registry port (`host:5000/app`) is part of the name.
pub fn split(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image, "", ""),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (&image[..a], "", &image[a + 1..]),
        (Some(c), Some(a)) => (&image[..c], &image[c + 1..a], &image[a + 1..]),
        (Some(c), None) => (&image[..c], &image[c + 1..], ""),
        (None, Some(_)) => unreachable!("covered by the guard above"),
    }
}

struct Rule<'a> {
    entry: &'a ImageEntry,
    pattern: Option<Regex>,
}

impl Rule<'_> {
    fn rewrite(&self, image: &str) -> Option<String> {
        if !self.pattern.as_ref()?.is_match(image) {
            return None;
        }
        let e = self.entry;
        let (name, tag, digest) = split(image);
        let mut name = name.to_string();
        let (mut tag, mut digest) = (tag.to_string(), digest.to_string());
        if let Some(n) = e.new_name.as_deref().filter(|s| !s.is_empty()) {
            name = n.to_string();
        }
        let new_tag = e.new_tag.as_deref().unwrap_or("");
        let new_digest = e.digest.as_deref().unwrap_or("");
        let suffix = e.tag_suffix.as_deref().unwrap_or("");
        match (new_tag.is_empty(), new_digest.is_empty()) {
            (false, false) => (tag, digest) = (new_tag.into(), new_digest.into()),
            (false, true) => (tag, digest) = (new_tag.into(), String::new()),
            (true, false) => (tag, digest) = (String::new(), new_digest.into()),
            (true, true) if !suffix.is_empty() => {
                tag.push_str(suffix);
                digest.clear();
            }
            _ => {}
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        Some(name)
    }

    fn apply(&self, v: &mut Value) {
        if let Some(s) = v.as_str()
            && let Some(new) = self.rewrite(s)
        {
            *v = Value::String(new);
        }
    }
}

/// `specs`: the `images` field specs in use.
pub fn apply(kf: &KustFile, set: &mut ResourceSet, specs: &[OwnedFieldSpec]) -> Result<()> {
    let mut rules = Vec::with_capacity(kf.spec.images.len());
    for (i, entry) in kf.spec.images.iter().enumerate() {
        if entry.name.is_empty() {
            let idx = i.to_string();
            return Err(kf.error_at(&["images", &idx], "an `images` entry needs a `name`"));
        }
        rules.push(Rule::new(entry));
    }
    if rules.is_empty() {
        return Ok(());
    }
    let actor = Arc::new(Actor {
        what: "images".into(),
        file: Arc::new(kf.display().to_path_buf()),
        line: kf.file.locate(0, &["images"]).map_or(1, |(l, _)| l),
    });
    apply_rules(&rules, set, specs, &actor)
        .map_err(|e| e.in_file(kf.display()).context("in images"))
}

/// Applies the rules, in order, to every object.
fn apply_rules(
    rules: &[Rule<'_>],
    set: &mut ResourceSet,
    specs: &[OwnedFieldSpec],
    actor: &Arc<Actor>,
) -> Result<()> {
    for r in set.iter_mut() {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        let applicable: Vec<&OwnedFieldSpec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        let before = image_fields(r.obj());
        let id = r.id();
        let mut failure = None;
        r.edit_value(|obj| {
            for rule in rules {
                walk(obj, rule);
                for spec in &applicable {
                    let visited =
                        fieldspec::visit::<Error>(obj, &spec.path, false, &mut |v| match v {
                            Value::String(_) => {
                                rule.apply(v);
                                Ok(())
                            }
                            Value::Null => Ok(()),
                            other => Err(Error::new(format!(
                                "the image field `{}` of {id} is a {}, not a string",
                                spec.path,
                                crate::model::kind_of(other)
                            ))),
                        });
                    if let Err(e) = visited {
                        failure.get_or_insert(e);
                    }
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        // Provenance: the image fields this entry list changed.
        let after = image_fields(r.obj());
        for ((pointer, old), (_, new)) in before.iter().zip(&after) {
            if old != new {
                r.changed(pointer.clone(), actor);
            }
        }
    }
    Ok(())
}

/// Every `image` of a `containers`/`initContainers` list in an object, with its JSON pointer,
/// in document order.
fn image_fields(obj: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    fn walk(v: &Value, pointer: &mut String, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let len = pointer.len();
                    push_key(pointer, k);
                    walk(child, pointer, out);
                    if (k == "containers" || k == "initContainers")
                        && let Value::Array(items) = child
                    {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(Value::String(s)) = item.get("image") {
                                out.push((format!("{pointer}/{i}/image"), s.clone()));
                            }
                        }
                    }
                    pointer.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    crate::model::pointer::push_index(pointer, i);
                    walk(item, pointer, out);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut pointer = String::new();
    for (k, v) in obj {
        let len = pointer.len();
        push_key(&mut pointer, k);
        walk(v, &mut pointer, &mut out);
        pointer.truncate(len);
    }
    out
}

impl<'a> Rule<'a> {
    fn new(entry: &'a ImageEntry) -> Self {
        // kustomize builds this pattern from the name as written (a regular expression).
        let pattern = crate::kustomize::selector::compiled(&format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{{}}-]*)?$",
            entry.name
        ))
        .ok();
        Rule { entry, pattern }
    }
}

/// kustomize's legacy image walk for one rule: the `image` of every element of every
/// `containers` and `initContainers` list anywhere in the object.
fn walk(v: &mut Value, rule: &Rule<'_>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                walk(child, rule);
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(field) = item.get_mut("image") {
                            rule.apply(field);
                        }
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, rule)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_registry_ports_in_the_name() {
        assert_eq!(split("nginx"), ("nginx", "", ""));
        assert_eq!(split("nginx:1.27"), ("nginx", "1.27", ""));
        assert_eq!(split("host:5000/app"), ("host:5000/app", "", ""));
        assert_eq!(split("host:5000/app:v1"), ("host:5000/app", "v1", ""));
        assert_eq!(split("app@sha256:abc"), ("app", "", "sha256:abc"));
        assert_eq!(split("r/app:v1@sha256:abc"), ("r/app", "v1", "sha256:abc"));
    }

    fn rule(entry: &ImageEntry) -> Rule<'_> {
        Rule::new(entry)
    }

    #[test]
    fn rewrites_like_kustomize() {
        let e = ImageEntry {
            name: "nginx".into(),
            new_name: Some("reg/nginx".into()),
            new_tag: Some("1.27".into()),
            ..Default::default()
        };
        assert_eq!(
            rule(&e).rewrite("nginx:1.0").as_deref(),
            Some("reg/nginx:1.27")
        );
        assert_eq!(
            rule(&e).rewrite("nginx@sha256:abc").as_deref(),
            Some("reg/nginx:1.27")
        );
        assert_eq!(rule(&e).rewrite("nginx-other:1"), None);
        assert_eq!(rule(&e).rewrite("docker.io/nginx:1"), None);
        let d = ImageEntry {
            name: "app".into(),
            digest: Some("sha256:ff".into()),
            ..Default::default()
        };
        assert_eq!(rule(&d).rewrite("app:v1").as_deref(), Some("app@sha256:ff"));
    }
}
