//! The one list of services.
//!
//! [`Services`] holds every service's handle, routes each [`Op`] to the
//! service that owns it, and builds the [`Hooks`] list through which the
//! services hear about sessions. A new service adds its handle here (a
//! field, a line in [`Services::open`], an arm in [`Services::route`] and
//! [`Services::is_barrier`], and its [`Lifecycle`] in
//! [`Services::lifecycles`]); the compiler points at each of them, since
//! the matches are exhaustive and the field list is destructured. Nothing
//! else in the daemon's core names a service. See "Adding a service" in
//! docs/ARCHITECTURE.md.

use std::sync::Arc;

use agora_wire::Op;
use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::base::{Base, Sessions};
use crate::blog::Blog;
use crate::cache::{self, Cache};
use crate::chat::Chat;
use crate::game::Games;
use crate::hub::Hub;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::service::{Hooks, Lifecycle, Routed, Service};
use crate::session::Session;
use crate::{Config, accounts};

/// Every service's handle.
pub struct Services {
    /// Ping, accounts, topics, the `sessions` topic.
    pub base: Base,
    /// Rooms, messages, private messages, presence.
    pub chat: Chat,
    /// The Redis-compatible cache (served over RESP too).
    pub cache: cache::native::Native,
    /// The blog API (HTTP only: no protocol operations).
    pub blog: Blog,
    /// Organizations: each one's blog in its own file (HTTP only).
    pub orgs: crate::orgs::Orgs,
    /// Billing of organizations, and the mock provider (HTTP only).
    pub billing: crate::billing::Billing,
    /// The background job queue.
    pub jobs: Jobs,
    /// System and agora metrics, history, alerts, dashboard presence.
    pub metrics: Metrics,
    /// Turn-based games: matchmaking, live games, ratings, replays.
    pub games: Games,
    /// Every service's lifecycle, in the order above.
    hooks: Hooks,
}

impl Services {
    /// Opens every service over the shared database and hub: accounts,
    /// chat and jobs over `storage` (SQLite or the fleet's PostgreSQL),
    /// the others over `db`, the node's SQLite file (docs/FLEET.md).
    ///
    /// # Errors
    /// When a service cannot load its state or start its threads.
    pub async fn open(
        config: &Config,
        storage: &agora_db::Storage,
        db: &agora_db::Db,
        hub: &Arc<Hub>,
        stats: &Arc<crate::stats::Stats>,
    ) -> anyhow::Result<Self> {
        let accounts = accounts::Accounts::open(config, storage.clone(), db.clone())?;
        let chat = {
            let (storage, hub, limits) = (storage.clone(), hub.clone(), config.chat);
            tokio::task::spawn_blocking(move || Chat::open(storage, hub, limits))
                .await
                .context("chat start-up panicked")??
        };
        let cache = Cache::open(config.cache.clone(), &config.data_dir).await?;
        let cache = cache::native::Native::new(cache, config.max_frame);
        let jobs = {
            let (storage, hub, settings, max_frame) =
                (storage.clone(), hub.clone(), config.jobs, config.max_frame);
            tokio::task::spawn_blocking(move || Jobs::open(storage, hub, settings, max_frame))
                .await
                .context("jobs start-up panicked")??
        };
        let metrics = {
            let source = crate::metrics::AgoraSource {
                stats: stats.clone(),
                cache: cache.cache().clone(),
                hub: hub.clone(),
            };
            let (config, db, hub) = (config.metrics.clone(), db.clone(), hub.clone());
            tokio::task::spawn_blocking(move || Metrics::open(config, db, hub, Some(source)))
                .await
                .context("metrics start-up panicked")??
        };
        // Alerts go to chat's room and, when configured, into a job queue;
        // the queue's figures feed `agora.jobs.*`.
        if let Some(room) = &config.metrics.alert_room {
            metrics.add_hook(Arc::new(crate::metrics::notify::ChatAlerts::new(
                chat.clone(),
                room.clone(),
            )));
        }
        if let Some(queue) = &config.metrics.alert_job_queue {
            metrics.add_hook(Arc::new(crate::metrics::jobs::JobAlerts::new(
                jobs.clone(),
                queue.clone(),
            )));
        }
        if let agora_db::Storage::Postgres(pg) = storage {
            metrics.join_fleet(pg.clone());
        }
        metrics.set_jobs_source(Box::new(crate::metrics::jobs::JobFigures::new(
            jobs.clone(),
        )));
        let games = {
            let (storage, hub, settings) = (storage.clone(), hub.clone(), config.games);
            tokio::task::spawn_blocking(move || Games::open(storage, hub, settings))
                .await
                .context("games start-up panicked")??
        };
        let sessions = Arc::new(Sessions::new(hub.clone()));
        let hooks = Hooks::new(Self::lifecycles(sessions, &chat, &cache, &metrics, &games));
        let blog = Blog::new(
            config.blog.clone(),
            storage.blog(),
            accounts.clone(),
            hooks.clone(),
        );
        let base = Base::new(accounts, hub.clone(), hooks.clone());
        let orgs = {
            let (storage, dir, handles, grace) = (
                storage.clone(),
                config.data_dir.clone(),
                config.blog.tenant_handles,
                config.blog.org_delete_grace,
            );
            // A tenant's read cache is small: there are hundreds of them.
            let entries = config.blog.cache_entries.min(64);
            tokio::task::spawn_blocking(move || {
                crate::orgs::Orgs::open(storage, &dir, handles, entries, grace)
            })
            .await
            .context("organizations start-up panicked")??
        };
        let billing = crate::billing::Billing::new(&config.billing, storage.clone());
        billing
            .reload_domains()
            .await
            .map_err(|err| anyhow::anyhow!("cannot load the custom domains: {err}"))?;
        Ok(Services {
            base,
            chat,
            cache,
            blog,
            orgs,
            billing,
            jobs,
            metrics,
            games,
            hooks,
        })
    }

