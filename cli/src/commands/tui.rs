//! `agora tui`: the TUI against a running daemon, signed in with the saved
//! token for that address if there is one.

use std::io::IsTerminal as _;

use crate::args::ColorChoice;
use crate::credentials::Store;

/// Opens the TUI until the user quits.
pub async fn run(addr: &str, color: ColorChoice) -> anyhow::Result<u8> {
    let store = Store::load()?;
    let saved = store.servers.get(addr);
    agora_tui::run(agora_tui::Options {
        addr: addr.to_owned(),
        token: saved.map(|c| c.token.clone()),
        user: saved.map(|c| c.user.clone()),
        color: color.enabled(std::io::stdout().is_terminal()),
        // Only `agora up` knows where the daemon's RESP listener is.
        resp: None,
    })
    .await?;
    Ok(0)
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
