//! The load of the rolling-restart proof: blog writes and reads, cache
//! commands (threads), chat sends and job enqueues (a task), each counting
//! what was acknowledged, what failed, and its longest pause.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_wire::Session;
use agora_wire::jobs::NewJob;
use serde_json::{Value, json};

use super::ROOM;
use super::haproxy::http;

/// What one load stream did: operations acknowledged, failures (and the
/// first few), and the longest stretch without an acknowledgement.
#[derive(Debug)]
pub(super) struct Tally {
    pub(super) ok: u64,
    pub(super) failed: u64,
    retried: u64,
    errors: Vec<String>,
    last_ok: Instant,
    longest_gap: Duration,
}

impl Tally {
    pub(super) fn new() -> Arc<Mutex<Tally>> {
        Arc::new(Mutex::new(Tally {
            ok: 0,
            failed: 0,
            retried: 0,
            errors: Vec::new(),
            last_ok: Instant::now(),
            longest_gap: Duration::ZERO,
        }))
    }

    fn ok(&mut self) {
        let now = Instant::now();
        self.longest_gap = self.longest_gap.max(now - self.last_ok);
        self.last_ok = now;
        self.ok += 1;
    }

    fn fail(&mut self, why: String) {
        self.failed += 1;
        if self.errors.len() < 8 {
            self.errors.push(why);
        }
    }

    fn retry(&mut self, why: String) {
        self.retried += 1;
        if self.errors.len() < 8 {
            self.errors.push(format!("(retried) {why}"));
        }
    }

    pub(super) fn report(&self) -> Value {
        json!({
            "ok": self.ok,
            "failed": self.failed,
            "retried": self.retried,
            "longest_pause_ms": self.longest_gap.as_millis() as u64,
            "errors": self.errors,
        })
    }
}

pub(super) type Shared<T> = Arc<Mutex<T>>;

/// Blog writes through HAProxy: an article, then reading it back. Every
/// request must succeed; the slugs created are kept for the end.
pub(super) fn blog_writer(
    port: u16,
    token: String,
    stop: Arc<AtomicBool>,
    tally: Shared<Tally>,
    slugs: Shared<Vec<String>>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let article = json!({"article": {"title": format!("rolling {n}"),
            "description": "written during a rolling restart", "body": format!("body {n}")}});
        match http(port, "POST", "/api/articles", Some(&token), Some(&article)) {
            Ok((201, body)) => {
                let slug = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v["article"]["slug"].as_str().map(str::to_owned));
                let Some(slug) = slug else {
                    tally
                        .lock()
                        .unwrap()
                        .fail(format!("POST: no slug in {body}"));
                    continue;
                };
                tally.lock().unwrap().ok();
                slugs.lock().unwrap().push(slug.clone());
                match http(port, "GET", &format!("/api/articles/{slug}"), None, None) {
                    Ok((200, _)) => tally.lock().unwrap().ok(),
                    other => tally.lock().unwrap().fail(format!("GET {slug}: {other:?}")),
                }
            }
            other => tally
                .lock()
                .unwrap()
                .fail(format!("POST /api/articles: {other:?}")),
        }
    }
}

/// Blog reads through HAProxy: the list and an article written earlier.
pub(super) fn blog_reader(
    port: u16,
    stop: Arc<AtomicBool>,
    tally: Shared<Tally>,
    slugs: Shared<Vec<String>>,
) {
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let path = {
            let slugs = slugs.lock().unwrap();
            match slugs.len() {
                0 => "/api/articles?limit=5".to_owned(),
                len if n.is_multiple_of(2) => format!("/api/articles/{}", slugs[n % len]),
                _ => "/api/articles?limit=5".to_owned(),
            }
        };
        match http(port, "GET", &path, None, None) {
            Ok((200, _)) => tally.lock().unwrap().ok(),
            other => tally.lock().unwrap().fail(format!("GET {path}: {other:?}")),
        }
    }
}

