#!/usr/bin/env python3
"""Benchmark `strata render DIR` against `kubectl kustomize DIR` on generated GitOps trees.

Usage (from anywhere inside a clone; paths are resolved from this file):
  python3 bench/run.py --quick          # smoke run, well under 30 s once strata is built
  python3 bench/run.py                  # full run (several minutes, kubectl dominates)
  python3 bench/run.py --sizes 250,1000 --repeat 5 --cases typical,large

Cases (trees are generated with fixed seeds into target/bench/trees/, configMapGenerator
entries included):
  typical    one typical overlay of a small tree (20 apps x 3 overlays), one process,
             the way Argo CD's repo server calls the renderer
  overlays   every overlay of a 100 x 5 tree, one process per overlay, sequentially
             (timed by ../shared/tools/bench_kustomize.py; time = the sum over overlays)
  aggregate  one region aggregate (clusters/<region>) of the overlays tree, one process
  large      one app with N resources and a patch per agent, one process, N in --sizes
  repo       the whole repository: `strata render --out-dir` over every overlay of the
             overlays tree in ONE process, against kubectl once per overlay
  single     one kustomization over one file of Deployments, Services, ConfigMaps and
             hostNetwork DaemonSets (generated here, deterministic), at 1/5/10 MB and at
             1k..100k resources: strata with and without validation, the parse+emit floor
             (`strata debug roundtrip FILE`), kubectl (up to --kubectl-cap seconds), peak
             RSS of each; drawn in docs/performance.svg with --plot

strata runs with a ClusterProfile (target/bench/profile.yaml) that makes every rule a
warning: every rule runs, and a finding in a generated tree does not stop the render
(kubectl does not validate at all).

Before timing, strata (and kubectl, for single-directory cases) renders every directory
once; a strata failure is reported as "strata error" with its message instead of a time.
Timing uses hyperfine when it is on PATH (else the script's own timing: several runs,
median, min, max). Peak RSS is the child's ru_maxrss from os.wait4 (what /usr/bin/time -v
calls "Maximum resident set size").

Writes target/bench/results.md (also printed to stdout) and target/bench/results.json.
Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import signal
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TOOLS = os.path.join(os.path.dirname(ROOT), "shared", "tools")
GEN = "gen_gitops_tree.py"
BENCH = "bench_kustomize.py"

FULL = {"typical": (20, 3), "overlays": (100, 5), "sizes": [250, 1000, 2000], "repeat": 3,
        "passes": 2, "mb": [1, 5, 10], "counts": [1000, 3000, 10000, 30000, 100000],
        "kubectl_cap": 300}
QUICK = {"typical": (20, 3), "overlays": (6, 2), "sizes": [50, 200], "repeat": 2, "passes": 2,
         "mb": [0.1], "counts": [1000], "kubectl_cap": 10}
ALL_CASES = ["typical", "overlays", "aggregate", "large", "repo", "single"]
SEED = 1


def log(msg):
    sys.stderr.write("[bench] %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- processes

def run_once(argv, capture=False, timeout=None):
    """Run argv once; stdout captured (capture=True) or sent to /dev/null.

    Returns dict(wall, rc, out, err, maxrss_kb). The child is reaped with os.wait4 so
    maxrss is the child's own peak RSS. On timeout the child is killed (rc = 'timeout').
    """
    with tempfile.TemporaryFile() as outf, tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        # A process group of its own: a stopped run takes its children with it (argv may
        # be GNU time wrapping the tool, and killing only `time` would leave the tool running).
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True,
                             stdout=outf if capture else subprocess.DEVNULL, stderr=errf)
        timed_out = []
        timer = None
        if timeout:
            def kill():
                timed_out.append(True)
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
            timer = threading.Timer(timeout, kill)
            timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if timer:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from reaping again
        outf.seek(0)
        errf.seek(0)
        out = outf.read() if capture else b""
        err = errf.read()
    rc = "timeout" if timed_out else p.returncode
    return {"wall": wall, "rc": rc, "out": out, "err": err.decode(errors="replace"),
            "maxrss_kb": ru.ru_maxrss}


def count_docs(out):
    return out.count(b"\n---\n") + (1 if out.strip() else 0)


def first_lines(text, n=6):
    lines = [l for l in text.strip().splitlines()
             if l.strip() and "is deprecated" not in l]  # drop kustomize's deprecation noise
    return "\n".join(lines[:n]) or "(no stderr)"


def stats(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "runs": len(times)}


def plan_runs(check_wall, repeat, quick=False):
    """(runs, warmup) for one command given the duration of its check run (which has
    already warmed the page cache)."""
    if check_wall > 2.0:
        return repeat, 0
    if check_wall > 0.1:
        return (max(repeat, 3), 0) if quick else (max(repeat, 5), 1)
    return max(repeat, 10), 2


def time_single(tool, argv, check_wall, repeat, hyperfine, workdir, tag, quick=False):
    """Time one command. Returns stats dict (+ 'rss_kb' when measured here).

    For a slow command (check run > 2 s) the check run is kept as the first timed run,
    so e.g. a 55 s kubectl build is run `repeat` times in all, not repeat + 1."""
    runs, warmup = plan_runs(check_wall, repeat, quick)
    walls = []
    if check_wall > 2.0:
        walls.append(check_wall)
        runs -= 1
    timer = "python"
    if hyperfine and runs > 0:
        js = os.path.join(workdir, "hyperfine-%s.json" % tag)
        cmd = [hyperfine, "-N", "--style", "basic", "--warmup", str(warmup),
               "--runs", str(runs), "--export-json", js, " ".join(shlex.quote(a) for a in argv)]
        r = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
        if r.returncode == 0:
            walls += json.load(open(js))["results"][0]["times"]
            s = stats(walls)
            s["timer"] = "hyperfine"
            return s
        log("hyperfine failed (rc %d); falling back to Python timing" % r.returncode)
    for _ in range(warmup if runs > 0 else 0):
        run_once(argv)
    rss = []
    for _ in range(runs):
        r = run_once(argv)
        if r["rc"] != 0:
            raise RuntimeError("%s: exit %s during timing\n%s"
                               % (tool, r["rc"], first_lines(r["err"])))
        walls.append(r["wall"])
        rss.append(r["maxrss_kb"])
    s = stats(walls)
    s["timer"] = timer
    if rss:
        s["rss_kb"] = max(rss)
    return s


# ---------------------------------------------------------------- environment

def sh(argv, cwd=None):
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576.0)
                break
    except OSError:
        pass
    return {"nproc": sh(["nproc"]) or str(os.cpu_count()), "cpu": cpu, "mem": mem,
            "kernel": platform.release(), "loadavg": "%.2f %.2f %.2f" % os.getloadavg()}


def kubectl_versions(kubectl):
    txt = sh([kubectl, "version", "--client"])
    kc = re.search(r"Client Version:\s*(\S+)", txt)
    kz = re.search(r"Kustomize Version:\s*(\S+)", txt)
    return (kc.group(1) if kc else "unknown", kz.group(1) if kz else "unknown")


def strata_version(strata):
    v = sh([strata, "--version"]) or "unknown"
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if commit:
        dirty = sh(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                   cwd=ROOT)
        v += " (git %s%s)" % (commit, ", uncommitted changes in src/" if dirty else "")
    return v


# ---------------------------------------------------------------- trees

def generate(tools, out, apps, overlays, lo=None, hi=None, seed=SEED):
    argv = [sys.executable, os.path.join(tools, GEN), "--apps", str(apps), "--overlays",
            str(overlays), "--out", out, "--seed", str(seed)]
    if lo is not None:
        argv += ["--min-resources", str(lo), "--max-resources", str(hi)]
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("tree generation failed: %s\n%s" % (" ".join(argv), r.stderr))
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def read_list(tree, name):
    return [l.strip() for l in open(os.path.join(tree, name)) if l.strip()]


def typical_overlay(tree):
    """The overlay whose base has the median number of resource files (first on ties)."""
    dirs = read_list(tree, "overlays.txt")
    def nres(d):
        base = os.path.normpath(os.path.join(tree, d, "..", "..", "base"))
        try:
            return sum(1 for f in os.listdir(base)
                       if f.endswith(".yaml") and f != "kustomization.yaml")
        except OSError:
            return 0
    ranked = sorted(dirs, key=lambda d: (nres(d), dirs.index(d)))
    return ranked[(len(ranked) - 1) // 2]


# ---------------------------------------------------------------- cases

class Ctx:
    pass


def cmd_for(ctx, tool, d):
    if tool == "strata":
        return [ctx.strata, "render", "--cluster", ctx.profile, d]
    return [ctx.kubectl, "kustomize", d]


def write_profile(ctx, path):
    """A ClusterProfile that turns every rule (as `strata rules` lists them) into a warning."""
    codes = re.findall(r"^([A-Z]{2}\d{3})\s", sh([ctx.strata, "rules"]), re.M)
    with open(path, "w") as f:
        f.write("apiVersion: strata.dev/v1alpha1\nkind: ClusterProfile\nmetadata:\n"
                "  name: bench\nspec:\n  rules:\n")
        f.writelines("    %s: warning\n" % c for c in codes)
    return path


# ---------------------------------------------------------------- single-file and repo cases

BIG_DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(app)s
  labels:
    app.kubernetes.io/name: %(app)s
    app.kubernetes.io/part-of: bench
  annotations:
    bench.example.com/revision: "%(v)d"
spec:
  replicas: %(n)d
  selector:
    matchLabels:
      app.kubernetes.io/name: %(app)s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %(app)s
    spec:
      containers:
      - name: main
        image: registry.example.com/bench/%(app)s:1.%(v)d.0
        args: ["--port=8080", "--log-level=info"]
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: APP_NAME
          value: %(app)s
        - name: CONFIG_PATH
          value: /etc/%(app)s/config.yaml
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
        volumeMounts:
        - name: config
          mountPath: /etc/%(app)s
      volumes:
      - name: config
        configMap:
          name: %(app)s-config
"""
BIG_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: %(app)s
  labels:
    app.kubernetes.io/name: %(app)s
