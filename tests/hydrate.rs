//! `strata hydrate` on real temporary git repositories: the source hydrator's layout, one
//! commit per change and none without one (no churn when only the dry commit moved), only its
//! own paths touched, the checkout left alone, Secrets refused unless asked, a directory
//! target.

mod common;

use common::git;

use std::path::{Path, PathBuf};
use std::process::Command;

fn have_git() -> bool {
    if Command::new("git").arg("--version").output().is_ok() {
        return true;
    }
    common::skip(format_args!("tests/hydrate.rs: git is not installed"));
    false
}

/// A dry repository holding the shipped overlays, committed on `main`.
fn dry_repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("dry");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&repo).unwrap();
    for d in ["overlays", "examples"] {
        assert!(
            Command::new("cp")
                .arg("-r")
                .arg(root.join(d))
                .arg(repo.join(d))
                .status()
                .unwrap()
                .success()
        );
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "dry"]);
    (dir, repo)
}

fn hydrate(repo: &Path, args: &[&str]) -> std::process::Output {
    common::strata()
        .current_dir(repo)
        .arg("hydrate")
        .args(args)
        .output()
        .unwrap()
}

const APPS: [&str; 2] = ["overlays/cn-hangzhou", "overlays/cn-beijing"];

fn to_branch(repo: &Path) -> std::process::Output {
    let mut args: Vec<&str> = APPS.to_vec();
    args.extend(["--branch", "env/hydrated"]);
    hydrate(repo, &args)
}

fn commits(repo: &Path) -> usize {
    git(repo, &["rev-list", "--count", "env/hydrated"])
        .parse()
        .unwrap()
}

#[test]
fn hydrates_a_branch_in_the_source_hydrator_layout_without_churn() {
    if !have_git() {
        return;
    }
    let (_dir, repo) = dry_repo();
    let out = to_branch(&repo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = git(&repo, &["ls-tree", "-r", "--name-only", "env/hydrated"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            ".gitattributes",
            "hydrator.metadata",
            "overlays/cn-beijing/README.md",
            "overlays/cn-beijing/hydrator.metadata",
            "overlays/cn-beijing/manifest.yaml",
            "overlays/cn-hangzhou/README.md",
            "overlays/cn-hangzhou/hydrator.metadata",
            "overlays/cn-hangzhou/manifest.yaml",
        ]
    );
    // manifest.yaml is exactly what strata render gives.
    let rendered = common::strata()
        .current_dir(&repo)
        .args(["render", "overlays/cn-beijing"])
        .output()
        .unwrap();
    assert_eq!(
        git(
            &repo,
            &["show", "env/hydrated:overlays/cn-beijing/manifest.yaml"]
        ),
        String::from_utf8_lossy(&rendered.stdout).trim()
    );
    let dry_sha = git(&repo, &["rev-parse", "HEAD"]);
    let meta: serde_json::Value = serde_json::from_str(&git(
        &repo,
        &["show", "env/hydrated:overlays/cn-beijing/hydrator.metadata"],
    ))
    .unwrap();
    assert_eq!(meta["drySha"], dry_sha.as_str());
    assert_eq!(meta["commands"][0], "strata render overlays/cn-beijing");
    // The checkout is untouched: still on main, clean, no hydrated files in it.
    assert_eq!(git(&repo, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.join("hydrator.metadata").exists());
    assert_eq!(commits(&repo), 1);

    // The same render again: nothing committed.
    let out = to_branch(&repo);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unchanged"));
    assert_eq!(commits(&repo), 1);

    // A dry commit that changes no render: still nothing (no churn from the new dry sha).
    std::fs::write(repo.join("NOTES.md"), "notes\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "notes"]);
    to_branch(&repo);
    assert_eq!(commits(&repo), 1);

    // Someone keeps a file of their own on the hydrated branch: it stays.
    let tip = git(&repo, &["rev-parse", "env/hydrated"]);
    let blob = {
        let mut c = Command::new("git")
            .current_dir(&repo)
            .args(["hash-object", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(b"ci: true\n").unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
    };
    let index = repo.join(".git/test-index");
    let with_index = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    with_index(&["read-tree", &tip]);
    with_index(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{},ci.yaml", blob.trim()),
    ]);
    let tree = with_index(&["write-tree"]);
    let own = with_index(&["commit-tree", &tree, "-p", &tip, "-m", "ci file"]);
    git(&repo, &["update-ref", "refs/heads/env/hydrated", &own]);

    // A change to one overlay: one commit, touching that app's files and the root metadata.
    let k = repo.join("overlays/cn-beijing/kustomization.yaml");
    let text = std::fs::read_to_string(&k).unwrap();
    std::fs::write(&k, text.replace("count: 2", "count: 1")).unwrap();
    git(&repo, &["commit", "-qam", "fewer replicas"]);
    let out = to_branch(&repo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(commits(&repo), 3);
    let changed = git(&repo, &["diff", "--name-only", &own, "env/hydrated"]);
    assert_eq!(
        changed.lines().collect::<Vec<_>>(),
        [
            "hydrator.metadata",
            "overlays/cn-beijing/README.md",
            "overlays/cn-beijing/hydrator.metadata",
            "overlays/cn-beijing/manifest.yaml",
        ]
    );
    assert_eq!(git(&repo, &["show", "env/hydrated:ci.yaml"]), "ci: true");
}

#[test]
fn secrets_are_refused_unless_asked_and_a_directory_target() {
    if !have_git() {
        return;
    }
    let (_dir, repo) = dry_repo();
    std::fs::write(
        repo.join("overlays/cn-beijing/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: abc\n",
    )
    .unwrap();
    let k = repo.join("overlays/cn-beijing/kustomization.yaml");
    let text = std::fs::read_to_string(&k).unwrap();
    std::fs::write(
        &k,
        text.replace("resources:\n", "resources:\n- secret.yaml\n"),
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "a secret"]);
    let out = to_branch(&repo);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("renders Secrets with data (Secret v1 monitoring/token)"),
        "{err}"
    );
    assert!(
        git(&repo, &["branch", "--list", "env/hydrated"]).is_empty(),
        "nothing committed"
    );

    // Into a directory, with the Secret allowed.
    let out_dir = repo.parent().unwrap().join("hydrated");
    let mut args: Vec<&str> = APPS.to_vec();
    let target = out_dir.display().to_string();
    args.extend(["--out", &target, "--allow-secrets"]);
    let out = hydrate(&repo, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest =
        std::fs::read_to_string(out_dir.join("overlays/cn-beijing/manifest.yaml")).unwrap();
    assert!(manifest.contains("kind: Secret"));
    assert!(out_dir.join("hydrator.metadata").is_file());
    assert!(out_dir.join("overlays/cn-hangzhou/README.md").is_file());
    let again = hydrate(&repo, &args);
    assert!(String::from_utf8_lossy(&again.stderr).contains("unchanged"));
}
