//! `namespace`: sets `metadata.namespace` of every namespaced object, the name of a `v1`
//! Namespace object, the service namespace of APIServices and CRD conversion webhooks, and
//! the namespace of (Cluster)RoleBinding subjects named `default`, as kustomize does.

use serde_json::Value;

use super::fieldspec::{self, NAMESPACE, OwnedFieldSpec};
use super::{openapi, scope};
use crate::error::Result;
use crate::model::ResourceSet;

/// `extra`: the `namespace` field specs of `configurations:`.
pub fn apply(namespace: &str, set: &mut ResourceSet, extra: &[OwnedFieldSpec]) -> Result<()> {
    apply_with(namespace, set, extra, None)
}

/// [`apply`] in a build, where a custom OpenAPI schema in use may say (in its `paths`) which
/// kinds outside kustomize's precomputed table are cluster-scoped.
pub fn apply_scoped(
    namespace: &str,
    set: &mut ResourceSet,
    extra: &[OwnedFieldSpec],
    oa: &openapi::Tracker,
) -> Result<()> {
    oa.saw_all(set);
    let scopes = oa.scopes();
    apply_with(namespace, set, extra, scopes.as_deref())
}

fn apply_with(
    namespace: &str,
    set: &mut ResourceSet,
    extra: &[OwnedFieldSpec],
    schema: Option<&openapi::CustomSchema>,
) -> Result<()> {
    let mut specs: Vec<OwnedFieldSpec> = NAMESPACE.iter().map(Into::into).collect();
    specs.extend(extra.iter().cloned());
    // Each object is moved on its own: on all cores for a large set.
    let one = |r: &mut crate::model::Resource| {
        r.remember_id();
        let from_schema = schema
            .filter(|_| !openapi::precomputed(r.api_version(), r.kind()))
            .and_then(|s| s.namespaced(r.api_version(), r.kind()));
        let cluster_scoped = match from_schema {
            Some(namespaced) => !namespaced,
            None => {
                let (group, _, kind) = r.gvk();
                scope::is_cluster_scoped(group, kind)
            }
        };
        if !cluster_scoped {
            r.metadata_mut()
                .insert("namespace".into(), Value::String(namespace.into()));
        }
        // A core Namespace object takes the namespace's name (kustomize checks apiVersion v1).
        if r.api_version() == "v1" && r.kind() == "Namespace" {
            r.metadata_mut()
                .insert("name".into(), Value::String(namespace.into()));
        }
        let _ = fieldspec::visit_resource::<()>(r, &specs, None, &mut |v| {
            if v.is_string() || v.is_null() {
                *v = Value::String(namespace.into());
            }
            Ok(())
        });
        let (group, _, kind) = r.gvk();
        if group == "rbac.authorization.k8s.io"
            && (kind == "RoleBinding" || kind == "ClusterRoleBinding")
            && let Some(Value::Array(subjects)) = r.obj_mut().get_mut("subjects")
        {
            for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
                if s.get("name").and_then(Value::as_str) == Some("default") {
                    s.insert("namespace".into(), Value::String(namespace.into()));
                }
            }
        }
    };
    if set.len() >= crate::validate::PARALLEL_MIN {
        use rayon::prelude::*;
        set.par_iter_mut().for_each(one);
    } else {
        set.iter_mut().for_each(one);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Resource};
    use serde_json::json;
    use std::sync::Arc;

    fn res(v: Value) -> Resource {
        Resource::from_value(
            v,
            Origin {
                file: Arc::new("t".into()),
                line: 1,
                doc_index: 0,
            },
        )
        .unwrap()
    }

    #[test]
    fn sets_namespaced_objects_only_and_remembers_the_old_id() {
        let mut set = vec![
            res(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "old"}}),
            ),
            res(
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}}),
            ),
            res(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "whatever"}})),
            res(
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
                "subjects": [{"kind": "ServiceAccount", "name": "default"}, {"kind": "ServiceAccount", "name": "other", "namespace": "x"}]}),
            ),
        ];
        apply("prod", &mut set, &[]).unwrap();
        assert_eq!(set[0].namespace(), "prod");
        assert_eq!(set[0].previous_ids[0].namespace, "old");
        assert_eq!(set[1].namespace(), "");
        assert_eq!(set[2].name(), "prod");
        assert_eq!(set[3].obj()["subjects"][0]["namespace"], json!("prod"));
        assert_eq!(set[3].obj()["subjects"][1]["namespace"], json!("x"));
    }
}
