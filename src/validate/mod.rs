//! Validation: rules that look at the whole rendered set at once, knowing the cluster it
//! targets (`ClusterProfile`), and point at the exact field. Each rule lives in `rules/`, has a
//! stable code, and its documentation next to its code (`RuleDoc`); `registry()` lists them in
//! code order. Suppression (`strata.dev/ignore`) and severity overrides are applied here, once,
//! for every rule.

pub mod profile;
pub mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::kustomize::load::Loader;
use crate::model::{Actor, ResId, Resource};
use crate::parallel::PARALLEL_MIN;
use crate::yaml;
pub use profile::ClusterProfile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A rule's documentation, written next to its code; `strata rules CODE` prints it and
/// docs/rules.md is generated from it.
#[derive(Debug)]
pub struct RuleDoc {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

/// A place in a file: the resource's own field, the other party's, or an overlay line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// The other party of a finding (the other workload on the same port), or the overlay line
/// that introduced the value.
#[derive(Debug, Clone, Serialize)]
pub struct Related {
    pub message: String,
    #[serde(flatten)]
    pub location: Location,
}

/// One finding of a rule about a field of a resource.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: &'static str,
    /// A severity other than the rule's (e.g. a warning where cluster facts are unknown);
    /// the profile's override still wins.
    pub severity: Option<Severity>,
    pub message: String,
    /// Index of the resource in the validated set.
    pub resource: usize,
    /// JSON pointer of the offending field.
    pub path: String,
    /// The other party: (resource index, JSON pointer, what it is).
    pub other: Option<(usize, String, String)>,
    /// How to fix this instance (the rule's doc has the general fix).
    pub fix: Option<String>,
    /// The finding is about the field's name (an unknown field), not its value: the caret
    /// goes on the key.
    pub at_key: bool,
}

impl Finding {
    /// A finding of rule `code` at `path` (a JSON pointer) of resource `resource`, with the
    /// rule's severity, on the value, no other party and no fix of its own.
    pub fn new(
        code: &'static str,
        resource: usize,
        path: impl Into<String>,
        message: String,
    ) -> Self {
        Finding {
            code,
            severity: None,
            message,
            resource,
            path: path.into(),
            other: None,
            fix: None,
            at_key: false,
        }
    }

    /// The same finding with a fix for this instance.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// A finding, resolved to severity and locations, ready for the reporters.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub resource: ResId,
    pub path: String,
    pub location: Location,
    pub related: Vec<Related>,
    pub fix: String,
    /// The kustomizations it was found in, when several were validated together (a base's
    /// finding is reported once, naming every overlay it affects).
    pub environments: Vec<String>,
}

/// What validation found.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub suppressed: usize,
    /// What rules assumed for want of cluster facts ("no ClusterProfile: node count unknown").
    pub assumptions: Vec<String>,
    /// Findings below the severity asked for (the warnings of a render that stops only on
    /// errors): how many, and their codes. They are neither located nor kept.
    pub unshown: usize,
    pub unshown_codes: std::collections::BTreeSet<&'static str>,
    /// The kustomizations validated together, when there are several.
    pub environments: Vec<String>,
}

impl Report {
    /// Adds the findings of one more kustomization, `env`, validated on its own: a finding
    /// already reported for another (the same rule, resource, field, message and place: a
    /// base's) gets `env` added to its environments instead of a second copy.
    pub fn merge_environment(&mut self, env: &str, other: Report) {
        self.environments.push(env.to_string());
        self.suppressed += other.suppressed;
        self.assumptions.extend(other.assumptions);
        for mut d in other.diagnostics {
            let same = self.diagnostics.iter_mut().find(|m| {
                !m.environments.is_empty()
                    && (m.code, m.severity, &m.message, &m.path, &m.location)
                        == (d.code, d.severity, &d.message, &d.path, &d.location)
                    && m.resource == d.resource
            });
            match same {
                Some(m) => m.environments.push(env.to_string()),
                None => {
                    d.environments.push(env.to_string());
                    self.diagnostics.push(d);
                }
            }
        }
    }

    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// What a rule sees: the set, the profile, and what several rules need, computed once.
pub struct Input<'a> {
    pub resources: &'a [Resource],
    pub profile: &'a ClusterProfile,
    /// The pod-bearing resources, with their host ports.
    pub workloads: Vec<rules::Workload<'a>>,
    /// The core v1 Namespaces of the set by name (the first of a name).
    pub namespaces: std::collections::HashMap<&'a str, &'a Resource>,
}

