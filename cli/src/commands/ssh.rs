//! `agora ssh fingerprint` and `agora ssh keys add|list|rm` (docs/SSH.md).

use std::io::Read as _;
use std::path::PathBuf;

use agora_wire::{BaseOp, BaseReply, Reply, SshKeyInfo};
use anyhow::Context as _;
use serde_json::json;

use crate::args::ssh::{SshCommand, SshKeysCommand};
use crate::credentials::{self, Store};
use crate::output;
use crate::session;

/// Runs `agora ssh …`.
pub async fn run(addr: &str, command: SshCommand, json: bool) -> anyhow::Result<u8> {
    match command {
        SshCommand::Fingerprint { data } => fingerprint(data, json),
        SshCommand::Keys { command } => keys(addr, command, json).await,
    }
}

fn fingerprint(data: Option<PathBuf>, json: bool) -> anyhow::Result<u8> {
    let dir = match data {
        Some(d) => d,
        None => credentials::data_dir()?,
    };
    let path = agora_daemon::ssh::hostkey::path(&dir);
    match agora_daemon::ssh::host_fingerprint(&dir)? {
        Some(fp) => {
            if json {
                output::json(&json!({
                    "fingerprint": fp,
                    "algorithm": "ssh-ed25519",
                    "path": path.display().to_string(),
                }))?;
            } else {
                println!("{fp} (ED25519, {})", path.display());
            }
            Ok(0)
        }
        None => {
            eprintln!(
                "no SSH host key in {} (start the daemon with --ssh to make one)",
                dir.display()
            );
            Ok(1)
        }
    }
}

async fn keys(addr: &str, command: SshKeysCommand, json: bool) -> anyhow::Result<u8> {
    let token = Store::load()?.token_for(addr);
    let had_token = token.is_some();
    let op = match command {
        SshKeysCommand::Add { file } => BaseOp::SshKeyAdd {
            key: read_key(file)?,
        },
        SshKeysCommand::List => BaseOp::SshKeyList,
        SshKeysCommand::Rm { fingerprint } => BaseOp::SshKeyRemove { fingerprint },
    };
    let removing = match &op {
        BaseOp::SshKeyRemove { fingerprint } => Some(fingerprint.clone()),
        _ => None,
    };
    let (client, _) = session::connect(addr, token).await?;
    let reply = client
        .request(op)
        .await
        .map_err(|e| session::explain(addr, e, had_token))?;
    match reply {
        Reply::Base(BaseReply::SshKey { key }) => {
            if json {
                output::json(&key_json(&key))?;
            } else {
                println!(
                    "added {} {} {}",
                    key.fingerprint, key.algorithm, key.comment
                );
            }
            Ok(0)
        }
        Reply::Base(BaseReply::SshKeys { keys }) => {
            if json {
                output::json(&json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() }))?;
            } else if keys.is_empty() {
                eprintln!("no SSH keys (add one: agora ssh keys add ~/.ssh/id_ed25519.pub)");
            } else {
                for key in &keys {
                    println!("{}  {}  {}", key.fingerprint, key.algorithm, key.comment);
                }
            }
            Ok(if keys.is_empty() { 1 } else { 0 })
        }
        Reply::Base(BaseReply::Done) => {
            let fingerprint = removing.unwrap_or_default();
            if json {
                output::json(&json!({ "removed": fingerprint }))?;
            } else {
                println!("removed {fingerprint}");
            }
            Ok(0)
        }
        _ => anyhow::bail!("{addr}: unexpected reply"),
    }
}

fn key_json(key: &SshKeyInfo) -> serde_json::Value {
    json!({
        "fingerprint": key.fingerprint,
        "algorithm": key.algorithm,
        "comment": key.comment,
        "created_at_ms": key.created_at_ms,
        "last_used_ms": key.last_used_ms,
    })
}

/// The first key line of FILE (`-`: stdin; default ~/.ssh/id_ed25519.pub).
fn read_key(file: Option<PathBuf>) -> anyhow::Result<String> {
    let text = match file {
        Some(p) if p.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .context("cannot read the key from standard input")?;
            text
        }
        other => {
            let path = match other {
                Some(p) => p,
                None => directories::BaseDirs::new()
                    .context("cannot find your home directory (give the key file)")?
                    .home_dir()
                    .join(".ssh/id_ed25519.pub"),
            };
            let meta = std::fs::metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            anyhow::ensure!(
                meta.len() <= 64 * 1024,
                "{} is too large for a public key",
                path.display()
            );
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
        }
    };
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .context("no key in the file (expected a line like \"ssh-ed25519 AAAA… comment\")")
}
