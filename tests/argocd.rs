//! The Argo CD plugin end to end, the way argocd-cmp-server runs it: the repository copied to
//! a temporary directory, the build environment set, the steps of deploy/argocd/plugin.yaml
//! (`generate`, `discover.find`, `parameters.dynamic`: each a strata command, since the
//! sidecar image has no shell) run in the app's source path, stdout parsed as YAML objects.
//! Also: `strata argocd discover`, the dynamic parameters, `strata argocd check` on the
//! shipped files and on broken variants, and `kubectl kustomize deploy/argocd` (skipped
//! without kubectl).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// The repository as argocd-cmp-server sees it: a copy of the parts an app can use.
fn repo_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["overlays", "examples", "deploy"] {
        copy_dir(&root().join(d), &tmp.path().join(d));
    }
    tmp
}

fn plugin() -> Value {
    let src = std::fs::read_to_string(root().join("deploy/argocd/plugin.yaml")).unwrap();
    strata::yaml::parse_single(&src).unwrap().unwrap().value
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A step of plugin.yaml (`generate`, `parameters.dynamic`, `discover.find`) as one shell
/// command line (the test runs it through `sh -c` only to set the directory and environment).
fn step(pointer: &str) -> String {
    let p = plugin();
    let cmd = p.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"));
    let words: Vec<String> = ["command", "args"]
        .iter()
        .filter_map(|k| cmd.get(*k).and_then(Value::as_array))
        .flatten()
        .map(|w| quote(w.as_str().unwrap()))
        .collect();
    words.join(" ")
}

/// Runs a plugin step in `app` (relative to `repo`) with the environment Argo CD gives.
fn run_step(repo: &Path, app: &str, pointer: &str, env: &[(&str, &str)]) -> Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(step(pointer))
        .current_dir(repo.join(app))
        .env_clear()
        .env("PATH", path)
        .env("HOME", repo)
        .env("ARGOCD_APP_NAME", "monitoring")
        .env("ARGOCD_APP_NAMESPACE", "monitoring")
        .env("ARGOCD_APP_REVISION", "0123456789abcdef")
        .env("ARGOCD_APP_SOURCE_PATH", app)
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://example.com/strata.git",
        )
        .env("KUBE_VERSION", "1.30.2")
        .env(
            "KUBE_API_VERSIONS",
            "v1,apps/v1,policy/v1,networking.k8s.io/v1,rbac.authorization.k8s.io/v1",
        );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The `generate` step; the objects it printed.
fn cmp_generate(repo: &Path, app: &str, env: &[(&str, &str)]) -> (Output, Vec<Value>) {
    let out = run_step(repo, app, "/spec/generate", env);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let objects = strata::yaml::parse_stream(&text)
        .unwrap_or_else(|e| panic!("stdout is not YAML: {e}\n{text}"))
        .into_iter()
        .map(|d| d.value)
        .collect();
    (out, objects)
}

fn images(objects: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for o in objects {
        if let Some(cs) = o
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
        {
            for c in cs {
                out.push(c["image"].as_str().unwrap_or("").to_string());
            }
        }
    }
    out
}

