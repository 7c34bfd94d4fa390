//! `configurations:`: files of custom field specs that teach the built-in transformers where
//! fields live in other kinds (kustomize's `TransformerConfig`). As in kustomize, a
//! kustomization's configurations join those of everything it accumulated (its resources,
//! bases and components) and travel up to the kustomizations that include it: the namespace
//! transformer of an overlay uses the specs a base declared, and the name references are
//! fixed at the top with every spec of the tree.
//!
//! Supported sections: `nameReference`, `namespace`, and `varReference` (where `vars` are
//! substituted, `vars.rs`). Any other section is an error naming it.

use serde::Deserialize;
use serde_json::Value;

use super::fieldspec::OwnedFieldSpec;
use crate::error::{Error, Result};
use crate::load::kustomization::KustFile;
use crate::load::{self, Loader};

/// Custom field specs accumulated for one build.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub name_references: Vec<NameRefSpec>,
    pub namespace: Vec<OwnedFieldSpec>,
    /// Extra label selector fields for `commonLabels` (and `labels` with
    /// `includeSelectors`), from `crds:`.
    pub common_labels: Vec<OwnedFieldSpec>,
    /// Extra annotation fields for `commonAnnotations`, from `crds:`.
    pub common_annotations: Vec<OwnedFieldSpec>,
    /// Extra fields `namePrefix` prefixes, from `crds:`.
    pub name_prefix: Vec<OwnedFieldSpec>,
    /// Custom `varReference` specs (kustomize's defaults are in `vars::default_specs`).
    pub var_reference: Vec<OwnedFieldSpec>,
    /// The `vars` declared so far, bound to their resources (`vars.rs`).
    pub vars: Vec<super::vars::Var>,
}

