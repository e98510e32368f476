//! Transactions: MULTI/EXEC/DISCARD/WATCH/UNWATCH, with Redis's
//! semantics.
//!
//! - [`Gate`]: EXEC runs its queued commands with no other command in
//!   between. Every command holds a *read* side of the gate while it runs
//!   (one stripe per thread, so the two cores never share its cache
//!   line); EXEC takes every stripe's *write* side. Commands never wait for
//!   each other on the gate, only for a running EXEC.
//! - [`Watches`]: which connections watch which (database, key). After a
//!   write that succeeds, [`crate::cache::cmd::execute_into`] touches the
//!   keys it names (FLUSHDB and FLUSHALL the watched keys that existed,
//!   SWAPDB whole databases);
//!   a touched watcher's EXEC fails with a null reply. A key watched while
//!   it had a TTL that has passed by EXEC fails it too (the key expired).
//!   When nothing is watched, a write pays one atomic load.
//!
//! The per-connection part (the queue, the watched keys, the dirty flag)
//! is in [`crate::cache::cmd::Client`]; the RESP connection drives it
//! with [`command`]. The native protocol's `cache_command` has no
//! connection state between requests and refuses these commands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use super::Cache;
use super::cmd::{self, Client, Ctx};
use super::reply::{Reply, errors};
use super::store::Access;

const STRIPES: usize = 16;

/// One stripe of the gate, alone on its cache line(s).
#[derive(Default)]
#[repr(align(128))]
struct Stripe(RwLock<()>);

/// The exclusion between EXEC and every other command (see the module
/// documentation).
#[derive(Default)]
pub struct Gate {
    stripes: [Stripe; STRIPES],
}

thread_local! {
    static STRIPE: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
    };
}

impl Gate {
    /// The shared side, held while one command runs.
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        let i = STRIPE.with(|s| *s);
        self.stripes[i].0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The exclusive side, held while EXEC runs its queue.
    pub fn exclusive(&self) -> Vec<RwLockWriteGuard<'_, ()>> {
        self.stripes
            .iter()
            .map(|s| s.0.write().unwrap_or_else(|p| p.into_inner()))
            .collect()
    }
}

type Watchers = Vec<(u64, Arc<AtomicBool>)>;

