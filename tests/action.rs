//! The GitHub Action (`action.yml` and the scripts under `action/`), run here as a runner
//! runs a composite action: the steps of action.yml in order, their `if:` conditions and
//! `${{ }}` expressions evaluated, `run:` steps in bash with the runner's files
//! (`GITHUB_OUTPUT`, `GITHUB_PATH`, ...), `uses:` steps recorded with their inputs. The
//! fixture is a git repository of the shipped overlays with a pull request on top; the
//! release is made from this build's strata binary; GitHub's API is a mock server on
//! 127.0.0.1. Tests skip, saying why, where bash, curl, git or python3 is missing.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use regex::Regex;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TOKEN: &str = "test-token";
const REPO: &str = "acme/gitops";
const PR: u64 = 7;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn asset(version: &str) -> String {
    format!("strata-v{version}-x86_64-unknown-linux-gnu")
}

fn action() -> Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    strata::yaml::parse_single(&text).unwrap().unwrap().value
}

/// Are we on the runner's platform, with `tools` on PATH? Prints why a test skips if not.
fn tools(test: &str, tools: &[&str]) -> bool {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        common::skip(format_args!(
            "{test}: the action installs the Linux x86_64 release only"
        ));
        return false;
    }
    for tool in ["bash"].iter().chain(tools) {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            common::skip(format_args!("{test}: {tool} is not installed"));
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------
// The runner: its directories and files, and a small interpreter of action.yml.

struct Runner {
    tmp: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["temp", "tool-cache"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        Runner { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The environment every step gets: a runner's variables, nothing of the test's own
    /// environment but what finds the tools.
    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            ["PATH", "HOME", "PYENV_ROOT", "PYENV_VERSION", "LANG"]
                .iter()
                .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
                .collect();
        let p = |n: &str| self.path(n).display().to_string();
        env.extend([
            ("RUNNER_TEMP".into(), p("temp")),
            ("RUNNER_TOOL_CACHE".into(), p("tool-cache")),
            ("GITHUB_PATH".into(), p("github-path")),
            ("GITHUB_STEP_SUMMARY".into(), p("step-summary")),
            ("GITHUB_ACTION_PATH".into(), root().display().to_string()),
            ("GITHUB_REPOSITORY".into(), REPO.into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
        ]);
        env
    }

    /// One script of action/, run directly with the runner's environment plus `env`.
    fn script(&self, name: &str, cwd: &Path, env: &[(&str, String)]) -> Run {
        let outputs = self.path(&format!("output-{name}"));
        let _ = std::fs::remove_file(&outputs);
        let out = Command::new(root().join("action").join(name))
            .current_dir(cwd)
            .env_clear()
            .envs(self.env())
            .env("GITHUB_OUTPUT", &outputs)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        Run {
            ok: out.status.success(),
            code: out.status.code(),
            log: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            outputs: read_outputs(&outputs),
        }
    }

    /// Runs action.yml's steps as a runner runs a composite action, with `inputs` (each
    /// must be declared) and `env` (the job's environment).
    fn action(&self, cwd: &Path, inputs: &[(&str, &str)], env: &[(&str, String)]) -> ActionRun {
        let action = action();
        let declared = action["inputs"].as_object().unwrap();
        let mut ctx = Context::default();
        ctx.github.insert("token".into(), TOKEN.into());
        ctx.github
            .insert("action_repository".into(), "acme/strata".into());
        for (name, spec) in declared {
            let default = match &spec["default"] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let value = ctx.interpolate(&default);
            ctx.inputs.insert(name.clone(), value);
        }
        for (name, value) in inputs {
            assert!(declared.contains_key(*name), "input {name} is not declared");
            ctx.inputs.insert(name.to_string(), value.to_string());
        }
        let mut run = ActionRun::default();
        let mut failed = false;
        let mut path_dirs: Vec<String> = Vec::new();
        for step in action["runs"]["steps"].as_array().unwrap() {
            let id = step["id"].as_str().unwrap().to_string();
            let cond = step["if"].as_str().unwrap_or("");
            if !ctx.condition(cond, failed) {
                run.outcomes.insert(id, "skipped");
                continue;
            }
            if let Some(uses) = step["uses"].as_str() {
                let with = step["with"]
                    .as_object()
                    .map(|w| {
                        w.iter()
                            .map(|(k, v)| (k.clone(), ctx.interpolate(v.as_str().unwrap())))
                            .collect()
                    })
                    .unwrap_or_default();
                run.uses.push((uses.to_string(), with));
                run.outcomes.insert(id, "success");
                continue;
            }
            assert_eq!(step["shell"], "bash", "step {id}");
            let script = self.path("step.sh");
            std::fs::write(&script, step["run"].as_str().unwrap()).unwrap();
            let outputs = self.path(&format!("output-step-{id}"));
            std::fs::write(&outputs, "").unwrap();
            let mut env_vars = self.env();
            env_vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
            if let Some(step_env) = step["env"].as_object() {
                for (k, v) in step_env {
                    env_vars.push((k.clone(), ctx.interpolate(v.as_str().unwrap())));
                }
            }
            // GITHUB_PATH additions of earlier steps come first on PATH, newest first.
            if let Some(p) = env_vars.iter_mut().find(|(k, _)| k == "PATH") {
                let mut dirs = path_dirs.clone();
                dirs.reverse();
                dirs.push(p.1.clone());
                p.1 = dirs.join(":");
            }
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script)
                .current_dir(cwd)
                .env_clear()
                .envs(env_vars)
                .env("GITHUB_OUTPUT", &outputs)
                .output()
                .unwrap();
            run.log.push_str(&format!(
                "--- step {id}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            ctx.steps.insert(id.clone(), read_outputs(&outputs));
            if let Ok(text) = std::fs::read_to_string(self.path("github-path")) {
                path_dirs = text.lines().map(String::from).collect();
            }
            let ok = out.status.success();
            failed |= !ok;
            run.outcomes
                .insert(id, if ok { "success" } else { "failure" });
        }
        run.ok = !failed;
        for (name, spec) in action["outputs"].as_object().unwrap() {
            let value = ctx.interpolate(spec["value"].as_str().unwrap());
            run.outputs.insert(name.clone(), value);
        }
        run
    }
}

fn read_outputs(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .map(|l| {
            assert!(
                !l.contains("<<"),
                "multi-line outputs are not expected: {l}"
            );
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

struct Run {
    ok: bool,
    code: Option<i32>,
    log: String,
    outputs: BTreeMap<String, String>,
}

#[derive(Default, Debug)]
struct ActionRun {
    ok: bool,
    log: String,
    outcomes: BTreeMap<String, &'static str>,
    outputs: BTreeMap<String, String>,
    uses: Vec<(String, BTreeMap<String, String>)>,
}

/// The expression contexts a composite action's steps see, and the part of GitHub's
/// expression language action.yml uses: `a == b`, `a != b`, `&&`, `always()`,
/// `success()`, string literals and context paths. Anything else fails the test, so a new
/// construct in action.yml is noticed here.
#[derive(Default)]
struct Context {
    inputs: HashMap<String, String>,
    github: HashMap<String, String>,
    steps: HashMap<String, BTreeMap<String, String>>,
}

impl Context {
    fn value(&self, expr: &str) -> String {
        let expr = expr.trim();
        if let Some(lit) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
            return lit.to_string();
        }
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("inputs.{name} is not declared"))
                .clone(),
            ["github", name] => self
                .github
                .get(*name)
                .unwrap_or_else(|| panic!("github.{name}: not in the test's context"))
                .clone(),
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            _ => panic!("unsupported expression `{expr}`"),
        }
    }

    fn interpolate(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("unclosed ${{") + start;
            out.push_str(&self.value(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn condition(&self, cond: &str, failed: bool) -> bool {
        let cond = cond.trim();
        let cond = cond
            .strip_prefix("${{")
            .and_then(|c| c.strip_suffix("}}"))
            .unwrap_or(cond);
        if cond.trim().is_empty() {
            return !failed;
        }
        let mut status_function = false;
        let mut all = true;
        for term in cond.split("&&").map(str::trim) {
            let holds = match term {
                "always()" => {
                    status_function = true;
                    true
                }
                "success()" => {
                    status_function = true;
                    !failed
                }
                _ => {
                    assert!(
                        !term.contains("||") && !term.starts_with('!') && !term.contains('('),
                        "unsupported condition `{term}`"
                    );
                    let (a, b, equal) = if let Some((a, b)) = term.split_once("!=") {
                        (a, b, false)
                    } else if let Some((a, b)) = term.split_once("==") {
                        (a, b, true)
                    } else {
                        panic!("unsupported condition `{term}`")
                    };
                    // GitHub compares strings ignoring case.
                    (self.value(a).to_lowercase() == self.value(b).to_lowercase()) == equal
                }
            };
            all &= holds;
        }
        // Without a status function a step runs only after success, as on GitHub.
        all && (status_function || !failed)
    }
}

// ---------------------------------------------------------------------------------------
// A release made from this build, and the fixture repository.

/// A release directory as the release job publishes it: `<dir>/v<version>/<asset>` and
/// `SHA256SUMS`. The asset is a launcher of this build's strata binary (a copy of the debug
/// binary would be hundreds of megabytes per test).
fn release(dir: &Path, version: &str) -> PathBuf {
    let v = dir.join(format!("v{version}"));
    std::fs::create_dir_all(&v).unwrap();
    let bin = format!(
        "#!/bin/sh\nexec '{}' \"$@\"\n",
        env!("CARGO_BIN_EXE_strata")
    );
    std::fs::write(v.join(asset(version)), &bin).unwrap();
    std::fs::write(v.join("strata.1"), "manual\n").unwrap();
    let sums = format!(
        "{}  strata.1\n{}  {}\n",
        sha256(b"manual\n"),
        sha256(bin.as_bytes()),
        asset(version)
    );
    std::fs::write(v.join("SHA256SUMS"), sums).unwrap();
    dir.to_path_buf()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sets the nginx replicas of overlays/cn-hangzhou (its cluster has 3 nodes: 4 and more is
/// an RO001 error).
fn set_replicas(repo: &Path, n: u32) {
    let f = repo.join("overlays/cn-hangzhou/kustomization.yaml");
    let text = std::fs::read_to_string(&f).unwrap();
    let text = Regex::new(r"count: \d+")
        .unwrap()
        .replace(&text, format!("count: {n}"));
    std::fs::write(&f, text.as_ref()).unwrap();
}

/// The shipped overlays and the bases they need, as a working tree (no git).
fn overlays(dir: &Path) -> PathBuf {
    for d in ["overlays", "examples"] {
        copy_tree(&root().join(d), &dir.join(d));
    }
    dir.to_path_buf()
}

/// An "origin" repository: `main` with the shipped overlays, and branch `pr` on top that
/// lowers cn-hangzhou's replicas to 2. Returns a shallow clone of `pr`, as
/// actions/checkout makes it (without the base branch).
fn pull_request_checkout(dir: &Path) -> PathBuf {
    let origin = overlays(&dir.join("origin"));
    git(&origin, &["init", "-q", "-b", "main"]);
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-q", "-m", "base"]);
    git(&origin, &["checkout", "-q", "-b", "pr"]);
    set_replicas(&origin, 2);
    git(&origin, &["commit", "-q", "-am", "fewer replicas"]);
    git(
        dir,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "pr",
            &file_url(&origin),
            "work",
        ],
    );
    dir.join("work")
}

// ---------------------------------------------------------------------------------------
// A mock of GitHub: the issue-comments API of one pull request, and static files.

#[derive(Default)]
struct Api {
    comments: Vec<(u64, String)>,
    next_id: u64,
    requests: Vec<(String, String)>,
    files: HashMap<String, Vec<u8>>,
    read_only: bool,
}

impl Api {
    fn comment(&self, id: u64, body: &str) -> Value {
        json!({
            "id": id,
            "body": body,
            "html_url": format!("https://github.test/{REPO}/pull/{PR}#issuecomment-{id}"),
            "user": {"login": "github-actions[bot]"},
        })
    }

    fn handle(
        &mut self,
        method: &str,
        target: &str,
        body: &str,
        auth: Option<&str>,
    ) -> (u16, Vec<u8>) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        self.requests.push((method.to_string(), target.to_string()));
        if method == "GET"
            && let Some(f) = self.files.get(path)
        {
            return (200, f.clone());
        }
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return (401, br#"{"message":"Bad credentials"}"#.to_vec());
        }
        let comments = format!("/repos/{REPO}/issues/{PR}/comments");
        let one = format!("/repos/{REPO}/issues/comments/");
        let write = method != "GET";
        if write && self.read_only {
            return (
                403,
                br#"{"message":"Resource not accessible by integration"}"#.to_vec(),
            );
        }
        let ok = |v: Value| v.to_string().into_bytes();
        if path == comments && method == "GET" {
            let q: HashMap<&str, usize> = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
                .collect();
            let per_page = q.get("per_page").copied().unwrap_or(30);
            let page = q.get("page").copied().unwrap_or(1);
            let list: Vec<Value> = self
                .comments
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|(id, b)| self.comment(*id, b))
                .collect();
            return (200, ok(Value::Array(list)));
        }
        if path == comments && method == "POST" {
            let b: Value = serde_json::from_str(body).unwrap();
            self.next_id += 1;
            let id = self.next_id;
            self.comments
                .push((id, b["body"].as_str().unwrap().to_string()));
            return (201, ok(self.comment(id, b["body"].as_str().unwrap())));
        }
        if let Some(id) = path.strip_prefix(&one).and_then(|i| i.parse::<u64>().ok()) {
            let Some(pos) = self.comments.iter().position(|(i, _)| *i == id) else {
                return (404, br#"{"message":"Not Found"}"#.to_vec());
            };
            match method {
                "PATCH" => {
                    let b: Value = serde_json::from_str(body).unwrap();
                    self.comments[pos].1 = b["body"].as_str().unwrap().to_string();
                    return (200, ok(self.comment(id, &self.comments[pos].1)));
                }
                "DELETE" => {
                    self.comments.remove(pos);
                    return (204, Vec::new());
                }
                _ => {}
            }
        }
        (404, br#"{"message":"Not Found"}"#.to_vec())
    }

    /// The requests to the comments API (method, path), release downloads left out.
    fn api_requests(&self) -> Vec<(String, String)> {
        self.requests
            .iter()
            .filter(|(_, p)| p.starts_with("/repos/"))
            .cloned()
            .collect()
    }
}

struct Mock {
    url: String,
    api: Arc<Mutex<Api>>,
}

fn mock() -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = Arc::new(Mutex::new(Api {
        next_id: 1000,
        ..Api::default()
    }));
    let shared = api.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve(stream, &shared);
        }
    });
    Mock { url, api }
}

fn serve(stream: TcpStream, api: &Mutex<Api>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("").to_string();
    let (mut len, mut auth, mut expect) = (0, None, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => auth = Some(v.trim().to_string()),
                "expect" => expect = v.trim().eq_ignore_ascii_case("100-continue"),
                _ => {}
            }
        }
    }
    let mut stream = stream;
    if expect {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let (status, payload) = api.lock().unwrap().handle(
        &method,
        &target,
        &String::from_utf8_lossy(&body),
        auth.as_deref(),
    );
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )?;
    stream.write_all(&payload)?;
    stream.flush()
}

// ---------------------------------------------------------------------------------------
// action.yml and the scripts.

/// action.yml is a composite action whose steps run scripts that exist and are executable;
/// every input it uses is declared and every declared input is used; each script reads
/// only the variables its step sets, each INPUT_<NAME> from `${{ inputs.<name> }}`; each
/// output is one its step's script sets.
#[test]
fn action_yml_is_wired_to_its_scripts() {
    let action = action();
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    assert_eq!(action["runs"]["using"], "composite");
    let declared = action["inputs"].as_object().unwrap();
    assert_eq!(action["inputs"]["version"]["required"], true);

    let used: Vec<String> = Regex::new(r"\$\{\{\s*inputs\.([a-z0-9-]+)\s*\}\}")
        .unwrap()
        .captures_iter(&text)
        .map(|c| c[1].to_string())
        .collect();
    let if_used: Vec<String> = Regex::new(r"inputs\.([a-z0-9-]+)")
        .unwrap()
        .captures_iter(&text)
        .map(|c| c[1].to_string())
        .collect();
    for name in used.iter().chain(&if_used) {
        assert!(declared.contains_key(name), "inputs.{name} is not declared");
    }
    for name in declared.keys() {
        assert!(
            if_used.contains(name),
            "input {name} is declared but unused"
        );
    }

    let script_ref = Regex::new(r"\$GITHUB_ACTION_PATH/(action/[a-z-]+\.sh)").unwrap();
    let env_ref =
        Regex::new(r"\b(INPUT_[A-Z0-9_]+|STRATA(?:_[A-Z0-9_]+)?|ACTION_REPOSITORY)\b").unwrap();
    let set_output = Regex::new(r"set_output ([a-z-]+)").unwrap();
    let mut scripts_run = Vec::new();
    let mut sets: HashMap<String, Vec<String>> = HashMap::new();
    for step in action["runs"]["steps"].as_array().unwrap() {
        let id = step["id"].as_str().unwrap();
        let Some(run) = step["run"].as_str() else {
            continue;
        };
        let script = &script_ref
            .captures(run)
            .unwrap_or_else(|| panic!("step {id} runs no action/ script"))[1];
        let path = root().join(script);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path)
                .unwrap_or_else(|_| panic!("{script} does not exist"))
                .permissions(),
        );
        assert!(mode & 0o111 != 0, "{script} is not executable");
        scripts_run.push(script.to_string());

        let env = step["env"].as_object().cloned().unwrap_or_default();
        for (k, v) in &env {
            if let Some(name) = k.strip_prefix("INPUT_") {
                let input = name.to_lowercase().replace('_', "-");
                assert_eq!(
                    v.as_str().unwrap(),
                    format!("${{{{ inputs.{input} }}}}"),
                    "step {id}: {k}"
                );
            }
        }
        let code = std::fs::read_to_string(&path).unwrap();
        for var in env_ref.captures_iter(&code) {
            assert!(
                env.contains_key(&var[1]),
                "{script} reads {} but step {id} does not set it",
                &var[1]
            );
        }
        sets.insert(
            id.to_string(),
            set_output
                .captures_iter(&code)
                .map(|c| c[1].to_string())
                .collect(),
        );
    }
    // Every script under action/ is run by a step (lib.sh is sourced by them).
    for e in std::fs::read_dir(root().join("action")).unwrap().flatten() {
        let name = format!("action/{}", e.file_name().to_string_lossy());
        assert!(
            name == "action/lib.sh" || scripts_run.contains(&name),
            "{name} is not used by action.yml"
        );
    }
    // Outputs (of the action, and those steps read) name outputs their step sets.
    let step_output = Regex::new(r"steps\.([a-z-]+)\.outputs\.([a-z-]+)").unwrap();
    for c in step_output.captures_iter(&text) {
        let set = sets
            .get(&c[1])
            .unwrap_or_else(|| panic!("no run step {}", &c[1]));
        assert!(set.contains(&c[2].to_string()), "{} never set", &c[0]);
    }

    let steps = action["runs"]["steps"].as_array().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.contains("upload-sarif"))
        })
        .expect("a SARIF upload step");
    assert_eq!(upload["uses"], "github/codeql-action/upload-sarif@v3");
    for s in [upload, steps.last().unwrap()] {
        assert!(
            s["if"].as_str().unwrap().contains("always()"),
            "{} must run after findings",
            s["id"]
        );
    }
}

