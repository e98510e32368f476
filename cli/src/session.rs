//! Connecting to the daemon as a client, with errors a person can act on.

use std::io::Write as _;

use agora_wire::{Client, ClientOptions, ErrorCode, Hello, Push, Pushes, Welcome};

/// The client name sent in hellos.
pub fn client_name() -> String {
    format!("agora-cli/{}", env!("CARGO_PKG_VERSION"))
}

/// Connects and performs the handshake, presenting `token` if given.
pub async fn connect(addr: &str, token: Option<String>) -> anyhow::Result<(Client, Welcome)> {
    connect_with(addr, token, ClientOptions::default()).await
}

/// [`connect`] with options. `addr` may list several daemons,
/// comma-separated (a fleet's nodes): each is tried in turn until one
/// answers the handshake; when none does, the error names the last one
/// tried. A daemon that refuses the token is not passed over (the others
/// share its accounts and would refuse it too).
pub async fn connect_with(
    addr: &str,
    token: Option<String>,
    options: ClientOptions,
) -> anyhow::Result<(Client, Welcome)> {
    let had_token = token.is_some();
    let addrs = agora_wire::split_addrs(addr);
    let mut last = None;
    for one in &addrs {
        let hello = Hello::new(client_name(), token.clone());
        match Client::connect_with(one.as_str(), hello, options.clone()).await {
            Ok(pair) => return Ok(pair),
            Err(err @ agora_wire::Error::Server(_)) => return Err(explain(one, err, had_token)),
            Err(err) => {
                tracing::debug!(addr = %one, %err, "cannot connect; trying the next address");
                last = Some(explain(one, err, had_token));
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no daemon address given (--addr is empty)")))
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
