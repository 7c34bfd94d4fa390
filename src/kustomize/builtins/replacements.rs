//! `replacements`: copy a field of one resource (the source) into fields of others (the
//! targets), with kustomize v5.5 semantics (`api/filters/replacement`, kyaml's `PathGetter`
//! for the source and `PathMatcher` for the targets).
//!
//! - the source is selected by exact group/version/kind/name/namespace against the current or
//!   an earlier identity, and must be unique; its `fieldPath` (default `metadata.name`) must
//!   exist; `options.delimiter`/`index` pick one part of it;
//! - targets are selected the same way (`select`, minus anything a `reject` entry selects, by
//!   identity or by label/annotation selector); every field path must exist unless
//!   `options.create`; `options.delimiter`/`index` replace one part of the target (a negative
//!   index prefixes, an index past the end appends);
//! - field paths are split at dots, except inside `[...]` and where the dot is escaped
//!   (`\.`); `[key=value]` selects list elements (in targets `value` is an unanchored regular
//!   expression, as in kyaml), `[=value]` scalar elements, a number an element, `*` every
//!   element (targets), `-` the last element (source); `[a.b/c]` is the field `a.b/c`;
//! - a scalar target keeps its type (`replicas: 1` stays a number); a created field reads the
//!   value as plain YAML.

use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomize::load::kustomization::{KustFile, Selector};
use crate::kustomize::load::{self, Loader};
use crate::kustomize::schema::scope;
use crate::kustomize::selector::Target;
use crate::model::{Actor, Resource, ResourceSet, kind_of};
use crate::yaml;

/// One entry of `replacements:`: a replacement written inline, or `path:` to a file holding
/// one replacement or a list of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Entry {
    path: Option<String>,
    source: Option<Source>,
    targets: Option<Vec<TargetSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Replacement {
    source: Option<Source>,
    targets: Option<Vec<TargetSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Source {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    field_path: Option<String>,
    options: Option<Options>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TargetSpec {
    select: Option<Selector>,
    #[serde(default)]
    reject: Vec<Selector>,
    #[serde(default)]
    field_paths: Vec<String>,
    options: Option<Options>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Options {
    #[serde(default)]
    delimiter: String,
    #[serde(default)]
    index: i64,
    #[serde(default)]
    create: bool,
}

/// A replacement ready to run, with where it was written.
struct Loaded {
    index: usize,
    /// The file it was read from, for `path:` entries.
    file: Option<String>,
    source: Source,
    targets: Vec<TargetSpec>,
}

/// Runs the kustomization's `replacements`, in order.
pub fn apply(kf: &KustFile, loader: &Loader, set: &mut ResourceSet) -> Result<()> {
    let Some(raw) = kf.spec.replacements.as_ref() else {
        return Ok(());
    };
    let Value::Array(entries) = raw else {
        return Err(kf.error_at(
            &["replacements"],
            format!("`replacements` must be a list, not a {}", kind_of(raw)),
        ));
    };
    let mut loaded = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let idx = i.to_string();
        let entry: Entry = deserialize(e.clone()).map_err(|(at, msg)| {
            let mut path = vec!["replacements", idx.as_str()];
            path.extend(at.iter().map(String::as_str));
            kf.error_at(&path, format!("invalid replacement: {msg}"))
                .context(format!(
                    "in replacements[{i}] of {}",
                    kf.display().display()
                ))
        })?;
        match (entry.path, entry.source, entry.targets) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(kf.error_at(
                    &["replacements", &idx],
                    "a replacement has both `path` and an inline `source`/`targets`: keep one",
                ));
            }
            (Some(rel), None, None) => {
                let what = format!("replacements[{i}].path");
                let path = load::resolve_within(loader, &kf.dir, &rel, &what).map_err(|e| {
                    e.in_file(kf.display()).at_opt(yaml::locate(
                        &kf.file.src,
                        0,
                        &["replacements", &idx, "path"],
                    ))
                })?;
                let file = loader.load(&path)?;
                let shown = file.display.display().to_string();
                let docs: Vec<Value> = file.docs.iter().map(|d| d.value.clone()).collect();
                let items: Vec<Value> = match docs.as_slice() {
                    [Value::Array(list)] => list.clone(),
                    [one @ Value::Object(_)] => vec![one.clone()],
                    _ => {
                        return Err(kf
                            .error_at(
                                &["replacements", &idx, "path"],
                                format!(
                                    "{shown} must hold one replacement or a list of replacements"
                                ),
                            )
                            .context(format!(
                                "in replacements[{i}] of {}",
                                kf.display().display()
                            )));
                    }
                };
                for (j, item) in items.into_iter().enumerate() {
                    let r: Replacement = deserialize(item).map_err(|(at, msg)| {
                        let at = if at.is_empty() {
                            String::new()
                        } else {
                            format!(" at `{}`", at.join("."))
                        };
                        kf.error_at(
                            &["replacements", &idx, "path"],
                            format!("invalid replacement {j} in {shown}{at}: {msg}"),
                        )
                    })?;
                    loaded.push(check(kf, i, Some(shown.clone()), r.source, r.targets)?);
                }
            }
            (None, source, targets) => loaded.push(check(kf, i, None, source, targets)?),
        }
    }
    for r in &loaded {
        run(kf, r, set)?;
    }
    Ok(())
}