#[test]
fn scripts_pass_bash_n_and_shellcheck() {
    if !tools("scripts_pass_bash_n_and_shellcheck", &[]) {
        return;
    }
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root().join("action"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    scripts.sort();
    for s in &scripts {
        let out = Command::new("bash").arg("-n").arg(s).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            s.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let have = Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        common::skip(format_args!(
            "scripts_pass_bash_n_and_shellcheck: shellcheck is not installed (bash -n passed)"
        ));
        return;
    }
    let out = Command::new("shellcheck")
        .arg("-x")
        .args(scripts.iter().map(|s| s.strip_prefix(root()).unwrap()))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---------------------------------------------------------------------------------------
// Installing.

#[test]
fn install_verifies_the_checksum_puts_strata_on_path_and_reuses_it() {
    if !tools("install_verifies_the_checksum", &["curl", "sha256sum"]) {
        return;
    }
    let runner = Runner::new();
    let rel = release(&runner.path("release"), VERSION);
    let repo = overlays(&runner.path("repo"));
    let run = runner.action(
        &repo,
        &[
            ("version", &format!("v{VERSION}")),
            ("command", "install"),
            ("release-url", &file_url(&rel)),
        ],
        &[],
    );
    assert!(run.ok, "{}", run.log);
    let bin = runner.path(&format!("tool-cache/strata/{VERSION}/x64"));
    assert_eq!(run.outputs["bin"], bin.display().to_string());
    assert_eq!(run.outputs["version"], VERSION);
    assert!(run.log.contains("checksum verified"), "{}", run.log);
    assert!(
        run.log.contains(&format!("strata {VERSION}")),
        "{}",
        run.log
    );
    let path = std::fs::read_to_string(runner.path("github-path")).unwrap();
    assert_eq!(
        path.lines().collect::<Vec<_>>(),
        [bin.display().to_string()]
    );
    assert_eq!(run.outcomes["run"], "skipped");
    assert_eq!(run.outcomes["finish"], "skipped");

    // A later job on the same runner reuses the install, without downloading.
    std::fs::remove_dir_all(&rel).unwrap();
    let again = runner.action(
        &repo,
        &[
            ("version", VERSION),
            ("command", "install"),
            ("release-url", &file_url(&rel)),
        ],
        &[],
    );
    assert!(again.ok, "{}", again.log);
    assert!(again.log.contains("already installed"), "{}", again.log);

    // A binary changed after the install is not reused (and here cannot be downloaded).
    let installed = bin.join("strata");
    let mut text = std::fs::read_to_string(&installed).unwrap();
    text.push_str("# changed\n");
    std::fs::write(&installed, text).unwrap();
    let changed = runner.script(
        "install.sh",
        &repo,
        &[
            ("INPUT_VERSION", VERSION.into()),
            ("INPUT_RELEASE_URL", file_url(&rel)),
        ],
    );
    assert!(!changed.ok);
    assert!(
        changed.log.contains("does not match its record")
            && changed.log.contains("could not download"),
        "{}",
        changed.log
    );
}

/// A tampered SHA256SUMS, one without the binary, a binary that is not the pinned one, and
/// one reporting another version: refused, nothing installed, nothing on PATH.
#[test]
fn install_refuses_a_binary_that_does_not_match() {
    if !tools(
        "install_refuses_a_binary_that_does_not_match",
        &["curl", "sha256sum"],
    ) {
        return;
    }
    let cases: [(&str, &str, &str); 4] = [
        ("tampered", VERSION, "checksum mismatch"),
        ("no entry", VERSION, "has no entry for"),
        ("pinned", VERSION, "the sha256 input says"),
        ("other version", "9.9.9", "not 'strata 9.9.9'"),
    ];
    for (case, version, message) in cases {
        let runner = Runner::new();
        let rel = release(&runner.path("release"), version);
        let sums = rel.join(format!("v{version}/SHA256SUMS"));
        let text = std::fs::read_to_string(&sums).unwrap();
        let mut pinned = String::new();
        match case {
            "tampered" => {
                let line = text.lines().nth(1).unwrap();
                let flipped = if line.starts_with('0') { "1" } else { "0" };
                let text = text.replace(line, &format!("{flipped}{}", &line[1..]));
                std::fs::write(&sums, text).unwrap();
            }
            "no entry" => std::fs::write(&sums, text.lines().next().unwrap()).unwrap(),
            "pinned" => pinned = "ab".repeat(32),
            _ => {}
        }
        let repo = overlays(&runner.path("repo"));
        let run = runner.action(
            &repo,
            &[
                ("version", version),
                ("command", "validate"),
                ("paths", "overlays/cn-hangzhou"),
                ("sha256", &pinned),
                ("release-url", &file_url(&rel)),
            ],
            &[],
        );
        assert!(!run.ok, "{case}: {}", run.log);
        assert_eq!(run.outcomes["install"], "failure", "{case}");
        assert_eq!(run.outcomes["run"], "skipped", "{case}");
        assert_eq!(run.outcomes["upload-sarif"], "skipped", "{case}");
        assert!(
            run.log.contains(message) && run.log.contains("::error"),
            "{case}: {}",
            run.log
        );
        let cache = runner.path(&format!("tool-cache/strata/{version}/x64"));
        assert!(!cache.join("strata").exists(), "{case}: installed anyway");
        assert!(!runner.path("github-path").exists(), "{case}: put on PATH");
    }
}

/// Over HTTP, from the default URL: `<server>/<action repository>/releases/download`,
/// the repository from `github.action_repository`, or, where a composite action sees that
/// empty, from the action's path (`.../_actions/<owner>/<repo>/<ref>`).
#[test]
fn install_downloads_from_the_action_repositorys_releases() {
    if !tools(
        "install_downloads_from_the_action_repositorys_releases",
        &["curl", "sha256sum"],
    ) {
        return;
    }
    let runner = Runner::new();
    let mock = mock();
    let rel = release(&runner.path("release"), VERSION);
    for file in [asset(VERSION), "SHA256SUMS".into()] {
        let bytes = std::fs::read(rel.join(format!("v{VERSION}")).join(&file)).unwrap();
        mock.api.lock().unwrap().files.insert(
            format!("/acme/strata/releases/download/v{VERSION}/{file}"),
            bytes,
        );
    }
    let repo = overlays(&runner.path("repo"));
    let server = [("GITHUB_SERVER_URL", mock.url.clone())];
    let run = runner.action(
        &repo,
        &[("version", VERSION), ("command", "install")],
        &server,
    );
    assert!(run.ok, "{}", run.log);

    let runner = Runner::new();
    let from_path = runner.script(
        "install.sh",
        &repo,
        &[
            ("INPUT_VERSION", VERSION.into()),
            ("GITHUB_SERVER_URL", mock.url.clone()),
            (
                "GITHUB_ACTION_PATH",
                "/home/runner/work/_actions/acme/strata/v1".into(),
            ),
        ],
    );
    assert!(from_path.ok, "{}", from_path.log);
    assert_eq!(from_path.outputs["version"], VERSION);

    // A version that was never released: the URL that failed.
    let runner = Runner::new();
    let missing = runner.action(
        &repo,
        &[("version", "0.0.9"), ("command", "install")],
        &server,
    );
    assert!(!missing.ok);
    assert!(
        missing.log.contains("could not download http://127.0.0.1")
            && missing
                .log
                .contains("/acme/strata/releases/download/v0.0.9/SHA256SUMS"),
        "{}",
        missing.log
    );
}

// ---------------------------------------------------------------------------------------
// render, validate.

#[test]
fn render_writes_a_folder_per_overlay() {
    if !tools("render_writes_a_folder_per_overlay", &["curl", "sha256sum"]) {
        return;
    }
    let runner = Runner::new();
    let rel = release(&runner.path("release"), VERSION);
    let repo = overlays(&runner.path("repo"));
    let run = runner.action(
        &repo,
        &[
            ("version", VERSION),
            ("command", "render"),
            ("paths", "overlays/cn-*/"),
            ("release-url", &file_url(&rel)),
        ],
        &[],
    );
    assert!(run.ok, "{}", run.log);
    let out = PathBuf::from(&run.outputs["out-dir"]);
    assert_eq!(out, repo.join("rendered"));
    for region in ["cn-hangzhou", "cn-beijing"] {
        assert!(
            out.join("overlays")
                .join(region)
                .join("Deployment_monitoring_nginx.yaml")
                .exists()
        );
    }
    assert_eq!(run.outputs["exit-code"], "0");

    // A glob that matches nothing is an error, not an empty run.
    let none = runner.action(
        &repo,
        &[
            ("version", VERSION),
            ("command", "render"),
            ("paths", "overlays/eu-*"),
            ("release-url", &file_url(&rel)),
        ],
        &[],
    );
    assert!(!none.ok);
    assert!(
        none.log.contains("'overlays/eu-*' matches nothing"),
        "{}",
        none.log
    );
}

/// validate writes SARIF 2.1.0 and the upload step gets it; with error findings strata's
/// exit code 1 is kept until the upload ran, then fails the action (unless
/// fail-on-findings is false).
#[test]
fn validate_uploads_sarif_then_fails_on_errors() {
    if !tools(
        "validate_uploads_sarif_then_fails_on_errors",
        &["curl", "sha256sum"],
    ) {
        return;
    }
    let runner = Runner::new();
    let rel = release(&runner.path("release"), VERSION);
    let repo = overlays(&runner.path("repo"));
    let inputs = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, String)> = vec![
            ("version", VERSION.into()),
            ("command", "validate".into()),
            ("paths", "overlays/cn-hangzhou\noverlays/cn-beijing".into()),
            ("sarif", "reports/strata.sarif".into()),
            ("sarif-category", "strata-overlays".into()),
            ("release-url", file_url(&rel)),
        ];
        v.extend(extra.iter().map(|(k, val)| (*k, val.to_string())));
        v
    };
    let run_with = |extra: &[(&'static str, &'static str)]| {
        let owned = inputs(extra);
        let borrowed: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        runner.action(&repo, &borrowed, &[])
    };

    let clean = run_with(&[]);
    assert!(clean.ok, "{}", clean.log);
    let sarif_path = repo.join("reports/strata.sarif");
    assert_eq!(clean.outputs["sarif"], sarif_path.display().to_string());
    assert_eq!(clean.outputs["exit-code"], "0");
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "strata");
    let (uses, with) = &clean.uses[0];
    assert_eq!(uses, "github/codeql-action/upload-sarif@v3");
    assert_eq!(with["sarif_file"], sarif_path.display().to_string());
    assert_eq!(with["category"], "strata-overlays");

    set_replicas(&repo, 4);
    let errors = run_with(&[]);
    assert!(!errors.ok, "{}", errors.log);
    assert_eq!(errors.outcomes["run"], "success");
    assert_eq!(errors.outcomes["upload-sarif"], "success");
    assert_eq!(errors.outcomes["finish"], "failure");
    assert_eq!(errors.outputs["exit-code"], "1");
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    let rules: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"RO001"), "{rules:?}");
    assert!(
        errors
            .log
            .contains("::error file=examples/nginx-deployment.yaml"),
        "annotations: {}",
        errors.log
    );

    let tolerated = run_with(&[("fail-on-findings", "false"), ("upload-sarif", "false")]);
    assert!(tolerated.ok, "{}", tolerated.log);
    assert_eq!(tolerated.outputs["exit-code"], "1");
    assert!(tolerated.uses.is_empty());

    // An input strata cannot read: exit 2, no SARIF to upload, the action fails with 2.
    std::fs::write(
        repo.join("overlays/cn-beijing/kustomization.yaml"),
        "resources:\n- missing.yaml\n",
    )
    .unwrap();
    std::fs::remove_file(&sarif_path).unwrap();
    let broken = run_with(&[]);
    assert!(!broken.ok);
    assert_eq!(broken.outputs["exit-code"], "2");
    assert_eq!(broken.outcomes["upload-sarif"], "skipped");
    assert!(!sarif_path.exists());
    assert!(broken.log.contains("strata exited 2"), "{}", broken.log);
}

