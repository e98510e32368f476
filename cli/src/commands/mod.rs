//! One module per subcommand; this one routes to them and owns the tokio
//! runtime (commands that need none, like `man`, never start one).

mod account;
mod bench;
mod bench_chat;
mod cache;
mod chat;
mod daemon;
mod docs;
mod ping;
pub mod process;
mod tui;
mod up;

use crate::args::{BenchCommand, Cli, Command};
use crate::logging;

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let Cli {
        addr,
        json,
        log_level,
        log_format,
        command,
    } = cli;
    let level = log_level.as_deref();
    match command {
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(&dir),
        Command::Daemon(args) => {
            logging::to_stderr(level, log_format, "info");
            runtime()?.block_on(daemon::run(args))
        }
        Command::Up(args) => runtime()?.block_on(up::run(args, level, log_format)),
        Command::Tui => {
            // The TUI owns the terminal, so logs go to a file.
            logging::to_file(
                &crate::credentials::data_dir()?.join("tui.log"),
                level,
                log_format,
            )?;
            runtime()?.block_on(tui::run(&addr))
        }
        Command::Ping(args) => client(level, log_format)?.block_on(ping::run(&addr, &args, json)),
        Command::Register(args) => {
            client(level, log_format)?.block_on(account::register(&addr, &args, json))
        }
        Command::Login(args) => {
            client(level, log_format)?.block_on(account::login(&addr, &args, json))
        }
        Command::Logout => account::logout(&addr, json),
        Command::Chat(cmd) => client(level, log_format)?.block_on(chat::run(&addr, cmd, json)),
        Command::Cache(args) => client(level, log_format)?.block_on(cache::run(&addr, args, json)),
        Command::Process(args) => process::run(&args, json),
        Command::Whoami => client(level, log_format)?.block_on(account::whoami(&addr, json)),
        Command::Bench(BenchCommand::Ping(args)) => {
            client(level, log_format)?.block_on(bench::ping(&addr, &args, json))
        }
        Command::Bench(BenchCommand::Chat(cmd)) => {
            client(level, log_format)?.block_on(bench_chat::run(&addr, cmd, json))
        }
    }
}

/// The runtime for a client command, with warnings logged to stderr.
fn client(
    level: Option<&str>,
    format: crate::args::LogFormat,
) -> anyhow::Result<tokio::runtime::Runtime> {
    logging::to_stderr(level, format, "warn");
    runtime()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
