//! Host-risk rules end to end: SC002 (capabilities and hostPaths that turn a compromised
//! host-network pod into a compromised node, silenced by `strata.dev/host-access-reason`),
//! its split with SC001 (privileged, hostPID, hostIPC: each field reported once), and NP001
//! (a NetworkPolicy whose podSelector selects host-network pods, which it does not restrict).
//! Each asserts on `strata validate --format json`: code, severity, path and message.

mod common;

use serde_json::Value;

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n";

/// A DaemonSet in `ns` with pod `labels`, `extra_pod` lines under the pod spec (6 spaces),
/// `container` lines under its one container (8 spaces) and `annotations` lines (4 spaces).
fn daemonset(
    name: &str,
    ns: &str,
    labels: &str,
    annotations: &str,
    extra_pod: &str,
    container: &str,
) -> String {
    let annotations = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{annotations}")
    };
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: {name}\n  namespace: {ns}\n{annotations}spec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {labels}\n    spec:\n{extra_pod}      containers:\n      - name: main\n        image: registry.example.com/{name}:1.0\n        ports:\n        - containerPort: 20001\n{container}"
    )
}

const HOST: &str = "      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n";
const REASON: &str = "    strata.dev/host-access-reason: programs the node's routes\n";

fn caps(add: &str) -> String {
    format!(
        "        securityContext:\n          capabilities:\n            add: {add}\n            drop: [ALL]\n"
    )
}