// ---------------------------------------------------------------------------------------
// diff and the PR comment.

fn event(dir: &Path) -> String {
    let p = dir.join("event.json");
    std::fs::write(
        &p,
        json!({"action": "synchronize", "number": PR, "pull_request": {"number": PR}}).to_string(),
    )
    .unwrap();
    p.display().to_string()
}

/// The diff of a pull request against its base branch (fetched into the shallow clone) is
/// posted once; a later push updates that comment (same id, no new one); another
/// comment-key gets its own comment; comments without the marker, and other keys', are
/// never touched. The marker comment sits on the second page of the PR's comments.
#[test]
fn diff_comment_is_posted_once_then_updated_in_place() {
    if !tools(
        "diff_comment_is_posted_once_then_updated_in_place",
        &["curl", "sha256sum", "git", "python3"],
    ) {
        return;
    }
    let runner = Runner::new();
    let rel = release(&runner.path("release"), VERSION);
    let work = pull_request_checkout(&runner.path("git"));
    let mock = mock();
    {
        let mut api = mock.api.lock().unwrap();
        for i in 0..120 {
            api.comments.push((i, format!("review remark {i}")));
        }
        api.comments
            .push((500, "the strata diff looks right to me".into()));
        api.comments.push((
            501,
            "<!-- strata-diff:staging -->\nanother job's diff".into(),
        ));
    }
    let env = [
        ("GITHUB_EVENT_PATH", event(&runner.path("git"))),
        ("GITHUB_API_URL", mock.url.clone()),
        ("GITHUB_BASE_REF", "main".into()),
    ];
    let inputs = [
        ("version", VERSION),
        ("command", "diff"),
        ("paths", "overlays/cn-*"),
        ("release-url", &file_url(&rel)),
    ];

    let first = runner.action(&work, &inputs, &env);
    assert!(first.ok, "{}", first.log);
    assert!(first.log.contains("fetching origin/main"), "{}", first.log);
    assert_eq!(first.outputs["exit-code"], "1"); // differences are not a failure
    assert_eq!(first.outcomes["finish"], "success");
    assert_eq!(first.outputs["markdown-parts"], "1");
    let summary = std::fs::read_to_string(runner.path("step-summary")).unwrap();
    assert!(summary.contains("## strata diff"));
    let id: u64 = first.outputs["comment-id"].parse().unwrap();
    assert_eq!(
        first.outputs["comment-url"],
        format!("https://github.test/{REPO}/pull/{PR}#issuecomment-{id}")
    );
    let comments_path = format!("/repos/{REPO}/issues/{PR}/comments");
    {
        let api = mock.api.lock().unwrap();
        let writes: Vec<_> = api
            .api_requests()
            .into_iter()
            .filter(|(m, _)| m != "GET")
            .collect();
        assert_eq!(writes, [("POST".to_string(), comments_path.clone())]);
        let gets = api.api_requests().len() - 1;
        assert_eq!(gets, 2, "two pages of comments read");
        let body = &api.comments.iter().find(|(i, _)| *i == id).unwrap().1;
        assert!(
            body.starts_with("<!-- strata-diff -->\n## strata diff"),
            "{body}"
        );
        assert!(body.contains("+  replicas: 2"), "{body}");
        assert_eq!(api.comments.len(), 123);
    }

    // The next push: the same comment, updated.
    set_replicas(&work, 1);
    git(&work, &["commit", "-q", "-am", "one replica"]);
    mock.api.lock().unwrap().requests.clear();
    let second = runner.action(&work, &inputs, &env);
    assert!(second.ok, "{}", second.log);
    assert_eq!(second.outputs["comment-id"], id.to_string());
    {
        let api = mock.api.lock().unwrap();
        let writes: Vec<_> = api
            .api_requests()
            .into_iter()
            .filter(|(m, _)| m != "GET")
            .collect();
        assert_eq!(
            writes,
            [(
                "PATCH".to_string(),
                format!("/repos/{REPO}/issues/comments/{id}")
            )]
        );
        assert_eq!(api.comments.len(), 123);
        let body = &api.comments.iter().find(|(i, _)| *i == id).unwrap().1;
        assert!(body.contains("+  replicas: 1") && !body.contains("+  replicas: 2"));
        assert_eq!(api.comments[120].1, "the strata diff looks right to me");
        assert_eq!(
            api.comments[121].1,
            "<!-- strata-diff:staging -->\nanother job's diff"
        );
    }

    // A matrix job with its own key: its own comment; ours stays.
    let mut keyed = inputs.to_vec();
    keyed.push(("comment-key", "cn-beijing"));
    let third = runner.action(&work, &keyed, &env);
    assert!(third.ok, "{}", third.log);
    let api = mock.api.lock().unwrap();
    assert_eq!(api.comments.len(), 124);
    let (new_id, body) = api.comments.last().unwrap();
    assert_ne!(*new_id, id);
    assert!(
        body.starts_with("<!-- strata-diff:cn-beijing -->\n"),
        "{body}"
    );
}

