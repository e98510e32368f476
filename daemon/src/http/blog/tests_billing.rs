//! Billing through the real router over real SQLite files: plan limits
//! (402), usage, a downgrade that does not fit (409), the policy on the
//! billing routes, and the webhook receiver (signature, timestamp,
//! idempotency, ordering, unknown customers). The provider's side, and
//! the whole flow against it, are in `billing::provider` and
//! tests/e2e/billing.rs.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::tests::{Answer, Api};
use crate::billing::signature;
use agora_db::orgs::Role;

const SECRET: &str = "whsec_router_tests";

pub(super) async fn api() -> Api {
    Api::with(|c| c.billing.webhook_secret = Some(SECRET.into())).await
}

pub(super) fn set_plan(api: &Api, org: &str, plan: &str) {
    let (org, plan) = (org.to_owned(), plan.to_owned());
    api.shared
        .db
        .write(move |c| {
            c.execute("UPDATE orgs SET plan = ?2 WHERE slug = ?1", [&org, &plan])?;
            Ok(())
        })
        .unwrap();
}

impl Api {
    pub(super) async fn invite(&self, owner: &str, org: &str, name: &str) -> Answer {
        self.call(
            Method::POST,
            &format!("/api/orgs/{org}/invitations"),
            Some(owner),
            Some(json!({"invitation": {"username": name, "role": "author"}})),
        )
        .await
    }

    async fn hook(&self, body: &Value, sig: Option<String>) -> Answer {
        let raw = body.to_string();
        let sig = sig.unwrap_or_else(|| {
            signature::sign(
                SECRET.as_bytes(),
                crate::now_ms() as i64 / 1000,
                raw.as_bytes(),
            )
        });
        self.send(
            Method::POST,
            "/api/billing/webhook",
            None,
            Some(axum::body::Body::from(raw)),
            &[
                ("agora-signature", &sig),
                ("content-type", "application/json"),
            ],
        )
        .await
    }
}

fn limit_of(a: &Answer) -> &Value {
    &a.json["limit"]
}

