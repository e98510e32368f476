//! The blog API through the real router (tower's `oneshot`), over a real
//! SQLite file in a temporary data directory, with the real accounts,
//! limiter and caches.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::Shared;
use crate::blog::limits::{Rate, RateLimits};

/// Limits no test reaches (but the one about limits).
const LAVISH: Rate = Rate {
    per_sec: 1e6,
    burst: 1e6,
};

pub(super) struct Api {
    pub(super) _dir: tempfile::TempDir,
    pub(super) shared: Arc<Shared>,
    pub(super) app: Router,
}

pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) json: Value,
    pub(super) raw: Vec<u8>,
}

impl Api {
    pub(super) async fn new() -> Api {
        Api::with(|_| {}).await
    }

    /// The API over a fresh PostgreSQL database (the fleet's backend:
    /// blog, organizations and billing in shared tables).
    pub(super) async fn on_postgres() -> Api {
        Api::on_postgres_with(|_| {}).await
    }

    /// [`Api::on_postgres`] with `tune`d settings.
    pub(super) async fn on_postgres_with(tune: impl FnOnce(&mut crate::Config)) -> Api {
        let url = tokio::task::spawn_blocking(agora_db::pg::testing::database)
            .await
            .unwrap();
        Api::with(|config| {
            config.database = Some(agora_db::DatabaseUrl::Postgres(url));
            config.jwt_secret = Some("blog-tests-key-0123456789abcdef0123".into());
            tune(config);
        })
        .await
    }

