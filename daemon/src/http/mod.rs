//! The HTTP side: health checks and Prometheus metrics today; the REST API
//! and the jobs page arrive with their issues. Each module owns a
//! `router()`; this one merges them and serves until shutdown.

mod dashboard;
mod health;
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
        .merge(dashboard::router())
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
