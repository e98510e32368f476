//! `POST /api/users` (sign up), `POST /api/users/login`, and the current
//! user: `GET` and `PUT /api/user`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};

use super::extract::{ApiJson, AuthUser};
use super::json;
use crate::blog::Error;
use crate::blog::users::{NewUser, UpdateUser};
use crate::http::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/users", post(create_user))
        .route("/users/login", post(login_user))
        .route("/user", get(get_current_user).put(update_user))
}

#[derive(Deserialize)]
struct UserBody<T> {
    user: T,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewUserIn {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginUser {
    email: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UpdateUserIn {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    #[serde(deserialize_with = "present")]
    bio: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    image: Option<Option<String>>,
}

/// `Some(value)` for a field that is there, even as `null` (which clears
/// it); a missing field stays `None` through `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn create_user(
    State(shared): State<AppState>,
    ApiJson(body): ApiJson<UserBody<NewUserIn>>,
) -> Result<Response, Error> {
    let blog = &shared.services.blog;
    let new = NewUser {
        username: body.user.username,
        email: body.user.email,
        password: body.user.password,
    };
    let signed = blog.register(blog.store(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(json::user(&signed.account, &signed.token)),
    )
        .into_response())
}

async fn login_user(
    State(shared): State<AppState>,
    ApiJson(body): ApiJson<UserBody<LoginUser>>,
) -> Result<Response, Error> {
    let blog = &shared.services.blog;
    let signed = blog
        .login(blog.store(), body.user.email, body.user.password)
        .await?;
    Ok(Json(json::user(&signed.account, &signed.token)).into_response())
}

async fn get_current_user(
    State(shared): State<AppState>,
    user: AuthUser,
) -> Result<Response, Error> {
    let blog = &shared.services.blog;
    let account = blog.current_user(blog.store(), user.id).await?;
    Ok(Json(json::user(&account, &user.token)).into_response())
}

async fn update_user(
    State(shared): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<UserBody<UpdateUserIn>>,
) -> Result<Response, Error> {
    let blog = &shared.services.blog;
    let changes = UpdateUser {
        username: body.user.username,
        email: body.user.email,
        password: body.user.password,
        bio: body.user.bio,
        image: body.user.image,
    };
    let account = blog
        .update_user(blog.store(), user.id, &user.name, changes)
        .await?;
    Ok(Json(json::user(&account, &user.token)).into_response())
}
