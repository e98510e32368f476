//! agora's client of the payment provider's API (the mock's, under
//! `/billing-mock` on the daemon's own address). The provider's
//! refusals become clear client errors: a declined payment 402, any
//! other refusal 409 with the provider's message, an unreachable
//! provider 503.

use bytes::Bytes;
use serde_json::Value;

use super::transport::Http;
use crate::blog::{Error, Refusal};

/// The provider's API at `base`.
#[derive(Clone)]
pub struct Client {
    http: Http,
    base: String,
}

fn refused(status: u16, message: String) -> Error {
    Error::Refused(Box::new(Refusal {
        status,
        field: "billing",
        message,
        detail: None,
    }))
}

impl Client {
    /// The API at `base` (`http://127.0.0.1:7080/billing-mock`).
    pub fn new(http: Http, base: String) -> Client {
        Client { http, base }
    }

    /// `method path` with `body`; answers the provider's JSON.
    ///
    /// # Errors
    /// [`Error::Refused`]: 402, 409 or 503 as above.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        let body = body.map(|b| Bytes::from(b.to_string()));
        let (status, reply) = self
            .http
            .send(method, &url, &[], body)
            .await
            .map_err(|why| {
                tracing::error!(%why, "billing: the payment provider is unreachable");
                refused(
                    503,
                    "the payment provider is unreachable; try again later".into(),
                )
            })?;
        let json: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let message = json["error"]["message"]
            .as_str()
            .unwrap_or("refused")
            .to_owned();
        tracing::warn!(status, %message, path, "billing: the payment provider refused");
        let status = if status == 402 { 402 } else { 409 };
        Err(refused(
            status,
            format!("the payment provider refused: {message}"),
        ))
    }
}
