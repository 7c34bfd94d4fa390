#!/usr/bin/env python3
"""strata's schema checks against a peer: kubernetes-validate (PyPI), strict, at one version.

For every document of the shared corpus whose kind both check (the built-in kinds strata reads
as their types), both say accept or reject; the table counts agreement and lists every
disagreement with both verdicts, so each can be judged. strata's verdict is its schema rules
(GN001 unknown fields, wrong types, fields newer than the target; GN003 what the API server
requires); kubernetes-validate's is its strict JSON-schema check.

    python3 -m venv /tmp/kv && /tmp/kv/bin/pip install kubernetes-validate pyyaml
    cargo build
    /tmp/kv/bin/python bench/schema_agreement.py [--version 1.30] [--corpus ../shared/corpus]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
KINDS = {
    ("v1", "Pod"), ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret"),
    ("v1", "ServiceAccount"), ("v1", "Namespace"), ("v1", "PersistentVolumeClaim"),
    ("v1", "ReplicationController"), ("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"),
    ("apps/v1", "StatefulSet"), ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"),
    ("batch/v1", "CronJob"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("autoscaling/v1", "HorizontalPodAutoscaler"),
    ("v1", "Endpoints"), ("v1", "LimitRange"), ("v1", "ResourceQuota"), ("v1", "PersistentVolume"),
    ("v1", "PodTemplate"), ("apps/v1", "ControllerRevision"), ("discovery.k8s.io/v1", "EndpointSlice"),
    ("networking.k8s.io/v1", "IngressClass"), ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "CSIDriver"), ("storage.k8s.io/v1", "VolumeAttachment"),
    ("scheduling.k8s.io/v1", "PriorityClass"), ("node.k8s.io/v1", "RuntimeClass"),
    ("coordination.k8s.io/v1", "Lease"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "Node"), ("v1", "Event"), ("events.k8s.io/v1", "Event"),
    ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration"),
    ("storage.k8s.io/v1", "CSINode"), ("storage.k8s.io/v1", "CSIStorageCapacity"),
    ("storage.k8s.io/v1", "VolumeAttributesClass"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicyBinding"),
    ("networking.k8s.io/v1", "IPAddress"), ("networking.k8s.io/v1", "ServiceCIDR"),
    ("resource.k8s.io/v1", "DeviceClass"), ("resource.k8s.io/v1", "ResourceClaim"),
    ("resource.k8s.io/v1", "ResourceClaimTemplate"), ("resource.k8s.io/v1", "ResourceSlice"),
}
SCHEMA_RULES = {"GN001", "GN003"}


def documents(corpus):
    """(file, index, document) for the corpus' YAML documents of the kinds both check."""
    for f in sorted(corpus.rglob("*.y*ml")):
        if f.name in ("kustomization.yaml", "kustomization.yml"):
            continue
        try:
            docs = list(yaml.safe_load_all(f.read_text()))
        except Exception:
            continue  # not YAML both can read: out of the comparison
        for i, d in enumerate(docs):
            if isinstance(d, dict) and (d.get("apiVersion"), d.get("kind")) in KINDS:
                if isinstance(d.get("metadata"), dict) and d["metadata"].get("name"):
                    yield f, i, d


def peer(doc, version):
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        return None
    except kubernetes_validate.ValidationError as e:
        return str(e.message if hasattr(e, "message") else e).splitlines()[0][:160]
    except Exception as e:  # a schema it lacks, a value it cannot read
        return f"(not checked: {type(e).__name__})"


def strata(doc, version, binary):
    with tempfile.TemporaryDirectory() as d:
        Path(d, "o.yaml").write_text(json.dumps(doc))
        Path(d, "p.yaml").write_text(
            "apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: p}\n"
            f"spec:\n  kubernetesVersion: \"{version}\"\n"
        )
        out = subprocess.run(
            [binary, "validate", "o.yaml", "--cluster", "p.yaml", "--format", "json"],
            cwd=d, capture_output=True, text=True,
        )
        if out.returncode == 2:
            return "(not read: " + out.stderr.strip().splitlines()[0][:140] + ")"
        found = [x for x in json.loads(out.stdout)["diagnostics"] if x["code"] in SCHEMA_RULES]
        return "; ".join(f"{x['code']} {x['path']}: {x['message'][:120]}" for x in found) or None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default="1.30")
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--binary", default=str(ROOT / "target" / "debug" / "strata"))
    args = ap.parse_args()
    counts = {"both accept": 0, "both reject": 0, "only kubernetes-validate rejects": 0,
              "only strata rejects": 0, "peer could not check": 0}
    differ = []
    for f, i, doc in documents(Path(args.corpus)):
        p = peer(doc, args.version)
        s = strata(doc, args.version, args.binary)
        where = f"{f.relative_to(args.corpus)}#{i} {doc['kind']} {doc['metadata']['name']}"
        if p and p.startswith("(not checked"):
            counts["peer could not check"] += 1
        elif p is None and s is None:
            counts["both accept"] += 1
        elif p and s:
            counts["both reject"] += 1
        elif p:
            counts["only kubernetes-validate rejects"] += 1
            differ.append((where, p, s))
        else:
            counts["only strata rejects"] += 1
            differ.append((where, p, s))
    print(f"kubernetes-validate {kubernetes_validate.version.__version__ if hasattr(kubernetes_validate.version, '__version__') else ''} strict vs strata, Kubernetes {args.version}\n")
    print("| verdict | documents |\n|---|--:|")
    for k, v in counts.items():
        print(f"| {k} | {v} |")
    if differ:
        print("\n| document | kubernetes-validate | strata |\n|---|---|---|")
        for where, p, s in differ:
            cell = lambda x: (x or "accepts").replace("|", "\\|")
            print(f"| {where} | {cell(p)} | {cell(s)} |")


if __name__ == "__main__":
    sys.exit(main())
