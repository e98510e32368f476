//! What a RESP connection waits for: a running script (BUSY past
//! `busy-reply-threshold`), a script of its own run on a blocking thread,
//! and a blocked pop (BLPOP & co.) until it is served, times out, is
//! unblocked or its client leaves.

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

use super::{Conn, MAX_BLOCKED_INPUT, Next, Pending};
use crate::cache::cmd::{self, Client, Ctx, bpop, is, script};
use crate::cache::{Access, Reply, blocking};

impl Conn {
    /// While a script runs: waits for it to end, or answers the BUSY
    /// error once it has run past `busy-reply-threshold` (SCRIPT KILL,
    /// FUNCTION KILL and a few connection commands still run).
    pub(super) async fn wait_for_script(&mut self, args: &[Bytes]) -> Option<&'static str> {
        let threshold = self
            .cache
            .params
            .get(&[b"busy-reply-threshold"])
            .first()
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(5000);
        loop {
            match self.cache.scripting.busy(crate::now_ms(), threshold) {
                script::Busy::Idle => return None,
                script::Busy::Running => {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                script::Busy::TimedOut(busy) => {
                    let name = &args[0];
                    let allowed = script::is_kill(args)
                        || [
                            "auth", "hello", "multi", "discard", "watch", "unwatch", "reset",
                            "quit",
                        ]
                        .iter()
                        .any(|c| is(name, c))
                        || (is(name, "shutdown") && args.get(1).is_some_and(|a| is(a, "nosave")));
                    return (!allowed).then_some(busy);
                }
            }
        }
    }

    /// Runs a script command ([`cmd::Kind::Script`]) on a blocking
    /// thread: it holds the exclusive side of the transaction gate while
    /// it runs, and may run long.
    pub(super) async fn run_script(&mut self, spec: &'static cmd::Spec, args: &[Bytes]) -> Next {
        let cache = self.cache.clone();
        let id = self.client.id;
        let addr = self.client.addr.clone();
        let mut client = std::mem::take(&mut self.client);
        let args = args.to_vec();
        let now_ms = self.now_ms;
        self.cache.scripting.announce();
        let task = tokio::task::spawn_blocking(move || {
            let _settle = cache.scripting.settle_on_drop();
            let mut ctx = Ctx {
                cache: &cache,
                client: &mut client,
                now_ms,
                access: Access::Counted,
            };
            let mut out = None;
            let counted = cmd::execute_into(&mut ctx, Some(spec), &args, &mut out);
            (client, out, counted)
        });
        let reply = match task.await {
            Ok((client, out, counted)) => {
                self.client = client;
                if counted {
                    self.uncounted += 1;
                }
                out.unwrap_or(Reply::Nil)
            }
            Err(_) => {
                self.client = Client {
                    id,
                    addr: addr.clone(),
                    ..Client::default()
                };
                Reply::err("ERR script failed")
            }
        };
        self.now_ms = crate::now_ms();
        self.reply(&reply);
        Next::Continue
    }

    /// A blocking command (BLPOP & co.): served at once when it can be
    /// (and then replicated like any write), else the [`Pending`] wait
    /// that [`Conn::block`] runs.
    pub(super) async fn start_blocking(
        &mut self,
        spec: &'static cmd::Spec,
        args: &[Bytes],
    ) -> Next {
        self.uncounted += 1;
        let wait = match bpop::parse(spec.name, args) {
            Ok(w) => w,
            Err(e) => {
                self.reply(&e);
                return Next::Continue;
            }
        };
        // Served at once, it is replicated here; served after waiting,
        // by `block`.
        let replicated =
            crate::cluster::replicate::prepare(self.shared.cluster.as_ref(), spec, args);
        let Some(mark) = self.before_replicated(replicated.as_ref()).await else {
            return Next::Continue;
        };
        cmd::monitor(&self.cache, &self.client, args);
        let mut args = args.to_vec();
        let served = {
            let _shared = self.cache.gate.shared();
            let mut ctx = Ctx {
                cache: &self.cache,
                client: &mut self.client,
                now_ms: self.now_ms,
                access: Access::Counted,
            };
            // XREAD's `$` means "after the last entry now".
            bpop::pin_ids(&mut ctx, &mut args);
            bpop::try_serve(&mut ctx, &args, false)
        };
        if let Some(reply) = served {
            self.reply(&reply);
            self.after_replicated(replicated, mark).await;
            return Next::Continue;
        }
        Next::Block(Pending { args, wait })
    }

    /// Waits until a blocked command can be served, its timeout passes,
    /// CLIENT UNBLOCK unblocks it, the client leaves or the daemon stops;
    /// reads (and keeps) the client's input meanwhile, to notice it leave.
    pub(super) async fn block(
        &mut self,
        pending: Pending,
        stream: &mut TcpStream,
        input: &mut BytesMut,
    ) -> Next {
        let cache = self.cache.clone();
        let db = self.client.db;
        let keys = &pending.wait.keys;
        let waiter = cache.blocked.register(self.client.id, db, keys);
        let deadline = pending
            .wait
            .timeout_ms
            .map(|ms| tokio::time::Instant::now() + std::time::Duration::from_millis(ms));
        let shutdown = self.shared.shutdown.clone();
        let outcome = loop {
            self.now_ms = crate::now_ms();
            let served = {
                let _shared = cache.gate.shared();
                let mut ctx = Ctx {
                    cache: &cache,
                    client: &mut self.client,
                    now_ms: self.now_ms,
                    access: Access::Counted,
                };
                bpop::try_serve(&mut ctx, &pending.args, true)
            };
            if let Some(reply) = served {
                break Some(reply);
            }
            match waiter.unblock.load(Ordering::Relaxed) {
                blocking::unblock::TIMEOUT => break None,
                blocking::unblock::ERROR => {
                    break Some(Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
                }
                _ => {}
            }
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = waiter.notify.notified() => {}
                () = sleep => break None,
                () = shutdown.cancelled() => {
                    cache.blocked.deregister(&waiter, db, keys);
                    return Next::Close;
                }
                read = stream.read_buf(input) => match read {
                    Ok(n) if n > 0 && input.len() <= MAX_BLOCKED_INPUT => {}
                    _ => {
                        cache.blocked.deregister(&waiter, db, keys);
                        return Next::Close;
                    }
                },
            }
        };
        cache.blocked.deregister(&waiter, db, keys);
        let mark = self.out.len();
        let served = outcome.is_some();
        self.reply(&outcome.unwrap_or_else(|| bpop::timeout_reply(&pending.args)));
        // Served after waiting (a push here woke it): the keys it popped
        // from and pushed to are copied to their replicas like any write;
        // their states are this node's newest (the push ran here, the
        // primary), so no quorum read comes first.
        if served && let Some(spec) = cmd::lookup(&pending.args[0]) {
            let replicated = crate::cluster::replicate::prepare(
                self.shared.cluster.as_ref(),
                spec,
                &pending.args,
            );
            self.after_replicated(replicated, mark).await;
        }
        Next::Continue
    }
}
