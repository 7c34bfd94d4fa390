//! Validation end to end: every rule fires on its fixture and stays silent on its clean twin,
//! pointing at the right line; exit codes; suppression; severities from the profile; the
//! report formats (SARIF checked against the SARIF 2.1.0 schema where the schema is present).

mod common;

use std::path::Path;

use serde_json::Value;

/// A workload template: `{HN}` etc. are replaced per case.
fn deployment(name: &str, extra_pod: &str, ports: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n{extra_pod}      containers:\n      - name: main\n        image: registry.example.com/{name}:1.0\n{ports}"
    )
}

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n";
const HN: &str = "      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n          - topologyKey: kubernetes.io/hostname\n            labelSelector: {matchLabels: {app: x}}\n";
const PROFILE: &str = "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: p}\nspec:\n  nodes: 3\n  allowedHostPorts: [\"20000-20999\"]\n";

fn port(p: u32) -> String {
    format!("        ports:\n        - containerPort: {p}\n")
}

fn daemonset(name: &str, extra_pod: &str, ports: &str, strategy: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n{strategy}  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n{extra_pod}      containers:\n      - name: main\n        image: registry.example.com/{name}:1.0\n{ports}"
    )
}

struct Run {
    code: i32,
    json: Value,
}

fn validate(docs: &[String], profile: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut text = docs.join("---\n");
    text.insert_str(0, &format!("{NS}---\n"));
    std::fs::write(dir.path().join("m.yaml"), &text).unwrap();
    std::fs::write(dir.path().join("p.yaml"), profile).unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args([
            "validate",
            "m.yaml",
            "--cluster",
            "p.yaml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
    }
}

fn codes(run: &Run) -> Vec<(String, u64)> {
    run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The line (1-based) of m.yaml holding `needle` (the first after the leading Namespace).
fn line_of(docs: &[String], needle: &str) -> u64 {
    let text = format!("{NS}---\n{}", docs.join("---\n"));
    let skip = NS.lines().count() + 1;
    let i = text
        .lines()
        .enumerate()
        .skip(skip)
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?}"))
        .0;
    i as u64 + 1
}

/// Asserts `code` fires on `bad`, at the line holding `needle`, and not on `good`.
fn fires(code: &str, bad: &[String], good: &[String], needle: &str) {
    let line = line_of(bad, needle);
    let b = validate(bad, PROFILE);
    let found = codes(&b);
    assert!(
        found.iter().any(|(c, l)| c == code && *l == line),
        "{code} should fire at line {line} ({needle}): {found:?}"
    );
    let g = validate(good, PROFILE);
    let found = codes(&g);
    assert!(
        !found.iter().any(|(c, _)| c == code),
        "{code} should not fire on the clean twin: {found:?}"
    );
}

#[test]
fn hn001_dns_policy() {
    let bad = HN.replace("      dnsPolicy: ClusterFirstWithHostNet\n", "");
    // Still flagged without evidence, as a warning.
    fires(
        "HN001",
        &[deployment("x", &bad, &port(20001), 1)],
        &[deployment("x", HN, &port(20001), 1)],
        "hostNetwork: true",
    );
}

/// The severity of HN001 for a host-network pod without a dnsPolicy whose container has
/// `extra` (YAML lines under the container) and `others` beside it in the render.
fn hn001_severity(extra: &str, others: &[String]) -> Option<String> {
    let pod = HN.replace("      dnsPolicy: ClusterFirstWithHostNet\n", "");
    let mut docs = vec![deployment("x", &pod, &format!("{extra}{}", port(20001)), 1)];
    docs.extend(others.iter().cloned());
    let run = validate(&docs, PROFILE);
    run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "HN001")
        .map(|d| d["severity"].as_str().unwrap().to_string())
}

#[test]
fn hn001_is_an_error_only_on_evidence_of_cluster_names() {
    let service = |name: &str, ns: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  ports:\n  - port: 9091\n"
        )
    };
    let config_map = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  target: \"{value}\"\n"
        )
    };
    let error = Some("error".to_string());
    let warning = Some("warning".to_string());
    // A CNI-style agent: nothing names a cluster service.
    assert_eq!(
        hn001_severity("        args: [--iface=eth0, --kube-subnet-mgr]\n", &[]),
        warning
    );
    // A `*.svc` name in env, a `*.cluster.local` name in args.
    assert_eq!(
        hn001_severity(
            "        env:\n        - {name: PUSH, value: \"http://pushgateway.monitoring.svc:9091\"}\n",
            &[]
        ),
        error
    );
    assert_eq!(
        hn001_severity(
            "        args: [--upstream=api.apps.svc.cluster.local]\n",
            &[]
        ),
        error
    );
    // A Service of the render named as a host: bare in its own namespace, qualified anywhere.
    let pushgateway = [service("pushgateway", "apps")];
    assert_eq!(
        hn001_severity(
            "        args: [--push=http://pushgateway:9091]\n",
            &pushgateway
        ),
        error
    );
    assert_eq!(
        hn001_severity(
            "        args: [--push=http://pushgateway:9091]\n",
            &[service("pushgateway", "monitoring")]
        ),
        warning
    );
    assert_eq!(
        hn001_severity(
            "        args: [--push=pushgateway.monitoring:9091]\n",
            &[service("pushgateway", "monitoring")]
        ),
        error
    );
    // The word alone is not a host.
    assert_eq!(
        hn001_severity("        args: [--mode=pushgateway]\n", &pushgateway),
        warning
    );
    // A ConfigMap the pod reads.
    assert_eq!(
        hn001_severity(
            "        envFrom:\n        - configMapRef: {name: settings}\n",
            &[config_map("db.apps.svc.cluster.local:5432")]
        ),
        error
    );
    assert_eq!(
        hn001_severity(
            "        envFrom:\n        - configMapRef: {name: settings}\n",
            &[config_map("10.0.0.1:5432")]
        ),
        warning
    );
}

#[test]
fn hn002_undeclared_ports() {
    let args = "        args: [--web.listen-address=0.0.0.0:20002]\n";
    let b = validate(&[deployment("x", HN, args, 1)], PROFILE);
    let d = &b.json["diagnostics"][0];
    assert_eq!(d["code"], "HN002");
    assert!(d["message"].as_str().unwrap().contains("port 20002"), "{d}");
    fires(
        "HN002",
        &[deployment("x", HN, args, 1)],
        &[deployment("x", HN, &port(20002), 1)],
        "- name: main",
    );
    // A port given through an env var and used as `$(PORT)` is seen as the kubelet expands it.
    let via_env =
        "        env:\n        - {name: PORT, value: \"20003\"}\n        args: [--port=$(PORT)]\n";
    let b = validate(&[deployment("x", HN, via_env, 1)], PROFILE);
    let d = &b.json["diagnostics"][0];
    assert_eq!(d["code"], "HN002");
    assert!(
        d["message"].as_str().unwrap().contains("(port 20003)"),
        "{d}"
    );
}

#[test]
fn hn003_host_port_mismatch() {
    let bad = "        ports:\n        - containerPort: 20003\n          hostPort: 20004\n";
    let good = "        ports:\n        - containerPort: 20003\n          hostPort: 20003\n";
    fires(
        "HN003",
        &[deployment("x", HN, bad, 1)],
        &[deployment("x", HN, good, 1)],
        "hostPort: 20004",
    );
}

#[test]
fn hn004_net_sysctls() {
    let bad = format!(
        "{HN}      securityContext:\n        sysctls:\n        - {{name: net.core.somaxconn, value: \"1024\"}}\n"
    );
    let good = format!(
        "{HN}      securityContext:\n        sysctls:\n        - {{name: kernel.shm_rmid_forced, value: \"1\"}}\n"
    );
    fires(
        "HN004",
        &[deployment("x", &bad, &port(20005), 1)],
        &[deployment("x", &good, &port(20005), 1)],
        "net.core.somaxconn",
    );
}

