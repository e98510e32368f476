//! `/api/orgs`: organizations, their members and invitations (docs/
//! BLOG.md, "Organizations"). Every route needs a signed-in user; what
//! each may do is the policy's ([`crate::orgs::policy`]). Errors are in
//! the blog's shape. They are in `/api/openapi.json` (tag Organizations).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiJson, AuthUser, PathParams, QueryPairs};
use crate::blog::Error;
use crate::blog::rules::timestamp;
use crate::http::AppState;
use crate::orgs::{Action, Seat};
use agora_db::orgs::{Member, Org, Role};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(list_mine).post(create))
        .route("/orgs/{slug}", get(show).delete(delete))
        .route("/orgs/{slug}/members", get(members))
        .route(
            "/orgs/{slug}/members/{username}",
            put(set_role).delete(remove),
        )
        .route("/orgs/{slug}/invitations", post(invite))
        .route("/orgs/{slug}/transfer", post(transfer))
        .route("/orgs/{slug}/restore", post(restore))
        .route("/invitations/{token}/accept", post(accept))
        .route("/invitations/{token}/decline", post(decline))
}

fn org_json(org: &Org, role: Option<Role>) -> Value {
    json!({
        "slug": org.slug,
        "name": org.name,
        "plan": org.plan,
        "createdAt": timestamp(org.created_at_ms),
        "role": role.map(Role::as_str),
    })
}

fn member_json(m: &Member) -> Value {
    json!({
        "username": m.name,
        "role": m.role.as_str(),
        "joinedAt": timestamp(m.joined_at_ms),
    })
}

fn role_field(role: Option<&str>) -> Result<Role, Error> {
    match role {
        None => Err(Error::invalid("role", "can't be blank")),
        Some(r) => Role::parse(r)
            .ok_or_else(|| Error::invalid("role", "must be owner, admin, author or viewer")),
    }
}

async fn seat(shared: &AppState, slug: &str, user: &AuthUser) -> Result<Seat, Error> {
    shared.services.orgs.seat(slug, Some(user.id)).await
}

#[derive(Deserialize)]
struct OrgBody {
    org: OrgIn,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OrgIn {
    slug: Option<String>,
    name: Option<String>,
}

async fn create(
    State(shared): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<OrgBody>,
) -> Result<Response, Error> {
    let slug = body
        .org
        .slug
        .ok_or_else(|| Error::invalid("slug", "can't be blank"))?;
    let name = body.org.name.unwrap_or_else(|| slug.clone());
    let org = shared.services.orgs.create(user.id, slug, name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "org": org_json(&org, Some(Role::Owner)) })),
    )
        .into_response())
}

async fn list_mine(State(shared): State<AppState>, user: AuthUser) -> Result<Response, Error> {
    let mine = shared.services.orgs.mine(user.id).await?;
    let orgs: Vec<Value> = mine
        .iter()
        .map(|(org, role)| org_json(org, Some(*role)))
        .collect();
    Ok(Json(json!({ "orgs": orgs })).into_response())
}

async fn show(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    seat.allow(Action::ViewOrg, false)?;
    let role = seat.member.as_ref().map(|m| m.role);
    Ok(Json(json!({ "org": org_json(&seat.org, role) })).into_response())
}

async fn members(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let members = shared.services.orgs.members(&seat).await?;
    let list: Vec<Value> = members.iter().map(member_json).collect();
    Ok(Json(json!({ "members": list })).into_response())
}

#[derive(Deserialize)]
struct InvitationBody {
    invitation: InvitationIn,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InvitationIn {
    username: Option<String>,
    role: Option<String>,
}

async fn invite(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<InvitationBody>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let name = body
        .invitation
        .username
        .ok_or_else(|| Error::invalid("username", "can't be blank"))?;
    let role = role_field(body.invitation.role.as_deref().or(Some("author")))?;
    let invitation = shared
        .services
        .orgs
        .invite(&seat, user.id, name.clone(), role)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "invitation": {
            "token": invitation.token,
            "org": seat.org.slug,
            "username": name.trim().to_ascii_lowercase(),
            "role": invitation.role.as_str(),
            "expiresAt": timestamp(invitation.expires_at_ms),
        }})),
    )
        .into_response())
}

async fn accept(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(token): PathParams<String>,
) -> Result<Response, Error> {
    answer(&shared, &user, token, true).await
}

async fn decline(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(token): PathParams<String>,
) -> Result<Response, Error> {
    answer(&shared, &user, token, false).await
}

async fn answer(
    shared: &AppState,
    user: &AuthUser,
    token: String,
    accept: bool,
) -> Result<Response, Error> {
    let (org, role) = shared.services.orgs.answer(user.id, token, accept).await?;
    let role = accept.then_some(role);
    Ok(Json(json!({ "org": org_json(&org, role) })).into_response())
}

#[derive(Deserialize)]
struct MemberBody {
    member: MemberIn,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MemberIn {
    username: Option<String>,
    role: Option<String>,
}

async fn set_role(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams((slug, name)): PathParams<(String, String)>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let role = role_field(body.member.role.as_deref())?;
    let orgs = &shared.services.orgs;
    orgs.set_role(&seat, name, role).await?;
    let list: Vec<Value> = orgs.members(&seat).await?.iter().map(member_json).collect();
    Ok(Json(json!({ "members": list })).into_response())
}

async fn remove(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams((slug, name)): PathParams<(String, String)>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    shared.services.orgs.remove(&seat, user.id, name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn transfer(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let name = body
        .member
        .username
        .ok_or_else(|| Error::invalid("username", "can't be blank"))?;
    let orgs = &shared.services.orgs;
    orgs.transfer(&seat, user.id, name).await?;
    let list: Vec<Value> = orgs.members(&seat).await?.iter().map(member_json).collect();
    Ok(Json(json!({ "members": list })).into_response())
}

async fn delete(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    query: QueryPairs,
) -> Result<Response, Error> {
    let seat = seat(&shared, &slug, &user).await?;
    let confirm = query.get("confirm").map(str::to_owned);
    shared.services.orgs.delete(&seat, confirm).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restore(
    State(shared): State<AppState>,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    let org = shared.services.orgs.restore(user.id, slug).await?;
    Ok(Json(json!({ "org": org_json(&org, Some(Role::Owner)) })).into_response())
}
