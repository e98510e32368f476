//! A worker: runs job handlers by kind over a [`crate::Client`] or a
//! [`crate::Session`] (which reconnects: the worker then rides out a
//! restarted or drained daemon, see [`Requester::recovers`]).
//!
//! [`Worker::run`] keeps up to `concurrency` jobs of one queue running. It
//! claims jobs in batches with a long poll (no busy polling), runs each
//! job's handler on its own task, acknowledges outcomes in batches, and
//! heartbeats every running job's lease a third of the lease apart. A job
//! cancelled meanwhile (or whose lease was lost) has its
//! [`JobContext::cancelled`] fire. On shutdown it stops claiming, hands
//! back jobs claimed but not started, lets the running ones finish, and
//! returns once their outcomes are acknowledged.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_wire::Error> {
//! use agora_wire::jobs::{JobFailure, Worker, WorkerOptions};
//! use agora_wire::{Client, Hello};
//! let (client, _) = Client::connect("127.0.0.1:7070", Hello::new("mailer", Some("TOKEN".into()))).await?;
//! let worker = Worker::new(WorkerOptions::new("mail")).handle("email.send", |job| async move {
//!     let args: String = job.job.args.clone();
//!     if args.is_empty() {
//!         return Err(JobFailure::discard("no arguments"));
//!     }
//!     Ok(None)
//! });
//! // Until the process is told to stop (here: never).
//! worker.run(std::sync::Arc::new(client), std::future::pending::<()>()).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Claimed, Completion, DEFAULT_LEASE_MS, Failure, JobsOp, JobsReply, Lease, MAX_BATCH};
use crate::{Error, Reply, Requester};

/// How a [`Worker`] claims and leases.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The queue to work.
    pub queue: String,
    /// The most jobs running at once.
    pub concurrency: usize,
    /// The lease asked for each job, in ms.
    pub lease_ms: u64,
    /// The most jobs asked for in one claim.
    pub batch: usize,
    /// How long one claim waits for a job, in ms (the long poll).
    pub wait_ms: u64,
}

impl WorkerOptions {
    /// Defaults for `queue`: 10 at once, 30 s leases, claims of up to 100
    /// waiting up to 5 s.
    pub fn new(queue: impl Into<String>) -> WorkerOptions {
        WorkerOptions {
            queue: queue.into(),
            concurrency: 10,
            lease_ms: DEFAULT_LEASE_MS,
            batch: 100,
            wait_ms: 5_000,
        }
    }
}

/// What a handler gets: the job, and a token that fires when the job was
/// cancelled or its lease lost (stop then; the outcome will be ignored).
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job as claimed.
    pub job: Claimed,
    cancel: CancellationToken,
}

impl JobContext {
    /// Resolves when the job should stop: it was cancelled, or its lease
    /// was lost.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether the job should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// How a job failed, and what to do about it — the error decides, not a
/// string (like apalis's `AbortError`/`RetryAfterError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// What went wrong (kept in the job's error history).
    pub message: String,
    /// Retry after this long instead of the daemon's backoff.
    pub retry_in: Option<Duration>,
    /// Do not retry: the job goes to the dead letter queue at once.
    pub discard: bool,
}

impl JobFailure {
    /// Retry with the daemon's backoff (until the job's attempts run out).
    pub fn retry(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            retry_in: None,
            discard: false,
        }
    }

    /// Retry after `after`.
    pub fn retry_after(message: impl Into<String>, after: Duration) -> JobFailure {
        JobFailure {
            retry_in: Some(after),
            ..JobFailure::retry(message)
        }
    }

    /// Do not retry.
    pub fn discard(message: impl Into<String>) -> JobFailure {
        JobFailure {
            discard: true,
            ..JobFailure::retry(message)
        }
    }
}

/// A handler's outcome: a result (JSON text) or a failure.
pub type Outcome = Result<Option<String>, JobFailure>;

/// A job handler.
pub type Handler = Arc<dyn Fn(JobContext) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// Runs handlers by kind. See the module docs.
pub struct Worker {
    options: WorkerOptions,
    handlers: HashMap<String, Handler>,
    fallback: Option<Handler>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<&String> = self.handlers.keys().collect();
        kinds.sort();
        f.debug_struct("Worker")
            .field("options", &self.options)
            .field("kinds", &kinds)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// What a finished job reports to the acknowledging loop.
struct Finished {
    lease: Lease,
    kind: String,
    outcome: Outcome,
    elapsed: Duration,
}

/// What [`Worker::run`] did, and what it saw per job (for printing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Jobs completed.
    pub completed: u64,
    /// Jobs failed.
    pub failed: u64,
    /// Outcomes the daemon ignored (the lease was lost meanwhile).
    pub stale: u64,
}

