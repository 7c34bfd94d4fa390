//! `namePrefix` and `nameSuffix` (kustomize's PrefixTransformer and SuffixTransformer, run in
//! that order after `namespace`), and the builtin PrefixSuffixTransformer config: the prefix
//! or suffix is added to every field the `namePrefix`/`nameSuffix` field specs name (by
//! default `metadata/name`) of every object, except CustomResourceDefinitions, APIServices
//! and Namespaces, whose names Kubernetes fixes. Kinds are matched on the identity an object
//! was read with, as kustomize matches them.
//!
//! Renaming `metadata/name` records the object's earlier identity, so that references to it
//! follow at the end of the build (`references::fix_back_references`), and the prefix or
//! suffix itself: the context in which name references bind to the right copy of a base
//! included twice.

use serde_json::Value;

use crate::error::Result;
use crate::kustomize::fieldspec::{self, OwnedFieldSpec};
use crate::kustomize::load::kustomization::KustFile;
use crate::model::{ResId, ResourceSet};

/// Kinds (group, kind; an empty group matches any) whose names are never changed.
const SKIPPED: &[(&str, &str)] = &[
    ("", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("", "Namespace"),
];

fn skipped(org: &ResId) -> bool {
    SKIPPED
        .iter()
        .any(|(g, k)| (g.is_empty() || *g == org.group) && *k == org.kind)
}

fn field<'a>(kf: &KustFile, v: &'a Option<Value>, name: &str) -> Result<&'a str> {
    match v {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(kf.error_at(&[name], format!("`{name}` must be a string"))),
    }
}

/// `namePrefix` then `nameSuffix` of a kustomization, each where its field specs say.
pub fn apply(
    kf: &KustFile,
    set: &mut ResourceSet,
    prefix_specs: &[OwnedFieldSpec],
    suffix_specs: &[OwnedFieldSpec],
) -> Result<()> {
    let prefix = field(kf, &kf.spec.name_prefix, "namePrefix")?;
    let suffix = field(kf, &kf.spec.name_suffix, "nameSuffix")?;
    if !prefix.is_empty() {
        rename(set, Affix::Prefix(prefix), prefix_specs);
    }
    if !suffix.is_empty() {
        rename(set, Affix::Suffix(suffix), suffix_specs);
    }
    Ok(())
}

/// A prefix or a suffix.
#[derive(Debug, Clone, Copy)]
pub enum Affix<'a> {
    Prefix(&'a str),
    Suffix(&'a str),
}

/// kustomize's PrefixTransformer or SuffixTransformer over `set`, with its field specs.
pub fn rename(set: &mut ResourceSet, affix: Affix<'_>, specs: &[OwnedFieldSpec]) {
    let text = match affix {
        Affix::Prefix(t) | Affix::Suffix(t) => t,
    };
    for r in set.iter_mut() {
        let org = r.org_id();
        if skipped(&org) {
            continue;
        }
        for spec in specs.iter().filter(|s| selects(s, &org)) {
            if spec.path == "metadata/name" && !text.is_empty() {
                match affix {
                    Affix::Prefix(p) => r.prefixes.push(p.to_string()),
                    Affix::Suffix(s) => r.suffixes.push(s.to_string()),
                }
                r.remember_id();
            }
            // The field spec applies to the object's current type too.
            if !spec.applies_to(r) {
                continue;
            }
            r.edit_value(|obj| {
                let _ = fieldspec::visit::<()>(obj, &spec.path, spec.create, &mut |v| {
                    let old = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        Value::Bool(_) | Value::Number(_) => v.to_string(),
                        _ => return Ok(()),
                    };
                    *v = Value::String(match affix {
                        Affix::Prefix(p) => format!("{p}{old}"),
                        Affix::Suffix(s) => format!("{old}{s}"),
                    });
                    Ok(())
                });
            });
        }
    }
}

/// Does a field spec select an object of this (original) type?
fn selects(spec: &OwnedFieldSpec, id: &ResId) -> bool {
    (spec.group.is_empty() || spec.group == id.group)
        && (spec.version.is_empty() || spec.version == id.version)
        && (spec.kind.is_empty() || spec.kind == id.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Resource};
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn res(kind: &str, api: &str, name: &str) -> Resource {
        Resource::from_value(
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}}),
            Origin {
                file: Arc::new(PathBuf::from("t.yaml")),
                line: 1,
                doc_index: 0,
                item: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn prefixes_and_suffixes_all_but_fixed_names() {
        let mut set = vec![
            res("ServiceAccount", "v1", "sa"),
            res("Namespace", "v1", "ns"),
            res(
                "CustomResourceDefinition",
                "apiextensions.k8s.io/v1",
                "a.b.c",
            ),
            res("APIService", "apiregistration.k8s.io/v1", "v1.x"),
        ];
        let names = crate::kustomize::configurations::TransformerConfig::defaults();
        rename(&mut set, Affix::Prefix("p-"), &names.name_prefix);
        rename(&mut set, Affix::Suffix("-s"), &names.name_suffix);
        let names: Vec<&str> = set.iter().map(Resource::name).collect();
        assert_eq!(names, ["p-sa-s", "ns", "a.b.c", "v1.x"]);
        assert_eq!(set[0].previous_ids.len(), 2);
        assert_eq!(set[0].previous_ids[0].name, "sa");
        assert_eq!(
            (set[0].prefixes.as_slice(), set[0].suffixes.as_slice()),
            (&["p-".to_string()][..], &["-s".to_string()][..])
        );
    }
}