/// A change that breaks one overlay's render: strata writes the report (the failure named,
/// the other overlays diffed) and exits 2; the comment is still posted, then the job fails.
#[test]
fn diff_posts_the_report_when_an_overlay_stops_rendering_then_fails() {
    if !tools(
        "diff_posts_the_report_when_an_overlay_stops_rendering_then_fails",
        &["curl", "sha256sum", "git", "python3"],
    ) {
        return;
    }
    let runner = Runner::new();
    let rel = release(&runner.path("release"), VERSION);
    let work = pull_request_checkout(&runner.path("git"));
    let broken = work.join("overlays/cn-beijing/kustomization.yaml");
    let text = std::fs::read_to_string(&broken).unwrap();
    std::fs::write(&broken, text.replace("../../examples", "../../nowhere")).unwrap();
    git(&work, &["commit", "-q", "-am", "break cn-beijing"]);
    let mock = mock();
    let env = [
        ("GITHUB_EVENT_PATH", event(&runner.path("git"))),
        ("GITHUB_API_URL", mock.url.clone()),
        ("GITHUB_BASE_REF", "main".into()),
    ];
    let inputs = [
        ("version", VERSION),
        ("command", "diff"),
        ("paths", "overlays/cn-*"),
        ("release-url", &file_url(&rel)),
    ];
    let run = runner.action(&work, &inputs, &env);
    assert!(!run.ok, "the job fails: {}", run.log);
    assert_eq!(run.outputs["exit-code"], "2");
    assert_eq!(run.outcomes["comment"], "success", "{}", run.log);
    let api = mock.api.lock().unwrap();
    let body = &api.comments.last().expect("a comment was posted").1;
    assert!(body.contains("### Render failures"), "{body}");
    assert!(
        body.contains("`overlays/cn-beijing`: the **head**"),
        "{body}"
    );
    assert!(
        body.contains("+  replicas: 2"),
        "cn-hangzhou still diffs: {body}"
    );
}

