//! Transforms: each built-in validates its configuration, selects its targets and applies a
//! small change to each. `run_builtins` is kustomize's fixed order for one kustomization
//! (`api/internal/target/kusttarget_configplugin.go`): strategic merge patches, patches,
//! namespace, (prefix/suffix), labels, annotations, JSON 6902 patches, replicas, images,
//! (replacements), then the `transformers:` the kustomization lists.

pub mod fieldspec;
pub mod images;
pub mod json_patch;
pub mod merge_patch;
pub mod metadata;
pub mod namespace;
pub mod patches;
pub mod references;
pub mod replicas;
pub mod scope;
pub mod selector;
pub mod sort;

use crate::error::Result;
use crate::load::Loader;
use crate::load::kustomization::KustFile;
use crate::model::ResourceSet;

/// Applies the built-in transformers of one kustomization to its accumulated resources.
pub fn run_builtins(kf: &KustFile, loader: &Loader, set: &mut ResourceSet) -> Result<()> {
    patches::strategic_merge(kf, loader, set)?;
    patches::patches(kf, loader, set)?;
    if let Some(ns) = kf.spec.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        namespace::apply(ns, set)?;
    }
    metadata::apply_labels(kf, set)?;
    metadata::apply_annotations(kf, set)?;
    patches::json6902(kf, loader, set)?;
    replicas::apply(kf, set)?;
    images::apply(kf, set)?;
    if !kf.spec.transformers.is_empty() {
        return Err(kf
            .error_at(
                &["transformers"],
                "`transformers` is not supported by strata yet",
            )
            .help("remove the entry, or render this tree with kustomize"));
    }
    Ok(())
}
