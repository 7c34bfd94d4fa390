//! `strata inputs`: exactly the files a render (and its validation) reads, no more; per
//! kustomization in JSON; as Argo CD's manifest-generate-paths annotation value.

mod common;

use common::write;

use std::path::Path;

use serde_json::Value;

fn repo(root: &Path) {
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    write(
        root,
        "apps/web/base/kustomization.yaml",
        "resources: [deploy.yaml]\n",
    );
    write(
        root,
        "apps/web/base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n",
    );
    write(root, "apps/web/base/unused.yaml", "not read\n");
    write(
        root,
        "components/labels/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n  team: web\n",
    );
    write(
        root,
        "apps/web/overlays/prod/kustomization.yaml",
        "resources: [../../base]\ncomponents: [../../../../components/labels]\npatches:\n- path: replicas.yaml\nconfigMapGenerator:\n- name: conf\n  files: [conf/app.properties]\nvalidators: [cluster.yaml]\n",
    );
    write(
        root,
        "apps/web/overlays/prod/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
    );
    write(root, "apps/web/overlays/prod/conf/app.properties", "a=1\n");
    write(
        root,
        "apps/web/overlays/prod/cluster.yaml",
        "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: prod}\nspec:\n  nodes: 3\n",
    );
    write(
        root,
        "apps/web/overlays/prod/README.md",
        "notes, not read\n",
    );
    write(
        root,
        "apps/web/overlays/dev/kustomization.yaml",
        "resources: [../../base]\n",
    );
}

fn inputs(root: &Path, args: &[&str]) -> String {
    let out = common::strata()
        .current_dir(root)
        .arg("inputs")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn exactly_what_the_render_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    repo(root);
    let paths = inputs(root, &["apps/web/overlays/prod"]);
    assert_eq!(
        paths.lines().collect::<Vec<_>>(),
        [
            "apps/web/base",
            "apps/web/base/deploy.yaml",
            "apps/web/base/kustomization.yaml",
            "apps/web/overlays/prod/cluster.yaml",
            "apps/web/overlays/prod/conf/app.properties",
            "apps/web/overlays/prod/kustomization.yaml",
            "apps/web/overlays/prod/replicas.yaml",
            "components/labels",
            "components/labels/kustomization.yaml",
        ],
        "{paths}"
    );

    let json: Value = serde_json::from_str(&inputs(
        root,
        &[
            "apps/web/overlays/prod",
            "apps/web/overlays/dev/",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(
        json["apps/web/overlays/dev"],
        serde_json::json!([
            "apps/web/base",
            "apps/web/base/deploy.yaml",
            "apps/web/base/kustomization.yaml",
            "apps/web/overlays/dev/kustomization.yaml"
        ])
    );
    assert_eq!(json["apps/web/overlays/prod"].as_array().unwrap().len(), 9);

    // The annotation value: directories from the repository root (the one with .git).
    let argocd = inputs(
        root.join("apps/web").as_path(),
        &["overlays/prod", "overlays/dev", "--format", "argocd"],
    );
    assert_eq!(
        argocd,
        "overlays/prod: /apps/web/base;/apps/web/overlays/prod;/components/labels\noverlays/dev: /apps/web/base;/apps/web/overlays/dev\n"
    );
}

/// A render that fails says why and prints no partial list.
#[test]
fn a_broken_kustomization_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources: [missing.yaml]\n",
    );
    let out = common::strata()
        .current_dir(dir.path())
        .args(["inputs", "app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}
