//! Topic-based pub/sub for server pushes.
//!
//! Services publish an [`Event`] on a topic; every session subscribed to
//! the topic gets a [`Push`] frame. The frame is encoded once and shared by
//! all subscribers (a `Bytes` clone is a reference-count bump), so fan-out
//! cost does not grow with the message size.
//!
//! Delivery never blocks the publisher: a subscriber whose undelivered
//! pushes pass its limits (see [`crate::session::PushLimits`]) is too slow,
//! and is disconnected with a reason rather than slowing everyone else or
//! growing memory without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use agora_wire::{Event, Push, ServerFrame};

use crate::session::{PushRefused, Session};

/// Subscribers by topic, then by session id.
#[derive(Default)]
pub struct Hub {
    topics: RwLock<HashMap<String, HashMap<u64, Arc<Session>>>>,
    delivered: AtomicU64,
    dropped_slow: AtomicU64,
}

/// What one publish did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers that got the push queued.
    pub delivered: usize,
    /// Subscribers disconnected because their queue was full.
    pub dropped_slow: usize,
}

impl Hub {
    /// Subscribes a session to topics (already validated).
    pub fn subscribe(&self, session: &Arc<Session>, topics: &[String]) {
        let mut map = self.topics.write().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            map.entry(topic.clone())
                .or_default()
                .insert(session.id, session.clone());
        }
    }

    /// Unsubscribes a session from topics.
    pub fn unsubscribe(&self, session_id: u64, topics: &[String]) {
        let mut map = self.topics.write().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            if let Some(subs) = map.get_mut(topic) {
                subs.remove(&session_id);
                if subs.is_empty() {
                    map.remove(topic);
                }
            }
        }
    }

    /// Publishes an event to every subscriber of `topic`.
    pub fn publish(&self, topic: &str, event: impl Into<Event>) -> Delivery {
        let map = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let Some(subs) = map.get(topic) else {
            return Delivery::default();
        };
        let frame = ServerFrame::Push(Push {
            topic: topic.to_owned(),
            event: event.into(),
        });
        let bytes = match agora_wire::encode(&frame) {
            Ok(b) => b,
            Err(err) => {
                tracing::error!(%err, topic, "cannot encode push");
                return Delivery::default();
            }
        };
        let mut delivery = Delivery::default();
        let now = crate::now_ms();
        for session in subs.values() {
            match session.push(bytes.clone(), now) {
                Ok(()) => delivery.delivered += 1,
                Err(PushRefused::TooSlow) => delivery.dropped_slow += 1,
                // The connection is already closing; its cleanup removes it.
                Err(PushRefused::Closed) => {}
            }
        }
        self.delivered
            .fetch_add(delivery.delivered as u64, Ordering::Relaxed);
        self.dropped_slow
            .fetch_add(delivery.dropped_slow as u64, Ordering::Relaxed);
        delivery
    }

    /// How many sessions subscribe to `topic`.
    pub fn subscribers(&self, topic: &str) -> usize {
        let map = self.topics.read().unwrap_or_else(|p| p.into_inner());
        map.get(topic).map_or(0, HashMap::len)
    }

    /// Pushes queued since start.
    pub fn delivered_total(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Subscribers disconnected for slowness since start.
    pub fn slow_total(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }

    /// How many topics have at least one subscriber.
    pub fn topic_count(&self) -> usize {
        self.topics.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_wire::{BaseEvent, SessionInfo};
    use tokio::sync::mpsc;

    fn session(id: u64, hard: usize) -> (Arc<Session>, mpsc::UnboundedReceiver<bytes::Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let limits = crate::session::PushLimits {
            hard,
            soft: hard,
            soft_ms: 1000,
        };
        (Arc::new(Session::new(id, "test".into(), tx, limits)), rx)
    }

    fn event() -> Event {
        BaseEvent::SessionOpened {
            session: SessionInfo {
                id: 1,
                user: None,
                client: "x".into(),
            },
        }
        .into()
    }

    #[test]
    fn publish_reaches_only_subscribers() {
        let hub = Hub::default();
        let (a, mut a_rx) = session(1, 1 << 20);
        let (b, mut b_rx) = session(2, 1 << 20);
        hub.subscribe(&a, &["t".into()]);
        hub.subscribe(&b, &["other".into()]);
        assert_eq!(hub.publish("t", event()).delivered, 1);
        let body = a_rx.try_recv().unwrap();
        let frame: ServerFrame = agora_wire::decode(&body).unwrap();
        assert!(matches!(frame, ServerFrame::Push(Push { ref topic, .. }) if topic == "t"));
        assert!(b_rx.try_recv().is_err());
        hub.unsubscribe(1, &["t".into()]);
        assert_eq!(hub.publish("t", event()).delivered, 0);
        assert_eq!(hub.topic_count(), 1);
    }

    #[test]
    fn soft_limit_tolerates_a_burst_but_not_a_lasting_backlog() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let limits = crate::session::PushLimits {
            hard: 1000,
            soft: 100,
            soft_ms: 5_000,
        };
        let s = Session::new(1, "t".into(), tx, limits);
        let frame = bytes::Bytes::from(vec![0u8; 60]);
        assert!(s.push(frame.clone(), 1_000).is_ok());
        assert!(
            s.push(frame.clone(), 1_000).is_ok(),
            "over soft: the clock starts"
        );
        assert!(s.push(frame.clone(), 5_999).is_ok(), "still within 5 s");
        assert_eq!(s.push(frame.clone(), 6_000), Err(PushRefused::TooSlow));
        assert!(s.closer().is_requested());
    }

    #[test]
    fn slow_subscriber_is_closed_not_waited_for() {
        let hub = Hub::default();
        let frame_len = agora_wire::encode(&ServerFrame::Push(Push {
            topic: "t".into(),
            event: event(),
        }))
        .unwrap()
        .len();
        let (slow, _rx) = session(1, frame_len * 2);
        let (fast, mut fast_rx) = session(2, 1 << 20);
        hub.subscribe(&slow, &["t".into()]);
        hub.subscribe(&fast, &["t".into()]);
        let mut dropped = 0;
        for _ in 0..10 {
            dropped += hub.publish("t", event()).dropped_slow;
        }
        assert!(dropped > 0);
        assert!(slow.closer().is_requested());
        assert!(!fast.closer().is_requested());
        let reason = slow.closer().take_reason().unwrap();
        assert_eq!(reason.code, agora_wire::ErrorCode::Unavailable);
        let mut got = 0;
        while let Ok(frame) = fast_rx.try_recv() {
            fast.dequeued(frame.len());
            got += 1;
        }
        assert_eq!(got, 10);
        assert_eq!(fast.queued_bytes(), 0);
    }
}
