//! The RESP listener: serves the cache ([`crate::cache`]) to Redis clients
//! (redis-cli, redis-benchmark, client libraries) on `--resp`.
//!
//! - [`codec`]: RESP2 request decoding (multibulk and inline) with limits
//!   checked before allocation, RESP2/RESP3 reply encoding;
//! - [`args`]: Redis's `sdssplitargs`, the inline commands' (and the CLI
//!   prompt's) quoting rules;
//! - [`frame`]: bulk strings written in place, the hot end of encoding;
//! - [`conn`]: one task per connection, pipelining, pub/sub mode;
//! - [`lookup`]: the command lookup, cached for a pipeline's repeats.
//!
//! - [`loops`]: the single-threaded event loops connections run on, and
//!   [`busy_poll`], how each keeps awake through short gaps in traffic.
//!
//! Connections are tracked by the daemon's `TaskTracker` and stop with its
//! `CancellationToken`, like the native protocol's.

pub mod args;
pub mod busy_poll;
pub mod codec;
pub mod conn;
pub mod frame;
pub mod lookup;
pub mod loops;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::Shared;

/// Accepts RESP connections until shutdown, serving each on one of the
/// event `loops`.
pub async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    loops: Arc<loops::Loops>,
    tracker: TaskTracker,
) {
    crate::server::serve_connections(
        shared,
        listener,
        &tracker,
        "RESP",
        move |stream, _peer, shared| {
            let loops = loops.clone();
            async move {
                loops
                    .serve(stream, |stream| conn::serve(stream, shared))
                    .await
            }
        },
    )
    .await
}
