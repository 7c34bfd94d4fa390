//! End-to-end error reporting: each test builds a small, broken kustomization tree in a
//! temporary directory, runs the `strata` binary on it and checks the contract of a failed
//! render: exit code 2, nothing on stdout, and a message on stderr that names the file, the
//! line, the kustomization entry at fault and what to do about it.
//!
//! The binary runs with the temporary directory as its working directory, so the paths it
//! shows are relative (`app/cm.yaml`) and can be compared exactly.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::strata;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

/// A temporary tree of files.
struct Tree {
    dir: tempfile::TempDir,
}

/// What one run printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Tree {
    fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Writes a file (creating its directories); `rel` is relative to the tree's root.
    fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        self
    }

    fn mkdir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.dir.path().join(rel)).expect("mkdir");
        self
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `strata render ARGS...`, run from the tree's root.
    fn render(&self, args: &[&str]) -> Run {
        let start = Instant::now();
        let out = strata()
            .arg("render")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run strata");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }

    /// Renders `dir` and requires the failure contract; returns stderr.
    fn fails(&self, dir: &str) -> String {
        self.render(&[dir]).failed()
    }
}

impl Run {
    /// Exit code 2, empty stdout, no panic; returns stderr.
    fn failed(self) -> String {
        assert_eq!(
            self.code,
            Some(2),
            "expected exit code 2; stderr:\n{}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "stdout must be empty on failure, got:\n{}",
            self.stdout
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("overflow"),
            "{}",
            self.stderr
        );
        assert!(self.stderr.starts_with("error: "), "{}", self.stderr);
        self.stderr
    }
}

/// Every part must appear in `stderr`, verbatim.
#[track_caller]
fn has(stderr: &str, parts: &[&str]) {
    for p in parts {
        assert!(
            stderr.contains(p),
            "stderr lacks {p:?}; stderr was:\n{stderr}"
        );
    }
}

/// A kustomization listing `resources` (as written, one per line).
fn kust(resources: &[&str]) -> String {
    let mut s = String::from("resources:\n");
    for r in resources {
        s.push_str(&format!("- {r}\n"));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// YAML

#[test]
fn malformed_yaml_in_a_resource_file() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"])).file(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n   j: w\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid YAML: mapping values are not allowed in this context\n",
            "  --> app/cm.yaml:7:5\n",
            "  = in resources[0] of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn malformed_yaml_in_the_kustomization() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nnamespace: [x\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid YAML: ",
            "  --> app/kustomization.yaml:3:12\n",
        ],
    );
    // Nothing is said about an entry: the kustomization itself is at fault.
    assert!(!err.contains("  = in "), "{err}");
}

#[test]
fn duplicate_keys_point_at_the_second_key() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"])).file(
        "app/cm.yaml",
        format!("{CM}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  name: t\n"),
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid YAML: duplicate key \"name\" in one mapping; Kubernetes would keep only the last one: remove one of them\n",
            "  --> app/cm.yaml:12:3\n",
            "  = in resources[0] of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn deeply_nested_yaml_fails_fast() {
    let t = Tree::new();
    let deep = format!("{CM}  deep: {}\n", "[".repeat(10_000));
    t.file("app/kustomization.yaml", kust(&["cm.yaml"]))
        .file("app/cm.yaml", deep);
    let run = t.render(&["app"]);
    let elapsed = run.elapsed;
    let err = run.failed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    has(
        &err,
        &[
            "error: invalid YAML: nesting deeper than 256 levels\n",
            "  --> app/cm.yaml:7:",
            "  = in resources[0] of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn deeply_nested_kustomization_fails_fast() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        format!("resources: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
    );
    let run = t.render(&["app"]);
    let elapsed = run.elapsed;
    let err = run.failed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    has(
        &err,
        &[
            "error: invalid YAML: nesting deeper than 256 levels\n",
            "  --> app/kustomization.yaml:1:",
        ],
    );
}

