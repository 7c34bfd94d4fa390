//! Nothing lost: every file of the shared YAML fidelity corpus, rendered as the only resource
//! of a kustomization, reaches Kubernetes with the same meaning (judged by kubectl's own
//! reader); files kubectl rejects give a clear error; the 127 risky strings survive as values
//! and as keys.

mod common;

use std::path::Path;

use common::{have_kubectl, kubectl_reads, same_meaning, shared_or_skip, strata};
use serde_json::{Value, json};

/// Inputs kubectl accepts that strata rejects on purpose, with the reason.
const REJECTED_ON_PURPOSE: &[(&str, &str)] = &[("21_duplicate_keys.yaml", "duplicate key")];

/// Renders `file` as the only resource of a kustomization, without validation: these tests
/// are about meaning, and some inputs are deliberately odd (GN001 rightly refuses the
/// `!!binary` Secret, whose decoded value is not base64).
fn render_single(file: &Path) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(file, dir.path().join("input.yaml")).unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- input.yaml\n",
    )
    .unwrap();
    let out = strata()
        .args(["render", "--no-validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn by_identity(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(common::ident);
    v
}

#[test]
fn corpus_keeps_its_meaning_for_kubernetes() {
    if !have_kubectl("corpus_keeps_its_meaning_for_kubernetes") {
        return;
    }
    let Some(corpus) = shared_or_skip(
        "corpus_keeps_its_meaning_for_kubernetes",
        "yaml-fidelity/corpus",
    ) else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .expect("the fidelity corpus is at ../shared/yaml-fidelity/corpus")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "expected the 42-file corpus, found {}",
        files.len()
    );
    let (mut same, mut rejected_alike, mut on_purpose) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let input = std::fs::read_to_string(file).unwrap_or_default();
        let reference = kubectl_reads(&input);
        let (code, stdout, stderr) = render_single(file);
        if let Some((_, why)) = REJECTED_ON_PURPOSE.iter().find(|(f, _)| *f == name) {
            if code == 2 && stderr.contains(why) && stdout.is_empty() {
                on_purpose += 1;
            } else {
                failures.push(format!(
                    "{name}: expected a deliberate `{why}` error, got exit {code}: {stderr}"
                ));
            }
            continue;
        }
        match reference {
            Err(_) => {
                // kubectl rejects it: strata must fail clearly, naming the file and line.
                if code == 2 && stdout.is_empty() && stderr.contains("input.yaml:") {
                    rejected_alike += 1;
                } else {
                    failures.push(format!(
                        "{name}: kubectl rejects it, strata gave exit {code}, stderr {stderr:?}"
                    ));
                }
            }
            Ok(expected) => {
                if code != 0 {
                    failures.push(format!(
                        "{name}: kubectl accepts it, strata failed: {stderr}"
                    ));
                    continue;
                }
                match kubectl_reads(&stdout) {
                    Err(e) => failures.push(format!(
                        "{name}: kubectl cannot read strata's output: {e}\n{stdout}"
                    )),
                    Ok(got) => match same_meaning(&by_identity(expected), &by_identity(got)) {
                        Ok(()) => same += 1,
                        Err(d) => failures.push(format!("{name}: {d}")),
                    },
                }
            }
        }
    }
    eprintln!(
        "fidelity: {same} same meaning, {rejected_alike} rejected like kubectl, {on_purpose} rejected on purpose, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(same + rejected_alike + on_purpose, files.len());
}

#[test]
fn risky_strings_survive_as_values_and_keys() {
    if !have_kubectl("risky_strings_survive_as_values_and_keys") {
        return;
    }
    let Some(risky) = shared_or_skip(
        "risky_strings_survive_as_values_and_keys",
        "yaml-fidelity/risky-strings.json",
    ) else {
        return;
    };
    let text = std::fs::read_to_string(risky).unwrap();
    let strings: Vec<String> = serde_json::from_str(&text).unwrap();
    assert_eq!(strings.len(), 127);
    let values: serde_json::Map<String, Value> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("k{i:03}"), json!(s)))
        .collect();
    let keys: serde_json::Map<String, Value> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), json!(format!("v{i:03}"))))
        .collect();
    let docs = [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "values"}, "data": values}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keys"}, "data": keys}),
    ];
    let dir = tempfile::tempdir().unwrap();
    // Written as JSON, which strata reads as YAML: the input's meaning is unambiguous.
    let input: String = docs
        .iter()
        .map(|d| serde_json::to_string(d).unwrap() + "\n---\n")
        .collect();
    std::fs::write(dir.path().join("in.yaml"), &input).unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [in.yaml]\n",
    )
    .unwrap();
    let out = strata()
        .args(["render", "--no-validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = kubectl_reads(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let find = |name: &str| {
        got.iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap()
            .clone()
    };
    for (i, s) in strings.iter().enumerate() {
        assert_eq!(
            find("values")["data"][format!("k{i:03}")],
            json!(s),
            "value {s:?}"
        );
        assert_eq!(
            find("keys")["data"][s.as_str()],
            json!(format!("v{i:03}")),
            "key {s:?}"
        );
    }
}
