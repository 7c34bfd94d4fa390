//! Strategic merge patches as kustomize applies them, with its built-in schema.

//! Expectations marked "kubectl-confirmed" were first checked against
//! `kubectl kustomize` (kustomize v5.5.0) on a throwaway tree
//! (`resources: [base.yaml]`, `patches: [{path: p.yaml}]`); list order and
//! values match its output (which sorts map keys, so key order is ours).
use super::*;
use serde_json::json;

fn ctx_of(v: &Value) -> (String, String) {
    let c = SmpContext::of(v);
    (c.api_version.to_owned(), c.kind.to_owned())
}

fn try_apply(target: &mut Value, patch: &Value) -> std::result::Result<Outcome, MergePatchError> {
    let (av, k) = ctx_of(target);
    let ctx = SmpContext {
        api_version: &av,
        kind: &k,
    };
    apply(target, patch, &ctx)
}

fn merged(mut target: Value, patch: Value) -> Value {
    match try_apply(&mut target, &patch) {
        Ok(Outcome::Merged) => target,
        other => panic!("unexpected result {other:?}"),
    }
}

fn err(mut target: Value, patch: Value) -> MergePatchError {
    match try_apply(&mut target, &patch) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web"}, "spec": {"template": {"spec": spec}}})
}

fn pod_spec(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]
}

pub(super) fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| scalar_text(&e[key]).into_owned())
        .collect()
}

fn base() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"replicas": 1, "template": {"spec": {
            "containers": [
                {"name": "a", "image": "a:1",
                 "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                 "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]},
                {"name": "b", "image": "b:1"},
                {"name": "c", "image": "c:1"}
            ],
            "volumes": [{"name": "v1", "emptyDir": {}}],
            "tolerations": [{"key": "k1", "operator": "Exists"}]
        }}}
    })
}

// kubectl-confirmed.
#[test]
fn maps_merge_recursively_and_null_deletes() {
    let out = merged(
        base(),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"zeta": "z", "alpha": "a", "tier": null},
                            "annotations": {"b": "1", "a": "2"}},
               "spec": {"replicas": null}}),
    );
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "zeta": "z", "alpha": "a"})
    );
    assert_eq!(out["metadata"]["annotations"], json!({"b": "1", "a": "2"}));
    assert!(out["spec"].get("replicas").is_none());
}

#[test]
fn target_key_order_kept_and_new_keys_appended_in_patch_order() {
    let out = merged(
        json!({"kind": "X", "apiVersion": "v9", "b": 1, "a": {"y": 1, "x": 2}}),
        json!({"z": 1, "a": {"w": 1, "x": 3, "v": 2}, "c": 2, "b": null}),
    );
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["kind", "apiVersion", "a", "z", "c"]);
    let inner: Vec<&str> = out["a"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(inner, ["y", "x", "w", "v"]);
    assert_eq!(out["a"]["x"], json!(3));
}

// kubectl-confirmed: patched/new containers first in patch order, then the
// untouched ones; env likewise; tolerations (no merge key) replaced.
#[test]
fn containers_and_env_merge_by_name_patch_order_first() {
    let out = merged(
        base(),
        deployment(json!({
            "containers": [
                {"name": "c", "image": "c:2"},
                {"name": "new", "image": "new:1"},
                {"name": "a", "env": [{"name": "Z", "value": "3"}, {"name": "X", "value": "9"}]}
            ],
            "tolerations": [{"key": "k2", "operator": "Exists"}]
        })),
    );
    let ps = pod_spec(&out);
    assert_eq!(names(&ps["containers"], "name"), ["c", "new", "a", "b"]);
    assert_eq!(ps["containers"][0]["image"], json!("c:2"));
    let a = &ps["containers"][2];
    assert_eq!(a["image"], json!("a:1"));
    assert_eq!(
        a["env"],
        json!([{"name": "Z", "value": "3"}, {"name": "X", "value": "9"}, {"name": "Y", "value": "2"}])
    );
    assert_eq!(
        a["ports"],
        base()["spec"]["template"]["spec"]["containers"][0]["ports"]
    );
    assert_eq!(
        ps["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );
    assert_eq!(ps["volumes"], json!([{"name": "v1", "emptyDir": {}}]));
}

// kubectl-confirmed.
#[test]
fn element_delete_list_replace_and_map_replace() {
    let out = merged(
        base(),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"$patch": "replace", "only": "me"}},
        "spec": {"template": {"spec": {
            "containers": [{"name": "b", "$patch": "delete"}, {"name": "zz", "$patch": "delete"}],
            "volumes": [{"$patch": "replace"}, {"name": "v2", "emptyDir": {}}]
        }}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"only": "me"}));
    assert_eq!(names(&pod_spec(&out)["containers"], "name"), ["a", "c"]);
    assert_eq!(
        pod_spec(&out)["volumes"],
        json!([{"name": "v2", "emptyDir": {}}])
    );
}

