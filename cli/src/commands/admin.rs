//! `agora admin`: operators' changes to a running daemon, over its HTTP
//! listener's `/admin` (the token `agora login` saved, like `agora blog`).

use hyper::Method;
use serde_json::{Value, json};

use crate::args::deploy::{AdminArgs, AdminCommand};
use crate::commands::blog::http::{self, Api};
use crate::credentials::Store;
use crate::output;

/// Runs one admin subcommand against the daemon whose sign-in is `addr`.
pub async fn run(addr: &str, args: AdminArgs, json: bool) -> anyhow::Result<u8> {
    let Some(token) = Store::load()?.token_for(addr) else {
        anyhow::bail!(
            "not signed in on {addr}: run `agora login NAME` as one of the daemon's operators first"
        );
    };
    let api = Api {
        http_addr: crate::commands::blog::http_addr(args.http.http_addr),
        addr: addr.to_owned(),
        token: Some(token),
        org: None,
    };
    match args.command {
        AdminCommand::LogLevel { filter } => {
            let (method, body) = match &filter {
                Some(f) => (Method::PUT, Some(json!({ "filter": f }))),
                None => (Method::GET, None),
            };
            let answer = api
                .request(method, "/admin/log-level".to_owned(), body.as_ref())
                .await?;
            anyhow::ensure!(
                answer.status.is_success(),
                "{} refused ({}): {}",
                api.http_addr,
                answer.status.as_u16(),
                http::said(&answer.json)
            );
            if json {
                output::json(&answer.json)?;
            } else {
                let now = answer
                    .json
                    .get("filter")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                match answer.json.get("previous").and_then(Value::as_str) {
                    Some(was) => println!("log filter: {now} (was {was})"),
                    None => println!("log filter: {now}"),
                }
            }
            Ok(0)
        }
    }
}