impl<'a> Input<'a> {
    pub fn new(resources: &'a [Resource], profile: &'a ClusterProfile) -> Self {
        let is_namespace = |r: &&Resource| r.kind() == "Namespace" && r.api_version() == "v1";
        // Both read every object once; a large set is read on all cores.
        let (workloads, found): (_, Vec<&Resource>) = if resources.len() < PARALLEL_MIN {
            (
                rules::workloads(resources),
                resources.iter().filter(is_namespace).collect(),
            )
        } else {
            rayon::join(
                || rules::workloads(resources),
                || resources.par_iter().filter(is_namespace).collect(),
            )
        };
        let mut namespaces = std::collections::HashMap::new();
        for r in found {
            namespaces.entry(r.name()).or_insert(r);
        }
        Input {
            resources,
            profile,
            workloads,
            namespaces,
        }
    }
}

/// A rule: its documentation and its check.
pub struct Rule {
    pub doc: RuleDoc,
    /// What the rule finds in the set as a whole (with what `Input` computed once).
    pub check: fn(&Input<'_>, &mut Vec<Finding>, &mut Vec<String>),
    /// What it finds in each object on its own (`index`, object). The per-object parts of
    /// all rules run in one pass: each object is read by all of them while it is in cache.
    pub each: Option<EachObject>,
}

/// A rule's check of one object.
pub type EachObject = fn(usize, &Resource, &mut Vec<Finding>);

/// Every rule, in code order.
pub fn registry() -> Vec<Rule> {
    rules::all()
}

/// Runs every rule (with the profile's severity overrides and the resources' suppressions)
/// and resolves each finding to file, line and column, using `loader` for the source text.
pub fn validate(resources: &[Resource], profile: &ClusterProfile, loader: &Loader) -> Report {
    run(resources, profile, loader, Severity::Warning)
}

/// A rule that ran: its severity override, findings and assumptions.
type Checked = (Rule, Option<Severity>, Vec<Finding>, Vec<String>);

/// Only the errors, for a render that stops on them: warnings are neither located nor kept,
/// and no assumptions are reported (`strata validate` shows those).
pub fn errors(resources: &[Resource], profile: &ClusterProfile, loader: &Loader) -> Report {
    let mut report = run(resources, profile, loader, Severity::Error);
    report.assumptions.clear();
    report
}

/// Validates the last definition of each object (what `kubectl apply` leaves in the
/// cluster) and reports the earlier ones as GN004.
fn run(resources: &[Resource], profile: &ClusterProfile, loader: &Loader, min: Severity) -> Report {
    let earlier = rules::gn::earlier_definitions(resources);
    if earlier.is_empty() {
        return run_set(resources, profile, loader, min);
    }
    let dropped: std::collections::HashSet<usize> = earlier.iter().map(|e| e.0).collect();
    let last: Vec<Resource> = resources
        .iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    let mut report = run_set(&last, profile, loader, min);
    let rule = rules::gn::GN004;
    let Some(severity) = profile
        .severity_for(rule.doc.code)
        .unwrap_or(Some(rule.doc.severity))
    else {
        return report;
    };
    let mut locator = Locator::default();
    for (i, kept) in earlier {
        if suppressed(&resources[i], rule.doc.code) {
            report.suppressed += 1;
            continue;
        }
        if severity < min {
            report.unshown += 1;
            report.unshown_codes.insert(rule.doc.code);
            continue;
        }
        let f = Finding {
            code: rule.doc.code,
            severity: None,
            message: format!(
                "{} is defined again at {}; kubectl apply keeps the last definition, so this one never takes effect",
                resources[i].id(),
                resources[kept].origin
            ),
            resource: i,
            path: String::new(),
            other: Some((kept, String::new(), "the definition that is applied".into())),
            fix: None,
            at_key: false,
        };
        report.diagnostics.push(resolve(
            f,
            severity,
            &rule.doc,
            resources,
            loader,
            &mut locator,
        ));
    }
    report.diagnostics.sort_by(|a, b| {
        (&a.location.file, a.location.line, a.code).cmp(&(
            &b.location.file,
            b.location.line,
            b.code,
        ))
    });
    report
}

fn run_set(
    resources: &[Resource],
    profile: &ClusterProfile,
    loader: &Loader,
    min: Severity,
) -> Report {
    let mut report = Report::default();
    let mut locator = Locator::default();
    let rules: Vec<Rule> = registry()
        .into_iter()
        .filter(|r| profile.severity_for(r.doc.code) != Some(None)) // "off"
        .collect();
    // One pass over the objects for every rule's per-object part, beside the rules that read
    // the whole set, which run side by side; their findings are then taken in code order, so
    // the report does not depend on which rule finished first.
    let each: Vec<(&str, EachObject)> = rules
        .iter()
        .filter_map(|r| r.each.map(|check| (r.doc.code, check)))
        .collect();
    let per_object = || {
        let mut found = Vec::new();
        if each.is_empty() {
            return found;
        }
        rules::each_object(
            resources,
            |index, r| {
                let mut out = Vec::new();
                for (code, check) in &each {
                    let start = out.len();
                    check(index, r, &mut out);
                    // Findings are given to rules by their code, below.
                    debug_assert!(out[start..].iter().all(|f| f.code == *code));
                }
                out
            },
            &mut found,
        );
        found
    };
    let whole_set = || {
        let input = Input::new(resources, profile);
        let check = |rule: Rule| {
            let overridden = profile.severity_for(rule.doc.code).flatten();
            let (mut findings, mut assumptions) = (Vec::new(), Vec::new());
            (rule.check)(&input, &mut findings, &mut assumptions);
            (rule, overridden, findings, assumptions)
        };
        if resources.len() < PARALLEL_MIN {
            rules.into_iter().map(check).collect::<Vec<Checked>>()
        } else {
            rules.into_par_iter().map(check).collect()
        }
    };
    let (found, checked) = if resources.len() < PARALLEL_MIN {
        (per_object(), whole_set())
    } else {
        rayon::join(per_object, whole_set)
    };
    let mut by_code: HashMap<&str, Vec<Finding>> = HashMap::new();
    for f in found {
        by_code.entry(f.code).or_default().push(f);
    }
    for (rule, overridden, findings, assumptions) in checked {
        report.assumptions.extend(assumptions);
        let own = by_code.remove(rule.doc.code).unwrap_or_default();
        for f in own.into_iter().chain(findings) {
            if suppressed(&resources[f.resource], f.code)
                || f.other
                    .as_ref()
                    .is_some_and(|(o, _, _)| suppressed(&resources[*o], f.code))
            {
                report.suppressed += 1;
                continue;
            }
            let severity = overridden.or(f.severity).unwrap_or(rule.doc.severity);
            if severity < min {
                report.unshown += 1;
                report.unshown_codes.insert(rule.doc.code);
                continue;
            }
            report.diagnostics.push(resolve(
                f,
                severity,
                &rule.doc,
                resources,
                loader,
                &mut locator,
            ));
        }
    }
    debug_assert!(by_code.is_empty(), "findings of no rule: {by_code:?}");
    report.assumptions.sort();
    report.assumptions.dedup();
    report.diagnostics.sort_by(|a, b| {
        (&a.location.file, a.location.line, a.code).cmp(&(
            &b.location.file,
            b.location.line,
            b.code,
        ))
    });
    report
}

/// `strata.dev/ignore: "PT002,HN002"` (optionally followed by `: reason` or `# reason`).
fn suppressed(r: &Resource, code: &str) -> bool {
    r.annotations()
        .into_iter()
        .find(|(k, _)| *k == "strata.dev/ignore")
        .is_some_and(|(_, v)| {
            let codes = v.split([':', '#']).next().unwrap_or("");
            codes
                .split([',', ' '])
                .any(|c| c.trim().eq_ignore_ascii_case(code))
        })
}

/// Finds fields in source files. Only the documents that findings point into are parsed
/// again (each once, however many findings it has), so locating costs the documents with
/// findings, not the size of the files; the whole file is indexed once only when a document
/// cannot be parsed on its own.
#[derive(Default)]
pub struct Locator {
    files: HashMap<Arc<std::path::PathBuf>, Option<SourceIndex>>,
}

struct SourceIndex {
    src: Arc<str>,
    lines: yaml::LineStarts,
    /// Positions by the line the document starts on.
    docs: HashMap<usize, Option<yaml::Positions>>,
    /// The whole file's positions, for documents that cannot be parsed alone.
    whole: Option<yaml::Positions>,
}

impl Locator {
    /// Where a field of a resource is written: its own line when the source has it, else the
    /// nearest ancestor; 1:1 of its document otherwise.
    pub fn locate(&mut self, r: &Resource, path: &str, loader: &Loader) -> Location {
        self.locate_field(r, path, false, loader).0
    }

