//! End-to-end golden tests: `strata render` on the shipped example and region overlays must
//! print exactly the reviewed files under tests/golden/ (byte for byte: output is
//! deterministic). Regenerate with STRATA_UPDATE_GOLDEN=1 and review the diff by reading it.

mod common;

use std::path::Path;

fn check(dir: &str, golden: &str, extra: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::strata()
        .current_dir(root)
        .args(["render", dir])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "unexpected stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout).unwrap();
    let path = root.join("tests/golden").join(golden);
    if std::env::var_os("STRATA_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if got != want {
        let diff = similar::TextDiff::from_lines(&want, &got);
        panic!(
            "{dir} differs from {golden}:\n{}",
            diff.unified_diff()
                .context_radius(2)
                .header("golden", "rendered")
        );
    }
}

/// The base on its own is the broken reference (port 80, no dnsPolicy, an unsubstituted
/// region): it renders only without validation, and validation refuses it (tests/validate.rs).
#[test]
fn example_base() {
    check("examples", "examples.yaml", &["--no-validate"]);
}

#[test]
fn overlay_cn_hangzhou() {
    check("overlays/cn-hangzhou", "cn-hangzhou.yaml", &[]);
}

#[test]
fn overlay_cn_beijing() {
    check("overlays/cn-beijing", "cn-beijing.yaml", &[]);
}

#[test]
fn overlay_cn_hangzhou_as_json() {
    check(
        "overlays/cn-hangzhou",
        "cn-hangzhou.json",
        &["--format", "json"],
    );
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let run = || {
        common::strata()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["render", "overlays/cn-beijing"])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(run(), run());
}
