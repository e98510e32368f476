//! The metrics service: one sampler for every viewer, live samples on the
//! `metrics` topic, history in SQLite, alert rules, dashboard presence,
//! and the system figures behind `/metrics` and `/dashboard`.
//!
//! - [`sampler`]: sysinfo, cgroup limits and agora's own counters, one
//!   [`sampler::Snapshot`] per tick;
//! - [`history`]: the three tiers (raw, minutes, hours), downsampling and
//!   retention;
//! - [`alerts`]: rules and their ok → pending → firing → resolved machine;
//! - [`notify`]: the hooks that announce alerts (chat's `#alerts`);
//! - [`jobs`]: the job queue's figures (`agora.jobs.*`) and its alert hook
//!   (an `alert.notify` job per transition);
//! - [`signal`]: `metrics_signal`, operators sending a signal to a process
//!   of the table, and the rule that says who may;
//! - [`prometheus`]: the system part of `/metrics`.
//!
//! One task ([`Metrics::spawn`]) ticks every `interval`: it samples on the
//! blocking pool, keeps the last minute in memory (late joiners get it at
//! once), publishes the sample to the `metrics` topic and to web viewers,
//! evaluates the rules (each transition stored, pushed and announced) and
//! feeds the downsampler, whose rows are written in one transaction every
//! `flush_every`. Presence: a session that sends `metrics_watch` is a
//! viewer until `metrics_unwatch`, sign-out or close; web pages are
//! viewers while their event stream is open.

pub mod alerts;
pub mod fleet;
pub mod history;
pub mod jobs;
pub mod notify;
pub mod prometheus;
pub mod sampler;
pub mod signal;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant};

use agora_db::Db;
use agora_db::metrics::{Metrics as Repo, PointRow, RuleRow, TransitionRow};
use agora_wire::metrics::{Alert, AlertState, METRICS_TOPIC, Point, Sample, Transition, Viewer};
use agora_wire::{BaseReply, ErrorBody, ErrorCode, MetricsEvent, MetricsOp, MetricsReply, Op};
use anyhow::Context as _;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::service::{self, Lifecycle, Routed, Service, signed_in};
use crate::session::Session;
use alerts::{Change, Cmp, Engine, Rule};
use history::{Batch, Downsampler, Retention};
use notify::AlertHook;
use sampler::{Readings, Sampler, Snapshot, Source};

/// How much of the recent past a new viewer gets at once.
const RECENT_MS: u64 = 60_000;
/// Alert transitions kept in the history.
const KEEP_TRANSITIONS: u32 = 10_000;
/// The most points one range query answers.
const MAX_POINTS: u64 = 10_000;
/// Web viewers' ids have this bit set, so they never meet session ids.
const WEB_VIEWER: u64 = 1 << 63;
/// The longest view name.
const MAX_VIEW: usize = 32;

/// The metrics service's settings.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Time between samples (default 1 s).
    pub interval: Duration,
    /// The process table and cgroup files are read every this many
    /// samples (default 5).
    pub process_every: u32,
    /// How long each history tier is kept.
    pub retention: Retention,
    /// How often history rows are written (default 5 s).
    pub flush_every: Duration,
    /// The chat room alerts are posted into; `None`: not posted.
    pub alert_room: Option<String>,
    /// The job queue an `alert.notify` job is enqueued into for every
    /// announced transition; `None`: none.
    pub alert_job_queue: Option<String>,
    /// The accounts allowed to send signals to processes
    /// (`metrics_signal`); empty: nobody.
    pub operators: Vec<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            interval: Duration::from_secs(1),
            process_every: 5,
            retention: Retention::default(),
            flush_every: Duration::from_secs(5),
            alert_room: Some("alerts".into()),
            alert_job_queue: None,
            operators: Vec::new(),
        }
    }
}

/// The metrics service. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    config: MetricsConfig,
    db: Db,
    hub: Arc<Hub>,
    sampler: Mutex<Sampler>,
    state: Mutex<State>,
    hooks: Arc<RwLock<Vec<Arc<dyn AlertHook>>>>,
    /// Announcements, in the order of the transitions, for the task that
    /// runs the hooks one after another.
    announce: tokio::sync::mpsc::UnboundedSender<(Change, Alert)>,
    /// JSON of every event, for the web page's event streams.
    web: broadcast::Sender<Arc<str>>,
    next_web: AtomicU64,
    /// Metric ids in the database, by name.
    ids: Mutex<HashMap<String, i64>>,
    jobs: Arc<OnceLock<Box<dyn Source + Sync>>>,
    /// A fleet's PostgreSQL: other nodes' alerts are heard through it.
    fleet: OnceLock<agora_db::Pg>,
}

