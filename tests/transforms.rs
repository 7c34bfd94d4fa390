//! End-to-end tests of strata's own transformer kinds (`apiVersion: strata.dev/v1alpha1`):
//! HostNetwork, Substitution, ImageRegistry and SecurityContext. Each test writes a small
//! kustomization tree to a temporary directory, runs the `strata` binary on it (from the
//! tree's root, so shown paths are relative) and checks exact fields of the rendered objects,
//! or the exact diagnostic of a failed render.

mod common;

use serde_json::{Value, json};

use common::strata;

/// A temporary tree of files.
struct Tree {
    dir: tempfile::TempDir,
}

/// What one run printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Tree {
    fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Writes a file (creating its directories); `rel` is relative to the tree's root.
    fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        self
    }

    /// `strata render --no-validate ARGS...` from the tree's root, with extra environment
    /// variables. These tests are about what the transforms write; the small workloads they
    /// use need not pass validation (tests/validate.rs covers that).
    fn render_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = strata();
        cmd.arg("render")
            .arg("--no-validate")
            .args(args)
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run strata");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn render(&self, args: &[&str]) -> Run {
        self.render_env(args, &[])
    }

    /// Renders `dir` and requires success; returns the objects.
    fn objects(&self, dir: &str) -> Vec<Value> {
        self.render(&[dir]).ok()
    }

    /// Renders `dir` and requires the failure contract; returns stderr.
    fn fails(&self, dir: &str) -> String {
        self.render(&[dir]).failed()
    }
}

impl Run {
    /// Exit code 0; returns the objects printed.
    #[track_caller]
    fn ok(&self) -> Vec<Value> {
        assert_eq!(self.code, Some(0), "stderr:\n{}", self.stderr);
        strata::yaml::parse_stream(&self.stdout)
            .expect("the output is YAML")
            .into_iter()
            .map(|d| d.value)
            .collect()
    }

    /// Exit code 2, empty stdout, no panic; returns stderr.
    #[track_caller]
    fn failed(self) -> String {
        assert_eq!(self.code, Some(2), "stderr:\n{}", self.stderr);
        assert!(self.stdout.is_empty(), "stdout:\n{}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(self.stderr.starts_with("error: "), "{}", self.stderr);
        self.stderr
    }
}

/// Every part must appear in `text`, verbatim.
#[track_caller]
fn has(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "lacks {p:?}; text was:\n{text}");
    }
}

/// The object of that kind and name.
#[track_caller]
fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

/// The value at a JSON pointer, or `null` when absent.
fn at(v: &Value, pointer: &str) -> Value {
    v.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// A kustomization listing resources and transformers.
fn kust(resources: &[&str], transformers: &[&str]) -> String {
    let mut s = String::from("resources:\n");
    for r in resources {
        s.push_str(&format!("- {r}\n"));
    }
    s.push_str("transformers:\n");
    for t in transformers {
        s.push_str(&format!("- {t}\n"));
    }
    s
}

/// A strata config: `spec` (already indented by two spaces) starts on line 6.
fn config(kind: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: strata.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

/// A workload whose pod spec lies at `path` (`["spec", "template", "spec"]`); `pod` is the
/// pod spec's YAML without indentation.
fn workload(api: &str, kind: &str, name: &str, path: &[&str], pod: &str) -> String {
    let mut s = format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n");
    for (depth, seg) in path.iter().enumerate() {
        s.push_str(&format!("{}{seg}:\n", "  ".repeat(depth)));
    }
    for line in pod.lines() {
        s.push_str(&format!("{}{line}\n", "  ".repeat(path.len())));
    }
    s
}

const TEMPLATE: &[&str] = &["spec", "template", "spec"];

fn deployment(name: &str, pod: &str) -> String {
    workload("apps/v1", "Deployment", name, TEMPLATE, pod)
}

fn daemonset(name: &str, pod: &str) -> String {
    workload("apps/v1", "DaemonSet", name, TEMPLATE, pod)
}

const ONE_PORT: &str =
    "containers:\n- name: app\n  image: nginx\n  ports:\n  - containerPort: 8080\n";

// ---------------------------------------------------------------------------------------------
// HostNetwork

#[test]
fn host_network_reaches_the_pod_spec_of_every_pod_bearing_kind() {
    let kinds: &[(&str, &str, &[&str])] = &[
        ("v1", "Pod", &["spec"]),
        ("v1", "ReplicationController", TEMPLATE),
        ("apps/v1", "Deployment", TEMPLATE),
        ("apps/v1", "StatefulSet", TEMPLATE),
        ("apps/v1", "DaemonSet", TEMPLATE),
        ("apps/v1", "ReplicaSet", TEMPLATE),
        ("batch/v1", "Job", TEMPLATE),
        (
            "batch/v1",
            "CronJob",
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
    ];
    let docs: Vec<String> = kinds
        .iter()
        .map(|(api, kind, path)| workload(api, kind, "w", path, ONE_PORT))
        .collect();
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["w.yaml"], &["hn.yaml"]))
        .file("app/w.yaml", docs.join("---\n"))
        .file(
            "app/hn.yaml",
            config(
                "HostNetwork",
                "all",
                "  targets:\n  - name: w\n  hostPID: true\n",
            ),
        );
    let objects = t.objects("app");
    assert_eq!(objects.len(), kinds.len());
    for (_, kind, path) in kinds {
        let o = find(&objects, kind, "w");
        let base: String = path.iter().map(|s| format!("/{s}")).collect();
        assert_eq!(at(o, &format!("{base}/hostNetwork")), json!(true), "{kind}");
        assert_eq!(
            at(o, &format!("{base}/dnsPolicy")),
            json!("ClusterFirstWithHostNet"),
            "{kind}"
        );
        assert_eq!(at(o, &format!("{base}/hostPID")), json!(true), "{kind}");
        assert_eq!(
            at(o, &format!("{base}/containers/0/ports/0/hostPort")),
            json!(8080),
            "{kind}"
        );
        // Nothing lands beside the pod spec (a CronJob's `spec.template` would be wrong).
        if *kind == "CronJob" {
            assert_eq!(at(o, "/spec/template"), Value::Null);
            assert_eq!(
                at(o, "/spec/jobTemplate/spec/template/spec/hostNetwork"),
                json!(true)
            );
        }
        // Only Deployment and DaemonSet get a rollout strategy.
        let strategy = match *kind {
            "Deployment" => {
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
            }
            "DaemonSet" => json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}),
            _ => Value::Null,
        };
        let field = if *kind == "DaemonSet" {
            "updateStrategy"
        } else {
            "strategy"
        };
        assert_eq!(at(o, &format!("/spec/{field}")), strategy, "{kind}");
    }
}