// kubectl-confirmed: `- $patch: delete` removes the list, a lone
// `- $patch: replace` empties it, an element-level replace is ignored and
// a directive inside a list without merge key is kept verbatim.
#[test]
fn list_directives_and_their_kustomize_quirks() {
    let out = merged(
        base(),
        deployment(json!({
            "containers": [
                {"name": "a", "env": [{"$patch": "delete"}], "ports": [{"$patch": "replace"}]},
                {"name": "c", "$patch": "replace", "image": "c:3"}
            ],
            "tolerations": [{"$patch": "replace"}, {"key": "k3"}]
        })),
    );
    let ps = pod_spec(&out);
    assert_eq!(names(&ps["containers"], "name"), ["a", "c", "b"]);
    assert!(ps["containers"][0].get("env").is_none());
    assert_eq!(ps["containers"][0]["ports"], json!([]));
    assert_eq!(ps["containers"][1], json!({"name": "c", "image": "c:1"}));
    assert_eq!(
        ps["tolerations"],
        json!([{"$patch": "replace"}, {"key": "k3"}])
    );
}

// kubectl-confirmed.
#[test]
fn merge_directive_is_stripped() {
    let out = merged(
        base(),
        deployment(json!({
            "nodeSelector": {"$patch": "merge", "disk": "ssd"},
            "volumes": [{"$patch": "merge"}, {"name": "v2", "emptyDir": {}}],
            "containers": [{"name": "b", "$patch": "merge", "image": "b:2"}]
        })),
    );
    let ps = pod_spec(&out);
    assert_eq!(ps["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(names(&ps["volumes"], "name"), ["v2", "v1"]);
    assert_eq!(ps["containers"][0], json!({"name": "b", "image": "b:2"}));
}

// kubectl-confirmed (top-level delete drops the resource; top-level
// replace leaves it unchanged).
#[test]
fn top_level_directives() {
    let mut t = base();
    let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web"}, "$patch": "delete"});
    assert_eq!(try_apply(&mut t, &patch), Ok(Outcome::DeleteResource));
    assert_eq!(t, base());
    let out = merged(
        base(),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "$patch": "replace",
               "metadata": {"name": "other"}, "spec": {"replicas": 3}}),
    );
    assert_eq!(out, base());
}

// kubectl-confirmed: kustomize has no $retainKeys / $setElementOrder /
// $deleteFromPrimitiveList; they end up in the output as plain fields.
#[test]
fn unsupported_directives_pass_through() {
    let mut t = base();
    t["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
    let out = merged(
        t,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                        "template": {"spec": {
                            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                            "containers": [{"name": "a", "$deleteFromPrimitiveList/args": ["x"]}]}}}}),
    );
    assert_eq!(
        out["spec"]["strategy"],
        json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}, "$retainKeys": ["type"]})
    );
    let ps = pod_spec(&out);
    assert_eq!(
        ps["$setElementOrder/containers"],
        json!([{"name": "b"}, {"name": "a"}])
    );
    assert_eq!(
        ps["containers"][0]["$deleteFromPrimitiveList/args"],
        json!(["x"])
    );
    assert_eq!(names(&ps["containers"], "name"), ["a", "b", "c"]);
}

// kubectl-confirmed.
#[test]
fn finalizers_are_a_set_union_patch_first() {
    let mut t = base();
    t["metadata"]["finalizers"] = json!(["f1", "f2"]);
    let out = merged(
        t,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "finalizers": ["f3", "f1", null]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["f3", "f1", "f2"]));
}

