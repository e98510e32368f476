//! The mock payment provider (`--billing-mock`): behaves like a real one
//! (customers, checkout sessions, subscriptions, invoices, test clocks)
//! and talks to agora only by HTTP: its API is served under
//! `/billing-mock` ([`api`]), and it delivers its events as signed
//! webhooks by POST to agora's receiver, asynchronously, retried with
//! exponential backoff when the receiver fails, and — as configured —
//! sometimes twice and out of order. It knows nothing of the receiver
//! but its URL and the shared secret.
//!
//! Its books live in memory ([`model`]): restarting the daemon starts the
//! mock afresh (agora's own records of subscriptions stay).

pub mod api;
pub mod model;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::signature;
use super::transport::Http;
use model::{Books, Event};

/// How the mock delivers webhooks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    /// Probability (0 to 1) that an event is delivered twice.
    pub duplicate_rate: f64,
    /// Probability (0 to 1) that the events of one change are delivered
    /// newest first.
    pub reorder_rate: f64,
    /// The first retry's delay; each next one doubles it.
    pub retry_base: Duration,
    /// Attempts per delivery before giving up.
    pub max_attempts: u32,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            retry_base: Duration::from_millis(200),
            max_attempts: 8,
        }
    }
}

/// The mock provider. Cheap to clone.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    books: Mutex<Books>,
    secret: Vec<u8>,
    target: OnceLock<String>,
    delivery: Delivery,
    queue: mpsc::UnboundedSender<Vec<Event>>,
    waiting: Mutex<Option<mpsc::UnboundedReceiver<Vec<Event>>>>,
    http: Http,
    /// Deliveries queued, answered 2xx, and abandoned.
    queued: AtomicU64,
    delivered: AtomicU64,
    abandoned: AtomicU64,
}

/// What happened to the deliveries so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deliveries {
    /// Deliveries made (a duplicate counts twice).
    pub queued: u64,
    /// Acknowledged with a 2xx.
    pub delivered: u64,
    /// Given up after every attempt failed.
    pub abandoned: u64,
    /// Neither yet.
    pub pending: u64,
}