    /// Every service's lifecycle, in order; `sessions` is the base
    /// service's.
    fn lifecycles(
        sessions: Arc<Sessions>,
        chat: &Chat,
        cache: &cache::native::Native,
        metrics: &Metrics,
        games: &Games,
    ) -> Vec<Arc<dyn Lifecycle>> {
        vec![
            sessions,
            Arc::new(chat.clone()),
            Arc::new(cache.clone()),
            Arc::new(metrics.clone()),
            Arc::new(games.clone()),
        ]
    }

    /// Starts the services' background tasks (chat presence digests,
    /// cache expiry and snapshots, blog housekeeping, the job scheduler and
    /// built-in runner) on `tracker`; they stop when `token` is cancelled,
    /// and shutdown waits for them.
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        let Services {
            base: _,
            chat,
            cache,
            blog,
            orgs,
            billing,
            jobs,
            metrics,
            games,
            hooks: _,
        } = self;
        chat.spawn(token.clone(), tracker);
        blog.spawn(token.clone(), tracker);
        orgs.spawn(token.clone(), tracker);
        billing.spawn(token.clone(), tracker);
        jobs.spawn(token.clone(), tracker);
        metrics.spawn(token.clone(), tracker);
        games.spawn(token.clone(), tracker);
        cache::spawn(cache.cache().clone(), token, tracker);
    }

    /// Every service's lifecycle hooks.
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    /// Routes an operation to the service that owns it.
    pub fn route(&self, op: Op, session: &Arc<Session>) -> Routed {
        match op {
            Op::Base(op) => self.base.route(op, session),
            Op::Chat(op) => self.chat.route(op, session),
            Op::Cache(op) => self.cache.route(op, session),
            Op::Jobs(op) => self.jobs.route(op, session),
            Op::Metrics(op) => self.metrics.route(op, session),
            Op::Game(op) => self.games.route(op, session),
        }
    }

    /// Whether an operation is a barrier (see [`Service::is_barrier`]).
    pub fn is_barrier(op: &Op) -> bool {
        match op {
            Op::Base(op) => Base::is_barrier(op),
            Op::Chat(op) => Chat::is_barrier(op),
            Op::Cache(op) => cache::native::Native::is_barrier(op),
            Op::Jobs(op) => Jobs::is_barrier(op),
            Op::Metrics(op) => Metrics::is_barrier(op),
            Op::Game(op) => Games::is_barrier(op),
        }
    }
}