// kubectl-confirmed: no schema for a custom resource, so every list is
// replaced (even finalizers), but an embedded built-in object merges.
#[test]
fn custom_resources_replace_lists_except_in_embedded_builtins() {
    let containers = json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]);
    let out = merged(
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": {"name": "web", "finalizers": ["f1", "f2"]},
               "spec": {"template": {"spec": {"containers": containers.clone()}},
                        "items": [{"name": "x", "v": 1}],
                        "embedded": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "spec": {"template": {"spec": {"containers": containers}}}}}}),
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": {"name": "web", "finalizers": ["f3"]},
               "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}},
                        "items": [{"name": "x", "w": 2}],
                        "embedded": {"spec": {"template": {"spec": {
                            "containers": [{"name": "b", "image": "b:2"}]}}}}}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["f3"]));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "b", "image": "b:2"}])
    );
    assert_eq!(out["spec"]["items"], json!([{"name": "x", "w": 2}]));
    assert_eq!(
        out["spec"]["embedded"]["spec"]["template"]["spec"]["containers"],
        json!([{"name": "b", "image": "b:2"}, {"name": "a", "image": "a:1"}])
    );
}

// kubectl-confirmed: apps/v1beta2 is not in kustomize's schema.
#[test]
fn removed_api_versions_have_no_merge_keys() {
    let mut t = base();
    t["apiVersion"] = json!("apps/v1beta2");
    let mut p = deployment(json!({"containers": [{"name": "a", "image": "a:2"}]}));
    p["apiVersion"] = json!("apps/v1beta2");
    let out = merged(t, p);
    assert_eq!(
        pod_spec(&out)["containers"],
        json!([{"name": "a", "image": "a:2"}])
    );
}

// kubectl-confirmed: a list new to the target is merged with itself
// (duplicates: last wins; `$patch: delete` elements and nulls dropped);
// empty maps and lists are added as such.
#[test]
fn new_keyed_list_is_normalised() {
    let out = merged(
        base(),
        deployment(json!({
            "containers": [{"name": "b",
                "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"},
                        {"name": "B", "value": "3", "$patch": "delete"},
                        {"name": "C", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                "securityContext": {},
                "resources": {"limits": {"cpu": null, "memory": "1Gi"}}}],
            "imagePullSecrets": []
        })),
    );
    let b = &pod_spec(&out)["containers"][0];
    assert_eq!(
        b["env"],
        json!([{"name": "A", "value": "2"},
               {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
    );
    assert_eq!(b["securityContext"], json!({}));
    assert_eq!(b["resources"], json!({"limits": {"memory": "1Gi"}}));
    assert_eq!(pod_spec(&out)["imagePullSecrets"], json!([]));
}

// kubectl-confirmed: two merge keys (port, protocol); kustomize puts
// patch-only ports first and moves target ports after them, and a patch
// port without protocol does not match a target port with one.
#[test]
fn service_ports_merge_on_port_and_protocol() {
    let out = merged(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
               "spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                                  {"port": 443, "protocol": "TCP", "name": "https"},
                                  {"port": 53, "protocol": "UDP", "name": "dns"}],
                        "selector": {"app": "x"}, "explicitNull": null}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
               "spec": {"ports": [{"port": 80, "targetPort": 9090},
                                  {"port": 443, "name": "https2"},
                                  {"port": "53", "protocol": "UDP", "targetPort": 5353},
                                  {"port": 8443, "protocol": "TCP"}],
                        "selector": {"$patch": "replace", "app": "y"}}}),
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 8443, "protocol": "TCP"},
               {"port": 80, "targetPort": 9090, "name": "http"},
               {"port": 443, "protocol": "TCP", "name": "https"},
               {"port": "53", "protocol": "UDP", "name": "dns", "targetPort": 5353}])
    );
    assert_eq!(out["spec"]["selector"], json!({"app": "y"}));
    assert_eq!(out["spec"]["explicitNull"], Value::Null);
}

