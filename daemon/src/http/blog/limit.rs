//! The rate limit in front of every `/api` route (health and metrics are
//! outside `/api`, so never limited). Each request is counted against its
//! client IP (behind `--trusted-proxies`, the one `X-Forwarded-For` names:
//! [`crate::http::client_ip`]) and, with a valid token, its user ([`crate::blog::limits`]);
//! every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers), and a
//! refused one is a 429 with `Retry-After`.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::error;
use super::extract::bearer;
use crate::blog::limits::{Class, Decision};
use crate::http::AppState;

/// `RateLimit-Limit`.
pub static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`.
pub static RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Which limits a request counts against.
pub fn class(method: &Method, path: &str) -> Class {
    let path = path.strip_prefix("/api").unwrap_or(path);
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Class::Read,
        Method::POST if matches!(path, "/users" | "/users/login") => Class::Auth,
        _ => Class::Write,
    }
}

/// The middleware.
pub async fn layer(State(shared): State<AppState>, req: Request, next: Next) -> Response {
    let blog = &shared.services.blog;
    // Behind a trusted load balancer, its X-Forwarded-For names the client.
    let ip = shared
        .config
        .trusted_proxies
        .client_of(&req)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    // The signature alone says who it is; whether the account still
    // exists is the handler's business.
    let user = bearer(req.headers())
        .ok()
        .flatten()
        .and_then(|token| blog.accounts().verify(token).ok())
        .map(|claims| claims.uid);
    let decision = blog.limiter().check(
        class(req.method(), req.uri().path()),
        ip,
        user,
        crate::now_ms(),
    );
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        let mut refused = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate",
            format!(
                "too many requests; retry in {} s",
                decision.retry_after_secs
            ),
        );
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, number(decision.retry_after_secs));
        refused
    };
    add_headers(response.headers_mut(), &decision);
    response
}

fn number(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

fn add_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(LIMIT.clone(), number(d.limit));
    headers.insert(REMAINING.clone(), number(d.remaining));
    headers.insert(RESET.clone(), number(d.reset_secs));
}
