//! The diff at scale: a base change that every region's overlay repeats is one change, not
//! sixty. Identical resource diffs (same resource, same diff text) are grouped with the
//! environments they were made in; environments with the same changes fold into one column
//! of the matrix and one row of the summary; findings are grouped the same way; and lists of
//! environment names fold into globs where a glob names exactly them (`overlays/cn-*`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::model::{EnvDiff, Finding};

/// One change, made the same way (the same resource, the same diff text) in one or more
/// environments. Its details are those of `envs[0]`'s copy.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeGroup {
    /// `changed DaemonSet monitoring/node-exporter`.
    pub change: String,
    pub envs: Vec<String>,
    /// `envs` folded for display (`overlays/cn-* (20), overlays/eu-west-1`).
    pub folded: String,
    /// Every copy is the same text; otherwise they differ only in values that name the
    /// environment (its region in an image registry), and the first copy is shown.
    pub exact: bool,
    /// Where the first copy is: `report.envs[at.0].resources[at.1]`.
    #[serde(skip)]
    pub at: (usize, usize),
    /// Per changed field (in the first copy's order), who set it, when every copy agrees;
    /// otherwise the distinct attributions (each overlay's own entry).
    pub set_by: Vec<(String, Vec<String>)>,
}

/// Environments with the same changes (a failed one alone): one row of the summary, one
/// column of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct EnvGroup {
    pub envs: Vec<String>,
    pub folded: String,
    /// Indexes into `report.groups` of the changes these environments have.
    pub changes: Vec<usize>,
    /// Indexes into `report.envs`.
    #[serde(skip)]
    pub members: Vec<usize>,
}

/// One finding introduced (or resolved) in one or more environments.
#[derive(Debug, Clone, Serialize)]
pub struct FindingGroup {
    pub introduced: bool,
    pub finding: Finding,
    pub envs: Vec<String>,
    pub folded: String,
}

fn names(envs: &[EnvDiff]) -> Vec<String> {
    envs.iter().map(|e| e.name.clone()).collect()
}

/// Each distinct resource diff once, in the order first met. Two environments make the same
/// change when their diffs of the resource are the same text, or differ only in values
/// their base renders already differ in (see [`equivalent`]).
pub fn changes(envs: &[EnvDiff]) -> Vec<ChangeGroup> {
    let all = names(envs);
    let mut by_title: HashMap<String, Vec<usize>> = HashMap::new();
    let mut groups: Vec<ChangeGroup> = Vec::new();
    for (ei, e) in envs.iter().enumerate() {
        for (ri, r) in e.resources.iter().enumerate() {
            let title = r.title();
            let candidates = by_title.entry(title.clone()).or_default();
            let found = candidates.iter().find_map(|&gi| {
                let (fe, fr) = groups[gi].at;
                equivalent(&envs[fe].resources[fr].unified, &r.unified).map(|same| (gi, same))
            });
            let gi = match found {
                Some((gi, same)) => {
                    groups[gi].exact &= same;
                    gi
                }
                None => {
                    groups.push(ChangeGroup {
                        change: title,
                        envs: Vec::new(),
                        folded: String::new(),
                        exact: true,
                        at: (ei, ri),
                        set_by: r
                            .fields
                            .iter()
                            .map(|f| (f.path.clone(), Vec::new()))
                            .collect(),
                    });
                    candidates.push(groups.len() - 1);
                    groups.len() - 1
                }
            };
            let g = &mut groups[gi];
            g.envs.push(e.name.clone());
            for f in &r.fields {
                if let (Some(by), Some(slot)) = (&f.by, g.set_by.iter_mut().find(|s| s.0 == f.path))
                    && !slot.1.contains(by)
                {
                    slot.1.push(by.clone());
                }
            }
        }
    }
    for g in &mut groups {
        g.folded = fold(&g.envs, &all);
        g.set_by.retain(|s| !s.1.is_empty());
    }
    groups
}

/// Are two unified diffs of one resource (in two environments) the same change? `Some(true)`
/// when the texts are equal; `Some(false)` when they differ only where the environments
/// already differed: line by line the same shape, and every added line that differs does so
/// by a difference (the span between the first and last differing character, widened to
/// whole words) that a removed or context line shows too. A base image bump seen through
/// each region's registry is one change; 3 → 4 replicas here and 3 → 5 there are two.
pub fn equivalent(a: &str, b: &str) -> Option<bool> {
    if a == b {
        return Some(true);
    }
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if la.len() != lb.len() {
        return None;
    }
    let mut before: HashSet<(&str, &str)> = HashSet::new();
    let mut added: Vec<(&str, &str)> = Vec::new();
    for (x, y) in la.iter().zip(&lb) {
        let mark = x.chars().next();
        if mark != y.chars().next() {
            return None;
        }
        if x == y || mark == Some('@') {
            continue;
        }
        let d = differing(x, y);
        if mark == Some('+') {
            added.push(d);
        } else {
            before.insert(d);
        }
    }
    added.iter().all(|d| before.contains(d)).then_some(false)
}

