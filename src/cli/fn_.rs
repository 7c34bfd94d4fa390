//! `strata fn`: the KRM function (src/krm/). Reads a ResourceList on stdin, writes it to
//! stdout with the results; exit 1 when a result is an error.

use std::io::Read;

use clap::Args;

use super::exit;

#[derive(Debug, Args)]
pub struct FnArgs {
    /// `NAME=VALUE` arguments are ignored: kpt passes them in the functionConfig ConfigMap.
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_args: &FnArgs) -> u8 {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("error: cannot read the ResourceList from standard input: {e}");
        return exit::ERROR;
    }
    let out = crate::krm::run(&input);
    if let Err(e) = super::write_stdout(&out.text) {
        eprintln!("error: cannot write the ResourceList: {e}");
        return exit::ERROR;
    }
    if out.failed {
        eprintln!("error: the function reported errors (see `results`)");
        exit::FINDINGS
    } else {
        exit::OK
    }
}
