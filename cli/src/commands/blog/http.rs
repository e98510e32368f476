//! A minimal HTTP/1.1 client for the blog API: one connection per
//! command, JSON in and out, built on hyper's client half (already in the
//! tree through axum, so no new crate) over plain TCP — the API is the
//! daemon's local HTTP listener.

use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// How long a connection attempt or a request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The blog API at one address, with a token when signed in.
pub struct Api {
    /// `HOST:PORT` of the daemon's HTTP listener.
    pub http_addr: String,
    /// The protocol address the token was saved for (for messages).
    pub addr: String,
    /// The saved token, if any.
    pub token: Option<String>,
    /// The organization whose blog this is (`/t/ORG/api/…`), if any.
    pub org: Option<String>,
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub json: Value,
}

impl Api {
    /// Sends one request to `/api{path}`.
    ///
    /// # Errors
    /// When the API cannot be reached or the connection fails.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let uri = match &self.org {
            Some(org) => format!("/t/{}/api{path}", segment(org)),
            None => format!("/api{path}"),
        };
        self.request(method, uri, body).await
    }

    /// Sends one request to `uri` on the HTTP listener (the blog API's
    /// routes are [`Api::call`]'s; `/admin` is `agora admin`'s), with the
    /// token and a JSON body, within [`TIMEOUT`].
    ///
    /// # Errors
    /// When the listener cannot be reached or the connection fails.
    pub async fn request(
        &self,
        method: Method,
        uri: String,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        tokio::time::timeout(TIMEOUT, self.request_inner(method, uri, body))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the daemon's HTTP listener at {} did not answer in {TIMEOUT:?}",
                    self.http_addr
                )
            })?
    }

    async fn request_inner(
        &self,
        method: Method,
        uri: String,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Token {token}"));
        }
        let bytes = match body {
            Some(v) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v)?)
            }
            None => Bytes::new(),
        };
        send(&self.http_addr, req, bytes).await
    }

    /// A failed answer as one sentence: what the API said, and how to fix
    /// it when there is a fix.
    pub fn explain(&self, answer: &Answer) -> anyhow::Error {
        let said = said(&answer.json);
        match answer.status {
            StatusCode::UNAUTHORIZED if self.token.is_none() => anyhow::anyhow!(
                "not signed in on {}: run `agora login NAME` first",
                self.addr
            ),
            StatusCode::UNAUTHORIZED => anyhow::anyhow!(
                "the blog API refused your sign-in for {} ({said}): run `agora login NAME` again",
                self.addr
            ),
            StatusCode::NOT_FOUND
                if answer.json["errors"].get("organization").is_some() && self.org.is_some() =>
            {
                let org = self.org.as_deref().unwrap_or_default();
                anyhow::anyhow!("no organization {org:?} (see `agora org list`)")
            }
            StatusCode::TOO_MANY_REQUESTS => {
                anyhow::anyhow!("the blog API is rate limiting you: {said}")
            }
            status => anyhow::anyhow!("the blog API answered {}: {said}", status.as_u16()),
        }
    }
}

/// `{"errors": {"title": ["can't be blank"]}}` as `title can't be blank`.
pub fn said(json: &Value) -> String {
    let Some(errors) = json.get("errors").and_then(Value::as_object) else {
        return "no details".into();
    };
    let mut parts = Vec::new();
    for (field, messages) in errors {
        for m in messages.as_array().into_iter().flatten() {
            parts.push(format!("{field} {}", m.as_str().unwrap_or_default()));
        }
    }
    parts.join("; ")
}

/// A path segment, percent-encoded (slugs may hold any letter).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs (values percent-encoded).
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", segment(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// Sends one request on a new connection to `http_addr` (the daemon's HTTP
/// listener) and reads the whole answer; `Host` and `User-Agent` are added.
///
/// # Errors
/// When the listener cannot be reached or the connection fails.
pub async fn send(
    http_addr: &str,
    req: hyper::http::request::Builder,
    body: Bytes,
) -> anyhow::Result<Answer> {
    let stream = TcpStream::connect(http_addr).await.map_err(|err| {
        anyhow::anyhow!(
            "cannot reach the daemon's HTTP listener at {http_addr}: {err} (is \"agora daemon\" running? Its HTTP address is --http-addr or AGORA_HTTP)"
        )
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .with_context(|| format!("cannot talk HTTP to {http_addr}"))?;
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            tracing::debug!(%err, "HTTP connection ended");
        }
    });
    let req = req
        .header(hyper::header::HOST, http_addr)
        .header(
            hyper::header::USER_AGENT,
            concat!("agora-cli/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(body))?;
    let response = sender
        .send_request(req)
        .await
        .with_context(|| format!("{http_addr} closed the connection"))?;
    let status = response.status();
    let raw = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("cannot read the answer of {http_addr}"))?
        .to_bytes();
    let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Ok(Answer { status, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(segment("café-日"), "caf%C3%A9-%E6%97%A5");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(query(&[]), "");
        assert_eq!(
            query(&[("tag", "a&b".into()), ("limit", "5".into())]),
            "?tag=a%26b&limit=5"
        );
    }

    #[test]
    fn errors_become_one_sentence() {
        let json =
            serde_json::json!({"errors": {"title": ["can't be blank"], "body": ["is too long"]}});
        assert_eq!(said(&json), "body is too long; title can't be blank");
        assert_eq!(said(&Value::Null), "no details");
    }
}
