//! The SSH listener's daemon flags (`--ssh`, …) and `agora ssh` (see
//! docs/SSH.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::GroupRemoteArgs;

/// `agora daemon --ssh [ADDR] …`: the SSH listener.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "SSH")]
pub struct SshDaemonArgs {
    /// Serve the TUI over SSH on ADDR (default 127.0.0.1:2222 when given
    /// without one): `ssh -p 2222 HOST` opens the TUI signed in as the
    /// account the client's key is bound to (`agora ssh keys add`). The
    /// host key is DATA/ssh_host_ed25519_key, made on first start.
    #[arg(
        long,
        env = "AGORA_SSH",
        value_name = "HOST:PORT",
        num_args = 0..=1,
        default_missing_value = agora_daemon::ssh::DEFAULT_LISTEN
    )]
    pub ssh: Option<String>,

    /// Close an SSH connection that sends nothing for this long (0: never).
    #[arg(long, env = "AGORA_SSH_IDLE_TIMEOUT", default_value = "30m", value_parser = crate::duration::parse_duration, value_name = "DURATION")]
    pub ssh_idle_timeout: std::time::Duration,

    /// The most SSH sessions with the TUI one user may have open at once
    /// (0: no limit).
    #[arg(
        long,
        env = "AGORA_SSH_MAX_SESSIONS_PER_USER",
        default_value_t = 8,
        value_name = "N"
    )]
    pub ssh_max_sessions_per_user: usize,
}

impl SshDaemonArgs {
    /// The listener's configuration, if `--ssh` was given.
    pub fn config(&self) -> Option<agora_daemon::ssh::SshConfig> {
        let listen = self.ssh.clone()?;
        Some(agora_daemon::ssh::SshConfig {
            listen: if listen.trim().is_empty() {
                agora_daemon::ssh::DEFAULT_LISTEN.into()
            } else {
                listen
            },
            idle_timeout: (!self.ssh_idle_timeout.is_zero()).then_some(self.ssh_idle_timeout),
            max_sessions_per_user: self.ssh_max_sessions_per_user,
        })
    }
}

/// `agora ssh`: the SSH listener's host key and your SSH keys.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// Connection.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: SshCommand,
}

/// `agora ssh …`.
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Print the SSH host key's fingerprint (SHA256:…), to compare with
    /// what `ssh` shows on first connection. Reads DATA/ssh_host_ed25519_key
    /// (see --data); exits 1 when the daemon never made one there.
    Fingerprint {
        /// The daemon's data directory [env: AGORA_DATA] [default: the XDG
        /// data directory, e.g. ~/.local/share/agora].
        #[arg(long, env = "AGORA_DATA", value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Your SSH keys: the keys that sign you in over `ssh -p 2222 HOST`.
    Keys {
        /// What to do with them.
        #[command(subcommand)]
        command: SshKeysCommand,
    },
}

/// `agora ssh keys …`.
#[derive(Debug, Subcommand)]
pub enum SshKeysCommand {
    /// Bind a public key to the signed-in account (ed25519 or ECDSA; one
    /// key belongs to one account).
    Add {
        /// The public key file (`-`: standard input) [default:
        /// ~/.ssh/id_ed25519.pub].
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// List the signed-in account's keys.
    List,
    /// Unbind one of the signed-in account's keys.
    Rm {
        /// The key's fingerprint, as `list` shows it (SHA256:…).
        fingerprint: String,
    },
}