/// Who watches which key.
#[derive(Default)]
pub struct Watches {
    keys: Mutex<HashMap<(usize, Bytes), Watchers>>,
    /// How many (key, watcher) pairs exist: writes skip the lock at 0.
    count: AtomicUsize,
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, Bytes), Watchers>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether anything is watched (cheap).
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    fn add(&self, client: u64, flag: &Arc<AtomicBool>, db: usize, key: &Bytes) {
        let mut keys = self.lock();
        let watchers = keys.entry((db, key.clone())).or_default();
        if !watchers.iter().any(|(id, _)| *id == client) {
            watchers.push((client, flag.clone()));
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets every key `client` watches.
    pub fn remove_client(&self, client: &mut Client) {
        if client.watched.is_empty() {
            return;
        }
        let mut keys = self.lock();
        for (db, key, _) in client.watched.drain(..) {
            let k = (db, key);
            if let Some(watchers) = keys.get_mut(&k) {
                let before = watchers.len();
                watchers.retain(|(id, _)| *id != client.id);
                self.count
                    .fetch_sub(before - watchers.len(), Ordering::Relaxed);
                if watchers.is_empty() {
                    keys.remove(&k);
                }
            }
        }
        client.dirty.store(false, Ordering::Relaxed);
    }

    /// A write changed `key` in database `db`.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        let keys = self.lock();
        if let Some(watchers) = keys.get(&(db, Bytes::copy_from_slice(key))) {
            for (_, flag) in watchers {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The watched keys of database `db` (every database when `None`).
    pub fn watched_in(&self, db: Option<usize>) -> Vec<(usize, Bytes)> {
        if !self.any() {
            return Vec::new();
        }
        self.lock()
            .keys()
            .filter(|(d, _)| db.is_none_or(|db| db == *d))
            .cloned()
            .collect()
    }

    /// Every key of database `db` may have changed (FLUSHDB, SWAPDB), or
    /// of every database (`None`: FLUSHALL).
    pub fn touch_db(&self, db: Option<usize>) {
        if !self.any() {
            return;
        }
        let keys = self.lock();
        for ((d, _), watchers) in keys.iter() {
            if db.is_none_or(|db| db == *d) {
                for (_, flag) in watchers {
                    flag.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The names this module answers.
pub fn is_transaction_command(name: &[u8]) -> bool {
    ["multi", "exec", "discard", "watch", "unwatch"]
        .iter()
        .any(|c| cmd::is(name, c))
}

/// Runs MULTI/EXEC/DISCARD/WATCH/UNWATCH for a connection.
pub fn command(cache: &Cache, client: &mut Client, now_ms: u64, args: &[Bytes]) -> Reply {
    let name = &args[0];
    let arity = |n: usize, cmd_name: &str| {
        if args.len() == n {
            None
        } else {
            Some(cmd::wrong_arity(cmd_name))
        }
    };
    if cmd::is(name, "multi") {
        if let Some(e) = arity(1, "multi") {
            return e;
        }
        if client.multi.is_some() {
            return Reply::err("ERR MULTI calls can not be nested");
        }
        client.multi = Some(Vec::new());
        client.multi_error = false;
        Reply::ok()
    } else if cmd::is(name, "discard") {
        if let Some(e) = arity(1, "discard") {
            return e;
        }
        if client.multi.take().is_none() {
            return Reply::err("ERR DISCARD without MULTI");
        }
        cache.watches.remove_client(client);
        Reply::ok()
    } else if cmd::is(name, "watch") {
        if args.len() < 2 {
            return cmd::wrong_arity("watch");
        }
        if client.multi.is_some() {
            return Reply::err("ERR WATCH inside MULTI is not allowed");
        }
        let db = client.db;
        for key in &args[1..] {
            if client.watched.iter().any(|(d, k, _)| *d == db && k == key) {
                continue;
            }
            let expire_at = cache
                .store
                .db(db)
                .lock_key(key)
                .peek(key, now_ms)
                .map_or(0, |e| e.expire_at);
            cache.watches.add(client.id, &client.dirty, db, key);
            client.watched.push((db, key.clone(), expire_at));
        }
        Reply::ok()
    } else if cmd::is(name, "unwatch") {
        if let Some(e) = arity(1, "unwatch") {
            return e;
        }
        cache.watches.remove_client(client);
        Reply::ok()
    } else {
        exec(cache, client, now_ms, args)
    }
}

fn exec(cache: &Cache, client: &mut Client, now_ms: u64, args: &[Bytes]) -> Reply {
    if args.len() != 1 {
        return cmd::wrong_arity("exec");
    }
    let Some(queue) = client.multi.take() else {
        return Reply::err("ERR EXEC without MULTI");
    };
    if std::mem::take(&mut client.multi_error) {
        cache.watches.remove_client(client);
        return Reply::err("EXECABORT Transaction discarded because of previous errors.");
    }
    // Over the memory limit, a queue that may add memory is refused
    // whole, as Redis refuses such an EXEC.
    let adds_memory = queue
        .iter()
        .any(|args| cmd::lookup(&args[0]).is_some_and(|s| s.kind == cmd::Kind::DenyOom));
    if adds_memory && cache.store.make_room(now_ms).is_err() {
        cache.watches.remove_client(client);
        return Reply::err(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
        );
    }
    let _exclusive = cache.gate.exclusive();
    // A watched key that had a TTL which has passed counts as changed.
    let expired = client
        .watched
        .iter()
        .any(|(_, _, at)| *at != 0 && *at <= now_ms);
    let dirty = client.dirty.load(Ordering::Relaxed) || expired;
    cache.watches.remove_client(client);
    if dirty {
        return Reply::NilArray;
    }
    let mut replies = Vec::with_capacity(queue.len());
    for args in &queue {
        let mut ctx = Ctx {
            cache,
            client,
            now_ms,
            access: Access::Counted,
        };
        let mut reply = None;
        let spec = cmd::lookup(&args[0]);
        if spec.is_some_and(|s| s.name == "publish") {
            reply = Some(Reply::Integer(
                cache.pubsub.publish(&args[1], &args[2]) as i64
            ));
        } else if spec.is_some_and(|s| s.name == "spublish") {
            reply = Some(Reply::Integer(
                cache.pubsub.spublish(&args[1], &args[2]) as i64
            ));
        } else if cmd::execute_gated(&mut ctx, spec, args, &mut reply, false) {
            cache.stats.commands.fetch_add(1, Ordering::Relaxed);
        }
        replies.push(reply.unwrap_or(Reply::Nil));
    }
    Reply::Array(replies)
}

/// The reply to a command refused before it runs (`error`, e.g. BUSY),
/// as Redis's `rejectCommand`: inside MULTI the refusal makes EXEC fail
/// (`EXECABORT … previous errors`), and a refused EXEC discards the
/// transaction with `EXECABORT Transaction discarded because of: …`.
pub fn reject(cache: &Cache, client: &mut Client, name: &[u8], error: &str) -> Reply {
    if client.multi.is_none() {
        return Reply::error(error.to_string());
    }
    if cmd::is(name, "exec") {
        client.multi = None;
        client.multi_error = false;
        cache.watches.remove_client(client);
        return Reply::error(format!(
            "EXECABORT Transaction discarded because of: {error}"
        ));
    }
    client.multi_error = true;
    Reply::error(error.to_string())
}

/// Queues a command inside MULTI: `+QUEUED`, or the error that will
/// make EXEC fail (an unknown command, a wrong arity, a command a
/// transaction cannot hold, a command that may add memory while the
/// cache is over its limit).
pub fn queue(cache: &Cache, client: &mut Client, now_ms: u64, args: &[Bytes]) -> Reply {
    let spec = cmd::lookup(&args[0]);
    // Redis's `no-multi` commands (the replication ones are refused so
    // even though agora does not answer them).
    let no_multi = ["save", "shutdown", "sync", "psync"]
        .iter()
        .any(|c| cmd::is(&args[0], c));
    let refused = match spec {
        _ if no_multi => Some(Reply::err("ERR Command not allowed inside a transaction")),
        None => Some(cmd::unknown_command(args)),
        Some(spec) if !cmd::arity_ok(spec.arity, args.len()) => Some(cmd::wrong_arity(spec.name)),
        Some(spec) if spec.kind == cmd::Kind::DenyOom && cache.store.make_room(now_ms).is_err() => {
            Some(Reply::err(errors::OOM))
        }
        Some(spec)
            if spec.kind == cmd::Kind::Conn
                && spec.name != "publish"
                && spec.name != "spublish" =>
        {
            Some(Reply::error(format!(
                "ERR Command not allowed inside a transaction: '{}'",
                spec.name
            )))
        }
        Some(_) => None,
    };
    if let Some(err) = refused {
        client.multi_error = true;
        return err;
    }
    if let Some(queue) = client.multi.as_mut() {
        queue.push(args.to_vec());
    }
    Reply::Simple("QUEUED".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;

    fn run(cache: &Cache, client: &mut Client, now: u64, line: &str) -> Reply {
        let args: Vec<Bytes> = crate::resp::args::split_args(line)
            .unwrap()
            .into_iter()
            .map(Bytes::from)
            .collect();
        if is_transaction_command(&args[0]) {
            return command(cache, client, now, &args);
        }
        if client.multi.is_some() {
            return queue(cache, client, now, &args);
        }
        let mut ctx = Ctx {
            cache,
            client,
            now_ms: now,
            access: Access::Counted,
        };
        cmd::execute(&mut ctx, &args)
    }

    fn new_client(id: u64) -> Client {
        Client {
            id,
            ..Client::default()
        }
    }

    #[test]
    fn a_refused_command_fails_the_transaction_and_a_refused_exec_ends_it() {
        let cache = Cache::new(CacheConfig::default(), std::path::Path::new("."));
        let mut c = new_client(1);
        let busy = "BUSY Redis is busy running a script.";
        // Outside MULTI: the error alone.
        assert_eq!(
            reject(&cache, &mut c, b"get", busy),
            Reply::error(busy.into())
        );
        run(&cache, &mut c, 0, "MULTI");
        run(&cache, &mut c, 0, "INCR x");
        assert_eq!(
            reject(&cache, &mut c, b"incr", busy),
            Reply::error(busy.into())
        );
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::err("EXECABORT Transaction discarded because of previous errors.")
        );
        run(&cache, &mut c, 0, "MULTI");
        run(&cache, &mut c, 0, "INCR x");
        assert_eq!(
            reject(&cache, &mut c, b"EXEC", busy),
            Reply::error(format!(
                "EXECABORT Transaction discarded because of: {busy}"
            ))
        );
        assert!(c.multi.is_none());
        assert_eq!(run(&cache, &mut c, 0, "GET x"), Reply::Nil);
        // SAVE and SHUTDOWN cannot be queued.
        run(&cache, &mut c, 0, "MULTI");
        assert_eq!(
            run(&cache, &mut c, 0, "SHUTDOWN"),
            Reply::err("ERR Command not allowed inside a transaction")
        );
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::err("EXECABORT Transaction discarded because of previous errors.")
        );
    }

    #[test]
    fn exec_runs_the_queue_and_errors_abort_it() {
        let cache = Cache::new(CacheConfig::default(), std::path::Path::new("."));
        let mut c = new_client(1);
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::err("ERR EXEC without MULTI")
        );
        assert_eq!(run(&cache, &mut c, 0, "MULTI"), Reply::ok());
        assert_eq!(
            run(&cache, &mut c, 0, "MULTI"),
            Reply::err("ERR MULTI calls can not be nested")
        );
        assert_eq!(
            run(&cache, &mut c, 0, "SET a 1"),
            Reply::Simple("QUEUED".into())
        );
        assert_eq!(
            run(&cache, &mut c, 0, "INCR a"),
            Reply::Simple("QUEUED".into())
        );
        assert_eq!(
            run(&cache, &mut c, 0, "LPUSH a x"),
            Reply::Simple("QUEUED".into())
        );
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::Array(vec![
                Reply::ok(),
                Reply::Integer(2),
                Reply::err(crate::cache::reply::errors::WRONGTYPE)
            ])
        );
        // A queueing error discards the whole transaction.
        assert_eq!(run(&cache, &mut c, 0, "MULTI"), Reply::ok());
        assert_eq!(
            run(&cache, &mut c, 0, "SET a 5"),
            Reply::Simple("QUEUED".into())
        );
        assert!(run(&cache, &mut c, 0, "NOSUCH x").is_error());
        assert!(run(&cache, &mut c, 0, "GET").is_error());
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::err("EXECABORT Transaction discarded because of previous errors.")
        );
        assert_eq!(run(&cache, &mut c, 0, "GET a"), Reply::bulk(b"2"));
        assert_eq!(
            run(&cache, &mut c, 0, "DISCARD"),
            Reply::err("ERR DISCARD without MULTI")
        );
        assert_eq!(run(&cache, &mut c, 0, "MULTI"), Reply::ok());
        assert_eq!(
            run(&cache, &mut c, 0, "WATCH a"),
            Reply::err("ERR WATCH inside MULTI is not allowed")
        );
        assert_eq!(run(&cache, &mut c, 0, "DISCARD"), Reply::ok());
    }

    #[test]
    fn over_the_memory_limit_writes_are_refused_when_queued_and_at_exec() {
        let cache = Cache::new(CacheConfig::default(), std::path::Path::new("."));
        let mut c = new_client(1);
        let oom = Reply::err(errors::OOM);
        assert_eq!(run(&cache, &mut c, 0, "SET k v"), Reply::ok());
        // Queued before the limit: EXEC refuses the queue whole.
        assert_eq!(run(&cache, &mut c, 0, "MULTI"), Reply::ok());
        assert_eq!(
            run(&cache, &mut c, 0, "SET x 1"),
            Reply::Simple("QUEUED".into())
        );
        cache.store.set_max_memory(1);
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::err(
                "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'."
            )
        );
        assert!(c.multi.is_none());
        // Reads still run; a write is refused as it is queued.
        assert_eq!(run(&cache, &mut c, 0, "MULTI"), Reply::ok());
        assert_eq!(
            run(&cache, &mut c, 0, "GET k"),
            Reply::Simple("QUEUED".into())
        );
        assert_eq!(
            run(&cache, &mut c, 0, "EXEC"),
            Reply::Array(vec![Reply::bulk(b"v")])
        );
        assert_eq!(run(&cache, &mut c, 0, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut c, 0, "SET x 1"), oom);
        assert_eq!(run(&cache, &mut c, 0, "DISCARD"), Reply::ok());
        assert_eq!(run(&cache, &mut c, 0, "EXISTS x"), Reply::Integer(0));
    }

    #[test]
    fn watch_sees_writes_from_any_client_flushes_and_expiry() {
        let cache = Cache::new(CacheConfig::default(), std::path::Path::new("."));
        let (mut a, mut b) = (new_client(1), new_client(2));
        // Another client's write fails EXEC.
        assert_eq!(run(&cache, &mut a, 0, "WATCH k"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "SET k v"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "MULTI"), Reply::ok());
        assert_eq!(
            run(&cache, &mut a, 0, "GET k"),
            Reply::Simple("QUEUED".into())
        );
        assert_eq!(run(&cache, &mut a, 0, "EXEC"), Reply::NilArray);
        assert!(!cache.watches.any());
        // Untouched: EXEC runs; a read does not touch.
        assert_eq!(run(&cache, &mut a, 0, "WATCH k"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "GET k"), Reply::bulk(b"v"));
        assert_eq!(run(&cache, &mut a, 0, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "EXEC"), Reply::Array(vec![]));
        // A write to the same name in another database does not touch.
        assert_eq!(run(&cache, &mut a, 0, "WATCH k"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "SELECT 1"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "SET k other"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "EXEC"), Reply::Array(vec![]));
        // FLUSHALL touches everything.
        assert_eq!(run(&cache, &mut a, 0, "WATCH k"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "FLUSHALL"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "EXEC"), Reply::NilArray);
        // … that exists: a watched key that was missing is not changed.
        assert_eq!(run(&cache, &mut a, 0, "WATCH k"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "FLUSHALL"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "EXEC"), Reply::Array(vec![]));
        // A watched key whose TTL passes counts as changed.
        assert_eq!(run(&cache, &mut a, 0, "SET t v PX 100"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "WATCH t"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 200, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 200, "EXEC"), Reply::NilArray);
        // UNWATCH forgets.
        assert_eq!(run(&cache, &mut a, 0, "WATCH k"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "UNWATCH"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "SELECT 0"), Reply::ok());
        assert_eq!(run(&cache, &mut b, 0, "SET k again"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "MULTI"), Reply::ok());
        assert_eq!(run(&cache, &mut a, 0, "EXEC"), Reply::Array(vec![]));
    }
}
