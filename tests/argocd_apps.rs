//! `strata diff --argocd`: a fixture repository with Applications (kustomize with options,
//! directory, the strata plugin), an app of apps, ApplicationSets (git directories, and a
//! matrix of a list and git directories), and apps strata cannot render offline; one
//! command prints the per-application comparison of two commits.

mod common;

use common::{git, write};

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const REPO: &str = "https://git.example.com/platform/strata.git";

fn app(name: &str, source: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n{source}  destination:\n    server: https://kubernetes.default.svc\n    namespace: monitoring\n"
    )
}

fn fixture(root: &Path) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in ["overlays", "examples"] {
        assert!(
            Command::new("cp")
                .arg("-r")
                .arg(shipped.join(d))
                .arg(root.join(d))
                .status()
                .unwrap()
                .success()
        );
    }
    write(
        root,
        "apps/hangzhou.yaml",
        &app(
            "monitoring-hangzhou",
            &format!(
                "    repoURL: {REPO}\n    targetRevision: main\n    path: overlays/cn-hangzhou\n    plugin:\n      name: strata-v1\n      env:\n      - name: REGION_ID\n        value: cn-hangzhou\n"
            ),
        ),
    );
    write(
        root,
        "apps/base-prefixed.yaml",
        &app(
            "examples-prefixed",
            &format!(
                "    repoURL: {REPO}\n    path: examples\n    kustomize:\n      namePrefix: pre-\n      commonLabels:\n        team: sre\n      images:\n      - nginx=nginx:1.27\n"
            ),
        ),
    );
    // An app of apps: a kustomization of Applications (which gives them a prefix).
    write(
        root,
        "apps/root.yaml",
        &app(
            "root",
            &format!("    repoURL: {REPO}\n    path: argocd/children\n"),
        ),
    );
    write(
        root,
        "argocd/children/kustomization.yaml",
        "namePrefix: team-\nresources: [beijing.yaml]\n",
    );
    write(
        root,
        "argocd/children/beijing.yaml",
        &app(
            "child-beijing",
            &format!("    repoURL: {REPO}\n    path: overlays/cn-beijing\n"),
        ),
    );
    // ApplicationSets: git directories; a matrix of a list and git directories (Go template).
    write(
        root,
        "appsets/regions.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: regions\nspec:\n  generators:\n  - git:\n      repoURL: {REPO}\n      revision: HEAD\n      directories:\n      - path: overlays/cn-*\n  template:\n    metadata:\n      name: 'set-{{{{path.basename}}}}'\n    spec:\n      project: default\n      source:\n        repoURL: {REPO}\n        path: '{{{{path}}}}'\n      destination:\n        server: https://kubernetes.default.svc\n        namespace: '{{{{path[1]}}}}'\n"
        ),
    );
    write(
        root,
        "appsets/matrix.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: matrix\nspec:\n  goTemplate: true\n  generators:\n  - matrix:\n      generators:\n      - list:\n          elements:\n          - cluster: prod\n          - cluster: staging\n      - git:\n          repoURL: {REPO}\n          revision: HEAD\n          directories:\n          - path: overlays/cn-hangzhou\n  template:\n    metadata:\n      name: '{{{{.cluster}}}}-{{{{.path.basename}}}}'\n    spec:\n      project: default\n      source:\n        repoURL: {REPO}\n        path: '{{{{.path.path}}}}'\n      destination:\n        name: '{{{{.cluster}}}}'\n        namespace: monitoring\n"
        ),
    );
    // git files (one app per JSON file) in a matrix with the clusters labelled env=prod; the clusters
    // come from the file given with --clusters.
    write(
        root,
        "config/regions/hz.json",
        r#"{"region": "cn-hangzhou", "overlay": "overlays/cn-hangzhou", "cluster": "hz-prod"}"#,
    );
    write(
        root,
        "appsets/files.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: files\nspec:\n  generators:\n  - matrix:\n      generators:\n      - git:\n          repoURL: {REPO}\n          revision: HEAD\n          files:\n          - path: config/regions/*.json\n      - clusters:\n          selector:\n            matchLabels: {{env: prod}}\n  template:\n    metadata:\n      name: 'file-{{{{region}}}}'\n    spec:\n      project: default\n      source:\n        repoURL: {REPO}\n        path: '{{{{overlay}}}}'\n      destination:\n        server: '{{{{server}}}}'\n        namespace: '{{{{path.basename}}}}'\n"
        ),
    );
    // A directory source: recursive, one file excluded, a non-manifest file ignored.
    let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n");
    write(root, "manifests/a.yaml", &cm("a"));
    write(root, "manifests/sub/b.yaml", &cm("b"));
    write(root, "manifests/skip.yaml", &cm("skipped"));
    write(root, "manifests/notes.txt", "not a manifest\n");
    write(
        root,
        "apps/raw.yaml",
        &app(
            "raw",
            &format!(
                "    repoURL: {REPO}\n    path: manifests\n    directory:\n      recurse: true\n      exclude: 'skip.yaml'\n"
            ),
        ),
    );
    // What strata cannot render offline: reported, not dropped.
    write(
        root,
        "apps/helm.yaml",
        &app(
            "ingress",
            "    repoURL: https://charts.example.com\n    chart: ingress-nginx\n    targetRevision: 4.0.0\n",
        ),
    );
    write(
        root,
        "apps/other.yaml",
        &app(
            "elsewhere",
            "    repoURL: https://git.example.com/other/repo.git\n    path: x\n",
        ),
    );
}

