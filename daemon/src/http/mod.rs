//! The HTTP side: health checks, Prometheus metrics, the blog API (`/api`)
//! and the jobs page (`/jobs`). Each module owns a
//! `router()`; this one merges them and serves until shutdown.

mod admin;
pub mod blog;
pub mod client_ip;
mod dashboard;
mod health;
mod jobs;
mod observe;
mod prometheus;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::Shared;

/// The state every handler gets.
pub type AppState = Arc<Shared>;

/// The whole HTTP API. Outside the routes, before routing, the blog's
/// site is found from the Host header and a `/t/<org>/` prefix is
/// stripped (`blog::site::locate`).
pub fn router(shared: AppState) -> Router {
    let mut routes = Router::new()
        .merge(blog::billing::webhook_router())
        .merge(health::router())
        .merge(admin::router())
        .merge(prometheus::router())
        .merge(blog::router(&shared))
        .merge(jobs::router())
        .merge(dashboard::router())
        .with_state(shared.clone())
        // Around every route (so it sees the matched route's pattern) and
        // the fallback: ids, spans, the request's log line, durations.
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            observe::observe,
        ));
    if let Some(provider) = shared.services.billing.provider() {
        routes = routes.nest_service(
            "/billing-mock",
            crate::billing::provider::api::router(provider.clone()),
        );
    }
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            shared,
            blog::site::locate,
        ))
}

/// Serves HTTP until the daemon shuts down.
pub async fn serve(shared: AppState, listener: TcpListener) {
    let token = shared.shutdown.clone();
    let app = router(shared);
    // With the peer's address, for the blog's per-IP rate limits.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await
    {
        tracing::error!(%err, "HTTP server failed");
    }
}