    /// [`Locator::locate`] (the field's key instead of its value with `at_key`), and whether
    /// the source has the field itself (not an ancestor).
    pub fn locate_field(
        &mut self,
        r: &Resource,
        path: &str,
        at_key: bool,
        loader: &Loader,
    ) -> (Location, bool) {
        let file = r.origin.file.display().to_string();
        let index = self.files.entry(r.origin.file.clone()).or_insert_with(|| {
            loader.source(&r.origin.file).map(|src| SourceIndex {
                lines: yaml::LineStarts::of(&src),
                src,
                docs: HashMap::new(),
                whole: None,
            })
        });
        let pos = index.as_mut().and_then(|ix| {
            let line = r.origin.line;
            let alone = ix
                .docs
                .entry(line)
                .or_insert_with(|| yaml::Positions::of_document_at(&ix.src, &ix.lines, line));
            let (positions, doc) = match alone {
                Some(p) => (&*p, 0),
                None => (
                    &*ix.whole.get_or_insert_with(|| yaml::Positions::of(&ix.src)),
                    r.origin.doc_index,
                ),
            };
            // An item of a `kind: List` is found below the list's `items`.
            let path = match r.origin.item {
                Some(k) => format!("/items/{k}{path}"),
                None => path.to_string(),
            };
            let path = path.as_str();
            let key = at_key.then(|| positions.find_key(doc, path)).flatten();
            Some((
                key.or_else(|| positions.find_pointer(doc, path))?,
                positions.find_exact(doc, path).is_some(),
            ))
        });
        let ((line, column), exact) = pos.unwrap_or(((r.origin.line, 1), false));
        (Location { file, line, column }, exact)
    }
}

/// The transform that last set the field at `path` (or a parent of it), if any.
fn introduced_by<'r>(r: &'r Resource, path: &str) -> Option<&'r Arc<Actor>> {
    r.changes
        .iter()
        .rev()
        .filter(|c| c.note.is_none())
        .find(|c| {
            path == c.path
                || path.starts_with(&format!("{}/", c.path))
                || c.path.starts_with(&format!("{path}/"))
        })
        .map(|c| &c.by)
}