// kubectl-confirmed: with protocols only partly given, kustomize's
// reconciliation drops both patch ports here.
#[test]
fn container_ports_partial_protocols_follow_kustomize() {
    let out = merged(
        base(),
        deployment(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 53, "name": "dns"}, {"containerPort": 80, "protocol": "UDP"}]}]})),
    );
    assert_eq!(
        pod_spec(&out)["containers"][0]["ports"],
        json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}])
    );
}

#[test]
fn container_ports_without_protocol_merge_on_container_port() {
    let t = deployment(json!({"containers": [{"name": "a", "ports": [
        {"containerPort": 80}, {"containerPort": 443}]}]}));
    let out = merged(
        t,
        deployment(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 443, "name": "https"}, {"containerPort": 8080}]}]})),
    );
    assert_eq!(
        pod_spec(&out)["containers"][0]["ports"],
        json!([{"containerPort": 443, "name": "https"}, {"containerPort": 8080},
               {"containerPort": 80}])
    );
}

// kubectl-confirmed: merge keys compare as YAML text ("80" matches 80);
// duplicated target keys collapse to the last one and the patch for that
// key is lost.
#[test]
fn key_text_matching_and_target_duplicates() {
    let t = deployment(json!({"containers": [{"name": "a", "image": "a:1",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}, {"name": "A", "value": "2"}],
        "ports": [{"containerPort": 80}]}]}));
    let out = merged(
        t,
        deployment(json!({"containers": [{"name": "a",
            "env": [{"name": "A", "value": "3"}],
            "ports": [{"containerPort": "80", "name": "http"}]}]})),
    );
    let a = &pod_spec(&out)["containers"][0];
    assert_eq!(
        a["env"],
        json!([{"name": "A", "value": "2"}, {"name": "B", "value": "1"}])
    );
    assert_eq!(a["ports"], json!([{"containerPort": "80", "name": "http"}]));
}

// kubectl-confirmed (DaemonSet): keyed lists the patch never mentions are
// de-duplicated too; ownerReferences by uid, hostAliases by ip,
// imagePullSecrets by name, volumeMounts by mountPath, volumeDevices by
// devicePath, topologySpreadConstraints by (topologyKey, whenUnsatisfiable).
#[test]
fn daemonset_merge_keys() {
    let t = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "ownerReferences": [
            {"apiVersion": "v1", "kind": "Foo", "name": "a", "uid": "u1"},
            {"apiVersion": "v1", "kind": "Foo", "name": "b", "uid": "u2"}]},
        "spec": {"template": {"spec": {
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
            "imagePullSecrets": [{"name": "reg1"}],
            "topologySpreadConstraints": [
                {"topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1},
                {"topologyKey": "host", "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 1}],
            "containers": [{"name": "agent", "image": "agent:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}, {"name": "A", "value": "2"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "logs", "mountPath": "/logs"}],
                "volumeDevices": [{"name": "dev", "devicePath": "/dev/x"}]}]}}}});
    let p = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "ownerReferences": [
            {"uid": "u2", "name": "b2"},
            {"apiVersion": "v1", "kind": "Foo", "name": "c", "uid": "u3"}]},
        "spec": {"template": {"spec": {
            "hostAliases": [{"ip": "10.0.0.2", "hostnames": ["b"]}, {"ip": "10.0.0.1", "hostnames": ["c"]}],
            "imagePullSecrets": [{"name": "reg2"}],
            "topologySpreadConstraints": [
                {"topologyKey": "host", "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
                {"topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1}],
            "containers": [{"name": "agent",
                "volumeMounts": [{"name": "logs2", "mountPath": "/logs", "readOnly": true}],
                "volumeDevices": [{"name": "dev2", "devicePath": "/dev/y"}]}]}}}});
    let out = merged(t, p);
    assert_eq!(
        names(&out["metadata"]["ownerReferences"], "name"),
        ["b2", "c", "a"]
    );
    let ps = pod_spec(&out);
    assert_eq!(
        ps["hostAliases"],
        json!([{"ip": "10.0.0.2", "hostnames": ["b"]}, {"ip": "10.0.0.1", "hostnames": ["c"]}])
    );
    assert_eq!(names(&ps["imagePullSecrets"], "name"), ["reg2", "reg1"]);
    assert_eq!(
        names(&ps["topologySpreadConstraints"], "topologyKey"),
        ["rack", "zone", "host"]
    );
    assert_eq!(ps["topologySpreadConstraints"][2]["maxSkew"], json!(3));
    let c = &ps["containers"][0];
    assert_eq!(
        c["env"],
        json!([{"name": "A", "value": "2"}, {"name": "B", "value": "1"}])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "logs2", "mountPath": "/logs", "readOnly": true},
               {"name": "data", "mountPath": "/data"}])
    );
    assert_eq!(
        names(&c["volumeDevices"], "devicePath"),
        ["/dev/y", "/dev/x"]
    );
}

