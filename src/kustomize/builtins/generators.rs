//! `configMapGenerator` and `secretGenerator`: ConfigMaps and Secrets made from literals,
//! files and env files, merged into (or replacing) a generated object of a base by their
//! `behavior`, and named at the end of a render with kustomize's content hash
//! (`api/hasher/hasher.go`), after which every reference to them follows
//! (`references::fix_back_references`).
//!
//! This lives with the transforms, not with loading: reading the sources is the small part;
//! what matters is where the objects join the accumulated resources (after `resources`,
//! before `components`, kustomize's `accumulateTarget`), how they merge with earlier ones, and
//! the hash, which is a last step over the finished build like the other name fixes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomize::load::kustomization::KustFile;
use crate::kustomize::load::{self, Loader};
use crate::model::{Origin, Resource, ResourceSet};

/// The annotation marking an object whose name gets the content hash at the end of a render.
/// kustomize's own (`BuildAnnotationsGenAddHashSuffix`): kustomize hashes any object carrying
/// it, so strata does too; it never reaches the output.
pub const NEEDS_HASH: &str = "kustomize.config.k8s.io/needsHashSuffix";

/// `generatorOptions`, and `options` of one generator.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: IndexMap<String, String>,
    #[serde(default)]
    pub annotations: IndexMap<String, String>,
    #[serde(default)]
    pub disable_name_suffix_hash: bool,
    #[serde(default)]
    pub immutable: bool,
}

impl GeneratorOptions {
    /// kustomize's `MergeGlobalOptionsIntoLocal`: local labels and annotations win, either
    /// side's `disableNameSuffixHash` and `immutable` hold.
    fn merged_with(&self, global: Option<&GeneratorOptions>) -> GeneratorOptions {
        let mut out = self.clone();
        if let Some(g) = global {
            for (k, v) in &g.labels {
                out.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &g.annotations {
                out.annotations
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
            out.disable_name_suffix_hash |= g.disable_name_suffix_hash;
            out.immutable |= g.immutable;
        }
        out
    }
}

/// One entry of `configMapGenerator` or `secretGenerator` (or a generator config).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorArgs {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub behavior: Option<String>,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    pub env: Option<String>,
    pub options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Create,
    Merge,
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    ConfigMap,
    Secret,
}

impl GenKind {
    fn field(self) -> &'static str {
        match self {
            GenKind::ConfigMap => "configMapGenerator",
            GenKind::Secret => "secretGenerator",
        }
    }
    fn kind(self) -> &'static str {
        match self {
            GenKind::ConfigMap => "ConfigMap",
            GenKind::Secret => "Secret",
        }
    }
    /// kustomize's builtin plugin.
    fn plugin(self) -> &'static str {
        match self {
            GenKind::ConfigMap => "ConfigMapGenerator",
            GenKind::Secret => "SecretGenerator",
        }
    }
}

/// Reads a field kept as a free value in the kustomization into its type, with the error
/// pointing at the offending entry.
/// Fields it does not know are errors, as in kustomize's reading of a kustomization.
fn parse<T: for<'de> Deserialize<'de>>(kf: &KustFile, field: &str, v: &Value) -> Result<T> {
    let mut unknown: Vec<String> = Vec::new();
    let parsed =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(v.clone(), &mut |p| {
            unknown.push(p.to_string())
        }));
    if let (Ok(_), Some(u)) = (&parsed, unknown.first()) {
        let mut path = vec![field.to_string()];
        path.extend(u.split('.').map(str::to_string));
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let name = path.last().cloned().unwrap_or_default();
        return Err(kf.error_at(&refs, format!("invalid `{field}`: unknown field `{name}`")));
    }
    parsed.map_err(|e| {
        let mut path = vec![field.to_string()];
        path.extend(e.path().iter().map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => index.to_string(),
            serde_path_to_error::Segment::Map { key } => key.clone(),
            other => other.to_string(),
        }));
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        kf.error_at(&refs, format!("invalid `{field}`: {}", e.into_inner()))
    })
}

