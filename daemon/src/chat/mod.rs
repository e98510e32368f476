//! Chat: rooms, messages, private messages and presence.
//!
//! State lives in two places. SQLite holds everything that must survive a
//! restart (rooms, memberships, messages, private messages, last-seen
//! times). Memory holds an index of it for the hot path plus what only
//! matters while the daemon runs (who is connected, rate-limit buckets),
//! all behind one std mutex whose critical sections never await.
//!
//! - [`room`]: the room/membership index;
//! - [`presence`]: online/away/offline per user;
//! - [`limits`]: per-user token buckets;
//! - [`writer`]: the group-commit thread that stores and then publishes
//!   every message;
//! - [`handler`]: one function per chat operation.
//!
//! Topics: `chat.room.NAME` carries a room's messages and membership
//! events; `chat.user.NAME` carries a user's private messages. A signed-in
//! session is subscribed to the topics of every room its user belongs to,
//! and to its user topic, so all of a user's terminals see everything.

pub mod handler;
pub mod limits;
pub mod presence;
pub mod room;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use agora_db::Db;
use agora_db::chat::Chat as Repo;
use agora_wire::chat::LeaveReason;
pub use agora_wire::chat::{room_topic, user_topic};
use agora_wire::{ChatEvent, UserInfo};
use anyhow::Context as _;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::hub::Hub;
use crate::service::Lifecycle;
use crate::session::Session;

/// Chat limits, from the daemon's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per-user message rate.
    pub rate: limits::Rate,
    /// Rooms one user may belong to.
    pub rooms_per_user: usize,
    /// Members one room may have.
    pub members_per_room: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate: limits::Rate {
                per_sec: 10.0,
                burst: 20.0,
            },
            rooms_per_user: 100,
            members_per_room: 10_000,
        }
    }
}

/// The chat service. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
    jobs: mpsc::Sender<writer::Job>,
}

pub(crate) struct Inner {
    state: Mutex<State>,
    hub: Arc<Hub>,
    db: Db,
    limits: Limits,
}

#[derive(Default)]
struct State {
    rooms: room::RoomIndex,
    presence: presence::PresenceBook,
    buckets: HashMap<String, limits::Bucket>,
    /// Signed-in sessions by user name.
    sessions: HashMap<String, HashMap<u64, Arc<Session>>>,
}

/// The queue in front of the writer thread: deep enough to absorb bursts,
/// bounded so a stalled disk pushes back on senders instead of growing.
const JOB_QUEUE: usize = 65_536;