/// The diagnostics of `strata validate` on `docs` (after a privileged `apps` Namespace).
fn diagnostics(docs: &[String]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut text = docs.join("---\n");
    text.insert_str(0, &format!("{NS}---\n"));
    std::fs::write(dir.path().join("m.yaml"), &text).unwrap();
    let out = common::strata()
        .current_dir(dir.path())
        .args(["validate", "m.yaml", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json["diagnostics"].as_array().unwrap().clone()
}

/// The findings of `code`, as (path, severity, message).
fn of(code: &str, docs: &[String]) -> Vec<(String, String, String)> {
    diagnostics(docs)
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn sc002_capabilities_one_finding_per_container_at_the_first() {
    let ds = daemonset(
        "agent",
        "apps",
        "{app: agent}",
        "",
        HOST,
        &caps("[CHOWN, NET_ADMIN, NET_RAW, CAP_SYS_ADMIN]"),
    );
    let found = of("SC002", std::slice::from_ref(&ds));
    assert_eq!(found.len(), 1, "{found:?}");
    let (path, severity, message) = &found[0];
    assert_eq!(
        path,
        "/spec/template/spec/containers/0/securityContext/capabilities/add/1"
    );
    assert_eq!(severity, "warning");
    for needle in [
        "container main of DaemonSet apps/v1 apps/agent",
        "NET_ADMIN",
        "NET_RAW",
        "SYS_ADMIN",
        "without a recorded reason",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    assert!(!message.contains("CHOWN"), "{message}");
    // `drop: [ALL]` is no risk; `add: [ALL]` is.
    let all = daemonset("agent", "apps", "{app: agent}", "", HOST, &caps("[ALL]"));
    let found = of("SC002", &[all]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].2.contains("ALL (every capability)"), "{found:?}");
    let harmless = daemonset(
        "agent",
        "apps",
        "{app: agent}",
        "",
        HOST,
        &caps("[SYS_TIME]"),
    );
    assert_eq!(of("SC002", &[harmless]), vec![]);
}

#[test]
fn sc002_silent_with_a_reason_or_off_the_host_network() {
    let risky = format!(
        "{}        volumeMounts:\n        - {{name: sock, mountPath: /run/containerd/containerd.sock}}\n",
        caps("[NET_ADMIN]")
    );
    let volumes = "      volumes:\n      - name: sock\n        hostPath: {path: /run/containerd/containerd.sock}\n";
    let host = format!("{HOST}{volumes}");
    let bad = daemonset("agent", "apps", "{app: agent}", "", &host, &risky);
    assert_eq!(of("SC002", std::slice::from_ref(&bad)).len(), 2);
    let reasoned = daemonset("agent", "apps", "{app: agent}", REASON, &host, &risky);
    assert_eq!(of("SC002", &[reasoned]), vec![]);
    // An empty reason is no reason.
    let empty = daemonset(
        "agent",
        "apps",
        "{app: agent}",
        "    strata.dev/host-access-reason: \"  \"\n",
        &host,
        &risky,
    );
    assert_eq!(of("SC002", &[empty]).len(), 2);
    let pod_network = daemonset("agent", "apps", "{app: agent}", "", volumes, &risky);
    assert_eq!(of("SC002", &[pod_network]), vec![]);
}

#[test]
fn sc002_runtime_sockets_and_the_root() {
    let volumes = [
        ("docker", "/var/run/docker.sock", true),
        ("containerd", "/run/containerd/containerd.sock", true),
        ("crio", "/var/run/crio/crio.sock", true),
        ("run", "/var/run/", true),
        ("root", "/", true),
        ("proc", "/proc", false),
        ("calico", "/var/run/calico", false),
        ("xtables", "/run/xtables.lock", false),
    ];
    let mut pod = format!("{HOST}      volumes:\n");
    let mut mounts = String::from("        volumeMounts:\n");
    for (name, path, _) in volumes {
        pod.push_str(&format!(
            "      - name: {name}\n        hostPath: {{path: {path}}}\n"
        ));
        mounts.push_str(&format!(
            "        - {{name: {name}, mountPath: /host/{name}}}\n"
        ));
    }
    // Defined, never mounted: gives the pod nothing.
    pod.push_str("      - name: unused\n        hostPath: {path: /}\n");
    let ds = daemonset("agent", "apps", "{app: agent}", "", &pod, &mounts);
    let found = of("SC002", &[ds]);
    let expected: Vec<String> = volumes
        .iter()
        .enumerate()
        .filter(|(_, v)| v.2)
        .map(|(i, _)| format!("/spec/template/spec/volumes/{i}/hostPath/path"))
        .collect();
    let paths: Vec<String> = found.iter().map(|f| f.0.clone()).collect();
    assert_eq!(paths, expected, "{found:?}");
    assert!(found.iter().all(|f| f.1 == "warning"));
    let message = |i: usize| found[i].2.as_str();
    assert!(
        message(0).contains("mounts the host's /var/run/docker.sock, Docker's socket")
            && message(0).contains("volume docker, in main at /host/docker"),
        "{}",
        message(0)
    );
    assert!(message(1).contains("containerd's socket"), "{}", message(1));
    assert!(message(2).contains("CRI-O's socket"), "{}", message(2));
    assert!(
        message(3).contains("/var/run/, which holds the container runtime's socket"),
        "{}",
        message(3)
    );
    assert!(
        message(4).contains("mounts the host's /, the node's root filesystem"),
        "{}",
        message(4)
    );
}

#[test]
fn sc001_and_sc002_report_each_field_once() {
    // A privileged container has every capability: SC001 reports it, SC002 not again.
    let privileged = "        securityContext:\n          privileged: true\n          capabilities: {add: [NET_ADMIN]}\n";
    let pod = format!("{HOST}      hostIPC: true\n      hostPID: true\n");
    let ds = daemonset("agent", "apps", "{app: agent}", "", &pod, privileged);
    let sc001 = of("SC001", std::slice::from_ref(&ds));
    let paths: Vec<&str> = sc001.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/spec/template/spec/hostIPC",
            "/spec/template/spec/hostPID",
            "/spec/template/spec/containers/0/securityContext/privileged",
        ],
        "{sc001:?}"
    );
    assert!(
        sc001[0].2.contains("network and IPC namespaces"),
        "{sc001:?}"
    );
    assert_eq!(of("SC002", std::slice::from_ref(&ds)), vec![]);
    let reasoned = daemonset("agent", "apps", "{app: agent}", REASON, &pod, privileged);
    assert_eq!(of("SC001", &[reasoned]), vec![]);
}

#[test]
fn sc002_every_pod_bearing_kind() {
    let cronjob = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: prune\n  namespace: apps\nspec:\n  schedule: \"0 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          hostNetwork: true\n          dnsPolicy: ClusterFirstWithHostNet\n          restartPolicy: OnFailure\n          volumes:\n          - name: sock\n            hostPath: {path: /var/run/docker.sock}\n          containers:\n          - name: prune\n            image: registry.example.com/prune:1.0\n            volumeMounts:\n            - {name: sock, mountPath: /var/run/docker.sock}\n".to_string();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\n  namespace: apps\nspec:\n  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet\n  containers:\n  - name: debug\n    image: registry.example.com/debug:1.0\n    securityContext:\n      capabilities: {add: [NET_RAW]}\n".to_string();
    let found = of("SC002", &[cronjob, pod]);
    let paths: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/spec/jobTemplate/spec/template/spec/volumes/0/hostPath/path",
            "/spec/containers/0/securityContext/capabilities/add/0",
        ],
        "{found:?}"
    );
    assert!(found[0].2.starts_with("CronJob batch/v1 apps/prune mounts"));
    assert!(
        found[1]
            .2
            .starts_with("container debug of Pod v1 apps/debug adds capability NET_RAW")
    );
}

