//! kustomize's builtin transformers and generators, one file each, and the order they run
//! in. `run_builtins` is kustomize's fixed order for one kustomization's fields
//! (`api/internal/target/kusttarget_configplugin.go`): strategic merge patches, patches,
//! namespace, prefix/suffix, labels, annotations, JSON 6902 patches, replicas, images,
//! replacements. `run_listed` then runs the `transformers:` it lists, in order: kustomize's
//! builtin configs (`configs.rs`), exec functions, and the kinds of the layer above
//! (`listed::Kinds`), those that ask to run last after all the others.

pub mod configs;
pub mod generators;
pub mod images;
pub mod metadata;
pub mod name_references;
pub mod names;
pub mod namespace;
pub mod patches;
pub mod replacements;
pub mod replicas;
pub mod sort;
pub mod vars;

use crate::error::Result;
use crate::kustomize::build_metadata as origin;
use crate::kustomize::listed as config;
use crate::kustomize::load::Loader;
use crate::kustomize::load::kustomization::KustFile;
use crate::kustomize::schema::openapi;
use crate::model::ResourceSet;

/// Applies the built-in transformers of one kustomization to its accumulated resources.
/// `tc`: the field specs in use (kustomize's defaults and the tree's `configurations:`).
/// `oa`: the render's schema state (`openapi`).
pub fn run_builtins(
    kf: &KustFile,
    loader: &Loader,
    set: &mut ResourceSet,
    tc: &crate::kustomize::configurations::TransformerConfig,
    oa: &openapi::Tracker,
    meta: Option<&origin::Tracking>,
) -> Result<()> {
    let s = &kf.spec;
    // The origin record: after each builtin the fields configure, one entry on every object
    // per instance kustomize configures (`kusttarget_configplugin.go`).
    let record = |set: &mut ResourceSet, kind: &str, times: usize| {
        if let Some(t) = meta {
            origin::transformed(set, &t.builtin(kf.display(), kind), times);
        }
    };
    patches::strategic_merge(kf, loader, set, oa)?;
    record(
        set,
        "PatchStrategicMergeTransformer",
        usize::from(!s.patches_strategic_merge.is_empty()),
    );
    patches::patches(kf, loader, set, oa)?;
    record(set, "PatchTransformer", s.patches.len());
    if let Some(ns) = s.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        namespace::apply_scoped(ns, set, &tc.namespace, namespace::Mode::default(), oa)?;
        record(set, "NamespaceTransformer", 1);
    }
    let given = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|v| v.as_str())
            .is_some_and(|v| !v.is_empty())
    };
    names::apply(kf, set, &tc.name_prefix, &tc.name_suffix)?;
    record(set, "PrefixTransformer", usize::from(given(&s.name_prefix)));
    record(set, "SuffixTransformer", usize::from(given(&s.name_suffix)));
    metadata::apply_labels(kf, set, tc)?;
    let label_runs = if s.labels.is_empty() && s.common_labels.is_empty() {
        0
    } else {
        s.labels.len() + 1
    };
    record(set, "LabelTransformer", label_runs);
    metadata::apply_annotations(kf, set, &tc.common_annotations)?;
    record(
        set,
        "AnnotationsTransformer",
        usize::from(!s.common_annotations.is_empty()),
    );
    patches::json6902(kf, loader, set)?;
    record(set, "PatchJson6902Transformer", s.patches_json6902.len());
    replicas::apply(kf, set, &tc.replicas)?;
    record(set, "ReplicaCountTransformer", s.replicas.len());
    images::apply(kf, set, &tc.images)?;
    record(set, "ImageTagTransformer", s.images.len());
    replacements::apply(kf, loader, set)?;
    let replacements = s
        .replacements
        .as_ref()
        .and_then(|v| v.as_array())
        .is_some_and(|a| !a.is_empty());
    record(set, "ReplacementTransformer", usize::from(replacements));
    Ok(())
}

/// Runs one config listed under `generators:` and adds what it makes to `set`.
pub fn run_generator(
    g: &config::Configured,
    loader: &Loader,
    set: &mut ResourceSet,
    meta: Option<&origin::Tracking>,
) -> Result<()> {
    let at = |e: crate::error::Error| e.context(format!("in the generator {}", g.actor.what));
    let origin = meta.map(|m| m.config_identity(&g.display, &g.identity));
    let made = match &g.kind {
        config::Kind::Generator(c) => generators::run_config(c, loader).map_err(at)?,
        config::Kind::Function(f) => f.generate()?,
        _ => return Err(g.error_at(&["kind"], "not a generator: list it under `transformers`")),
    };
    for (behavior, mut r) in made {
        if let Some(o) = &origin {
            origin::add(&mut r, o);
        }
        generators::absorb(set, r, behavior).map_err(at)?;
    }
    Ok(())
}

/// Runs the transformers a kustomization lists, in order; those that ask to run last
/// (strata's Substitution) after all the others, in their order.
pub fn run_listed(
    configured: &[config::Configured],
    loader: &Loader,
    tc: &crate::kustomize::configurations::TransformerConfig,
    set: &mut ResourceSet,
    oa: &openapi::Tracker,
    meta: Option<&origin::Tracking>,
) -> Result<()> {
    let record = |set: &mut ResourceSet, t: &config::Configured| {
        if let Some(m) = meta {
            origin::transformed(set, &m.config_identity(&t.display, &t.identity), 1);
        }
    };
    let mut last = Vec::new();
    for t in configured {
        match &t.kind {
            config::Kind::Extension(x) if x.runs_last() => {
                last.push((t, x));
                continue;
            }
            config::Kind::Extension(x) => x.apply(t, set, tc)?,
            config::Kind::Builtin(b) => configs::apply(b, loader, set, oa)
                .map_err(|e| e.context(format!("in {}", t.actor.what)))?,
            config::Kind::Function(f) => f.transform(set)?,
            config::Kind::Generator(_) => {
                return Err(t.error_at(&["kind"], "a generator is listed under `generators`"));
            }
        }
        record(set, t);
    }
    for (t, x) in last {
        x.apply(t, set, tc)?;
        record(set, t);
    }
    Ok(())
}
