//! `strata fn`, the KRM function: a ResourceList on stdin, the strata kind in functionConfig
//! applied, results for findings. Directly through stdin, and with the real kpt
//! (`kpt fn eval --exec`), which is skipped with a printed reason where kpt is absent.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n        ports:\n        - containerPort: 8080\n";

const HOST_NETWORK: &str = "apiVersion: strata.dev/v1alpha1\nkind: HostNetwork\nmetadata:\n  name: web\nspec:\n  targets:\n  - kind: Deployment\n";

fn yaml(text: &str) -> Value {
    strata::yaml::parse_single(text).unwrap().unwrap().value
}

/// Runs `strata fn` on a ResourceList: (exit code, output list).
fn run_fn(items: &[&str], function_config: &str) -> (i32, Value) {
    let mut list = serde_json::json!({
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items.iter().map(|i| yaml(i)).collect::<Vec<_>>(),
    });
    if !function_config.is_empty() {
        list["functionConfig"] = yaml(function_config);
    }
    let mut child = common::strata()
        .arg("fn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(strata::yaml::to_yaml(&list).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (out.status.code().unwrap_or(-1), yaml(&text))
}

#[test]
fn host_network_through_stdin() {
    let (code, out) = run_fn(&[WEB], HOST_NETWORK);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["kind"], "ResourceList");
    let pod = &out["items"][0]["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["containers"][0]["ports"][0]["hostPort"], 8080);
}

#[test]
fn errors_become_results_and_exit_1() {
    // A target that matches nothing: the items come back unchanged.
    let cfg = HOST_NETWORK.replace("kind: Deployment", "kind: StatefulSet");
    let (code, out) = run_fn(&[WEB], &cfg);
    assert_eq!(code, 1);
    assert_eq!(out["items"][0], yaml(WEB));
    let r = &out["results"][0];
    assert_eq!(r["severity"], "error");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("matches no resource"),
        "{r}"
    );
    // No functionConfig, and an unknown kind.
    let (code, out) = run_fn(&[WEB], "");
    assert_eq!(code, 1);
    assert!(
        out["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("functionConfig")
    );
    let (code, _) = run_fn(
        &[WEB],
        "apiVersion: strata.dev/v1alpha1\nkind: Nope\nmetadata: {name: x}\n",
    );
    assert_eq!(code, 1);
}

#[test]
fn cluster_profile_validates_with_resource_refs() {
    let hn = WEB.replace(
        "    spec:\n      containers",
        "    spec:\n      hostNetwork: true\n      containers",
    )
    // The pod names a cluster service: HN001 is an error, not a warning.
    .replace(
        "        image: nginx:1.27\n",
        "        image: nginx:1.27\n        env:\n        - {name: API, value: \"http://api.apps.svc:8080\"}\n",
    );
    let with_path = hn.replace(
        "  namespace: apps\n",
        "  namespace: apps\n  annotations:\n    config.kubernetes.io/path: apps/web.yaml\n    config.kubernetes.io/index: '0'\n",
    );
    let profile = "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: p}\nspec:\n  nodes: 3\n";
    let (code, out) = run_fn(&[&with_path], profile);
    assert_eq!(code, 1, "{out}");
    let hn001 = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tags"]["code"] == "HN001")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(hn001["severity"], "error");
    assert_eq!(hn001["resourceRef"]["kind"], "Deployment");
    assert_eq!(hn001["resourceRef"]["name"], "web");
    assert_eq!(hn001["resourceRef"]["namespace"], "apps");
    assert_eq!(hn001["field"]["path"], "spec.template.spec.hostNetwork");
    assert_eq!(hn001["file"]["path"], "apps/web.yaml");
    // The items are passed through untouched.
    assert_eq!(out["items"][0], yaml(&with_path));
}

fn have_kpt(test: &str) -> bool {
    let ok = Command::new("kpt")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::skip(format_args!("{test}: kpt is not installed"));
    }
    ok
}

