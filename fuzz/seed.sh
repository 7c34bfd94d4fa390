#!/usr/bin/env bash
# Seeds the fuzz corpora, fuzz/corpus/<target>/, from the shared test data (the YAML
# fidelity corpus, the real-world manifest corpus, kustomize's end-to-end suite, the JSON
# Patch conformance suite) and from this repository's trees, in each target's input format
# (fuzz/src/checks.rs). The corpora are not committed (fuzz/.gitignore); the few seeds
# under fuzz/seeds/ are, for the CI smoke. Needs python3 with PyYAML.
#
#   fuzz/seed.sh [SHARED_DIR]      (default: ../shared next to the repository, or /work/shared)
set -euo pipefail
cd "$(dirname "$0")"
shared="${1:-}"
if [ -z "$shared" ]; then
  for d in ../../shared /work/shared; do
    if [ -d "$d/kustomize-suite" ]; then shared="$d"; break; fi
  done
fi
[ -d "$shared/kustomize-suite" ] || { echo "no shared data dir (pass it as the first argument)" >&2; exit 1; }
shared="$(cd "$shared" && pwd)"
mkdir -p corpus
# The committed seeds first.
shopt -s nullglob
for d in seeds/*/; do
  t="$(basename "$d")"
  mkdir -p "corpus/$t"
  cp "$d"* "corpus/$t/" 2>/dev/null || true
done
python3 - "$shared" <<'PY'
import hashlib, json, os, re, sys
import yaml

shared = sys.argv[1]
repo = os.path.abspath("..")
MAX = 64 * 1024
SEP = "%%%%\n"
counts = {}

def put(target, text):
    if isinstance(text, str):
        text = text.encode()
    if not text or len(text) > MAX:
        return
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(text).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(text)
    counts[target] = counts.get(target, 0) + 1

def read(p):
    try:
        with open(p, encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, OSError):
        return None

def docs_of(text):
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except Exception:
        return []

def dump(docs):
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)

def yaml_files(root):
    for dp, _, fs in os.walk(root):
        for f in sorted(fs):
            if f.endswith((".yaml", ".yml")):
                yield os.path.join(dp, f)

# yaml_roundtrip: the fidelity corpus, the risky strings, the manifest corpus, our trees.
fid = os.path.join(shared, "yaml-fidelity")
for f in sorted(os.listdir(os.path.join(fid, "corpus"))):
    with open(os.path.join(fid, "corpus", f), "rb") as fh:
        put("yaml_roundtrip", fh.read())
risky = json.load(open(os.path.join(fid, "risky-strings.json")))
if isinstance(risky, dict):
    risky = risky.get("strings", list(risky.values()))
risky = [r if isinstance(r, str) else json.dumps(r) for r in risky]
for i in range(0, len(risky), 16):
    chunk = risky[i:i + 16]
    put("yaml_roundtrip", json.dumps({"values": chunk, "keys": {s: s for s in chunk}}))
    put("substitution", "\n".join(chunk) + "\n")
for p in yaml_files(os.path.join(shared, "corpus")):
    t = read(p)
    if t is not None and len(t) <= 16 * 1024:
        put("yaml_roundtrip", t)
for p in yaml_files(os.path.join(repo, "tests", "fixtures")):
    t = read(p)
    if t is not None:
        put("yaml_roundtrip", t)

# kustomize_tree: kustomize's suite cases (plain builds under the root-only restriction),
# our fixture trees, and the repository's overlays.
def clean(rel):
    parts = rel.split("/")
    return len(parts) <= 4 and all(re.fullmatch(r"[A-Za-z0-9._-]{1,64}", s) and s != ".." for s in parts)

def tree(root, run_dir, skip=()):
    files = []
    for dp, _, fs in os.walk(root):
        for f in sorted(fs):
            rel = os.path.relpath(os.path.join(dp, f), root)
            if rel in skip:
                continue
            t = read(os.path.join(dp, f))
            if t is None or not clean(rel):
                return None
            files.append((rel, t))
    out = "#! %s\n" % run_dir if run_dir not in ("", ".") else ""
    for rel, t in files:
        out += "#@ %s\n%s" % (rel, t if t.endswith("\n") else t + "\n")
    return out

suite = os.path.join(shared, "kustomize-suite", "cases")
suite_cases = []
for case in sorted(os.listdir(suite)):
    d = os.path.join(suite, case)
    meta = json.load(open(os.path.join(d, "meta.json")))
    needs = set(meta.get("needs") or [])
    if needs:
        continue
    suite_cases.append((d, meta))
    t = tree(d, meta.get("run_dir", ""), {"meta.json", "expected.yaml", "expected_error.txt"})
    if t:
        put("kustomize_tree", t)
trees = os.path.join(repo, "tests", "fixtures", "trees")
base = tree(os.path.join(trees, "_base"), "")
for name in sorted(os.listdir(trees)):
    if name.startswith("_") or not os.path.isdir(os.path.join(trees, name)):
        continue
    t = tree(os.path.join(trees, name), "")
    if t:
        # `../_base` from a tree: put the tree one level down, next to `_base`.
        t = "#! t\n" + t.replace("#@ ", "#@ t/") + base.replace("#@ ", "#@ _base/")
        put("kustomize_tree", t)
ov = ""
for sub in ["examples", "overlays/common", "overlays/cn-hangzhou"]:
    for f in sorted(os.listdir(os.path.join(repo, sub))):
        ov += "#@ %s/%s\n%s" % (sub, f, read(os.path.join(repo, sub, f)))
put("kustomize_tree", "#! overlays/cn-hangzhou\n" + ov)

# json_patch: the RFC 6902 conformance suite.
for f in ["tests.json", "spec_tests.json"]:
    for case in json.load(open(os.path.join(shared, "json-patch-tests", f))):
        if case.get("disabled") or "doc" not in case:
            continue
        put("json_patch", json.dumps(case["doc"]) + "\n---\n" + json.dumps(case["patch"]) + "\n")

# merge_patch and diff_model / report_output: documents of the suite's cases.
for d, meta in suite_cases:
    docs = []
    for p in yaml_files(d):
        if os.path.basename(p).startswith(("kustomization", "Kustomization", "expected")):
            continue
        t = read(p)
        if t:
            docs += [x for x in docs_of(t) if isinstance(x, dict)]
    key = lambda x: (x.get("kind"), (x.get("metadata") or {}).get("name") if isinstance(x.get("metadata"), dict) else None)
    for i, a in enumerate(docs):
        for b in docs[i + 1:]:
            if key(a) == key(b):
                put("merge_patch", dump([a, b]))
                put("merge_patch", dump([b, a]))
    expected = os.path.join(d, "expected.yaml")
    if os.path.exists(expected) and docs:
        t = read(expected)
        inputs = dump(docs)
        put("diff_model", inputs + SEP + t)
        put("report_output", inputs + SEP + t)
    # fieldpath_selector: the resources and a probe with the case's replacements.
    for p in yaml_files(d):
        if not os.path.basename(p).startswith("kustomization"):
            continue
        k = docs_of(read(p) or "")
        if not k or not isinstance(k[0], dict):
            continue
        k = k[0]
        probe = {}
        if isinstance(k.get("replacements"), list):
            probe["replacements"] = k["replacements"]
            paths = []
            for r in k["replacements"]:
                if isinstance(r, dict):
                    src = r.get("source") or {}
                    if isinstance(src, dict) and src.get("fieldPath"):
                        paths.append(src["fieldPath"])
                    for tg in r.get("targets") or []:
                        if isinstance(tg, dict):
                            paths += [x for x in tg.get("fieldPaths") or [] if isinstance(x, str)]
            probe["fieldPaths"] = paths
        sels = []
        for pe in (k.get("patches") or []):
            if isinstance(pe, dict) and isinstance(pe.get("target"), dict):
                sels.append(pe["target"])
        if sels:
            probe["selectors"] = sels
        if probe and docs:
            probe["fieldSpecs"] = [
                {"path": "spec/template/spec/containers[]/image", "create": False},
                {"path": "metadata/labels", "create": True},
                {"path": "spec/selector/matchLabels", "create": True},
            ]
            put("fieldpath_selector", dump(docs + [probe]))

# substitution: strings of the shapes the transform meets.
for s in [
    "registry-<REGION_ID>-vpc.example.com/app:1.0%%%%\nREGION_ID=cn-hangzhou\n",
    "${REGION:=cn-beijing}-${ZONE}%%%%\n?ZONE\n",
    "$${NAME} and ${NAME}%%%%\nNAME=x\n",
    "<b>bold</b> <br/> <NOT_DECLARED> <lower_case>%%%%\n!NOT_DECLARED\n",
    "__PILLAR__DNS__SERVER__ __PILLAR__LOCAL__DNS__ __NOT_ONE__%%%%\n",
    "${datasource} ${DS_PROMETHEUS}%%%%\n!datasource\nDS_PROMETHEUS=prom\n",
]:
    put("substitution", s.replace("%%%%\n", "\n" + SEP))
for p in yaml_files(os.path.join(repo, "overlays")):
    t = read(p)
    if t:
        put("substitution", t)

print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))
PY
