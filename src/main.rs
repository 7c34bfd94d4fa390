use clap::Parser;

fn main() -> std::process::ExitCode {
    // A closed stderr (`strata ... 2>&1 | head -1`) makes eprintln! panic: end as the
    // command would have, with an input error's exit code, instead of a panic's 101.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stderr") {
            std::process::exit(2);
        }
        default_hook(info);
    }));
    let cli = strata::cli::Cli::parse();
    std::process::ExitCode::from(strata::cli::run(cli))
}
