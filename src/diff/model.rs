//! The diff model: two renders of one environment matched by identity (group, kind,
//! namespace, name — not by file, not by version), classified, with line diffs of the YAML
//! text, the fields that changed and the overlay entry that set each, host-network
//! highlights, and the validation findings the change introduces or resolves. Computed once;
//! every output format renders this model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::model::{Resource, changed_paths};
use crate::validate::{Diagnostic, Severity};
use crate::yaml;

/// Two resources whose YAML texts are at least this similar (and of the same kind) are one
/// resource renamed.
pub const RENAME_RATIO: f32 = 0.8;

/// How a resource is identified across two renders. `namespace` "" and "default" are one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Key {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn of(r: &Resource) -> Key {
        let (group, _, kind) = r.gvk();
        let ns = r.namespace();
        Key {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: if ns == "default" { "" } else { ns }.to_string(),
            name: r.name().to_string(),
        }
    }

    /// `group:kind:namespace:name`, what `--ignore` globs match.
    pub fn rule_text(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.group, self.kind, self.namespace, self.name
        )
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.group.is_empty() && !self.group.contains('.') && self.group != "apps" {
            write!(f, ".{}", self.group)?;
        }
        if self.namespace.is_empty() {
            write!(f, " {}", self.name)
        } else {
            write!(f, " {}/{}", self.namespace, self.name)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Added,
    Removed,
    Changed,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Added => "added",
            Class::Removed => "removed",
            Class::Changed => "changed",
        }
    }
}

/// One field that differs, and the overlay entry that set it in the head render.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    /// JSON pointer.
    pub path: String,
    /// `patches[0] (overlays/x/kustomization.yaml:12)`, when a transform set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One resource that is not the same in both renders.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDiff {
    pub key: Key,
    pub class: Class,
    /// The identity it had in the base render, when it was renamed (nearly the same text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Key>,
    /// YAML text in the base render ("" when added), secrets masked unless asked.
    pub before: String,
    pub after: String,
    pub added_lines: usize,
    pub removed_lines: usize,
    /// Unified diff hunks (`@@ ... @@` and `+`/`-`/` ` lines), three lines of context.
    pub unified: String,
    pub fields: Vec<FieldChange>,
    /// Host-network consequences a reviewer must see (delete-and-recreate, shared ports).
    pub highlights: Vec<Highlight>,
}

/// A host-network consequence of one resource's change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Highlight {
    pub level: Level,
    pub message: String,
}

/// `breaking`: the rollout can fail as written (an immutable field changes, a new host port
/// another workload of the environment binds); `info`: worth knowing, harmless by itself (a
/// new host port nothing else binds, a port released).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Breaking,
    Info,
}

impl Highlight {
    fn breaking(message: String) -> Highlight {
        Highlight {
            level: Level::Breaking,
            message,
        }
    }

    fn info(message: String) -> Highlight {
        Highlight {
            level: Level::Info,
            message,
        }
    }

    pub fn is_breaking(&self) -> bool {
        self.level == Level::Breaking
    }
}

impl ResourceDiff {
    /// `changed Deployment apps/web`, or `renamed Deployment apps/old -> apps/web`.
    pub fn title(&self) -> String {
        match &self.renamed_from {
            Some(from) => format!("renamed {from} → {}", self.key),
            None => format!("{} {}", self.class.as_str(), self.key),
        }
    }
}

/// A validation finding, flattened for output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub severity: String,
    pub code: String,
    pub resource: String,
    pub path: String,
    pub message: String,
    /// `file:line` of the field (or of the overlay entry that set it).
    pub location: String,
}

/// Findings of the head render absent from the base render (introduced) and the reverse
/// (resolved); errors first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    pub introduced: Vec<Finding>,
    pub resolved: Vec<Finding>,
}

/// One side of an environment that could not be rendered: the environment is reported with
/// the error instead of a diff, and the others still diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderFailure {
    /// `base` or `head`.
    pub side: String,
    /// What that side is (`origin/main`, `working tree`, a directory).
    pub label: String,
    /// The error as strata prints it, temporary checkout paths shown as `REF:path`.
    pub message: String,
}

