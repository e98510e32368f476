//! `agora tui`: the TUI against a running daemon, signed in with
//! `AGORA_TOKEN` or the saved token for that address if there is one; a sign-in made with the TUI's
//! form (F2) is saved the same way, for the CLI's other commands.

use std::io::IsTerminal as _;

use crate::args::ColorChoice;
use crate::credentials::{Credential, Store};

/// Opens the TUI until the user quits.
pub async fn run(addr: &str, color: ColorChoice) -> anyhow::Result<u8> {
    let store = Store::load()?;
    // AGORA_TOKEN wins over the saved sign-in, as for every command.
    let env = crate::credentials::env_token();
    let saved = store.servers.get(addr).filter(|_| env.is_none());
    agora_tui::run(agora_tui::Options {
        addr: addr.to_owned(),
        token: env.or_else(|| saved.map(|c| c.token.clone())),
        user: saved.map(|c| c.user.clone()),
        color: color.enabled(std::io::stdout().is_terminal()),
        // Only `agora up` knows where the daemon's RESP listener is.
        resp: None,
        on_sign_in: Some(save_sign_ins(addr.to_owned())),
    })
    .await?;
    Ok(0)
}

/// Saves each sign-in made with the TUI's form for the daemon at `addr`,
/// as `agora login` does (user, id, token, expiry), so the CLI's other
/// commands use it. The TUI owns the terminal, so a failure to save is
/// logged (to tui.log or agora.log), not printed.
pub fn save_sign_ins(addr: String) -> agora_tui::OnSignIn {
    Box::new(move |signed: agora_tui::SignedIn| {
        let credential = Credential {
            user: signed.user,
            user_id: Some(signed.user_id),
            token: signed.token,
            expires_at_ms: signed.expires_at_ms,
        };
        let saved = Store::load().and_then(|mut store| {
            store.servers.insert(addr.clone(), credential);
            store.save()
        });
        match saved {
            Ok(()) => tracing::info!(%addr, "sign-in from the TUI saved"),
            Err(err) => tracing::warn!(%addr, "cannot save the sign-in from the TUI: {err:#}"),
        }
    })
}

/// Fails, saying plainly why, unless both standard input and standard
/// output are a terminal: the TUI draws on one and reads keys from it.
pub fn check_terminal(what: &str) -> anyhow::Result<()> {
    let (input, output) = (
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    let missing = match (input, output) {
        (true, true) => return Ok(()),
        (false, false) => "standard input and output are not",
        (false, true) => "standard input is not",
        (true, false) => "standard output is not",
    };
    anyhow::bail!(
        "{what} needs a terminal, but {missing} one; run it in a terminal (or over `ssh -t`), \
         or use the CLI's subcommands from scripts"
    )
}
