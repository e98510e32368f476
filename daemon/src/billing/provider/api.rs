//! The mock provider's HTTP API, served under `/billing-mock` when the
//! daemon runs with `--billing-mock` (docs/BLOG.md, "Billing"). Errors
//! are `{"error": {"message": …}}` with the provider's status. No
//! authentication: it is a test double on the daemon's own address.
//!
//! | | |
//! |---|---|
//! | `POST /v1/customers` `{org}` | a customer, on a new test clock |
//! | `POST /v1/customers/{id}/card` `{number}` | replace the card |
//! | `POST /v1/checkout/sessions` `{customer, plan, trial_days}` | a session and its URL |
//! | `GET /checkout/sessions/{id}` | the session ("the page") |
//! | `POST /checkout/sessions/{id}/complete` `{card}` | submit the card form |
//! | `GET /v1/subscriptions/{id}` | a subscription |
//! | `POST /v1/subscriptions/{id}` `{plan?, cancel_at_period_end?}` | change it (prorated) |
//! | `GET /v1/invoices?customer=` | a customer's invoices |
//! | `GET /test_clocks/{id}`, `POST /test_clocks/{id}/advance` `{to}` | read, move a test clock |
//! | `GET /webhooks` | delivery counters: queued, delivered, abandoned, pending |

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Provider;
use super::model::{ApiError, cards};

/// The routes, to nest under `/billing-mock`.
pub fn router(provider: Provider) -> Router {
    Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/customers/{id}/card", post(set_card))
        .route("/v1/checkout/sessions", post(create_session))
        .route("/checkout/sessions/{id}", get(session))
        .route("/checkout/sessions/{id}/complete", post(complete))
        .route("/v1/subscriptions/{id}", get(subscription).post(update))
        .route("/v1/invoices", get(invoices))
        .route("/test_clocks/{id}", get(clock))
        .route("/test_clocks/{id}/advance", post(advance))
        .route("/webhooks", get(webhooks))
        .fallback(|| async { fail(404, "no such endpoint of the billing mock") })
        .with_state(provider)
}

fn fail(status: u16, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({ "error": { "message": message.into() } })),
    )
        .into_response()
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(e.status, e.message),
    }
}

/// The body as `T`, or a 400 naming what is wrong (an empty body is `{}`).
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, String> {
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON body: {e}"))
}

fn now() -> i64 {
    crate::now_ms() as i64 / 1000
}

#[derive(Deserialize)]
struct NewCustomer {
    org: String,
}

async fn create_customer(State(p): State<Provider>, raw: Bytes) -> Response {
    let input: NewCustomer = match body(&raw) {
        Ok(v) => v,
        Err(why) => return fail(400, why),
    };
    Json(p.with_books(|b| (b.create_customer(&input.org, now()), Vec::new()))).into_response()
}

#[derive(Deserialize)]
struct Card {
    #[serde(alias = "card")]
    number: Option<String>,
}

async fn set_card(State(p): State<Provider>, Path(id): Path<String>, raw: Bytes) -> Response {
    let input: Card = match body(&raw) {
        Ok(v) => v,
        Err(why) => return fail(400, why),
    };
    let number = input.number.unwrap_or_else(|| cards::GOOD.into());
    answer(p.with_books(|b| (b.set_card(&id, &number), Vec::new())))
}

#[derive(Deserialize)]
struct NewSession {
    customer: String,
    plan: String,
    #[serde(default)]
    trial_days: i64,
}

async fn create_session(State(p): State<Provider>, headers: HeaderMap, raw: Bytes) -> Response {
    let input: NewSession = match body(&raw) {
        Ok(v) => v,
        Err(why) => return fail(400, why),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let made = p.with_books(|b| {
        (
            b.create_session(&input.customer, &input.plan, input.trial_days),
            Vec::new(),
        )
    });
    answer(made.map(|mut s| {
        let url = format!(
            "http://{host}/billing-mock/checkout/sessions/{}",
            s["id"].as_str().unwrap_or("")
        );
        s["url"] = Value::String(url);
        s
    }))
}

async fn session(State(p): State<Provider>, Path(id): Path<String>) -> Response {
    match p.read(|b| b.session(&id)) {
        Some(mut s) => {
            s["complete_with"] = json!(format!(
                "POST /billing-mock/checkout/sessions/{id}/complete {{\"card\": \"{}\"}}",
                cards::GOOD
            ));
            Json(s).into_response()
        }
        None => fail(404, format!("no such checkout session {id}")),
    }
}

async fn complete(State(p): State<Provider>, Path(id): Path<String>, raw: Bytes) -> Response {
    let input: Card = match body(&raw) {
        Ok(v) => v,
        Err(why) => return fail(400, why),
    };
    let card = input.number.unwrap_or_else(|| cards::GOOD.into());
    answer(p.with_books(|b| match b.complete_session(&id, &card) {
        Ok((v, events)) => (Ok(v), events),
        Err(e) => (Err(e), Vec::new()),
    }))
}

async fn subscription(State(p): State<Provider>, Path(id): Path<String>) -> Response {
    match p.read(|b| b.subscription(&id)) {
        Some(s) => Json(s).into_response(),
        None => fail(404, format!("no such subscription {id}")),
    }
}

#[derive(Deserialize)]
struct Change {
    plan: Option<String>,
    cancel_at_period_end: Option<bool>,
}

async fn update(State(p): State<Provider>, Path(id): Path<String>, raw: Bytes) -> Response {
    let input: Change = match body(&raw) {
        Ok(v) => v,
        Err(why) => return fail(400, why),
    };
    answer(p.with_books(|b| {
        match b.update_subscription(&id, input.plan.as_deref(), input.cancel_at_period_end) {
            Ok((v, events)) => (Ok(v), events),
            Err(e) => (Err(e), Vec::new()),
        }
    }))
}

#[derive(Deserialize)]
struct ByCustomer {
    customer: Option<String>,
}

async fn invoices(State(p): State<Provider>, Query(q): Query<ByCustomer>) -> Response {
    let Some(customer) = q.customer else {
        return fail(400, "customer is required");
    };
    Json(json!({ "data": p.read(|b| b.invoices(&customer)) })).into_response()
}

async fn clock(State(p): State<Provider>, Path(id): Path<String>) -> Response {
    match p.read(|b| b.clock(&id)) {
        Some(t) => {
            Json(json!({ "id": id, "object": "test_clock", "frozen_time": t })).into_response()
        }
        None => fail(404, format!("no such test clock {id}")),
    }
}

#[derive(Deserialize)]
struct Advance {
    to: i64,
}

async fn advance(State(p): State<Provider>, Path(id): Path<String>, raw: Bytes) -> Response {
    let input: Advance = match body(&raw) {
        Ok(v) => v,
        Err(why) => return fail(400, why),
    };
    answer(p.with_books(|b| match b.advance(&id, input.to) {
        Ok(events) => {
            let n = events.len();
            (Ok(json!({ "id": id, "object": "test_clock", "frozen_time": input.to, "events": n })), events)
        }
        Err(e) => (Err(e), Vec::new()),
    }))
}

async fn webhooks(State(p): State<Provider>) -> Response {
    Json(p.deliveries()).into_response()
}
