//! One RESP connection: read → decode → execute → buffer replies, and
//! write them out once the input on hand is used up, so a pipelining
//! client gets many replies per system call and in order.
//!
//! The connection also owns the client's pub/sub state (its subscriber
//! mailbox and the set of channels and patterns) and answers the commands
//! that need it (SUBSCRIBE & co., PUBLISH, PUBSUB, AUTH, HELLO AUTH, QUIT,
//! RESET: `conn/commands.rs`); everything else goes to
//! [`crate::cache::cmd::execute`]. What waits (scripts, blocked pops) is
//! `conn/waiting.rs`; cluster routing and replication around a command
//! are `conn/routing.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

mod commands;
mod routing;
mod waiting;

use super::codec::{Decoder, encode};
use super::lookup::LastLookup;
use crate::Shared;
use crate::cache::cmd::{self, Client, Ctx, bpop, is, lossy, script};
use crate::cache::pubsub::{Mailbox, Message, Subscriber};
use crate::cache::{Access, Cache, Reply};
use crate::cache::{clients, multi};

/// Write out buffered replies once they pass this size even if more
/// input is waiting, to bound the buffer.
const FLUSH_AT: usize = 64 * 1024;

/// Below this much free room, the input buffer is given [`READ_ROOM`]
/// before a read.
const MIN_READ_ROOM: usize = 4 * 1024;
const READ_ROOM: usize = 16 * 1024;

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

/// Decrements the connected-clients gauge however the task ends.
struct ConnectedGuard(Arc<Cache>);

impl Drop for ConnectedGuard {
    fn drop(&mut self) {
        self.0.stats.connected.fetch_sub(1, Ordering::Relaxed);
        self.0.store.add_overhead(-crate::cache::CLIENT_OVERHEAD);
    }
}

/// Takes the connection out of CLIENT LIST however the task ends.
struct Registered(Arc<Cache>, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.clients.remove(self.1);
    }
}

/// What to do after a command.
enum Next {
    Continue,
    Close,
    /// A blocking command found nothing: wait (see [`Conn::block`]).
    Block(Pending),
}

/// A blocked command: its arguments and what it waits on.
struct Pending {
    args: Vec<Bytes>,
    wait: bpop::Wait,
}

/// Input a blocked client may send before it is served (Redis buffers it
/// too); past this the connection is closed.
const MAX_BLOCKED_INPUT: usize = 64 * 1024 * 1024;

struct Conn {
    shared: Arc<Shared>,
    /// The cache this listener serves.
    cache: Arc<Cache>,
    client: Client,
    out: BytesMut,
    /// Set on the first SUBSCRIBE.
    mailbox: Option<(Subscriber, Mailbox, CancellationToken)>,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    /// Shard channels (SSUBSCRIBE).
    shard_channels: BTreeSet<Bytes>,
    /// The clock for the requests being served.
    now_ms: u64,
    /// Commands run but not yet added to the shared INFO counter (added
    /// once per batch rather than per command).
    uncounted: u64,
    /// Whether commands may run: always when the daemon does not require
    /// authentication, otherwise after a successful AUTH or HELLO … AUTH.
    authenticated: bool,
    /// What CLIENT LIST last heard: name, database, RESP3, subscribed.
    shown: (Option<Bytes>, usize, bool, bool),
    /// Set by MONITOR: the lines to send, and the token cancelled when
    /// the connection falls too far behind.
    monitor: Option<(tokio::sync::mpsc::Receiver<Bytes>, CancellationToken)>,
    last_lookup: LastLookup,
}

/// Takes the connection out of MONITOR's list and CLIENT TRACKING's
/// registry however the task ends.
struct Unmonitor(Arc<Cache>, u64);

impl Drop for Unmonitor {
    fn drop(&mut self) {
        self.0.monitors.remove(self.1);
        self.0.tracking.unregister(self.1);
        stop_removals_unless_tracking(&self.0);
    }
}

/// Expired and evicted keys are queued for CLIENT TRACKING only while
/// someone tracks.
fn stop_removals_unless_tracking(cache: &Cache) {
    if !cache.tracking.any() {
        cache
            .store
            .counters()
            .track_removals_for_tracking
            .store(false, Ordering::Relaxed);
    }
}