spec:
  selector:
    app.kubernetes.io/name: %(app)s
  ports:
  - name: http
    port: %(port)d
    targetPort: http
"""
BIG_CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: %(app)s-%(suffix)s
  labels:
    app.kubernetes.io/name: %(app)s
data:
  config.yaml: |
    listen: 0.0.0.0:8080
    upstream: http://%(app)s-backend:9000
    retries: %(r)d
  LOG_LEVEL: info
  FEATURE_FLAGS: "alpha,beta"
"""
BIG_DAEMONSET = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: %(app)s-agent
  labels:
    app.kubernetes.io/name: %(app)s-agent
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: %(app)s-agent
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %(app)s-agent
    spec:
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      tolerations:
      - operator: Exists
      containers:
      - name: agent
        image: registry.example.com/bench/agent:2.%(v)d.1
        ports:
        - name: metrics
          containerPort: %(port)d
        resources:
          requests:
            cpu: 50m
            memory: 64Mi
"""
BIG_KUSTOMIZATION = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: bench
labels:
- pairs:
    bench.example.com/tier: large
resources:
- resources.yaml
"""

def big_doc(i):
    """The i-th resource of the single-file case: per app a Deployment, a Service, a ConfigMap,
    and for one app in ten a hostNetwork DaemonSet on a port of its own (so the host-port
    rules have claims to compare, but no conflicts)."""
    a, k = divmod(i, 4)
    app = "app-%05d" % a
    if k == 0:
        return BIG_DEPLOY % {"app": app, "n": a % 5 + 1, "v": a % 13}
    if k == 1:
        return BIG_SERVICE % {"app": app, "port": 8000 + a % 1000}
    if k == 2 or a % 10:
        return BIG_CONFIGMAP % {"app": app, "r": a % 7, "suffix": "config" if k == 2 else "env"}
    return BIG_DAEMONSET % {"app": app, "v": a % 11, "port": 20000 + (a // 10) % 9000}

def write_big(d, nbytes=None, nres=None):
    """Writes the single-file kustomization: `nres` resources, or as many as make `nbytes`.
    Deterministic; returns (resources, bytes)."""
    os.makedirs(d, exist_ok=True)
    size, i = 0, 0
    # Written document by document: this process stays small, and its size matters (see
    # time_runs).
    with open(os.path.join(d, "resources.yaml"), "w") as f:
        while (nres is not None and i < nres) or (nbytes is not None and size < nbytes):
            doc = ("---\n" if i else "") + big_doc(i)
            f.write(doc)
            size += len(doc)
            i += 1
    with open(os.path.join(d, "kustomization.yaml"), "w") as f:
        f.write(BIG_KUSTOMIZATION)
    return i, size


TIME = "/usr/bin/time"


def time_runs(argv, runs, timeout=None, before=None):
    """Median wall time and peak RSS of `runs` runs (one run if the first exceeds 20 s).

    Peak RSS comes from GNU time (`%M`) when it is installed: Linux carries the spawning
    process's own high-water RSS into a child's ru_maxrss across exec, so os.wait4 from this
    (Python, tens of MiB) process would put a floor under small inputs' numbers."""
    walls, rss = [], []
    gnu_time = os.access(TIME, os.X_OK)
    for i in range(runs):
        if before:
            before()
        if gnu_time:
            fd, tf = tempfile.mkstemp()
            os.close(fd)
            r = run_once([TIME, "-f", "%M", "-o", tf] + argv, timeout=timeout)
            try:
                r["maxrss_kb"] = int(open(tf).read().split()[-1])
            except (ValueError, IndexError, OSError):
                pass
            os.unlink(tf)
        else:
            r = run_once(argv, timeout=timeout)
        if r["rc"] != 0:
            return {"error": "exit %s: %s" % (r["rc"], first_lines(r["err"], 3)),
                    "timeout": r["rc"] == "timeout", "wall": r["wall"]}
        walls.append(r["wall"])
        rss.append(r["maxrss_kb"])
        if r["wall"] > 20:
            break
    s = stats(walls)
    s["rss_kb"] = max(rss)
    return s


def single_file_case(ctx, trees, label, nbytes=None, nres=None):
    d = os.path.join(trees, "single-%s" % label)
    n, size = write_big(d, nbytes=nbytes, nres=nres)
    src = os.path.join(d, "resources.yaml")
    row = {"id": "single-%s" % label, "resources": n, "bytes": size}
    runs = ctx.repeat if size < 20 * 2**20 else 1
    cmds = {"strata": cmd_for(ctx, "strata", d),
            "strata_novalidate": [ctx.strata, "render", "--no-validate", d],
            "floor": [ctx.strata, "debug", "roundtrip", src]}
    for key, argv in cmds.items():
        log("single %s (%d resources, %.1f MB): %s" % (label, n, size / 2**20.0, key))
        run_once(argv)  # warm the page cache
        row[key] = time_runs(argv, max(runs, 3) if size < 2**20 else runs)
    if ctx.kubectl:
        if ctx.kubectl_cap and nres and nres > ctx.kubectl_max_res:
            row["kubectl"] = {"error": "skipped (above --kubectl-max-resources)"}
        else:
            log("single %s: kubectl (cap %ss)" % (label, ctx.kubectl_cap))
            row["kubectl"] = time_runs(cmd_for(ctx, "kubectl", d), 1 if size > 2**20 else 2,
                                       timeout=ctx.kubectl_cap)
    return row


def repo_case(ctx, tree, kubectl_row=None):
    """Every overlay in one `strata render --out-dir` process, against kubectl per overlay
    (the overlays case's kubectl total when it ran, else bench_kustomize.py here)."""
    dirs = [os.path.join(tree, d) for d in read_list(tree, "overlays.txt")]
    out = os.path.join(ctx.out, "repo-out")
    argv = [ctx.strata, "render", "--cluster", ctx.profile, "--out-dir", out] + dirs
    row = {"id": "repo", "dirs": len(dirs)}
    log("repo: strata render --out-dir over %d overlays, one process" % len(dirs))
    run_once(argv)
    # Rendering over the tree an earlier run wrote (what CI and a local loop do again and
    # again: unchanged files are hard-linked from it) ...
    row["strata"] = time_runs(argv, max(ctx.repeat, 3))
    # ... and into an empty directory (a fresh checkout), the old tree removed untimed.
    fresh = os.path.join(ctx.out, "repo-out-fresh")
    row["strata_fresh"] = time_runs(argv[:-len(dirs) - 1] + [fresh] + dirs, max(ctx.repeat, 3),
                                    before=lambda: shutil.rmtree(fresh, ignore_errors=True))
    if kubectl_row and "median" in kubectl_row:
        row["kubectl"] = kubectl_row
    elif ctx.kubectl:
        js = os.path.join(ctx.out, "repo-kubectl.json")
        template = " ".join(shlex.quote(a) for a in cmd_for(ctx, "kubectl", "{dir}"))
        r = subprocess.run([sys.executable, os.path.join(ctx.tools_dir, BENCH), "--tree", tree,
                            "--set", "overlays", "--repeat", "1", "--cmd", template, "--json",
                            js, "--label", "repo-kubectl"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode == 0:
            res = json.load(open(js))
            row["kubectl"] = stats([p["total_s"] for p in res["passes"]])
        else:
            row["kubectl"] = {"error": first_lines(r.stderr, 3)}
    return row


def ratio(a, b):
    if a and b and "median" in a and "median" in b and b["median"] > 0:
        return a["median"] / b["median"]
    return None


def fmt_cell(r):
    if not r:
        return "n/a"
    if "median" not in r:
        if r.get("timeout"):
            return "> %s (cap)" % fmt_s(r["wall"])
        return r.get("error", "n/a").splitlines()[0][:60]
    return fmt_s(r["median"])


def report_extra(ctx, single, repo):
    L = []
    if repo:
        k, s, f = repo.get("kubectl"), repo.get("strata"), repo.get("strata_fresh")
        L += ["", "## Whole repository: one `strata render --out-dir` process vs kubectl per "
              "overlay", "",
              "| overlays | kubectl, one process per overlay (sum) | strata --out-dir over "
              "its earlier tree | ratio | strata --out-dir into an empty directory | ratio | "
              "strata peak RSS |", "|---|---|---|---|---|---|---|",
              "| %d | %s | %s | %s | %s | %s | %s |" % (
                  repo["dirs"], fmt_cell(k), fmt_cell(s),
                  "%.0f×" % ratio(k, s) if ratio(k, s) else "n/a",
                  fmt_cell(f), "%.0f×" % ratio(k, f) if ratio(k, f) else "n/a",
                  fmt_rss(s and s.get("rss_kb")))]
    if single:
        L += ["", "## One kustomization over one file", "",
              "| resources | MB | kubectl | strata | ratio | strata --no-validate | "
              "validation share | parse+emit floor | throughput vs floor | kubectl RSS | "
              "strata RSS | strata RSS / input |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in single:
            k, s, nv, fl = r.get("kubectl"), r.get("strata"), r.get("strata_novalidate"), \
                r.get("floor")
            rt = ratio(k, s)
            if rt is None and k and k.get("timeout") and s and "median" in s:
                rt_s = "≥ %.0f×" % (k["wall"] / s["median"])
            else:
                rt_s = "%.0f×" % rt if rt else "n/a"
            share = (1 - nv["median"] / s["median"]) if s and nv and "median" in s \
                and "median" in nv else None
            thr = ratio(fl, s)
            mb = r["bytes"] / 2**20.0
            L.append("| %d | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["resources"], mb, fmt_cell(k), fmt_cell(s), rt_s, fmt_cell(nv),
                "%.0f%%" % (100 * share) if share is not None else "n/a", fmt_cell(fl),
                "%.0f%%" % (100 * thr) if thr else "n/a",
                fmt_rss(k and k.get("rss_kb")), fmt_rss(s and s.get("rss_kb")),
                "%.1f×" % (s["rss_kb"] * 1024 / r["bytes"]) if s and "rss_kb" in s else "n/a"))
        L += ["", "validation share = 1 − (render --no-validate) / render; throughput vs floor "
              "= floor time / render time (parse+emit alone = 100%)."]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- plot (plain SVG)

def svg_plot(single, path, title):
    """Time and peak RSS against input size, log-log, every tool: a two-panel SVG."""
    import math
    pts = sorted(single, key=lambda r: r["bytes"])
    series = [("kubectl", "kubectl kustomize", "#d62728"), ("strata", "strata render", "#1f77b4"),
              ("strata_novalidate", "strata --no-validate", "#2ca02c"),
              ("floor", "parse+emit floor", "#7f7f7f")]
    W, H, M = 1000, 430, 70
    pw = (W - 3 * M) / 2.0
    ph = H - 2 * M
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>' % (W / 2, title)]
    xs = [p["bytes"] / 2**20.0 for p in pts]
    xlo, xhi = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    for panel, (key, ylabel, conv) in enumerate([
            ("median", "wall time (s)", lambda r: r["median"]),
            ("rss_kb", "peak RSS (MiB)", lambda r: r["rss_kb"] / 1024.0)]):
        x0 = M + panel * (pw + M)
        vals = [conv(p[s]) for p in pts for s, _, _ in series
                if p.get(s) and key in p[s]]
        if key == "median":
            vals += [p["kubectl"]["wall"] for p in pts
                     if (p.get("kubectl") or {}).get("timeout")]
        if not vals:
            continue
        ylo, yhi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
        if yhi == ylo:
            yhi += 1
        X = lambda v: x0 + (math.log10(v) - xlo) / float(xhi - xlo) * pw
        Y = lambda v: M + ph - (math.log10(v) - ylo) / float(yhi - ylo) * ph
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="none" stroke="#333"/>'
                   % (x0, M, pw, ph))
        for e in range(xlo, xhi + 1):
            x = X(10 ** e)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                       % (x, M, x, M + ph))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>'
                       % (x, M + ph + 16, 10 ** e))
        for e in range(ylo, yhi + 1):
            y = Y(10 ** e)
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>'
                       % (x0, y, x0 + pw, y))
            out.append('<text x="%.1f" y="%.1f" text-anchor="end">%g</text>'
                       % (x0 - 5, y + 4, 10 ** e))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">input size (MB of YAML, '
                   'log)</text>' % (x0 + pw / 2, M + ph + 36))
        out.append('<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">'
                   '%s, log</text>' % (x0 - 45, M + ph / 2, ylabel))
        for s, name, color in series:
            if key == "rss_kb" and s == "strata_novalidate":
                continue
            line = [(X(p["bytes"] / 2**20.0), Y(conv(p[s]))) for p in pts
                    if p.get(s) and key in p[s]]
            if not line:
                continue
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                       % (color, " ".join("%.1f,%.1f" % xy for xy in line)))
            out += ['<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>' % (x, y, color)
                    for x, y in line]
        if key == "median":  # kubectl runs stopped at the cap: hollow markers, "≥"
            for p in pts:
                k = p.get("kubectl") or {}
                if k.get("timeout"):
                    x, y = X(p["bytes"] / 2**20.0), Y(k["wall"])
                    out.append('<circle cx="%.1f" cy="%.1f" r="4" fill="white" stroke="%s" '
                               'stroke-width="2"/>' % (x, y, series[0][2]))
                    out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" '
                               'fill="%s">≥%.0fs</text>' % (x, y + 18, series[0][2], k["wall"]))
        if key == "rss_kb":  # the 3x-input line of the memory target
            line = [(X(x), Y(3 * x)) for x in xs if 3 * x >= 10 ** ylo]
            if line:
                out.append('<polyline fill="none" stroke="#000" stroke-dasharray="5,4" '
                           'points="%s"/>' % " ".join("%.1f,%.1f" % xy for xy in line))
    ly = H - 14
    legend = [(n, c, "") for _, n, c in series] + [("3 × input", "#000", "5,4")]
    for i, (name, color, dash) in enumerate(legend):
        lx = M + i * 180
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" '
                   'stroke-dasharray="%s"/>' % (lx, ly - 4, lx + 24, ly - 4, color, dash))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 30, ly, name))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def check(ctx, tool, dirs):
    """Render every dir once. Returns (ok, docs_total, wall_max, rss_max, error).

    Every dir is tried; the error names the first failure and how many dirs failed."""
    docs, wmax, rmax = 0, 0.0, 0
    failed = []
    for d in dirs:
        r = run_once(cmd_for(ctx, tool, d), capture=True, timeout=ctx.timeout)
        if r["rc"] != 0:
            failed.append((d, r))
            continue
        docs += count_docs(r["out"])
        wmax = max(wmax, r["wall"])
        rmax = max(rmax, r["maxrss_kb"])
    if failed:
        d, r = failed[0]
        extra = (" (failed on %d of %d directories; first shown)" % (len(failed), len(dirs))
                 if len(dirs) > 1 else "")
        return False, None, None, None, "%s: exit %s on %s%s\n%s" % (
            tool, r["rc"], os.path.relpath(d, ROOT), extra, first_lines(r["err"]))
    return True, docs, wmax, rmax, None


