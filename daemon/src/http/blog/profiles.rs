//! `GET /api/profiles/{username}` and following: `POST`/`DELETE
//! /api/profiles/{username}/follow`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::extract::{AuthUser, MaybeAuthUser, PathParams};
use super::json;
use super::site::Scope;
use crate::blog::Error;
use crate::http::AppState;
use crate::orgs::Action;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/profiles/{username}", get(get_profile))
        .route(
            "/profiles/{username}/follow",
            post(follow_user).delete(unfollow_user),
        )
}

async fn get_profile(
    State(shared): State<AppState>,
    scope: Scope,
    viewer: MaybeAuthUser,
    PathParams(name): PathParams<String>,
) -> Result<Response, Error> {
    scope.allow(Action::Read, false)?;
    let blog = &shared.services.blog;
    let profile = blog.profile(scope.store(), &name, viewer.id()).await?;
    Ok(Json(json!({ "profile": json::profile(&profile) })).into_response())
}

async fn follow_user(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams(name): PathParams<String>,
) -> Result<Response, Error> {
    follow(&shared, &scope, &user, &name, true).await
}

async fn unfollow_user(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams(name): PathParams<String>,
) -> Result<Response, Error> {
    follow(&shared, &scope, &user, &name, false).await
}

async fn follow(
    shared: &AppState,
    scope: &Scope,
    user: &AuthUser,
    name: &str,
    on: bool,
) -> Result<Response, Error> {
    scope.allow(Action::React, false)?;
    let blog = &shared.services.blog;
    let profile = blog.follow(scope.store(), user.id, name, on).await?;
    Ok(Json(json!({ "profile": json::profile(&profile) })).into_response())
}