/// One environment (overlay directory).
#[derive(Debug, Clone, Serialize)]
pub struct EnvDiff {
    pub name: String,
    /// The sides that failed to render (then nothing else of this environment is compared).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<RenderFailure>,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub added_lines: usize,
    pub removed_lines: usize,
    pub resources: Vec<ResourceDiff>,
    pub findings: Findings,
}

impl EnvDiff {
    pub fn has_differences(&self) -> bool {
        !self.resources.is_empty()
    }
}

/// Which environments one change touches.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    /// `changed Deployment apps/web`.
    pub change: String,
    pub envs: Vec<String>,
}

/// One Argo CD Application of a `--argocd` comparison.
#[derive(Debug, Clone, Serialize)]
pub struct AppRow {
    pub name: String,
    /// `server-or-name/namespace`.
    pub destination: String,
    /// `kustomize overlays/x`, `directory manifests/`, `strata plugin overlays/y`, or `-`.
    pub source: String,
    /// The file (or the app of apps) that defines it.
    pub defined_in: String,
    /// What this change does to it: `unchanged`, `1 added, 0 removed, 2 changed`, `not
    /// rendered offline: a Helm chart`, `the head does not render`.
    pub status: String,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// With `--argocd`: every Application of either side (environments are apps then).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppRow>,
    /// What the base is (`origin/main`, a directory, "overlay inputs").
    pub base: String,
    pub head: String,
    pub envs: Vec<EnvDiff>,
    pub matrix: Vec<MatrixRow>,
    /// Each distinct change once, with the environments it was made in (see `group`).
    pub groups: Vec<super::group::ChangeGroup>,
    /// Environments with the same changes (and failures), folded into one column or row.
    pub columns: Vec<super::group::EnvGroup>,
    /// Each distinct finding introduced or resolved once, with its environments.
    pub findings: Vec<super::group::FindingGroup>,
    /// Secrets were masked (`--show-secrets` not given).
    pub secrets_masked: bool,
}

impl DiffReport {
    /// The report over `envs`, with the groupings every format shows.
    pub fn new(base: String, head: String, envs: Vec<EnvDiff>, secrets_masked: bool) -> Self {
        let matrix = matrix(&envs);
        let groups = super::group::changes(&envs);
        let columns = super::group::environments(&envs, &groups);
        let findings = super::group::findings(&envs);
        DiffReport {
            apps: Vec::new(),
            base,
            head,
            envs,
            matrix,
            groups,
            columns,
            findings,
            secrets_masked,
        }
    }

    pub fn has_differences(&self) -> bool {
        self.envs.iter().any(EnvDiff::has_differences)
    }

    /// Some side of some environment could not be rendered.
    pub fn has_failures(&self) -> bool {
        self.envs.iter().any(|e| !e.failures.is_empty())
    }
}

/// What to leave out of the comparison.
#[derive(Default)]
pub struct Ignore {
    /// `group:kind:namespace:name` globs.
    pub ids: Option<GlobSet>,
    /// JSON-pointer globs (`*` stays within one segment, `**` crosses them).
    pub paths: Option<GlobSet>,
}

impl Ignore {
    pub fn new(ids: &[String], paths: &[String]) -> Result<Ignore, String> {
        let build = |pats: &[String], sep: bool| -> Result<Option<GlobSet>, String> {
            if pats.is_empty() {
                return Ok(None);
            }
            let mut b = GlobSetBuilder::new();
            for p in pats {
                b.add(
                    GlobBuilder::new(p)
                        .literal_separator(sep)
                        .build()
                        .map_err(|e| format!("invalid ignore pattern `{p}`: {e}"))?,
                );
            }
            b.build().map(Some).map_err(|e| e.to_string())
        };
        Ok(Ignore {
            ids: build(ids, false)?,
            paths: build(paths, true)?,
        })
    }

    fn ignores(&self, key: &Key) -> bool {
        self.ids
            .as_ref()
            .is_some_and(|g| g.is_match(key.rule_text()))
    }

    /// The object without the ignored fields.
    fn strip(&self, obj: &serde_json::Map<String, Value>) -> Value {
        let mut v = Value::Object(obj.clone());
        if let Some(g) = &self.paths {
            strip_paths(&mut v, &mut String::new(), g);
        }
        v
    }
}