#[test]
fn alias_bomb_fails_fast() {
    let t = Tree::new();
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    t.file("app/kustomization.yaml", kust(&["cm.yaml"]))
        .file("app/cm.yaml", bomb);
    let run = t.render(&["app"]);
    let elapsed = run.elapsed;
    let err = run.failed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    has(
        &err,
        &[
            "error: invalid YAML: aliases expand to more than 1000000 nodes (an alias bomb?)",
            "  --> app/cm.yaml:",
            "  = in resources[0] of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn non_utf8_file_names_the_byte_and_its_line() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"])).file(
        "app/cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: caf\xe9\n",
    );
    let err = t.fails("app");
    assert_eq!(
        err,
        "error: the file is not valid UTF-8: byte 0xe9 at line 6, column 9\n\
         \x20 --> app/cm.yaml:6:9\n\
         \x20 = in resources[0] of app/kustomization.yaml\n\
         \x20 = help: Kubernetes manifests are UTF-8 text: re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Resources

#[test]
fn missing_resource_file() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml", "missing.yaml"]))
        .file("app/cm.yaml", CM);
    let err = t.fails("app");
    assert_eq!(
        err,
        "error: resources[1]: `missing.yaml` does not exist\n\
         \x20 --> app/kustomization.yaml:3:3\n\
         \x20 = help: paths in a kustomization are relative to the directory that holds it\n"
    );
}

/// The second document of `cm.yaml` (starting on line 8, after `---` and a comment) lacks a
/// field; the error points at that document.
fn missing_field(second_doc: &str, message: &str) {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml"])).file(
        "app/cm.yaml",
        format!("{CM}---\n# the second one\n{second_doc}"),
    );
    let err = t.fails("app");
    assert_eq!(
        err,
        format!(
            "error: {message}\n\
             \x20 --> app/cm.yaml:9:1\n\
             \x20 = in resources[0] of app/kustomization.yaml\n\
             \x20 = help: every document must be a Kubernetes object with apiVersion, kind and metadata.name\n"
        )
    );
}

#[test]
fn document_without_api_version() {
    missing_field(
        "kind: ConfigMap\nmetadata:\n  name: b\n",
        "the document has no `apiVersion`",
    );
}

#[test]
fn document_without_kind() {
    missing_field(
        "apiVersion: v1\nmetadata:\n  name: b\n",
        "the document has no `kind`",
    );
}

#[test]
fn document_without_metadata_name() {
    missing_field(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    app: b\n",
        "the document has no `metadata.name`",
    );
}

#[test]
fn two_resources_with_the_same_identity_name_both_origins() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["a.yaml", "base"]))
        .file("app/a.yaml", CM)
        .file("app/base/kustomization.yaml", kust(&["b.yaml"]))
        .file(
            "app/base/b.yaml",
            format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n{CM}"),
        );
    let err = t.fails("app");
    assert_eq!(
        err,
        "error: two resources have the same identity: ConfigMap v1 a (first read at app/a.yaml:1)\n\
         \x20 --> app/base/b.yaml:6:1\n\
         \x20 = while adding resources[1] of app/kustomization.yaml\n\
         \x20 = help: remove one of them, or give them different names or namespaces\n"
    );
}

/// `n` ConfigMaps `cm-0` .. `cm-{n-1}`, one per document, each 4 lines long after `---`.
fn many_config_maps(n: usize) -> String {
    (0..n)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n"))
        .collect()
}

#[test]
fn in_a_large_file_the_first_duplicate_in_file_order_is_reported() {
    // 600 documents: identities are hashed on all cores; of two duplicates, the earlier one
    // in the file is reported, against its first definition.
    let mut text = many_config_maps(600);
    text.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-7\n");
    text.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-3\n");
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["many.yaml"]))
        .file("app/many.yaml", text);
    let err = t.fails("app");
    assert_eq!(
        err,
        "error: two resources have the same identity: ConfigMap v1 cm-7 (first read at app/many.yaml:37)\n\
         \x20 --> app/many.yaml:3002:1\n\
         \x20 = while adding resources[0] of app/kustomization.yaml\n\
         \x20 = help: remove one of them, or give them different names or namespaces\n"
    );
}

#[test]
fn in_a_large_file_the_first_bad_document_in_file_order_is_reported() {
    // Documents are checked on all cores; the error is the first one in the file.
    let mut text = many_config_maps(300);
    text.push_str("---\napiVersion: v1\nmetadata:\n  name: no-kind\n");
    text.push_str(&many_config_maps(300).replace("cm-", "more-"));
    text.push_str("---\n- a list\n");
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["many.yaml"]))
        .file("app/many.yaml", text);
    let err = t.fails("app");
    assert!(
        err.starts_with("error: the document has no `kind`\n  --> app/many.yaml:1502:1\n"),
        "{err}"
    );
}

