//! Argo CD's view of a repository, offline: the `Application`s and `ApplicationSet`s in its
//! manifest files (outside kustomization directories, whose files are inputs) and those an
//! app of apps renders, the ones whose source is this repository, and
//! each rendered as Argo CD's repo-server would render it, for `strata diff --argocd`.
//!
//! Sources: a kustomization directory, with `spec.source.kustomize` (namePrefix, nameSuffix,
//! namespace, images, replicas, commonLabels, commonAnnotations, patches, components) applied
//! by a wrapping kustomization, as `kustomize edit` would set them; a plain directory
//! (`directory.recurse`, `include`, `exclude`); the strata plugin (its `env` as
//! `ARGOCD_ENV_*`, its `parameters`). An app strata cannot render offline (Helm, another
//! repository, another plugin) is kept, with the reason, never dropped.
//!
//! ApplicationSets: the `list`, git `directories` and git `files`, `matrix`, `merge` and
//! `clusters` (from a clusters file the user gives) generators, with the template's
//! `{{param}}` (fasttemplate) or, with `goTemplate: true`, `{{.param.path}}` and `{{index
//! .path.segments N}}` expressions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSetBuilder};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// How an app's manifests are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A kustomization directory (relative to the repository root) and the options of
    /// `spec.source.kustomize`.
    Kustomize { path: String, options: Value },
    /// A directory of plain manifests.
    Directory {
        path: String,
        recurse: bool,
        include: Option<String>,
        exclude: Option<String>,
    },
    /// The strata plugin, with the app's `env` and parameters.
    Strata {
        path: String,
        env: Vec<(String, String)>,
    },
    /// What strata cannot render offline, and why.
    Offline(String),
}

/// One Argo CD Application, as strata renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub name: String,
    /// `server-or-name/namespace`.
    pub destination: String,
    pub source: Source,
    /// Where it was defined (a file of the repository, or the app that rendered it).
    pub defined_in: String,
}

/// A repository URL compared as Argo CD compares them: no scheme, no user, no `.git`, no
/// trailing slash, case-insensitive host.
pub fn normalize_url(url: &str) -> String {
    let mut u = url.trim().to_string();
    for scheme in ["https://", "http://", "ssh://", "git://", "file://"] {
        if let Some(rest) = u.strip_prefix(scheme) {
            u = rest.to_string();
        }
    }
    if let Some((_, rest)) = u.split_once('@') {
        u = rest.to_string();
    }
    // `host:owner/repo` (scp-like) is `host/owner/repo`.
    if let Some((host, rest)) = u.split_once(':')
        && !rest.starts_with('/')
        && !host.contains('/')
    {
        u = format!("{host}/{rest}");
    }
    let u = u.trim_end_matches('/').trim_end_matches(".git");
    u.to_ascii_lowercase()
}

fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// An Application object as an [`App`]; `repo` is this repository's normalized URL.
pub fn app_of(v: &Value, repo: &str, defined_in: &str) -> Option<App> {
    let name = s(v, "/metadata/name")?.to_string();
    let dest = v.pointer("/spec/destination");
    let destination = format!(
        "{}/{}",
        dest.and_then(|d| d.get("name").or(d.get("server")))
            .and_then(Value::as_str)
            .unwrap_or("?"),
        dest.and_then(|d| d.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("")
    );
    let source = match (v.pointer("/spec/source"), v.pointer("/spec/sources")) {
        (Some(src), _) => source_of(src, repo),
        (None, Some(Value::Array(list))) if list.len() == 1 => source_of(&list[0], repo),
        (None, Some(_)) => Source::Offline("several sources (spec.sources)".into()),
        (None, None) => Source::Offline(if v.pointer("/spec/sourceHydrator").is_some() {
            "a sourceHydrator (its dry source is rendered by Argo CD's hydrator)".into()
        } else {
            "no spec.source".into()
        }),
    };
    Some(App {
        name,
        destination,
        source,
        defined_in: defined_in.to_string(),
    })
}

fn source_of(src: &Value, repo: &str) -> Source {
    let url = s(src, "/repoURL").unwrap_or("");
    if src.get("chart").is_some() || src.get("helm").is_some() {
        return Source::Offline("a Helm chart".into());
    }
    if normalize_url(url) != repo {
        return Source::Offline(format!("another repository ({url})"));
    }
    let path = s(src, "/path").unwrap_or(".").trim_matches('/').to_string();
    let path = if path.is_empty() { ".".into() } else { path };
    if let Some(plugin) = src.get("plugin") {
        let name = s(plugin, "/name").unwrap_or("");
        if !name.is_empty() && !name.starts_with("strata") {
            return Source::Offline(format!("the config management plugin {name}"));
        }
        let mut env = Vec::new();
        for e in plugin
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(n), Some(v)) = (s(e, "/name"), s(e, "/value")) {
                env.push((format!("ARGOCD_ENV_{n}"), v.to_string()));
            }
        }
        for p in plugin
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(n), Some(v)) = (s(p, "/name"), s(p, "/string")) {
                env.push((format!("PARAM_{}", n.to_ascii_uppercase()), v.to_string()));
            }
        }
        return Source::Strata { path, env };
    }
    if let Some(d) = src.get("directory") {
        return Source::Directory {
            path,
            recurse: d.get("recurse").and_then(Value::as_bool) == Some(true),
            include: s(d, "/include").map(str::to_string),
            exclude: s(d, "/exclude").map(str::to_string),
        };
    }
    Source::Kustomize {
        path,
        options: src.get("kustomize").cloned().unwrap_or(Value::Null),
    }
}

/// Every Application and ApplicationSet (expanded) in the repository's YAML and JSON
/// files below `root`.
pub fn discover(root: &Path, repo: &str, clusters: &[Value]) -> Result<Vec<App>> {
    let mut out = Vec::new();
    for file in manifest_files(root) {
        // A file of a kustomization directory is an input of that kustomization: its
        // Applications are the ones the kustomization renders (an app of apps), found when
        // the app pointing there is rendered.
        if file.parent().is_some_and(|d| {
            crate::kustomize::load::kustomization::FILE_NAMES
                .iter()
                .any(|f| d.join(f).is_file())
        }) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if !text.contains("argoproj.io") {
            continue;
        }
        let Ok(docs) = crate::yaml::parse_stream(&text) else {
            continue;
        };
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for d in docs {
            out.extend(apps_in(&d.value, repo, &rel, root, clusters)?);
        }
    }
    Ok(out)
}

/// The apps one object stands for: an Application, the apps an ApplicationSet generates.
pub fn apps_in(
    v: &Value,
    repo: &str,
    defined_in: &str,
    root: &Path,
    clusters: &[Value],
) -> Result<Vec<App>> {
    let api = s(v, "/apiVersion").unwrap_or("");
    if !api.starts_with("argoproj.io/") {
        return Ok(Vec::new());
    }
    match s(v, "/kind") {
        Some("Application") => Ok(app_of(v, repo, defined_in).into_iter().collect()),
        Some("ApplicationSet") => application_set(v, repo, defined_in, root, clusters),
        _ => Ok(Vec::new()),
    }
}

