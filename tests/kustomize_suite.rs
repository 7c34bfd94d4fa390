//! kustomize's own end-to-end suite (`../shared/kustomize-suite/`, the `api/krusty` tests of
//! kustomize v5.5.0 written out as trees with the output each test asserts): every case whose
//! needs strata supports is rendered by the strata binary with the build options the test
//! sets, and judged as the corpus differential judges kubectl's output: the objects
//! Kubernetes' own reader reads from strata's output must be the objects it reads from
//! `expected.yaml`, in the same order. A case that expects an error must fail with nothing on
//! stdout.
//!
//! `tests/kustomize_suite_expectations.tsv` lists every case that does not pass, with the
//! deliberate difference (documented in README) that explains it; any other outcome, and any
//! listed case that starts to pass, fails this test.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{have_kubectl, kubectl_reads, same_meaning, shared, strata};
use serde_json::Value;

const EXPECTATIONS: &str = "tests/kustomize_suite_expectations.tsv";

/// What a case needs beyond a plain build that strata does not do, and why.
fn unsupported_need(meta: &Value) -> Option<String> {
    let needs: Vec<&str> = meta["needs"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let exec = meta["options"]["enable_exec"].as_bool() == Some(true);
    for need in needs {
        let why = match need {
            "helm" => "helm charts (no helm binary is assumed)",
            "remote" => "remote resources (strata renders only the repository)",
            "go-plugin" => "Go plugins (kustomize's legacy .so plugins)",
            "exec-plugin" => "legacy exec plugins found under the plugin home",
            "krm-function" if !exec => "container KRM functions (a container runtime)",
            _ => continue,
        };
        return Some(why.to_string());
    }
    None
}

/// The strata command line for a case's build options.
fn render_args(meta: &Value, dir: &Path) -> Vec<String> {
    let options = &meta["options"];
    let mut args = vec!["render".to_string(), "--no-validate".to_string()];
    match options["reorder"].as_str() {
        Some("none") => args.extend(["--reorder".into(), "none".into()]),
        Some("legacy") => args.extend(["--reorder".into(), "legacy".into()]),
        _ => {}
    }
    if options["load_restrictor"].as_str() == Some("LoadRestrictionsNone") {
        args.extend([
            "--load-restrictor".to_string(),
            "LoadRestrictionsNone".to_string(),
        ]);
    }
    if options["enable_exec"].as_bool() == Some(true) {
        args.extend([
            "--enable-alpha-plugins".to_string(),
            "--enable-exec".to_string(),
        ]);
    }
    if options["add_managedby_label"].as_bool() == Some(true) {
        args.push("--enable-managedby-label".to_string());
    }
    args.push(dir.display().to_string());
    args
}

/// kustomize's tests run in an in-memory file system whose root is its own parent: a case
/// built at the root that lists `../x` means `/x`. Such a case is copied into a temporary
/// directory with its root kustomization one level down, so that `../x` is `x` again.
fn with_root_quirk(case: &Path, run_dir: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(case, tmp.path());
    let top = tmp.path().join("_root");
    std::fs::create_dir_all(&top).unwrap();
    let root = tmp.path().join(run_dir);
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        if root.join(name).is_file() {
            std::fs::rename(root.join(name), top.join(name)).unwrap();
        }
    }
    (tmp, top)
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// kustomize stamps `app.kubernetes.io/managed-by: kustomize-<its version>`; the suite's
/// expectations carry the test build's version, `(test)`. The version is not the meaning.
fn without_managed_by_version(objects: &mut [Value]) {
    for o in objects {
        if let Some(Value::String(v)) =
            o.pointer_mut("/metadata/labels/app.kubernetes.io~1managed-by")
            && v.starts_with("kustomize-")
        {
            *v = "kustomize-<version>".into();
        }
    }
}

/// One case: `pass`, or what went wrong.
fn outcome(case: &Path) -> String {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("meta.json")).unwrap()).unwrap();
    if let Some(why) = unsupported_need(&meta) {
        return format!("skip: needs {why}");
    }
    let run_dir = meta["run_dir"].as_str().unwrap_or("");
    let quirk = meta["needs"]
        .as_array()
        .is_some_and(|n| n.iter().any(|v| v == "in-memory-fs-root-quirk"));
    let (_keep, dir) = if quirk {
        let (tmp, dir) = with_root_quirk(case, run_dir);
        (Some(tmp), dir)
    } else {
        (None, case.join(run_dir))
    };
    let out = strata()
        .args(render_args(&meta, &dir))
        .output()
        .expect("run strata");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first_line = |s: &str| {
        s.lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .chars()
            .take(160)
            .collect::<String>()
            .replace('\t', " ")
    };
    if stderr.contains("panicked") {
        return format!("PANIC: {}", first_line(&stderr));
    }
    if meta["expect"] == "error" {
        return match (out.status.success(), stdout.trim().is_empty()) {
            (false, true) => "pass".into(),
            (false, false) => "fails-with-output".into(),
            (true, _) => "renders-where-kustomize-fails".into(),
        };
    }
    if !out.status.success() {
        return format!("strata-error: {}", first_line(&stderr));
    }
    let expected = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
    let mut expected = match kubectl_reads(&expected) {
        Ok(v) => v,
        Err(e) => return format!("oracle-error: {}", first_line(&e)),
    };
    let mut got = match kubectl_reads(&stdout) {
        Ok(v) => v,
        Err(e) => return format!("unreadable-output: {}", first_line(&e)),
    };
    without_managed_by_version(&mut expected);
    without_managed_by_version(&mut got);
    match same_meaning(&expected, &got) {
        Ok(()) => "pass".into(),
        Err(d) => format!("DIFFERS: {}", first_line(&d)),
    }
}

