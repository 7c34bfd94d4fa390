//! Failure paths, each as a user would meet it: `render --out-dir` killed with SIGKILL at
//! many points leaves the previous tree (or the new one) complete; the Argo CD plugin called
//! sixteen times at once gives the bytes it gives serially; nothing is written into the
//! repository by any command; a reader that closes stdout early gets no error storm.

mod common;

use common::write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A base of `n` ConfigMaps (their data says `version`) and `overlays` overlays over it.
fn tree(root: &Path, n: usize, overlays: usize, version: &str) {
    let mut resources = String::from("resources:\n");
    for i in 0..n {
        resources.push_str(&format!("- cm{i}.yaml\n"));
        write(
            root,
            &format!("base/cm{i}.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\ndata:\n  version: \"{version}\"\n  payload: \"{}\"\n",
                "x".repeat(200)
            ),
        );
    }
    write(root, "base/kustomization.yaml", &resources);
    for o in 0..overlays {
        write(
            root,
            &format!("overlays/r{o:02}/kustomization.yaml"),
            &format!("resources: [../../base]\nnamespace: r{o:02}\n"),
        );
    }
}

/// Every file below `dir` (relative path -> bytes), the strata marker included.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn overlay_args(root: &Path) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("overlays"))
        .unwrap()
        .flatten()
        .map(|e| format!("overlays/{}", e.file_name().to_string_lossy()))
        .collect();
    dirs.sort();
    dirs
}

fn render_out(root: &Path, out: &str) -> Command {
    let mut c = common::strata();
    c.current_dir(root)
        .args(["render", "--no-validate", "--out-dir", out])
        .args(overlay_args(root));
    c
}

/// SIGKILL at many points of a `render --out-dir` that replaces an earlier tree: afterwards
/// OUT is always a complete tree, the old one or the new one, never a mix or nothing; and
/// the staging trees the killed runs left are removed by the next run.
#[test]
fn out_dir_killed_at_any_point_leaves_a_complete_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree(root, 150, 12, "1");
    assert!(render_out(root, "ref1").status().unwrap().success());
    tree(root, 150, 12, "2");
    assert!(render_out(root, "ref2").status().unwrap().success());
    let (old, new) = (snapshot(&root.join("ref1")), snapshot(&root.join("ref2")));
    assert_ne!(old, new);

    // How long a run that replaces the old tree takes, to spread the kills over it.
    tree(root, 150, 12, "1");
    assert!(render_out(root, "out").status().unwrap().success());
    assert!(render_out(root, "probe").status().unwrap().success());
    tree(root, 150, 12, "2");
    let start = Instant::now();
    assert!(render_out(root, "probe").status().unwrap().success());
    let full = start.elapsed();

    let mut seen_old = 0;
    let mut seen_new = 0;
    let mut live = 0;
    let kills = 24u32;
    for k in 0..kills {
        // Back to the old tree now and then, so that kills land on replacing it again.
        if k % 6 == 0 && k > 0 {
            tree(root, 150, 12, "1");
            assert!(render_out(root, "out").status().unwrap().success());
            tree(root, 150, 12, "2");
        }
        let mut child = render_out(root, "out")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread over 0..150% of a full run.
        let at = full.mul_f64(f64::from(k % 6) / 6.0 * 1.5 + f64::from(k / 6) * 0.02);
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            live += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = snapshot(&root.join("out"));
        if now == old {
            seen_old += 1;
        } else if now == new {
            seen_new += 1;
        } else {
            panic!(
                "after a kill at {at:?} (a run takes {full:?}) out/ is neither tree: {} files (old {}, new {})",
                now.len(),
                old.len(),
                new.len()
            );
        }
    }
    // Most kills must hit a running process (else the test proves little); which tree they
    // leave depends on the machine's load, so both are fine, never a mix.
    assert!(
        live >= kills / 2,
        "only {live} of {kills} kills hit a running render (old {seen_old}, new {seen_new})"
    );
    // The next run cleans what killed runs left beside OUT.
    assert!(render_out(root, "out").status().unwrap().success());
    let leftovers: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.strata-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The Argo CD plugin's generate step, as argocd-cmp-server runs it, in `app`.
fn generate(repo: &Path, app: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["argocd", "generate"])
        .current_dir(repo.join(app))
        .env_clear()
        .env("ARGOCD_APP_NAME", app.replace('/', "-"))
        .env("ARGOCD_APP_NAMESPACE", "monitoring")
        .env("ARGOCD_APP_SOURCE_PATH", app)
        .env("KUBE_VERSION", "1.30.2")
        .output()
        .unwrap()
}