#[test]
fn im001_placeholder() {
    let bad = deployment("x", HN, &port(20006), 1).replace(
        "registry.example.com",
        "registry-<REGION_ID>-vpc.example.com",
    );
    fires(
        "IM001",
        &[bad],
        &[deployment("x", HN, &port(20006), 1)],
        "image: registry-<REGION_ID>",
    );
}

#[test]
fn im002_unversioned_image() {
    let bad = deployment("x", HN, &port(20007), 1).replace("x:1.0", "x:latest");
    fires(
        "IM002",
        &[bad],
        &[deployment("x", HN, &port(20007), 1)],
        "x:latest",
    );
}

#[test]
fn ps001_pod_security() {
    let bad = deployment("x", HN, &port(20008), 1).replace("namespace: apps", "namespace: locked");
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: locked\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n".to_string();
    fires(
        "PS001",
        &[bad, ns],
        &[deployment("x", HN, &port(20008), 1)],
        "hostNetwork: true",
    );
}

#[test]
fn pt001_port_conflict_names_both() {
    let a = daemonset("a", HN, &port(20009), "");
    let b = daemonset("b", HN, &port(20009), "");
    let run = validate(&[a.clone(), b], PROFILE);
    let d = run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PT001")
        .expect("PT001");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("DaemonSet apps/v1 apps/b"),
        "{d}"
    );
    let docs = [a.clone(), daemonset("b", HN, &port(20009), "")];
    let text = format!("{NS}---\n{}", docs.join("---\n"));
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("containerPort: 20009"))
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert_eq!(
        d["related"][0]["line"], second,
        "the other party's port line: {d}"
    );
    // On disjoint node pools they never meet.
    let pools = "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: p}\nspec:\n  nodePools:\n  - {name: blue, count: 2, labels: {pool: blue}}\n  - {name: green, count: 2, labels: {pool: green}}\n";
    let sel = |p: &str| format!("{HN}      nodeSelector: {{pool: {p}}}\n");
    let run = validate(
        &[
            daemonset("a", &sel("blue"), &port(20009), ""),
            daemonset("b", &sel("green"), &port(20009), ""),
        ],
        pools,
    );
    assert!(
        !codes(&run).iter().any(|(c, _)| c == "PT001"),
        "{:?}",
        codes(&run)
    );
    fires(
        "PT001",
        &[a.clone(), daemonset("b", HN, &port(20009), "")],
        &[a, daemonset("b", HN, &port(20010), "")],
        "containerPort: 20009",
    );
}

#[test]
fn pt002_reserved_port() {
    fires(
        "PT002",
        &[deployment("x", HN, &port(10250), 1)],
        &[deployment("x", HN, &port(20011), 1)],
        "containerPort: 10250",
    );
}

#[test]
fn pt003_security_group() {
    fires(
        "PT003",
        &[deployment("x", HN, &port(8080), 1)],
        &[deployment("x", HN, &port(20012), 1)],
        "containerPort: 8080",
    );
}

#[test]
fn ro001_replicas_exceed_nodes() {
    fires(
        "RO001",
        &[deployment("x", HN, &port(20013), 4)],
        &[deployment("x", HN, &port(20013), 3)],
        "replicas: 4",
    );
}

#[test]
fn ro002_rollout_cannot_finish() {
    let surge = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    let safe = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 1}\n";
    fires(
        "RO002",
        &[daemonset("a", HN, &port(20014), surge)],
        &[daemonset("a", HN, &port(20014), safe)],
        "maxSurge: 1",
    );
}

#[test]
fn sc001_host_access_reason() {
    let bad = format!("{HN}      hostPID: true\n");
    let good = deployment("x", &bad, &port(20015), 1).replace(
        "  namespace: apps\n",
        "  namespace: apps\n  annotations:\n    strata.dev/host-access-reason: reads host processes\n",
    );
    fires(
        "SC001",
        &[deployment("x", &bad, &port(20015), 1)],
        &[good],
        "hostPID: true",
    );
}

#[test]
fn suppression_and_profile_severities() {
    let bad = deployment("x", HN, &port(10250), 1).replace(
        "  namespace: apps\n",
        "  namespace: apps\n  annotations:\n    strata.dev/ignore: \"PT002: kubelet port on purpose\"\n",
    );
    let run = validate(std::slice::from_ref(&bad), PROFILE);
    assert!(!codes(&run).iter().any(|(c, _)| c == "PT002"));
    assert_eq!(run.json["summary"]["suppressed"], 1);
    let profile = format!("{PROFILE}  rules: {{IM002: error, PT003: off}}\n");
    let run = validate(
        &[deployment("x", HN, &port(8080), 1).replace(":1.0", ":latest")],
        &profile,
    );
    let found = run.json["diagnostics"].as_array().unwrap();
    assert!(
        found
            .iter()
            .any(|d| d["code"] == "IM002" && d["severity"] == "error")
    );
    assert!(!found.iter().any(|d| d["code"] == "PT003"));
    assert_eq!(run.code, 1);
}

#[test]
fn exit_codes() {
    assert_eq!(
        validate(&[deployment("x", HN, &port(20016), 1)], PROFILE).code,
        0
    );
    assert_eq!(
        validate(&[deployment("x", HN, &port(80), 1)], PROFILE).code,
        1
    );
    let out = common::strata()
        .args(["validate", "/nonexistent/x.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn reference_example_fails_on_one_node_with_ro001_and_pt002() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::strata()
        .current_dir(root)
        .args([
            "validate",
            "examples",
            "--cluster",
            "tests/fixtures/profiles/one-node.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[RO001]: Deployment apps/v1 nginx asks for 2 host-network replicas but only 1 node can run them\n  --> examples/nginx-deployment.yaml:12:13"), "{text}");
    assert!(text.contains("error[PT002]: host port 80 of Deployment apps/v1 nginx is reserved on the nodes\n  --> examples/nginx-deployment.yaml:26:26"), "{text}");
}

#[test]
fn shipped_overlays_validate_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for overlay in ["overlays/cn-hangzhou", "overlays/cn-beijing"] {
        let out = common::strata()
            .current_dir(root)
            .args(["validate", overlay])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.ends_with("0 errors, 0 warnings\n"), "{text}");
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let schema_path = std::env::var("STRATA_SARIF_SCHEMA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sarif/sarif-2.1.0-rtm.5.json")
        });
    let Ok(schema) = std::fs::read_to_string(&schema_path) else {
        common::skip(format_args!(
            "sarif_is_valid_sarif_2_1_0: no SARIF schema at {} (.ci/run fetches it from npm)",
            schema_path.display()
        ));
        return;
    };
    let mut schema: Value = serde_json::from_str(&schema).unwrap();
    // The published schema's pattern for `language` (of run and toolComponent) has a stray `]`
    // that ECMA-262 reads as a literal but the Rust validator rejects as a regex; it constrains
    // a field strata never writes, so drop that pattern.
    for def in ["run", "toolComponent"] {
        if let Some(lang) = schema
            .pointer_mut(&format!("/definitions/{def}/properties/language"))
            .and_then(Value::as_object_mut)
        {
            lang.remove("pattern");
        }
    }
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::strata()
        .current_dir(root)
        .args([
            "validate",
            "examples",
            "--cluster",
            "tests/fixtures/profiles/one-node.yaml",
            "--format",
            "sarif",
        ])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "PT002"
        && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 26));
}

#[test]
fn github_annotations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::strata()
        .current_dir(root)
        .args([
            "validate",
            "examples",
            "--cluster",
            "tests/fixtures/profiles/one-node.yaml",
            "--format",
            "github",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with(
            "::error file=examples/nginx-deployment.yaml,line=26,col=26,title=PT002::host port 80"
        )),
        "{text}"
    );
}

