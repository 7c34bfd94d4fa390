//! Transforms: each built-in validates its configuration, selects its targets and applies a
//! small change to each. `run_builtins` is kustomize's fixed order for one kustomization
//! (`api/internal/target/kusttarget_configplugin.go`): strategic merge patches, patches,
//! namespace, (prefix/suffix), labels, annotations, JSON 6902 patches, replicas, images,
//! replacements, then the `transformers:` the kustomization lists: strata's own kinds
//! (`config.rs`) and kustomize's builtin configs (`builtin.rs`), in the order listed, except that `Substitution` runs after all of them so
//! that patches and registry rules may use placeholders too.

pub mod builtin;
pub mod config;
pub mod crds;
pub mod fieldspec;
pub mod generators;
pub mod host_network;
pub mod image_registry;
pub mod images;
pub mod json_patch;
pub mod merge_patch;
pub mod metadata;
pub mod names;
pub mod namespace;
pub mod openapi;
pub mod patches;
pub mod references;
pub mod replacements;
pub mod replicas;
pub mod scope;
pub mod security_context;
pub mod selector;
pub mod sort;
pub mod substitution;
pub mod tconfig;
pub mod vars;
pub mod workloads;

use crate::error::Result;
use crate::load::Loader;
use crate::load::kustomization::KustFile;
use crate::model::ResourceSet;

/// Applies the built-in transformers of one kustomization to its accumulated resources.
/// `tc`: the field specs in use (kustomize's defaults and the tree's `configurations:`).
/// `oa`: the render's schema state (`openapi`).
pub fn run_builtins(
    kf: &KustFile,
    loader: &Loader,
    set: &mut ResourceSet,
    tc: &tconfig::TransformerConfig,
    oa: &openapi::Tracker,
) -> Result<()> {
    patches::strategic_merge(kf, loader, set, oa)?;
    patches::patches(kf, loader, set, oa)?;
    if let Some(ns) = kf.spec.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        namespace::apply_scoped(ns, set, &tc.namespace, namespace::Mode::default(), oa)?;
    }
    names::apply(kf, set, &tc.name_prefix, &tc.name_suffix)?;
    metadata::apply_labels(kf, set, tc)?;
    metadata::apply_annotations(kf, set, &tc.common_annotations)?;
    patches::json6902(kf, loader, set)?;
    replicas::apply(kf, set, &tc.replicas)?;
    images::apply(kf, set, &tc.images)?;
    replacements::apply(kf, loader, set)?;
    Ok(())
}

/// Context a render gives its transforms: values from outside the tree, and what the
/// transforms report back.
#[derive(Debug, Default)]
pub struct Context {
    pub overrides: substitution::Overrides,
    pub images: image_registry::Report,
}

/// Runs the strata transformers a kustomization lists, in order, Substitution last.
pub fn run_listed(
    configured: &[config::Configured],
    loader: &Loader,
    ctx: &mut Context,
    set: &mut ResourceSet,
    oa: &openapi::Tracker,
) -> Result<()> {
    let mut substitutions = Vec::new();
    for t in configured {
        match &t.kind {
            config::Kind::HostNetwork(spec) => host_network::apply(t, spec, set)?,
            config::Kind::ImageRegistry(spec) => {
                image_registry::apply(t, spec, set, &mut ctx.images)?
            }
            config::Kind::SecurityContext(spec) => security_context::apply(t, spec, set)?,
            config::Kind::Substitution(spec) => substitutions.push((t, spec)),
            config::Kind::Builtin(b) => builtin::apply(b, loader, set, oa)
                .map_err(|e| e.context(format!("in {}", t.actor.what)))?,
        }
    }
    for (t, spec) in substitutions {
        substitution::apply(t, spec, &ctx.overrides, set)?;
    }
    Ok(())
}
