//! The blog and organizations across a fleet (issue 18, docs/FLEET.md
//! "The blog and organizations across nodes"): three daemons on one
//! PostgreSQL answer the same. Accounts signed up on one node sign in on
//! another, organizations made on one are joined on another, each
//! organization's RealWorld slice runs on its own node, and every read
//! of every site gives the same answer on every node; an organization
//! deleted on one node is gone on all.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::orgs::{At, DOMAIN, call, realworld_slice, register};
use crate::support::{Daemon, Home, postgres_database, rt};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

fn node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(
        home,
        &["--database", url, "--blog-domain", DOMAIN],
        &[("AGORA_JWT_SECRET", KEY)],
    )
}

/// Every site's reads (main, acme by Host, globex by path), as `viewer`
/// sees them on `addr`.
async fn reads(addr: SocketAddr, viewer: &str, slug: &str) -> Vec<(String, u16, Value)> {
    let mut out = Vec::new();
    for at in [At::Default, At::Host("acme"), At::Path("globex")] {
        for (path, token) in [
            ("/api/articles".to_owned(), None),
            ("/api/articles?tag=dragons".to_owned(), None),
            ("/api/articles/feed".to_owned(), Some(viewer)),
            (format!("/api/articles/{slug}"), Some(viewer)),
            (format!("/api/articles/{slug}/comments"), None),
            ("/api/tags".to_owned(), None),
            ("/api/profiles/writer".to_owned(), Some(viewer)),
        ] {
            let (status, body) = call(addr, at, "GET", &path, token, None).await;
            out.push((path, status, body));
        }
    }
    out
}

#[test]
fn three_nodes_serve_one_blog_and_the_same_organizations() {
    let url = postgres_database();
    let homes = [Home::new(), Home::new(), Home::new()];
    let nodes: Vec<Daemon> = homes.iter().map(|h| node(h, &url)).collect();
    let [a, b, c] = [
        nodes[0].ready.http,
        nodes[1].ready.http,
        nodes[2].ready.http,
    ];
    rt().block_on(async {
        // Signed up on A and B; signed in by email on C.
        let writer = register(a, "writer").await;
        let reader = register(b, "reader").await;
        let login = json!({"user": {"email": "WRITER@example.com", "password": "password1"}});
        let (status, body) = call(c, At::Default, "POST", "/api/users/login", None, Some(login)).await;
        assert_eq!(status, 200, "signed up on A, signed in on C: {body}");
        let dup = json!({"user": {"username": "other", "email": "writer@example.com", "password": "password1"}});
        let (status, body) = call(c, At::Default, "POST", "/api/users", None, Some(dup)).await;
        assert_eq!(status, 422, "an email taken on A is taken on C: {body}");
        assert!(body["errors"]["email"].is_array(), "{body}");

        // Organizations made on B, invitations sent from C, accepted on A.
        for org in ["acme", "globex"] {
            let (status, body) = call(
                b,
                At::Default,
                "POST",
                "/api/orgs",
                Some(&writer),
                Some(json!({"org": {"slug": org, "name": org}})),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            let (status, inv) = call(
                c,
                At::Default,
                "POST",
                &format!("/api/orgs/{org}/invitations"),
                Some(&writer),
                Some(json!({"invitation": {"username": "reader", "role": "viewer"}})),
            )
            .await;
            assert_eq!(status, 201, "{inv}");
            let token = inv["invitation"]["token"].as_str().unwrap();
            let (status, body) = call(
                a,
                At::Default,
                "POST",
                &format!("/api/invitations/{token}/accept"),
                Some(&reader),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = call(
            a,
            At::Default,
            "POST",
            "/api/orgs",
            Some(&reader),
            Some(json!({"org": {"slug": "acme", "name": "again"}})),
        )
        .await;
        assert_eq!(status, 422, "a slug taken on B is taken on A: {body}");

        // Each organization's slice on its own node; the main site's
        // article on A.
        realworld_slice(b, At::Host("acme"), &writer, &reader, "marker-acme", "marker-globex")
            .await;
        realworld_slice(c, At::Path("globex"), &writer, &reader, "marker-globex", "marker-acme")
            .await;
        let article = json!({"article": {"title": "How to train your dragon",
            "description": "main", "body": "marker-main", "tagList": ["dragons"]}});
        let (status, body) =
            call(a, At::Default, "POST", "/api/articles", Some(&writer), Some(article)).await;
        assert_eq!(status, 201, "{body}");
        let slug = body["article"]["slug"].as_str().unwrap().to_owned();
        assert_eq!(slug, "how-to-train-your-dragon", "slugs are per site");

        // The same answers everywhere.
        let on_a = reads(a, &reader, &slug).await;
        for (path, status, body) in &on_a {
            assert_eq!(*status, 200, "{path}: {body}");
        }
        for (name, addr) in [("B", b), ("C", c)] {
            let there = reads(addr, &reader, &slug).await;
            for ((path, sa, ba), (_, sx, bx)) in on_a.iter().zip(&there) {
                assert_eq!((sa, ba), (sx, bx), "{path} differs between A and {name}");
            }
        }
        let (_, main) = call(c, At::Default, "GET", "/api/articles", None, None).await;
        assert_eq!(main["articlesCount"], json!(1), "{main}");
        let text = main.to_string();
        assert!(text.contains("main") && !text.contains("marker-acme"), "{text}");

        // A favourite on C counts on B at once.
        let (status, body) = call(
            c,
            At::Host("acme"),
            "DELETE",
            &format!("/api/articles/{slug}/favorite"),
            Some(&reader),
            None,
        )
        .await;
        assert_eq!((status, &body["article"]["favoritesCount"]), (200, &json!(0)), "{body}");
        let (_, body) = call(b, At::Host("acme"), "GET", &format!("/api/articles/{slug}"), None, None).await;
        assert_eq!(body["article"]["favoritesCount"], json!(0), "{body}");
        // A's anonymous pages were cached by the reads above: a write on
        // another node makes them stale there too.
        let (_, body) = call(a, At::Host("acme"), "GET", "/api/articles", None, None).await;
        assert_eq!(body["articles"][0]["favoritesCount"], json!(0), "{body}");
        let second = json!({"article": {"title": "Second", "description": "d", "body": "b"}});
        let (status, body) =
            call(b, At::Default, "POST", "/api/articles", Some(&writer), Some(second)).await;
        assert_eq!(status, 201, "{body}");
        for addr in [a, c] {
            let (_, body) = call(addr, At::Default, "GET", "/api/articles", None, None).await;
            assert_eq!(body["articlesCount"], json!(2), "{body}");
            let (_, body) = call(addr, At::Default, "GET", "/api/tags", None, None).await;
            assert_eq!(body["tags"], json!(["dragons"]), "{body}");
        }

        // Deleted on A: gone on B and C.
        let (status, body) = call(a, At::Default, "DELETE", "/api/orgs/globex?confirm=globex", Some(&writer), None).await;
        assert!(status == 200 || status == 204, "{status} {body}");
        for addr in [b, c] {
            let (status, _) = call(addr, At::Path("globex"), "GET", "/api/articles", None, None).await;
            assert_eq!(status, 404);
        }
        let (status, body) = call(b, At::Host("acme"), "GET", "/api/articles", None, None).await;
        assert_eq!((status, &body["articlesCount"]), (200, &json!(1)), "{body}");
    });
}
