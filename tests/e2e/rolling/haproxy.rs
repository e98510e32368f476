//! HAProxy for the rolling-restart proof, and the plain HTTP client the
//! load and the checks use.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Ports;

/// HAProxy in front of the nodes: HTTP (mode http, retried elsewhere on a
/// refused connection or an empty response), the native protocol and RESP
/// (mode tcp), each server checked with `GET /readyz` on its HTTP port
/// every 500 ms; a stats page to see what it thinks.
pub(super) struct Haproxy {
    child: Child,
    pub(super) http: u16,
    pub(super) native: u16,
    pub(super) resp: u16,
    stats: u16,
}

impl Haproxy {
    pub(super) fn start(dir: &Path, nodes: &[(&str, Ports)]) -> Haproxy {
        let [http, native, resp, stats] = super::free_ports();
        let servers = |to: fn(&Ports) -> u16| {
            nodes
                .iter()
                .map(|(id, p)| format!("  server {id} 127.0.0.1:{} check port {}\n", to(p), p.http))
                .collect::<String>()
        };
        let config = format!(
            "global\n  maxconn 4096\n\
             defaults\n  timeout connect 1s\n  timeout client 1h\n  timeout server 1h\n\
             \x20 retries 3\n  option redispatch 1\n\
             \x20 default-server inter 500ms fastinter 250ms downinter 500ms fall 1 rise 2\n\
             frontend stats\n  mode http\n  bind 127.0.0.1:{stats}\n  stats enable\n  stats uri /stats\n\
             frontend http\n  mode http\n  bind 127.0.0.1:{http}\n  default_backend http\n\
             backend http\n  mode http\n  option httpchk GET /readyz\n  http-check expect status 200\n\
             \x20 option http-server-close\n  retry-on conn-failure empty-response\n  option forwardfor\n{}\
             frontend native\n  mode tcp\n  bind 127.0.0.1:{native}\n  default_backend native\n\
             backend native\n  mode tcp\n  option httpchk GET /readyz\n  http-check expect status 200\n{}\
             frontend resp\n  mode tcp\n  bind 127.0.0.1:{resp}\n  default_backend resp\n\
             backend resp\n  mode tcp\n  option httpchk GET /readyz\n  http-check expect status 200\n{}",
            servers(|p| p.http),
            servers(|p| p.listen),
            servers(|p| p.resp),
        );
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config).expect("haproxy.cfg");
        let haproxy = haproxy_bin();
        let check = Command::new(&haproxy)
            .args(["-c", "-q", "-f"])
            .arg(&file)
            .output()
            .expect("haproxy -c");
        assert!(
            check.status.success(),
            "haproxy -c: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(&haproxy)
            .args(["-db", "-f"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haproxy");
        Haproxy {
            child,
            http,
            native,
            resp,
            stats,
        }
    }

    /// Each (backend, server)'s status on the stats page (UP, DOWN, …).
    fn status(&self) -> BTreeMap<(String, String), String> {
        let Ok((200, csv)) = http(self.stats, "GET", "/stats;csv", None, None) else {
            return BTreeMap::new();
        };
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(px), Some(sv), Some(st)) = (col("pxname"), col("svname"), col("status")) else {
            return BTreeMap::new();
        };
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > st && f[sv] != "FRONTEND" && f[sv] != "BACKEND")
            .map(|f| ((f[px].to_owned(), f[sv].to_owned()), f[st].to_owned()))
            .collect()
    }

    /// Waits until `server` is `want` in every backend; how long it took.
    pub(super) fn wait(&self, server: &str, want: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let status = self.status();
            let states: Vec<&String> = status
                .iter()
                .filter(|((_, sv), _)| sv == server)
                .map(|(_, st)| st)
                .collect();
            if states.len() == 3 && states.iter().all(|s| s.starts_with(want)) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "HAProxy did not see {server} {want} within {limit:?}: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy_bin() -> PathBuf {
    let found = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    found.expect("HAProxy is needed (Debian's haproxy package: .ci/run tools installs it)")
}

/// One HTTP/1.1 request on a new connection; (status, body) or why not.
pub(super) fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {head:?}"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

/// The body of a `Transfer-Encoding: chunked` response (HAProxy's stats).
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}
