//! The connection commands a RESP connection answers itself, because
//! they need its own state: SUBSCRIBE & co. (its mailbox and sets of
//! channels and patterns), PUBLISH, PUBSUB, AUTH, QUIT, MONITOR, RESET.

use bytes::Bytes;

use super::{Conn, Next, stop_removals_unless_tracking};
use crate::cache::Reply;
use crate::cache::cmd::{self, Client};
use crate::cache::pubsub::Subscriber;

impl Conn {
    pub(super) async fn authenticate(&self, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
        let wrong = Reply::err("WRONGPASS invalid username-password pair or user is disabled.");
        let (Ok(user), Ok(pass)) = (std::str::from_utf8(user), std::str::from_utf8(pass)) else {
            return Err(wrong);
        };
        match self.shared.services.base.accounts().login(user, pass).await {
            Ok(_) => Ok(()),
            Err(_) => Err(wrong),
        }
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the daemon as
    /// SIGTERM does, when `--resp-allow-shutdown` allows it. NOW and FORCE
    /// change nothing here (there are no replicas to wait for, and a
    /// snapshot that fails is logged, not fatal); SAVE needs snapshots on;
    /// ABORT has no pending shutdown to abort.
    fn shutdown(&self, args: &[Bytes]) -> Result<(), Reply> {
        let (mut nosave, mut save, mut abort) = (false, false, false);
        for word in &args[1..] {
            match String::from_utf8_lossy(word).to_ascii_lowercase().as_str() {
                "nosave" => nosave = true,
                "save" => save = true,
                "now" | "force" => {}
                "abort" => abort = true,
                _ => return Err(Reply::err(crate::cache::reply::errors::SYNTAX)),
            }
        }
        if (nosave && save) || (abort && args.len() > 2) {
            return Err(Reply::err(crate::cache::reply::errors::SYNTAX));
        }
        if abort {
            return Err(Reply::err("ERR No shutdown in progress."));
        }
        if !self.shared.config.resp_allow_shutdown {
            return Err(Reply::err(
                "ERR SHUTDOWN is off: this daemon serves more than the cache; start it with \
                 --resp-allow-shutdown to allow it, or stop it with SIGTERM",
            ));
        }
        if save && self.cache.snapshot.is_none() {
            return Err(Reply::err(
                "ERR SHUTDOWN SAVE needs snapshots: start the daemon with --cache-persist",
            ));
        }
        self.cache
            .nosave
            .store(nosave, std::sync::atomic::Ordering::Release);
        tracing::info!(client = ?self.client.addr, nosave, "SHUTDOWN from a RESP client: shutting down");
        self.shared.shutdown.cancel();
        Ok(())
    }

    fn ensure_mailbox(&mut self) -> Subscriber {
        if let Some((sub, _, _)) = &self.mailbox {
            return sub.clone();
        }
        let (sub, rx, kick) = Subscriber::new(self.client.id, self.shared.config.push_limits);
        self.mailbox = Some((sub.clone(), rx, kick));
        sub
    }

    pub(super) fn confirm(&mut self, kind: &'static str, name: Option<Bytes>) {
        // Shard subscriptions count apart (Redis 7's
        // clientShardSubscriptionsCount), the others together.
        let count = if matches!(kind, "ssubscribe" | "sunsubscribe") {
            self.shard_channels.len()
        } else {
            self.channels.len() + self.patterns.len()
        } as i64;
        let reply = Reply::Push(vec![
            Reply::text(kind),
            name.map_or(Reply::Nil, Reply::Bulk),
            Reply::Integer(count),
        ]);
        self.reply(&reply);
    }

    pub(super) async fn connection_command(&mut self, name: &str, args: &[Bytes]) -> Next {
        let cache = self.cache.clone();
        let pubsub = &cache.pubsub;
        match name {
            "subscribe" | "psubscribe" => {
                let pattern = name == "psubscribe";
                let sub = self.ensure_mailbox();
                for channel in &args[1..] {
                    let set = if pattern {
                        &mut self.patterns
                    } else {
                        &mut self.channels
                    };
                    if set.insert(channel.clone()) {
                        self.cache.pubsub.subscribe(&sub, channel.clone(), pattern);
                    }
                    self.confirm(
                        if pattern { "psubscribe" } else { "subscribe" },
                        Some(channel.clone()),
                    );
                }
            }
            "unsubscribe" | "punsubscribe" => {
                let pattern = name == "punsubscribe";
                let set = if pattern {
                    &self.patterns
                } else {
                    &self.channels
                };
                let targets: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else {
                    set.iter().cloned().collect()
                };
                if targets.is_empty() {
                    self.confirm(name_static(name), None);
                }
                for channel in targets {
                    let set = if pattern {
                        &mut self.patterns
                    } else {
                        &mut self.channels
                    };
                    set.remove(&channel);
                    pubsub.unsubscribe(self.client.id, &channel, pattern);
                    self.confirm(name_static(name), Some(channel));
                }
            }
            "ssubscribe" => {
                let sub = self.ensure_mailbox();
                for channel in &args[1..] {
                    if self.shard_channels.insert(channel.clone()) {
                        pubsub.ssubscribe(&sub, channel.clone());
                    }
                    self.confirm("ssubscribe", Some(channel.clone()));
                }
            }
            "sunsubscribe" => {
                let targets: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else {
                    self.shard_channels.iter().cloned().collect()
                };
                if targets.is_empty() {
                    self.confirm("sunsubscribe", None);
                }
                for channel in targets {
                    self.shard_channels.remove(&channel);
                    pubsub.sunsubscribe(self.client.id, &channel);
                    self.confirm("sunsubscribe", Some(channel));
                }
            }
            "spublish" => {
                let n = pubsub.spublish(&args[1], &args[2]);
                self.reply(&Reply::Integer(n as i64));
            }
            "publish" => {
                let n = pubsub.publish(&args[1], &args[2]);
                self.reply(&Reply::Integer(n as i64));
            }
            "pubsub" => {
                let reply = pubsub.introspect(args);
                self.reply(&reply);
            }
            "auth" => {
                let reply = match args.len() {
                    2 => Reply::err(
                        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                    ),
                    3 => match self.authenticate(&args[1], &args[2]).await {
                        Ok(()) => {
                            self.authenticated = true;
                            Reply::ok()
                        }
                        Err(e) => e,
                    },
                    _ => Reply::err("ERR syntax error"),
                };
                self.reply(&reply);
            }
            "quit" => {
                self.reply(&Reply::ok());
                return Next::Close;
            }
            "shutdown" => {
                if let Err(reply) = self.shutdown(args) {
                    self.reply(&reply);
                } else {
                    // As redis-server: no reply, the connection closes.
                    return Next::Close;
                }
            }
            "monitor" => {
                if self.monitor.is_none() {
                    self.monitor = Some(self.cache.monitors.add(self.client.id));
                }
                self.reply(&Reply::ok());
            }
            "reset" => {
                for channel in std::mem::take(&mut self.channels) {
                    pubsub.unsubscribe(self.client.id, &channel, false);
                }
                for pattern in std::mem::take(&mut self.patterns) {
                    pubsub.unsubscribe(self.client.id, &pattern, true);
                }
                for channel in std::mem::take(&mut self.shard_channels) {
                    pubsub.sunsubscribe(self.client.id, &channel);
                }
                self.cache.watches.remove_client(&mut self.client);
                if self.monitor.take().is_some() {
                    self.cache.monitors.remove(self.client.id);
                }
                if self.client.tracking.is_some() {
                    self.cache.tracking.disable(self.client.id);
                    stop_removals_unless_tracking(&self.cache);
                }
                self.client = Client {
                    id: self.client.id,
                    addr: self.client.addr.take(),
                    ..Client::default()
                };
                self.reply(&Reply::Simple("RESET".into()));
            }
            _ => {
                let reply = cmd::unknown_command(args);
                self.reply(&reply);
            }
        }
        Next::Continue
    }
}

fn name_static(name: &str) -> &'static str {
    if name == "punsubscribe" {
        "punsubscribe"
    } else {
        "unsubscribe"
    }
}
