//! [`crate::blog::Error`] as an HTTP response: the status for each
//! variant and the RealWorld error body, `{"errors": {"field":
//! ["message", …]}}`, for every error this API sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::blog::Error;

/// A JSON error response: `status` with `{"errors": {field: [message]}}`.
pub fn errors(status: StatusCode, fields: &[(String, String)]) -> Response {
    let mut map = Map::new();
    for (field, message) in fields {
        let entry = map
            .entry(field.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.clone()));
        }
    }
    let mut response = (status, axum::Json(json!({ "errors": map }))).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// One field, one message.
pub fn error(status: StatusCode, field: &str, message: impl Into<String>) -> Response {
    errors(status, &[(field.to_owned(), message.into())])
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Unauthorized(message) => {
                let (field, message) = match message.split_once(" is ") {
                    Some(("email or password", rest)) => {
                        ("email or password", format!("is {rest}"))
                    }
                    _ => ("token", message),
                };
                let mut response = error(StatusCode::UNAUTHORIZED, field, message);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
                response
            }
            Error::Forbidden(message) => error(StatusCode::FORBIDDEN, "author", message),
            Error::Denied(message) => error(StatusCode::FORBIDDEN, "role", message),
            Error::BadRequest(message) => error(StatusCode::BAD_REQUEST, "request", message),
            Error::Unavailable(message) => {
                error(StatusCode::SERVICE_UNAVAILABLE, "organization", message)
            }
            Error::NotFound(what) => error(StatusCode::NOT_FOUND, what, "not found"),
            Error::Invalid(fields) => errors(StatusCode::UNPROCESSABLE_ENTITY, &fields),
            // Handlers that keep responses answer replays themselves
            // (idempotency::replay_or_refuse); this is a fallback.
            Error::Replay(_) => error(
                StatusCode::CONFLICT,
                "Idempotency-Key",
                "a request with this key was answered concurrently; retry",
            ),
            Error::Refused(r) => {
                let status =
                    StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                let mut body = json!({ "errors": { r.field: [r.message] } });
                if let (Some((key, detail)), Some(map)) = (r.detail, body.as_object_mut()) {
                    map.insert(key.to_owned(), detail);
                }
                (status, axum::Json(body)).into_response()
            }
            Error::Busy(_) | Error::Internal(_) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "internal error; see the daemon's log",
            ),
        }
    }
}

/// What `/api/…` answers for a path it does not serve.
pub async fn no_such_endpoint() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "path",
        "no such endpoint (see /api/openapi.json)",
    )
}
