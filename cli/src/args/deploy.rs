//! Flags of the commands that run and look after a deployment:
//! `agora config`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `agora config`.
#[derive(Debug, Args, Clone)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `agora config …`.
#[derive(Debug, Subcommand, Clone)]
pub enum ConfigCommand {
    /// Check a daemon config file and print the settings a daemon started
    /// with it would use.
    ///
    /// Reads FILE (else AGORA_CONFIG's file) as `agora daemon --config`
    /// does: every key must be a daemon flag and every value one that flag
    /// takes. Prints every setting with where it comes from: the file,
    /// the environment (AGORA_* variables override the file) or the
    /// default; secrets (the JWT secret, a database URL's password) are
    /// masked. The text output is itself a valid config file. Exit status
    /// 2 with one line naming the key when the file is wrong.
    Check {
        /// The file (TOML).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `agora migrate`: `status`, `up`, or (alone) `up`.
#[derive(Debug, Args, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    /// What to do (without one: `up`).
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,
    /// `agora migrate` alone takes `up`'s flags.
    #[command(flatten)]
    pub up: MigrateUpArgs,
}

/// `agora migrate …`.
#[derive(Debug, Subcommand, Clone)]
pub enum MigrateCommand {
    /// Show every database's schema version and the migrations pending.
    ///
    /// Reads only (a daemon may be running): the shared database
    /// (DIR/agora.db, or PostgreSQL with --database) and each
    /// organization's blog file, each with its version, the newest this
    /// agora knows and the migrations `agora migrate up` would run (with
    /// --json, each database's `state`: current, behind, newer or error).
    /// Exit status 0 when every database could be read, 2 when one cannot
    /// be or is newer than this agora.
    Status(MigrateTarget),
    /// Migrate every database to the newest schema, or the shared one to
    /// version N.
    ///
    /// The daemon does this at start-up too; `agora migrate up` does it
    /// ahead of time (before a rolling upgrade: a newer schema is refused
    /// by older daemons, so upgrade them all first), one step at a time
    /// with --to, and shows which file fails. It refuses to run while a
    /// daemon uses the directory (they share a lock, DIR/agora.lock);
    /// PostgreSQL is migrated under the advisory lock daemons take, so it
    /// runs beside them. Each database's migrations run in one
    /// transaction: one that fails leaves it as it was, is reported with
    /// its reason, and the others are still migrated (exit status 2). A
    /// progress bar shows on a terminal; --dry-run says what would run
    /// and changes nothing. A directory without a database gets a new
    /// one, as the daemon would make.
    Up(MigrateUpArgs),
}

/// Which databases.
#[derive(Debug, Args, Clone)]
pub struct MigrateTarget {
    /// Data directory (the daemon's --data). Default: the XDG data
    /// directory, e.g. ~/.local/share/agora.
    #[arg(long, env = "AGORA_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// A fleet's PostgreSQL database (the daemon's --database,
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE) instead of the data
    /// directory's files.
    #[arg(
        long,
        env = "AGORA_DATABASE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
}

/// `agora migrate up`'s flags.
#[derive(Debug, Args, Clone)]
pub struct MigrateUpArgs {
    /// Which databases.
    #[command(flatten)]
    pub target: MigrateTarget,

    /// Stop at schema version N of the shared database (see `agora
    /// migrate status`); organizations' files, whose versions count
    /// apart, are then left alone. Migrations only go forward.
    #[arg(long, value_name = "N")]
    pub to: Option<i64>,

    /// Say what would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `agora backup`.
#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    /// The directory to write the backup into (made; must not exist or be
    /// empty).
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,

    /// Which databases: a data directory (--data), or a fleet's PostgreSQL
    /// (--database), which is backed up with pg_dump instead (the command
    /// says how).
    #[command(flatten)]
    pub target: MigrateTarget,
}

/// `agora restore`.
#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    /// The backup directory (made by `agora backup`).
    #[arg(value_name = "SRC")]
    pub src: PathBuf,

    /// The data directory to restore into (the daemon's --data; made when
    /// missing). Default: the XDG data directory.
    #[arg(long, env = "AGORA_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Overwrite the database already in the directory.
    #[arg(long)]
    pub replace: bool,
}

/// `agora health`.
#[derive(Debug, Args, Clone)]
pub struct HealthArgs {
    /// Address of the daemon's HTTP listener (`agora daemon --http`; a
    /// daemon listening on 0.0.0.0:PORT is reached there too) [env:
    /// AGORA_HTTP] [default: 127.0.0.1:7080].
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<String>,

    /// Ask /healthz (is the process alive and answering) instead of
    /// /readyz (can it serve: not draining, databases answering).
    #[arg(long)]
    pub live: bool,

    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse_duration, value_name = "DURATION")]
    pub timeout: std::time::Duration,
}

/// `agora admin`.
#[derive(Debug, Args, Clone)]
pub struct AdminArgs {
    /// Whose sign-in to use: the token `agora login` saved for this
    /// protocol address (an operator's).
    #[command(flatten)]
    pub remote: crate::args::GroupRemoteArgs,

    /// The daemon's HTTP listener.
    #[command(flatten)]
    pub http: crate::args::HttpRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `agora admin …`.
#[derive(Debug, Subcommand, Clone)]
pub enum AdminCommand {
    /// Show the daemon's log filter, or replace it while it runs.
    ///
    /// Without FILTER, prints the filter in effect; with it, applies it at
    /// once (until the daemon restarts) and prints it with the one it
    /// replaced. FILTER is tracing's syntax, as --log-level takes: a level
    /// (`debug`), or per target (`info,agora::request=warn` keeps the
    /// per-request lines out; `info,agora_daemon::cluster=debug` looks
    /// into the cluster). Only the daemon's operators (`agora daemon
    /// --operators`) may: sign in as one with `agora login`.
    LogLevel {
        /// The new filter.
        #[arg(value_name = "FILTER")]
        filter: Option<String>,
    },
}