/// The differing middles of two different strings, widened to whole words (ASCII letters
/// and digits) on both ends.
fn differing<'a>(x: &'a str, y: &'a str) -> (&'a str, &'a str) {
    let word = |c: u8| c.is_ascii_alphanumeric();
    let (xb, yb) = (x.as_bytes(), y.as_bytes());
    let mut start = xb.iter().zip(yb).take_while(|(p, q)| p == q).count();
    let max_end = xb.len().min(yb.len()) - start;
    let mut end = xb
        .iter()
        .rev()
        .zip(yb.iter().rev())
        .take(max_end)
        .take_while(|(p, q)| p == q)
        .count();
    while start > 0 && word(xb[start - 1]) {
        start -= 1;
    }
    while end > 0 && word(xb[xb.len() - end]) {
        end -= 1;
    }
    while !x.is_char_boundary(start) || !y.is_char_boundary(start) {
        start -= 1;
    }
    while !x.is_char_boundary(x.len() - end) || !y.is_char_boundary(y.len() - end) {
        end -= 1;
    }
    (&x[start..x.len() - end], &y[start..y.len() - end])
}

/// Environments folded by what they have: the same change groups; a failed one alone.
pub fn environments(envs: &[EnvDiff], groups: &[ChangeGroup]) -> Vec<EnvGroup> {
    let all = names(envs);
    let mut of_env: Vec<Vec<usize>> = vec![Vec::new(); envs.len()];
    for (gi, g) in groups.iter().enumerate() {
        for name in &g.envs {
            if let Some(ei) = envs.iter().position(|e| &e.name == name) {
                of_env[ei].push(gi);
            }
        }
    }
    let mut out: Vec<EnvGroup> = Vec::new();
    // A failed environment stands alone: its error names its own files.
    let mut seen: HashMap<(Vec<usize>, Option<usize>), usize> = HashMap::new();
    for (ei, e) in envs.iter().enumerate() {
        let key = (of_env[ei].clone(), (!e.failures.is_empty()).then_some(ei));
        let at = *seen.entry(key).or_insert_with(|| {
            out.push(EnvGroup {
                envs: Vec::new(),
                folded: String::new(),
                changes: of_env[ei].clone(),
                members: Vec::new(),
            });
            out.len() - 1
        });
        out[at].envs.push(e.name.clone());
        out[at].members.push(ei);
    }
    for g in &mut out {
        g.folded = fold(&g.envs, &all);
    }
    out
}

/// Each distinct finding once (same severity, rule, resource, field and message; the
/// location of its first environment), introduced ones first, errors first.
pub fn findings(envs: &[EnvDiff]) -> Vec<FindingGroup> {
    let all = names(envs);
    let mut groups: Vec<FindingGroup> = Vec::new();
    let mut index: HashMap<(bool, String, String, String, String, String), usize> = HashMap::new();
    for e in envs {
        for (introduced, list) in [
            (true, &e.findings.introduced),
            (false, &e.findings.resolved),
        ] {
            for f in list {
                let key = (
                    introduced,
                    f.severity.clone(),
                    f.code.clone(),
                    f.resource.clone(),
                    f.path.clone(),
                    f.message.clone(),
                );
                let at = *index.entry(key).or_insert_with(|| {
                    groups.push(FindingGroup {
                        introduced,
                        finding: f.clone(),
                        envs: Vec::new(),
                        folded: String::new(),
                    });
                    groups.len() - 1
                });
                groups[at].envs.push(e.name.clone());
            }
        }
    }
    for g in &mut groups {
        g.folded = fold(&g.envs, &all);
    }
    groups.sort_by_key(|g| (!g.introduced, g.finding.severity != "error"));
    groups
}

/// A directory as given (`./overlays/a/`) as environments are named (`overlays/a`).
pub fn normalize(dir: &str) -> String {
    let mut s = dir.replace('\\', "/");
    while let Some(rest) = s.strip_prefix("./") {
        s = rest.to_string();
    }
    let s = s.trim_end_matches('/');
    if s.is_empty() { ".".into() } else { s.into() }
}

/// Names listed before the rest is counted.
const FOLD_ITEMS: usize = 12;

/// Most of the environments are named "all but" the few that are not.
const ALL_BUT: usize = 3;

