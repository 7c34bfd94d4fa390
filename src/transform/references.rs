//! Back references, fixed once at the end of a top-level build (kustomize's
//! `FixBackReferences`): where an object refers to another by name, and a transform renamed
//! or moved the referred object (a generator's hash suffix, a `namespace`), the reference
//! follows it. Which fields refer to which kinds is kustomize's name-reference table
//! (`api/internal/konfig/builtinpluginconsts/namereference.go`), kept here as data in
//! `NAME_REFERENCES`; the choice of the referred object is kustomize's (`api/filters/nameref`).

use serde_json::Value;

use crate::model::{ResId, ResourceSet};
use crate::transform::scope;
use crate::transform::tconfig::NameRefSpec;

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

fn gvk_matches(pattern: (&str, &str, &str), id: &ResId) -> bool {
    type_matches(pattern, (&id.group, &id.version, &id.kind))
}

/// Does a (group, version, kind) pattern, empty parts matching anything, match this type?
fn type_matches(pattern: (&str, &str, &str), gvk: (&str, &str, &str)) -> bool {
    (pattern.0.is_empty() || pattern.0 == gvk.0)
        && (pattern.1.is_empty() || pattern.1 == gvk.1)
        && (pattern.2.is_empty() || pattern.2 == gvk.2)
}

/// A referred object that was renamed or moved: its identities before, and now.
struct Moved {
    previous: Vec<ResId>,
    current: ResId,
}

