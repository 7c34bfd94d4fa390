//! `openapi:`: a custom OpenAPI (Swagger 2) document whose definitions give strategic merge
//! patches their merge keys for custom resources, read and applied with kustomize v5.5's
//! semantics (kyaml `openapi`, `api/internal/target/kusttarget.go`).
//!
//! # The document
//!
//! The file (YAML or JSON) holds `definitions`; a definition carrying
//! `x-kubernetes-group-version-kind` is the schema of those kinds. Below it, `properties`,
//! `additionalProperties` (the value schema of a map), `items` (element schema; used only when
//! `type` is `array`) and `$ref: "#/definitions/NAME"` lead to the fields. A list merges by key
//! when its schema has `x-kubernetes-patch-strategy` containing `merge`; the keys are
//! `x-kubernetes-list-map-keys` when given, else `x-kubernetes-patch-merge-key`, and with
//! neither the list is a set of scalars (like `finalizers`). A `$ref` replaces the schema it
//! sits in entirely (extensions written next to it are ignored, as kyaml ignores them).
//! `paths` with a GET operation carrying `x-kubernetes-group-version-kind` say whether a kind
//! is namespaced (a path with `namespaces/{namespace}`) or cluster-scoped; the `namespace`
//! transformer uses that.
//!
//! `openapi: {version: v1.21.2}` selects kustomize's built-in schema explicitly (the only
//! version kustomize v5.5 has); `path` and `version` together are an error.
//!
//! # Which schema a patch sees
//!
//! kustomize keeps the schema in process-global state, so the schema of a patch depends on the
//! order of the build, and strata reproduces that order ([`Tracker`]):
//!
//! * the first kustomization entered (the top one, then its `resources` directories and its
//!   `components`, depth first, in order) whose `openapi` field is set decides for the rest of
//!   the build; later `openapi` fields are ignored. Kustomizations built before it used the
//!   built-in schema;
//! * a custom schema *replaces* the built-in one: built-in kinds then have no merge keys (all
//!   their lists are replaced) unless the file defines them. Except that kustomize never
//!   unloads what it has loaded: if a strategic merge patch ran before the custom schema was
//!   chosen, the built-in schema stays, with the custom definitions over it; and if a resource
//!   of a kind outside kustomize's precomputed table (a custom resource, a transformer config)
//!   was read before any patch ran, kustomize loads the built-in schema *after* the custom one
//!   at its next use, so the built-in definitions win where names clash.
//!
//! A `$ref` naming no definition of the schemas in use is an error here (kustomize silently
//! treats the field as having no schema and replaces its lists).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomize::load::kustomization::KustFile;
use crate::kustomize::load::{self, LoadedFile, Loader};

/// The only built-in schema version of kustomize v5.5.
pub const BUILTIN_VERSION: &str = "v1.21.2";

/// Index of a schema node in a [`CustomSchema`].
pub(crate) type NodeId = u32;

/// How a list with this schema merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListMerge {
    /// No merge strategy: the patch replaces the list.
    Replace,
    /// `patchStrategy: merge` with these keys.
    Keyed(Vec<String>),
    /// `patchStrategy: merge` without keys: a set of scalars.
    Primitive,
}

/// One schema of the document (a definition, a property, items...).
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) reference: Option<Reference>,
    pub(crate) properties: HashMap<String, NodeId>,
    pub(crate) additional: Option<NodeId>,
    /// The element schema; only for `type: array` (kyaml ignores `items` otherwise).
    pub(crate) items: Option<NodeId>,
    pub(crate) list: ListMerge,
}

/// A `$ref`, as written and as understood.
#[derive(Debug)]
pub(crate) struct Reference {
    /// The text of the `$ref`.
    pub(crate) text: String,
    /// Where the `$ref` is in the file (keys from the document root).
    pub(crate) at: Vec<String>,
    pub(crate) target: RefTarget,
}

#[derive(Debug)]
pub(crate) enum RefTarget {
    /// `#/definitions/NAME`, possibly followed by a path inside that definition.
    Definition { name: String, rest: Vec<String> },
    /// Anything else (no `#`, or a pointer outside `definitions`).
    Unsupported,
}

/// A custom schema file, parsed.
#[derive(Debug)]
pub struct CustomSchema {
    /// The file, as read (shown in messages; its text locates lines).
    pub file: Arc<LoadedFile>,
    /// Canonical path: two schemas are the same when they come from the same file.
    path: PathBuf,
    nodes: Vec<Node>,
    definitions: HashMap<String, NodeId>,
    /// `(apiVersion, kind)` -> definition.
    kinds: HashMap<(String, String), NodeId>,
    /// `(apiVersion, kind)` -> namespaced, from `paths`.
    namespaced: HashMap<(String, String), bool>,
}