/// Sixteen apps of one repository rendered at once (a repo-server serves many apps in
/// parallel): each gives exactly the bytes it gives alone.
#[test]
fn sixteen_parallel_plugin_calls_give_the_serial_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    tree(repo, 40, 16, "1");
    let apps = overlay_args(repo);
    let serial: Vec<Vec<u8>> = apps
        .iter()
        .map(|a| {
            let out = generate(repo, a);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        })
        .collect();
    let parallel: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = apps
            .iter()
            .map(|a| s.spawn(move || generate(repo, a)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let out = h.join().unwrap();
                assert!(out.status.success());
                out.stdout
            })
            .collect()
    });
    assert_eq!(serial, parallel);
    assert!(serial.iter().all(|s| !s.is_empty()));
}

/// No command writes into the repository it reads (a read-only checkout works): the tree
/// is byte for byte and file for file the same after render, validate, diff, the plugin
/// steps. (A chmod'ed checkout would not prove it when the tests
/// run as root, which may write anyway.)
#[test]
fn nothing_is_written_into_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&repo).unwrap();
    for d in ["overlays", "examples", "deploy"] {
        let copied = Command::new("cp")
            .arg("-r")
            .arg(root.join(d))
            .arg(repo.join(d))
            .status()
            .unwrap();
        assert!(copied.success());
    }
    let before = snapshot(&repo);
    let runs: &[&[&str]] = &[
        &["render", "overlays/cn-hangzhou"],
        &[
            "render",
            "overlays/cn-beijing",
            "--format",
            "json",
            "--explain",
        ],
        &["validate", "overlays/cn-hangzhou", "overlays/cn-beijing"],
        &["validate", "examples", "--format", "sarif"],
        &["diff", "overlays/cn-hangzhou", "--format", "markdown"],
        &[
            "diff",
            "--base-dir",
            ".",
            "--head-dir",
            ".",
            "overlays/cn-beijing",
        ],
        &["argocd", "check", "deploy/argocd"],
    ];
    for args in runs {
        let out = common::strata()
            .current_dir(&repo)
            .args(*args)
            .output()
            .unwrap();
        assert_ne!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = generate(&repo, "overlays/cn-hangzhou");
    assert!(out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["argocd", "parameters"])
        .current_dir(repo.join("overlays/cn-hangzhou"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        snapshot(&repo),
        before,
        "a command wrote into the repository"
    );
}

/// A reader that stops early (`strata render ... | head -1`): strata ends quietly, without
/// a panic or a line per document.
#[test]
fn stdout_closed_early_is_not_an_error_storm() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree(root, 2000, 1, "1");
    let mut child = common::strata()
        .current_dir(root)
        .args(["render", "--no-validate", "overlays/r00"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        stdout.read_exact(&mut first).unwrap();
        // Dropped here: the pipe closes with most of the output unread.
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "strata did not end after its reader left"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    // A reader that has what it wanted is no failure (as for `cat | head`): quiet, exit 0.
    assert!(err.is_empty(), "{err}");
    assert_eq!(status.code(), Some(0));
}

/// A full disk (a size-limited tmpfs in a private mount namespace): `render --out-dir` says
/// so once, leaves the previous tree as it was (or nothing, on a first run), and no staging
/// tree behind.
#[test]
fn a_full_disk_is_a_clean_error_and_no_partial_tree() {
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || mount -t tmpfs -o size=64k tmpfs \"$TMPDIR\""])
        .env("TMPDIR", std::env::temp_dir())
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        common::skip(format_args!(
            "a_full_disk_is_a_clean_error_and_no_partial_tree: cannot mount a tmpfs in a private namespace (unshare -rm)"
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree(root, 150, 10, "1");
    std::fs::create_dir(root.join("disk")).unwrap();
    let strata = env!("CARGO_BIN_EXE_strata");
    // One overlay fits in 1 MB; all ten do not.
    let script = format!(
        "mount -t tmpfs -o size=1m tmpfs disk || exit 99
{strata} render --no-validate --out-dir disk/out overlays/r00 || exit 98
find disk -type f | sort > first.txt
{strata} render --no-validate --out-dir disk/out overlays/*
echo $? > code.txt
find disk -type f | sort > after.txt
ls -A disk > entries.txt"
    );
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap();
    assert_eq!(read("code.txt").trim(), "2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("No space left on device").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("the previous tree is as it was"), "{err}");
    assert_eq!(
        read("first.txt"),
        read("after.txt"),
        "the previous tree, file for file"
    );
    assert_eq!(read("entries.txt").trim(), "out", "no staging tree left");
}
