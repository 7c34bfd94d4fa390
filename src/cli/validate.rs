//! `strata validate PATH...`: render (a kustomization directory) or read (a manifest file, a
//! directory of manifests, `-` for stdin) the resources, validate them as one set, report.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use crate::build::Builder;
use crate::error::{Error, Result};
use crate::model::Resource;
use crate::report::{self, Format};
use crate::validate::{self, ClusterProfile};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Kustomization directories, manifest files, directories of manifests, or `-` for stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The cluster the manifests target (a strata ClusterProfile); otherwise the one the
    /// kustomization lists under `validators:`, or safe defaults.
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: &ValidateArgs) -> u8 {
    let builder = Builder::new();
    let mut skipped = Vec::new();
    match load_all(&builder, args, &mut skipped) {
        Err(e) => {
            eprint!("{e}");
            exit::ERROR
        }
        Ok((resources, profile)) => {
            // Files of a directory that could not be read were reported and left out; the rest
            // is still validated, and the exit code says the input was incomplete.
            for e in &skipped {
                eprint!("{e}");
            }
            let report = validate::validate(&resources, &profile, &builder.loader);
            let color = args.format == Format::Human
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            let text = report::render(&report, args.format, &builder.loader, color);
            if let Err(e) = super::write_stdout(&text) {
                eprintln!("error: cannot write the report: {e}");
                return exit::ERROR;
            }
            if !skipped.is_empty() {
                eprintln!(
                    "error: {} file(s) could not be read and were not validated",
                    skipped.len()
                );
                exit::ERROR
            } else if report.errors() > 0 {
                exit::FINDINGS
            } else {
                exit::OK
            }
        }
    }
}

fn load_all(
    builder: &Builder,
    args: &ValidateArgs,
    skipped: &mut Vec<Error>,
) -> Result<(Vec<Resource>, ClusterProfile)> {
    let mut profile = match &args.cluster {
        Some(path) => Some(ClusterProfile::read(path)?),
        None => None,
    };
    let mut resources = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::new(format!("cannot read standard input: {e}")))?;
            resources.extend(builder.loader.resources_from_text("<stdin>", text)?);
        } else if path.is_dir()
            && crate::load::kustomization::FILE_NAMES
                .iter()
                .any(|f| path.join(f).is_file())
        {
            if profile.is_none() {
                profile = builder.profile_of(path)?;
            }
            resources.extend(builder.render(path)?);
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                match builder.loader.resources(&file) {
                    Ok(r) => resources.extend(r),
                    Err(e) => skipped.push(e),
                }
            }
        } else {
            let canonical = path
                .canonicalize()
                .map_err(|e| Error::new(format!("cannot open {}: {e}", path.display())))?;
            resources.extend(builder.loader.resources(&canonical)?);
        }
    }
    // Manifest directories often hold alternatives (one object per cloud, per variant):
    // validate the first definition of an identity and say which ones were left out.
    let mut index = crate::model::IdIndex::default();
    resources.retain(|r| match index.add(r) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "warning: {} is defined again at {}; validating the first definition only",
                r.id(),
                r.origin
            );
            let _ = e;
            false
        }
    });
    Ok((resources, profile.unwrap_or_else(ClusterProfile::assumed)))
}

/// The `.yaml`, `.yml` and `.json` files below a directory, sorted.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| Error::new(format!("cannot read {}: {e}", d.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p.canonicalize().unwrap_or(p));
            }
        }
    }
    out.sort();
    Ok(out)
}
