//! `patchesStrategicMerge`, `patches` and `patchesJson6902`: load each patch (a file below the
//! kustomization or inline text), decide its kind (a list of operations is a JSON 6902 patch,
//! anything else strategic merge), select its targets and apply it. A target that matches
//! nothing is an error unless the entry sets `options.allowNoMatch`.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::load::kustomization::{KustFile, PatchEntry, PatchOptions};
use crate::kustomize::load::{self, Loader};
use crate::kustomize::patch::json_patch;
use crate::kustomize::patch::merge_patch::{self, Outcome, SmpContext};
use crate::kustomize::schema::openapi::Tracker;
use crate::kustomize::selector::Target;
use crate::model::{Actor, Resource, ResourceSet, kind_of, split_api_version};
use crate::yaml;

/// Which kustomization field a patch came from.
#[derive(Debug, Clone, Copy)]
enum Field {
    StrategicMerge,
    Patches,
    Json6902,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::StrategicMerge => "patchesStrategicMerge",
            Field::Patches => "patches",
            Field::Json6902 => "patchesJson6902",
        }
    }
}

enum Body {
    Json6902(::json_patch::Patch),
    /// One or more strategic merge patch documents.
    Smp(Vec<Value>),
}

struct Loaded<'k> {
    kf: &'k KustFile,
    field: Field,
    index: usize,
    body: Body,
    target: Option<Target>,
    options: PatchOptions,
    /// The patch file, when the patch was read from one.
    source: Option<String>,
    /// Who changes the fields this patch changes (provenance).
    actor: Arc<Actor>,
}

/// The provenance actor of a patch entry: the entry and its line in the kustomization.
fn actor(kf: &KustFile, field: Field, index: usize, source: &Option<String>) -> Arc<Actor> {
    let idx = index.to_string();
    let line = kf
        .file
        .locate(0, &[field.name(), &idx])
        .map_or(1, |(l, _)| l);
    let from = source
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    Arc::new(Actor {
        what: format!("{}[{index}]{from}", field.name()),
        file: Arc::new(kf.display().to_path_buf()),
        line,
    })
}

impl Loaded<'_> {
    fn describe(&self) -> String {
        format!(
            "in {}[{}] of {}",
            self.field.name(),
            self.index,
            self.kf.display().display()
        )
    }

    fn err(&self, message: impl Into<String>) -> Error {
        let idx = self.index.to_string();
        let mut e = self
            .kf
            .error_at(&[self.field.name(), &idx], message)
            .context(self.describe());
        if let Some(src) = &self.source {
            e = e.context(format!("the patch was read from {src}"));
        }
        e
    }
}

/// `oa`: the render's schema state (`schema::openapi`), which gives strategic merge
/// patches their merge keys.
pub fn strategic_merge(
    kf: &KustFile,
    loader: &Loader,
    set: &mut ResourceSet,
    oa: &Tracker,
) -> Result<()> {
    for (i, entry) in kf.spec.patches_strategic_merge.iter().enumerate() {
        let idx = i.to_string();
        let looks_inline = entry.contains('\n') || entry.trim_start().starts_with('{');
        let (docs, source) = if looks_inline {
            (
                parse_inline(kf, &[Field::StrategicMerge.name(), &idx], entry)?,
                None,
            )
        } else {
            read_patch_file(kf, loader, entry, &format!("patchesStrategicMerge[{i}]"))?
        };
        let p = Loaded {
            kf,
            field: Field::StrategicMerge,
            index: i,
            body: Body::Smp(docs),
            target: None,
            options: PatchOptions::default(),
            actor: actor(kf, Field::StrategicMerge, i, &source),
            source,
        };
        apply(&p, set, oa)?;
    }
    Ok(())
}

pub fn patches(kf: &KustFile, loader: &Loader, set: &mut ResourceSet, oa: &Tracker) -> Result<()> {
    for (i, entry) in kf.spec.patches.iter().enumerate() {
        let p = load_entry(kf, loader, Field::Patches, i, entry)?;
        apply(&p, set, oa)?;
    }
    Ok(())
}