#[tokio::test]
async fn the_free_plan_limits_members_with_a_402_naming_the_plan_that_lifts_it() {
    let api = api().await;
    let alice = api.register("alice").await;
    let mut tokens = Vec::new();
    for name in ["bob", "carol", "dave"] {
        tokens.push(api.register(name).await);
    }
    api.create_org(&alice, "acme").await;
    api.join(&alice, "acme", "bob", &tokens[0], Role::Author)
        .await;
    // Two members and one pending invitation fill the free plan's three.
    let a = api.invite(&alice, "acme", "carol").await;
    assert_eq!(a.status, StatusCode::CREATED);
    let carol_invite = a.json["invitation"]["token"].as_str().unwrap().to_owned();
    let a = api.invite(&alice, "acme", "dave").await;
    assert_eq!(a.status, StatusCode::PAYMENT_REQUIRED, "{}", a.json);
    assert_eq!(
        *limit_of(&a),
        json!({"name": "members", "plan": "free", "limit": 3, "usage": 3, "upgradeTo": "team"})
    );
    let says = a.json["errors"]["plan"][0].as_str().unwrap();
    assert!(
        says.contains("free plan allows 3 members") && says.contains("team"),
        "{says}"
    );
    // Usage shows it.
    let a = api.get("/api/orgs/acme/usage", Some(&tokens[0])).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let u = &a.json["usage"];
    assert_eq!(
        (u["plan"].as_str(), u["members"]["used"].as_i64()),
        (Some("free"), Some(2))
    );
    assert_eq!(u["members"]["pending"], 1);
    assert_eq!(u["members"]["limit"], 3);
    assert_eq!(u["articles"], json!({"used": 0, "limit": 100}));
    // On team there is room: dave is invited, and joins.
    set_plan(&api, "acme", "team");
    let a = api.invite(&alice, "acme", "dave").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    let dave_invite = a.json["invitation"]["token"].as_str().unwrap().to_owned();
    // Back on free (a subscription ended): carol makes three members;
    // dave would make four: refused, and his invitation stays pending
    // for when there is room.
    set_plan(&api, "acme", "free");
    let carol = format!("/api/invitations/{carol_invite}/accept");
    let a = api.call(Method::POST, &carol, Some(&tokens[1]), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let accept = format!("/api/invitations/{dave_invite}/accept");
    let a = api
        .call(Method::POST, &accept, Some(&tokens[2]), None)
        .await;
    assert_eq!(a.status, StatusCode::PAYMENT_REQUIRED, "{}", a.json);
    assert_eq!(limit_of(&a)["usage"], 3);
    set_plan(&api, "acme", "team");
    let a = api
        .call(Method::POST, &accept, Some(&tokens[2]), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
}

#[tokio::test]
async fn the_free_plan_limits_articles_counted_in_the_tenant_file() {
    let api = api().await;
    let alice = api.register("alice").await;
    api.create_org(&alice, "acme").await;
    for i in 0..100 {
        api.org_article("acme", &alice, &format!("Post {i}"), "s")
            .await;
    }
    let a = api
        .at(
            "acme",
            Method::POST,
            "/api/articles",
            Some(&alice),
            Some(json!({"article": {"title": "One more", "description": "d", "body": "b"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYMENT_REQUIRED, "{}", a.json);
    assert_eq!(
        *limit_of(&a),
        json!({"name": "articles", "plan": "free", "limit": 100, "usage": 100, "upgradeTo": "team"})
    );
    // The organization-less blog has no plan; another organization has
    // its own count.
    api.create_org(&alice, "globex").await;
    api.org_article("globex", &alice, "First", "g").await;
    let a = api.get("/api/orgs/acme/usage", Some(&alice)).await;
    assert_eq!(a.json["usage"]["articles"]["used"], 100);
    // A downgrade from team below the usage is refused too (409), with
    // the same detail; team itself is fine.
    set_plan(&api, "acme", "team");
    api.org_article("acme", &alice, "Post 100", "s").await;
    let a = api
        .call(
            Method::PUT,
            "/api/orgs/acme/plan",
            Some(&alice),
            Some(json!({"plan": {"name": "free"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.json);
    assert_eq!(
        *limit_of(&a),
        json!({"name": "articles", "plan": "free", "limit": 100, "usage": 101, "upgradeTo": "team"})
    );
}

#[tokio::test]
async fn billing_routes_follow_the_policy_and_say_when_billing_is_off() {
    let api = api().await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let eve = api.register("eve").await;
    api.create_org(&alice, "acme").await;
    api.join(&alice, "acme", "bob", &bob, Role::Viewer).await;
    let plan = Some(json!({"plan": {"name": "team"}}));
    // A viewer sees usage, not invoices; cannot change the plan.
    assert_eq!(
        api.get("/api/orgs/acme/usage", Some(&bob)).await.status,
        StatusCode::OK
    );
    for (method, path, body) in [
        (Method::GET, "/api/orgs/acme/invoices", None),
        (Method::GET, "/api/orgs/acme/subscription", None),
        (Method::PUT, "/api/orgs/acme/plan", plan.clone()),
        (Method::POST, "/api/orgs/acme/checkout", plan.clone()),
        (Method::POST, "/api/orgs/acme/subscription/cancel", None),
    ] {
        let a = api
            .call(method.clone(), path, Some(&bob), body.clone())
            .await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            a.json
        );
        let a = api.call(method.clone(), path, Some(&eve), body).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "outsider {method} {path}");
    }
    assert_eq!(
        api.get("/api/orgs/acme/usage", Some(&eve)).await.status,
        StatusCode::FORBIDDEN
    );
    // The owner: no subscription, no invoices; without --billing-mock
    // there is no provider to check out with (503), and a paid plan
    // needs a checkout first (402).
    let a = api.get("/api/orgs/acme/subscription", Some(&alice)).await;
    assert_eq!(a.json["billing"]["subscription"], Value::Null, "{}", a.json);
    assert_eq!(a.json["billing"]["plan"], "free");
    let a = api.get("/api/orgs/acme/invoices", Some(&alice)).await;
    assert_eq!(a.json, json!({"invoices": []}));
    let a = api
        .call(
            Method::POST,
            "/api/orgs/acme/checkout",
            Some(&alice),
            plan.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.json);
    assert!(
        a.json["errors"]["billing"][0]
            .as_str()
            .unwrap()
            .contains("--billing-mock")
    );
    let a = api
        .call(Method::PUT, "/api/orgs/acme/plan", Some(&alice), plan)
        .await;
    assert_eq!(a.status, StatusCode::PAYMENT_REQUIRED, "{}", a.json);
    assert!(
        a.json["errors"]["subscription"][0]
            .as_str()
            .unwrap()
            .contains("checkout")
    );
    for (body, field) in [
        (json!({"plan": {"name": "gold"}}), "plan"),
        (json!({"plan": {}}), "plan"),
    ] {
        let a = api
            .call(Method::PUT, "/api/orgs/acme/plan", Some(&alice), Some(body))
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.json);
        assert!(a.json["errors"].get(field).is_some(), "{}", a.json);
    }
    let a = api
        .call(
            Method::POST,
            "/api/orgs/acme/subscription/cancel",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.json);
    // A custom domain is the business plan's.
    let domain = Some(json!({"domain": "blog.acme.example"}));
    let a = api
        .call(
            Method::PUT,
            "/api/orgs/acme/domain",
            Some(&alice),
            domain.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYMENT_REQUIRED, "{}", a.json);
    assert_eq!(limit_of(&a)["upgradeTo"], "business");
    set_plan(&api, "acme", "business");
    let a = api
        .call(Method::PUT, "/api/orgs/acme/domain", Some(&alice), domain)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["billing"]["customDomain"], "blog.acme.example");
    let bad = Some(json!({"domain": "not a domain"}));
    let a = api
        .call(Method::PUT, "/api/orgs/acme/domain", Some(&alice), bad)
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.json);
    // Moving to team with a custom domain set does not fit.
    let a = api
        .call(
            Method::PUT,
            "/api/orgs/acme/plan",
            Some(&alice),
            Some(json!({"plan": {"name": "team"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.json);
    assert_eq!(limit_of(&a)["name"], "custom_domain");
}

fn event(id: &str, customer: &str, version: i64, status: &str, plan: &str) -> Value {
    json!({
        "id": id, "object": "event", "type": "customer.subscription.updated", "created": 1,
        "data": {"object": {
            "id": "sub_1", "object": "subscription", "customer": customer, "plan": plan,
            "status": status, "current_period_start": 0, "current_period_end": 100,
            "trial_end": null, "cancel_at_period_end": false, "version": version,
        }}
    })
}

#[tokio::test]
async fn the_webhook_receiver_verifies_dedupes_and_never_goes_backwards() {
    let api = api().await;
    let alice = api.register("alice").await;
    api.create_org(&alice, "acme").await;
    api.shared
        .db
        .write(|c| agora_db::billing::Billing::new(c).set_customer(1, "cus_1", None))
        .unwrap();
    let status = |api: &Api| {
        api.shared
            .db
            .read(|c| agora_db::billing::Billing::new(c).subscription(1))
            .unwrap()
            .map(|s| (s.status, s.version))
    };
    let plan = |api: &Api| {
        api.shared
            .db
            .read(|c| agora_db::billing::Billing::new(c).plan(1))
            .unwrap()
            .unwrap()
    };
    // Forged, stale, missing: 400, nothing changes.
    let body = event("evt_1", "cus_1", 5, "active", "team");
    let now = crate::now_ms() as i64 / 1000;
    let forged = format!("t={now},v1={}", "00".repeat(32));
    let stale = signature::sign(SECRET.as_bytes(), now - 301, body.to_string().as_bytes());
    for (sig, says) in [
        (forged, "no v1"),
        (stale, "tolerance"),
        ("nonsense".into(), "malformed"),
    ] {
        let a = api.hook(&body, Some(sig)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.json);
        assert!(
            a.json["errors"]["signature"][0]
                .as_str()
                .unwrap()
                .contains(says),
            "{}",
            a.json
        );
    }
    assert_eq!(status(&api), None);
    // A good one applies, and the plan follows.
    let a = api.hook(&body, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["changed"], true);
    assert_eq!(status(&api), Some(("active".into(), 5)));
    assert_eq!(plan(&api), "team");
    // The same event again: acknowledged, ignored.
    let a = api.hook(&body, None).await;
    assert_eq!(
        (a.status, &a.json["duplicate"]),
        (StatusCode::OK, &json!(true))
    );
    // An older event arriving late: acknowledged, changes nothing.
    let a = api
        .hook(&event("evt_0", "cus_1", 4, "trialing", "team"), None)
        .await;
    assert_eq!(
        (a.status, &a.json["changed"]),
        (StatusCode::OK, &json!(false))
    );
    assert_eq!(status(&api), Some(("active".into(), 5)));
    // A newer one moving to unpaid: the plan's limits fall back to free.
    api.hook(&event("evt_2", "cus_1", 6, "unpaid", "team"), None)
        .await;
    assert_eq!(status(&api), Some(("unpaid".into(), 6)));
    assert_eq!(plan(&api), "free");
    // An unknown customer is a 404, and malformed events 400s: never 500.
    let a = api
        .hook(&event("evt_3", "cus_nobody", 7, "active", "team"), None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.json);
    assert!(
        a.json["errors"]["event"][0]
            .as_str()
            .unwrap()
            .contains("cus_nobody")
    );
    for bad in [
        json!({"id": "evt_4"}),
        json!([1, 2]),
        event("evt_5", "cus_1", 8, "exploded", "team"),
        event("evt_6", "cus_1", 8, "active", "gold"),
    ] {
        let a = api.hook(&bad, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.json);
    }
    // A refused event is not recorded: delivered again once valid, it
    // is handled.
    assert_eq!(status(&api), Some(("unpaid".into(), 6)));
    let a = api
        .hook(&event("evt_5", "cus_1", 8, "active", "team"), None)
        .await;
    assert_eq!(a.json["changed"], true, "{}", a.json);
}

#[tokio::test]
async fn without_a_secret_the_receiver_is_off() {
    let api = Api::new().await;
    let body = event("evt_1", "cus_1", 1, "active", "team");
    let sig = signature::sign(
        b"x",
        crate::now_ms() as i64 / 1000,
        body.to_string().as_bytes(),
    );
    let a = api
        .send(
            Method::POST,
            "/api/billing/webhook",
            None,
            Some(axum::body::Body::from(body.to_string())),
            &[("agora-signature", &sig)],
        )
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.json);
}
