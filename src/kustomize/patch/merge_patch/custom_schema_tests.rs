//! Merge keys from custom OpenAPI schemas (`schema::openapi`). Expected results were
//! checked with kubectl kustomize (the same cases run as fixture trees
//! `tests/fixtures/trees/openapi-*`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::tests::names;
use super::*;
use crate::kustomize::schema::openapi::schema_from;

fn schema(v: Value) -> Arc<CustomSchema> {
    Arc::new(schema_from(v).expect("a valid schema"))
}

fn run(set: &SchemaSet, mut target: Value, patch: Value) -> Result<Value> {
    let av = target["apiVersion"].as_str().unwrap_or("").to_string();
    let k = target["kind"].as_str().unwrap_or("").to_string();
    let ctx = SmpContext {
        api_version: &av,
        kind: &k,
    };
    apply_with_schema(&mut target, &patch, &ctx, set)?;
    Ok(target)
}

/// The schema of kustomize's `customOpenAPIschema` example, trimmed: MyResource's
/// template is a PodTemplateSpec whose containers merge on `name` and whose ports merge
/// on `containerPort` + `protocol`.
fn docs_schema() -> Value {
    json!({"definitions": {
        "v1alpha1.MyResource": {
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "template": {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}}}
            },
            "x-kubernetes-group-version-kind": [
                {"group": "example.com", "kind": "MyResource", "version": "v1alpha1"}]
        },
        "io.k8s.api.core.v1.PodTemplateSpec": {"type": "object", "properties": {
            "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}}},
        "io.k8s.api.core.v1.PodSpec": {"type": "object", "properties": {
            "containers": {"type": "array",
                "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Container"},
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge"}}},
        "io.k8s.api.core.v1.Container": {"type": "object", "properties": {
            "ports": {"type": "array",
                "items": {"$ref": "#/definitions/io.k8s.api.core.v1.ContainerPort"},
                "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                "x-kubernetes-list-type": "map",
                "x-kubernetes-patch-merge-key": "containerPort",
                "x-kubernetes-patch-strategy": "merge"}}},
        "io.k8s.api.core.v1.ContainerPort": {"type": "object"}
    }})
}

fn my_resource(containers: Value) -> Value {
    json!({"apiVersion": "example.com/v1alpha1", "kind": "MyResource",
           "metadata": {"name": "service"},
           "spec": {"template": {"spec": {"containers": containers}}}})
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"template": {"spec": spec}}})
}

#[test]
fn custom_schema_gives_a_custom_kind_its_merge_keys() {
    let set = SchemaSet::custom(schema(docs_schema()));
    let out = run(
        &set,
        my_resource(json!([
            {"name": "server", "image": "server", "command": "example",
             "ports": [{"name": "grpc", "protocol": "TCP", "containerPort": 8080},
                       {"name": "dns", "protocol": "UDP", "containerPort": 53}]},
            {"name": "other", "image": "other"}])),
        my_resource(json!([
            {"name": "server", "image": "nginx",
             "ports": [{"protocol": "TCP", "containerPort": 53, "name": "dns-tcp"},
                       {"protocol": "UDP", "containerPort": 53, "name": "dns2"}]}])),
    )
    .unwrap();
    let cs = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(cs, "name"), ["server", "other"]);
    assert_eq!(cs[0]["image"], json!("nginx"));
    assert_eq!(cs[0]["command"], json!("example"));
    // kubectl-confirmed: new ports first, then the target's in place (53/UDP merged).
    assert_eq!(names(&cs[0]["ports"], "name"), ["dns-tcp", "grpc", "dns2"]);
    // Without the schema the same patch replaces the containers.
    let out = run(
        &openapi::BUILTIN,
        my_resource(json!([{"name": "server", "image": "server"}, {"name": "other"}])),
        my_resource(json!([{"name": "server", "image": "nginx"}])),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "server", "image": "nginx"}])
    );
}

#[test]
fn a_custom_schema_alone_leaves_builtin_kinds_without_merge_keys() {
    let set = SchemaSet::custom(schema(docs_schema()));
    let out = run(
        &set,
        deployment(json!({"containers": [{"name": "a", "image": "a"}, {"name": "b"}]})),
        deployment(json!({"containers": [{"name": "b", "image": "b2"}]})),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "b", "image": "b2"}])
    );
    // kustomize's kustomization schema stays loaded.
    let out = run(
        &set,
        json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
               "metadata": {"name": "k"},
               "configMapGenerator": [{"name": "a", "literals": ["x=1"]}, {"name": "b"}]}),
        json!({"configMapGenerator": [{"name": "b", "literals": ["y=2"]}]}),
    )
    .unwrap();
    assert_eq!(names(&out["configMapGenerator"], "name"), ["b", "a"]);
}