/// Cache writes and reads through HAProxy's RESP port with a Redis
/// client library. A write is acknowledged by its OK; a broken connection
/// or an error reply is retried (counted) on a new connection. A read of
/// an acknowledged key that does not give its value is a lost write.
pub(super) fn cache_load(
    port: u16,
    stop: Arc<AtomicBool>,
    tally: Shared<Tally>,
    acked: Shared<Vec<u64>>,
) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("redis url");
    // A connection, or None once the load is over.
    let connect = || loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        match client.get_connection_with_timeout(Duration::from_secs(2)) {
            Ok(c) => {
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                return Some(c);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let Some(mut con) = connect() else { return };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        loop {
            let set: redis::RedisResult<String> = redis::cmd("SET")
                .arg(format!("rk:{n}"))
                .arg(n)
                .query(&mut con);
            match set {
                Ok(ok) if ok == "OK" => break,
                Ok(other) => tally.lock().unwrap().fail(format!("SET rk:{n}: {other}")),
                Err(e) => tally.lock().unwrap().retry(format!("SET rk:{n}: {e}")),
            }
            std::thread::sleep(Duration::from_millis(20));
            let Some(again) = connect() else { return };
            con = again;
        }
        tally.lock().unwrap().ok();
        acked.lock().unwrap().push(n);
        let earlier = 1 + (n.wrapping_mul(2_654_435_761) >> 7) % n;
        let get: redis::RedisResult<Option<u64>> = redis::cmd("GET")
            .arg(format!("rk:{earlier}"))
            .query(&mut con);
        match get {
            Ok(Some(v)) if v == earlier => tally.lock().unwrap().ok(),
            Ok(other) => tally
                .lock()
                .unwrap()
                .fail(format!("GET rk:{earlier} (acknowledged): {other:?}")),
            Err(e) => {
                tally
                    .lock()
                    .unwrap()
                    .retry(format!("GET rk:{earlier}: {e}"));
                let Some(again) = connect() else { return };
                con = again;
            }
        }
    }
}

pub(super) async fn native(port: u16, token: Option<String>) -> Session {
    let mut builder = Session::builder([format!("127.0.0.1:{port}")])
        .client_name("rolling-restart")
        .request_timeout(Some(Duration::from_secs(20)));
    if let Some(token) = token {
        builder = builder.token(token);
    }
    builder
        .connect()
        .await
        .expect("a native session through HAProxy")
}

pub(super) struct Native {
    pub(super) chat: Shared<Tally>,
    pub(super) jobs: Shared<Tally>,
    pub(super) sent: Shared<Vec<String>>,
    pub(super) ids: Shared<Vec<u64>>,
}

/// Chat sends and job enqueues through HAProxy's native port, each on its
/// own session that reconnects (and signs in again) after a goodbye.
pub(super) async fn native_load(port: u16, token: String, stop: Arc<AtomicBool>, out: &Native) {
    let chatter = native(port, Some(token.clone())).await;
    // Joined on the node this session reached (the follower joined on
    // another, maybe: a fleet shares memberships a moment later).
    chatter.chat().join(ROOM).await.expect("join");
    let worker = native(port, Some(token)).await;
    let chat = async {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let text = format!("m{n}");
            match chatter.chat().send(ROOM, &text).await {
                Ok(_) => {
                    out.chat.lock().unwrap().ok();
                    out.sent.lock().unwrap().push(text);
                }
                Err(e) => out.chat.lock().unwrap().fail(format!("send {text}: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let jobs = async {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let job = NewJob {
                kind: "rolling".into(),
                queue: Some("rolling".into()),
                args: Some(format!("{{\"n\":{n}}}")),
                ..NewJob::default()
            };
            match worker.jobs().enqueue(vec![job]).await {
                Ok(ids) => {
                    out.jobs.lock().unwrap().ok();
                    out.ids.lock().unwrap().extend(ids);
                }
                Err(e) => out.jobs.lock().unwrap().fail(format!("enqueue {n}: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::join!(chat, jobs);
}