fn resolve(
    f: Finding,
    severity: Severity,
    doc: &RuleDoc,
    resources: &[Resource],
    loader: &Loader,
    locator: &mut Locator,
) -> Diagnostic {
    let r = &resources[f.resource];
    let (source, in_source) = locator.locate_field(r, &f.path, f.at_key, loader);
    let mut related = Vec::new();
    // A field a transform created (the field, or an object holding it, is not in the source
    // file) is pointed at the transform entry, not at an ancestor in the source; a field the
    // source has is pointed at there, with the entry that changed it as a note.
    let written = r
        .changes
        .iter()
        .rev()
        .filter(|c| c.note.is_none() && !in_source)
        .find(|c| f.path == c.path || f.path.starts_with(&format!("{}/", c.path)))
        .map(|c| &c.by);
    let location = match written {
        Some(actor) => {
            related.push(Related {
                message: format!(
                    "{} is defined here; {} added this field",
                    r.id(),
                    actor.what
                ),
                location: source,
            });
            Location {
                file: actor.file.display().to_string(),
                line: actor.line,
                column: 1,
            }
        }
        None => {
            if let Some(actor) = introduced_by(r, &f.path) {
                related.push(Related {
                    message: format!("set by {}", actor.what),
                    location: Location {
                        file: actor.file.display().to_string(),
                        line: actor.line,
                        column: 1,
                    },
                });
            }
            source
        }
    };
    if let Some((o, path, what)) = &f.other {
        let other = &resources[*o];
        related.push(Related {
            message: what.clone(),
            location: locator.locate(other, path, loader),
        });
        if let Some(actor) = introduced_by(other, path) {
            related.push(Related {
                message: format!("(the other's value was set by {})", actor.what),
                location: Location {
                    file: actor.file.display().to_string(),
                    line: actor.line,
                    column: 1,
                },
            });
        }
    }
    Diagnostic {
        code: f.code,
        severity,
        message: f.message,
        resource: r.id(),
        path: f.path,
        location,
        related,
        fix: f.fix.unwrap_or_else(|| doc.fix.to_string()),
        environments: Vec::new(),
    }
}