    pub(super) async fn with(tune: impl FnOnce(&mut crate::Config)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::new(dir.path().to_path_buf());
        config.blog.limits = RateLimits {
            read: LAVISH,
            write: LAVISH,
            auth: LAVISH,
        };
        tune(&mut config);
        let shared = Arc::new(
            Shared::open(config, CancellationToken::new())
                .await
                .unwrap(),
        );
        let app = crate::http::router(shared.clone());
        Api {
            _dir: dir,
            shared,
            app,
        }
    }

    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Token {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.unwrap_or_else(Body::empty)).unwrap();
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            raw,
        }
    }

    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|b| Body::from(b.to_string()));
        self.send(method, path, token, body, &[]).await
    }

    pub(super) async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    pub(super) async fn register(&self, name: &str) -> String {
        let a = self
            .call(
                Method::POST,
                "/api/users",
                None,
                Some(json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "password1"}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
        a.json["user"]["token"].as_str().unwrap().to_owned()
    }

    pub(super) async fn post_article(&self, token: &str, title: &str, tags: &[&str]) -> Value {
        let a = self
            .call(
                Method::POST,
                "/api/articles",
                Some(token),
                Some(json!({"article": {"title": title, "description": "d", "body": "b", "tagList": tags}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
        a.json["article"].clone()
    }
}

fn errors_of(a: &Answer) -> Vec<String> {
    let mut fields: Vec<String> = a.json["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("no errors object: {}", a.json))
        .keys()
        .cloned()
        .collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn register_login_and_the_current_user() {
    let api = Api::new().await;
    let token = api.register("Alice").await;
    let me = api.get("/api/user", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.json,
        json!({"user": {"email": "Alice@example.com", "token": token, "username": "alice", "bio": "", "image": ""}})
    );
    // Login by email, any case; Bearer works like Token.
    let login = api
        .call(
            Method::POST,
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "ALICE@example.com", "password": "password1"}})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.json);
    let fresh = login.json["user"]["token"].as_str().unwrap();
    let bearer = api
        .send(
            Method::GET,
            "/api/user",
            None,
            None,
            &[("authorization", &format!("Bearer {fresh}"))],
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
    let wrong = api
        .call(
            Method::POST,
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "alice@example.com", "password": "password2"}})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(errors_of(&wrong), ["email or password"]);
    // Update: bio and image set, then cleared with null; the name stays.
    let put = api
        .call(
            Method::PUT,
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": "I write", "image": "https://example.com/a.png", "email": "a2@example.com"}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.json);
    assert_eq!(put.json["user"]["bio"], "I write");
    assert_eq!(put.json["user"]["email"], "a2@example.com");
    let cleared = api
        .call(
            Method::PUT,
            "/api/user",
            Some(&token),
            Some(json!({"user": {"bio": null}})),
        )
        .await;
    assert_eq!(cleared.json["user"]["bio"], "");
    assert_eq!(cleared.json["user"]["image"], "https://example.com/a.png");
    let rename = api
        .call(
            Method::PUT,
            "/api/user",
            Some(&token),
            Some(json!({"user": {"username": "bob"}})),
        )
        .await;
    assert_eq!(rename.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_of(&rename), ["username"]);
    // Taken name and email.
    api.register("bob").await;
    let taken = api
        .call(
            Method::POST,
            "/api/users",
            None,
            Some(json!({"user": {"username": "BOB", "email": "a2@EXAMPLE.com", "password": "password1"}})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_of(&taken), ["username"]);
    let taken = api
        .call(
            Method::POST,
            "/api/users",
            None,
            Some(json!({"user": {"username": "carol", "email": "a2@EXAMPLE.com", "password": "password1"}})),
        )
        .await;
    assert_eq!(errors_of(&taken), ["email"]);
}

#[tokio::test]
async fn a_protocol_account_uses_its_token_here_and_sets_an_email_to_log_in() {
    let api = Api::new().await;
    let accounts = api.shared.services.base.accounts().clone();
    let signed = accounts.register("dave", "password1").await.unwrap();
    let me = api.get("/api/user", Some(&signed.token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["user"]["email"], "");
    let put = api
        .call(
            Method::PUT,
            "/api/user",
            Some(&signed.token),
            Some(json!({"user": {"email": "dave@example.com"}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let login = api
        .call(
            Method::POST,
            "/api/users/login",
            None,
            Some(json!({"user": {"email": "dave@example.com", "password": "password1"}})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    // And the API's token works on the protocol side.
    let token = login.json["user"]["token"].as_str().unwrap();
    assert_eq!(accounts.authenticate(token).await.unwrap().name, "dave");
    // An account made here can `agora login` by name.
    api.register("erin").await;
    assert!(accounts.login("erin", "password1").await.is_ok());
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let api = Api::new().await;
    let body = json!({"article": {"title": "t", "description": "d", "body": "b"}});
    let none = api
        .call(Method::POST, "/api/articles", None, Some(body.clone()))
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(errors_of(&none), ["token"]);
    let garbage = api
        .call(
            Method::POST,
            "/api/articles",
            Some("not.a.jwt"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    for header in ["Basic abc", "Token", "Token ", "tokenabc"] {
        let a = api
            .send(
                Method::GET,
                "/api/user",
                None,
                None,
                &[("authorization", header)],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{header}");
    }
    // A bad token on a route where auth is optional is still a 401.
    assert_eq!(
        api.get("/api/articles", Some("nope")).await.status,
        StatusCode::UNAUTHORIZED
    );
    for (method, path) in [
        (Method::GET, "/api/user"),
        (Method::PUT, "/api/user"),
        (Method::GET, "/api/articles/feed"),
        (Method::POST, "/api/profiles/x/follow"),
        (Method::DELETE, "/api/articles/x"),
        (Method::POST, "/api/articles/x/favorite"),
        (Method::POST, "/api/articles/x/comments"),
        (Method::DELETE, "/api/articles/x/comments/1"),
    ] {
        let a = api.call(method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn invalid_input_is_422_naming_the_fields() {
    let api = Api::new().await;
    let blank = api
        .call(Method::POST, "/api/users", None, Some(json!({"user": {}})))
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_of(&blank), ["email", "password", "username"]);
    let bad = api
        .call(
            Method::POST,
            "/api/users",
            None,
            Some(json!({"user": {"username": "has space", "email": "nope", "password": "short"}})),
        )
        .await;
    assert_eq!(errors_of(&bad), ["email", "password", "username"]);
    for raw in ["{", "[]", "{\"user\": 5}", "{\"user\": {\"email\": 5}}", ""] {
        let a = api
            .send(
                Method::POST,
                "/api/users/login",
                None,
                Some(Body::from(raw)),
                &[],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}");
        assert!(a.json["errors"].is_object(), "{raw}: {}", a.json);
    }
    let token = api.register("alice").await;
    let article = |v: Value| {
        api.call(
            Method::POST,
            "/api/articles",
            Some(&token),
            Some(json!({"article": v})),
        )
    };
    let a = article(json!({"title": " ", "body": "b"})).await;
    assert_eq!(errors_of(&a), ["description", "title"]);
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let a = article(json!({"title": "t", "description": "d", "body": "b", "tagList": many})).await;
    assert_eq!(errors_of(&a), ["tagList"]);
    let a = article(json!({"title": "x".repeat(300), "description": "d", "body": "b"})).await;
    assert_eq!(errors_of(&a), ["title"]);
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "offset=-1",
        "cursor=zzz",
        "offset=1&cursor=YTE6MQ",
    ] {
        let a = api.get(&format!("/api/articles?{query}"), None).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    let empty_update = api
        .call(
            Method::PUT,
            "/api/user",
            Some(&token),
            Some(json!({"user": {}})),
        )
        .await;
    assert_eq!(empty_update.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn only_the_author_may_change_or_delete() {
    let api = Api::new().await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let slug = api.post_article(&alice, "Mine", &[]).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/articles/{slug}");
    let edit = api
        .call(
            Method::PUT,
            &path,
            Some(&bob),
            Some(json!({"article": {"title": "Yours"}})),
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.call(Method::DELETE, &path, Some(&bob), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let comment = api
        .call(
            Method::POST,
            &format!("{path}/comments"),
            Some(&alice),
            Some(json!({"comment": {"body": "hi"}})),
        )
        .await;
    let id = comment.json["comment"]["id"].as_i64().unwrap();
    let delete = api
        .call(
            Method::DELETE,
            &format!("{path}/comments/{id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert_eq!(api.get(&path, None).await.json["article"]["title"], "Mine");
}

#[tokio::test]
async fn unknown_things_are_404() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    for (method, path) in [
        (Method::GET, "/api/articles/nope"),
        (Method::PUT, "/api/articles/nope"),
        (Method::DELETE, "/api/articles/nope"),
        (Method::POST, "/api/articles/nope/favorite"),
        (Method::GET, "/api/articles/nope/comments"),
        (Method::POST, "/api/articles/nope/comments"),
        (Method::GET, "/api/profiles/nobody"),
        (Method::GET, "/api/profiles/Not%20A%20Name"),
        (Method::POST, "/api/profiles/nobody/follow"),
        (Method::GET, "/api/nothing/here"),
    ] {
        let body = json!({"article": {"title": "t"}, "comment": {"body": "b"}});
        let a = api
            .call(method.clone(), path, Some(&token), Some(body))
            .await;
        assert_eq!(
            a.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            a.json
        );
        assert!(a.json["errors"].is_object());
    }
    let slug = api.post_article(&token, "Here", &[]).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in ["999", "abc", "-1"] {
        let a = api
            .call(
                Method::DELETE,
                &format!("/api/articles/{slug}/comments/{id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{id}");
    }
}

#[tokio::test]
async fn articles_slugs_collide_and_follow_renames() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    let first = api
        .post_article(&token, "How to train your dragon", &["z", "a", "a"])
        .await;
    assert_eq!(first["slug"], "how-to-train-your-dragon");
    assert_eq!(first["tagList"], json!(["a", "z"]));
    assert_eq!(first["favoritesCount"], 0);
    assert_eq!(first["author"]["username"], "alice");
    let created = first["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    let second = api
        .post_article(&token, "How to train your dragon!", &[])
        .await;
    assert_eq!(second["slug"], "how-to-train-your-dragon-2");
    let renamed = api
        .call(
            Method::PUT,
            "/api/articles/how-to-train-your-dragon",
            Some(&token),
            Some(json!({"article": {"title": "Dragons, again", "body": "new"}})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.json);
    assert_eq!(renamed.json["article"]["slug"], "dragons-again");
    assert_eq!(renamed.json["article"]["body"], "new");
    assert_eq!(
        api.get("/api/articles/how-to-train-your-dragon", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/articles/dragons-again", None).await.json["article"]["body"],
        "new"
    );
    let gone = api
        .call(
            Method::DELETE,
            "/api/articles/dragons-again",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert!(gone.raw.is_empty());
    assert_eq!(
        api.get("/api/articles/dragons-again", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn lists_page_filter_and_count_before_paging() {
    let api = Api::new().await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    for i in 0..25 {
        let token = if i % 5 == 0 { &bob } else { &alice };
        let tags: &[&str] = if i % 2 == 0 { &["even"] } else { &[] };
        api.post_article(token, &format!("Post {i}"), tags).await;
    }
    let first = api.get("/api/articles", None).await;
    assert_eq!(first.json["articlesCount"], 25);
    let list = first.json["articles"].as_array().unwrap();
    assert_eq!(list.len(), 20, "the default limit is 20");
    assert_eq!(list[0]["slug"], "post-24", "newest first");
    assert!(
        list.iter().all(|a| a.get("body").is_none()),
        "lists leave body out"
    );
    let rest = api.get("/api/articles?offset=20", None).await;
    assert_eq!(rest.json["articles"].as_array().unwrap().len(), 5);
    assert_eq!(rest.json["nextCursor"], Value::Null);
    let past = api.get("/api/articles?offset=1000&limit=100", None).await;
    assert_eq!(past.json["articles"], json!([]));
    assert_eq!(past.json["articlesCount"], 25);
    let even = api.get("/api/articles?tag=even&limit=1", None).await;
    assert_eq!(even.json["articlesCount"], 13);
    assert_eq!(even.json["articles"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/api/articles?author=BOB", None).await.json["articlesCount"],
        5
    );
    assert_eq!(
        api.get("/api/articles?author=nobody", None).await.json["articlesCount"],
        0
    );
    // Favourites: count, flag, filter.
    let fav = api
        .call(
            Method::POST,
            "/api/articles/post-3/favorite",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(fav.json["article"]["favorited"], true);
    assert_eq!(fav.json["article"]["favoritesCount"], 1);
    assert_eq!(
        api.get("/api/articles?favorited=bob", None).await.json["articlesCount"],
        1
    );
    let seen = api.get("/api/articles/post-3", Some(&alice)).await;
    assert_eq!(seen.json["article"]["favorited"], false);
    let unfav = api
        .call(
            Method::DELETE,
            "/api/articles/post-3/favorite",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(unfav.json["article"]["favoritesCount"], 0);
    // The feed: followed authors only.
    let empty = api.get("/api/articles/feed", Some(&alice)).await;
    assert_eq!(empty.json["articlesCount"], 0);
    let follow = api
        .call(Method::POST, "/api/profiles/bob/follow", Some(&alice), None)
        .await;
    assert_eq!(follow.json["profile"]["following"], true);
    let feed = api.get("/api/articles/feed?limit=2", Some(&alice)).await;
    assert_eq!(feed.json["articlesCount"], 5);
    assert_eq!(feed.json["articles"][0]["author"]["following"], true);
    assert_eq!(
        api.get("/api/profiles/bob", None).await.json["profile"]["following"],
        false
    );
    let unfollow = api
        .call(
            Method::DELETE,
            "/api/profiles/bob/follow",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(unfollow.json["profile"]["following"], false);
    let myself = api
        .call(
            Method::POST,
            "/api/profiles/alice/follow",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(myself.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Tags: in use, most used first.
    assert_eq!(
        api.get("/api/tags", None).await.json,
        json!({"tags": ["even"]})
    );
}

#[tokio::test]
async fn cursors_walk_a_list_without_gaps_or_repeats() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    for i in 0..7 {
        api.post_article(&token, &format!("c{i}"), &[]).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/articles?limit=3".to_owned();
    for page in 0.. {
        let a = api.get(&path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
        assert_eq!(a.json["articlesCount"], if page == 0 { 7 } else { 8 });
        for art in a.json["articles"].as_array().unwrap() {
            seen.push(art["slug"].as_str().unwrap().to_owned());
        }
        if page == 0 {
            // New articles do not shift a cursor walk.
            api.post_article(&token, "late", &[]).await;
        }
        match a.json["nextCursor"].as_str() {
            Some(c) => path = format!("/api/articles?limit=3&cursor={c}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("c{i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn comments_nest_and_deleting_one_with_replies_keeps_the_thread() {
    let api = Api::new().await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let slug = api.post_article(&alice, "Talk", &[]).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = api.post_article(&alice, "Elsewhere", &[]).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/articles/{slug}/comments");
    let add = |token: String, body: &str, parent: Option<i64>| {
        let path = path.clone();
        let body = json!({"comment": {"body": body, "parentId": parent}});
        let api = &api;
        async move {
            let a = api
                .call(Method::POST, &path, Some(&token), Some(body))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.json);
            a.json["comment"]["id"].as_i64().unwrap()
        }
    };
    let root = add(alice.clone(), "root", None).await;
    let reply = add(bob.clone(), "reply", Some(root)).await;
    let deeper = add(alice.clone(), "deeper", Some(reply)).await;
    let second = add(bob.clone(), "second", None).await;
    let flat = api.get(&path, None).await;
    let ids: Vec<i64> = flat.json["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![root, reply, deeper, second]);
    assert_eq!(flat.json["comments"][1]["parentId"], root);
    let tree = api.get(&format!("{path}?nested=true"), None).await;
    let roots = tree.json["comments"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0]["replies"][0]["replies"][0]["body"], "deeper");
    // A parent on another article is refused.
    let wrong = api
        .call(
            Method::POST,
            &format!("/api/articles/{other}/comments"),
            Some(&alice),
            Some(json!({"comment": {"body": "x", "parentId": root}})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_of(&wrong), ["parentId"]);
    // Deleting the root keeps the thread.
    let del = api
        .call(
            Method::DELETE,
            &format!("{path}/{root}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let tree = api.get(&format!("{path}?nested=true"), None).await;
    let top = &tree.json["comments"][0];
    assert_eq!(
        (top["body"].as_str(), top["deleted"].as_bool()),
        (Some("[deleted]"), Some(true))
    );
    assert_eq!(top["author"], Value::Null);
    assert_eq!(top["replies"][0]["body"], "reply");
    let flat = api.get(&path, None).await;
    assert_eq!(
        flat.json["comments"].as_array().unwrap().len(),
        3,
        "flat lists leave it out"
    );
    // Once its replies go, so does the tombstone.
    for (id, token) in [(deeper, &alice), (reply, &bob)] {
        let a = api
            .call(Method::DELETE, &format!("{path}/{id}"), Some(token), None)
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
    }
    let tree = api.get(&format!("{path}?nested=true"), None).await;
    assert_eq!(tree.json["comments"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get(&format!("{path}?nested=maybe"), None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn a_thread_thousands_deep_is_served() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    let slug = api.post_article(&token, "Deep", &[]).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = api.shared.db.clone();
    let depth = 5000;
    let s = slug.clone();
    tokio::task::spawn_blocking(move || {
        db.write(|c| {
            let blog = agora_db::blog::Blog::new(c);
            let (article, author) = blog.article_owner(&s)?.unwrap();
            let mut parent = None;
            for _ in 0..depth {
                parent = Some(blog.create_comment(article, author, parent, "x")?.id);
            }
            Ok(())
        })
    })
    .await
    .unwrap()
    .unwrap();
    let a = api
        .get(&format!("/api/articles/{slug}/comments?nested=true"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let replies = a.raw.windows(10).filter(|w| w == b"\"replies\":").count();
    assert_eq!(replies, depth);
}

#[tokio::test]
async fn limits_answer_429_with_headers_and_spare_health_checks() {
    let api = Api::with(|c| {
        c.blog.limits.read = Rate {
            per_sec: 0.001,
            burst: 3.0,
        };
        c.blog.limits.auth = Rate {
            per_sec: 0.001,
            burst: 1.0,
        };
    })
    .await;
    for left in (0..3).rev() {
        let a = api.get("/api/tags", None).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers["ratelimit-limit"], "3");
        assert_eq!(a.headers["ratelimit-remaining"], left.to_string().as_str());
        assert!(a.headers.contains_key("ratelimit-reset"));
    }
    let refused = api.get("/api/articles", None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(errors_of(&refused), ["rate"]);
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(refused.headers["ratelimit-remaining"], "0");
    // Sign-in attempts have their own, stricter bucket.
    let login = json!({"user": {"email": "x@example.com", "password": "password1"}});
    let first = api
        .call(Method::POST, "/api/users/login", None, Some(login.clone()))
        .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let second = api
        .call(Method::POST, "/api/users/login", None, Some(login))
        .await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    // Health and metrics are not limited.
    for _ in 0..10 {
        assert_eq!(api.get("/healthz", None).await.status, StatusCode::OK);
        assert_eq!(api.get("/metrics", None).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn unicode_and_sql_looking_text_is_stored_verbatim() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    let title = "Café ☕ 日本語 '; DROP TABLE blog_articles;--";
    let body = "Robert'); DELETE FROM users WHERE ('1'='1 \u{1F980} \"quoted\" \\ back";
    let a = api
        .call(
            Method::POST,
            "/api/articles",
            Some(&token),
            Some(json!({"article": {"title": title, "description": "% _ \u{0}", "body": body, "tagList": ["ünï", "' OR 1=1"]}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    let slug = a.json["article"]["slug"].as_str().unwrap().to_owned();
    assert_eq!(
        slug,
        "café-日本語-drop-table-blog_articles".replace('_', "-")
    );
    let encoded: String = slug
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let back = api.get(&format!("/api/articles/{encoded}"), None).await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.json["article"]["title"], title);
    assert_eq!(back.json["article"]["body"], body);
    assert_eq!(back.json["article"]["description"], "% _ \u{0}");
    assert_eq!(back.json["article"]["tagList"], json!(["' OR 1=1", "ünï"]));
    let by_tag = api.get("/api/articles?tag=%27%20OR%201%3D1", None).await;
    assert_eq!(by_tag.json["articlesCount"], 1);
    assert_eq!(
        api.get("/api/articles", None).await.json["articlesCount"],
        1
    );
}

#[tokio::test]
async fn idempotency_keys_replay_once_and_refuse_another_request() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    let body = json!({"article": {"title": "Once", "description": "d", "body": "b"}}).to_string();
    let post = |body: String, key: &'static str| {
        let api = &api;
        let token = token.clone();
        async move {
            api.send(
                Method::POST,
                "/api/articles",
                Some(&token),
                Some(Body::from(body)),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let first = post(body.clone(), "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let again = post(body.clone(), "k-1").await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.raw, first.raw);
    assert_eq!(
        api.get("/api/articles", None).await.json["articlesCount"],
        1
    );
    let other = post(body.replace("Once", "Twice"), "k-1").await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_of(&other), ["Idempotency-Key"]);
    let bad = post(body.clone(), "has space").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Concurrent retries: one creates, the others replay.
    let (a, b, c) = tokio::join!(
        post(body.clone(), "k-2"),
        post(body.clone(), "k-2"),
        post(body.clone(), "k-2")
    );
    assert!([&a, &b, &c].iter().all(|x| x.status == StatusCode::CREATED));
    assert!(a.raw == b.raw && b.raw == c.raw);
    assert_eq!(
        api.get("/api/articles", None).await.json["articlesCount"],
        2
    );
    // Comments and favourites too.
    let slug = first.json["article"]["slug"].as_str().unwrap();
    let comment = json!({"comment": {"body": "hi"}}).to_string();
    let path = format!("/api/articles/{slug}/comments");
    for _ in 0..2 {
        let a = api
            .send(
                Method::POST,
                &path,
                Some(&token),
                Some(Body::from(comment.clone())),
                &[("idempotency-key", "c")],
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    assert_eq!(
        api.get(&path, None).await.json["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let fav = format!("/api/articles/{slug}/favorite");
    for _ in 0..2 {
        let a = api
            .send(
                Method::POST,
                &fav,
                Some(&token),
                None,
                &[("idempotency-key", "f")],
            )
            .await;
        assert_eq!(a.json["article"]["favoritesCount"], 1);
    }
    // A failure is not kept: fixing the request with the same key works.
    let blank = json!({"article": {"title": " ", "description": "d", "body": "b"}}).to_string();
    assert_eq!(
        post(blank, "k-3").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post(body.replace("Once", "Third"), "k-3").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let api = Api::with(|c| c.blog.max_body = 1024).await;
    let token = api.register("alice").await;
    let big = json!({"article": {"title": "t", "description": "d", "body": "x".repeat(4096)}});
    let a = api
        .call(
            Method::POST,
            "/api/articles",
            Some(&token),
            Some(big.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(errors_of(&a), ["body"]);
    let keyed = api
        .send(
            Method::POST,
            "/api/articles",
            Some(&token),
            Some(Body::from(big.to_string())),
            &[("idempotency-key", "k")],
        )
        .await;
    assert_eq!(keyed.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn anonymous_reads_are_cached_but_never_stale() {
    let api = Api::new().await;
    let token = api.register("alice").await;
    api.post_article(&token, "One", &[]).await;
    assert_eq!(
        api.get("/api/articles", None).await.json["articlesCount"],
        1
    );
    assert_eq!(
        api.get("/api/articles/one", None).await.json["article"]["favoritesCount"],
        0
    );
    api.post_article(&token, "Two", &[]).await;
    api.call(
        Method::POST,
        "/api/articles/one/favorite",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        api.get("/api/articles", None).await.json["articlesCount"],
        2
    );
    assert_eq!(
        api.get("/api/articles/one", None).await.json["article"]["favoritesCount"],
        1
    );
    api.call(
        Method::PUT,
        "/api/user",
        Some(&token),
        Some(json!({"user": {"bio": "new"}})),
    )
    .await;
    assert_eq!(
        api.get("/api/articles/one", None).await.json["article"]["author"]["bio"],
        "new"
    );
}

#[test]
fn the_openapi_document_covers_the_spec_and_every_route() {
    let doc: Value = serde_json::from_str(super::openapi::DOCUMENT).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids: Vec<&str> = Vec::new();
    for (_, ops) in doc["paths"].as_object().unwrap() {
        for (_, op) in ops.as_object().unwrap() {
            ids.push(op["operationId"].as_str().unwrap());
        }
    }
    ids.sort_unstable();
    // The RealWorld spec's 19 operations and this API's own document.
    let mut expected = vec![
        "Login",
        "CreateUser",
        "GetCurrentUser",
        "UpdateCurrentUser",
        "GetProfileByUsername",
        "FollowUserByUsername",
        "UnfollowUserByUsername",
        "GetArticlesFeed",
        "GetArticles",
        "CreateArticle",
        "GetArticle",
        "UpdateArticle",
        "DeleteArticle",
        "GetArticleComments",
        "CreateArticleComment",
        "DeleteArticleComment",
        "CreateArticleFavorite",
        "DeleteArticleFavorite",
        "GetTags",
        "GetOpenApi",
    ];
    // And the organizations' (docs/BLOG.md, "Organizations").
    expected.extend([
        "ListMyOrgs",
        "CreateOrg",
        "GetOrg",
        "DeleteOrg",
        "RestoreOrg",
        "ListMembers",
        "SetRole",
        "RemoveMember",
        "Invite",
        "TransferOwnership",
        "AcceptInvitation",
        "DeclineInvitation",
    ]);
    expected.sort_unstable();
    assert_eq!(ids, expected);
    // Every route the router serves is documented, with its method.
    for (method, path) in [
        ("post", "/users"),
        ("post", "/users/login"),
        ("get", "/user"),
        ("put", "/user"),
        ("get", "/profiles/{username}"),
        ("post", "/profiles/{username}/follow"),
        ("delete", "/profiles/{username}/follow"),
        ("get", "/articles"),
        ("post", "/articles"),
        ("get", "/articles/feed"),
        ("get", "/articles/{slug}"),
        ("put", "/articles/{slug}"),
        ("delete", "/articles/{slug}"),
        ("post", "/articles/{slug}/favorite"),
        ("delete", "/articles/{slug}/favorite"),
        ("get", "/articles/{slug}/comments"),
        ("post", "/articles/{slug}/comments"),
        ("delete", "/articles/{slug}/comments/{id}"),
        ("get", "/tags"),
        ("get", "/openapi.json"),
        ("get", "/orgs"),
        ("post", "/orgs"),
        ("get", "/orgs/{slug}"),
        ("delete", "/orgs/{slug}"),
        ("post", "/orgs/{slug}/restore"),
        ("get", "/orgs/{slug}/members"),
        ("put", "/orgs/{slug}/members/{username}"),
        ("delete", "/orgs/{slug}/members/{username}"),
        ("post", "/orgs/{slug}/invitations"),
        ("post", "/orgs/{slug}/transfer"),
        ("post", "/invitations/{token}/accept"),
        ("post", "/invitations/{token}/decline"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} undocumented");
        assert!(
            op["responses"]["429"].is_object(),
            "{method} {path}: no 429"
        );
    }
    assert_eq!(doc["servers"][0]["url"], "/api");
}

#[tokio::test]
async fn the_document_is_served() {
    let api = Api::new().await;
    let a = api.get("/api/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.json["info"]["version"], "1.1.0");
}
