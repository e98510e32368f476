//! MONITOR: every command any client runs, as one line per command in
//! Redis's format (`+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`),
//! sent to each connection that asked for it.
//!
//! Nobody monitoring costs one relaxed atomic load per command
//! ([`Monitors::active`]). A monitor's lines wait in a bounded queue of
//! [`QUEUE`] lines: a monitor that falls that far behind is disconnected
//! (its kick token is cancelled, as a too-slow pub/sub subscriber is) and
//! counted in INFO's `monitors_dropped_slow`, so a slow monitor never
//! stalls a command or makes the daemon's memory grow.
//!
//! What is shown follows Redis 7.0's `call()`: a command after it ran
//! (EXEC after the commands it ran), EVAL/EVALSHA/FCALL before (so the
//! script's own calls, shown as `[0 lua]`, follow it); commands refused
//! before they ran (unknown, wrong arity, NOAUTH, OOM) and administrative
//! ones (CONFIG, SAVE, SHUTDOWN, MONITOR, …) are not shown; AUTH's
//! arguments and HELLO's AUTH user and password show as `"(redacted)"`.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Lines a monitor may have waiting before it is dropped as too slow.
pub const QUEUE: usize = 16 * 1024;

/// One monitoring connection.
struct Monitor {
    id: u64,
    tx: mpsc::Sender<Bytes>,
    kick: CancellationToken,
}

/// The monitoring connections.
#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: Mutex<Vec<Monitor>>,
    dropped_slow: AtomicU64,
}

/// Where a command came from, as the line's `[db origin]` shows it.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A RESP connection's `ip:port`.
    Addr(&'a str),
    /// A Lua script or function (`lua`).
    Lua,
    /// A native session (`native:<session id>`).
    Native(u64),
}