#[test]
fn a_large_render_that_fails_validation_writes_nothing() {
    // From 200 objects the output is written while validation runs; a validation error
    // must still leave stdout empty.
    let mut text = many_config_maps(250);
    text.push_str(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: left\ndata:\n  registry: registry-<REGION_ID>-vpc.example.com\n",
    );
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["many.yaml"]))
        .file("app/many.yaml", text);
    let run = t.render(&["app"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("IM001"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
}

#[test]
fn remote_url_resource() {
    let t = Tree::new();
    let url = "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0";
    t.file("app/kustomization.yaml", kust(&["cm.yaml", url]))
        .file("app/cm.yaml", CM);
    let err = t.fails("app");
    assert_eq!(
        err,
        format!(
            "error: resources[1]: remote resource `{url}` is not supported: strata renders only what is in the repository\n\
             \x20 --> app/kustomization.yaml:3:3\n\
             \x20 = help: vendor the remote base into the repository and refer to it by a relative path\n"
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Load restrictions and structure

#[test]
fn resource_file_outside_the_root() {
    let t = Tree::new();
    t.file("outside.yaml", CM)
        .file("app/kustomization.yaml", kust(&["../outside.yaml"]));
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: resources[0]: `../outside.yaml` resolves to outside.yaml, outside the kustomization directory app\n",
            "  --> app/kustomization.yaml:2:3\n",
            "  = help: a kustomization may read files only below its own directory",
        ],
    );
}

#[cfg(unix)]
#[test]
fn symlink_pointing_outside_the_root() {
    let t = Tree::new();
    t.file("outside.yaml", CM)
        .file("app/kustomization.yaml", kust(&["cm.yaml", "link.yaml"]))
        .file("app/cm.yaml", CM.replace("name: a", "name: b"));
    std::os::unix::fs::symlink("../outside.yaml", t.path("app/link.yaml")).expect("symlink");
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: resources[1]: `link.yaml` resolves to outside.yaml, outside the kustomization directory app\n",
            "  --> app/kustomization.yaml:3:3\n",
            "symlinks are resolved first",
        ],
    );
}

#[test]
fn kustomization_cycle_points_at_the_closing_entry() {
    let t = Tree::new();
    t.file("a/kustomization.yaml", kust(&["../b"]))
        .file("b/kustomization.yaml", kust(&["cm.yaml", "../a"]))
        .file("b/cm.yaml", CM);
    let err = t.fails("a");
    assert_eq!(
        err,
        "error: kustomization cycle: a -> b -> a\n\
         \x20 --> b/kustomization.yaml:3:3\n\
         \x20 = in resources[0] of a/kustomization.yaml\n\
         \x20 = help: a kustomization cannot include itself, directly or through others\n"
    );
}

#[test]
fn empty_directory_without_kustomization() {
    let t = Tree::new();
    t.mkdir("empty");
    let err = t.fails("empty");
    assert_eq!(
        err,
        "error: no kustomization file in empty\n\
         \x20 = help: a directory to render needs a kustomization.yaml (or .yml, or Kustomization)\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Kustomization fields

#[test]
fn unknown_kustomization_field_names_its_line() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresourcse:\n- cm.yaml\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    assert_eq!(
        err,
        "error: invalid kustomization: unknown field `resourcse`\n\
         \x20 --> app/kustomization.yaml:3:1\n\
         \x20 = help: did you mean `resources`?\n"
    );
}

#[test]
fn unknown_field_in_a_patch_entry_names_its_line() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\npatches:\n- path: p.yaml\n  tagret:\n    kind: ConfigMap\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    assert_eq!(
        err,
        "error: invalid kustomization: unknown field `tagret` in `patches[0]`\n\
         \x20 --> app/kustomization.yaml:5:3\n\
         \x20 = help: did you mean `target`?\n"
    );
}

#[test]
fn unknown_field_far_from_any_known_lists_them() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nfoo:\n  bar: 1\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid kustomization: unknown field `foo`\n",
            "  --> app/kustomization.yaml:3:1\n",
            "  = help: check the spelling; fields here are those of kustomize v5 (kustomize.config.k8s.io/v1beta1): apiVersion, kind, metadata, resources,",
        ],
    );
}

/// An unsupported field, written on line 3 with its value on the lines below (or beside it).
fn unsupported(field: &str, value: &str, why: &str) {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        format!("resources:\n- cm.yaml\n{field}:{value}"),
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    assert_eq!(
        err,
        format!(
            "error: `{field}` is not supported by strata yet: {why}\n\
             \x20 --> app/kustomization.yaml:3:1\n\
             \x20 = help: remove `{field}` from this kustomization, or render this tree with kustomize\n"
        )
    );
}

