//! Where fields live, as data: kustomize's field specs (`spec/template/metadata/labels`,
//! `spec/containers[]/image`), one table per built-in transformer, and the walk that visits
//! them. A list met on the way is entered element by element, as kustomize does.

use serde_json::{Map, Value};

use crate::model::Resource;

/// One place a field lives, for the kinds it applies to (an empty group/version/kind matches
/// any).
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub path: &'static str,
    pub create: bool,
}

/// A field spec written by a user (`labels[].fields`).
#[derive(Debug, Clone)]
pub struct OwnedFieldSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: String,
    pub create: bool,
}

impl From<&FieldSpec> for OwnedFieldSpec {
    fn from(f: &FieldSpec) -> Self {
        OwnedFieldSpec {
            group: f.group.into(),
            version: f.version.into(),
            kind: f.kind.into(),
            path: f.path.into(),
            create: f.create,
        }
    }
}

impl OwnedFieldSpec {
    pub fn applies_to(&self, r: &Resource) -> bool {
        let (group, version, kind) = r.gvk();
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }
}

const fn fs(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> FieldSpec {
    FieldSpec {
        group,
        version,
        kind,
        path,
        create,
    }
}

/// `metadata/labels` and the pod template labels of workloads (kustomize's
/// `metadataLabelsFieldSpecs`), plus StatefulSet volume claim templates.
pub const METADATA_LABELS: &[FieldSpec] = &[
    fs("", "", "", "metadata/labels", true),
    fs(
        "",
        "v1",
        "ReplicationController",
        "spec/template/metadata/labels",
        true,
    ),
    fs("", "", "Deployment", "spec/template/metadata/labels", true),
    fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
    fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
    fs(
        "apps",
        "",
        "StatefulSet",
        "spec/template/metadata/labels",
        true,
    ),
    fs("batch", "", "Job", "spec/template/metadata/labels", true),
    fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/metadata/labels",
        true,
    ),
    fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ),
];

pub const VOLUME_CLAIM_TEMPLATE_LABELS: &[FieldSpec] = &[fs(
    "apps",
    "",
    "StatefulSet",
    "spec/volumeClaimTemplates[]/metadata/labels",
    true,
)];

/// Selectors that `commonLabels` (and `labels` with `includeSelectors`) also set.
pub const SELECTOR_LABELS: &[FieldSpec] = &[
    fs("", "v1", "Service", "spec/selector", true),
    fs("", "v1", "ReplicationController", "spec/selector", true),
    fs("", "", "Deployment", "spec/selector/matchLabels", true),
    fs(
        "apps",
        "",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "Deployment",
        "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        false,
    ),
    fs("", "", "ReplicaSet", "spec/selector/matchLabels", true),
    fs("", "", "DaemonSet", "spec/selector/matchLabels", true),
    fs("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
    fs(
        "apps",
        "",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    fs(
        "apps",
        "",
        "StatefulSet",
        "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        false,
    ),
    fs("batch", "", "Job", "spec/selector/matchLabels", false),
    fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/spec/selector/matchLabels",
        false,
    ),
    fs(
        "policy",
        "",
        "PodDisruptionBudget",
        "spec/selector/matchLabels",
        false,
    ),
    fs(
        "networking.k8s.io",
        "",
        "NetworkPolicy",
        "spec/podSelector/matchLabels",
        false,
    ),
    fs(
        "networking.k8s.io",
        "",
        "NetworkPolicy",
        "spec/ingress/from/podSelector/matchLabels",
        false,
    ),
    fs(
        "networking.k8s.io",
        "",
        "NetworkPolicy",
        "spec/egress/to/podSelector/matchLabels",
        false,
    ),
];

/// `commonAnnotations`.
pub const ANNOTATIONS: &[FieldSpec] = &[
    fs("", "", "", "metadata/annotations", true),
    fs(
        "",
        "v1",
        "ReplicationController",
        "spec/template/metadata/annotations",
        true,
    ),
    fs(
        "",
        "",
        "Deployment",
        "spec/template/metadata/annotations",
        true,
    ),
    fs(
        "",
        "",
        "ReplicaSet",
        "spec/template/metadata/annotations",
        true,
    ),
    fs(
        "",
        "",
        "DaemonSet",
        "spec/template/metadata/annotations",
        true,
    ),
    fs(
        "",
        "",
        "StatefulSet",
        "spec/template/metadata/annotations",
        true,
    ),
    fs(
        "batch",
        "",
        "Job",
        "spec/template/metadata/annotations",
        true,
    ),
    fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/metadata/annotations",
        true,
    ),
    fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/annotations",
        true,
    ),
];

