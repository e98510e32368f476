//! The HTTP side: health checks, Prometheus metrics and the jobs page
//! (`/jobs`); the REST API arrives with its issue. Each module owns a
//! `router()`; this one merges them and serves until shutdown.

mod health;
mod jobs;
mod prometheus;

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::Shared;

/// The state every handler gets.
pub type AppState = Arc<Shared>;

/// The whole HTTP API.
pub fn router(shared: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(prometheus::router())
        .merge(jobs::router())
        .with_state(shared)
}

/// Serves HTTP until the daemon shuts down.
pub async fn serve(shared: AppState, listener: TcpListener) {
    let token = shared.shutdown.clone();
    let app = router(shared);
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await
    {
        tracing::error!(%err, "HTTP server failed");
    }
}
