//! Client-side caching (CLIENT TRACKING), as Redis 6+ does it.
//!
//! A tracking client is told when a key it may have cached changes: by a
//! RESP3 push (`>2 invalidate [key]`) on its own connection, or on the
//! connection it REDIRECTs to (a RESP3 push there, or in RESP2 a pub/sub
//! `message` on `__redis__:invalidate` when that connection is in
//! pub/sub mode). In the default mode the keys a client read are
//! remembered (a table key → client ids, one message per key); in BCAST
//! mode every written key under one of the client's prefixes is sent,
//! batched per prefix until [`Tracking::flush_pending`] (the end of a
//! connection's batch of requests, of an expiry cycle).
//!
//! Like Redis, the table holds key names without their database. FLUSHALL
//! and FLUSHDB send an invalidation with a null key list to every tracking
//! client. Every RESP connection has an inbox here ([`Tracking::register`])
//! so that it can be a redirect target; nobody tracking costs one relaxed
//! atomic load per write ([`Tracking::any`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::reply::Reply;

/// The pub/sub channel RESP2 redirect targets hear invalidations on.
pub const CHANNEL: &str = "__redis__:invalidate";

/// What a connection's inbox receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// These keys changed (`None`: everything, after a flush).
    Invalidate(Option<Vec<Bytes>>),
    /// The client this connection redirects to is gone.
    RedirBroken(u64),
}

impl Push {
    /// The reply a connection sends for it: a push in RESP3, a pub/sub
    /// message in RESP2 when `subscribed`, nothing otherwise.
    pub fn reply(self, resp3: bool, subscribed: bool) -> Option<Reply> {
        match self {
            Push::Invalidate(keys) => {
                let keys = keys.map_or(Reply::Nil, |k| {
                    Reply::Array(k.into_iter().map(Reply::Bulk).collect())
                });
                if resp3 {
                    Some(Reply::Push(vec![Reply::text("invalidate"), keys]))
                } else if subscribed {
                    Some(Reply::Push(vec![
                        Reply::text("message"),
                        Reply::text(CHANNEL),
                        keys,
                    ]))
                } else {
                    None
                }
            }
            Push::RedirBroken(id) => resp3.then(|| {
                Reply::Push(vec![
                    Reply::text("tracking-redir-broken"),
                    Reply::Integer(id as i64),
                ])
            }),
        }
    }
}

/// The mode a client tracks in (kept on the connection's `Client` too,
/// for the read path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// BCAST: every key under the prefixes, nothing remembered.
    pub bcast: bool,
    /// OPTIN: only reads after CLIENT CACHING yes are remembered.
    pub optin: bool,
    /// OPTOUT: reads are remembered unless after CLIENT CACHING no.
    pub optout: bool,
    /// NOLOOP: not told of its own writes.
    pub noloop: bool,
}

impl Mode {
    /// Whether a read is remembered, given CLIENT CACHING's flag: not in
    /// BCAST; in OPTIN only after `CLIENT CACHING yes`; in OPTOUT unless
    /// after `CLIENT CACHING no`.
    pub fn remembers(self, caching: bool) -> bool {
        !self.bcast && (!self.optin || caching) && (!self.optout || !caching)
    }
}

/// A tracking client's settings.
#[derive(Debug, Clone, Default)]
struct Opts {
    mode: Mode,
    /// 0: itself.
    redirect: u64,
    prefixes: Vec<Bytes>,
    broken: bool,
}

/// CLIENT TRACKINGINFO's view of a client.
#[derive(Debug, Clone, Default)]
pub struct Info {
    /// Its mode.
    pub mode: Mode,
    /// The redirect target (0: none).
    pub redirect: u64,
    /// BCAST prefixes.
    pub prefixes: Vec<Bytes>,
    /// The redirect target has gone.
    pub broken: bool,
}

#[derive(Default)]
struct Inner {
    inboxes: HashMap<u64, mpsc::UnboundedSender<Push>>,
    clients: HashMap<u64, Opts>,
    table: HashMap<Bytes, HashSet<u64>>,
    /// BCAST keys waiting for [`Tracking::flush_pending`], by client and
    /// prefix.
    pending: BTreeMap<(u64, Bytes), Vec<Bytes>>,
}