fn strip_paths(v: &mut Value, path: &mut String, globs: &GlobSet) {
    match v {
        Value::Object(m) => {
            m.retain(|k, child| {
                let len = path.len();
                crate::model::pointer::push_key(path, k);
                let keep = !globs.is_match(path.as_str());
                if keep {
                    strip_paths(child, path, globs);
                }
                path.truncate(len);
                keep
            });
        }
        Value::Array(a) => {
            let mut i = 0;
            a.retain_mut(|child| {
                let len = path.len();
                crate::model::pointer::push_index(path, i);
                i += 1;
                let keep = !globs.is_match(path.as_str());
                if keep {
                    strip_paths(child, path, globs);
                }
                path.truncate(len);
                keep
            });
        }
        _ => {}
    }
}

/// One render of an environment, ready to compare.
pub struct Side<'a> {
    pub resources: &'a [Resource],
    pub diagnostics: &'a [Diagnostic],
    /// The tree it was rendered from, to tell which inputs differ between the sides (field
    /// attribution); `None` when the side is not a tree (overlay inputs).
    pub root: Option<&'a Path>,
}

/// Rewrites file paths for display (temporary checkouts shown as `REF:path`).
pub type Relabel<'a> = &'a dyn Fn(&str) -> String;

struct Prepared<'a> {
    key: Key,
    res: &'a Resource,
    value: Value,
    text: String,
}

fn prepare<'a>(set: &'a [Resource], ignore: &Ignore) -> Vec<Prepared<'a>> {
    set.iter()
        .map(|r| (Key::of(r), r))
        .filter(|(k, _)| !ignore.ignores(k))
        .map(|(key, res)| {
            let value = ignore.strip(res.obj());
            let text = yaml::to_yaml(&value);
            Prepared {
                key,
                res,
                value,
                text,
            }
        })
        .collect()
}

