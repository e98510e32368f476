//! The group-commit writer, on a real SQLite file and its real thread.
//!
//! Batches are observed on the publisher channel: the writer hands it one
//! `Vec<Delivery>` per committed transaction and nothing for a failed one,
//! so the list of what arrived there is the list of transactions. To make
//! "queued before the thread wakes" deterministic, jobs are queued before
//! the thread is started. Nothing here sleeps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use agora_db::Db;
use agora_db::chat::Chat as Repo;
use agora_wire::{ErrorCode, Event, ServerFrame};
use bytes::Bytes;
use tokio::sync::mpsc::error::TryRecvError;

use super::*;
use crate::chat::{Chat, Limits, State};
use crate::hub::Hub;
use crate::session::{PushLimits, Session};

/// A database file with the writer's surroundings: a hub and the chat
/// state it notes sequence numbers in.
struct Store {
    _dir: tempfile::TempDir,
    path: PathBuf,
    db: Db,
    hub: Arc<Hub>,
    inner: Arc<Inner>,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agora.db");
        let db = Db::open(&path).unwrap();
        let hub = Arc::new(Hub::default());
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            hub: hub.clone(),
            storage: Storage::Sqlite(db.clone()),
            fleet: OnceLock::new(),
            limits: Limits::default(),
            digest_started: tokio::sync::Notify::new(),
        });
        Store {
            _dir: dir,
            path,
            db,
            hub,
            inner,
        }
    }

    /// A connection of its own to the file: what another process, or a
    /// reader opened after the fact, sees.
    fn fresh(&self) -> agora_db::Connection {
        agora_db::Connection::open(&self.path).unwrap()
    }

    /// A room's stored messages as (seq, text), oldest first.
    fn stored(&self, room: &str) -> Vec<(u64, String)> {
        let conn = self.fresh();
        let (rows, more) = Repo::new(&conn).history_since(room, 0, 100_000).unwrap();
        assert!(!more);
        rows.into_iter()
            .map(|m| (m.seq as u64, m.text))
            .collect::<Vec<_>>()
    }

    /// Starts the writer thread on `queue`.
    fn start(&self, queue: mpsc::Receiver<Job>) -> (JoinHandle<()>, Committed) {
        let (publisher, batches) = mpsc::unbounded_channel();
        let (storage, inner) = (Storage::Sqlite(self.db.clone()), self.inner.clone());
        let thread = std::thread::spawn(move || run(storage, inner, queue, publisher));
        (thread, Committed(batches))
    }

    /// Queues every job, then starts the writer (so its first wake-up finds
    /// them all), lets it drain the queue and stop, and returns the batches
    /// it committed, in commit order.
    fn commit_all(&self, jobs: Vec<Job>) -> Vec<Vec<Delivery>> {
        let (tx, rx) = mpsc::channel(jobs.len().max(1));
        for job in jobs {
            assert!(tx.try_send(job).is_ok());
        }
        drop(tx);
        let (thread, mut batches) = self.start(rx);
        thread.join().unwrap();
        let mut committed = Vec::new();
        while let Ok(batch) = batches.try_recv() {
            committed.push(batch);
        }
        committed
    }

    /// A session subscribed to `topics`.
    fn subscriber(&self, id: u64, topics: &[String]) -> (Arc<Session>, Pushes) {
        let (tx, rx) = mpsc::unbounded_channel();
        let session = Arc::new(Session::new(id, "test".into(), tx, PushLimits::default()));
        self.hub.subscribe(&session, topics);
        (session, Pushes(rx))
    }
}

/// The writer's hand-overs to the publish loop: one per committed
/// transaction.
struct Committed(mpsc::UnboundedReceiver<Batch>);

impl Committed {
    fn try_recv(&mut self) -> Result<Vec<Delivery>, TryRecvError> {
        self.0.try_recv().map(committed)
    }

