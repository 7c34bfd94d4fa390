//! `strata render --out-dir OUT DIR...`: every overlay rendered in one process (one sharing
//! Builder: bases parsed and built once), on as many threads as there are cores, into a tree
//! of one folder per overlay and one file per resource. The tree is written beside OUT and
//! renamed into place only when every overlay rendered and validated, so a failed run never
//! leaves a half-written tree.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::RenderArgs;
use crate::cli::exit;
use crate::kustomize::build::Builder;
use crate::model::Resource;
use crate::render::{self, Format};
use crate::report;
use crate::validate::{self, ClusterProfile};

/// A file marking a tree strata wrote, so `--out-dir` never replaces anything else.
const MARKER: &str = ".strata-render";

/// What one overlay gave: its files, or the text of its errors and the exit code.
type Rendered = Result<Vec<(String, String)>, (String, u8)>;

/// Whether one overlay's files were staged, or the text of its errors and the exit code.
type Outcome = Result<(), (String, u8)>;

pub fn run(args: &RenderArgs, out: &Path) -> u8 {
    if let Err(e) = check_out(out) {
        eprintln!("error: {e}");
        return exit::ERROR;
    }
    let folders = match folders(&args.dirs) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    // One `--cluster` profile serves every overlay: read it once.
    let cluster = match (&args.cluster, args.no_validate) {
        (Some(path), false) => match ClusterProfile::read(path) {
            Ok(p) => Some(p),
            Err(e) => {
                eprint!("{e}");
                return exit::ERROR;
            }
        },
        _ => None,
    };
    let staging = match Staging::create(out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot write beside {}: {e}", out.display());
            return exit::ERROR;
        }
    };
    let Some((kinds, builder)) = super::builder(args, true) else {
        return exit::ERROR;
    };
    let results: Vec<Mutex<Option<Outcome>>> = args.dirs.iter().map(|_| Mutex::new(None)).collect();
    let unshown = Mutex::new(validate::Report::default());
    let next = AtomicUsize::new(0);
    let write_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let bar = progress_bar(args.dirs.len());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(args.dirs.len());
    // Each overlay's files are written as soon as it renders, while the other threads
    // render: the tree is staged beside OUT and only swapped in when every overlay made it.
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(dir) = args.dirs.get(i) else { break };
                    // A write that failed (a full disk) ends the run: the tree cannot be
                    // completed, whatever the other overlays give.
                    if write_error.lock().expect("write error lock").is_some() {
                        break;
                    }
                    let r = match render_one(&builder, args, cluster.as_ref(), dir, &unshown) {
                        Ok(files) => match staging.write(&folders[i], &files) {
                            Ok(()) => Ok(()),
                            Err(e) => {
                                write_error
                                    .lock()
                                    .expect("write error lock")
                                    .get_or_insert(e);
                                continue;
                            }
                        },
                        Err(e) => Err(e),
                    };
                    *results[i].lock().expect("result slot") = Some(r);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = write_error.into_inner().expect("write error lock") {
        let beside = staging
            .tmp
            .parent()
            .unwrap_or(Path::new("."))
            .display()
            .to_string();
        staging.discard();
        eprintln!(
            "error: cannot write the new tree in {beside}: {e}\nerror: nothing was changed at {}{}: make room, or give --out-dir a place with space",
            out.display(),
            if out.exists() {
                " (the previous tree is as it was)"
            } else {
                ""
            }
        );
        return exit::ERROR;
    }
    let mut code = exit::OK;
    for (dir, slot) in args.dirs.iter().zip(results) {
        match slot.into_inner().expect("result slot") {
            Some(Ok(())) => {}
            Some(Err((text, c))) => {
                eprint!("{text}");
                eprintln!("error: {} did not render", dir.display());
                code = code.max(c);
            }
            None => code = exit::ERROR,
        }
    }
    // The parsed bases and built trees are not needed any more; the process ends soon, so
    // freeing them one by one would only cost time.
    std::mem::forget(builder);
    if code == exit::OK
        && let Err(c) = super::report_overrides(&[&kinds])
    {
        code = c;
    }
    if code != exit::OK {
        staging.discard();
        eprintln!(
            "error: nothing was written to {} (fix the overlays above)",
            out.display()
        );
        return code;
    }
    let unshown = unshown.into_inner().expect("warning count lock");
    let dirs = if args.dirs.len() == 1 {
        args.dirs[0].display().to_string()
    } else {
        "DIR".to_string()
    };
    if let Some(line) = super::warnings_line(&unshown, &dirs) {
        eprintln!("{line}");
    }
    match staging.commit() {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!(
                "error: cannot put the new tree at {}: {e}; nothing was changed there",
                out.display()
            );
            exit::ERROR
        }
    }
}