/// `images`: container images of pods and pod templates (kustomize also walks every
/// `containers`/`initContainers` list anywhere, see `images.rs`). Image volumes
/// (`volumes[].image.reference`) are not rewritten: kustomize v5.5 does not either.
pub const IMAGES: &[FieldSpec] = &[
    fs("", "", "", "spec/containers[]/image", true),
    fs("", "", "", "spec/initContainers[]/image", true),
    fs("", "", "", "spec/template/spec/containers[]/image", true),
    fs(
        "",
        "",
        "",
        "spec/template/spec/initContainers[]/image",
        true,
    ),
];

/// `replicas`.
pub const REPLICAS: &[FieldSpec] = &[
    fs("", "", "Deployment", "spec/replicas", true),
    fs("", "", "ReplicationController", "spec/replicas", true),
    fs("", "", "ReplicaSet", "spec/replicas", true),
    fs("", "", "StatefulSet", "spec/replicas", true),
];

/// `namePrefix` and `nameSuffix`: the name.
pub const NAME: &[FieldSpec] = &[fs("", "", "", "metadata/name", false)];

/// `namespace`: besides `metadata/namespace` of every namespaced object, the name of a
/// Namespace (only a `v1` object's, `namespace.rs`), and service namespaces.
pub const NAMESPACE: &[FieldSpec] = &[
    fs("", "", "Namespace", "metadata/name", true),
    fs(
        "apiregistration.k8s.io",
        "",
        "APIService",
        "spec/service/namespace",
        true,
    ),
    fs(
        "apiextensions.k8s.io",
        "",
        "CustomResourceDefinition",
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    ),
];

/// Visits the field at `path` (segments separated by `/`, `name[]` for a list) in `value`.
/// Missing parents and the field itself are created (as mappings, the field as null, for
/// `visit` to fill) when `create` is set; otherwise a missing field is skipped. A null on the
/// way counts as missing.
pub fn visit<E>(
    value: &mut Value,
    path: &str,
    create: bool,
    visit: &mut dyn FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    walk(value, &segments, create, visit)
}

fn walk<E>(
    value: &mut Value,
    segments: &[&str],
    create: bool,
    visit: &mut dyn FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    let Some((first, rest)) = segments.split_first() else {
        return visit(value);
    };
    if let Value::Array(items) = value {
        for item in items {
            walk(item, segments, create, visit)?;
        }
        return Ok(());
    }
    let (key, is_list) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    if value.is_null() && create {
        *value = Value::Object(Map::new());
    }
    let Value::Object(map) = value else {
        return Ok(());
    };
    let present = map.get(key).is_some_and(|v| !v.is_null());
    if !present {
        if !create || is_list {
            return Ok(());
        }
        map.insert(key.to_string(), Value::Null);
    }
    let child = map.get_mut(key).expect("present or just inserted");
    if is_list {
        if let Value::Array(items) = child {
            for item in items {
                walk(item, rest, create, visit)?;
            }
        }
        return Ok(());
    }
    walk(child, rest, create, visit)
}

/// Visits, in one resource, the fields of every spec that applies to its kind; returns how
/// many specs applied. `create` overrides each spec's own `create` when given.
pub fn visit_resource<E>(
    r: &mut crate::model::Resource,
    specs: &[OwnedFieldSpec],
    create: Option<bool>,
    f: &mut dyn FnMut(&mut Value) -> Result<(), E>,
) -> Result<usize, E> {
    let applicable: Vec<&OwnedFieldSpec> = specs.iter().filter(|s| s.applies_to(r)).collect();
    if applicable.is_empty() {
        return Ok(0);
    }
    r.edit_value(|obj| {
        for spec in &applicable {
            visit(obj, &spec.path, create.unwrap_or(spec.create), f)?;
        }
        Ok(applicable.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set_x(v: &mut Value, path: &str, create: bool) {
        visit::<()>(v, path, create, &mut |f| {
            *f = json!("x");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn creates_only_when_asked() {
        let mut v = json!({"spec": {}});
        set_x(&mut v, "spec/template/metadata/labels", false);
        assert_eq!(v, json!({"spec": {}}));
        set_x(&mut v, "spec/template/metadata/labels", true);
        assert_eq!(
            v,
            json!({"spec": {"template": {"metadata": {"labels": "x"}}}})
        );
    }

    #[test]
    fn enters_lists_marked_and_unmarked() {
        let mut v = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}],
            "affinity": [{"term": {"m": 1}}, {"other": 1}]}});
        set_x(&mut v, "spec/containers[]/image", true);
        set_x(&mut v, "spec/affinity/term/m", false);
        assert_eq!(
            v,
            json!({"spec": {"containers": [{"image": "x"}, {"image": "x"}],
                "affinity": [{"term": {"m": "x"}}, {"other": 1}]}})
        );
    }
}
