//! `strata hydrate`: each app's rendered manifests written in the layout of Argo CD's source
//! hydrator (per app path: `manifest.yaml`, `hydrator.metadata`, `README.md`; at the root:
//! `hydrator.metadata` and `.gitattributes`), into a directory or as a commit on a branch.
//!
//! A branch is written with git's plumbing on a temporary index (`read-tree`, `hash-object`,
//! `update-index`, `write-tree`, `commit-tree`, `update-ref` with the old value), so the
//! user's working tree, index and checked-out branch are never touched, and a concurrent
//! update of the branch makes the commit fail rather than be lost. Only the hydrator's own
//! files at the apps' paths change; everything else on the branch stays as it is. An app
//! whose manifests did not change keeps its metadata and README (no churn), and when no app
//! changed nothing is committed. Secrets' data is refused unless asked for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::error::{Error, Result};
use crate::model::Resource;

/// One app to hydrate: the path its manifests go to, what they are, how to make them again.
pub struct App {
    /// The path below the output root (`overlays/cn-beijing`); never the root itself.
    pub path: String,
    pub manifests: String,
    pub command: String,
}

/// Where the dry source is: its repository URL (as Argo CD knows it) and commit.
pub struct Dry {
    pub repo_url: String,
    pub sha: String,
}

/// The Secrets of a render that carry data (`data` or `stringData`), by identity.
pub fn secrets_with_data(set: &[Resource]) -> Vec<String> {
    set.iter()
        .filter(|r| r.kind() == "Secret" && r.api_version() == "v1")
        .filter(|r| {
            ["data", "stringData"].iter().any(|f| {
                r.obj()
                    .get(*f)
                    .and_then(|v| v.as_object())
                    .is_some_and(|m| !m.is_empty())
            })
        })
        .map(|r| r.id().to_string())
        .collect()
}

const GITATTRIBUTES: &str =
    "**/README.md linguist-generated=true\n**/hydrator.metadata linguist-generated=true\n";

fn metadata(app: &App, dry: &Dry) -> String {
    let mut s = serde_json::to_string_pretty(&json!({
        "commands": [app.command],
        "drySha": dry.sha,
        "repoURL": dry.repo_url,
    }))
    .expect("JSON values serialize");
    s.push('\n');
    s
}

fn root_metadata(dry: &Dry) -> String {
    let mut s = serde_json::to_string_pretty(&json!({
        "drySha": dry.sha,
        "repoURL": dry.repo_url,
    }))
    .expect("JSON values serialize");
    s.push('\n');
    s
}

fn readme(app: &App, dry: &Dry) -> String {
    format!(
        "# Manifest Hydration\n\nTo hydrate the manifests in this repository, run the following commands:\n\n```shell\ngit clone {}\ngit checkout {}\n{}\n```\n",
        dry.repo_url, dry.sha, app.command
    )
}

/// The files of one hydration, path -> text, for the apps whose manifests differ from
/// `current` (what the target holds now, by path); `None` when nothing changed.
fn files(
    apps: &[App],
    dry: &Dry,
    current: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for app in apps {
        let manifest = format!("{}/manifest.yaml", app.path);
        if current(&manifest).as_deref() == Some(app.manifests.as_bytes()) {
            continue;
        }
        out.push((manifest, app.manifests.clone()));
        out.push((
            format!("{}/hydrator.metadata", app.path),
            metadata(app, dry),
        ));
        out.push((format!("{}/README.md", app.path), readme(app, dry)));
    }
    if out.is_empty() {
        return None;
    }
    out.push(("hydrator.metadata".into(), root_metadata(dry)));
    out.push((".gitattributes".into(), GITATTRIBUTES.into()));
    Some(out)
}

/// Checks the apps' paths: relative, inside the output, not its root, each once.
pub fn check_paths(apps: &[App]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for app in apps {
        let p = Path::new(&app.path);
        let inside = !app.path.is_empty()
            && app.path != "."
            && p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            return Err(Error::new(format!(
                "`{}` cannot be a hydrated path: it must be a directory below the output's root",
                app.path
            ))
            .help("Argo CD's source hydrator never writes the repository root; give each app its own directory"));
        }
        if !seen.insert(&app.path) {
            return Err(Error::new(format!(
                "two apps would be hydrated to `{}`",
                app.path
            )));
        }
    }
    Ok(())
}

/// What a hydration did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changed: nothing written or committed.
    Unchanged,
    /// Files written (to a directory) or committed (the commit id), and the apps changed.
    Written {
        commit: Option<String>,
        apps: Vec<String>,
    },
}

fn changed_apps(files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter_map(|(p, _)| p.strip_suffix("/manifest.yaml").map(str::to_string))
        .collect()
}

/// Hydrates into a directory (a checkout of the hydrated branch, or any directory).
pub fn to_dir(out: &Path, apps: &[App], dry: &Dry) -> Result<Outcome> {
    check_paths(apps)?;
    let current = |p: &str| std::fs::read(out.join(p)).ok();
    let Some(files) = files(apps, dry, &current) else {
        return Ok(Outcome::Unchanged);
    };
    for (p, text) in &files {
        let path = out.join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::new(format!("cannot create {}: {e}", parent.display())))?;
        }
        write_atomic(&path, text)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(Outcome::Written {
        commit: None,
        apps: changed_apps(&files),
    })
}

