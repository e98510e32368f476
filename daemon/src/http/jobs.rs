//! `/jobs`: the job queue's web page, and what it calls.
//!
//! The page is three static files compiled into the binary
//! (`jobs/page.html`, `page.js`, `page.css`: no CDN, no build step) served
//! under a Content-Security-Policy that allows only them. Everything with
//! data needs a token, sent as `Authorization: Token <jwt>` (the tokens of
//! `agora login`): the page reads it from the URL's fragment
//! (`/jobs#token=…`, which browsers never send to a server; the page then
//! takes it out of the address bar) or asks for it, and keeps it in the
//! tab's `sessionStorage`. Tokens are never logged.
//!
//! - `GET /jobs/events`: Server-Sent Events, read with `fetch` so the
//!   token travels in a header (an `EventSource` cannot send one). A
//!   `snapshot` event — `{states, queues, dead, dead_more}`, the jobs as
//!   on the wire — comes at once and again after every commit that
//!   changed something, at most every [`THROTTLE`]; a comment keeps idle
//!   connections open.
//! - `POST /jobs/api/jobs/{id}/retry`, `…/discard`: one job;
//!   `POST /jobs/api/dead/retry`, `…/discard`: every dead job. Each answers
//!   `{count}`, or `{error}` with 401, 404, 409 or 400.

use std::convert::Infallible;
use std::time::Duration;

use agora_wire::jobs::{JobState, MAX_LIST};
use agora_wire::{ErrorBody, ErrorCode};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde_json::json;

use super::AppState;
use crate::jobs::writer::Target;

const PAGE: &str = include_str!("jobs/page.html");
const SCRIPT: &str = include_str!("jobs/page.js");
const STYLE: &str = include_str!("jobs/page.css");

/// The most often a snapshot is sent.
pub const THROTTLE: Duration = Duration::from_millis(250);
/// How many dead jobs a snapshot lists.
const DEAD_SHOWN: u32 = 100;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(page))
        .route("/jobs/page.js", get(script))
        .route("/jobs/page.css", get(style))
        .route("/jobs/events", get(events))
        .route("/jobs/api/jobs/{id}/{action}", post(act_on_job))
        .route("/jobs/api/dead/{action}", post(act_on_dead))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                     base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// An error as the page's API gives it: a status and `{error}`.
fn error(body: &ErrorBody) -> Response {
    let status = match body.code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::BadRequest | ErrorCode::TooLarge => StatusCode::BAD_REQUEST,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, axum::Json(json!({ "error": body.message }))).into_response()
}

/// Checks the request's `Authorization: Token <jwt>`.
async fn authorize(shared: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            error(&ErrorBody::new(
                ErrorCode::Unauthorized,
                "send a token: Authorization: Token <jwt> (agora login prints where it is saved)",
            ))
        })?;
    shared
        .services
        .base
        .accounts()
        .authenticate(token)
        .await
        .map(|_| ())
        .map_err(|e| error(&e))
}

/// What the page shows, as one JSON document.
async fn snapshot(shared: &AppState) -> Result<String, ErrorBody> {
    let jobs = &shared.services.jobs;
    let (states, queues) = jobs.stats().await?;
    let (dead, more) = if states.dead > 0 {
        jobs.list(
            Some(JobState::Dead),
            None,
            None,
            None,
            Some(DEAD_SHOWN.min(MAX_LIST)),
        )
        .await?
    } else {
        (Vec::new(), false)
    };
    serde_json::to_string(&json!({
        "states": states,
        "queues": queues,
        "dead": dead,
        "dead_more": more,
    }))
    .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
}

async fn events(
    State(shared): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    authorize(&shared, &headers).await?;
    let version = shared.services.jobs.signals().version.subscribe();
    let shutdown = shared.shutdown.clone();
    let stream = futures::stream::unfold(
        (shared, version, shutdown, true),
        |(shared, mut version, shutdown, first)| async move {
            if !first {
                // Wait for a change (or the end), then let more gather.
                tokio::select! {
                    changed = version.changed() => changed.ok()?,
                    () = shutdown.cancelled() => return None,
                }
                tokio::time::sleep(THROTTLE).await;
            }
            version.borrow_and_update();
            let event = match snapshot(&shared).await {
                Ok(data) => Event::default().event("snapshot").data(data),
                Err(e) => Event::default().event("failure").data(e.message),
            };
            Some((Ok(event), (shared, version, shutdown, false)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn act(shared: &AppState, action: &str, target: Target) -> Response {
    let jobs = &shared.services.jobs;
    let result = match action {
        "retry" => jobs.retry(target).await,
        "discard" => jobs.discard(target).await,
        other => Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("no action {other:?}: retry or discard"),
        )),
    };
    match result {
        Ok(count) => axum::Json(json!({ "count": count })).into_response(),
        Err(e) => error(&e),
    }
}

async fn act_on_job(
    State(shared): State<AppState>,
    Path((id, action)): Path<(u64, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize(&shared, &headers).await {
        return refused;
    }
    act(&shared, &action, Target::One(id)).await
}

async fn act_on_dead(
    State(shared): State<AppState>,
    Path(action): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize(&shared, &headers).await {
        return refused;
    }
    act(&shared, &action, Target::AllDead(None)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = super::PAGE;
        assert!(page.contains("src=\"/jobs/page.js\""));
        assert!(page.contains("href=\"/jobs/page.css\""));
        for text in [super::PAGE, super::SCRIPT, super::STYLE] {
            assert!(!text.contains("http://") && !text.contains("https://"));
        }
    }
}
