//! Reading a value piped in on standard input (`-` arguments).

use std::io::{IsTerminal as _, Read as _};

use anyhow::Context as _;

/// All of standard input, byte for byte. Refuses a terminal with
/// `when_terminal` as the error, rather than waiting for input nobody
/// knows is expected.
pub fn read_piped(when_terminal: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(!std::io::stdin().is_terminal(), "{when_terminal}");
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    Ok(bytes)
}
