//! Resources as strata sees them: `type meta + metadata + free JSON` (like kube-rs'
//! `DynamicObject`), with their identity and the place they were read from.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Error;

pub mod pointer;

/// The identity of a resource: group, version, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// A [`ResId`] borrowed from a resource ([`Resource::id_ref`]). It hashes as the `ResId`
/// with the same fields does, so maps keyed by `ResId` can be searched with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdRef<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl IdRef<'_> {
    pub fn owned(self) -> ResId {
        ResId {
            group: self.group.to_string(),
            version: self.version.to_string(),
            kind: self.kind.to_string(),
            namespace: self.namespace.to_string(),
            name: self.name.to_string(),
        }
    }

    /// The same five fields as `id`.
    pub fn is(&self, id: &ResId) -> bool {
        self.group == id.group
            && self.version == id.version
            && self.kind == id.kind
            && self.namespace == id.namespace
            && self.name == id.name
    }
}

impl indexmap::Equivalent<ResId> for IdRef<'_> {
    fn equivalent(&self, key: &ResId) -> bool {
        self.is(key)
    }
}

impl ResId {
    /// Namespaces compare equal when both are "default" or empty, as kustomize compares them.
    pub fn same_namespace(&self, other: &str) -> bool {
        let norm = |s: &str| if s.is_empty() { "default" } else { s }.to_string();
        norm(&self.namespace) == norm(other)
    }

    /// The same object for Kubernetes: group, kind, namespace and name (not version). Note
    /// that kustomize, and so `check_unique`, counts the version as part of the identity.
    pub fn same_object(&self, o: &ResId) -> bool {
        self.group == o.group
            && self.kind == o.kind
            && self.name == o.name
            && self.same_namespace(&o.namespace)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.api_version())?;
        if !self.namespace.is_empty() {
            write!(f, " {}/{}", self.namespace, self.name)
        } else {
            write!(f, " {}", self.name)
        }
    }
}

/// Splits `apiVersion` into group and version (`apps/v1` -> `apps`, `v1`; `v1` -> ``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Where a resource was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, as the user would write it (relative to the working directory where possible).
    pub file: Arc<PathBuf>,
    /// The line its document starts on (1-based).
    pub line: usize,
    /// Which non-empty document of the file it is (0-based), for locating fields later.
    pub doc_index: usize,
    /// Its index in the `items` of a `kind: List` document, when it was one of them.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Who changed a field: a transform entry, at a line of an overlay file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// What did it: `HostNetwork node-agents`, `patches[0]`, `images[1]`.
    pub what: String,
    pub file: Arc<PathBuf>,
    pub line: usize,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.what, self.file.display(), self.line)
    }
}

/// One field a transform set or changed (provenance), or a note it made about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// JSON pointer of the field (`/spec/template/spec/hostNetwork`).
    pub path: String,
    pub by: Arc<Actor>,
    /// A remark instead of a change (e.g. "explicit dnsPolicy Default kept").
    pub note: Option<String>,
}

/// One Kubernetes object.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Read with [`Resource::obj`]; changed only through [`Resource::obj_mut`], which keeps
    /// `ident` in step.
    obj: Map<String, Value>,
    /// The identity fields of `obj`, copied beside it.
    ident: Ident,
    pub origin: Origin,
    /// Identities this resource had before transforms changed its namespace or name, oldest
    /// first; patch targets match them as they match the current one.
    pub previous_ids: Vec<ResId>,
    /// The name prefixes and suffixes given to this resource, innermost first (kustomize's
    /// build context: name references bind to the copy of a base that got the same ones).
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// The fields transforms set or changed, in order (provenance).
    pub changes: Vec<Change>,
    /// JSON pointers of strings whose `${NAME}` text is literal on purpose (written `$${NAME}`
    /// and unescaped by Substitution); validation does not report them as placeholders.
    pub literals: Vec<String>,
}

