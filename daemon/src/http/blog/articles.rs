//! Articles: `GET`/`POST /api/articles`, `GET /api/articles/feed`,
//! `GET`/`PUT`/`DELETE /api/articles/{slug}` and `POST`/`DELETE
//! /api/articles/{slug}/favorite`.
//!
//! Anonymous reads of lists and single articles are the same bytes for
//! everyone, so they are served from the store's cache (invalidated by
//! every write; see [`crate::blog::store`]).

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use serde::Deserialize;

use super::extract::{ApiJson, AuthUser, MaybeAuthUser, PathParams, QueryPairs};
use super::idempotency::{created, keep_for};
use super::json;
use super::site::{Scope, cache_key};
use super::tags::json_bytes;
use crate::blog::Error;
use crate::blog::articles::{Keep, ListQuery, NewArticleInput, UpdateArticleInput};
use crate::http::AppState;
use crate::orgs::Action;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/articles", get(list_articles).post(create_article))
        .route("/articles/feed", get(feed))
        .route(
            "/articles/{slug}",
            get(get_article).put(update_article).delete(delete_article),
        )
        .route(
            "/articles/{slug}/favorite",
            post(favorite_article).delete(unfavorite_article),
        )
}

#[derive(Deserialize)]
struct ArticleBody<T> {
    article: T,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ArticleIn {
    title: Option<String>,
    description: Option<String>,
    body: Option<String>,
    tag_list: Option<Vec<String>>,
}

async fn list_articles(
    State(shared): State<AppState>,
    scope: Scope,
    viewer: MaybeAuthUser,
    uri: OriginalUri,
    query: QueryPairs,
) -> Result<Response, Error> {
    scope.allow(Action::Read, false)?;
    let blog = &shared.services.blog;
    let store = scope.store();
    let list = ListQuery::parse(&query.0)?;
    let Some(id) = viewer.id() else {
        let body = store
            .cached(&cache_key(&uri), || async {
                let page = blog.list_articles(store, list, None).await?;
                Ok(Bytes::from(json::article_list(&page)))
            })
            .await?;
        return Ok(json_bytes(body));
    };
    let page = blog.list_articles(store, list, Some(id)).await?;
    Ok(json_bytes(json::article_list(&page)))
}

async fn feed(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    query: QueryPairs,
) -> Result<Response, Error> {
    scope.allow(Action::Read, false)?;
    let blog = &shared.services.blog;
    let mut list = ListQuery::parse(&query.0)?;
    list.filter.feed_of = Some(user.id);
    let page = blog
        .list_articles(scope.store(), list, Some(user.id))
        .await?;
    Ok(json_bytes(json::article_list(&page)))
}

async fn create_article(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    keep: Option<Extension<Keep>>,
    ApiJson(body): ApiJson<ArticleBody<ArticleIn>>,
) -> Response {
    if let Err(err) = scope.allow(Action::CreateArticle, false) {
        return err.into_response();
    }
    // The plan's article limit, counted in the organization's own file
    // inside the creating transaction.
    let check = scope
        .seat()
        .and_then(crate::billing::Billing::article_check);
    let blog = &shared.services.blog;
    let keep = keep_for(keep, StatusCode::CREATED);
    let input = NewArticleInput {
        title: body.article.title,
        description: body.article.description,
        body: body.article.body,
        tags: body.article.tag_list,
    };
    let result = blog
        .create_article(
            scope.store(),
            user.id,
            input,
            keep.clone().map(|k| (k, json::article_body as fn(&_) -> _)),
            check,
        )
        .await
        .map(|a| json::article_body(&a));
    created(result, StatusCode::CREATED, keep.as_ref())
}

async fn get_article(
    State(shared): State<AppState>,
    scope: Scope,
    viewer: MaybeAuthUser,
    uri: OriginalUri,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    scope.allow(Action::Read, false)?;
    let blog = &shared.services.blog;
    let store = scope.store();
    let Some(id) = viewer.id() else {
        let body = store
            .cached(&cache_key(&uri), || async {
                let article = blog.article(store, &slug, None).await?;
                Ok(Bytes::from(json::article_body(&article)))
            })
            .await?;
        return Ok(json_bytes(body));
    };
    let article = blog.article(store, &slug, Some(id)).await?;
    Ok(json_bytes(json::article_body(&article)))
}

async fn update_article(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
    ApiJson(body): ApiJson<ArticleBody<ArticleIn>>,
) -> Result<Response, Error> {
    // Own: the role must allow editing one's own articles; the blog
    // checks that it is.
    scope.allow(Action::UpdateArticle, true)?;
    let blog = &shared.services.blog;
    let input = UpdateArticleInput {
        title: body.article.title,
        description: body.article.description,
        body: body.article.body,
        tags: body.article.tag_list,
    };
    let article = blog
        .update_article(scope.store(), user.id, &slug, input)
        .await?;
    Ok(json_bytes(json::article_body(&article)))
}

async fn delete_article(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    scope.allow(Action::DeleteArticle, true)?;
    let blog = &shared.services.blog;
    let moderator = scope.moderates(Action::DeleteArticle);
    blog.delete_article(scope.store(), user.id, moderator, &slug)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn favorite_article(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    favorite(&shared, &scope, &user, &slug, true).await
}

async fn unfavorite_article(
    State(shared): State<AppState>,
    scope: Scope,
    user: AuthUser,
    PathParams(slug): PathParams<String>,
) -> Result<Response, Error> {
    favorite(&shared, &scope, &user, &slug, false).await
}

async fn favorite(
    shared: &AppState,
    scope: &Scope,
    user: &AuthUser,
    slug: &str,
    on: bool,
) -> Result<Response, Error> {
    scope.allow(Action::React, false)?;
    let blog = &shared.services.blog;
    let article = blog.favorite(scope.store(), user.id, slug, on).await?;
    Ok(json_bytes(json::article_body(&article)))
}
