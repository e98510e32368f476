//! Plan limits under concurrency, through the real router over real
//! SQLite files: requests racing for the last places of a plan's limit
//! get exactly those places, the rest a 402. See docs/BLOG.md, "Billing".

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::tests::Api;
use super::tests_billing::api;

/// Counts the statuses of `answers`: (201s, 402s); anything else fails.
fn tally(statuses: &[StatusCode]) -> (usize, usize) {
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!(created + refused, statuses.len(), "{statuses:?}");
    (created, refused)
}

/// 98 articles on the free plan (100): eight creations at once, two
/// succeed. The count and the insert share one transaction on the
/// tenant file's writer, so no two creations read the same count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_articles_at_the_limit_get_exactly_the_places_left() {
    let api = api().await;
    let alice = api.register("alice").await;
    api.create_org(&alice, "acme").await;
    for i in 0..98 {
        api.org_article("acme", &alice, &format!("Post {i}"), "s")
            .await;
    }
    let statuses = futures::future::join_all((0..8).map(|i| {
        let (api, alice): (&Api, &str) = (&api, &alice);
        async move {
            let body =
                json!({"article": {"title": format!("Race {i}"), "description": "d", "body": "b"}});
            api.at(
                "acme",
                Method::POST,
                "/api/articles",
                Some(alice),
                Some(body),
            )
            .await
            .status
        }
    }))
    .await;
    assert_eq!(tally(&statuses), (2, 6), "{statuses:?}");
    let a = api.get("/api/orgs/acme/usage", Some(&alice)).await;
    assert_eq!(a.json["usage"]["articles"]["used"], 100, "{}", a.json);
}

/// The owner alone on the free plan (3 members, pending invitations
/// included): six invitations at once, two are made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invitations_at_the_limit_get_exactly_the_places_left() {
    let api = api().await;
    let alice = api.register("alice").await;
    let names = ["bob", "carol", "dave", "erin", "frank", "grace"];
    for name in names {
        api.register(name).await;
    }
    api.create_org(&alice, "acme").await;
    let statuses = futures::future::join_all(names.iter().map(|name| {
        let (api, alice) = (&api, &alice);
        async move { api.invite(alice, "acme", name).await.status }
    }))
    .await;
    assert_eq!(tally(&statuses), (2, 4), "{statuses:?}");
    let a = api.get("/api/orgs/acme/usage", Some(&alice)).await;
    let members = &a.json["usage"]["members"];
    assert_eq!(
        (members["used"].as_i64(), members["pending"].as_i64()),
        (Some(1), Some(2))
    );
}