/// Compares one environment's two renders.
pub fn diff_env(
    name: &str,
    base: Side<'_>,
    head: Side<'_>,
    ignore: &Ignore,
    relabel: Relabel<'_>,
) -> EnvDiff {
    let before = prepare(base.resources, ignore);
    let after = prepare(head.resources, ignore);
    // A key leaves out the version, so a render may hold several resources with one key
    // (the same object in two versions): each is matched once, to the one of the other side
    // with the same version first, then to one left over.
    let mut before_by_key: HashMap<&Key, Vec<usize>> = HashMap::new();
    for (i, p) in before.iter().enumerate() {
        before_by_key.entry(&p.key).or_default().push(i);
    }
    let after_keys: BTreeSet<&Key> = after.iter().map(|p| &p.key).collect();

    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    let mut matched_before = BTreeSet::new();
    let mut matched_after = vec![false; after.len()];
    for same_version in [true, false] {
        for (j, a) in after.iter().enumerate() {
            if matched_after[j] {
                continue;
            }
            let found = before_by_key.get(&a.key).and_then(|is| {
                is.iter().copied().find(|i| {
                    !matched_before.contains(i)
                        && (!same_version || before[*i].res.gvk().1 == a.res.gvk().1)
                })
            });
            if let Some(i) = found {
                matched_before.insert(i);
                matched_after[j] = true;
                pairs.push((Some(i), Some(j)));
            }
        }
    }
    let mut unmatched_after: Vec<usize> = (0..after.len()).filter(|&j| !matched_after[j]).collect();
    // A resource a transform renamed or moved (namespace, prefix) keeps its earlier
    // identities: match those next, as renames.
    unmatched_after.retain(|&j| {
        let earlier = after[j].res.previous_ids.iter().rev().find_map(|id| {
            let key = Key {
                group: id.group.clone(),
                kind: id.kind.clone(),
                namespace: if id.namespace == "default" {
                    ""
                } else {
                    &id.namespace
                }
                .to_string(),
                name: id.name.clone(),
            };
            before_by_key.get(&key).and_then(|is| {
                is.iter()
                    .copied()
                    .find(|i| !after_keys.contains(&before[*i].key) && !matched_before.contains(i))
            })
        });
        match earlier {
            Some(i) => {
                matched_before.insert(i);
                pairs.push((Some(i), Some(j)));
                false
            }
            None => true,
        }
    });
    let unmatched_before: Vec<usize> = (0..before.len())
        .filter(|i| !matched_before.contains(i))
        .collect();

    // Rename detection: same group and kind, YAML text nearly the same; best pairs first.
    let mut candidates = Vec::new();
    for &i in &unmatched_before {
        for &j in &unmatched_after {
            let (b, a) = (&before[i], &after[j]);
            if b.key.kind != a.key.kind || b.key.group != a.key.group {
                continue;
            }
            let (lb, la) = (b.text.len() as f32, a.text.len() as f32);
            if 2.0 * lb.min(la) / (lb + la) <= RENAME_RATIO {
                continue; // the ratio cannot reach the threshold
            }
            let ratio = TextDiff::from_lines(&b.text, &a.text).ratio();
            if ratio > RENAME_RATIO {
                candidates.push((ratio, i, j));
            }
        }
    }
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let mut used_b = BTreeSet::new();
    let mut used_a = BTreeSet::new();
    for (_, i, j) in candidates {
        if used_b.contains(&i) || used_a.contains(&j) {
            continue;
        }
        used_b.insert(i);
        used_a.insert(j);
        pairs.push((Some(i), Some(j)));
    }
    for &i in unmatched_before.iter().filter(|i| !used_b.contains(*i)) {
        pairs.push((Some(i), None));
    }
    for &j in unmatched_after.iter().filter(|j| !used_a.contains(*j)) {
        pairs.push((None, Some(j)));
    }

    let mut files = Files::default();
    let mut env = EnvDiff {
        name: name.to_string(),
        failures: Vec::new(),
        added: 0,
        removed: 0,
        changed: 0,
        unchanged: 0,
        added_lines: 0,
        removed_lines: 0,
        resources: Vec::new(),
        findings: findings_delta(base.diagnostics, head.diagnostics, relabel),
    };
    for (i, j) in pairs {
        let b = i.map(|i| &before[i]);
        let a = j.map(|j| &after[j]);
        let (btext, atext) = (
            b.map(|p| p.text.as_str()).unwrap_or(""),
            a.map(|p| p.text.as_str()).unwrap_or(""),
        );
        let same_key = matches!((b, a), (Some(b), Some(a)) if b.key == a.key);
        if same_key && btext == atext {
            env.unchanged += 1;
            continue;
        }
        let td = TextDiff::from_lines(btext, atext);
        let (mut plus, mut minus) = (0, 0);
        for c in td.iter_all_changes() {
            match c.tag() {
                ChangeTag::Insert => plus += 1,
                ChangeTag::Delete => minus += 1,
                ChangeTag::Equal => {}
            }
        }
        let unified = td.unified_diff().context_radius(3).to_string();
        let class = match (b, a) {
            (Some(_), Some(_)) => Class::Changed,
            (None, _) => Class::Added,
            (_, None) => Class::Removed,
        };
        let fields = match (b, a) {
            (Some(b), Some(a)) => changed_paths(&b.value, &a.value)
                .into_iter()
                .map(|path| FieldChange {
                    by: attribute(
                        (b.res, base.root),
                        (a.res, head.root),
                        &path,
                        &mut files,
                        relabel,
                    ),
                    path,
                })
                .collect(),
            _ => Vec::new(),
        };
        let highlights = highlights(
            b.map(|p| p.res.obj()),
            a.map(|p| (p.res, j.unwrap())),
            head.resources,
        );
        let key = a.or(b).map(|p| p.key.clone()).expect("one side is present");
        let renamed_from = b
            .filter(|_| !same_key && a.is_some())
            .map(|b| b.key.clone());
        match class {
            Class::Added => env.added += 1,
            Class::Removed => env.removed += 1,
            Class::Changed => env.changed += 1,
        }
        env.added_lines += plus;
        env.removed_lines += minus;
        env.resources.push(ResourceDiff {
            key,
            class,
            renamed_from,
            before: btext.to_string(),
            after: atext.to_string(),
            added_lines: plus,
            removed_lines: minus,
            unified,
            fields,
            highlights,
        });
    }
    env.resources
        .sort_by(|x, y| (x.class, &x.key).cmp(&(y.class, &y.key)));
    env
}

/// An environment whose `side` could not be rendered.
pub fn failed_env(name: &str, failures: Vec<RenderFailure>) -> EnvDiff {
    EnvDiff {
        name: name.to_string(),
        failures,
        added: 0,
        removed: 0,
        changed: 0,
        unchanged: 0,
        added_lines: 0,
        removed_lines: 0,
        resources: Vec::new(),
        findings: Findings::default(),
    }
}

