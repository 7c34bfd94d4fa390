//! `strata render --out-dir OUT DIR...`: many overlays in one process, a folder per overlay and
//! a file per resource, the same objects as single renders; a failed run leaves OUT as it
//! was.

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs(text: &str) -> Vec<String> {
    let mut v: Vec<String> = strata::yaml::parse_stream(text)
        .unwrap()
        .into_iter()
        .map(|d| d.value.to_string())
        .collect();
    v.sort();
    v
}

fn tree_docs(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        names.push(e.file_name().to_string_lossy().into_owned());
        let text = std::fs::read_to_string(e.path()).unwrap();
        let d = docs(&text);
        assert_eq!(d.len(), 1, "one resource per file: {:?}", e.path());
        all.extend(d);
    }
    names.sort();
    all.sort();
    (names, all)
}

#[test]
fn overlays_render_into_one_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rendered");
    let overlays = ["overlays/cn-hangzhou", "overlays/cn-beijing"];
    let run = common::strata()
        .current_dir(root())
        .args(["render", "--out-dir"])
        .arg(&out)
        .args(overlays)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stdout.is_empty());
    for o in overlays {
        let single = common::strata()
            .current_dir(root())
            .args(["render", o])
            .output()
            .unwrap();
        let (names, objects) = tree_docs(&out.join(o));
        assert_eq!(
            objects,
            docs(&String::from_utf8_lossy(&single.stdout)),
            "{o}"
        );
        assert!(
            names.contains(&"Deployment_monitoring_nginx.yaml".to_string())
                && names.contains(&"Namespace__monitoring.yaml".to_string()),
            "{names:?}"
        );
    }
    // Rendering again replaces the tree.
    let run = common::strata()
        .current_dir(root())
        .args(["render", "--out-dir"])
        .arg(&out)
        .arg(overlays[0])
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(out.join(overlays[0]).is_dir() && !out.join(overlays[1]).exists());
    // No temporary directory is left beside it.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn a_failed_overlay_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("kustomization.yaml"),
        "resources:\n- missing.yaml\n",
    )
    .unwrap();
    let out = tmp.path().join("rendered");
    let run = |out: &Path| {
        common::strata()
            .current_dir(root())
            .args(["render", "--out-dir"])
            .arg(out)
            .arg("overlays/cn-hangzhou")
            .arg(&bad)
            .output()
            .unwrap()
    };
    let r = run(&out);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing.yaml"));
    assert!(!out.exists());

    // An earlier tree stays as it was.
    let ok = common::strata()
        .current_dir(root())
        .args(["render", "--out-dir"])
        .arg(&out)
        .arg("overlays/cn-beijing")
        .output()
        .unwrap();
    assert!(ok.status.success());
    let before = tree_docs(&out.join("overlays/cn-beijing"));
    let r = run(&out);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(tree_docs(&out.join("overlays/cn-beijing")), before);
    assert!(!out.join("overlays/cn-hangzhou").exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
}

#[test]
fn refuses_a_directory_it_did_not_write_and_several_dirs_without_out_dir() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let r = common::strata()
        .current_dir(root())
        .args(["render", "--out-dir"])
        .arg(tmp.path())
        .arg("overlays/cn-hangzhou")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(tmp.path().join("keep.txt").is_file());
    let r = common::strata()
        .current_dir(root())
        .args(["render", "overlays/cn-hangzhou", "overlays/cn-beijing"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(r.stdout.is_empty());
}

/// A render over an earlier tree hard-links the files whose text did not change (same inode,
/// same mtime: nothing for the file system to allocate, nothing for rsync to copy), writes
/// the ones that changed, and restores a file edited by hand in OUT; the earlier tree is
/// never written through.
#[cfg(unix)]
#[test]
fn a_rerender_reuses_unchanged_files_and_rewrites_the_rest() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("kustomization.yaml"), "resources:\n- cms.yaml\n").unwrap();
    let cms = |b: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: a\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: {b}\n"
        )
    };
    std::fs::write(app.join("cms.yaml"), cms("one")).unwrap();
    let out = tmp.path().join("rendered");
    let render = || {
        let r = common::strata()
            .current_dir(tmp.path())
            .args(["render", "--no-validate", "--out-dir"])
            .arg(&out)
            .arg("app")
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    let a = out.join("app/ConfigMap__a.yaml");
    let b = out.join("app/ConfigMap__b.yaml");
    render();
    let (a1, b1) = (a.metadata().unwrap(), b.metadata().unwrap());
    let a_text = std::fs::read_to_string(&a).unwrap();

    std::fs::write(app.join("cms.yaml"), cms("two")).unwrap();
    render();
    let (a2, b2) = (a.metadata().unwrap(), b.metadata().unwrap());
    assert_eq!(a2.ino(), a1.ino(), "unchanged file reused");
    assert_eq!(a2.mtime_nsec(), a1.mtime_nsec());
    assert_eq!(a2.nlink(), 1, "the earlier tree is gone");
    assert_ne!(b2.ino(), b1.ino());
    assert!(std::fs::read_to_string(&b).unwrap().contains("k: two"));

    // A file changed by hand in OUT is written anew, and the edit is not kept.
    std::fs::write(&a, "edited\n").unwrap();
    render();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), a_text);

    // A symlink put in its place, even to the same text, is replaced by a regular file.
    let elsewhere = tmp.path().join("same.yaml");
    std::fs::write(&elsewhere, &a_text).unwrap();
    std::fs::remove_file(&a).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &a).unwrap();
    render();
    assert!(std::fs::symlink_metadata(&a).unwrap().file_type().is_file());
    assert_eq!(std::fs::read_to_string(&a).unwrap(), a_text);
    std::fs::remove_file(&elsewhere).unwrap();
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
}