/// Called once per finished job: (job id, kind, attempt, outcome, time it
/// took).
pub type Observer = Arc<dyn Fn(&Lease, &str, &Outcome, Duration) + Send + Sync>;

impl Worker {
    /// A worker with no handlers yet.
    pub fn new(options: WorkerOptions) -> Worker {
        Worker {
            options,
            handlers: HashMap::new(),
            fallback: None,
        }
    }

    /// Runs `handler` for jobs of `kind`.
    pub fn handle<F, Fut>(mut self, kind: impl Into<String>, handler: F) -> Worker
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.handlers
            .insert(kind.into(), Arc::new(move |ctx| handler(ctx).boxed()));
        self
    }

    /// Runs `handler` for jobs of every kind without a handler of its own.
    /// Without one, such jobs fail with "no handler for kind …".
    pub fn handle_any<F, Fut>(mut self, handler: F) -> Worker
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.fallback = Some(Arc::new(move |ctx| handler(ctx).boxed()));
        self
    }

    /// Works the queue until `shutdown` resolves, then finishes the jobs
    /// under way (see the module docs).
    ///
    /// # Errors
    /// When the connection fails or the daemon refuses a claim (e.g. not
    /// signed in); jobs under way are left to their leases.
    pub async fn run<C: Requester>(
        self,
        client: Arc<C>,
        shutdown: impl Future<Output = impl Sized>,
    ) -> Result<Summary, Error> {
        self.run_observed(client, shutdown, None).await
    }

    /// As [`Worker::run`], calling `observer` for each finished job.
    ///
    /// # Errors
    /// As [`Worker::run`].
    pub async fn run_observed<C: Requester>(
        self,
        client: Arc<C>,
        shutdown: impl Future<Output = impl Sized>,
        observer: Option<Observer>,
    ) -> Result<Summary, Error> {
        let Worker {
            options,
            handlers,
            fallback,
        } = self;
        let concurrency = options.concurrency.max(1);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished>();
        let mut running: HashMap<Lease, CancellationToken> = HashMap::new();
        let mut summary = Summary::default();
        let mut acks: Vec<AckFuture> = Vec::new();
        let mut claim: Option<BoxFuture<'static, Result<Reply, Error>>> = None;
        let mut stopping = false;
        // After a failed claim on a reconnecting requester: wait a little.
        let mut claim_pause = Duration::ZERO;
        let heartbeat_every = Duration::from_millis((options.lease_ms / 3).max(100));
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown.fuse());

        loop {
            if !stopping && claim.is_none() && running.len() < concurrency {
                let limit = (concurrency - running.len()).min(options.batch.clamp(1, MAX_BATCH));
                let op = JobsOp::Claim {
                    queue: options.queue.clone(),
                    limit: limit as u32,
                    lease_ms: Some(options.lease_ms),
                    wait_ms: Some(options.wait_ms),
                };
                let client = client.clone();
                let pause = std::mem::take(&mut claim_pause);
                claim = Some(
                    async move {
                        tokio::time::sleep(pause).await;
                        client.request(op).await
                    }
                    .boxed(),
                );
            }
            if stopping && claim.is_none() && running.is_empty() && acks.is_empty() {
                return Ok(summary);
            }
            let claim_fut = async {
                match claim.as_mut() {
                    Some(fut) => fut.await,
                    None => std::future::pending().await,
                }
            };
            let ack_fut = async {
                if acks.is_empty() {
                    std::future::pending::<(usize, Result<(u64, u64, u64), Error>)>().await
                } else {
                    let (result, index, _) = futures::future::select_all(acks.iter_mut()).await;
                    (index, result)
                }
            };
            tokio::select! {
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                }
                reply = claim_fut => {
                    claim = None;
                    let reply = match reply {
                        // A session reconnects: claim again once it has.
                        Err(e) if client.recovers() && transient(&e) => {
                            claim_pause = Duration::from_millis(250);
                            continue;
                        }
                        reply => reply?,
                    };
                    let jobs = match reply {
                        Reply::Jobs(JobsReply::Claimed { jobs }) => jobs,
                        other => return Err(Error::Malformed(format!("unexpected answer to a claim: {}", other.name()))),
                    };
                    if stopping {
                        // Hand them straight back rather than leave them
                        // to their leases.
                        let failures: Vec<Failure> = jobs.iter().map(|j| Failure {
                            id: j.id,
                            attempt: j.attempt,
                            error: "the worker shut down before starting it".into(),
                            retry_in_ms: Some(0),
                            discard: false,
                        }).collect();
                        if !failures.is_empty() {
                            acks.push(send_acks(client.clone(), Vec::new(), failures));
                        }
                        continue;
                    }
                    for job in jobs {
                        let handler = handlers.get(&job.kind).cloned().or_else(|| fallback.clone());
                        let cancel = CancellationToken::new();
                        running.insert(job.lease(), cancel.clone());
                        let done = done_tx.clone();
                        tokio::spawn(async move {
                            let started = std::time::Instant::now();
                            let lease = job.lease();
                            let kind = job.kind.clone();
                            let outcome = match handler {
                                Some(handler) => {
                                    let ctx = JobContext { job, cancel };
                                    // A panicking handler fails its job, not the worker.
                                    match std::panic::AssertUnwindSafe(handler(ctx)).catch_unwind().await {
                                        Ok(outcome) => outcome,
                                        Err(_) => Err(JobFailure::retry("the handler panicked")),
                                    }
                                }
                                None => Err(JobFailure::retry(format!("no handler for kind {kind:?}"))),
                            };
                            let _ = done.send(Finished { lease, kind, outcome, elapsed: started.elapsed() });
                        });
                    }
                }
                Some(first) = done_rx.recv() => {
                    let mut finished = vec![first];
                    while let Ok(more) = done_rx.try_recv() {
                        finished.push(more);
                    }
                    let mut completions = Vec::new();
                    let mut failures = Vec::new();
                    for f in finished {
                        let was_running = running.remove(&f.lease);
                        if let Some(observer) = &observer {
                            observer(&f.lease, &f.kind, &f.outcome, f.elapsed);
                        }
                        // A cancelled job's outcome is not reported: the
                        // daemon already finished it.
                        if was_running.is_none_or(|c| c.is_cancelled()) {
                            continue;
                        }
                        match f.outcome {
                            Ok(result) => completions.push(Completion { id: f.lease.id, attempt: f.lease.attempt, result }),
                            Err(failure) => failures.push(Failure {
                                id: f.lease.id,
                                attempt: f.lease.attempt,
                                error: failure.message,
                                retry_in_ms: failure.retry_in.map(|d| d.as_millis() as u64),
                                discard: failure.discard,
                            }),
                        }
                    }
                    if !completions.is_empty() || !failures.is_empty() {
                        acks.push(send_acks(client.clone(), completions, failures));
                    }
                }
                (index, result) = ack_fut => {
                    drop(acks.swap_remove(index));
                    let (completed, failed, stale) = match result {
                        // Lost with the connection: the jobs come back
                        // when their leases end (at least once).
                        Err(e) if client.recovers() && transient(&e) => continue,
                        result => result?,
                    };
                    summary.completed += completed;
                    summary.failed += failed;
                    summary.stale += stale;
                }
                _ = heartbeat.tick(), if !running.is_empty() => {
                    let leases: Vec<Lease> = running.keys().copied().collect();
                    for chunk in leases.chunks(MAX_BATCH) {
                        let reply = match client.request(JobsOp::Heartbeat { leases: chunk.to_vec(), lease_ms: Some(options.lease_ms) }).await {
                            Err(e) if client.recovers() && transient(&e) => break,
                            reply => reply?,
                        };
                        if let Reply::Jobs(JobsReply::Heartbeat { cancelled, lost, .. }) = reply {
                            for id in cancelled.iter().chain(&lost) {
                                for (lease, token) in &running {
                                    if lease.id == *id {
                                        token.cancel();
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether `e` is the connection's, not the request's: a reconnecting
/// requester will be back.
fn transient(e: &Error) -> bool {
    matches!(e, Error::Closed | Error::Timeout | Error::Io(_))
        || e.code() == Some(crate::ErrorCode::Unavailable)
}

/// An acknowledgement on its way: answers (completed, failed, stale).
type AckFuture = Pin<Box<dyn Future<Output = Result<(u64, u64, u64), Error>> + Send>>;

/// Acknowledges outcomes; answers (completed, failed, stale).
fn send_acks<C: Requester>(
    client: Arc<C>,
    completions: Vec<Completion>,
    failures: Vec<Failure>,
) -> AckFuture {
    async move {
        let (mut completed, mut failed, mut stale) = (0, 0, 0);
        for chunk in completions.chunks(MAX_BATCH) {
            if let Reply::Jobs(JobsReply::Acked { acked, stale: s }) = client
                .request(JobsOp::Complete {
                    jobs: chunk.to_vec(),
                })
                .await?
            {
                completed += acked.len() as u64;
                stale += s.len() as u64;
            }
        }
        for chunk in failures.chunks(MAX_BATCH) {
            if let Reply::Jobs(JobsReply::Acked { acked, stale: s }) = client
                .request(JobsOp::Fail {
                    jobs: chunk.to_vec(),
                })
                .await?
            {
                failed += acked.len() as u64;
                stale += s.len() as u64;
            }
        }
        Ok((completed, failed, stale))
    }
    .boxed()
}
