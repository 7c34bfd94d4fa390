//! No way out of the repository for the Argo CD plugin, whose repository is untrusted input
//! to its sidecar: every field of a kustomization (and of a ClusterProfile) that names a
//! file, directory or program is tried with a path outside the repository written three
//! ways (`../..`, absolute, a symlink inside the repository pointing out), and the render
//! must refuse it: nothing on stdout, and the outside file's content nowhere in the output.
//! No program runs unless the sidecar enabled exec functions; remote resources are refused
//! without a network attempt (the render runs in a namespace without network when
//! `unshare` allows it).

mod common;

use common::write;

use std::path::Path;
use std::process::{Command, Output};

const SECRET: &str = "OUTSIDE-SECRET-7f3a";

/// `outside/`, beside the repository: one file of every kind a field can name, each with
/// the secret in it.
fn outside(root: &Path) {
    let cm = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  s: {SECRET}\n"
    );
    write(root, "outside/cm.yaml", &cm);
    write(
        root,
        "outside/base/kustomization.yaml",
        "resources: [cm.yaml]\n",
    );
    write(root, "outside/base/cm.yaml", &cm);
    write(
        root,
        "outside/comp/kustomization.yaml",
        &format!(
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  s: {SECRET}\n"
        ),
    );
    write(
        root,
        "outside/patch.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  s: {SECRET}\n"),
    );
    write(
        root,
        "outside/ops.yaml",
        &format!("- op: add\n  path: /data/s\n  value: {SECRET}\n"),
    );
    write(root, "outside/secret.txt", SECRET);
    write(root, "outside/env.txt", &format!("S={SECRET}\n"));
    write(
        root,
        "outside/schema.json",
        &format!("{{\"definitions\": {{\"{SECRET}\": {{}}}}}}"),
    );
    write(
        root,
        "outside/crd.json",
        &format!("{{\"{SECRET}\": {{\"Schema\": {{}}}}}}"),
    );
    write(
        root,
        "outside/config.yaml",
        &format!("commonLabels:\n- path: metadata/{SECRET}\n"),
    );
    write(
        root,
        "outside/t.yaml",
        &format!(
            "apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata:\n  name: t\nannotations:\n  s: {SECRET}\nfieldSpecs:\n- path: metadata/annotations\n  create: true\n"
        ),
    );
    write(
        root,
        "outside/g.yaml",
        &format!(
            "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\nliterals:\n- s={SECRET}\n"
        ),
    );
    write(
        root,
        "outside/r.yaml",
        "- source: {kind: ConfigMap, name: app, fieldPath: data.a}\n  targets:\n  - select: {kind: ConfigMap, name: app}\n    fieldPaths: [data.b]\n",
    );
    write(
        root,
        "outside/profile.yaml",
        &format!(
            "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata:\n  name: {SECRET}\nspec:\n  nodes: 1\n"
        ),
    );
    write(
        root,
        "outside/crds/crd.yaml",
        &format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {SECRET}\n"
        ),
    );
    let prog = format!(
        "#!/bin/sh\necho ran > \"{}\"\ncat\n",
        root.join("ran-outside").display()
    );
    write(root, "outside/fn.sh", &prog);
    set_exec(&root.join("outside/fn.sh"));
}

#[cfg(unix)]
fn set_exec(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(not(unix))]
fn set_exec(_: &Path) {}