impl Monitors {
    /// Whether anyone monitors: the one check on the hot path.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Monitor>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts monitoring for connection `id`: the lines to send, and a
    /// token cancelled if the connection is dropped for falling behind.
    pub fn add(&self, id: u64) -> (mpsc::Receiver<Bytes>, CancellationToken) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let kick = CancellationToken::new();
        let mut list = self.lock();
        list.retain(|m| m.id != id);
        list.push(Monitor {
            id,
            tx,
            kick: kick.clone(),
        });
        self.count.store(list.len(), Ordering::Relaxed);
        (rx, kick)
    }

    /// Stops monitoring for connection `id` (RESET, or it closed).
    pub fn remove(&self, id: u64) {
        let mut list = self.lock();
        list.retain(|m| m.id != id);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Monitors dropped for falling [`QUEUE`] lines behind, since start.
    pub fn dropped_slow(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }

    /// Monitoring connections now.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether nobody monitors.
    pub fn is_empty(&self) -> bool {
        !self.active()
    }

    /// Sends one command's line to every monitor (call only when
    /// [`Monitors::active`]).
    pub fn feed(&self, db: usize, origin: Origin<'_>, args: &[Bytes]) {
        let line = Bytes::from(format_line(crate::now_us(), db, origin, args));
        let mut list = self.lock();
        let before = list.len();
        list.retain(|m| match m.tx.try_send(line.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                m.kick.cancel();
                self.dropped_slow.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if list.len() != before {
            self.count.store(list.len(), Ordering::Relaxed);
        }
    }
}

/// Whether MONITOR shows `name` (Redis hides administrative commands).
pub fn shown(name: &str) -> bool {
    !matches!(
        name,
        "save"
            | "bgsave"
            | "bgrewriteaof"
            | "config"
            | "debug"
            | "shutdown"
            | "monitor"
            | "replicaof"
            | "slaveof"
            | "failover"
            | "sync"
            | "psync"
            | "quit"
    )
}

/// One line: `+<s>.<µs> [<db> <origin>] "arg" "arg"\r\n`, each argument
/// quoted as Redis's `sdscatrepr` does, secrets redacted.
pub fn format_line(now_us: u64, db: usize, origin: Origin<'_>, args: &[Bytes]) -> Vec<u8> {
    let mut s = String::with_capacity(64 + args.iter().map(Bytes::len).sum::<usize>());
    let _ = write!(
        s,
        "+{}.{:06} [{db} ",
        now_us / 1_000_000,
        now_us % 1_000_000
    );
    let _ = match origin {
        Origin::Addr(addr) => write!(s, "{addr}] "),
        Origin::Lua => write!(s, "lua] "),
        Origin::Native(id) => write!(s, "native:{id}] "),
    };
    let redacted = redacted_from(args);
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        if redacted.contains(&i) {
            s.push_str("\"(redacted)\"");
        } else {
            repr(&mut s, arg);
        }
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Which arguments hide: all of AUTH's, the two after HELLO's AUTH.
fn redacted_from(args: &[Bytes]) -> std::ops::Range<usize> {
    let Some(name) = args.first() else {
        return 0..0;
    };
    if name.eq_ignore_ascii_case(b"auth") {
        return 1..args.len();
    }
    if name.eq_ignore_ascii_case(b"hello")
        && let Some(pos) = args
            .iter()
            .skip(2)
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
    {
        let at = pos + 2;
        return at + 1..(at + 3).min(args.len());
    }
    0..0
}

/// Redis's `sdscatrepr`: a quoted string with C escapes.
fn repr(s: &mut String, bytes: &[u8]) {
    s.push('"');
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter().map(|a| Bytes::from(a.to_string())).collect()
    }

    fn line(origin: Origin<'_>, list: &[&str]) -> String {
        String::from_utf8(format_line(1_339_518_083_107_412, 0, origin, &args(list))).unwrap()
    }

    #[test]
    fn lines_have_redis_format() {
        assert_eq!(
            line(Origin::Addr("127.0.0.1:60866"), &["keys", "*"]),
            "+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n"
        );
        assert_eq!(
            line(Origin::Lua, &["set", "a\"b\\", "x\ny\u{1}"]),
            "+1339518083.107412 [0 lua] \"set\" \"a\\\"b\\\\\" \"x\\ny\\x01\"\r\n"
        );
        assert_eq!(
            String::from_utf8(format_line(5, 3, Origin::Native(7), &args(&["ping"]))).unwrap(),
            "+0.000005 [3 native:7] \"ping\"\r\n"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert!(
            line(Origin::Lua, &["AUTH", "user", "pass"])
                .ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\"\r\n")
        );
        assert!(
            line(
                Origin::Lua,
                &["hello", "2", "AUTH", "u", "p", "SETNAME", "n"]
            )
            .ends_with(
                "\"hello\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
            )
        );
        assert!(
            line(Origin::Lua, &["hello", "3", "auth"]).ends_with("\"hello\" \"3\" \"auth\"\r\n")
        );
    }

    #[test]
    fn a_full_monitor_is_dropped_and_kicked() {
        let monitors = Monitors::default();
        assert!(!monitors.active());
        let (mut rx, kick) = monitors.add(1);
        assert!(monitors.active());
        for _ in 0..QUEUE {
            monitors.feed(0, Origin::Lua, &args(&["ping"]));
        }
        assert!(!kick.is_cancelled());
        assert!(rx.try_recv().is_ok());
        monitors.feed(0, Origin::Lua, &args(&["ping"]));
        monitors.feed(0, Origin::Lua, &args(&["ping"]));
        assert!(kick.is_cancelled());
        assert!(!monitors.active());
        assert_eq!(monitors.dropped_slow(), 1);
    }

    #[test]
    fn a_closed_monitor_is_removed() {
        let monitors = Monitors::default();
        let (rx, _kick) = monitors.add(1);
        drop(rx);
        monitors.feed(0, Origin::Lua, &args(&["ping"]));
        assert!(!monitors.active());
        assert_eq!(monitors.dropped_slow(), 0);
        let _keep = monitors.add(2);
        monitors.remove(2);
        assert!(monitors.is_empty());
    }
}
