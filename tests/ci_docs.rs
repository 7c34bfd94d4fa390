//! docs/ci.md and .pre-commit-hooks.yaml: the workflow is YAML, and every hook's entry runs
//! as pre-commit runs it (with the strata binary of this build on PATH) on the shipped files.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path_with_strata() -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn workflow_in_docs_is_yaml_and_uploads_sarif() {
    let md = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    let block = md
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let wf = strata::yaml::parse_single(block).unwrap().unwrap().value;
    let steps = wf.pointer("/jobs/validate/steps").unwrap().to_string();
    assert!(steps.contains("upload-sarif") && steps.contains("--format sarif"));
    assert_eq!(
        wf.pointer("/jobs/validate/permissions/security-events"),
        Some(&Value::String("write".into()))
    );
    assert!(
        wf.pointer("/jobs/render/steps")
            .unwrap()
            .to_string()
            .contains("--out-dir")
    );
}

#[test]
fn pre_commit_hooks_run() {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks = strata::yaml::parse_single(&text).unwrap().unwrap().value;
    let hooks = hooks.as_array().unwrap();
    assert_eq!(hooks.len(), 3);
    for h in hooks {
        let id = h["id"].as_str().unwrap();
        let entry = h["entry"].as_str().unwrap();
        let args: &[&str] = if id == "strata-argocd-check" {
            &["deploy/argocd"]
        } else {
            &["overlays/cn-hangzhou", "overlays/cn-beijing"]
        };
        // pre-commit splits the entry like a shell and appends the args.
        let line = format!("{entry} {}", args.join(" "));
        let out = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .current_dir(root())
            .env("PATH", path_with_strata())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{id}: {line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A broken overlay fails the validate hook.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("kustomization.yaml"),
        "resources:\n- nope.yaml\n",
    )
    .unwrap();
    let entry = hooks[0]["entry"].as_str().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{entry} overlays/cn-hangzhou {}",
            tmp.path().display()
        ))
        .current_dir(root())
        .env("PATH", path_with_strata())
        .output()
        .unwrap();
    assert!(!out.status.success());
}
