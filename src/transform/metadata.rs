//! `commonLabels`, `labels` and `commonAnnotations`: add key/value pairs to the field specs of
//! `fieldspec.rs` (metadata, pod templates, and for selector labels the selectors).

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::fieldspec::{
    self, ANNOTATIONS, METADATA_LABELS, OwnedFieldSpec, SELECTOR_LABELS,
    VOLUME_CLAIM_TEMPLATE_LABELS,
};
use crate::error::{Error, Result};
use crate::load::kustomization::{KustFile, LabelEntry};
use crate::model::{ResourceSet, kind_of};

fn owned(specs: &[&[fieldspec::FieldSpec]]) -> Vec<OwnedFieldSpec> {
    specs
        .iter()
        .flat_map(|s| s.iter())
        .map(Into::into)
        .collect()
}

/// The field specs of one `labels` entry; `selectors`: the extra label selector fields
/// (from `crds:`).
fn label_specs(entry: &LabelEntry, selectors: &[OwnedFieldSpec]) -> Vec<OwnedFieldSpec> {
    let mut specs = if entry.include_selectors {
        let mut s = owned(&[
            SELECTOR_LABELS,
            METADATA_LABELS,
            VOLUME_CLAIM_TEMPLATE_LABELS,
        ]);
        s.extend(selectors.iter().cloned());
        s
    } else if entry.include_templates {
        owned(&[METADATA_LABELS, VOLUME_CLAIM_TEMPLATE_LABELS])
    } else {
        owned(&[&METADATA_LABELS[..1]])
    };
    specs.extend(entry.fields.iter().map(|f| OwnedFieldSpec {
        group: f.group.clone().unwrap_or_default(),
        version: f.version.clone().unwrap_or_default(),
        kind: f.kind.clone().unwrap_or_default(),
        path: f.path.clone(),
        create: f.create,
    }));
    specs
}

/// `selectors`: extra label selector fields (from `crds:`).
pub fn apply_labels(
    kf: &KustFile,
    set: &mut ResourceSet,
    selectors: &[OwnedFieldSpec],
) -> Result<()> {
    if !kf.spec.common_labels.is_empty() {
        let mut specs = owned(&[
            SELECTOR_LABELS,
            METADATA_LABELS,
            VOLUME_CLAIM_TEMPLATE_LABELS,
        ]);
        specs.extend(selectors.iter().cloned());
        add_pairs(&kf.spec.common_labels, &specs, set)
            .map_err(|e| e.in_file(kf.display()).context("in commonLabels"))?;
    }
    for (i, entry) in kf.spec.labels.iter().enumerate() {
        add_pairs(&entry.pairs, &label_specs(entry, selectors), set)
            .map_err(|e| e.in_file(kf.display()).context(format!("in labels[{i}]")))?;
    }
    Ok(())
}

/// `extra`: extra annotation fields (from `crds:`).
pub fn apply_annotations(
    kf: &KustFile,
    set: &mut ResourceSet,
    extra: &[OwnedFieldSpec],
) -> Result<()> {
    if kf.spec.common_annotations.is_empty() {
        return Ok(());
    }
    let mut specs = owned(&[ANNOTATIONS]);
    specs.extend(extra.iter().cloned());
    add_pairs(&kf.spec.common_annotations, &specs, set)
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
    let results: Vec<Result<()>> = if set.len() >= crate::validate::PARALLEL_MIN {
        use rayon::prelude::*;
        set.par_iter_mut().map(one).collect()
    } else {
        set.iter_mut().map(one).collect()
    };
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}