#[test]
fn kustomize_suite_renders_as_kustomize_asserts() {
    let suite = shared().join("kustomize-suite/cases");
    if !suite.is_dir() {
        common::skip(format_args!(
            "kustomize_suite_renders_as_kustomize_asserts: no {} (the suite is shared data beside the project)",
            suite.display()
        ));
        return;
    }
    if !have_kubectl("kustomize_suite_renders_as_kustomize_asserts") {
        return;
    }
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&suite)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 280,
        "expected 286 cases, found {}",
        cases.len()
    );
    let only = std::env::var("STRATA_SUITE_CASE").ok();
    if let Some(filter) = &only {
        cases.retain(|c| c.to_string_lossy().contains(filter.as_str()));
    }
    let results = common::parallel_map(&cases, |c| outcome(c));
    let actual: BTreeMap<String, String> = cases
        .iter()
        .zip(results)
        .map(|(c, o)| (c.file_name().unwrap().to_string_lossy().into_owned(), o))
        .collect();

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in actual.values() {
        *counts.entry(o.split(':').next().unwrap()).or_default() += 1;
    }
    eprintln!("kustomize suite: {counts:?}");

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTATIONS);
    let text = std::fs::read_to_string(&path).expect("tests/kustomize_suite_expectations.tsv");
    let listed: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (c, o) = l.split_once('\t').expect("case<TAB>outcome");
            (c.to_string(), o.to_string())
        })
        .collect();
    let mut changes = Vec::new();
    for (case, o) in &actual {
        let expected = listed.get(case).map(String::as_str).unwrap_or("pass");
        let skipped = o.starts_with("skip:");
        // A case skipped for a need strata does not have is not listed.
        let as_listed = o == expected || (skipped && !listed.contains_key(case));
        if !as_listed {
            changes.push(format!("{case}: expected `{expected}`, got `{o}`"));
        }
    }
    if only.is_none() {
        for case in listed.keys().filter(|c| !actual.contains_key(*c)) {
            changes.push(format!(
                "{case}: listed in {EXPECTATIONS} but not in the suite"
            ));
        }
    }
    assert!(
        changes.is_empty(),
        "kustomize suite outcomes differ from {EXPECTATIONS}:\n{}",
        changes.join("\n")
    );
}