#[test]
fn host_network_sets_host_ports_in_all_container_lists() {
    let pod = "\
containers:
- name: app
  image: nginx
  ports:
  - containerPort: 8080
  - containerPort: 9090
    hostPort: 9090
  - containerPort: 53
    protocol: UDP
    hostPort: 0
- name: noports
  image: busybox
initContainers:
- name: init
  image: busybox
  ports:
  - containerPort: 7000
ephemeralContainers:
- name: debug
  image: busybox
  ports:
  - containerPort: 7001
";
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["hn.yaml"]))
        .file("app/d.yaml", deployment("web", pod))
        .file(
            "app/hn.yaml",
            config("HostNetwork", "hn", "  targets:\n  - kind: Deployment\n"),
        );
    let objects = t.objects("app");
    let spec = at(find(&objects, "Deployment", "web"), "/spec/template/spec");
    assert_eq!(
        spec["containers"][0]["ports"],
        json!([
            {"containerPort": 8080, "hostPort": 8080},
            {"containerPort": 9090, "hostPort": 9090},
            {"containerPort": 53, "protocol": "UDP", "hostPort": 53},
        ])
    );
    assert_eq!(spec["containers"][1].get("ports"), None);
    assert_eq!(
        spec["initContainers"][0]["ports"][0]["hostPort"],
        json!(7000)
    );
    assert_eq!(
        spec["ephemeralContainers"][0]["ports"][0]["hostPort"],
        json!(7001)
    );
    // No hostPID unless asked for.
    assert_eq!(spec.get("hostPID"), None);

    // `hostPorts: false` leaves the ports as written.
    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: Deployment\n  hostPorts: false\n",
        ),
    );
    let objects = t.objects("app");
    let spec = at(find(&objects, "Deployment", "web"), "/spec/template/spec");
    assert_eq!(
        spec["containers"][0]["ports"][0],
        json!({"containerPort": 8080})
    );
    assert_eq!(
        spec["initContainers"][0]["ports"][0],
        json!({"containerPort": 7000})
    );
    assert_eq!(spec["hostNetwork"], json!(true));
}

#[test]
fn host_network_keeps_an_explicit_dns_policy_default_and_warns() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["w.yaml"], &["hn.yaml"]))
        .file(
            "app/w.yaml",
            format!(
                "{}---\n{}",
                daemonset("resolver", &format!("dnsPolicy: Default\n{ONE_PORT}")),
                deployment("web", &format!("dnsPolicy: ClusterFirst\n{ONE_PORT}")),
            ),
        )
        .file(
            "app/hn.yaml",
            config(
                "HostNetwork",
                "hn",
                "  targets:\n  - kind: DaemonSet|Deployment\n",
            ),
        );
    let run = t.render(&["app"]);
    let objects = run.ok();
    assert_eq!(
        at(
            find(&objects, "DaemonSet", "resolver"),
            "/spec/template/spec/dnsPolicy"
        ),
        json!("Default")
    );
    // `ClusterFirst` falls back to the node's resolver under hostNetwork: it is replaced.
    assert_eq!(
        at(
            find(&objects, "Deployment", "web"),
            "/spec/template/spec/dnsPolicy"
        ),
        json!("ClusterFirstWithHostNet")
    );
    assert_eq!(
        run.stderr,
        "warning: HostNetwork hn (app/hn.yaml:1): DaemonSet apps/v1 resolver at /spec/template/spec/dnsPolicy: \
         explicit dnsPolicy Default kept: the pod uses the node's DNS, not cluster DNS\n"
    );
}

#[test]
fn host_network_dns_policy_and_host_pid_from_the_config() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["hn.yaml"]))
        .file(
            "app/d.yaml",
            deployment("web", &format!("hostPID: true\n{ONE_PORT}")),
        )
        .file(
            "app/hn.yaml",
            config(
                "HostNetwork",
                "hn",
                "  targets:\n  - kind: Deployment\n  dnsPolicy: Default\n  hostPID: false\n",
            ),
        );
    let objects = t.objects("app");
    let spec = at(find(&objects, "Deployment", "web"), "/spec/template/spec");
    assert_eq!(spec["dnsPolicy"], json!("Default"));
    assert_eq!(spec["hostPID"], json!(false));

    // ClusterFirst and None are refused: under hostNetwork the first acts as Default, the
    // second needs a dnsConfig HostNetwork does not write.
    for (policy, why) in [
        (
            "ClusterFirst",
            "under hostNetwork `ClusterFirst` silently behaves as `Default`",
        ),
        ("None", "`None` needs a dnsConfig with a nameserver"),
    ] {
        t.file(
            "app/hn.yaml",
            config(
                "HostNetwork",
                "hn",
                &format!("  targets:\n  - kind: Deployment\n  dnsPolicy: {policy}\n"),
            ),
        );
        let err = t.fails("app");
        has(
            &err,
            &[
                &format!("error: dnsPolicy `{policy}` cannot be set by HostNetwork: {why}"),
                "  --> app/hn.yaml:8:14\n",
            ],
        );
    }

    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: Deployment\n  dnsPolicy: ClusterFirstWithHostnet\n",
        ),
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: dnsPolicy `ClusterFirstWithHostnet` cannot be set by HostNetwork: it is not a dnsPolicy\n",
            "  --> app/hn.yaml:8:14\n",
            "  = in HostNetwork hn\n",
        ],
    );
}

#[test]
fn host_network_safe_rollout_for_daemonsets() {
    let strategy = |s: &str| {
        format!("{s}template:\n  spec:\n    containers:\n    - name: a\n      image: nginx\n")
    };
    let ds = |name: &str, spec: &str| {
        format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: {name}\nspec:\n{}",
            strategy(spec)
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        )
    };
    let docs = [
        ds("plain", ""),
        ds(
            "surging",
            "updateStrategy:\n  type: RollingUpdate\n  rollingUpdate:\n    maxSurge: 1\n    maxUnavailable: 0\n",
        ),
        ds(
            "two",
            "updateStrategy:\n  rollingUpdate:\n    maxUnavailable: 2\n",
        ),
        ds(
            "percent",
            "updateStrategy:\n  rollingUpdate:\n    maxSurge: 25%\n    maxUnavailable: 0%\n",
        ),
        ds("ondelete", "updateStrategy:\n  type: OnDelete\n"),
    ];
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["ds.yaml"], &["hn.yaml"]))
        .file("app/ds.yaml", docs.join("---\n"))
        .file(
            "app/hn.yaml",
            config(
                "HostNetwork",
                "hn",
                "  targets:\n  - kind: DaemonSet\n  rollout: safe\n",
            ),
        );
    let objects = t.objects("app");
    let us = |name: &str| at(find(&objects, "DaemonSet", name), "/spec/updateStrategy");
    assert_eq!(
        us("plain"),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
    );
    assert_eq!(
        us("surging"),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    // An explicit maxUnavailable above one is kept.
    assert_eq!(
        us("two"),
        json!({"rollingUpdate": {"maxUnavailable": 2}, "type": "RollingUpdate"})
    );
    assert_eq!(
        us("percent"),
        json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"})
    );
    assert_eq!(us("ondelete"), json!({"type": "OnDelete"}));

    // `rollout: keep` leaves every strategy as written.
    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: DaemonSet\n  rollout: keep\n",
        ),
    );
    let objects = t.objects("app");
    let us = |name: &str| at(find(&objects, "DaemonSet", name), "/spec/updateStrategy");
    assert_eq!(us("plain"), Value::Null);
    assert_eq!(
        us("surging"),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    );
    assert_eq!(
        at(
            find(&objects, "DaemonSet", "plain"),
            "/spec/template/spec/hostNetwork"
        ),
        json!(true)
    );
}