/// With `comment: false`, no comment; outside a pull request, a warning and no comment; a
/// base revision that is not in the clone is a clear error.
#[test]
fn diff_without_a_comment_and_diff_errors() {
    if !tools(
        "diff_without_a_comment_and_diff_errors",
        &["curl", "sha256sum", "git", "python3"],
    ) {
        return;
    }
    let runner = Runner::new();
    let rel = release(&runner.path("release"), VERSION);
    let work = pull_request_checkout(&runner.path("git"));
    let mock = mock();
    let api_env = ("GITHUB_API_URL", mock.url.clone());
    let base = [
        ("version", VERSION),
        ("command", "diff"),
        ("paths", "overlays/cn-*"),
        ("release-url", &file_url(&rel)),
    ];

    let mut quiet = base.to_vec();
    quiet.push(("comment", "false"));
    let env = [
        ("GITHUB_EVENT_PATH", event(&runner.path("git"))),
        api_env.clone(),
        ("GITHUB_BASE_REF", "main".into()),
    ];
    let run = runner.action(&work, &quiet, &env);
    assert!(run.ok, "{}", run.log);
    assert!(run.outputs["comment-id"].is_empty());

    // A push event: no pull request to comment on.
    let mut on_push = base.to_vec();
    on_push.push(("base-ref", "origin/main"));
    let run = runner.action(&work, &on_push, std::slice::from_ref(&api_env));
    assert!(run.ok, "{}", run.log);
    assert!(run.log.contains("not a pull request event"), "{}", run.log);

    assert!(mock.api.lock().unwrap().api_requests().is_empty());

    // Outside pull_request events base-ref is required; a base not in the clone is named.
    let run = runner.action(&work, &base, &[]);
    assert!(!run.ok);
    assert!(run.log.contains("base-ref is required"), "{}", run.log);
    let mut unknown = base.to_vec();
    unknown.push(("base-ref", "release-1.0"));
    let run = runner.action(&work, &unknown, &[]);
    assert!(!run.ok);
    assert!(
        run.log.contains("'release-1.0' is not in the clone") && run.log.contains("fetch-depth: 0"),
        "{}",
        run.log
    );
}