pub fn json6902(kf: &KustFile, loader: &Loader, set: &mut ResourceSet) -> Result<()> {
    for (i, entry) in kf.spec.patches_json6902.iter().enumerate() {
        let p = load_entry(kf, loader, Field::Json6902, i, entry)?;
        if p.target.is_none() {
            return Err(p.err("a patchesJson6902 entry needs a `target`"));
        }
        if !matches!(p.body, Body::Json6902(_)) {
            return Err(p.err("a patchesJson6902 entry must be a list of JSON patch operations"));
        }
        // A JSON patch uses no schema.
        apply(&p, set, &Tracker::new())?;
    }
    Ok(())
}

fn load_entry<'k>(
    kf: &'k KustFile,
    loader: &Loader,
    field: Field,
    index: usize,
    entry: &PatchEntry,
) -> Result<Loaded<'k>> {
    let idx = index.to_string();
    let fname = field.name();
    let (docs, source) = match (&entry.path, &entry.patch) {
        (Some(_), Some(_)) => {
            return Err(kf.error_at(
                &[fname, &idx],
                "a patch has both `path` and `patch`: keep one",
            ));
        }
        (None, None) => {
            return Err(kf.error_at(&[fname, &idx], "a patch needs `path` or `patch`"));
        }
        (Some(path), None) => read_patch_file(kf, loader, path, &format!("{fname}[{index}].path"))?,
        (None, Some(text)) => (parse_inline(kf, &[fname, &idx, "patch"], text)?, None),
    };
    let body = match docs.as_slice() {
        [Value::Array(_)] => {
            let ops = json_patch::parse_ops(&docs[0])
                .map_err(|e| kf.error_at(&[fname, &idx], format!("invalid JSON patch: {e}")))?;
            Body::Json6902(ops)
        }
        [] => return Err(kf.error_at(&[fname, &idx], "the patch is empty")),
        _ => {
            for d in &docs {
                if !d.is_object() {
                    return Err(kf.error_at(
                        &[fname, &idx],
                        format!(
                            "a patch document is a {}: expected a list of JSON patch operations or \
                             a strategic merge patch (a mapping)",
                            kind_of(d)
                        ),
                    ));
                }
            }
            Body::Smp(docs)
        }
    };
    let target =
        match &entry.target {
            None => None,
            Some(sel) => Some(Target::compile(sel).map_err(|e| {
                kf.error_at(&[fname, &idx, "target"], format!("invalid target: {e}"))
            })?),
        };
    if matches!(body, Body::Json6902(_)) && target.is_none() {
        return Err(kf
            .error_at(&[fname, &idx], "a JSON 6902 patch needs a `target`")
            .help("add `target: {kind: ..., name: ...}` to say which resources it patches"));
    }
    Ok(Loaded {
        kf,
        field,
        index,
        body,
        target,
        options: entry.options.clone(),
        actor: actor(kf, field, index, &source),
        source,
    })
}

fn read_patch_file(
    kf: &KustFile,
    loader: &Loader,
    rel: &str,
    what: &str,
) -> Result<(Vec<Value>, Option<String>)> {
    let path = load::resolve_within(loader, &kf.dir, rel, what).map_err(|e| {
        let fname = what.split('[').next().unwrap_or(what);
        e.in_file(kf.display()).at_opt(kf.file.locate(0, &[fname]))
    })?;
    let file = loader.load(&path)?;
    let docs = file.docs.iter().map(|d| d.value.clone()).collect();
    Ok((docs, Some(file.display.display().to_string())))
}

fn parse_inline(kf: &KustFile, at: &[&str], text: &str) -> Result<Vec<Value>> {
    match yaml::parse_stream(text) {
        Ok(docs) => Ok(docs.into_iter().map(|d| d.value).collect()),
        Err(e) => Err(kf.error_at(
            at,
            format!(
                "the inline patch is not valid YAML: {} (line {} of the patch)",
                e.message, e.line
            ),
        )),
    }
}

