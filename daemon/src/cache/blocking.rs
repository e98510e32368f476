//! Blocking pops: BLPOP BRPOP BLMPOP BZPOPMIN BZPOPMAX BZMPOP.
//!
//! A blocking command first tries its non-blocking form ([`try_serve`],
//! which runs LPOP/RPOP/LMPOP/ZPOPMIN/ZPOPMAX/ZMPOP). When every key is
//! empty, the RESP connection registers a [`Waiter`] on the keys
//! ([`Blocked::register`]) and waits for a signal, its timeout, CLIENT
//! UNBLOCK, the client leaving or the daemon stopping; it keeps reading
//! (and buffering) its socket meanwhile, so a client that disconnects is
//! noticed at once and never has an element popped for it.
//!
//! Every write that succeeds signals the keys it names
//! ([`crate::cache::cmd::execute_gated`]); a signal wakes the *first*
//! waiter of the key only, so clients are served in arrival order; a
//! waiter leaving (served, timed out, gone) passes the signal on to the
//! next one. Inside MULTI/EXEC and on the native protocol the commands do
//! not block: they answer the timeout reply at once, as Redis does inside
//! a transaction.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::cmd::{self, Ctx, is, parse_f64, parse_i64};
use super::reply::{Reply, errors};

/// Why a waiter stopped waiting without being served.
pub mod unblock {
    /// Still waiting.
    pub const NONE: u8 = 0;
    /// CLIENT UNBLOCK [TIMEOUT]: answer as on timeout.
    pub const TIMEOUT: u8 = 1;
    /// CLIENT UNBLOCK ERROR.
    pub const ERROR: u8 = 2;
}

/// One blocked connection.
pub struct Waiter {
    /// Woken on a signal for one of its keys or CLIENT UNBLOCK.
    pub notify: tokio::sync::Notify,
    /// The connection's id.
    pub client: u64,
    /// One of [`unblock`]'s values.
    pub unblock: AtomicU8,
}

#[derive(Default)]
struct Registry {
    keys: HashMap<(usize, Bytes), VecDeque<Arc<Waiter>>>,
    clients: HashMap<u64, Arc<Waiter>>,
}

/// Every blocked connection, by key and by client id.
#[derive(Default)]
pub struct Blocked {
    registry: Mutex<Registry>,
    count: AtomicUsize,
}