/// A file replaced in one step: a temporary file beside it, then a rename.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Hydrates as one commit on `branch` of the repository at `repo` (created from nothing when
/// it does not exist), without touching the working tree, the index or HEAD.
pub fn to_branch(repo: &Path, branch: &str, apps: &[App], dry: &Dry) -> Result<Outcome> {
    check_paths(apps)?;
    let git = Git { repo };
    let reference = format!("refs/heads/{branch}");
    git.run(&["check-ref-format", &reference], None)
        .map_err(|_| Error::new(format!("`{branch}` is not a valid branch name")))?;
    let parent = git
        .run(
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{reference}^{{commit}}"),
            ],
            None,
        )
        .ok();
    let current = |p: &str| -> Option<Vec<u8>> {
        let parent = parent.as_ref()?;
        git.bytes(&["cat-file", "blob", &format!("{parent}:{p}")])
            .ok()
    };
    let Some(files) = files(apps, dry, &current) else {
        return Ok(Outcome::Unchanged);
    };
    let index = tempfile::NamedTempFile::new()
        .map_err(|e| Error::new(format!("cannot create a temporary index: {e}")))?;
    let env = [("GIT_INDEX_FILE", index.path().as_os_str().to_owned())];
    let with_index =
        |args: &[&str], input: Option<&[u8]>| -> Result<String> { git.run_env(args, input, &env) };
    match &parent {
        Some(p) => with_index(&["read-tree", p], None)?,
        None => with_index(&["read-tree", "--empty"], None)?,
    };
    for (path, text) in &files {
        let blob = git.run(&["hash-object", "-w", "--stdin"], Some(text.as_bytes()))?;
        with_index(
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{blob},{path}"),
            ],
            None,
        )?;
    }
    let tree = with_index(&["write-tree"], None)?;
    let apps_changed = changed_apps(&files);
    let message = format!(
        "{}: hydrate {} app{}\n\n{}\n",
        &dry.sha[..dry.sha.len().min(7)],
        apps_changed.len(),
        if apps_changed.len() == 1 { "" } else { "s" },
        apps_changed
            .iter()
            .map(|a| format!("- {a}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut args = vec!["commit-tree", tree.as_str(), "-F", "-"];
    if let Some(p) = &parent {
        args.extend(["-p", p.as_str()]);
    }
    let commit = git.run(&args, Some(message.as_bytes()))?;
    // With the old value: a branch someone else moved meanwhile is not overwritten.
    let old = parent.clone().unwrap_or_else(|| "0".repeat(40));
    git.run(
        &[
            "update-ref",
            "-m",
            "strata hydrate",
            &reference,
            &commit,
            &old,
        ],
        None,
    )
    .map_err(|e| {
        e.help(format!(
            "{branch} moved while strata hydrated it: run again on the new tip"
        ))
    })?;
    Ok(Outcome::Written {
        commit: Some(commit),
        apps: apps_changed,
    })
}

struct Git<'a> {
    repo: &'a Path,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(self.repo).args(args);
        // Reproducible, and no identity needed from the user's configuration.
        c.env("GIT_AUTHOR_NAME", "strata hydrate")
            .env("GIT_AUTHOR_EMAIL", "strata@localhost")
            .env("GIT_COMMITTER_NAME", "strata hydrate")
            .env("GIT_COMMITTER_EMAIL", "strata@localhost");
        c
    }

    fn bytes(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::new(format!("cannot run git: {e}")))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(Error::new(format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<String> {
        self.run_env(args, input, &[])
    }

    fn run_env(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
        env: &[(&str, std::ffi::OsString)],
    ) -> Result<String> {
        use std::io::Write;
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::new(format!("cannot run git: {e}")))?;
        if let Some(bytes) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(bytes)
                .map_err(|e| Error::new(format!("cannot write to git: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::new(format!("git failed: {e}")))?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "git {} failed in {}: {}",
                args.join(" "),
                self.repo.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// The dry source of the repository at `dir`: its `origin` URL (else its path) and HEAD,
/// and whether the working tree has uncommitted changes.
pub fn dry_source(dir: &Path) -> Result<(Dry, bool, PathBuf)> {
    let git = Git { repo: dir };
    let top = PathBuf::from(
        git.run(&["rev-parse", "--show-toplevel"], None)
            .map_err(|e| {
                e.help("run strata hydrate inside the git repository of the dry source")
            })?,
    );
    let sha = git.run(&["rev-parse", "HEAD"], None)?;
    let repo_url = git
        .run(&["remote", "get-url", "origin"], None)
        .unwrap_or_else(|_| top.display().to_string());
    let dirty = !git.run(&["status", "--porcelain"], None)?.is_empty();
    Ok((Dry { repo_url, sha }, dirty, top))
}