impl Resource {
    /// Checks that a document is a Kubernetes object: a mapping with `apiVersion`, `kind` and
    /// `metadata.name` as strings.
    pub fn from_value(value: Value, origin: Origin) -> Result<Resource, Error> {
        let err = |msg: String| {
            Error::new(msg)
                .in_file(&origin.file)
                .at(origin.line, 1)
                .help("every document must be a Kubernetes object with apiVersion, kind and metadata.name")
        };
        let Value::Object(obj) = value else {
            return Err(err(format!(
                "the document is a {}, not a Kubernetes object",
                kind_of(&value)
            )));
        };
        for field in ["apiVersion", "kind"] {
            match obj.get(field) {
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(v) => {
                    return Err(err(format!(
                        "`{field}` must be a non-empty string, found {}",
                        kind_of(v)
                    )));
                }
                None => return Err(err(format!("the document has no `{field}`"))),
            }
        }
        match obj.get("metadata") {
            Some(Value::Object(m)) => match m.get("name") {
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(v) => {
                    return Err(err(format!(
                        "`metadata.name` must be a non-empty string, found {}",
                        kind_of(v)
                    )));
                }
                None if m.get("generateName").is_some() => {
                    return Err(err(
                        "`metadata.generateName` without `metadata.name` cannot be rendered: the \
                         object has no stable identity"
                            .into(),
                    ));
                }
                None => return Err(err("the document has no `metadata.name`".into())),
            },
            Some(v) => {
                return Err(err(format!(
                    "`metadata` must be a mapping, found {}",
                    kind_of(v)
                )));
            }
            None => return Err(err("the document has no `metadata`".into())),
        }
        if let Some(ns) = obj.get("metadata").and_then(|m| m.get("namespace"))
            && !ns.is_string()
            && !ns.is_null()
        {
            return Err(err(format!(
                "`metadata.namespace` must be a string, found {}",
                kind_of(ns)
            )));
        }
        Ok(Resource {
            ident: Ident::of(&obj),
            obj,
            origin,
            previous_ids: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            changes: Vec::new(),
            literals: Vec::new(),
        })
    }

    /// The object.
    pub fn obj(&self) -> &Map<String, Value> {
        &self.obj
    }

    /// The object, to change; its identity is read again when the borrow ends.
    pub fn obj_mut(&mut self) -> ObjMut<'_> {
        ObjMut { r: self }
    }

    /// A top-level field outside the identity (not `apiVersion`, `kind` or `metadata`), to
    /// change without reading the identity again.
    pub fn field_entry(&mut self, key: &str) -> serde_json::map::Entry<'_> {
        assert!(
            !matches!(key, "apiVersion" | "kind" | "metadata"),
            "field_entry({key}): identity fields change through obj_mut"
        );
        self.obj.entry(key)
    }

    /// Runs `f` on the object as a [`Value`] (for code that walks values from the root), then
    /// reads the identity again. Should `f` leave something other than a mapping, the object
    /// is left empty.
    pub fn edit_value<R>(&mut self, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut value = Value::Object(std::mem::take(&mut self.obj));
        let out = f(&mut value);
        self.obj = match value {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        self.ident.read(&self.obj);
        out
    }

    pub fn api_version(&self) -> &str {
        self.ident.api_version()
    }

    pub fn kind(&self) -> &str {
        self.ident.part(1)
    }

    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.obj.get("metadata").and_then(Value::as_object)
    }

    /// `metadata`, to change: created as an empty mapping when it is missing or not a mapping.
    pub fn metadata_mut(&mut self) -> MetadataMut<'_> {
        let mut obj = self.obj_mut();
        let md = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !md.is_object() {
            *md = Value::Object(Map::new());
        }
        MetadataMut(obj)
    }

    pub fn name(&self) -> &str {
        self.ident.part(3)
    }

    pub fn namespace(&self) -> &str {
        self.ident.part(2)
    }

    fn string_map(&self, key: &str) -> Vec<(&str, &str)> {
        self.metadata()
            .and_then(|m| m.get(key))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn labels(&self) -> Vec<(&str, &str)> {
        self.string_map("labels")
    }

    pub fn annotations(&self) -> Vec<(&str, &str)> {
        self.string_map("annotations")
    }

    /// Group, version and kind, borrowed (no allocation, for hot paths).
    pub fn gvk(&self) -> (&str, &str, &str) {
        let (g, v) = self.ident.group_version();
        (g, v, self.kind())
    }

    pub fn id(&self) -> ResId {
        self.id_ref().owned()
    }

    /// The identity, borrowed: for comparing and looking up without allocating five strings.
    pub fn id_ref(&self) -> IdRef<'_> {
        let (group, version) = self.ident.group_version();
        IdRef {
            group,
            version,
            kind: self.kind(),
            namespace: self.namespace(),
            name: self.name(),
        }
    }

    /// The identity as duplicates are found: a `default` namespace counts as none, as
    /// kustomize counts it.
    pub fn unique_id(&self) -> IdRef<'_> {
        let mut id = self.id_ref();
        if id.namespace == "default" {
            id.namespace = "";
        }
        id
    }

    /// The current identity and every earlier one.
    pub fn all_ids(&self) -> impl Iterator<Item = ResId> + '_ {
        std::iter::once(self.id()).chain(self.previous_ids.iter().cloned())
    }

    /// The identity it was read with (kustomize's `OrgId`).
    pub fn org_id(&self) -> ResId {
        self.previous_ids
            .first()
            .cloned()
            .unwrap_or_else(|| self.id())
    }

    /// Records the current identity before a transform changes namespace or name.
    pub fn remember_id(&mut self) {
        let id = self.id_ref();
        if self.previous_ids.last().is_none_or(|last| !id.is(last)) {
            let id = id.owned();
            // Most objects move once: room for one, not the four a first push makes.
            if self.previous_ids.capacity() == 0 {
                self.previous_ids.reserve_exact(1);
            }
            self.previous_ids.push(id);
        }
    }

    /// Records that `by` set the field at `path`.
    pub fn changed(&mut self, path: impl Into<String>, by: &Arc<Actor>) {
        self.changes.push(Change {
            path: path.into(),
            by: by.clone(),
            note: None,
        });
    }

    /// Records a remark of `by` about the field at `path`.
    pub fn note(&mut self, path: impl Into<String>, by: &Arc<Actor>, note: impl Into<String>) {
        self.changes.push(Change {
            path: path.into(),
            by: by.clone(),
            note: Some(note.into()),
        });
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.obj)
    }
}