#[test]
fn replacement_source_not_found_names_the_entry() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nreplacements:\n- source: {kind: ConfigMap, name: nope}\n  targets:\n  - select: {kind: ConfigMap}\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: the replacement source {kind: ConfigMap, name: nope} selects no resource\n",
            "  --> app/kustomization.yaml:4:3\n",
            "  = in replacements[0] of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn replacement_target_field_missing_without_create() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nreplacements:\n- path: r.yaml\n",
    )
    .file(
        "app/r.yaml",
        "source: {kind: ConfigMap}\ntargets:\n- select: {kind: ConfigMap}\n  fieldPaths: [data.nothere]\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "unable to find field `data.nothere` in ConfigMap",
            "  --> app/kustomization.yaml:4:3\n",
            "  = the replacement was read from app/r.yaml\n",
            "`options: {create: true}`",
        ],
    );
}

#[test]
fn config_map_generator_reads_only_below_its_directory() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "configMapGenerator:\n- name: settings\n  files:\n  - ../secret.txt\n",
    )
    .file("secret.txt", "x");
    let err = t.fails("app");
    has(
        &err,
        &[
            "configMapGenerator[0].files[0]: `../secret.txt` resolves to",
            "outside the kustomization directory",
            "app/kustomization.yaml:2:3",
        ],
    );
}

#[test]
fn generator_merge_needs_an_object_to_merge_into() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "configMapGenerator:\n- name: settings\n  behavior: merge\n  literals:\n  - a=b\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "ConfigMap settings does not exist; cannot merge or replace",
            "app/kustomization.yaml:2:3",
        ],
    );
}

#[test]
fn unsupported_helm_charts() {
    unsupported(
        "helmCharts",
        "\n- name: redis\n  repo: https://charts.example.com\n",
        "no helm binary is assumed; render the chart first",
    );
}

// ---------------------------------------------------------------------------------------------
// Patches

const PATCHED: &str = "resources:\n- cm.yaml\npatches:\n";

#[test]
fn json_patch_replace_of_a_missing_path() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        format!(
            "{PATCHED}- target:\n    kind: ConfigMap\n    name: a\n  patch: |-\n    - op: replace\n      path: /data/k\n      value: w\n    - op: replace\n      path: /data/missing\n      value: x\n"
        ),
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: op 1 (replace /data/missing): path does not exist\n",
            "  --> app/kustomization.yaml:4:3\n",
            "  = in patches[0] of app/kustomization.yaml\n",
            "  = patching ConfigMap v1 a (from app/cm.yaml:1)\n",
        ],
    );
}

#[test]
fn json_patch_failing_test_op() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        format!("{PATCHED}- path: cm-patch.yaml\n  target:\n    kind: ConfigMap\n    name: a\n- path: cm-test.yaml\n  target:\n    kind: ConfigMap\n"),
    )
    .file("app/cm.yaml", CM)
    .file("app/cm-patch.yaml", "- op: add\n  path: /data/j\n  value: x\n")
    .file(
        "app/cm-test.yaml",
        "- op: test\n  path: /data/j\n  value: x\n- op: test\n  path: /data/k\n  value: nope\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: op 1 (test /data/k): test failed: value is \"v\", expected \"nope\"\n",
            "  --> app/kustomization.yaml:8:3\n",
            "  = in patches[1] of app/kustomization.yaml\n",
            "  = patching ConfigMap v1 a (from app/cm.yaml:1)\n",
        ],
    );
}

const NO_MATCH: &str = "- target:\n    kind: ConfigMap\n  patch: |-\n    - op: add\n      path: /data/x\n      value: w\n- target:\n    kind: Deployment\n";
const NO_MATCH_OPS: &str =
    "  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 3\n";

#[test]
fn patch_target_matching_nothing_is_an_error() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        format!("{PATCHED}{NO_MATCH}{NO_MATCH_OPS}"),
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: the patch target matches no resource\n",
            "  --> app/kustomization.yaml:10:3\n",
            "  = in patches[1] of app/kustomization.yaml\n",
            "  = help: fix the target, or set `options: {allowNoMatch: true}` on this entry",
        ],
    );
}