/// A referred kind and the fields that refer to it by name.
#[derive(Debug, Clone)]
pub struct NameRefSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub referrers: Vec<OwnedFieldSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    #[serde(default)]
    name_reference: Vec<NameRefEntry>,
    #[serde(default)]
    namespace: Vec<SpecEntry>,
    #[serde(default)]
    var_reference: Vec<SpecEntry>,
    name_prefix: Option<Value>,
    name_suffix: Option<Value>,
    common_labels: Option<Value>,
    labels: Option<Value>,
    template_labels: Option<Value>,
    common_annotations: Option<Value>,
    images: Option<Value>,
    replicas: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NameRefEntry {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SpecEntry {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    path: String,
    #[serde(default)]
    create: bool,
}

impl From<SpecEntry> for OwnedFieldSpec {
    fn from(e: SpecEntry) -> Self {
        OwnedFieldSpec {
            group: e.group,
            version: e.version,
            kind: e.kind,
            path: e.path,
            create: e.create,
        }
    }
}

impl Config {
    /// Adds the specs of `other` that are not here yet.
    pub fn merge(&mut self, other: &Config) {
        for nr in &other.name_references {
            match self
                .name_references
                .iter_mut()
                .find(|n| n.group == nr.group && n.version == nr.version && n.kind == nr.kind)
            {
                Some(n) => {
                    for r in &nr.referrers {
                        if !n.referrers.iter().any(|x| same_spec(x, r)) {
                            n.referrers.push(r.clone());
                        }
                    }
                }
                None => self.name_references.push(nr.clone()),
            }
        }
        for (mine, theirs) in [
            (&mut self.namespace, &other.namespace),
            (&mut self.common_labels, &other.common_labels),
            (&mut self.common_annotations, &other.common_annotations),
            (&mut self.name_prefix, &other.name_prefix),
        ] {
            for s in theirs {
                if !mine.iter().any(|x| same_spec(x, s)) {
                    mine.push(s.clone());
                }
            }
        }
        for s in &other.var_reference {
            if !self.var_reference.iter().any(|x| same_spec(x, s)) {
                self.var_reference.push(s.clone());
            }
        }
        for v in &other.vars {
            if !self.vars.iter().any(|x| x.name == v.name) {
                self.vars.push(v.clone());
            }
        }
    }
}

fn same_spec(a: &OwnedFieldSpec, b: &OwnedFieldSpec) -> bool {
    a.group == b.group && a.version == b.version && a.kind == b.kind && a.path == b.path
}

/// Reads the `configurations:` files of a kustomization.
pub fn load(kf: &KustFile, loader: &Loader) -> Result<Config> {
    let mut config = Config::default();
    let Some(raw) = kf.spec.configurations.as_ref() else {
        return Ok(config);
    };
    let files: Vec<String> = match raw {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    kf.error_at(
                        &["configurations", &i.to_string()],
                        "an entry of `configurations` is the path of a file",
                    )
                })
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(kf.error_at(
                &["configurations"],
                "`configurations` is a list of file paths",
            ));
        }
    };
    for (i, rel) in files.iter().enumerate() {
        let idx = i.to_string();
        let what = format!("configurations[{i}]");
        let path = load::resolve_within(loader, &kf.dir, rel, &what).map_err(|e| {
            e.in_file(kf.display())
                .at_opt(kf.file.locate(0, &["configurations", &idx]))
        })?;
        let file = loader.load(&path)?;
        let at = |msg: String| -> Error {
            kf.error_at(&["configurations", &idx], msg).context(format!(
                "in configurations[{i}] of {}",
                kf.display().display()
            ))
        };
        let doc = match file.docs.as_slice() {
            [] => continue,
            [one] => one.value.clone(),
            _ => {
                return Err(at(format!(
                    "{} must hold one YAML document",
                    file.display.display()
                )));
            }
        };
        let parsed: File = serde_path_to_error::deserialize(doc).map_err(|e| {
            at(format!(
                "invalid field specs in {} at `{}`: {}",
                file.display.display(),
                e.path(),
                e.inner()
            ))
        })?;
        for (name, v) in [
            ("namePrefix", &parsed.name_prefix),
            ("nameSuffix", &parsed.name_suffix),
            ("commonLabels", &parsed.common_labels),
            ("labels", &parsed.labels),
            ("templateLabels", &parsed.template_labels),
            ("commonAnnotations", &parsed.common_annotations),
            ("images", &parsed.images),
            ("replicas", &parsed.replicas),
        ] {
            if v.as_ref().is_some_and(|v| !v.is_null()) {
                return Err(at(format!(
                    "`{name}` field specs (in {}) are not supported by strata yet: only \
                     `nameReference`, `namespace` and `varReference` are",
                    file.display.display()
                )));
            }
        }
        let mut one = Config::default();
        for nr in parsed.name_reference {
            one.name_references.push(NameRefSpec {
                group: nr.group,
                version: nr.version,
                kind: nr.kind,
                referrers: nr.field_specs.into_iter().map(Into::into).collect(),
            });
        }
        one.namespace = parsed.namespace.into_iter().map(Into::into).collect();
        one.var_reference = parsed.var_reference.into_iter().map(Into::into).collect();
        config.merge(&one);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, path: &str) -> OwnedFieldSpec {
        OwnedFieldSpec {
            group: String::new(),
            version: String::new(),
            kind: kind.into(),
            path: path.into(),
            create: false,
        }
    }

    #[test]
    fn merge_joins_referrers_without_duplicates() {
        let mut a = Config {
            name_references: vec![NameRefSpec {
                group: String::new(),
                version: "v1".into(),
                kind: "Service".into(),
                referrers: vec![spec("A", "x/name")],
            }],
            namespace: vec![spec("A", "x/namespace")],
            ..Config::default()
        };
        let b = Config {
            name_references: vec![
                NameRefSpec {
                    group: String::new(),
                    version: "v1".into(),
                    kind: "Service".into(),
                    referrers: vec![spec("A", "x/name"), spec("B", "y/name")],
                },
                NameRefSpec {
                    group: "cert-manager.io".into(),
                    version: String::new(),
                    kind: "Issuer".into(),
                    referrers: vec![spec("Certificate", "spec/issuerRef/name")],
                },
            ],
            namespace: vec![spec("A", "x/namespace")],
            ..Config::default()
        };
        a.merge(&b);
        assert_eq!(a.name_references.len(), 2);
        assert_eq!(a.name_references[0].referrers.len(), 2);
        assert_eq!(a.namespace.len(), 1);
    }
}
