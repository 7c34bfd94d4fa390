//! `strata argocd generate|parameters|discover|check`: the Argo CD config management plugin's
//! commands (src/argocd/). `generate` prints objects or nothing: every failure goes to stderr
//! with a non-zero exit, and it stops itself before ARGOCD_EXEC_TIMEOUT.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Args, Parser, Subcommand};

use super::build_args::BuildArgs;
use super::exit;
use crate::argocd;
use crate::kustomize::build::Options;

/// The sidecar's build options: kustomize's flags, as Argo CD's `kustomize.buildOptions`
/// spells them (e.g. `--load-restrictor LoadRestrictionsNone`).
pub const BUILD_OPTIONS_ENV: &str = "STRATA_BUILD_OPTIONS";

#[derive(Debug, Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct EnvBuildArgs {
    #[command(flatten)]
    build: BuildArgs,
}

/// The build options the sidecar was given in STRATA_BUILD_OPTIONS. Like
/// `kustomize.buildOptions` in argocd-cm they belong to whoever runs Argo CD: an Application
/// cannot set them (ARGOCD_ENV_STRATA_BUILD_OPTIONS is refused), since they decide whether a
/// repository may read files outside its directory or run its own programs.
pub fn build_options(env: &HashMap<String, String>) -> Result<Options, String> {
    let app_var = format!("ARGOCD_ENV_{BUILD_OPTIONS_ENV}");
    if env.contains_key(&app_var) {
        return Err(format!(
            "{app_var}: an Application cannot set build options; they are the sidecar's \
             {BUILD_OPTIONS_ENV} (set by whoever runs Argo CD, as kustomize.buildOptions is in argocd-cm)"
        ));
    }
    let Some(text) = env.get(BUILD_OPTIONS_ENV) else {
        return Ok(Options::default());
    };
    EnvBuildArgs::try_parse_from(text.split_whitespace())
        .map(|a| a.build.options())
        .map_err(|e| {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            format!("{BUILD_OPTIONS_ENV}={text:?}: {first}")
        })
}

#[derive(Debug, Args)]
pub struct ArgocdArgs {
    #[command(subcommand)]
    pub command: ArgocdCommand,
}

#[derive(Debug, Subcommand)]
pub enum ArgocdCommand {
    /// Render the app's source path (the working directory) for Argo CD: plain objects as
    /// YAML on stdout, or nothing and an error on stderr.
    Generate(DirArg),
    /// Print the dynamic parameters announcement (JSON): the overlay's substitution
    /// variables with their current values.
    Parameters(DirArg),
    /// Print `strata` when the app's source path is a kustomization using strata's kinds
    /// (`apiVersion: strata.dev/...` in its YAML files), nothing otherwise; exit 0 either way
    /// (the plugin's `discover.find`: any output is a match).
    Discover(DirArg),
    /// Lint a plugin.yaml and repo-server sidecar patch (e.g. deploy/argocd).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct DirArg {
    /// The app's source path; Argo CD runs the plugin in it.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The directory holding plugin.yaml and the sidecar patch.
    pub dir: PathBuf,
}

pub fn run(args: &ArgocdArgs) -> u8 {
    let env: HashMap<String, String> = std::env::vars().collect();
    match &args.command {
        ArgocdCommand::Generate(a) => generate(a, &env),
        ArgocdCommand::Parameters(a) => match build_options(&env)
            .map_err(crate::error::Error::new)
            .and_then(|options| argocd::parameters(&a.dir, &env, options))
        {
            Ok(text) => write_or_fail(&text),
            Err(e) => {
                eprint!("{e}");
                exit::ERROR
            }
        },
        ArgocdCommand::Discover(a) => {
            if argocd::discover::matches(&a.dir) {
                write_or_fail("strata\n")
            } else {
                exit::OK
            }
        }
        ArgocdCommand::Check(a) => match argocd::check::check_dir(&a.dir) {
            Err(e) => {
                eprint!("{e}");
                exit::ERROR
            }
            Ok(problems) if problems.is_empty() => {
                eprintln!("{}: the plugin and its sidecar look right", a.dir.display());
                exit::OK
            }
            Ok(problems) => {
                for p in &problems {
                    eprint!("{p}");
                }
                eprintln!(
                    "error: {} problem(s) in {}",
                    problems.len(),
                    a.dir.display()
                );
                exit::FINDINGS
            }
        },
    }
}

fn write_or_fail(text: &str) -> u8 {
    match super::write_stdout(text) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            exit::ERROR
        }
    }
}

fn generate(args: &DirArg, env: &HashMap<String, String>) -> u8 {
    let timeout = match argocd::exec_timeout(env) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let options = match build_options(env) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    // Whoever takes this first decides: the render writes its output, or the watchdog ends
    // the process with a message before argocd-cmp-server kills it without one.
    let decided = Arc::new(Mutex::new(false));
    let watchdog = decided.clone();
    let app = argocd::app_label(env);
    let deadline = argocd::deadline(timeout);
    if deadline.is_zero() {
        eprintln!(
            "error: ARGOCD_EXEC_TIMEOUT ({timeout:?}) leaves no time to render {app}; raise it (Argo CD's default is 90s)"
        );
        return exit::ERROR;
    }
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        let mut done = watchdog.lock().unwrap_or_else(|e| e.into_inner());
        if !*done {
            *done = true;
            eprintln!(
                "error: strata could not render {app} within {}s of ARGOCD_EXEC_TIMEOUT ({}s); stopped before Argo CD kills the plugin. \
                 Raise ARGOCD_EXEC_TIMEOUT (and the repo-server's timeouts) or split the app",
                deadline.as_secs(),
                timeout.as_secs()
            );
            std::process::exit(i32::from(exit::ERROR));
        }
    });
    let result = argocd::generate(&args.dir, env, options);
    let mut done = decided.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        // The watchdog is exiting the process.
        loop {
            std::thread::park();
        }
    }
    *done = true;
    match result {
        Ok(text) => write_or_fail(&text),
        Err(argocd::Failure::Error(msg)) => {
            eprint!("{msg}");
            eprintln!(
                "error: strata could not render {} (source path {}); nothing was generated",
                argocd::app_label(env),
                argocd::source_path(&args.dir, env)
            );
            exit::ERROR
        }
        Err(argocd::Failure::Findings(msg)) => {
            eprint!("{msg}");
            exit::FINDINGS
        }
    }
}