/// Runs the generators of one kustomization (or component) and adds what they make to `set`,
/// merging or replacing by `behavior` (kustomize's `appendReplaceOrMerge`).
/// `meta`: the origin record, when the render keeps one.
pub fn run(
    kf: &KustFile,
    loader: &Loader,
    set: &mut ResourceSet,
    meta: Option<&crate::kustomize::build_metadata::Tracking>,
) -> Result<()> {
    let s = &kf.spec;
    let global: Option<GeneratorOptions> = match &s.generator_options {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse(kf, "generatorOptions", v)?),
    };
    for (kind, field) in [
        (GenKind::ConfigMap, &s.config_map_generator),
        (GenKind::Secret, &s.secret_generator),
    ] {
        let entries: Vec<GeneratorArgs> = match field {
            None | Some(Value::Null) => continue,
            Some(v) => parse(kf, kind.field(), v)?,
        };
        for (i, args) in entries.iter().enumerate() {
            let idx = i.to_string();
            let at = |e: Error| {
                if e.file.is_some() {
                    e.context(format!(
                        "in {}[{i}] of {}",
                        kind.field(),
                        kf.display().display()
                    ))
                } else {
                    e.in_file(kf.display()).at_opt(crate::yaml::locate(
                        &kf.file.src,
                        0,
                        &[kind.field(), &idx],
                    ))
                }
            };
            let origin = Origin {
                file: Arc::new(kf.display().to_path_buf()),
                line: kf
                    .file
                    .locate(0, &[kind.field(), &idx])
                    .map_or(1, |(l, _)| l),
                doc_index: 0,
                item: None,
            };
            let what = format!("{}[{i}]", kind.field());
            let (behavior, mut r) =
                generate(kf, loader, kind, &what, origin, args, global.as_ref()).map_err(at)?;
            if let Some(t) = meta {
                crate::kustomize::build_metadata::add(
                    &mut r,
                    &t.builtin(kf.display(), kind.plugin()),
                );
            }
            absorb(set, r, behavior).map_err(at)?;
        }
    }
    Ok(())
}