/// Serves one RESP connection until the client leaves, breaks the
/// protocol, is too slow for its subscriptions, or the daemon stops.
pub async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let cache = shared.services.cache.cache().clone();
    cache
        .stats
        .connections_total
        .fetch_add(1, Ordering::Relaxed);
    cache.stats.connected.fetch_add(1, Ordering::Relaxed);
    cache.store.add_overhead(crate::cache::CLIENT_OVERHEAD);
    let _guard = ConnectedGuard(cache.clone());
    let addr: String = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut conn = Conn {
        cache,
        client: Client {
            id: NEXT_CLIENT.fetch_add(1, Ordering::Relaxed),
            addr: Some(Arc::from(addr.as_str())),
            ..Client::default()
        },
        shared,
        out: BytesMut::with_capacity(16 * 1024),
        mailbox: None,
        channels: BTreeSet::new(),
        patterns: BTreeSet::new(),
        shard_channels: BTreeSet::new(),
        now_ms: 0,
        uncounted: 0,
        authenticated: false,
        shown: (None, 0, false, false),
        monitor: None,
        last_lookup: LastLookup::default(),
    };
    conn.authenticated = !conn.shared.config.resp_require_auth;
    // CLIENT KILL cancels this token, and so does shutdown (a child of
    // the daemon's token): one future to poll per turn instead of two,
    // each poll of which locks the token's state.
    let kill = conn.shared.shutdown.child_token();
    conn.cache.clients.add(
        conn.client.id,
        clients::Entry {
            addr,
            laddr: stream
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            since_ms: crate::now_ms(),
            name: None,
            db: 0,
            resp3: false,
            pubsub: false,
            kill: kill.clone(),
        },
    );
    let _registered = Registered(conn.cache.clone(), conn.client.id);
    let _unmonitor = Unmonitor(conn.cache.clone(), conn.client.id);
    let mut inbox = conn.cache.tracking.register(conn.client.id);
    let killed = kill.cancelled_owned();
    tokio::pin!(killed);
    let mut input = BytesMut::with_capacity(READ_ROOM);
    let mut decoder = Decoder::new();
    loop {
        // Read into room for a whole pipeline: a BytesMut's spare room
        // shrinks as requests are split off its front, and a read into the
        // last few bytes would take half a pipeline and cost the client an
        // extra reply segment. Reclaiming the front is a copy of the few
        // bytes of a partial request, not an allocation.
        if input.capacity() - input.len() < MIN_READ_ROOM {
            input.reserve(READ_ROOM);
        }
        let kicked = conn.mailbox.as_ref().map(|(_, _, kick)| kick.clone());
        let monitor_kicked = conn.monitor.as_ref().map(|(_, kick)| kick.clone());
        tokio::select! {
            biased;
            // Registered once: polling a fresh `cancelled()` every turn
            // would lock the token's waiter list twice per request.
            _ = &mut killed => break,
            _ = async { kicked.as_ref().expect("guarded").cancelled().await }, if kicked.is_some() => {
                tracing::debug!(client = conn.client.id, "RESP subscriber too slow; disconnected");
                break;
            }
            _ = async { monitor_kicked.as_ref().expect("guarded").cancelled().await }, if monitor_kicked.is_some() => {
                tracing::debug!(client = conn.client.id, "MONITOR client too slow; disconnected");
                break;
            }
            Some(line) = async { conn.monitor.as_mut().expect("guarded").0.recv().await }, if conn.monitor.is_some() => {
                conn.out.extend_from_slice(&line);
                // Drain what else is queued: one write for a burst.
                while conn.out.len() <= FLUSH_AT
                    && let Some(line) = conn.monitor.as_mut().and_then(|m| m.0.try_recv().ok())
                {
                    conn.out.extend_from_slice(&line);
                }
                if conn.flush(&mut stream).await.is_err() {
                    break;
                }
            }
            Some(push) = inbox.recv() => {
                conn.push_tracking(push);
                while conn.out.len() <= FLUSH_AT
                    && let Ok(push) = inbox.try_recv()
                {
                    conn.push_tracking(push);
                }
                if conn.flush(&mut stream).await.is_err() {
                    break;
                }
            }
            Some(msg) = async { conn.mailbox.as_mut().expect("guarded").1.recv().await }, if conn.mailbox.is_some() => {
                conn.push_message(msg);
                // Drain what else is queued: one write for a burst.
                while let Some(msg) = conn.mailbox.as_mut().and_then(|m| m.1.try_recv()) {
                    conn.push_message(msg);
                    if conn.out.len() > FLUSH_AT {
                        break;
                    }
                }
                if conn.flush(&mut stream).await.is_err() {
                    break;
                }
            }
            read = stream.read_buf(&mut input) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                // One clock reading for the requests of one read, as Redis
                // reads the clock once per event-loop turn.
                conn.now_ms = crate::now_ms();
                let mut close = false;
                loop {
                    match decoder.decode_next(&mut input) {
                        Ok(true) => {
                            if conn.client.tracking.is_some() && conn.evict_before_command() {
                                // Invalidations of keys evicted for this
                                // command go out before its reply.
                                while let Ok(push) = inbox.try_recv() {
                                    conn.push_tracking(push);
                                }
                            }
                            let mark = conn.out.len();
                            let next = if conn.run_plain(decoder.args()) {
                                Next::Continue
                            } else {
                                conn.run(decoder.args()).await
                            };
                            conn.apply_reply_mode(mark, decoder.args());
                            conn.show();
                            match next {
                                Next::Close => {
                                    close = true;
                                    break;
                                }
                                Next::Block(pending) => {
                                    // Answers to the requests before it go
                                    // out first.
                                    if conn.flush(&mut stream).await.is_err() {
                                        close = true;
                                        break;
                                    }
                                    if let Next::Close = conn.block(pending, &mut stream, &mut input).await {
                                        close = true;
                                        break;
                                    }
                                    conn.now_ms = crate::now_ms();
                                }
                                Next::Continue => {}
                            }
                            if conn.out.len() > FLUSH_AT {
                                if conn.flush(&mut stream).await.is_err() {
                                    close = true;
                                    break;
                                }
                                conn.now_ms = crate::now_ms();
                            }
                        }
                        Ok(false) => break,
                        Err(err) => {
                            // Answer, then close only this connection.
                            conn.reply(&Reply::Error(err.0.into()));
                            close = true;
                            break;
                        }
                    }
                }
                conn.count_commands();
                conn.cache.tracking.flush_pending();
                super::busy_poll::note_input();
                if conn.flush(&mut stream).await.is_err() || close {
                    break;
                }
            }
        }
    }
    let _ = conn.flush(&mut stream).await;
    let _ = stream.shutdown().await;
    if let Some((sub, _, _)) = &conn.mailbox {
        conn.cache.pubsub.remove_all(sub.id);
    }
    conn.cache.watches.remove_client(&mut conn.client);
}

