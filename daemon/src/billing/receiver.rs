//! agora's webhook receiver, `POST /api/billing/webhook`: checks the
//! signature and its timestamp ([`super::signature`]), handles each event
//! id once (`billing_events`), and applies the object the event carries
//! only if it is newer than what is stored (by the provider's version),
//! so events repeated, late or out of order never move a subscription
//! backwards. Every refusal is a clear 4xx and changes nothing.

use serde_json::Value;

use super::lifecycle::Status;
use super::plans::Plan;
use agora_db::billing::{BillingStore, Invoice, Subscription};

/// What the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or nothing to apply: an event type agora ignores, or an
    /// object older than what it has).
    Handled {
        /// Whether the stored state changed.
        changed: bool,
    },
    /// This event id was handled before.
    Duplicate,
}

/// Why a delivery was refused (the provider retries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not an event (400).
    #[error("{0}")]
    Malformed(String),
    /// A customer agora does not know (404).
    #[error("unknown customer {0}")]
    UnknownCustomer(String),
}

/// The subscription a provider object describes, for organization `org`.
///
/// # Errors
/// A one-line reason.
pub fn subscription_of(org: i64, obj: &Value) -> Result<Subscription, Rejection> {
    let text = |k: &str| {
        obj[k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Rejection::Malformed(format!("subscription without {k}")))
    };
    let int = |k: &str| {
        obj[k]
            .as_i64()
            .ok_or_else(|| Rejection::Malformed(format!("subscription without {k}")))
    };
    let plan = text("plan")?;
    let status = text("status")?;
    if Plan::parse(&plan).is_none() || Status::parse(&status).is_none() {
        return Err(Rejection::Malformed(format!(
            "subscription with plan {plan:?} and status {status:?}"
        )));
    }
    Ok(Subscription {
        org_id: org,
        id: text("id")?,
        plan,
        status,
        period_start: int("current_period_start")?,
        period_end: int("current_period_end")?,
        trial_end: obj["trial_end"].as_i64(),
        cancel_at_period_end: obj["cancel_at_period_end"].as_bool().unwrap_or(false),
        version: int("version")?,
    })
}

fn invoice_of(org: i64, obj: &Value) -> Result<Invoice, Rejection> {
    let bad = |k: &str| Rejection::Malformed(format!("invoice without {k}"));
    let int = |k: &str| obj[k].as_i64().ok_or_else(|| bad(k));
    let status = obj["status"].as_str().ok_or_else(|| bad("status"))?;
    if !["draft", "open", "paid", "uncollectible", "void"].contains(&status) {
        return Err(Rejection::Malformed(format!("invoice status {status:?}")));
    }
    Ok(Invoice {
        id: obj["id"].as_str().ok_or_else(|| bad("id"))?.to_owned(),
        org_id: org,
        status: status.to_owned(),
        total: int("total")?,
        amount_due: int("amount_due")?,
        amount_paid: int("amount_paid")?,
        attempt_count: int("attempt_count")?,
        created: int("created")?,
        lines: obj["lines"].to_string(),
        version: int("version")?,
    })
}

/// Stores `sub` if newer, and with it the plan whose limits apply (the
/// subscription's while it is live, `free` otherwise). Answers whether
/// it was newer.
///
/// # Errors
/// On SQLite errors.
pub fn apply_subscription(
    repo: &mut dyn BillingStore,
    sub: &Subscription,
) -> agora_db::Result<bool> {
    if !repo.apply_subscription(sub)? {
        return Ok(false);
    }
    let live = Status::parse(&sub.status).is_some_and(Status::is_live);
    repo.set_plan(sub.org_id, if live { &sub.plan } else { "free" })?;
    Ok(true)
}

/// Handles one verified event body in the transaction behind `repo`.
/// Run the whole of it in one transaction: a refusal must roll the
/// event's record back, so a later delivery is handled afresh.
///
/// # Errors
/// SQLite errors outside; refusals inside.
pub fn handle(
    repo: &mut dyn BillingStore,
    body: &[u8],
) -> agora_db::Result<Result<Outcome, Rejection>> {
    let event: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Ok(Err(Rejection::Malformed(format!("not JSON: {e}")))),
    };
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return Ok(Err(Rejection::Malformed(
            "an event needs an id and a type".into(),
        )));
    };
    let obj = &event["data"]["object"];
    let Some(customer) = obj["customer"].as_str() else {
        return Ok(Err(Rejection::Malformed(format!(
            "{kind}: the object names no customer"
        ))));
    };
    let Some(org) = repo.org_of_customer(customer)? else {
        return Ok(Err(Rejection::UnknownCustomer(customer.to_owned())));
    };
    if !repo.record_event(id, kind)? {
        return Ok(Ok(Outcome::Duplicate));
    }
    let changed = match obj["object"].as_str() {
        Some("subscription") => match subscription_of(org, obj) {
            Ok(sub) => apply_subscription(repo, &sub)?,
            Err(why) => return Ok(Err(why)),
        },
        Some("invoice") => match invoice_of(org, obj) {
            Ok(inv) => repo.apply_invoice(&inv)?,
            Err(why) => return Ok(Err(why)),
        },
        // checkout.session.completed and the like: the subscription's own
        // events carry what changes.
        _ => false,
    };
    Ok(Ok(Outcome::Handled { changed }))
}
