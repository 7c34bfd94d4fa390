//! Inputs the fuzz targets (fuzz/, cargo-fuzz) found, kept as regression tests: each file
//! under tests/fixtures/fuzz/<target>/ runs through the same check as the target
//! (fuzz/src/checks.rs, included here), on the stable toolchain and without libFuzzer. A
//! check panics when its oracle fails; and since libFuzzer's `-timeout` is not here, each
//! input must also finish within `TIME_LIMIT` (the kept blowups took minutes). The
//! committed seeds (fuzz/seeds/<target>/) run too, so the checks stay sound on ordinary
//! input.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;
use std::time::{Duration, Instant};

/// What one input may take, in a debug build on a loaded machine (each takes milliseconds).
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Runs `check` on every file of tests/fixtures/fuzz/<target>/ and fuzz/seeds/<target>/,
/// naming the file that fails.
fn run(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = Vec::new();
    let mut ran = 0;
    for dir in [
        root.join("tests/fixtures/fuzz").join(target),
        root.join("fuzz/seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            ran += 1;
            let name = f.strip_prefix(root).unwrap().display().to_string();
            let start = Instant::now();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(name);
            } else if start.elapsed() > TIME_LIMIT {
                failed.push(format!("{name} (took {:?})", start.elapsed()));
            }
        }
    }
    assert!(ran > 0, "no inputs for {target}");
    assert!(
        failed.is_empty(),
        "{target} fails on: {}",
        failed.join(", ")
    );
}

#[test]
fn yaml_roundtrip() {
    run("yaml_roundtrip", checks::yaml_roundtrip);
}

#[test]
fn kustomize_tree() {
    run("kustomize_tree", checks::kustomize_tree);
}

#[test]
fn json_patch() {
    run("json_patch", checks::json_patch);
}

#[test]
fn merge_patch() {
    run("merge_patch", checks::merge_patch);
}

#[test]
fn fieldpath_selector() {
    run("fieldpath_selector", checks::fieldpath_selector);
}

#[test]
fn substitution() {
    run("substitution", checks::substitution);
}

#[test]
fn diff_model() {
    run("diff_model", checks::diff_model);
}

#[test]
fn report_output() {
    run("report_output", checks::report_output);
}
