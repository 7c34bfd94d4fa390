//! `namePrefix` and `nameSuffix`: every object's name gets the prefix and suffix (kustomize's
//! PrefixTransformer and SuffixTransformer, run in that order after `namespace`), except
//! CustomResourceDefinitions, APIServices and Namespaces, whose names Kubernetes fixes.
//! Each renamed object remembers its earlier identity, so that references to it follow at
//! the end of the build (`references::fix_back_references`).

use serde_json::Value;

use super::fieldspec::{self, OwnedFieldSpec};
use crate::error::Result;
use crate::load::kustomization::KustFile;
use crate::model::{Resource, ResourceSet};

/// Kinds (group, kind; an empty group matches any) whose names are never changed.
const SKIPPED: &[(&str, &str)] = &[
    ("", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("", "Namespace"),
];

fn skipped(r: &Resource) -> bool {
    let org = r.previous_ids.first().cloned().unwrap_or_else(|| r.id());
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

/// `prefixed`: other fields the prefix is added to (identities, from `crds:`).
pub fn apply(kf: &KustFile, set: &mut ResourceSet, prefixed: &[OwnedFieldSpec]) -> Result<()> {
    let prefix = field(kf, &kf.spec.name_prefix, "namePrefix")?;
    let suffix = field(kf, &kf.spec.name_suffix, "nameSuffix")?;
    rename(set, prefix, "");
    if !prefix.is_empty() {
        prefix_fields(set, prefix, prefixed);
    }
    rename(set, "", suffix);
    Ok(())
}

/// Adds `prefix` to the string fields `specs` name in the objects whose names are prefixed
/// (kinds matched on their original identity, as kustomize's PrefixTransformer does).
fn prefix_fields(set: &mut ResourceSet, prefix: &str, specs: &[OwnedFieldSpec]) {
    for r in set.iter_mut().filter(|r| !skipped(r)) {
        let org = r.previous_ids.first().cloned().unwrap_or_else(|| r.id());
        let applies = |s: &&OwnedFieldSpec| {
            (s.group.is_empty() || s.group == org.group)
                && (s.version.is_empty() || s.version == org.version)
                && (s.kind.is_empty() || s.kind == org.kind)
        };
        let specs: Vec<&OwnedFieldSpec> = specs.iter().filter(applies).collect();
        if specs.is_empty() {
            continue;
        }
        r.edit_value(|obj| {
            for s in specs {
                let _ = fieldspec::visit::<()>(obj, &s.path, false, &mut |v| {
                    if let Value::String(old) = v {
                        *v = Value::String(format!("{prefix}{old}"));
                    }
                    Ok(())
                });
            }
        });
    }
}

/// Adds `prefix` and `suffix` to the name of every object not skipped.
pub fn rename(set: &mut ResourceSet, prefix: &str, suffix: &str) {
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in set.iter_mut().filter(|r| !skipped(r)) {
        r.remember_id();
        let name = format!("{prefix}{}{suffix}", r.name());
        r.metadata_mut().insert("name".into(), Value::String(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;
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
        rename(&mut set, "p-", "");
        rename(&mut set, "", "-s");
        let names: Vec<&str> = set.iter().map(Resource::name).collect();
        assert_eq!(names, ["p-sa-s", "ns", "a.b.c", "v1.x"]);
        assert_eq!(set[0].previous_ids.len(), 2);
        assert_eq!(set[0].previous_ids[0].name, "sa");
    }
}
