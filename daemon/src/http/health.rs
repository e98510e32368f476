//! `/healthz` (the process is alive) and `/readyz` (it can serve: not
//! shutting down, and the databases answer — the node's SQLite file and,
//! in a fleet, PostgreSQL, within [`PROBE_TIMEOUT`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// How long `/readyz` waits for a database to answer.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": crate::VERSION }))
}

async fn readyz(State(shared): State<AppState>) -> (StatusCode, Json<Value>) {
    if shared.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        );
    }
    if shared.draining.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        );
    }
    let db = shared.db.clone();
    let probe = tokio::task::spawn_blocking(move || {
        db.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
    })
    .await;
    if !matches!(probe, Ok(Ok(1))) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database_unavailable", "database": "sqlite" })),
        );
    }
    if let agora_db::Storage::Postgres(pg) = &shared.storage {
        let pg = pg.clone();
        let probe = tokio::time::timeout(
            PROBE_TIMEOUT,
            tokio::task::spawn_blocking(move || {
                pg.with(|c| Ok(c.query_one("SELECT 1", &[])?.get::<_, i32>(0)))
            }),
        )
        .await;
        if !matches!(probe, Ok(Ok(Ok(1)))) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database_unavailable", "database": "postgres" })),
            );
        }
    }
    (StatusCode::OK, Json(json!({ "status": "ready" })))
}
