#!/usr/bin/env python3
"""Benchmark `strata render DIR` against `kubectl kustomize DIR` on generated GitOps trees.

Usage (from anywhere inside a clone; paths are resolved from this file):
  python3 bench/run.py --quick          # smoke run, well under 30 s once strata is built
  python3 bench/run.py                  # full run (several minutes, kubectl dominates)
  python3 bench/run.py --sizes 250,1000 --repeat 5 --cases typical,large

Cases (trees are generated with fixed seeds into target/bench/trees/, with
--no-generators because strata has no configMapGenerator yet):
  typical    one typical overlay of a small tree (20 apps x 3 overlays), one process,
             the way Argo CD's repo server calls the renderer
  overlays   every overlay of a 100 x 5 tree, one process per overlay, sequentially
             (timed by ../shared/tools/bench_kustomize.py; time = the sum over overlays)
  aggregate  one region aggregate (clusters/<region>) of the overlays tree, one process
  large      one app with N resources and a patch per agent, one process, N in --sizes

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
        "passes": 2}
QUICK = {"typical": (20, 3), "overlays": (6, 2), "sizes": [50, 200], "repeat": 2, "passes": 2}
ALL_CASES = ["typical", "overlays", "aggregate", "large"]
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
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=outf if capture else subprocess.DEVNULL, stderr=errf)
        timed_out = []
        timer = None
        if timeout:
            def kill():
                timed_out.append(True)
                try:
                    p.kill()
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
            str(overlays), "--out", out, "--seed", str(seed), "--no-generators"]
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
    return [ctx.strata, "render", d] if tool == "strata" else [ctx.kubectl, "kustomize", d]


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
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --release")
    ap.add_argument("--no-kubectl", action="store_true", help="time strata only")
    ap.add_argument("--no-hyperfine", action="store_true", help="use the Python timer")
    ap.add_argument("--timeout", type=float, default=900, help="per-process limit (s) for "
                    "check runs")
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
        log("cargo build --release")
        r = subprocess.run(["cargo", "build", "--release"], cwd=ROOT)
        if r.returncode != 0:
            sys.stderr.write("bench: cargo build --release failed\n")
            return 1
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    ctx.strata = os.path.join(os.path.abspath(target_dir), "release", "strata")
    if not os.access(ctx.strata, os.X_OK):
        sys.stderr.write("bench: %s not found (build with cargo build --release)\n" % ctx.strata)
        return 1

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
    if "overlays" in cases or "aggregate" in cases:
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
    if "large" in cases:
        for n in sizes:
            tree = os.path.join(trees, "large-%d" % n)
            log("generating %s" % os.path.relpath(tree, ROOT))
            generate(ctx.tools_dir, tree, 1, 1, n, n)
            d = read_list(tree, "overlays.txt")[0]
            row = {"id": "large-%d" % n, "tree": "one app, %d resources" % n}
            rows.append(single_case(ctx, row, os.path.join(tree, d)))
    meta["elapsed_s"] = round(time.perf_counter() - t_start, 1)

    md = report(ctx, rows, meta)
    md += "\nBenchmark wall time (after build): %.0f s.\n" % meta["elapsed_s"]
    with open(os.path.join(ctx.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(ctx.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    sys.stdout.write(md)
    log("wrote %s and results.json" % os.path.relpath(os.path.join(ctx.out, "results.md"), ROOT))
    failed = any(r.get("strata", {}).get("error") for r in rows)
    return 1 if (failed and a.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
