#!/usr/bin/env python3
"""From `git diff` to the full PR comment for a repository of many Argo CD Applications.

Generates a GitOps repository with ../shared/tools/gen_gitops_tree.py (APPS apps x OVERLAYS
overlays), writes one Application per overlay (kustomize source) and an app of apps over
them, commits, makes a change in one app's base, and times `strata diff --argocd --base
HEAD~1 --format markdown` with hyperfine (or plain repeated runs when hyperfine is absent).

    bench/argocd_apps.py [--apps 50] [--overlays 10] [--binary target/release/strata]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPO = "https://git.example.com/platform/gitops.git"


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
                        "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com",
                        "PATH": "/usr/bin:/bin:/usr/local/bin"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=50)
    ap.add_argument("--overlays", type=int, default=10)
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "strata"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strata-apps-bench-"))
    repo = work / "repo"
    subprocess.run([sys.executable, str(ROOT.parent / "shared" / "tools" / "gen_gitops_tree.py"),
                    "--apps", str(args.apps), "--overlays", str(args.overlays),
                    "--out", str(repo)], check=True, capture_output=True)
    overlays = (repo / "overlays.txt").read_text().split()
    (repo / "argocd" / "apps").mkdir(parents=True)
    for o in overlays:
        name = o.replace("apps/", "").replace("/overlays/", "-")
        (repo / "argocd" / "apps" / f"{name}.yaml").write_text(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
            f"metadata:\n  name: {name}\n  namespace: argocd\n"
            f"spec:\n  project: default\n  source:\n    repoURL: {REPO}\n    path: {o}\n"
            "  destination:\n    server: https://kubernetes.default.svc\n"
            f"    namespace: {name.split('-')[0]}\n")
    (repo / "argocd" / "apps" / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"- {p.name}\n" for p in sorted((repo / "argocd" / "apps").glob("*.yaml"))
                                 if p.name != "kustomization.yaml"))
    (repo / "root.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: root\n"
        f"spec:\n  project: default\n  source:\n    repoURL: {REPO}\n    path: argocd/apps\n"
        "  destination:\n    server: https://kubernetes.default.svc\n    namespace: argocd\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    # The change: one app's base gets an annotation (its overlays change; the others do not).
    first = overlays[0].split("/overlays/")[0]
    kfile = repo / first / "base" / "kustomization.yaml"
    kfile.write_text(kfile.read_text() + "commonAnnotations:\n  bench/changed: \"yes\"\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change one app")
    cmd = [args.binary, "diff", "--argocd", "--base", "HEAD~1", "--repo-url", REPO,
           "--format", "markdown", "-o", str(work / "comment.md")]
    out = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        print(out.stderr, file=sys.stderr)
        return 1
    comment = (work / "comment.md").read_text()
    apps = len(overlays) + 1
    if shutil.which("hyperfine"):
        subprocess.run(["hyperfine", "--warmup", "1", "--runs", str(args.runs),
                        "--export-json", str(work / "hyperfine.json"),
                        " ".join(cmd)], cwd=repo, check=True)
        mean = json.loads((work / "hyperfine.json").read_text())["results"][0]["mean"]
    else:
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=repo, capture_output=True)
            times.append(time.perf_counter() - t)
        mean = sorted(times)[len(times) // 2]
    print(f"{apps} Applications ({args.apps} apps x {args.overlays} overlays + an app of apps), "
          f"{sum(1 for _ in repo.rglob('*.yaml'))} YAML files: git diff to the full comment "
          f"({len(comment)} bytes) in {mean:.2f} s")
    changed = comment.count("<details>")
    print(f"the comment shows {changed} distinct change(s); first lines:\n" + "\n".join(comment.splitlines()[:12]))
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