#[test]
fn rules_docs_are_current() {
    let generated = strata::cli::rules::rules_markdown();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    if std::env::var_os("STRATA_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/rules.md is stale: run STRATA_UPDATE_DOCS=1 cargo test --test validate rules_docs"
    );
}

#[test]
fn render_refuses_a_set_with_errors_and_writes_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::strata()
        .current_dir(root)
        .args(["render", "examples"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout when validation fails"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[PT002]: host port 80 of Deployment apps/v1 nginx is reserved on the nodes\n  --> examples/nginx-deployment.yaml:26:26"), "{err}");
    assert!(
        !err.contains("warning["),
        "render prints only errors: {err}"
    );
    assert!(
        err.ends_with("nothing was written (use --no-validate to skip validation)\n"),
        "{err}"
    );
    // --no-validate renders it anyway; --cluster replaces the kustomization's profile.
    let out = common::strata()
        .current_dir(root)
        .args(["render", "--no-validate", "examples"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!out.stdout.is_empty());
    let out = common::strata()
        .current_dir(root)
        .args([
            "render",
            "overlays/cn-beijing",
            "--cluster",
            "tests/fixtures/profiles/one-node.yaml",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error[RO001]: Deployment apps/v1 monitoring/nginx asks for 2 host-network replicas but only 1 node can run them"), "{err}");
}

#[test]
fn a_value_set_by_an_overlay_patch_points_at_the_overlay_line() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    };
    w("base/kustomization.yaml", "resources: [ns.yaml, d.yaml]\n");
    w("base/ns.yaml", NS);
    w("base/d.yaml", &deployment("x", HN, &port(20001), 1));
    w(
        "overlay/kustomization.yaml",
        "resources: [../base]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - {op: replace, path: /spec/template/spec/containers/0/ports/0/containerPort, value: 6443}\n",
    );
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "overlay", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PT002")
        .expect("PT002");
    assert_eq!(d["file"], "base/d.yaml", "points at the source field: {d}");
    let source = deployment("x", HN, &port(20001), 1);
    let line = source
        .lines()
        .position(|l| l.contains("containerPort: 20001"))
        .unwrap()
        + 1;
    assert_eq!(d["line"], line, "{d}");
    let related = &d["related"][0];
    assert_eq!(related["message"], "set by patches[0]", "{d}");
    assert_eq!(related["file"], "overlay/kustomization.yaml");
    assert_eq!(related["line"], 3, "the overlay entry's line: {d}");
}

#[test]
fn gn001_schema() {
    // An unknown field (a typo), a wrong type, an invalid port; each at its own line.
    let typo = deployment(
        "x",
        &HN.replace(
            "hostNetwork: true",
            "hostNetwork: true\n      hostNetwrok: true",
        ),
        &port(20017),
        1,
    );
    fires(
        "GN001",
        std::slice::from_ref(&typo),
        &[deployment("x", HN, &port(20017), 1)],
        "hostNetwrok",
    );
    let quoted = deployment(
        "x",
        HN,
        "        ports:\n        - containerPort: \"20018\"\n",
        1,
    );
    fires(
        "GN001",
        &[quoted],
        &[deployment("x", HN, &port(20018), 1)],
        "containerPort: \"20018\"",
    );
    fires(
        "GN001",
        &[deployment("x", HN, &port(70000), 1)],
        &[deployment("x", HN, &port(20019), 1)],
        "containerPort: 70000",
    );
    let run = validate(&[typo], PROFILE);
    let d = run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "GN001")
        .unwrap();
    assert_eq!(
        d["message"],
        "Deployment apps/v1 apps/x: `hostNetwrok` is not a field of Deployment at /spec/template/spec/hostNetwrok"
    );
}

#[test]
fn validate_reads_standard_input_and_manifest_directories() {
    use std::io::Write;
    let mut child = common::strata()
        .args(["validate", "-", "--cluster"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profiles/one-node.yaml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = deployment("x", HN, &port(53), 1);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("error[PT002]: host port 53 of Deployment apps/v1 apps/x is reserved on the nodes\n  --> <stdin>:25:26"), "{report}");

    // A directory of plain manifests: every .yaml/.yml/.json below it; an unreadable file is
    // reported and the rest still validated, with exit code 2.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/a.yaml"),
        deployment("a", HN, &port(53), 1),
    )
    .unwrap();
    std::fs::write(dir.path().join("b.yml"), "a: [1\n").unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "."])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        report.contains("error[PT002]: host port 53 of Deployment apps/v1 apps/a"),
        "{report}"
    );
    assert!(
        err.contains("b.yml")
            && err.ends_with("error: 1 file(s) could not be read and were not validated\n"),
        "{err}"
    );
}

#[test]
fn review_edges_pod_security_default_flag_words_and_huge_percentages() {
    // An unlabelled Namespace in the render gets the profile's default level.
    let unlabelled = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: quiet\n".to_string();
    let ds = daemonset("a", HN, &port(20020), "").replace("namespace: apps", "namespace: quiet");
    let profile = format!("{PROFILE}  podSecurity: {{default: baseline}}\n");
    let run = validate(&[unlabelled.clone(), ds.clone()], &profile);
    let d = run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PS001")
        .expect("PS001");
    assert_eq!(d["severity"], "error", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("whose Pod Security level is baseline"),
        "{d}"
    );
    assert!(
        !codes(&validate(&[unlabelled, ds], PROFILE))
            .iter()
            .any(|(c, _)| c == "PS001")
    );
    // HN002 reads whole flag words: `--report-interval=30` is not a listen port.
    let args = "        args: [--report-interval=30, --metrics-port=20021]\n";
    let run = validate(&[deployment("x", HN, args, 1)], PROFILE);
    let d = run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "HN002")
        .expect("HN002");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .ends_with("it appears to listen on --metrics-port=20021 (port 20021)"),
        "{d}"
    );
    // A hostile percentage does not overflow.
    let surge = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: \"1844674407370955162%\"}\n";
    let run = validate(&[daemonset("a", HN, &port(20022), surge)], PROFILE);
    assert!(codes(&run).iter().any(|(c, _)| c == "RO002"));
}

#[test]
fn an_escaped_placeholder_is_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [cm.yaml]\ntransformers: [sub.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  region: <REGION_ID>\n  template: $${HOSTNAME}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub.yaml"),
        "apiVersion: strata.dev/v1alpha1\nkind: Substitution\nmetadata:\n  name: s\nspec:\n  vars: {REGION_ID: cn-hangzhou}\n",
    )
    .unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["render", "."])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("template: ${HOSTNAME}") && stdout.contains("region: cn-hangzhou"),
        "{stdout}"
    );
}

#[test]
fn several_overlays_are_validated_each_on_its_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::strata()
        .current_dir(root)
        .args([
            "validate",
            "overlays/cn-hangzhou",
            "overlays/cn-beijing",
            "--cluster",
            "tests/fixtures/profiles/one-node.yaml",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("asks for 3 host-network replicas but only 1 node"),
        "{text}"
    );
    assert!(
        text.contains("asks for 2 host-network replicas but only 1 node"),
        "{text}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("defined again"));
}

#[cfg(unix)]
#[test]
fn symlinked_directory_loops_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("m/a")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("m/b")).unwrap();
    std::fs::write(
        dir.path().join("m/d.yaml"),
        deployment("x", HN, &port(20023), 1),
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "m"])
        .output()
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn replicas_and_images_set_by_an_overlay_point_at_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    };
    w("base/kustomization.yaml", "resources: [ns.yaml, d.yaml]\n");
    w("base/ns.yaml", NS);
    w("base/d.yaml", &deployment("x", HN, &port(20024), 1));
    w("p.yaml", PROFILE);
    w(
        "overlay/kustomization.yaml",
        "resources: [../base]\nreplicas:\n- name: x\n  count: 9\nimages:\n- name: registry.example.com/x\n  newTag: latest\n",
    );
    let out = common::strata()
        .current_dir(dir.path())
        .args([
            "validate",
            "overlay",
            "--cluster",
            "p.yaml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |code: &str| {
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == code)
            .cloned()
            .unwrap()
    };
    let ro = find("RO001");
    assert_eq!(ro["related"][0]["message"], "set by replicas[0]", "{ro}");
    assert_eq!(ro["related"][0]["line"], 3);
    let im = find("IM002");
    assert_eq!(im["related"][0]["message"], "set by images", "{im}");
    assert_eq!(im["related"][0]["line"], 6, "the first images entry");
}