    async fn recv(&mut self) -> Option<Vec<Delivery>> {
        self.0.recv().await.map(committed)
    }
}

fn committed(batch: Batch) -> Vec<Delivery> {
    match batch {
        Batch::Committed(d) => d,
        _ => panic!("the writer hands over committed batches only"),
    }
}

/// What a fake session received.
struct Pushes(mpsc::UnboundedReceiver<Bytes>);

impl Pushes {
    /// Every push queued so far, as (topic, event).
    fn take(&mut self) -> Vec<(String, ChatEvent)> {
        let mut out = Vec::new();
        while let Ok(bytes) = self.0.try_recv() {
            match agora_wire::decode::<ServerFrame>(&bytes).unwrap() {
                ServerFrame::Push(push) => match push.event {
                    Event::Chat(event) => out.push((push.topic, event)),
                    other => panic!("not a chat event: {other:?}"),
                },
                other => panic!("not a push: {other:?}"),
            }
        }
        out
    }
}

fn room_job(room: &str, text: &str) -> (Job, Acked) {
    let (ack, acked) = oneshot::channel();
    let job = Job::Room {
        room: room.into(),
        from: "alice".into(),
        text: text.into(),
        action: false,
        ack,
    };
    (job, acked)
}

fn direct_job(from: &str, to: &str, text: &str) -> (Job, Acked) {
    let (ack, acked) = oneshot::channel();
    let job = Job::Direct {
        from: from.into(),
        to: to.into(),
        text: text.into(),
        action: false,
        ack,
    };
    (job, acked)
}

/// Waits for `future` from a thread outside any runtime. The limit only
/// turns a broken writer into a failure instead of a hang; nothing waits
/// for it when the writer works.
fn wait<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(GIVE_UP, future).await })
        .expect("the writer answered")
}

/// See [`wait`].
const GIVE_UP: std::time::Duration = std::time::Duration::from_secs(10);

/// The acknowledgement, which must already have arrived.
fn ack_now(acked: &mut Acked) -> Stored {
    acked.try_recv().expect("acknowledged")
}

/// The room message a delivery carries: (room, seq, text).
fn room_message(delivery: &Delivery) -> (String, u64, String) {
    match &delivery.events[..] {
        [(topic, ChatEvent::Message { message })] => {
            assert_eq!(*topic, room_topic(&message.room));
            (message.room.clone(), message.seq, message.text.clone())
        }
        other => panic!("not one room message: {other:?}"),
    }
}

#[test]
fn room_sequences_start_at_1_without_gaps_in_queue_order_across_interleaved_rooms() {
    let store = Store::new();
    for room in ["a", "b", "c"] {
        store.inner.lock().rooms.add_room(room, "");
    }
    let pattern = ["a", "b", "a", "c", "a", "b"];
    let (jobs, mut acks): (Vec<_>, Vec<_>) = (0..60)
        .map(|i| {
            let room = pattern[i % pattern.len()];
            room_job(room, &format!("{room}-{i}"))
        })
        .unzip();
    let batches = store.commit_all(jobs);
    let delivered: Vec<_> = batches.iter().flatten().map(room_message).collect();

    // Deliveries follow queue order, and within each room the sequence
    // numbers count 1, 2, 3, … in that order.
    let mut expected_next: HashMap<String, u64> = HashMap::new();
    for (i, (room, seq, text)) in delivered.iter().enumerate() {
        assert_eq!(*room, pattern[i % pattern.len()]);
        assert_eq!(*text, format!("{room}-{i}"));
        let next = expected_next.entry(room.clone()).or_insert(1);
        assert_eq!(*seq, *next, "message {i} in room {room}");
        *next += 1;
    }
    assert_eq!(delivered.len(), 60);
    for batch in batches {
        deliver(&store.hub, batch);
    }
    for (acked, (_, seq, _)) in acks.iter_mut().zip(&delivered) {
        assert_eq!(ack_now(acked).unwrap().0, *seq);
    }
    // The database agrees.
    for room in ["a", "b", "c"] {
        let stored = store.stored(room);
        let in_queue_order: Vec<_> = delivered
            .iter()
            .filter(|(r, ..)| r == room)
            .map(|(_, seq, text)| (*seq, text.clone()))
            .collect();
        assert_eq!(stored, in_queue_order);
    }
}

