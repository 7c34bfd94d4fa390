//! `strata render DIR`: build the kustomization and print the result.

use std::path::PathBuf;

use clap::Args;

mod out_dir;

use super::exit;
use crate::hostnet::substitution::Overrides;
use crate::render::{self, Format};
use crate::report;
use crate::validate::{self, ClusterProfile};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The directory holding the kustomization.yaml to render (several with --out-dir).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Render every DIR into this directory: a folder per overlay, a file per resource
    /// (`<kind>_<namespace>_<name>.yaml`); the whole tree is replaced atomically.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["output", "explain"])]
    pub out_dir: Option<PathBuf>,
    /// Write the output to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// A substitution variable, NAME=VALUE (repeatable); wins over --env and the
    /// Substitution config.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub set: Vec<(String, String)>,
    /// Take substitution variable NAME from the environment (repeatable). Nothing else of
    /// the environment changes a render.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Print on stderr, per resource, which transform set which field, and the images no
    /// ImageRegistry rule matched.
    #[arg(long)]
    pub explain: bool,
    /// Skip validation (by default error-level findings fail the render).
    #[arg(long)]
    pub no_validate: bool,
    /// The cluster the overlay targets, for validation (otherwise the kustomization's
    /// `validators:`, or safe defaults).
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    #[command(flatten)]
    pub build: super::build_args::BuildArgs,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

pub fn run(args: &RenderArgs) -> u8 {
    if let Some(out) = &args.out_dir {
        return out_dir::run(args, out);
    }
    let [dir] = args.dirs.as_slice() else {
        eprintln!("error: several directories are rendered only with --out-dir");
        return exit::ERROR;
    };
    let Some((kinds, builder)) = builder(args, false) else {
        return exit::ERROR;
    };
    let set = match builder.render(dir) {
        Ok(set) => set,
        Err(e) => {
            eprint!("{e}");
            return exit::ERROR;
        }
    };
    if let Err(code) = report_overrides(&[&kinds]) {
        return code;
    }
    report_warnings(&builder.loader);
    report_notes(&set);
    let mut text = None;
    if !args.no_validate {
        let profile = match &args.cluster {
            Some(path) => ClusterProfile::read(path).map(Some),
            None => crate::validate::profile::profile_of(&builder.loader, dir),
        };
        let profile = match profile {
            Ok(p) => p.unwrap_or_else(ClusterProfile::assumed),
            Err(e) => {
                eprint!("{e}");
                return exit::ERROR;
            }
        };
        // A large set is validated while it is written out: both only read it, and the
        // text is thrown away if validation fails.
        let report = if set.len() >= crate::parallel::PARALLEL_MIN {
            let (report, written) = rayon::join(
                || validate::errors(&set, &profile, &builder.loader),
                || render::to_parts(&set, args.format),
            );
            text = Some(written);
            report
        } else {
            validate::errors(&set, &profile, &builder.loader)
        };
        if report.errors() > 0 {
            eprint!(
                "{}",
                report::render(
                    &report,
                    report::Format::Human,
                    &builder.loader,
                    super::color(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                )
            );
            eprintln!(
                "error: the render has validation errors; nothing was written (use --no-validate to skip validation)"
            );
            return exit::FINDINGS;
        }
        if let Some(line) = warnings_line(&report, &dir.display().to_string()) {
            eprintln!("{line}");
        }
    }
    if args.explain {
        let ctx = kinds.context();
        eprint!("{}", render::explain(&set, &ctx.images.unmatched));
    }
    let text = text.unwrap_or_else(|| render::to_parts(&set, args.format));
    // The process ends next: freeing a large resource tree piece by piece would only cost time.
    std::mem::forget(set);
    let written = match &args.output {
        Some(path) => super::write_file_atomic_parts(path, &text),
        None => super::write_stdout_parts(&text),
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            exit::ERROR
        }
    }
}

/// What the build went on past (fields kustomize ignores), on stderr.
pub(crate) fn report_warnings(loader: &crate::kustomize::load::Loader) {
    for w in loader.take_warnings() {
        eprint!("{}", w.warning_text());
    }
}

/// Notes the transforms made (an explicit value they kept on purpose) go to stderr as
/// warnings, always: a reviewer should see them without asking.
/// The render's strata kinds (with the `--set`/`--env` values) and a builder running them
/// with the build options; `None` (the error printed) when a value cannot be read.
pub(crate) fn builder(
    args: &RenderArgs,
    share: bool,
) -> Option<(
    std::sync::Arc<crate::hostnet::StrataKinds>,
    crate::kustomize::build::Builder,
)> {
    match Overrides::from_args(&args.set, &args.env) {
        Ok(o) => {
            let kinds = crate::hostnet::StrataKinds::new(o);
            let builder = kinds.builder(share).with_options(args.build.options());
            Some((kinds, builder))
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// One line for the warnings a render does not print (it stops only on errors), or `None`.
pub(crate) fn warnings_line(report: &validate::Report, dir: &str) -> Option<String> {
    if report.unshown == 0 {
        return None;
    }
    let codes: Vec<&str> = report.unshown_codes.iter().copied().collect();
    let n = report.unshown;
    Some(format!(
        "warning: {n} validation warning{} ({}) not shown: `strata validate {dir}` lists them",
        if n == 1 { "" } else { "s" },
        codes.join(", ")
    ))
}

/// Prints what the values given outside the tree replaced; a value no Substitution used (a
/// misspelt name) is an error, since the render would silently not have it.
pub(crate) fn report_overrides(kinds: &[&crate::hostnet::StrataKinds]) -> Result<(), u8> {
    let mut unused: Option<Vec<String>> = None;
    for k in kinds {
        for note in &k.context().notes {
            eprintln!("note: {note}");
        }
        let mine = k.unused_overrides();
        // Unused only if no render used it.
        unused = Some(match unused {
            None => mine,
            Some(prev) => prev.into_iter().filter(|u| mine.contains(u)).collect(),
        });
    }
    let unused = unused.unwrap_or_default();
    for u in &unused {
        eprintln!("error: {u}");
    }
    if unused.is_empty() {
        Ok(())
    } else {
        eprintln!("error: nothing was written: check the names given with --set and --env");
        Err(exit::ERROR)
    }
}

pub(crate) fn report_notes(set: &[crate::model::Resource]) {
    for r in set {
        for c in r.changes.iter().filter(|c| c.note.is_some()) {
            eprintln!(
                "warning: {}: {} at {}: {}",
                c.by,
                r.id(),
                c.path,
                c.note.as_deref().unwrap_or_default()
            );
        }
    }
}