/// `strata render` stops only on errors; the warnings it does not print are counted on one
/// line, with their codes and the command that lists them.
#[test]
fn render_says_how_many_warnings_it_does_not_show() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- d.yaml\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d.yaml"),
        deployment("web", "", "", 1).replace("registry.example.com/web:1.0", "nginx:latest"),
    )
    .unwrap();
    let out = common::strata()
        .args(["render", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!out.stdout.is_empty());
    assert!(
        stderr.contains(
            "warning: 1 validation warning (IM002) not shown: `strata validate .` lists them"
        ),
        "{stderr}"
    );
}

/// The codes a set of documents gets (validated with the test profile).
fn found(docs: &[String]) -> Vec<String> {
    codes(&validate(docs, PROFILE))
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

#[test]
fn an_init_container_does_not_hold_its_port_beside_the_pod_containers() {
    let hn = "      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n";
    let init = |restart: &str| {
        format!(
            "{hn}      initContainers:\n      - name: setup\n        image: registry.example.com/setup:1.0\n{restart}        ports:\n        - containerPort: 20010\n"
        )
    };
    // An ordinary init container runs alone before the pod's containers.
    let ordinary = found(&[daemonset("x", &init(""), &port(20010), "")]);
    assert!(!ordinary.contains(&"PT001".to_string()), "{ordinary:?}");
    // A native sidecar runs beside them: the same port conflicts.
    let sidecar = found(&[daemonset(
        "x",
        &init("        restartPolicy: Always\n"),
        &port(20010),
        "",
    )]);
    assert!(sidecar.contains(&"PT001".to_string()), "{sidecar:?}");
    // HN003 (hostPort != containerPort) is the API server's check of the pod's containers,
    // not of its init containers.
    let mismatch = format!(
        "{hn}      initContainers:\n      - name: setup\n        image: registry.example.com/setup:1.0\n        ports:\n        - containerPort: 20011\n          hostPort: 20012\n"
    );
    let f = found(&[daemonset("x", &mismatch, &port(20013), "")]);
    assert!(!f.contains(&"HN003".to_string()), "{f:?}");
}

#[test]
fn required_node_affinity_keeps_daemonsets_apart_without_node_pools() {
    let hn = "      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n";
    let affinity = |op: &str, values: &str| {
        format!(
            "{hn}      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n            - matchExpressions:\n              - key: example.com/pool\n                operator: {op}\n{values}"
        )
    };
    let profile_without_pools = PROFILE;
    let run = |a: &str, b: &str| {
        codes(&validate(
            &[
                daemonset("a", a, &port(20020), ""),
                daemonset("b", b, &port(20020), ""),
            ],
            profile_without_pools,
        ))
        .into_iter()
        .map(|(c, _)| c)
        .collect::<Vec<_>>()
    };
    // Exists / DoesNotExist on one label: never on one node.
    let apart = run(&affinity("Exists", ""), &affinity("DoesNotExist", ""));
    assert!(!apart.contains(&"PT001".to_string()), "{apart:?}");
    // Disjoint In values: apart too; overlapping ones can meet.
    let values = |v: &str| format!("                values: [{v}]\n");
    let disjoint = run(
        &affinity("In", &values("gpu")),
        &affinity("In", &values("cpu")),
    );
    assert!(!disjoint.contains(&"PT001".to_string()), "{disjoint:?}");
    let overlap = run(
        &affinity("In", &values("gpu, cpu")),
        &affinity("In", &values("cpu")),
    );
    assert!(overlap.contains(&"PT001".to_string()), "{overlap:?}");
}

#[test]
fn a_port_bound_to_link_local_addresses_is_not_a_reserved_port() {
    let hn = "      hostNetwork: true\n      dnsPolicy: Default\n";
    let dns = |extra: &str| {
        format!("{extra}        ports:\n        - containerPort: 53\n          protocol: UDP\n")
    };
    // node-local-dns: binds 169.254.20.10 (and the DNS Service IP) named in its args.
    let args = found(&[daemonset(
        "node-local-dns",
        hn,
        &dns("        args: [-localip, \"169.254.20.10,10.96.0.10\"]\n"),
        "",
    )]);
    assert!(!args.contains(&"PT002".to_string()), "{args:?}");
    let host_ip = found(&[daemonset(
        "node-local-dns",
        hn,
        "        ports:\n        - containerPort: 53\n          hostIP: 169.254.20.10\n",
        "",
    )]);
    assert!(!host_ip.contains(&"PT002".to_string()), "{host_ip:?}");
    // On every address, port 53 meets the node's resolver.
    let plain = found(&[daemonset("dns", hn, &dns(""), "")]);
    assert!(plain.contains(&"PT002".to_string()), "{plain:?}");
}

#[test]
fn gn002_removed_api_versions_for_the_target_version() {
    let old = daemonset("agent", HN, &port(20030), "").replace("apps/v1", "extensions/v1beta1");
    let profile = |v: &str| {
        format!(
            "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {{name: p}}\nspec:\n  nodes: 3\n  allowedHostPorts: [\"20000-20999\"]\n  kubernetesVersion: \"{v}\"\n"
        )
    };
    let run = validate(std::slice::from_ref(&old), &profile("1.30"));
    let d = run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "GN002")
        .unwrap_or_else(|| panic!("{}", run.json));
    assert!(
        d["message"].as_str().unwrap().contains(
            "uses extensions/v1beta1, which Kubernetes stopped serving in 1.16 (the target is 1.30)"
        ),
        "{d}"
    );
    // Served by 1.15; apps/v1 is served everywhere.
    let f = codes(&validate(std::slice::from_ref(&old), &profile("1.15")));
    assert!(!f.iter().any(|(c, _)| c == "GN002"), "{f:?}");
    fires(
        "GN002",
        std::slice::from_ref(&old),
        &[daemonset("agent", HN, &port(20030), "")],
        "apiVersion: extensions/v1beta1",
    );
    // The fix names what the target serves, following retired replacements: flow control's
    // v1beta1 pointed at v1beta2, itself gone in 1.29.
    let flow = "apiVersion: flowcontrol.apiserver.k8s.io/v1beta1\nkind: FlowSchema\nmetadata:\n  name: agents\nspec:\n  priorityLevelConfiguration: {name: workload-low}\n".to_string();
    let run = validate(std::slice::from_ref(&flow), &profile("1.30"));
    let d = run.json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "GN002")
        .unwrap_or_else(|| panic!("{}", run.json))
        .clone();
    assert_eq!(d["fix"], "use flowcontrol.apiserver.k8s.io/v1beta3", "{d}");
    // A group/version that came back for other kinds: coordination.k8s.io/v1beta1 is gone
    // for Lease (1.22) but serves LeaseCandidate from 1.33.
    let candidate = "apiVersion: coordination.k8s.io/v1beta1\nkind: LeaseCandidate\nmetadata:\n  name: c\n  namespace: apps\nspec:\n  leaseName: l\n".to_string();
    let f = codes(&validate(&[candidate], &profile("1.33")));
    assert!(!f.iter().any(|(c, _)| c == "GN002"), "{f:?}");
    // An old workload is still a workload to the other rules: its host port conflicts.
    let twin = daemonset("other", HN, &port(20030), "");
    let f = codes(&validate(&[old, twin], &profile("1.15")));
    assert!(f.iter().any(|(c, _)| c == "PT001"), "{f:?}");
}

