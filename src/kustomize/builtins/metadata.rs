//! `labels`, `commonLabels` and `commonAnnotations` (kustomize's LabelTransformer and
//! AnnotationsTransformer): add key/value pairs to the fields the transformer config's field
//! specs name (metadata, pod templates, and for selector labels the selectors).

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomize::configurations::TransformerConfig;
use crate::kustomize::fieldspec::{self, OwnedFieldSpec};
use crate::kustomize::load::kustomization::{KustFile, LabelEntry};
use crate::model::{ResourceSet, kind_of};

/// The field specs of one `labels` entry, as kustomize assembles them: the entry's own
/// `fields`, the config's `labels`, then the selectors and templates (`includeSelectors`:
/// `commonLabels`), or the templates (`includeTemplates`: `templateLabels`) and
/// `metadata/labels`.
fn label_specs(entry: &LabelEntry, tc: &TransformerConfig) -> Result<Vec<OwnedFieldSpec>> {
    let mut specs: Vec<OwnedFieldSpec> = entry
        .fields
        .iter()
        .map(|f| OwnedFieldSpec {
            group: f.group.clone().unwrap_or_default(),
            version: f.version.clone().unwrap_or_default(),
            kind: f.kind.clone().unwrap_or_default(),
            path: f.path.clone(),
            create: f.create,
        })
        .collect();
    let mut add = |more: &[OwnedFieldSpec]| -> Result<()> {
        let mut cfg = TransformerConfig {
            labels: std::mem::take(&mut specs),
            ..TransformerConfig::default()
        };
        cfg.merge(&TransformerConfig {
            labels: more.to_vec(),
            ..TransformerConfig::default()
        })?;
        specs = cfg.labels;
        Ok(())
    };
    add(&tc.labels)?;
    if entry.include_selectors {
        add(&tc.common_labels)?;
    } else {
        if entry.include_templates {
            add(&tc.template_labels)?;
        }
        add(&[OwnedFieldSpec {
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            path: "metadata/labels".into(),
            create: true,
        }])?;
    }
    Ok(specs)
}

/// `labels` entries, then `commonLabels`, as kustomize runs them.
pub fn apply_labels(kf: &KustFile, set: &mut ResourceSet, tc: &TransformerConfig) -> Result<()> {
    for (i, entry) in kf.spec.labels.iter().enumerate() {
        let at = |e: Error| e.in_file(kf.display()).context(format!("in labels[{i}]"));
        let specs = label_specs(entry, tc).map_err(at)?;
        add_pairs(&entry.pairs, &specs, set).map_err(at)?;
    }
    if !kf.spec.common_labels.is_empty() {
        add_pairs(&kf.spec.common_labels, &tc.common_labels, set)
            .map_err(|e| e.in_file(kf.display()).context("in commonLabels"))?;
    }
    Ok(())
}

pub fn apply_annotations(
    kf: &KustFile,
    set: &mut ResourceSet,
    specs: &[OwnedFieldSpec],
) -> Result<()> {
    if kf.spec.common_annotations.is_empty() {
        return Ok(());
    }
    add_pairs(&kf.spec.common_annotations, specs, set)
        .map_err(|e| e.in_file(kf.display()).context("in commonAnnotations"))
}

pub(crate) fn add_pairs(
    pairs: &IndexMap<String, String>,
    specs: &[OwnedFieldSpec],
    set: &mut ResourceSet,
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let one = |r: &mut crate::model::Resource| -> Result<()> {
        let visited = fieldspec::visit_resource(r, specs, None, &mut |v| {
            if v.is_null() {
                *v = Value::Object(Map::new());
            }
            let Value::Object(m) = v else {
                return Err(kind_of(v));
            };
            for (k, val) in pairs {
                m.insert(k.clone(), Value::String(val.clone()));
            }
            Ok(())
        });
        visited.map(|_| ()).map_err(|found| {
            Error::new(format!(
                "a label or annotation field of {} is a {found}, expected a mapping",
                r.id()
            ))
        })
    };
    // On all cores for a large set; the first error in set order is the one reported.
    let results: Vec<Result<()>> = if set.len() >= crate::parallel::PARALLEL_MIN {
        use rayon::prelude::*;
        set.par_iter_mut().map(one).collect()
    } else {
        set.iter_mut().map(one).collect()
    };
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}