fn apply(p: &Loaded<'_>, set: &mut ResourceSet, oa: &Tracker) -> Result<()> {
    match &p.body {
        Body::Json6902(ops) => {
            let target = p.target.as_ref().expect("checked when loaded");
            let mut matched = 0;
            for r in set.iter_mut().filter(|r| target.matches(r)) {
                matched += 1;
                let before = r.id();
                // kustomize's PatchTransformer records the identity before every JSON patch.
                r.remember_id();
                let (result, object) = r.edit_value(|value| {
                    let result = json_patch::apply(value, ops);
                    (result, value.is_object())
                });
                if !object {
                    return Err(p.err(format!("the JSON patch turned {before} into a non-object")));
                }
                result.map_err(|e| {
                    p.err(format!("{e}"))
                        .context(format!("patching {before} (from {})", r.origin))
                })?;
                for path in op_paths(ops) {
                    r.changed(path, &p.actor);
                }
            }
            no_match_check(p, matched)
        }
        Body::Smp(docs) => {
            for (d, doc) in docs.iter().enumerate() {
                apply_smp(p, d, doc, set, oa)?;
            }
            Ok(())
        }
    }
}

fn apply_smp(
    p: &Loaded<'_>,
    d: usize,
    patch: &Value,
    set: &mut ResourceSet,
    oa: &Tracker,
) -> Result<()> {
    let doc_note = |e: Error| {
        if d > 0 {
            e.context(format!("in document {} of the patch", d + 1))
        } else {
            e
        }
    };
    let mut to_delete = Vec::new();
    let mut matched = 0;
    match &p.target {
        Some(target) => {
            for (i, r) in set.iter_mut().enumerate() {
                if !target.matches(r) {
                    continue;
                }
                matched += 1;
                if smp_one(p, r, patch, oa).map_err(doc_note)? == Outcome::DeleteResource {
                    to_delete.push(i);
                }
            }
        }
        None => {
            let (kind, name, ns, api) = patch_identity(patch);
            if kind.is_empty() || name.is_empty() {
                return Err(doc_note(p.err(
                    "a strategic merge patch without `target` needs `kind` and `metadata.name` to \
                     say which resource it patches",
                )));
            }
            // kustomize computes the patch's identity (and so its kind's scope).
            oa.saw(&api, &kind);
            let (group, version) = split_api_version(&api);
            let same_ns = |a: &str, b: &str| {
                let norm = |s: &str| if s.is_empty() { "default" } else { s }.to_string();
                a == b || norm(a) == norm(b)
            };
            for (i, r) in set.iter_mut().enumerate() {
                // The current identity, compared without allocating (this runs for every
                // resource and every patch), then earlier ones.
                let (g, v, k) = r.gvk();
                let current = k == kind
                    && r.name() == name
                    && g == group
                    && (version.is_empty() || v == version)
                    && same_ns(r.namespace(), &ns);
                let hit = current
                    || r.previous_ids.iter().any(|id| {
                        id.kind == kind
                            && id.name == name
                            && id.group == group
                            && (version.is_empty() || id.version == version)
                            && id.same_namespace(&ns)
                    });
                if !hit {
                    continue;
                }
                matched += 1;
                if smp_one(p, r, patch, oa).map_err(doc_note)? == Outcome::DeleteResource {
                    to_delete.push(i);
                }
            }
            if matched == 0 && !p.options.allow_no_match {
                let ns_note = if ns.is_empty() {
                    String::new()
                } else {
                    format!(" in namespace {ns}")
                };
                // The nearest miss: same kind and name, another apiVersion or namespace.
                let near = set
                    .iter()
                    .find(|r| r.kind() == kind && r.name() == name)
                    .map(|r| {
                        let shown = if api.is_empty() { "no apiVersion".to_string() } else { format!("apiVersion {api}") };
                        format!(
                            "; the patch has {shown}{ns_note}, and the resource with that kind and name is {}",
                            r.id()
                        )
                    })
                    .unwrap_or_default();
                return Err(doc_note(p.err(format!(
                    "the patch is for {kind} {name}{ns_note}, and there is no such resource{near}"
                )))
                .help("check the patch's kind, apiVersion, metadata.name and metadata.namespace against the resources"));
            }
            if matched > 1 {
                return Err(doc_note(p.err(format!(
                    "the patch for {kind} {name} matches {matched} resources; give `metadata.namespace` \
                     or a `target` to choose"
                ))));
            }
        }
    }
    for i in to_delete.into_iter().rev() {
        set.remove(i);
    }
    no_match_check(p, matched)
}