// kubectl-confirmed.
#[test]
fn cronjob_pod_template_is_found() {
    let out = merged(
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job"},
               "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "Never",
                   "containers": [{"name": "main", "image": "main:1", "args": ["a", "b"]},
                                  {"name": "side", "image": "side:1"}]}}}}}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job"},
               "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                   "containers": [{"name": "side", "image": "side:2", "args": ["c"]}]}}}}}}),
    );
    let cs = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        cs,
        &json!([{"name": "side", "image": "side:2", "args": ["c"]},
                {"name": "main", "image": "main:1", "args": ["a", "b"]}])
    );
}

// kubectl-confirmed.
#[test]
fn deleting_every_container_leaves_an_empty_list_and_null_removes_lists() {
    let out = merged(
        base(),
        deployment(json!({
            "containers": [{"name": "a", "$patch": "delete"}, {"name": "b", "$patch": "delete"},
                           {"name": "c", "$patch": "delete"}],
            "volumes": null,
            "tolerations": []
        })),
    );
    let ps = pod_spec(&out);
    assert_eq!(ps["containers"], json!([]));
    assert!(ps.get("volumes").is_none());
    assert_eq!(ps["tolerations"], json!([]));
}

// kubectl-confirmed (same data under a custom kind).
#[test]
fn explicit_null_in_target_kept_unless_patched() {
    let out = merged(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
               "data": {"a": null, "b": null, "c": null}}),
        json!({"data": {"b": "x", "c": {"k": null, "j": 1}}}),
    );
    assert_eq!(out["data"], json!({"a": null, "b": "x", "c": {"j": 1}}));
}

// kubectl-confirmed (kustomize: "wrong node kind").
#[test]
fn type_mismatches_are_errors_with_path() {
    let e = err(base(), deployment(json!({"volumes": {"$patch": "delete"}})));
    assert_eq!(e.path(), "spec.template.spec.volumes");
    assert!(
        e.message()
            .contains("a list here but the patch has a mapping"),
        "{e}"
    );
    let e = err(base(), json!({"spec": {"replicas": {"a": 1}}}));
    assert_eq!(
        e.to_string(),
        "at spec.replicas: type mismatch: the resource has a scalar here but the patch has a mapping"
    );
    let e = err(base(), json!({"metadata": {"labels": [1]}}));
    assert_eq!(e.path(), "metadata.labels");
}

// kubectl-confirmed (kustomize: "unknown patch strategy 'foo'").
#[test]
fn unknown_patch_strategy_is_an_error() {
    let e = err(base(), json!({"spec": {"template": {"$patch": "foo"}}}));
    assert_eq!(e.path(), "spec.template.$patch");
    assert!(e.message().starts_with("unknown patch strategy 'foo'"));
    let e = err(
        base(),
        deployment(json!({"containers": [{"name": "a", "$patch": 1}]})),
    );
    assert_eq!(e.path(), "spec.template.spec.containers[name=a].$patch");
    let e = err(base(), deployment(json!({"volumes": [{"$patch": "nope"}]})));
    assert_eq!(e.path(), "spec.template.spec.volumes[0].$patch");
}

// Deviation (kubectl-checked): kustomize silently wipes every named
// container here instead.
#[test]
fn patch_element_without_merge_key_is_an_error() {
    let e = err(
        base(),
        deployment(json!({"containers": [{"name": "a"}, {"image": "foo"}]})),
    );
    assert_eq!(e.path(), "spec.template.spec.containers[1]");
    assert!(
        e.message().contains("no value for its merge key \"name\""),
        "{e}"
    );
    let e = err(base(), deployment(json!({"containers": ["a"]})));
    assert!(e.message().contains("is a scalar"), "{e}");
    let e = err(
        base(),
        deployment(json!({"volumes": [{"name": "v1", "$patch": "delete"}, {"$patch": "replace"}]})),
    );
    assert!(e.message().contains("list-wide `$patch`"), "{e}");
}

