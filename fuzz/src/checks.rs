//! The checks behind the fuzz targets, one function per target, each taking the raw fuzz
//! input. The fuzz targets (`fuzz/fuzz_targets/*.rs`) call them under libFuzzer, and
//! `tests/fuzz_regressions.rs` includes this file (`#[path]`) and calls them on every kept
//! input under `tests/fixtures/fuzz/<target>/`, so a regression test runs exactly the check
//! that found the input. A check returns quietly on input it does not apply to (not UTF-8,
//! not YAML, not the shape it needs) and panics when an oracle fails.
//!
//! Input formats are plain text, so that seeds and kept inputs read as what they are:
//! sections are separated by a line `%%%%`, a tree's files by lines `#@ PATH`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use strata::diff::model::{self as diff_model, DiffReport, EnvDiff, Ignore, Side};
use strata::kustomize::load::Loader;
use strata::model::Resource;
use strata::yaml;

/// The line that separates the sections of an input.
pub const SECTION: &str = "%%%%";

/// The sections of `text`: the parts between lines that are exactly [`SECTION`].
pub fn sections(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == SECTION {
            out.push(String::new());
        } else {
            out.last_mut().expect("one section at least").push_str(line);
        }
    }
    out
}

/// JSON text with keys in order: values compare as written, not as maps.
fn exact(v: &Value) -> String {
    serde_json::to_string(v).expect("JSON values serialize")
}

/// The resources of a YAML stream, as strata reads a manifest; `None` when it is not one.
fn resources(loader: &Loader, name: &str, text: &str) -> Option<Vec<Resource>> {
    loader.resources_from_text(name, text.to_string()).ok()
}

// ---------------------------------------------------------------------------------------------
// yaml_roundtrip

/// The YAML reader and writer: any bytes read without panicking (libFuzzer's `-timeout` and
/// `-rss_limit_mb` bound time and memory); what was read writes out as YAML that reads back
/// to the same values, key order included: `parse(emit(parse(x))) == parse(x)`, per
/// document and as a stream.
pub fn yaml_roundtrip(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = yaml::parse_single(src);
    let Ok(docs) = yaml::parse_stream(src) else {
        return;
    };
    let values: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
    for v in &values {
        let text = yaml::to_yaml(v);
        let again = yaml::parse_stream(&text)
            .unwrap_or_else(|e| panic!("strata's YAML does not read back ({e}):\n{text}"));
        let again: Vec<String> = again.iter().map(|d| exact(&d.value)).collect();
        assert_eq!(
            again,
            vec![exact(v)],
            "a document changed in a round trip through:\n{text}"
        );
    }
    let stream = yaml::to_yaml_stream(&values);
    let again = yaml::parse_stream(&stream)
        .unwrap_or_else(|e| panic!("strata's YAML stream does not read back ({e}):\n{stream}"));
    let again: Vec<String> = again.iter().map(|d| exact(&d.value)).collect();
    let want: Vec<String> = values.iter().map(exact).collect();
    assert_eq!(
        again, want,
        "the stream changed in a round trip through:\n{stream}"
    );
}

// ---------------------------------------------------------------------------------------------
// kustomize_tree

/// At most this many files in one tree.
const MAX_FILES: usize = 12;

/// The files of a tree input: the text before the first `#@ PATH` line is
/// `kustomization.yaml`, each `#@ PATH` line starts the file PATH. A first line `#! DIR`
/// names the directory to render (the top by default). Paths are kept inside the tree:
/// relative, of the characters `[A-Za-z0-9._-]`, no `..` component, at most four deep.
pub fn tree_files(text: &str) -> Option<(PathBuf, Vec<(PathBuf, String)>)> {
    let mut run_dir = PathBuf::new();
    let mut body = text;
    if let Some(rest) = text.strip_prefix("#! ") {
        let (line, rest) = rest.split_once('\n').unwrap_or((rest, ""));
        run_dir = clean_path(line.trim_end_matches('\r'))?;
        body = rest;
    }
    let mut files: Vec<(PathBuf, String)> = vec![("kustomization.yaml".into(), String::new())];
    for line in body.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("#@ ") {
            files.push((
                clean_path(name.trim_end_matches(['\n', '\r']))?,
                String::new(),
            ));
            if files.len() > MAX_FILES {
                return None;
            }
        } else {
            files
                .last_mut()
                .expect("one file at least")
                .1
                .push_str(line);
        }
    }
    if files[0].1.trim().is_empty() && files.len() > 1 {
        files.remove(0);
    }
    Some((run_dir, files))
}