#[test]
fn host_network_safe_rollout_for_deployments() {
    let dep = |name: &str, strategy: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n{strategy}  template:\n    spec:\n      containers:\n      - name: a\n        image: nginx\n"
        )
    };
    let docs = [
        dep("plain", ""),
        dep(
            "custom",
            "  strategy:\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 2\n",
        ),
        dep("recreate", "  strategy:\n    type: Recreate\n"),
    ];
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["hn.yaml"]))
        .file("app/d.yaml", docs.join("---\n"))
        .file(
            "app/hn.yaml",
            config("HostNetwork", "hn", "  targets:\n  - kind: Deployment\n"),
        );
    let objects = t.objects("app");
    let s = |name: &str| at(find(&objects, "Deployment", name), "/spec/strategy");
    assert_eq!(
        s("plain"),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    assert_eq!(
        s("custom"),
        json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 2}, "type": "RollingUpdate"})
    );
    assert_eq!(s("recreate"), json!({"type": "Recreate"}));

    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: Deployment\n  rollout: keep\n",
        ),
    );
    let objects = t.objects("app");
    assert_eq!(
        at(find(&objects, "Deployment", "plain"), "/spec/strategy"),
        Value::Null
    );

    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: Deployment\n  rollout: fast\n",
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: rollout `fast` is not `safe` or `keep`\n",
            "  --> app/hn.yaml:8:12\n",
        ],
    );
}

#[test]
fn host_network_mismatching_host_port_is_an_error() {
    let pod = "containers:\n- name: exporter\n  image: prom/node-exporter\n  ports:\n  - containerPort: 9100\n    hostPort: 9100\n  - containerPort: 20000\n    hostPort: 9200\n";
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        kust(&["cm.yaml", "ds.yaml"], &["hn.yaml"]),
    )
    .file(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )
    .file(
        "app/ds.yaml",
        format!("# the exporter\n{}", daemonset("ne", pod)),
    )
    .file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: DaemonSet\n  hostPorts: true\n",
        ),
    );
    let expected = [
        "error: container exporter of DaemonSet apps/v1 ne declares hostPort 9200 for containerPort 20000; \
         under hostNetwork the API server requires them to be equal\n",
        "  --> app/hn.yaml:8:14\n",
        "  = in HostNetwork hn\n",
        "  = at /spec/template/spec/containers/0/ports/1 of DaemonSet apps/v1 ne (from app/ds.yaml:2)\n",
        "  = help: under hostNetwork the process binds the node's port itself",
    ];
    has(&t.fails("app"), &expected);

    // Not filling host ports does not make a mismatching one acceptable.
    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            "  targets:\n  - kind: DaemonSet\n  hostPorts: false\n",
        ),
    );
    has(&t.fails("app"), &expected);
}

#[test]
fn host_network_is_idempotent() {
    let pod = "dnsPolicy: Default\ncontainers:\n- name: app\n  image: nginx\n  ports:\n  - containerPort: 8080\ninitContainers:\n- name: init\n  image: busybox\n  ports:\n  - containerPort: 7000\n";
    let hn = config(
        "HostNetwork",
        "hn",
        "  targets:\n  - kind: DaemonSet|Deployment|CronJob\n  hostPID: true\n",
    );
    let cron = workload(
        "batch/v1",
        "CronJob",
        "job",
        &["spec", "jobTemplate", "spec", "template", "spec"],
        ONE_PORT,
    );
    let t = Tree::new();
    t.file("one/kustomization.yaml", kust(&["w.yaml"], &["hn.yaml"]))
        .file(
            "one/w.yaml",
            format!(
                "{}---\n{}---\n{cron}",
                daemonset("ds", pod),
                deployment("web", ONE_PORT)
            ),
        )
        .file("one/hn.yaml", &hn);
    let first = t.render(&["one"]);
    first.ok();
    t.file("two/kustomization.yaml", kust(&["w.yaml"], &["hn.yaml"]))
        .file("two/w.yaml", &first.stdout)
        .file("two/hn.yaml", &hn);
    let second = t.render(&["two"]);
    second.ok();
    assert_eq!(second.stdout, first.stdout);
}

// ---------------------------------------------------------------------------------------------
// Substitution

const SUB_CM: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  annotations:
    help: "<b>bold</b> in <REGION_ID>, <br/> and a < b > c"
data:
  angle: "registry-<REGION_ID>-vpc"
  flux: "registry-${REGION_ID}-vpc"
  default: "${ZONE:=cn-hangzhou-k}"
  defaulted-but-set: "${REGION_ID:=nowhere}"
  escaped: "$${REGION_ID} stays"
  short: "<TIER>"
  "<REGION_ID>": key-untouched
  "${REGION_ID}": key-untouched-too
"#;

#[test]
fn substitution_forms_default_escape_keys_and_html() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"], &["sub.yaml"]))
        .file("app/cm.yaml", SUB_CM)
        .file(
            "app/sub.yaml",
            config(
                "Substitution",
                "region",
                "  vars:\n    REGION_ID: cn-hangzhou\n    TIER: gold\n",
            ),
        );
    let objects = t.objects("app");
    let cm = find(&objects, "ConfigMap", "cm");
    assert_eq!(
        cm["data"],
        json!({
            "angle": "registry-cn-hangzhou-vpc",
            "flux": "registry-cn-hangzhou-vpc",
            "default": "cn-hangzhou-k",
            "defaulted-but-set": "cn-hangzhou",
            "escaped": "${REGION_ID} stays",
            "short": "gold",
            "<REGION_ID>": "key-untouched",
            "${REGION_ID}": "key-untouched-too",
        })
    );
    assert_eq!(
        cm["metadata"]["annotations"]["help"],
        json!("<b>bold</b> in cn-hangzhou, <br/> and a < b > c")
    );
}