#[test]
fn target_without_merge_key_errors_only_when_the_list_is_patched() {
    let t = deployment(json!({"containers": [{"image": "x"}, {"name": "a", "image": "a:1"}]}));
    let out = merged(t.clone(), json!({"spec": {"replicas": 2}}));
    assert_eq!(pod_spec(&out), pod_spec(&t));
    let e = err(
        t,
        deployment(json!({"containers": [{"name": "a", "image": "a:2"}]})),
    );
    assert_eq!(e.path(), "spec.template.spec.containers[0]");
    assert!(e.message().starts_with("resource list element"), "{e}");
}

#[test]
fn list_directive_in_a_list_the_target_lacks_is_honoured() {
    let out = merged(
        deployment(json!({"containers": [{"name": "a"}]})),
        deployment(json!({
            "hostAliases": [{"$patch": "merge"}, {"ip": "1.2.3.4", "hostnames": ["a"]}],
            "volumes": [{"$patch": "delete"}],
            "containers": [{"name": "a", "env": [{"$patch": "replace"}, {"name": "E", "value": "1"}]}]
        })),
    );
    let ps = pod_spec(&out);
    assert_eq!(
        ps["hostAliases"],
        json!([{"ip": "1.2.3.4", "hostnames": ["a"]}])
    );
    assert!(ps.get("volumes").is_none());
    assert_eq!(
        ps["containers"][0]["env"],
        json!([{"name": "E", "value": "1"}])
    );
}

// kubectl-confirmed.
#[test]
fn replace_on_a_map_normalises_the_patch_value() {
    let mut t = base();
    t["spec"]["template"]["spec"]["securityContext"] = json!({"runAsUser": 1, "fsGroup": 2});
    let out = merged(
        t,
        deployment(
            json!({"securityContext": {"$patch": "replace", "runAsGroup": 3, "fsGroup": null}}),
        ),
    );
    assert_eq!(pod_spec(&out)["securityContext"], json!({"runAsGroup": 3}));
}

#[test]
fn unknown_kind_in_context_falls_back_to_the_patch_kind() {
    let mut t = base();
    let ctx = SmpContext {
        api_version: "",
        kind: "",
    };
    let p = deployment(json!({"containers": [{"name": "b", "image": "b:2"}]}));
    assert_eq!(apply(&mut t, &p, &ctx), Ok(Outcome::Merged));
    assert_eq!(names(&pod_spec(&t)["containers"], "name"), ["b", "a", "c"]);
}

// kubectl-confirmed.
#[test]
fn init_and_ephemeral_containers_merge_by_name() {
    let t = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"initContainers": [{"name": "i1", "image": "i:1"}, {"name": "i2", "image": "i:1"}],
                 "ephemeralContainers": [{"name": "dbg", "image": "busybox",
                     "volumeMounts": [{"name": "x", "mountPath": "/x"}]}]}});
    let out = merged(
        t,
        json!({"spec": {"initContainers": [{"name": "i2", "image": "i:2"}],
                        "ephemeralContainers": [{"name": "dbg",
                            "volumeMounts": [{"name": "y", "mountPath": "/y"}]}]}}),
    );
    assert_eq!(names(&out["spec"]["initContainers"], "name"), ["i2", "i1"]);
    assert_eq!(out["spec"]["initContainers"][0]["image"], json!("i:2"));
    assert_eq!(
        names(
            &out["spec"]["ephemeralContainers"][0]["volumeMounts"],
            "mountPath"
        ),
        ["/y", "/x"]
    );
}

