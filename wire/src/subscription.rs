//! [`Subscription`]: the pushes of one topic, as a stream.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::chat::{ChatEvent, ChatMessage};
use crate::message::{Event, Push};

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One subscription's end of the routing: its id, its channel, its count
/// of dropped pushes.
type Route = (u64, mpsc::Sender<Push>, Arc<AtomicU64>);

/// Per topic, who wants its pushes; per followed chat room, the last
/// sequence number delivered.
#[derive(Default)]
struct Routes {
    by_topic: HashMap<String, Vec<Route>>,
    /// Topics the session asked the server for (re-sent on reconnect);
    /// others (chat rooms, games) the server subscribes by itself.
    requested: HashMap<String, usize>,
    cursors: HashMap<String, u64>,
}

/// A session's pushes, routed to its subscriptions by topic.
pub(crate) struct Router {
    routes: Mutex<Routes>,
    next_id: AtomicU64,
    buffer: usize,
    /// Topics no subscription wants any more, for the session to give back.
    unsubscribe: mpsc::UnboundedSender<String>,
}

impl Router {
    pub(crate) fn new(buffer: usize, unsubscribe: mpsc::UnboundedSender<String>) -> Router {
        Router {
            routes: Mutex::default(),
            next_id: AtomicU64::new(1),
            buffer: buffer.max(1),
            unsubscribe,
        }
    }

    /// Hands a push to every subscription of its topic; a chat message
    /// already delivered (by seq) is skipped.
    pub(crate) fn route(&self, push: Push) {
        let mut routes = lock(&self.routes);
        if let Event::Chat(ChatEvent::Message { message }) = &push.event
            && let Some(last) = routes.cursors.get_mut(&push.topic)
        {
            if message.seq <= *last {
                return;
            }
            *last = message.seq;
        }
        if let Some(subs) = routes.by_topic.get_mut(&push.topic) {
            subs.retain(|(_, tx, dropped)| match tx.try_send(push.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
    }

    /// What a new connection must restore: the topics asked for, and each
    /// followed room's cursor.
    pub(crate) fn resumable(&self) -> (Vec<String>, Vec<(String, u64)>) {
        let routes = lock(&self.routes);
        let topics = routes.requested.keys().cloned().collect();
        let cursors = routes
            .cursors
            .iter()
            .map(|(t, s)| (t.clone(), *s))
            .collect();
        (topics, cursors)
    }

    /// Notes the last chat message of `topic` delivered.
    pub(crate) fn follow_from(&self, topic: &str, seq: u64) {
        let mut routes = lock(&self.routes);
        let cursor = routes.cursors.entry(topic.to_owned()).or_insert(seq);
        *cursor = (*cursor).max(seq);
    }

    /// Ends every subscription's stream.
    pub(crate) fn end(&self) {
        lock(&self.routes).by_topic.clear();
    }
}

/// The pushes of one topic, in the order the daemon sent them, across
/// reconnections. A [`Stream`] of [`Push`]; ends when the session ends.
/// Dropping it stops the routing (and, for [`crate::Session::subscribe`],
/// unsubscribes once no other subscription wants the topic).
pub struct Subscription {
    topic: String,
    id: u64,
    requested: bool,
    rx: mpsc::Receiver<Push>,
    dropped: Arc<AtomicU64>,
    router: Weak<Router>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(router: &Arc<Router>, topic: &str, requested: bool) -> Subscription {
        let (tx, rx) = mpsc::channel(router.buffer);
        let id = router.next_id.fetch_add(1, Ordering::Relaxed);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut routes = lock(&router.routes);
        routes
            .by_topic
            .entry(topic.to_owned())
            .or_default()
            .push((id, tx, dropped.clone()));
        if requested {
            *routes.requested.entry(topic.to_owned()).or_default() += 1;
        }
        Subscription {
            topic: topic.to_owned(),
            id,
            requested,
            rx,
            dropped,
            router: Arc::downgrade(router),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next push, or `None` once the session has ended.
    pub async fn recv(&mut self) -> Option<Push> {
        self.rx.recv().await
    }

    /// The next push's event.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.recv().await.map(|p| p.event)
    }

    /// The next chat message (skipping the topic's other events), or
    /// `None` once the session has ended.
    pub async fn next_message(&mut self) -> Option<ChatMessage> {
        loop {
            match self.next_event().await? {
                Event::Chat(ChatEvent::Message { message }) => return Some(message),
                _ => continue,
            }
        }
    }

    /// How many pushes were dropped because this subscription's buffer was
    /// full (read faster, or raise [`crate::SessionBuilder::push_buffer`]).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Stream for Subscription {
    type Item = Push;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Push>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(router) = self.router.upgrade() else {
            return;
        };
        let mut routes = lock(&router.routes);
        let mut last = false;
        if let Some(subs) = routes.by_topic.get_mut(&self.topic) {
            subs.retain(|(id, _, _)| *id != self.id);
            last = subs.is_empty();
        }
        if last {
            routes.by_topic.remove(&self.topic);
            routes.cursors.remove(&self.topic);
        }
        if self.requested {
            let gone = routes.requested.get_mut(&self.topic).is_some_and(|n| {
                *n -= 1;
                *n == 0
            });
            if gone {
                routes.requested.remove(&self.topic);
                let _ = router.unsubscribe.send(self.topic.clone());
            }
        }
    }
}