#[test]
fn sequences_continue_from_the_tables_newest() {
    let store = Store::new();
    // Stored by someone else (another node of a fleet, or before a
    // restart): the writer numbers after it.
    store
        .fresh()
        .execute(
            "INSERT INTO messages (room, seq, sender, text, action, ts_ms)
             VALUES ('a', 41, 'alice', 'earlier', 0, 0)",
            [],
        )
        .unwrap();
    let (jobs, _acks): (Vec<_>, Vec<_>) = ["x", "y"].iter().map(|t| room_job("a", t)).unzip();
    let batches = store.commit_all(jobs);
    let seqs: Vec<_> = batches
        .iter()
        .flatten()
        .map(|d| room_message(d).1)
        .collect();
    assert_eq!(seqs, [42, 43]);
}

#[test]
fn a_burst_queued_before_the_thread_wakes_is_committed_in_one_batch() {
    let store = Store::new();
    let (jobs, _acks): (Vec<_>, Vec<_>) = (0..300)
        .map(|i| match i % 3 {
            0 => room_job("a", &format!("{i}")),
            1 => room_job("b", &format!("{i}")),
            _ => direct_job("alice", "bob", &format!("{i}")),
        })
        .unzip();
    let batches = store.commit_all(jobs);
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [300],
        "one transaction for the whole burst"
    );
    // One transaction, one timestamp.
    let stamps: std::collections::BTreeSet<_> = batches[0]
        .iter()
        .map(|d| d.stored.as_ref().unwrap().1)
        .collect();
    assert_eq!(stamps.len(), 1);
}

#[test]
fn batches_are_capped_at_max_batch() {
    let store = Store::new();
    let extra = 5;
    let (jobs, mut acks): (Vec<_>, Vec<_>) = (0..MAX_BATCH + extra)
        .map(|i| room_job("a", &format!("{i}")))
        .unzip();
    let batches = store.commit_all(jobs);
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [MAX_BATCH, extra]
    );
    // The sequence runs on across the batch boundary without a gap.
    let seqs: Vec<_> = batches
        .iter()
        .flatten()
        .map(|d| room_message(d).1)
        .collect();
    assert_eq!(seqs, (1..=(MAX_BATCH + extra) as u64).collect::<Vec<_>>());
    for batch in batches {
        deliver(&store.hub, batch);
    }
    assert!(acks.iter_mut().all(|a| ack_now(a).is_ok()));
    assert_eq!(store.stored("a").len(), MAX_BATCH + extra);
}