#[test]
fn patch_target_matching_nothing_with_allow_no_match_renders() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        format!("{PATCHED}{NO_MATCH}  options:\n    allowNoMatch: true\n{NO_MATCH_OPS}"),
    )
    .file("app/cm.yaml", CM);
    let run = t.render(&["app"]);
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n  x: w\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Output

#[test]
fn output_file_is_not_written_when_the_render_fails() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", kust(&["cm.yaml", "missing.yaml"]))
        .file("app/cm.yaml", CM)
        .mkdir("out");
    // A new file is not created...
    let err = t.render(&["app", "-o", "out/new.yaml"]).failed();
    has(
        &err,
        &["error: resources[1]: `missing.yaml` does not exist\n"],
    );
    assert!(!t.path("out/new.yaml").exists());
    // ...and an existing one is left as it was.
    t.file("out/old.yaml", "previous render\n");
    let err = t.render(&["app", "--output", "out/old.yaml"]).failed();
    has(&err, &["  --> app/kustomization.yaml:3:3\n"]);
    assert_eq!(
        std::fs::read_to_string(t.path("out/old.yaml")).unwrap(),
        "previous render\n"
    );
    // No temporary file is left behind.
    let left: Vec<String> = std::fs::read_dir(t.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["old.yaml"]);
    // The same tree, fixed, does write the file (the test would pass vacuously otherwise).
    t.file("app/kustomization.yaml", kust(&["cm.yaml"]));
    let run = t.render(&["app", "-o", "out/new.yaml"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(t.path("out/new.yaml")).unwrap(), CM);
}

#[test]
fn unsupported_field_spelled_in_another_case_names_its_line() {
    // kustomize reads field names without regard to case; the error still points at the line.
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nHELMCHARTS:\n  - name: X\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: `helmCharts` is not supported by strata yet",
            "  --> app/kustomization.yaml:3:1\n",
        ],
    );
}

#[test]
fn var_naming_no_resource_and_ambiguous_vars() {
    // kustomize: a var whose objref matches nothing fails at the top, where vars resolve.
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nvars:\n- name: X\n  objref:\n    kind: ConfigMap\n    name: nope\n    apiVersion: v1\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: var `X` (objref ConfigMap/nope, fieldpath metadata.name) cannot be mapped to a field in the set of known resources",
            "app/kustomization.yaml",
        ],
    );
    // The same name declared twice up the tree.
    t.file(
        "top/kustomization.yaml",
        "resources:\n- ../base\nvars:\n- name: X\n  objref:\n    kind: ConfigMap\n    name: a\n    apiVersion: v1\n",
    )
    .file(
        "base/kustomization.yaml",
        "resources:\n- cm.yaml\nvars:\n- name: X\n  objref:\n    kind: ConfigMap\n    name: a\n    apiVersion: v1\n",
    )
    .file("base/cm.yaml", CM);
    let err = t.fails("top");
    has(
        &err,
        &[
            "error: var `X` already encountered",
            "  --> top/kustomization.yaml:4:3\n",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// OpenAPI schemas (`openapi:`)

const THING: &str =
    "apiVersion: x.io/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  items: [{name: a}]\n";

#[test]
fn openapi_with_both_path_and_version() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nopenapi:\n  path: schema.json\n  version: v1.21.2\n",
    )
    .file("app/cm.yaml", CM)
    .file("app/schema.json", "{}");
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: `openapi` has both `path` and `version`: kustomize cannot use both\n",
            "  --> app/kustomization.yaml:3:1\n",
        ],
    );
}

#[test]
fn openapi_version_not_built_in() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nopenapi:\n  version: v1.14.1\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: the OpenAPI version `v1.14.1` is not built into kustomize v5.5\n",
            "  --> app/kustomization.yaml:4:12\n",
            "the only built-in version is v1.21.2",
        ],
    );
}

#[test]
fn openapi_field_misspelled() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nopenapi:\n  pth: schema.json\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid kustomization: unknown field `pth` in `openapi`\n",
            "  --> app/kustomization.yaml:4:3\n",
            "did you mean `path`?",
        ],
    );
}

#[test]
fn openapi_schema_file_missing_or_outside() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nopenapi:\n  path: nope.json\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: openapi.path: `nope.json` does not exist\n",
            "  --> app/kustomization.yaml:4:9\n",
        ],
    );
    t.file("schema.json", "{}").file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nopenapi:\n  path: ../schema.json\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "openapi.path: `../schema.json` resolves to",
            "outside the kustomization directory",
        ],
    );
}