/// Makes one ConfigMap or Secret; `kf` is the kustomization whose directory holds its
/// files, `what` names the entry in messages, `origin` is where it is written.
pub fn generate(
    kf: &KustFile,
    loader: &Loader,
    kind: GenKind,
    what: &str,
    origin: Origin,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
) -> Result<(Behavior, Resource)> {
    let name = args
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::new(format!(
                "{what}: a {} generator needs a `name`",
                kind.kind()
            ))
        })?;
    let behavior = match args.behavior.as_deref() {
        None | Some("") | Some("create") => Behavior::Create,
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        Some(other) => {
            return Err(Error::new(format!(
                "{what}: unknown behavior `{other}`: expected create, merge or replace"
            )));
        }
    };
    if kind == GenKind::ConfigMap && args.type_.is_some() {
        return Err(Error::new(format!(
            "{what}: `type` is a field of Secrets, not of ConfigMaps"
        )));
    }
    let mut envs = args.envs.clone();
    envs.extend(args.env.iter().filter(|e| !e.is_empty()).cloned());
    let pairs = load_pairs(kf, loader, what, &envs, &args.literals, &args.files)?;
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in pairs {
        check_data_key(what, &k)?;
        if data.insert(k.clone(), v).is_some() {
            return Err(Error::new(format!(
                "{what}: {} {name} repeats the key `{k}`",
                kind.kind().to_ascii_lowercase()
            )));
        }
    }
    let opts = args.options.clone().unwrap_or_default().merged_with(global);

    let mut obj = Map::new();
    obj.insert("apiVersion".into(), "v1".into());
    obj.insert("kind".into(), kind.kind().into());
    let mut md = Map::new();
    md.insert("name".into(), name.into());
    if let Some(ns) = args.namespace.as_deref().filter(|n| !n.is_empty()) {
        md.insert("namespace".into(), ns.into());
    }
    obj.insert("metadata".into(), Value::Object(md));
    match kind {
        GenKind::ConfigMap => {
            let mut text = Map::new();
            let mut binary = Map::new();
            for (k, v) in data {
                match String::from_utf8(v) {
                    Ok(s) => {
                        text.insert(k, Value::String(s));
                    }
                    Err(e) => {
                        binary.insert(k, Value::String(go_base64(e.as_bytes())));
                    }
                }
            }
            if !text.is_empty() {
                obj.insert("data".into(), Value::Object(text));
            }
            if !binary.is_empty() {
                obj.insert("binaryData".into(), Value::Object(binary));
            }
        }
        GenKind::Secret => {
            let ty = args.type_.as_deref().filter(|t| !t.is_empty());
            obj.insert("type".into(), ty.unwrap_or("Opaque").into());
            let d: Map<String, Value> = data
                .into_iter()
                .map(|(k, v)| (k, Value::String(go_base64(&v))))
                .collect();
            obj.insert("data".into(), Value::Object(d));
        }
    }
    let mut r = Resource::from_value(Value::Object(obj), origin)?;
    let mut md = r.metadata_mut();
    let mut sorted_labels: Vec<_> = opts.labels.iter().collect();
    sorted_labels.sort();
    let mut sorted_annotations: Vec<_> = opts.annotations.iter().collect();
    sorted_annotations.sort();
    if !sorted_labels.is_empty() {
        let m = sub_map(&mut md, "labels");
        for (k, v) in sorted_labels {
            m.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if !sorted_annotations.is_empty() || !opts.disable_name_suffix_hash {
        let m = sub_map(&mut md, "annotations");
        for (k, v) in sorted_annotations {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        if !opts.disable_name_suffix_hash {
            m.insert(NEEDS_HASH.into(), "enabled".into());
        }
    }
    drop(md);
    if opts.immutable {
        r.obj_mut().insert("immutable".into(), Value::Bool(true));
    }
    Ok((behavior, r))
}

/// A builtin generator config listed under `generators:` (`apiVersion: builtin`).
pub enum Config {
    /// ConfigMapGenerator or SecretGenerator: the arguments of one entry of the
    /// kustomization fields, read from the config (its `metadata.name` and
    /// `metadata.namespace` are the defaults of `name` and `namespace`); files are read
    /// relative to the kustomization that lists it.
    Data {
        kind: GenKind,
        args: Box<GeneratorArgs>,
        kf: Box<KustFile>,
        origin: Origin,
        what: String,
    },
    /// IAMPolicyGenerator (GKE workload identity): a ServiceAccount annotated with its
    /// Google service account.
    IamPolicy {
        namespace: String,
        name: String,
        gsa: String,
        project: String,
    },
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("generator config")
    }
}

/// kustomize's `IAMPolicyGeneratorArgs`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamPolicyArgs {
    #[serde(default)]
    cloud: String,
    #[serde(default)]
    kubernetes_service: IamService,
    #[serde(default)]
    service_account: IamServiceAccount,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamService {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamServiceAccount {
    #[serde(default)]
    name: String,
    #[serde(default)]
    project_id: String,
}

/// The kinds of builtin generator a `generators:` entry may be.
pub const KINDS: &str = "ConfigMapGenerator, SecretGenerator, IAMPolicyGenerator";

/// Reads a builtin generator config (document `doc` of `file`, parsed to `value`) that
/// `kf` lists under `generators:`.
pub fn parse_config(
    kf: &KustFile,
    loader: &Loader,
    file: &Arc<crate::kustomize::load::LoadedFile>,
    doc: usize,
    value: &Value,
) -> Result<Config> {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut body = value.as_object().cloned().unwrap_or_default();
    let metadata = body.remove("metadata").unwrap_or(Value::Null);
    body.remove("apiVersion");
    body.remove("kind");
    let meta = |k: &str| {
        metadata
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let what = format!("a {kind} config");
    let line = file.locate(doc, &[]).map_or(1, |(l, _)| l);
    match kind {
        "ConfigMapGenerator" | "SecretGenerator" => {
            let gen_kind = if kind == "ConfigMapGenerator" {
                GenKind::ConfigMap
            } else {
                GenKind::Secret
            };
            let mut args: GeneratorArgs =
                loader.read_config(file, doc, Value::Object(body), &what)?;
            if args.name.as_deref().is_none_or(str::is_empty) {
                args.name = Some(meta("name"));
            }
            if args.namespace.as_deref().is_none_or(str::is_empty) {
                args.namespace = Some(meta("namespace"));
            }
            Ok(Config::Data {
                kind: gen_kind,
                args: Box::new(args),
                kf: Box::new(KustFile {
                    dir: kf.dir.clone(),
                    file: file.clone(),
                    kind: crate::kustomize::load::kustomization::KustKind::Kustomization,
                    spec: Default::default(),
                }),
                origin: Origin {
                    file: file.display.clone(),
                    line,
                    doc_index: doc,
                    item: None,
                },
                what: format!("{kind} {}", meta("name")),
            })
        }
        "IAMPolicyGenerator" => {
            let a: IamPolicyArgs = loader.read_config(file, doc, Value::Object(body), &what)?;
            if a.cloud != "gke" {
                return Err(Error::new(format!(
                    "cloud provider {:?} not supported yet: IAMPolicyGenerator knows `gke`",
                    a.cloud
                ))
                .in_file(&file.display)
                .at_opt(file.locate(doc, &["cloud"])));
            }
            Ok(Config::IamPolicy {
                namespace: a.kubernetes_service.namespace,
                name: a.kubernetes_service.name,
                gsa: a.service_account.name,
                project: a.service_account.project_id,
            })
        }
        other => Err(Error::new(format!(
            "`{other}` is not one of kustomize's builtin generators: {KINDS}"
        ))
        .in_file(&file.display)
        .at_opt(file.locate(doc, &["kind"]))),
    }
}

/// Runs a builtin generator config: what it makes, each with its behavior.
pub fn run_config(config: &Config, loader: &Loader) -> Result<Vec<(Behavior, Resource)>> {
    match config {
        Config::Data {
            kind,
            args,
            kf,
            origin,
            what,
        } => {
            let made =
                generate(kf, loader, *kind, what, origin.clone(), args, None).map_err(|e| {
                    e.in_file(&origin.file)
                        .at(origin.line, 1)
                        .context(format!("in {what}"))
                })?;
            Ok(vec![made])
        }
        Config::IamPolicy {
            namespace,
            name,
            gsa,
            project,
        } => {
            let mut md = Map::new();
            md.insert(
                "annotations".into(),
                serde_json::json!({
                    "iam.gke.io/gcp-service-account": format!("{gsa}@{project}.iam.gserviceaccount.com")
                }),
            );
            md.insert("name".into(), Value::String(name.clone()));
            if !namespace.is_empty() {
                md.insert("namespace".into(), Value::String(namespace.clone()));
            }
            let obj =
                serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md});
            let r = Resource::from_value(
                obj,
                Origin {
                    file: Arc::new(PathBuf::from("IAMPolicyGenerator")),
                    line: 1,
                    doc_index: 0,
                    item: None,
                },
            )?;
            Ok(vec![(Behavior::Create, r)])
        }
    }
}

fn sub_map<'a>(md: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = md.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("a mapping")
}

