//! `openapi:` across a build: which schema a base's patches see depends on where the base is
//! built from (kustomize keeps the schema in process-global state), so a builder that shares
//! built bases between renders must reuse a base only where its patches would see the same
//! schemas. Expected values were checked with kubectl kustomize.

use std::path::Path;

use serde_json::{Value, json};

use strata::kustomize::build::Builder;

/// Writes a file below `root` (creating its directories).
fn file(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, contents).expect("write");
}

const SCHEMA: &str = "\
definitions:
  x.Thing:
    x-kubernetes-group-version-kind:
    - {group: x.io, version: v1, kind: Thing}
    properties:
      spec:
        properties:
          items:
            type: array
            items: {type: object}
            x-kubernetes-patch-strategy: merge
            x-kubernetes-patch-merge-key: name
";

const PATCH: &str = "\
- patch: |-
    apiVersion: x.io/v1
    kind: Thing
    metadata:
      name: t
    spec:
      items:
      - {name: PATCHED, v: 2}
";

/// `base` patches a Thing; `custom` builds it under a custom schema given at the top, `plain`
/// under the built-in schema, `late` before a sibling brings the schema and then patches
/// again.
fn tree(root: &Path) {
    file(
        root,
        "base/thing.yaml",
        "apiVersion: x.io/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  items:\n  - {name: a, v: 1}\n",
    );
    file(
        root,
        "base/kustomization.yaml",
        &format!(
            "resources:\n- thing.yaml\npatches:\n{}",
            PATCH.replace("PATCHED", "b")
        ),
    );
    file(
        root,
        "custom/kustomization.yaml",
        "resources:\n- ../base\nopenapi:\n  path: schema.yaml\n",
    );
    file(root, "custom/schema.yaml", SCHEMA);
    file(root, "plain/kustomization.yaml", "resources:\n- ../base\n");
    file(
        root,
        "late/kustomization.yaml",
        &format!(
            "resources:\n- ../base\n- schema\npatches:\n{}",
            PATCH.replace("PATCHED", "c")
        ),
    );
    file(
        root,
        "late/schema/kustomization.yaml",
        "openapi:\n  path: schema.yaml\n",
    );
    file(root, "late/schema/schema.yaml", SCHEMA);
}

fn items(b: &Builder, dir: &Path) -> Value {
    let set = b.render(dir).expect("renders");
    assert_eq!(set.len(), 1);
    Value::Object(set[0].obj().clone())["spec"]["items"].clone()
}

#[test]
fn a_shared_base_is_rebuilt_where_its_patches_see_other_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    tree(root);
    let expected = [
        // The base's patch merges on `name` under the custom schema,
        (
            "custom",
            json!([{"name": "b", "v": 2}, {"name": "a", "v": 1}]),
        ),
        // and replaces the list under the built-in one.
        ("plain", json!([{"name": "b", "v": 2}])),
        // The base patched under the built-in schema; the overlay's patch under both.
        (
            "late",
            json!([{"name": "c", "v": 2}, {"name": "b", "v": 2}]),
        ),
    ];
    for (dir, want) in &expected {
        assert_eq!(&items(&Builder::new(), &root.join(dir)), want, "{dir}");
    }
    // One builder sharing the base across renders, in an order that would reuse a wrong
    // build of it.
    let shared = Builder::with_sharing(true);
    for i in [0, 1, 2, 0, 1, 2, 2, 0] {
        let (dir, want) = &expected[i];
        assert_eq!(&items(&shared, &root.join(dir)), want, "{dir} (shared)");
    }
}
