//! Command-line front end: clap types, one module per subcommand. Each subcommand returns an
//! exit code; `main` only maps it to the process.

pub mod argocd;
pub mod build_args;
pub mod completions;
pub mod debug;
pub mod diff;
pub mod fn_;
pub mod hydrate;
pub mod inputs;
pub mod render;
pub mod rules;
pub mod validate;

use std::sync::OnceLock;

use clap::{Parser, Subcommand, ValueEnum};

/// strata renders Kubernetes kustomize trees for GitOps, with host-network transforms and
/// validation.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, propagate_version = true)]
pub struct Cli {
    /// Colour in terminal output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: OnceLock<ColorChoice> = OnceLock::new();

/// Whether to colour text written to a stream (`tty`: that stream is a terminal).
pub fn color(tty: bool) -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none(),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a kustomization directory to a YAML (or JSON) stream.
    Render(render::RenderArgs),
    /// Validate rendered or plain manifests against the pitfalls of host networking.
    Validate(validate::ValidateArgs),
    /// List the validation rules, or print one rule's documentation.
    Rules(rules::RulesArgs),
    /// Argo CD config management plugin: generate, parameters, discover, check.
    Argocd(argocd::ArgocdArgs),
    /// KRM function: a ResourceList on stdin, the strata kind in functionConfig applied.
    Fn(fn_::FnArgs),
    /// Compare two renders of overlays (git revisions, directories, or inputs vs output).
    Diff(Box<diff::DiffArgs>),
    /// Print every file a render of each kustomization reads (paths, JSON, or Argo CD's
    /// manifest-generate-paths annotation).
    Inputs(inputs::InputsArgs),
    /// Write overlays' rendered manifests in the layout of Argo CD's source hydrator, as a
    /// commit on a branch or into a directory.
    Hydrate(hydrate::HydrateArgs),
    /// Print the completion script for a shell (e.g. `strata completions bash >
    /// /etc/bash_completion.d/strata`).
    Completions(completions::CompletionsArgs),
    /// Print the man page, roff (e.g. `strata man > strata.1`).
    Man,
    /// Internal tools for benchmarking (not a stable interface).
    #[command(hide = true)]
    Debug(debug::DebugArgs),
}

/// Exit codes, as documented in README.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FINDINGS: u8 = 1;
    pub const ERROR: u8 = 2;
}

pub fn run(cli: Cli) -> u8 {
    let _ = COLOR.set(cli.color);
    match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Rules(args) => rules::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Inputs(args) => inputs::run(&args),
        Command::Hydrate(args) => hydrate::run(&args),
        Command::Argocd(args) => argocd::run(&args),
        Command::Fn(args) => fn_::run(&args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man => completions::man(),
        Command::Debug(args) => debug::run(&args),
    }
}

/// Writes `text` to stdout; a closed pipe (`strata render | head`) is not an error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    write_stdout_parts(&[text])
}

/// [`write_stdout`] for a text given in consecutive parts.
pub fn write_stdout_parts(parts: &[impl AsRef<str>]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = parts
        .iter()
        .try_for_each(|p| out.write_all(p.as_ref().as_bytes()))
        .and_then(|_| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes a file atomically: a temporary file beside it, then a rename.
pub fn write_file_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    write_file_atomic_parts(path, &[text])
}

/// [`write_file_atomic`] for a text given in consecutive parts.
pub fn write_file_atomic_parts(
    path: &std::path::Path,
    parts: &[impl AsRef<str>],
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.strata-tmp-{}", std::process::id()));
    let written = (|| {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for p in parts {
            f.write_all(p.as_ref().as_bytes())?;
        }
        f.flush()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
