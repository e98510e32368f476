//! A headless browser for the web pages the daemon serves, and the tests
//! of the jobs page with it.
//!
//! [`Browser`] runs Debian's `chromedriver` (package `chromium-driver`,
//! installed by `.ci/run` with `chromium`) on a free loopback port and
//! drives a headless Chromium through it over WebDriver with `fantoccini`.
//! Chromium runs as root in CI, hence `--no-sandbox`; it gets a fresh
//! profile directory and every background network feature turned off (the
//! machine reaches nothing but package registries). When chromedriver is
//! missing the test fails, saying how to install it: it never skips.
//!
//! Other pages (the dashboard) reuse [`Browser`]: `Browser::start()`, then
//! `browser.client` is a `fantoccini::Client`; `browser.close()` at the
//! end (dropping it kills chromedriver, which takes Chromium along).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agora_wire::jobs::NewJob;
use agora_wire::{JobsOp, JobsReply, Reply};
use fantoccini::{ClientBuilder, Locator};

use crate::support::{Daemon, Home, rt, saved_token};

/// The flags Chromium needs here: headless, as root, offline, and a
/// profile of its own (added by [`Browser::start`]).
pub const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// A headless Chromium behind its chromedriver.
pub struct Browser {
    /// The WebDriver session.
    pub client: fantoccini::Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn find(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

impl Browser {
    /// Starts chromedriver and a browser session.
    pub async fn start() -> Browser {
        let driver_bin = find(&["chromedriver"]).expect(
            "chromedriver is not installed: apt-get install chromium chromium-driver (.ci/run does)",
        );
        let chromium = find(&["chromium", "chromium-browser"])
            .expect("chromium is not installed: apt-get install chromium (.ci/run does)");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Waits until the element `css` exists and `check` holds for its
    /// text; returns that text.
    pub async fn wait_text(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = el.text().await
                && check(&text)
            {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "timed out waiting for {css}; page: {}",
                self.client
                    .find(Locator::Css("body"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element `css`, finding it again when the page replaced
    /// it between the find and the click (a live page re-renders rows as
    /// events arrive: WebDriver's "stale element reference").
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => match el.click().await {
                    Ok(()) => return,
                    Err(err) => assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "cannot click {css}: {err}"
                    ),
                },
                Err(err) => assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "no {css}: {err}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn the_jobs_page_shows_a_dead_job_live_and_retries_it() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    let token = saved_token(&home, &daemon.addr);
    rt().block_on(async {
        let client = daemon.client(Some(token.clone())).await;
        let browser = Browser::start().await;
        let base = format!("http://{}", daemon.ready.http);

        // Without a token: the form, no data.
        browser.client.goto(&format!("{base}/jobs")).await.unwrap();
        browser
            .wait_text("#status", |t| t.contains("token is needed"))
            .await;
        assert!(
            browser
                .client
                .find(Locator::Css("#signin"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap()
        );

        // With the token in the fragment: live figures. (From another
        // page: a change of fragment alone does not load the page again.)
        browser.client.goto("about:blank").await.unwrap();
        browser
            .client
            .goto(&format!("{base}/jobs#token={token}"))
            .await
            .unwrap();
        browser.wait_text("#status", |t| t == "live").await;
        let url = browser.client.current_url().await.unwrap();
        assert!(
            !url.as_str().contains("token"),
            "the token left the address bar: {url}"
        );
        // A job that dies at once (built-in `fail`, one attempt) appears in
        // the dead letters without reloading the page.
        let ask = |op: JobsOp| {
            let client = &client;
            async move {
                match client.request(op).await.unwrap() {
                    Reply::Jobs(r) => r,
                    other => panic!("{other:?}"),
                }
            }
        };
        let JobsReply::Enqueued { ids, .. } = ask(JobsOp::Enqueue {
            jobs: vec![NewJob {
                kind: "fail".into(),
                queue: Some("web".into()),
                max_attempts: Some(1),
                args: Some(r#"{"message": "printer on fire"}"#.into()),
                ..NewJob::default()
            }],
        })
        .await
        else {
            panic!()
        };
        let id = ids[0];
        let row = format!("#job-{id}");
        let text = browser
            .wait_text(&row, |t| t.contains("printer on fire"))
            .await;
        assert!(text.contains("web") && text.contains("fail"), "{text}");
        browser.wait_text("#count-dead", |t| t == "1").await;
        let queue = browser
            .wait_text("#queues tbody tr[data-queue=web]", |_| true)
            .await;
        assert!(queue.starts_with("web"), "{queue}");

        // Retry: the job runs again (and, being `fail`, dies again, with a
        // second error in its history).
        browser.click(&format!("{row} button.retry")).await;
        browser
            .wait_text("#message", |t| t == format!("retry job {id}: 1 job"))
            .await;
        let started = Instant::now();
        loop {
            let JobsReply::Job { job } = ask(JobsOp::Get { id }).await else {
                panic!()
            };
            if job.errors.len() == 2 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{job:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Discard: gone from the page.
        browser
            .wait_text(&format!("{row} button.discard"), |_| true)
            .await;
        browser.click(&format!("{row} button.discard")).await;
        browser.wait_text("#count-dead", |t| t == "0").await;
        assert!(
            browser.client.find(Locator::Css(&row)).await.is_err(),
            "the discarded job is still shown"
        );
        browser.close().await;
    });
    // The API refuses requests without a valid token.
    rt().block_on(async {
        let (status, body) = daemon.http_get("/jobs/events").await;
        assert_eq!(status, 401, "{body}");
        let (status, page) = daemon.http_get("/jobs").await;
        assert_eq!(status, 200);
        assert!(page.contains("agora jobs"));
    });
}
