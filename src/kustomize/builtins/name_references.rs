//! Back references, fixed once at the end of a top-level build (kustomize's
//! `FixBackReferences`): where an object refers to another by name, and a transform renamed
//! or moved the referred object (a generator's hash suffix, a `namespace`), the reference
//! follows it. Which fields refer to which kinds is kustomize's name-reference table
//! (`api/internal/konfig/builtinpluginconsts/namereference.go`), kept here as data in
//! `NAME_REFERENCES`; the choice of the referred object is kustomize's (`api/filters/nameref`).

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::kustomize::configurations::NameRefSpec;
use crate::kustomize::fieldspec::OwnedFieldSpec;
use crate::kustomize::schema::scope;
use crate::model::{ResId, ResourceSet};

/// The kinds one kind of object is referred to from: the referred (group, version, kind),
/// and each referring (group, version, kind, path); an empty part matches any. A path
/// segment may hold a `/` written `\/` (annotation keys).
pub struct NameRef {
    pub referral: (&'static str, &'static str, &'static str),
    pub referrers: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

pub const NAME_REFERENCES: &[NameRef] = &[
    NameRef {
        referral: ("", "", "Deployment"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    NameRef {
        referral: ("", "", "ReplicationController"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    NameRef {
        referral: ("", "", "ReplicaSet"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    NameRef {
        referral: ("", "", "StatefulSet"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    NameRef {
        referral: ("", "v1", "ConfigMap"),
        referrers: &[
            ("", "v1", "Pod", "spec/volumes/configMap/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            ("", "v1", "Pod", "spec/containers/envFrom/configMapRef/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "v1",
                "Pod",
                "spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            ("", "", "Job", "spec/template/spec/volumes/configMap/name"),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            ("", "", "Node", "spec/configSource/configMap"),
            ("", "", "Role", "rules/resourceNames"),
            ("", "", "ClusterRole", "rules/resourceNames"),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            ),
        ],
    },
    NameRef {
        referral: ("", "v1", "Secret"),
        referrers: &[
            ("", "v1", "Pod", "spec/volumes/secret/secretName"),
            (
                "",
                "v1",
                "Pod",
                "spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            ("", "v1", "Pod", "spec/containers/envFrom/secretRef/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/envFrom/secretRef/name",
            ),
            ("", "v1", "Pod", "spec/imagePullSecrets/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/envFrom/secretRef/name",
            ),
            ("", "", "PodTemplate", "template/spec/imagePullSecrets/name"),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            ("", "", "Job", "spec/template/spec/imagePullSecrets/name"),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/imagePullSecrets/name",
            ),
            ("", "", "Ingress", "spec/tls/secretName"),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            ),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            ),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            ),
            ("", "", "Ingress", "spec/tls/secretName"),
            ("", "", "ServiceAccount", "imagePullSecrets/name"),
            ("", "", "StorageClass", "parameters/secretName"),
            ("", "", "StorageClass", "parameters/adminSecretName"),
            ("", "", "StorageClass", "parameters/userSecretName"),
            ("", "", "StorageClass", "parameters/secretRef"),
            ("", "", "Role", "rules/resourceNames"),
            ("", "", "ClusterRole", "rules/resourceNames"),
            (
                "serving.knative.dev",
                "v1",
                "Service",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            ("", "", "PersistentVolume", "spec/azureFile/secretName"),
        ],
    },
    NameRef {
        referral: ("", "v1", "Service"),
        referrers: &[
            ("apps", "", "StatefulSet", "spec/serviceName"),
            (
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/serviceName",
            ),
            ("", "", "Ingress", "spec/backend/serviceName"),
            (
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/service/name",
            ),
            ("", "", "Ingress", "spec/defaultBackend/service/name"),
            (
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/name",
            ),
            (
                "admissionregistration.k8s.io",
                "",
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
            (
                "admissionregistration.k8s.io",
                "",
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
        ],
    },
    NameRef {
        referral: ("rbac.authorization.k8s.io", "", "Role"),
        referrers: &[(
            "rbac.authorization.k8s.io",
            "",
            "RoleBinding",
            "roleRef/name",
        )],
    },
    NameRef {
        referral: ("rbac.authorization.k8s.io", "", "ClusterRole"),
        referrers: &[
            (
                "rbac.authorization.k8s.io",
                "",
                "RoleBinding",
                "roleRef/name",
            ),
            (
                "rbac.authorization.k8s.io",
                "",
                "ClusterRoleBinding",
                "roleRef/name",
            ),
        ],
    },
    NameRef {
        referral: ("", "v1", "ServiceAccount"),
        referrers: &[
            ("rbac.authorization.k8s.io", "", "RoleBinding", "subjects"),
            (
                "rbac.authorization.k8s.io",
                "",
                "ClusterRoleBinding",
                "subjects",
            ),
            ("", "", "Pod", "spec/serviceAccountName"),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/serviceAccountName",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/serviceAccountName",
            ),
            (
                "",
                "",
                "ReplicationController",
                "spec/template/spec/serviceAccountName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/serviceAccountName",
            ),
            ("", "", "Job", "spec/template/spec/serviceAccountName"),
            ("", "", "DaemonSet", "spec/template/spec/serviceAccountName"),
        ],
    },
    NameRef {
        referral: ("", "v1", "PersistentVolumeClaim"),
        referrers: &[
            (
                "",
                "",
                "Pod",
                "spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "ReplicationController",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
        ],
    },
    NameRef {
        referral: ("", "v1", "PersistentVolume"),
        referrers: &[
            ("", "", "PersistentVolumeClaim", "spec/volumeName"),
            ("", "", "ClusterRole", "rules/resourceNames"),
        ],
    },
    NameRef {
        referral: ("storage.k8s.io", "v1", "StorageClass"),
        referrers: &[
            ("", "", "PersistentVolume", "spec/storageClassName"),
            ("", "", "PersistentVolumeClaim", "spec/storageClassName"),
            (
                "",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
            ),
        ],
    },
    NameRef {
        referral: ("scheduling.k8s.io", "v1", "PriorityClass"),
        referrers: &[
            ("", "", "Pod", "spec/priorityClassName"),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/priorityClassName",
            ),
            ("", "", "Deployment", "spec/template/spec/priorityClassName"),
            (
                "",
                "",
                "ReplicationController",
                "spec/template/spec/priorityClassName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/priorityClassName",
            ),
            ("", "", "Job", "spec/template/spec/priorityClassName"),
            ("", "", "DaemonSet", "spec/template/spec/priorityClassName"),
        ],
    },
    NameRef {
        referral: ("networking.k8s.io/v1", "v1", "IngressClass"),
        referrers: &[("", "", "Ingress", "spec/ingressClassName")],
    },
    NameRef {
        referral: (
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicy",
        ),
        referrers: &[(
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicyBinding",
            "spec/policyName",
        )],
    },
];

/// Does a (group, version, kind) pattern, empty parts matching anything, match this type?
fn type_matches(pattern: (&str, &str, &str), gvk: (&str, &str, &str)) -> bool {
    (pattern.0.is_empty() || pattern.0 == gvk.0)
        && (pattern.1.is_empty() || pattern.1 == gvk.1)
        && (pattern.2.is_empty() || pattern.2 == gvk.2)
}

fn id_gvk(id: &ResId) -> (&str, &str, &str) {
    (&id.group, &id.version, &id.kind)
}

/// kustomize's `EffectiveNamespace`: none for a cluster-scoped object, `default` for a
/// namespaced one without a namespace.
fn effective_namespace(id: &ResId) -> &str {
    if scope::is_cluster_scoped(&id.group, &id.kind) {
        "~X"
    } else if id.namespace.is_empty() {
        "default"
    } else {
        &id.namespace
    }
}

/// A resource that may be referred to under an earlier name: what the choice reads of it.
struct Candidate {
    current: ResId,
    previous: Vec<ResId>,
    /// The namespace it was read with, as kustomize compares it.
    original_namespace: String,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Candidate {
    fn cluster_scoped(&self) -> bool {
        scope::is_cluster_scoped(&self.current.group, &self.current.kind)
    }
}

/// The referring resource, as the choice reads it.
struct Referrer<'a> {
    id: ResId,
    prefixes: &'a [String],
    suffixes: &'a [String],
    /// For a RoleBinding: the namespaces of its ServiceAccount subjects.
    binding_namespaces: Vec<String>,
}

/// One row of the name-reference table, ready to apply: the referred type, the fields that
/// refer to it (paths split), and the candidates indexed by each of their earlier names.
struct Row<'t> {
    referral: (&'t str, &'t str, &'t str),
    referrers: Vec<(&'t OwnedFieldSpec, Vec<String>)>,
    by_name: HashMap<&'t str, Vec<usize>>,
}

/// Fixes name references (kustomize's `FixBackReferences`, `api/filters/nameref`): where an
/// object refers to another by name through a field of the name-reference `table`, and the
/// referred object was renamed or moved, the reference follows it. Of the objects once
/// called by the name written, the one chosen is kustomize's: of the referred kind, in a
/// namespace the referrer can see, then the one renamed in the same context (the same name
/// prefixes and suffixes: one base included twice under two prefixes binds each copy's
/// references to its own copy). Several left that would give different names are an error.
pub fn fix_back_references(set: &mut ResourceSet, table: &[NameRefSpec]) -> Result<()> {
    // Only objects with earlier identities can be chosen (kustomize matches earlier names).
    let candidates: Vec<Candidate> = {
        let one = |r: &crate::model::Resource| {
            (!r.previous_ids.is_empty()).then(|| Candidate {
                current: r.id(),
                original_namespace: effective_namespace(&r.previous_ids[0]).to_string(),
                previous: r.previous_ids.clone(),
                prefixes: r.prefixes.clone(),
                suffixes: r.suffixes.clone(),
            })
        };
        if set.len() < crate::parallel::PARALLEL_MIN {
            set.iter().filter_map(one).collect()
        } else {
            use rayon::prelude::*;
            set.par_iter().filter_map(one).collect()
        }
    };
    if candidates.is_empty() {
        // kustomize still reads every RoleBinding's subjects (a blank namespace is an error
        // whether or not anything was renamed).
        for r in set.iter() {
            binding_namespaces(r)?;
        }
        return Ok(());
    }
    let rows: Vec<Row<'_>> = table
        .iter()
        .filter_map(|nr| make_row(nr, &candidates))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // Each resource's references are fixed on its own: on all cores for a large set.
    let fix = |r: &mut crate::model::Resource| -> Result<()> {
        // Referrers are selected by the type they were read with, as in kustomize.
        let org = r.org_id();
        let refers = rows.iter().any(|row| {
            row.referrers
                .iter()
                .any(|(spec, _)| type_matches(spec_gvk(spec), id_gvk(&org)))
        });
        if !refers {
            return Ok(());
        }
        let binding_namespaces = binding_namespaces(r)?;
        let prefixes = r.prefixes.clone();
        let suffixes = r.suffixes.clone();
        let referrer = Referrer {
            id: r.id(),
            prefixes: &prefixes,
            suffixes: &suffixes,
            binding_namespaces,
        };
        let mut failure: Option<Error> = None;
        r.edit_value(|obj| {
            for row in &rows {
                for (spec, segments) in &row.referrers {
                    if !type_matches(spec_gvk(spec), id_gvk(&org)) {
                        continue;
                    }
                    let role_ref = if spec.path.ends_with("roleRef/name") {
                        role_ref_type(obj)
                    } else {
                        None
                    };
                    let ctx = Choice {
                        row,
                        candidates: &candidates,
                        referrer: &referrer,
                        role_ref: role_ref.as_ref(),
                    };
                    walk(obj, segments, &mut |field| {
                        if failure.is_none()
                            && let Err(e) = ctx.fix_field(field)
                        {
                            failure = Some(e.context(format!(
                                "updating the name reference in `{}` of {}",
                                spec.path, referrer.id
                            )));
                        }
                    });
                }
            }
        });
        failure.map_or(Ok(()), Err)
    };
    let results: Vec<Result<()>> = if set.len() >= crate::parallel::PARALLEL_MIN {
        use rayon::prelude::*;
        set.par_iter_mut().map(fix).collect()
    } else {
        set.iter_mut().map(fix).collect()
    };
    results.into_iter().collect()
}

/// One row of the table over the candidates: those once of its type, by each earlier name.
fn make_row<'t>(nr: &'t NameRefSpec, candidates: &'t [Candidate]) -> Option<Row<'t>> {
    let referral = (nr.group.as_str(), nr.version.as_str(), nr.kind.as_str());
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if !c.previous.iter().any(|p| type_matches(referral, id_gvk(p))) {
            continue;
        }
        for p in &c.previous {
            let list = by_name.entry(p.name.as_str()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    if by_name.is_empty() {
        return None;
    }
    let referrers = nr
        .referrers
        .iter()
        .map(|spec| (spec, split_path(&spec.path)))
        .collect();
    Some(Row {
        referral,
        referrers,
        by_name,
    })
}

fn spec_gvk(spec: &OwnedFieldSpec) -> (&str, &str, &str) {
    (&spec.group, &spec.version, &spec.kind)
}

/// kustomize's `getNamespacesForRoleBinding`: the namespaces of a RoleBinding's
/// ServiceAccount subjects, where the objects it refers to may live.
fn binding_namespaces(r: &crate::model::Resource) -> Result<Vec<String>> {
    if r.kind() != "RoleBinding" {
        return Ok(Vec::new());
    }
    let Some(Value::Array(subjects)) = r.obj().get("subjects") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in subjects.iter().filter_map(Value::as_object) {
        let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind")) else {
            continue;
        };
        if kind.as_str() != Some("ServiceAccount") {
            continue;
        }
        match ns.as_str() {
            Some(ns) => out.push(ns.to_string()),
            None => {
                return Err(Error::new(format!(
                    "a ServiceAccount subject of {} has a blank namespace",
                    r.id()
                ))
                .in_file(&r.origin.file)
                .at(r.origin.line, 1)
                .help("give the subject's `namespace` a value, or remove the key"));
            }
        }
    }
    Ok(out)
}

/// The type a `roleRef` names (its `apiGroup` and `kind`), if both are given.
fn role_ref_type(obj: &Value) -> Option<(String, String)> {
    let rr = obj.get("roleRef")?;
    let group = rr.get("apiGroup")?;
    let kind = rr.get("kind")?;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Some((text(group), text(kind)))
}

/// The choice of a referred object for one referring field.
struct Choice<'a, 't> {
    row: &'a Row<'t>,
    candidates: &'a [Candidate],
    referrer: &'a Referrer<'a>,
    role_ref: Option<&'a (String, String)>,
}

impl Choice<'_, '_> {
    /// Points one referring field (a name, a mapping with `name` and `namespace`, or a list
    /// of them) at the chosen object's current name.
    fn fix_field(&self, field: &mut Value) -> Result<()> {
        match field {
            Value::Null => Ok(()),
            Value::Object(map) => {
                let Some(name) = map.get("name") else {
                    return Err(Error::new(
                        "the name-reference field is a mapping without a `name` field",
                    )
                    .help("a field spec of `nameReference` must lead to a name, or to a mapping with `name` (and `namespace`)"));
                };
                let name = scalar_text(name);
                let ns = map.get("namespace").map(scalar_text);
                let pool = self.by_namespace(ns.as_deref());
                let Some(c) = self.select(&name, pool, true)? else {
                    return Ok(());
                };
                if c.current.name == name && c.current.namespace.is_empty() {
                    return Ok(());
                }
                map.insert("name".into(), Value::String(c.current.name.clone()));
                if !c.current.namespace.is_empty() {
                    map.insert(
                        "namespace".into(),
                        Value::String(c.current.namespace.clone()),
                    );
                }
                Ok(())
            }
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Array(_) => {}
                        other => self.fix_field(other)?,
                    }
                }
                Ok(())
            }
            scalar => {
                let name = scalar_text(scalar);
                let pool = self.visible();
                if let Some(c) = self.select(&name, pool, false)?
                    && c.current.name != name
                {
                    *scalar = Value::String(c.current.name.clone());
                }
                Ok(())
            }
        }
    }

    /// kustomize's `SubsetThatCouldBeReferencedByResource`: every candidate for a
    /// cluster-scoped referrer; otherwise cluster-scoped ones, those in the referrer's
    /// namespace, and those in a namespace its RoleBinding subjects name.
    fn visible(&self) -> Vec<usize> {
        let r = &self.referrer;
        let referrer_ns = effective_namespace(&r.id);
        (0..self.candidates.len())
            .filter(|&i| {
                let c = &self.candidates[i];
                referrer_ns == "~X"
                    || c.cluster_scoped()
                    || effective_namespace(&c.current) == referrer_ns
                    || r.binding_namespaces.contains(&c.current.namespace)
            })
            .collect()
    }

    /// kustomize's `filterMapCandidatesByNamespace`: for a mapping with a `namespace`, the
    /// visible candidates that were read in that namespace, or else those in it now.
    fn by_namespace(&self, ns: Option<&str>) -> Vec<usize> {
        let visible = self.visible();
        let Some(ns) = ns else { return visible };
        let original: Vec<usize> = visible
            .iter()
            .copied()
            .filter(|&i| self.candidates[i].original_namespace == ns)
            .collect();
        if !original.is_empty() {
            return original;
        }
        visible
            .into_iter()
            .filter(|&i| {
                let c = &self.candidates[i];
                !c.cluster_scoped() && effective_namespace(&c.current) == ns
            })
            .collect()
    }

    /// kustomize's `selectReferral`, among `pool`. `mapping`: the field is a mapping, whose
    /// candidates are the same only if name and namespace are.
    fn select(&self, name: &str, pool: Vec<usize>, mapping: bool) -> Result<Option<&Candidate>> {
        let Some(named) = self.row.by_name.get(name) else {
            return Ok(None);
        };
        let referrer_ns = effective_namespace(&self.referrer.id);
        let mut hits: Vec<&Candidate> = named
            .iter()
            .filter(|i| pool.contains(i))
            .map(|&i| &self.candidates[i])
            .filter(|c| {
                self.role_ref.is_none_or(|(group, kind)| {
                    c.previous
                        .iter()
                        .any(|p| type_matches((group, "", kind), id_gvk(p)))
                })
            })
            .filter(|c| {
                referrer_ns == "~X"
                    || c.cluster_scoped()
                    || c.current.kind == "ServiceAccount"
                    || effective_namespace(&c.current) == referrer_ns
            })
            .collect();
        if hits.len() == 1 {
            return Ok(hits.pop());
        }
        let r = self.referrer;
        hits.retain(|c| same_context(c, r, true));
        if hits.len() > 1 {
            hits.retain(|c| same_context(c, r, false));
        }
        match hits.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            [first, rest @ ..] => {
                let same = rest.iter().all(|c| {
                    c.current.name == first.current.name
                        && (!mapping || c.current.namespace == first.current.namespace)
                });
                if same {
                    return Ok(Some(first));
                }
                let ids: Vec<String> = hits.iter().map(|c| c.current.to_string()).collect();
                Err(Error::new(format!(
                    "found multiple possible referrals for `{name}` ({} of the referrer): {}",
                    self.row.referral.2,
                    ids.join(", ")
                ))
                .help("the name is ambiguous: give the objects different names, or include them under different name prefixes or suffixes so that each reference binds to its own copy"))
            }
        }
    }
}

/// kustomize's `PrefixesSuffixesEquals`: the candidate was renamed in the referrer's context
/// (the same trailing prefixes and suffixes); with `allow_empty`, an empty list matches any.
fn same_context(c: &Candidate, r: &Referrer<'_>, allow_empty: bool) -> bool {
    let ends_alike = |a: &[String], b: &[String]| {
        (allow_empty && (a.is_empty() || b.is_empty())) || same_ending(a, b)
    };
    ends_alike(&c.prefixes, r.prefixes) && ends_alike(&c.suffixes, r.suffixes)
}

/// kustomize's `SameEndingSubSlice`: the shorter list is the end of the longer one (an
/// empty list is the end only of an empty one).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long[long.len() - short.len()..] == *short
}

/// A scalar's text, as kustomize reads a YAML node's value.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Splits a field-spec path at `/`, except `\/`.
fn split_path(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                out.last_mut().expect("one segment").push('/');
                chars.next();
            }
            '/' => out.push(String::new()),
            c => out.last_mut().expect("one segment").push(c),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Visits the values at `segments`, entering lists element by element; at the end of the
/// path the value is visited as it is (a list of names included).
fn walk(value: &mut Value, segments: &[String], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segments.split_first() else {
        f(value);
        return;
    };
    match value {
        Value::Array(items) => {
            for item in items {
                walk(item, segments, f);
            }
        }
        Value::Object(map) => {
            if let Some(child) = map.get_mut(first.as_str()) {
                walk(child, rest, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, Resource};
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn res(v: Value) -> Resource {
        Resource::from_value(
            v,
            Origin {
                file: Arc::new(PathBuf::from("t.yaml")),
                line: 1,
                doc_index: 0,
                item: None,
            },
        )
        .unwrap()
    }

    fn renamed(kind: &str, api: &str, from: &str, to: &str) -> Resource {
        let mut r = res(json!({"apiVersion": api, "kind": kind, "metadata": {"name": from}}));
        r.remember_id();
        r.metadata_mut().insert("name".into(), to.into());
        r
    }

    fn fixed(referrer: Value, referred: Vec<Resource>) -> Value {
        let mut set = referred;
        set.push(res(referrer));
        fix_back_references(
            &mut set,
            &crate::kustomize::configurations::TransformerConfig::defaults().name_reference,
        )
        .unwrap();
        set.pop().unwrap().into_value()
    }

    #[test]
    fn pod_template_references_follow_configmaps_and_secrets() {
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {
                "imagePullSecrets": [{"name": "s"}],
                "volumes": [{"name": "v", "configMap": {"name": "c"}},
                    {"name": "w", "secret": {"secretName": "s"}},
                    {"name": "p", "projected": {"sources": [{"configMap": {"name": "c"}},
                        {"secret": {"name": "s"}}]}}],
                "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "s"}}]}],
                "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "c"}}],
                    "env": [{"name": "E", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                        {"name": "F", "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}}}]}]}}}});
        let out = fixed(
            dep,
            vec![
                renamed("ConfigMap", "v1", "c", "c-h"),
                renamed("Secret", "v1", "s", "s-h"),
            ],
        );
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(spec["imagePullSecrets"][0]["name"], "s-h");
        assert_eq!(spec["volumes"][0]["configMap"]["name"], "c-h");
        assert_eq!(spec["volumes"][1]["secret"]["secretName"], "s-h");
        assert_eq!(
            spec["volumes"][2]["projected"]["sources"][0]["configMap"]["name"],
            "c-h"
        );
        assert_eq!(
            spec["volumes"][2]["projected"]["sources"][1]["secret"]["name"],
            "s-h"
        );
        assert_eq!(
            spec["initContainers"][0]["envFrom"][0]["secretRef"]["name"],
            "s-h"
        );
        let c = &spec["containers"][0];
        assert_eq!(c["envFrom"][0]["configMapRef"]["name"], "c-h");
        assert_eq!(c["env"][0]["valueFrom"]["configMapKeyRef"]["name"], "c-h");
        assert_eq!(c["env"][1]["valueFrom"]["secretKeyRef"]["name"], "other");
    }

    #[test]
    fn a_configmap_name_in_a_secret_field_does_not_follow() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "v", "secret": {"secretName": "c"}}]}});
        let out = fixed(pod, vec![renamed("ConfigMap", "v1", "c", "c-h")]);
        assert_eq!(out["spec"]["volumes"][0]["secret"]["secretName"], "c");
    }

    #[test]
    fn role_refs_follow_only_their_kind() {
        let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r",
            "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}]});
        let out = fixed(
            rb,
            vec![
                renamed("Role", "rbac.authorization.k8s.io/v1", "r", "role-x"),
                renamed("ServiceAccount", "v1", "sa", "p-sa"),
            ],
        );
        assert_eq!(out["roleRef"]["name"], "r");
        assert_eq!(out["subjects"][0]["name"], "p-sa");
    }

    #[test]
    fn annotation_paths_with_slashes_and_ingress_tls() {
        let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "annotations": {"nginx.ingress.kubernetes.io/auth-secret": "s"}},
            "spec": {"tls": [{"secretName": "s"}]}});
        let out = fixed(ing, vec![renamed("Secret", "v1", "s", "s-h")]);
        assert_eq!(
            out["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"],
            "s-h"
        );
        assert_eq!(out["spec"]["tls"][0]["secretName"], "s-h");
    }

    #[test]
    fn other_namespaces_are_not_referred_to() {
        let mut cmap = renamed("ConfigMap", "v1", "c", "c-h");
        cmap.metadata_mut().insert("namespace".into(), "a".into());
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "b"},
            "spec": {"volumes": [{"name": "v", "configMap": {"name": "c"}}]}});
        let out = fixed(pod, vec![cmap]);
        assert_eq!(out["spec"]["volumes"][0]["configMap"]["name"], "c");
    }
}