/// `n` apps (a ConfigMap and a Deployment that mounts it and reads the generated `shared`
/// ConfigMap), from app `first` on, under a kustomization that moves, renames and labels them.
fn app_tree(dir: &Path, first: usize, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut all = String::new();
    for i in first..first + n {
        all += &format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  idx: \"{i}\"\n\
             ---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n\
             spec:\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n\
             \x20     labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: c\n\
             \x20       image: nginx:1.27\n        envFrom:\n        - configMapRef:\n\
             \x20           name: shared\n      volumes:\n      - name: v\n        configMap:\n\
             \x20         name: cm-{i}\n"
        );
    }
    std::fs::write(dir.join("all.yaml"), all).unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n- all.yaml\nnamespace: team\nnameSuffix: -x\nlabels:\n- pairs:\n    tier: agent\n\
         configMapGenerator:\n- name: shared\n  literals:\n  - a=1\n",
    )
    .unwrap();
}

/// From 200 objects a build moves, renames, labels, hashes and fixes references on all cores,
/// and validates while it writes: the same objects as two builds of half the size, which take
/// the one-thread paths, and the same text with and without validation.
#[test]
fn a_large_build_renders_the_objects_its_halves_render() {
    let tmp = tempfile::tempdir().unwrap();
    app_tree(&tmp.path().join("whole"), 0, 120);
    app_tree(&tmp.path().join("a"), 0, 60);
    app_tree(&tmp.path().join("b"), 60, 60);
    let render = |dir: &str, validate: bool| {
        let mut cmd = common::strata();
        cmd.arg("render").arg(tmp.path().join(dir));
        if !validate {
            cmd.arg("--no-validate");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let whole = render("whole", true);
    assert_eq!(whole, render("whole", false));
    let whole_docs = docs(&whole);
    assert_eq!(
        whole_docs.len(),
        241,
        "120 apps and the generated ConfigMap"
    );
    let mut halves = docs(&render("a", true));
    halves.extend(docs(&render("b", true)));
    halves.sort();
    halves.dedup(); // the generated `shared` ConfigMap is in both halves
    assert_eq!(halves.len(), 241);
    assert_eq!(whole_docs, halves);
    // References followed the renames: no Deployment mounts a ConfigMap by its old name.
    assert!(
        whole.contains("configMap:\n          name: cm-119-x\n"),
        "{whole}"
    );
    assert!(!whole.contains("name: cm-119\n"), "{whole}");
}

/// Same-named overlays of different apps, given from outside the working directory, keep
/// their paths below the directory that holds them all: no collision.
#[test]
fn same_named_overlays_of_different_apps_get_their_own_folders() {
    let repo = tempfile::tempdir().unwrap();
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n")
    };
    for app in ["web", "api"] {
        let dir = repo.path().join(format!("apps/{app}/overlays/cn-beijing"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kustomization.yaml"), "resources:\n- cm.yaml\n").unwrap();
        std::fs::write(dir.join("cm.yaml"), cm(app)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("rendered");
    let run = common::strata()
        .current_dir(root())
        .args(["render", "--out-dir"])
        .arg(&target)
        .arg(repo.path().join("apps/web/overlays/cn-beijing"))
        .arg(repo.path().join("apps/api/overlays/cn-beijing"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for app in ["web", "api"] {
        let folder = target.join(format!("{app}/overlays/cn-beijing"));
        let (_, all) = tree_docs(&folder);
        assert!(all[0].contains(&format!("\"name\":\"{app}\"")), "{all:?}");
    }
    // The same overlay twice is still refused, naming it.
    let dir = repo.path().join("apps/web/overlays/cn-beijing");
    let run = common::strata()
        .current_dir(root())
        .args(["render", "--out-dir"])
        .arg(&target)
        .arg(&dir)
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is listed twice"));
}
