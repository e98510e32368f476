//! Billing end to end (docs/BLOG.md, "Billing"): the real daemon with
//! `--billing-mock`, its webhooks delivered twice each and newest first.
//! An organization on the free plan hits its limits (402); it checks out
//! the team plan on the mock's card form; the test clock then drives a
//! trial's end, a renewal, a failed payment (past_due, a failed retry,
//! a new card, recovery), an upgrade with proration, and a cancellation
//! at period end; a downgrade that does not fit is refused. No sleeping
//! for time: the test clock moves it, and the asynchronous webhooks are
//! awaited by polling agora's state with a deadline. `agora org plan|
//! usage|invoices --json` are checked against their schemas on the way.

use std::net::SocketAddr;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::blog::conforms;
use crate::orgs::{At, DOMAIN};
use crate::support::{Daemon, Home, rt, saved_token};

const DAY: i64 = 24 * 3600;

/// A request to agora, to an organization by Host or to none
/// (`crate::orgs::call`).
async fn call(
    addr: SocketAddr,
    host: Option<&str>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let at = host.map_or(At::Default, At::Host);
    crate::orgs::call(addr, at, method, path, token, body).await
}

/// Polls `check` on agora's answers until it holds, failing after 20 s
/// with the last answer.
async fn until(what: &str, mut check: impl AsyncFnMut() -> (bool, Value)) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (done, last) = check().await;
        if done {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "waited 20 s for {what}; last: {last:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

struct Org {
    addr: SocketAddr,
    token: String,
}

impl Org {
    async fn get(&self, path: &str) -> Value {
        let (status, body) = call(self.addr, None, "GET", path, Some(&self.token), None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn billing(&self) -> Value {
        self.get("/api/orgs/acme/subscription").await["billing"].clone()
    }

    async fn invoices(&self) -> Vec<Value> {
        self.get("/api/orgs/acme/invoices").await["invoices"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until the subscription is `status` (and `plan`).
    async fn until_status(&self, status: &str, plan: &str) -> Value {
        until(&format!("{status} on {plan}"), async || {
            let b = self.billing().await;
            let done = b["subscription"]["status"] == status && b["plan"] == plan;
            (done, b)
        })
        .await
    }

    /// Waits until there are `n` invoices, all `paid` but the newest,
    /// which is `newest`; answers them newest first.
    async fn until_invoices(&self, n: usize, newest: &str, attempts: i64) -> Vec<Value> {
        let v = until(&format!("{n} invoices, the newest {newest}"), async || {
            let list = self.invoices().await;
            let done = list.len() == n
                && list[0]["status"] == newest
                && list[0]["attemptCount"] == attempts
                && list[1..].iter().all(|i| i["status"] == "paid");
            (done, Value::Array(list))
        })
        .await;
        v.as_array().unwrap().clone()
    }

    async fn mock(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/billing-mock{path}");
        let (status, answer) = call(self.addr, None, method, &path, None, Some(body)).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    async fn advance(&self, clock: &str, to: i64) {
        self.mock(
            "POST",
            &format!("/test_clocks/{clock}/advance"),
            json!({ "to": to }),
        )
        .await;
    }

    async fn article(&self, title: &str) -> (u16, Value) {
        let body = json!({"article": {"title": title, "description": "d", "body": "b"}});
        call(
            self.addr,
            Some("acme"),
            "POST",
            "/api/articles",
            Some(&self.token),
            Some(body),
        )
        .await
    }
}

fn org_cli(home: &Home, daemon: &Daemon, args: &[&str]) -> Output {
    let http = daemon.ready.http.to_string();
    let mut all = vec![
        "org",
        "--addr",
        &daemon.addr,
        "--http-addr",
        &http,
        "--json",
    ];
    all.extend_from_slice(args);
    home.run(&all, None)
}

fn cli_json(out: &Output, schema: &str) -> Value {
    assert!(
        out.status.success(),
        "{schema}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    conforms(schema, &v);
    v
}

#[test]
fn a_subscription_through_checkout_renewal_dunning_proration_and_cancellation() {
    let home = Home::new();
    let bob = Home::new();
    let daemon = Daemon::start(
        &home,
        &[
            "--blog-domain",
            DOMAIN,
            "--blog-write-rate",
            "10000",
            "--blog-write-burst",
            "10000",
            "--billing-mock",
            "--billing-mock-duplicates",
            "1",
            "--billing-mock-reorder",
            "1",
        ],
    );
    home.register(&daemon.addr, "alice", "password1");
    bob.register(&daemon.addr, "bob", "password1");
    for name in ["carol", "dave"] {
        Home::new().register(&daemon.addr, name, "password1");
    }
    let org = Org {
        addr: daemon.ready.http,
        token: saved_token(&home, &daemon.addr),
    };
    rt().block_on(async {
        let (status, body) = call(
            org.addr,
            None,
            "POST",
            "/api/orgs",
            Some(&org.token),
            Some(json!({"org": {"slug": "acme", "name": "Acme"}})),
        )
        .await;
        assert_eq!(status, 201, "{body}");

        // The free plan: three members (pending invitations count), then 402.
        for (name, expect) in [("bob", 201), ("carol", 201), ("dave", 402)] {
            let invite = json!({"invitation": {"username": name}});
            let (status, body) = call(
                org.addr, None, "POST", "/api/orgs/acme/invitations", Some(&org.token), Some(invite),
            )
            .await;
            assert_eq!(status, expect, "{name}: {body}");
            if expect == 402 {
                assert_eq!(
                    body["limit"],
                    json!({"name": "members", "plan": "free", "limit": 3, "usage": 3, "upgradeTo": "team"})
                );
            }
        }
        // … and a hundred articles, then 402.
        for i in 0..100 {
            assert_eq!(org.article(&format!("Post {i}")).await.0, 201);
        }
        let (status, body) = org.article("One too many").await;
        assert_eq!(status, 402, "{body}");
        assert_eq!(body["limit"]["name"], "articles");
        assert_eq!(body["limit"]["upgradeTo"], "team");
    });
    let usage = cli_json(&org_cli(&home, &daemon, &["usage", "acme"]), "org-usage");
    assert_eq!(
        usage["usage"]["articles"],
        json!({"used": 100, "limit": 100})
    );
    let out = org_cli(&home, &daemon, &["invoices", "acme"]);
    assert_eq!(out.status.code(), Some(1), "no invoices yet");
    conforms(
        "org-invoices",
        &serde_json::from_slice(&out.stdout).unwrap(),
    );
    let out = org_cli(&bob, &daemon, &["plan", "acme", "team"]);
    assert_eq!(out.status.code(), Some(2), "bob is not a member");

    // Checkout: `agora org plan acme team` starts it; the card form is
    // submitted on the mock, as a person would.
    let plan = cli_json(
        &org_cli(&home, &daemon, &["plan", "acme", "team"]),
        "org-plan",
    );
    let session = plan["checkout"]["id"].as_str().unwrap().to_owned();
    assert!(plan["checkout"]["url"].as_str().unwrap().contains(&session));
    assert_eq!(plan["plan"], "free");
    rt().block_on(async {
        let (status, page) = call(
            org.addr, None, "GET", &format!("/billing-mock/checkout/sessions/{session}"), None, None,
        )
        .await;
        assert_eq!((status, page["status"].as_str()), (200, Some("open")), "{page}");
        // A declined card is refused; the session stays open.
        let path = format!("/billing-mock/checkout/sessions/{session}/complete");
        let (status, _) =
            call(org.addr, None, "POST", &path, None, Some(json!({"card": "4000000000000002"}))).await;
        assert_eq!(status, 402);
        org.mock("POST", &format!("/checkout/sessions/{session}/complete"), json!({"card": "4242424242424242"}))
            .await;

        // Trialing on team (from the webhooks): the article limit is gone.
        let b = org.until_status("trialing", "team").await;
        let clock = b["testClock"].as_str().unwrap().to_owned();
        let customer = b["customer"].as_str().unwrap().to_owned();
        let trial_end = b["subscription"]["trialEnd"].as_i64().unwrap();
        assert_eq!(org.article("One more").await.0, 201);
        // A downgrade that does not fit (101 articles on free): 409.
        let (status, body) = call(
            org.addr, None, "PUT", "/api/orgs/acme/plan", Some(&org.token),
            Some(json!({"plan": {"name": "free"}})),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(
            body["limit"],
            json!({"name": "articles", "plan": "free", "limit": 100, "usage": 101, "upgradeTo": "team"})
        );

        // The trial ends: the first invoice is paid, the subscription active.
        org.advance(&clock, trial_end).await;
        org.until_status("active", "team").await;
        let invoices = org.until_invoices(1, "paid", 1).await;
        assert_eq!(invoices[0]["amountPaid"], 4_900);
        // A renewal at period end.
        let end = org.billing().await["subscription"]["currentPeriodEnd"].as_i64().unwrap();
        assert_eq!(end, trial_end + 30 * DAY);
        org.advance(&clock, end).await;
        org.until_invoices(2, "paid", 1).await;

        // The card starts failing: the next renewal fails, past_due.
        org.mock("POST", &format!("/v1/customers/{customer}/card"), json!({"number": "4000000000000341"}))
            .await;
        let end = end + 30 * DAY;
        org.advance(&clock, end).await;
        org.until_status("past_due", "team").await;
        org.until_invoices(3, "open", 1).await;
        // The first retry (3 days on) fails too; still past_due.
        org.advance(&clock, end + 3 * DAY).await;
        org.until_invoices(3, "open", 2).await;
        assert_eq!(org.billing().await["subscription"]["status"], "past_due");
        // A new card; the second retry (5 days on) pays: active again.
        org.mock("POST", &format!("/v1/customers/{customer}/card"), json!({"number": "4242424242424242"}))
            .await;
        org.advance(&clock, end + 5 * DAY).await;
        org.until_status("active", "team").await;
        org.until_invoices(3, "paid", 3).await;

        // Half way through the period, an upgrade: one invoice with a
        // credit for team's unused half and a charge for business's.
        org.advance(&clock, end + 15 * DAY).await;
        let (status, body) = call(
            org.addr, None, "PUT", "/api/orgs/acme/plan", Some(&org.token),
            Some(json!({"plan": {"name": "business"}})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["billing"]["plan"], "business", "the provider's answer is applied at once");
        let invoices = org.until_invoices(4, "paid", 1).await;
        let lines = invoices[0]["lines"].as_array().unwrap();
        let amounts: Vec<i64> = lines.iter().map(|l| l["amount"].as_i64().unwrap()).collect();
        assert_eq!(amounts, [-2_450, 9_950], "{lines:?}");
        assert!(lines.iter().all(|l| l["proration"] == true));
        assert_eq!(invoices[0]["amountPaid"], 7_500);

        // Cancel at period end, resume, cancel again; the period ends.
        for (path, flag) in [("cancel", true), ("resume", false), ("cancel", true)] {
            let (status, body) = call(
                org.addr, None, "POST", &format!("/api/orgs/acme/subscription/{path}"),
                Some(&org.token), None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["billing"]["subscription"]["cancelAtPeriodEnd"], flag);
        }
        org.advance(&clock, end + 30 * DAY).await;
        let b = org.until_status("canceled", "free").await;
        assert_eq!(b["subscription"]["plan"], "business");
        // Back on free with 102 articles: the next is refused.
        assert_eq!(org.article("After the end").await.0, 402);

        // Every delivery (each event twice, newest first) got through,
        // and none of the late or repeated ones moved anything back.
        let deliveries = until("every webhook delivered", async || {
            let (_, d) = call(org.addr, None, "GET", "/billing-mock/webhooks", None, None).await;
            (d["pending"] == 0, d)
        })
        .await;
        assert_eq!(deliveries["abandoned"], 0, "{deliveries}");
        assert_eq!(deliveries["queued"], deliveries["delivered"]);
        assert_eq!(deliveries["queued"].as_u64().unwrap() % 2, 0, "each event twice");
        assert_eq!(org.billing().await["subscription"]["status"], "canceled");
        let invoices = org.invoices().await;
        assert_eq!(invoices.len(), 4);
        assert!(invoices.iter().all(|i| i["status"] == "paid"), "{invoices:?}");
    });
    let plan = cli_json(&org_cli(&home, &daemon, &["plan", "acme"]), "org-plan");
    assert_eq!(plan["subscription"]["status"], "canceled");
    let invoices = cli_json(
        &org_cli(&home, &daemon, &["invoices", "acme"]),
        "org-invoices",
    );
    assert_eq!(invoices.as_array().unwrap().len(), 4);
    let text = home.run(
        &[
            "org",
            "--addr",
            &daemon.addr,
            "--http-addr",
            &daemon.ready.http.to_string(),
            "invoices",
            "acme",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("-$24.50") && text.contains("$99.50"),
        "{text}"
    );
}

#[test]
fn forged_and_stale_webhooks_change_nothing() {
    let home = Home::new();
    let daemon = Daemon::start(
        &home,
        &["--billing-mock", "--billing-webhook-secret", "whsec_e2e"],
    );
    rt().block_on(async {
        let body = json!({"id": "evt_x", "type": "customer.subscription.updated",
            "data": {"object": {"object": "subscription", "customer": "cus_x"}}})
        .to_string();
        for sig in ["t=1,v1=00", "garbage", ""] {
            let mut stream = TcpStream::connect(daemon.ready.http).await.unwrap();
            let request = format!(
                "POST /api/billing/webhook HTTP/1.1\r\nHost: x\r\nAgora-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.unwrap();
            let response = String::from_utf8_lossy(&response).into_owned();
            assert!(response.starts_with("HTTP/1.1 400"), "{sig}: {response}");
            assert!(response.contains("signature"), "{response}");
        }
    });
}