#[test]
fn gn006_deprecated_api_versions_the_target_still_serves() {
    let pdb = |api: &str| {
        format!(
            "apiVersion: {api}\nkind: PodDisruptionBudget\nmetadata:\n  name: agent\n  namespace: apps\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels: {{app: agent}}\n"
        )
    };
    let profile = |v: &str| {
        format!(
            "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {{name: p}}\nspec:\n  nodes: 3\n  kubernetesVersion: \"{v}\"\n"
        )
    };
    let at = |api: &str, v: &str| {
        let run = validate(&[pdb(api)], &profile(v));
        let found: Vec<(String, String)> = run.json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "GN006" || d["code"] == "GN002")
            .map(|d| {
                (
                    d["code"].as_str().unwrap().to_string(),
                    d["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        found
    };
    // 1.24 serves policy/v1beta1 (deprecated in 1.21) and its replacement policy/v1.
    let f = at("policy/v1beta1", "1.24");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "GN006");
    assert!(
        f[0].1.contains(
            "uses policy/v1beta1, deprecated since 1.21 and no longer served from 1.25 (the target is 1.24)"
        ),
        "{f:?}"
    );
    // Before the deprecation: nothing to do yet. From 1.25: refused, GN002's.
    assert!(at("policy/v1beta1", "1.20").is_empty());
    assert_eq!(at("policy/v1beta1", "1.25")[0].0, "GN002");
    // The served version is silent; without a target (the newest release) only GN002 speaks.
    assert!(at("policy/v1", "1.24").is_empty());
    let newest = validate(&[pdb("policy/v1beta1")], PROFILE);
    let codes_newest = codes(&newest);
    assert!(
        codes_newest.iter().any(|(c, _)| c == "GN002")
            && !codes_newest.iter().any(|(c, _)| c == "GN006"),
        "{codes_newest:?}"
    );
    // Deprecated before its replacement existed (autoscaling/v2beta1 in 1.22, autoscaling/v2
    // from 1.23): silent until there is something to move to.
    let hpa = |v: &str| {
        let doc = "apiVersion: autoscaling/v2beta1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: agent\n  namespace: apps\nspec:\n  maxReplicas: 3\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: agent}\n".to_string();
        codes(&validate(&[doc], &profile(v)))
    };
    assert!(!hpa("1.22").iter().any(|(c, _)| c == "GN006"));
    assert!(hpa("1.23").iter().any(|(c, _)| c == "GN006"));
}

#[test]
fn gn002_kinds_a_later_release_introduced() {
    let vap = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: host-network-only-in-kube-system\nspec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [apps]\n      apiVersions: [v1]\n      operations: [CREATE, UPDATE]\n      resources: [daemonsets]\n  validations:\n  - expression: \"!has(object.spec.template.spec.hostNetwork)\"\n".to_string();
    let profile = |v: &str| {
        format!(
            "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {{name: p}}\nspec:\n  nodes: 3\n  kubernetesVersion: \"{v}\"\n"
        )
    };
    let messages = |v: &str, docs: &[String]| -> Vec<String> {
        validate(docs, &profile(v)).json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "GN002" || d["code"] == "GN001")
            .map(|d| {
                format!(
                    "{} {}",
                    d["code"].as_str().unwrap(),
                    d["message"].as_str().unwrap()
                )
            })
            .collect()
    };
    let old = messages("1.28", std::slice::from_ref(&vap));
    assert_eq!(
        old.len(),
        1,
        "one finding for the kind, none per field: {old:?}"
    );
    assert!(
        old[0].ends_with("uses admissionregistration.k8s.io/v1, which Kubernetes serves from 1.30 (the target is 1.28)"),
        "{old:?}"
    );
    assert!(messages("1.30", std::slice::from_ref(&vap)).is_empty());
    // The new kinds are read as their types: a misspelt field of a ResourceClaim.
    let claim = "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata:\n  name: gpu\n  namespace: apps\nspec:\n  devices:\n    requets:\n    - name: gpu\n".to_string();
    let m = messages("1.34", &[claim]);
    assert!(
        m.iter()
            .any(|x| x.starts_with("GN001") && x.contains("`requets`")),
        "{m:?}"
    );
}

#[test]
fn im001_finds_the_upstream_dns_template_placeholders() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: node-local-dns\n  namespace: apps\ndata:\n  Corefile: |\n    cluster.local:53 {\n        bind __PILLAR__LOCAL__DNS__\n        forward . __PILLAR__CLUSTER__DNS__\n    }\n".to_string();
    let done = cm
        .replace("__PILLAR__LOCAL__DNS__", "169.254.20.10")
        .replace("__PILLAR__CLUSTER__DNS__", "10.96.0.10");
    fires("IM001", &[cm], &[done], "cluster.local:53 {");
}

#[test]
fn sv001_service_over_host_pods_that_can_share_a_node() {
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  selector: {app: x}\n  ports:\n  - port: 80\n    targetPort: 20040\n".to_string();
    let hn = "      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n";
    // Three replicas, nothing keeping two off one node: the Service's endpoints are node IPs.
    fires(
        "SV001",
        &[svc.clone(), deployment("x", hn, &port(20040), 3)],
        // One pod per node (the test's HN has required anti-affinity on the hostname).
        &[svc.clone(), deployment("x", HN, &port(20040), 3)],
        "selector: {app: x}",
    );
    // A DaemonSet runs one pod per node; a single replica cannot meet another.
    let f = found(&[svc.clone(), daemonset("x", hn, &port(20040), "")]);
    assert!(!f.contains(&"SV001".to_string()), "{f:?}");
    let f = found(&[svc, deployment("x", hn, &port(20040), 1)]);
    assert!(!f.contains(&"SV001".to_string()), "{f:?}");
}