/// The key/value pairs of a generator, in kustomize's order: env files, literals, files.
fn load_pairs(
    kf: &KustFile,
    loader: &Loader,
    what: &str,
    envs: &[String],
    literals: &[String],
    files: &[String],
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (j, rel) in envs.iter().enumerate() {
        let field = format!("{what}.envs[{j}]");
        let bytes = read(kf, loader, rel, &field)?;
        out.extend(
            parse_env(&bytes)
                .map_err(|e| Error::new(format!("{field}: `{rel}`: {e}")))?
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes())),
        );
    }
    for lit in literals {
        let (k, v) = parse_literal(lit).map_err(|e| Error::new(format!("{what}: {e}")))?;
        out.push((k, v.into_bytes()));
    }
    for (j, src) in files.iter().enumerate() {
        let field = format!("{what}.files[{j}]");
        let (key, rel) = parse_file_source(src).map_err(|e| Error::new(format!("{field}: {e}")))?;
        out.push((key, read(kf, loader, &rel, &field)?));
    }
    Ok(out)
}

fn read(kf: &KustFile, loader: &Loader, rel: &str, what: &str) -> Result<Vec<u8>> {
    let path: PathBuf = load::resolve_within(loader, &kf.dir, rel, what)?;
    std::fs::read(&path).map_err(|e| {
        Error::new(format!("{what}: cannot read `{rel}`: {e}"))
            .in_file(&loader.display_path(Path::new(&path)))
    })
}

