//! `namespace` and the builtin NamespaceTransformer (kustomize's `filters/namespace`): sets
//! `metadata.namespace` of every namespaced object, then every field the `namespace` field
//! specs name (by default the name of a `v1` Namespace, and the service namespaces of
//! APIServices and CRD conversion webhooks), and the namespace of (Cluster)RoleBinding
//! subjects named `default` (or of every ServiceAccount subject, or none, as configured).

use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::fieldspec::{self, OwnedFieldSpec};
use crate::kustomize::schema::{openapi, scope};
use crate::model::{Resource, ResourceSet};

/// Which (Cluster)RoleBinding subjects get the namespace (`setRoleBindingSubjects`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Subjects {
    /// Subjects named `default` (kustomize's default).
    #[default]
    DefaultOnly,
    /// Every ServiceAccount subject.
    AllServiceAccounts,
    /// None.
    None,
}

/// How the namespace is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Only where no namespace is set yet (`unsetOnly`).
    pub unset_only: bool,
    pub subjects: Subjects,
}

/// `specs`: the `namespace` field specs in use (kustomize's defaults and the tree's own).
pub fn apply(namespace: &str, set: &mut ResourceSet, specs: &[OwnedFieldSpec]) -> Result<()> {
    apply_with(namespace, set, specs, Mode::default(), None)
}

/// [`apply`] in a build, where a custom OpenAPI schema in use may say (in its `paths`) which
/// kinds outside kustomize's precomputed table are cluster-scoped.
pub fn apply_scoped(
    namespace: &str,
    set: &mut ResourceSet,
    specs: &[OwnedFieldSpec],
    mode: Mode,
    oa: &openapi::Tracker,
) -> Result<()> {
    oa.saw_all(set);
    let scopes = oa.scopes();
    apply_with(namespace, set, specs, mode, scopes.as_deref())
}

fn is_binding(kind: &str) -> bool {
    kind == "RoleBinding" || kind == "ClusterRoleBinding"
}

fn apply_with(
    namespace: &str,
    set: &mut ResourceSet,
    specs: &[OwnedFieldSpec],
    mode: Mode,
    schema: Option<&openapi::CustomSchema>,
) -> Result<()> {
    let set_value = |v: &mut Value| {
        let empty = match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if !mode.unset_only || empty {
            *v = Value::String(namespace.into());
        }
    };
    // Each object is moved on its own: on all cores for a large set.
    let one = |r: &mut Resource| {
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
            let mut md = r.metadata_mut();
            let v = md.entry("namespace").or_insert(Value::Null);
            set_value(v);
        }
        // kustomize sets `metadata/name` only in `v1` objects, and binding subjects itself.
        let v1 = r.api_version() == "v1";
        let binding = is_binding(r.kind());
        let specs: Vec<OwnedFieldSpec> = specs
            .iter()
            .filter(|s| s.path != "metadata/namespace")
            .filter(|s| v1 || s.path != "metadata/name")
            .filter(|s| !(binding && is_binding(&s.kind) && s.path == "subjects/namespace"))
            .cloned()
            .collect();
        if binding
            && mode.subjects != Subjects::None
            && let Some(Value::Array(subjects)) = r.obj_mut().get_mut("subjects")
        {
            for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
                let hit = match mode.subjects {
                    Subjects::DefaultOnly => {
                        s.get("name").and_then(Value::as_str) == Some("default")
                    }
                    _ => s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"),
                };
                if hit {
                    set_value(s.entry("namespace").or_insert(Value::Null));
                }
            }
        }
        let _ = fieldspec::visit_resource::<()>(r, &specs, None, &mut |v| {
            if v.is_string() || v.is_null() {
                set_value(v);
            }
            Ok(())
        });
    };
    if set.len() >= crate::parallel::PARALLEL_MIN {
        use rayon::prelude::*;
        set.par_iter_mut().for_each(one);
    } else {
        set.iter_mut().for_each(one);
    }
    // kustomize: "namespace transformation produces ID conflict".
    crate::model::check_unique(set).map_err(|e| {
        Error::new(format!(
            "the namespace `{namespace}` gives two objects one identity: {}",
            e.message
        ))
        .help("two objects that differed only by namespace now share it; rename one of them")
    })
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
                item: None,
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
        let specs = &crate::kustomize::configurations::TransformerConfig::defaults().namespace;
        apply("prod", &mut set, specs).unwrap();
        assert_eq!(set[0].namespace(), "prod");
        assert_eq!(set[0].previous_ids[0].namespace, "old");
        assert_eq!(set[1].namespace(), "");
        assert_eq!(set[2].name(), "prod");
        assert_eq!(set[3].obj()["subjects"][0]["namespace"], json!("prod"));
        assert_eq!(set[3].obj()["subjects"][1]["namespace"], json!("x"));
    }
}