def single_case(ctx, row, d):
    """Check, then time, one directory with every tool."""
    for tool in ctx.tools:
        ok, docs, wall, rss, err = check(ctx, tool, [d])
        if not ok:
            log(err)
            row[tool] = {"error": err}
            continue
        row.setdefault("docs", {})[tool] = docs
        log("timing %s on %s (check run %.2fs)" % (tool, row["tree"], wall))
        try:
            s = time_single(tool, cmd_for(ctx, tool, d), wall, ctx.repeat, ctx.hyperfine,
                            ctx.out, "%s-%s" % (row["id"], tool), ctx.quick)
        except RuntimeError as e:
            row[tool] = {"error": str(e)}
            continue
        s.setdefault("rss_kb", rss)
        row[tool] = s
    return row


def overlays_case(ctx, row, tree):
    dirs = [os.path.join(tree, d) for d in read_list(tree, "overlays.txt")]
    row["dirs"] = len(dirs)
    for tool in ctx.tools:
        if tool == "strata":
            ok, docs, _, _, err = check(ctx, tool, dirs)
            if not ok:
                log(err)
                row[tool] = {"error": err}
                continue
            row.setdefault("docs", {})[tool] = docs
        # kubectl is not pre-checked here (one pass is ~80 s); bench_kustomize aborts on error
        js = os.path.join(ctx.out, "overlays-%s.json" % tool)
        template = " ".join(shlex.quote(a) for a in cmd_for(ctx, tool, "{dir}"))
        argv = [sys.executable, os.path.join(ctx.tools_dir, BENCH), "--tree", tree,
                "--set", "overlays", "--repeat", str(ctx.passes), "--cmd", template,
                "--json", js, "--label", "%s-%s" % (row["id"], tool)]
        log("timing %s on every overlay of %s (%d processes x %d passes)"
            % (tool, row["tree"], len(dirs), ctx.passes))
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            row[tool] = {"error": "%s: %s" % (tool, first_lines(r.stderr))}
            continue
        res = json.load(open(js))
        totals = [p["total_s"] for p in res["passes"]]
        s = stats(totals)
        s["timer"] = "bench_kustomize.py"
        s["per_dir_median"] = res["summary_median_over_passes"]["median_s"]
        s["rss_kb"] = max(p["rss_max_kb"] for p in res["passes"])
        row[tool] = s
    return row


