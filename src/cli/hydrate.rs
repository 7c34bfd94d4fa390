//! `strata hydrate DIR... --branch NAME | --out DIR`: each overlay rendered and written in
//! the layout of Argo CD's source hydrator, as one commit on a branch (the checkout left
//! alone) or into a directory. Documentation: docs/diff.md, "Hydration".

use std::path::PathBuf;

use clap::Args;

use super::build_args::BuildArgs;
use super::exit;
use crate::argocd::hydrate::{self, App, Outcome};
use crate::validate::ClusterProfile;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["branch", "out"])))]
pub struct HydrateArgs {
    /// Overlay directories, inside the git repository of the dry source.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Commit to this branch of the repository (created when missing), without touching the
    /// working tree, the index or the checked-out branch.
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// Write into this directory instead (e.g. a checkout of the hydrated branch).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write Secrets with their data (refused by default: a hydrated branch is read by more
    /// people than the cluster's Secrets are).
    #[arg(long)]
    pub allow_secrets: bool,
    /// Do not validate the renders (by default error-level findings stop the hydration).
    #[arg(long)]
    pub no_validate: bool,
    #[command(flatten)]
    pub build: BuildArgs,
}

pub fn run(args: &HydrateArgs) -> u8 {
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot read the working directory: {e}");
            return exit::ERROR;
        }
    };
    let (dry, dirty, top) = match hydrate::dry_source(&cwd) {
        Ok(d) => d,
        Err(e) => {
            eprint!("{e}");
            return exit::ERROR;
        }
    };
    if dirty {
        eprintln!(
            "warning: the working tree has uncommitted changes; the hydration names {} as its dry commit, which does not hold them",
            &dry.sha[..7.min(dry.sha.len())]
        );
    }
    let top = top.canonicalize().unwrap_or(top);
    let mut apps = Vec::new();
    for dir in &args.dirs {
        let builder = crate::hostnet::builder().with_options(args.build.options());
        let set = match builder.render(dir) {
            Ok(s) => s,
            Err(e) => {
                eprint!("{e}");
                eprintln!("error: nothing was hydrated");
                return exit::ERROR;
            }
        };
        if !args.no_validate {
            let profile = match crate::validate::profile::profile_of(&builder.loader, dir) {
                Ok(p) => p.unwrap_or_else(ClusterProfile::assumed),
                Err(e) => {
                    eprint!("{e}");
                    return exit::ERROR;
                }
            };
            let report = crate::validate::errors(&set, &profile, &builder.loader);
            if report.errors() > 0 {
                let text = crate::report::render(
                    &report,
                    crate::report::Format::Human,
                    &builder.loader,
                    false,
                );
                eprint!("{text}");
                eprintln!(
                    "error: {} has validation errors; nothing was hydrated (--no-validate to skip validation)",
                    dir.display()
                );
                return exit::FINDINGS;
            }
        }
        let secrets = hydrate::secrets_with_data(&set);
        if !secrets.is_empty() && !args.allow_secrets {
            eprintln!(
                "error: {} renders Secrets with data ({}); nothing was hydrated\n  = help: keep secret values out of the hydrated branch (sealed or external secrets), or pass --allow-secrets",
                dir.display(),
                secrets.join(", ")
            );
            return exit::ERROR;
        }
        let path = match dir
            .canonicalize()
            .map(|d| d.strip_prefix(&top).map(PathBuf::from))
        {
            Ok(Ok(p)) => p.display().to_string(),
            _ => {
                eprintln!(
                    "error: {} is not inside the repository {}",
                    dir.display(),
                    top.display()
                );
                return exit::ERROR;
            }
        };
        apps.push(App {
            command: format!("strata render {path}"),
            manifests: crate::render::to_string(&set, crate::render::Format::Yaml),
            path,
        });
    }
    let outcome = match (&args.branch, &args.out) {
        (Some(branch), _) => hydrate::to_branch(&top, branch, &apps, &dry),
        (None, Some(out)) => hydrate::to_dir(out, &apps, &dry),
        (None, None) => unreachable!("clap requires --branch or --out"),
    };
    match outcome {
        Ok(Outcome::Unchanged) => {
            eprintln!("unchanged: every app renders as hydrated; nothing written");
            exit::OK
        }
        Ok(Outcome::Written { commit, apps }) => {
            match commit {
                Some(c) => eprintln!(
                    "committed {} to {} ({} app{}: {})",
                    &c[..12.min(c.len())],
                    args.branch.as_deref().unwrap_or(""),
                    apps.len(),
                    if apps.len() == 1 { "" } else { "s" },
                    apps.join(", ")
                ),
                None => eprintln!(
                    "wrote {} app{}: {}",
                    apps.len(),
                    if apps.len() == 1 { "" } else { "s" },
                    apps.join(", ")
                ),
            }
            exit::OK
        }
        Err(e) => {
            eprint!("{e}");
            exit::ERROR
        }
    }
}