/// A diff split into several comments: each part has its marker; a later, shorter diff
/// updates part 1 and deletes the parts it no longer needs (and a duplicate of part 1 left
/// by two runs that raced); a read-only token (a PR from a fork) is a warning, not a failure.
#[test]
fn split_comments_are_updated_and_pruned() {
    if !tools(
        "split_comments_are_updated_and_pruned",
        &["curl", "python3"],
    ) {
        return;
    }
    let runner = Runner::new();
    let mock = mock();
    let dir = runner.path("markdown");
    std::fs::create_dir_all(&dir).unwrap();
    let write_parts = |n: usize| {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
        for i in 1..=n {
            std::fs::write(
                dir.join(format!("comment-{i:03}.md")),
                format!("## strata diff (part {i})\n"),
            )
            .unwrap();
        }
    };
    let env = || {
        vec![
            ("GITHUB_EVENT_PATH", event(&runner.path("temp"))),
            ("GITHUB_API_URL", mock.url.clone()),
            ("STRATA_MARKDOWN_DIR", dir.display().to_string()),
            ("INPUT_GITHUB_TOKEN", TOKEN.to_string()),
            ("INPUT_COMMENT_KEY", "prod eu--1".to_string()),
        ]
    };
    mock.api
        .lock()
        .unwrap()
        .comments
        .push((1, "hand-written".into()));

    write_parts(3);
    let run = runner.script("comment.sh", &runner.path("temp"), &env());
    assert!(run.ok, "{}", run.log);
    {
        let mut api = mock.api.lock().unwrap();
        let bodies: Vec<&str> = api.comments.iter().map(|(_, b)| b.as_str()).collect();
        assert_eq!(
            bodies,
            [
                "hand-written",
                "<!-- strata-diff:prod_eu-1 -->\n## strata diff (part 1)\n",
                "<!-- strata-diff:prod_eu-1 part=2 -->\n## strata diff (part 2)\n",
                "<!-- strata-diff:prod_eu-1 part=3 -->\n## strata diff (part 3)\n",
            ]
        );
        let dup = api.comments[1].1.clone();
        api.comments.push((9999, dup));
        api.requests.clear();
    }

    write_parts(1);
    let run = runner.script("comment.sh", &runner.path("temp"), &env());
    assert!(run.ok, "{}", run.log);
    {
        let api = mock.api.lock().unwrap();
        let writes: Vec<String> = api
            .api_requests()
            .into_iter()
            .filter(|(m, _)| m != "GET")
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        let c = format!("/repos/{REPO}/issues/comments");
        assert_eq!(
            writes,
            [
                format!("PATCH {c}/1001"),
                format!("DELETE {c}/1002"),
                format!("DELETE {c}/1003"),
                format!("DELETE {c}/9999"),
            ]
        );
        assert_eq!(api.comments.len(), 2);
        assert_eq!(run.outputs["comment-id"], "1001");
    }

    // A pull request from a fork: the token cannot write.
    mock.api.lock().unwrap().read_only = true;
    write_parts(2);
    let run = runner.script("comment.sh", &runner.path("temp"), &env());
    assert!(run.ok, "{}", run.log);
    assert!(
        run.log.contains("::warning") && run.log.contains("fork"),
        "{}",
        run.log
    );

    // A wrong token is an error.
    let mut bad = env();
    bad[3].1 = "wrong".into();
    let run = runner.script("comment.sh", &runner.path("temp"), &bad);
    assert!(!run.ok && run.code == Some(1));
    assert!(run.log.contains("GitHub answered 401"), "{}", run.log);
}

