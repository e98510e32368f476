//! The accept loop: takes a connection-limit permit, accepts, and spawns a
//! task per connection on the shared [`TaskTracker`] so shutdown can wait
//! for them.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::Shared;

/// Accepts connections until the daemon's shutdown token is cancelled.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tracker: &TaskTracker) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut backoff = Duration::from_millis(10);
    loop {
        // Take the permit before accepting: at the limit, new clients wait
        // in the kernel's backlog instead of being accepted and starved.
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
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(10);
                let shared = shared.clone();
                tracker.spawn(async move {
                    crate::conn::serve(stream, peer, shared).await;
                    drop(permit);
                });
            }
            Err(err) => {
                // EMFILE and friends: wait and retry rather than spin or die.
                tracing::warn!(%err, "accept failed; retrying in {backoff:?}");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}