/// MyResource's template refers to built-in definitions the file does not define.
fn schema_referring_to_builtin() -> Arc<CustomSchema> {
    schema(json!({"definitions": {
        "v1alpha1.MyResource": {
            "properties": {"spec": {"properties": {
                "template": {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}}}},
            "x-kubernetes-group-version-kind": [
                {"group": "example.com", "kind": "MyResource", "version": "v1alpha1"}]
        },
        // Replaces the built-in PodSpec where the custom schema wins: containers merge
        // on `image`, volumes are replaced.
        "io.k8s.api.core.v1.PodSpec": {"properties": {
            "containers": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "image"}}}
    }}))
}

#[test]
fn refs_reach_builtin_definitions_when_the_builtin_schema_is_loaded() {
    let c = schema_referring_to_builtin();
    // Built-in loaded last: its PodTemplateSpec and PodSpec (containers and env by name).
    let set = SchemaSet::both(c.clone(), false);
    let t = my_resource(json!([
        {"name": "a", "image": "ia", "env": [{"name": "X", "value": "1"}]},
        {"name": "b", "image": "ib"}]));
    let out = run(
        &set,
        t.clone(),
        my_resource(json!([{"name": "a", "env": [{"name": "Y", "value": "2"}]}])),
    )
    .unwrap();
    let cs = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(cs, "name"), ["a", "b"]);
    assert_eq!(names(&cs[0]["env"], "name"), ["Y", "X"]);
    // Custom loaded last: the built-in PodTemplateSpec, but the custom PodSpec in it.
    let set = SchemaSet::both(c.clone(), true);
    let out = run(
        &set,
        t,
        my_resource(json!([{"name": "c", "image": "ia", "env": [{"name": "Y"}]}])),
    )
    .unwrap();
    let cs = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(cs, "name"), ["c", "b"]);
    // Env has no merge key in the custom Container (none is defined): replaced.
    assert_eq!(cs[0]["env"], json!([{"name": "Y"}]));
    // Without the built-in schema the reference names nothing: an error.
    let e = run(
        &SchemaSet::custom(c),
        my_resource(json!([{"name": "a"}])),
        my_resource(json!([{"name": "b"}])),
    )
    .unwrap_err();
    assert_eq!(e.path(), "spec.template");
    assert!(
        e.message()
            .contains("no definition `io.k8s.api.core.v1.PodTemplateSpec`")
            && e.message().contains("schema.json, line ")
            && e.message()
                .contains("kustomize does not add its built-in definitions"),
        "{e}"
    );
}

#[test]
fn custom_definitions_loaded_last_replace_builtin_ones_inside_builtin_kinds() {
    let c = schema_referring_to_builtin();
    let t = deployment(json!({
        "containers": [{"name": "a", "image": "img1"}, {"name": "b", "image": "img2"}],
        "volumes": [{"name": "v1", "emptyDir": {}}]}));
    let p = deployment(json!({
        "containers": [{"name": "c", "image": "img2"}],
        "volumes": [{"name": "v2", "emptyDir": {}}]}));
    let out = run(&SchemaSet::both(c.clone(), true), t.clone(), p.clone()).unwrap();
    let ps = &out["spec"]["template"]["spec"];
    assert_eq!(names(&ps["containers"], "name"), ["c", "a"]);
    assert_eq!(names(&ps["volumes"], "name"), ["v2"]);
    // Built-in loaded last: the built-in PodSpec.
    let out = run(&SchemaSet::both(c, false), t, p).unwrap();
    let ps = &out["spec"]["template"]["spec"];
    assert_eq!(names(&ps["containers"], "name"), ["c", "a", "b"]);
    assert_eq!(names(&ps["volumes"], "name"), ["v2", "v1"]);
}