/// Fixes references with kustomize's table plus the `nameReference` specs of the tree's
/// `configurations:` (`extra`).
pub fn fix_back_references(set: &mut ResourceSet, extra: &[NameRefSpec]) {
    type Referrer<'a> = (&'a str, &'a str, &'a str, &'a str);
    type Row<'a> = ((&'a str, &'a str, &'a str), Vec<Referrer<'a>>);
    let mut table: Vec<Row<'_>> = NAME_REFERENCES
        .iter()
        .map(|nr| (nr.referral, nr.referrers.to_vec()))
        .collect();
    for e in extra {
        let referral = (e.group.as_str(), e.version.as_str(), e.kind.as_str());
        let refs = e.referrers.iter().map(|s| {
            (
                s.group.as_str(),
                s.version.as_str(),
                s.kind.as_str(),
                s.path.as_str(),
            )
        });
        match table.iter_mut().find(|(r, _)| *r == referral) {
            Some((_, list)) => {
                for r in refs {
                    if !list.contains(&r) {
                        list.push(r);
                    }
                }
            }
            None => table.push((referral, refs.collect())),
        }
    }
    let moved_one = |r: &crate::model::Resource| {
        (!r.previous_ids.is_empty()).then(|| Moved {
            previous: r.previous_ids.clone(),
            current: r.id(),
        })
    };
    // In set order; every object has moved under a `namespace:`, so a large set's are
    // copied on all cores.
    let moved: Vec<Moved> = if set.len() < crate::validate::PARALLEL_MIN {
        set.iter().filter_map(moved_one).collect()
    } else {
        use rayon::prelude::*;
        set.par_iter().filter_map(moved_one).collect()
    };
    if moved.is_empty() {
        return;
    }
    // Per row of the table, the moved objects it concerns, indexed by their earlier names
    // (in `moved` order): computed once, not per referring resource, so fixing references
    // stays linear when every object moved (a `namespace:` over thousands of resources).
    // Each referring field's path is split here once, not per resource.
    // Each row on its own: a large set's rows on all cores.
    type Split<'a> = Vec<(Referrer<'a>, Vec<String>)>;
    fn row<'a, 'm>(
        (referral, referrers): &'a Row<'a>,
        moved: &'m [Moved],
    ) -> Option<(Split<'a>, Candidates<'m>)> {
        let mut by_name = Candidates::new();
        for m in moved
            .iter()
            .filter(|m| m.previous.iter().any(|p| gvk_matches(*referral, p)))
        {
            for p in &m.previous {
                let list = by_name.entry(p.name.as_str()).or_default();
                if !list.last().is_some_and(|l| std::ptr::eq(*l, m)) {
                    list.push(m);
                }
            }
        }
        let split = || referrers.iter().map(|&r| (r, split_path(r.3))).collect();
        (!by_name.is_empty()).then(|| (split(), by_name))
    }
    let rows: Vec<(Split<'_>, Candidates<'_>)> = if moved.len() < crate::validate::PARALLEL_MIN {
        table.iter().filter_map(|r| row(r, &moved)).collect()
    } else {
        use rayon::prelude::*;
        table.par_iter().filter_map(|r| row(r, &moved)).collect()
    };
    // Each resource's references are fixed on its own: on all cores for a large set.
    let fix = |r: &mut crate::model::Resource| {
        // Most objects refer to nothing the table lists: their type says so, read borrowed.
        let gvk = r.gvk();
        let refers = rows
            .iter()
            .flat_map(|(referrers, _)| referrers)
            .any(|&((g, v, k, _), _)| type_matches((g, v, k), gvk));
        if !refers {
            return;
        }
        let referrer_id = r.id();
        r.edit_value(|obj| {
            for (referrers, by_name) in &rows {
                for &((g, v, k, path), ref segments) in referrers {
                    if !gvk_matches((g, v, k), &referrer_id) {
                        continue;
                    }
                    let role_ref_kind = if path.ends_with("roleRef/name") {
                        obj.get("roleRef")
                            .and_then(|r| r.get("kind"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    } else {
                        None
                    };
                    walk(obj, segments, &mut |field| {
                        fix_field(field, &referrer_id, by_name, role_ref_kind.as_deref())
                    });
                }
            }
        });
    };
    if set.len() >= crate::validate::PARALLEL_MIN {
        use rayon::prelude::*;
        set.par_iter_mut().for_each(fix);
    } else {
        set.iter_mut().for_each(fix);
    }
}

/// The moved objects a row of the table concerns, by each of their earlier names.
type Candidates<'a> = std::collections::HashMap<&'a str, Vec<&'a Moved>>;

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

/// Visits the values at `segments`, entering lists element by element.
fn walk(value: &mut Value, segments: &[String], f: &mut dyn FnMut(&mut Value)) {
    if let Value::Array(items) = value {
        for item in items {
            walk(item, segments, f);
        }
        return;
    }
    let Some((first, rest)) = segments.split_first() else {
        f(value);
        return;
    };
    if let Value::Object(map) = value
        && let Some(child) = map.get_mut(first.as_str())
    {
        walk(child, rest, f);
    }
}

/// Points one referring field (a name, or a mapping with `name` and `namespace`) at the
/// referred object's current name. Only the candidates once named so can be chosen (and, for
/// a `roleRef`, only those once of its kind).
fn fix_field(
    field: &mut Value,
    referrer: &ResId,
    by_name: &Candidates<'_>,
    role_ref_kind: Option<&str>,
) {
    let named = |name: &str| -> Vec<&Moved> {
        by_name
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|m| role_ref_kind.is_none_or(|rk| m.previous.iter().any(|p| p.kind == rk)))
            .collect()
    };
    match field {
        Value::String(name) => {
            if let Some(m) = select(name, None, referrer, &named(name)) {
                *name = m.current.name.clone();
            }
        }
        Value::Object(map) => {
            let Some(name) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
                return;
            };
            let ns = map
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(m) = select(&name, Some(&ns), referrer, &named(&name)) {
                map.insert("name".into(), Value::String(m.current.name.clone()));
                if !m.current.namespace.is_empty() {
                    map.insert(
                        "namespace".into(),
                        Value::String(m.current.namespace.clone()),
                    );
                }
            }
        }
        _ => {}
    }
}

/// kustomize's `selectReferral`: the one candidate whose earlier name is `name` (and, for a
/// mapping, whose earlier namespace is the one written), in the referrer's namespace unless
/// either is cluster-scoped (or the candidate a ServiceAccount).
fn select<'a>(
    name: &str,
    map_ns: Option<&str>,
    referrer: &ResId,
    candidates: &[&'a Moved],
) -> Option<&'a Moved> {
    let referrer_cluster = scope::is_cluster_scoped(&referrer.group, &referrer.kind);
    let hits: Vec<&Moved> = candidates
        .iter()
        .copied()
        .filter(|m| {
            m.previous
                .iter()
                .any(|p| p.name == name && map_ns.is_none_or(|ns| p.same_namespace(ns)))
        })
        .filter(|m| {
            map_ns.is_some()
                || referrer_cluster
                || scope::is_cluster_scoped(&m.current.group, &m.current.kind)
                || m.current.kind == "ServiceAccount"
                || m.current.same_namespace(&referrer.namespace)
        })
        .collect();
    match hits.as_slice() {
        [one] => Some(one),
        [first, rest @ ..]
            if rest.iter().all(|m| {
                m.current.name == first.current.name
                    && m.current.namespace == first.current.namespace
            }) =>
        {
            Some(first)
        }
        _ => None,
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
        fix_back_references(&mut set, &[]);
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