#[test]
fn shipped_overlays_generate_plain_objects() {
    let repo = repo_copy();
    for (app, region) in [
        ("overlays/cn-hangzhou", "cn-hangzhou"),
        ("overlays/cn-beijing", "cn-beijing"),
    ] {
        let (out, objects) = cmp_generate(repo.path(), app, &[]);
        assert!(
            out.status.success(),
            "{app}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(objects.len() >= 4, "{app}: {} objects", objects.len());
        for o in &objects {
            assert!(o["apiVersion"].is_string() && o["metadata"]["name"].is_string());
            assert!(
                !o["kind"].as_str().unwrap().ends_with("List"),
                "{app}: a List"
            );
        }
        let imgs = images(&objects);
        assert!(!imgs.is_empty());
        assert!(imgs.iter().all(|i| i.contains(region)), "{app}: {imgs:?}");
        // The same objects `strata render` prints.
        let render = common::strata()
            .arg("render")
            .arg(repo.path().join(app))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&render.stdout),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn discover_matches_the_overlays() {
    let repo = repo_copy();
    let out = run_step(
        repo.path(),
        "overlays/cn-hangzhou",
        "/spec/discover/find",
        &[],
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "strata\n");
    let out = run_step(repo.path(), "examples", "/spec/discover/find", &[]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

/// The sidecar image holds strata and nothing else: every step plugin.yaml runs is strata
/// (no shell, no `init`).
#[test]
fn every_plugin_step_is_strata() {
    let p = plugin();
    assert!(
        p.pointer("/spec/init").is_none(),
        "plugin.yaml has an init step"
    );
    for pointer in [
        "/spec/generate",
        "/spec/discover/find",
        "/spec/parameters/dynamic",
    ] {
        let cmd = p.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"));
        assert_eq!(cmd["command"][0], "strata", "{pointer}: {cmd}");
        assert!(cmd.get("args").is_none(), "{pointer}: {cmd}");
    }
}

fn discover(dir: &Path, arg: Option<&str>) -> Output {
    let mut c = common::strata();
    c.args(["argocd", "discover"]).current_dir(dir);
    if let Some(a) = arg {
        c.arg(a);
    }
    c.output().unwrap()
}

fn assert_fires(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "strata\n", "{what}");
}

fn assert_silent(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn argocd_discover_fires_on_strata_kustomizations() {
    let repo = repo_copy();
    // In the working directory (as argocd-cmp-server runs it) and given a DIR.
    assert_fires(
        &discover(&repo.path().join("overlays/cn-hangzhou"), None),
        "cwd",
    );
    assert_fires(
        &discover(repo.path(), Some("overlays/cn-beijing")),
        "DIR argument",
    );
    // A `.yml` file with a quoted apiVersion, beside a `Kustomization`.
    let app = repo.path().join("apps/quoted");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("Kustomization"),
        "resources:\n- ../../examples\ntransformers:\n- region.yml\n",
    )
    .unwrap();
    std::fs::write(
        app.join("region.yml"),
        "apiVersion: \"strata.dev/v1alpha1\"\nkind: Substitution\nmetadata:\n  name: region\n",
    )
    .unwrap();
    assert_fires(&discover(&app, None), "Kustomization and region.yml");
}

#[test]
fn argocd_discover_is_silent_otherwise() {
    let repo = repo_copy();
    // A kustomization without strata's kinds.
    assert_silent(&discover(&repo.path().join("examples"), None), "examples");
    // strata's kinds without a kustomization.
    let loose = repo.path().join("apps/loose");
    std::fs::create_dir_all(&loose).unwrap();
    std::fs::copy(
        repo.path().join("overlays/cn-hangzhou/region.yaml"),
        loose.join("region.yaml"),
    )
    .unwrap();
    assert_silent(&discover(&loose, None), "no kustomization");
    // Only nested or commented out, or in a subdirectory: not the app's own.
    let nested = repo.path().join("apps/nested");
    std::fs::create_dir_all(nested.join("sub")).unwrap();
    std::fs::write(
        nested.join("kustomization.yaml"),
        "# apiVersion: strata.dev/v1alpha1\nconfigMapGenerator:\n- name: c\n  literals:\n  - apiVersion=strata.dev/v1\n",
    )
    .unwrap();
    std::fs::write(
        nested.join("sub/region.yaml"),
        "apiVersion: strata.dev/v1alpha1\nkind: Substitution\n",
    )
    .unwrap();
    assert_silent(&discover(&nested, None), "nested");
    // A directory that does not exist, and a file that is not UTF-8.
    assert_silent(&discover(repo.path(), Some("no/such/dir")), "missing dir");
    std::fs::write(nested.join("binary.yaml"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    assert_silent(&discover(&nested, None), "binary file");
}

/// Without `init`, `generate` itself says that the source path is not a kustomization.
#[test]
fn generate_without_a_kustomization_says_so() {
    let repo = repo_copy();
    let app = repo.path().join("apps/plain");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("web.yaml"), BROKEN).unwrap();
    let (out, objects) = cmp_generate(repo.path(), "apps/plain", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty() && objects.is_empty());
    assert!(stderr.contains("kustomization"), "{stderr}");
    assert!(stderr.contains("nothing was generated"), "{stderr}");
}

#[test]
fn env_var_substitution() {
    let repo = repo_copy();
    let (out, objects) = cmp_generate(
        repo.path(),
        "overlays/cn-hangzhou",
        &[("ARGOCD_ENV_REGION_ID", "cn-shanghai")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imgs = images(&objects);
    assert!(imgs.iter().all(|i| i.contains("cn-shanghai")), "{imgs:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "note: REGION_ID is \"cn-shanghai\" from ARGOCD_ENV_REGION_ID (the app's plugin env)"
    ));

    // The sidecar's own environment is not a source of values; an app value that no
    // Substitution knows is a warning in the plugin's log, and the render goes on.
    let (out, objects) = cmp_generate(
        repo.path(),
        "overlays/cn-hangzhou",
        &[("REGION_ID", "cn-shanghai"), ("ARGOCD_ENV_REGIONID", "x")],
    );
    assert!(out.status.success());
    let imgs = images(&objects);
    assert!(imgs.iter().all(|i| i.contains("cn-hangzhou")), "{imgs:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: REGIONID (from ARGOCD_ENV_REGIONID (the app's plugin env)) is not a variable of any Substitution of the render; did you mean REGION_ID?"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_malformed_kube_version_is_a_warning_not_a_silent_default() {
    let repo = repo_copy();
    // KUBE_VERSION counts where the overlay's ClusterProfile names no version.
    let profile = repo.path().join("overlays/cn-hangzhou/cluster.yaml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        text.replace("  kubernetesVersion: \"1.30\"\n", ""),
    )
    .unwrap();
    let (out, objects) = cmp_generate(
        repo.path(),
        "overlays/cn-hangzhou",
        &[("KUBE_VERSION", "garbage")],
    );
    assert!(out.status.success() && !objects.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: KUBE_VERSION \"garbage\" is not a Kubernetes version"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn parameters_announced_and_applied() {
    let repo = repo_copy();
    let app = "overlays/cn-hangzhou";
    let out = run_step(repo.path(), app, "/spec/parameters/dynamic", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let region = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "REGION_ID")
        .unwrap_or_else(|| panic!("no REGION_ID in {list}"));
    assert_eq!(region["string"], "cn-hangzhou");
    assert_eq!(region["collectionType"], "string");
    assert!(region["title"].is_string() && region["tooltip"].is_string());

    // The UI parameter, as Argo CD passes it: ARGOCD_APP_PARAMETERS and PARAM_<NAME>.
    let params = r#"[{"name":"REGION_ID","string":"cn-shenzhen"}]"#;
    let env = [
        ("ARGOCD_APP_PARAMETERS", params),
        ("PARAM_REGION_ID", "cn-shenzhen"),
    ];
    let out = run_step(repo.path(), app, "/spec/parameters/dynamic", &env);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["string"], "cn-shenzhen");
    let (out, objects) = cmp_generate(repo.path(), app, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(images(&objects).iter().all(|i| i.contains("cn-shenzhen")));
    // PARAM_<NAME> alone (older Argo CD) and a map parameter.
    let (_, objects) = cmp_generate(repo.path(), app, &[("PARAM_REGION_ID", "cn-chengdu")]);
    assert!(images(&objects).iter().all(|i| i.contains("cn-chengdu")));
    let map = r#"[{"name":"vars","map":{"REGION_ID":"cn-wulanchabu"}}]"#;
    let (_, objects) = cmp_generate(repo.path(), app, &[("ARGOCD_APP_PARAMETERS", map)]);
    assert!(images(&objects).iter().all(|i| i.contains("cn-wulanchabu")));
}

const BROKEN: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      hostNetwork: true\n      containers:\n      - name: main\n        image: registry.example.com/web:1.0\n        args: [--upstream=http://api.apps.svc.cluster.local:8080]\n        ports:\n        - containerPort: 8080\n";

#[test]
fn broken_app_prints_nothing() {
    let repo = repo_copy();
    let app = repo.path().join("apps/broken");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("kustomization.yaml"), "resources:\n- web.yaml\n").unwrap();
    std::fs::write(app.join("web.yaml"), BROKEN).unwrap();
    let (out, objects) = cmp_generate(repo.path(), "apps/broken", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty() && objects.is_empty());
    assert!(
        stderr.contains("HN001") && stderr.contains("nothing was generated"),
        "{stderr}"
    );

    // A render error (a missing file): exit 2, nothing on stdout.
    std::fs::write(
        app.join("kustomization.yaml"),
        "resources:\n- missing.yaml\n",
    )
    .unwrap();
    let (out, _) = cmp_generate(repo.path(), "apps/broken", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));

    // Parameters Argo CD could not have sent: a clear error, nothing on stdout.
    std::fs::write(
        app.join("kustomization.yaml"),
        "resources:\n- ../../overlays/cn-hangzhou\n",
    )
    .unwrap();
    let (out, _) = cmp_generate(
        repo.path(),
        "apps/broken",
        &[("ARGOCD_APP_PARAMETERS", "not json")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ARGOCD_APP_PARAMETERS"));
}

#[test]
fn exec_timeout_is_respected() {
    let repo = repo_copy();
    let app = "overlays/cn-hangzhou";
    let (out, _) = cmp_generate(repo.path(), app, &[("ARGOCD_EXEC_TIMEOUT", "50ms")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ARGOCD_EXEC_TIMEOUT"));
    let (out, _) = cmp_generate(repo.path(), app, &[("ARGOCD_EXEC_TIMEOUT", "soon")]);
    assert_eq!(out.status.code(), Some(2));
    for ok in ["2m", "1m30s", "90s"] {
        let (out, objects) = cmp_generate(repo.path(), app, &[("ARGOCD_EXEC_TIMEOUT", ok)]);
        assert!(out.status.success() && !objects.is_empty(), "{ok}");
    }
}

#[test]
fn go_durations() {
    use std::time::Duration;
    use strata::argocd::parse_go_duration as p;
    assert_eq!(p("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(p("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(p("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(p("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(p("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(p("0"), Ok(Duration::ZERO));
    assert!(p("90").is_err() && p("").is_err() && p("-1s").is_err() && p("1d").is_err());
}

fn check(dir: &Path) -> (i32, String) {
    let out = common::strata()
        .args(["argocd", "check"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_plugin_passes_check_and_validate() {
    let (code, err) = check(&root().join("deploy/argocd"));
    assert_eq!(code, 0, "{err}");
    let out = common::strata()
        .current_dir(root())
        .args(["validate", "deploy/argocd"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_finds_each_mistake() {
    let plugin = std::fs::read_to_string(root().join("deploy/argocd/plugin.yaml")).unwrap();
    let patch =
        std::fs::read_to_string(root().join("deploy/argocd/repo-server-patch.yaml")).unwrap();
    let cases: [(&str, String, String); 8] = [
        (
            "runs `sh`, which the strata sidecar image does not have",
            plugin.replace(
                "    command: [strata, argocd, discover]",
                "    command: [sh, -c, \"grep -qs strata.dev/ ./*.yaml && echo strata\"]",
            ),
            patch.clone(),
        ),
        (
            "drop `init`",
            plugin.replace(
                "  generate:\n",
                "  init:\n    command: [sh, -c, \"test -f kustomization.yaml\"]\n  generate:\n",
            ),
            patch.clone(),
        ),
        (
            "argocd-cmp-server",
            plugin.clone(),
            patch.replace(
                "command: [/var/run/argocd/argocd-cmp-server]",
                "command: [strata]",
            ),
        ),
        (
            "pipefail",
            plugin.replace(
                "    command: [strata, argocd, generate]",
                "    command: [sh, -c]\n    args: [\"strata argocd generate | cat\"]",
            ),
            patch.clone(),
        ),
        (
            "UID 999",
            plugin.clone(),
            patch.replace("runAsUser: 999", "runAsUser: 1000"),
        ),
        (
            "runAsNonRoot",
            plugin.clone(),
            patch.replace("runAsNonRoot: true", "runAsNonRoot: false"),
        ),
        (
            "shares its /tmp",
            plugin.clone(),
            patch.replace(
                "name: strata-tmp\n      volumes",
                "name: tmp\n      volumes",
            ),
        ),
        (
            "/home/argocd/cmp-server/plugins",
            plugin.clone(),
            patch.replace(
                "        - mountPath: /home/argocd/cmp-server/plugins\n          name: plugins\n",
                "",
            ),
        ),
    ];
    for (want, p, s) in cases {
        assert!(
            p != plugin || s != patch,
            "{want}: the case changes nothing"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plugin.yaml"), p).unwrap();
        std::fs::write(dir.path().join("repo-server-patch.yaml"), s).unwrap();
        let (code, err) = check(dir.path());
        assert_eq!(code, 1, "{want}: {err}");
        assert!(err.contains(want), "{want}: {err}");
    }
    // With pipefail the pipeline loses nothing, but the image still has no bash.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plugin.yaml"),
        plugin.replace(
            "    command: [strata, argocd, generate]",
            "    command: [bash, -c]\n    args: [\"set -euo pipefail; strata argocd generate | cat\"]",
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("repo-server-patch.yaml"), &patch).unwrap();
    let (code, err) = check(dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("pipefail`:"), "{err}");
    assert!(err.contains("runs `bash`"), "{err}");
    assert_eq!(err.matches("error: ").count(), 2, "{err}");
}

#[test]
fn kubectl_kustomize_builds_deploy_argocd() {
    if !common::have_kubectl("kubectl_kustomize_builds_deploy_argocd") {
        return;
    }
    let text = common::kubectl_kustomize(&root().join("deploy/argocd")).unwrap();
    let docs = strata::yaml::parse_stream(&text).unwrap();
    let cm = docs
        .iter()
        .find(|d| d.value["kind"] == "ConfigMap")
        .expect("the plugin ConfigMap");
    assert_eq!(cm.value["metadata"]["name"], "strata-cmp-plugin");
    assert!(
        cm.value["data"]["plugin.yaml"]
            .as_str()
            .unwrap()
            .contains("ConfigManagementPlugin")
    );
    // Applying the plugin does not create an Application pointing at a placeholder.
    assert!(!docs.iter().any(|d| d.value["kind"] == "Application"));

    // The sidecar patch merges into a repo-server shaped like Argo CD's.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("deploy/argocd/repo-server-patch.yaml"),
        dir.path().join("patch.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("repo-server.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: argocd-repo-server\nspec:\n  selector:\n    matchLabels: {app: repo}\n  template:\n    metadata:\n      labels: {app: repo}\n    spec:\n      containers:\n      - name: argocd-repo-server\n        image: quay.io/argoproj/argocd:v2.13.0\n        volumeMounts:\n        - {name: var-files, mountPath: /var/run/argocd}\n        - {name: plugins, mountPath: /home/argocd/cmp-server/plugins}\n        - {name: tmp, mountPath: /tmp}\n      volumes:\n      - {name: var-files, emptyDir: {}}\n      - {name: plugins, emptyDir: {}}\n      - {name: tmp, emptyDir: {}}\n").unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- repo-server.yaml\npatches:\n- path: patch.yaml\n",
    )
    .unwrap();
    let merged = common::kubectl_kustomize(dir.path()).unwrap();
    let d = strata::yaml::parse_single(&merged).unwrap().unwrap().value;
    let names: Vec<&str> = d["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // strata renders the same merge.
    let ours = common::strata()
        .args(["render", "--no-validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    let a = common::kubectl_reads(&merged).unwrap();
    let b = common::kubectl_reads(&String::from_utf8_lossy(&ours.stdout)).unwrap();
    common::same_meaning(&a, &b).unwrap();
}

/// Build options come from the sidecar's STRATA_BUILD_OPTIONS (as kustomize.buildOptions from
/// argocd-cm), never from the Application.
#[test]
fn build_options_from_the_sidecar_only() {
    let repo = repo_copy();
    let app = repo.path().join("apps/shared-file");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        repo.path().join("apps/settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: monitoring\ndata:\n  a: b\n",
    )
    .unwrap();
    std::fs::write(
        app.join("kustomization.yaml"),
        "resources:\n- ../../overlays/cn-hangzhou\n- ../settings.yaml\n",
    )
    .unwrap();

    // Root-only by default: the file outside the app's directory is refused.
    let (out, _) = cmp_generate(repo.path(), "apps/shared-file", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("settings.yaml"), "{stderr}");

    let none = [(
        "STRATA_BUILD_OPTIONS",
        "--load-restrictor LoadRestrictionsNone",
    )];
    let (out, objects) = cmp_generate(repo.path(), "apps/shared-file", &none);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(objects.iter().any(|o| o["metadata"]["name"] == "settings"));

    // An Application cannot loosen the sidecar's options.
    let (out, _) = cmp_generate(
        repo.path(),
        "apps/shared-file",
        &[(
            "ARGOCD_ENV_STRATA_BUILD_OPTIONS",
            "--load-restrictor LoadRestrictionsNone",
        )],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("an Application cannot set build options"),
        "{stderr}"
    );

    // A misspelt option is an error naming the variable, not a silent default.
    let (out, _) = cmp_generate(
        repo.path(),
        "apps/shared-file",
        &[("STRATA_BUILD_OPTIONS", "--load-restrictor None")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("STRATA_BUILD_OPTIONS"), "{stderr}");
}
