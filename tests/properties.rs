//! Properties over generated inputs (proptest): a render is the same bytes whatever the
//! thread count and however often it runs; strata's kinds applied twice change nothing more
//! than applied once; a Secret's values never appear in a diff, a finding, a log line or an
//! error, whichever way the value came in.

mod common;

use common::write;

use std::path::Path;

use proptest::prelude::*;

/// A generated workload: name, replicas, ports, whether it already is host-network, its
/// dnsPolicy.
#[derive(Debug, Clone)]
struct Workload {
    kind: &'static str,
    name: String,
    ports: Vec<u16>,
    host_network: bool,
    dns: Option<&'static str>,
    labels: Vec<(String, String)>,
}

fn workload() -> impl Strategy<Value = Workload> {
    (
        prop_oneof![Just("Deployment"), Just("DaemonSet"), Just("StatefulSet")],
        "[a-z][a-z0-9]{0,8}",
        proptest::collection::btree_set(1024u16..60000, 0..4),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some("ClusterFirst")),
            Just(Some("Default")),
            Just(Some("ClusterFirstWithHostNet"))
        ],
        proptest::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{1,6}", 0..3),
    )
        .prop_map(|(kind, name, ports, host_network, dns, labels)| Workload {
            kind,
            name,
            ports: ports.into_iter().collect(),
            host_network,
            dns,
            labels: labels.into_iter().collect(),
        })
}

impl Workload {
    fn yaml(&self, i: usize) -> String {
        let name = format!("{}-{i}", self.name);
        let mut labels = format!("        app: {name}\n");
        for (k, v) in &self.labels {
            labels.push_str(&format!("        x{k}: {v}\n"));
        }
        let mut pod = String::new();
        if self.host_network {
            pod.push_str("      hostNetwork: true\n");
        }
        if let Some(d) = self.dns {
            pod.push_str(&format!("      dnsPolicy: {d}\n"));
        }
        let mut ports = String::new();
        if !self.ports.is_empty() {
            ports.push_str("        ports:\n");
            for p in &self.ports {
                ports.push_str(&format!("        - containerPort: {p}\n"));
            }
        }
        let service = if self.kind == "StatefulSet" {
            format!("  serviceName: {name}\n")
        } else {
            String::new()
        };
        format!(
            "apiVersion: apps/v1\nkind: {}\nmetadata:\n  name: {name}\nspec:\n{service}  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n{labels}    spec:\n{pod}      containers:\n      - name: main\n        image: registry-<REGION_ID>-vpc.example.com/acs/{name}:1.0\n{ports}",
            self.kind
        )
    }
}

const KINDS: &str = "apiVersion: strata.dev/v1alpha1\nkind: HostNetwork\nmetadata:\n  name: hn\nspec:\n  targets:\n  - {kind: Deployment, allowNoMatch: true}\n  - {kind: DaemonSet, allowNoMatch: true}\n  - {kind: StatefulSet, allowNoMatch: true}\n---\napiVersion: strata.dev/v1alpha1\nkind: SecurityContext\nmetadata:\n  name: sc\nspec:\n  targets:\n  - {kind: Deployment, allowNoMatch: true}\n  - {kind: DaemonSet, allowNoMatch: true}\n  - {kind: StatefulSet, allowNoMatch: true}\n  containers:\n    allowPrivilegeEscalation: false\n    capabilities:\n      drop: [ALL]\n---\napiVersion: strata.dev/v1alpha1\nkind: Substitution\nmetadata:\n  name: region\nspec:\n  vars:\n    REGION_ID: cn-hangzhou\n";

/// A base of `ws` and an overlay using strata's kinds `times` times over.
fn tree(root: &Path, ws: &[Workload], times: usize) {
    let mut resources = String::from("resources:\n");
    for (i, w) in ws.iter().enumerate() {
        write(root, &format!("base/w{i}.yaml"), &w.yaml(i));
        resources.push_str(&format!("- w{i}.yaml\n"));
    }
    write(root, "base/kustomization.yaml", &resources);
    write(root, "overlay/kinds.yaml", KINDS);
    let transformers = "- kinds.yaml\n".repeat(times);
    write(
        root,
        "overlay/kustomization.yaml",
        &format!("resources: [../base]\nnamespace: agents\ntransformers:\n{transformers}"),
    );
}