#[test]
fn substitution_strict_error_names_resource_field_and_config() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"], &["sub.yaml"]))
        .file(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  ok: \"<REGION_ID>\"\n  bad: \"x-<CLUSTER_ID>\"\n  worse: \"${MISSING}\"\n",
        )
        .file(
            "app/sub.yaml",
            config("Substitution", "region", "  vars:\n    REGION_ID: cn-hangzhou\n"),
        );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: <CLUSTER_ID> has no value in ConfigMap v1 cm at /data/bad; also ${MISSING} at /data/worse\n",
            "  --> app/sub.yaml:7:5\n",
            "  = in Substitution region\n",
            "  = the resource was read from app/cm.yaml:6\n",
            "  = help: add `CLUSTER_ID` to spec.vars, pass `--set CLUSTER_ID=...` or `--env CLUSTER_ID` (in Argo CD: a parameter, or ARGOCD_ENV_CLUSTER_ID in the app's plugin env), or list it under `ignore` if it is text",
        ],
    );

    // `strict` is the default: a config without vars (values from --set only) is strict too,
    // and `--set` fills what the config does not declare.
    t.file(
        "app/sub.yaml",
        config("Substitution", "region", "  strict: true\n"),
    );
    has(
        &t.fails("app"),
        &["error: <REGION_ID> has no value in ConfigMap v1 cm at /data/ok"],
    );
    let objects = t
        .render(&[
            "app",
            "--set",
            "REGION_ID=r",
            "--set",
            "CLUSTER_ID=c1",
            "--set",
            "MISSING=m",
        ])
        .ok();
    assert_eq!(
        find(&objects, "ConfigMap", "cm")["data"],
        json!({"ok": "r", "bad": "x-c1", "worse": "m"})
    );

    // With `strict: false` unresolved placeholders stay as written.
    t.file(
        "app/sub.yaml",
        config(
            "Substitution",
            "region",
            "  strict: false\n  vars:\n    REGION_ID: cn-hangzhou\n",
        ),
    );
    let objects = t.objects("app");
    assert_eq!(
        find(&objects, "ConfigMap", "cm")["data"],
        json!({"ok": "cn-hangzhou", "bad": "x-<CLUSTER_ID>", "worse": "${MISSING}"})
    );
}

#[test]
fn substitution_values_from_outside_only_when_asked() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"], &["sub.yaml"]))
        .file(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  tier: \"<STRATA_T_TIER>\"\n  undeclared: \"${STRATA_T_OTHER}\"\n",
        )
        .file(
            "app/sub.yaml",
            config(
                "Substitution",
                "s",
                "  strict: false\n  vars:\n    STRATA_T_TIER: from-vars\n",
            ),
        );
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["app"];
        all.extend_from_slice(args);
        t.render_env(&all, env)
    };
    let data = |args: &[&str], env: &[(&str, &str)]| {
        find(&run(args, env).ok(), "ConfigMap", "cm")["data"].clone()
    };
    let from_file = json!({"tier": "from-vars", "undeclared": "${STRATA_T_OTHER}"});
    assert_eq!(data(&[], &[]), from_file);
    // Nothing of the environment is read unless asked: a stray variable in a shell or a CI
    // runner (or an Argo CD variable outside the plugin) changes nothing.
    let stray = [
        ("STRATA_T_TIER", "plain"),
        ("STRATA_T_OTHER", "plain"),
        ("ARGOCD_ENV_STRATA_T_TIER", "argo"),
    ];
    assert_eq!(data(&[], &stray), from_file);
    // --env NAME takes that variable; --set wins over it; each replacement of a value the
    // tree gives is a note on stderr.
    let r = run(&["--env", "STRATA_T_TIER"], &stray);
    assert_eq!(
        find(&r.ok(), "ConfigMap", "cm")["data"],
        json!({"tier": "plain", "undeclared": "${STRATA_T_OTHER}"})
    );
    has(
        &r.stderr,
        &[
            "note: STRATA_T_TIER is \"plain\" from $STRATA_T_TIER (--env), not \"from-vars\" as spec.vars of Substitution s (app/sub.yaml:8) says",
        ],
    );
    assert_eq!(
        data(
            &[
                "--env",
                "STRATA_T_TIER",
                "--env",
                "STRATA_T_OTHER",
                "--set",
                "STRATA_T_TIER=set"
            ],
            &stray
        ),
        json!({"tier": "set", "undeclared": "plain"})
    );
    // An --env variable that is not set is an error, not an empty value.
    has(
        &run(&["--env", "STRATA_T_UNSET"], &[]).failed(),
        &["error: --env STRATA_T_UNSET: the environment has no STRATA_T_UNSET"],
    );
    // A name no Substitution knows (a typo) is an error naming the closest one.
    has(
        &run(&["--set", "STRATA_T_TEIR=x"], &[]).failed(),
        &[
            "error: STRATA_T_TEIR (from --set) is not a variable of any Substitution of the render; did you mean STRATA_T_TIER?",
        ],
    );
}

/// A vendored Grafana dashboard keeps its own `${datasource}`: Substitution can be limited
/// to some resources (`targets`) and told which names are text (`ignore`); validation does
/// not report ignored placeholders as left behind.
#[test]
fn substitution_targets_and_ignored_names() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"], &["sub.yaml"]))
        .file(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: region\ndata:\n  id: \"<REGION_ID>\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dashboard\ndata:\n  json: '{\"datasource\": \"${datasource}\", \"region\": \"<REGION_ID>\"}'\n",
        );
    let sub = |extra: &str| {
        config(
            "Substitution",
            "s",
            &format!("  vars:\n    REGION_ID: cn-hangzhou\n{extra}"),
        )
    };
    // Without either, the dashboard's variable is an error in strict mode.
    t.file("app/sub.yaml", sub(""));
    has(
        &t.fails("app"),
        &["error: ${datasource} has no value in ConfigMap v1 dashboard at /data/json"],
    );
    // `ignore`: the name is text everywhere; the dashboard's other placeholders still work.
    t.file("app/sub.yaml", sub("  ignore: [datasource]\n"));
    let objects = t.objects("app");
    assert_eq!(
        find(&objects, "ConfigMap", "dashboard")["data"]["json"],
        json!("{\"datasource\": \"${datasource}\", \"region\": \"cn-hangzhou\"}")
    );
    let validated = strata()
        .args(["validate", "app"])
        .current_dir(t.dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&validated.stdout);
    assert!(!report.contains("IM001"), "{report}");
    // `targets`: only the selected resources are substituted.
    t.file(
        "app/sub.yaml",
        sub("  targets:\n  - kind: ConfigMap\n    name: region\n"),
    );
    let objects = t.objects("app");
    assert_eq!(
        find(&objects, "ConfigMap", "region")["data"]["id"],
        json!("cn-hangzhou")
    );
    assert_eq!(
        find(&objects, "ConfigMap", "dashboard")["data"]["json"],
        json!("{\"datasource\": \"${datasource}\", \"region\": \"<REGION_ID>\"}")
    );
    // A name that is a variable and ignored, or written with its braces, is an error.
    t.file("app/sub.yaml", sub("  ignore: [REGION_ID]\n"));
    has(
        &t.fails("app"),
        &["error: `REGION_ID` is both a variable (spec.vars) and ignored"],
    );
    t.file("app/sub.yaml", sub("  ignore: [\"${datasource}\"]\n"));
    has(
        &t.fails("app"),
        &["is not a variable name (letters, digits, `_`): write the name without"],
    );
}