impl Blocked {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any connection is blocked (cheap).
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// How many connections are blocked (INFO's `blocked_clients`).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether no connection is blocked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Blocks `client` on `keys` of database `db`, behind the waiters
    /// already there.
    pub fn register(&self, client: u64, db: usize, keys: &[Bytes]) -> Arc<Waiter> {
        let waiter = Arc::new(Waiter {
            notify: tokio::sync::Notify::new(),
            client,
            unblock: AtomicU8::new(unblock::NONE),
        });
        let mut registry = self.lock();
        for key in keys {
            registry
                .keys
                .entry((db, key.clone()))
                .or_default()
                .push_back(waiter.clone());
        }
        registry.clients.insert(client, waiter.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        waiter
    }

    /// Unblocks: removes the waiter from its keys and passes a signal on
    /// to the next waiter of each (the element it was woken for may be
    /// there still).
    pub fn deregister(&self, waiter: &Arc<Waiter>, db: usize, keys: &[Bytes]) {
        let mut registry = self.lock();
        for key in keys {
            let k = (db, key.clone());
            if let Some(queue) = registry.keys.get_mut(&k) {
                queue.retain(|w| !Arc::ptr_eq(w, waiter));
                match queue.front() {
                    Some(next) => next.notify.notify_one(),
                    None => {
                        registry.keys.remove(&k);
                    }
                }
            }
        }
        if registry
            .clients
            .get(&waiter.client)
            .is_some_and(|w| Arc::ptr_eq(w, waiter))
        {
            registry.clients.remove(&waiter.client);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
    }

    /// A write changed `key`: wakes its first waiter.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        let registry = self.lock();
        if let Some(front) = registry
            .keys
            .get(&(db, Bytes::copy_from_slice(key)))
            .and_then(VecDeque::front)
        {
            front.notify.notify_one();
        }
    }

    /// Every key of `db` (or of every database) may have changed.
    pub fn signal_db(&self, db: Option<usize>) {
        if !self.any() {
            return;
        }
        let registry = self.lock();
        for ((d, _), queue) in &registry.keys {
            if db.is_none_or(|db| db == *d)
                && let Some(front) = queue.front()
            {
                front.notify.notify_one();
            }
        }
    }

    /// CLIENT UNBLOCK: true when `client` was blocked.
    pub fn unblock(&self, client: u64, error: bool) -> bool {
        let registry = self.lock();
        let Some(waiter) = registry.clients.get(&client) else {
            return false;
        };
        let how = if error {
            unblock::ERROR
        } else {
            unblock::TIMEOUT
        };
        waiter.unblock.store(how, Ordering::Relaxed);
        waiter.notify.notify_one();
        true
    }
}

/// Whether `name` (lower case, from the command table) blocks.
pub fn is_blocking(name: &str) -> bool {
    matches!(
        name,
        "blpop" | "brpop" | "blmpop" | "bzpopmin" | "bzpopmax" | "bzmpop"
    )
}

/// What a blocking command waits on.
pub struct Wait {
    /// The keys, in the command's order.
    pub keys: Vec<Bytes>,
    /// How long to wait at most, in ms; `None` waits for ever.
    pub timeout_ms: Option<u64>,
}

fn timeout_arg(arg: &[u8]) -> Result<Option<u64>, Reply> {
    let secs = parse_f64(arg).ok_or(Reply::err("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    if !secs.is_finite() || secs > 1e12 {
        return Err(Reply::err("ERR timeout is out of range"));
    }
    let ms = (secs * 1000.0).ceil() as u64;
    Ok((ms > 0).then_some(ms))
}

/// Parses a blocking command's keys and timeout (the arity was checked).
///
/// # Errors
/// Redis's error for a bad timeout or key count.
pub fn parse(name: &str, args: &[Bytes]) -> Result<Wait, Reply> {
    match name {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let timeout_ms = timeout_arg(&args[args.len() - 1])?;
            Ok(Wait {
                keys: args[1..args.len() - 1].to_vec(),
                timeout_ms,
            })
        }
        _ => {
            // BLMPOP/BZMPOP timeout numkeys key [key ...] …
            let timeout_ms = timeout_arg(&args[1])?;
            let numkeys = match parse_i64(&args[2]) {
                Some(n) if n > 0 => n as usize,
                _ => return Err(Reply::err("ERR numkeys should be greater than 0")),
            };
            if numkeys > args.len().saturating_sub(3) {
                return Err(Reply::err(errors::SYNTAX));
            }
            Ok(Wait {
                keys: args[3..3 + numkeys].to_vec(),
                timeout_ms,
            })
        }
    }
}

/// What a blocking command answers on timeout.
pub fn timeout_reply() -> Reply {
    Reply::NilArray
}

/// Runs `args` as a non-blocking command under the gate already held.
fn run(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut reply = None;
    cmd::execute_gated(ctx, cmd::lookup(&args[0]), args, &mut reply, false);
    reply.unwrap_or(Reply::Nil)
}

/// The blocking command's answer if it can be served now (or its error),
/// `None` when it would block. The caller holds the transaction gate.
///
/// `retry` is false on the command's first attempt: a key of another type
/// then answers WRONGTYPE; on later attempts (after a signal) it is
/// skipped and the client keeps waiting, as in Redis.
pub fn try_serve(ctx: &mut Ctx<'_>, args: &[Bytes], retry: bool) -> Option<Reply> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let wait = match parse(&name, args) {
        Ok(w) => w,
        Err(e) => return Some(e),
    };
    match name.as_str() {
        "blpop" | "brpop" => {
            let pop = if name == "blpop" { "lpop" } else { "rpop" };
            for key in &wait.keys {
                match run(ctx, &[Bytes::from_static(pop.as_bytes()), key.clone()]) {
                    Reply::Nil => continue,
                    Reply::Bulk(v) => {
                        return Some(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(v)]));
                    }
                    other => return Some(other),
                }
            }
            None
        }
        "bzpopmin" | "bzpopmax" => {
            let pop = if name == "bzpopmin" {
                "zpopmin"
            } else {
                "zpopmax"
            };
            for key in &wait.keys {
                match run(ctx, &[Bytes::from_static(pop.as_bytes()), key.clone()]) {
                    Reply::Array(items) if items.is_empty() => continue,
                    Reply::Array(mut items) => {
                        items.insert(0, Reply::Bulk(key.clone()));
                        return Some(Reply::Array(items));
                    }
                    Reply::Error(_) if retry => continue,
                    other => return Some(other),
                }
            }
            None
        }
        _ => {
            // BLMPOP/BZMPOP: the non-blocking form without the timeout.
            let inner = if name == "blmpop" { "lmpop" } else { "zmpop" };
            let mut inner_args = Vec::with_capacity(args.len() - 1);
            inner_args.push(Bytes::from_static(inner.as_bytes()));
            inner_args.extend_from_slice(&args[2..]);
            match run(ctx, &inner_args) {
                Reply::NilArray => None,
                Reply::Error(_) if retry => None,
                other => Some(other),
            }
        }
    }
}