# ---------------------------------------------------------------- report

def fmt_s(x):
    if x is None:
        return "n/a"
    if x < 1:
        return "%.1f ms" % (x * 1000)
    return "%.2f s" % x


def fmt_rss(kb):
    return "n/a" if not kb else "%.0f MiB" % (kb / 1024.0)


def cell(res):
    if res is None:
        return "n/a", "n/a"
    if "error" in res:
        tool = res["error"].split(":", 1)[0]
        return "**%s error**" % tool, "n/a"
    return ("%s (%s–%s, n=%d)" % (fmt_s(res["median"]), fmt_s(res["min"]), fmt_s(res["max"]),
                                  res["runs"]), fmt_rss(res.get("rss_kb")))


def report(ctx, rows, meta):
    L = []
    L.append("# strata vs kubectl kustomize — %s run" % ("quick" if ctx.quick else "full"))
    L.append("")
    L.append("- date: %s" % meta["date"])
    m = meta["machine"]
    L.append("- machine: %s CPUs (nproc), %s, %s RAM, Linux %s, load avg at start %s"
             % (m["nproc"], m["cpu"], m["mem"], m["kernel"], m["loadavg"]))
    L.append("- kubectl: %s" % meta["kubectl"])
    L.append("- strata: %s" % meta["strata"])
    L.append("- timer: %s; runs per command: see n (overlays row: n = passes over all overlays)"
             % meta["timer"])
    L.append("")
    L.append("| tree | resources | kubectl median (min–max) | strata median (min–max) | ratio "
             "| kubectl peak RSS | strata peak RSS |")
    L.append("|---|---|---|---|---|---|---|")
    notes = []
    for row in rows:
        k, krss = cell(row.get("kubectl"))
        s, srss = cell(row.get("strata"))
        ratio = "n/a"
        kr, sr = row.get("kubectl"), row.get("strata")
        if kr and sr and "median" in kr and "median" in sr and sr["median"] > 0:
            ratio = "%.1f×" % (kr["median"] / sr["median"])
        docs = row.get("docs", {})
        n = docs.get("strata") or docs.get("kubectl")
        res = str(n) if n else row.get("resources_hint", "?")
        if row.get("dirs"):
            res = "%s in %d dirs" % (res, row["dirs"])
        L.append("| %s | %s | %s | %s | %s | %s | %s |" % (row["tree"], res, k, s, ratio,
                                                          krss, srss))
        if docs.get("strata") and docs.get("kubectl") and docs["strata"] != docs["kubectl"]:
            notes.append("%s: output object counts differ (kubectl %d, strata %d)"
                         % (row["tree"], docs["kubectl"], docs["strata"]))
        for tool in ("kubectl", "strata"):
            r = row.get(tool)
            if r and "per_dir_median" in r:
                notes.append("%s: %s per overlay process (median): %s"
                             % (row["tree"], tool, fmt_s(r["per_dir_median"])))
    L.append("")
    L.append("Times are wall-clock per process, output discarded; the overlays row is the sum "
             "over all overlay processes (one pass), the median/min/max taken over passes. "
             "ratio = kubectl median / strata median (higher = strata faster).")
    if notes:
        L.append("")
        L += ["- " + n for n in notes]
    errs = [(row["tree"], row[t]["error"]) for row in rows for t in ("strata", "kubectl")
            if row.get(t) and "error" in row[t]]
    L.append("")
    if errs:
        L.append("## Failures (no time reported for these)")
        L.append("")
        for tree, e in errs:
            L.append("- %s:" % tree)
            L.append("")
            L.append("  ```")
            L += ["  " + l for l in e.splitlines()]
            L.append("  ```")
    else:
        L.append("strata rendered every generated tree without error.")
    if not ctx.kubectl:
        L.append("")
        L.append("kubectl was %s: strata only, no ratios."
                 % ("skipped (--no-kubectl)" if ctx.no_kubectl else "not found on PATH"))
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (CI)")
    ap.add_argument("--sizes", help="comma-separated resource counts for the large case "
                    "(full: 250,1000,2000; quick: 50,200)")
    ap.add_argument("--repeat", type=int, help="timed runs for slow commands "
                    "(full 3, quick 2; fast commands get at least 10 runs)")
    ap.add_argument("--passes", type=int, help="passes over every overlay in the overlays "
                    "case (default 2; each pass already sums hundreds of processes)")
    ap.add_argument("--cases", default=",".join(ALL_CASES),
                    help="subset of %s" % ",".join(ALL_CASES))
    ap.add_argument("--tools", default=os.environ.get("STRATA_BENCH_TOOLS", DEFAULT_TOOLS),
                    help="folder with gen_gitops_tree.py and bench_kustomize.py "
                    "(default ../shared/tools, or $STRATA_BENCH_TOOLS)")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --profile dist")
    ap.add_argument("--no-kubectl", action="store_true", help="time strata only")
    ap.add_argument("--no-hyperfine", action="store_true", help="use the Python timer")
    ap.add_argument("--timeout", type=float, default=900, help="per-process limit (s) for "
                    "check runs")
    ap.add_argument("--mb", help="comma-separated sizes in MB for the single-file case "
                    "(full: 1,5,10; quick: 0.1)")
    ap.add_argument("--counts", help="comma-separated resource counts for the single-file "
                    "case's memory curve (full: 1000,...,100000; quick: 1000)")
    ap.add_argument("--kubectl-cap", type=float, help="seconds after which a kubectl run of "
                    "the single-file case is stopped and reported as a lower bound "
                    "(full 300, quick 10)")
    ap.add_argument("--kubectl-max-resources", type=int, default=30000,
                    help="no kubectl run above this many resources in the single-file case")
    ap.add_argument("--plot", help="write the single-file curve as an SVG here "
                    "(e.g. docs/performance.svg)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 if strata fails on any generated tree")
    a = ap.parse_args()

    cfg = QUICK if a.quick else FULL
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    bad = [c for c in cases if c not in ALL_CASES]
    if bad:
        ap.error("unknown case(s): %s" % ", ".join(bad))
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else cfg["sizes"]

    ctx = Ctx()
    ctx.quick = a.quick
    ctx.repeat = a.repeat or cfg["repeat"]
    ctx.passes = a.passes or cfg["passes"]
    ctx.timeout = a.timeout
    ctx.tools_dir = os.path.abspath(a.tools)
    missing = [f for f in (GEN, BENCH) if not os.path.isfile(os.path.join(ctx.tools_dir, f))]
    if missing:
        sys.stderr.write("bench: %s not found in %s.\nThe benchmark needs the shared tools "
                         "(gen_gitops_tree.py, bench_kustomize.py) beside the project as "
                         "../shared/tools, or --tools DIR / STRATA_BENCH_TOOLS=DIR.\n"
                         % (", ".join(missing), ctx.tools_dir))
        return 2

    ctx.out = os.path.join(ROOT, "target", "bench")
    trees = os.path.join(ctx.out, "trees")
    os.makedirs(trees, exist_ok=True)

    if not a.no_build:
        log("cargo build --profile dist")
        r = subprocess.run(["cargo", "build", "--profile", "dist"], cwd=ROOT)
        if r.returncode != 0:
            sys.stderr.write("bench: cargo build --profile dist failed\n")
            return 1
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    ctx.strata = os.path.join(os.path.abspath(target_dir), "dist", "strata")
    if not os.access(ctx.strata, os.X_OK):
        sys.stderr.write("bench: %s not found (build with cargo build --profile dist)\n" % ctx.strata)
        return 1

    ctx.profile = write_profile(ctx, os.path.join(ctx.out, "profile.yaml"))
    ctx.kubectl_cap = a.kubectl_cap or cfg["kubectl_cap"]
    ctx.kubectl_max_res = a.kubectl_max_resources
    ctx.no_kubectl = a.no_kubectl
    ctx.kubectl = None if a.no_kubectl else shutil.which("kubectl")
    if not ctx.kubectl:
        log("kubectl %s: timing strata only"
            % ("skipped (--no-kubectl)" if a.no_kubectl else "not found on PATH"))
    ctx.tools = (["kubectl"] if ctx.kubectl else []) + ["strata"]
    ctx.hyperfine = None if a.no_hyperfine else shutil.which("hyperfine")
    if not ctx.hyperfine and not a.no_hyperfine:
        log("hyperfine not found (apt-get install hyperfine): using Python timing")

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(), "strata": strata_version(ctx.strata),
            "mode": "quick" if a.quick else "full", "repeat": ctx.repeat,
            "passes": ctx.passes, "sizes": sizes}
    if ctx.kubectl:
        kc, kz = kubectl_versions(ctx.kubectl)
        meta["kubectl"] = "%s (kustomize %s)" % (kc, kz)
    else:
        meta["kubectl"] = "skipped (--no-kubectl)" if a.no_kubectl else "not found"
    meta["timer"] = ("hyperfine %s" % sh([ctx.hyperfine, "--version"]).split()[-1]
                     if ctx.hyperfine else "Python (os.wait4)")
    meta["timer"] += " for single processes, bench_kustomize.py for the overlays row"

    rows = []
    repo = None
    t_start = time.perf_counter()
    if "typical" in cases:
        apps, ov = cfg["typical"]
        tree = os.path.join(trees, "small-%dx%d" % (apps, ov))
        log("generating %s" % os.path.relpath(tree, ROOT))
        generate(ctx.tools_dir, tree, apps, ov)
        d = typical_overlay(tree)
        row = {"id": "typical", "tree": "one typical overlay (%s, tree %dx%d)"
               % (os.path.relpath(d, "apps"), apps, ov)}
        rows.append(single_case(ctx, row, os.path.join(tree, d)))
    if "overlays" in cases or "aggregate" in cases or "repo" in cases:
        apps, ov = cfg["overlays"]
        tree = os.path.join(trees, "apps-%dx%d" % (apps, ov))
        log("generating %s" % os.path.relpath(tree, ROOT))
        gm = generate(ctx.tools_dir, tree, apps, ov)
        if "overlays" in cases:
            row = {"id": "overlays", "tree": "all overlays, %d apps x %d, one process each"
                   % (apps, ov), "resources_hint": "~%s" % (gm.get("base_resources", 0) * ov)}
            rows.append(overlays_case(ctx, row, tree))
        if "aggregate" in cases:
            c = read_list(tree, "clusters.txt")[0]
            row = {"id": "aggregate", "tree": "region aggregate %s of %d apps" % (c, apps)}
            rows.append(single_case(ctx, row, os.path.join(tree, c)))
        if "repo" in cases:
            ov = next((r for r in rows if r["id"] == "overlays"), {})
            repo = repo_case(ctx, tree, ov.get("kubectl"))
    if "large" in cases:
        for n in sizes:
            tree = os.path.join(trees, "large-%d" % n)
            log("generating %s" % os.path.relpath(tree, ROOT))
            generate(ctx.tools_dir, tree, 1, 1, n, n)
            d = read_list(tree, "overlays.txt")[0]
            row = {"id": "large-%d" % n, "tree": "one app, %d resources" % n}
            rows.append(single_case(ctx, row, os.path.join(tree, d)))
    single = []
    if "single" in cases:
        mbs = [float(x) for x in a.mb.split(",")] if a.mb else cfg["mb"]
        counts = [int(x) for x in a.counts.split(",")] if a.counts else cfg["counts"]
        for mb in mbs:
            single.append(single_file_case(ctx, trees, "%gMB" % mb, nbytes=int(mb * 2**20)))
        for n in counts:
            single.append(single_file_case(ctx, trees, "%dres" % n, nres=n))
    meta["elapsed_s"] = round(time.perf_counter() - t_start, 1)

    md = report(ctx, rows, meta)
    md += report_extra(ctx, single, repo)
    if a.plot and single:
        svg_plot(single, a.plot, "strata vs kubectl kustomize: one kustomization over one file "
                 "(%s, %s CPUs)" % (meta["date"][:10], meta["machine"]["nproc"]))
        log("wrote %s" % a.plot)
    md += "\nBenchmark wall time (after build): %.0f s.\n" % meta["elapsed_s"]
    with open(os.path.join(ctx.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(ctx.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "repo": repo, "single": single}, f, indent=1)
    sys.stdout.write(md)
    log("wrote %s and results.json" % os.path.relpath(os.path.join(ctx.out, "results.md"), ROOT))
    failed = any(r.get("strata", {}).get("error") for r in rows)
    return 1 if (failed and a.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