/// `key=value`, the value's surrounding quotes (a matching pair) removed.
pub fn parse_literal(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => {
            let b = v.as_bytes();
            let v = if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
                &v[1..v.len() - 1]
            } else {
                v
            };
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!("invalid literal `{s}`, expected key=value")),
    }
}

/// `path` (the key is the file name) or `key=path`.
pub fn parse_file_source(s: &str) -> std::result::Result<(String, String), String> {
    match s.matches('=').count() {
        0 => {
            let base = s.trim_end_matches('/').rsplit('/').next().unwrap_or(s);
            Ok((base.to_string(), s.to_string()))
        }
        1 if s.starts_with('=') => Err(format!("missing key name for file path in `{s}`")),
        1 if s.ends_with('=') => Err(format!("missing file path for key name in `{s}`")),
        1 => {
            let (k, p) = s.split_once('=').expect("one =");
            Ok((k.to_string(), p.to_string()))
        }
        _ => Err(format!("`{s}`: the key name or file path contains '='")),
    }
}

/// An env file: `KEY=value` lines; blank lines and `#` comments skipped, leading whitespace
/// trimmed, a UTF-8 byte order mark dropped from the first line, a line without `=` an empty
/// value.
pub fn parse_env(bytes: &[u8]) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    }
    for (n, raw) in lines.into_iter().enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line =
            std::str::from_utf8(raw).map_err(|_| format!("line {} is not valid UTF-8", n + 1))?;
        let line = if n == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        if !is_env_var_name(k) {
            return Err(format!(
                "line {}: `{k}` is not a valid environment variable name (letters, digits, \
                 '-', '_' or '.', not starting with a digit)",
                n + 1
            ));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

fn is_env_var_name(k: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !k.is_empty() && !k.starts_with(|c: char| c.is_ascii_digit()) && k.chars().all(ok)
}

fn check_data_key(what: &str, k: &str) -> Result<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if k.is_empty() || k.len() > 253 || !k.chars().all(ok) {
        return Err(Error::new(format!(
            "{what}: `{k}` is not a valid data key: use letters, digits, '-', '_' or '.' (at most 253)"
        )));
    }
    Ok(())
}