fn manifest_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One generator's parameter sets (nested JSON objects; fasttemplate reads them flattened).
fn generate(g: &Value, root: &Path, clusters: &[Value]) -> Result<Vec<Map<String, Value>>> {
    if let Some(list) = g.pointer("/list/elements").and_then(Value::as_array) {
        return Ok(list.iter().filter_map(|e| e.as_object().cloned()).collect());
    }
    if let Some(git) = g.get("git") {
        if let Some(dirs) = git.get("directories").and_then(Value::as_array) {
            return git_directories(dirs, root);
        }
        if let Some(files) = git.get("files").and_then(Value::as_array) {
            return git_files(files, root);
        }
    }
    if let Some(c) = g.get("clusters") {
        let selector = c
            .pointer("/selector/matchLabels")
            .and_then(Value::as_object);
        return Ok(clusters
            .iter()
            .filter(|cl| {
                selector.is_none_or(|sel| {
                    sel.iter()
                        .all(|(k, v)| cl.pointer(&format!("/metadata/labels/{k}")) == Some(v))
                })
            })
            .filter_map(|cl| {
                let mut p = cl.as_object()?.clone();
                p.entry("metadata")
                    .or_insert_with(|| json!({"labels": {}, "annotations": {}}));
                Some(p)
            })
            .collect());
    }
    if let Some(parts) = g.pointer("/matrix/generators").and_then(Value::as_array) {
        let mut acc: Vec<Map<String, Value>> = vec![Map::new()];
        for part in parts {
            let sets = generate(part, root, clusters)?;
            acc = acc
                .iter()
                .flat_map(|a| {
                    sets.iter().map(move |b| {
                        let mut m = a.clone();
                        m.extend(b.clone());
                        m
                    })
                })
                .collect();
        }
        return Ok(acc);
    }
    if let Some(m) = g.get("merge") {
        let keys: Vec<&str> = m
            .get("mergeKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let parts: Vec<&Value> = m
            .get("generators")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let Some((first, rest)) = parts.split_first() else {
            return Ok(Vec::new());
        };
        let mut base = generate(first, root, clusters)?;
        for part in rest {
            for over in generate(part, root, clusters)? {
                for b in base.iter_mut() {
                    if keys.iter().all(|k| lookup(b, k) == lookup(&over, k)) {
                        b.extend(over.clone());
                    }
                }
            }
        }
        return Ok(base);
    }
    Err(Error::new(format!(
        "an ApplicationSet generator strata does not evaluate offline: {}",
        g.as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default()
    )))
}

fn path_params(rel: &str) -> Value {
    let segments: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    let basename = segments.last().copied().unwrap_or("");
    let normalized: String = basename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    json!({
        "path": rel,
        "basename": basename,
        "basenameNormalized": normalized,
        "segments": segments,
    })
}

fn glob_set(patterns: &[&str]) -> Result<globset::GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| Error::new(format!("invalid path pattern `{p}`: {e}")))?);
    }
    b.build().map_err(|e| Error::new(e.to_string()))
}

