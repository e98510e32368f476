//! Billing under `/api/orgs/{slug}/…` (usage, plan, subscription,
//! checkout, invoices, custom domain) and the provider's webhook receiver
//! `POST /api/billing/webhook` (docs/BLOG.md, "Billing"). Who may do what
//! is the policy's (`ViewUsage`, `ViewBilling`, `ManageBilling`); errors
//! are in the blog's shape, an over-limit refusal with a `limit` object
//! beside them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::extract::{ApiJson, AuthUser, PathParams};
use crate::billing::signature;
use crate::blog::Error;
use crate::http::AppState;
use crate::orgs::Seat;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/usage", get(usage))
        .route("/orgs/{slug}/plan", get(overview).put(change_plan))
        .route("/orgs/{slug}/subscription", get(overview))
        .route("/orgs/{slug}/subscription/cancel", post(cancel))
        .route("/orgs/{slug}/subscription/resume", post(resume))
        .route("/orgs/{slug}/checkout", post(checkout))
        .route("/orgs/{slug}/invoices", get(invoices))
        .route("/orgs/{slug}/domain", put(set_domain))
}

/// The receiver, outside `/api`'s layers: the provider is one client
/// sending bursts from one address, which the blog's per-IP write limit
/// would throttle, and it signs its requests instead of holding a token.
pub fn webhook_router() -> Router<AppState> {
    Router::new().route("/api/billing/webhook", post(webhook))
}

async fn seat(shared: &AppState, slug: &str, user: &AuthUser) -> Result<Seat, Error> {
    shared.services.orgs.seat(slug, Some(user.id)).await
}

async fn usage(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    seat.allow(crate::orgs::Action::ViewUsage, false)?;
    let tenant = shared.services.orgs.tenant(&seat).await?;
    let usage = shared.services.billing.usage(&seat, tenant.store()).await?;
    Ok(Json(json!({ "usage": usage.to_json() })).into_response())
}

async fn overview(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let billing = shared.services.billing.overview(&seat).await?;
    Ok(Json(json!({ "billing": billing })).into_response())
}

#[derive(Deserialize)]
struct PlanBody {
    plan: Option<PlanIn>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PlanIn {
    name: Option<String>,
    trial_days: Option<i64>,
}

fn plan_name(body: &PlanBody) -> Result<String, Error> {
    body.plan
        .as_ref()
        .and_then(|p| p.name.clone())
        .ok_or_else(|| Error::invalid("plan", "can't be blank ({\"plan\": {\"name\": \"team\"}})"))
}

async fn change_plan(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<PlanBody>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    seat.allow(crate::orgs::Action::ManageBilling, false)?;
    let name = plan_name(&body)?;
    let tenant = shared.services.orgs.tenant(&seat).await?;
    let billing = shared
        .services
        .billing
        .change_plan(&seat, &name, tenant.store())
        .await?;
    Ok(Json(json!({ "billing": billing })).into_response())
}

async fn checkout(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<PlanBody>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    seat.allow(crate::orgs::Action::ManageBilling, false)?;
    let name = plan_name(&body)?;
    let trial = body.plan.as_ref().and_then(|p| p.trial_days);
    let session = shared
        .services
        .billing
        .checkout(&seat, &name, trial)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "checkout": session }))).into_response())
}

async fn cancel(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let billing = shared.services.billing.set_cancel(&seat, true).await?;
    Ok(Json(json!({ "billing": billing })).into_response())
}

async fn resume(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let billing = shared.services.billing.set_cancel(&seat, false).await?;
    Ok(Json(json!({ "billing": billing })).into_response())
}

async fn invoices(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let list = shared.services.billing.invoices(&seat).await?;
    Ok(Json(json!({ "invoices": list })).into_response())
}

#[derive(Deserialize)]
struct DomainBody {
    domain: Option<String>,
}

async fn set_domain(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<DomainBody>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let billing = shared
        .services
        .billing
        .set_domain(
            &seat,
            body.domain.filter(|d| !d.trim().is_empty()),
            &shared.config.blog.domain,
        )
        .await?;
    Ok(Json(json!({ "billing": billing })).into_response())
}

async fn webhook(State(shared): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers
        .get(signature::HEADER)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let (status, json) = shared.services.billing.receive(sig, body).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json)).into_response()
}