/// The fields a list of JSON patch operations writes (`.../-` stands for its list).
fn op_paths(ops: &::json_patch::Patch) -> Vec<String> {
    use ::json_patch::PatchOperation as Op;
    let mut out = Vec::new();
    for op in &ops.0 {
        let paths: Vec<String> = match op {
            Op::Add(o) => vec![o.path.to_string()],
            Op::Remove(o) => vec![o.path.to_string()],
            Op::Replace(o) => vec![o.path.to_string()],
            Op::Move(o) => vec![o.from.to_string(), o.path.to_string()],
            Op::Copy(o) => vec![o.path.to_string()],
            Op::Test(_) => vec![],
        };
        for p in paths {
            out.push(p.strip_suffix("/-").map(str::to_string).unwrap_or(p));
        }
    }
    out
}

/// kustomize's `Resource.ApplySmPatch`: the patch is merged with the resource's apiVersion
/// (and its own kind); afterwards the resource keeps its name unless the entry allows a name
/// change, its kind unless it allows a kind change, and always its namespace. A patch that
/// names its target by an earlier name (a base's, before a prefix) patches it without
/// renaming it back.
fn smp_one(p: &Loaded<'_>, r: &mut Resource, patch: &Value, oa: &Tracker) -> Result<Outcome> {
    let snapshot = Value::Object(r.obj().clone());
    let before = r.id();
    let (api, kind, name, namespace) = (
        r.api_version().to_string(),
        r.kind().to_string(),
        r.name().to_string(),
        r.namespace().to_string(),
    );
    let (allow_name, allow_kind) = (p.options.allow_name_change, p.options.allow_kind_change);
    if allow_name || allow_kind {
        r.remember_id();
    }
    let mut patch = patch.clone();
    if let Value::Object(m) = &mut patch {
        m.insert("apiVersion".into(), Value::String(api.clone()));
    }
    let ctx = SmpContext {
        api_version: &api,
        kind: &kind,
    };
    let schemas = oa.schema();
    let result =
        r.edit_value(|value| merge_patch::apply_with_schema(value, &patch, &ctx, &schemas));
    let outcome = result.map_err(|e| {
        p.err(format!("strategic merge failed: {e}"))
            .context(format!("patching {before} (from {})", r.origin))
    })?;
    if outcome == Outcome::DeleteResource {
        return Ok(outcome);
    }
    {
        let mut obj = r.obj_mut();
        if !allow_kind {
            obj.insert("kind".into(), Value::String(kind));
        }
    }
    {
        let mut md = r.metadata_mut();
        if !allow_name {
            md.insert("name".into(), Value::String(name));
        }
        if namespace.is_empty() {
            md.shift_remove("namespace");
        } else {
            md.insert("namespace".into(), Value::String(namespace));
        }
    }
    for path in crate::model::changed_paths(&snapshot, &Value::Object(r.obj().clone())) {
        r.changed(path, &p.actor);
    }
    Ok(outcome)
}

fn patch_identity(patch: &Value) -> (String, String, String, String) {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let md = patch.get("metadata");
    (
        s(patch.get("kind")),
        s(md.and_then(|m| m.get("name"))),
        s(md.and_then(|m| m.get("namespace"))),
        s(patch.get("apiVersion")),
    )
}

fn no_match_check(p: &Loaded<'_>, matched: usize) -> Result<()> {
    if matched == 0 && p.target.is_some() && !p.options.allow_no_match {
        return Err(p
            .err("the patch target matches no resource")
            .help("fix the target, or set `options: {allowNoMatch: true}` on this entry if that is intended (kustomize skips such patches silently)"));
    }
    Ok(())
}
