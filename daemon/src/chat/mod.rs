//! Chat: rooms, messages, private messages and presence.
//!
//! State lives in two places. The database (the node's SQLite file, or a
//! fleet's PostgreSQL: [`Storage`]) holds everything that must survive a
//! restart (rooms, memberships, messages, private messages, last-seen
//! times). Memory holds an index of it for the hot path plus what only
//! matters while the daemon runs (who is connected, rate-limit buckets),
//! all behind one std mutex whose critical sections never await. In a
//! fleet, [`fleet`] keeps the index in step with the other nodes'.
//!
//! - [`room`]: the room/membership index;
//! - [`presence`]: online/away/offline per user;
//! - [`limits`]: per-user token buckets;
//! - [`digest`]: which presence changes are announced one by one, and the
//!   `chat_members` digests that replace them in large rooms;
//! - [`writer`]: the group-commit thread that stores and then publishes
//!   every message;
//! - [`order`]: each room's messages published in sequence order, whichever
//!   node stored them;
//! - [`fleet`]: following the other nodes of a fleet (PostgreSQL only);
//! - [`handler`]: one function per chat operation.
//!
//! Topics: `chat.room.NAME` carries a room's messages and membership
//! events; `chat.user.NAME` carries a user's private messages. A signed-in
//! session is subscribed to the topics of every room its user belongs to,
//! and to its user topic, so all of a user's terminals see everything.
//!
//! Presence (joins, leaves, sign-ins, sign-outs, away) is announced on the
//! room topic one event at a time in rooms of at most
//! [`Limits::presence_threshold`] members; larger rooms get a digest at
//! most once per [`Limits::presence_interval`] instead, sent by the task
//! [`Chat::spawn`] starts (see [`digest`] for why).

pub mod digest;
mod fleet;
pub mod handler;
pub mod limits;
pub mod order;
pub mod presence;
pub mod room;
pub mod system;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use agora_db::pg::chat::{CHANNEL, PgChat};
use agora_db::pg::notify::Listener;
use agora_db::{Access, Storage};
use agora_wire::chat::{LeaveReason, Presence};
pub use agora_wire::chat::{room_topic, user_topic};
use agora_wire::{ChatEvent, UserInfo};
use anyhow::Context as _;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use digest::{Change, Route};

use crate::hub::Hub;
use crate::service::Lifecycle;
use crate::session::Session;

/// Chat limits and presence settings, from the daemon's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per-user message rate.
    pub rate: limits::Rate,
    /// Rooms one user may belong to.
    pub rooms_per_user: usize,
    /// Members one room may have.
    pub members_per_room: usize,
    /// Rooms with more members than this get `chat_members` digests
    /// instead of one presence event per change (see [`digest`]).
    pub presence_threshold: usize,
    /// The shortest time between two digests of one room.
    pub presence_interval: Duration,
    /// In a fleet: how long a node may miss its heartbeats before the
    /// others take it for dead and its users offline.
    pub node_timeout: Duration,
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
            presence_threshold: 100,
            presence_interval: Duration::from_secs(1),
            node_timeout: Duration::from_secs(5),
        }
    }
}

/// The chat service. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
    jobs: mpsc::Sender<writer::Job>,
    /// In a fleet, what [`Chat::spawn`] starts: the listening connection
    /// (opened before the state was loaded, so nothing committed since is
    /// missed), the publish loop's sender, the presence writes' queue.
    following: Arc<Mutex<Option<Following>>>,
}

struct Following {
    listener: Listener,
    publisher: mpsc::UnboundedSender<writer::Batch>,
    sync: mpsc::UnboundedReceiver<String>,
}

pub(crate) struct Inner {
    state: Mutex<State>,
    hub: Arc<Hub>,
    storage: Storage,
    /// This node in the fleet, on PostgreSQL.
    fleet: OnceLock<fleet::Fleet>,
    limits: Limits,
    /// Tells the digest task that a room's digest was started.
    digest_started: Notify,
}