#[test]
fn nothing_is_published_or_acknowledged_before_the_commit_and_pushes_follow_commit_order() {
    let store = Store::new();
    let topics = [room_topic("a"), room_topic("b")];
    let (_session, mut pushes) = store.subscriber(1, &topics);
    let (jobs, mut acks): (Vec<_>, Vec<_>) = (0..MAX_BATCH + 10)
        .map(|i| room_job(if i % 2 == 0 { "a" } else { "b" }, &format!("{i}")))
        .unzip();
    let batches = store.commit_all(jobs);
    assert_eq!(batches.len(), 2);

    // The writer has committed and stopped: every row is readable from a
    // connection of its own, yet no one has been told anything.
    assert_eq!(
        store.stored("a").len() + store.stored("b").len(),
        acks.len()
    );
    assert!(pushes.take().is_empty(), "published before the hand-over");
    assert!(
        acks.iter_mut()
            .all(|a| matches!(a.try_recv(), Err(oneshot::error::TryRecvError::Empty))),
        "acknowledged before the hand-over"
    );

    // Each delivery publishes, then acknowledges; batches go out in the
    // order they were committed.
    let mut acks = acks.iter_mut();
    let mut sent = 0;
    for batch in batches {
        for delivery in batch {
            let (room, seq, text) = room_message(&delivery);
            let acked = acks.next().unwrap();
            deliver(&store.hub, vec![delivery]);
            let got = pushes.take();
            let [(topic, ChatEvent::Message { message })] = &got[..] else {
                panic!("expected one message push, got {got:?}");
            };
            assert_eq!(*topic, room_topic(&room));
            assert_eq!((message.seq, &message.text), (seq, &text));
            assert_eq!(text, sent.to_string(), "pushed in queue order");
            assert_eq!(ack_now(acked).unwrap().0, seq);
            sent += 1;
        }
    }
    assert_eq!(sent, MAX_BATCH + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_real_wiring_an_acknowledged_message_is_stored_and_already_pushed() {
    let store = Store::new();
    let chat = Chat::open(
        Storage::Sqlite(store.db.clone()),
        store.hub.clone(),
        Limits::default(),
    )
    .unwrap();
    chat.inner.lock().rooms.add_room("a", "");
    let (_session, mut pushes) = store.subscriber(1, &[room_topic("a")]);
    let acks: Vec<_> = (0..50)
        .map(|i| {
            let (job, acked) = room_job("a", &format!("m{i}"));
            assert!(chat.jobs.try_send(job).is_ok());
            acked
        })
        .collect();
    let fresh = store.fresh();
    let mut seen = Vec::new();
    for (i, acked) in acks.into_iter().enumerate() {
        let (seq, _) = tokio::time::timeout(GIVE_UP, acked)
            .await
            .expect("the writer answered")
            .unwrap()
            .unwrap();
        // Stored: a connection that did not exist before the commit reads it.
        let (rows, _) = Repo::new(&fresh)
            .history_since("a", seq as i64 - 1, 1)
            .unwrap();
        assert_eq!(rows[0].text, format!("m{i}"));
        // Pushed: the sender's ack comes after its message went out.
        seen.extend(pushes.take().into_iter().map(|(_, event)| match event {
            ChatEvent::Message { message } => message.seq,
            other => panic!("unexpected {other:?}"),
        }));
        assert!(seen.contains(&seq), "ack for {seq} before its push");
    }
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<u64>>(),
        "pushes in commit order"
    );
    // The index follows what was published.
    assert_eq!(chat.inner.lock().rooms.last_seq("a"), 50);
}

#[test]
fn a_failed_commit_acknowledges_every_job_of_its_batch_with_internal_and_the_writer_goes_on() {
    let store = Store::new();
    let topics = [room_topic("a"), room_topic("b"), user_topic("bob")];
    let (_session, mut pushes) = store.subscriber(1, &topics);
    // The database refuses one message of the batch (as a full disk or a
    // broken constraint would): its whole transaction fails.
    store
        .fresh()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.text = 'clash'
             BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: refused'); END;",
        )
        .unwrap();

    let (tx, rx) = mpsc::channel(16);
    let (failing, failed): (Vec<_>, Vec<_>) = [
        room_job("b", "b before"),
        room_job("a", "clash"),
        direct_job("alice", "bob", "dm"),
    ]
    .into_iter()
    .unzip();
    for job in failing {
        assert!(tx.try_send(job).is_ok());
    }
    let (thread, mut batches) = store.start(rx);
    for acked in failed {
        let err = wait(acked).unwrap().unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.message.contains("UNIQUE"), "internals stay in the log");
    }
    // Nothing of the batch was stored, published or handed over.
    assert!(store.stored("b").is_empty());
    assert_eq!(Repo::new(&store.fresh()).unread_count("bob").unwrap(), 0);
    assert!(matches!(batches.try_recv(), Err(TryRecvError::Empty)));
    assert!(pushes.take().is_empty());

    // The thread still serves, and the failed batch left no gap.
    let (next, mut acks): (Vec<_>, Vec<_>) =
        [room_job("b", "b after"), direct_job("alice", "bob", "dm")]
            .into_iter()
            .unzip();
    for job in next {
        assert!(tx.try_send(job).is_ok());
    }
    while acks.iter_mut().any(|a| a.is_empty()) {
        let batch = wait(batches.recv()).expect("a committed batch");
        deliver(&store.hub, batch);
    }
    assert_eq!(ack_now(&mut acks[0]).unwrap().0, 1);
    assert!(ack_now(&mut acks[1]).is_ok());
    assert_eq!(store.stored("b"), [(1, "b after".to_owned())]);
    assert_eq!(pushes.take().len(), 2);
    drop(tx);
    thread.join().unwrap();
}