impl Conn {
    fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Adds the commands run since the last call to the shared counter.
    fn count_commands(&mut self) {
        if self.uncounted > 0 {
            let n = std::mem::take(&mut self.uncounted);
            self.cache().stats.commands.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// CLIENT REPLY OFF/SKIP: drops the reply the last command appended
    /// after `mark` (subscription confirmations still go out).
    fn apply_reply_mode(&mut self, mark: usize, args: &[Bytes]) {
        use cmd::ReplyMode::{On, Skip, SkipNext};
        let mode = self.client.reply;
        if mode == On {
            return;
        }
        // Redis 7 sends (un)subscribe confirmations as pushes, past
        // CLIENT REPLY OFF, in RESP2 too.
        let push = [
            "subscribe",
            "psubscribe",
            "unsubscribe",
            "punsubscribe",
            "ssubscribe",
            "sunsubscribe",
        ]
        .iter()
        .any(|c| is(&args[0], c));
        if !push {
            self.out.truncate(mark);
        }
        self.client.reply = match mode {
            Skip => SkipNext,
            SkipNext => On,
            other => other,
        };
    }

    /// Tells CLIENT LIST of a changed name, database, protocol or
    /// subscription (a compare per command; the lock only on a change).
    fn show(&mut self) {
        let c = &self.client;
        let shown = (c.name.clone(), c.db, c.resp3, self.subscribed() > 0);
        if shown != self.shown {
            self.shown = shown.clone();
            self.cache.clients.update(c.id, |e| {
                (e.name, e.db, e.resp3, e.pubsub) = shown;
            });
        }
    }

    fn reply(&mut self, reply: &Reply) {
        encode(reply, self.client.resp3, &mut self.out);
    }

    async fn flush(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = stream.write_all(&self.out).await;
        self.out.clear();
        // Do not keep a huge buffer around after a large reply.
        if self.out.capacity() > 1024 * 1024 {
            self.out = BytesMut::with_capacity(16 * 1024);
        }
        result
    }

    fn subscribed(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }

    /// Evicts keys before a command while over the memory limit, as
    /// Redis's processCommand does (only for tracking clients: their
    /// invalidations of evicted keys must precede the reply); whether
    /// the limit is set.
    fn evict_before_command(&mut self) -> bool {
        // Not while a script runs (it is atomic; Redis does not evict
        // inside a yielding command either).
        if self.cache.store.max_memory() == 0 || self.cache.scripting.running_since().is_some() {
            return false;
        }
        let _shared = self.cache.gate.shared();
        let _ = self.cache.store.make_room(self.now_ms);
        cmd::events::publish_removals(&self.cache);
        true
    }

    /// A CLIENT TRACKING invalidation for this connection (as a client
    /// or a redirect target).
    fn push_tracking(&mut self, push: crate::cache::tracking::Push) {
        if let Some(reply) = push.reply(self.client.resp3, self.subscribed() > 0) {
            self.reply(&reply);
        }
    }

    fn push_message(&mut self, msg: Message) {
        if msg.ended {
            // The slot moved: the subscription ended on the server's side.
            if self.shard_channels.remove(&msg.channel) {
                self.confirm("sunsubscribe", Some(msg.channel));
            }
            return;
        }
        let reply = match msg.pattern {
            None if msg.shard => Reply::Push(vec![
                Reply::text("smessage"),
                Reply::Bulk(msg.channel),
                Reply::Bulk(msg.payload),
            ]),
            None => Reply::Push(vec![
                Reply::text("message"),
                Reply::Bulk(msg.channel),
                Reply::Bulk(msg.payload),
            ]),
            Some(pattern) => Reply::Push(vec![
                Reply::text("pmessage"),
                Reply::Bulk(pattern),
                Reply::Bulk(msg.channel),
                Reply::Bulk(msg.payload),
            ]),
        };
        self.reply(&reply);
    }

    /// The command named `name` ([`LastLookup`]).
    fn lookup(&mut self, name: &[u8]) -> Option<&'static cmd::Spec> {
        self.last_lookup.lookup(name)
    }

    /// Runs one command the common way if it can, appending its reply:
    /// an authenticated client outside MULTI, pub/sub and cluster mode,
    /// while no script runs, sending a command on keys (or PING/ECHO)
    /// that does not block. Answers false, having done nothing, for
    /// everything else, which [`Conn::run`] serves.
    ///
    /// Why apart: `run` is an `async fn` whose future holds every await
    /// of the rare paths (AUTH, scripts, blocking, the connection
    /// commands); this path takes the same branches without building it.
    fn run_plain(&mut self, args: &[Bytes]) -> bool {
        if !self.authenticated
            || self.client.multi.is_some()
            || self.subscribed() > 0
            || self.shared.cluster.is_some()
            || self.cache.scripting.running_since().is_some()
        {
            return false;
        }
        let Some(spec) = self.lookup(&args[0]) else {
            return false;
        };
        let plain = match spec.kind {
            cmd::Kind::Read | cmd::Kind::Write | cmd::Kind::DenyOom => true,
            // Other administration commands count the commands before
            // them first (`run`); these two read no statistics.
            cmd::Kind::Admin => matches!(spec.name, "ping" | "echo"),
            cmd::Kind::Conn | cmd::Kind::Script => false,
        };
        if !plain || bpop::blocks(spec.name, args) {
            return false;
        }
        let mut ctx = Ctx {
            cache: &self.cache,
            client: &mut self.client,
            now_ms: self.now_ms,
            access: Access::Counted,
        };
        if cmd::execute_into(&mut ctx, Some(spec), args, &mut self.out) {
            self.uncounted += 1;
        }
        true
    }

    /// Runs one command, appending its reply.
    async fn run(&mut self, args: &[Bytes]) -> Next {
        let name = &args[0];
        if !self.authenticated
            && !["auth", "hello", "quit", "reset"]
                .iter()
                .any(|c| is(name, c))
        {
            self.reply(&Reply::err("NOAUTH Authentication required."));
            return Next::Continue;
        }
        if !self.authenticated && is(name, "hello") && !args.iter().skip(2).any(|a| is(a, "auth")) {
            self.reply(&Reply::err(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            ));
            return Next::Continue;
        }
        if self.cache.scripting.running_since().is_some()
            && let Some(busy) = self.wait_for_script(args).await
        {
            // As Redis's rejectCommand: a refused command inside MULTI
            // makes EXEC fail, and a refused EXEC discards the queue.
            let reply = multi::reject(&self.cache, &mut self.client, name, busy);
            self.reply(&reply);
            return Next::Continue;
        }
        // RESP2 subscribed mode accepts only a few commands.
        if self.subscribed() > 0 && !self.client.resp3 {
            let allowed = [
                "subscribe",
                "psubscribe",
                "unsubscribe",
                "punsubscribe",
                "ping",
                "quit",
                "reset",
                "ssubscribe",
                "sunsubscribe",
            ];
            if !allowed.iter().any(|c| is(name, c)) {
                let text = format!(
                    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                    lossy(name, 128).to_lowercase()
                );
                self.reply(&Reply::error(text));
                return Next::Continue;
            }
            if is(name, "ping") && args.len() <= 2 {
                let payload = args.get(1).cloned().unwrap_or_default();
                self.reply(&Reply::Array(vec![
                    Reply::text("pong"),
                    Reply::Bulk(payload),
                ]));
                return Next::Continue;
            }
        }
        // Cluster mode: CLUSTER …, and MOVED/CROSSSLOT (or forwarding, in
        // proxy mode) for keys owned elsewhere (`routing`). Standalone,
        // this one branch is all it costs.
        if let Some(cluster) = self.shared.cluster.clone()
            && let Some(next) = self.cluster_route(&cluster, args).await
        {
            return next;
        }
        let spec = self.lookup(name);
        // (MULTI, EXEC, DISCARD, WATCH and UNWATCH are connection
        // commands: the names are compared only for those.)
        if spec.is_some_and(|s| s.kind == cmd::Kind::Conn) && multi::is_transaction_command(name) {
            self.uncounted += 1;
            if is(name, "exec") {
                return self.exec_replicated(args).await;
            }
            let reply = multi::command(&self.cache, &mut self.client, self.now_ms, args);
            cmd::monitor(&self.cache, &self.client, args);
            self.reply(&reply);
            return Next::Continue;
        }
        if self.client.multi.is_some() && !is(name, "quit") && !is(name, "reset") {
            let reply = multi::queue(&self.cache, &mut self.client, self.now_ms, args);
            self.reply(&reply);
            return Next::Continue;
        }
        if let Some(spec) = spec
            && spec.kind == cmd::Kind::Conn
        {
            if !cmd::arity_ok(spec.arity, args.len()) {
                self.reply(&cmd::wrong_arity(spec.name));
                return Next::Continue;
            }
            self.uncounted += 1;
            let next = self.connection_command(spec.name, args).await;
            if crate::cache::monitor::shown(spec.name) {
                cmd::monitor(&self.cache, &self.client, args);
            }
            return next;
        }
        if let Some(spec) = spec
            && spec.kind == cmd::Kind::Script
            && !script::is_kill(args)
        {
            let replicated =
                crate::cluster::replicate::prepare(self.shared.cluster.as_ref(), spec, args);
            let Some(mark) = self.before_replicated(replicated.as_ref()).await else {
                return Next::Continue;
            };
            let next = self.run_script(spec, args).await;
            self.after_replicated(replicated, mark).await;
            self.replicate_flush().await;
            return next;
        }
        if is(name, "hello")
            && let Some(pos) = args.iter().position(|a| is(a, "auth"))
            && pos >= 2
        {
            let (Some(user), Some(pass)) = (args.get(pos + 1), args.get(pos + 2)) else {
                self.reply(&Reply::err("ERR Syntax error in HELLO option 'auth'"));
                return Next::Continue;
            };
            if let Err(reply) = self.authenticate(user, pass).await {
                cmd::monitor(&self.cache, &self.client, args);
                self.reply(&reply);
                return Next::Continue;
            }
            self.authenticated = true;
        }
        if spec.is_some_and(|s| s.kind == cmd::Kind::Admin) {
            // INFO & co. see every command run before them.
            self.count_commands();
        }
        if let Some(spec) = spec
            && cmd::arity_ok(spec.arity, args.len())
            && bpop::blocks(spec.name, args)
        {
            return self.start_blocking(spec, args).await;
        }
        // Cluster replication: a quorum read before, copies after.
        let replicated = spec.and_then(|spec| {
            crate::cluster::replicate::prepare(self.shared.cluster.as_ref(), spec, args)
        });
        let Some(mark) = self.before_replicated(replicated.as_ref()).await else {
            return Next::Continue;
        };
        self.execute(spec, args);
        self.after_replicated(replicated, mark).await;
        self.replicate_flush().await;
        Next::Continue
    }

    /// Runs a command of the cache here, appending its reply.
    fn execute(&mut self, spec: Option<&'static cmd::Spec>, args: &[Bytes]) {
        let mut ctx = Ctx {
            cache: &self.cache,
            client: &mut self.client,
            now_ms: self.now_ms,
            access: Access::Counted,
        };
        if cmd::execute_into(&mut ctx, spec, args, &mut self.out) {
            self.uncounted += 1;
        }
    }
}
