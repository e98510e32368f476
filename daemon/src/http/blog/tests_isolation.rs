//! The leak harness: organizations with look-alike data, and a member of
//! one trying every blog route to reach another's (docs/BLOG.md,
//! "Organizations"), through the real router over real SQLite files, and
//! again over PostgreSQL's shared tables (row-level security, docs/FLEET.md).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::tests::{Answer, Api};
use super::tests_orgs::host;
use agora_db::orgs::Role;

/// The leak harness: three organizations with look-alike data (the same
/// titles, slugs and tags, a user in two of them); a member of acme tries
/// to reach globex's data every way the API offers, and no answer carries
/// globex's content or changes it.
#[tokio::test]
async fn no_request_reaches_another_organizations_data() {
    leak_harness(Api::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_reaches_another_organizations_data_on_postgres() {
    leak_harness(Api::on_postgres().await).await;
}

async fn leak_harness(api: Api) {
    let alice = api.register("alice").await; // owner of acme, author in globex
    let bob = api.register("bob").await; // owner of globex
    let carol = api.register("carol").await; // owner of initech
    let dave = api.register("dave").await; // author in acme only
    for (token, org) in [(&alice, "acme"), (&bob, "globex"), (&carol, "initech")] {
        api.create_org(token, org).await;
    }
    api.join(&bob, "globex", "alice", &alice, Role::Author)
        .await;
    api.join(&alice, "acme", "dave", &dave, Role::Author).await;
    let mut globex_comment = 0;
    for (org, token) in [
        ("acme", &alice),
        ("globex", &bob),
        ("initech", &carol),
        ("globex", &alice),
    ] {
        let secret = format!("secret-{org}");
        let article = api.org_article(org, token, "Same Title", &secret).await;
        let slug = article["slug"].as_str().unwrap();
        let c = api
            .at(
                org,
                Method::POST,
                &format!("/api/articles/{slug}/comments"),
                Some(token),
                Some(json!({"comment": {"body": format!("comment {secret}")}})),
            )
            .await;
        if org == "globex" {
            globex_comment = c.json["comment"]["id"].as_i64().unwrap();
        }
    }
    let leaks = |a: &Answer, what: &str| {
        let text = String::from_utf8_lossy(&a.raw);
        assert!(
            !text.contains("secret-globex"),
            "{what}: {} {text}",
            a.status
        );
    };
    let globex_before = api
        .at("globex", Method::GET, "/api/articles", Some(&bob), None)
        .await;
    // 1. From acme's address, with globex's slugs, ids, tags and members.
    let slugs = ["same-title", "same-title-2"];
    let mut attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/articles".into(), None),
        (Method::GET, "/api/articles?tag=secret-globex".into(), None),
        (Method::GET, "/api/articles?author=bob".into(), None),
        (Method::GET, "/api/articles?favorited=bob".into(), None),
        (Method::GET, "/api/articles/feed".into(), None),
        (Method::GET, "/api/tags".into(), None),
        (Method::GET, "/api/profiles/bob".into(), None),
        (Method::POST, "/api/profiles/bob/follow".into(), None),
        (Method::DELETE, "/api/profiles/bob/follow".into(), None),
    ];
    for slug in slugs {
        attempts.extend([
            (Method::GET, format!("/api/articles/{slug}"), None),
            (Method::GET, format!("/api/articles/{slug}/comments"), None),
            (
                Method::GET,
                format!("/api/articles/{slug}/comments?nested=true"),
                None,
            ),
            (Method::POST, format!("/api/articles/{slug}/favorite"), None),
            (
                Method::DELETE,
                format!("/api/articles/{slug}/favorite"),
                None,
            ),
            (
                Method::POST,
                format!("/api/articles/{slug}/comments"),
                Some(json!({"comment": {"body": "x", "parentId": globex_comment}})),
            ),
            (
                Method::PUT,
                format!("/api/articles/{slug}"),
                Some(json!({"article": {"body": "defaced"}})),
            ),
            (
                Method::DELETE,
                format!("/api/articles/{slug}/comments/{globex_comment}"),
                None,
            ),
            (Method::DELETE, format!("/api/articles/{slug}"), None),
        ]);
    }
    for (method, path, body) in &attempts {
        for token in [Some(dave.as_str()), None] {
            let a = api
                .at("acme", method.clone(), path, token, body.clone())
                .await;
            leaks(&a, &format!("acme {method} {path}"));
            let a = api
                .send(
                    method.clone(),
                    &format!("/t/acme{path}"),
                    token,
                    body.clone().map(|b| axum::body::Body::from(b.to_string())),
                    &[],
                )
                .await;
            leaks(&a, &format!("/t/acme {method} {path}"));
        }
    }
    // 2. Into globex's address with a non-member's token (Host swap and
    //    /t/ path swap): every write is refused; a forged token is a 401.
    for (method, path, body) in attempts.iter().filter(|(m, ..)| *m != Method::GET) {
        let a = api
            .at("globex", method.clone(), path, Some(&dave), body.clone())
            .await;
        assert!(
            [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&a.status),
            "globex {method} {path}: {} {}",
            a.status,
            a.json
        );
        let a = api
            .send(
                method.clone(),
                &format!("/t/globex{path}"),
                Some(&dave),
                body.clone().map(|b| axum::body::Body::from(b.to_string())),
                &[],
            )
            .await;
        assert!(
            [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&a.status),
            "/t/globex {method} {path}: {} {}",
            a.status,
            a.json
        );
        let a = api
            .at(
                "globex",
                method.clone(),
                path,
                Some("forged.token.here"),
                body.clone(),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "forged {method} {path}");
        let h = host("acme");
        let a = api
            .send(
                method.clone(),
                &format!("/t/globex{path}"),
                Some(&dave),
                None,
                &[("host", &h)],
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "mixed {method} {path}");
        leaks(&a, "mixed");
    }
    let a = api.get("/api/orgs/globex/members", Some(&dave)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    leaks(&a, "members");
    // 3. The default blog and the third organization know nothing of it.
    for a in [
        api.get("/api/articles", None).await,
        api.get("/api/tags", None).await,
        api.at("initech", Method::GET, "/api/articles", Some(&alice), None)
            .await,
        api.at("initech", Method::GET, "/api/tags", None, None)
            .await,
    ] {
        leaks(&a, "elsewhere");
    }
    // alice, a member of both, sees each organization's own data only.
    let a = api
        .at("acme", Method::GET, "/api/articles", Some(&alice), None)
        .await;
    leaks(&a, "alice in acme");
    // globex is untouched.
    let globex_after = api
        .at("globex", Method::GET, "/api/articles", Some(&bob), None)
        .await;
    assert_eq!(globex_before.json, globex_after.json);
    let comments = api
        .at(
            "globex",
            Method::GET,
            "/api/articles/same-title/comments",
            None,
            None,
        )
        .await;
    assert_eq!(
        comments.json["comments"].as_array().unwrap().len(),
        1,
        "{}",
        comments.json
    );
}
