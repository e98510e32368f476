//! `agora org plan|usage|invoices`: an organization's billing from the
//! command line, through the daemon's HTTP API (docs/BLOG.md,
//! "Billing"), signed in with the token `agora login` saved.
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to show (no invoices),
//! 2 an error (not signed in, an unknown organization, not allowed, a
//! plan that does not fit, the API unreachable).

use anyhow::Context as _;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::blog::http::{Answer, Api, segment};
use crate::args::org_billing::BillingCommand;
use crate::output;

/// Runs one billing leaf of `agora org` with `agora org`'s client.
pub(super) async fn run(api: &Api, command: BillingCommand, json: bool) -> anyhow::Result<u8> {
    match command {
        BillingCommand::Plan { org, plan } => plan_command(api, &org, plan, json).await,
        BillingCommand::Usage { org } => {
            let answer = api
                .call(Method::GET, &format!("/orgs/{}/usage", segment(&org)), None)
                .await?;
            let usage = ok(api, answer, &org)?["usage"].clone();
            if json {
                output::json(&json!({ "org": org, "usage": usage }))?;
            } else {
                print_usage(&org, &usage);
            }
            Ok(0)
        }
        BillingCommand::Invoices { org } => {
            let answer = api
                .call(
                    Method::GET,
                    &format!("/orgs/{}/invoices", segment(&org)),
                    None,
                )
                .await?;
            let invoices = ok(api, answer, &org)?["invoices"].clone();
            let list = invoices.as_array().cloned().unwrap_or_default();
            if json {
                output::json(&Value::Array(list.clone()))?;
            } else if !list.is_empty() {
                for inv in &list {
                    print_invoice(inv);
                }
            }
            Ok(if list.is_empty() { 1 } else { 0 })
        }
    }
}

fn ok(api: &Api, answer: Answer, org: &str) -> anyhow::Result<Value> {
    if answer.status.is_success() {
        return Ok(answer.json);
    }
    if answer.status == StatusCode::NOT_FOUND && answer.json["errors"].get("organization").is_some()
    {
        anyhow::bail!("no organization {org:?}");
    }
    Err(api.explain(&answer))
}

async fn plan_command(
    api: &Api,
    org: &str,
    plan: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    let path = format!("/orgs/{}/plan", segment(org));
    let current = ok(api, api.call(Method::GET, &path, None).await?, org)?["billing"].clone();
    let Some(plan) = plan else {
        if json {
            output::json(&plan_json(org, &current, Value::Null))?;
        } else {
            print_plan(org, &current);
        }
        return Ok(0);
    };
    let live = matches!(
        current["subscription"]["status"].as_str(),
        Some("trialing" | "active" | "past_due")
    );
    if plan != "free" && !live {
        // No subscription to change: a checkout starts one.
        let answer = api
            .call(
                Method::POST,
                &format!("/orgs/{}/checkout", segment(org)),
                Some(&json!({ "plan": { "name": plan } })),
            )
            .await?;
        let checkout = ok(api, answer, org)?["checkout"].clone();
        if json {
            output::json(&plan_json(org, &current, checkout))?;
        } else {
            println!(
                "{org}: to subscribe to {plan}, complete the checkout at {}",
                checkout["url"].as_str().unwrap_or_default()
            );
        }
        return Ok(0);
    }
    let answer = api
        .call(
            Method::PUT,
            &path,
            Some(&json!({ "plan": { "name": plan } })),
        )
        .await?;
    let after =
        ok(api, answer, org).with_context(|| format!("cannot move {org} to {plan}"))?["billing"]
            .clone();
    if json {
        output::json(&plan_json(org, &after, Value::Null))?;
    } else {
        print_plan(org, &after);
    }
    Ok(0)
}

/// `agora org plan --json`: `{org, plan, customDomain, subscription,
/// checkout}` (tests/schemas/org-plan.json).
fn plan_json(org: &str, billing: &Value, checkout: Value) -> Value {
    json!({
        "org": org,
        "plan": billing["plan"],
        "customDomain": billing["customDomain"],
        "subscription": billing["subscription"],
        "checkout": checkout,
    })
}

fn day(unix: &Value) -> String {
    unix.as_i64()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(|| "?".into(), |d| d.format("%Y-%m-%d").to_string())
}

fn print_plan(org: &str, billing: &Value) {
    let plan = billing["plan"].as_str().unwrap_or("free");
    let sub = &billing["subscription"];
    if sub.is_null() {
        println!("{org}: plan {plan}, no subscription");
        return;
    }
    let status = sub["status"].as_str().unwrap_or("?");
    let ends = if sub["cancelAtPeriodEnd"].as_bool() == Some(true) {
        "cancels"
    } else {
        "renews"
    };
    println!(
        "{org}: plan {plan}; subscription {} to {} is {status}, {ends} on {}",
        sub["id"].as_str().unwrap_or("?"),
        sub["plan"].as_str().unwrap_or("?"),
        day(&sub["currentPeriodEnd"]),
    );
}

fn limit(v: &Value) -> String {
    v.as_i64()
        .map_or_else(|| "unlimited".into(), |n| n.to_string())
}

fn print_usage(org: &str, usage: &Value) {
    println!("{org}: plan {}", usage["plan"].as_str().unwrap_or("?"));
    let m = &usage["members"];
    println!(
        "  members   {} (+{} invited) of {}",
        m["used"],
        m["pending"],
        limit(&m["limit"])
    );
    let a = &usage["articles"];
    println!("  articles  {} of {}", a["used"], limit(&a["limit"]));
    let d = &usage["customDomain"];
    match (d["domain"].as_str(), d["allowed"].as_bool()) {
        (Some(domain), _) => println!("  domain    {domain}"),
        (None, Some(true)) => println!("  domain    none set"),
        _ => println!("  domain    not on this plan"),
    }
}

fn cents(v: &Value) -> String {
    let c = v.as_i64().unwrap_or(0);
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", c.abs() / 100, c.abs() % 100)
}

fn print_invoice(inv: &Value) {
    println!(
        "{}  {}  {:<13}  total {}  due {}  paid {}",
        inv["id"].as_str().unwrap_or("?"),
        day(&inv["created"]),
        inv["status"].as_str().unwrap_or("?"),
        cents(&inv["total"]),
        cents(&inv["amountDue"]),
        cents(&inv["amountPaid"]),
    );
    for line in inv["lines"].as_array().into_iter().flatten() {
        println!(
            "    {:>10}  {}",
            cents(&line["amount"]),
            line["description"].as_str().unwrap_or("")
        );
    }
}