/// Base64 as kustomize writes Secret data: standard alphabet, broken into lines of 70 with a
/// newline after each line (the last too) once the encoding reaches 70 characters.
pub fn go_base64(bytes: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    if enc.len() < 70 {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / 70 + 1);
    for chunk in enc.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

fn matches_any_id(r: &Resource, new: &Resource) -> bool {
    let id = new.id();
    r.all_ids()
        .any(|o| o.version == id.version && o.same_object(&id))
}

/// Adds a generated object to `set` by its behavior: `create` appends (an existing object
/// of that identity is an error), `merge` and `replace` take the place of the one earlier
/// object they match (by current or earlier identity), keeping its name, namespace and
/// identity history, its labels and annotations under the new ones, and for `merge` its data
/// under the new data.
pub fn absorb(set: &mut ResourceSet, mut new: Resource, behavior: Behavior) -> Result<()> {
    let matches: Vec<usize> = (0..set.len())
        .filter(|&i| matches_any_id(&set[i], &new))
        .collect();
    match (matches.as_slice(), behavior) {
        ([], Behavior::Create) => {
            set.push(new);
            Ok(())
        }
        ([], _) => Err(Error::new(format!(
            "{} {} does not exist; cannot merge or replace",
            new.kind(),
            new.name()
        ))
        .help("`behavior: merge` and `replace` change an object a base generated; use `create` for a new one")),
        ([_], Behavior::Create) => Err(Error::new(format!(
            "{} {} already exists; use `behavior: merge` or `behavior: replace`",
            new.kind(),
            new.name()
        ))),
        ([i], _) => {
            let old = &set[*i];
            let new_hash = new.annotations().iter().any(|(k, _)| *k == NEEDS_HASH);
            let labels = merged(old.metadata(), new.metadata(), "labels");
            let mut annotations = merged(old.metadata(), new.metadata(), "annotations");
            let old_hash = old.annotations().iter().any(|(k, _)| *k == NEEDS_HASH);
            if !(old_hash && new_hash) {
                annotations.remove(NEEDS_HASH);
            }
            // kustomize: a merge keeps the origin of the object merged into.
            if behavior == Behavior::Merge {
                let old_origin = old
                    .annotations()
                    .iter()
                    .find(|(k, _)| *k == crate::kustomize::build_metadata::ORIGIN)
                    .map(|(_, v)| v.to_string());
                match old_origin {
                    Some(o) => {
                        annotations.insert(crate::kustomize::build_metadata::ORIGIN.into(), Value::String(o));
                    }
                    None => {
                        annotations.remove(crate::kustomize::build_metadata::ORIGIN);
                    }
                }
            }
            let name = old.name().to_string();
            let ns = old.namespace().to_string();
            let mut md = new.metadata_mut();
            md.insert("name".into(), name.into());
            if ns.is_empty() {
                md.shift_remove("namespace");
            } else {
                md.insert("namespace".into(), ns.into());
            }
            set_map(&mut md, "labels", labels);
            set_map(&mut md, "annotations", annotations);
            drop(md);
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    let mut m: BTreeMap<String, Value> = BTreeMap::new();
                    for src in [old.obj(), new.obj()] {
                        if let Some(Value::Object(o)) = src.get(field) {
                            m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                    }
                    if !m.is_empty() {
                        new.obj_mut()
                            .insert(field.into(), Value::Object(m.into_iter().collect()));
                    }
                }
            }
            new.previous_ids = old.previous_ids.clone();
            new.prefixes = old.prefixes.clone();
            new.suffixes = old.suffixes.clone();
            set[*i] = new;
            Ok(())
        }
        (_, _) => Err(Error::new(format!(
            "several objects could take the {} {}: use names that are unique",
            new.kind(),
            new.name()
        ))),
    }
}