impl PartialEq for CustomSchema {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

/// A structural problem at `at` (keys from the document root).
struct Problem {
    at: Vec<String>,
    message: String,
}

fn problem(at: &[String], message: impl Into<String>) -> Problem {
    Problem {
        at: at.to_vec(),
        message: message.into(),
    }
}

fn child(at: &[String], key: &str) -> Vec<String> {
    let mut v = at.to_vec();
    v.push(key.to_string());
    v
}

impl CustomSchema {
    /// Reads the schema document of `file` (canonical path `path`). Errors name the file and
    /// the line of the offending field.
    pub fn parse(file: Arc<LoadedFile>, path: PathBuf) -> Result<CustomSchema> {
        let at_file = |e: Error| e.in_file(&file.display);
        let doc = match file.docs.as_slice() {
            [] => {
                return Err(at_file(Error::new(
                    "the OpenAPI schema file is empty: expected a document with `definitions`",
                )));
            }
            [one] => &one.value,
            [_, second, ..] => {
                return Err(at_file(
                    Error::new("an OpenAPI schema file holds one document").at(second.line, 1),
                ));
            }
        };
        let mut schema = CustomSchema {
            file: file.clone(),
            path,
            nodes: Vec::new(),
            definitions: HashMap::new(),
            kinds: HashMap::new(),
            namespaced: HashMap::new(),
        };
        schema.read(doc).map_err(|p| {
            let refs: Vec<&str> = p.at.iter().map(String::as_str).collect();
            let shown = if p.at.is_empty() {
                "the document".to_string()
            } else {
                format!("`{}`", pointer(&p.at))
            };
            at_file(
                Error::new(format!("invalid OpenAPI schema at {shown}: {}", p.message))
                    .at_opt(file.locate(0, &refs)),
            )
        })?;
        Ok(schema)
    }

    fn read(&mut self, doc: &Value) -> std::result::Result<(), Problem> {
        let Value::Object(top) = doc else {
            return Err(problem(&[], "expected a mapping with `definitions`"));
        };
        let root = Vec::new();
        let mut kinds: HashMap<(String, String), (String, NodeId)> = HashMap::new();
        match top.get("definitions") {
            None | Some(Value::Null) => {}
            Some(Value::Object(defs)) => {
                let at = child(&root, "definitions");
                for (name, def) in defs {
                    let def_at = child(&at, name);
                    let id = self.node(def, &def_at)?;
                    self.definitions.insert(name.clone(), id);
                    for (api_version, kind) in gvks(def, &def_at)? {
                        let key = (api_version, kind);
                        if let Some((other, _)) = kinds.get(&key)
                            && defs.get(other) != Some(def)
                        {
                            return Err(problem(
                                &child(&def_at, GVK),
                                format!(
                                    "{} {} is also the kind of definition `{other}`; kustomize \
                                     would pick one of them at random",
                                    key.0, key.1
                                ),
                            ));
                        }
                        kinds.insert(key, (name.clone(), id));
                    }
                }
            }
            Some(_) => {
                return Err(problem(
                    &child(&root, "definitions"),
                    "`definitions` must be a mapping of names to schemas",
                ));
            }
        }
        self.kinds = kinds.into_iter().map(|(k, (_, id))| (k, id)).collect();
        match top.get("paths") {
            None | Some(Value::Null) => {}
            Some(Value::Object(paths)) => {
                let at = child(&root, "paths");
                // kustomize: a path with a namespace parameter makes the kind namespaced,
                // whatever the other paths say.
                for (path, item) in paths {
                    let item_at = child(&at, path);
                    let Some(get) = item.get("get") else { continue };
                    let Some(gvk) = get.get(GVK) else { continue };
                    let gvk_at = child(&child(&item_at, "get"), GVK);
                    let Some(key) = type_meta(gvk, &gvk_at)? else {
                        continue;
                    };
                    if path.contains("namespaces/{namespace}") {
                        self.namespaced.insert(key, true);
                    } else {
                        self.namespaced.entry(key).or_insert(false);
                    }
                }
            }
            Some(_) => {
                return Err(problem(&child(&root, "paths"), "`paths` must be a mapping"));
            }
        }
        Ok(())
    }

