//! Extractors: who is asking ([`AuthUser`], [`MaybeAuthUser`]), the JSON
//! body ([`ApiJson`]), query parameters ([`QueryPairs`]) and path
//! parameters ([`PathParams`]). Each fails with a response in the API's
//! error shape: 401 for a missing or bad token, 413 for a body over the
//! limit, 422 for malformed JSON or parameters, 404 for a path parameter
//! that cannot name anything.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::error;
use crate::blog::Error;
use crate::http::AppState;

/// The token in an `Authorization: Token …` (or `Bearer …`) header;
/// `Ok(None)` without the header.
///
/// # Errors
/// [`Error::Unauthorized`] for another scheme or an empty token.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        Error::Unauthorized(
            "use the header `Authorization: Token <jwt>` (or `Bearer <jwt>`)".into(),
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(bad)?;
    let token = token.trim();
    if !(scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        || token.is_empty()
    {
        return Err(bad());
    }
    Ok(Some(token))
}

/// A signed-in user: required. A missing, invalid or expired token is a
/// 401.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The account's id.
    pub id: i64,
    /// The account's name.
    pub name: String,
    /// The token the request carried (echoed by `GET /api/user`).
    pub token: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match MaybeAuthUser::from_request_parts(parts, state).await?.0 {
            Some(user) => Ok(user),
            None => Err(Error::Unauthorized(
                "sign in first: send `Authorization: Token <jwt>` from /api/users/login or `agora login`"
                    .into(),
            )
            .into_response()),
        }
    }
}

/// A signed-in user when the request says who it is. A header that is
/// there but wrong is still a 401, not an anonymous request (`Option<AuthUser>`
/// would hide the mistake).
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl MaybeAuthUser {
    /// The user's id, if signed in.
    pub fn id(&self) -> Option<i64> {
        self.0.as_ref().map(|u| u.id)
    }
}

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(MaybeAuthUser(Some(user.clone())));
        }
        let Some(token) = bearer(&parts.headers).map_err(IntoResponse::into_response)? else {
            return Ok(MaybeAuthUser(None));
        };
        let accounts = state.services.blog.accounts();
        let user = accounts
            .authenticate(token)
            .await
            .map_err(|e| Error::Unauthorized(e.message).into_response())?;
        let user = AuthUser {
            id: user.id,
            name: user.name,
            token: token.to_owned(),
        };
        parts.extensions.insert(user.clone());
        Ok(MaybeAuthUser(Some(user)))
    }
}

/// A JSON body of type `T`, whatever the Content-Type says (clients of
/// this API send JSON; being strict about the header helps nobody).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(state.config.blog.max_body)
            } else {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "body",
                    format!("cannot read the request body: {}", rejection.body_text()),
                )
            }
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|err| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "body",
                format!("is not the JSON expected here: {err}"),
            )
        })
    }
}

/// 413 with the limit.
pub fn too_large(limit: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body",
        format!("is too large (at most {limit} bytes)"),
    )
}

/// The query string's parameters, in order.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is `true` (or `1`); other values are a 422.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a value that is not a boolean.
    pub fn flag(&self, name: &str) -> Result<bool, Error> {
        match self.get(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(Error::invalid(name, "must be true or false")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryPairs(pairs))
            .map_err(|rejection| {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "query",
                    rejection.body_text(),
                )
            })
    }
}

/// Path parameters; one that cannot be decoded names nothing (404).
#[derive(Debug, Clone)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| PathParams(t))
            .map_err(|rejection| error(StatusCode::NOT_FOUND, "path", rejection.body_text()))
    }
}