/// The identity fields of an object (`apiVersion`, `kind`, `metadata.namespace`,
/// `metadata.name`; "" where missing or not a string), copied into one string. Every pass
/// reads them (scope, identity, sort, validation); kept beside the object, they cost no map
/// lookups on a tree that is no longer in cache.
#[derive(Debug, Clone, Default)]
struct Ident {
    text: String,
    /// Where each of the four fields ends in `text`.
    ends: [usize; 4],
    /// Where the group ends in `apiVersion` (its last `/`), if it has one.
    slash: Option<usize>,
}

impl Ident {
    fn of(obj: &Map<String, Value>) -> Ident {
        let mut ident = Ident::default();
        ident.read(obj);
        ident
    }

    /// Reads the fields from `obj` again, reusing the buffer.
    fn read(&mut self, obj: &Map<String, Value>) {
        fn field(v: Option<&Value>) -> &str {
            v.and_then(Value::as_str).unwrap_or("")
        }
        let metadata = obj.get("metadata").and_then(Value::as_object);
        let meta = |key: &str| field(metadata.and_then(|m| m.get(key)));
        let parts = [
            field(obj.get("apiVersion")),
            field(obj.get("kind")),
            meta("namespace"),
            meta("name"),
        ];
        self.text.clear();
        for (i, part) in parts.iter().enumerate() {
            self.text.push_str(part);
            self.ends[i] = self.text.len();
        }
        self.slash = parts[0].rfind('/');
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn api_version(&self) -> &str {
        self.part(0)
    }

    /// Group and version, as [`split_api_version`] splits them.
    fn group_version(&self) -> (&str, &str) {
        let av = self.api_version();
        match self.slash {
            Some(i) => (&av[..i], &av[i + 1..]),
            None => ("", av),
        }
    }
}

/// [`Resource::obj_mut`]: the object, borrowed mutably; dropping it reads the identity again,
/// while the object is still in cache.
pub struct ObjMut<'a> {
    r: &'a mut Resource,
}

impl std::ops::Deref for ObjMut<'_> {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.r.obj
    }
}

impl std::ops::DerefMut for ObjMut<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.r.obj
    }
}

impl Drop for ObjMut<'_> {
    fn drop(&mut self) {
        self.r.ident.read(&self.r.obj);
    }
}

/// [`Resource::metadata_mut`]: `metadata`, a mapping, borrowed mutably.
pub struct MetadataMut<'a>(ObjMut<'a>);

impl std::ops::Deref for MetadataMut<'_> {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.0
            .get("metadata")
            .and_then(Value::as_object)
            .expect("metadata_mut made metadata a mapping")
    }
}

impl std::ops::DerefMut for MetadataMut<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .expect("metadata_mut made metadata a mapping")
    }
}

/// A short word for a JSON value's type, for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// The resources of one build, in order.
pub type ResourceSet = Vec<Resource>;

/// Identities seen so far in one accumulation, to reject a second resource with the same
/// identity (kustomize counts group, version, kind, namespace and name) in linear time.
///
/// It holds positions in the set being accumulated and a hash of each identity, computed on
/// all cores for a large set; identities themselves are read again only where two hashes
/// meet, so the serial part is one table insert per resource.
#[derive(Default)]
pub struct IdIndex {
    table: hashbrown::HashTable<(u64, usize)>,
    hasher: std::hash::RandomState,
}