    /// Reads one schema (and everything below it) into nodes.
    fn node(&mut self, v: &Value, at: &[String]) -> std::result::Result<NodeId, Problem> {
        let Value::Object(m) = v else {
            return Err(problem(
                at,
                format!("a schema must be a mapping, not {}", what(v)),
            ));
        };
        let reference = match m.get("$ref") {
            None => None,
            Some(Value::String(text)) => Some(Reference {
                text: text.clone(),
                at: child(at, "$ref"),
                target: parse_ref(text),
            }),
            Some(other) => {
                return Err(problem(
                    &child(at, "$ref"),
                    format!("`$ref` must be a string, not {}", what(other)),
                ));
            }
        };
        let mut properties = HashMap::new();
        match m.get("properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(props)) => {
                let pat = child(at, "properties");
                for (k, pv) in props {
                    let id = self.node(pv, &child(&pat, k))?;
                    properties.insert(k.clone(), id);
                }
            }
            Some(other) => {
                return Err(problem(
                    &child(at, "properties"),
                    format!("`properties` must be a mapping, not {}", what(other)),
                ));
            }
        }
        let additional = match m.get("additionalProperties") {
            None | Some(Value::Null | Value::Bool(_)) => None,
            Some(s @ Value::Object(_)) => Some(self.node(s, &child(at, "additionalProperties"))?),
            Some(other) => {
                return Err(problem(
                    &child(at, "additionalProperties"),
                    format!(
                        "`additionalProperties` must be a schema or a boolean, not {}",
                        what(other)
                    ),
                ));
            }
        };
        let is_array = match m.get("type") {
            None | Some(Value::Null) => false,
            Some(Value::String(t)) => t == "array",
            Some(Value::Array(ts)) => matches!(ts.as_slice(), [Value::String(t)] if t == "array"),
            Some(other) => {
                return Err(problem(
                    &child(at, "type"),
                    format!("`type` must be a string, not {}", what(other)),
                ));
            }
        };
        let items = match m.get("items") {
            None | Some(Value::Null) => None,
            Some(s @ Value::Object(_)) => {
                let id = self.node(s, &child(at, "items"))?;
                is_array.then_some(id)
            }
            Some(Value::Array(_)) => {
                return Err(problem(
                    &child(at, "items"),
                    "`items` as a list of schemas is not supported (kustomize fails on it): give \
                     one schema",
                ));
            }
            Some(other) => {
                return Err(problem(
                    &child(at, "items"),
                    format!("`items` must be a schema, not {}", what(other)),
                ));
            }
        };
        let list = list_merge(m, at)?;
        let id = NodeId::try_from(self.nodes.len())
            .map_err(|_| problem(at, "the schema has too many nodes"))?;
        self.nodes.push(Node {
            reference,
            properties,
            additional,
            items,
            list,
        });
        Ok(id)
    }

    pub(crate) fn node_at(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub(crate) fn definition(&self, name: &str) -> Option<NodeId> {
        self.definitions.get(name).copied()
    }

    /// The definition of a kind, by `x-kubernetes-group-version-kind`.
    pub(crate) fn kind(&self, api_version: &str, kind: &str) -> Option<NodeId> {
        self.kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .copied()
    }

    /// Follows a JSON-pointer tail (`properties/x/items`) from a node.
    pub(crate) fn follow(&self, mut id: NodeId, rest: &[String]) -> Option<NodeId> {
        let mut it = rest.iter();
        while let Some(seg) = it.next() {
            let n = self.node_at(id);
            id = match seg.as_str() {
                "properties" => *n.properties.get(it.next()?)?,
                "additionalProperties" => n.additional?,
                "items" => n.items?,
                _ => return None,
            };
        }
        Some(id)
    }

    /// Whether the schema's `paths` say the kind is namespaced (`None`: not listed).
    pub fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.namespaced
            .get(&(api_version.to_string(), kind.to_string()))
            .copied()
    }

    /// Where a node path is in the file: "`/definitions/X/properties/y` of FILE, line N".
    pub(crate) fn describe(&self, at: &[String]) -> String {
        let refs: Vec<&str> = at.iter().map(String::as_str).collect();
        let line = self
            .file
            .locate(0, &refs)
            .map(|(l, _)| format!(", line {l}"))
            .unwrap_or_default();
        format!("`{}` of {}{line}", pointer(at), self.file.display.display())
    }
}

const GVK: &str = "x-kubernetes-group-version-kind";
const STRATEGY: &str = "x-kubernetes-patch-strategy";
const MERGE_KEY: &str = "x-kubernetes-patch-merge-key";
const LIST_MAP_KEYS: &str = "x-kubernetes-list-map-keys";

/// A path as a JSON pointer (`/definitions/a.b/properties/x`).
fn pointer(at: &[String]) -> String {
    crate::model::pointer::of_keys(at)
}

fn what(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "a mapping",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
    }
}

/// kyaml's `PatchStrategyAndKeyList`: a list merges when its strategy (comma-separated) has
/// `merge`; the keys are the list-map keys, else the merge key, else none (scalars).
fn list_merge(m: &Map<String, Value>, at: &[String]) -> std::result::Result<ListMerge, Problem> {
    let strategy = match m.get(STRATEGY) {
        None => return Ok(ListMerge::Replace),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(problem(
                &child(at, STRATEGY),
                format!("must be a string, not {}", what(other)),
            ));
        }
    };
    if !strategy.split(',').any(|s| s == "merge") {
        return Ok(ListMerge::Replace);
    }
    if let Some(keys) = m.get(LIST_MAP_KEYS) {
        let Value::Array(items) = keys else {
            return Err(problem(
                &child(at, LIST_MAP_KEYS),
                format!("must be a list of field names, not {}", what(keys)),
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, k) in items.iter().enumerate() {
            match k {
                Value::String(s) => out.push(s.clone()),
                other => {
                    return Err(problem(
                        &child(&child(at, LIST_MAP_KEYS), &i.to_string()),
                        format!("a merge key must be a string, not {}", what(other)),
                    ));
                }
            }
        }
        return Ok(if out.is_empty() {
            ListMerge::Primitive
        } else {
            ListMerge::Keyed(out)
        });
    }
    match m.get(MERGE_KEY) {
        None => Ok(ListMerge::Primitive),
        Some(Value::String(k)) => Ok(ListMerge::Keyed(vec![k.clone()])),
        Some(other) => Err(problem(
            &child(at, MERGE_KEY),
            format!("must be a string, not {}", what(other)),
        )),
    }
}

/// The kinds a definition declares (`x-kubernetes-group-version-kind`, a list of
/// `{group, version, kind}`). kyaml skips an extension that is not a list, and elements
/// that are not mappings.
fn gvks(def: &Value, at: &[String]) -> std::result::Result<Vec<(String, String)>, Problem> {
    let Some(Value::Array(items)) = def.get(GVK) else {
        return Ok(Vec::new());
    };
    let at = child(at, GVK);
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(tm) = type_meta(item, &child(&at, &i.to_string()))? {
            out.push(tm);
        }
    }
    Ok(out)
}

