//! `GET /api/openapi.json`: this API's OpenAPI 3.1 document — the
//! RealWorld spec (shared/specs/openapi.yml, see docs/BLOG.md) with what
//! this implementation adds: `parentId`, `deleted` and `?nested=true`
//! replies on comments, `?cursor=` and `nextCursor` on lists, tags on
//! update, `Idempotency-Key`, 403/404/413/429 answers, the rate-limit
//! headers, and errors keyed by field.

use axum::Router;
use axum::response::Response;
use axum::routing::get;

use super::tags::json_bytes;
use crate::http::AppState;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    json_bytes(DOCUMENT)
}
