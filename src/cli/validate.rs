//! `strata validate PATH...`: render (a kustomization directory) or read (a manifest file, a
//! directory of manifests, `-` for stdin) the resources, validate them as one set, report.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use crate::error::{Error, Result};
use crate::kustomize::build::Builder;
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
    let builder = crate::hostnet::builder();
    let mut skipped = Vec::new();
    match load_all(&builder, args, &mut skipped) {
        Err(e) => {
            eprint!("{e}");
            exit::ERROR
        }
        Ok(groups) => {
            // Files of a directory that could not be read were reported and left out; the rest
            // is still validated, and the exit code says the input was incomplete.
            for e in &skipped {
                eprint!("{e}");
            }
            // Each kustomization is its own environment (its own set, its own cluster);
            // plain manifests form one more. One report covers them all.
            // A base's finding, the same in every overlay that renders it, is reported once
            // with the overlays it affects.
            let mut report = validate::Report::default();
            let several = groups.iter().filter(|g| g.0.is_some()).count() > 1;
            for (name, resources, profile) in &groups {
                let r = validate::validate(resources, profile, &builder.loader);
                match name {
                    Some(name) if several => report.merge_environment(name, r),
                    _ => {
                        report.diagnostics.extend(r.diagnostics);
                        report.suppressed += r.suppressed;
                        report.assumptions.extend(r.assumptions);
                    }
                }
            }
            report.assumptions.sort();
            report.assumptions.dedup();
            let color =
                args.format == Format::Human && super::color(std::io::stdout().is_terminal());
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

/// One set to validate: the kustomization it was rendered from (`None` for plain manifests),
/// its resources and the cluster it targets.
type Set = (Option<String>, Vec<Resource>, ClusterProfile);

/// The sets to validate: one per kustomization directory (named by its path, with its own
/// profile: `--cluster`, else its `validators:`), and one for all plain manifests and
/// standard input together.
fn load_all(builder: &Builder, args: &ValidateArgs, skipped: &mut Vec<Error>) -> Result<Vec<Set>> {
    let given = match &args.cluster {
        Some(path) => Some(ClusterProfile::read(path)?),
        None => None,
    };
    let mut groups = Vec::new();
    let mut plain = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::new(format!("cannot read standard input: {e}")))?;
            plain.extend(builder.loader.resources_from_text("<stdin>", text)?);
        } else if path.is_dir()
            && crate::kustomize::load::kustomization::FILE_NAMES
                .iter()
                .any(|f| path.join(f).is_file())
        {
            let profile = match &given {
                Some(p) => p.clone(),
                None => crate::validate::profile::profile_of(&builder.loader, path)?
                    .unwrap_or_else(ClusterProfile::assumed),
            };
            let name = crate::diff::group::normalize(&path.display().to_string());
            groups.push((Some(name), builder.render(path)?, profile));
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                match builder.loader.resources(&file) {
                    Ok(r) => plain.extend(r),
                    Err(e) => skipped.push(e),
                }
            }
        } else {
            // A file that cannot be read is reported and left out, as in a directory: the
            // others are still validated, and the exit code says the input was incomplete.
            let read = path
                .canonicalize()
                .map_err(|e| Error::new(format!("cannot open {}: {e}", path.display())))
                .and_then(|canonical| builder.loader.resources(&canonical));
            match read {
                Ok(r) => plain.extend(r),
                Err(e) => skipped.push(e),
            }
        }
    }
    if !plain.is_empty() || groups.is_empty() {
        // An object defined twice is validated as kubectl apply leaves it (the last
        // definition); the earlier ones are GN004 findings, in every format.
        groups.push((None, plain, given.unwrap_or_else(ClusterProfile::assumed)));
    }
    Ok(groups)
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
            // Directories are entered only when they are real directories: a symlinked one
            // could loop back (`ln -s . a`).
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if p.is_dir() {
                continue;
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            ) && !crate::kustomize::load::kustomization::FILE_NAMES
                .iter()
                .any(|n| p.file_name().is_some_and(|f| f == *n))
            {
                out.push(p.canonicalize().unwrap_or(p));
            }
        }
    }
    out.sort();
    Ok(out)
}