/// `{group, version, kind}` as `(apiVersion, kind)`; `None` when not a mapping.
fn type_meta(v: &Value, at: &[String]) -> std::result::Result<Option<(String, String)>, Problem> {
    let Value::Object(m) = v else {
        return Ok(None);
    };
    let text = |key: &str| match m.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(problem(
            at,
            format!("`{key}` is missing (kustomize fails on this)"),
        )),
        Some(other) => Err(problem(
            &child(at, key),
            format!("must be a string, not {}", what(other)),
        )),
    };
    let version = text("version")?;
    let kind = text("kind")?;
    let group = match m.get("group") {
        Some(Value::String(g)) => g.clone(),
        _ => String::new(),
    };
    let api_version = if group.is_empty() {
        version
    } else {
        format!("{group}/{version}")
    };
    Ok(Some((api_version, kind)))
}

/// Reads a `$ref`: the JSON pointer after `#` (a location before it is ignored, as kyaml
/// ignores it).
fn parse_ref(text: &str) -> RefTarget {
    let Some((_, fragment)) = text.split_once('#') else {
        return RefTarget::Unsupported;
    };
    let mut segs = fragment
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"));
    if !fragment.starts_with('/') || segs.next().as_deref() != Some("definitions") {
        return RefTarget::Unsupported;
    }
    match segs.next() {
        Some(name) if !name.is_empty() => RefTarget::Definition {
            name,
            rest: segs.collect(),
        },
        _ => RefTarget::Unsupported,
    }
}

// ---------------------------------------------------------------------------
// The schemas a patch sees
// ---------------------------------------------------------------------------

/// The schemas in use for one strategic merge patch: the built-in one, a custom one, or both
/// (with the one loaded last winning where definition names or kinds clash).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaSet {
    pub(crate) builtin: bool,
    pub(crate) custom: Option<Arc<CustomSchema>>,
    /// The custom schema was loaded after the built-in one (its definitions win).
    pub(crate) custom_last: bool,
}

/// kustomize's default: the built-in schema only.
pub static BUILTIN: SchemaSet = SchemaSet {
    builtin: true,
    custom: None,
    custom_last: false,
};

impl SchemaSet {
    /// A custom schema alone (what a top-level `openapi.path` gives).
    pub fn custom(schema: Arc<CustomSchema>) -> SchemaSet {
        SchemaSet {
            builtin: false,
            custom: Some(schema),
            custom_last: true,
        }
    }

    /// The built-in schema and a custom one; `custom_last`: the custom one was loaded last
    /// and wins clashes.
    pub fn both(schema: Arc<CustomSchema>, custom_last: bool) -> SchemaSet {
        SchemaSet {
            builtin: true,
            custom: Some(schema),
            custom_last,
        }
    }
}

/// A kustomization's `openapi` field, loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Absent,
    /// `version: v1.21.2`: the built-in schema.
    Builtin,
    Custom(Arc<CustomSchema>),
}

/// Custom schemas already parsed, by canonical path (kept across the renders of a builder).
#[derive(Debug, Default)]
pub struct SchemaCache(Mutex<HashMap<PathBuf, Arc<CustomSchema>>>);

/// Reads a kustomization's `openapi` field: for `path`, the schema file (below the
/// kustomization, as every file it reads), parsed. The field itself was checked when the
/// kustomization was read.
pub fn spec_of(kf: &KustFile, loader: &Loader, cache: &SchemaCache) -> Result<Spec> {
    let Some(field) = &kf.spec.openapi else {
        return Ok(Spec::Absent);
    };
    let Some(rel) = &field.path else {
        return Ok(match &field.version {
            Some(v) if !v.is_empty() => Spec::Builtin,
            _ => Spec::Absent,
        });
    };
    let at = || kf.file.locate(0, &["openapi", "path"]);
    if load::is_remote(rel) {
        return Err(Error::new(format!(
            "openapi.path: remote schema `{rel}` is not supported: strata renders only what \
             is in the repository"
        ))
        .in_file(kf.display())
        .at_opt(at())
        .help("download the schema into the repository and refer to it by a relative path"));
    }
    let path = load::resolve_within(loader, &kf.dir, rel, "openapi.path")
        .map_err(|e| e.in_file(kf.display()).at_opt(at()))?;
    if let Some(c) = cache.0.lock().expect("schema cache lock").get(&path) {
        return Ok(Spec::Custom(c.clone()));
    }
    let file = loader.load(&path)?;
    let schema = CustomSchema::parse(file, path.clone())
        .map_err(|e| e.context(format!("in openapi.path of {}", kf.display().display())))?;
    let schema = Arc::new(schema);
    cache
        .0
        .lock()
        .expect("schema cache lock")
        .insert(path, schema.clone());
    Ok(Spec::Custom(schema))
}

