//! The hot paths of a render, each on inputs of a realistic shape: YAML parse and emit, JSON
//! patch, strategic merge, selector matching, a whole render, and validation.
//! `cargo bench --bench hot_paths`.

use serde_json::{Value, json};
use strata::kustomize::patch::{json_patch, merge_patch};
use strata::kustomize::selector::Target;
use strata::model::{Origin, Resource};

fn main() {
    divan::main();
}

/// A host-network DaemonSet of about 1.3 KB, as YAML.
fn daemonset(i: usize) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent-{i}\n  namespace: platform\n  labels: {{app: agent-{i}, tier: node}}\nspec:\n  selector:\n    matchLabels: {{app: agent-{i}}}\n  template:\n    metadata:\n      labels: {{app: agent-{i}}}\n    spec:\n      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n      containers:\n      - name: agent\n        image: registry-<REGION_ID>-vpc.ack.aliyuncs.com/acs/agent:v1.{i}\n        args: [--listen=0.0.0.0:{port}, --verbose]\n        ports:\n        - {{containerPort: {port}, name: metrics}}\n        resources:\n          requests: {{cpu: 100m, memory: 64Mi}}\n          limits: {{cpu: 200m, memory: 128Mi}}\n        volumeMounts:\n        - {{name: proc, mountPath: /host/proc, readOnly: true}}\n      volumes:\n      - name: proc\n        hostPath: {{path: /proc}}\n",
        port = 20000 + (i % 1000)
    )
}

fn stream(n: usize) -> String {
    (0..n).map(daemonset).collect::<Vec<_>>().join("---\n")
}

fn resources(n: usize) -> Vec<Resource> {
    let text = stream(n);
    strata::yaml::parse_stream(&text)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let origin = Origin {
                file: std::sync::Arc::new("bench.yaml".into()),
                line: d.line,
                doc_index: i,
                item: None,
            };
            Resource::from_value(d.value, origin).unwrap()
        })
        .collect()
}

#[divan::bench(args = [100, 1000])]
fn parse(bencher: divan::Bencher, n: usize) {
    let text = stream(n);
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| strata::yaml::parse_stream(divan::black_box(&text)).unwrap());
}

#[divan::bench(args = [100, 1000])]
fn emit(bencher: divan::Bencher, n: usize) {
    let docs: Vec<Value> = strata::yaml::parse_stream(&stream(n))
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect();
    bencher.bench(|| strata::yaml::to_yaml_stream(divan::black_box(&docs)));
}

#[divan::bench]
fn json_patch_apply(bencher: divan::Bencher) {
    let doc = strata::yaml::parse_stream(&daemonset(1))
        .unwrap()
        .remove(0)
        .value;
    let ops = json_patch::parse_ops(&json!([
        {"op": "add", "path": "/spec/template/spec/hostPID", "value": true},
        {"op": "replace", "path": "/spec/template/spec/containers/0/ports/0/containerPort", "value": 20002},
        {"op": "remove", "path": "/spec/template/spec/volumes/0"},
        {"op": "test", "path": "/spec/template/spec/hostNetwork", "value": true},
    ]))
    .unwrap();
    bencher
        .with_inputs(|| doc.clone())
        .bench_local_values(|mut d| {
            json_patch::apply(&mut d, &ops).unwrap();
            d
        });
}

#[divan::bench]
fn strategic_merge(bencher: divan::Bencher) {
    let doc = strata::yaml::parse_stream(&daemonset(1))
        .unwrap()
        .remove(0)
        .value;
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "env": [{"name": "NODE", "value": "x"}], "securityContext": {"readOnlyRootFilesystem": true}}
    ]}}}});
    let ctx = merge_patch::SmpContext {
        api_version: "apps/v1",
        kind: "DaemonSet",
    };
    bencher
        .with_inputs(|| doc.clone())
        .bench_local_values(|mut d| {
            merge_patch::apply(&mut d, &patch, &ctx).unwrap();
            d
        });
}

#[divan::bench(args = [1000])]
fn selector_matching(bencher: divan::Bencher, n: usize) {
    let set = resources(n);
    let sel = serde_json::from_value(
        json!({"kind": "DaemonSet|Deployment", "name": "agent-9.*", "labelSelector": "tier=node"}),
    )
    .unwrap();
    let target = Target::compile(&sel).unwrap();
    bencher.bench(|| set.iter().filter(|r| target.matches(r)).count());
}

#[divan::bench(args = [100, 1000])]
fn validate_all_rules(bencher: divan::Bencher, n: usize) {
    let set = resources(n);
    let loader = strata::kustomize::load::Loader::new();
    let profile = strata::validate::ClusterProfile::assumed();
    bencher.bench(|| {
        strata::validate::validate(&set, &profile, &loader)
            .diagnostics
            .len()
    });
}
