#!/usr/bin/env python3
"""Writes src/validate/rules/gn/field_versions.tsv: the fields of the built-in kinds strata
type-checks that a Kubernetes release after 1.25 added, with the release that added each.

GN001 reads objects with the types of the newest Kubernetes (k8s-openapi); for an older
`kubernetesVersion` in the ClusterProfile, a field this table dates later than the target is
one that target's API server does not know. The source is the JSON schemas of each release
that the `kubernetes-validate` package (PyPI) vendors, generated from Kubernetes' OpenAPI.

    python3 -m pip download kubernetes-validate --no-deps -d /tmp/kv
    scripts/field-versions.py /tmp/kv/kubernetes_validate-*.whl

Each line: `group/version Kind<TAB>pattern<TAB>minor`, where pattern is a JSON pointer with
`*` for every list index and map key (`/spec/template/spec/containers/*/resizePolicy`); an
empty pattern dates the kind itself (the first release that serves it), and then none of its
fields is listed for that release.
"""

import json
import re
import sys
import zipfile
from pathlib import Path

# The kinds GN001 reads as their type (src/validate/rules/gn/mod.rs, `typed`).
KINDS = {
    "v1 Pod": "io.k8s.api.core.v1.Pod",
    "v1 Service": "io.k8s.api.core.v1.Service",
    "v1 ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "v1 Secret": "io.k8s.api.core.v1.Secret",
    "v1 ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
    "v1 Namespace": "io.k8s.api.core.v1.Namespace",
    "v1 PersistentVolumeClaim": "io.k8s.api.core.v1.PersistentVolumeClaim",
    "v1 ReplicationController": "io.k8s.api.core.v1.ReplicationController",
    "apps/v1 Deployment": "io.k8s.api.apps.v1.Deployment",
    "apps/v1 DaemonSet": "io.k8s.api.apps.v1.DaemonSet",
    "apps/v1 StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "apps/v1 ReplicaSet": "io.k8s.api.apps.v1.ReplicaSet",
    "batch/v1 Job": "io.k8s.api.batch.v1.Job",
    "batch/v1 CronJob": "io.k8s.api.batch.v1.CronJob",
    "rbac.authorization.k8s.io/v1 Role": "io.k8s.api.rbac.v1.Role",
    "rbac.authorization.k8s.io/v1 RoleBinding": "io.k8s.api.rbac.v1.RoleBinding",
    "rbac.authorization.k8s.io/v1 ClusterRole": "io.k8s.api.rbac.v1.ClusterRole",
    "rbac.authorization.k8s.io/v1 ClusterRoleBinding": "io.k8s.api.rbac.v1.ClusterRoleBinding",
    "networking.k8s.io/v1 Ingress": "io.k8s.api.networking.v1.Ingress",
    "networking.k8s.io/v1 NetworkPolicy": "io.k8s.api.networking.v1.NetworkPolicy",
    "policy/v1 PodDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudget",
    "autoscaling/v2 HorizontalPodAutoscaler": "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    "autoscaling/v1 HorizontalPodAutoscaler": "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
    "v1 Endpoints": "io.k8s.api.core.v1.Endpoints",
    "v1 LimitRange": "io.k8s.api.core.v1.LimitRange",
    "v1 ResourceQuota": "io.k8s.api.core.v1.ResourceQuota",
    "v1 PersistentVolume": "io.k8s.api.core.v1.PersistentVolume",
    "v1 PodTemplate": "io.k8s.api.core.v1.PodTemplate",
    "apps/v1 ControllerRevision": "io.k8s.api.apps.v1.ControllerRevision",
    "discovery.k8s.io/v1 EndpointSlice": "io.k8s.api.discovery.v1.EndpointSlice",
    "networking.k8s.io/v1 IngressClass": "io.k8s.api.networking.v1.IngressClass",
    "storage.k8s.io/v1 StorageClass": "io.k8s.api.storage.v1.StorageClass",
    "storage.k8s.io/v1 CSIDriver": "io.k8s.api.storage.v1.CSIDriver",
    "storage.k8s.io/v1 VolumeAttachment": "io.k8s.api.storage.v1.VolumeAttachment",
    "scheduling.k8s.io/v1 PriorityClass": "io.k8s.api.scheduling.v1.PriorityClass",
    "node.k8s.io/v1 RuntimeClass": "io.k8s.api.node.v1.RuntimeClass",
    "coordination.k8s.io/v1 Lease": "io.k8s.api.coordination.v1.Lease",
    "admissionregistration.k8s.io/v1 MutatingWebhookConfiguration": "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
    "admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration": "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
    "certificates.k8s.io/v1 CertificateSigningRequest": "io.k8s.api.certificates.v1.CertificateSigningRequest",
    "apiregistration.k8s.io/v1 APIService": "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
    "apiextensions.k8s.io/v1 CustomResourceDefinition": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    "v1 Node": "io.k8s.api.core.v1.Node",
    "v1 Event": "io.k8s.api.core.v1.Event",
    "events.k8s.io/v1 Event": "io.k8s.api.events.v1.Event",
    "flowcontrol.apiserver.k8s.io/v1 FlowSchema": "io.k8s.api.flowcontrol.v1.FlowSchema",
    "flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfiguration": "io.k8s.api.flowcontrol.v1.PriorityLevelConfiguration",
    "storage.k8s.io/v1 CSINode": "io.k8s.api.storage.v1.CSINode",
    "storage.k8s.io/v1 CSIStorageCapacity": "io.k8s.api.storage.v1.CSIStorageCapacity",
    "storage.k8s.io/v1 VolumeAttributesClass": "io.k8s.api.storage.v1.VolumeAttributesClass",
    "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy": "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
    "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding": "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding",
    "admissionregistration.k8s.io/v1 MutatingAdmissionPolicy": "io.k8s.api.admissionregistration.v1.MutatingAdmissionPolicy",
    "admissionregistration.k8s.io/v1 MutatingAdmissionPolicyBinding": "io.k8s.api.admissionregistration.v1.MutatingAdmissionPolicyBinding",
    "networking.k8s.io/v1 IPAddress": "io.k8s.api.networking.v1.IPAddress",
    "networking.k8s.io/v1 ServiceCIDR": "io.k8s.api.networking.v1.ServiceCIDR",
    "resource.k8s.io/v1 DeviceClass": "io.k8s.api.resource.v1.DeviceClass",
    "resource.k8s.io/v1 ResourceClaim": "io.k8s.api.resource.v1.ResourceClaim",
    "resource.k8s.io/v1 ResourceClaimTemplate": "io.k8s.api.resource.v1.ResourceClaimTemplate",
    "resource.k8s.io/v1 ResourceSlice": "io.k8s.api.resource.v1.ResourceSlice",
}


