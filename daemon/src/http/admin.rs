//! `/admin`: what operators (`--operators`) change on a running daemon.
//! `GET /admin/log-level` answers the log filter in effect, `PUT` with
//! `{"filter": "debug"}` (tracing's filter syntax, e.g.
//! `info,agora::request=warn`) replaces it at once, until the next start.
//! A token (`Authorization: Token …`, as the blog API takes) of an
//! operator is required: 401 without one, 403 for anyone else.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::blog::error::error;
use super::blog::extract::AuthUser;
use crate::loglevel::{self, SetError};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/admin/log-level", get(log_level).put(set_log_level))
}

#[derive(Deserialize)]
struct NewLevel {
    filter: String,
}

/// A 403 unless `user` is one of the daemon's operators.
fn operator(state: &AppState, user: &AuthUser) -> Option<Response> {
    if state
        .services
        .metrics
        .config()
        .operators
        .contains(&user.name)
    {
        return None;
    }
    tracing::warn!(user = %user.name, "refused an admin request: not an operator");
    Some(error(
        StatusCode::FORBIDDEN,
        "user",
        format!(
            "{} is not one of the daemon's operators (agora daemon --operators)",
            user.name
        ),
    ))
}

fn unchangeable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "filter",
        "this daemon's log filter cannot be changed while it runs",
    )
}

async fn log_level(State(state): State<AppState>, user: AuthUser) -> Response {
    if let Some(refused) = operator(&state, &user) {
        return refused;
    }
    match loglevel::current() {
        Some(filter) => Json(json!({ "filter": filter })).into_response(),
        None => unchangeable(),
    }
}

async fn set_log_level(
    State(state): State<AppState>,
    user: AuthUser,
    body: Result<Json<NewLevel>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(refused) = operator(&state, &user) {
        return refused;
    }
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
            "send {\"filter\": \"…\"} as JSON",
        );
    };
    match loglevel::set(&body.filter) {
        Ok(previous) => {
            tracing::warn!(user = %user.name, filter = %body.filter.trim(), %previous, "log filter changed");
            Json(json!({ "filter": body.filter.trim(), "previous": previous })).into_response()
        }
        Err(SetError::NotInstalled) => unchangeable(),
        Err(SetError::Invalid(why)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "filter",
            format!("not a log filter: {why}"),
        ),
    }
}