impl Chat {
    /// Loads the index from the database and starts the writer thread.
    ///
    /// # Errors
    /// When the database cannot be read or the thread cannot start.
    pub fn open(db: Db, hub: Arc<Hub>, limits: Limits) -> anyhow::Result<Chat> {
        let mut state = State::default();
        let seqs = db
            .read(|c| {
                let repo = Repo::new(c);
                for r in repo.rooms()? {
                    state.rooms.add_room(&r.name, &r.topic);
                }
                for (room, user) in repo.memberships()? {
                    state.rooms.join(&room, &user);
                }
                for (user, seen) in repo.users_last_seen()? {
                    state.presence.add_user(&user, seen.max(0) as u64);
                }
                let seqs: HashMap<String, u64> = repo
                    .last_seqs()?
                    .into_iter()
                    .map(|(room, seq)| (room, seq.max(0) as u64))
                    .collect();
                Ok(seqs)
            })
            .context("cannot load chat state")?;
        for (room, seq) in &seqs {
            state.rooms.set_last_seq(room, *seq);
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            hub,
            db: db.clone(),
            limits,
        });
        let (jobs, queue) = mpsc::channel(JOB_QUEUE);
        let thread_inner = inner.clone();
        let (publisher, batches) = mpsc::unbounded_channel();
        // Chat::open runs inside the daemon's runtime (on its blocking pool).
        tokio::runtime::Handle::current().spawn(writer::publish_loop(inner.hub.clone(), batches));
        std::thread::Builder::new()
            .name("agora-chat-writer".into())
            .spawn(move || writer::run(db, thread_inner, queue, seqs, publisher))
            .context("cannot start the chat writer thread")?;
        Ok(Chat { inner, jobs })
    }

    /// A session signed in: subscribe it to its user's rooms and private
    /// messages, mark the user online, and tell it about unread messages.
    async fn on_signed_in(&self, session: &Arc<Session>) {
        let Some(user) = session.user() else { return };
        let now = crate::now_ms();
        let (rooms, came_online) = {
            let mut state = self.inner.lock();
            state
                .sessions
                .entry(user.name.clone())
                .or_default()
                .insert(session.id, session.clone());
            (
                state.rooms.rooms_of(&user.name),
                state.presence.connect(&user.name, now),
            )
        };
        let mut topics: Vec<String> = rooms.iter().map(|r| room_topic(r)).collect();
        topics.push(user_topic(&user.name));
        self.inner.hub.subscribe(session, &topics);
        session.add_topics(&topics);
        tracing::debug!(user = %user.name, session = session.id, came_online, rooms = rooms.len(), "chat sign-in");
        if came_online {
            self.announce_presence(&user.name, &rooms, now);
        }
        let db = self.inner.db.clone();
        let name = user.name.clone();
        let unread =
            tokio::task::spawn_blocking(move || db.read(|c| Repo::new(c).unread_count(&name)))
                .await;
        if let Ok(Ok(dms)) = unread
            && dms > 0
        {
            self.inner
                .hub
                .publish(&user_topic(&user.name), ChatEvent::Unread { dms });
        }
    }

    /// A signed-in session closed: when it was the user's last, they are
    /// offline — announce it and record when they were last seen.
    fn on_session_closed(&self, session: &Session) {
        let Some(user) = session.user() else { return };
        let now = crate::now_ms();
        let (rooms, went_offline) = {
            let mut state = self.inner.lock();
            if let Some(sessions) = state.sessions.get_mut(&user.name) {
                sessions.remove(&session.id);
                if sessions.is_empty() {
                    state.sessions.remove(&user.name);
                }
            }
            let offline = state.presence.disconnect(&user.name, now);
            (state.rooms.rooms_of(&user.name), offline)
        };
        tracing::debug!(user = %user.name, session = session.id, went_offline, rooms = rooms.len(), "chat sign-out");
        if !went_offline {
            return;
        }
        for room in &rooms {
            self.inner.hub.publish(
                &room_topic(room),
                ChatEvent::Left {
                    room: room.clone(),
                    user: user.name.clone(),
                    reason: LeaveReason::Quit,
                },
            );
        }
        let db = self.inner.db.clone();
        let name = user.name;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || {
                if let Err(err) = db.write(|c| Repo::new(c).touch_last_seen(&name, now as i64)) {
                    tracing::warn!(%err, user = %name, "cannot record last-seen time");
                }
            });
        }
    }

    fn announce_presence(&self, user: &str, rooms: &[String], now: u64) {
        let presence = self.inner.lock().presence.presence(user, now);
        for room in rooms {
            self.inner.hub.publish(
                &room_topic(room),
                ChatEvent::Presence {
                    room: room.clone(),
                    user: presence.clone(),
                },
            );
        }
    }
}

/// Chat follows sessions: a signed-in session is subscribed to its user's
/// rooms and shown online; its end may take the user offline.
impl Lifecycle for Chat {
    fn opened<'a>(&'a self, session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        self.on_signed_in(session).boxed()
    }

    fn signed_in<'a>(&'a self, session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        self.on_signed_in(session).boxed()
    }

    fn signing_out(&self, session: &Session) {
        self.on_session_closed(session);
    }

    fn closed(&self, session: &Session) {
        self.on_session_closed(session);
    }

    /// Private messages to a new account are accepted from now on.
    fn user_created(&self, user: &UserInfo) {
        self.inner.lock().presence.add_user(&user.name, 0);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the writer after a commit.
    fn note_last_seq(&self, room: &str, seq: u64) {
        self.lock().rooms.set_last_seq(room, seq);
    }
}