/// The tracking registry.
pub struct Tracking {
    tracking: AtomicUsize,
    /// `tracking-table-max-keys` (0: unbounded).
    max_keys: AtomicUsize,
    inner: Mutex<Inner>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            tracking: AtomicUsize::new(0),
            max_keys: AtomicUsize::new(1_000_000),
            inner: Mutex::default(),
        }
    }
}

impl Tracking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any client tracks.
    #[inline]
    pub fn any(&self) -> bool {
        self.tracking.load(Ordering::Relaxed) != 0
    }

    /// Clients tracking now (INFO's `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.tracking.load(Ordering::Relaxed)
    }

    /// INFO's `tracking_total_keys` (keys in the table),
    /// `tracking_total_items` (client ids over all keys) and
    /// `tracking_total_prefixes` (distinct BCAST prefixes).
    pub fn totals(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let items = inner.table.values().map(HashSet::len).sum();
        let prefixes: HashSet<&Bytes> = inner.clients.values().flat_map(|o| &o.prefixes).collect();
        (inner.table.len(), items, prefixes.len())
    }

    /// A connection opened: its inbox.
    pub fn register(&self, id: u64) -> mpsc::UnboundedReceiver<Push> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().inboxes.insert(id, tx);
        rx
    }

    /// A connection closed.
    pub fn unregister(&self, id: u64) {
        let mut inner = self.lock();
        inner.inboxes.remove(&id);
        if inner.clients.remove(&id).is_some() {
            self.stopped(&mut inner);
        }
    }

    /// CLIENT TRACKING ON with these options: checks them as Redis does
    /// (the error text on failure) and enables tracking. BCAST prefixes
    /// add to those already set.
    pub fn enable(
        &self,
        id: u64,
        mode: Mode,
        redirect: u64,
        prefixes: &[Bytes],
    ) -> Result<(), String> {
        let mut inner = self.lock();
        if redirect != 0 && !inner.inboxes.contains_key(&redirect) {
            return Err("ERR The client ID you want redirect to does not exist".into());
        }
        if !mode.bcast && !prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        let old = inner.clients.get(&id);
        if let Some(old) = old
            && old.mode.bcast != mode.bcast
        {
            return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if mode.optin && mode.optout {
            return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if let Some(old) = old
            && (mode.optin && old.mode.optout || mode.optout && old.mode.optin)
        {
            return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        let existing = old.map(|o| o.prefixes.clone()).unwrap_or_default();
        if mode.bcast {
            for (i, p) in prefixes.iter().enumerate() {
                if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(e)
                    ));
                }
                if let Some(q) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    ));
                }
            }
        }
        let mut all = existing;
        if mode.bcast {
            if prefixes.is_empty() {
                if !all.iter().any(Bytes::is_empty) {
                    all.push(Bytes::new());
                }
            } else {
                all.extend(
                    prefixes
                        .iter()
                        .filter(|p| !all.contains(p))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
        }
        inner.clients.insert(
            id,
            Opts {
                mode,
                redirect,
                prefixes: all,
                broken: false,
            },
        );
        self.tracking.store(inner.clients.len(), Ordering::Relaxed);
        Ok(())
    }

    /// CLIENT TRACKING OFF (also RESET).
    pub fn disable(&self, id: u64) {
        let mut inner = self.lock();
        if inner.clients.remove(&id).is_some() {
            inner.pending.retain(|(c, _), _| *c != id);
            self.stopped(&mut inner);
        }
    }

    /// A client stopped tracking. Once none tracks, the table empties:
    /// nobody could be told of its keys (Redis keeps them until a flush,
    /// and a client that tracks again would hear of keys it read before).
    fn stopped(&self, inner: &mut Inner) {
        self.tracking.store(inner.clients.len(), Ordering::Relaxed);
        if inner.clients.is_empty() {
            inner.table.clear();
            inner.pending.clear();
        }
    }

    /// CLIENT TRACKINGINFO / GETREDIR: `None` when not tracking.
    pub fn info(&self, id: u64) -> Option<Info> {
        self.lock().clients.get(&id).map(|o| Info {
            mode: o.mode,
            redirect: o.redirect,
            prefixes: o.prefixes.clone(),
            broken: o.broken,
        })
    }

    /// A tracking client (not BCAST) read these keys.
    pub fn remember<'a>(&self, id: u64, keys: impl IntoIterator<Item = &'a Bytes>) {
        let mut inner = self.lock();
        for key in keys {
            inner.table.entry(key.clone()).or_default().insert(id);
        }
        self.bound(&mut inner);
    }

    /// CONFIG SET tracking-table-max-keys: a lower bound invalidates
    /// keys at once.
    pub fn set_max_keys(&self, max: usize) {
        self.max_keys.store(max, Ordering::Relaxed);
        let mut inner = self.lock();
        self.bound(&mut inner);
    }

    /// Over `tracking-table-max-keys`, forgets keys (any, as Redis picks
    /// random ones), telling their clients as if the keys changed.
    fn bound(&self, inner: &mut Inner) {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 || inner.table.len() <= max {
            return;
        }
        let excess = inner.table.len() - max;
        let victims: Vec<Bytes> = inner.table.keys().take(excess).cloned().collect();
        for key in victims {
            let Some(ids) = inner.table.remove(&key) else {
                continue;
            };
            for id in ids {
                if let Some(opts) = inner.clients.get_mut(&id)
                    && !opts.mode.bcast
                {
                    send(
                        &inner.inboxes,
                        id,
                        opts,
                        Push::Invalidate(Some(vec![key.clone()])),
                    );
                }
            }
        }
    }

    /// `key` changed (`writer`: the client that wrote it, for NOLOOP;
    /// `None` for expiry and eviction).
    pub fn invalidate(&self, key: &[u8], writer: Option<u64>) {
        if !self.any() {
            return;
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(ids) = inner.table.remove(key) {
            let key = Bytes::copy_from_slice(key);
            for id in ids {
                let Some(opts) = inner.clients.get_mut(&id) else {
                    continue;
                };
                if opts.mode.bcast || opts.mode.noloop && writer == Some(id) {
                    continue;
                }
                send(
                    &inner.inboxes,
                    id,
                    opts,
                    Push::Invalidate(Some(vec![key.clone()])),
                );
            }
        }
        for (id, opts) in &inner.clients {
            if !opts.mode.bcast || opts.mode.noloop && writer == Some(*id) {
                continue;
            }
            for prefix in &opts.prefixes {
                if key.starts_with(prefix) {
                    inner
                        .pending
                        .entry((*id, prefix.clone()))
                        .or_default()
                        .push(Bytes::copy_from_slice(key));
                }
            }
        }
    }

    /// Sends the BCAST invalidations gathered since the last call, one
    /// message per client and prefix.
    pub fn flush_pending(&self) {
        if !self.any() {
            return;
        }
        let mut inner = self.lock();
        if inner.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut inner.pending);
        let inner = &mut *inner;
        for ((id, _), keys) in pending {
            if let Some(opts) = inner.clients.get_mut(&id) {
                send(&inner.inboxes, id, opts, Push::Invalidate(Some(keys)));
            }
        }
    }

    /// FLUSHALL/FLUSHDB: every tracking client hears a null invalidation,
    /// and the table empties.
    pub fn flush(&self) {
        if !self.any() {
            return;
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.table.clear();
        inner.pending.clear();
        for (id, opts) in &mut inner.clients {
            send(&inner.inboxes, *id, opts, Push::Invalidate(None));
        }
    }
}

