//! `agora`: the one binary. Parses the command line, runs the command, and
//! turns any error into one line on stderr and an exit code:
//! 0 success, 1 nothing found, 2 error, 130 interrupted. A closed pipe
//! (`agora … | head`) counts as success.

mod args;
mod commands;
mod config;
mod credentials;
mod duration;
mod help;
mod logging;
mod output;
mod session;
mod size;
mod stdin;

use std::process::ExitCode;

use clap::FromArgMatches as _;

fn main() -> ExitCode {
    // Parsed against the definitions plus their examples and exit status
    // (help.rs), so `--help` shows those too.
    // A config file's settings are applied under the flags and the
    // environment (config.rs).
    let matches = match config::apply(std::env::args_os().collect()) {
        Ok(matches) => matches,
        Err(config::Refused::Usage(err)) => err.exit(),
        Err(config::Refused::File(err)) => {
            eprintln!("agora: {}", output::one_line(&err));
            return ExitCode::from(2);
        }
    };
    let cli = match args::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("agora: {}", output::one_line(&err));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