#[test]
fn gn003_what_the_api_server_requires() {
    let good = deployment("x", "", &port(8080), 1);
    // No selector; a selector the template's labels do not meet.
    let no_selector = good.replace("  selector:\n    matchLabels: {app: x}\n", "");
    fires(
        "GN003",
        &[no_selector],
        std::slice::from_ref(&good),
        "  replicas: 1",
    );
    let mismatch = good.replace("    matchLabels: {app: x}\n", "    matchLabels: {app: y}\n");
    fires(
        "GN003",
        &[mismatch],
        std::slice::from_ref(&good),
        "matchLabels: {app: y}",
    );
    // A named port without a number; an unknown dnsPolicy; a container without an image.
    let named = good.replace("        - containerPort: 8080\n", "        - name: http\n");
    fires(
        "GN003",
        &[named],
        std::slice::from_ref(&good),
        "- name: http",
    );
    let policy = deployment(
        "x",
        "      dnsPolicy: ClusterFirstWithHostnet\n",
        &port(8080),
        1,
    );
    fires(
        "GN003",
        &[policy],
        std::slice::from_ref(&good),
        "dnsPolicy: ClusterFirstWithHostnet",
    );
    let no_image = good.replace("        image: registry.example.com/x:1.0\n", "");
    fires(
        "GN003",
        &[no_image],
        std::slice::from_ref(&good),
        "- name: main",
    );

    // Values outside their closed set, and names that are not what the API server accepts:
    // each reported where it is, every one of them (not only the first).
    let messages = |docs: &[String]| -> Vec<String> {
        validate(docs, PROFILE).json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "GN003")
            .map(|d| d["message"].as_str().unwrap().to_string())
            .collect()
    };
    let bad_values = deployment(
        "x",
        "      restartPolicy: Never\n",
        "        imagePullPolicy: always\n        ports:\n        - containerPort: 8080\n          protocol: tcp\n          name: prometheus-metrics\n",
        1,
    );
    fires(
        "GN003",
        std::slice::from_ref(&bad_values),
        std::slice::from_ref(&good),
        "protocol: tcp",
    );
    fires(
        "GN003",
        std::slice::from_ref(&bad_values),
        std::slice::from_ref(&good),
        "restartPolicy: Never",
    );
    let m = messages(std::slice::from_ref(&bad_values));
    for expected in [
        "restartPolicy `Never` is not allowed in a Deployment's pods, only Always",
        "imagePullPolicy `always` is not one of Always, IfNotPresent, Never (did you mean `Always`?)",
        "protocol `tcp` is not one of TCP, UDP, SCTP (did you mean `TCP`?)",
        "port name `prometheus-metrics` is not an IANA service name: 1 to 15 characters",
    ] {
        assert!(m.iter().any(|x| x.ends_with(expected)), "{expected}: {m:?}");
    }
    // A Job's pods may not restart Always; `Never` is theirs.
    let job = |policy: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  namespace: apps\nspec:\n  template:\n    spec:\n      restartPolicy: {policy}\n      containers:\n      - name: main\n        image: registry.example.com/j:1.0\n"
        )
    };
    fires(
        "GN003",
        &[job("Always")],
        &[job("Never")],
        "restartPolicy: Always",
    );
    let upper = good.replace("      - name: main\n", "      - name: Main\n");
    assert!(messages(&[upper]).iter().any(|x| x.ends_with(
        "container name `Main` is not a DNS label: lower-case letters, digits and `-` only"
    )),);
    // Outside pods: a Service's type and traffic policy.
    let svc = |ty: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  namespace: apps\nspec:\n  type: {ty}\n  externalTrafficPolicy: Local\n  selector: {{app: x}}\n  ports:\n  - port: 80\n"
        )
    };
    fires(
        "GN003",
        &[svc("Nodeport")],
        &[svc("NodePort")],
        "type: Nodeport",
    );
    // What the API server defaults or ignores is no finding: an empty policy or protocol
    // (Helm charts write `imagePullPolicy: ""`), an empty port name, and a custom resource
    // whose kind is called Service.
    let empty = deployment(
        "x",
        "      dnsPolicy: \"\"\n",
        "        imagePullPolicy: \"\"\n        ports:\n        - containerPort: 8080\n          protocol: \"\"\n          name: \"\"\n",
        1,
    );
    assert!(messages(&[empty]).is_empty());
    let custom = svc("web").replace("apiVersion: v1", "apiVersion: example.com/v1");
    assert!(messages(&[custom]).is_empty());
    // A Job's unset restartPolicy is defaulted to Always, which a Job refuses.
    let unset = job("Never").replace("      restartPolicy: Never\n", "");
    let m = messages(&[unset]);
    assert!(
        m.iter()
            .any(|x| x.ends_with("restartPolicy unset (so `Always`) is not allowed in a Job's pods, only OnFailure or Never")),
        "{m:?}"
    );
}

/// A field an overlay created (the source has only its parent) is pointed at the overlay
/// entry that added it, with the resource's place in the source as a note; a caret on the
/// source's `ports:` line would show nothing of the value.
#[test]
fn a_field_an_overlay_added_points_at_the_overlay_entry() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    };
    w("base/kustomization.yaml", "resources: [ns.yaml, d.yaml]\n");
    w("base/ns.yaml", NS);
    w("base/d.yaml", &deployment("x", HN, &port(20001), 1));
    w(
        "overlay/kustomization.yaml",
        "resources: [../base]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - {op: add, path: /spec/template/spec/containers/0/ports/-, value: {containerPort: 6443}}\n",
    );
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "overlay", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PT002")
        .unwrap_or_else(|| panic!("PT002: {json:#}"));
    assert_eq!(d["file"], "overlay/kustomization.yaml", "{d}");
    assert_eq!(d["line"], 3, "the patches entry: {d}");
    let related = &d["related"][0];
    assert_eq!(related["file"], "base/d.yaml", "{d}");
    assert!(
        related["message"]
            .as_str()
            .unwrap()
            .contains("patches[0] added this field"),
        "{d}"
    );
    // The human report's caret is on that line of the overlay.
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "overlay"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "--> overlay/kustomization.yaml:3:1\n  |\n3 | - target: {kind: Deployment}\n  | ^"
        ),
        "{text}"
    );
}

/// Validating several overlays of one base: a finding in the base is reported once, naming
/// the overlays it affects (in every format); an overlay's own finding names that overlay.
#[test]
fn a_base_finding_is_reported_once_with_the_overlays_it_affects() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    };
    w("base/kustomization.yaml", "resources: [ns.yaml, d.yaml]\n");
    w("base/ns.yaml", NS);
    // Port 22 is reserved on every node: the base's error.
    w("base/d.yaml", &deployment("x", HN, &port(22), 1));
    for r in ["cn-beijing", "cn-hangzhou", "us-east-1"] {
        w(
            &format!("overlays/{r}/kustomization.yaml"),
            &format!("resources: [../../base]\nlabels:\n- pairs: {{region: {r}}}\n"),
        );
    }
    // One overlay's own finding: a second reserved port that only it adds.
    w(
        "overlays/us-east-1/kustomization.yaml",
        "resources: [../../base]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - {op: add, path: /spec/template/spec/containers/0/ports/-, value: {containerPort: 6443}}\n",
    );
    let run = |format: &str| {
        common::strata()
            .current_dir(dir.path())
            .args([
                "validate",
                "overlays/cn-beijing",
                "./overlays/cn-hangzhou/",
                "overlays/us-east-1",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let out = run("json");
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pt: Vec<&Value> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "PT002")
        .collect();
    assert_eq!(
        pt.len(),
        2,
        "the base's once, the overlay's own once: {json:#}"
    );
    assert_eq!(
        pt[0]["environments"],
        serde_json::json!([
            "overlays/cn-beijing",
            "overlays/cn-hangzhou",
            "overlays/us-east-1"
        ]),
        "{json:#}"
    );
    assert_eq!(
        pt[1]["environments"],
        serde_json::json!(["overlays/us-east-1"])
    );
    assert_eq!(json["summary"]["errors"], 2);

    let human = String::from_utf8_lossy(&run("human").stdout).into_owned();
    assert!(human.contains("  = in: all 3 environments\n"), "{human}");
    assert!(human.contains("  = in: overlays/us-east-1\n"), "{human}");
    let sarif = String::from_utf8_lossy(&run("sarif").stdout).into_owned();
    assert!(sarif.contains("(in all 3 environments)"), "{sarif}");
    let github = String::from_utf8_lossy(&run("github").stdout).into_owned();
    assert_eq!(github.matches("::error").count(), 2, "{github}");

    // One overlay alone: nothing to name.
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "overlays/cn-beijing", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["diagnostics"][0]["environments"],
        serde_json::json!([])
    );
}