fn deserialize<T: serde::de::DeserializeOwned>(
    v: Value,
) -> std::result::Result<T, (Vec<String>, String)> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e
            .path()
            .iter()
            .map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => index.to_string(),
                serde_path_to_error::Segment::Map { key } => key.clone(),
                other => other.to_string(),
            })
            .filter(|s| s != "?")
            .collect();
        (path, e.into_inner().to_string())
    })
}

fn check(
    kf: &KustFile,
    index: usize,
    file: Option<String>,
    source: Option<Source>,
    targets: Option<Vec<TargetSpec>>,
) -> Result<Loaded> {
    let r = Loaded {
        index,
        file,
        source: source.unwrap_or_default(),
        targets: targets.unwrap_or_default(),
    };
    let have_source = source_given(&r.source);
    if !have_source || r.targets.is_empty() {
        return Err(err(
            kf,
            &r,
            "a replacement needs a `source` and at least one target",
        )
        .help("write `source: {kind: ..., name: ..., fieldPath: ...}` and `targets: [{select: {...}, fieldPaths: [...]}]`"));
    }
    for (t, target) in r.targets.iter().enumerate() {
        if target.select.is_none() {
            return Err(err(
                kf,
                &r,
                format!("targets[{t}] needs `select` to say which resources it writes to"),
            ));
        }
    }
    Ok(r)
}

fn source_given(s: &Source) -> bool {
    [
        &s.group,
        &s.version,
        &s.kind,
        &s.name,
        &s.namespace,
        &s.field_path,
    ]
    .iter()
    .any(|f| f.is_some())
        || s.options.is_some()
}

/// An error located at the replacement's entry.
fn err(kf: &KustFile, r: &Loaded, message: impl Into<String>) -> Error {
    let idx = r.index.to_string();
    let mut e = kf
        .error_at(&["replacements", &idx], message)
        .context(format!(
            "in replacements[{}] of {}",
            r.index,
            kf.display().display()
        ));
    if let Some(f) = &r.file {
        e = e.context(format!("the replacement was read from {f}"));
    }
    e
}

/// An identity selector compared exactly (kustomize's `ResId.IsSelectedBy`).
struct IdSelector<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
}

