//! The blog API under `/api`: the RealWorld ("Conduit") spec plus nested
//! comments, cursor pagination, Idempotency-Key and rate limits (see
//! docs/BLOG.md). One module per resource, each with its `router()`:
//! [`users`], [`profiles`], [`articles`], [`comments`], [`tags`], and
//! [`openapi`] for the API's own OpenAPI document. Around them, outermost
//! first: the rate limiter ([`limit`]), the Idempotency-Key layer
//! ([`idempotency`]) and the body size limit.
//!
//! The domain (validation, storage, tokens) is [`crate::blog`]; this layer
//! only turns requests into its calls and its answers into JSON
//! ([`json`]): [`error`] maps [`crate::blog::Error`] to statuses and the
//! RealWorld error body, [`extract`] holds the `AuthUser`/`MaybeAuthUser`
//! extractors and the JSON, query and path extractors whose failures are
//! 422s or 404s in that same shape.

pub mod articles;
pub mod billing;
pub mod comments;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod json;
pub mod limit;
pub mod openapi;
pub mod orgs;
pub mod profiles;
pub mod site;
pub mod tags;
pub mod users;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_billing;
#[cfg(test)]
mod tests_domains;
#[cfg(test)]
mod tests_isolation;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_orgs;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;

use super::AppState;

/// The API, nested under `/api`, with its layers.
pub(super) fn router(shared: &AppState) -> Router<AppState> {
    let api = Router::new()
        .merge(users::router())
        .merge(profiles::router())
        .merge(articles::router())
        .merge(comments::router())
        .merge(tags::router())
        .merge(openapi::router())
        .merge(orgs::router())
        .merge(billing::router())
        .fallback(error::no_such_endpoint)
        .layer(DefaultBodyLimit::max(shared.config.blog.max_body))
        .layer(from_fn_with_state(shared.clone(), idempotency::layer))
        .layer(from_fn_with_state(shared.clone(), site::layer))
        .layer(from_fn_with_state(shared.clone(), limit::layer));
    Router::new().nest("/api", api)
}