#[test]
fn openapi_schema_file_malformed_names_its_line() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\nopenapi:\n  path: schema.yaml\n",
    )
    .file("app/cm.yaml", CM)
    .file(
        "app/schema.yaml",
        "definitions:\n  x.Thing:\n    properties:\n      items:\n        type: array\n        x-kubernetes-patch-strategy: [merge]\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid OpenAPI schema at `/definitions/x.Thing/properties/items/x-kubernetes-patch-strategy`: must be a string, not a list\n",
            "  --> app/schema.yaml:6:38\n",
            "  = in openapi.path of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn openapi_ref_naming_no_definition() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- thing.yaml\nopenapi:\n  path: schema.yaml\npatches:\n- patch: |-\n    apiVersion: x.io/v1\n    kind: Thing\n    metadata:\n      name: t\n    spec:\n      items: [{name: b}]\n",
    )
    .file("app/thing.yaml", THING)
    .file(
        "app/schema.yaml",
        "definitions:\n  x.Thing:\n    x-kubernetes-group-version-kind:\n    - {group: x.io, version: v1, kind: Thing}\n    properties:\n      spec:\n        $ref: '#/definitions/x.ThingSpec'\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: strategic merge failed: at spec: the OpenAPI schema has no definition `x.ThingSpec` (`$ref` at `/definitions/x.Thing/properties/spec/$ref` of app/schema.yaml, line 7); kustomize would silently give this field no merge keys\n",
            "  --> app/kustomization.yaml:6:3\n",
            "  = in patches[0] of app/kustomization.yaml\n",
        ],
    );
    // With the definition, the list merges on its key.
    t.file(
        "app/schema.yaml",
        "definitions:\n  x.Thing:\n    x-kubernetes-group-version-kind:\n    - {group: x.io, version: v1, kind: Thing}\n    properties:\n      spec:\n        $ref: '#/definitions/x.ThingSpec'\n  x.ThingSpec:\n    properties:\n      items:\n        type: array\n        x-kubernetes-patch-strategy: merge\n        x-kubernetes-patch-merge-key: name\n",
    );
    let run = t.render(&["app"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("  items:\n  - name: b\n  - name: a\n"),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// CRD definitions (`crds:`)

#[test]
fn crds_file_missing() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\ncrds:\n- nope.json\n",
    )
    .file("app/cm.yaml", CM);
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: crds[0]: `nope.json` does not exist\n",
            "  --> app/kustomization.yaml:4:3\n",
        ],
    );
}

#[test]
fn crds_file_malformed_names_its_line() {
    let t = Tree::new();
    t.file(
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\ncrds:\n- crd.yaml\n",
    )
    .file("app/cm.yaml", CM)
    .file(
        "app/crd.yaml",
        "a.b/v1.MyKind:\n  Schema:\n    properties:\n    - kind\n",
    );
    let err = t.fails("app");
    has(
        &err,
        &[
            "error: invalid CRD definitions at `/a.b~1v1.MyKind/Schema/properties`: must be a mapping\n",
            "  --> app/crd.yaml:4:7\n",
            "  = in crds[0] of app/kustomization.yaml\n",
        ],
    );
}

#[test]
fn an_empty_kustomization_is_an_error_as_in_kustomize() {
    for text in [
        "",
        "# nothing yet\n",
        "{}\n",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
    ] {
        let t = Tree::new();
        t.file("app/kustomization.yaml", text);
        let err = t.fails("app");
        assert!(
            err.starts_with(
                "error: the kustomization file is empty\n  --> app/kustomization.yaml\n"
            ),
            "{text:?}: {err}"
        );
    }
    // An explicit empty list is content, as in kustomize: nothing to render, exit 0.
    let t = Tree::new();
    t.file("app/kustomization.yaml", "resources: []\n");
    assert_eq!(t.render(&["app"]).code, Some(0));
}

#[test]
fn the_working_directory_without_a_kustomization_is_named() {
    let t = Tree::new();
    t.file("README.md", "not a kustomization\n");
    let err = t.fails(".");
    assert!(
        err.starts_with("error: no kustomization file in .\n"),
        "{err}"
    );
}

#[test]
fn a_closed_stderr_is_an_error_exit_not_a_panic() {
    let t = Tree::new();
    t.file("app/kustomization.yaml", "");
    let bin = env!("CARGO_BIN_EXE_strata");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("'{bin}' render app 2>&-; echo \"exit=$?\""))
        .current_dir(t.dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "exit=2");
}