/// The fields that name something, as kustomization text around a path `P`.
const FIELDS: &[(&str, &str)] = &[
    ("resources (file)", "resources: [cm.yaml, P]\n"),
    ("resources (directory)", "resources: [cm.yaml, P]\n"),
    ("bases", "resources: [cm.yaml]\nbases: [P]\n"),
    ("components", "resources: [cm.yaml]\ncomponents: [P]\n"),
    (
        "patches[].path",
        "resources: [cm.yaml]\npatches:\n- path: P\n",
    ),
    (
        "patchesStrategicMerge",
        "resources: [cm.yaml]\npatchesStrategicMerge: [P]\n",
    ),
    (
        "patchesJson6902[].path",
        "resources: [cm.yaml]\npatchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: app}\n  path: P\n",
    ),
    (
        "configMapGenerator files",
        "resources: [cm.yaml]\nconfigMapGenerator:\n- name: g\n  files: [P]\n",
    ),
    (
        "configMapGenerator envs",
        "resources: [cm.yaml]\nconfigMapGenerator:\n- name: g\n  envs: [P]\n",
    ),
    (
        "secretGenerator files",
        "resources: [cm.yaml]\nsecretGenerator:\n- name: g\n  files: [k=P]\n",
    ),
    (
        "openapi.path",
        "resources: [cm.yaml]\nopenapi:\n  path: P\n",
    ),
    ("crds", "resources: [cm.yaml]\ncrds: [P]\n"),
    (
        "configurations",
        "resources: [cm.yaml]\nconfigurations: [P]\n",
    ),
    (
        "transformers (file)",
        "resources: [cm.yaml]\ntransformers: [P]\n",
    ),
    (
        "generators (file)",
        "resources: [cm.yaml]\ngenerators: [P]\n",
    ),
    (
        "replacements[].path",
        "resources: [cm.yaml]\nreplacements:\n- path: P\n",
    ),
    (
        "validators (ClusterProfile)",
        "resources: [cm.yaml]\nvalidators: [P]\n",
    ),
];

/// What each field names outside, relative to `outside/`.
fn target(field: &str) -> &'static str {
    match field {
        "resources (file)" => "cm.yaml",
        "resources (directory)" | "bases" => "base",
        "components" => "comp",
        "patches[].path" | "patchesStrategicMerge" => "patch.yaml",
        "patchesJson6902[].path" => "ops.yaml",
        "configMapGenerator files" | "secretGenerator files" => "secret.txt",
        "configMapGenerator envs" => "env.txt",
        "openapi.path" => "schema.json",
        "crds" => "crd.json",
        "configurations" => "config.yaml",
        "transformers (file)" => "t.yaml",
        "generators (file)" => "g.yaml",
        "replacements[].path" => "r.yaml",
        "validators (ClusterProfile)" => "profile.yaml",
        other => panic!("no target for {other}"),
    }
}

fn app_cm() -> String {
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: x\n".into()
}

/// `strata argocd generate` in `repo/app`, as argocd-cmp-server runs it.
fn generate(repo: &Path, build_options: &str) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.args(["argocd", "generate"])
        .current_dir(repo.join("app"))
        .env_clear()
        .env("ARGOCD_APP_NAME", "app")
        .env("ARGOCD_APP_NAMESPACE", "default")
        .env("ARGOCD_APP_SOURCE_PATH", "app");
    if !build_options.is_empty() {
        c.env("STRATA_BUILD_OPTIONS", build_options);
    }
    c.output().unwrap()
}

fn refused(out: &Output, what: &str) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{what}: rendered\n{stdout}");
    assert!(stdout.is_empty(), "{what}: stdout not empty:\n{stdout}");
    assert!(
        !stderr.contains(SECRET),
        "{what}: the outside content in stderr:\n{stderr}"
    );
}

