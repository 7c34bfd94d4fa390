//! `--base REF` / `--head REF`: a revision's tree extracted into a temporary directory with
//! `git archive REF | tar -x`, so the user's checkout, index, stash and worktree list are
//! never touched (not even `git worktree add`, which writes below `.git`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The repository holding `cwd`: its top directory and `cwd`'s path below it (`a/b/` or "").
pub fn repo_of(cwd: &Path) -> Result<(PathBuf, String)> {
    let top = git(cwd, &["rev-parse", "--show-toplevel"])?;
    let prefix = git(cwd, &["rev-parse", "--show-prefix"])?;
    Ok((PathBuf::from(top), prefix))
}

/// A revision's tree, extracted. Removed when dropped.
pub struct Snapshot {
    pub dir: tempfile::TempDir,
    /// The full commit id.
    pub commit: String,
}

impl Snapshot {
    /// Extracts `rev` of the repository at `top`.
    pub fn extract(top: &Path, rev: &str) -> Result<Snapshot> {
        let commit = git(
            top,
            &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
        )
        .map_err(|_| {
            Error::new(format!("`{rev}` is not a commit of the repository at {}", top.display()))
                .help("pass a branch, tag or commit id (fetch it first if it is remote: `git fetch origin main`)")
        })?;
        let dir = tempfile::Builder::new()
            .prefix("strata-diff-")
            .tempdir()
            .map_err(|e| Error::new(format!("cannot create a temporary directory: {e}")))?;
        let mut archive = Command::new("git")
            .arg("-C")
            .arg(top)
            .args(["archive", "--format=tar", &commit])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::new(format!("cannot run git: {e}")))?;
        let stdout = archive.stdout.take().expect("piped stdout");
        let tar = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(dir.path())
            .stdin(Stdio::from(stdout))
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::new(format!("cannot run tar: {e}")))?;
        let archived = archive
            .wait_with_output()
            .map_err(|e| Error::new(format!("git archive failed: {e}")))?;
        if !archived.status.success() {
            return Err(Error::new(format!(
                "git archive {rev} failed: {}",
                String::from_utf8_lossy(&archived.stderr).trim()
            )));
        }
        if !tar.status.success() {
            return Err(Error::new(format!(
                "extracting {rev} failed: {}",
                String::from_utf8_lossy(&tar.stderr).trim()
            )));
        }
        Ok(Snapshot { dir, commit })
    }

    /// The extracted tree's root, canonical.
    pub fn root(&self) -> PathBuf {
        self.dir
            .path()
            .canonicalize()
            .unwrap_or_else(|_| self.dir.path().to_path_buf())
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::new(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .help("run strata diff --base/--head inside a git repository"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