fn all_paths(root: &Path, dirs: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = e.path();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                stack.push(p.clone());
            }
            if is_dir == dirs
                && let Ok(rel) = p.strip_prefix(root)
            {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn git_directories(dirs: &[Value], root: &Path) -> Result<Vec<Map<String, Value>>> {
    let (mut inc, mut exc) = (Vec::new(), Vec::new());
    for d in dirs {
        if let Some(p) = s(d, "/path") {
            if d.get("exclude").and_then(Value::as_bool) == Some(true) {
                exc.push(p);
            } else {
                inc.push(p);
            }
        }
    }
    let (inc, exc) = (glob_set(&inc)?, glob_set(&exc)?);
    Ok(all_paths(root, true)
        .into_iter()
        .filter(|p| inc.is_match(p) && !exc.is_match(p))
        .map(|p| {
            let mut m = Map::new();
            m.insert("path".into(), path_params(&p));
            m
        })
        .collect())
}

fn git_files(files: &[Value], root: &Path) -> Result<Vec<Map<String, Value>>> {
    let patterns: Vec<&str> = files.iter().filter_map(|f| s(f, "/path")).collect();
    let set = glob_set(&patterns)?;
    let mut out = Vec::new();
    for rel in all_paths(root, false)
        .into_iter()
        .filter(|p| set.is_match(p))
    {
        let text = std::fs::read_to_string(root.join(&rel))
            .map_err(|e| Error::new(format!("cannot read {rel}: {e}")))?;
        let docs =
            crate::yaml::parse_stream(&text).map_err(|e| Error::from_yaml(e, Path::new(&rel)))?;
        for d in docs {
            let items = match d.value {
                Value::Array(a) => a,
                v => vec![v],
            };
            for item in items {
                let Value::Object(mut m) = item else { continue };
                let dir = Path::new(&rel)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let mut path = path_params(&dir);
                path["filename"] = json!(
                    Path::new(&rel)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                );
                m.insert("path".into(), path);
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// A dotted parameter (`path.basename`, `metadata.labels.env`, `path[1]`) of a set.
fn lookup(params: &Map<String, Value>, key: &str) -> Option<Value> {
    let mut cur = Value::Object(params.clone());
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = cur.get(name)?.clone();
        if let Some(i) = index {
            let list = if name == "path" {
                cur.get("segments")?.clone()
            } else {
                cur.clone()
            };
            cur = list.get(i)?.clone();
        }
    }
    // A path parameter used alone is its full path.
    if let Value::Object(m) = &cur
        && let Some(p) = m.get("path").filter(|_| m.contains_key("segments"))
    {
        return Some(p.clone());
    }
    Some(cur)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// Fills `{{...}}` expressions of a string from a parameter set.
fn fill(text: &str, params: &Map<String, Value>, go: bool) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(Error::new(format!("unclosed `{{{{` in `{text}`")));
        };
        let expr = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let value = if go {
            go_expr(expr, params)?
        } else {
            lookup(params, expr).map(|v| text_of(&v))
        };
        match value {
            Some(v) => out.push_str(&v),
            // fasttemplate leaves an unknown parameter as written.
            None if !go => out.push_str(&rest[start..start + 2 + end + 2]),
            None => out.push_str("<no value>"),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The Go template expressions strata evaluates: `.a.b`, `index .a.b N`.
fn go_expr(expr: &str, params: &Map<String, Value>) -> Result<Option<String>> {
    let words: Vec<&str> = expr.split_whitespace().collect();
    let field = |w: &str| -> Option<Value> {
        let w = w.strip_prefix('.')?;
        let mut cur = Value::Object(params.clone());
        for part in w.split('.').filter(|p| !p.is_empty()) {
            cur = cur.get(part)?.clone();
        }
        Some(cur)
    };
    match words.as_slice() {
        [one] if one.starts_with('.') => Ok(field(one).map(|v| text_of(&v))),
        ["index", list, n] => {
            let i: usize = n
                .parse()
                .map_err(|_| Error::new(format!("`{expr}`: index needs a number")))?;
            Ok(field(list)
                .and_then(|l| l.get(i).cloned())
                .map(|v| text_of(&v)))
        }
        _ => Err(Error::new(format!(
            "the template expression `{{{{{expr}}}}}` is beyond what strata evaluates offline (fields and `index`)"
        ))),
    }
}

fn fill_value(v: &Value, params: &Map<String, Value>, go: bool) -> Result<Value> {
    Ok(match v {
        Value::String(s) => Value::String(fill(s, params, go)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| fill_value(x, params, go))
                .collect::<Result<_>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(fill(k, params, go)?, fill_value(x, params, go)?);
            }
            Value::Object(out)
        }
        v => v.clone(),
    })
}

fn application_set(
    v: &Value,
    repo: &str,
    defined_in: &str,
    root: &Path,
    clusters: &[Value],
) -> Result<Vec<App>> {
    let set_name = s(v, "/metadata/name").unwrap_or("?");
    let go = v.pointer("/spec/goTemplate").and_then(Value::as_bool) == Some(true);
    let template = v.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let offline = |why: String| {
        vec![App {
            name: format!("{set_name} (ApplicationSet)"),
            destination: "?".into(),
            source: Source::Offline(why),
            defined_in: defined_in.to_string(),
        }]
    };
    let mut params: Vec<Map<String, Value>> = Vec::new();
    for g in v
        .pointer("/spec/generators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match generate(g, root, clusters) {
            Ok(p) => params.extend(p),
            Err(e) => return Ok(offline(e.message)),
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for p in params {
        let filled = match fill_value(&template, &p, go) {
            Ok(f) => f,
            Err(e) => return Ok(offline(e.message)),
        };
        let mut app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"});
        app["metadata"] = filled.get("metadata").cloned().unwrap_or(Value::Null);
        app["spec"] = filled.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(a) = app_of(
            &app,
            repo,
            &format!("{defined_in} (ApplicationSet {set_name})"),
        ) {
            if seen.insert(a.name.clone(), ()).is_some() {
                return Ok(offline(format!(
                    "it generates the application name {} twice",
                    a.name
                )));
            }
            out.push(a);
        }
    }
    Ok(out)
}

/// The kustomization wrapping an app's kustomize source with its `spec.source.kustomize`
/// options, as `kustomize edit` sets them: written into `dir` (outside the repository),
/// naming the app's directory `app` (absolute).
pub fn kustomize_wrapper(app: &Path, options: &Value) -> Result<String> {
    let mut k = Map::new();
    k.insert("resources".into(), json!([app.display().to_string()]));
    let Value::Object(o) = options else {
        return Ok(crate::yaml::to_yaml(&Value::Object(k)));
    };
    for (field, to) in [
        ("namePrefix", "namePrefix"),
        ("nameSuffix", "nameSuffix"),
        ("namespace", "namespace"),
        ("commonLabels", "commonLabels"),
        ("commonAnnotations", "commonAnnotations"),
        ("patches", "patches"),
    ] {
        if let Some(v) = o.get(field) {
            k.insert(to.into(), v.clone());
        }
    }
    if let Some(Value::Array(images)) = o.get("images") {
        // Argo CD's `name=newName:tag` strings, as `kustomize edit set image` reads them.
        let list: Vec<Value> = images
            .iter()
            .filter_map(Value::as_str)
            .map(|i| {
                let (name, new) = i.split_once('=').unwrap_or((i, i));
                let (new_name, tag) = match new.rsplit_once(':') {
                    Some((n, t)) if !t.contains('/') => (n, Some(t)),
                    _ => (new, None),
                };
                let mut m = Map::new();
                m.insert("name".into(), json!(name));
                if new_name != name {
                    m.insert("newName".into(), json!(new_name));
                }
                if let Some(t) = tag {
                    m.insert("newTag".into(), json!(t));
                }
                Value::Object(m)
            })
            .collect();
        k.insert("images".into(), Value::Array(list));
    }
    if let Some(Value::Array(replicas)) = o.get("replicas") {
        k.insert("replicas".into(), Value::Array(replicas.clone()));
    }
    if let Some(Value::Array(components)) = o.get("components") {
        let list: Vec<Value> = components
            .iter()
            .filter_map(Value::as_str)
            .map(|c| json!(app.join(c).display().to_string()))
            .collect();
        k.insert("components".into(), Value::Array(list));
    }
    Ok(crate::yaml::to_yaml(&Value::Object(k)))
}

/// An app's objects, rendered as Argo CD's repo-server would, from the repository at
/// `root`, with the build options of `options`; `shared` (a sharing builder with those
/// options, confined to `root`) renders the plain kustomizations and directories.
pub fn render(
    app: &App,
    root: &Path,
    options: &crate::kustomize::build::Options,
    shared: &crate::kustomize::build::Builder,
) -> Result<crate::model::ResourceSet> {
    let options = crate::kustomize::build::Options {
        repository_root: Some(root.to_path_buf()),
        ..options.clone()
    };
    match &app.source {
        Source::Offline(why) => Err(Error::new(format!("not rendered offline: {why}"))),
        Source::Kustomize { path, options: k } => {
            let dir = root.join(path);
            let plain = k.as_object().is_none_or(|m| m.is_empty());
            // Apps over the same bases share their parsed files and built trees.
            if plain {
                return shared.render(&dir);
            }
            let dir = dir
                .canonicalize()
                .map_err(|e| Error::new(format!("cannot open {path}: {e}")))?;
            let wrapper = tempfile::Builder::new()
                .prefix("strata-app-")
                .tempdir()
                .map_err(|e| Error::new(format!("cannot create a temporary directory: {e}")))?;
            std::fs::write(
                wrapper.path().join("kustomization.yaml"),
                kustomize_wrapper(&dir, k)?,
            )
            .map_err(|e| Error::new(format!("cannot write a temporary file: {e}")))?;
            // The wrapper sits outside the repository: only its own files are admitted.
            let builder =
                crate::hostnet::builder().with_options(crate::kustomize::build::Options {
                    repository_root: None,
                    ..options
                });
            builder.render(wrapper.path())
        }
        Source::Directory {
            path,
            recurse,
            include,
            exclude,
        } => {
            let dir = root.join(path);
            let builder = shared;
            let matcher = |p: &Option<String>| -> Result<Option<globset::GlobSet>> {
                match p {
                    None => Ok(None),
                    Some(p) => {
                        let pats: Vec<&str> = p
                            .trim_matches(|c| c == '{' || c == '}')
                            .split(',')
                            .map(str::trim)
                            .collect();
                        glob_set(&pats).map(Some)
                    }
                }
            };
            let (inc, exc) = (matcher(include)?, matcher(exclude)?);
            let mut files: Vec<PathBuf> = if *recurse {
                all_paths(&dir, false)
                    .into_iter()
                    .map(|p| dir.join(p))
                    .collect()
            } else {
                std::fs::read_dir(&dir)
                    .map_err(|e| Error::new(format!("cannot read {path}: {e}")))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            };
            files.sort();
            let mut set = Vec::new();
            for f in files {
                let rel = f.strip_prefix(&dir).unwrap_or(&f).display().to_string();
                let manifest = matches!(
                    f.extension().and_then(|x| x.to_str()),
                    Some("yaml" | "yml" | "json")
                );
                if !manifest
                    || inc.as_ref().is_some_and(|g| !g.is_match(&rel))
                    || exc.as_ref().is_some_and(|g| g.is_match(&rel))
                {
                    continue;
                }
                let canonical = f
                    .canonicalize()
                    .map_err(|e| Error::new(format!("cannot open {rel}: {e}")))?;
                set.extend(builder.loader.resources(&canonical)?);
            }
            Ok(set)
        }
        Source::Strata { path, env } => {
            let dir = root.join(path);
            let env: std::collections::HashMap<String, String> = env.iter().cloned().collect();
            let declared: Vec<String> = super::declared_vars(&dir, &options)?
                .into_iter()
                .map(|d| d.name)
                .collect();
            let values = super::parameter_values(&env, &declared)?;
            let kinds = crate::hostnet::StrataKinds::new(super::plugin_overrides(&env, values));
            kinds.builder(false).with_options(options).render(&dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_compare_as_argo_cd_compares_them() {
        let a = normalize_url("https://github.com/Org/Repo.git");
        assert_eq!(a, normalize_url("git@github.com:org/repo"));
        assert_eq!(a, normalize_url("ssh://git@github.com/org/repo/"));
        assert_ne!(a, normalize_url("https://github.com/org/other"));
    }

    #[test]
    fn merge_overrides_by_key_and_matrix_multiplies() {
        let root = Path::new(".");
        let merged = generate(
            &json!({"merge": {"mergeKeys": ["cluster"], "generators": [
                {"list": {"elements": [{"cluster": "a", "size": "s"}, {"cluster": "b", "size": "s"}]}},
                {"list": {"elements": [{"cluster": "b", "size": "xl"}]}}
            ]}}),
            root,
            &[],
        )
        .unwrap();
        let sizes: Vec<&str> = merged.iter().map(|m| m["size"].as_str().unwrap()).collect();
        assert_eq!(sizes, ["s", "xl"]);
        let product = generate(
            &json!({"matrix": {"generators": [
                {"list": {"elements": [{"a": 1}, {"a": 2}]}},
                {"list": {"elements": [{"b": 1}, {"b": 2}, {"b": 3}]}}
            ]}}),
            root,
            &[],
        )
        .unwrap();
        assert_eq!(product.len(), 6);
        assert!(generate(&json!({"pullRequest": {}}), root, &[]).is_err());
    }

    #[test]
    fn templates_fill_both_ways() {
        let mut p = Map::new();
        p.insert("path".into(), path_params("apps/web/overlays/prod"));
        p.insert("cluster".into(), json!("prod-1"));
        assert_eq!(
            fill("{{path.basename}}-{{cluster}}-{{path[1]}}", &p, false).unwrap(),
            "prod-prod-1-web"
        );
        assert_eq!(
            fill("{{path}}", &p, false).unwrap(),
            "apps/web/overlays/prod"
        );
        assert_eq!(fill("{{nope}}", &p, false).unwrap(), "{{nope}}");
        assert_eq!(
            fill("{{.path.basename}}/{{ index .path.segments 1 }}", &p, true).unwrap(),
            "prod/web"
        );
        assert!(fill("{{ .path.basename | upper }}", &p, true).is_err());
    }
}
