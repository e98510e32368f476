//! The blog end to end: `agora blog` against the real daemon's HTTP API,
//! its `--json` checked against tests/schemas/blog-*.json, exit codes on
//! an empty daemon, a token from `agora register` on the API over a real
//! socket, rate-limit headers per peer address, and an acknowledged
//! article surviving `kill -9`.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{Daemon, Home, rt, saved_token};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `agora blog ARGS` against `daemon`, signed in as whoever `home` holds.
fn blog(home: &Home, daemon: &Daemon, args: &[&str], stdin: Option<&str>) -> Output {
    let http = daemon.ready.http.to_string();
    let mut all = vec!["blog", "--addr", &daemon.addr, "--http-addr", &http];
    all.extend_from_slice(args);
    home.run(&all, stdin)
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// Checks `value` against the schema in tests/schemas/NAME.json (with
/// defs.json), offline, as tests/e2e/commands.rs does.
pub(crate) fn conforms(name: &str, value: &Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/schemas");
    let read = |file: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
    };
    let base = "https://agora.invalid/schemas/";
    let registry = jsonschema::Registry::new()
        .add(
            format!("{base}defs.json"),
            jsonschema::Resource::from_contents(read("defs.json")),
        )
        .and_then(|r| r.prepare())
        .expect("tests/schemas/defs.json");
    let validator = jsonschema::options()
        .offline()
        .with_registry(&registry)
        .with_base_uri(format!("{base}{name}.json"))
        .build(&read(&format!("{name}.json")))
        .unwrap_or_else(|e| panic!("tests/schemas/{name}.json: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: {}\n{}",
        errors.join("; "),
        serde_json::to_string_pretty(value).unwrap()
    );
}

#[test]
fn exit_codes_on_an_empty_daemon() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    // Not signed in: reads work (and find nothing), writes say how to
    // sign in.
    let cases: &[(&[&str], i32)] = &[
        (&["posts"], 1),
        (&["show", "nope"], 1),
        (&["comments", "nope"], 2),
        (&["post", "new", "--title", "t", "--description", "d"], 2),
        (&["edit", "nope", "--title", "t"], 2),
        (&["rm", "nope"], 2),
        (&["comment", "nope", "hi"], 2),
    ];
    for (args, code) in cases {
        let out = blog(&home, &daemon, args, None);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        if *code == 2 {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with("agora: "), "{err}");
        }
    }
    let out = blog(
        &home,
        &daemon,
        &["post", "new", "--title", "t", "--description", "d"],
        None,
    );
    assert!(
        text(&out.stderr).contains("agora login"),
        "{}",
        text(&out.stderr)
    );
    // Signed in, on the still empty daemon.
    home.register(&daemon.addr, "alice", "password1");
    let signed: &[(&[&str], i32)] = &[
        (&["--json", "posts"], 1),
        (&["--json", "show", "nope"], 1),
        (&["edit", "nope", "--title", "t"], 2),
        (&["rm", "nope"], 2),
        (&["comment", "nope", "hi"], 2),
        (&["posts", "--feed"], 1),
    ];
    for (args, code) in signed {
        let out = blog(&home, &daemon, args, None);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = blog(&home, &daemon, &["--json", "posts"], None);
    conforms("blog-posts", &json_of(&out));
    let out = blog(&home, &daemon, &["--json", "show", "nope"], None);
    assert_eq!(json_of(&out), Value::Null);
    conforms("blog-show", &Value::Null);
    // An unreachable API is an error naming it.
    let out = home.run(
        &[
            "blog",
            "--addr",
            &daemon.addr,
            "--http-addr",
            "127.0.0.1:1",
            "posts",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("127.0.0.1:1"),
        "{}",
        text(&out.stderr)
    );
    // Bad values are refused.
    let out = blog(&home, &daemon, &["posts", "--limit", "0"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = blog(&home, &daemon, &["posts", "--limit", "101"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn write_read_edit_comment_and_delete_with_the_cli() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "password1");
    let body = home.path().join("body.md");
    std::fs::write(&body, "# Dragons\n\nThey fly.\n").unwrap();
    let out = blog(
        &home,
        &daemon,
        &[
            "--json",
            "post",
            "new",
            "--title",
            "How to train your dragon",
            "--description",
            "Ever wonder how?",
            "--tag",
            "dragons",
            "--tag",
            "training",
            "--body-file",
            body.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let article = json_of(&out);
    conforms("blog-post-new", &article);
    assert_eq!(article["slug"], "how-to-train-your-dragon");
    assert_eq!(article["tags"], json!(["dragons", "training"]));
    assert_eq!(article["body"], "# Dragons\n\nThey fly.\n");
    // The body from standard input; the same title is numbered.
    let out = blog(
        &home,
        &daemon,
        &[
            "post",
            "new",
            "--title",
            "How to train your dragon",
            "--description",
            "Again",
        ],
        Some("Piped body\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "posted how-to-train-your-dragon-2\n");
    let out = blog(&home, &daemon, &["--json", "posts", "--limit", "1"], None);
    let page = json_of(&out);
    conforms("blog-posts", &page);
    assert_eq!(page["count"], 2);
    assert_eq!(page["articles"][0]["body"], Value::Null);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let out = blog(
        &home,
        &daemon,
        &["--json", "posts", "--limit", "1", "--cursor", &cursor],
        None,
    );
    assert_eq!(
        json_of(&out)["articles"][0]["slug"],
        "how-to-train-your-dragon"
    );
    let out = blog(&home, &daemon, &["posts", "--tag", "training"], None);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let out = blog(&home, &daemon, &["show", "how-to-train-your-dragon"], None);
    assert!(
        text(&out.stdout).contains("They fly."),
        "{}",
        text(&out.stdout)
    );
    let out = blog(
        &home,
        &daemon,
        &["--json", "show", "how-to-train-your-dragon"],
        None,
    );
    conforms("blog-show", &json_of(&out));
    // Comments and a reply, flat and as a tree.
    let out = blog(
        &home,
        &daemon,
        &["--json", "comment", "how-to-train-your-dragon", "First!"],
        None,
    );
    let first = json_of(&out);
    conforms("blog-comment", &first);
    let id = first["id"].as_i64().unwrap().to_string();
    let out = blog(
        &home,
        &daemon,
        &[
            "comment",
            "how-to-train-your-dragon",
            "-",
            "--reply-to",
            &id,
        ],
        Some("A reply\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = blog(
        &home,
        &daemon,
        &["--json", "comments", "how-to-train-your-dragon", "--tree"],
        None,
    );
    let tree = json_of(&out);
    conforms("blog-comments", &tree);
    assert_eq!(
        tree["comments"][0]["replies"][0]["comment"]["body"],
        "A reply\n"
    );
    let out = blog(
        &home,
        &daemon,
        &["--json", "comments", "how-to-train-your-dragon"],
        None,
    );
    let flat = json_of(&out);
    conforms("blog-comments", &flat);
    assert_eq!(flat["comments"][1]["parent_id"].to_string(), id);
    let out = blog(
        &home,
        &daemon,
        &["comments", "how-to-train-your-dragon", "--tree"],
        None,
    );
    assert!(text(&out.stdout).contains("\n  #"), "{}", text(&out.stdout));
    // A reply to a comment of another article is refused.
    let out = blog(
        &home,
        &daemon,
        &[
            "comment",
            "how-to-train-your-dragon-2",
            "x",
            "--reply-to",
            &id,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("parentId"),
        "{}",
        text(&out.stderr)
    );
    // Edit renames with the title; someone else may not.
    let out = blog(
        &home,
        &daemon,
        &[
            "--json",
            "edit",
            "how-to-train-your-dragon",
            "--title",
            "Dragons, tamed",
        ],
        None,
    );
    let edited = json_of(&out);
    conforms("blog-edit", &edited);
    assert_eq!(edited["slug"], "dragons-tamed");
    let out = blog(&home, &daemon, &["edit", "dragons-tamed"], None);
    assert_eq!(out.status.code(), Some(2), "nothing to change");
    let bob = Home::new();
    bob.register(&daemon.addr, "bob", "password1");
    let out = blog(&bob, &daemon, &["rm", "dragons-tamed"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not yours"),
        "{}",
        text(&out.stderr)
    );
    let out = blog(&home, &daemon, &["--json", "rm", "dragons-tamed"], None);
    let gone = json_of(&out);
    conforms("blog-rm", &gone);
    let out = blog(&home, &daemon, &["show", "dragons-tamed"], None);
    assert_eq!(out.status.code(), Some(1));
}

/// One HTTP/1.1 request over a fresh connection; (status, headers, body).
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = text(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn tokens_cross_sides_limits_carry_headers_and_articles_survive_kill_9() {
    let home = Home::new();
    let mut daemon = Daemon::start(
        &home,
        &["--blog-write-burst", "3", "--blog-write-rate", "0.01"],
    );
    home.register(&daemon.addr, "alice", "password1");
    let token = saved_token(&home, &daemon.addr);
    let api = daemon.ready.http;
    rt().block_on(async {
        // A token from `agora register` is a blog API token.
        let (status, head, me) = http(api, "GET", "/api/user", Some(&token), None).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["user"]["username"], "alice");
        assert!(head.contains("ratelimit-limit: 100"), "{head}");
        let article = json!({"article": {"title": "Kept", "description": "d", "body": "b"}});
        let (status, _, created) =
            http(api, "POST", "/api/articles", Some(&token), Some(&article)).await;
        assert_eq!(status, 201, "{created}");
        // Writes: a burst of 3 (the article, two favourites), then 429.
        let (status, _, _) = http(
            api,
            "POST",
            "/api/articles/kept/favorite",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200);
        http(
            api,
            "POST",
            "/api/articles/kept/favorite",
            Some(&token),
            None,
        )
        .await;
        let (status, head, body) = http(
            api,
            "POST",
            "/api/articles/kept/favorite",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 429, "{body}");
        assert!(head.contains("retry-after: "), "{head}");
        assert!(head.contains("ratelimit-remaining: 0"), "{head}");
        // Health checks are never limited.
        for _ in 0..5 {
            assert_eq!(daemon.http_get("/healthz").await.0, 200);
        }
    });
    // The article was acknowledged (201): it survives kill -9.
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(std::time::Duration::from_secs(10));
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (status, _, back) =
            http(daemon.ready.http, "GET", "/api/articles/kept", None, None).await;
        assert_eq!(status, 200, "{back}");
        assert_eq!(back["article"]["favoritesCount"], 1);
    });
}

/// One request with the real curl: (status, lower-cased headers, JSON
/// body). `auth` is the whole Authorization value; a body `@FILE` is
/// read from FILE.
fn curl(
    api: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
    headers: &[&str],
) -> (u16, String, Value) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "-D", "-", "-X", method])
        .arg(format!("http://{api}{path}"))
        .args(["-H", "Accept: application/json"]);
    if let Some(auth) = auth {
        cmd.args(["-H", &format!("Authorization: {auth}")]);
    }
    if let Some(body) = body {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.output().expect("curl (Debian: curl)");
    assert!(out.status.success(), "curl: {}", text(&out.stderr));
    let mut response = text(&out.stdout);
    // A large body goes with `Expect: 100-continue`: skip the interim
    // answer.
    while response.starts_with("HTTP/1.1 100") {
        response = response
            .split_once("\r\n\r\n")
            .map_or("", |(_, rest)| rest)
            .to_owned();
    }
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn a_realworld_session_with_curl() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let api = daemon.ready.http;
    // Jake signs up on the API; Bob is an agora account from the CLI.
    let (status, _, jake) = curl(
        api,
        "POST",
        "/api/users",
        None,
        Some(r#"{"user":{"username":"jake","email":"jake@jake.jake","password":"jakejake"}}"#),
        &[],
    );
    assert_eq!(status, 201, "{jake}");
    let jake = format!("Token {}", jake["user"]["token"].as_str().unwrap());
    home.register(&daemon.addr, "bob", "password1");
    let bob = format!("Bearer {}", saved_token(&home, &daemon.addr));
    let (status, _, me) = curl(api, "GET", "/api/user", Some(&bob), None, &[]);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "", "no email until he sets one");
    // Bob sets an email, then logs in on the API with it.
    let (status, _, _) = curl(
        api,
        "PUT",
        "/api/user",
        Some(&bob),
        Some(r#"{"user":{"email":"bob@example.com","bio":"Ünïcode bio"}}"#),
        &[],
    );
    assert_eq!(status, 200);
    let (status, _, login) = curl(
        api,
        "POST",
        "/api/users/login",
        None,
        Some(r#"{"user":{"email":"bob@example.com","password":"password1"}}"#),
        &[],
    );
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["user"]["bio"], "Ünïcode bio");
    // Jake posts, retrying with the same Idempotency-Key: one article.
    let post = r#"{"article":{"title":"How to train your dragon","description":"Ever wonder how?","body":"You have to believe","tagList":["training","dragons"]}}"#;
    let (status, head, first) = curl(
        api,
        "POST",
        "/api/articles",
        Some(&jake),
        Some(post),
        &["Idempotency-Key: k-1"],
    );
    assert_eq!(status, 201, "{first}");
    assert!(!head.contains("idempotent-replayed"), "{head}");
    let (status, head, again) = curl(
        api,
        "POST",
        "/api/articles",
        Some(&jake),
        Some(post),
        &["Idempotency-Key: k-1"],
    );
    assert_eq!(status, 201);
    assert!(head.contains("idempotent-replayed: true"), "{head}");
    assert_eq!(again, first);
    assert_eq!(first["article"]["tagList"], json!(["dragons", "training"]));
    let (_, head, list) = curl(api, "GET", "/api/articles", None, None, &[]);
    assert_eq!(list["articlesCount"], 1);
    assert!(list["articles"][0].get("body").is_none(), "{list}");
    assert!(head.contains("ratelimit-remaining: "), "{head}");
    // Bob follows Jake, reads his feed, favourites, comments; Jake replies.
    let (status, _, profile) = curl(
        api,
        "POST",
        "/api/profiles/jake/follow",
        Some(&bob),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(profile["profile"]["following"], true);
    let (_, _, feed) = curl(api, "GET", "/api/articles/feed", Some(&bob), None, &[]);
    assert_eq!(feed["articles"][0]["slug"], "how-to-train-your-dragon");
    let (_, _, fav) = curl(
        api,
        "POST",
        "/api/articles/how-to-train-your-dragon/favorite",
        Some(&bob),
        None,
        &[],
    );
    assert_eq!(fav["article"]["favoritesCount"], 1);
    assert_eq!(fav["article"]["favorited"], true);
    let (status, _, comment) = curl(
        api,
        "POST",
        "/api/articles/how-to-train-your-dragon/comments",
        Some(&bob),
        Some(r#"{"comment":{"body":"'; DROP TABLE blog_comments; --"}}"#),
        &[],
    );
    assert_eq!(status, 200, "{comment}");
    let parent = comment["comment"]["id"].as_i64().unwrap();
    let reply = format!(r#"{{"comment":{{"body":"Thanks!","parentId":{parent}}}}}"#);
    let (status, _, _) = curl(
        api,
        "POST",
        "/api/articles/how-to-train-your-dragon/comments",
        Some(&jake),
        Some(&reply),
        &[],
    );
    assert_eq!(status, 200);
    let (_, _, tree) = curl(
        api,
        "GET",
        "/api/articles/how-to-train-your-dragon/comments?nested=true",
        None,
        None,
        &[],
    );
    assert_eq!(
        tree["comments"][0]["body"],
        "'; DROP TABLE blog_comments; --"
    );
    assert_eq!(tree["comments"][0]["replies"][0]["body"], "Thanks!");
    // Not his: 403; unknown: 404; bad JSON: 422 by field; too big: 413.
    let (status, _, _) = curl(
        api,
        "DELETE",
        "/api/articles/how-to-train-your-dragon",
        Some(&bob),
        None,
        &[],
    );
    assert_eq!(status, 403);
    let (status, _, _) = curl(api, "GET", "/api/articles/nope", None, None, &[]);
    assert_eq!(status, 404);
    let (status, _, bad) = curl(
        api,
        "POST",
        "/api/articles",
        Some(&jake),
        Some("{not json"),
        &[],
    );
    assert_eq!(status, 422);
    assert!(bad["errors"].is_object(), "{bad}");
    let (status, _, _) = curl(api, "GET", "/api/user", None, None, &[]);
    assert_eq!(status, 401);
    let huge = format!(
        r#"{{"article":{{"title":"t","description":"d","body":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    let file = home.path().join("huge.json");
    std::fs::write(&file, huge).unwrap();
    let at = format!("@{}", file.display());
    let (status, _, _) = curl(api, "POST", "/api/articles", Some(&jake), Some(&at), &[]);
    assert_eq!(status, 413);
    let (_, _, tags) = curl(api, "GET", "/api/tags", None, None, &[]);
    assert_eq!(tags["tags"], json!(["dragons", "training"]));
    let (status, _, doc) = curl(api, "GET", "/api/openapi.json", None, None, &[]);
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert!(doc["paths"]["/articles/{slug}/comments"].is_object());
}