#[test]
fn per_application_comparison_of_two_commits() {
    if Command::new("git").arg("--version").output().is_err() {
        common::skip(format_args!(
            "per_application_comparison_of_two_commits: git is not installed"
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture(root);
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "base"]);
    // The change: the node-exporter image in the shared base.
    let f = root.join("examples/node-exporter-daemonset.yaml");
    let t = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, t.replace("v0.17.0-slim", "v0.18.1-slim")).unwrap();
    git(root, &["commit", "-qam", "bump node-exporter"]);

    // Outside the repository: the clusters Argo CD knows.
    write(
        root.parent().unwrap(),
        "clusters.yaml",
        "- name: hz-prod\n  server: https://hz.example.com\n  metadata: {labels: {env: prod}}\n- name: hz-dev\n  server: https://dev.example.com\n  metadata: {labels: {env: dev}}\n",
    );
    let run = |format: &str| {
        common::strata()
            .current_dir(root)
            .args([
                "diff",
                "--argocd",
                "--base",
                "HEAD~1",
                "--head",
                "HEAD",
                "--repo-url",
                REPO,
                "--no-validate",
                "--clusters",
                "../clusters.yaml",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let out = run("json");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let apps: Vec<(String, String, String)> = j["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["destination"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let status = |name: &str| {
        apps.iter()
            .find(|a| a.0 == name)
            .unwrap_or_else(|| panic!("no app {name}: {apps:#?}"))
            .2
            .clone()
    };
    let dest = |name: &str| apps.iter().find(|a| a.0 == name).unwrap().1.clone();
    // Every app that renders the DaemonSet changed; the others are listed as they are.
    for changed in [
        "monitoring-hangzhou",
        "examples-prefixed",
        "team-child-beijing",
        "set-cn-hangzhou",
        "set-cn-beijing",
        "prod-cn-hangzhou",
        "staging-cn-hangzhou",
    ] {
        assert_eq!(
            status(changed),
            "0 added, 0 removed, 1 changed",
            "{changed}"
        );
    }
    assert_eq!(status("file-cn-hangzhou"), "0 added, 0 removed, 1 changed");
    assert_eq!(dest("file-cn-hangzhou"), "https://hz.example.com/regions");
    assert!(
        !apps.iter().any(|a| a.0.contains("dev")),
        "the dev cluster is not selected"
    );
    assert_eq!(
        status("root"),
        "unchanged",
        "the app of apps' own manifests did not change"
    );
    assert_eq!(status("ingress"), "not rendered offline: a Helm chart");
    assert!(status("elsewhere").starts_with("not rendered offline: another repository"));
    assert_eq!(
        dest("set-cn-beijing"),
        "https://kubernetes.default.svc/cn-beijing"
    );
    assert_eq!(dest("staging-cn-hangzhou"), "staging/monitoring");
    let child = j["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "team-child-beijing")
        .unwrap();
    assert_eq!(child["defined_in"], "rendered by root");

    // The kustomize options were applied: the prefix and the label are in the objects.
    let envs = j["envs"].as_array().unwrap();
    let raw = envs.iter().find(|e| e["name"] == "raw").unwrap();
    assert_eq!(
        raw["unchanged"], 2,
        "a.yaml and sub/b.yaml, not skip.yaml: {raw}"
    );
    let prefixed = envs
        .iter()
        .find(|e| e["name"] == "examples-prefixed")
        .unwrap();
    let after = prefixed["resources"][0]["after"].as_str().unwrap();
    assert!(
        after.contains("name: pre-node-exporter-demo") && after.contains("team: sre"),
        "{after}"
    );

    // The comment: the Applications table, the untouched ones on one line, one diff block
    // for the same change everywhere it has the same text.
    let md = String::from_utf8(run("markdown").stdout).unwrap();
    assert!(md.contains("### Applications"), "{md}");
    assert!(md.contains("| `ingress` | https://kubernetes.default.svc/monitoring | - | not rendered offline: a Helm chart |"), "{md}");
    assert!(
        md.contains("Not touched by this change (2): raw, root."),
        "{md}"
    );
}