fn policy(name: &str, ns: &str, selector: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector:\n{selector}  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {{app: prometheus}}\n"
    )
}

/// A host-network DaemonSet `agent` and a pod-network one `web` in `apps`.
fn workloads() -> Vec<String> {
    vec![
        daemonset("agent", "apps", "{app: agent, tier: node}", "", HOST, ""),
        daemonset("web", "apps", "{app: web, tier: node}", "", "", ""),
    ]
}

fn np001(extra: &[String]) -> Vec<(String, String, String)> {
    let mut docs = workloads();
    docs.extend(extra.iter().cloned());
    of("NP001", &docs)
}

#[test]
fn np001_policy_over_host_network_pods() {
    let found = np001(&[policy("agent", "apps", "    matchLabels: {app: agent}\n")]);
    assert_eq!(found.len(), 1, "{found:?}");
    let (path, severity, message) = &found[0];
    assert_eq!(path, "/spec/podSelector");
    assert_eq!(severity, "warning");
    assert!(
        message.starts_with(
            "NetworkPolicy networking.k8s.io/v1 apps/agent selects the pods of DaemonSet apps/v1 apps/agent, which run on the host network: it does not restrict them"
        ),
        "{message}"
    );
    assert!(!message.contains("apps/web"), "{message}");
    // The finding is on the policy's line, with the workload's hostNetwork as the other party.
    let mut docs = workloads();
    docs.push(policy("agent", "apps", "    matchLabels: {app: agent}\n"));
    let d = diagnostics(&docs)
        .into_iter()
        .find(|d| d["code"] == "NP001")
        .unwrap();
    assert_eq!(d["resource"]["kind"], "NetworkPolicy");
    assert!(
        d["related"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DaemonSet apps/v1 apps/agent runs on the host network"),
        "{d}"
    );
    assert!(d["fix"].as_str().unwrap().contains("at the node"), "{d}");
}

#[test]
fn np001_silent_where_the_policy_governs_pod_network_pods_only() {
    // Selects only the pod-network workload.
    assert_eq!(
        np001(&[policy("web", "apps", "    matchLabels: {app: web}\n")]),
        vec![]
    );
    // The same labels, in another namespace.
    assert_eq!(
        np001(&[policy("agent", "other", "    matchLabels: {app: agent}\n")]),
        vec![]
    );
    // Namespace-wide (`podSelector: {}`): written for the namespace, not for these pods.
    let all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: apps\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n".to_string();
    assert_eq!(np001(&[all]), vec![]);
    // No host-network workload in the render at all.
    let only_web = vec![
        daemonset("web", "apps", "{app: web}", "", "", ""),
        policy("web", "apps", "    matchLabels: {app: web}\n"),
    ];
    assert_eq!(of("NP001", &only_web), vec![]);
}

#[test]
fn np001_match_expressions() {
    let selects_agent =
        "    matchExpressions:\n    - {key: app, operator: In, values: [agent, other]}\n";
    let found = np001(&[policy("by-expression", "apps", selects_agent)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].2.contains("DaemonSet apps/v1 apps/agent"));
    let excludes_agent =
        "    matchExpressions:\n    - {key: app, operator: NotIn, values: [agent]}\n";
    assert_eq!(
        np001(&[policy("not-agent", "apps", excludes_agent)]),
        vec![]
    );
    // matchLabels and matchExpressions together: both must hold.
    let both = "    matchLabels: {tier: node}\n    matchExpressions:\n    - {key: app, operator: Exists}\n    - {key: gone, operator: DoesNotExist}\n";
    let found = np001(&[policy("both", "apps", both)]);
    assert_eq!(found.len(), 1, "{found:?}");
    // Selecting both workloads names only the host-network one; two host-network workloads
    // selected by one policy are named in one finding.
    let mut docs = workloads();
    docs.push(daemonset(
        "agent2",
        "apps",
        "{app: agent2, tier: node}",
        "",
        HOST,
        "",
    ));
    docs.push(policy("tier", "apps", "    matchLabels: {tier: node}\n"));
    let found = of("NP001", &docs);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .2
            .contains("DaemonSet apps/v1 apps/agent, DaemonSet apps/v1 apps/agent2, which"),
        "{found:?}"
    );
}
