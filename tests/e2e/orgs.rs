//! Organizations end to end (docs/BLOG.md, "Organizations"): the real
//! binary, real sockets, real files. A slice of the RealWorld flow runs
//! under two organizations, one addressed by Host and one by `/t/`, and
//! each sees only its own; after `kill -9` and a corrupted tenant file the
//! daemon starts, that organization answers 503 and the other works.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{Daemon, Home, rt};

pub(crate) const DOMAIN: &str = "blog.example.test";

/// Where a request goes: the organization by Host, by `/t/`, or none.
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    Host(&'a str),
    Path(&'a str),
    Default,
}

pub(crate) async fn call(
    addr: SocketAddr,
    at: At<'_>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let (host, path) = match at {
        At::Host(org) => (format!("{org}.{DOMAIN}"), path.to_owned()),
        At::Path(org) => (addr.to_string(), format!("/t/{org}{path}")),
        At::Default => (addr.to_string(), path.to_owned()),
    };
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

pub(crate) async fn register(addr: SocketAddr, name: &str) -> String {
    let user = json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "password1"}});
    let (status, body) = call(addr, At::Default, "POST", "/api/users", None, Some(user)).await;
    assert_eq!(status, 201, "{body}");
    body["user"]["token"].as_str().unwrap().to_owned()
}

/// The RealWorld slice under `at`: `writer` (an author there) posts,
/// `reader` (a viewer there) follows, favourites and reads the feed;
/// `marker` is in every text, and nothing else's marker may show up.
pub(crate) async fn realworld_slice(
    addr: SocketAddr,
    at: At<'_>,
    writer: &str,
    reader: &str,
    marker: &str,
    foreign: &str,
) {
    let article = json!({"article": {"title": "How to train your dragon",
        "description": format!("about {marker}"), "body": format!("it is {marker}"),
        "tagList": ["dragons", marker]}});
    let (status, a) = call(
        addr,
        at,
        "POST",
        "/api/articles",
        Some(writer),
        Some(article),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    let slug = a["article"]["slug"].as_str().unwrap().to_owned();
    assert_eq!(
        slug, "how-to-train-your-dragon",
        "each organization has its own slugs"
    );
    let comment = json!({"comment": {"body": format!("nice {marker}")}});
    let (status, c) = call(
        addr,
        at,
        "POST",
        &format!("/api/articles/{slug}/comments"),
        Some(reader),
        Some(comment.clone()),
    )
    .await;
    assert_eq!(status, 403, "a viewer does not comment: {c}");
    let (status, c) = call(
        addr,
        at,
        "POST",
        &format!("/api/articles/{slug}/comments"),
        Some(writer),
        Some(comment),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (status, p) = call(
        addr,
        at,
        "POST",
        "/api/profiles/writer/follow",
        Some(reader),
        None,
    )
    .await;
    assert_eq!(
        (status, &p["profile"]["following"]),
        (200, &json!(true)),
        "{p}"
    );
    let (status, f) = call(
        addr,
        at,
        "POST",
        &format!("/api/articles/{slug}/favorite"),
        Some(reader),
        None,
    )
    .await;
    assert_eq!(
        (status, &f["article"]["favoritesCount"]),
        (200, &json!(1)),
        "{f}"
    );
    let update = json!({"article": {"body": format!("it was {marker}")}});
    let (status, u) = call(
        addr,
        at,
        "PUT",
        &format!("/api/articles/{slug}"),
        Some(writer),
        Some(update),
    )
    .await;
    assert_eq!(status, 200, "{u}");
    for (path, token) in [
        ("/api/articles".to_owned(), None),
        ("/api/articles/feed".to_owned(), Some(reader)),
        (format!("/api/articles/{slug}"), None),
        (format!("/api/articles/{slug}/comments"), None),
        ("/api/tags".to_owned(), None),
        ("/api/profiles/writer".to_owned(), Some(reader)),
    ] {
        let (status, body) = call(addr, at, "GET", &path, token, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains(foreign),
            "{path} shows another organization's data: {text}"
        );
        if path != "/api/profiles/writer" {
            assert!(text.contains(marker), "{path}: {text}");
        }
    }
}

#[test]
fn the_realworld_flow_runs_under_two_organizations_apart() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--blog-domain", DOMAIN]);
    let api = daemon.ready.http;
    rt().block_on(async {
        let writer = register(api, "writer").await;
        let reader = register(api, "reader").await;
        for org in ["acme", "globex"] {
            let (status, body) = call(
                api,
                At::Default,
                "POST",
                "/api/orgs",
                Some(&writer),
                Some(json!({"org": {"slug": org, "name": org}})),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            let (status, inv) = call(
                api,
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
                api,
                At::Default,
                "POST",
                &format!("/api/invitations/{token}/accept"),
                Some(&reader),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        realworld_slice(
            api,
            At::Host("acme"),
            &writer,
            &reader,
            "marker-acme",
            "marker-globex",
        )
        .await;
        realworld_slice(
            api,
            At::Path("globex"),
            &writer,
            &reader,
            "marker-globex",
            "marker-acme",
        )
        .await;
        // The organization-less blog is untouched and works as before.
        let (status, body) = call(api, At::Default, "GET", "/api/articles", None, None).await;
        assert_eq!((status, &body["articlesCount"]), (200, &json!(0)), "{body}");
        let (status, _) = call(api, At::Host("initech"), "GET", "/api/articles", None, None).await;
        assert_eq!(status, 404);
    });
    // kill -9, break acme's file: the daemon starts, acme is 503, globex
    // has everything it acknowledged.
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let tenants = home.data().join("tenants");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(tenants.join(format!("1.db{suffix}")));
    }
    std::fs::write(tenants.join("1.db"), vec![0x42; 4096]).unwrap();
    let daemon = Daemon::start(&home, &["--blog-domain", DOMAIN]);
    let api = daemon.ready.http;
    rt().block_on(async {
        let (status, body) = call(api, At::Host("acme"), "GET", "/api/articles", None, None).await;
        assert_eq!(status, 503, "{body}");
        assert!(body["errors"]["organization"].is_array(), "{body}");
        let (status, body) =
            call(api, At::Host("globex"), "GET", "/api/articles", None, None).await;
        assert_eq!((status, &body["articlesCount"]), (200, &json!(1)), "{body}");
        assert!(body.to_string().contains("marker-globex"));
    });
}
