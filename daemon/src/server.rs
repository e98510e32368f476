//! The accept loop: takes a connection-limit permit, accepts, and spawns a
//! task per connection on the shared [`TaskTracker`] so shutdown can wait
//! for them. The protocol listener and the RESP listener both use it, each
//! with its own per-connection function.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::Shared;

/// Accepts protocol connections until the daemon's shutdown token is
/// cancelled.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tracker: &TaskTracker) {
    serve_connections(shared, listener, tracker, "protocol", crate::conn::serve).await
}

/// Accepts connections on `listener` and runs `serve` for each, until
/// shutdown. At most `max_connections` run at once per listener; `what`
/// names the listener in logs.
pub async fn serve_connections<F, Fut>(
    shared: Arc<Shared>,
    listener: TcpListener,
    tracker: &TaskTracker,
    what: &'static str,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, Arc<Shared>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
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
                let connection = serve(stream, peer, shared.clone());
                tracker.spawn(async move {
                    connection.await;
                    drop(permit);
                });
            }
            Err(err) => {
                // EMFILE and friends: wait and retry rather than spin or die.
                tracing::warn!(%err, listener = what, "accept failed; retrying in {backoff:?}");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}