/// Every unknown field of an object is reported in one run, each with the caret on its key
/// and the nearest field the type has (or the fields there when none is near).
#[test]
fn every_unknown_field_with_the_nearest_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\n  namespace: apps\nspec:\n  selector:\n    matchLabels: {app: agent}\n  template:\n    metadata:\n      labels: {app: agent}\n    spec:\n      hostNetwork: true\n      hostPid: true\n      dnsPolicy: ClusterFirstWithHostNet\n      containers:\n      - name: main\n        image: agent:1.0\n        imagePullPolicie: Always\n        ports:\n        - containerPort: 9100\n          hostport: 9100\n        frobnicate: 1\n";
    std::fs::write(dir.path().join("ds.yaml"), format!("{NS}---\n{ds}")).unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "ds.yaml", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let gn: Vec<(String, u64, u64, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "GN001")
        .map(|d| {
            (
                d["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["fix"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let at = |field: &str| {
        gn.iter()
            .find(|g| g.0 == field)
            .unwrap_or_else(|| panic!("{field}: {gn:?}"))
    };
    assert_eq!(gn.len(), 4, "{gn:?}");
    // Lines count the Namespace document (7 lines) before the DaemonSet.
    assert_eq!((at("hostPid").1, at("hostPid").2), (21, 7));
    assert_eq!(at("hostPid").3, "did you mean `hostPID`?");
    assert_eq!(
        (at("imagePullPolicie").1, at("imagePullPolicie").2),
        (26, 9)
    );
    assert_eq!(at("imagePullPolicie").3, "did you mean `imagePullPolicy`?");
    assert_eq!(at("hostport").3, "did you mean `hostPort`?");
    assert_eq!(at("hostport").2, 11);
    let f = &at("frobnicate").3;
    assert!(
        f.starts_with("the fields here are `args`, `command`") && f.contains("`volumeMounts`"),
        "{f}"
    );
}

/// An object defined twice among plain manifests: validated as kubectl apply leaves it (the
/// last definition), and each earlier definition is a GN004 warning in every format.
#[test]
fn an_object_defined_twice_is_validated_as_applied_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // The first definition has a reserved port (PT002) that the applied one does not.
    let first = deployment("x", HN, &port(22), 1);
    let last = deployment("x", HN, &port(20001), 1);
    std::fs::create_dir_all(dir.path().join("m")).unwrap();
    std::fs::write(dir.path().join("m/a.yaml"), format!("{NS}---\n{first}")).unwrap();
    std::fs::write(dir.path().join("m/b.yaml"), &last).unwrap();
    let run = |format: &str| {
        common::strata()
            .current_dir(dir.path())
            .args(["validate", "m", "--format", format])
            .output()
            .unwrap()
    };
    let out = run("json");
    assert_eq!(out.status.code(), Some(0), "a warning only");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["GN004"],
        "the applied definition is clean: {json:#}"
    );
    let d = &json["diagnostics"][0];
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["file"], "m/a.yaml");
    assert_eq!(d["line"], 8, "the first definition's document");
    assert_eq!(d["related"][0]["file"], "m/b.yaml", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("defined again at m/b.yaml:1"),
        "{d}"
    );
    assert!(String::from_utf8_lossy(&run("sarif").stdout).contains("\"ruleId\": \"GN004\""));
    assert!(String::from_utf8_lossy(&run("github").stdout).contains("title=GN004"));

    // The other way round, the reserved port is what applies: PT002 on b.yaml's copy.
    std::fs::write(dir.path().join("m/a.yaml"), format!("{NS}---\n{last}")).unwrap();
    std::fs::write(dir.path().join("m/b.yaml"), &first).unwrap();
    let json: Value = serde_json::from_slice(&run("json").stdout).unwrap();
    let pt = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PT002")
        .expect("PT002 on the applied copy");
    assert_eq!(pt["file"], "m/b.yaml");
}

/// A finding inside a `kind: List` points at the item's field, not at the List's first line;
/// an unreadable file among explicit arguments is reported while the others are validated.
#[test]
fn list_items_are_located_and_a_bad_file_does_not_empty_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let item = deployment("x", HN, &port(22), 1)
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{}{l}\n", if i == 0 { "- " } else { "  " }))
        .collect::<String>();
    let list = format!("apiVersion: v1\nkind: List\nitems:\n{item}");
    std::fs::write(dir.path().join("list.yaml"), &list).unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "a: [\n").unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "bad.yaml", "list.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "the input was incomplete");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:1") && err.contains("1 file(s) could not be read"),
        "{err}"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pt = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "PT002")
        .unwrap_or_else(|| panic!("list.yaml is still validated: {json:#}"));
    let line = list
        .lines()
        .position(|l| l.contains("containerPort: 22"))
        .unwrap()
        + 1;
    assert_eq!(pt["file"], "list.yaml");
    assert_eq!(pt["line"], line, "{pt}");
}

/// RO001 names hostPort-only pods as such (not "host-network"); PT001 between two containers
/// of one pod suggests another port, not node placement.
#[test]
fn messages_fit_host_port_only_pods_and_one_pod() {
    let dir = tempfile::tempdir().unwrap();
    let ports = "        ports:\n        - containerPort: 8080\n          hostPort: 20080\n";
    let two = "        ports:\n        - containerPort: 20001\n      - name: side\n        image: registry.example.com/side:1.0\n        ports:\n        - containerPort: 20001\n";
    std::fs::write(
        dir.path().join("m.yaml"),
        format!(
            "{NS}---\n{}---\n{}",
            deployment("web", "", ports, 3),
            deployment("x", HN, two, 1)
        ),
    )
    .unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args([
            "validate",
            "m.yaml",
            "--cluster",
            &format!(
                "{}/tests/fixtures/profiles/one-node.yaml",
                env!("CARGO_MANIFEST_DIR")
            ),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |code: &str| {
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("{code}: {json:#}"))
    };
    let ro = find("RO001");
    assert!(
        ro["message"]
            .as_str()
            .unwrap()
            .contains("asks for 3 replicas with host ports but only 1 node"),
        "{ro}"
    );
    let pt = find("PT001");
    let fix = pt["fix"].as_str().unwrap();
    assert!(
        fix.contains("another port") && !fix.contains("affinity"),
        "{pt}"
    );
}

/// A Namespace of the render without an enforce label gets the cluster's default level:
/// assumed privileged (Kubernetes' default) and said so, not silently.
#[test]
fn an_unlabelled_namespace_is_assumed_privileged_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n";
    std::fs::write(
        dir.path().join("m.yaml"),
        format!("{ns}---\n{}", deployment("x", HN, &port(20001), 1)),
    )
    .unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "m.yaml", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let assumptions = json["summary"]["assumptions"].to_string();
    assert!(
        assumptions.contains(
            "the Namespace apps in the render has no pod-security.kubernetes.io/enforce label"
        ) && assumptions.contains("assumed privileged"),
        "{assumptions}"
    );
    assert!(
        !json["diagnostics"].to_string().contains("PS001"),
        "{json:#}"
    );
}

/// HN002: a host-network container probed on a port it does not declare listens there
/// undeclared; a probe on a declared port (by number or name), or of another host, is fine.
#[test]
fn hn002_probe_on_an_undeclared_port() {
    let dir = tempfile::tempdir().unwrap();
    let probe = |port: &str, extra: &str| {
        format!(
            "        ports:\n        - name: metrics\n          containerPort: 20001\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: {port}\n{extra}"
        )
    };
    let run = |ports: &str| {
        std::fs::write(
            dir.path().join("m.yaml"),
            format!("{NS}---\n{}", deployment("x", HN, ports, 1)),
        )
        .unwrap();
        let out = common::strata()
            .current_dir(dir.path())
            .args(["validate", "m.yaml", "--format", "json"])
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "HN002")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let found = run(&probe("20002", ""));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("probed on port 20002")
    );
    assert_eq!(
        found[0]["path"],
        "/spec/template/spec/containers/0/readinessProbe/httpGet/port"
    );
    assert!(run(&probe("20001", "")).is_empty(), "declared by number");
    assert!(run(&probe("metrics", "")).is_empty(), "declared by name");
    assert!(
        run(&probe("20002", "            host: 10.0.0.1\n")).is_empty(),
        "another host"
    );
}

