//! Cluster mode on a RESP connection (docs/CLUSTER.md): the cluster's own
//! commands, `-MOVED`/`-CROSSSLOT` for keys owned elsewhere (redirect
//! mode) or forwarding them to their owner (proxy mode), and, as Redis
//! Cluster does, a transaction that a refused command makes fail at EXEC
//! (`EXECABORT`).
//!
//! Proxy mode forwards one command at a time over [`crate::cluster::proxy`]'s
//! pool and relays the owner's reply unchanged. It refuses, with one
//! error naming the owner, what a shared upstream connection cannot do
//! correctly: commands queued in MULTI (the transaction then fails at
//! EXEC), WATCH, blocking commands, connection commands, and any command
//! when RESP clients must AUTH (the pool holds no client's credentials).

use std::sync::Arc;

use bytes::Bytes;

use super::{Conn, Next};
use crate::cache::cmd::{self, bpop, is};
use crate::cache::{Reply, multi};
use crate::cluster::Cluster;
use crate::cluster::proxy::Mode;
use crate::cluster::route;

impl Conn {
    /// What cluster mode does with `args`; `None`: run it here as usual.
    pub(super) async fn cluster_route(
        &mut self,
        cluster: &Arc<Cluster>,
        args: &[Bytes],
    ) -> Option<Next> {
        if cluster.config.mode == Mode::Proxy
            && let Some(next) = self.proxy(cluster, args).await
        {
            return Some(next);
        }
        let reply = route::intercept(cluster, args)?;
        self.uncounted += 1;
        // A command refused while a transaction is queued (MOVED,
        // CROSSSLOT, CLUSTERDOWN) makes its EXEC fail, as in Redis Cluster.
        let refused = match &reply {
            Reply::Error(text) if self.client.multi.is_some() => Some(text.to_string()),
            _ => None,
        };
        let reply = match refused {
            Some(text) => multi::reject(&self.cache, &mut self.client, &args[0], &text),
            None => reply,
        };
        self.reply(&reply);
        Some(Next::Continue)
    }

    /// Proxy mode: forwards a command whose slot another node owns, or
    /// refuses it when it cannot be forwarded correctly. `None`: not
    /// another node's (keyless, this node's, CROSSSLOT, nobody's).
    async fn proxy(&mut self, cluster: &Arc<Cluster>, args: &[Bytes]) -> Option<Next> {
        let Ok(Some(slot)) = route::command_slot(args) else {
            return None;
        };
        let (owner, addr) = {
            let view = cluster.view();
            // In a minority: CLUSTERDOWN from `intercept`, not a forward.
            if !view.has_majority() {
                return None;
            }
            let owner = view.owner(slot)?;
            if owner.myself {
                return None;
            }
            (owner.id.clone(), owner.resp?)
        };
        let spec = cmd::lookup(&args[0])?;
        let refused = if self.client.multi.is_some() {
            Some("commands queued in MULTI")
        } else if is(&args[0], "watch") {
            Some("WATCH")
        } else if bpop::blocks(spec.name, args) {
            Some("blocking commands")
        } else if spec.kind == cmd::Kind::Conn {
            Some("connection commands")
        } else if self.shared.config.resp_require_auth {
            Some("commands while RESP clients must AUTH")
        } else {
            None
        };
        self.uncounted += 1;
        if let Some(what) = refused {
            let text = format!(
                "ERR proxy mode does not forward {what}: slot {slot} is owned by node {owner} \
                 ({addr}); send it there, or use a cluster-aware client (redis-cli -c)"
            );
            let reply = if self.client.multi.is_some() {
                multi::reject(&self.cache, &mut self.client, &args[0], &text)
            } else {
                Reply::error(text)
            };
            self.reply(&reply);
            return Some(Next::Continue);
        }
        match cluster.proxy.forward(addr, self.client.resp3, args).await {
            Ok(reply) => self.out.extend_from_slice(&reply),
            Err(err) => self.reply(&Reply::error(err.reply_text(&owner, addr, slot))),
        }
        Some(Next::Continue)
    }

    /// EXEC, under cluster replication when it runs: a quorum read of the
    /// queued commands' keys before (refused, the transaction is
    /// discarded), their copies after (`-NOREPLICAS` instead of the
    /// replies when too few replicas acknowledged, as for one command).
    pub(super) async fn exec_replicated(&mut self, args: &[Bytes]) -> Next {
        let queue = self.client.multi.as_deref().unwrap_or_default();
        let groups =
            crate::cluster::replicate::prepare_transaction(self.shared.cluster.as_ref(), queue);
        for group in &groups {
            if let Err(reply) = group.before(self.now_ms).await {
                let text = match &reply {
                    Reply::Error(text) => text.to_string(),
                    _ => crate::cluster::replicate::NOREPLICAS_READ.to_owned(),
                };
                let refused = multi::reject(&self.cache, &mut self.client, b"exec", &text);
                cmd::monitor(&self.cache, &self.client, args);
                self.reply(&refused);
                return Next::Continue;
            }
        }
        if !groups.is_empty() {
            self.now_ms = crate::now_ms();
        }
        let reply = multi::command(&self.cache, &mut self.client, self.now_ms, args);
        cmd::monitor(&self.cache, &self.client, args);
        let mark = self.out.len();
        let ran = matches!(reply, Reply::Array(_));
        self.reply(&reply);
        if ran {
            for group in groups {
                self.after_replicated(Some(group), mark).await;
            }
        }
        self.replicate_flush().await;
        Next::Continue
    }

    /// After a command that flushed (FLUSHALL, FLUSHDB, alone, in EXEC
    /// or in a script): on a replicating node, tombstones for every key
    /// it held go to their slots' other replicas
    /// ([`crate::cluster::replicate::Replication::flushed`]).
    pub(super) async fn replicate_flush(&mut self) {
        if std::mem::take(&mut self.client.flushed)
            && let Some(cluster) = &self.shared.cluster
            && let Some(repl) = cluster.replication()
        {
            repl.flushed(cluster, crate::now_ms()).await;
        }
    }

    /// Before a command under cluster replication (`cluster/replicate.rs`):
    /// the quorum read. `None` when the command must not run (its
    /// `-NOREPLICAS` reply is appended); else where its reply will start.
    pub(super) async fn before_replicated(
        &mut self,
        replicated: Option<&crate::cluster::replicate::Prepared>,
    ) -> Option<usize> {
        if let Some(r) = replicated {
            if let Err(reply) = r.before(self.now_ms).await {
                self.reply(&reply);
                return None;
            }
            self.now_ms = crate::now_ms();
        }
        Some(self.out.len())
    }

    /// After it: the copies to the replicas; the reply after `mark`
    /// becomes `-NOREPLICAS` when too few acknowledge a write.
    pub(super) async fn after_replicated(
        &mut self,
        replicated: Option<crate::cluster::replicate::Prepared>,
        mark: usize,
    ) {
        if let Some(r) = replicated
            && r.wrote(&self.out[mark..])
            && let Err(reply) = r.after(self.now_ms).await
        {
            self.out.truncate(mark);
            self.reply(&reply);
        }
    }
}
