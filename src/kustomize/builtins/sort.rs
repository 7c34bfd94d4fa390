//! Output order: kustomize's "legacy" order (its default) or input order (`fifo`).

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::kustomize::load::kustomization::SortOptions;
use crate::model::{IdRef, ResourceSet};

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

/// `options`: the kustomization's `sortOptions`; none means kustomize's legacy order.
pub fn apply(options: Option<&SortOptions>, set: &mut ResourceSet) -> Result<()> {
    let order = match options {
        None => "legacy",
        // kustomize: "the field 'sortOptions.order' must be one of [fifo, legacy]".
        Some(o) => o.order.as_deref().unwrap_or(""),
    };
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
            // Keys are built once per resource (on all cores for a large set), not per
            // comparison; the keys are sorted with positions, and each resource is moved once.
            let key = |(i, r): (usize, &crate::model::Resource)| {
                let id = r.id_ref();
                let key = Key {
                    rank: rank(id.kind),
                    gvk: gvk_key(&id),
                    id: id_key(&id),
                    namespace: id.kind == "Namespace",
                    core: id.group.is_empty(),
                };
                (key, i)
            };
            let mut keyed: Vec<(Key, usize)> = if set.len() >= crate::parallel::PARALLEL_MIN {
                use rayon::prelude::*;
                set.par_iter().enumerate().map(key).collect()
            } else {
                set.iter().enumerate().map(key).collect()
            };
            keyed.sort_by(|(a, _), (b, _)| {
                compare(
                    a.rank,
                    &a.gvk,
                    &a.id,
                    b.rank,
                    &b.gvk,
                    &b.id,
                    a.namespace && b.namespace && (a.core || b.core),
                )
            });
            let mut unsorted: Vec<Option<crate::model::Resource>> =
                std::mem::take(set).into_iter().map(Some).collect();
            set.extend(
                keyed
                    .into_iter()
                    .map(|(_, i)| unsorted[i].take().expect("each position is sorted once")),
            );
            Ok(())
        }
        "" => Err(Error::new(
            "`sortOptions` needs `order`: `legacy` or `fifo`",
        )),
        other => Err(Error::new(format!(
            "sortOptions.order must be `legacy` or `fifo`, not `{other}`"
        ))),
    }
}

/// A kind's place in kustomize's default legacy order (negative: first, positive: last).
pub fn kind_rank(kind: &str) -> i64 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i64 - ORDER_FIRST.len() as i64;
    }
    if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
        return 1 + i as i64;
    }
    0
}

/// kustomize's `Gvk.IsLessThan`: by [`kind_rank`], then by group, version and kind as text
/// (an empty part sorts as `~G`, `~V`, `~K`).
pub fn gvk_less(a: (&str, &str, &str), b: (&str, &str, &str)) -> Ordering {
    let key = |(g, v, k): (&str, &str, &str)| {
        gvk_key(&IdRef {
            group: g,
            version: v,
            kind: k,
            namespace: "",
            name: "",
        })
    };
    kind_rank(a.2)
        .cmp(&kind_rank(b.2))
        .then_with(|| key(a).cmp(&key(b)))
}

/// What the legacy order compares, per resource.
struct Key {
    rank: i64,
    gvk: String,
    id: String,
    namespace: bool,
    core: bool,
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

fn gvk_key(id: &IdRef) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(id.group, "~G"),
        or(id.version, "~V"),
        or(id.kind, "~K")
    )
}

/// kustomize's `legacyResIDSortString`: `kind.version.group|namespace|name`.
fn id_key(id: &IdRef) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}.{}.{}|{}|{}",
        or(id.kind, "[noKind]"),
        or(id.version, "[noVer]"),
        or(id.group, "[noGrp]"),
        or(id.namespace, "~X"),
        or(id.name, "~N")
    )
}