impl IdSelector<'_> {
    fn is_empty(&self) -> bool {
        [
            self.group,
            self.version,
            self.kind,
            self.name,
            self.namespace,
        ]
        .iter()
        .all(|s| s.is_empty())
    }

    /// Whether the current identity of `r`, or an earlier one, is selected.
    fn selects(&self, r: &Resource) -> bool {
        r.all_ids().any(|id| {
            let eff = |group: &str, kind: &str, ns: &str| -> String {
                if scope::is_cluster_scoped(group, kind) {
                    "~X".into()
                } else if ns.is_empty() || ns == "default" {
                    "default".into()
                } else {
                    ns.into()
                }
            };
            (self.name.is_empty() || self.name == id.name)
                && (self.namespace.is_empty()
                    || eff(self.group, self.kind, self.namespace)
                        == eff(&id.group, &id.kind, &id.namespace))
                && (self.group.is_empty() || self.group == id.group)
                && (self.version.is_empty() || self.version == id.version)
                && (self.kind.is_empty() || self.kind == id.kind)
        })
    }
}

fn id_selector(s: &Selector) -> IdSelector<'_> {
    fn f(o: &Option<String>) -> &str {
        o.as_deref().unwrap_or("")
    }
    IdSelector {
        group: f(&s.group),
        version: f(&s.version),
        kind: f(&s.kind),
        name: f(&s.name),
        namespace: f(&s.namespace),
    }
}

/// The label and annotation part of a selector.
fn meta_selector(s: &Selector) -> std::result::Result<Option<Target>, String> {
    if s.label_selector.as_deref().unwrap_or("").is_empty()
        && s.annotation_selector.as_deref().unwrap_or("").is_empty()
    {
        return Ok(None);
    }
    Target::compile(&Selector {
        label_selector: s.label_selector.clone(),
        annotation_selector: s.annotation_selector.clone(),
        ..Default::default()
    })
    .map(Some)
}

fn describe_source(s: &Source) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("group", &s.group),
        ("version", &s.version),
        ("kind", &s.kind),
        ("name", &s.name),
        ("namespace", &s.namespace),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}: {v}"));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

