//! The RESP listener: serves the cache ([`crate::cache`]) to Redis clients
//! (redis-cli, redis-benchmark, client libraries) on `--resp`.
//!
//! - [`codec`]: RESP2 request decoding (multibulk and inline) with limits
//!   checked before allocation, RESP2/RESP3 reply encoding;
//! - [`conn`]: one task per connection, pipelining, pub/sub mode.
//!
//! Connections run on the daemon's `TaskTracker` and stop with its
//! `CancellationToken`, like the native protocol's.

pub mod codec;
pub mod conn;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::Shared;

/// Accepts RESP connections until shutdown.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tracker: TaskTracker) {
    crate::server::serve_connections(
        shared,
        listener,
        &tracker,
        "RESP",
        |stream, _peer, shared| conn::serve(stream, shared),
    )
    .await
}
