//! Shared test support: the kubectl oracle (what Kubernetes' own parser reads from a YAML
//! stream) and paths to the shared corpora. Tests that need kubectl skip with a printed
//! reason where it is absent.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Prints why a test skips past the test harness's output capture, so that a plain
/// `cargo test` shows every skipped check and its reason.
pub fn skip(reason: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIP {reason}");
}

/// `../shared`, beside the project root.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// `../shared/<sub>` when it exists; otherwise prints why `test` skips (a fresh clone has no
/// shared data beside it; CI has).
pub fn shared_or_skip(test: &str, sub: &str) -> Option<PathBuf> {
    let p = shared().join(sub);
    if p.exists() {
        Some(p)
    } else {
        skip(format_args!(
            "{test}: no {} (the shared test data beside the project)",
            p.display()
        ));
        None
    }
}

/// Is `kubectl` on PATH? Prints why a test skips when it is not.
pub fn have_kubectl(test: &str) -> bool {
    let ok = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(format_args!(
            "{test}: kubectl is not installed (it is the reference these tests compare against)"
        ));
    }
    ok
}

/// What Kubernetes reads from a YAML/JSON stream: `kubectl annotate --local -o json` parses it
/// with kubectl's own reader without a cluster. Returns the objects (a `List` unpacked, the
/// empty `metadata.annotations` kubectl adds removed), or kubectl's error text.
pub fn kubectl_reads(stream: &str) -> Result<Vec<Value>, String> {
    if stream.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("kubectl")
        .args(["annotate", "--local", "-f", "-", "-o", "json", "zz-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = stream.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // kubectl prints one JSON document, or several concatenated.
    let mut objects = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        let v = v.map_err(|e| format!("kubectl printed invalid JSON: {e}"))?;
        unpack(v, &mut objects);
    }
    Ok(objects)
}

fn unpack(v: Value, out: &mut Vec<Value>) {
    if v.get("kind").and_then(Value::as_str) == Some("List")
        && let Some(Value::Array(items)) = v.get("items")
    {
        for i in items {
            unpack(i.clone(), out);
        }
        return;
    }
    let mut v = v;
    if let Some(md) = v.get_mut("metadata").and_then(Value::as_object_mut)
        && md
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| a.is_empty())
    {
        md.shift_remove("annotations");
    }
    out.push(v);
}

/// `kubectl kustomize DIR`: the reference render.
pub fn kubectl_kustomize(dir: &Path) -> Result<String, String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Compares two sets of objects as data, in order; numbers compare by value (Kubernetes reads
/// `8` and `8.0` alike) and map key order is ignored. Returns a description of the first
/// difference.
pub fn same_meaning(a: &[Value], b: &[Value]) -> Result<(), String> {
    if a.len() != b.len() {
        let ids = |v: &[Value]| -> Vec<String> { v.iter().map(ident).collect() };
        return Err(format!(
            "{} objects vs {}: {:?} vs {:?}",
            a.len(),
            b.len(),
            ids(a),
            ids(b)
        ));
    }
    for (x, y) in a.iter().zip(b) {
        if let Some(path) = first_difference(x, y, String::new()) {
            return Err(format!(
                "{} differs at {path}: {} vs {}",
                ident(x),
                short(x, &path),
                short(y, &path)
            ));
        }
    }
    Ok(())
}

pub fn ident(v: &Value) -> String {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    format!(
        "{} {}/{}",
        s("/kind"),
        s("/metadata/namespace"),
        s("/metadata/name")
    )
}

fn short(v: &Value, path: &str) -> String {
    let s = v
        .pointer(path)
        .map(|x| x.to_string())
        .unwrap_or_else(|| "(absent)".into());
    s.chars().take(120).collect()
}

fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let same = match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            };
            (!same).then_some(path)
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, p) {
                            return Some(d);
                        }
                    }
                    None => return Some(p),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(path);
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}/{i}")))
        }
        _ => (a != b).then_some(path),
    }
}

/// The strata binary built for this test run.
pub fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

/// Runs `f` over `items` on two threads (the machine has two cores; kubectl dominates).
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mid = items.len() / 2;
    let (a, b) = items.split_at(mid);
    std::thread::scope(|s| {
        let h = s.spawn(|| a.iter().map(&f).collect::<Vec<_>>());
        let mut rb: Vec<R> = b.iter().map(&f).collect();
        let mut ra = h.join().expect("worker thread");
        ra.append(&mut rb);
        ra
    })
}

/// Writes `text` to `root/path`, creating the directories.
pub fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("a path below root")).expect("create dirs");
    std::fs::write(p, text).expect("write a fixture file");
}

/// Runs git in `dir` with a fixed identity; its stdout, trimmed. Panics with git's stderr
/// when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
