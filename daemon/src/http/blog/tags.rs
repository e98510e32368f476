//! `GET /api/tags`: the tags in use, most used first.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use super::site::Scope;
use crate::blog::Error;
use crate::http::AppState;
use crate::orgs::Action;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/tags", get(get_tags))
}

async fn get_tags(State(shared): State<AppState>, scope: Scope) -> Result<Response, Error> {
    scope.allow(Action::Read, false)?;
    let blog = &shared.services.blog;
    let store = scope.store();
    let body = store
        .cached("/tags", || async {
            let tags = blog.tags(store).await?;
            Ok(Bytes::from(
                serde_json::to_vec(&serde_json::json!({ "tags": tags })).unwrap_or_default(),
            ))
        })
        .await?;
    Ok(json_bytes(body))
}

/// A JSON body that is already bytes.
pub fn json_bytes(body: impl Into<Bytes>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}
