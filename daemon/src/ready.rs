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