#[derive(Default)]
struct State {
    rooms: room::RoomIndex,
    presence: presence::PresenceBook,
    digests: digest::Digests,
    buckets: HashMap<String, limits::Bucket>,
    /// Signed-in sessions by user name.
    sessions: HashMap<String, HashMap<u64, Arc<Session>>>,
    /// Counts the changes this node committed and then applied here
    /// (joins, leaves, topics, away messages). On a fleet the listener
    /// notes it before reading a room or user from the tables and applies
    /// what it read only when it has not moved: otherwise a read made
    /// before this node's commit could undo the change it applied since
    /// (`fleet::Inner::follow_room`).
    local_changes: u64,
}

/// The queue in front of the writer thread: deep enough to absorb bursts,
/// bounded so a stalled disk pushes back on senders instead of growing.
const JOB_QUEUE: usize = 65_536;

impl Chat {
    /// Loads the index from the database and starts the writer thread
    /// (on PostgreSQL, also registers this node and starts listening to
    /// the others: [`fleet`]).
    ///
    /// # Errors
    /// When the database cannot be read or the thread cannot start.
    pub fn open(storage: Storage, hub: Arc<Hub>, limits: Limits) -> anyhow::Result<Chat> {
        let mut state = State {
            digests: digest::Digests::new(
                limits.presence_threshold,
                limits.presence_interval.as_millis() as u64,
            ),
            ..State::default()
        };
        // Listen first: whatever commits while the state loads is heard.
        let (listener, node) = match &storage {
            Storage::Postgres(pg) => {
                let node = pg
                    .node()
                    .context("a fleet's PostgreSQL handle has a node name")?
                    .to_owned();
                let listener = pg
                    .listener(&[CHANNEL])
                    .context("cannot listen to the fleet's chat changes")?;
                pg.with(|c| agora_db::pg::fleet::register(c, &node))
                    .context("cannot register this node in the fleet")?;
                (Some(listener), Some((pg.clone(), node)))
            }
            Storage::Sqlite(_) => (None, None),
        };
        let seqs = storage
            .chat(Access::Read, |repo| {
                for r in repo.rooms()? {
                    state.rooms.add_room(&r.name, &r.topic);
                }
                for (room, user) in repo.memberships()? {
                    state.rooms.join(&room, &user);
                }
                for (user, seen) in repo.users_last_seen()? {
                    state.presence.add_user(&user, seen.max(0) as u64);
                }
                for (user, message) in repo.users_away()? {
                    state.presence.set_away(&user, Some(message));
                }
                repo.last_seqs()
            })
            .context("cannot load chat state")?;
        if let Some((pg, node)) = &node {
            let elsewhere = pg
                .with(|c| PgChat::new(c).online_elsewhere(node))
                .context("cannot load the fleet's presence")?;
            for user in elsewhere {
                state.presence.set_elsewhere(&user, true, 0);
            }
        }
        let mut order = order::Order::default();
        for (room, seq) in &seqs {
            let seq = (*seq).max(0) as u64;
            state.rooms.set_last_seq(room, seq);
            order.published_up_to(room, seq);
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            hub,
            storage: storage.clone(),
            fleet: OnceLock::new(),
            limits,
            digest_started: Notify::new(),
        });
        let (jobs, queue) = mpsc::channel(JOB_QUEUE);
        let thread_inner = inner.clone();
        let (publisher, batches) = mpsc::unbounded_channel();
        // Chat::open runs inside the daemon's runtime (on its blocking pool).
        tokio::runtime::Handle::current().spawn(writer::publish_loop(
            inner.clone(),
            batches,
            publisher.downgrade(),
            order,
        ));
        let following = match (listener, node) {
            (Some(listener), Some((pg, node))) => {
                let (sync, queued) = mpsc::unbounded_channel();
                let _ = inner.fleet.set(fleet::Fleet { pg, node, sync });
                Some(Following {
                    listener,
                    publisher: publisher.clone(),
                    sync: queued,
                })
            }
            _ => None,
        };
        std::thread::Builder::new()
            .name("agora-chat-writer".into())
            .spawn(move || writer::run(storage, thread_inner, queue, publisher))
            .context("cannot start the chat writer thread")?;
        Ok(Chat {
            inner,
            jobs,
            following: Arc::new(Mutex::new(following)),
        })
    }

    /// A session signed in: subscribe it to its user's rooms and private
    /// messages, mark the user online, and tell it about unread messages.
    async fn on_signed_in(&self, session: &Arc<Session>) {
        let Some(user) = session.user() else { return };
        let now = crate::now_ms();
        let (rooms, came_online, routing, presence) = {
            let mut state = self.inner.lock();
            state
                .sessions
                .entry(user.name.clone())
                .or_default()
                .insert(session.id, session.clone());
            let rooms = state.rooms.rooms_of(&user.name);
            let came_online = state.presence.connect(&user.name, now);
            if state.presence.here(&user.name) == 1 {
                self.inner.sync_presence(&user.name);
            }
            let routing = if came_online {
                state.route(&rooms, Change::Status, now)
            } else {
                Routing::default()
            };
            let presence = state.presence.presence(&user.name, now);
            (rooms, came_online, routing, presence)
        };
        let mut topics: Vec<String> = rooms.iter().map(|r| room_topic(r)).collect();
        topics.push(user_topic(&user.name));
        self.inner.hub.subscribe(session, &topics);
        session.add_topics(&topics);
        tracing::debug!(user = %user.name, session = session.id, came_online, rooms = rooms.len(), "chat sign-in");
        self.inner.announce(routing, |room| ChatEvent::Presence {
            room: room.to_owned(),
            user: presence.clone(),
        });
        let storage = self.inner.storage.clone();
        let name = user.name.clone();
        let unread = tokio::task::spawn_blocking(move || {
            storage.chat(Access::Read, |c| c.unread_count(&name))
        })
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
        let (rooms, went_offline, routing) = {
            let mut state = self.inner.lock();
            if let Some(sessions) = state.sessions.get_mut(&user.name) {
                sessions.remove(&session.id);
                if sessions.is_empty() {
                    state.sessions.remove(&user.name);
                }
            }
            let offline = state.presence.disconnect(&user.name, now);
            if state.presence.here(&user.name) == 0 {
                self.inner.sync_presence(&user.name);
            }
            let rooms = state.rooms.rooms_of(&user.name);
            let routing = if offline {
                state.route(&rooms, Change::Status, now)
            } else {
                Routing::default()
            };
            (rooms, offline, routing)
        };
        tracing::debug!(user = %user.name, session = session.id, went_offline, rooms = rooms.len(), "chat sign-out");
        if !went_offline {
            return;
        }
        self.inner.announce(routing, |room| ChatEvent::Left {
            room: room.to_owned(),
            user: user.name.clone(),
            reason: LeaveReason::Quit,
        });
        let storage = self.inner.storage.clone();
        let name = user.name;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || {
                if let Err(err) =
                    storage.chat(Access::Write, |c| c.touch_last_seen(&name, now as i64))
                {
                    tracing::warn!(%err, user = %name, "cannot record last-seen time");
                }
            });
        }
    }

    /// Starts the task that sends the digests of large rooms (see
    /// [`digest`]) and, in a fleet, the listener thread and the heartbeat
    /// task ([`fleet`]); they stop when `token` is cancelled.
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        tracker.spawn(send_digests(self.inner.clone(), token.clone()));
        let following = self
            .following
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let (Some(f), Some(node)) = (following, self.inner.fleet.get()) {
            tracker.spawn(fleet::heartbeats(
                self.inner.clone(),
                node.clone(),
                f.sync,
                token.clone(),
            ));
            let (inner, node) = (self.inner.clone(), node.clone());
            let started = std::thread::Builder::new()
                .name("agora-chat-fleet".into())
                .spawn(move || fleet::listen(inner, node, f.listener, f.publisher, token));
            if let Err(err) = started {
                tracing::error!(%err, "cannot start the chat's fleet listener");
            }
        }
    }
}

