//! kustomize's transformer configuration (`TransformerConfig`): for each built-in
//! transformer, the field specs that say where its fields live in which kinds: `namePrefix`
//! and `nameSuffix` (the names prefixed), `namespace`, `commonLabels` (labels and label
//! selectors), `labels` (extra fields of every `labels:` entry), `templateLabels`,
//! `commonAnnotations`, `nameReference` (which fields refer to which kinds by name),
//! `varReference`, `images` and `replicas`.
//!
//! The defaults are kustomize's tables (`fieldspec.rs`, `builtins/name_references.rs`, `vars.rs`);
//! `configurations:` files and `crds:` add to them. The config a kustomization's
//! transformers use is built as kustomize's accumulator builds it: it starts empty, takes in
//! the configs of the directories it accumulates (in order), then the kustomization's own
//! (kustomize's defaults merged with its `configurations:`), then its `crds:`; a component
//! adds its own to the config of the kustomization that lists it, which kustomize then
//! re-merges into an empty one. Every step merges as kustomize merges
//! (`TransformerConfig.Merge`): a spec already covered by one of the same path whose
//! selector includes it is not added twice, the same spec with two `create` values is an
//! error, and each list is then ordered by kind. The order matters: a custom spec for one
//! kind sorts before kustomize's spec for every kind, so at the next merge it covers it, and
//! a `namePrefix` spec for one kind ends up replacing the default for all kinds, exactly as
//! in kustomize.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::fieldspec::{self, FieldSpec, OwnedFieldSpec};
use crate::kustomize::load::kustomization::KustFile;
use crate::kustomize::load::{self, Loader};

/// The field specs of every built-in transformer.
#[derive(Debug, Clone, Default)]
pub struct TransformerConfig {
    pub name_prefix: Vec<OwnedFieldSpec>,
    pub name_suffix: Vec<OwnedFieldSpec>,
    pub namespace: Vec<OwnedFieldSpec>,
    pub common_labels: Vec<OwnedFieldSpec>,
    pub labels: Vec<OwnedFieldSpec>,
    pub template_labels: Vec<OwnedFieldSpec>,
    pub common_annotations: Vec<OwnedFieldSpec>,
    pub name_reference: Vec<NameRefSpec>,
    pub var_reference: Vec<OwnedFieldSpec>,
    pub images: Vec<OwnedFieldSpec>,
    pub replicas: Vec<OwnedFieldSpec>,
}

/// What a build carries up the tree besides resources: kustomize's accumulated transformer
/// config (empty until the first kustomization merges its own), and the `vars` declared so
/// far.
#[derive(Debug, Clone, Default)]
pub struct Config {
    tc: Arc<TransformerConfig>,
    /// The `vars` declared so far, bound to their resources (`vars.rs`).
    pub vars: Vec<crate::kustomize::builtins::vars::Var>,
}

/// A referred kind and the fields that refer to it by name.
#[derive(Debug, Clone)]
pub struct NameRefSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub referrers: Vec<OwnedFieldSpec>,
}

impl Config {
    /// Adds what an accumulated directory carries: its field specs, and its vars (a var
    /// declared twice, as by one base included through two overlays, is an error, as in
    /// kustomize).
    pub fn absorb(&mut self, other: &Config) -> Result<()> {
        self.merge(&other.tc)?;
        for v in &other.vars {
            if self.vars.iter().any(|x| x.name == v.name) {
                return Err(Error::new(format!("var '{}' already encountered", v.name))
                    .help("a var is declared once in a tree: a base included twice declares its vars twice; declare the var in the kustomization that includes both"));
            }
            self.vars.push(v.clone());
        }
        Ok(())
    }

    /// kustomize's `MergeConfig`: `other` merged into the accumulated config.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<()> {
        // The common case: nothing accumulated yet, and kustomize's defaults come in.
        if self.tc.is_empty() && std::ptr::eq(other, TransformerConfig::defaults().as_ref()) {
            self.tc = TransformerConfig::defaults_accumulated().clone();
            return Ok(());
        }
        Arc::make_mut(&mut self.tc).merge(other)
    }

    /// What a kustomization merges of its own: kustomize's defaults with its
    /// `configurations:` (`MakeTransformerConfig`).
    pub fn merge_declared(&mut self, declared: Option<TransformerConfig>) -> Result<()> {
        match declared {
            None => self.merge(TransformerConfig::defaults()),
            Some(custom) => {
                let mut tc = TransformerConfig::defaults().as_ref().clone();
                tc.merge(&custom)?;
                self.merge(&tc)
            }
        }
    }

    /// After a component: kustomize gives the including kustomization a new accumulator and
    /// merges the component's into it.
    pub fn remerge(&mut self) -> Result<()> {
        let tc = std::mem::take(&mut self.tc);
        self.merge(&tc)
    }

    /// The config the transformers use.
    pub fn effective(&self) -> Result<Arc<TransformerConfig>> {
        if self.tc.is_empty() {
            return Ok(TransformerConfig::defaults().clone());
        }
        Ok(self.tc.clone())
    }
}

