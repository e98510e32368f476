//! `agora tui`: the TUI against a running daemon, signed in with the saved
//! token for that address if there is one.

use crate::credentials::Store;

/// Opens the TUI until the user quits.
pub async fn run(addr: &str) -> anyhow::Result<u8> {
    let store = Store::load()?;
    let saved = store.servers.get(addr);
    agora_tui::run(agora_tui::Options {
        addr: addr.to_owned(),
        token: saved.map(|c| c.token.clone()),
        user: saved.map(|c| c.user.clone()),
    })
    .await?;
    Ok(0)
}