#[test]
fn env_from_args_and_command_are_replaced() {
    let t = deployment(json!({"containers": [{"name": "a", "args": ["1", "2"],
        "envFrom": [{"configMapRef": {"name": "x"}}], "command": ["sh"]}]}));
    let out = merged(
        t,
        deployment(json!({"containers": [{"name": "a", "args": ["3"],
            "envFrom": [{"secretRef": {"name": "y"}}]}]})),
    );
    let a = &pod_spec(&out)["containers"][0];
    assert_eq!(a["args"], json!(["3"]));
    assert_eq!(a["envFrom"], json!([{"secretRef": {"name": "y"}}]));
    assert_eq!(a["command"], json!(["sh"]));
}

#[test]
fn non_mapping_documents_are_rejected_without_panicking() {
    let mut t = base();
    assert!(try_apply(&mut t, &json!([1, 2])).is_err());
    assert!(try_apply(&mut t, &Value::Null).is_err());
    let mut s = json!("scalar");
    assert!(try_apply(&mut s, &json!({})).is_err());
    // Odd but well-formed inputs never panic.
    let odd = [
        json!({"spec": {"template": {"spec": {"containers": [null, {"name": "x"}]}}}}),
        json!({"spec": {"template": {"spec": {"containers": [{"name": {"a": 1}}]}}}}),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"protocol": "TCP"}]}]}}}}),
        json!({"metadata": {"finalizers": [{"a": 1}]}}),
        json!({"metadata": {"finalizers": [{"$patch": "delete", "x": 1}]}}),
        json!({"spec": {"template": {"spec": {"volumes": [{"$patch": null}]}}}}),
        json!({"$patch": ["delete"]}),
    ];
    for p in odd {
        let mut t = base();
        let _ = try_apply(&mut t, &p);
    }
}

#[test]
fn partial_multi_key_delete_matches_kustomize_replay() {
    // kubectl-confirmed (Service fuzzing): the patch deletes 8080/UDP, the
    // duplicate tuple makes kustomize add it back without the directive.
    let out = merged(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 53, "targetPort": 1}]}}),
        json!({"spec": {"ports": [{"port": 8080, "targetPort": 6},
                                  {"port": 8080, "protocol": "UDP", "$patch": "delete"}]}}),
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 8080, "protocol": "UDP"}, {"port": 53, "targetPort": 1}])
    );
}

#[test]
fn error_paths_quote_odd_keys() {
    let e = err(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
               "annotations": {"app.kubernetes.io/x": {"a": 1}}}}),
        json!({"metadata": {"annotations": {"app.kubernetes.io/x": "s"}}}),
    );
    assert_eq!(e.path(), "metadata.annotations[\"app.kubernetes.io/x\"]");
    let e = err(base(), json!("x"));
    assert_eq!(e.path(), "");
    assert!(e.to_string().starts_with("at the document root:"));
}

#[test]
fn large_lists_are_merged_in_linear_time() {
    let n = 100_000;
    let env: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("E{i}"), "value": "x"}))
        .collect();
    let t = deployment(json!({"containers": [{"name": "a", "env": env}]}));
    let p = deployment(json!({"containers": [{"name": "a", "env": [
        {"name": "E99999", "value": "y"}, {"name": "NEW", "value": "z"}]}]}));
    let start = std::time::Instant::now();
    let out = merged(t, p);
    let env = pod_spec(&out)["containers"][0]["env"].as_array().unwrap();
    assert_eq!(env.len(), n + 1);
    assert_eq!(env[0], json!({"name": "E99999", "value": "y"}));
    assert_eq!(env[1]["name"], json!("NEW"));
    assert_eq!(env[2]["name"], json!("E0"));
    // A quadratic algorithm would need minutes here.
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn schema_table_is_consistent() {
    // Every non-inert type reachable from a kind has a row, and each
    // field appears once per type.
    let mut seen = HashSet::new();
    for (t, f, _) in FIELDS {
        assert!(seen.insert((*t as u8, *f)), "duplicate row {t:?}.{f}");
    }
    for (_, kinds) in KINDS {
        for (_, t) in *kinds {
            assert!(
                FIELDS.iter().any(|(ty, _, _)| ty == t),
                "{t:?} has no fields"
            );
        }
    }
    assert_eq!(builtin_type("apps/v1", "Deployment"), Some(Ty::Workload));
    assert_eq!(builtin_type("apps/v1beta1", "Deployment"), None);
}