/// The last transform entry that set the field at `path` (or a parent or child of it).
fn last_setter<'r>(r: &'r Resource, path: &str) -> Option<&'r crate::model::Actor> {
    r.changes
        .iter()
        .rev()
        .filter(|c| c.note.is_none())
        .find(|c| {
            path == c.path
                || path.starts_with(&format!("{}/", c.path))
                || c.path.starts_with(&format!("{path}/"))
        })
        .map(|c| &*c.by)
}

/// Files read while attributing changes, by path (`None`: unreadable).
#[derive(Default)]
struct Files(HashMap<PathBuf, Option<String>>);

impl Files {
    fn text(&mut self, path: &Path) -> Option<&str> {
        self.0
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::read_to_string(path).ok())
            .as_deref()
    }

    /// `path` relative to `root` (both canonical where they exist).
    fn relative(path: &Path, root: &Path) -> Option<PathBuf> {
        let p = path.canonicalize().ok()?;
        p.strip_prefix(root.canonicalize().ok()?)
            .ok()
            .map(Path::to_path_buf)
    }

    /// The same file (by its place in the tree) with the same text on both sides.
    fn same(&mut self, base: (&Path, &Path), head: (&Path, &Path)) -> bool {
        let (Some(rb), Some(rh)) = (
            Files::relative(base.0, base.1),
            Files::relative(head.0, head.1),
        ) else {
            return false;
        };
        if rb != rh {
            return false;
        }
        let b = self.text(base.0).map(str::to_owned);
        b.is_some() && b.as_deref() == self.text(head.0)
    }
}

/// Who changed the field at `path` between the two renders. The head's last transform entry
/// that set it, unless that entry is the same on both sides (same file, same text): then the
/// entry only passed a changed input through (a Substitution over an image the base file
/// bumped), and the change is credited to the resource's source file, at the field's line,
/// when that file is what differs.
fn attribute(
    base: (&Resource, Option<&Path>),
    head: (&Resource, Option<&Path>),
    path: &str,
    files: &mut Files,
    relabel: Relabel<'_>,
) -> Option<String> {
    let shown = |a: &crate::model::Actor| {
        format!(
            "{} ({}:{})",
            a.what,
            relabel(&a.file.display().to_string()),
            a.line
        )
    };
    let (Some(base_root), Some(head_root)) = (base.1, head.1) else {
        return last_setter(head.0, path).map(shown);
    };
    let (b, h) = (base.0, head.0);
    let Some(actor) = last_setter(h, path) else {
        return last_setter(b, path).map(|a| format!("no longer by {}", shown(a)));
    };
    let unchanged_entry = last_setter(b, path).is_some_and(|ba| {
        ba.what == actor.what && files.same((&ba.file, base_root), (&actor.file, head_root))
    });
    if !unchanged_entry || files.same((&b.origin.file, base_root), (&h.origin.file, head_root)) {
        return Some(shown(actor));
    }
    let src = files.text(&h.origin.file)?;
    let line = crate::yaml::Positions::of(src)
        .find_pointer(h.origin.doc_index, path)
        .map_or(h.origin.line, |(line, _)| line);
    Some(format!(
        "{} (the source; {} only passed it on)",
        relabel(&format!("{}:{line}", h.origin.file.display())),
        actor.what
    ))
}

fn findings_delta(base: &[Diagnostic], head: &[Diagnostic], relabel: Relabel<'_>) -> Findings {
    let flat = |d: &Diagnostic| Finding {
        severity: d.severity.as_str().to_string(),
        code: d.code.to_string(),
        resource: d.resource.to_string(),
        path: d.path.clone(),
        message: d.message.clone(),
        location: format!("{}:{}", relabel(&d.location.file), d.location.line),
    };
    // Same finding: same rule, resource, field and message (locations move with edits).
    let ident = |d: &Diagnostic| {
        (
            d.code,
            d.resource.to_string(),
            d.path.clone(),
            d.message.clone(),
        )
    };
    let bset: BTreeSet<_> = base.iter().map(ident).collect();
    let hset: BTreeSet<_> = head.iter().map(ident).collect();
    let order = |v: &mut Vec<(Severity, Finding)>| {
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    };
    let mut introduced: Vec<_> = head
        .iter()
        .filter(|d| !bset.contains(&ident(d)))
        .map(|d| (d.severity, flat(d)))
        .collect();
    let mut resolved: Vec<_> = base
        .iter()
        .filter(|d| !hset.contains(&ident(d)))
        .map(|d| (d.severity, flat(d)))
        .collect();
    order(&mut introduced);
    order(&mut resolved);
    Findings {
        introduced: introduced.into_iter().map(|x| x.1).collect(),
        resolved: resolved.into_iter().map(|x| x.1).collect(),
    }
}

