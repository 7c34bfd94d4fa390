//! `strata inputs DIR...`: every file (and directory, and program) a render of each
//! kustomization reads, known exactly because the loader records each as it admits it. As
//! paths, as JSON, or as the value of Argo CD's `argocd.argoproj.io/manifest-generate-paths`
//! annotation, so that a change touching no input of an app skips its render and the
//! annotation is generated instead of written by hand. Documentation: docs/diff.md.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::build_args::BuildArgs;
use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputsFormat {
    /// One path per line, relative to the working directory (every kustomization's inputs
    /// together, each once).
    Paths,
    /// `{"DIR": ["path", ...]}`: each kustomization's own inputs.
    Json,
    /// Per kustomization, its `manifest-generate-paths` annotation value: the directories of
    /// its inputs, from the repository root (`/overlays/cn-beijing;/examples`), `;`-joined.
    Argocd,
}

#[derive(Debug, Args)]
pub struct InputsArgs {
    /// Kustomization directories.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = InputsFormat::Paths)]
    pub format: InputsFormat,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// The repository `dir` is in: the nearest directory above holding `.git`, else `dir`.
fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}

fn relative(p: &Path, base: &Path) -> String {
    match p.strip_prefix(base) {
        Ok(r) if r.as_os_str().is_empty() => ".".into(),
        Ok(r) => r.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

pub fn run(args: &InputsArgs) -> u8 {
    let cwd = match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot read the working directory: {e}");
            return exit::ERROR;
        }
    };
    let mut per_dir: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for dir in &args.dirs {
        // A builder per kustomization: its loader records only what this render reads.
        let builder = crate::hostnet::builder().with_options(args.build.options());
        // The render, and the ClusterProfile its validation reads (`validators:`).
        let read = builder
            .render(dir)
            .and_then(|_| crate::validate::profile::profile_of(&builder.loader, dir));
        if let Err(e) = read {
            eprint!("{e}");
            return exit::ERROR;
        }
        let name = crate::diff::group::normalize(&dir.display().to_string());
        per_dir.push((name, builder.loader.inputs()));
    }
    let text = match args.format {
        InputsFormat::Paths => {
            let mut all: Vec<String> = per_dir
                .iter()
                .flat_map(|(_, files)| files.iter().map(|f| relative(f, &cwd)))
                .collect();
            all.sort();
            all.dedup();
            all.join("\n") + "\n"
        }
        InputsFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = per_dir
                .iter()
                .map(|(name, files)| {
                    let list = files
                        .iter()
                        .map(|f| serde_json::Value::String(relative(f, &cwd)))
                        .collect();
                    (name.clone(), serde_json::Value::Array(list))
                })
                .collect();
            serde_json::to_string_pretty(&map).expect("JSON values serialize") + "\n"
        }
        InputsFormat::Argocd => {
            let mut out = String::new();
            for ((name, files), dir) in per_dir.iter().zip(&args.dirs) {
                let root = repository_root(&dir.canonicalize().unwrap_or_else(|_| dir.clone()));
                // The directory of each input (a directory input is itself): a change to a
                // file beside an input, such as a new one the kustomization will list, is a
                // change the app may see.
                let mut dirs: Vec<String> = files
                    .iter()
                    .map(|f| {
                        if f.is_dir() {
                            f.as_path()
                        } else {
                            f.parent().unwrap_or(f)
                        }
                    })
                    .map(|d| match relative(d, &root).as_str() {
                        "." => "/".to_string(),
                        r => format!("/{r}"),
                    })
                    .collect();
                dirs.sort();
                dirs.dedup();
                // A directory below another listed one adds nothing.
                let kept: Vec<&String> = dirs
                    .iter()
                    .filter(|d| {
                        !dirs
                            .iter()
                            .any(|o| o != *d && (o == "/" || d.starts_with(&format!("{o}/"))))
                    })
                    .collect();
                out.push_str(&format!(
                    "{name}: {}\n",
                    kept.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(";")
                ));
            }
            out
        }
    };
    match super::write_stdout(&text) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            exit::ERROR
        }
    }
}