/// One step of the build that kustomize's schema state reacts to (recorded so that a cached
/// base can be reused only where it would see the same schemas).
#[derive(Debug, Clone)]
pub enum Event {
    /// A kustomization (not the top one) was entered.
    Enter(Spec),
    /// A resource of a kind outside kustomize's precomputed scope table was looked at.
    OtherKind,
    /// A strategic merge patch ran with these schemas.
    Use(Arc<SchemaSet>),
    /// The namespace transformer asked for the custom schema's scopes: this one (or none).
    Scope(Option<Arc<CustomSchema>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuiltinStatus {
    NotParsed,
    Delayed,
    Parsed,
}

#[derive(Debug, Clone, PartialEq)]
enum Layer {
    Builtin,
    Custom(Arc<CustomSchema>),
}

/// kyaml's global schema state, for one render.
#[derive(Debug, Clone)]
struct State {
    /// `kubernetesOpenAPIVersion` set to a built-in version.
    version: bool,
    custom: Option<Arc<CustomSchema>>,
    init: bool,
    builtin: BuiltinStatus,
    /// Everything parsed so far, in order (kyaml adds definitions and never removes them).
    layers: Vec<Layer>,
    current: Option<Arc<SchemaSet>>,
}

impl State {
    fn new() -> State {
        State {
            version: false,
            custom: None,
            init: false,
            builtin: BuiltinStatus::NotParsed,
            layers: Vec::new(),
            current: None,
        }
    }

    /// kyaml `SetSchema`.
    fn set_schema(&mut self, spec: &Spec, reset: bool) {
        if (self.version || self.custom.is_some()) && !reset {
            return;
        }
        match spec {
            Spec::Custom(c) => {
                self.custom = Some(c.clone());
                self.version = false;
                self.init = false;
            }
            Spec::Builtin => {
                self.version = true;
                self.custom = None;
                self.init = false;
            }
            Spec::Absent => self.version = false,
        }
    }

    /// kyaml `IsNamespaceScoped` for a kind outside the precomputed table.
    fn other_kind(&mut self) {
        if self.init {
            return;
        }
        if self.custom.is_some() {
            self.init_schema();
        } else if self.builtin == BuiltinStatus::NotParsed {
            self.builtin = BuiltinStatus::Delayed;
        }
    }

    /// kyaml `initSchema`.
    fn init_schema(&mut self) {
        if self.init {
            return;
        }
        self.init = true;
        self.current = None;
        match &self.custom {
            Some(c) => self.layers.push(Layer::Custom(c.clone())),
            None => {
                self.layers.push(Layer::Builtin);
                self.builtin = BuiltinStatus::Parsed;
            }
        }
        if self.builtin == BuiltinStatus::Delayed {
            self.layers.push(Layer::Builtin);
            self.builtin = BuiltinStatus::Parsed;
        }
    }

    fn schema(&mut self) -> Arc<SchemaSet> {
        self.init_schema();
        if let Some(s) = &self.current {
            return s.clone();
        }
        let last_builtin = self.layers.iter().rposition(|l| *l == Layer::Builtin);
        let last_custom = self
            .layers
            .iter()
            .rposition(|l| matches!(l, Layer::Custom(_)));
        let set = Arc::new(match last_custom {
            None => BUILTIN.clone(),
            Some(i) => {
                let Layer::Custom(c) = &self.layers[i] else {
                    unreachable!("rposition found a custom layer")
                };
                match last_builtin {
                    None => SchemaSet::custom(c.clone()),
                    Some(b) => SchemaSet::both(c.clone(), i > b),
                }
            }
        });
        self.current = Some(set.clone());
        set
    }

    /// The custom schema whose `paths` kyaml consults now (after `other_kind`).
    fn scopes(&self) -> Option<Arc<CustomSchema>> {
        self.layers.iter().rev().find_map(|l| match l {
            Layer::Custom(c) => Some(c.clone()),
            Layer::Builtin => None,
        })
    }
}

/// kustomize's schema state through one render (see the module documentation). Not shared
/// between renders.
#[derive(Debug)]
pub struct Tracker {
    state: RefCell<State>,
    log: RefCell<Vec<Event>>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker {
            state: RefCell::new(State::new()),
            log: RefCell::new(Vec::new()),
        }
    }

    /// The top kustomization's `openapi` field (kustomize resets the state with it).
    pub fn enter_top(&self, spec: &Spec) {
        self.state.borrow_mut().set_schema(spec, true);
    }

    /// A kustomization below the top one is entered (a `resources` directory, a component,
    /// a directory of `transformers`).
    pub fn enter(&self, spec: &Spec) {
        self.state.borrow_mut().set_schema(spec, false);
        self.log.borrow_mut().push(Event::Enter(spec.clone()));
    }

    /// A resource of this type is read (kustomize computes its scope).
    pub fn saw(&self, api_version: &str, kind: &str) {
        if !precomputed(api_version, kind) {
            self.other_kind();
        }
    }

    /// [`Tracker::saw`] for each of `resources`, in one step: reading a kind outside the
    /// table a second time changes nothing, so the first is all that counts (a large set is
    /// looked through on all cores).
    pub fn saw_all(&self, resources: &[crate::model::Resource]) {
        let other = |r: &crate::model::Resource| !precomputed(r.api_version(), r.kind());
        let any = if resources.len() < crate::parallel::PARALLEL_MIN {
            resources.iter().any(other)
        } else {
            use rayon::prelude::*;
            resources.par_iter().any(other)
        };
        if any {
            self.other_kind();
        }
    }

    /// A resource of a kind outside kustomize's precomputed scope table is read.
    pub fn other_kind(&self) {
        self.state.borrow_mut().other_kind();
        let mut log = self.log.borrow_mut();
        if !matches!(log.last(), Some(Event::OtherKind)) {
            log.push(Event::OtherKind);
        }
    }

    /// The schemas a strategic merge patch applied now uses.
    pub fn schema(&self) -> Arc<SchemaSet> {
        let set = self.state.borrow_mut().schema();
        let mut log = self.log.borrow_mut();
        // A use right after the same use changes nothing (one per patched resource).
        if !matches!(log.last(), Some(Event::Use(last)) if Arc::ptr_eq(last, &set)) {
            log.push(Event::Use(set.clone()));
        }
        set
    }

    /// The custom schema whose `paths` decide the scope of kinds outside kustomize's
    /// precomputed table now, if one is loaded. Call [`Tracker::saw`] for the kinds first.
    pub fn scopes(&self) -> Option<Arc<CustomSchema>> {
        let s = self.state.borrow().scopes();
        self.log.borrow_mut().push(Event::Scope(s.clone()));
        s
    }

    /// A position in the event log.
    pub fn mark(&self) -> usize {
        self.log.borrow().len()
    }

    /// The events since `mark`.
    pub fn events_since(&self, mark: usize) -> Vec<Event> {
        self.log.borrow()[mark..].to_vec()
    }

    /// Replays the events a cached build recorded: if every patch and scope question among
    /// them gets the same answer from the current state, the state advances as that build
    /// advanced it and `true` is returned; otherwise nothing changes.
    pub fn replay(&self, events: &[Event]) -> bool {
        let mut st = self.state.borrow().clone();
        for e in events {
            match e {
                Event::Enter(spec) => st.set_schema(spec, false),
                Event::OtherKind => st.other_kind(),
                Event::Use(expected) => {
                    if *st.schema() != **expected {
                        return false;
                    }
                }
                Event::Scope(expected) => {
                    if st.scopes() != *expected {
                        return false;
                    }
                }
            }
        }
        *self.state.borrow_mut() = st;
        self.log.borrow_mut().extend_from_slice(events);
        true
    }
}

/// kyaml's `precomputedIsNamespaceScoped`: the kinds whose scope kustomize knows without
/// loading a schema.
#[rustfmt::skip]
static PRECOMPUTED: &[(&str, &str)] = &[
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("apps/v1", "ControllerRevision"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("autoscaling/v1", "HorizontalPodAutoscaler"),
    ("autoscaling/v1", "Scale"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("batch/v1beta1", "CronJob"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("coordination.k8s.io/v1", "Lease"),
    ("coordination.k8s.io/v1beta1", "Lease"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"),
    ("events.k8s.io/v1", "Event"),
    ("events.k8s.io/v1beta1", "Event"),
    ("extensions/v1beta1", "Ingress"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1beta1", "Ingress"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1", "PodDisruptionBudget"),
    ("policy/v1beta1", "PodDisruptionBudget"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "Role"),
    ("rbac.authorization.k8s.io/v1beta1", "RoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "ConfigMap"),
    ("v1", "Endpoints"),
    ("v1", "Event"),
    ("v1", "LimitRange"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"),
    ("v1", "PodAttachOptions"),
    ("v1", "PodExecOptions"),
    ("v1", "PodPortForwardOptions"),
    ("v1", "PodProxyOptions"),
    ("v1", "PodTemplate"),
    ("v1", "ReplicationController"),
    ("v1", "ResourceQuota"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "ServiceProxyOptions"),
];

/// Whether kustomize knows the scope of this type without a schema.
pub fn precomputed(api_version: &str, kind: &str) -> bool {
    PRECOMPUTED
        .binary_search_by(|(a, k)| (*a, *k).cmp(&(api_version, kind)))
        .is_ok()
}

/// A schema read from a JSON value, shown as `schema.json` (for tests).
#[cfg(test)]
pub(crate) fn schema_from(v: Value) -> std::result::Result<CustomSchema, Error> {
    let src = serde_json::to_string_pretty(&v).expect("a JSON value serializes");
    let docs = crate::yaml::parse_stream(&src).expect("JSON is YAML");
    let file = Arc::new(LoadedFile {
        display: Arc::new(PathBuf::from("schema.json")),
        src,
        docs,
        positions: Default::default(),
    });
    CustomSchema::parse(file, PathBuf::from("/schema.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn precomputed_table_is_sorted() {
        assert!(PRECOMPUTED.windows(2).all(|w| w[0] < w[1]));
        assert!(precomputed("apps/v1", "Deployment"));
        assert!(!precomputed("example.com/v1", "Bee"));
        assert!(!precomputed("v1", "List"));
    }

    #[test]
    fn reads_kinds_keys_and_paths() {
        let s = schema_from(json!({
            "definitions": {
                "a.B": {
                    "type": "object",
                    "properties": {
                        "xs": {"type": "array", "items": {"$ref": "#/definitions/a.X"},
                               "x-kubernetes-patch-strategy": "merge,retainKeys",
                               "x-kubernetes-patch-merge-key": "name"},
                        "ps": {"type": ["array"], "items": {"type": "object"},
                               "x-kubernetes-patch-strategy": "merge",
                               "x-kubernetes-patch-merge-key": "port",
                               "x-kubernetes-list-map-keys": ["port", "protocol"]},
                        "fs": {"type": "array", "items": {"type": "string"},
                               "x-kubernetes-patch-strategy": "merge"},
                        "rs": {"type": "array", "x-kubernetes-patch-strategy": "replace",
                               "x-kubernetes-patch-merge-key": "name"},
                        "lm": {"type": "array", "x-kubernetes-list-type": "map",
                               "x-kubernetes-list-map-keys": ["name"]}
                    },
                    "x-kubernetes-group-version-kind": [
                        {"group": "a.io", "version": "v1", "kind": "B"},
                        {"group": "", "version": "v1", "kind": "B"}]
                },
                "a.X": {"type": "object"}
            },
            "paths": {
                "/apis/a.io/v1/bs/{name}": {"get": {"x-kubernetes-group-version-kind":
                    {"group": "a.io", "version": "v1", "kind": "B"}}},
                "/apis/a.io/v1/cs/{name}": {"get": {"x-kubernetes-group-version-kind":
                    {"group": "a.io", "version": "v1", "kind": "C"}}},
                "/apis/a.io/v1/namespaces/{namespace}/cs/{name}": {"get": {
                    "x-kubernetes-group-version-kind": {"group": "a.io", "version": "v1", "kind": "C"}}}
            }
        }))
        .unwrap();
        let b = s.kind("a.io/v1", "B").unwrap();
        assert_eq!(s.kind("v1", "B"), Some(b));
        assert_eq!(s.kind("a.io/v2", "B"), None);
        let props = &s.node_at(b).properties;
        let list = |f: &str| s.node_at(props[f]).list.clone();
        assert_eq!(list("xs"), ListMerge::Keyed(vec!["name".into()]));
        assert_eq!(
            list("ps"),
            ListMerge::Keyed(vec!["port".into(), "protocol".into()])
        );
        assert_eq!(list("fs"), ListMerge::Primitive);
        assert_eq!(list("rs"), ListMerge::Replace);
        assert_eq!(list("lm"), ListMerge::Replace);
        assert!(s.node_at(props["ps"]).items.is_some());
        assert!(s.node_at(props["rs"]).items.is_none());
        let xs_items = s.node_at(s.node_at(props["xs"]).items.unwrap());
        assert!(matches!(
            &xs_items.reference.as_ref().unwrap().target,
            RefTarget::Definition { name, rest } if name == "a.X" && rest.is_empty()
        ));
        assert_eq!(s.namespaced("a.io/v1", "B"), Some(false));
        assert_eq!(s.namespaced("a.io/v1", "C"), Some(true));
        assert_eq!(s.namespaced("a.io/v1", "D"), None);
        assert_eq!(
            s.follow(b, &["properties".into(), "xs".into(), "items".into()]),
            s.node_at(props["xs"]).items
        );
        assert_eq!(s.follow(b, &["properties".into(), "nope".into()]), None);
    }

    #[test]
    fn refs_are_read_as_json_pointers() {
        let def = |t: &RefTarget| match t {
            RefTarget::Definition { name, rest } => Some((name.clone(), rest.clone())),
            RefTarget::Unsupported => None,
        };
        assert_eq!(
            def(&parse_ref("#/definitions/io.k8s.api.core.v1.PodSpec")),
            Some(("io.k8s.api.core.v1.PodSpec".into(), vec![]))
        );
        assert_eq!(
            def(&parse_ref("other.json#/definitions/a~1b/properties/x")),
            Some(("a/b".into(), vec!["properties".into(), "x".into()]))
        );
        assert_eq!(def(&parse_ref("io.k8s.api.core.v1.PodSpec")), None);
        assert_eq!(def(&parse_ref("#/components/schemas/X")), None);
        assert_eq!(def(&parse_ref("#/definitions/")), None);
    }

    #[test]
    fn structural_errors_name_the_place() {
        let e = schema_from(json!({"definitions": {"a": {"properties": {"x": "string"}}}}))
            .unwrap_err();
        assert!(
            e.message.contains("`/definitions/a/properties/x`")
                && e.message.contains("must be a mapping"),
            "{e:?}"
        );
        assert_eq!(e.file.as_deref(), Some(std::path::Path::new("schema.json")));
        assert!(e.line.is_some());
        let e = schema_from(json!({"definitions": {"a": {
            "properties": {"x": {"x-kubernetes-patch-strategy": ["merge"]}}}}}))
        .unwrap_err();
        assert!(e.message.contains("x-kubernetes-patch-strategy"), "{e:?}");
        let e = schema_from(json!({"definitions": {"a": {
            "x-kubernetes-group-version-kind": [{"group": "g", "kind": "K"}]}}}))
        .unwrap_err();
        assert!(e.message.contains("`version` is missing"), "{e:?}");
        let e = schema_from(json!({"definitions": [1]})).unwrap_err();
        assert!(
            e.message.contains("`definitions` must be a mapping"),
            "{e:?}"
        );
        let e = schema_from(json!({"definitions": {"a": {"type": "array", "items": [{}]}}}))
            .unwrap_err();
        assert!(e.message.contains("list of schemas"), "{e:?}");
        let e = schema_from(json!({"definitions": {
            "a": {"x-kubernetes-group-version-kind": [{"version": "v1", "kind": "K"}]},
            "b": {"type": "object", "x-kubernetes-group-version-kind": [{"version": "v1", "kind": "K"}]}
        }}))
        .unwrap_err();
        assert!(e.message.contains("at random"), "{e:?}");
        let e = schema_from(json!([])).unwrap_err();
        assert!(e.message.contains("expected a mapping"), "{e:?}");
    }

    fn custom() -> Arc<CustomSchema> {
        Arc::new(schema_from(json!({"definitions": {}})).unwrap())
    }

    #[test]
    fn custom_schema_at_the_top_replaces_the_builtin_one() {
        let t = Tracker::new();
        let c = custom();
        t.enter_top(&Spec::Custom(c.clone()));
        t.saw("apps/v1", "Deployment");
        assert_eq!(*t.schema(), SchemaSet::custom(c));
    }

    #[test]
    fn first_openapi_field_wins_and_version_blocks_later_ones() {
        let t = Tracker::new();
        t.enter_top(&Spec::Absent);
        let a = custom();
        t.enter(&Spec::Custom(a.clone()));
        t.enter(&Spec::Builtin);
        assert_eq!(*t.schema(), SchemaSet::custom(a.clone()));
        let t = Tracker::new();
        t.enter_top(&Spec::Builtin);
        t.enter(&Spec::Custom(a));
        assert_eq!(*t.schema(), BUILTIN);
    }

    // kubectl-confirmed (tests/fixtures/trees/openapi-*).
    #[test]
    fn builtin_schema_stays_when_loaded_before_the_custom_one() {
        let c = custom();
        // A patch ran first: built-in, then custom over it.
        let t = Tracker::new();
        t.enter_top(&Spec::Absent);
        assert_eq!(*t.schema(), BUILTIN);
        t.enter(&Spec::Custom(c.clone()));
        assert_eq!(*t.schema(), SchemaSet::both(c.clone(), true));
        // A custom kind was read first: custom, then the built-in one over it.
        let t = Tracker::new();
        t.enter_top(&Spec::Absent);
        t.saw("example.com/v1", "Bee");
        t.enter(&Spec::Custom(c.clone()));
        assert_eq!(*t.schema(), SchemaSet::both(c.clone(), false));
        // Nothing happened before: custom alone.
        let t = Tracker::new();
        t.enter_top(&Spec::Absent);
        t.saw("apps/v1", "Deployment");
        t.enter(&Spec::Custom(c.clone()));
        t.saw("example.com/v1", "Bee");
        assert_eq!(*t.schema(), SchemaSet::custom(c));
    }

    #[test]
    fn replay_reuses_a_build_only_when_its_patches_see_the_same_schemas() {
        let c = custom();
        // Record a base that reads a custom kind and patches.
        let t = Tracker::new();
        t.enter_top(&Spec::Absent);
        let m = t.mark();
        t.saw("example.com/v1", "Bee");
        t.schema();
        let events = t.events_since(m);
        assert_eq!(events.len(), 2);
        // Same starting state: reused, and the state moves on.
        let t2 = Tracker::new();
        t2.enter_top(&Spec::Absent);
        assert!(t2.replay(&events));
        assert_eq!(t2.mark(), 2);
        // Under a custom schema the patch would see it: not reused, state untouched.
        let t3 = Tracker::new();
        t3.enter_top(&Spec::Custom(c.clone()));
        assert!(!t3.replay(&events));
        assert_eq!(t3.mark(), 0);
        assert_eq!(*t3.schema(), SchemaSet::custom(c));
    }
}