fn owned(tables: &[&[FieldSpec]]) -> Vec<OwnedFieldSpec> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .map(Into::into)
        .collect()
}

impl TransformerConfig {
    /// kustomize's default configuration (`builtinpluginconsts`), built once.
    pub fn defaults() -> &'static Arc<TransformerConfig> {
        static DEFAULTS: OnceLock<Arc<TransformerConfig>> = OnceLock::new();
        DEFAULTS.get_or_init(|| {
            let metadata_labels = [
                fieldspec::METADATA_LABELS,
                fieldspec::VOLUME_CLAIM_TEMPLATE_LABELS,
            ];
            let name_reference = crate::kustomize::builtins::name_references::NAME_REFERENCES
                .iter()
                .map(|nr| NameRefSpec {
                    group: nr.referral.0.into(),
                    version: nr.referral.1.into(),
                    kind: nr.referral.2.into(),
                    referrers: nr
                        .referrers
                        .iter()
                        .map(|&(group, version, kind, path)| OwnedFieldSpec {
                            group: group.into(),
                            version: version.into(),
                            kind: kind.into(),
                            path: path.into(),
                            create: false,
                        })
                        .collect(),
                })
                .collect();
            let mut tc = TransformerConfig {
                name_prefix: owned(&[fieldspec::NAME]),
                name_suffix: owned(&[fieldspec::NAME]),
                namespace: owned(&[fieldspec::NAMESPACE]),
                common_labels: owned(&[
                    fieldspec::SELECTOR_LABELS,
                    metadata_labels[0],
                    metadata_labels[1],
                ]),
                labels: Vec::new(),
                template_labels: owned(&metadata_labels),
                common_annotations: owned(&[fieldspec::ANNOTATIONS]),
                name_reference,
                var_reference: crate::kustomize::builtins::vars::default_specs(),
                images: owned(&[fieldspec::IMAGES]),
                replicas: owned(&[fieldspec::REPLICAS]),
            };
            tc.sort();
            Arc::new(tc)
        })
    }

    /// The defaults merged into an empty config, as every kustomization without
    /// `configurations:` merges them into its accumulator.
    fn defaults_accumulated() -> &'static Arc<TransformerConfig> {
        static MERGED: OnceLock<Arc<TransformerConfig>> = OnceLock::new();
        MERGED.get_or_init(|| {
            let mut tc = TransformerConfig::default();
            tc.merge(Self::defaults())
                .expect("kustomize's defaults merge without conflict");
            Arc::new(tc)
        })
    }

    fn is_empty(&self) -> bool {
        self.lists().iter().all(|l| l.is_empty()) && self.name_reference.is_empty()
    }

    fn lists(&self) -> [&Vec<OwnedFieldSpec>; 10] {
        [
            &self.name_prefix,
            &self.name_suffix,
            &self.namespace,
            &self.common_labels,
            &self.labels,
            &self.template_labels,
            &self.common_annotations,
            &self.var_reference,
            &self.images,
            &self.replicas,
        ]
    }

    /// kustomize's `TransformerConfig.Merge`: every list of `other` merged into this one's,
    /// then each list ordered as kustomize orders it (by kind, then group/version/kind).
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<()> {
        let sections: [(&str, &mut Vec<OwnedFieldSpec>, &Vec<OwnedFieldSpec>); 10] = [
            ("namePrefix", &mut self.name_prefix, &other.name_prefix),
            ("nameSuffix", &mut self.name_suffix, &other.name_suffix),
            ("namespace", &mut self.namespace, &other.namespace),
            (
                "commonLabels",
                &mut self.common_labels,
                &other.common_labels,
            ),
            ("labels", &mut self.labels, &other.labels),
            (
                "templateLabels",
                &mut self.template_labels,
                &other.template_labels,
            ),
            (
                "commonAnnotations",
                &mut self.common_annotations,
                &other.common_annotations,
            ),
            (
                "varReference",
                &mut self.var_reference,
                &other.var_reference,
            ),
            ("images", &mut self.images, &other.images),
            ("replicas", &mut self.replicas, &other.replicas),
        ];
        for (section, mine, theirs) in sections {
            merge_specs(mine, theirs).map_err(|e| e.context(format!("in `{section}`")))?;
        }
        for nr in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|n| n.group == nr.group && n.version == nr.version && n.kind == nr.kind)
            {
                Some(n) => merge_specs(&mut n.referrers, &nr.referrers)
                    .map_err(|e| e.context(format!("in `nameReference` of {}", nr.kind)))?,
                None => self.name_reference.push(nr.clone()),
            }
        }
        self.sort();
        Ok(())
    }

    /// Each list in kustomize's order (a stable sort by kind rank, then group/version/kind).
    fn sort(&mut self) {
        let key = |s: &OwnedFieldSpec| (s.group.clone(), s.version.clone(), s.kind.clone());
        for list in [
            &mut self.name_prefix,
            &mut self.name_suffix,
            &mut self.namespace,
            &mut self.common_labels,
            &mut self.labels,
            &mut self.template_labels,
            &mut self.common_annotations,
            &mut self.var_reference,
            &mut self.images,
            &mut self.replicas,
        ] {
            list.sort_by(|a, b| {
                let (a, b) = (key(a), key(b));
                crate::kustomize::builtins::sort::gvk_less((&a.0, &a.1, &a.2), (&b.0, &b.1, &b.2))
            });
        }
        self.name_reference.sort_by(|a, b| {
            crate::kustomize::builtins::sort::gvk_less(
                (&a.group, &a.version, &a.kind),
                (&b.group, &b.version, &b.kind),
            )
        });
    }
}

