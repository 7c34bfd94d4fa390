//! kustomize's builtin transformer configs (`apiVersion: builtin`) listed under
//! `transformers:`: each is read into the data of the matching kustomization field and run
//! by the same code (labels and annotations with exactly the config's `fieldSpecs`, as
//! kustomize's plugins do; patches, images and replicas through a kustomization made of the
//! config). Supported kinds: AnnotationsTransformer, LabelTransformer,
//! PrefixSuffixTransformer, NamespaceTransformer, ImageTagTransformer,
//! ReplicaCountTransformer, PatchTransformer, PatchStrategicMergeTransformer,
//! PatchJson6902Transformer, ValueAddTransformer.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::fieldspec::OwnedFieldSpec;
use super::selector::Target;
use crate::error::{Error, Result};
use crate::load::kustomization::{KustFile, KustKind, Kustomization, Selector};
use crate::load::{self, LoadedFile, Loader};
use crate::model::ResourceSet;

pub const KINDS: &str = "AnnotationsTransformer, LabelTransformer, PrefixSuffixTransformer, \
    NamespaceTransformer, ImageTagTransformer, ReplicaCountTransformer, PatchTransformer, \
    PatchStrategicMergeTransformer, PatchJson6902Transformer, ValueAddTransformer";

/// One builtin transformer config, ready to run.
pub enum Builtin {
    /// Labels or annotations set in exactly these fields.
    Pairs {
        pairs: IndexMap<String, String>,
        specs: Vec<OwnedFieldSpec>,
    },
    Rename {
        prefix: String,
        suffix: String,
    },
    Namespace {
        namespace: String,
        extra: Vec<OwnedFieldSpec>,
    },
    ValueAdd {
        value: String,
        targets: Vec<(Option<Target>, String, usize)>,
    },
    /// Patches, images or replicas: a kustomization holding just that field.
    Kust(Box<KustFile>),
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Builtin")
    }
}

#[derive(Deserialize)]
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

