//! Connecting to the daemon as a client, with errors a person can act on.

use std::io::Write as _;

use agora_wire::{Client, ErrorCode, Hello, Push, Pushes, Welcome};

/// The client name sent in hellos.
pub fn client_name() -> String {
    format!("agora-cli/{}", env!("CARGO_PKG_VERSION"))
}

/// Connects and performs the handshake, presenting `token` if given.
pub async fn connect(addr: &str, token: Option<String>) -> anyhow::Result<(Client, Welcome)> {
    let had_token = token.is_some();
    Client::connect(addr, Hello::new(client_name(), token))
        .await
        .map_err(|err| explain(addr, err, had_token))
}

/// Turns a client error into one actionable sentence.
pub fn explain(addr: &str, err: agora_wire::Error, had_token: bool) -> anyhow::Error {
    use agora_wire::Error as E;
    match err {
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => anyhow::anyhow!(
            "cannot connect to {addr}: connection refused (is \"agora daemon\" running?)"
        ),
        E::Io(io) => anyhow::anyhow!("cannot connect to {addr}: {io}"),
        E::Timeout => anyhow::anyhow!("cannot connect to {addr}: timed out"),
        E::Server(body) if had_token && body.code == ErrorCode::Unauthorized => {
            anyhow::anyhow!("{addr} refused your saved sign-in: {}", body.message)
        }
        E::Server(body) => anyhow::anyhow!("{addr}: {}", body.message),
        other => anyhow::anyhow!("{addr}: {other}"),
    }
}

/// Prints a line for each push that `line` turns into one, flushed at once
/// so pipes work, until Ctrl-C (exit code 130) or the daemon closes the
/// connection (an error naming the daemon's reason).
pub async fn follow(
    addr: &str,
    client: &Client,
    mut pushes: Pushes,
    mut line: impl FnMut(Push) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    // One listener for the whole stream, polled first: a Ctrl-C that
    // comes while a line is being printed is not lost (a listener made
    // afresh on each turn would miss it), and the listener is in place
    // before the first line.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            biased;
            _ = &mut interrupted => return Ok(130),
            push = pushes.recv() => {
                let Some(push) = push else {
                    let why = client
                        .goodbye()
                        .map(|g| g.message)
                        .unwrap_or_else(|| "connection closed".into());
                    anyhow::bail!("{addr}: {why}");
                };
                if let Some(text) = line(push)? {
                    writeln!(out, "{text}")?;
                    out.flush()?;
                }
            }
        }
    }
}