/// Every field, every way of writing the path: refused, even with kustomize's load
/// restriction off (`--load-restrictor LoadRestrictionsNone` in the sidecar).
#[test]
fn no_field_reads_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    outside(&root);
    let repo = root.join("repo");
    let mut checked = 0;
    for (field, text) in FIELDS {
        for form in ["relative", "absolute", "symlink"] {
            let _ = std::fs::remove_dir_all(&repo);
            write(&repo, "app/cm.yaml", &app_cm());
            let t = target(field);
            let path = match form {
                "relative" => format!("../../outside/{t}"),
                "absolute" => root.join("outside").join(t).display().to_string(),
                _ => {
                    #[cfg(unix)]
                    std::os::unix::fs::symlink(root.join("outside").join(t), repo.join("app/link"))
                        .unwrap();
                    "link".to_string()
                }
            };
            write(&repo, "app/kustomization.yaml", &text.replace('P', &path));
            for options in ["", "--load-restrictor LoadRestrictionsNone"] {
                let out = generate(&repo, options);
                let what = format!("{field}, {form}, options `{options}`");
                refused(&out, &what);
                // Refused for being outside, not for some other fault of the fixture.
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("outside the"), "{what}: {err}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, FIELDS.len() * 3 * 2);
}

/// A ClusterProfile in the repository may name CRDs below its own directory only.
#[test]
fn a_profile_reads_no_crds_outside_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    outside(&root);
    let repo = root.join("repo");
    for crds in [
        "../../outside/crds".to_string(),
        root.join("outside/crds").display().to_string(),
    ] {
        let _ = std::fs::remove_dir_all(&repo);
        write(&repo, "app/cm.yaml", &app_cm());
        write(
            &repo,
            "app/kustomization.yaml",
            "resources: [cm.yaml]\nvalidators: [profile.yaml]\n",
        );
        write(
            &repo,
            "app/profile.yaml",
            &format!(
                "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {{name: p}}\nspec:\n  crds: [\"{crds}\"]\n"
            ),
        );
        refused(&generate(&repo, ""), &format!("profile crds {crds}"));
    }
}

/// An exec KRM function: never run unless the sidecar enabled exec functions; and then
/// only a program inside the repository.
#[test]
fn programs_run_only_when_enabled_and_only_from_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    outside(&root);
    let repo = root.join("repo");
    let function = |program: &str| {
        format!(
            "apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: f\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: {program}\n"
        )
    };
    let inside = format!(
        "#!/bin/sh\necho ran > \"{}\"\ncat\n",
        root.join("ran-inside").display()
    );
    let enabled = "--enable-alpha-plugins --enable-exec";
    for (program, options, runs) in [
        ("./fn.sh", "", false),
        ("./fn.sh", enabled, true),
        ("../../outside/fn.sh", enabled, false),
    ] {
        let _ = std::fs::remove_dir_all(&repo);
        let _ = std::fs::remove_file(root.join("ran-inside"));
        write(&repo, "app/cm.yaml", &app_cm());
        write(&repo, "app/fn.sh", &inside);
        set_exec(&repo.join("app/fn.sh"));
        write(&repo, "app/fn.yaml", &function(program));
        write(
            &repo,
            "app/kustomization.yaml",
            "resources: [cm.yaml]\ntransformers: [fn.yaml]\n",
        );
        let out = generate(&repo, options);
        let what = format!("{program} with `{options}`");
        if runs {
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(root.join("ran-inside").exists(), "{what}: did not run");
        } else {
            refused(&out, &what);
            assert!(!root.join("ran-inside").exists(), "{what}: ran");
        }
        assert!(
            !root.join("ran-outside").exists(),
            "{what}: the outside program ran"
        );
    }
}

/// Remote resources are refused before any network use: in a namespace without network,
/// the error is strata's, not a failed connection.
#[test]
fn remote_resources_are_refused_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    for remote in [
        "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.5.0",
        "github.com/kubernetes-sigs/kustomize/examples/helloWorld",
        "git@github.com:kubernetes-sigs/kustomize.git",
    ] {
        write(repo, "app/cm.yaml", &app_cm());
        write(
            repo,
            "app/kustomization.yaml",
            &format!("resources: [cm.yaml, \"{remote}\"]\n"),
        );
        let offline = Command::new("unshare")
            .args(["-rn", env!("CARGO_BIN_EXE_strata"), "render", "app"])
            .current_dir(repo)
            .output();
        let out = match offline {
            Ok(o) if !String::from_utf8_lossy(&o.stderr).contains("unshare:") => o,
            _ => common::strata()
                .args(["render", "app"])
                .current_dir(repo)
                .output()
                .unwrap(),
        };
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{remote}");
        assert!(out.stdout.is_empty());
        assert!(err.contains("is not supported"), "{remote}: {err}");
    }
}
