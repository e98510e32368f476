//! The ready file: where tests and scripts learn the bound addresses when
//! the daemon was started on port 0.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The addresses the daemon actually listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundAddrs {
    /// The protocol listener.
    pub listen: SocketAddr,
    /// The HTTP listener.
    pub http: SocketAddr,
    /// The RESP (cache) listener.
    pub resp: SocketAddr,
    /// The cluster gossip (UDP) address, with `--cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<SocketAddr>,
    /// The SSH listener, with `--ssh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SocketAddr>,
}

#[derive(Serialize)]
struct ReadyFile<'a> {
    #[serde(flatten)]
    addrs: &'a BoundAddrs,
    pid: u32,
    version: &'a str,
}

/// Writes `{"listen": .., "http": .., "resp": .., ["cluster": ..,] "pid": .., "version": ..}` to `path`
/// atomically (temp file, then rename), so a reader never sees half a file.
pub(crate) fn write(path: &Path, addrs: &BoundAddrs) -> anyhow::Result<()> {
    let body = serde_json::to_vec_pretty(&ReadyFile {
        addrs,
        pid: std::process::id(),
        version: crate::VERSION,
    })?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write ready file {}", path.display()))
}

/// Tells systemd (a `Type=notify` unit; `NOTIFY_SOCKET` set) the daemon
/// is ready, with a status line naming its addresses. Does nothing
/// elsewhere; a failed send is logged, never fatal.
pub(crate) fn notify_ready(addrs: &BoundAddrs) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let status = format!(
        "serving: protocol {}, HTTP {}, RESP {}",
        addrs.listen, addrs.http, addrs.resp
    );
    send(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::MainPid(std::process::id()),
        sd_notify::NotifyState::Status(&status),
    ]);
}

/// Tells systemd the daemon is stopping (the drain has begun).
pub(crate) fn notify_stopping() {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    send(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("draining: finishing requests, then exiting"),
    ]);
}

/// With `WatchdogSec=` in the unit: pings systemd at half the interval
/// for as long as the runtime runs tasks (a wedged daemon stops pinging
/// and is restarted), until `stop`.
pub(crate) fn spawn_watchdog(
    stop: tokio_util::sync::CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) {
    let Some(every) = sd_notify::watchdog_enabled() else {
        return;
    };
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(every / 2);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => send(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    });
}

fn send(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(%err, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}