/// The table's handler for the blocking commands: what they answer where
/// they cannot block (inside EXEC, on the native protocol).
pub fn handler(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    try_serve(ctx, args, false).unwrap_or_else(timeout_reply)
}

/// Whether CLIENT UNBLOCK's optional argument asks for an error.
///
/// # Errors
/// A word other than TIMEOUT or ERROR.
pub fn unblock_mode(arg: Option<&Bytes>) -> Result<bool, Reply> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "timeout") => Ok(false),
        Some(a) if is(a, "error") => Ok(true),
        Some(_) => Err(Reply::err(
            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    #[tokio::test]
    async fn signals_wake_the_first_waiter_and_pass_on() {
        let blocked = Blocked::default();
        let first = blocked.register(1, 0, &[key("k")]);
        let second = blocked.register(2, 0, &[key("k")]);
        assert_eq!(blocked.len(), 2);
        blocked.signal(0, b"k");
        // Only the first has a permit.
        tokio::time::timeout(
            std::time::Duration::from_millis(50),
            first.notify.notified(),
        )
        .await
        .unwrap();
        assert!(
            tokio::time::timeout(
                std::time::Duration::from_millis(20),
                second.notify.notified()
            )
            .await
            .is_err()
        );
        // The first leaves: the second is woken.
        blocked.deregister(&first, 0, &[key("k")]);
        tokio::time::timeout(
            std::time::Duration::from_millis(50),
            second.notify.notified(),
        )
        .await
        .unwrap();
        // Another database's key wakes nobody.
        blocked.signal(1, b"k");
        assert!(blocked.unblock(2, true));
        assert_eq!(second.unblock.load(Ordering::Relaxed), unblock::ERROR);
        assert!(!blocked.unblock(1, false));
        blocked.deregister(&second, 0, &[key("k")]);
        assert!(blocked.is_empty());
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(timeout_arg(b"0").unwrap(), None);
        assert_eq!(timeout_arg(b"0.5").unwrap(), Some(500));
        assert_eq!(timeout_arg(b"2").unwrap(), Some(2000));
        assert_eq!(
            timeout_arg(b"-1").unwrap_err(),
            Reply::err("ERR timeout is negative")
        );
        assert_eq!(
            timeout_arg(b"abc").unwrap_err(),
            Reply::err("ERR timeout is not a float or out of range")
        );
        assert!(timeout_arg(b"inf").is_err());
    }
}
