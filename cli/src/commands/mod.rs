//! One module per subcommand; this one routes to them and owns the tokio
//! runtime (commands that need none, like `man`, never start one).

mod account;
mod admin;
mod backup;
mod bench;
mod bench_chat;
pub mod bench_game;
pub mod bench_jobs;
pub mod blog;
mod cache;
mod chat;
mod cluster;
mod config;
mod daemon;
mod docs;
pub mod game;
mod health;
pub mod jobs;
pub mod metrics;
mod migrate;
pub mod org;
pub mod org_billing;
mod ping;
pub mod process;
pub mod ssh;
mod tui;
mod up;

use crate::args::{BenchCommand, Cli, Command, DEFAULT_ADDR, GlobalArgs};
use crate::logging;

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let Cli {
        addr: top_addr,
        global,
        command,
    } = cli;
    let GlobalArgs {
        json,
        color,
        log_level,
        log_format,
    } = global;
    let level = log_level.as_deref();
    // The daemon's address: the command's own --addr, else `agora --addr`,
    // else AGORA_ADDR, else the default.
    let addr = |own: Option<String>| {
        own.or(top_addr.clone())
            .or_else(|| std::env::var("AGORA_ADDR").ok().filter(|a| !a.is_empty()))
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
    };
    if top_addr.is_some() && !talks_to_a_daemon(&command) {
        anyhow::bail!(
            "`agora {}` does not talk to a daemon: --addr does not apply to it",
            name(&command)
        );
    }
    let client = |level: Option<&str>| -> anyhow::Result<tokio::runtime::Runtime> {
        logging::to_stderr(level, log_format, color, "warn");
        runtime()
    };
    match command {
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(&dir),
        Command::Daemon(args) => {
            logging::to_stderr(level, log_format, color, "info");
            runtime()?.block_on(daemon::run(args))
        }
        Command::Up(args) => runtime()?.block_on(up::run(args, level, log_format, color)),
        Command::Tui(remote) => {
            let addr = addr(remote.addr);
            tui::check_terminal("agora tui")?;
            // The TUI owns the terminal, so logs go to a file.
            logging::to_file(
                &crate::credentials::data_dir()?.join("tui.log"),
                level,
                log_format,
            )?;
            runtime()?.block_on(tui::run(&addr, color))
        }
        Command::Ping(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(ping::run(&addr, &args, json))
        }
        Command::Register(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(account::register(&addr, &args, json))
        }
        Command::Login(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(account::login(&addr, &args, json))
        }
        Command::Logout(remote) => account::logout(&addr(remote.addr), json),
        Command::Whoami(remote) => {
            let addr = addr(remote.addr);
            client(level)?.block_on(account::whoami(&addr, json))
        }
        Command::Chat(args) => {
            let addr = addr(args.remote.addr);
            client(level)?.block_on(chat::run(&addr, args.command, json))
        }
        Command::Game(args) => {
            let addr = addr(args.remote.addr);
            client(level)?.block_on(game::run(&addr, args.command, json))
        }
        Command::Cache(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(cache::run(&addr, args, json))
        }
        Command::Cluster(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(cluster::run(&addr, args.command, json))
        }
        Command::Blog(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(blog::run(&addr, args, json))
        }
        Command::Org(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(org::run(&addr, args, json))
        }
        Command::Ssh(args) => {
            let addr = addr(args.remote.addr);
            client(level)?.block_on(ssh::run(&addr, args.command, json))
        }
        Command::Jobs(args) => {
            let addr = addr(args.remote.addr);
            client(level)?.block_on(jobs::run(&addr, args.command, json))
        }
        Command::Metrics(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(metrics::run(&addr, args.command, json))
        }
        Command::Alerts(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(metrics::alerts(&addr, args.command, json))
        }
        Command::Process(args) => process::run(&args, json),
        Command::Config(args) => config::run(args.command, json),
        Command::Admin(args) => {
            let addr = addr(args.remote.addr.clone());
            client(level)?.block_on(admin::run(&addr, args, json))
        }
        Command::Health(args) => client(level)?.block_on(health::run(args, json)),
        Command::Backup(args) => backup::backup(args, json),
        Command::Restore(args) => backup::restore(args, json),
        Command::Migrate(args) => {
            logging::to_stderr(level, log_format, color, "warn");
            migrate::run(args, json)
        }
        Command::Bench(args) => {
            let addr = addr(args.remote.addr);
            match args.command {
                BenchCommand::Ping(args) => {
                    client(level)?.block_on(bench::ping(&addr, &args, json))
                }
                BenchCommand::Chat(cmd) => {
                    client(level)?.block_on(bench_chat::run(&addr, cmd, json))
                }
                BenchCommand::Jobs(args) => {
                    client(level)?.block_on(bench_jobs::run(&addr, &args, json))
                }
                BenchCommand::Game(args) => {
                    client(level)?.block_on(bench_game::run(&addr, args, json))
                }
            }
        }
    }
}

/// Whether a command talks to a daemon over the protocol (and so takes
/// `--addr`).
fn talks_to_a_daemon(command: &Command) -> bool {
    match command {
        Command::Tui(_)
        | Command::Ping(_)
        | Command::Register(_)
        | Command::Login(_)
        | Command::Logout(_)
        | Command::Whoami(_)
        | Command::Chat(_)
        | Command::Game(_)
        | Command::Cache(_)
        | Command::Cluster(_)
        | Command::Blog(_)
        | Command::Org(_)
        | Command::Ssh(_)
        | Command::Jobs(_)
        | Command::Metrics(_)
        | Command::Alerts(_)
        | Command::Admin(_)
        | Command::Bench(_) => true,
        Command::Up(_)
        | Command::Daemon(_)
        | Command::Process(_)
        | Command::Migrate(_)
        | Command::Config(_)
        | Command::Health(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Completions { .. }
        | Command::Man { .. } => false,
    }
}

/// The subcommand's name, for messages.
fn name(command: &Command) -> &'static str {
    match command {
        Command::Up(_) => "up",
        Command::Daemon(_) => "daemon",
        Command::Tui(_) => "tui",
        Command::Ping(_) => "ping",
        Command::Register(_) => "register",
        Command::Login(_) => "login",
        Command::Logout(_) => "logout",
        Command::Whoami(_) => "whoami",
        Command::Chat(_) => "chat",
        Command::Game(_) => "game",
        Command::Cache(_) => "cache",
        Command::Cluster(_) => "cluster",
        Command::Blog(_) => "blog",
        Command::Org(_) => "org",
        Command::Ssh(_) => "ssh",
        Command::Jobs(_) => "jobs",
        Command::Metrics(_) => "metrics",
        Command::Alerts(_) => "alerts",
        Command::Process(_) => "process",
        Command::Migrate(_) => "migrate",
        Command::Config(_) => "config",
        Command::Admin(_) => "admin",
        Command::Health(_) => "health",
        Command::Backup(_) => "backup",
        Command::Restore(_) => "restore",
        Command::Bench(_) => "bench",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
