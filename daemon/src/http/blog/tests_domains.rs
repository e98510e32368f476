//! Custom domains (the business plan's) through the real router: a
//! domain set with `PUT /api/orgs/{slug}/domain` routes its Host to the
//! organization, is unique, is not under the base domain, stops routing
//! below the business plan and when cleared; and the leak harness's
//! Host-swap cases on custom domains.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::tests::{Answer, Api};
use super::tests_billing::{api, set_plan};
use agora_db::orgs::Role;

impl Api {
    /// A request with `Host: host`.
    async fn on(
        &self,
        host: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|b| axum::body::Body::from(b.to_string()));
        self.send(method, path, token, body, &[("host", host)])
            .await
    }

    async fn set_domain(&self, owner: &str, org: &str, domain: Value) -> Answer {
        self.call(
            Method::PUT,
            &format!("/api/orgs/{org}/domain"),
            Some(owner),
            Some(json!({ "domain": domain })),
        )
        .await
    }
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.raw).into_owned()
}

#[tokio::test]
async fn a_custom_domain_routes_to_its_organization_while_on_business() {
    let api = api().await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    api.create_org(&alice, "acme").await;
    api.create_org(&bob, "globex").await;
    api.org_article("acme", &alice, "Hello", "secret-acme")
        .await;
    set_plan(&api, "acme", "business");
    set_plan(&api, "globex", "business");
    // Before it is set, the host is nobody's: the organization-less blog.
    let a = api
        .on("Blog.Acme.com", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!text(&a).contains("secret-acme"), "{}", text(&a));
    let a = api
        .set_domain(&alice, "acme", json!("Blog.Acme.com."))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["billing"]["customDomain"], "blog.acme.com");
    for host in ["blog.acme.com", "BLOG.ACME.COM:8443"] {
        let a = api.on(host, Method::GET, "/api/articles", None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{host}");
        assert_eq!(a.json["articlesCount"], 1, "{host}: {}", a.json);
        assert!(text(&a).contains("secret-acme"));
    }
    // Writes by a member work there too.
    let a = api
        .on(
            "blog.acme.com",
            Method::POST,
            "/api/articles",
            Some(&alice),
            Some(json!({"article": {"title": "Via domain", "description": "d", "body": "b"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    // Unique across organizations; a host name; not under the base domain.
    let a = api.set_domain(&bob, "globex", json!("blog.acme.com")).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.json);
    for bad in [
        "acme.blog.localhost",
        "blog.localhost",
        "no_underscores.com",
        "x",
    ] {
        let a = api.set_domain(&bob, "globex", json!(bad)).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            a.json
        );
    }
    // Below business it stays stored but stops routing (404, naming
    // nothing); back on business it routes again.
    set_plan(&api, "acme", "team");
    let a = api
        .on("blog.acme.com", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.json);
    assert!(!text(&a).contains("acme"), "{}", text(&a));
    let a = api.get("/api/orgs/acme/plan", Some(&alice)).await;
    assert_eq!(
        a.json["billing"]["customDomain"], "blog.acme.com",
        "{}",
        a.json
    );
    set_plan(&api, "acme", "business");
    let a = api
        .on("blog.acme.com", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(a.json["articlesCount"], 2, "{}", a.json);
    // Moved to another domain: the old one is free, and nobody's.
    let a = api.set_domain(&alice, "acme", json!("www.acme.com")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let a = api
        .on("blog.acme.com", Method::GET, "/api/articles", None, None)
        .await;
    assert!(!text(&a).contains("secret-acme"), "{}", text(&a));
    let a = api
        .on("www.acme.com", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(a.json["articlesCount"], 2, "{}", a.json);
    let a = api.set_domain(&bob, "globex", json!("blog.acme.com")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    // Cleared: it stops routing.
    let a = api.set_domain(&alice, "acme", Value::Null).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let a = api
        .on("www.acme.com", Method::GET, "/api/articles", None, None)
        .await;
    assert!(!text(&a).contains("secret-acme"), "{}", text(&a));
}

/// The leak harness's Host swaps on custom domains: acme's member, on
/// acme's custom domain, asks for globex's slugs and objects, and on
/// globex's custom domain tries to write; a custom domain and a `/t/`
/// prefix naming two organizations are a 400. Nothing of globex's shows
/// and nothing changes.
#[tokio::test]
async fn custom_domains_do_not_leak_across_organizations() {
    let api = api().await;
    let alice = api.register("alice").await; // owner of acme
    let bob = api.register("bob").await; // owner of globex
    let dave = api.register("dave").await; // author in acme
    api.create_org(&alice, "acme").await;
    api.create_org(&bob, "globex").await;
    api.join(&alice, "acme", "dave", &dave, Role::Author).await;
    for (org, token) in [("acme", &alice), ("globex", &bob)] {
        set_plan(&api, org, "business");
        let a = api
            .set_domain(token, org, json!(format!("blog.{org}.com")))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
        api.org_article(org, token, "Same Title", &format!("secret-{org}"))
            .await;
        let a = api
            .at(
                org,
                Method::POST,
                "/api/articles/same-title/comments",
                Some(token),
                Some(json!({"comment": {"body": format!("comment secret-{org}")}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    }
    let before = api
        .on(
            "blog.globex.com",
            Method::GET,
            "/api/articles",
            Some(&bob),
            None,
        )
        .await;
    assert!(text(&before).contains("secret-globex"));
    let attempts: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/api/articles", None),
        (Method::GET, "/api/articles?tag=secret-globex", None),
        (Method::GET, "/api/articles?author=bob", None),
        (Method::GET, "/api/articles/feed", None),
        (Method::GET, "/api/tags", None),
        (Method::GET, "/api/profiles/bob", None),
        (Method::GET, "/api/articles/same-title", None),
        (Method::GET, "/api/articles/same-title/comments", None),
        (Method::POST, "/api/articles/same-title/favorite", None),
        (
            Method::POST,
            "/api/articles/same-title/comments",
            Some(json!({"comment": {"body": "x"}})),
        ),
        (
            Method::PUT,
            "/api/articles/same-title",
            Some(json!({"article": {"body": "defaced"}})),
        ),
        (Method::DELETE, "/api/articles/same-title/comments/1", None),
        (Method::DELETE, "/api/articles/same-title", None),
    ];
    for (method, path, body) in &attempts {
        // On acme's domain, with or without a token: acme's data only.
        for token in [Some(dave.as_str()), None] {
            let a = api
                .on("blog.acme.com", method.clone(), path, token, body.clone())
                .await;
            assert!(
                !text(&a).contains("secret-globex"),
                "{method} {path}: {}",
                text(&a)
            );
        }
        // globex's domain with acme's member: no write goes through.
        if *method != Method::GET {
            let a = api
                .on(
                    "blog.globex.com",
                    method.clone(),
                    path,
                    Some(&dave),
                    body.clone(),
                )
                .await;
            assert!(
                [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&a.status),
                "blog.globex.com {method} {path}: {} {}",
                a.status,
                a.json
            );
        }
        // A custom domain and a /t/ prefix for two organizations.
        let a = api
            .on(
                "blog.acme.com",
                method.clone(),
                &format!("/t/globex{path}"),
                Some(&dave),
                body.clone(),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "mixed {method} {path}");
        assert!(!text(&a).contains("secret-globex"));
    }
    // A look-alike host is nobody's (the organization-less blog).
    for host in [
        "blog.globex.com.evil.test",
        "xblog.globex.com",
        "globex.com",
    ] {
        let a = api
            .on(host, Method::GET, "/api/articles", Some(&dave), None)
            .await;
        assert!(!text(&a).contains("secret-globex"), "{host}: {}", text(&a));
    }
    let after = api
        .on(
            "blog.globex.com",
            Method::GET,
            "/api/articles",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(before.json, after.json);
}
