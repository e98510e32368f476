//! The daemon behind a load balancer (`--trusted-proxies`, docs/DEPLOY.md
//! "Rolling restarts"): a trusted proxy's `X-Forwarded-For` decides whose
//! rate-limit bucket a request uses and which client its log line names;
//! anyone else's is ignored, so it cannot be forged.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{Daemon, Home, rt, wait_for};

/// GET /api/tags with an `X-Forwarded-For` of `forwarded` (if any): the
/// status.
async fn get_tags(addr: SocketAddr, forwarded: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let xff = forwarded
        .map(|f| format!("X-Forwarded-For: {f}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET /api/tags HTTP/1.1\r\nHost: {addr}\r\n{xff}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

const LIMITS: [&str; 4] = ["--blog-read-burst", "2", "--blog-read-rate", "0.01"];

#[test]
fn a_trusted_proxy_names_the_client_and_nobody_else_can() {
    let home = Home::new();
    let mut args = LIMITS.to_vec();
    args.extend(["--trusted-proxies", "10.0.0.0/8,127.0.0.1"]);
    let daemon = Daemon::start_logged(&home, &args);
    let api = daemon.ready.http;
    rt().block_on(async {
        // Visitor A's two reads, then A is refused…
        assert_eq!(get_tags(api, Some("203.0.113.7")).await, 200);
        assert_eq!(get_tags(api, Some("203.0.113.7, 10.1.2.3")).await, 200);
        assert_eq!(get_tags(api, Some("203.0.113.7")).await, 429);
        // …and a forged entry to the left does not make A someone else.
        assert_eq!(get_tags(api, Some("198.51.100.1, 203.0.113.7")).await, 429);
        // Visitor B has a bucket of its own, as does the proxy itself.
        assert_eq!(get_tags(api, Some("198.51.100.1")).await, 200);
        assert_eq!(get_tags(api, None).await, 200);
    });
    // The request line names the forwarded client.
    wait_for(
        "a request line naming 203.0.113.7",
        Duration::from_secs(10),
        || {
            let log = std::fs::read_to_string(home.path().join("daemon.log")).ok()?;
            log.lines()
                .any(|l| l.contains("http request") && l.contains("client=203.0.113.7"))
                .then_some(())
        },
    );
}

#[test]
fn without_the_flag_x_forwarded_for_is_ignored() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &LIMITS);
    let api = daemon.ready.http;
    rt().block_on(async {
        assert_eq!(get_tags(api, Some("203.0.113.7")).await, 200);
        assert_eq!(get_tags(api, Some("198.51.100.1")).await, 200);
        // Every request came from 127.0.0.1: one bucket, now empty.
        assert_eq!(get_tags(api, Some("192.0.2.99")).await, 429);
    });
}

#[test]
fn a_bad_network_stops_the_daemon_with_one_line() {
    let home = Home::new();
    let out = home.run(
        &[
            "daemon",
            "--data",
            home.data().to_str().unwrap(),
            "--trusted-proxies",
            "10.0.0.0/40",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--trusted-proxies") && err.contains("10.0.0.0/40"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
