//! Output order: kustomize's "legacy" order (its default) or input order (`fifo`).

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::load::kustomization::SortOptions;
use crate::model::{ResId, ResourceSet};

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

pub fn apply(options: Option<&SortOptions>, set: &mut ResourceSet) -> Result<()> {
    let order = options.and_then(|o| o.order.as_deref()).unwrap_or("legacy");
    match order {
        "fifo" => {
            if options.is_some_and(|o| o.legacy_sort_options.is_some()) {
                return Err(Error::new(
                    "sortOptions.legacySortOptions is set but the order is `fifo`, not `legacy`",
                ));
            }
            Ok(())
        }
        "legacy" => {
            let (first, last): (Vec<&str>, Vec<&str>) =
                match options.and_then(|o| o.legacy_sort_options.as_ref()) {
                    Some(l) => (
                        l.order_first.iter().map(String::as_str).collect(),
                        l.order_last.iter().map(String::as_str).collect(),
                    ),
                    None => (ORDER_FIRST.to_vec(), ORDER_LAST.to_vec()),
                };
            let rank = |kind: &str| -> i64 {
                if let Some(i) = first.iter().position(|k| *k == kind) {
                    return i as i64 - first.len() as i64;
                }
                if let Some(i) = last.iter().position(|k| *k == kind) {
                    return 1 + i as i64;
                }
                0
            };
            let mut keyed: Vec<(i64, String, String, _)> = std::mem::take(set)
                .into_iter()
                .map(|r| {
                    let id = r.id();
                    (rank(&id.kind), gvk_key(&id), id_key(&id), r)
                })
                .collect();
            keyed.sort_by(|a, b| {
                compare(
                    a.0,
                    &a.1,
                    &a.2,
                    b.0,
                    &b.1,
                    &b.2,
                    a.3.kind() == "Namespace"
                        && b.3.kind() == "Namespace"
                        && (a.3.id().group.is_empty() || b.3.id().group.is_empty()),
                )
            });
            set.extend(keyed.into_iter().map(|k| k.3));
            Ok(())
        }
        other => Err(Error::new(format!(
            "sortOptions.order must be `legacy` or `fifo`, not `{other}`"
        ))),
    }
}

fn compare(ra: i64, ga: &str, ia: &str, rb: i64, gb: &str, ib: &str, namespaces: bool) -> Ordering {
    if ga != gb {
        if ra != rb {
            return ra.cmp(&rb);
        }
        // kustomize puts core Namespaces after other groups' Namespace kinds.
        return if namespaces { gb.cmp(ga) } else { ga.cmp(gb) };
    }
    ia.cmp(ib)
}

fn gvk_key(id: &ResId) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&id.group, "~G"),
        or(&id.version, "~V"),
        or(&id.kind, "~K")
    )
}

/// kustomize's `legacyResIDSortString`: `kind.version.group|namespace|name`.
fn id_key(id: &ResId) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}.{}.{}|{}|{}",
        or(&id.kind, "[noKind]"),
        or(&id.version, "[noVer]"),
        or(&id.group, "[noGrp]"),
        or(&id.namespace, "~X"),
        or(&id.name, "~N")
    )
}