fn thing_schema() -> Arc<CustomSchema> {
    let item = json!({"$ref": "#/definitions/x.Item"});
    let list = |strategy: Option<&str>, typed: bool| {
        let mut l = json!({"items": item.clone(), "x-kubernetes-patch-merge-key": "name"});
        if let Some(s) = strategy {
            l["x-kubernetes-patch-strategy"] = json!(s);
        }
        if typed {
            l["type"] = json!("array");
        }
        l
    };
    schema(json!({"definitions": {
        "x.Thing": {
            "x-kubernetes-group-version-kind": [{"group": "x.io", "version": "v1", "kind": "Thing"}],
            "properties": {"spec": {"properties": {
                "merged": list(Some("merge"), true),
                "replaced": list(Some("replace"), true),
                "retained": list(Some("retainKeys"), true),
                "mergedRetained": list(Some("merge,retainKeys"), true),
                "untyped": list(Some("merge"), false),
                "plain": list(None, true),
                "tags": {"type": "array", "items": {"type": "string"},
                         "x-kubernetes-patch-strategy": "merge"},
                "refWithStrategy": {"$ref": "#/definitions/x.PlainList",
                    "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "name"},
                "buckets": {"additionalProperties": {"properties": {
                    "entries": {"type": "array", "x-kubernetes-patch-strategy": "merge",
                                "x-kubernetes-patch-merge-key": "k"}}}}
            }}}
        },
        "x.PlainList": {"type": "array", "items": item.clone()},
        "x.Item": {"properties": {"subs": {"type": "array", "items": {"type": "object"},
            "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "id"}}}
    }}))
}

fn thing(spec: Value) -> Value {
    json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec})
}

#[test]
fn patch_strategies_list_keys_and_element_schemas() {
    let set = SchemaSet::custom(thing_schema());
    let two = || json!([{"name": "one", "subs": [{"id": "s1"}]}, {"name": "two"}]);
    let patch = || json!([{"name": "one", "subs": [{"id": "s2"}]}]);
    let out = run(
        &set,
        thing(json!({
            "merged": two(), "replaced": two(), "retained": two(), "mergedRetained": two(),
            "untyped": two(), "plain": two(), "refWithStrategy": two(),
            "tags": ["a", "b"],
            "buckets": {"red": {"entries": [{"k": "a"}, {"k": "b", "v": 1}]}}
        })),
        thing(json!({
            "merged": patch(), "replaced": patch(), "retained": patch(),
            "mergedRetained": patch(), "untyped": patch(), "plain": patch(),
            "refWithStrategy": patch(),
            "tags": ["c", "a"],
            "buckets": {"red": {"entries": [{"k": "b", "v": 2}]}}
        })),
    )
    .unwrap();
    let s = &out["spec"];
    // `merge` (alone or with retainKeys) merges by key, element schema included.
    for f in ["merged", "mergedRetained"] {
        assert_eq!(names(&s[f], "name"), ["one", "two"], "{f}");
        assert_eq!(names(&s[f][0]["subs"], "id"), ["s2", "s1"], "{f}");
    }
    // No `type: array`: merged by key, but the elements have no schema.
    assert_eq!(names(&s["untyped"], "name"), ["one", "two"]);
    assert_eq!(names(&s["untyped"][0]["subs"], "id"), ["s2"]);
    // Other strategies, none, and a `$ref` (whose target has none): replaced.
    for f in ["replaced", "retained", "plain", "refWithStrategy"] {
        assert_eq!(s[f], patch(), "{f}");
    }
    assert_eq!(s["tags"], json!(["c", "a", "b"]));
    assert_eq!(names(&s["buckets"]["red"]["entries"], "k"), ["b", "a"]);
    assert_eq!(s["buckets"]["red"]["entries"][0]["v"], json!(2));
}

#[test]
fn an_unknown_field_holding_a_custom_kind_takes_its_schema() {
    let set = SchemaSet::custom(schema(json!({"definitions": {
        "t.Thing": {
            "x-kubernetes-group-version-kind": [{"group": "t.io", "version": "v1", "kind": "Thing"}],
            "properties": {"items": {"type": "array", "x-kubernetes-patch-strategy": "merge",
                                     "x-kubernetes-patch-merge-key": "name"}}
        },
        "t.Wrapper": {
            "x-kubernetes-group-version-kind": [{"group": "t.io", "version": "v1", "kind": "Wrapper"}],
            "properties": {"spec": {"properties": {"known": {"type": "object"}}}}
        }
    }})));
    let inner = || {
        json!({"apiVersion": "t.io/v1", "kind": "Thing",
               "items": [{"name": "a"}, {"name": "b", "v": 2}]})
    };
    let out = run(
        &set,
        json!({"apiVersion": "t.io/v1", "kind": "Wrapper", "metadata": {"name": "w"},
               "spec": {"inner": inner(), "known": inner()}}),
        json!({"spec": {"inner": {"items": [{"name": "b", "v": 3}]},
                        "known": {"items": [{"name": "b", "v": 3}]}}}),
    )
    .unwrap();
    assert_eq!(names(&out["spec"]["inner"]["items"], "name"), ["b", "a"]);
    assert_eq!(
        out["spec"]["known"]["items"],
        json!([{"name": "b", "v": 3}])
    );
}

#[test]
fn unusable_refs_are_errors() {
    let kind = json!([{"group": "x.io", "version": "v1", "kind": "Thing"}]);
    let with_ref = |r: Value, extra: Value| {
        let mut defs = json!({"x.Thing": {"x-kubernetes-group-version-kind": kind.clone(),
            "properties": {"spec": {"$ref": r}}}});
        if let (Value::Object(d), Value::Object(e)) = (&mut defs, extra) {
            d.extend(e);
        }
        SchemaSet::custom(schema(json!({"definitions": defs})))
    };
    let t = || thing(json!({"a": [1]}));
    let p = || thing(json!({"a": [2]}));
    let e = run(&with_ref(json!("#/definitions/nope"), json!({})), t(), p()).unwrap_err();
    assert_eq!(e.path(), "spec");
    assert!(e.message().contains("no definition `nope`"), "{e}");
    assert!(!e.message().contains("built-in"), "{e}");
    let e = run(&with_ref(json!("x.Spec"), json!({})), t(), p()).unwrap_err();
    assert!(
        e.message().contains("not a reference to a definition"),
        "{e}"
    );
    let e = run(
        &with_ref(
            json!("#/definitions/x.A"),
            json!({"x.A": {"$ref": "#/definitions/x.B"}, "x.B": {"$ref": "#/definitions/x.A"}}),
        ),
        t(),
        p(),
    )
    .unwrap_err();
    assert!(e.message().contains("cycle"), "{e}");
    let e = run(
        &with_ref(
            json!("#/definitions/x.A/properties/nope"),
            json!({"x.A": {"properties": {}}}),
        ),
        t(),
        p(),
    )
    .unwrap_err();
    assert!(e.message().contains("leads to no schema"), "{e}");
    // A pointer into a definition's field works.
    let out = run(
        &with_ref(
            json!("#/definitions/x.A/properties/inner"),
            json!({"x.A": {"properties": {"inner": {"properties": {"a": {
                "type": "array", "x-kubernetes-patch-strategy": "merge"}}}}}}),
        ),
        t(),
        p(),
    )
    .unwrap();
    assert_eq!(out["spec"]["a"], json!([2, 1]));
}

#[test]
fn named_builtin_definitions_match_the_folded_table() {
    // Every built-in definition walked by name behaves as its `Ty` (same fields, same
    // rules, equivalent targets), so walking by name changes nothing until a custom
    // definition replaces one.
    fn same(name: &str, t: Ty, depth: usize) {
        assert!(depth < 16, "{name}");
        let lo = defs::NAMED_FIELDS.partition_point(|(d, _, _)| *d < name);
        let named: Vec<_> = defs::NAMED_FIELDS[lo..]
            .iter()
            .take_while(|(d, _, _)| *d == name)
            .collect();
        let folded: Vec<_> = FIELDS.iter().filter(|(ty, _, _)| *ty == t).collect();
        assert_eq!(named.len(), folded.len(), "{name} vs {t:?}");
        for (_, f, r) in named {
            let (_, _, fr) = folded
                .iter()
                .find(|(_, ff, _)| ff == f)
                .unwrap_or_else(|| panic!("{name}.{f} not in {t:?}"));
            let ty_of =
                |n: &str| defs::DEFINITIONS[usize::from(builtin_def(n).expect("defined"))].1;
            match (r, fr) {
                (NamedRule::Object(n), Rule::Object(c)) => {
                    assert_eq!(ty_of(n), *c, "{name}.{f}");
                    same(n, *c, depth + 1);
                }
                (NamedRule::Keyed(k, e), Rule::Keyed(fk, fe)) => {
                    assert_eq!(k, fk, "{name}.{f}");
                    match e {
                        Some(n) => {
                            assert_eq!(ty_of(n), *fe, "{name}.{f}");
                            same(n, *fe, depth + 1);
                        }
                        None => assert_eq!(*fe, Ty::Inert, "{name}.{f}"),
                    }
                }
                (NamedRule::Primitive, Rule::Primitive) => {}
                _ => panic!("{name}.{f}: {r:?} vs {fr:?}"),
            }
        }
    }
    assert!(defs::DEFINITIONS.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(
        defs::NAMED_FIELDS
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
    );
    assert!(
        defs::KIND_DEFINITIONS
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
    );
    for (name, t) in defs::DEFINITIONS {
        if *t != Ty::Inert {
            same(name, *t, 0);
        }
    }
    for (av, k, name) in defs::KIND_DEFINITIONS {
        let d = builtin_def(name).expect("kind definition exists");
        assert_eq!(
            Some(defs::DEFINITIONS[usize::from(d)].1),
            builtin_type(av, k),
            "{av} {k}"
        );
    }
    for (av, kinds) in KINDS {
        for (k, _) in *kinds {
            if *av != "kustomize.config.k8s.io/v1beta1" {
                assert!(
                    defs::KIND_DEFINITIONS
                        .iter()
                        .any(|(a, kk, _)| a == av && kk == k),
                    "{av} {k} has no definition name"
                );
            }
        }
    }
}