#[derive(Default)]
struct State {
    latest: Option<Arc<Snapshot>>,
    recent: VecDeque<Sample>,
    engine: Engine,
    viewers: BTreeMap<u64, Viewer>,
}

/// agora's own figures: connections, requests by service, chat messages,
/// cache operations and hit ratio, and the job queue's when it is wired.
pub struct AgoraSource {
    /// The daemon's counters.
    pub stats: Arc<crate::stats::Stats>,
    /// The cache, for its command and hit counters.
    pub cache: Arc<crate::cache::Cache>,
    /// The hub, for topic counts.
    pub hub: Arc<Hub>,
}

struct Agora {
    base: AgoraSource,
    jobs: Arc<OnceLock<Box<dyn Source + Sync>>>,
}

impl Source for Agora {
    fn read(&self, out: &mut Readings) {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.base.stats;
        out.gauges.push((
            "agora.connections".into(),
            s.connections_open.load(Relaxed) as f64,
        ));
        out.gauges
            .push(("agora.topics".into(), self.base.hub.topic_count() as f64));
        let mut by_service: BTreeMap<&str, u64> = BTreeMap::new();
        let mut chat_messages = 0;
        let mut all = 0;
        for ((service, op), n) in Op::names().zip(&s.requests) {
            let n = n.load(Relaxed);
            *by_service.entry(service.name()).or_default() += n;
            all += n;
            if op == "chat_send" || op == "chat_dm" {
                chat_messages += n;
            }
        }
        out.counters.push(("agora.requests_per_sec".into(), all));
        for (service, n) in by_service {
            out.counters
                .push((format!("agora.requests_per_sec.{service}"), n));
        }
        out.counters
            .push(("agora.chat.messages_per_sec".into(), chat_messages));
        let cache = &self.base.cache;
        out.counters.push((
            "agora.cache.ops_per_sec".into(),
            cache.stats.commands.load(Relaxed),
        ));
        let counters = cache.store.counters();
        let (hits, misses) = (counters.hits.load(Relaxed), counters.misses.load(Relaxed));
        out.gauges.push((
            "agora.cache.hit_ratio".into(),
            if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
        ));
        if let Some(jobs) = self.jobs.get() {
            jobs.read(out);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Loads the alert rules and prepares the sampler (blocking: run it on
    /// the blocking pool).
    ///
    /// # Errors
    /// When the rules cannot be read.
    pub fn open(
        config: MetricsConfig,
        db: Db,
        hub: Arc<Hub>,
        agora: Option<AgoraSource>,
    ) -> anyhow::Result<Metrics> {
        let rules = db.read(|c| Repo::new(c).rules())?;
        let mut engine = Engine::default();
        for row in rules {
            let Some(cmp) = Cmp::parse(&row.op) else {
                tracing::warn!(rule = %row.name, op = %row.op, "alert rule with an unknown comparison skipped");
                continue;
            };
            let mut rule = Rule::new(
                row.name,
                row.metric,
                cmp,
                row.threshold,
                row.for_ms.max(0) as u64,
                row.severity,
            );
            rule.silenced_until_ms = row.silenced_until_ms.max(0) as u64;
            engine.insert(rule);
        }
        let jobs: Arc<OnceLock<Box<dyn Source + Sync>>> = Arc::default();
        let source = agora.map(|base| {
            Box::new(Agora {
                base,
                jobs: jobs.clone(),
            }) as Box<dyn Source>
        });
        let sampler = Sampler::new(config.process_every, source);
        let (web, _) = broadcast::channel(64);
        let hooks: Arc<RwLock<Vec<Arc<dyn AlertHook>>>> = Arc::default();
        let (announce, mut announcements) = tokio::sync::mpsc::unbounded_channel();
        // Announcing waits for chat's writer: not on the sampling task,
        // and one at a time so that #alerts reads in order. The task ends
        // when the service is dropped.
        let runner = hooks.clone();
        tokio::runtime::Handle::try_current()
            .context("the metrics service starts inside the daemon's runtime")?
            .spawn(async move {
                while let Some((change, alert)) = announcements.recv().await {
                    let hooks = runner.read().unwrap_or_else(|p| p.into_inner()).clone();
                    for hook in hooks {
                        hook.announce(&change, &alert).await;
                    }
                }
            });
        Ok(Metrics {
            inner: Arc::new(Inner {
                config,
                db,
                hub,
                sampler: Mutex::new(sampler),
                state: Mutex::new(State {
                    engine,
                    ..State::default()
                }),
                hooks,
                announce,
                web,
                next_web: AtomicU64::new(1),
                ids: Mutex::new(HashMap::new()),
                jobs,
                fleet: OnceLock::new(),
            }),
        })
    }

    /// Adds a hook that hears firing and resolved alerts (chat's room,
    /// the job queue's notification job).
    pub fn add_hook(&self, hook: Arc<dyn AlertHook>) {
        self.inner
            .hooks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
    }

    /// In a fleet: this node's firing and resolved alerts are told to the
    /// other nodes through `pg`, and theirs published here once
    /// [`Metrics::spawn`] runs (`fleet`).
    pub fn join_fleet(&self, pg: agora_db::Pg) {
        self.add_hook(Arc::new(fleet::FleetAlerts::new(pg.clone())));
        let _ = self.inner.fleet.set(pg);
    }

    /// Where the job queue's figures come from (`agora.jobs.*`), once the
    /// Jobs service is wired in `services.rs`; the first call wins.
    pub fn set_jobs_source(&self, source: Box<dyn Source + Sync>) {
        let _ = self.inner.jobs.set(source);
    }

    /// The configuration.
    pub fn config(&self) -> &MetricsConfig {
        &self.inner.config
    }

    /// Starts the sampling task; it stops (writing what is pending) when
    /// `token` is cancelled.
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        if let Some(pg) = self.inner.fleet.get() {
            let (metrics, pg, stop) = (self.clone(), pg.clone(), token.clone());
            let started = std::thread::Builder::new()
                .name("agora-alerts-fleet".into())
                .spawn(move || fleet::listen(metrics, pg, stop));
            if let Err(err) = started {
                tracing::error!(%err, "cannot start the alerts' fleet listener");
            }
        }
        tracker.spawn(self.clone().run(token));
    }

    async fn run(self, token: CancellationToken) {
        let mut ticks = tokio::time::interval(self.inner.config.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut down = Downsampler::default();
        let mut batch = Batch::default();
        let (mut flushed, mut pruned) = (Instant::now(), Instant::now());
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let inner = self.inner.clone();
            let Ok(snap) =
                tokio::task::spawn_blocking(move || lock(&inner.sampler).sample(crate::now_ms()))
                    .await
            else {
                tracing::error!("the metrics sampler panicked");
                continue;
            };
            down.push(snap.sample.ts_ms, &snap.sample.values, &mut batch);
            self.on_sample(snap).await;
            if flushed.elapsed() >= self.inner.config.flush_every {
                flushed = Instant::now();
                self.flush(std::mem::take(&mut batch)).await;
            }
            if pruned.elapsed() >= Duration::from_secs(60) {
                pruned = Instant::now();
                down.close_stale(crate::now_ms(), &mut batch);
                self.prune().await;
            }
        }
        self.flush(batch).await;
    }

    /// Takes one sample now, outside the ticking task (tests, benchmarks).
    pub fn sample_now(&self) -> Snapshot {
        lock(&self.inner.sampler).sample(crate::now_ms())
    }

    /// Handles one tick's snapshot: remembered, published, rules
    /// evaluated.
    pub async fn on_sample(&self, snap: Snapshot) {
        let now = snap.sample.ts_ms;
        let sample = snap.sample.clone();
        let changes = {
            let mut state = lock(&self.inner.state);
            state.recent.push_back(sample.clone());
            while state
                .recent
                .front()
                .is_some_and(|s| s.ts_ms + RECENT_MS < now)
            {
                state.recent.pop_front();
            }
            let changes = state.engine.evaluate(now, &sample.values);
            state.latest = Some(Arc::new(snap));
            changes
        };
        self.publish(MetricsEvent::Tick { sample });
        for change in changes {
            self.record(change).await;
        }
    }

    /// Pushes an event to the `metrics` topic and the web streams.
    fn publish(&self, event: MetricsEvent) {
        if self.inner.web.receiver_count() > 0 {
            match serde_json::to_string(&event) {
                Ok(json) => {
                    let _ = self.inner.web.send(json.into());
                }
                Err(err) => tracing::error!(%err, "cannot encode a metrics event as JSON"),
            }
        }
        if self.inner.hub.subscribers(METRICS_TOPIC) > 0 {
            self.inner.hub.publish(METRICS_TOPIC, event);
        }
    }

    /// Stores a transition, pushes it, and announces it when it matters.
    async fn record(&self, change: Change) {
        let row = TransitionRow {
            id: 0,
            rule: change.rule.clone(),
            from: change.from.name().to_owned(),
            to: change.to.name().to_owned(),
            value: change.value,
            ts_ms: change.ts_ms as i64,
            silenced: change.silenced,
        };
        let id = service::db(&self.inner.db, move |db| {
            db.write(|c| Repo::new(c).add_transition(&row))
        })
        .await
        .unwrap_or(0);
        let alert = lock(&self.inner.state)
            .engine
            .get(&change.rule)
            .map(|r| r.to_wire(change.ts_ms));
        self.publish(MetricsEvent::AlertChanged {
            transition: Some(Transition {
                id: id.max(0) as u64,
                rule: change.rule.clone(),
                from: change.from,
                to: change.to,
                value: change.value,
                ts_ms: change.ts_ms,
                silenced: change.silenced,
            }),
            alert: alert.clone().map(Box::new),
            name: change.rule.clone(),
            node: None,
        });
        let announce =
            !change.silenced && matches!(change.to, AlertState::Firing | AlertState::Resolved);
        let Some(alert) = alert.filter(|_| announce) else {
            return;
        };
        let _ = self.inner.announce.send((change, alert));
    }

    /// Writes history rows in one transaction.
    async fn flush(&self, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let inner = self.inner.clone();
        let written = service::db(&self.inner.db, move |db| {
            db.write(|c| {
                let tx = c.transaction_with_behavior(agora_db::TransactionBehavior::Immediate)?;
                {
                    let repo = Repo::new(&tx);
                    let mut ids = lock(&inner.ids);
                    for (tier, name, row) in &batch.rows {
                        let id = match ids.get(name) {
                            Some(id) => *id,
                            None => {
                                let id = repo.metric_id(name)?;
                                ids.insert(name.clone(), id);
                                id
                            }
                        };
                        repo.insert_points(*tier, &[(id, *row)])?;
                    }
                }
                tx.commit()?;
                Ok(batch.rows.len())
            })
        })
        .await;
        if let Err(err) = written {
            tracing::warn!(error = %err.message, "cannot write metrics history");
        }
    }

    /// Applies the retention of each tier and of the alert history.
    async fn prune(&self) {
        let cutoffs = self.inner.config.retention.cutoffs(crate::now_ms());
        let pruned = service::db(&self.inner.db, move |db| {
            db.write(|c| {
                let repo = Repo::new(c);
                let mut n = 0;
                for (tier, before) in cutoffs {
                    n += repo.prune(tier, before as i64)?;
                }
                n += repo.prune_transitions(KEEP_TRANSITIONS)?;
                Ok(n)
            })
        })
        .await;
        match pruned {
            Ok(n) => tracing::debug!(rows = n, "metrics history pruned"),
            Err(err) => tracing::warn!(error = %err.message, "cannot prune metrics history"),
        }
    }

    /// Writes the rows of `batch` now (benchmarks and tests).
    pub async fn write_batch(&self, batch: Batch) {
        self.flush(batch).await;
    }

    /// The latest snapshot, if a sample was taken.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        lock(&self.inner.state).latest.clone()
    }

    /// The last minute's samples, oldest first; only the newest carries
    /// the process table (the older ones' are stale, and would make a
    /// watcher's first answer 60 times larger).
    pub fn recent(&self) -> Vec<Sample> {
        let state = lock(&self.inner.state);
        let last = state.recent.len().saturating_sub(1);
        state
            .recent
            .iter()
            .enumerate()
            .map(|(i, s)| Sample {
                ts_ms: s.ts_ms,
                values: s.values.clone(),
                processes: if i == last {
                    s.processes.clone()
                } else {
                    Vec::new()
                },
            })
            .collect()
    }

    /// Every alert, firing first.
    pub fn alerts(&self) -> Vec<Alert> {
        lock(&self.inner.state).engine.to_wire(crate::now_ms())
    }

    /// How many rules are in each state.
    pub fn alert_counts(&self) -> HashMap<AlertState, usize> {
        lock(&self.inner.state).engine.counts()
    }

    /// Who watches, by session id.
    pub fn viewers(&self) -> Vec<Viewer> {
        lock(&self.inner.state).viewers.values().cloned().collect()
    }

    fn add_viewer(&self, viewer: Viewer) {
        let viewers = {
            let mut state = lock(&self.inner.state);
            state.viewers.insert(viewer.session, viewer);
            state.viewers.values().cloned().collect()
        };
        self.publish(MetricsEvent::Viewers { viewers });
    }

    fn remove_viewer(&self, id: u64) {
        let viewers = {
            let mut state = lock(&self.inner.state);
            if state.viewers.remove(&id).is_none() {
                return;
            }
            state.viewers.values().cloned().collect()
        };
        self.publish(MetricsEvent::Viewers { viewers });
    }

    /// A web page watching as `user`: a viewer until the guard drops.
    pub fn web_viewer(&self, user: &str, view: &str) -> WebViewer {
        let id = WEB_VIEWER | self.inner.next_web.fetch_add(1, Ordering::Relaxed);
        self.add_viewer(Viewer {
            session: id,
            user: user.to_owned(),
            since_ms: crate::now_ms(),
            view: view.chars().take(MAX_VIEW).collect(),
        });
        WebViewer {
            metrics: self.clone(),
            id,
        }
    }

    /// Every event as JSON, for a web page's event stream.
    pub fn web_events(&self) -> broadcast::Receiver<Arc<str>> {
        self.inner.web.subscribe()
    }

    /// A metric's history (see [`MetricsOp::Range`]).
    ///
    /// # Errors
    /// `bad_request` for an empty range, a step under a second or too
    /// many points; `internal` when the database fails.
    pub async fn range(
        &self,
        metric: String,
        from_ms: u64,
        to_ms: u64,
        step_ms: u64,
    ) -> Result<MetricsReply, ErrorBody> {
        if metric.is_empty() || metric.len() > 200 {
            return Err(ErrorBody::bad_request("name a metric (at most 200 bytes)"));
        }
        if from_ms >= to_ms {
            return Err(ErrorBody::bad_request(
                "the range is empty: from must be before to",
            ));
        }
        if step_ms < 1000 {
            return Err(ErrorBody::bad_request("the step must be at least 1 s"));
        }
        if (to_ms - from_ms) / step_ms > MAX_POINTS {
            return Err(ErrorBody::bad_request(format!(
                "at most {MAX_POINTS} points per query: use a larger step"
            )));
        }
        let tier = self
            .inner
            .config
            .retention
            .tier_for(crate::now_ms(), from_ms, step_ms);
        let clamp = |v: u64| v.min(i64::MAX as u64) as i64;
        let (from, to, step) = (clamp(from_ms), clamp(to_ms), clamp(step_ms));
        let name = metric.clone();
        let rows = service::db(&self.inner.db, move |db| {
            db.read(|c| {
                let repo = Repo::new(c);
                match repo.find_metric(&name)? {
                    Some(id) => repo.range(tier, id, from, to, step),
                    None => Ok(Vec::new()),
                }
            })
        })
        .await?;
        let points = rows
            .into_iter()
            .map(|r: PointRow| Point {
                ts_ms: r.ts_ms.max(0) as u64,
                min: r.min,
                avg: r.avg,
                max: r.max,
            })
            .collect();
        Ok(MetricsReply::Series {
            metric,
            step_ms,
            points,
        })
    }

    /// Adds a rule (see [`MetricsOp::AlertAdd`]).
    ///
    /// # Errors
    /// `bad_request` for a bad field, `conflict` for a taken name.
    pub async fn add_rule(
        &self,
        name: String,
        metric: String,
        op: String,
        threshold: f64,
        for_ms: u64,
        severity: String,
    ) -> Result<MetricsReply, ErrorBody> {
        let name = check_rule_name(&name)?;
        if metric.is_empty() || metric.len() > 200 || metric.chars().any(char::is_whitespace) {
            return Err(ErrorBody::bad_request(
                "name a metric: at most 200 bytes, no spaces (e.g. cpu.total)",
            ));
        }
        let cmp = Cmp::parse(&op).ok_or_else(|| {
            ErrorBody::bad_request(format!(
                "unknown comparison {op:?}: use one of > >= < <= == !="
            ))
        })?;
        if !threshold.is_finite() {
            return Err(ErrorBody::bad_request(
                "the threshold must be a finite number",
            ));
        }
        if for_ms > 30 * 86_400_000 {
            return Err(ErrorBody::bad_request("for must be at most 30 days"));
        }
        if !["info", "warning", "critical"].contains(&severity.as_str()) {
            return Err(ErrorBody::bad_request(format!(
                "unknown severity {severity:?}: use info, warning or critical"
            )));
        }
        let row = RuleRow {
            name: name.clone(),
            metric: metric.clone(),
            op: cmp.as_str().to_owned(),
            threshold,
            for_ms: for_ms as i64,
            severity: severity.clone(),
            silenced_until_ms: 0,
        };
        let db = self.inner.db.clone();
        service::blocking(move || db.write(|c| Repo::new(c).add_rule(&row)))
            .await?
            .map_err(conflict_or_internal)?;
        let alert = {
            let mut state = lock(&self.inner.state);
            let rule = Rule::new(name.clone(), metric, cmp, threshold, for_ms, severity);
            let alert = rule.to_wire(crate::now_ms());
            state.engine.insert(rule);
            alert
        };
        self.publish(MetricsEvent::AlertChanged {
            transition: None,
            alert: Some(Box::new(alert.clone())),
            name,
            node: None,
        });
        Ok(MetricsReply::Alert { alert })
    }
}

/// A web page's presence; dropping it (the stream closed) removes it.
pub struct WebViewer {
    metrics: Metrics,
    id: u64,
}

impl Drop for WebViewer {
    fn drop(&mut self) {
        self.metrics.remove_viewer(self.id);
    }
}

/// A rule name: 1–64 letters, digits, `.`, `_` or `-`.
fn check_rule_name(name: &str) -> Result<String, ErrorBody> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ErrorBody::bad_request(format!(
            "bad rule name {name:?}: 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

fn not_found(name: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("no alert rule named {name}"))
}

/// Maps the store's conflict to the wire's.
fn conflict_or_internal(err: agora_db::Error) -> ErrorBody {
    match err {
        agora_db::Error::Conflict(what) => {
            ErrorBody::new(ErrorCode::Conflict, format!("{what} already exists"))
        }
        other => service::internal(other),
    }
}

impl Service for Metrics {
    type Op = MetricsOp;

    fn route(&self, op: MetricsOp, session: &Arc<Session>) -> Routed {
        let user = match signed_in(session) {
            Ok(user) => user,
            Err(err) => return Routed::Done(Err(err)),
        };
        let m = self.clone();
        match op {
            MetricsOp::Now => Routed::done(
                self.latest()
                    .map(|s| MetricsReply::Sample {
                        sample: s.sample.clone(),
                    })
                    .ok_or_else(|| ErrorBody {
                        code: ErrorCode::Unavailable,
                        message: "no sample taken yet; try again in a second".into(),
                        retry_after_ms: Some(self.inner.config.interval.as_millis() as u64),
                    }),
            ),
            MetricsOp::Watch { view } => {
                if view.is_empty() || view.len() > MAX_VIEW {
                    return Routed::done::<MetricsReply>(Err(ErrorBody::bad_request(format!(
                        "name the view: 1-{MAX_VIEW} bytes"
                    ))));
                }
                let topics = vec![METRICS_TOPIC.to_owned()];
                self.inner.hub.subscribe(session, &topics);
                session.add_topics(&topics);
                let since_ms = lock(&self.inner.state)
                    .viewers
                    .get(&session.id)
                    .map_or_else(crate::now_ms, |v| v.since_ms);
                self.add_viewer(Viewer {
                    session: session.id,
                    user: user.name,
                    since_ms,
                    view,
                });
                Routed::done(Ok(MetricsReply::Watching {
                    recent: self.recent(),
                    alerts: self.alerts(),
                    viewers: self.viewers(),
                }))
            }
            MetricsOp::Unwatch => {
                let topics = vec![METRICS_TOPIC.to_owned()];
                self.inner.hub.unsubscribe(session.id, &topics);
                session.remove_topics(&topics);
                self.remove_viewer(session.id);
                Routed::done(Ok(BaseReply::Done))
            }
            MetricsOp::Range {
                metric,
                from_ms,
                to_ms,
                step_ms,
            } => Routed::later(async move { m.range(metric, from_ms, to_ms, step_ms).await }),
            MetricsOp::AlertList => Routed::done(Ok(MetricsReply::Alerts {
                alerts: self.alerts(),
            })),
            MetricsOp::AlertAdd {
                name,
                metric,
                op,
                threshold,
                for_ms,
                severity,
            } => Routed::later(async move {
                m.add_rule(name, metric, op, threshold, for_ms, severity)
                    .await
            }),
            MetricsOp::AlertRm { name } => Routed::later(async move {
                let n = name.clone();
                let gone = service::blocking({
                    let db = m.inner.db.clone();
                    move || db.write(|c| Repo::new(c).remove_rule(&n))
                })
                .await?
                .map_err(service::internal)?;
                if !gone {
                    return Err(not_found(&name));
                }
                lock(&m.inner.state).engine.remove(&name);
                m.publish(MetricsEvent::AlertChanged {
                    transition: None,
                    alert: None,
                    name,
                    node: None,
                });
                Ok(BaseReply::Done)
            }),
            MetricsOp::AlertSilence { name, for_ms } => Routed::later(async move {
                if for_ms > 365 * 86_400_000 {
                    return Err(ErrorBody::bad_request("silence for at most a year"));
                }
                let until = if for_ms == 0 {
                    0
                } else {
                    crate::now_ms() + for_ms
                };
                let n = name.clone();
                let found = service::db(&m.inner.db, move |db| {
                    db.write(|c| Repo::new(c).silence(&n, until as i64))
                })
                .await?;
                let alert = {
                    let mut state = lock(&m.inner.state);
                    match state.engine.get_mut(&name) {
                        Some(rule) if found => {
                            rule.silenced_until_ms = until;
                            rule.to_wire(crate::now_ms())
                        }
                        _ => return Err(not_found(&name)),
                    }
                };
                m.publish(MetricsEvent::AlertChanged {
                    transition: None,
                    alert: Some(Box::new(alert.clone())),
                    name,
                    node: None,
                });
                Ok(MetricsReply::Alert { alert })
            }),
            MetricsOp::AlertHistory { name, limit } => Routed::later(async move {
                let limit = limit.unwrap_or(50).clamp(1, 1000);
                let rows = service::db(&m.inner.db, move |db| {
                    db.read(|c| Repo::new(c).transitions(name.as_deref(), limit))
                })
                .await?;
                let transitions = rows
                    .into_iter()
                    .map(|r| Transition {
                        id: r.id.max(0) as u64,
                        rule: r.rule,
                        from: AlertState::parse(&r.from).unwrap_or(AlertState::Ok),
                        to: AlertState::parse(&r.to).unwrap_or(AlertState::Ok),
                        value: r.value,
                        ts_ms: r.ts_ms.max(0) as u64,
                        silenced: r.silenced,
                    })
                    .collect();
                Ok(MetricsReply::History { transitions })
            }),
            MetricsOp::Signal { pid, signal } => {
                let (name, number) = match signal::check(
                    &user.name,
                    &self.inner.config.operators,
                    pid,
                    std::process::id(),
                    &signal,
                ) {
                    Ok(allowed) => allowed,
                    Err(err) => return Routed::done::<BaseReply>(Err(err)),
                };
                let result = signal::send(pid, name, number);
                match &result {
                    Ok(()) => tracing::info!(user = %user.name, pid, signal = name, "signal sent"),
                    Err(err) => {
                        tracing::info!(user = %user.name, pid, signal = name, error = %err.message, "signal not sent")
                    }
                }
                Routed::done(result.map(|()| BaseReply::Done))
            }
        }
    }
}

impl Lifecycle for Metrics {
    fn signing_out(&self, session: &Session) {
        self.remove_viewer(session.id);
    }

    fn closed(&self, session: &Session) {
        self.remove_viewer(session.id);
    }
}

#[cfg(test)]
mod tests;
