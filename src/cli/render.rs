//! `strata render DIR`: build the kustomization and print the result.

use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::build::Builder;
use crate::render::{self, Format};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The directory holding the kustomization.yaml to render.
    pub dir: PathBuf,
    /// Write the output to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

pub fn run(args: &RenderArgs) -> u8 {
    let builder = Builder::new();
    let set = match builder.render(&args.dir) {
        Ok(set) => set,
        Err(e) => {
            eprint!("{e}");
            return exit::ERROR;
        }
    };
    let text = render::to_string(&set, args.format);
    // The process ends next: freeing a large resource tree piece by piece would only cost time.
    std::mem::forget(set);
    let written = match &args.output {
        Some(path) => super::write_file_atomic(path, &text),
        None => super::write_stdout(&text),
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            exit::ERROR
        }
    }
}