/// The pod spec of a workload, and whether the workload is a bare Pod.
fn pod_spec(obj: &serde_json::Map<String, Value>) -> Option<(&Value, bool)> {
    let kind = obj.get("kind").and_then(Value::as_str)?;
    let v = obj.get("spec")?;
    match kind {
        "Pod" => Some((v, true)),
        "Deployment"
        | "DaemonSet"
        | "StatefulSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => v.pointer("/template/spec").map(|s| (s, false)),
        "CronJob" => v
            .pointer("/jobTemplate/spec/template/spec")
            .map(|s| (s, false)),
        _ => None,
    }
}

/// The host ports a pod binds: `hostPort`s, and with host networking every `containerPort`.
fn host_ports(obj: &serde_json::Map<String, Value>) -> BTreeSet<(u64, String)> {
    let mut out = BTreeSet::new();
    let Some((spec, _)) = pod_spec(obj) else {
        return out;
    };
    let host_net = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for p in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let port = p.get("hostPort").and_then(Value::as_u64).or_else(|| {
                    host_net
                        .then(|| p.get("containerPort").and_then(Value::as_u64))
                        .flatten()
                });
                if let Some(port) = port {
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    out.insert((port, proto.to_string()));
                }
            }
        }
    }
    out
}

fn highlights(
    before: Option<&serde_json::Map<String, Value>>,
    after: Option<(&Resource, usize)>,
    head_set: &[Resource],
) -> Vec<Highlight> {
    let mut out: Vec<Highlight> = Vec::new();
    let after_obj = after.map(|(r, _)| r.obj());
    if let (Some(b), Some(a)) = (before, after_obj)
        && let (Some((bs, true)), Some((as_, true))) = (pod_spec(b), pod_spec(a))
    {
        for field in ["hostNetwork", "dnsPolicy"] {
            if bs.get(field) != as_.get(field) {
                out.push(Highlight::breaking(format!(
                    "`{field}` of a bare Pod changes ({} → {}): Pod specs are immutable, so the Pod must be deleted and recreated (kubectl apply is rejected)",
                    show(bs.get(field)),
                    show(as_.get(field)),
                )));
            }
        }
    }
    let bports = before.map(host_ports).unwrap_or_default();
    if let Some((res, _)) = after {
        let aports = host_ports(res.obj());
        let me = Key::of(res);
        for (port, proto) in aports.difference(&bports) {
            let others: Vec<String> = head_set
                .iter()
                .filter(|o| Key::of(o) != me)
                .filter(|o| host_ports(o.obj()).contains(&(*port, proto.clone())))
                .map(|o| Key::of(o).to_string())
                .collect();
            if others.is_empty() {
                out.push(Highlight::info(format!(
                    "host port {port}/{proto} is new here; no other workload of this environment binds it"
                )));
            } else {
                out.push(Highlight::breaking(format!(
                    "host port {port}/{proto} is new here and also bound by: {}",
                    others.join(", ")
                )));
            }
        }
    }
    for (port, proto) in
        bports.difference(&after.map(|(r, _)| host_ports(r.obj())).unwrap_or_default())
    {
        out.push(Highlight::info(format!(
            "host port {port}/{proto} is released"
        )));
    }
    out
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "unset".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Which environments each change touches, for reports over several overlays.
pub fn matrix(envs: &[EnvDiff]) -> Vec<MatrixRow> {
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in envs {
        for r in &e.resources {
            rows.entry(r.title()).or_default().push(e.name.clone());
        }
    }
    rows.into_iter()
        .map(|(change, envs)| MatrixRow { change, envs })
        .collect()
}
