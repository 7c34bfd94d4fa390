//! kustomize's builtin transformer configs (`apiVersion: builtin`) listed under
//! `transformers:`, read as kustomize's builtin plugins read their configs (fields they do
//! not know are ignored, each with a warning) and run by the same code as the matching
//! kustomization fields, with exactly the config's field specs: labels and annotations,
//! prefix and suffix, namespace, images and replicas; patches and replacements through a
//! kustomization made of the config.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::kustomize::builtins::names::Affix;
use crate::kustomize::builtins::namespace::{Mode, Subjects};
use crate::kustomize::configurations::SpecEntry;
use crate::kustomize::fieldspec::OwnedFieldSpec;
use crate::kustomize::load::kustomization::{KustFile, KustKind, Kustomization, Selector};
use crate::kustomize::load::{self, LoadedFile, Loader};
use crate::kustomize::selector::Target;
use crate::model::ResourceSet;

pub const KINDS: &str = "AnnotationsTransformer, LabelTransformer, PrefixSuffixTransformer, \
    PrefixTransformer, SuffixTransformer, NamespaceTransformer, ImageTagTransformer, \
    ReplicaCountTransformer, PatchTransformer, PatchStrategicMergeTransformer, \
    PatchJson6902Transformer, ReplacementTransformer, ValueAddTransformer";

/// One builtin transformer config, ready to run.
pub enum Builtin {
    /// Labels or annotations set in exactly these fields.
    Pairs {
        pairs: IndexMap<String, String>,
        specs: Vec<OwnedFieldSpec>,
    },
    /// A prefix, then a suffix (either may be empty), at these fields.
    Rename {
        prefix: Option<String>,
        suffix: Option<String>,
        specs: Vec<OwnedFieldSpec>,
    },
    Namespace {
        namespace: String,
        specs: Vec<OwnedFieldSpec>,
        mode: Mode,
    },
    ValueAdd {
        value: String,
        targets: Vec<(Option<Target>, String, usize)>,
    },
    /// Patches, images, replicas or replacements: a kustomization holding just that field,
    /// with the config's field specs for images and replicas.
    Kust {
        kf: Box<KustFile>,
        image_specs: Vec<OwnedFieldSpec>,
        replica_specs: Vec<OwnedFieldSpec>,
    },
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Builtin")
    }
}

fn owned(specs: Vec<SpecEntry>) -> Vec<OwnedFieldSpec> {
    specs.into_iter().map(Into::into).collect()
}