fn render_with_threads(dir: &Path, threads: usize) -> Result<String, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        strata::hostnet::builder()
            .render(dir)
            .map(|set| strata::render::to_string(&set, strata::render::Format::Yaml))
            .map_err(|e| e.to_string())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The same tree gives the same bytes on 1, 2 and 8 threads, and again.
    #[test]
    fn render_is_deterministic_whatever_the_thread_count(ws in proptest::collection::vec(workload(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        tree(dir.path(), &ws, 1);
        let overlay = dir.path().join("overlay");
        let one = render_with_threads(&overlay, 1);
        prop_assert!(one.is_ok(), "{:?}", one);
        for threads in [2, 8, 1] {
            prop_assert_eq!(&one, &render_with_threads(&overlay, threads));
        }
    }

    /// HostNetwork, SecurityContext and Substitution applied twice give what once gives.
    #[test]
    fn strata_kinds_are_idempotent(ws in proptest::collection::vec(workload(), 1..12)) {
        let once = tempfile::tempdir().unwrap();
        let twice = tempfile::tempdir().unwrap();
        tree(once.path(), &ws, 1);
        tree(twice.path(), &ws, 2);
        let a = render_with_threads(&once.path().join("overlay"), 2);
        let b = render_with_threads(&twice.path().join("overlay"), 2);
        prop_assert!(a.is_ok(), "{:?}", a);
        prop_assert!(a.as_ref().unwrap().contains("hostNetwork: true"));
        prop_assert_eq!(a, b);
    }
}

/// A value that cannot appear by chance: letters and digits, 12 to 24 of them.
fn secret_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{12,24}".prop_map(|s| format!("S3cr{s}"))
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Generated and written Secrets (`data`, `stringData`, generator literals and files, a
    /// value that also sits in a pod's env): their values, plain or base64, appear in no
    /// diff format, no finding of any format, and nothing strata prints on stderr, while
    /// they change between the two sides.
    #[test]
    fn secret_values_never_leak(old in secret_value(), new in secret_value(), file in secret_value()) {
        prop_assume!(old != new);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (side, value) in [("base", &old), ("head", &new)] {
            write(root, &format!("{side}/app/cred.txt"), &file);
            write(
                root,
                &format!("{side}/app/secret.yaml"),
                &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: written\ntype: Opaque\ndata:\n  token: {}\nstringData:\n  password: {value}\n", b64(value)),
            );
            write(
                root,
                &format!("{side}/app/pod.yaml"),
                // A host-network pod with findings, whose env refers to the Secret.
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: busybox:latest\n    env:\n    - name: TOKEN\n      valueFrom:\n        secretKeyRef: {name: written, key: token}\n    ports:\n    - containerPort: 22\n",
            );
            write(
                root,
                &format!("{side}/app/kustomization.yaml"),
                &format!("resources: [secret.yaml, pod.yaml]\nsecretGenerator:\n- name: generated\n  literals:\n  - api-key={value}\n  files:\n  - cred.txt\n"),
            );
        }
        let secrets = [old.clone(), new.clone(), file.clone(), b64(&old), b64(&new), b64(&file)];
        let leaks = |what: &str, text: &str| -> Option<String> {
            secrets.iter().find(|s| text.contains(s.as_str())).map(|s| format!("{what} shows {s}"))
        };
        for format in ["markdown", "json", "html", "terminal"] {
            let out = common::strata()
                .current_dir(root)
                .args(["diff", "--base-dir", "base", "--head-dir", "head", "app", "--format", format])
                .output()
                .unwrap();
            prop_assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            prop_assert!(text.contains("sha256:"), "the change shows as hashes");
            for (what, t) in [("diff stdout", text.as_ref()), ("diff stderr", &String::from_utf8_lossy(&out.stderr))] {
                if let Some(l) = leaks(&format!("{what} ({format})"), t) {
                    prop_assert!(false, "{}", l);
                }
            }
        }
        for format in ["human", "json", "sarif", "github"] {
            let out = common::strata()
                .current_dir(root.join("head"))
                .args(["validate", "app", "--format", format])
                .output()
                .unwrap();
            prop_assert_eq!(out.status.code(), Some(1), "findings exist");
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            if let Some(l) = leaks(&format!("validate ({format})"), &all) {
                prop_assert!(false, "{}", l);
            }
        }
        // The render's own output carries the values; its log (stderr, with --explain) not.
        let out = common::strata()
            .current_dir(root.join("head"))
            .args(["render", "app", "--explain", "--no-validate"])
            .output()
            .unwrap();
        prop_assert!(out.status.success());
        if let Some(l) = leaks("render --explain stderr", &String::from_utf8_lossy(&out.stderr)) {
            prop_assert!(false, "{}", l);
        }
        // An error about the Secret (its data not base64) names the field, not the value.
        write(
            root,
            "head/app/secret.yaml",
            &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: written\ndata:\n  token: \"{new}!\"\n"),
        );
        let out = common::strata()
            .current_dir(root.join("head"))
            .args(["validate", "app"])
            .output()
            .unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if let Some(l) = leaks("validate of a malformed Secret", &all) {
            prop_assert!(false, "{}", l);
        }
    }
}