fn lock(m: &Mutex<Books>) -> std::sync::MutexGuard<'_, Books> {
    // Every operation leaves the books whole before it can panic.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Provider {
    /// A provider signing with `secret`, delivering as `delivery` says.
    pub fn new(secret: Vec<u8>, delivery: Delivery) -> Provider {
        let (queue, waiting) = mpsc::unbounded_channel();
        Provider {
            inner: Arc::new(Inner {
                books: Mutex::new(Books::default()),
                secret,
                target: OnceLock::new(),
                delivery,
                queue,
                waiting: Mutex::new(Some(waiting)),
                http: Http::default(),
                queued: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                abandoned: AtomicU64::new(0),
            }),
        }
    }

    /// Where webhooks go (agora's receiver); set once the daemon knows
    /// its address. Events wait until then.
    pub fn set_target(&self, url: String) {
        let _ = self.inner.target.set(url);
    }

    /// Runs `f` on the books and queues the events it answers.
    pub fn with_books<T>(&self, f: impl FnOnce(&mut Books) -> (T, Vec<Event>)) -> T {
        let (out, events) = f(&mut lock(&self.inner.books));
        if !events.is_empty() {
            let _ = self.inner.queue.send(events);
        }
        out
    }

    /// Reads the books.
    pub fn read<T>(&self, f: impl FnOnce(&Books) -> T) -> T {
        f(&lock(&self.inner.books))
    }

    /// The deliveries' counters.
    pub fn deliveries(&self) -> Deliveries {
        let i = &self.inner;
        let queued = i.queued.load(Ordering::Acquire);
        let delivered = i.delivered.load(Ordering::Acquire);
        let abandoned = i.abandoned.load(Ordering::Acquire);
        Deliveries {
            queued,
            delivered,
            abandoned,
            pending: queued.saturating_sub(delivered + abandoned),
        }
    }

    /// Starts delivering: each change's events in one task (reordered and
    /// duplicated as configured), changes concurrently.
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        let Some(mut waiting) = self
            .inner
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        let this = self.clone();
        let inner_tracker = tracker.clone();
        tracker.spawn(async move {
            loop {
                let batch = tokio::select! {
                    _ = token.cancelled() => break,
                    batch = waiting.recv() => match batch {
                        Some(batch) => batch,
                        None => break,
                    },
                };
                let plan = this.plan(batch);
                this.inner
                    .queued
                    .fetch_add(plan.len() as u64, Ordering::AcqRel);
                let (this, token) = (this.clone(), token.clone());
                inner_tracker.spawn(async move {
                    for body in plan {
                        tokio::select! {
                            _ = token.cancelled() => break,
                            _ = this.deliver(body) => {}
                        }
                    }
                });
            }
        });
    }

    /// The bodies to send for one change, in sending order.
    fn plan(&self, mut batch: Vec<Event>) -> Vec<Bytes> {
        let d = self.inner.delivery;
        let mut rng = rand::rng();
        if batch.len() > 1 && rng.random_bool(d.reorder_rate.clamp(0.0, 1.0)) {
            batch.reverse();
        }
        let mut out = Vec::new();
        for event in &batch {
            let body = Bytes::from(event.to_json().to_string());
            if rng.random_bool(d.duplicate_rate.clamp(0.0, 1.0)) {
                out.push(body.clone());
            }
            out.push(body);
        }
        out
    }

    /// POSTs `body` to the receiver, signed, until it answers 2xx or the
    /// attempts run out (backoff doubling from `retry_base`).
    async fn deliver(&self, body: Bytes) {
        let d = self.inner.delivery;
        let mut delay = d.retry_base;
        for attempt in 1..=d.max_attempts.max(1) {
            let url = loop {
                if let Some(url) = self.inner.target.get() {
                    break url.clone();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let t = crate::now_ms() as i64 / 1000;
            let sig = signature::sign(&self.inner.secret, t, &body);
            let answer = self
                .inner
                .http
                .send(
                    "POST",
                    &url,
                    &[(signature::HEADER, sig)],
                    Some(body.clone()),
                )
                .await;
            match answer {
                Ok((status, _)) if (200..300).contains(&status) => {
                    self.inner.delivered.fetch_add(1, Ordering::AcqRel);
                    return;
                }
                Ok((status, reply)) => tracing::warn!(
                    attempt,
                    status,
                    reply = %String::from_utf8_lossy(&reply),
                    "billing mock: webhook refused; retrying"
                ),
                Err(why) => tracing::warn!(attempt, %why, "billing mock: webhook failed; retrying"),
            }
            if attempt < d.max_attempts {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
        tracing::error!(
            "billing mock: webhook abandoned after {} attempts",
            d.max_attempts
        );
        self.inner.abandoned.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A receiver that fails the first two deliveries: the third attempt,
    /// after backoff, gets through, signed.
    #[tokio::test]
    async fn a_failing_receiver_is_retried_with_backoff() {
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
                let seen = seen.clone();
                async move {
                    let sig = headers.get(signature::HEADER).and_then(|h| h.to_str().ok());
                    let now = crate::now_ms() as i64 / 1000;
                    assert_eq!(signature::verify(b"s", sig, &body, now), Ok(()));
                    if seen.fetch_add(1, Ordering::AcqRel) < 2 {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let delivery = Delivery {
            retry_base: Duration::from_millis(5),
            max_attempts: 5,
            ..Delivery::default()
        };
        let provider = Provider::new(b"s".to_vec(), delivery);
        provider.set_target(format!("http://{addr}/hook"));
        provider.deliver(Bytes::from_static(b"{}")).await;
        assert_eq!(hits.load(Ordering::Acquire), 3);
        assert_eq!(provider.deliveries().delivered, 1);
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_is_abandoned() {
        let delivery = Delivery {
            retry_base: Duration::from_millis(1),
            max_attempts: 3,
            ..Delivery::default()
        };
        let provider = Provider::new(b"s".to_vec(), delivery);
        // A port nobody listens on (bound, then released).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        provider.set_target(format!("http://{addr}/hook"));
        provider.inner.queued.fetch_add(1, Ordering::AcqRel);
        provider.deliver(Bytes::from_static(b"{}")).await;
        let d = provider.deliveries();
        assert_eq!((d.delivered, d.abandoned, d.pending), (0, 1, 0));
    }

    #[test]
    fn duplicates_and_reordering_follow_the_rates() {
        let mut books = Books::default();
        let cus = books.create_customer("acme", 0);
        let cs = books
            .create_session(cus["id"].as_str().unwrap(), "team", 0)
            .unwrap();
        let (_, events) = books
            .complete_session(cs["id"].as_str().unwrap(), "4242424242424242")
            .unwrap();
        let n = events.len();
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let all = Delivery {
            duplicate_rate: 1.0,
            reorder_rate: 1.0,
            ..Delivery::default()
        };
        let plan = Provider::new(Vec::new(), all).plan(events.clone());
        assert_eq!(plan.len(), 2 * n);
        let first: serde_json::Value = serde_json::from_slice(&plan[0]).unwrap();
        assert_eq!(first["id"], ids[n - 1].as_str(), "newest first");
        let none = Provider::new(Vec::new(), Delivery::default()).plan(events);
        let first: serde_json::Value = serde_json::from_slice(&none[0]).unwrap();
        assert_eq!(
            (none.len(), first["id"].as_str()),
            (n, Some(ids[0].as_str()))
        );
    }
}
