//! `strata completions SHELL` and `strata man`: shell completions and the man page, generated
//! from the same clap definitions the commands parse with (clap_complete, clap_mangen).

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, exit};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> u8 {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "strata", &mut out);
    write(&out)
}

/// Prints the man page (roff) of strata and of every subcommand, one after the other.
pub fn man() -> u8 {
    let cmd = Cli::command();
    let mut out = Vec::new();
    if let Err(e) = render_all(&cmd, &mut out) {
        eprintln!("error: cannot write the man page: {e}");
        return exit::ERROR;
    }
    write(&out)
}

fn render_all(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{}-{}", cmd.get_name(), sub.get_name());
        let sub = sub.clone().name(name);
        render_all(&sub, out)?;
    }
    Ok(())
}

fn write(bytes: &[u8]) -> u8 {
    match super::write_stdout(&String::from_utf8_lossy(bytes)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            exit::ERROR
        }
    }
}
