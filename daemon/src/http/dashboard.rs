//! `/dashboard`: the browser's view of the metrics service.
//!
//! - `GET /dashboard`: one self-contained page (HTML, CSS and a small
//!   canvas chart in JavaScript, compiled into the binary: no CDN, no
//!   build step);
//! - `GET /dashboard/events?token=T[&view=V]`: Server-Sent Events — first
//!   `{"type":"init", recent, alerts, viewers, user}` with the last minute,
//!   then every event of the `metrics` topic as its JSON form
//!   (`metrics_tick`, `metrics_alert_changed`, `metrics_viewers`); the page
//!   counts as a viewer while the stream is open;
//! - `GET /dashboard/range?token=T&metric=M&from=MS&to=MS&step=MS`: a
//!   metric's history, `{metric, step_ms, points}`.
//!
//! Data needs a signed-in user's token (`token=` in the query, since
//! `EventSource` cannot send headers, or `Authorization: Bearer`); the
//! page itself is static and asks for one.

use std::convert::Infallible;

use agora_wire::MetricsReply;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;

/// The page.
const PAGE: &str = include_str!("dashboard.html");

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/events", get(events))
        .route("/dashboard/range", get(range))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// The user of the request's token, or the answer refusing it.
async fn user(
    shared: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<agora_wire::UserInfo, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token.or(bearer).filter(|t| !t.is_empty()) else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "sign in first: pass a token (agora login)",
        ));
    };
    shared
        .services
        .base
        .accounts()
        .authenticate(token)
        .await
        .map_err(|e| refuse(StatusCode::UNAUTHORIZED, e.message))
}

#[derive(Deserialize)]
struct EventsQuery {
    token: Option<String>,
    view: Option<String>,
}

async fn events(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    let user = match user(&shared, &headers, q.token.as_deref()).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let metrics = shared.services.metrics.clone();
    let rx = metrics.web_events();
    let viewer = metrics.web_viewer(&user.name, q.view.as_deref().unwrap_or("web"));
    let init = json!({
        "type": "init",
        "user": user.name,
        "recent": metrics.recent(),
        "alerts": metrics.alerts(),
        "viewers": metrics.viewers(),
    })
    .to_string();
    let shutdown = shared.shutdown.clone();
    let rest = futures::stream::unfold(
        (rx, viewer, shutdown),
        |(mut rx, viewer, shutdown)| async move {
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => return None,
                    next = rx.recv() => next,
                };
                match next {
                    Ok(json) => {
                        return Some((
                            Ok::<_, Infallible>(Event::default().data(&*json)),
                            (rx, viewer, shutdown),
                        ));
                    }
                    // A page too slow for the stream skips what it missed.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    let stream =
        futures::stream::once(async move { Ok::<_, Infallible>(Event::default().data(init)) })
            .chain(rest);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(Deserialize)]
struct RangeQuery {
    token: Option<String>,
    metric: String,
    from: u64,
    to: u64,
    step: u64,
}

async fn range(
    State(shared): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if let Err(r) = user(&shared, &headers, q.token.as_deref()).await {
        return r;
    }
    match shared
        .services
        .metrics
        .range(q.metric, q.from, q.to, q.step)
        .await
    {
        Ok(MetricsReply::Series {
            metric,
            step_ms,
            points,
        }) => axum::Json(json!({ "metric": metric, "step_ms": step_ms, "points": points }))
            .into_response(),
        Ok(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "unexpected answer"),
        Err(e) => refuse(StatusCode::BAD_REQUEST, e.message),
    }
}