/// `names` (a subset of `all`, in `all`'s order) for display: `all 63 environments` when it
/// is all of them, `61 of 63 environments (all but a, b)` when it is all but a few; otherwise a folder whose every environment is named becomes `folder/*
/// (n)`, then a name stem (`overlays/cn-`, up to the first `-` of the last part) whose every
/// environment is named becomes `overlays/cn-* (n)`; the rest are listed, the first
/// `FOLD_ITEMS` items shown.
pub fn fold(names: &[String], all: &[String]) -> String {
    if names.len() == 2 && all.len() == 2 {
        return "both environments".into();
    }
    if names.len() > 1 && names.len() == all.len() {
        return format!("all {} environments", all.len());
    }
    let others: Vec<String> = all.iter().filter(|n| !names.contains(n)).cloned().collect();
    if names.len() > 2 * ALL_BUT && others.len() <= ALL_BUT {
        return format!(
            "{} of {} environments (all but {})",
            names.len(),
            all.len(),
            fold(&others, all)
        );
    }
    let parent = |n: &str| n.rsplit_once('/').map(|(p, _)| format!("{p}/"));
    let stem = |n: &str| {
        let (dir, last) = n.rsplit_once('/').unwrap_or(("", n));
        let (head, _) = last.split_once('-')?;
        Some(if dir.is_empty() {
            format!("{head}-")
        } else {
            format!("{dir}/{head}-")
        })
    };
    let mut items: Vec<String> = Vec::new();
    let mut rest: Vec<&String> = names.iter().collect();
    for key_of in [&parent as &dyn Fn(&str) -> Option<String>, &stem] {
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for n in all {
            if let Some(k) = key_of(n) {
                counts.entry(k).or_default().1 += 1;
            }
        }
        for n in &rest {
            if let Some(k) = key_of(n) {
                counts.entry(k).or_default().0 += 1;
            }
        }
        let whole = |k: &Option<String>| {
            k.as_ref()
                .and_then(|k| counts.get(k))
                .is_some_and(|&(named, total)| named >= 2 && named == total)
        };
        let mut done: Vec<String> = Vec::new();
        rest.retain(|n| {
            let k = key_of(n);
            if !whole(&k) {
                return true;
            }
            let k = k.expect("whole keys exist");
            if !done.contains(&k) {
                items.push(format!("{k}* ({})", counts[&k].0));
                done.push(k);
            }
            false
        });
    }
    items.extend(rest.into_iter().cloned());
    if items.len() > FOLD_ITEMS {
        let more = items.len() - FOLD_ITEMS;
        items.truncate(FOLD_ITEMS);
        items.push(format!("and {more} more"));
    }
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{equivalent, fold};

    #[test]
    fn the_same_change_through_each_regions_values() {
        let diff = |region: &str, from: &str, to: &str| {
            format!(
                "@@ -20,7 +20,7 @@\n   labels:\n     region: {region}\n-    image: registry-{region}-vpc/acs/agent:{from}\n+    image: registry-{region}-vpc/acs/agent:{to}\n"
            )
        };
        let a = diff("cn-beijing", "v1", "v2");
        assert_eq!(equivalent(&a, &a), Some(true));
        assert_eq!(
            equivalent(&a, &diff("us-east-1", "v1", "v2")),
            Some(false),
            "the regions differ before the change too"
        );
        assert_eq!(
            equivalent(&a, &diff("us-east-1", "v1", "v3")),
            None,
            "a different new version is a different change"
        );
        let replicas =
            |to: &str| format!("@@ -1,3 +1,3 @@\n spec:\n-  replicas: 3\n+  replicas: {to}\n");
        assert_eq!(equivalent(&replicas("4"), &replicas("5")), None);
        assert_eq!(
            equivalent(&replicas("4"), "@@ -1,3 +1,3 @@\n spec:\n+  replicas: 4\n"),
            None,
            "a different shape"
        );
    }

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn folds_whole_folders_and_stems_only() {
        let all = v(&[
            "overlays/cn-beijing",
            "overlays/cn-hangzhou",
            "overlays/us-east-1",
            "overlays/us-west-1",
            "overlays/eu-west-1",
        ]);
        assert_eq!(fold(&all, &all), "all 5 environments");
        assert_eq!(
            fold(&v(&["overlays/cn-beijing", "overlays/cn-hangzhou"]), &all),
            "overlays/cn-* (2)"
        );
        // Not every us-* is named: no glob that would claim the other one.
        assert_eq!(
            fold(
                &v(&[
                    "overlays/cn-beijing",
                    "overlays/cn-hangzhou",
                    "overlays/us-east-1"
                ]),
                &all
            ),
            "overlays/cn-* (2), overlays/us-east-1"
        );
        assert_eq!(
            fold(&v(&["overlays/eu-west-1"]), &all),
            "overlays/eu-west-1"
        );
        let many: Vec<String> = (0..10).map(|i| format!("overlays/r{i}")).collect();
        assert_eq!(
            fold(&many[1..], &many),
            "9 of 10 environments (all but overlays/r0)"
        );
    }

    #[test]
    fn folds_apps_by_folder() {
        let all = v(&[
            "apps/a/overlays/cn-beijing",
            "apps/a/overlays/us-east-1",
            "apps/b/overlays/cn-beijing",
            "apps/b/overlays/us-east-1",
        ]);
        assert_eq!(
            fold(&all[..2], &all),
            "apps/a/overlays/* (2)",
            "every overlay of app a"
        );
        assert_eq!(
            fold(
                &v(&["apps/a/overlays/cn-beijing", "apps/b/overlays/cn-beijing"]),
                &all
            ),
            "apps/a/overlays/cn-beijing, apps/b/overlays/cn-beijing"
        );
    }

    #[test]
    fn long_lists_are_counted() {
        let all: Vec<String> = (0..40).map(|i| format!("env{i:02}")).collect();
        let some: Vec<String> = all.iter().step_by(2).cloned().collect();
        let s = fold(&some, &all);
        assert!(s.ends_with("and 8 more"), "{s}");
        assert_eq!(s.matches(", ").count(), 12);
    }
}