// ---------------------------------------------------------------------------------------
// docs/ci.md.

/// docs/ci.md's "GitHub Action" workflow: YAML, the permissions the action needs, a full
/// clone for the diff's base, and only inputs action.yml declares.
#[test]
fn docs_show_a_workflow_with_declared_inputs() {
    let md = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    let section = md
        .split("\n## GitHub Action\n")
        .nth(1)
        .expect("docs/ci.md has a `## GitHub Action` section");
    let block = section
        .split("```yml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a yml block in the GitHub Action section");
    let wf = strata::yaml::parse_single(block).unwrap().unwrap().value;
    let text = wf.to_string();
    for perm in [
        r#""pull-requests":"write""#,
        r#""security-events":"write""#,
        r#""contents":"read""#,
    ] {
        assert!(text.contains(perm), "{perm} missing");
    }
    let action = action();
    let declared = action["inputs"].as_object().unwrap();
    let mut commands = Vec::new();
    for (job, spec) in wf["jobs"].as_object().unwrap() {
        for step in spec["steps"].as_array().unwrap() {
            let uses = step["uses"].as_str().unwrap_or("");
            if uses.starts_with("actions/checkout") && job == "diff" {
                assert_eq!(
                    step["with"]["fetch-depth"], 0,
                    "diff needs the base revision"
                );
            }
            if !uses.contains("/strata@") {
                continue;
            }
            let with = step["with"].as_object().unwrap();
            for k in with.keys() {
                assert!(declared.contains_key(k), "{job}: input {k} is not declared");
            }
            assert!(with.contains_key("version"), "{job}: no version");
            commands.push(with["command"].as_str().unwrap().to_string());
        }
    }
    commands.sort();
    assert_eq!(commands, ["diff", "render", "validate"]);
}