def patterns(defs, name):
    """Every field pattern below definition `name`."""
    out = set()

    def walk(schema, pointer, seen):
        ref = schema.get("$ref")
        if ref:
            target = ref.split("/")[-1]
            if target in seen:
                return
            walk(defs[target], pointer, seen | {target})
            return
        for key, sub in (schema.get("properties") or {}).items():
            if key == "status":
                continue  # the API server sets it
            p = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            out.add(p)
            walk(sub, p, seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{pointer}/*", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{pointer}/*", seen)

    walk(defs[name], "", {name})
    return out


def main():
    wheel = zipfile.ZipFile(sys.argv[1])
    releases = {}
    for n in wheel.namelist():
        m = re.match(r"kubernetes_validate/kubernetes-json-schema/v1\.(\d+)\.0-local/_definitions\.json$", n)
        if m:
            releases[int(m.group(1))] = n
    first = min(releases)
    since = {}
    for minor in sorted(releases):
        defs = json.loads(wheel.read(releases[minor]))["$defs"]
        for kind, name in KINDS.items():
            if name not in defs:
                continue
            # The kind itself (pattern ""): the first release that serves it.
            since.setdefault((kind, ""), minor)
            for p in patterns(defs, name):
                since.setdefault((kind, p), minor)
    # A field below one added in the same release says nothing more: the newer parent is
    # reported; keep a child only when it came later than every field above it.
    def needed(kind, p, m):
        if p == "":
            return True
        parts = p.split("/")
        for i in range(1, len(parts)):
            if since.get((kind, "/".join(parts[:i])), first) >= m:
                return False
        return True

    rows = sorted((k, p, m) for (k, p), m in since.items() if m > first and needed(k, p, m))
    out = Path(__file__).resolve().parent.parent / "src/validate/rules/gn/field_versions.tsv"
    with open(out, "w") as f:
        f.write(f"# Fields added after Kubernetes 1.{first}: written by scripts/field-versions.py from\n")
        f.write(f"# kubernetes-validate's schemas of 1.{first} to 1.{max(releases)}. kind, pattern, minor.\n")
        for k, p, m in rows:
            f.write(f"{k}\t{p}\t{m}\n")
    print(f"{len(rows)} fields added after 1.{first} -> {out}")


if __name__ == "__main__":
    main()