/// Does `spec` select everything `by` selects (an empty group, version or kind of `by`
/// matches any)? kustomize's `FieldSpec.effectivelyEquals` with the same path.
fn covered(existing: &OwnedFieldSpec, incoming: &OwnedFieldSpec) -> bool {
    existing.path == incoming.path
        && (incoming.group.is_empty() || existing.group == incoming.group)
        && (incoming.version.is_empty() || existing.version == incoming.version)
        && (incoming.kind.is_empty() || existing.kind == incoming.kind)
}

/// kustomize's `FsSlice.MergeAll`.
fn merge_specs(mine: &mut Vec<OwnedFieldSpec>, theirs: &[OwnedFieldSpec]) -> Result<()> {
    for s in theirs {
        match mine.iter().find(|m| covered(m, s)) {
            Some(m) if m.create != s.create => {
                return Err(Error::new(format!(
                    "conflicting field specs: `{}`{} is given with `create: {}` and with `create: {}`",
                    s.path,
                    describe_gvk(s),
                    m.create,
                    s.create
                ))
                .help("give the field spec once, with one `create` value"));
            }
            Some(_) => {}
            None => mine.push(s.clone()),
        }
    }
    Ok(())
}

fn describe_gvk(s: &OwnedFieldSpec) -> String {
    let parts: Vec<&str> = [s.group.as_str(), s.version.as_str(), s.kind.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" (for {})", parts.join("/"))
    }
}

/// A `configurations:` file, as kustomize reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(default)]
    name_prefix: Vec<SpecEntry>,
    #[serde(default)]
    name_suffix: Vec<SpecEntry>,
    #[serde(default)]
    namespace: Vec<SpecEntry>,
    #[serde(default)]
    common_labels: Vec<SpecEntry>,
    #[serde(default)]
    labels: Vec<SpecEntry>,
    #[serde(default)]
    template_labels: Vec<SpecEntry>,
    #[serde(default)]
    common_annotations: Vec<SpecEntry>,
    #[serde(default)]
    name_reference: Vec<NameRefEntry>,
    #[serde(default)]
    var_reference: Vec<SpecEntry>,
    #[serde(default)]
    images: Vec<SpecEntry>,
    #[serde(default)]
    replicas: Vec<SpecEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// One field spec as kustomize reads it (`types.FieldSpec`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecEntry {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub create: bool,
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

fn specs(entries: Vec<SpecEntry>) -> Vec<OwnedFieldSpec> {
    entries.into_iter().map(Into::into).collect()
}

