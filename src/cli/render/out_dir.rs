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
use crate::build::Builder;
use crate::cli::exit;
use crate::model::Resource;
use crate::render::{self, Format};
use crate::report;
use crate::transform::substitution::Overrides;
use crate::validate::{self, ClusterProfile};

/// A file marking a tree strata wrote, so `--out-dir` never replaces anything else.
const MARKER: &str = ".strata-render";

/// What one overlay gave: its files, or the text of its errors and the exit code.
type Rendered = Result<Vec<(String, String)>, (String, u8)>;

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
    let overrides = Overrides::from_env(args.set.iter().cloned().collect());
    let builder = Builder::with_sharing(true).with_overrides(overrides);
    let results: Vec<Mutex<Option<Rendered>>> =
        args.dirs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let bar = progress_bar(args.dirs.len());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(args.dirs.len());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(dir) = args.dirs.get(i) else { break };
                    let r = render_one(&builder, args, dir);
                    *results[i].lock().expect("result slot") = Some(r);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut code = exit::OK;
    let mut tree = Vec::new();
    for ((dir, folder), slot) in args.dirs.iter().zip(&folders).zip(results) {
        match slot.into_inner().expect("result slot") {
            Some(Ok(files)) => tree.push((folder.clone(), files)),
            Some(Err((text, c))) => {
                eprint!("{text}");
                eprintln!("error: {} did not render", dir.display());
                code = code.max(c);
            }
            None => code = exit::ERROR,
        }
    }
    if code != exit::OK {
        eprintln!(
            "error: nothing was written to {} (fix the overlays above)",
            out.display()
        );
        return code;
    }
    match write_tree(out, &tree) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
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
/// `overlays/cn-hangzhou`), or its last component for a path outside it.
fn folders(dirs: &[PathBuf]) -> Result<Vec<String>, String> {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for d in dirs {
        let canonical = d
            .canonicalize()
            .map_err(|e| format!("cannot open {}: {e}", d.display()))?;
        let rel = cwd
            .as_ref()
            .and_then(|c| canonical.strip_prefix(c).ok())
            .filter(|r| !r.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .or_else(|| canonical.file_name().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("root"));
        let folder = rel.to_string_lossy().into_owned();
        if !seen.insert(folder.clone()) {
            return Err(format!(
                "two overlays would be written to the same folder `{folder}`"
            ));
        }
        out.push(folder);
    }
    Ok(out)
}

fn render_one(builder: &Builder, args: &RenderArgs, dir: &Path) -> Rendered {
    let set = builder
        .render(dir)
        .map_err(|e| (e.to_string(), exit::ERROR))?;
    super::report_notes(&set);
    if !args.no_validate {
        let profile = match &args.cluster {
            Some(path) => ClusterProfile::read(path).map(Some),
            None => builder.profile_of(dir),
        }
        .map_err(|e| (e.to_string(), exit::ERROR))?
        .unwrap_or_else(ClusterProfile::assumed);
        let rep = validate::errors(&set, &profile, &builder.loader);
        if rep.errors() > 0 {
            let text = report::render(&rep, report::Format::Human, &builder.loader, false);
            return Err((text, exit::FINDINGS));
        }
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

/// Writes the tree beside `out`, then swaps it in.
fn write_tree(out: &Path, tree: &[(String, Vec<(String, String)>)]) -> std::io::Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.strata-tmp-{pid}"));
    let old = parent.join(format!(".{name}.strata-old-{pid}"));
    let written = (|| {
        std::fs::create_dir(&tmp)?;
        std::fs::write(tmp.join(MARKER), "written by strata render --out-dir\n")?;
        for (folder, files) in tree {
            let d = tmp.join(folder);
            std::fs::create_dir_all(&d)?;
            for (file, text) in files {
                std::fs::write(d.join(file), text)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if out.exists() {
        std::fs::rename(out, &old).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&tmp);
        })?;
        if let Err(e) = std::fs::rename(&tmp, out) {
            let _ = std::fs::rename(&old, out);
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    } else {
        std::fs::rename(&tmp, out).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&tmp);
        })
    }
}