/// A progress bar on stderr when it is a terminal (hidden otherwise: logs and pipes stay clean).
fn progress_bar(len: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} overlays rendered ({elapsed})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// OUT may be missing, empty, or a tree strata wrote before.
fn check_out(out: &Path) -> Result<(), String> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(format!("{} exists and is not a directory", out.display()));
    }
    let empty = std::fs::read_dir(out)
        .map_err(|e| format!("cannot read {}: {e}", out.display()))?
        .next()
        .is_none();
    if empty || out.join(MARKER).is_file() {
        Ok(())
    } else {
        Err(format!(
            "{} holds files strata did not write; --out-dir replaces the whole directory, so pass a new or empty one",
            out.display()
        ))
    }
}

/// Each overlay's folder: its path relative to the working directory (so
/// `apps/web/overlays/cn-hangzhou`); when some overlay is outside it, the paths relative to
/// the deepest directory holding every overlay's parent, so that same-named overlays of
/// different apps never share a folder.
fn folders(dirs: &[PathBuf]) -> Result<Vec<String>, String> {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    let canonical: Vec<PathBuf> = dirs
        .iter()
        .map(|d| {
            d.canonicalize()
                .map_err(|e| format!("cannot open {}: {e}", d.display()))
        })
        .collect::<Result<_, _>>()?;
    let inside = |c: &Path| {
        cwd.as_ref()
            .is_some_and(|w| c.strip_prefix(w).is_ok_and(|r| !r.as_os_str().is_empty()))
    };
    let root: PathBuf = match &cwd {
        Some(w) if canonical.iter().all(|c| inside(c)) => w.clone(),
        _ => {
            let mut root = canonical[0].parent().unwrap_or(&canonical[0]).to_path_buf();
            for c in &canonical[1..] {
                while !c.starts_with(&root) {
                    if !root.pop() {
                        break;
                    }
                }
            }
            root
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (d, c) in dirs.iter().zip(&canonical) {
        let rel = c
            .strip_prefix(&root)
            .ok()
            .filter(|r| !r.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("root"));
        let folder = rel.to_string_lossy().into_owned();
        if !seen.insert(folder.clone()) {
            return Err(format!(
                "two overlays would be written to the same folder `{folder}` ({} is listed twice)",
                d.display()
            ));
        }
        out.push(folder);
    }
    Ok(out)
}

fn render_one(
    builder: &Builder,
    args: &RenderArgs,
    cluster: Option<&ClusterProfile>,
    dir: &Path,
    unshown: &Mutex<validate::Report>,
) -> Rendered {
    let set = builder
        .render(dir)
        .map_err(|e| (e.to_string(), exit::ERROR))?;
    super::report_notes(&set);
    if !args.no_validate {
        let own;
        let profile = match cluster {
            Some(p) => p,
            None => {
                own = crate::validate::profile::profile_of(&builder.loader, dir)
                    .map_err(|e| (e.to_string(), exit::ERROR))?
                    .unwrap_or_else(ClusterProfile::assumed);
                &own
            }
        };
        let rep = validate::errors(&set, profile, &builder.loader);
        if rep.errors() > 0 {
            let text = report::render(
                &rep,
                report::Format::Human,
                &builder.loader,
                crate::cli::color(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            );
            return Err((text, exit::FINDINGS));
        }
        let mut all = unshown.lock().expect("warning count lock");
        all.unshown += rep.unshown;
        all.unshown_codes.extend(rep.unshown_codes);
    }
    Ok(files(&set, args.format))
}

/// One file per resource: `<kind>_<namespace>_<name>.yaml` (the namespace empty for
/// cluster-scoped kinds); `<kind>.<group>_...` where two kinds of different groups share a
/// name.
fn files(set: &[Resource], format: Format) -> Vec<(String, String)> {
    let ext = match format {
        Format::Yaml => "yaml",
        Format::Json => "json",
    };
    let clean = |s: &str| s.replace(['/', '\\', '\0'], "-");
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in set {
        let id = r.id();
        let mut name = format!(
            "{}_{}_{}.{ext}",
            clean(&id.kind),
            clean(&id.namespace),
            clean(&id.name)
        );
        if !seen.insert(name.clone()) {
            name = format!(
                "{}.{}.{}_{}_{}.{ext}",
                clean(&id.kind),
                clean(&id.group),
                clean(&id.version),
                clean(&id.namespace),
                clean(&id.name)
            );
            seen.insert(name.clone());
        }
        out.push((name, render::to_string(std::slice::from_ref(r), format)));
    }
    out
}

/// The new tree, written beside OUT (`.OUT.strata-tmp-PID`) and swapped in at the end.
struct Staging {
    out: PathBuf,
    tmp: PathBuf,
    /// The tree an earlier run wrote at OUT, if any: a file whose text is unchanged is
    /// hard-linked from it instead of written again (it keeps its inode and mtime, and the
    /// file system allocates nothing).
    previous: Option<PathBuf>,
}

impl Staging {
    fn create(out: &Path) -> std::io::Result<Staging> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        if Path::new("/proc/self").exists() {
            remove_stale(parent, out);
        }
        let tmp = parent.join(format!(
            ".{}.strata-tmp-{}",
            out_name(out),
            std::process::id()
        ));
        std::fs::create_dir(&tmp)?;
        let staging = Staging {
            out: out.to_path_buf(),
            tmp,
            previous: out.join(MARKER).is_file().then(|| out.to_path_buf()),
        };
        if let Err(e) = std::fs::write(
            staging.tmp.join(MARKER),
            "written by strata render --out-dir\n",
        ) {
            staging.discard();
            return Err(e);
        }
        Ok(staging)
    }

    /// Writes one overlay's files into its folder of the staged tree.
    fn write(&self, folder: &str, files: &[(String, String)]) -> std::io::Result<()> {
        let dir = self.tmp.join(folder);
        std::fs::create_dir_all(&dir)?;
        let before = self.previous.as_ref().map(|p| p.join(folder));
        for (file, text) in files {
            let path = dir.join(file);
            if let Some(before) = &before {
                let old = before.join(file);
                // Only a regular file (a link to a symlink put there by hand would be the
                // symlink, not the text).
                if std::fs::symlink_metadata(&old).is_ok_and(|m| m.file_type().is_file())
                    && std::fs::read(&old).is_ok_and(|b| b == text.as_bytes())
                    && std::fs::hard_link(&old, &path).is_ok()
                {
                    continue;
                }
            }
            std::fs::write(&path, text)?;
        }
        Ok(())
    }

    fn discard(self) {
        let _ = remove_tree(&self.tmp);
    }

    /// Swaps the staged tree in for OUT, then removes the tree it replaced. Where the file
    /// system can exchange two names in one step (Linux `renameat2(RENAME_EXCHANGE)`), OUT is
    /// the old tree or the new one at every instant, even if the process is killed; else two
    /// renames, with a moment in between where OUT is missing.
    fn commit(self) -> std::io::Result<()> {
        let out = &self.out;
        if !out.exists() {
            return std::fs::rename(&self.tmp, out).inspect_err(|_| {
                let _ = remove_tree(&self.tmp);
            });
        }
        if exchange(&self.tmp, out).is_ok() {
            // The staging name now holds the old tree.
            let _ = remove_tree(&self.tmp);
            return Ok(());
        }
        let old = self.tmp.with_file_name(format!(
            ".{}.strata-old-{}",
            out_name(out),
            std::process::id()
        ));
        std::fs::rename(out, &old).inspect_err(|_| {
            let _ = remove_tree(&self.tmp);
        })?;
        if let Err(e) = std::fs::rename(&self.tmp, out) {
            let _ = std::fs::rename(&old, out);
            let _ = remove_tree(&self.tmp);
            return Err(e);
        }
        let _ = remove_tree(&old);
        Ok(())
    }
}

/// Exchanges two paths atomically.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Removes the staging trees of earlier runs for OUT that were killed before they could
/// clean up (their process is gone); a live run's are left alone.
fn remove_stale(parent: &Path, out: &Path) {
    let prefixes = [
        format!(".{}.strata-tmp-", out_name(out)),
        format!(".{}.strata-old-", out_name(out)),
    ];
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = prefixes
            .iter()
            .find_map(|p| name.strip_prefix(p.as_str()))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // Only strata makes these names (a staging tree can lose its marker first while it
        // is being removed).
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if !alive && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = remove_tree(&e.path());
        }
    }
}

fn out_name(out: &Path) -> String {
    out.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into())
}

/// `remove_dir_all`, with the entries of each folder removed on all cores (a tree of
/// thousands of files is mostly waiting on the file system).
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    use rayon::prelude::*;
    let entries = std::fs::read_dir(dir)?.collect::<std::io::Result<Vec<_>>>()?;
    entries.par_iter().try_for_each(|e| {
        if e.file_type()?.is_dir() {
            remove_tree(&e.path())
        } else {
            std::fs::remove_file(e.path())
        }
    })?;
    std::fs::remove_dir(dir)
}