/// Whether one prefix is a prefix of the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Delivers to the client or its redirect target; a gone target marks
/// the redirection broken and tells the client.
fn send(inboxes: &HashMap<u64, mpsc::UnboundedSender<Push>>, id: u64, opts: &mut Opts, push: Push) {
    let target = if opts.redirect == 0 {
        id
    } else {
        opts.redirect
    };
    let sent = inboxes.get(&target).is_some_and(|tx| tx.send(push).is_ok());
    if !sent && opts.redirect != 0 {
        opts.broken = true;
        if let Some(tx) = inboxes.get(&id) {
            let _ = tx.send(Push::RedirBroken(opts.redirect));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    #[test]
    fn remembered_keys_are_invalidated_once() {
        let t = Tracking::default();
        let mut rx = t.register(1);
        t.enable(1, Mode::default(), 0, &[]).unwrap();
        t.remember(1, [&b("a")]);
        t.invalidate(b"b", Some(2));
        assert!(rx.try_recv().is_err());
        t.invalidate(b"a", Some(2));
        assert_eq!(rx.try_recv().unwrap(), Push::Invalidate(Some(vec![b("a")])));
        t.invalidate(b"a", Some(2));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_table_is_bounded_by_max_keys() {
        let t = Tracking::default();
        let mut rx = t.register(1);
        t.enable(1, Mode::default(), 0, &[]).unwrap();
        t.remember(1, [&b("a"), &b("b"), &b("c")]);
        t.set_max_keys(1);
        assert_eq!(t.totals().0, 1);
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn noloop_skips_own_writes() {
        let t = Tracking::default();
        let mut rx = t.register(1);
        let mode = Mode {
            noloop: true,
            ..Mode::default()
        };
        t.enable(1, mode, 0, &[]).unwrap();
        t.remember(1, [&b("a")]);
        t.invalidate(b"a", Some(1));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn bcast_batches_per_prefix_and_redirects() {
        let t = Tracking::default();
        let _own = t.register(1);
        let mut target = t.register(2);
        let mode = Mode {
            bcast: true,
            ..Mode::default()
        };
        t.enable(1, mode, 2, &[b("a:"), b("b:")]).unwrap();
        for k in ["a:1", "a:2", "b:1", "c:1"] {
            t.invalidate(k.as_bytes(), None);
        }
        assert!(target.try_recv().is_err());
        t.flush_pending();
        assert_eq!(
            target.try_recv().unwrap(),
            Push::Invalidate(Some(vec![b("a:1"), b("a:2")]))
        );
        assert_eq!(
            target.try_recv().unwrap(),
            Push::Invalidate(Some(vec![b("b:1")]))
        );
        assert!(target.try_recv().is_err());
    }

    #[test]
    fn options_are_checked_as_redis_does() {
        let t = Tracking::default();
        let _rx = t.register(1);
        let bcast = Mode {
            bcast: true,
            ..Mode::default()
        };
        assert!(
            t.enable(1, Mode::default(), 9, &[])
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            t.enable(1, Mode::default(), 0, &[b("a")])
                .unwrap_err()
                .contains("requires BCAST")
        );
        assert!(
            t.enable(1, bcast, 0, &[b("foo"), b("foobar")])
                .unwrap_err()
                .contains("another provided prefix")
        );
        t.enable(1, bcast, 0, &[b("foo")]).unwrap();
        assert!(
            t.enable(1, bcast, 0, &[b("fo")])
                .unwrap_err()
                .contains("existing prefix 'foo'")
        );
        assert!(
            t.enable(1, Mode::default(), 0, &[])
                .unwrap_err()
                .contains("switch BCAST")
        );
        t.enable(1, bcast, 0, &[b("bar")]).unwrap();
        assert_eq!(t.info(1).unwrap().prefixes, vec![b("foo"), b("bar")]);
        t.disable(1);
        assert!(t.info(1).is_none());
        assert!(!t.any());
    }

    #[test]
    fn a_gone_redirect_target_is_reported() {
        let t = Tracking::default();
        let mut own = t.register(1);
        let target = t.register(2);
        t.enable(1, Mode::default(), 2, &[]).unwrap();
        drop(target);
        t.unregister(2);
        t.remember(1, [&b("k")]);
        t.invalidate(b"k", None);
        assert_eq!(own.try_recv().unwrap(), Push::RedirBroken(2));
        assert!(t.info(1).unwrap().broken);
    }

    #[test]
    fn flush_sends_null_to_every_tracking_client() {
        let t = Tracking::default();
        let mut rx = t.register(1);
        t.enable(1, Mode::default(), 0, &[]).unwrap();
        t.remember(1, [&b("k")]);
        t.flush();
        assert_eq!(rx.try_recv().unwrap(), Push::Invalidate(None));
        assert_eq!(t.totals(), (0, 0, 0));
        let reply = Push::Invalidate(None).reply(false, false);
        assert!(reply.is_none());
    }
}
