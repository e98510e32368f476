//! Organizations through the real router over real SQLite files: the
//! `/api/orgs` routes, the policy as the API applies it, routing by Host
//! and `/t/`, tenant files that go missing, and the leak harness.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::tests::{Answer, Api};
use crate::orgs::policy::{self, Action, Who};
use agora_db::orgs::Role;

pub(super) const DOMAIN: &str = "blog.localhost";

pub(super) fn host(org: &str) -> String {
    format!("{org}.{DOMAIN}")
}

impl Api {
    /// A request to organization `org` by its Host.
    pub(super) async fn at(
        &self,
        org: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|b| axum::body::Body::from(b.to_string()));
        let h = host(org);
        self.send(method, path, token, body, &[("host", &h)]).await
    }

    pub(super) async fn create_org(&self, token: &str, slug: &str) {
        let a = self
            .call(
                Method::POST,
                "/api/orgs",
                Some(token),
                Some(json!({"org": {"slug": slug, "name": format!("{slug} Inc.")}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    }

    /// Invites `name` to `org` as `role` (by `owner`) and accepts.
    pub(super) async fn join(&self, owner: &str, org: &str, name: &str, token: &str, role: Role) {
        let a = self
            .call(
                Method::POST,
                &format!("/api/orgs/{org}/invitations"),
                Some(owner),
                Some(json!({"invitation": {"username": name, "role": role.as_str()}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
        let invitation = a.json["invitation"]["token"].as_str().unwrap().to_owned();
        let a = self
            .call(
                Method::POST,
                &format!("/api/invitations/{invitation}/accept"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    }

    pub(super) async fn org_article(
        &self,
        org: &str,
        token: &str,
        title: &str,
        secret: &str,
    ) -> Value {
        let a = self
            .at(
                org,
                Method::POST,
                "/api/articles",
                Some(token),
                Some(
                    json!({"article": {"title": title, "description": format!("desc {secret}"),
                    "body": format!("body {secret}"), "tagList": ["common", secret]}}),
                ),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
        a.json["article"].clone()
    }
}

#[tokio::test]
async fn organizations_members_and_invitations() {
    let api = Api::new().await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    api.create_org(&alice, "acme").await;
    // Reserved, malformed and taken slugs are clear 422s.
    for (slug, says) in [("www", "reserved"), ("Acme!", "DNS"), ("acme", "taken")] {
        let a = api
            .call(
                Method::POST,
                "/api/orgs",
                Some(&bob),
                Some(json!({"org": {"slug": slug}})),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{slug}");
        assert!(
            a.json["errors"]["slug"][0].as_str().unwrap().contains(says),
            "{}",
            a.json
        );
    }
    let a = api.get("/api/orgs", Some(&alice)).await;
    assert_eq!(a.json["orgs"][0]["slug"], "acme");
    assert_eq!(a.json["orgs"][0]["role"], "owner");
    assert_eq!(a.json["orgs"][0]["plan"], "free");
    // Non-members see the organization, not its members.
    assert_eq!(
        api.get("/api/orgs/acme", Some(&bob)).await.json["org"]["role"],
        Value::Null
    );
    assert_eq!(
        api.get("/api/orgs/acme/members", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/api/orgs/nope", Some(&bob)).await.status,
        StatusCode::NOT_FOUND
    );
    // Unknown user: refused.
    let a = api
        .call(
            Method::POST,
            "/api/orgs/acme/invitations",
            Some(&alice),
            Some(json!({"invitation": {"username": "nobody"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.json);
    // bob cannot answer alice's… bob's invitation, once.
    let a = api
        .call(
            Method::POST,
            "/api/orgs/acme/invitations",
            Some(&alice),
            Some(json!({"invitation": {"username": "bob", "role": "admin"}})),
        )
        .await;
    let token = a.json["invitation"]["token"].as_str().unwrap().to_owned();
    let accept = format!("/api/invitations/{token}/accept");
    assert_eq!(
        api.call(Method::POST, &accept, Some(&alice), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::POST, &accept, Some(&bob), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        api.call(Method::POST, &accept, Some(&bob), None)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let a = api.get("/api/orgs/acme/members", Some(&bob)).await;
    assert_eq!(a.json["members"].as_array().unwrap().len(), 2, "{}", a.json);
    // The last owner cannot step down or leave; an admin cannot touch owners.
    let a = api
        .call(
            Method::PUT,
            "/api/orgs/acme/members/alice",
            Some(&alice),
            Some(json!({"member": {"role": "viewer"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.json);
    assert!(
        a.json["errors"]["role"][0]
            .as_str()
            .unwrap()
            .contains("owner")
    );
    let a = api
        .call(
            Method::DELETE,
            "/api/orgs/acme/members/alice",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = api
        .call(
            Method::DELETE,
            "/api/orgs/acme/members/alice",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Transfer: bob owns, alice is an admin, and may leave.
    let a = api
        .call(
            Method::POST,
            "/api/orgs/acme/transfer",
            Some(&alice),
            Some(json!({"member": {"username": "bob"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let a = api
        .call(
            Method::DELETE,
            "/api/orgs/acme/members/alice",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    // Deleting needs the owner and the slug as confirmation.
    assert_eq!(
        api.call(Method::DELETE, "/api/orgs/acme", Some(&bob), None)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.call(
            Method::DELETE,
            "/api/orgs/acme?confirm=acme",
            Some(&alice),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call(
            Method::DELETE,
            "/api/orgs/acme?confirm=acme",
            Some(&bob),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/orgs/acme", Some(&bob)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.at("acme", Method::GET, "/api/articles", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The policy table, tried through the API: for each role (and an
/// outsider), every blog action on someone else's resource and on their
/// own answers exactly as the table says.
#[tokio::test]
async fn the_api_answers_exactly_the_policy_table() {
    let api = Api::new().await;
    let owner = api.register("owner").await;
    api.create_org(&owner, "acme").await;
    // Four members and more: over the free plan's three (billing).
    api.shared
        .db
        .write(|c| Ok(c.execute("UPDATE orgs SET plan = 'team' WHERE slug = 'acme'", [])?))
        .unwrap();
    let mut seats = vec![(Who::Outsider, api.register("outsider").await)];
    for role in [Role::Viewer, Role::Author, Role::Admin] {
        let name = role.as_str().to_owned() + "1";
        let token = api.register(&name).await;
        api.join(&owner, "acme", &name, &token, role).await;
        seats.push((Who::Member(role), token));
    }
    seats.push((Who::Member(Role::Owner), owner.clone()));
    let allowed = |a: &Answer| a.status.is_success();
    for (who, token) in &seats {
        // Someone else's article and comment (the owner's), made afresh.
        let theirs = api.org_article("acme", &owner, "Theirs", "t").await;
        let slug = theirs["slug"].as_str().unwrap().to_owned();
        let c = api
            .at(
                "acme",
                Method::POST,
                &format!("/api/articles/{slug}/comments"),
                Some(&owner),
                Some(json!({"comment": {"body": "c"}})),
            )
            .await;
        let cid = c.json["comment"]["id"].as_i64().unwrap();
        let checks: Vec<(Action, Answer)> = vec![
            (
                Action::Read,
                api.at(
                    "acme",
                    Method::GET,
                    &format!("/api/articles/{slug}"),
                    Some(token),
                    None,
                )
                .await,
            ),
            (
                Action::React,
                api.at(
                    "acme",
                    Method::POST,
                    &format!("/api/articles/{slug}/favorite"),
                    Some(token),
                    None,
                )
                .await,
            ),
            (
                Action::Comment,
                api.at(
                    "acme",
                    Method::POST,
                    &format!("/api/articles/{slug}/comments"),
                    Some(token),
                    Some(json!({"comment": {"body": "mine"}})),
                )
                .await,
            ),
            (
                Action::UpdateArticle,
                api.at(
                    "acme",
                    Method::PUT,
                    &format!("/api/articles/{slug}"),
                    Some(token),
                    Some(json!({"article": {"body": "changed"}})),
                )
                .await,
            ),
            (
                Action::DeleteComment,
                api.at(
                    "acme",
                    Method::DELETE,
                    &format!("/api/articles/{slug}/comments/{cid}"),
                    Some(token),
                    None,
                )
                .await,
            ),
            (
                Action::DeleteArticle,
                api.at(
                    "acme",
                    Method::DELETE,
                    &format!("/api/articles/{slug}"),
                    Some(token),
                    None,
                )
                .await,
            ),
        ];
        for (action, answer) in checks {
            let own = who == &Who::Member(Role::Owner);
            assert_eq!(
                allowed(&answer),
                policy::allows(*who, action, own),
                "{who:?} {action:?} (own: {own}): {} {}",
                answer.status,
                answer.json
            );
        }
        // Their own article, where the role lets them write one.
        let a = api
            .at(
                "acme",
                Method::POST,
                "/api/articles",
                Some(token),
                Some(json!({"article": {"title": "Mine", "description": "d", "body": "b"}})),
            )
            .await;
        assert_eq!(
            allowed(&a),
            policy::allows(*who, Action::CreateArticle, true),
            "{who:?} create"
        );
        if allowed(&a) {
            let slug = a.json["article"]["slug"].as_str().unwrap().to_owned();
            let put = api
                .at(
                    "acme",
                    Method::PUT,
                    &format!("/api/articles/{slug}"),
                    Some(token),
                    Some(json!({"article": {"body": "changed"}})),
                )
                .await;
            assert_eq!(
                allowed(&put),
                policy::allows(*who, Action::UpdateArticle, true),
                "{who:?} own update"
            );
            let del = api
                .at(
                    "acme",
                    Method::DELETE,
                    &format!("/api/articles/{slug}"),
                    Some(token),
                    None,
                )
                .await;
            assert_eq!(
                allowed(&del),
                policy::allows(*who, Action::DeleteArticle, true),
                "{who:?} own delete"
            );
        }
        let members = api.get("/api/orgs/acme/members", Some(token)).await;
        assert_eq!(
            allowed(&members),
            policy::allows(*who, Action::ListMembers, false),
            "{who:?} members"
        );
    }
}

#[tokio::test]
async fn hosts_and_paths_select_the_organization() {
    let api = Api::new().await;
    let alice = api.register("alice").await;
    api.create_org(&alice, "acme").await;
    api.org_article("acme", &alice, "In Acme", "acme-only")
        .await;
    api.post_article(&alice, "In the default blog", &[]).await;
    let titles = |a: &Answer| -> Vec<String> {
        a.json["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_host = api
        .at("acme", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(titles(&by_host), ["In Acme"]);
    let by_path = api.get("/t/acme/api/articles", None).await;
    assert_eq!(by_path.raw, by_host.raw);
    let bare = api
        .send(
            Method::GET,
            "/api/articles",
            None,
            None,
            &[("host", DOMAIN)],
        )
        .await;
    assert_eq!(titles(&bare), ["In the default blog"]);
    assert_eq!(
        titles(&api.get("/api/articles", None).await),
        ["In the default blog"]
    );
    for (h, path, status) in [
        (
            "nope.blog.localhost",
            "/api/articles",
            StatusCode::NOT_FOUND,
        ),
        ("127.0.0.1", "/t/nope/api/articles", StatusCode::NOT_FOUND),
        (
            "a.b.blog.localhost",
            "/api/articles",
            StatusCode::BAD_REQUEST,
        ),
        ("bad host!", "/api/articles", StatusCode::BAD_REQUEST),
        (
            "acme.blog.localhost",
            "/t/globex/api/articles",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let a = api
            .send(Method::GET, path, None, None, &[("host", h)])
            .await;
        assert_eq!(a.status, status, "{h} {path}: {}", a.json);
        assert!(a.json["errors"].is_object(), "{h}: JSON error");
    }
    // /healthz ignores the Host.
    let a = api
        .send(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("host", "nope.blog.localhost")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_or_corrupt_tenant_file_is_503_for_that_organization_only() {
    let api = Api::new().await;
    let alice = api.register("alice").await;
    for org in ["acme", "globex", "initech"] {
        api.create_org(&alice, org).await;
    }
    let tenants = api.shared.services.orgs.tenants().clone();
    // Ids follow creation: acme 1, globex 2.
    tenants.forget(1);
    tenants.forget(2);
    std::fs::remove_file(tenants.path(1)).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tenants.path(2).display()));
    }
    std::fs::write(tenants.path(2), vec![0x5a; 4096]).unwrap();
    for org in ["acme", "globex"] {
        let a = api.at(org, Method::GET, "/api/articles", None, None).await;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{org}: {}",
            a.json
        );
        assert!(
            a.json["errors"]["organization"][0]
                .as_str()
                .unwrap()
                .contains("unavailable")
        );
    }
    assert_eq!(
        api.at("initech", Method::GET, "/api/articles", None, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(api.get("/api/articles", None).await.status, StatusCode::OK);
}

/// Deleting keeps the file for the grace: the owner may restore it (with
/// its articles) until then; the sweep, run with a clock past the grace,
/// closes the handle, removes the file with its -wal/-shm and marks it
/// purged, after which nothing brings it back and its slug stays taken.
#[tokio::test]
async fn a_deleted_organization_is_restorable_then_purged_after_the_grace() {
    let api = Api::with(|c| c.blog.org_delete_grace = std::time::Duration::from_secs(3600)).await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    for org in ["acme", "globex"] {
        api.create_org(&alice, org).await;
    }
    api.join(&alice, "acme", "bob", &bob, Role::Admin).await;
    api.org_article("acme", &alice, "Kept", "kept-secret").await;
    let orgs = api.shared.services.orgs.clone();
    let tenants = orgs.tenants().clone();
    let delete = |slug: &'static str| {
        let api = &api;
        let alice = alice.clone();
        async move {
            api.call(
                Method::DELETE,
                &format!("/api/orgs/{slug}?confirm={slug}"),
                Some(&alice),
                None,
            )
            .await
            .status
        }
    };
    let restore = |slug: &'static str, token: String| {
        let api = &api;
        async move {
            api.call(
                Method::POST,
                &format!("/api/orgs/{slug}/restore"),
                Some(&token),
                None,
            )
            .await
        }
    };
    assert_eq!(delete("acme").await, StatusCode::NO_CONTENT);
    let now = agora_db::now_ms();
    assert!(orgs.purge_deleted(now).await.is_empty(), "within the grace");
    assert!(tenants.path(1).exists());
    // Only its owner restores it; restoring a live organization is a
    // no-op that answers it (a retried restore succeeds like the first).
    assert_eq!(
        restore("acme", bob.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let g = restore("globex", alice.clone()).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.json);
    assert_eq!(g.json["org"]["slug"], "globex");
    assert_eq!(
        restore("globex", bob.clone()).await.status,
        StatusCode::NOT_FOUND,
        "a non-member does not learn it exists"
    );
    let a = restore("acme", alice.clone()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["org"]["slug"], "acme");
    let a = api
        .at("acme", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(a.json["articlesCount"], 1, "{}", a.json);
    // Deleted again, the sweep an hour and a bit later removes it.
    assert_eq!(delete("acme").await, StatusCode::NO_CONTENT);
    assert_eq!(delete("globex").await, StatusCode::NO_CONTENT);
    // Open a handle to acme's file, as an in-flight request would have.
    assert!(tenants.get(1).await.is_ok());
    let later = agora_db::now_ms() + 3_600_000 + 1_000;
    let mut purged = orgs.purge_deleted(later).await;
    purged.sort_unstable();
    assert_eq!(purged, vec![1, 2]);
    for org in [1, 2] {
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", tenants.path(org).display());
            assert!(!std::path::Path::new(&file).exists(), "{file} is left");
        }
    }
    assert_eq!(tenants.open_files(), 0, "the handles were closed");
    assert!(orgs.purge_deleted(later).await.is_empty(), "purged once");
    assert_eq!(
        restore("acme", alice.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    let a = api
        .call(
            Method::POST,
            "/api/orgs",
            Some(&alice),
            Some(json!({"org": {"slug": "acme"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.json);
    assert_eq!(
        api.at("globex", Method::GET, "/api/articles", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// On PostgreSQL an organization is its rows: deleted, restored within
/// the grace, then purged after it, its rows are gone (deleted in its own
/// tenant transaction) and every other organization keeps its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_purged_organization_leaves_no_rows_and_the_others_keep_theirs() {
    let api =
        Api::on_postgres_with(|c| c.blog.org_delete_grace = std::time::Duration::from_secs(3600))
            .await;
    let alice = api.register("alice").await;
    for org in ["acme", "globex"] {
        api.create_org(&alice, org).await;
        api.org_article(org, &alice, "Kept", &format!("{org}-secret"))
            .await;
    }
    let count = |org: i64| {
        let agora_db::Storage::Postgres(pg) = api.shared.storage.clone() else {
            panic!("not on PostgreSQL");
        };
        let blog = agora_db::BlogDb::Postgres { pg, org };
        async move {
            tokio::task::spawn_blocking(move || blog.read(|b| b.article_count()))
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!((count(1).await, count(2).await), (1, 1));
    let gone = api
        .call(
            Method::DELETE,
            "/api/orgs/acme?confirm=acme",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let orgs = api.shared.services.orgs.clone();
    assert!(orgs.purge_deleted(agora_db::now_ms()).await.is_empty());
    assert_eq!(count(1).await, 1, "kept within the grace");
    let back = api
        .call(Method::POST, "/api/orgs/acme/restore", Some(&alice), None)
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.json);
    let a = api
        .at("acme", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(a.json["articlesCount"], 1, "{}", a.json);
    let gone = api
        .call(
            Method::DELETE,
            "/api/orgs/acme?confirm=acme",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let later = agora_db::now_ms() + 3_600_000 + 1_000;
    assert_eq!(orgs.purge_deleted(later).await, vec![1]);
    assert_eq!((count(1).await, count(2).await), (0, 1));
    let g = api
        .at("globex", Method::GET, "/api/articles", None, None)
        .await;
    assert_eq!(g.json["articlesCount"], 1, "{}", g.json);
    assert_eq!(
        api.at("acme", Method::GET, "/api/articles", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
