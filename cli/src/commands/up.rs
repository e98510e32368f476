//! `agora up`: the one-command experience. Starts an embedded daemon,
//! signs the local OS user in (creating the account the first time), opens
//! the TUI, and stops the daemon cleanly when the TUI quits.

use std::path::Path;

use agora_daemon::Daemon;
use agora_wire::{BaseOp, BaseReply, ErrorCode, Op, Reply};
use anyhow::Context as _;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

use crate::args::{ColorChoice, LogFormat, UpArgs};
use crate::credentials::{self, Credential, Store};
use crate::logging;
use crate::session;

/// The local account's credentials, kept in the data directory (0600).
#[derive(Serialize, Deserialize)]
struct LocalAccount {
    name: String,
    password: String,
}

/// Runs the embedded daemon and the TUI.
pub async fn run(
    args: UpArgs,
    level: Option<&str>,
    format: LogFormat,
    color: ColorChoice,
) -> anyhow::Result<u8> {
    // Before anything is created: without a terminal there is no TUI.
    super::tui::check_terminal("agora up")?;
    let config = super::daemon::base_config(&args.listeners)?;
    let data_dir = config.data_dir.clone();
    let _lock = agora_daemon::datalock::daemon(&data_dir)?;
    // The TUI owns the terminal: the daemon logs to a file.
    logging::to_file(&data_dir.join("agora.log"), level, format)?;
    let running = Daemon::start(config).await.map_err(|err| {
        if err
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse))
        {
            err.context("another daemon may be running: use `agora tui` to join it, or pass --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0")
        } else {
            err
        }
    })?;
    let addr = running.addrs.listen.to_string();
    let resp = running.addrs.resp.to_string();

    let result = async {
        let credential = sign_in_locally(&addr, &data_dir).await?;
        let mut store = Store::load()?;
        store.servers.insert(addr.clone(), credential.clone());
        store.save()?;
        agora_tui::run(agora_tui::Options {
            addr: addr.clone(),
            token: Some(credential.token),
            user: Some(credential.user),
            color: color.enabled(true),
            resp: Some(resp),
            on_sign_in: Some(super::tui::save_sign_ins(addr.clone())),
        })
        .await
    }
    .await;
    let stopped = running.stop().await;
    result?;
    stopped?;
    Ok(0)
}

/// Signs the OS user in, registering the account on first use.
async fn sign_in_locally(addr: &str, data_dir: &Path) -> anyhow::Result<Credential> {
    let path = data_dir.join("local-account.json");
    let (client, _) = session::connect(addr, None).await?;
    let (account, op) = match std::fs::read(&path) {
        Ok(bytes) => {
            let account: LocalAccount = serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is damaged; delete it to start afresh", path.display())
            })?;
            let op = Op::Base(BaseOp::Login {
                name: account.name.clone(),
                password: account.password.clone(),
            });
            (account, op)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let account = LocalAccount {
                name: local_user_name(),
                password: rand::rng()
                    .sample_iter(Alphanumeric)
                    .take(32)
                    .map(char::from)
                    .collect(),
            };
            let op = Op::Base(BaseOp::Register {
                name: account.name.clone(),
                password: account.password.clone(),
            });
            (account, op)
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let registering = matches!(op, Op::Base(BaseOp::Register { .. }));
    let reply = client.request(op).await.map_err(|err| {
        if registering && err.code() == Some(ErrorCode::Conflict) {
            anyhow::anyhow!(
                "an account named {:?} already exists on this daemon but was not made by `agora up`; sign in with `agora login {}` and use `agora tui`",
                account.name,
                account.name
            )
        } else {
            session::explain(addr, err, false)
        }
    })?;
    if registering {
        credentials::write_private(&path, &serde_json::to_vec_pretty(&account)?)?;
    }
    match reply {
        Reply::Base(BaseReply::Session {
            user,
            token,
            expires_at_ms,
        }) => Ok(Credential {
            user: user.name,
            user_id: Some(user.id),
            token,
            expires_at_ms,
        }),
        _ => anyhow::bail!("{addr}: unexpected reply to sign-in"),
    }
}

/// The OS user's name, made into a valid agora name.
fn local_user_name() -> String {
    let raw = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    sanitize_name(&raw)
}

/// Folds case, replaces characters agora names do not allow with `-`,
/// drops leading punctuation and truncates; falls back to `local`.
fn sanitize_name(raw: &str) -> String {
    let mapped: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed: String = mapped
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(agora_wire::names::MAX_USER_NAME)
        .collect();
    if trimmed.is_empty() {
        "local".into()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize_name;
    use agora_wire::names::validate_user_name;

    #[test]
    fn os_names_become_valid_agora_names() {
        for raw in [
            "root",
            "Jane Doe",
            "_svc",
            "",
            "émile",
            &"x".repeat(40),
            "a@b",
        ] {
            let name = sanitize_name(raw);
            assert!(validate_user_name(&name).is_ok(), "{raw:?} -> {name:?}");
        }
        assert_eq!(sanitize_name("Jane Doe"), "jane-doe");
        assert_eq!(sanitize_name(""), "local");
    }
}