fn merged(
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    key: &str,
) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for md in [old, new].into_iter().flatten() {
        if let Some(Value::Object(o)) = md.get(key) {
            m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    m
}

fn set_map(md: &mut Map<String, Value>, key: &str, m: BTreeMap<String, Value>) {
    if m.is_empty() {
        md.shift_remove(key);
    } else {
        md.insert(key.into(), Value::Object(m.into_iter().collect()));
    }
}

/// The last step of a top-level build, before back references are fixed: every object
/// marked for it gets `-<hash>` appended to its name (its old identity remembered), and
/// the mark is removed.
/// Each object on its own: a large set on all cores.
pub fn add_hashes(set: &mut ResourceSet) {
    fn one(r: &mut Resource) {
        let marked = r
            .metadata()
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object)
            .is_some_and(|ann| ann.contains_key(NEEDS_HASH));
        if !marked {
            return;
        }
        let mut md = r.metadata_mut();
        if let Some(Value::Object(ann)) = md.get_mut("annotations") {
            ann.shift_remove(NEEDS_HASH);
            if ann.is_empty() {
                md.shift_remove("annotations");
            }
        }
        drop(md);
        let hash = content_hash(r);
        r.remember_id();
        let name = format!("{}-{hash}", r.name());
        r.metadata_mut().insert("name".into(), Value::String(name));
    }
    if set.len() < crate::parallel::PARALLEL_MIN {
        set.iter_mut().for_each(one);
    } else {
        use rayon::prelude::*;
        set.par_iter_mut().for_each(one);
    }
}

/// kustomize's name hash of an object: the first ten hex digits of the SHA-256 of a JSON
/// encoding (Go's, keys sorted) of kind, name and data (ConfigMap: `data`, `binaryData`;
/// Secret: `type`, `data`, `stringData`; others: the whole object), with `0 1 3 a e`
/// replaced by `g h k m t`. The name is always empty: kustomize looks it up as one field
/// called `metadata/name`, which no object has (checked against kubectl's output).
pub fn content_hash(r: &Resource) -> String {
    let get = |k: &str| r.obj().get(k).cloned();
    let empty = || Value::String(String::new());
    let mut m: BTreeMap<&str, Value> = BTreeMap::new();
    let encoded = match r.kind() {
        "ConfigMap" => {
            m.insert("kind", "ConfigMap".into());
            m.insert("name", "".into());
            m.insert("data", get("data").unwrap_or_else(empty));
            if let Some(b @ Value::Object(_)) = get("binaryData") {
                m.insert("binaryData", b);
            }
            go_json(&Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ))
        }
        "Secret" => {
            m.insert("kind", "Secret".into());
            m.insert("name", "".into());
            m.insert("type", get("type").unwrap_or_else(empty));
            m.insert("data", get("data").unwrap_or_else(empty));
            if let Some(b @ Value::Object(_)) = get("stringData") {
                m.insert("stringData", b);
            }
            go_json(&Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ))
        }
        _ => go_json(&Value::Object(r.obj().clone())),
    };
    encode_hash(&sha256_hex(encoded.as_bytes()))
}

