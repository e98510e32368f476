//! `Idempotency-Key` on POSTs (draft-ietf-httpapi-idempotency-key-header,
//! as Stripe does it). A signed-in client that sends a POST with a key
//! gets the same answer for every retry of that request for 24 hours,
//! and the effect happens once:
//!
//! - the key's first successful (2xx) response is kept with a SHA-256
//!   fingerprint of the method, path and body; a retry with the same
//!   fingerprint gets it back with `Idempotent-Replayed: true`, without
//!   running again;
//! - the same key with a different request is a 422;
//! - articles and comments keep their response in the transaction that
//!   creates them ([`crate::blog::articles::Keep`]), so a crash leaves
//!   both or neither, and of two concurrent retries one creates and the
//!   other replays; follow and favourite are idempotent anyway, so theirs
//!   is kept afterwards;
//! - failures (4xx, 5xx) are not kept: the request may be retried as is.
//!
//! Keys are per user. Without a valid token (sign-up, login) the header
//! is ignored: a repeated sign-up answers "taken", a login has nothing to
//! repeat, and neither a password nor a token should be kept.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::error;
use super::extract::{bearer, too_large};
use crate::blog::articles::Keep;
use crate::blog::{Error, Store};
use crate::http::AppState;
use agora_db::blog::StoredResponse;

/// The request header.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed response.
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted.
pub const MAX_KEY: usize = 255;

/// Put in a response's extensions by a handler that kept it itself.
#[derive(Debug, Clone, Copy)]
pub struct Kept;

/// The middleware.
pub async fn layer(State(shared): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(req).await;
    }
    let blog = &shared.services.blog;
    let Some(scope) = bearer(req.headers())
        .ok()
        .flatten()
        .and_then(|t| blog.accounts().verify(t).ok())
        .map(|c| c.uid)
    else {
        return next.run(req).await;
    };
    let key = match req.headers().get(&IDEMPOTENCY_KEY).map(HeaderValue::to_str) {
        Some(Ok(k)) if valid_key(k) => k.to_owned(),
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY} visible ASCII characters"),
            );
        }
    };
    let (parts, body) = req.into_parts();
    let limit = shared.config.blog.max_body;
    let Ok(bytes) = to_bytes(body, limit).await else {
        return too_large(limit);
    };
    let fingerprint = {
        let mut h = Sha256::new();
        h.update(parts.method.as_str());
        h.update([0]);
        h.update(parts.uri.path());
        h.update([0]);
        h.update(&bytes);
        h.finalize().to_vec()
    };
    // The organization's file when there is one: the response is kept
    // in the same transaction as the effect, in the same file.
    let store = parts
        .extensions
        .get::<super::site::Scope>()
        .map_or_else(|| blog.store().clone(), |scope| scope.store().clone());
    let lookup = {
        let key = key.clone();
        store
            .read(move |blog| blog.stored_response(scope, &key))
            .await
    };
    match lookup {
        Ok(Some(stored)) => return replay_or_refuse(stored, &fingerprint),
        Ok(None) => {}
        Err(err) => return err.into_response(),
    }
    let keep = Keep {
        scope,
        key,
        fingerprint,
        status: 0,
    };
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(keep.clone());
    let response = next.run(req).await;
    if !response.status().is_success() || response.extensions().get::<Kept>().is_some() {
        return response;
    }
    keep_afterwards(&store, keep, response, limit).await
}

/// Keeps a response whose effect is idempotent anyway (follow,
/// favourite), after the fact.
async fn keep_afterwards(store: &Store, keep: Keep, response: Response, limit: usize) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, limit.max(16 << 20)).await else {
        return Error::internal("cannot buffer a response to keep").into_response();
    };
    let stored = StoredResponse {
        fingerprint: keep.fingerprint.clone(),
        status: parts.status.as_u16(),
        body: bytes.to_vec(),
    };
    let result = store
        .write(move |blog| {
            match blog.store_response(keep.scope, &keep.key, &stored) {
                // A concurrent retry kept its own: same effect, same body.
                Ok(()) | Err(agora_db::Error::Conflict(_)) => Ok(()),
                Err(err) => Err(err.into()),
            }
        })
        .await;
    if let Err(err) = result {
        tracing::warn!(%err, "cannot keep an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The kept response again, or a 422 when the key came with another
/// request.
pub fn replay_or_refuse(stored: StoredResponse, fingerprint: &[u8]) -> Response {
    if stored.fingerprint != fingerprint {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key",
            "was already used with a different request",
        );
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    response.extensions_mut().insert(Kept);
    response
}

/// 1 to [`MAX_KEY`] visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && key.bytes().all(|b| b.is_ascii_graphic())
}

/// What a creating handler passes down: the request's [`Keep`] (if it
/// carried a key) with the status its success has.
pub fn keep_for(keep: Option<axum::Extension<Keep>>, status: StatusCode) -> Option<Keep> {
    keep.map(|axum::Extension(mut k)| {
        k.status = status.as_u16();
        k
    })
}

/// A creating handler's result as a response: the created thing with
/// `status` (marked [`Kept`] when a key was kept with it), a replay when
/// a concurrent retry won, or the error.
pub fn created(
    result: Result<Vec<u8>, Error>,
    status: StatusCode,
    keep: Option<&Keep>,
) -> Response {
    match result {
        Ok(body) => {
            let mut response = (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response();
            if keep.is_some() {
                response.extensions_mut().insert(Kept);
            }
            response
        }
        Err(Error::Replay(stored)) => match keep {
            Some(k) => replay_or_refuse(stored, &k.fingerprint),
            None => Error::Replay(stored).into_response(),
        },
        Err(err) => err.into_response(),
    }
}
