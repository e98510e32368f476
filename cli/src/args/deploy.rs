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