/// Reads the `configurations:` files of a kustomization, merged in order into an empty
/// config (kustomize's defaults are not included: see [`Config::merge_declared`]); `None`
/// when it lists none.
pub fn load(kf: &KustFile, loader: &Loader) -> Result<Option<TransformerConfig>> {
    let mut config = TransformerConfig::default();
    let Some(raw) = kf.spec.configurations.as_ref() else {
        return Ok(None);
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
        let parsed: File = loader
            .read_config(&file, 0, doc, "field specs")
            .map_err(|e| {
                e.context(format!(
                    "in configurations[{i}] of {}",
                    kf.display().display()
                ))
            })?;
        let mut one = TransformerConfig {
            name_prefix: specs(parsed.name_prefix),
            name_suffix: specs(parsed.name_suffix),
            namespace: specs(parsed.namespace),
            common_labels: specs(parsed.common_labels),
            labels: specs(parsed.labels),
            template_labels: specs(parsed.template_labels),
            common_annotations: specs(parsed.common_annotations),
            name_reference: parsed
                .name_reference
                .into_iter()
                .map(|nr| NameRefSpec {
                    group: nr.group,
                    version: nr.version,
                    kind: nr.kind,
                    referrers: specs(nr.field_specs),
                })
                .collect(),
            var_reference: specs(parsed.var_reference),
            images: specs(parsed.images),
            replicas: specs(parsed.replicas),
        };
        // kustomize orders each file's lists as it reads it.
        one.sort();
        config.merge(&one).map_err(|e| {
            e.in_file(&file.display).context(format!(
                "in configurations[{i}] of {}",
                kf.display().display()
            ))
        })?;
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, path: &str, create: bool) -> OwnedFieldSpec {
        OwnedFieldSpec {
            group: String::new(),
            version: String::new(),
            kind: kind.into(),
            path: path.into(),
            create,
        }
    }

    #[test]
    fn merge_joins_specs_as_kustomize_does() {
        let mut a = TransformerConfig {
            name_reference: vec![NameRefSpec {
                group: String::new(),
                version: "v1".into(),
                kind: "Service".into(),
                referrers: vec![spec("A", "x/name", false)],
            }],
            namespace: vec![spec("A", "x/namespace", false)],
            ..TransformerConfig::default()
        };
        let b = TransformerConfig {
            name_reference: vec![
                NameRefSpec {
                    group: String::new(),
                    version: "v1".into(),
                    kind: "Service".into(),
                    referrers: vec![spec("A", "x/name", false), spec("B", "y/name", false)],
                },
                NameRefSpec {
                    group: "cert-manager.io".into(),
                    version: String::new(),
                    kind: "Issuer".into(),
                    referrers: vec![spec("Certificate", "spec/issuerRef/name", false)],
                },
            ],
            // Covered by the spec for A: a spec for any kind includes kind A.
            namespace: vec![spec("", "x/namespace", false)],
            ..TransformerConfig::default()
        };
        a.merge(&b).unwrap();
        assert_eq!(a.name_reference.len(), 2);
        assert_eq!(a.name_reference[0].referrers.len(), 2);
        assert_eq!(a.namespace.len(), 1);
        // A more specific spec than one present is added.
        let c = TransformerConfig {
            namespace: vec![spec("B", "x/namespace", false)],
            ..TransformerConfig::default()
        };
        a.merge(&c).unwrap();
        assert_eq!(a.namespace.len(), 2);
        // The same spec with another `create` is an error.
        let d = TransformerConfig {
            namespace: vec![spec("A", "x/namespace", true)],
            ..TransformerConfig::default()
        };
        let e = a.merge(&d).unwrap_err();
        assert!(
            e.message.contains("conflicting field specs"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_narrow_spec_covers_the_default_at_the_next_merge() {
        let narrow = TransformerConfig {
            name_prefix: vec![spec("Foo", "metadata/name", false)],
            ..TransformerConfig::default()
        };
        let kinds = |tc: &TransformerConfig| -> Vec<String> {
            tc.name_prefix.iter().map(|s| s.kind.clone()).collect()
        };
        // kustomize's MakeTransformerConfig: the defaults merged with it, then ordered:
        // Foo's spec first, the default kept.
        let mut made = TransformerConfig::defaults().as_ref().clone();
        made.merge(&narrow).unwrap();
        assert_eq!(kinds(&made), ["Foo", ""]);
        // The kustomization's accumulator starts empty and merges that: Foo's spec covers
        // the default, which is dropped, as kustomize drops it.
        let mut level = Config::default();
        level.merge_declared(Some(narrow)).unwrap();
        assert_eq!(kinds(&level.effective().unwrap()), ["Foo"]);
        // Without `configurations:` a level takes kustomize's defaults as they are.
        let mut plain = Config::default();
        plain.merge_declared(None).unwrap();
        assert_eq!(kinds(&plain.effective().unwrap()), [""]);
    }

    #[test]
    fn the_defaults_are_kustomizes_sections() {
        let d = TransformerConfig::defaults();
        assert_eq!(d.name_prefix.len(), 1);
        assert_eq!(d.name_prefix[0].path, "metadata/name");
        assert!(d.labels.is_empty());
        assert!(
            d.namespace
                .iter()
                .any(|s| s.kind == "Namespace" && s.path == "metadata/name")
        );
        assert!(d.common_labels.len() > d.template_labels.len());
        // kustomize's order: kinds ranked first (Namespace, ..., Deployment) come first.
        let kinds: Vec<&str> = d.name_reference.iter().map(|n| n.kind.as_str()).collect();
        assert_eq!(kinds[..3], ["StorageClass", "ServiceAccount", "Role"]);
    }
}
