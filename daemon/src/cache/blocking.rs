//! Blocking pops: BLPOP BRPOP BLMPOP BZPOPMIN BZPOPMAX BZMPOP.
//!
//! This module is the registry; the commands are in
//! [`crate::cache::cmd::bpop`]. A blocking command first tries its
//! non-blocking form (`bpop::try_serve`,
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
}