fn clean_path(p: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let ok = parts.len() <= 4
        && parts.iter().all(|s| {
            *s != ".."
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    ok.then(|| parts.iter().collect())
}

/// A fresh, empty directory for one tree, below a directory private to this process, a few
/// levels deep so that `../..` in a tree still lands in it.
fn fresh_dir() -> PathBuf {
    static BASE: OnceLock<tempfile::TempDir> = OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = BASE.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("strata-fuzz-tree-")
            .tempdir()
            .expect("a temporary directory")
    });
    let dir = base
        .path()
        .join(format!("t{}", N.fetch_add(1, Ordering::Relaxed)))
        .join("a/b/c");
    std::fs::create_dir_all(&dir).expect("create the tree directory");
    dir
}

/// A kustomization tree from fuzzed files, rendered by strata's builder (kustomize with
/// strata's kinds): never a panic (errors are fine, and must print); what renders writes
/// out as YAML (a stream) and JSON (one object after the other) that read back as the same
/// number of objects, and validates, its findings rendered in every format.
pub fn kustomize_tree(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((run_dir, files)) = tree_files(text) else {
        return;
    };
    let root = fresh_dir();
    for (path, content) in &files {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            // A file named as a directory of another: not a tree.
            if std::fs::create_dir_all(parent).is_err() {
                cleanup(&root);
                return;
            }
        }
        if full.is_dir() || std::fs::write(&full, content).is_err() {
            cleanup(&root);
            return;
        }
    }
    let builder = strata::hostnet::builder().with_options(Default::default());
    match builder.render(&root.join(&run_dir)) {
        Ok(set) => {
            let out = strata::render::to_string(&set, strata::render::Format::Yaml);
            let docs = yaml::parse_stream(&out)
                .unwrap_or_else(|e| panic!("the rendered YAML does not read back ({e}):\n{out}"));
            assert_eq!(docs.len(), set.len(), "rendered:\n{out}");
            let json = strata::render::to_string(&set, strata::render::Format::Json);
            let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(&json)
                .into_iter()
                .collect();
            let docs = docs
                .unwrap_or_else(|e| panic!("the rendered JSON does not read back ({e}):\n{json}"));
            assert_eq!(docs.len(), set.len(), "rendered:\n{json}");
            let profile = strata::validate::ClusterProfile::assumed();
            let report = strata::validate::validate(&set, &profile, &builder.loader);
            for format in [
                strata::report::Format::Human,
                strata::report::Format::Json,
                strata::report::Format::Sarif,
                strata::report::Format::Github,
            ] {
                let _ = strata::report::render(&report, format, &builder.loader, false);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    for w in builder.loader.take_warnings() {
        let _ = w.warning_text();
    }
    cleanup(&root);
}

fn cleanup(root: &Path) {
    // `root` is `.../tN/a/b/c`: remove `tN`.
    if let Some(top) = root.ancestors().nth(3) {
        let _ = std::fs::remove_dir_all(top);
    }
}

// ---------------------------------------------------------------------------------------------
// json_patch

/// JSON Patch: a YAML stream of two documents, the target and the list of operations.
/// Parsing and applying never panic and errors print; the result agrees with the
/// `json-patch` crate's own `patch` wherever that succeeds (strata differs from it on
/// purpose only where it fails: `test` compares numbers by value), objects compared as
/// maps (strata also keeps key order, which the crate does not).
pub fn json_patch(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = yaml::parse_stream(text) else {
        return;
    };
    let [doc, ops] = &docs[..] else {
        return;
    };
    let patch = match strata::kustomize::patch::json_patch::parse_ops(&ops.value) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut ours = doc.value.clone();
    let result = strata::kustomize::patch::json_patch::apply(&mut ours, &patch);
    if let Err(e) = &result {
        let _ = e.to_string();
    }
    let mut theirs = doc.value.clone();
    if ::json_patch::patch(&mut theirs, &patch).is_ok() {
        assert!(
            result.is_ok(),
            "json-patch applies the patch, strata fails: {}",
            result.unwrap_err()
        );
        assert_eq!(ours, theirs, "strata and json-patch disagree");
    }
}

// ---------------------------------------------------------------------------------------------
// merge_patch

/// Strategic merge: a YAML stream of two documents, the target resource and the patch.
/// Never a panic, errors print; a patch that applied applies again to its own result and
/// changes nothing more (merging is idempotent: kustomize applies a patch once, but a
/// second application finding work to do means the first left the patch half applied).
/// The exceptions, both kustomize's: a keyed-list element without its merge key, copied
/// into a list the target lacked, is an error the second time; and elements with part of a
/// two-field merge key are copied again at each application (the result holds duplicates).
pub fn merge_patch(data: &[u8]) {
    use strata::kustomize::patch::merge_patch::{Outcome, SmpContext, apply};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = yaml::parse_stream(text) else {
        return;
    };
    let [target, patch] = &docs[..] else {
        return;
    };
    // A resource has both (`Resource::from_value`); without them the schema is chosen from
    // the patch, and once merged in, from the result: another merge.
    let named = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if !named(&target.value, "apiVersion") || !named(&target.value, "kind") {
        return;
    }
    let mut once = target.value.clone();
    let ctx_value = target.value.clone();
    let ctx = SmpContext::of(&ctx_value);
    match apply(&mut once, &patch.value, &ctx) {
        Err(e) => {
            let _ = (e.to_string(), e.path(), e.message());
        }
        Ok(Outcome::DeleteResource) => {}
        Ok(Outcome::Merged) => {
            // A patch that changes the type (the caller restores `kind`) merges the second
            // time under the new one.
            if ["apiVersion", "kind"]
                .iter()
                .any(|k| once.get(k) != target.value.get(k))
            {
                return;
            }
            let mut twice = once.clone();
            match apply(&mut twice, &patch.value, &ctx) {
                // Documented: a keyed-list element without its key is copied into a list
                // the target lacks, and is an error once the target has it.
                Err(e) if e.message().contains("no value for its merge key") => return,
                // A patch whose keyed list holds one key twice, with a list under the first
                // and a mapping under the second, leaves the mapping; applied again, the
                // first meets it. kustomize refuses the second application the same way
                // (`wrong node kind: expected MappingNode but got SequenceNode`), checked
                // with `kubectl kustomize` on tests/fixtures/fuzz/merge_patch/
                // duplicate-key-list-then-mapping.yaml as two patches.
                Err(e)
                    if e.message().contains("type mismatch")
                        && has_duplicate_keys(&patch.value) =>
                {
                    return;
                }
                Err(e) => panic!(
                    "a patch that applied fails on its own result: {e}\nresult:\n{}",
                    yaml::to_yaml(&once)
                ),
                Ok(_) => {}
            }
            // kustomize copies list elements that have only part of a two-field merge key
            // (a port without `port`) once more at each application (1, 3, 7...): not
            // idempotent there, by design.
            // And where a keyed list of the target or the patch holds one key twice, the
            // patch merges into the first and the last wins (kustomize's de-duplication and
            // its reconciliation of two-field keys): a second application differs again.
            if has_duplicate_elements(&once)
                || has_duplicate_elements(&twice)
                || has_duplicate_keys(&target.value)
                || has_duplicate_keys(&patch.value)
            {
                return;
            }
            assert_eq!(
                exact(&twice),
                exact(&once),
                "a second application changed the result"
            );
        }
    }
}

/// Does some list in `v` hold two equal elements?
fn has_duplicate_elements(v: &Value) -> bool {
    match v {
        Value::Array(a) => {
            a.iter().enumerate().any(|(i, x)| a[i + 1..].contains(x))
                || a.iter().any(has_duplicate_elements)
        }
        Value::Object(m) => m.values().any(has_duplicate_elements),
        _ => false,
    }
}

/// Does some list in `v` hold two mappings with the same value for a field that is a merge
/// key in some Kubernetes list (`name`, `containerPort`, `mountPath`...)?
fn has_duplicate_keys(v: &Value) -> bool {
    const KEYS: &[&str] = &[
        "name",
        "containerPort",
        "port",
        "mountPath",
        "devicePath",
        "ip",
        "topologyKey",
        "type",
        "key",
    ];
    match v {
        Value::Array(a) => {
            a.iter().enumerate().any(|(i, x)| {
                a[i + 1..].iter().any(|y| {
                    KEYS.iter()
                        .any(|k| x.get(k).is_some_and(|kx| y.get(k) == Some(kx)))
                })
            }) || a.iter().any(has_duplicate_keys)
        }
        Value::Object(m) => m.values().any(has_duplicate_keys),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// fieldpath_selector

/// Selectors, field paths and field specs: a YAML stream whose last document is a probe
/// and the others resources. The probe's `fieldPaths` (replacement field paths: split, then
/// read from each resource), `selectors` (compiled and matched against each resource),
/// `fieldSpecs` (`{path, create}`: visited in each resource, creating when asked) and
/// `replacements` (a kustomization's `replacements:` list, run over the resources) never
/// panic. A field spec visited with `create` is then found without it.
pub fn fieldpath_selector(data: &[u8]) {
    use strata::kustomize::builtins::replacements;
    use strata::kustomize::fieldspec;
    use strata::kustomize::load::kustomization::Selector;
    use strata::kustomize::selector::Target;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = yaml::parse_stream(text) else {
        return;
    };
    let Some((probe, rest)) = docs.split_last() else {
        return;
    };
    let loader = Loader::new();
    let stream = yaml::to_yaml_stream(&rest.iter().map(|d| &d.value).collect::<Vec<_>>());
    let Some(mut set) = resources(&loader, "resources.yaml", &stream) else {
        return;
    };
    let list = |key: &str| -> Vec<Value> {
        probe
            .value
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for p in list("fieldPaths") {
        let Some(p) = p.as_str() else { continue };
        let segments = replacements::split_path(p);
        for r in &set {
            let _ = replacements::get(&Value::Object(r.obj().clone()), &segments);
        }
    }
    for s in list("selectors") {
        let Ok(sel) = serde_json::from_value::<Selector>(s) else {
            continue;
        };
        if let Ok(t) = Target::compile(&sel) {
            for r in &set {
                let _ = t.matches(r);
            }
        }
    }
    for f in list("fieldSpecs") {
        let Some(path) = f.get("path").and_then(Value::as_str) else {
            continue;
        };
        let create = f.get("create").and_then(Value::as_bool).unwrap_or(false);
        for r in &set {
            let mut v = Value::Object(r.obj().clone());
            let mut n = 0;
            let _ = fieldspec::visit::<()>(&mut v, path, create, &mut |field| {
                if field.is_null() {
                    *field = Value::String("fuzz".into());
                }
                n += 1;
                Ok(())
            });
            if create && n > 0 {
                let mut found = 0;
                let _ = fieldspec::visit::<()>(&mut v, path, false, &mut |_| {
                    found += 1;
                    Ok(())
                });
                assert!(found > 0, "`{path}` was created but is not found");
            }
        }
    }
    if let Some(reps) = probe.value.get("replacements") {
        let src = yaml::to_yaml(&serde_json::json!({ "replacements": reps }));
        let Ok(Some(doc)) = yaml::parse_single(&src) else {
            return;
        };
        let Ok(spec) = serde_json::from_value(doc.value.clone()) else {
            return;
        };
        let kf = strata::kustomize::load::kustomization::KustFile {
            dir: PathBuf::from("/nonexistent/strata-fuzz"),
            file: std::sync::Arc::new(strata::kustomize::load::LoadedFile {
                display: std::sync::Arc::new(PathBuf::from("kustomization.yaml")),
                src,
                docs: vec![doc],
                positions: OnceLock::new(),
            }),
            kind: strata::kustomize::load::kustomization::KustKind::Kustomization,
            spec,
        };
        if let Err(e) = replacements::apply(&kf, &loader, &mut set) {
            let _ = e.to_string();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// substitution

/// Substitution of one string: the first section is the string; the second holds lines
/// `NAME=VALUE` (a value given), `?NAME` (declared without a value) and `!NAME` (ignored).
/// Never a panic; every placeholder reported unresolved is in the text; with no value for
/// anything, no `:=` default and no `$${` escape, the text is left as it is.
pub fn substitution(data: &[u8]) {
    use strata::hostnet::substitution::{placeholders, substitute};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parts = sections(text);
    let s = parts[0].as_str();
    let mut values = std::collections::HashMap::new();
    let mut declared = std::collections::HashSet::new();
    let mut ignored = std::collections::HashSet::new();
    for line in parts.get(1).map(String::as_str).unwrap_or("").lines() {
        if let Some(n) = line.strip_prefix('?') {
            declared.insert(n.to_string());
        } else if let Some(n) = line.strip_prefix('!') {
            ignored.insert(n.to_string());
        } else if let Some((n, v)) = line.split_once('=') {
            values.insert(n.to_string(), v.to_string());
        }
    }
    let is_declared = |n: &str| declared.contains(n) || values.contains_key(n);
    let is_ignored = |n: &str| ignored.contains(n);
    let lookup = |n: &str| values.get(n).cloned();
    let out = substitute(s, &is_declared, &is_ignored, &lookup);
    for u in &out.unresolved {
        assert!(
            out.text.contains(u.as_str()),
            "unresolved {u:?} is not in the result {:?}",
            out.text
        );
    }
    if values.is_empty() && !s.contains(":=") && !s.contains("$${") {
        assert_eq!(out.text, s, "nothing to substitute, yet the text changed");
        assert!(!out.changed);
    }
    for p in placeholders(s) {
        assert!(
            s.contains(p.as_str()) || p.starts_with("${"),
            "placeholder {p:?} is not in {s:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// diff_model

/// The diff model: two sections, each a YAML stream of resources (a render: identities
/// unique); an optional third of `--ignore` globs (`id:GLOB`, `path:GLOB`, one a line).
/// Never a panic; a set compared with itself has no differences and every resource
/// unchanged; the counts add up; every output format renders the report.
pub fn diff_model(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parts = sections(text);
    let loader = Loader::new();
    let Some(a) = render_like(&loader, "base.yaml", &parts[0]) else {
        return;
    };
    let b = match parts.get(1) {
        Some(t) => match render_like(&loader, "head.yaml", t) {
            Some(b) => b,
            None => return,
        },
        None => a.clone(),
    };
    let (mut ids, mut paths) = (Vec::new(), Vec::new());
    for line in parts.get(2).map(String::as_str).unwrap_or("").lines() {
        if let Some(g) = line.strip_prefix("id:") {
            ids.push(g.to_string());
        } else if let Some(g) = line.strip_prefix("path:") {
            paths.push(g.to_string());
        }
    }
    let Ok(ignore) = Ignore::new(&ids, &paths) else {
        return;
    };
    let relabel = |s: &str| s.to_string();
    for x in [&a, &b] {
        let same = diff_model::diff_env("env", side(x), side(x), &ignore, &relabel);
        let titles: Vec<String> = same.resources.iter().map(|r| r.title()).collect();
        assert!(
            same.resources.is_empty(),
            "a set compared with itself differs: {titles:?}"
        );
        // Every resource the ignore globs leave is unchanged.
        let kept = diff_model::diff_env("env", side(x), side(&[]), &ignore, &relabel).removed;
        assert_eq!(same.unchanged, kept);
    }
    let ab = diff_model::diff_env("a-b", side(&a), side(&b), &ignore, &relabel);
    let ba = diff_model::diff_env("b-a", side(&b), side(&a), &ignore, &relabel);
    for e in [&ab, &ba] {
        assert_eq!(e.added + e.removed + e.changed, e.resources.len());
        for r in &e.resources {
            assert_eq!(
                r.added_lines + r.removed_lines > 0,
                r.before != r.after,
                "{}",
                r.title()
            );
        }
    }
    let aa = diff_model::diff_env("a-a", side(&a), side(&a), &ignore, &relabel);
    let report = DiffReport::new("base".into(), "head".into(), vec![ab, ba, aa], true);
    render_all(&report);
}

/// A side of a comparison without findings or tree.
fn side(resources: &[Resource]) -> Side<'_> {
    Side {
        resources,
        diagnostics: &[],
        root: None,
    }
}

/// The resources of a stream if they could be a render's: unique identities.
fn render_like(loader: &Loader, name: &str, text: &str) -> Option<Vec<Resource>> {
    let set = resources(loader, name, text)?;
    strata::model::check_unique(&set).ok()?;
    Some(set)
}

/// Every diff format over `report`, checking the markdown.
fn render_all(report: &DiffReport) {
    let _ = strata::diff::terminal::render(report, true);
    let _ = strata::diff::terminal::render(report, false);
    let _ = strata::diff::html::render(report);
    let json = strata::diff::json::render(report);
    serde_json::from_str::<Value>(&json).expect("the JSON diff is JSON");
    for max in [usize::MAX, 65536, 4096, 1000, 200] {
        check_markdown(report, max);
    }
}

// ---------------------------------------------------------------------------------------------
// report_output

/// SARIF and markdown output: two sections of resources (base and head, as in
/// `diff_model`), each validated (rules over the assumed cluster profile). Every findings
/// format renders; SARIF is JSON valid against the SARIF 2.1.0 schema (when the schema is
/// at hand: `STRATA_SARIF_SCHEMA`, or `target/sarif/` where `.ci/run` puts it) with every
/// result's rule listed and positions from 1; the diff's markdown stays within its byte
/// budget and, whenever its summary fits, is well-formed: every `<details>` closed, every
/// code fence closed.
pub fn report_output(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parts = sections(text);
    let base_loader = Loader::new();
    let head_loader = Loader::new();
    let Some(base) = render_like(&base_loader, "base.yaml", &parts[0]) else {
        return;
    };
    let head = match parts.get(1) {
        Some(t) => match render_like(&head_loader, "head.yaml", t) {
            Some(h) => h,
            None => return,
        },
        None => Vec::new(),
    };
    let profile = strata::validate::ClusterProfile::assumed();
    let base_report = strata::validate::validate(&base, &profile, &base_loader);
    let head_report = strata::validate::validate(&head, &profile, &head_loader);
    for (report, loader) in [(&base_report, &base_loader), (&head_report, &head_loader)] {
        for color in [false, true] {
            let _ = strata::report::render(report, strata::report::Format::Human, loader, color);
        }
        let json = strata::report::render(report, strata::report::Format::Json, loader, false);
        serde_json::from_str::<Value>(&json).expect("the JSON report is JSON");
        let _ = strata::report::render(report, strata::report::Format::Github, loader, false);
        let sarif = strata::report::render(report, strata::report::Format::Sarif, loader, false);
        check_sarif(&sarif, report.diagnostics.len());
    }
    let relabel = |s: &str| s.to_string();
    let env = diff_model::diff_env(
        "overlays/fuzz",
        Side {
            resources: &base,
            diagnostics: &base_report.diagnostics,
            root: None,
        },
        Side {
            resources: &head,
            diagnostics: &head_report.diagnostics,
            root: None,
        },
        &Ignore::default(),
        &relabel,
    );
    let failed = diff_model::failed_env(
        "overlays/broken",
        vec![diff_model::RenderFailure {
            side: "head".into(),
            label: "working tree".into(),
            message: parts.get(2).cloned().unwrap_or_default(),
        }],
    );
    let envs: Vec<EnvDiff> = vec![env.clone(), env, failed];
    let report = DiffReport::new("origin/main".into(), "working tree".into(), envs, true);
    render_all(&report);
}

fn sarif_validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let path = std::env::var("STRATA_SARIF_SCHEMA")
            .map(PathBuf::from)
            .ok()
            .or_else(|| {
                let here = Path::new(env!("CARGO_MANIFEST_DIR"));
                [here.join("target/sarif"), here.join("../target/sarif")]
                    .into_iter()
                    .map(|d| d.join("sarif-2.1.0-rtm.5.json"))
                    .find(|p| p.is_file())
            })?;
        let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        // As tests/validate.rs: the published `language` pattern is not a Rust regex.
        for def in ["run", "toolComponent"] {
            if let Some(lang) = schema
                .pointer_mut(&format!("/definitions/{def}/properties/language"))
                .and_then(Value::as_object_mut)
            {
                lang.remove("pattern");
            }
        }
        jsonschema::validator_for(&schema).ok()
    })
    .as_ref()
}

fn check_sarif(sarif: &str, diagnostics: usize) {
    let v: Value = serde_json::from_str(sarif).expect("SARIF is JSON");
    if let Some(validator) = sarif_validator() {
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "invalid SARIF: {}", errors.join("\n"));
    }
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), diagnostics);
    for r in results {
        let i = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "ruleIndex names another rule");
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().is_some_and(|l| l >= 1), "{r}");
        assert!(
            region["startColumn"].as_u64().is_some_and(|c| c >= 1),
            "{r}"
        );
    }
}

/// The markdown comment within `max` bytes, well-formed when not cut; `split`'s parts each
/// within `max` and well-formed.
fn check_markdown(report: &DiffReport, max: usize) {
    let md = strata::diff::markdown::render(report, max);
    assert!(md.len() <= max, "{} bytes over a budget of {max}", md.len());
    let whole = strata::diff::markdown::render(report, usize::MAX);
    well_formed(&whole);
    if md.len() < max && md.starts_with(&summary_of(&whole)) {
        well_formed(&md);
    }
    if max >= 1000 {
        for part in strata::diff::markdown::split(report, max) {
            assert!(
                part.len() <= max,
                "a part of {} bytes over {max}",
                part.len()
            );
            if part.starts_with("## strata diff (part") || part.starts_with(&summary_of(&whole)) {
                well_formed(&part);
            }
        }
    }
}

/// The comment up to its first `<details>` block: the summary, which the budget may cut.
fn summary_of(md: &str) -> String {
    md.split("<details>").next().unwrap_or("").to_string()
}

/// Every `<details>` is closed, both read as HTML (a code fence left open, or closed too
/// early, swallows or spills them).
fn well_formed(md: &str) {
    use pulldown_cmark::{Event, Options, Parser};
    let (mut open, mut close) = (0, 0);
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        if let Event::Html(h) | Event::InlineHtml(h) = event {
            open += h.matches("<details>").count();
            close += h.matches("</details>").count();
        }
    }
    assert_eq!(
        open, close,
        "<details> opened {open} times, closed {close} times:\n{md}"
    );
}
