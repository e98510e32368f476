//! `agora health`: asks a daemon's `/readyz` (or `/healthz`) and turns the
//! answer into an exit status, for container health checks that have no
//! curl (the image's HEALTHCHECK, a Kubernetes exec probe).

use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::args::deploy::HealthArgs;
use crate::commands::blog::http;
use crate::output;

#[derive(Serialize)]
struct Report<'a> {
    http_addr: &'a str,
    path: &'a str,
    /// Whether the daemon answered 200.
    healthy: bool,
    /// The HTTP status, or null when there was no answer.
    http_status: Option<u16>,
    /// What the daemon said (`ready`, `draining`, `shutting_down`,
    /// `database_unavailable`, `ok`), or why there was no answer.
    status: String,
    version: Option<String>,
}

impl<'a> Report<'a> {
    /// No answer from the daemon, and why.
    fn unanswered(http_addr: &'a str, path: &'a str, status: String) -> Report<'a> {
        Report {
            http_addr,
            path,
            healthy: false,
            http_status: None,
            status,
            version: None,
        }
    }
}

/// Exit status 0 when the daemon answers 200, 1 otherwise (Docker reads 1
/// as unhealthy; any other failure is reported the same way, with one
/// line saying why).
pub async fn run(args: HealthArgs, json: bool) -> anyhow::Result<u8> {
    let http_addr = crate::commands::blog::http_addr(args.http_addr);
    let path = if args.live { "/healthz" } else { "/readyz" };
    let answer = tokio::time::timeout(
        args.timeout,
        http::send(
            &http_addr,
            Request::builder().method(Method::GET).uri(path),
            Bytes::new(),
        ),
    )
    .await;
    let failed = |status: String| Report::unanswered(&http_addr, path, status);
    let report = match answer {
        Ok(Ok(answer)) => Report {
            http_addr: &http_addr,
            path,
            healthy: answer.status == StatusCode::OK,
            http_status: Some(answer.status.as_u16()),
            status: said(&answer.json, answer.status),
            version: answer
                .json
                .get("version")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Ok(Err(err)) => failed(output::one_line(&err)),
        Err(_) => failed(format!("no answer from {http_addr} in {:?}", args.timeout)),
    };
    if json {
        output::json(&report)?;
    } else if report.healthy {
        println!("{}{path}: {}", report.http_addr, report.status);
    } else {
        match report.http_status {
            Some(code) => eprintln!(
                "agora: unhealthy: {}{path} answered {code}: {}",
                report.http_addr, report.status
            ),
            None => eprintln!("agora: unhealthy: {}", report.status),
        }
    }
    Ok(if report.healthy { 0 } else { 1 })
}

/// The `status` the daemon's JSON gave, else the status line's reason.
fn said(json: &Value, status: StatusCode) -> String {
    json.get("status")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason").to_owned())
}