/// Sends each large room's digest when it is due: sleeps until the next
/// due time, or until a change starts a digest that may be due sooner.
async fn send_digests(inner: Arc<Inner>, token: CancellationToken) {
    loop {
        let due = inner.lock().digests.next_due();
        let wait = async {
            match due {
                Some(due) => {
                    let ms = due.saturating_sub(crate::now_ms());
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = inner.digest_started.notified() => {}
            () = wait => inner.send_due_digests(crate::now_ms()),
        }
    }
}

/// Where one change is announced: the rooms that hear of it by itself
/// now, and whether some heard nothing yet (their digest will say it).
#[derive(Debug, Default)]
struct Routing {
    now: Vec<String>,
    batched: bool,
    /// A digest was started: the digest task must look at its due time.
    started: bool,
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

    /// Private messages to a new account are accepted from now on (in a
    /// fleet, on every node: the presence write announces the user).
    fn user_created(&self, user: &UserInfo) {
        self.inner.lock().presence.add_user(&user.name, 0);
        self.inner.sync_presence(&user.name);
    }
}

impl State {
    /// Decides how a change of one user reaches each of `rooms` (see
    /// [`digest`]); called in the same critical section as the change, so
    /// the member counts it goes by are the ones the change left.
    fn route(&mut self, rooms: &[String], change: Change<'_>, now_ms: u64) -> Routing {
        let mut routing = Routing::default();
        for room in rooms {
            let members = self.rooms.member_count(room);
            match self.digests.note(room, members, change, now_ms) {
                Route::Now => routing.now.push(room.clone()),
                Route::Batched { first } => {
                    routing.batched = true;
                    routing.started |= first;
                }
                Route::Skip => {}
            }
        }
        routing
    }

    /// A room's members with their presence, as a join reply lists them:
    /// everyone in a room up to the presence threshold; in a larger one,
    /// that many at most, connected members first (the rest are a
    /// `chat_who` away), so the reply stays small however big the room.
    fn member_list(&self, room: &str, now_ms: u64) -> Vec<Presence> {
        let cap = self.digests.threshold();
        if self.rooms.member_count(room) <= cap {
            return self
                .rooms
                .member_names(room)
                .map(|m| self.presence.presence(m, now_ms))
                .collect();
        }
        let (mut connected, mut offline) = (Vec::new(), Vec::new());
        for m in self.rooms.member_names(room) {
            if connected.len() >= cap {
                break;
            }
            if self.presence.is_connected(m) {
                connected.push(m);
            } else if connected.len() + offline.len() < cap {
                offline.push(m);
            }
        }
        offline.truncate(cap - connected.len());
        connected
            .into_iter()
            .chain(offline)
            .map(|m| self.presence.presence(m, now_ms))
            .collect()
    }
}

/// A room's (members, connected members), for its digest.
fn counts(rooms: &room::RoomIndex, presence: &presence::PresenceBook, room: &str) -> (u32, u32) {
    let members = rooms.member_count(room);
    let online = rooms
        .member_names(room)
        .filter(|m| presence.is_connected(m))
        .count();
    (members as u32, online as u32)
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`State::local_changes`], for a read that may apply later.
    fn local_changes(&self) -> u64 {
        self.lock().local_changes
    }

    /// Wakes the digest task when `routing` started a digest.
    fn note_digest(&self, routing: &Routing) {
        if routing.started {
            self.digest_started.notify_one();
        }
    }

    /// The user's signed-in sessions on this node.
    fn sessions_of(&self, user: &str) -> Vec<Arc<Session>> {
        self.lock()
            .sessions
            .get(user)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Publishes a change routed by [`State::route`]: `event` builds its
    /// announcement for each room that hears of it now.
    fn announce(&self, routing: Routing, event: impl Fn(&str) -> ChatEvent) {
        self.note_digest(&routing);
        for room in &routing.now {
            self.hub.publish(&room_topic(room), event(room));
        }
    }

    /// Publishes the digests due at `now_ms`.
    fn send_due_digests(&self, now_ms: u64) {
        let events = {
            let mut guard = self.lock();
            let State {
                rooms,
                presence,
                digests,
                ..
            } = &mut *guard;
            digests.take_due(now_ms, |room| counts(rooms, presence, room))
        };
        for event in events {
            let topic = match &event {
                ChatEvent::Members { room, .. } => room_topic(room),
                _ => continue,
            };
            self.hub.publish(&topic, event);
        }
    }

    /// Called by the publish loop as it publishes.
    fn note_last_seq(&self, room: &str, seq: u64) {
        self.lock().rooms.set_last_seq(room, seq);
    }
}
