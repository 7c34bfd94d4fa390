//! `strata debug roundtrip FILE...` (hidden): the floor of the YAML stack, for the benchmark.
//! Each file is only parsed with `yaml::parse_stream` and written back with
//! `yaml::to_yaml_parts`, no kustomize build and no validation, so `bench/run.py` can compare
//! a render's throughput with what parsing and emitting alone cost.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit;
use crate::yaml;

#[derive(Debug, Args)]
pub struct DebugArgs {
    #[command(subcommand)]
    pub command: DebugCommand,
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Parse every FILE and write its documents back to stdout as one YAML stream.
    Roundtrip {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

pub fn run(args: &DebugArgs) -> u8 {
    match &args.command {
        DebugCommand::Roundtrip { files } => roundtrip(files),
    }
}

fn roundtrip(files: &[PathBuf]) -> u8 {
    let mut values = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", f.display());
                return exit::ERROR;
            }
        };
        match yaml::parse_stream(&text) {
            Ok(docs) => values.extend(docs.into_iter().map(|d| d.value)),
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                return exit::ERROR;
            }
        }
    }
    let text = yaml::to_yaml_parts(&values);
    // As `render`: the process ends next, so the tree is not freed piece by piece.
    std::mem::forget(values);
    match super::write_stdout_parts(&text) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            exit::ERROR
        }
    }
}