fn run(kf: &KustFile, r: &Loaded, set: &mut ResourceSet) -> Result<()> {
    let s = &r.source;
    let sel = IdSelector {
        group: s.group.as_deref().unwrap_or(""),
        version: s.version.as_deref().unwrap_or(""),
        kind: s.kind.as_deref().unwrap_or(""),
        name: s.name.as_deref().unwrap_or(""),
        namespace: s.namespace.as_deref().unwrap_or(""),
    };
    let found: Vec<&Resource> = set.iter().filter(|x| sel.selects(x)).collect();
    let source = match found.as_slice() {
        [] => {
            return Err(err(
                kf,
                r,
                format!("the replacement source {} selects no resource", describe_source(s)),
            )
            .help("check the source's kind, name and namespace against the resources (names as they are at this point, after namePrefix and namespace)"));
        }
        [one] => *one,
        several => {
            let ids: Vec<String> = several.iter().map(|x| x.id().to_string()).collect();
            return Err(err(
                kf,
                r,
                format!(
                    "the replacement source {} selects {} resources ({}): it must select one",
                    describe_source(s),
                    several.len(),
                    ids.join(", ")
                ),
            )
            .help("add `name`, `namespace` or `group`/`version` to the source"));
        }
    };
    let field_path = s.field_path.as_deref().unwrap_or("metadata.name");
    let segments = split_path(field_path);
    let source_obj = Value::Object(source.obj().clone());
    let value = match get(&source_obj, &segments) {
        Ok(Some(v)) if !is_nil_or_empty(v) => v.clone(),
        Ok(_) => {
            return Err(err(
                kf,
                r,
                format!(
                    "the replacement source {} has no field `{field_path}`",
                    source.id()
                ),
            ));
        }
        Err(e) => {
            return Err(err(
                kf,
                r,
                format!(
                    "cannot read `{field_path}` of the replacement source {}: {e}",
                    source.id()
                ),
            ));
        }
    };
    let value = match s.options.as_ref().filter(|o| !o.delimiter.is_empty()) {
        None => value,
        Some(o) => {
            let Some(text) = scalar_text(&value) else {
                return Err(err(
                    kf,
                    r,
                    "source `options.delimiter` can only be used on a scalar field",
                ));
            };
            let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
            if o.index < 0 || o.index as usize >= parts.len() {
                return Err(err(
                    kf,
                    r,
                    format!(
                        "source options.index {} is out of bounds for the value {text:?} split at {:?} ({} parts)",
                        o.index,
                        o.delimiter,
                        parts.len()
                    ),
                ));
            }
            Value::String(parts[o.index as usize].to_string())
        }
    };

    let actor = {
        let idx = r.index.to_string();
        let line = kf
            .file
            .locate(0, &["replacements", &idx])
            .map_or(1, |(l, _)| l);
        let from = r
            .file
            .as_ref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        Arc::new(Actor {
            what: format!("replacements[{}]{from}", r.index),
            file: Arc::new(kf.display().to_path_buf()),
            line,
        })
    };

    for (t, target) in r.targets.iter().enumerate() {
        let select = target.select.as_ref().expect("checked when loaded");
        let bad_selector = |e: String| err(kf, r, format!("targets[{t}]: invalid selector: {e}"));
        let select_id = id_selector(select);
        let select_meta = meta_selector(select).map_err(bad_selector)?;
        let mut rejects = Vec::new();
        for rej in &target.reject {
            rejects.push((id_selector(rej), meta_selector(rej).map_err(bad_selector)?));
        }
        let field_paths: Vec<String> = if target.field_paths.is_empty() {
            vec!["metadata.name".into()]
        } else {
            target.field_paths.clone()
        };
        let options = target.options.clone().unwrap_or_default();
        for res in set.iter_mut() {
            if select_meta.as_ref().is_some_and(|m| !m.matches(res)) {
                continue;
            }
            if rejects
                .iter()
                .any(|(_, m)| m.as_ref().is_some_and(|m| m.matches(res)))
            {
                continue;
            }
            if !select_id.selects(res)
                || rejects
                    .iter()
                    .any(|(id, _)| !id.is_empty() && id.selects(res))
            {
                continue;
            }
            for fp in &field_paths {
                let segments = split_path(fp);
                let result = res.edit_value(|obj| set_all(obj, &segments, &value, &options));
                let what = if options.create {
                    "unable to find or create"
                } else {
                    "unable to find"
                };
                match result {
                    Ok(pointers) if !pointers.is_empty() => {
                        for p in pointers {
                            res.changed(p, &actor);
                        }
                    }
                    Ok(_) => {
                        return Err(err(
                            kf,
                            r,
                            format!(
                                "targets[{t}]: {what} field `{fp}` in {} (from {})",
                                res.id(),
                                res.origin
                            ),
                        )
                        .help(if options.create {
                            "check the field path against the target resource"
                        } else {
                            "check the field path, or set `options: {create: true}` on this target to create the field"
                        }));
                    }
                    Err(e) => {
                        return Err(err(
                            kf,
                            r,
                            format!(
                                "targets[{t}]: {what} field `{fp}` in {} (from {}): {e}",
                                res.id(),
                                res.origin
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// kyaml's `IsNilOrEmpty`: missing, null, `{}` or `[]`.
fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The text of a scalar, as YAML writes it.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Splits a field path at dots (kyaml's `SmarterPathSplitter`): `\.` is a dot inside a
/// segment, a leading dot is dropped, and a `[...]` segment is kept whole; without `=` its
/// brackets are dropped (`[cert-manager.io/inject-ca-from]` is one field name).
pub fn split_path(path: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut parts = path.split('.').collect::<Vec<_>>();
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    for p in parts {
        match raw.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(p);
            }
            _ => raw.push(p.to_string()),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let elem = &raw[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < raw.len() - 1 {
                i += 1;
                bracketed.push(raw[i].clone());
                if raw[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(['[', ']']).to_string());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

fn list_match(seg: &str) -> Option<(&str, &str)> {
    let inner = seg.strip_prefix('[')?.strip_suffix(']')?;
    inner.split_once('=')
}

/// The text a list element's field is compared as.
fn compare_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        other => scalar_text(other).unwrap_or_default(),
    }
}

/// kyaml's `PathGetter`: the field at `segments`, `None` when it is missing.
pub fn get<'v>(
    v: &'v Value,
    segments: &[String],
) -> std::result::Result<Option<&'v Value>, String> {
    let mut cur = v;
    for seg in segments {
        let next = if let Ok(i) = seg.parse::<i64>() {
            if i < 0 {
                return Err(format!("array index {i} cannot be negative"));
            }
            match cur {
                Value::Array(a) => a.get(i as usize),
                Value::Null => None,
                other => return Err(format!("`{seg}` indexes a {}, not a list", kind_of(other))),
            }
        } else if seg == "-" {
            match cur {
                Value::Array(a) => a.last(),
                _ => None,
            }
        } else if seg == "*" {
            return Err("a wildcard is not allowed in the source's field path".into());
        } else if let Some((k, val)) = list_match(seg) {
            match cur {
                Value::Array(a) => a.iter().find(|e| {
                    if k.is_empty() {
                        compare_text(e) == val
                    } else {
                        e.get(k).is_some_and(|x| compare_text(x) == val)
                    }
                }),
                Value::Null => None,
                other => {
                    return Err(format!(
                        "`{seg}` selects in a {}, not a list",
                        kind_of(other)
                    ));
                }
            }
        } else {
            match cur {
                Value::Object(m) => m.get(seg.as_str()),
                Value::Null => None,
                other => {
                    return Err(format!(
                        "`{seg}` is a field of a {}, not a mapping",
                        kind_of(other)
                    ));
                }
            }
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// What a created node is, from the segment that follows it (kyaml's `getPathPartKind`).
fn new_node(next: Option<&String>, value: &Value) -> Value {
    match next {
        None => match value {
            Value::Object(_) => Value::Object(Map::new()),
            Value::Array(_) => Value::Array(Vec::new()),
            _ => Value::Null,
        },
        Some(n) if (n.starts_with('[') && n.ends_with(']')) || n.parse::<u64>().is_ok() => {
            Value::Array(Vec::new())
        }
        Some(_) => Value::Object(Map::new()),
    }
}

/// kyaml's `PathMatcher` followed by kustomize's `setFieldValue`: writes `value` to every
/// field `segments` matches (creating the path when `options.create`), returning the JSON
/// pointers written.
fn set_all(
    root: &mut Value,
    segments: &[String],
    value: &Value,
    options: &Options,
) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    walk_set(root, segments, value, options, &mut String::new(), &mut out)?;
    // kustomize rewrites `metadata.annotations` as strings when it drops its build
    // annotations (after a rename, as in every overlay with a prefix or namespace), and
    // Kubernetes reads only strings there.
    for p in out
        .iter()
        .filter(|p| p.starts_with("/metadata/annotations/"))
    {
        if let Some(v) = root.pointer_mut(p)
            && let Some(t) = scalar_text(v).filter(|_| !v.is_string())
        {
            *v = Value::String(t);
        }
    }
    Ok(out)
}

fn walk_set(
    cur: &mut Value,
    segments: &[String],
    value: &Value,
    options: &Options,
    pointer: &mut String,
    out: &mut Vec<String>,
) -> std::result::Result<(), String> {
    let Some((seg, rest)) = segments.split_first() else {
        set_field(cur, value, options, false)?;
        out.push(pointer.clone());
        return Ok(());
    };
    let create = options.create;
    let len = pointer.len();
    if let Some(idx) = seg.parse::<i64>().ok().filter(|i| *i >= 0) {
        let idx = idx as usize;
        let Value::Array(a) = cur else {
            return Err(format!("`{seg}` indexes a {}, not a list", kind_of(cur)));
        };
        if a.len() == idx && create {
            a.push(new_node(rest.first(), value));
            return walk_created(
                a.last_mut().unwrap(),
                rest,
                value,
                options,
                pointer,
                idx,
                out,
            );
        }
        if a.len() < idx + 1 {
            return Err(format!(
                "index {idx} specified but only {} elements found",
                a.len()
            ));
        }
        pointer.push_str(&format!("/{idx}"));
        let r = walk_set(&mut a[idx], rest, value, options, pointer, out);
        pointer.truncate(len);
        return r;
    }
    if let Some((k, pattern)) = list_match(seg) {
        let re = Regex::new(pattern)
            .map_err(|e| format!("`{seg}`: `{pattern}` is not a valid regular expression: {e}"))?;
        let Value::Array(a) = cur else {
            if cur.is_null() {
                return Ok(());
            }
            return Err(format!("`{seg}` selects in a {}, not a list", kind_of(cur)));
        };
        let mut hit = false;
        for (i, e) in a.iter_mut().enumerate() {
            let text = if k.is_empty() {
                if e.is_object() || e.is_array() {
                    continue;
                }
                compare_text(e)
            } else {
                match e.get(k) {
                    Some(x) if !x.is_null() => compare_text(x),
                    _ => continue,
                }
            };
            if !re.is_match(&text) {
                continue;
            }
            hit = true;
            crate::model::pointer::push_index(pointer, i);
            let r = walk_set(e, rest, value, options, pointer, out);
            pointer.truncate(len);
            r?;
        }
        if !hit && create {
            // The new element's scalar is untyped: read as plain YAML, and written as a
            // created field.
            let elem = if k.is_empty() {
                plain(pattern)
            } else {
                let mut m = Map::new();
                m.insert(k.to_string(), plain(pattern));
                Value::Object(m)
            };
            a.push(elem);
            let i = a.len() - 1;
            return walk_created(&mut a[i], rest, value, options, pointer, i, out);
        }
        return Ok(());
    }
    if seg == "*" {
        let Value::Array(a) = cur else {
            return Err(format!("`*` selects in a {}, not a list", kind_of(cur)));
        };
        for (i, e) in a.iter_mut().enumerate() {
            crate::model::pointer::push_index(pointer, i);
            let r = walk_set(e, rest, value, options, pointer, out);
            pointer.truncate(len);
            r?;
        }
        return Ok(());
    }
    if cur.is_null() && create {
        *cur = Value::Object(Map::new());
    }
    let Value::Object(m) = cur else {
        if cur.is_null() {
            return Ok(());
        }
        return Err(format!(
            "`{seg}` is a field of a {}, not a mapping",
            kind_of(cur)
        ));
    };
    crate::model::pointer::push_key(pointer, seg);
    let r = match m.get_mut(seg.as_str()) {
        Some(next) => walk_set(next, rest, value, options, pointer, out),
        None if create => {
            m.insert(seg.clone(), new_node(rest.first(), value));
            let next = m.get_mut(seg.as_str()).unwrap();
            if rest.is_empty() {
                set_field(next, value, options, true).map(|()| out.push(pointer.clone()))
            } else {
                walk_set(next, rest, value, options, pointer, out)
            }
        }
        None => Ok(()),
    };
    pointer.truncate(len);
    r
}

fn walk_created(
    node: &mut Value,
    rest: &[String],
    value: &Value,
    options: &Options,
    pointer: &mut String,
    idx: usize,
    out: &mut Vec<String>,
) -> std::result::Result<(), String> {
    let len = pointer.len();
    pointer.push_str(&format!("/{idx}"));
    let r = if rest.is_empty() {
        set_field(node, value, options, true).map(|()| out.push(pointer.clone()))
    } else {
        walk_set(node, rest, value, options, pointer, out)
    };
    pointer.truncate(len);
    r
}

/// kustomize's `setFieldValue`: with a delimiter, replace one part of the target's text; a
/// scalar target keeps its type, anything else takes the value as is. `created` marks a
/// field made by `create` (an untyped scalar: the text is read as plain YAML).
fn set_field(
    target: &mut Value,
    value: &Value,
    options: &Options,
    created: bool,
) -> std::result::Result<(), String> {
    let target_is_scalar = !target.is_object() && !target.is_array();
    let mut text = scalar_text(value);
    if !options.delimiter.is_empty() {
        let Some(current) = scalar_text(target).filter(|_| target_is_scalar) else {
            return Err("`options.delimiter` can only be used on scalar fields".into());
        };
        let mut parts: Vec<String> = current
            .split(options.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let v = text.clone().unwrap_or_default();
        if options.index < 0 {
            parts.insert(0, v);
        } else if options.index as usize >= parts.len() {
            parts.push(v);
        } else {
            parts[options.index as usize] = v;
        }
        text = Some(parts.join(&options.delimiter));
    }
    if !target_is_scalar {
        *target = match (&text, options.delimiter.is_empty()) {
            (Some(t), false) => Value::String(t.clone()),
            _ => value.clone(),
        };
        return Ok(());
    }
    let Some(text) = text else {
        // A mapping or list written over a scalar: kustomize copies only the scalar text,
        // which is empty.
        *target = value.clone();
        return Ok(());
    };
    *target = match target {
        _ if created || target.is_null() => plain(&text),
        Value::String(_) => Value::String(text),
        Value::Number(_) | Value::Bool(_) => match plain(&text) {
            v @ (Value::Number(_) | Value::Bool(_)) => v,
            _ => Value::String(text),
        },
        _ => Value::String(text),
    };
    Ok(())
}

/// A scalar's text read as plain YAML (`8080` a number, `true` a boolean).
fn plain(text: &str) -> Value {
    match yaml::parse_single(text) {
        Ok(Some(doc)) if !doc.value.is_object() && !doc.value.is_array() => doc.value,
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(delimiter: &str, index: i64, create: bool) -> Options {
        Options {
            delimiter: delimiter.into(),
            index,
            create,
        }
    }

    fn set(mut v: Value, path: &str, value: Value, o: Options) -> (Value, Vec<String>) {
        let written = set_all(&mut v, &split_path(path), &value, &o).unwrap();
        (v, written)
    }

    #[test]
    fn paths_split_like_kyaml() {
        assert_eq!(split_path("metadata.name"), ["metadata", "name"]);
        assert_eq!(split_path(".metadata.name"), ["metadata", "name"]);
        assert_eq!(
            split_path("spec.template.spec.containers.[name=app].image"),
            [
                "spec",
                "template",
                "spec",
                "containers",
                "[name=app]",
                "image"
            ]
        );
        assert_eq!(
            split_path("metadata.annotations.[cert-manager.io/inject-ca-from]"),
            ["metadata", "annotations", "cert-manager.io/inject-ca-from"]
        );
        assert_eq!(
            split_path(r"metadata.annotations.config\.kubernetes\.io/x"),
            ["metadata", "annotations", "config.kubernetes.io/x"]
        );
        assert_eq!(
            split_path("spec.rules.[host=a.example.com].http"),
            ["spec", "rules", "[host=a.example.com]", "http"]
        );
        assert_eq!(split_path("spec.dnsNames.0"), ["spec", "dnsNames", "0"]);
    }

    #[test]
    fn source_lookup_forms() {
        let v = json!({"spec": {"containers": [
            {"name": "a", "image": "x:1", "ports": [{"containerPort": 80}]},
            {"name": "app", "image": "y:2"}
        ], "args": ["--a", "--b"]}});
        let g = |p: &str| get(&v, &split_path(p)).unwrap().cloned();
        assert_eq!(g("spec.containers.[name=app].image"), Some(json!("y:2")));
        assert_eq!(g("spec.containers.0.image"), Some(json!("x:1")));
        assert_eq!(g("spec.containers.-.name"), Some(json!("app")));
        assert_eq!(
            g("spec.containers.[name=ap].image"),
            None,
            "exact in sources"
        );
        assert_eq!(g("spec.args.[=--b]"), Some(json!("--b")));
        assert_eq!(
            g("spec.containers.0.ports.0.containerPort"),
            Some(json!(80))
        );
        assert_eq!(g("spec.missing.x"), None);
        assert!(get(&v, &split_path("spec.containers.*.image")).is_err());
    }

    #[test]
    fn target_list_selector_is_an_unanchored_regex() {
        let v = json!({"c": [{"name": "app", "image": "a"}, {"name": "myapp", "image": "b"},
                             {"name": "db", "image": "c"}]});
        let (v, w) = set(v, "c.[name=app].image", json!("new"), Options::default());
        assert_eq!(v["c"][0]["image"], "new");
        assert_eq!(v["c"][1]["image"], "new");
        assert_eq!(v["c"][2]["image"], "c");
        assert_eq!(w, ["/c/0/image", "/c/1/image"]);
    }

    #[test]
    fn wildcard_and_index_targets() {
        let v = json!({"c": [{"image": "a"}, {"image": "b"}]});
        let (v, w) = set(v, "c.*.image", json!("n"), Options::default());
        assert_eq!(v, json!({"c": [{"image": "n"}, {"image": "n"}]}));
        assert_eq!(w.len(), 2);
        let (v, _) = set(v, "c.1.image", json!("m"), Options::default());
        assert_eq!(v["c"][1]["image"], "m");
    }

    #[test]
    fn missing_fields_are_not_written_without_create() {
        let v = json!({"spec": {}});
        let (v2, w) = set(v.clone(), "spec.a.b", json!("x"), Options::default());
        assert!(w.is_empty());
        assert_eq!(v2, v);
        let (v3, w) = set(v, "spec.a.b", json!("x"), opts("", 0, true));
        assert_eq!(v3, json!({"spec": {"a": {"b": "x"}}}));
        assert_eq!(w, ["/spec/a/b"]);
    }

    #[test]
    fn create_appends_list_elements() {
        let v = json!({"spec": {}});
        let (v, _) = set(v, "spec.dnsNames.0", json!("svc"), opts(".", 0, true));
        assert_eq!(v, json!({"spec": {"dnsNames": ["svc"]}}));
        let (v, _) = set(v, "spec.dnsNames.0", json!("ns"), opts(".", 1, true));
        assert_eq!(v, json!({"spec": {"dnsNames": ["svc.ns"]}}));
        let (v, _) = set(v, "spec.c.[name=x].image", json!("i"), opts("", 0, true));
        assert_eq!(v["spec"]["c"], json!([{"name": "x", "image": "i"}]));
        // A created scalar element takes the value as plain YAML (kubectl: `args: [7]`).
        let (v, _) = set(v, "spec.args.[=--y]", json!("7"), opts("", 0, true));
        assert_eq!(v["spec"]["args"], json!([7]));
    }

    #[test]
    fn delimiter_index_replaces_prefixes_or_appends() {
        let v = json!({"a": "x.y.z"});
        assert_eq!(
            set(v.clone(), "a", json!("N"), opts(".", 1, false)).0["a"],
            "x.N.z"
        );
        assert_eq!(
            set(v.clone(), "a", json!("N"), opts(".", -1, false)).0["a"],
            "N.x.y.z"
        );
        assert_eq!(
            set(v.clone(), "a", json!("N"), opts(".", 9, false)).0["a"],
            "x.y.z.N"
        );
        assert_eq!(set(v, "a", json!("N"), opts("", 1, false)).0["a"], "N");
        let mut m = json!({"a": {"b": 1}});
        assert!(set_all(&mut m, &split_path("a"), &json!("N"), &opts(".", 0, false)).is_err());
    }

    #[test]
    fn scalars_keep_their_type() {
        let v = json!({"n": 1, "s": "1", "b": false});
        let (v, _) = set(v, "n", json!("3"), Options::default());
        let (v, _) = set(v, "s", json!(5), Options::default());
        let (v, _) = set(v, "b", json!("true"), Options::default());
        assert_eq!(v, json!({"n": 3, "s": "5", "b": true}));
        let (v, _) = set(json!({}), "n", json!("8080"), opts("", 0, true));
        assert_eq!(v, json!({"n": 8080}));
    }

    #[test]
    fn structures_replace_whole() {
        let v = json!({"a": {"x": 1}});
        let (v, _) = set(v, "a", json!({"y": [1]}), Options::default());
        assert_eq!(v, json!({"a": {"y": [1]}}));
    }
}