fn owned(specs: Vec<SpecEntry>) -> Vec<OwnedFieldSpec> {
    specs
        .into_iter()
        .map(|e| OwnedFieldSpec {
            group: e.group,
            version: e.version,
            kind: e.kind,
            path: e.path,
            create: e.create,
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PairsConfig {
    #[serde(default, alias = "annotations")]
    labels: IndexMap<String, Value>,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PrefixSuffixConfig {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NamespaceConfig {
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
    #[serde(default)]
    unset_only: bool,
    set_role_binding_subjects: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValueAddConfig {
    #[serde(default)]
    value: String,
    #[serde(default)]
    targets: Vec<ValueAddTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValueAddTarget {
    selector: Option<Selector>,
    field_path: String,
    #[serde(default)]
    file_path_position: usize,
}

/// Reads one builtin config (`value`, document `doc_index` of the file shown as `display`,
/// text `src`) listed by `kf`.
pub fn parse(
    kf: &KustFile,
    loader: &Loader,
    file: &Arc<LoadedFile>,
    doc_index: usize,
    value: &Value,
) -> Result<Builtin> {
    let err = |path: &[&str], msg: String| {
        Error::new(msg)
            .in_file(&file.display)
            .at_opt(file.locate(doc_index, path))
    };
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut body: Map<String, Value> = value.as_object().cloned().unwrap_or_default();
    let metadata = body.remove("metadata").unwrap_or(Value::Null);
    body.remove("apiVersion");
    body.remove("kind");
    let body = Value::Object(body);
    fn strict<T: DeserializeOwned>(
        v: &Value,
        err: &dyn Fn(&[&str], String) -> Error,
        kind: &str,
    ) -> Result<T> {
        serde_path_to_error::deserialize(v.clone()).map_err(|e| {
            let path = e.path().to_string();
            let segs: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
            err(
                &segs,
                format!("invalid {kind} config at `{path}`: {}", e.inner()),
            )
        })
    }
    let read = |rel: &str, what: &str| -> Result<String> {
        let path = load::resolve_within(loader, &kf.dir, rel, what)?;
        Ok(loader.load(&path)?.src.clone())
    };
    let kust = |spec: Value| -> Result<Builtin> {
        let spec: Kustomization = strict(&spec, &err, kind)?;
        Ok(Builtin::Kust(Box::new(KustFile {
            dir: kf.dir.clone(),
            file: file.clone(),
            kind: KustKind::Kustomization,
            spec,
        })))
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let get = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
    match kind {
        "LabelTransformer" | "AnnotationsTransformer" => {
            let wrong = if kind == "LabelTransformer" {
                "annotations"
            } else {
                "labels"
            };
            if body.get(wrong).is_some() {
                return Err(err(&[wrong], format!("{kind} does not take `{wrong}`")));
            }
            let c: PairsConfig = strict(&body, &err, kind)?;
            Ok(Builtin::Pairs {
                pairs: c.labels.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
                specs: owned(c.field_specs),
            })
        }
        "PrefixSuffixTransformer" => {
            let c: PrefixSuffixConfig = strict(&body, &err, kind)?;
            if let Some(s) = c.field_specs.iter().find(|s| s.path != "metadata/name") {
                return Err(err(
                    &["fieldSpecs"],
                    format!(
                        "{kind} field spec `{}` is not supported by strata: names change only at metadata/name",
                        s.path
                    ),
                ));
            }
            Ok(Builtin::Rename {
                prefix: c.prefix,
                suffix: c.suffix,
            })
        }
        "NamespaceTransformer" => {
            let c: NamespaceConfig = strict(&body, &err, kind)?;
            if c.unset_only
                || c.set_role_binding_subjects
                    .as_deref()
                    .is_some_and(|s| s != "defaultOnly")
            {
                return Err(err(
                    &[],
                    format!(
                        "{kind}: `unsetOnly` and `setRoleBindingSubjects` other than defaultOnly are not supported by strata yet"
                    ),
                ));
            }
            let namespace = metadata
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let extra = owned(c.field_specs)
                .into_iter()
                .filter(|s| s.path != "metadata/namespace")
                .collect();
            Ok(Builtin::Namespace { namespace, extra })
        }
        "ValueAddTransformer" => {
            let c: ValueAddConfig = strict(&body, &err, kind)?;
            let mut value = c.value.trim().to_string();
            if value.is_empty() {
                value = kf
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
            }
            if c.targets.is_empty() {
                return Err(err(&["targets"], "must specify at least one target".into()));
            }
            let mut targets = Vec::new();
            for (i, t) in c.targets.into_iter().enumerate() {
                let idx = i.to_string();
                if t.field_path.is_empty() {
                    return Err(err(&["targets", &idx], "fieldPath cannot be empty".into()));
                }
                let sel = t
                    .selector
                    .as_ref()
                    .map(Target::compile)
                    .transpose()
                    .map_err(|m| err(&["targets", &idx, "selector"], m))?;
                targets.push((sel, t.field_path, t.file_path_position));
            }
            Ok(Builtin::ValueAdd { value, targets })
        }
        "ImageTagTransformer" => kust(json!({"images": [get("imageTag")]})),
        "ReplicaCountTransformer" => kust(json!({"replicas": [get("replica")]})),
        "PatchTransformer" => {
            let mut entry = body.as_object().cloned().unwrap_or_default();
            if let Some(Value::String(p)) = entry.remove("path") {
                entry.insert("patch".into(), Value::String(read(&p, "path")?));
            }
            kust(json!({ "patches": [entry] }))
        }
        "PatchJson6902Transformer" => {
            let mut entry = body.as_object().cloned().unwrap_or_default();
            if let Some(Value::String(p)) = entry.remove("path") {
                entry.insert("patch".into(), Value::String(read(&p, "path")?));
            }
            if let Some(op) = entry.remove("jsonOp") {
                entry.insert("patch".into(), Value::String(text(&op)));
            }
            kust(json!({ "patchesJson6902": [entry] }))
        }
        "PatchStrategicMergeTransformer" => {
            let mut list = Vec::new();
            if let Value::Array(paths) = get("paths") {
                for p in paths {
                    list.push(Value::String(read(&text(&p), "paths")?));
                }
            }
            match get("patches") {
                Value::Null => {}
                Value::String(s) => list.push(Value::String(s)),
                _ => return Err(err(&["patches"], "`patches` is YAML text".into())),
            }
            kust(json!({ "patchesStrategicMerge": list }))
        }
        other => Err(err(
            &["kind"],
            format!(
                "`transformers` entry `{other}` (builtin) is not supported by strata yet: the builtin kinds are {KINDS}"
            ),
        )),
    }
}

/// Runs one builtin config over `set`.
pub fn apply(b: &Builtin, set: &mut ResourceSet, oa: &super::openapi::Tracker) -> Result<()> {
    match b {
        Builtin::Pairs { pairs, specs } => super::metadata::add_pairs(pairs, specs, set),
        Builtin::Rename { prefix, suffix } => {
            super::names::rename(set, prefix, "");
            super::names::rename(set, "", suffix);
            Ok(())
        }
        Builtin::Namespace { namespace, extra } => {
            if namespace.is_empty() {
                return Ok(());
            }
            super::namespace::apply_scoped(namespace, set, extra, oa)
        }
        Builtin::ValueAdd { value, targets } => {
            for (sel, path, pos) in targets {
                for r in set.iter_mut() {
                    if sel.as_ref().is_some_and(|s| !s.matches(r)) {
                        continue;
                    }
                    if path == "metadata/namespace" {
                        let mut one = vec![r.clone()];
                        super::namespace::apply(value, &mut one, &[])?;
                        *r = one.pop().expect("one resource");
                        continue;
                    }
                    value_add(&mut r.obj_mut(), path, *pos, value);
                }
            }
            Ok(())
        }
        Builtin::Kust(kf) => {
            let loader = Loader::default();
            super::patches::strategic_merge(kf, &loader, set, oa)?;
            super::patches::patches(kf, &loader, set, oa)?;
            super::patches::json6902(kf, &loader, set)?;
            super::replicas::apply(kf, set)?;
            super::images::apply(kf, set)
        }
    }
}

/// kustomize's valueadd filter: the scalar at `path` (`/`-separated, created when missing)
/// becomes `value`, or with `pos` > 0 gets `value` inserted as its `pos`th path part.
fn value_add(obj: &mut Map<String, Value>, path: &str, pos: usize, value: &str) {
    let mut fields: Vec<String> = Vec::new();
    for f in path.split('/') {
        match fields.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(f);
            }
            _ => fields.push(f.to_string()),
        }
    }
    let Some((leaf, parents)) = fields.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        let next = cur
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if next.is_null() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(m) = next else { return };
        cur = m;
    }
    let old = match cur.get(leaf) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let new = if pos > 0 {
        insert_path_part(&old, pos - 1, value)
    } else {
        value.to_string()
    };
    cur.insert(leaf.clone(), Value::String(new));
}

/// kyaml's `InsertPathPart`.
fn insert_path_part(path: &str, pos: usize, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let mut parts: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let mut pos = pos.min(parts.len());
    if !parts.is_empty() && parts[0].is_empty() && pos < parts.len() {
        pos += 1;
    }
    parts.insert(pos.min(parts.len()), part);
    // PathJoin: a leading empty part keeps the path rooted; the rest is `filepath.Join`ed,
    // which drops empty parts and cleans `.` and `..`.
    let rooted = parts.first() == Some(&"");
    let mut out: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            ".." if rooted => {}
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() && !out.is_empty() {
        ".".into()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_path_parts_like_kyaml() {
        assert_eq!(insert_path_part("projects", 1, "dog"), "projects/dog");
        assert_eq!(insert_path_part("a/b", 0, "x"), "x/a/b");
        assert_eq!(insert_path_part("a/b", 1, "x"), "a/x/b");
        assert_eq!(insert_path_part("/a/b", 0, "x"), "/x/a/b");
        assert_eq!(insert_path_part("", 3, "x"), "x");
        assert_eq!(insert_path_part("gs://buckets", 1, "x"), "gs:/x/buckets");
    }

    #[test]
    fn value_add_creates_and_inserts() {
        let mut m = json!({"spec": {"ref": {"external": "projects"}}})
            .as_object()
            .cloned()
            .unwrap();
        value_add(&mut m, "spec/ref/external", 2, "dog");
        value_add(&mut m, "spec/new/field", 0, "dog");
        assert_eq!(
            Value::Object(m),
            json!({"spec": {"ref": {"external": "projects/dog"}, "new": {"field": "dog"}}})
        );
    }
}