/// PT001 sees the port a host-network container that declares none listens on, `$(VAR)`
/// expanded from its env as the kubelet does: two such agents on every node collide.
#[test]
fn pt001_sees_a_port_given_through_an_env_var() {
    let dir = tempfile::tempdir().unwrap();
    let ds = |name: &str, container: &str| {
        format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n      containers:\n      - name: main\n        image: registry.example.com/{name}:1.0\n{container}"
        )
    };
    let by_env = "        env:\n        - name: PORT\n          value: \"20100\"\n        args: [\"--web.listen-address=:$(PORT)\"]\n";
    let declared = "        ports:\n        - containerPort: 20100\n";
    let run = |second: &str| {
        std::fs::write(
            dir.path().join("m.yaml"),
            format!("{NS}---\n{}---\n{}", ds("a", by_env), ds("b", second)),
        )
        .unwrap();
        let out = common::strata()
            .current_dir(dir.path())
            .args(["validate", "m.yaml", "--format", "json"])
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "PT001")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let found = run(declared);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("host port 20100/TCP")
    );
    assert_eq!(
        found[0]["path"], "/spec/template/spec/containers/0/args/0",
        "{}",
        found[0]
    );
    assert_eq!(run(by_env).len(), 1, "two undeclared agents on one port");
    let other = "        ports:\n        - containerPort: 20101\n";
    assert!(run(other).is_empty());
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: agents.example.com
spec:
  group: example.com
  names: {kind: Agent, plural: agents}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [port]
            properties:
              port: {type: integer, minimum: 1, maximum: 65535}
              mode: {type: string, enum: [host, pod]}
              surge: {x-kubernetes-int-or-string: true}
              note: {type: string, nullable: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1alpha1
    served: false
    storage: false
"#;

/// GN005: a custom resource against its CRD's schema, every error of it, at the field; a
/// version the CRD does not serve; the CRDs of the render or of the profile's `crds:`.
#[test]
fn gn005_custom_resources_against_their_crds() {
    let dir = tempfile::tempdir().unwrap();
    let cr = |version: &str, spec: &str| {
        format!(
            "apiVersion: example.com/{version}\nkind: Agent\nmetadata:\n  name: a\n  namespace: apps\nspec:\n{spec}"
        )
    };
    let run = |files: &[(&str, String)], args: &[&str]| {
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let out = common::strata()
            .current_dir(dir.path())
            .args(["validate"])
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "GN005")
            .map(|d| {
                (
                    d["path"].as_str().unwrap().to_string(),
                    d["message"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let good = cr(
        "v1",
        "  port: 9100\n  mode: host\n  surge: 25%\n  note: null\n  extra: {anything: [1, 2]}\n",
    );
    assert!(
        run(
            &[("crd.yaml", CRD.into()), ("cr.yaml", good.clone())],
            &["crd.yaml", "cr.yaml"]
        )
        .is_empty()
    );
    let bad = cr(
        "v1",
        "  port: 70000\n  mode: Host\n  surge: 1.5\n  colour: red\n",
    );
    let found = run(&[("cr.yaml", bad)], &["crd.yaml", "cr.yaml"]);
    let paths: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    for p in ["/spec/port", "/spec/mode", "/spec/surge", "/spec/colour"] {
        assert!(paths.contains(&p), "{p} in {found:#?}");
    }
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|f| f.1.contains("`colour` is not a field of Agent"))
    );
    // A required field left empty, and a version not served.
    let empty = cr("v1", "  # nothing yet\n");
    let found = run(&[("cr.yaml", empty)], &["crd.yaml", "cr.yaml"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].1.contains("`spec` is empty"), "{found:#?}");
    let old = cr("v1alpha1", "  port: 9100\n");
    let found = run(&[("cr.yaml", old)], &["crd.yaml", "cr.yaml"]);
    assert_eq!(found, [("/apiVersion".to_string(), "Agent example.com/v1alpha1 apps/a: the CRD agents.example.com does not serve version v1alpha1 (it serves v1)".to_string())]);
    // Without the CRD, nothing to check; with it in the profile's crds:, checked.
    let bad = cr("v1", "  port: 0\n");
    assert!(run(&[("cr.yaml", bad)], &["cr.yaml"]).is_empty());
    std::fs::create_dir_all(dir.path().join("cluster/crds")).unwrap();
    std::fs::write(dir.path().join("cluster/crds/agents.yaml"), CRD).unwrap();
    let profile = "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: p}\nspec:\n  crds: [crds]\n";
    let found = run(
        &[("cluster/p.yaml", profile.into())],
        &["cr.yaml", "--cluster", "cluster/p.yaml"],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "/spec/port");
}

/// GN001 against the ClusterProfile's kubernetesVersion: a field a later release added is
/// unknown to the target's API server (the newest such field only, at its key); the same
/// object is clean for a recent enough target.
#[test]
fn gn001_fields_newer_than_the_target_version() {
    let dir = tempfile::tempdir().unwrap();
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: apps}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      initContainers:\n      - name: proxy\n        image: registry.example.com/proxy:1.0\n        restartPolicy: Always\n      containers:\n      - name: main\n        image: registry.example.com/agent:1.0\n        resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]\n        lifecycle:\n          stopSignal: SIGTERM\n";
    std::fs::write(dir.path().join("ds.yaml"), ds).unwrap();
    let run = |version: &str| {
        let profile = format!(
            "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {{name: p}}\nspec:\n  kubernetesVersion: \"{version}\"\n"
        );
        std::fs::write(dir.path().join("p.yaml"), profile).unwrap();
        let out = common::strata()
            .current_dir(dir.path())
            .args([
                "validate",
                "ds.yaml",
                "--cluster",
                "p.yaml",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "GN001")
            .map(|d| {
                (
                    d["path"].as_str().unwrap().to_string(),
                    d["message"].as_str().unwrap().to_string(),
                    d["line"].as_u64().unwrap(),
                    d["column"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let old = run("1.27");
    let paths: Vec<&str> = old.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/spec/template/spec/initContainers/0/restartPolicy",
            "/spec/template/spec/containers/0/lifecycle/stopSignal"
        ],
        "resizePolicy came in 1.27: {old:#?}"
    );
    assert!(
        old[1].1.contains("in Kubernetes 1.27 (added in 1.33)"),
        "{old:#?}"
    );
    assert_eq!((old[0].2, old[0].3), (12, 9), "the caret on the key");
    assert_eq!(run("1.33").len(), 0);
    assert_eq!(run("1.26").len(), 3, "resizePolicy too");
}

/// GN003: an apps workload without a pod template (a patch file given as a manifest) still
/// needs its selector and template, as the API server says.
#[test]
fn gn003_a_workload_without_a_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ldap\nspec:\n  replicas: 2\n",
    )
    .unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "d.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "GN003", "{json:#}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .ends_with("`spec.selector` and `spec.template` with its containers are required"),
        "{d}"
    );
}

/// GN001 reports every wrong value of an object, not only the first, and its unknown
/// fields as well.
#[test]
fn gn001_every_wrong_type_of_an_object() {
    let dir = tempfile::tempdir().unwrap();
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: apps}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      hostNetwork: \"yes\"\n      hostPid: true\n      containers:\n      - name: main\n        image: registry.example.com/agent:1.0\n        ports:\n        - containerPort: \"9100\"\n        - containerPort: 9101\n          protocol: 7\n      terminationGracePeriodSeconds: soon\n";
    std::fs::write(dir.path().join("ds.yaml"), ds).unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "ds.yaml", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut paths: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "GN001")
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/spec/template/spec/containers/0/ports/0/containerPort",
            "/spec/template/spec/containers/0/ports/1/protocol",
            "/spec/template/spec/hostNetwork",
            "/spec/template/spec/hostPid",
            "/spec/template/spec/terminationGracePeriodSeconds",
        ],
        "{json:#}"
    );
}

/// The schema rules reach the cluster-level kinds too: an unknown field of a StorageClass,
/// a CRD without the fields the API server requires.
#[test]
fn schema_rules_reach_cluster_kinds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisoner: ebs.csi.aws.com\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: agents.example.com\nspec:\n  conversion:\n    strategy: None\n",
    )
    .unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "m.yaml", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        found.iter().any(|(c, m)| c == "GN001" && m.contains("`provisoner` is not a field of StorageClass")),
        "{found:#?}"
    );
    let sc = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "GN001")
        .unwrap();
    assert_eq!(sc["fix"], "did you mean `provisioner`?");
    assert!(
        found.iter().any(|(c, m)| c == "GN003"
            && m.contains("`spec.group`, `spec.names.kind`, `spec.names.plural`, `spec.scope`, `spec.versions` are required")),
        "{found:#?}"
    );
}