fn kpt_eval(dir: &Path, extra: &[&str]) -> std::process::Output {
    let exec = format!("{} fn", env!("CARGO_BIN_EXE_strata"));
    Command::new("kpt")
        .args(["fn", "eval"])
        .arg(dir)
        .args(["--exec", &exec])
        .args(extra)
        .output()
        .unwrap()
}

fn read(dir: &Path, file: &str) -> Value {
    yaml(&std::fs::read_to_string(dir.join(file)).unwrap())
}

#[test]
fn kpt_fn_eval_applies_each_kind() {
    if !have_kpt("kpt_fn_eval_applies_each_kind") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let web = WEB.replace(
        "image: nginx:1.27",
        "image: nginx:1.27\n        env:\n        - {name: REGION, value: \"<REGION_ID>\"}",
    );
    std::fs::write(pkg.join("web.yaml"), &web).unwrap();
    let cfg = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };

    let hn = cfg("hn.yaml", HOST_NETWORK);
    let out = kpt_eval(&pkg, &["--fn-config", &hn]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = read(&pkg, "web.yaml");
    assert_eq!(w["spec"]["template"]["spec"]["hostNetwork"], true);
    assert_eq!(
        w["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"],
        8080
    );

    let ir = cfg(
        "ir.yaml",
        "apiVersion: strata.dev/v1alpha1\nkind: ImageRegistry\nmetadata: {name: mirror}\nspec:\n  rules:\n  - match: \"docker.io/library/*\"\n    registry: mirror.example.com/library\n",
    );
    let out = kpt_eval(&pkg, &["--fn-config", &ir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = read(&pkg, "web.yaml");
    assert_eq!(
        w["spec"]["template"]["spec"]["containers"][0]["image"],
        "mirror.example.com/library/nginx:1.27"
    );

    let sc = cfg(
        "sc.yaml",
        "apiVersion: strata.dev/v1alpha1\nkind: SecurityContext\nmetadata: {name: hardening}\nspec:\n  targets: [{kind: Deployment}]\n  containers:\n    allowPrivilegeEscalation: false\n",
    );
    let out = kpt_eval(&pkg, &["--fn-config", &sc]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = read(&pkg, "web.yaml");
    assert_eq!(
        w["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"],
        false
    );

    // key=value arguments: kpt passes a ConfigMap, read as Substitution variables.
    let out = kpt_eval(&pkg, &["--", "REGION_ID=cn-hangzhou"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = read(&pkg, "web.yaml");
    assert_eq!(
        w["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "cn-hangzhou"
    );
    // The kpt bookkeeping annotations are not left in the files.
    assert!(w["metadata"].get("annotations").is_none(), "{w}");
}

#[test]
fn kpt_fn_eval_reports_validation_errors() {
    if !have_kpt("kpt_fn_eval_reports_validation_errors") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let hn = WEB.replace(
        "    spec:\n      containers",
        "    spec:\n      hostNetwork: true\n      containers",
    )
    // The pod names a cluster service: HN001 is an error, not a warning.
    .replace(
        "        image: nginx:1.27\n",
        "        image: nginx:1.27\n        env:\n        - {name: API, value: \"http://api.apps.svc:8080\"}\n",
    );
    std::fs::write(pkg.join("web.yaml"), &hn).unwrap();
    let profile = tmp.path().join("profile.yaml");
    std::fs::write(
        &profile,
        "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: p}\nspec:\n  nodes: 3\n",
    )
    .unwrap();
    let results = tmp.path().join("results");
    let out = kpt_eval(
        &pkg,
        &[
            "--fn-config",
            profile.to_str().unwrap(),
            "--results-dir",
            results.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let text = std::fs::read_to_string(results.join("results.yaml")).unwrap();
    let list = yaml(&text);
    let rs = list["items"][0]["results"].as_array().unwrap();
    let hn001 = rs
        .iter()
        .find(|r| r["tags"]["code"] == "HN001")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(hn001["file"]["path"], "web.yaml");
    assert_eq!(hn001["field"]["path"], "spec.template.spec.hostNetwork");
    // The package is unchanged.
    assert_eq!(read(&pkg, "web.yaml"), yaml(&hn));
}
