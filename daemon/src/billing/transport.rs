//! HTTP/1.1 requests with a JSON body, for both halves of billing: agora
//! calling the payment provider's API, and the mock provider delivering
//! webhooks to agora. No TLS (the mock listens on the daemon's own
//! address); a timeout on every request.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Http {
    /// Sends `method url` with `body` (JSON, when given) and `headers`;
    /// answers the status and the body.
    ///
    /// # Errors
    /// A one-line reason: the address, the connection, the timeout.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), String> {
        let mut req = Request::builder().method(method).uri(url);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("bad request to {url}: {e}"))?;
        let answer = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = res.status().as_u16();
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{url}: reading the answer: {e}"))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, answer)
            .await
            .map_err(|_| format!("{url}: no answer within {TIMEOUT:?}"))?
    }
}
