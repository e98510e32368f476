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
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::Shared;

/// Accepts RESP connections until shutdown.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tracker: TaskTracker) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                backoff = Duration::from_millis(10);
                let shared = shared.clone();
                tracker.spawn(async move {
                    conn::serve(stream, shared).await;
                    drop(permit);
                });
            }
            Err(err) => {
                tracing::warn!(%err, "RESP accept failed; retrying in {backoff:?}");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}
