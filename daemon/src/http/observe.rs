//! Every HTTP request observed: a request id (the client's `X-Request-Id`
//! when it is a sane token, else a new one, echoed in the answer), a span
//! holding it for whatever the handler logs, one log line when it is
//! answered (info, target `agora::request`: method, route, path, client
//! address — behind `--trusted-proxies`, the one `X-Forwarded-For` names —,
//! status, duration) and its duration in the histogram of its method and route
//! (`agora_http_request_duration_seconds`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use super::AppState;
use super::client_ip::ClientIp;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The route label of requests no route matched (one label for all, so a
/// scan of random paths cannot make series without end).
const UNMATCHED: &str = "unmatched";

pub(super) async fn observe(
    State(shared): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_token(v))
        .map_or_else(new_id, str::to_owned);
    // Kept past the handler without copying text: a matched path and a
    // URI are reference-counted, a standard method is a constant.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let uri = req.uri().clone();
    // Resolved once here; the rate limit inside reads it back.
    let client = shared.config.trusted_proxies.client_of(&req);
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let span = tracing::info_span!("http", request_id = %id);
    let mut response = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let method = method.as_str();
    shared.stats.http_durations.observe(method, route, took);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "agora::request",
            method,
            route,
            path = uri.path(),
            client = client.map(tracing::field::display),
            status = response.status().as_u16(),
            duration_ms = took.as_secs_f64() * 1e3,
            "http request"
        );
    });
    response
}

/// 1 to 128 characters of letters, digits, `-`, `_`, `.`: what a proxy or
/// client sends as a request id; anything else is replaced.
fn is_token(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new id: 16 random hex digits.
fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(is_token("abc-123_x.y"));
        assert!(!is_token(""));
        assert!(!is_token("has space"));
        assert!(!is_token("new\nline"));
        assert!(!is_token(&"a".repeat(129)));
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(is_token(&id));
    }
}
