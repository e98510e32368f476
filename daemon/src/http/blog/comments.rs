//! Comments: `GET`/`POST /api/articles/{slug}/comments` and `DELETE
//! /api/articles/{slug}/comments/{id}`. `parentId` on create makes a
//! reply; `?nested=true` returns the tree (with deleted comments that
//! still have replies), otherwise the spec's flat list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Router};
use serde::Deserialize;

use super::extract::{ApiJson, AuthUser, MaybeAuthUser, PathParams, QueryPairs};
use super::idempotency::{created, keep_for};
use super::json;
use super::site::Scope;
use super::tags::json_bytes;
use crate::blog::Error;
use crate::blog::articles::Keep;
use crate::http::AppState;
use crate::orgs::Action;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/articles/{slug}/comments",
            get(get_comments).post(create_comment),
        )
        .route("/articles/{slug}/comments/{id}", delete(delete_comment))
}

#[derive(Deserialize)]
struct CommentBody {
    comment: CommentIn,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CommentIn {
    body: Option<String>,
    parent_id: Option<i64>,
}

async fn get_comments(
    State(shared): State<AppState>,
    scope: Scope,
    viewer: MaybeAuthUser,
    PathParams(slug): PathParams<String>,
    query: QueryPairs,
) -> Result<Response, Error> {
    scope.allow(Action::Read, false)?;
    let nested = query.flag("nested")?;
    let blog = &shared.services.blog;
    let comments = blog.comments(scope.store(), &slug, viewer.id()).await?;
    Ok(json_bytes(if nested {
        json::comment_tree(&comments)
    } else {
        json::comment_list(&comments)
    }))
}

async fn create_comment(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    keep: Option<Extension<Keep>>,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> Response {
    if let Err(err) = scope.allow(Action::Comment, false) {
        return err.into_response();
    }
    let blog = &shared.services.blog;
    let keep = keep_for(keep, StatusCode::OK);
    let result = blog
        .add_comment(
            scope.store(),
            user.id,
            &slug,
            body.comment.body,
            body.comment.parent_id,
            keep.clone().map(|k| (k, json::comment_body as fn(&_) -> _)),
        )
        .await
        .map(|c| json::comment_body(&c));
    created(result, StatusCode::OK, keep.as_ref())
}

async fn delete_comment(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams((slug, id)): PathParams<(String, String)>,
) -> Result<Response, Error> {
    // An id that is not a number names no comment.
    let id: i64 = id.parse().map_err(|_| Error::NotFound("comment"))?;
    scope.allow(Action::DeleteComment, true)?;
    let blog = &shared.services.blog;
    let moderator = scope.moderates(Action::DeleteComment);
    blog.delete_comment(scope.store(), user.id, moderator, &slug, id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
