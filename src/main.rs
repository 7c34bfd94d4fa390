use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = strata::cli::Cli::parse();
    std::process::ExitCode::from(strata::cli::run(cli))
}