fn encode_hash(hex: &str) -> String {
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: mapping keys sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_go_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(&o[k], out);
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// SHA-256, as lowercase hex (the `sha2` crate).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> Resource {
        Resource::from_value(
            v,
            Origin {
                file: Arc::new(PathBuf::from("t.yaml")),
                line: 1,
                doc_index: 0,
                item: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// Names kubectl kustomize (v5.5.0) gave these objects.
    #[test]
    fn hash_matches_kubectl() {
        let cm = res(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "e3"}, "data": {"a": "b"}}));
        assert_eq!(content_hash(&cm), "4h2mbtbbt6");
        let empty_cm = res(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "e2"}}));
        assert_eq!(content_hash(&empty_cm), "6ct58987ht");
        let secret = res(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "empty"}, "type": "Opaque", "data": {}}));
        assert_eq!(content_hash(&secret), "46f8b28mk5");
    }

    #[test]
    fn go_json_escapes_like_go() {
        assert_eq!(
            go_json(&json!({"b": "<&>\n\u{2028}", "a": 1})),
            r#"{"a":1,"b":"\u003c\u0026\u003e\n\u2028"}"#
        );
    }

    #[test]
    fn base64_lines_of_70() {
        assert_eq!(go_base64(b"me"), "bWU=");
        let long = go_base64(&[b'a'; 60]);
        assert_eq!(long.lines().map(str::len).collect::<Vec<_>>(), [70, 10]);
        assert!(long.ends_with('\n'));
    }

    #[test]
    fn literals_files_and_env_files_parse_as_kustomize() {
        assert_eq!(parse_literal("x='q'").unwrap(), ("x".into(), "q".into()));
        assert_eq!(parse_literal("y=1=2").unwrap(), ("y".into(), "1=2".into()));
        assert!(parse_literal("=v").is_err());
        assert!(parse_literal("novalue").is_err());
        assert_eq!(
            parse_file_source("dir/a.txt").unwrap(),
            ("a.txt".into(), "dir/a.txt".into())
        );
        assert_eq!(
            parse_file_source("k=dir/a.txt").unwrap(),
            ("k".into(), "dir/a.txt".into())
        );
        assert!(parse_file_source("=a").is_err());
        assert!(parse_file_source("a=b=c").is_err());
        let env = parse_env(b"\xef\xbb\xbfA=1\r\n# c\n\n  B=two words \nC\n").unwrap();
        assert_eq!(
            env,
            [
                ("A".to_string(), "1".to_string()),
                ("B".into(), "two words ".into()),
                ("C".into(), "".into())
            ]
        );
        assert!(parse_env(b"1A=x\n").is_err());
    }

    #[test]
    fn options_merge_local_over_global() {
        let local = GeneratorOptions {
            labels: [("a".to_string(), "local".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let global = GeneratorOptions {
            labels: [("a", "global"), ("b", "global")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            disable_name_suffix_hash: true,
            immutable: true,
            ..Default::default()
        };
        let m = local.merged_with(Some(&global));
        assert_eq!(m.labels["a"], "local");
        assert_eq!(m.labels["b"], "global");
        assert!(m.disable_name_suffix_hash && m.immutable);
    }

    fn cm(name: &str, data: Value, hash: bool) -> Resource {
        let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"l": name}}, "data": data});
        if hash {
            v["metadata"]["annotations"] = json!({NEEDS_HASH: "enabled"});
        }
        res(v)
    }

    #[test]
    fn behaviors_create_merge_replace() {
        let mut set = vec![cm("c", json!({"a": "1", "b": "1"}), true)];
        set[0].remember_id();
        set[0]
            .metadata_mut()
            .insert("namespace".into(), "ns".into());
        assert!(absorb(&mut set, cm("c", json!({}), true), Behavior::Create).is_err());
        assert!(absorb(&mut set, cm("x", json!({}), true), Behavior::Merge).is_err());
        absorb(
            &mut set,
            cm("c", json!({"b": "2", "c": "2"}), true),
            Behavior::Merge,
        )
        .unwrap();
        assert_eq!(set[0].obj()["data"], json!({"a": "1", "b": "2", "c": "2"}));
        assert_eq!(set[0].namespace(), "ns");
        assert_eq!(set[0].previous_ids.len(), 1);
        assert!(set[0].annotations().iter().any(|(k, _)| *k == NEEDS_HASH));
        absorb(
            &mut set,
            cm("c", json!({"z": "9"}), false),
            Behavior::Replace,
        )
        .unwrap();
        assert_eq!(set[0].obj()["data"], json!({"z": "9"}));
        // The hash is kept only when both sides ask for it.
        assert!(set[0].metadata().unwrap().get("annotations").is_none());
        absorb(&mut set, cm("d", json!({}), false), Behavior::Create).unwrap();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn add_hashes_renames_and_drops_the_mark() {
        let mut set = vec![cm("e3", json!({"a": "b"}), true), cm("n", json!({}), false)];
        add_hashes(&mut set);
        assert_eq!(set[0].name(), "e3-4h2mbtbbt6");
        assert_eq!(set[0].previous_ids[0].name, "e3");
        assert!(set[0].metadata().unwrap().get("annotations").is_none());
        assert_eq!(set[1].name(), "n");
    }
}