impl IdIndex {
    /// Indexes `set[start..]` (the resources added since the last call: the set only grows
    /// between calls), rejecting the first one whose identity was seen before.
    pub fn add_from(&mut self, set: &[Resource], start: usize) -> Result<(), Error> {
        use std::hash::BuildHasher;
        let added = &set[start..];
        let hash = |r: &Resource| self.hasher.hash_one(r.unique_id());
        let hashes: Vec<u64> = if added.len() >= crate::parallel::PARALLEL_MIN {
            use rayon::prelude::*;
            added.par_iter().map(hash).collect()
        } else {
            added.iter().map(hash).collect()
        };
        self.table.reserve(added.len(), |&(h, _)| h);
        for (i, h) in (start..).zip(hashes) {
            let same =
                |&(hj, j): &(u64, usize)| hj == h && set[j].unique_id() == set[i].unique_id();
            if let Some(&(_, first)) = self.table.find(h, same) {
                return Err(duplicate(&set[first], &set[i]));
            }
            self.table.insert_unique(h, (h, i), |&(h, _)| h);
        }
        Ok(())
    }
}

/// The error for `second` having the identity of `first`, read earlier.
fn duplicate(first: &Resource, second: &Resource) -> Error {
    Error::new(format!(
        "two resources have the same identity: {} (first read at {})",
        second.id(),
        first.origin
    ))
    .in_file(&second.origin.file)
    .at(second.origin.line, 1)
    .help("remove one of them, or give them different names or namespaces")
}

/// Rejects two resources with the same identity, naming both origins.
pub fn check_unique(set: &[Resource]) -> Result<(), Error> {
    IdIndex::default().add_from(set, 0)
}

/// The JSON pointers where `after` differs from `before`: added, removed or changed fields,
/// as deep as both sides are mappings (lists of different lengths count as one change).
pub fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    fn walk(a: &Value, b: &Value, path: &mut String, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, vb) in y {
                    let len = path.len();
                    pointer::push_key(path, k);
                    match x.get(k) {
                        Some(va) => walk(va, vb, path, out),
                        None => out.push(path.clone()),
                    }
                    path.truncate(len);
                }
                for k in x.keys().filter(|k| !y.contains_key(*k)) {
                    let mut removed = path.clone();
                    pointer::push_key(&mut removed, k);
                    out.push(removed);
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    pointer::push_index(path, i);
                    walk(va, vb, path, out);
                    path.truncate(len);
                }
            }
            _ => {
                if a != b {
                    out.push(path.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(before, after, &mut String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> Resource {
        let origin = Origin {
            file: Arc::new("t.yaml".into()),
            line: 1,
            doc_index: 0,
            item: None,
        };
        Resource::from_value(v, origin).expect("a Kubernetes object")
    }

    #[test]
    fn the_identity_follows_every_way_of_changing_the_object() {
        let mut r = res(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "x"}, "spec": {}
        }));
        assert_eq!(r.gvk(), ("apps", "v1", "Deployment"));
        assert_eq!((r.namespace(), r.name()), ("x", "a"));

        r.obj_mut()
            .insert("apiVersion".into(), json!("example.com/v2/beta"));
        assert_eq!(r.gvk(), ("example.com/v2", "beta", "Deployment"));
        assert_eq!(r.api_version(), "example.com/v2/beta");

        r.metadata_mut().insert("name".into(), json!("b"));
        r.metadata_mut().shift_remove("namespace");
        assert_eq!(r.id_ref().name, "b");
        assert_eq!(r.id_ref().namespace, "");

        r.edit_value(|v| v["kind"] = json!("DaemonSet"));
        assert_eq!(r.kind(), "DaemonSet");

        // A field that is not a string reads as missing, as it always has.
        r.edit_value(|v| v["metadata"]["name"] = json!(7));
        assert_eq!(r.name(), "");

        // An edit that leaves no mapping leaves an empty object, and no identity.
        r.edit_value(|v| *v = json!([1]));
        assert!(r.obj().is_empty());
        assert_eq!((r.api_version(), r.kind(), r.name()), ("", "", ""));

        // metadata_mut makes a mapping of a metadata that is not one.
        let mut r =
            res(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        r.obj_mut().insert("metadata".into(), json!("text"));
        r.metadata_mut().insert("name".into(), json!("d"));
        assert_eq!(r.name(), "d");
        assert_eq!(r.obj()["metadata"], json!({"name": "d"}));
    }

    #[test]
    #[should_panic(expected = "identity fields change through obj_mut")]
    fn field_entry_refuses_the_identity_fields() {
        let mut r =
            res(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        let _ = r.field_entry("metadata");
    }
}
