//! scripts/release end to end, with the `dev` profile (the `dist` build takes 10-25 minutes):
//! the static binary runs and needs no shared library, SHA256SUMS verifies (and catches a
//! changed byte), the completions and man page name the subcommands, and the sidecar image is
//! an OCI image layout that skopeo and umoci read (its config, its one layer's files, the
//! binary run from the unpacked rootfs). A second run makes the same image. Skips, saying
//! why, where the script's tools (umoci, binutils, the x86_64 target), skopeo or sha256sum
//! are absent.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

const TARGET: &str = "x86_64-unknown-linux-gnu";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `cmd`, asserts it succeeds; its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Is every tool the test and the script need here? Prints why the test skips when not.
fn tools_or_skip(test: &str) -> bool {
    if std::env::consts::ARCH != "x86_64" || std::env::consts::OS != "linux" {
        common::skip(format_args!(
            "{test}: the release binary is {TARGET}; this is {}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        ));
        return false;
    }
    let check = Command::new(root().join("scripts/release"))
        .arg("--check")
        .output();
    match check {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            common::skip(format_args!(
                "{test}: scripts/release --check: {}",
                text(&out).trim().replace('\n', " ")
            ));
            return false;
        }
        Err(e) => {
            common::skip(format_args!("{test}: cannot run scripts/release: {e}"));
            return false;
        }
    }
    for (tool, from) in [
        ("skopeo", "Debian package skopeo"),
        ("sha256sum", "Debian package coreutils"),
    ] {
        let here = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !here {
            common::skip(format_args!("{test}: {tool} is not installed ({from})"));
            return false;
        }
    }
    true
}

fn release(out: &Path) -> Output {
    run(Command::new(root().join("scripts/release"))
        .args(["--profile", "dev", "--out"])
        .arg(out)
        .current_dir(root()))
}

fn sha256(path: &Path) -> String {
    let out = ok(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

/// Every path below `dir`, relative, `/`-separated.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn release_script_produces_what_a_release_publishes() {
    let test = "release_script_produces_what_a_release_publishes";
    if !tools_or_skip(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let started = Instant::now();
    let out = release(&out_dir);
    assert!(
        out.status.success(),
        "scripts/release failed:\n{}",
        text(&out)
    );
    eprintln!(
        "{test}: scripts/release --profile dev took {:.0?}",
        started.elapsed()
    );
    let printed = String::from_utf8_lossy(&out.stdout);

    // What it wrote, and said it wrote.
    let bin_name = format!("strata-v{VERSION}-{TARGET}");
    let image_name = format!("strata-cmp-v{VERSION}.oci.tar");
    let published = [
        bin_name.as_str(),
        "completions/strata.bash",
        "completions/_strata",
        "completions/strata.fish",
        "completions/strata.elv",
        "completions/_strata.ps1",
        "strata.1",
        image_name.as_str(),
    ];
    let mut want: BTreeSet<String> = published.iter().map(|s| s.to_string()).collect();
    want.insert("completions".into());
    want.insert("SHA256SUMS".into());
    assert_eq!(tree(&out_dir), want);
    for f in published.iter().chain(&["SHA256SUMS"]) {
        assert!(printed.contains(f), "the script does not say it wrote {f}");
    }

    // The binary: static (no interpreter, no shared library), runs, is this version.
    let bin = out_dir.join(&bin_name);
    let program_headers = ok(Command::new("readelf").arg("-lW").arg(&bin));
    assert!(!program_headers.contains("INTERP"), "{program_headers}");
    let dynamic = ok(Command::new("readelf").arg("-dW").arg(&bin));
    assert!(!dynamic.contains("(NEEDED)"), "{dynamic}");
    if let Ok(file) = Command::new("file").arg(&bin).output() {
        let file = String::from_utf8_lossy(&file.stdout);
        assert!(
            file.contains("statically linked") || file.contains("static-pie linked"),
            "{file}"
        );
    }
    assert_eq!(
        ok(Command::new(&bin).arg("--version")),
        format!("strata {VERSION}\n")
    );
    eprintln!(
        "{test}: the static dev binary is {} bytes (stripped)",
        std::fs::metadata(&bin).unwrap().len()
    );

    // SHA256SUMS: every published file, verifies, and catches a changed byte.
    let sums = std::fs::read_to_string(out_dir.join("SHA256SUMS")).unwrap();
    let listed: BTreeSet<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").expect("sha256sum's format").1)
        .collect();
    assert_eq!(listed, published.iter().copied().collect());
    ok(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out_dir));

    // Completions and the man page name the subcommands.
    for f in &published[1..7] {
        let t = std::fs::read_to_string(out_dir.join(f)).unwrap();
        for sub in ["render", "validate", "argocd", "discover"] {
            assert!(t.contains(sub), "{f} does not mention {sub}");
        }
    }
    let man = std::fs::read_to_string(out_dir.join("strata.1")).unwrap();
    for title in [
        ".TH strata 1",
        ".TH strata-render 1",
        ".TH strata-argocd-discover 1",
        ".TH strata-man 1",
    ] {
        assert!(man.contains(title), "no `{title}` in strata.1");
    }

    // The image, as skopeo reads the archive: its tag, platform, labels and config.
    let image = out_dir.join(&image_name);
    let reference = format!("oci-archive:{}:v{VERSION}", image.display());
    let inspect: Value =
        serde_json::from_str(&ok(Command::new("skopeo").args(["inspect", &reference]))).unwrap();
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.version"],
        format!("v{VERSION}")
    );
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.title"],
        "strata-cmp"
    );
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    let config: Value = serde_json::from_str(&ok(
        Command::new("skopeo").args(["inspect", "--config", &reference])
    ))
    .unwrap();
    let c = &config["config"];
    assert_eq!(c["User"], "999:999", "{config}");
    assert_eq!(c["WorkingDir"], "/home/argocd");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/var/run/argocd/argocd-cmp-server"])
    );
    assert!(c.get("Cmd").is_none_or(Value::is_null), "{config}");

    // The layout, unpacked, as umoci reads it.
    let layout = tmp.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    ok(Command::new("tar")
        .arg("-xf")
        .arg(&image)
        .arg("-C")
        .arg(&layout));
    let layout_ref = format!("{}:v{VERSION}", layout.display());
    ok(Command::new("skopeo").args(["inspect", &format!("oci:{layout_ref}")]));
    let stat: Value = serde_json::from_str(&ok(Command::new("umoci").args([
        "stat",
        "--json",
        "--image",
        &layout_ref,
    ])))
    .unwrap();
    assert_eq!(stat["history"].as_array().map(Vec::len), Some(1), "{stat}");
    let bundle = tmp.path().join("bundle");
    ok(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &layout_ref])
        .arg(&bundle));
    let runtime: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(runtime["process"]["user"]["uid"], 999);
    assert_eq!(runtime["process"]["user"]["gid"], 999);
    assert_eq!(runtime["process"]["cwd"], "/home/argocd");
    assert_eq!(
        runtime["process"]["args"],
        serde_json::json!(["/var/run/argocd/argocd-cmp-server"])
    );
    // The rootfs: the binary, passwd and group, /tmp and the home directory; nothing else
    // (no shell).
    let rootfs = bundle.join("rootfs");
    let files: BTreeSet<String> = [
        "etc",
        "etc/group",
        "etc/passwd",
        "home",
        "home/argocd",
        "tmp",
        "usr",
        "usr/local",
        "usr/local/bin",
        "usr/local/bin/strata",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(tree(&rootfs), files);
    assert_eq!(
        std::fs::read_dir(rootfs.join("tmp")).unwrap().count(),
        0,
        "/tmp is not empty"
    );
    use std::os::unix::fs::PermissionsExt;
    let tmp_mode = std::fs::metadata(rootfs.join("tmp"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(tmp_mode & 0o7777, 0o1777, "/tmp mode {tmp_mode:o}");
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("argocd:x:999:999:") && l.contains(":/home/argocd:")),
        "{passwd}"
    );
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap();
    assert!(
        group.lines().any(|l| l.starts_with("argocd:x:999:")),
        "{group}"
    );
    let inside = rootfs.join("usr/local/bin/strata");
    assert_eq!(sha256(&inside), sha256(&bin), "the image's binary");
    assert_eq!(
        ok(Command::new(&inside).arg("--version")),
        format!("strata {VERSION}\n")
    );
    // The plugin's discover step runs from the image's binary, without a shell.
    assert_eq!(
        ok(Command::new(&inside)
            .args(["argocd", "discover"])
            .current_dir(root().join("overlays/cn-hangzhou"))),
        "strata\n"
    );
    // Run as root, the script gives the home directory to argocd in the layer.
    if ok(Command::new("id").arg("-u")).trim() == "0" {
        let manifest = ok(Command::new("skopeo").args(["inspect", "--raw", &reference]));
        let manifest: Value = serde_json::from_str(&manifest).unwrap();
        let digest = manifest["layers"][0]["digest"].as_str().unwrap();
        let blob = layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
        let listing = ok(Command::new("tar")
            .args(["--numeric-owner", "-tvzf"])
            .arg(&blob));
        assert!(
            listing
                .lines()
                .any(|l| l.contains(" 999/999 ") && l.ends_with(" home/argocd/")),
            "{listing}"
        );
    }

    // A changed byte fails the check, naming the file.
    let man_path = out_dir.join("strata.1");
    let mut bytes = std::fs::read(&man_path).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&man_path, bytes).unwrap();
    let tampered = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out_dir));
    assert!(!tampered.status.success());
    assert!(
        text(&tampered).contains("strata.1: FAILED"),
        "{}",
        text(&tampered)
    );

    // Again, into another directory: the same binary makes the same image.
    let again_dir = tmp.path().join("again");
    let again = release(&again_dir);
    assert!(again.status.success(), "second run:\n{}", text(&again));
    if sha256(&again_dir.join(&bin_name)) == sha256(&bin) {
        assert_eq!(
            sha256(&again_dir.join(&image_name)),
            sha256(&image),
            "two builds of one binary made different images"
        );
    } else {
        let rebuilt = String::from_utf8_lossy(&again.stderr).contains("Compiling strata");
        assert!(
            rebuilt,
            "the second run built nothing, yet its binary differs"
        );
        common::skip(format_args!(
            "{test}: the second run rebuilt strata (a source file changed meanwhile) into another binary; image reproducibility not compared"
        ));
    }
}