#[test]
fn substitution_runs_after_image_registry_even_when_listed_first() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        kust(&["d.yaml"], &["sub.yaml", "reg.yaml"]),
    )
    .file(
        "app/d.yaml",
        deployment(
            "web",
            "containers:\n- name: app\n  image: nginx:1.27\n- name: side\n  image: <REGION_ID>.example.com/side:1\n",
        ),
    )
    .file(
        "app/sub.yaml",
        config("Substitution", "region", "  vars:\n    REGION_ID: cn-hangzhou\n"),
    )
    .file(
        "app/reg.yaml",
        config(
            "ImageRegistry",
            "mirror",
            "  rules:\n  - match: \"docker.io/library/*\"\n    registry: \"registry-${REGION_ID}-vpc.ack.aliyuncs.com/library\"\n",
        ),
    );
    let run = t.render(&["app", "--explain"]);
    let objects = run.ok();
    let c = at(
        find(&objects, "Deployment", "web"),
        "/spec/template/spec/containers",
    );
    assert_eq!(
        c[0]["image"],
        json!("registry-cn-hangzhou-vpc.ack.aliyuncs.com/library/nginx:1.27")
    );
    assert_eq!(c[1]["image"], json!("cn-hangzhou.example.com/side:1"));
    has(
        &run.stderr,
        &[
            "/spec/template/spec/containers/0/image  set by ImageRegistry mirror (app/reg.yaml:1)\n",
            "/spec/template/spec/containers/0/image  set by Substitution region (app/sub.yaml:1)\n",
        ],
    );
    let registry = run
        .stderr
        .find("set by ImageRegistry")
        .expect("registry line");
    let substitution = run
        .stderr
        .find("set by Substitution")
        .expect("substitution line");
    assert!(registry < substitution, "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// ImageRegistry

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn registry_tree(rules: &str) -> Tree {
    let pod = format!(
        "containers:
- {{name: a, image: nginx}}
- {{name: b, image: \"prom/node-exporter:v1.8.0\"}}
- {{name: c, image: \"quay.io/prometheus/busybox@{DIGEST}\"}}
- {{name: d, image: \"localhost:5000/team/app:2.0@{DIGEST}\"}}
- {{name: e, image: \"gcr.io/other/thing:1\"}}
- {{name: f, image: \"docker.io/library/redis:7\"}}
- {{name: g, image: \"docker.io/memcached:1.6\"}}
initContainers:
- {{name: i, image: \"busybox:1.36\"}}
ephemeralContainers:
- {{name: x, image: \"registry.example.com:5000/x/y:3\"}}
"
    );
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["reg.yaml"]))
        .file("app/d.yaml", deployment("web", &pod))
        .file("app/reg.yaml", config("ImageRegistry", "mirror", rules));
    t
}

const RULES: &str = "  rules:
  - match: \"docker.io/library/*\"
    registry: mirror.example.com/library
  - match: \"docker.io/**\"
    registry: mirror.example.com/hub
  - match: \"quay.io/prometheus/*\"
    registry: mirror.example.com/quay
  - match: \"localhost:5000/**\"
    registry: mirror.example.com/local
  - match: \"registry.example.com:5000/x/*\"
    registry: mirror.example.com/x
  - match: \"docker.io/library/redis\"
    registry: never.example.com
";

fn images(objects: &[Value]) -> Vec<String> {
    let spec = at(find(objects, "Deployment", "web"), "/spec/template/spec");
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|l| spec[*l].as_array().cloned().unwrap_or_default())
        .map(|c| c["image"].as_str().expect("an image").to_string())
        .collect()
}

#[test]
fn image_registry_normalises_keeps_tags_and_digests_first_rule_wins() {
    let t = registry_tree(RULES);
    assert_eq!(
        images(&t.objects("app")),
        [
            "mirror.example.com/library/nginx".to_string(),
            "mirror.example.com/hub/prom/node-exporter:v1.8.0".into(),
            format!("mirror.example.com/quay/busybox@{DIGEST}"),
            format!("mirror.example.com/local/team/app:2.0@{DIGEST}"),
            "gcr.io/other/thing:1".into(),
            // The first matching rule wins over the later, more specific one.
            "mirror.example.com/library/redis:7".into(),
            // Docker Hub by host name, without `library/`.
            "mirror.example.com/library/memcached:1.6".into(),
            "mirror.example.com/library/busybox:1.36".into(),
            "mirror.example.com/x/y:3".into(),
        ]
    );
}

#[test]
fn image_registry_explain_lists_unmatched_images() {
    let t = registry_tree(
        "  rules:\n  - match: \"docker.io/library/*\"\n    registry: mirror.example.com/library\n",
    );
    let run = t.render(&["app", "--explain"]);
    assert_eq!(
        images(&run.ok()),
        [
            "mirror.example.com/library/nginx".to_string(),
            "prom/node-exporter:v1.8.0".into(),
            format!("quay.io/prometheus/busybox@{DIGEST}"),
            format!("localhost:5000/team/app:2.0@{DIGEST}"),
            "gcr.io/other/thing:1".into(),
            "mirror.example.com/library/redis:7".into(),
            // Docker Hub by host name, without `library/`.
            "mirror.example.com/library/memcached:1.6".into(),
            "mirror.example.com/library/busybox:1.36".into(),
            "registry.example.com:5000/x/y:3".into(),
        ]
    );
    let tail = run
        .stderr
        .split_once("images no ImageRegistry rule matched:\n")
        .expect("an unmatched-images section")
        .1;
    assert_eq!(
        tail,
        format!(
            "  prom/node-exporter:v1.8.0\n  quay.io/prometheus/busybox@{DIGEST}\n  localhost:5000/team/app:2.0@{DIGEST}\n  gcr.io/other/thing:1\n  registry.example.com:5000/x/y:3\n"
        )
    );
}

/// ImageRegistry reaches the image fields kustomize's `images` reaches: container lists in
/// custom kinds (a Prometheus `spec.containers`), and `images` field specs the tree adds with
/// `configurations:` (a Prometheus `spec.image`); a field outside both stays, as with
/// kustomize's `images`. `--explain` shows each field moved.
#[test]
fn image_registry_reaches_the_image_fields_kustomize_knows() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- prom.yaml\nconfigurations:\n- images.yaml\ntransformers:\n- reg.yaml\n",
    )
    .file(
        "app/images.yaml",
        "images:\n- path: spec/image\n  kind: Prometheus\n",
    )
    .file(
        "app/prom.yaml",
        "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata:\n  name: k8s\nspec:\n  image: quay.io/prometheus/prometheus:v2.54.1\n  containers:\n  - name: config-reloader\n    image: quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0\n---\napiVersion: monitoring.coreos.com/v1\nkind: Alertmanager\nmetadata:\n  name: main\nspec:\n  image: quay.io/prometheus/alertmanager:v0.27.0\n",
    )
    .file(
        "app/reg.yaml",
        config(
            "ImageRegistry",
            "mirror",
            "  rules:\n  - match: \"quay.io/**\"\n    registry: mirror.example.com/quay\n",
        ),
    );
    let run = t.render(&["app", "--explain"]);
    let objects = run.ok();
    let prom = find(&objects, "Prometheus", "k8s");
    assert_eq!(
        prom["spec"]["image"],
        json!("mirror.example.com/quay/prometheus/prometheus:v2.54.1")
    );
    assert_eq!(
        prom["spec"]["containers"][0]["image"],
        json!("mirror.example.com/quay/prometheus-operator/prometheus-config-reloader:v0.76.0")
    );
    // Alertmanager's `spec.image` is in no field spec: kustomize's `images` would not reach
    // it either.
    assert_eq!(
        find(&objects, "Alertmanager", "main")["spec"]["image"],
        json!("quay.io/prometheus/alertmanager:v0.27.0")
    );
    has(
        &run.stderr,
        &[
            "  /spec/containers/0/image  set by ImageRegistry mirror (app/reg.yaml:1)\n",
            "  /spec/image               set by ImageRegistry mirror (app/reg.yaml:1)\n",
        ],
    );
}

#[test]
fn image_registry_is_idempotent() {
    // A rule without a literal prefix keeps the whole normalised name under the mirror, which
    // the same rule would match again.
    let rules = format!("{RULES}  - match: \"**/thing\"\n    registry: cache.example.com\n");
    let t = registry_tree(&rules);
    let first = t.render(&["app"]);
    let imgs = images(&first.ok());
    assert_eq!(imgs[4], "cache.example.com/gcr.io/other/thing:1");
    t.file("two/kustomization.yaml", kust(&["d.yaml"], &["reg.yaml"]))
        .file("two/d.yaml", &first.stdout)
        .file("two/reg.yaml", config("ImageRegistry", "mirror", &rules));
    let second = t.render(&["two"]);
    second.ok();
    assert_eq!(second.stdout, first.stdout);
}

#[test]
fn image_registry_rule_errors() {
    let t = registry_tree(
        "  rules:\n  - match: \"docker.io/library/*\"\n    registry: mirror.example.com/library\n  - match: \"docker.io/[abc\"\n    registry: mirror.example.com/x\n",
    );
    has(
        &t.fails("app"),
        &[
            "error: `docker.io/[abc` is not a valid glob: ",
            "unclosed character class",
            "  --> app/reg.yaml:9:12\n",
            "  = in ImageRegistry mirror\n",
        ],
    );
    // A registry without a host would be read as a Docker Hub path.
    t.file(
        "app/reg.yaml",
        config(
            "ImageRegistry",
            "mirror",
            "  rules:\n  - match: \"docker.io/library/*\"\n    registry: mirror/library\n",
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: `registry: mirror/library` does not start with a registry host: container runtimes would pull `mirror/library/...` from docker.io/mirror/library\n",
            "  --> app/reg.yaml:8:15\n",
        ],
    );
    t.file(
        "app/reg.yaml",
        config(
            "ImageRegistry",
            "mirror",
            "  rules:\n  - match: \"docker.io/library/*\"\n    registry: mirror.example.com/\n",
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: `registry` must be a registry host with an optional path, without a trailing `/`\n",
            "  --> app/reg.yaml:8:15\n",
        ],
    );
    t.file(
        "app/reg.yaml",
        config("ImageRegistry", "mirror", "  rules: []\n"),
    );
    has(
        &t.fails("app"),
        &["error: `rules` is empty\n", "  --> app/reg.yaml:6:10\n"],
    );
}

// ---------------------------------------------------------------------------------------------
// SecurityContext

const SC_POD: &str = "\
securityContext:
  runAsUser: 1000
containers:
- name: app
  image: nginx
  securityContext:
    readOnlyRootFilesystem: false
    capabilities:
      add: [NET_ADMIN]
    seLinuxOptions:
      level: s0:c1
initContainers:
- name: init
  image: busybox
ephemeralContainers:
- name: debug
  image: busybox
";

const SC_SPEC: &str = "  targets:
  - kind: Deployment
  pod:
    runAsUser: 0
    runAsNonRoot: true
  containers:
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      add: [CHOWN]
      drop: [ALL]
    seLinuxOptions:
      type: spc_t
";

#[test]
fn security_context_fills_only_what_is_missing() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["sc.yaml"]))
        .file("app/d.yaml", deployment("web", SC_POD))
        .file(
            "app/sc.yaml",
            config("SecurityContext", "hardening", SC_SPEC),
        );
    let objects = t.objects("app");
    let spec = at(find(&objects, "Deployment", "web"), "/spec/template/spec");
    assert_eq!(
        spec["securityContext"],
        json!({"runAsUser": 1000, "runAsNonRoot": true})
    );
    assert_eq!(
        spec["containers"][0]["securityContext"],
        json!({
            "readOnlyRootFilesystem": false,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            "seLinuxOptions": {"level": "s0:c1", "type": "spc_t"},
            "allowPrivilegeEscalation": false,
        })
    );
    let filled = json!({
        "readOnlyRootFilesystem": true,
        "allowPrivilegeEscalation": false,
        "capabilities": {"add": ["CHOWN"], "drop": ["ALL"]},
        "seLinuxOptions": {"type": "spc_t"},
    });
    assert_eq!(spec["initContainers"][0]["securityContext"], filled);
    assert_eq!(spec["ephemeralContainers"][0]["securityContext"], filled);
}

#[test]
fn security_context_override_sets_every_given_field() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["sc.yaml"]))
        .file("app/d.yaml", deployment("web", SC_POD))
        .file(
            "app/sc.yaml",
            config(
                "SecurityContext",
                "hardening",
                &format!("{SC_SPEC}  override: true\n"),
            ),
        );
    let objects = t.objects("app");
    let spec = at(find(&objects, "Deployment", "web"), "/spec/template/spec");
    assert_eq!(
        spec["securityContext"],
        json!({"runAsUser": 0, "runAsNonRoot": true})
    );
    assert_eq!(
        spec["containers"][0]["securityContext"],
        json!({
            "readOnlyRootFilesystem": true,
            "capabilities": {"add": ["CHOWN"], "drop": ["ALL"]},
            // Nested mappings are set key by key: `level` is not given, so it stays.
            "seLinuxOptions": {"level": "s0:c1", "type": "spc_t"},
            "allowPrivilegeEscalation": false,
        })
    );
    assert_eq!(
        spec["ephemeralContainers"][0]["securityContext"]["readOnlyRootFilesystem"],
        json!(true)
    );
}

#[test]
fn security_context_unknown_fields_are_errors() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["sc.yaml"]))
        .file("app/d.yaml", deployment("web", SC_POD))
        .file(
            "app/sc.yaml",
            config(
                "SecurityContext",
                "hardening",
                "  targets:\n  - kind: Deployment\n  containers:\n    readOnlyRootFilesystem: true\n    runAsNonRoots: true\n",
            ),
        );
    has(
        &t.fails("app"),
        &[
            "error: unknown field `runAsNonRoots` in spec.containers\n",
            "  --> app/sc.yaml:10:",
            "  = in SecurityContext hardening\n",
            "  = help: spec.containers takes the fields of Kubernetes' SecurityContext: allowPrivilegeEscalation, ",
        ],
    );
    t.file(
        "app/sc.yaml",
        config(
            "SecurityContext",
            "hardening",
            "  targets:\n  - kind: Deployment\n  pod:\n    privileged: true\n",
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: unknown field `privileged` in spec.pod: it is a field of spec.containers\n",
            "  --> app/sc.yaml:9:",
            "  = help: spec.pod takes the fields of Kubernetes' PodSecurityContext: ",
        ],
    );
    t.file(
        "app/sc.yaml",
        config(
            "SecurityContext",
            "hardening",
            "  targets:\n  - kind: Deployment\n",
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: nothing to set: give `pod` and/or `containers`\n",
            "  --> app/sc.yaml:6:",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Config errors common to all kinds

/// A tree with a Deployment and a ConfigMap, and `hn.yaml` as its one transformer.
fn config_tree(transformer: &str) -> Tree {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["w.yaml"], &["hn.yaml"]))
        .file(
            "app/w.yaml",
            format!(
                "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
                deployment("web", ONE_PORT)
            ),
        )
        .file("app/hn.yaml", transformer);
    t
}

#[test]
fn config_unknown_field_in_spec() {
    let t = config_tree(&config(
        "HostNetwork",
        "hn",
        "  targets:\n  - kind: Deployment\n  hostPid: true\n",
    ));
    has(
        &t.fails("app"),
        &[
            "error: invalid HostNetwork hn: unknown field `hostPid`, expected one of `targets`, `dnsPolicy`, `hostPID`, `hostPorts`, `rollout` (at spec.hostPid)\n",
            "  --> app/hn.yaml:8:",
            "  = in transformers[0] of app/kustomization.yaml\n",
        ],
    );
    // An unknown field in a target, and beside `spec`.
    t.file(
        "app/hn.yaml",
        config("HostNetwork", "hn", "  targets:\n  - kinds: Deployment\n"),
    );
    has(
        &t.fails("app"),
        &[
            "unknown field `kinds`",
            "(at spec.targets.0.kinds)\n",
            "  --> app/hn.yaml:7:",
        ],
    );
    t.file(
        "app/hn.yaml",
        format!(
            "{}specs: {{}}\n",
            config("HostNetwork", "hn", "  targets:\n  - kind: Deployment\n")
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: unknown field `specs` in HostNetwork hn: expected apiVersion, kind, metadata and spec\n",
            "  --> app/hn.yaml:8:",
        ],
    );
}

#[test]
fn config_wrong_type_and_missing_targets() {
    let t = config_tree(&config(
        "HostNetwork",
        "hn",
        "  targets:\n  - kind: Deployment\n  hostPorts: \"yes please\"\n",
    ));
    has(
        &t.fails("app"),
        &[
            "error: invalid HostNetwork hn: invalid type: string \"yes please\", expected a boolean (at spec.hostPorts)\n",
            "  --> app/hn.yaml:8:14\n",
        ],
    );
    // `spec:` left empty: the required field is named.
    t.file("app/hn.yaml", config("HostNetwork", "hn", ""));
    has(
        &t.fails("app"),
        &[
            "error: invalid HostNetwork hn: missing field `targets` (at spec)\n",
            "  --> app/hn.yaml:5:",
        ],
    );
}

#[test]
fn config_empty_targets() {
    let t = config_tree(&config("HostNetwork", "hn", "  targets: []\n"));
    has(
        &t.fails("app"),
        &[
            "error: `targets` is empty: say which workloads this applies to\n",
            "  --> app/hn.yaml:6:12\n",
            "  = in HostNetwork hn\n",
        ],
    );
}

#[test]
fn config_target_that_matches_nothing() {
    let spec = "  targets:\n  - kind: Deployment\n  - kind: StatefulSet\n    name: db\n";
    let t = config_tree(&config("HostNetwork", "hn", spec));
    has(
        &t.fails("app"),
        &[
            "error: this target matches no resource\n",
            "  --> app/hn.yaml:8:5\n",
            "  = help: fix the target, or add `allowNoMatch: true` to it if that is intended\n",
        ],
    );
    t.file(
        "app/hn.yaml",
        config(
            "HostNetwork",
            "hn",
            &format!("{spec}    allowNoMatch: true\n"),
        ),
    );
    let objects = t.objects("app");
    assert_eq!(
        at(
            find(&objects, "Deployment", "web"),
            "/spec/template/spec/hostNetwork"
        ),
        json!(true)
    );
}

#[test]
fn config_invalid_target_regex() {
    let t = config_tree(&config(
        "HostNetwork",
        "hn",
        "  targets:\n  - kind: Deployment\n  - name: \"[unclosed\"\n",
    ));
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid target: `name: [unclosed` is not a valid regular expression: unclosed character class\n",
            "  --> app/hn.yaml:8:5\n",
        ],
    );
    // One error, on one line: the regex crate's caret lines are not passed on.
    assert_eq!(err.matches("error").count(), 1, "{err}");
}

#[test]
fn config_unknown_strata_kind() {
    let t =
        config_tree("apiVersion: strata.dev/v1alpha1\nkind: PortMapper\nmetadata:\n  name: x\n");
    has(
        &t.fails("app"),
        &[
            "error: unknown strata kind `PortMapper`: expected HostNetwork, Substitution, ImageRegistry or SecurityContext\n",
            "  --> app/hn.yaml:2:7\n",
        ],
    );
}

#[test]
fn config_kustomize_builtin_transformers_run_with_strata_kinds() {
    let builtin = "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata:\n  name: p\nprefix: x-\nfieldSpecs:\n- path: metadata/name\n";
    let t = config_tree(builtin);
    let objects = t.objects("app");
    find(&objects, "Deployment", "x-web");
    find(&objects, "ConfigMap", "x-settings");

    // Listed through a directory of configs, mixed with strata's kinds, in order.
    t.file("app/kustomization.yaml", kust(&["w.yaml"], &["tf"]))
        .file(
            "app/tf/kustomization.yaml",
            "resources:\n- sc.yaml\n- pfx.yaml\n",
        )
        .file(
            "app/tf/sc.yaml",
            config(
                "SecurityContext",
                "h",
                "  targets:\n  - kind: Deployment\n    name: web\n  pod:\n    runAsNonRoot: true\n",
            ),
        )
        .file("app/tf/pfx.yaml", builtin);
    let objects = t.objects("app");
    assert_eq!(
        at(
            find(&objects, "Deployment", "x-web"),
            "/spec/template/spec/securityContext/runAsNonRoot"
        ),
        json!(true)
    );

    // A builtin kind strata does not run, and a plugin of another apiVersion: clear errors.
    t.file(
        "app/tf/pfx.yaml",
        "apiVersion: builtin\nkind: HashTransformer\nmetadata:\n  name: h\n",
    );
    has(
        &t.fails("app"),
        &[
            "error: `transformers` entry `HashTransformer` (builtin) is not supported by strata yet",
            "  --> app/tf/pfx.yaml:2:7\n",
            "  = in transformers[0] of app/kustomization.yaml\n",
        ],
    );
    t.file(
        "app/tf/pfx.yaml",
        "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: c\n",
    );
    has(
        &t.fails("app"),
        &[
            "error: `transformers` entry `ChartInflator` (someteam.example.com/v1) is not supported by strata yet",
            "  = help: strata also runs exec KRM functions",
        ],
    );
    // A field kustomize does not know is ignored, as kustomize ignores it, with a warning
    // naming it: here the misspelt fieldSpecs leave the labels unapplied.
    t.file(
        "app/tf/pfx.yaml",
        "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  a: b\nfieldSpecz: []\n",
    );
    let run = t.render(&["app"]);
    let objects = run.ok();
    assert_eq!(
        at(find(&objects, "Deployment", "web"), "/metadata/labels/a"),
        Value::Null
    );
    has(
        &run.stderr,
        &[
            "warning: `fieldSpecz` is not a field of a LabelTransformer config; kustomize ignores it, and so does strata",
            "  --> app/tf/pfx.yaml:7:13\n",
        ],
    );
}

#[test]
fn config_target_selecting_a_config_map() {
    let t = config_tree(&config(
        "HostNetwork",
        "hn",
        "  targets:\n  - kind: Deployment\n  - name: settings\n",
    ));
    has(
        &t.fails("app"),
        &[
            "error: this target selects ConfigMap v1 settings, which has no pod spec\n",
            "  --> app/hn.yaml:8:5\n",
            "  = in HostNetwork hn\n",
            "  = help: target only pod-bearing kinds: Pod, PodTemplate, ReplicationController, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob\n",
        ],
    );
    // The same for SecurityContext.
    t.file(
        "app/hn.yaml",
        config(
            "SecurityContext",
            "sc",
            "  targets:\n  - kind: ConfigMap\n  pod:\n    runAsNonRoot: true\n",
        ),
    );
    has(
        &t.fails("app"),
        &[
            "error: this target selects ConfigMap v1 settings, which has no pod spec\n",
            "  --> app/hn.yaml:7:5\n",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// --explain

#[test]
fn explain_names_the_transform_and_its_file_and_line() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["d.yaml"], &["t.yaml"]))
        .file(
            "app/d.yaml",
            deployment("web", &format!("dnsPolicy: None\n{ONE_PORT}")),
        )
        .file(
            "app/t.yaml",
            format!(
                "# two configs in one file\n{}---\n{}",
                config(
                    "SecurityContext",
                    "sc",
                    "  targets:\n  - kind: Deployment\n  pod:\n    runAsNonRoot: true\n"
                ),
                config("HostNetwork", "hn", "  targets:\n  - kind: Deployment\n"),
            ),
        );
    let run = t.render(&["app", "--explain"]);
    run.ok();
    let explain = run
        .stderr
        .split_once("Deployment apps/v1 web (from app/d.yaml:1)\n")
        .expect("the resource's section")
        .1;
    let width = "/spec/template/spec/containers/0/ports/0/hostPort".len();
    let line = |path: &str, what: &str| format!("  {path:width$}  {what}\n");
    let expected = [
        line(
            "/spec/template/spec/securityContext/runAsNonRoot",
            "set by SecurityContext sc (app/t.yaml:2)",
        ),
        line("/spec/template/spec/hostNetwork", "set by HostNetwork hn (app/t.yaml:12)"),
        line(
            "/spec/template/spec/dnsPolicy",
            "note from HostNetwork hn (app/t.yaml:12): explicit dnsPolicy None kept: the pod uses the nameservers of its dnsConfig, not cluster DNS",
        ),
        line(
            "/spec/template/spec/containers/0/ports/0/hostPort",
            "set by HostNetwork hn (app/t.yaml:12)",
        ),
        line("/spec/strategy/type", "set by HostNetwork hn (app/t.yaml:12)"),
        line(
            "/spec/strategy/rollingUpdate/maxSurge",
            "set by HostNetwork hn (app/t.yaml:12)",
        ),
        line(
            "/spec/strategy/rollingUpdate/maxUnavailable",
            "set by HostNetwork hn (app/t.yaml:12)",
        ),
    ]
    .concat();
    assert_eq!(explain, expected);
}
