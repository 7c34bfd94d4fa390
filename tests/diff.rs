//! `strata diff` end to end: identity matching across file moves, each class, rename
//! detection, Secret masking in every format, the Markdown budget at its exact limit and the
//! split comments, the Markdown structure (parsed with pulldown-cmark), git-ref mode on a
//! temporary repository (the working tree and `git status` untouched), ignore rules,
//! host-network highlights, provenance, and exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn kust(resources: &[&str]) -> String {
    let mut s = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        .to_string();
    for r in resources {
        s.push_str(&format!("- {r}\n"));
    }
    s
}

fn cm(name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n{data}"
    )
}

fn deploy(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
    )
}

const LONG_DATA: &str = "  a: \"1\"\n  b: \"2\"\n  c: \"3\"\n  d: \"4\"\n  e: \"5\"\n  f: \"6\"\n  g: \"7\"\n  h: \"8\"\n  i: \"9\"\n  j: \"10\"\n  k: \"11\"\n  l: \"12\"\n";

/// `strata diff --base-dir base --head-dir head ARGS...` in `root`.
fn diff_dirs(root: &Path, args: &[&str]) -> Output {
    common::strata()
        .current_dir(root)
        .args([
            "diff",
            "--base-dir",
            "base",
            "--head-dir",
            "head",
            "--no-validate",
        ])
        .args(args)
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn identity_matching_across_file_moves() {
    let dir = tempfile::tempdir().unwrap();
    let both = format!(
        "{}---\n{}",
        cm("settings", "  x: \"1\"\n"),
        deploy("web", "nginx:1.25")
    );
    write(
        dir.path(),
        &[
            ("base/ov/kustomization.yaml", &kust(&["all.yaml"])),
            ("base/ov/all.yaml", &both),
            (
                "head/ov/kustomization.yaml",
                &kust(&["moved/deploy.yaml", "cm.yaml"]),
            ),
            ("head/ov/moved/deploy.yaml", &deploy("web", "nginx:1.25")),
            ("head/ov/cm.yaml", &cm("settings", "  x: \"1\"\n")),
        ],
    );
    let out = diff_dirs(dir.path(), &["ov", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json_of(&out);
    assert_eq!(j["envs"][0]["unchanged"], 2);
    assert_eq!(j["envs"][0]["resources"].as_array().unwrap().len(), 0);
}

/// base: keep, gone, web(1.25); head: keep, web(1.26), fresh.
fn classes_tree(root: &Path) {
    write(
        root,
        &[
            ("base/ov/kustomization.yaml", &kust(&["r.yaml"])),
            (
                "base/ov/r.yaml",
                &format!(
                    "{}---\n{}---\n{}",
                    cm("keep", "  x: \"1\"\n"),
                    cm("gone", "  old: value\n"),
                    deploy("web", "nginx:1.25")
                ),
            ),
            ("head/ov/kustomization.yaml", &kust(&["r.yaml"])),
            (
                "head/ov/r.yaml",
                &format!(
                    "{}---\n{}---\n{}",
                    cm("keep", "  x: \"1\"\n"),
                    deploy("web", "nginx:1.26"),
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: fresh\n  namespace: apps\nspec:\n  ports:\n  - port: 80\n"
                ),
            ),
        ],
    );
}

#[test]
fn each_class_with_line_counts() {
    let dir = tempfile::tempdir().unwrap();
    classes_tree(dir.path());
    let out = diff_dirs(dir.path(), &["ov", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let j = json_of(&out);
    let env = &j["envs"][0];
    assert_eq!(
        (env["added"].as_u64(), env["removed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (env["changed"].as_u64(), env["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let by_class = |c: &str| {
        env["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["class"] == c)
            .unwrap()
            .clone()
    };
    let changed = by_class("changed");
    assert_eq!(changed["key"]["name"], "web");
    assert_eq!(
        (
            changed["added_lines"].as_u64(),
            changed["removed_lines"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(
        changed["unified"]
            .as_str()
            .unwrap()
            .contains("+        image: nginx:1.26")
    );
    assert_eq!(
        changed["fields"][0]["path"],
        "/spec/template/spec/containers/0/image"
    );
    assert_eq!(by_class("added")["key"]["kind"], "Service");
    assert_eq!(by_class("removed")["key"]["name"], "gone");
    assert_eq!(by_class("removed")["added_lines"], 0);
}

#[test]
fn rename_detected_when_text_nearly_the_same() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("base/ov/kustomization.yaml", &kust(&["r.yaml"])),
            ("base/ov/r.yaml", &cm("app-config", LONG_DATA)),
            ("head/ov/kustomization.yaml", &kust(&["r.yaml"])),
            ("head/ov/r.yaml", &cm("app-config-v2", LONG_DATA)),
        ],
    );
    let j = json_of(&diff_dirs(dir.path(), &["ov", "--format", "json"]));
    let rs = j["envs"][0]["resources"].as_array().unwrap();
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0]["class"], "changed");
    assert_eq!(rs[0]["renamed_from"]["name"], "app-config");
    assert_eq!(rs[0]["key"]["name"], "app-config-v2");
    // A different kind with the same text is not a rename.
    write(
        dir.path(),
        &[(
            "head/ov/r.yaml",
            &cm("app-config-v2", LONG_DATA).replace("kind: ConfigMap", "kind: Secret"),
        )],
    );
    let j = json_of(&diff_dirs(
        dir.path(),
        &["ov", "--format", "json", "--show-secrets"],
    ));
    assert_eq!(j["envs"][0]["resources"].as_array().unwrap().len(), 2);
}

const SECRET_B64: &str = "c3VwZXJzZWNyZXQtcGFzc3dvcmQ="; // supersecret-password
const SECRET_PLAIN: &str = "hunter2-token-value";

fn secret(pw: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: apps\ntype: Opaque\ndata:\n  password: {pw}\n  same: c2FtZQ==\nstringData:\n  token: {token}\n"
    )
}

#[test]
fn secrets_masked_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("base/ov/kustomization.yaml", &kust(&["s.yaml"])),
            (
                "base/ov/s.yaml",
                &secret("b2xkLXBhc3N3b3Jk", "old-token-value"),
            ),
            ("head/ov/kustomization.yaml", &kust(&["s.yaml"])),
            ("head/ov/s.yaml", &secret(SECRET_B64, SECRET_PLAIN)),
        ],
    );
    let forbidden = [
        SECRET_B64,
        SECRET_PLAIN,
        "b2xkLXBhc3N3b3Jk",
        "old-token-value",
        "c2FtZQ==",
    ];
    for format in ["terminal", "markdown", "html", "json"] {
        let out = common::strata()
            .current_dir(dir.path())
            .args([
                "diff",
                "--base-dir",
                "base",
                "--head-dir",
                "head",
                "ov",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        let all = format!("{}{}", text(&out), String::from_utf8_lossy(&out.stderr));
        for f in forbidden {
            assert!(
                !all.contains(f),
                "{format} shows a secret value {f}:\n{all}"
            );
        }
        let placeholder = if format == "html" {
            "&lt;secret sha256:"
        } else {
            "<secret sha256:"
        };
        assert!(all.contains(placeholder), "{format}: {all}");
        // Which keys changed stays visible.
        assert!(
            all.contains("password") && all.contains("token"),
            "{format}"
        );
    }
    // The unchanged key keeps one stable placeholder on both sides.
    let j = json_of(&diff_dirs(dir.path(), &["ov", "--format", "json"]));
    let r = &j["envs"][0]["resources"][0];
    let fields: Vec<&str> = r["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"/data/password") && fields.contains(&"/stringData/token"),
        "{fields:?}"
    );
    assert!(!fields.contains(&"/data/same"), "{fields:?}");
    // --show-secrets reveals them.
    let out = diff_dirs(
        dir.path(),
        &["ov", "--format", "terminal", "--show-secrets"],
    );
    assert!(text(&out).contains(SECRET_B64) && text(&out).contains(SECRET_PLAIN));
}

/// Twelve changed ConfigMaps in one overlay.
fn many_tree(root: &Path, n: usize) {
    let mut b = Vec::new();
    let mut h = Vec::new();
    for i in 0..n {
        b.push(cm(
            &format!("cm-{i:02}"),
            &format!("  v: \"{i}\"\n{LONG_DATA}"),
        ));
        h.push(cm(
            &format!("cm-{i:02}"),
            &format!("  v: \"{}\"\n{LONG_DATA}", i + 100),
        ));
    }
    write(
        root,
        &[
            ("base/ov/kustomization.yaml", &kust(&["r.yaml"])),
            ("base/ov/r.yaml", &b.join("---\n")),
            ("head/ov/kustomization.yaml", &kust(&["r.yaml"])),
            ("head/ov/r.yaml", &h.join("---\n")),
        ],
    );
}

#[test]
fn markdown_budget_at_the_exact_limit() {
    let dir = tempfile::tempdir().unwrap();
    many_tree(dir.path(), 12);
    let md = |max: usize| {
        let out = diff_dirs(
            dir.path(),
            &[
                "ov",
                "--format",
                "markdown",
                "--max-bytes",
                &max.to_string(),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        text(&out)
    };
    let full = md(10_000_000);
    assert_eq!(full.matches("<details>").count(), 12);
    assert!(!full.contains("left out"));
    // Exactly the size: everything, unchanged.
    assert_eq!(md(full.len()), full);
    // One byte less: whole resources only, a note naming what was left out, within budget.
    let cut = md(full.len() - 1);
    assert!(cut.len() < full.len(), "{} vs {}", cut.len(), full.len());
    assert!(cut.contains("left out"), "{cut}");
    assert!(
        cut.contains("cm-11"),
        "the note names the resource left out"
    );
    assert_eq!(
        cut.matches("<details>").count(),
        cut.matches("</details>").count()
    );
    assert!(cut.matches("<details>").count() < 12);
    for max in [full.len() / 2, full.len() / 3, 1500] {
        let s = md(max);
        assert!(s.len() <= max, "{} > {max}", s.len());
        assert!(s.contains("left out"));
        assert_eq!(
            s.matches("<details>").count(),
            s.matches("</details>").count()
        );
    }
}

#[test]
fn markdown_split_writes_every_resource_within_budget() {
    let dir = tempfile::tempdir().unwrap();
    many_tree(dir.path(), 12);
    let full = text(&diff_dirs(dir.path(), &["ov", "--format", "markdown"]));
    let budget = (full.len() / 3).to_string();
    let out = diff_dirs(
        dir.path(),
        &[
            "ov",
            "--format",
            "markdown",
            "--max-bytes",
            &budget,
            "--split",
            "comments",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("comments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 2, "{files:?}");
    assert!(files[0].ends_with("comment-001.md"));
    let mut all = String::new();
    for f in &files {
        let t = std::fs::read_to_string(f).unwrap();
        assert!(
            t.len() <= full.len() / 3,
            "{} is {} bytes",
            f.display(),
            t.len()
        );
        all.push_str(&t);
    }
    for i in 0..12 {
        assert!(all.contains(&format!("cm-{i:02}")), "cm-{i:02} missing");
    }
    assert_eq!(all.matches("<details>").count(), 12);
}

#[test]
fn markdown_structure() {
    use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};
    let dir = tempfile::tempdir().unwrap();
    classes_tree(dir.path());
    let out = diff_dirs(dir.path(), &["ov", "--format", "markdown"]);
    let md = text(&out);
    let mut h2 = Vec::new();
    let mut in_heading = None;
    let mut tables = 0;
    let mut diff_blocks = Vec::new();
    let mut in_diff = false;
    let mut html = String::new();
    let mut current = String::new();
    for ev in Parser::new_ext(&md, pulldown_cmark::Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Heading { level, .. }) => in_heading = Some(level),
            Event::End(TagEnd::Heading(_)) => {
                if in_heading == Some(HeadingLevel::H2) {
                    h2.push(std::mem::take(&mut current));
                }
                current.clear();
                in_heading = None;
            }
            Event::Text(t) if in_heading.is_some() => current.push_str(&t),
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                in_diff = &*lang == "diff";
                current.clear();
            }
            Event::Text(t) if in_diff => current.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                if in_diff {
                    diff_blocks.push(std::mem::take(&mut current));
                }
                in_diff = false;
            }
            Event::Html(t) | Event::InlineHtml(t) => html.push_str(&t),
            _ => {}
        }
    }
    assert_eq!(h2, vec!["strata diff"], "{md}");
    assert!(tables >= 1, "a summary table: {md}");
    assert_eq!(diff_blocks.len(), 3, "one diff block per resource: {md}");
    assert!(diff_blocks.iter().all(|b| b.starts_with("@@")));
    assert_eq!(html.matches("<details>").count(), 3);
    assert_eq!(html.matches("</details>").count(), 3);
    assert!(html.contains("<summary>"));
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn git_ref_mode_leaves_the_checkout_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    write(
        root,
        &[
            ("overlays/a/kustomization.yaml", &kust(&["r.yaml"])),
            ("overlays/a/r.yaml", &deploy("web", "nginx:1.25")),
        ],
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "one"]);
    write(root, &[("overlays/a/r.yaml", &deploy("web", "nginx:1.26"))]);
    git(root, &["commit", "-q", "-am", "two"]);
    // Uncommitted work: a modified file, a staged file, an untracked file.
    write(root, &[("overlays/a/r.yaml", &deploy("web", "nginx:1.27"))]);
    write(
        root,
        &[
            ("overlays/a/staged.txt", "staged\n"),
            ("notes.txt", "untracked\n"),
        ],
    );
    git(root, &["add", "overlays/a/staged.txt"]);
    let status_before = git(root, &["status", "--porcelain=v2", "--branch"]);
    let worktrees_before = git(root, &["worktree", "list", "--porcelain"]);
    let file_before = std::fs::read_to_string(root.join("overlays/a/r.yaml")).unwrap();

    let run = |args: &[&str]| {
        common::strata()
            .current_dir(root)
            .args(["diff", "--no-validate", "--format", "json"])
            .args(args)
            .output()
            .unwrap()
    };
    // Base revision against the working tree (uncommitted 1.27 included).
    let out = run(&["--base", "HEAD~1", "overlays/*"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json_of(&out);
    assert_eq!(j["base"], "HEAD~1");
    assert_eq!(j["envs"][0]["name"], "overlays/a");
    let u = j["envs"][0]["resources"][0]["unified"].as_str().unwrap();
    assert!(
        u.contains("-        image: nginx:1.25") && u.contains("+        image: nginx:1.27"),
        "{u}"
    );
    // Two revisions: the working tree plays no part.
    let j = json_of(&run(&["--base", "HEAD~1", "--head", "HEAD", "overlays/a"]));
    let u = j["envs"][0]["resources"][0]["unified"].as_str().unwrap();
    assert!(
        u.contains("+        image: nginx:1.26") && !u.contains("1.27"),
        "{u}"
    );
    // From a subdirectory, DIR is relative to it.
    let out = common::strata()
        .current_dir(root.join("overlays"))
        .args([
            "diff",
            "--no-validate",
            "--format",
            "json",
            "--base",
            "HEAD",
            "--head",
            "HEAD",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A revision that does not exist is an error.
    assert_eq!(
        run(&["--base", "no-such-ref", "overlays/a"]).status.code(),
        Some(2)
    );

    assert_eq!(
        git(root, &["status", "--porcelain=v2", "--branch"]),
        status_before
    );
    assert_eq!(
        git(root, &["worktree", "list", "--porcelain"]),
        worktrees_before
    );
    assert_eq!(git(root, &["stash", "list"]), "");
    assert_eq!(
        std::fs::read_to_string(root.join("overlays/a/r.yaml")).unwrap(),
        file_before
    );
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    classes_tree(dir.path());
    assert_eq!(
        diff_dirs(dir.path(), &["ov", "--format", "json"])
            .status
            .code(),
        Some(1)
    );
    write(
        dir.path(),
        &[
            ("same/ov/kustomization.yaml", &kust(&["r.yaml"])),
            ("same/ov/r.yaml", &cm("a", "  x: y\n")),
        ],
    );
    let same = common::strata()
        .current_dir(dir.path())
        .args([
            "diff",
            "--base-dir",
            "same",
            "--head-dir",
            "same",
            "ov",
            "--format",
            "terminal",
        ])
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));
    assert!(text(&same).contains("no differences"));
    assert_eq!(
        diff_dirs(dir.path(), &["nope", "--format", "json"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        diff_dirs(dir.path(), &["ov/*x", "--format", "json"])
            .status
            .code(),
        Some(2)
    );
    write(
        dir.path(),
        &[("head/bad/kustomization.yaml", "resources: [missing.yaml]\n")],
    );
    assert_eq!(
        diff_dirs(dir.path(), &["bad", "--format", "json"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn ignore_rules() {
    let dir = tempfile::tempdir().unwrap();
    classes_tree(dir.path());
    // Ignoring the changed Deployment and both ConfigMaps leaves only the added Service.
    let j = json_of(&diff_dirs(
        dir.path(),
        &[
            "ov",
            "--format",
            "json",
            "--ignore",
            "apps:Deployment:*:*",
            "--ignore",
            ":ConfigMap:apps:*",
        ],
    ));
    let rs = j["envs"][0]["resources"].as_array().unwrap();
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0]["key"]["kind"], "Service");
    // A path glob: the image change is not a difference any more.
    let j = json_of(&diff_dirs(
        dir.path(),
        &[
            "ov",
            "--format",
            "json",
            "--ignore-path",
            "/spec/template/spec/containers/*/image",
        ],
    ));
    let rs = j["envs"][0]["resources"].as_array().unwrap();
    assert!(rs.iter().all(|r| r["class"] != "changed"), "{rs:?}");
    assert_eq!(j["envs"][0]["unchanged"], 2);
    // The same rules from the team's config file, read by default from .strata/diff.yaml.
    write(
        dir.path(),
        &[(
            ".strata/diff.yaml",
            "ignore:\n- apps:Deployment:*:*\n- :ConfigMap:apps:*\n",
        )],
    );
    let j = json_of(&diff_dirs(dir.path(), &["ov", "--format", "json"]));
    let rs = j["envs"][0]["resources"].as_array().unwrap();
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0]["key"]["kind"], "Service");
    // A wrong field in it is an error naming the file.
    write(dir.path(), &[(".strata/diff.yaml", "ignores: [x]\n")]);
    let out = diff_dirs(dir.path(), &["ov", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid diff config: unknown field `ignores`")
            && err.contains(".strata/diff.yaml"),
        "{err}"
    );
}

#[test]
fn host_network_highlights() {
    let dir = tempfile::tempdir().unwrap();
    let pod = |hn: bool| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: probe\n  namespace: apps\nspec:\n  hostNetwork: {hn}\n  dnsPolicy: {}\n  containers:\n  - name: main\n    image: busybox\n",
            if hn {
                "ClusterFirstWithHostNet"
            } else {
                "ClusterFirst"
            }
        )
    };
    let agent = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\n  namespace: apps\nspec:\n  selector:\n    matchLabels: {app: agent}\n  template:\n    metadata:\n      labels: {app: agent}\n    spec:\n      hostNetwork: true\n      containers:\n      - name: main\n        image: agent:1\n        ports:\n        - containerPort: 9100\n";
    let web = |port: &str| format!("{}{port}", deploy("web", "nginx:1"));
    write(
        dir.path(),
        &[
            ("base/ov/kustomization.yaml", &kust(&["r.yaml"])),
            (
                "base/ov/r.yaml",
                &format!("{}---\n{agent}---\n{}", pod(false), web("")),
            ),
            ("head/ov/kustomization.yaml", &kust(&["r.yaml"])),
            (
                "head/ov/r.yaml",
                &format!(
                    "{}---\n{agent}---\n{}",
                    pod(true),
                    web(
                        "        ports:\n        - containerPort: 9100\n          hostPort: 9100\n"
                    )
                ),
            ),
        ],
    );
    let j = json_of(&diff_dirs(dir.path(), &["ov", "--format", "json"]));
    let rs = j["envs"][0]["resources"].as_array().unwrap();
    let hl = |name: &str| -> String {
        rs.iter().find(|r| r["key"]["name"] == name).unwrap()["highlights"].to_string()
    };
    assert!(
        hl("probe").contains("deleted and recreated") && hl("probe").contains("hostNetwork"),
        "{}",
        hl("probe")
    );
    assert!(hl("probe").contains("dnsPolicy"));
    assert!(
        hl("web").contains("9100/TCP") && hl("web").contains("DaemonSet apps/agent"),
        "{}",
        hl("web")
    );
    // Both can break the rollout: breaking. A port nothing else binds is information.
    assert!(
        hl("probe").contains(r#""level":"breaking""#),
        "{}",
        hl("probe")
    );
    assert!(hl("web").contains(r#""level":"breaking""#), "{}", hl("web"));
    let md = text(&diff_dirs(dir.path(), &["ov", "--format", "markdown"]));
    assert!(md.contains("deleted and recreated"));
    assert!(
        md.contains("- ⚠️ host port 9100/TCP is new here and also bound by"),
        "{md}"
    );

    // The agent moves to a port nobody else binds: information, not a warning sign.
    let moved = agent.replace("9100", "9200");
    write(
        dir.path(),
        &[(
            "head/ov/r.yaml",
            &format!("{}---\n{moved}---\n{}", pod(false), web("")),
        )],
    );
    let j = json_of(&diff_dirs(dir.path(), &["ov", "--format", "json"]));
    let hls = j["envs"][0]["resources"][0]["highlights"].to_string();
    assert!(
        hls.contains("9200/TCP is new here; no other workload")
            && hls.contains("9100/TCP is released"),
        "{hls}"
    );
    assert!(!hls.contains("breaking"), "{hls}");
    let md = text(&diff_dirs(dir.path(), &["ov", "--format", "markdown"]));
    assert!(md.contains("- ℹ️ host port 9200/TCP is new here"), "{md}");
    assert!(!md.contains("⚠️"), "{md}");
}

#[test]
fn inputs_mode_shows_what_the_overlay_does_and_who_did_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("base/kustomization.yaml", &kust(&["d.yaml"])),
            ("base/d.yaml", &deploy("web", "nginx:1.25")),
            (
                "ov/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: prod\nresources:\n- ../base\npatches:\n- patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 3\n  target:\n    kind: Deployment\n",
            ),
        ],
    );
    let out = common::strata()
        .current_dir(dir.path())
        .args(["diff", "ov", "--no-validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json_of(&out);
    let rs = j["envs"][0]["resources"].as_array().unwrap();
    assert_eq!(
        rs.len(),
        1,
        "the namespace move is one resource, not a removal and an addition: {rs:?}"
    );
    assert_eq!(rs[0]["renamed_from"]["namespace"], "apps");
    let replicas = rs[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/spec/replicas")
        .unwrap();
    assert!(
        replicas["by"].as_str().unwrap().contains("patches[0]"),
        "{replicas}"
    );
    assert!(
        replicas["by"]
            .as_str()
            .unwrap()
            .contains("ov/kustomization.yaml"),
        "{replicas}"
    );
    let md = common::strata()
        .current_dir(dir.path())
        .args(["diff", "ov", "--no-validate", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(text(&md).contains("patches[0]"));
}

#[test]
fn html_is_self_contained_and_screenshots() {
    let dir = tempfile::tempdir().unwrap();
    classes_tree(dir.path());
    let out = diff_dirs(dir.path(), &["ov", "--format", "html", "-o", "diff.html"]);
    assert_eq!(out.status.code(), Some(1));
    let html = std::fs::read_to_string(dir.path().join("diff.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for needle in ["src=\"http", "href=\"http", "@import", "url(", "<script"] {
        assert!(
            !html.contains(needle),
            "the page must not fetch anything: {needle}"
        );
    }
    assert!(html.contains("class=\"sbs\""));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/screenshot-diff.sh");
    let have = ["chromium", "chromium-browser"].iter().any(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !have {
        common::skip(format_args!(
            "html screenshot: chromium is not installed (apt-get install -y chromium)"
        ));
        return;
    }
    let png = dir.path().join("shot.png");
    let st = Command::new("bash")
        .arg(&script)
        .arg(dir.path().join("diff.html"))
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{} bytes",
        bytes.len()
    );
}

/// Twelve region overlays of one base whose image goes through each region's registry (a
/// Substitution), base and head; `tag` is the image tag of each side's base.
fn regions_tree(root: &Path, regions: &[&str], tags: (&str, &str)) {
    for (side, tag) in [("base", tags.0), ("head", tags.1)] {
        let ds = format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\n  namespace: apps\nspec:\n  selector:\n    matchLabels: {{app: agent}}\n  template:\n    metadata:\n      labels: {{app: agent}}\n    spec:\n      containers:\n      - name: main\n        image: registry-<REGION_ID>-vpc.example.com/acs/agent:{tag}\n"
        );
        write(
            root,
            &[
                (
                    &format!("{side}/app/kustomization.yaml"),
                    &kust(&["ds.yaml"]),
                ),
                (&format!("{side}/app/ds.yaml"), &ds),
            ],
        );
        for r in regions {
            let kustomization = format!("{}transformers:\n- region.yaml\n", kust(&["../../app"]));
            let region = format!(
                "apiVersion: strata.dev/v1alpha1\nkind: Substitution\nmetadata:\n  name: region\nspec:\n  vars:\n    REGION_ID: {r}\n"
            );
            write(
                root,
                &[
                    (
                        &format!("{side}/overlays/{r}/kustomization.yaml"),
                        &kustomization,
                    ),
                    (&format!("{side}/overlays/{r}/region.yaml"), &region),
                ],
            );
        }
    }
}

const REGIONS: [&str; 12] = [
    "cn-beijing",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-shenzhen",
    "eu-central-1",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

#[test]
fn a_base_change_across_regions_is_one_change_credited_to_the_base() {
    let dir = tempfile::tempdir().unwrap();
    regions_tree(dir.path(), &REGIONS, ("v1", "v2"));
    let out = diff_dirs(dir.path(), &["overlays/*", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json_of(&out);
    assert_eq!(j["envs"].as_array().unwrap().len(), 12);
    let groups = j["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "one change, not twelve: {groups:#?}");
    assert_eq!(groups[0]["envs"].as_array().unwrap().len(), 12);
    assert_eq!(groups[0]["folded"], "all 12 environments");
    assert_eq!(groups[0]["exact"], false, "each region's registry differs");
    // The Substitution only passed the bumped image on: the base file changed it.
    let by = groups[0]["set_by"].to_string();
    assert!(
        by.contains("app/ds.yaml:15") && by.contains("the source") && !by.contains("region.yaml"),
        "{by}"
    );
    assert_eq!(j["columns"].as_array().unwrap().len(), 1);

    let md = text(&diff_dirs(
        dir.path(),
        &["overlays/*", "--format", "markdown"],
    ));
    assert_eq!(md.matches("<details>").count(), 1, "{md}");
    assert!(
        md.contains("The same change in all 12 environments"),
        "{md}"
    );
    assert!(
        !md.contains("Environments each change touches"),
        "nothing to tell apart: {md}"
    );
    let summary = &md[..md.find("<details>").unwrap()];
    assert_eq!(summary.matches("\n| `").count(), 1, "one summary row: {md}");
    assert!(md.len() < 2500, "{} bytes: {md}", md.len());

    // One region's own change is a second change; its bump is still the shared one; the
    // matrix has two columns, the twelve folded into the eleven and the one.
    let own = format!(
        "{}patches:\n- patch: |\n    - op: add\n      path: /metadata/labels\n      value: {{tier: edge}}\n  target: {{kind: DaemonSet}}\n",
        std::fs::read_to_string(
            dir.path()
                .join("head/overlays/us-west-2/kustomization.yaml")
        )
        .unwrap()
    );
    write(
        dir.path(),
        &[("head/overlays/us-west-2/kustomization.yaml", &own)],
    );
    let j = json_of(&diff_dirs(dir.path(), &["overlays/*", "--format", "json"]));
    let folded: Vec<&str> = j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["folded"].as_str().unwrap())
        .collect();
    assert_eq!(
        folded,
        [
            "11 of 12 environments (all but overlays/us-west-2)",
            "overlays/us-west-2"
        ],
        "{j:#}"
    );
    let md = text(&diff_dirs(
        dir.path(),
        &["overlays/*", "--format", "markdown"],
    ));
    assert!(md.contains("### Environments each change touches"), "{md}");
    assert!(md.contains("| change | `11 of 12 environments (all but overlays/us-west-2)` | `overlays/us-west-2` |"), "{md}");
}

#[test]
fn different_values_are_different_changes() {
    let dir = tempfile::tempdir().unwrap();
    regions_tree(dir.path(), &REGIONS[..3], ("v1", "v2"));
    // One region pins its own tag: a change of its own, not the shared bump.
    let pinned = format!(
        "{}images:\n- name: registry-<REGION_ID>-vpc.example.com/acs/agent\n  newTag: v3\n",
        kust(&["../../app"]).replace("resources:", "transformers:\n- region.yaml\nresources:")
    );
    write(
        dir.path(),
        &[("head/overlays/cn-shanghai/kustomization.yaml", &pinned)],
    );
    let j = json_of(&diff_dirs(dir.path(), &["overlays/*", "--format", "json"]));
    let envs: Vec<usize> = j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["envs"].as_array().unwrap().len())
        .collect();
    assert_eq!(envs, [2, 1], "{j:#}");
}

#[test]
fn an_overlay_that_does_not_render_is_reported_and_the_others_diff() {
    let dir = tempfile::tempdir().unwrap();
    regions_tree(dir.path(), &REGIONS[..4], ("v1", "v2"));
    write(
        dir.path(),
        &[(
            "head/overlays/cn-shanghai/kustomization.yaml",
            &kust(&["../../app", "missing.yaml"]),
        )],
    );
    let out = diff_dirs(dir.path(), &["overlays/*", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(2), "the change breaks a render");
    let md = text(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("overlays/cn-shanghai"), "{err}");
    assert!(md.contains("### Render failures"), "{md}");
    assert!(
        md.contains("`overlays/cn-shanghai`: the **head** (head) does not render"),
        "{md}"
    );
    assert!(md.contains("missing.yaml"), "{md}");
    assert!(
        md.contains("| `overlays/cn-shanghai` | ❌ the head does not render |"),
        "{md}"
    );
    assert!(
        md.contains("The same change in 3 environments"),
        "the others still diff: {md}"
    );

    // The base side failing (the change repairs it) is reported, and is a difference.
    let dir = tempfile::tempdir().unwrap();
    regions_tree(dir.path(), &REGIONS[..2], ("v1", "v1"));
    write(
        dir.path(),
        &[(
            "base/overlays/cn-beijing/kustomization.yaml",
            "resources: [gone.yaml]\n",
        )],
    );
    let out = diff_dirs(dir.path(), &["overlays/*", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let j = json_of(&out);
    let f = &j["envs"][0]["failures"][0];
    assert_eq!(f["side"], "base", "{j:#}");
    assert!(f["message"].as_str().unwrap().contains("gone.yaml"), "{f}");

    // Nothing renders at all: an error, nothing on stdout.
    let out = diff_dirs(dir.path(), &["overlays/cn-beijing", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