/// A scalar kustomize reads into a string field: its text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelConfig {
    #[serde(default)]
    labels: IndexMap<String, Value>,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnnotationConfig {
    #[serde(default)]
    annotations: IndexMap<String, Value>,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrefixSuffixConfig {
    #[serde(default)]
    prefix: Value,
    #[serde(default)]
    suffix: Value,
    field_specs: Option<Vec<SpecEntry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceConfig {
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
    #[serde(default)]
    unset_only: bool,
    #[serde(default)]
    set_role_binding_subjects: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageTagConfig {
    #[serde(default)]
    image_tag: Value,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplicaConfig {
    #[serde(default)]
    replica: Value,
    #[serde(default)]
    field_specs: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueAddConfig {
    #[serde(default)]
    value: String,
    #[serde(default)]
    targets: Vec<ValueAddTarget>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueAddTarget {
    selector: Option<Selector>,
    #[serde(default)]
    field_path: String,
    #[serde(default)]
    file_path_position: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchConfig {
    path: Option<String>,
    patch: Option<String>,
    target: Option<Value>,
    options: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Json6902Config {
    path: Option<String>,
    json_op: Option<Value>,
    target: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SmpConfig {
    #[serde(default)]
    paths: Vec<Value>,
    #[serde(default)]
    patches: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplacementConfig {
    #[serde(default)]
    replacements: Value,
}

/// Reads one builtin config (document `doc_index` of `file`, parsed to `value`) listed by
/// `kf`.
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
    let what = format!("a {kind} config");
    let read_as = |v: Value| -> Result<Value> { Ok(v) };
    let _ = read_as;
    fn config<T: DeserializeOwned>(
        loader: &Loader,
        file: &LoadedFile,
        doc: usize,
        body: &Value,
        what: &str,
    ) -> Result<T> {
        loader.read_config(file, doc, body.clone(), what)
    }
    let read = |rel: &str, field: &str| -> Result<String> {
        let path = load::resolve_within(loader, &kf.dir, rel, field).map_err(|e| {
            e.in_file(&file.display)
                .at_opt(file.locate(doc_index, &[field]))
        })?;
        Ok(loader.load(&path)?.src.clone())
    };
    // A kustomization made of the config, for the transformers that run through one.
    let kust = |spec: Value, image_specs, replica_specs| -> Result<Builtin> {
        let spec: Kustomization = serde_path_to_error::deserialize(spec).map_err(|e| {
            err(
                &[],
                format!("invalid {kind} config at `{}`: {}", e.path(), e.inner()),
            )
        })?;
        Ok(Builtin::Kust {
            kf: Box::new(KustFile {
                dir: kf.dir.clone(),
                file: file.clone(),
                kind: KustKind::Kustomization,
                spec,
            }),
            image_specs,
            replica_specs,
        })
    };
    let pairs = |m: IndexMap<String, Value>| m.iter().map(|(k, v)| (k.clone(), text(v))).collect();
    match kind {
        "LabelTransformer" => {
            let c: LabelConfig = config(loader, file, doc_index, &body, &what)?;
            Ok(Builtin::Pairs {
                pairs: pairs(c.labels),
                specs: owned(c.field_specs),
            })
        }
        "AnnotationsTransformer" => {
            let c: AnnotationConfig = config(loader, file, doc_index, &body, &what)?;
            Ok(Builtin::Pairs {
                pairs: pairs(c.annotations),
                specs: owned(c.field_specs),
            })
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let c: PrefixSuffixConfig = config(loader, file, doc_index, &body, &what)?;
            let Some(specs) = c.field_specs else {
                return Err(err(&[], format!("{kind} needs `fieldSpecs` (kustomize: fieldSpecs is not expected to be nil)"))
                    .help("list the fields to rename, e.g. `fieldSpecs: [{path: metadata/name}]`"));
            };
            let (prefix, suffix) = (text(&c.prefix), text(&c.suffix));
            Ok(Builtin::Rename {
                prefix: (kind != "SuffixTransformer").then_some(prefix),
                suffix: (kind != "PrefixTransformer").then_some(suffix),
                specs: owned(specs),
            })
        }
        "NamespaceTransformer" => {
            let c: NamespaceConfig = config(loader, file, doc_index, &body, &what)?;
            let subjects = match c.set_role_binding_subjects.as_str() {
                "" | "defaultOnly" => Subjects::DefaultOnly,
                "allServiceAccounts" => Subjects::AllServiceAccounts,
                "none" => Subjects::None,
                other => {
                    return Err(err(
                        &["setRoleBindingSubjects"],
                        format!(
                            "invalid value `{other}` for setRoleBindingSubjects: must be one of defaultOnly, none or allServiceAccounts"
                        ),
                    ));
                }
            };
            let namespace = metadata.get("namespace").map(text).unwrap_or_default();
            Ok(Builtin::Namespace {
                namespace,
                specs: owned(c.field_specs),
                mode: Mode {
                    unset_only: c.unset_only,
                    subjects,
                },
            })
        }
        "ValueAddTransformer" => {
            let c: ValueAddConfig = config(loader, file, doc_index, &body, &what)?;
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
        "ImageTagTransformer" => {
            let c: ImageTagConfig = config(loader, file, doc_index, &body, &what)?;
            kust(
                json!({"images": [c.image_tag]}),
                owned(c.field_specs),
                Vec::new(),
            )
        }
        "ReplicaCountTransformer" => {
            let c: ReplicaConfig = config(loader, file, doc_index, &body, &what)?;
            kust(
                json!({"replicas": [c.replica]}),
                Vec::new(),
                owned(c.field_specs),
            )
        }
        "PatchTransformer" => {
            let c: PatchConfig = config(loader, file, doc_index, &body, &what)?;
            let mut entry = Map::new();
            let patch = match (c.path, c.patch) {
                (Some(p), None) => Some(read(&p, "path")?),
                (_, p) => p,
            };
            if let Some(p) = patch {
                entry.insert("patch".into(), Value::String(p));
            }
            for (k, v) in [("target", c.target), ("options", c.options)] {
                if let Some(v) = v {
                    entry.insert(k.into(), v);
                }
            }
            kust(json!({ "patches": [entry] }), Vec::new(), Vec::new())
        }
        "PatchJson6902Transformer" => {
            let c: Json6902Config = config(loader, file, doc_index, &body, &what)?;
            let mut entry = Map::new();
            if let Some(p) = c.path {
                entry.insert("patch".into(), Value::String(read(&p, "path")?));
            }
            if let Some(op) = c.json_op {
                entry.insert("patch".into(), Value::String(text(&op)));
            }
            if let Some(t) = c.target {
                entry.insert("target".into(), t);
            }
            kust(
                json!({ "patchesJson6902": [entry] }),
                Vec::new(),
                Vec::new(),
            )
        }
        "PatchStrategicMergeTransformer" => {
            let c: SmpConfig = config(loader, file, doc_index, &body, &what)?;
            let mut list = Vec::new();
            for p in c.paths {
                list.push(Value::String(read(&text(&p), "paths")?));
            }
            match c.patches {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => list.push(Value::String(s)),
                Some(_) => return Err(err(&["patches"], "`patches` is YAML text".into())),
            }
            if list.is_empty() {
                return Err(err(&[], "empty file path and empty patch content".into()));
            }
            kust(
                json!({ "patchesStrategicMerge": list }),
                Vec::new(),
                Vec::new(),
            )
        }
        "ReplacementTransformer" => {
            let c: ReplacementConfig = config(loader, file, doc_index, &body, &what)?;
            kust(
                json!({ "replacements": c.replacements }),
                Vec::new(),
                Vec::new(),
            )
        }
        "HashTransformer" | "SortOrderTransformer" => Err(err(
            &["kind"],
            format!("`transformers` entry `{kind}` (builtin) is not supported by strata yet"),
        )
        .help(
            "strata hashes generated ConfigMaps and Secrets and orders the output itself \
             (`--reorder`, `sortOptions`); remove the entry",
        )),
        other => Err(err(
            &["kind"],
            format!("`{other}` is not one of kustomize's builtin transformers: {KINDS}"),
        )),
    }
}

/// Runs one builtin config over `set`.
pub fn apply(
    b: &Builtin,
    loader: &Loader,
    set: &mut ResourceSet,
    oa: &crate::kustomize::schema::openapi::Tracker,
) -> Result<()> {
    match b {
        Builtin::Pairs { pairs, specs } => {
            crate::kustomize::builtins::metadata::add_pairs(pairs, specs, set)
        }
        Builtin::Rename {
            prefix,
            suffix,
            specs,
        } => {
            if let Some(p) = prefix {
                crate::kustomize::builtins::names::rename(set, Affix::Prefix(p), specs);
            }
            if let Some(s) = suffix {
                crate::kustomize::builtins::names::rename(set, Affix::Suffix(s), specs);
            }
            Ok(())
        }
        Builtin::Namespace {
            namespace,
            specs,
            mode,
        } => {
            if namespace.is_empty() {
                return Ok(());
            }
            crate::kustomize::builtins::namespace::apply_scoped(namespace, set, specs, *mode, oa)
        }
        Builtin::ValueAdd { value, targets } => {
            for (sel, path, pos) in targets {
                for r in set.iter_mut() {
                    if sel.as_ref().is_some_and(|s| !s.matches(r)) {
                        continue;
                    }
                    if path == "metadata/namespace" {
                        let mut one = vec![r.clone()];
                        crate::kustomize::builtins::namespace::apply(value, &mut one, &[])?;
                        *r = one.pop().expect("one resource");
                        continue;
                    }
                    value_add(&mut r.obj_mut(), path, *pos, value);
                }
            }
            Ok(())
        }
        Builtin::Kust {
            kf,
            image_specs,
            replica_specs,
        } => {
            crate::kustomize::builtins::patches::strategic_merge(kf, loader, set, oa)?;
            crate::kustomize::builtins::patches::patches(kf, loader, set, oa)?;
            crate::kustomize::builtins::patches::json6902(kf, loader, set)?;
            if !kf.spec.replicas.is_empty() {
                crate::kustomize::builtins::replicas::apply(kf, set, replica_specs)?;
            }
            crate::kustomize::builtins::images::apply(kf, set, image_specs)?;
            crate::kustomize::builtins::replacements::apply(kf, loader, set)
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