#[test]
fn direct_messages_get_increasing_ids_and_reach_both_users_once_when_sent_to_oneself() {
    let store = Store::new();
    let (_alice, mut alice_pushes) = store.subscriber(1, &[user_topic("alice")]);
    let (_bob, mut bob_pushes) = store.subscriber(2, &[user_topic("bob")]);
    let (jobs, mut acks): (Vec<_>, Vec<_>) = [
        direct_job("alice", "bob", "1"),
        room_job("r", "not a dm"),
        direct_job("bob", "alice", "2"),
        direct_job("alice", "alice", "3"),
    ]
    .into_iter()
    .unzip();
    let batches = store.commit_all(jobs);
    let topics: Vec<Vec<String>> = batches
        .iter()
        .flatten()
        .filter(|d| matches!(d.events[0].1, ChatEvent::Direct { .. }))
        .map(|d| d.events.iter().map(|(t, _)| t.clone()).collect())
        .collect();
    assert_eq!(
        topics,
        [
            vec![user_topic("bob"), user_topic("alice")],
            vec![user_topic("alice"), user_topic("bob")],
            vec![user_topic("alice")],
        ]
    );
    for batch in batches {
        deliver(&store.hub, batch);
    }
    let ids: Vec<u64> = [0, 2, 3]
        .into_iter()
        .map(|i| ack_now(&mut acks[i]).unwrap().0)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");

    let texts = |pushes: &mut Pushes| -> Vec<(u64, String)> {
        pushes
            .take()
            .into_iter()
            .map(|(_, event)| match event {
                ChatEvent::Direct { message } => (message.id, message.text),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        texts(&mut alice_pushes),
        [
            (ids[0], "1".into()),
            (ids[1], "2".into()),
            (ids[2], "3".into())
        ]
    );
    assert_eq!(
        texts(&mut bob_pushes),
        [(ids[0], "1".into()), (ids[1], "2".into())]
    );
    let fresh = store.fresh();
    assert_eq!(Repo::new(&fresh).unread_count("bob").unwrap(), 1);
    assert_eq!(Repo::new(&fresh).unread_count("alice").unwrap(), 2);
}

#[test]
fn without_the_async_publisher_the_writer_delivers_itself() {
    let store = Store::new();
    let (_session, mut pushes) = store.subscriber(1, &[room_topic("a")]);
    let (tx, rx) = mpsc::channel(1);
    let (job, mut acked) = room_job("a", "late");
    assert!(tx.try_send(job).is_ok());
    drop(tx);
    // The runtime (and so the publish loop) is gone, as at shutdown.
    let (publisher, batches) = mpsc::unbounded_channel();
    drop(batches);
    let (storage, inner) = (Storage::Sqlite(store.db.clone()), store.inner.clone());
    std::thread::spawn(move || run(storage, inner, rx, publisher))
        .join()
        .unwrap();
    assert_eq!(ack_now(&mut acked).unwrap().0, 1);
    assert_eq!(pushes.take().len(), 1);
}
