//! Chat across a fleet of daemons sharing PostgreSQL (docs/FLEET.md).
//!
//! Every change of chat's tables is announced on `agora_chat` in the
//! transaction that made it ([`Change`]); each node's listener thread
//! ([`listen`]) skips what its own node sent — already published — and
//! follows the rest:
//!
//! - room messages: read from the table and handed to the publish loop,
//!   which publishes each room in sequence order with this node's own
//!   ([`super::order`]);
//! - private messages: read by id and published to both users' topics;
//! - a room's members or topic: read and compared with this node's index;
//!   joins and leaves are announced to the room and the user's sessions
//!   here follow it;
//! - a user's presence: connected elsewhere, away message; announced like
//!   a local change.
//!
//! Presence is the `chat_online` table: a row per (node, user) while the
//! user has a connection to that node, written by [`heartbeats`]'s task
//! in the order changes happen. Each node refreshes its `fleet_nodes` row
//! every [`Limits::node_timeout`] / 5 and deletes those older than the
//! timeout, with their users' rows: a SIGKILLed node's users go offline
//! everywhere within the timeout and a beat.
//!
//! A listener whose connection breaks reconnects and catches up from the
//! tables ([`resync`]): messages after the newest published per room,
//! every room's members, who is connected elsewhere.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use agora_db::Pg;
use agora_db::pg::chat::{CHANNEL, Change, PgChat, UserPresence};
use agora_db::pg::notify::Listener;
use agora_wire::ChatEvent;
use agora_wire::chat::LeaveReason;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::digest::Change as Routed;
use super::writer::{Batch, direct_delivery, room_delivery};
use super::{Inner, room_topic, user_topic};

/// This node in the fleet: its name in the tables and its connection.
#[derive(Clone)]
pub(crate) struct Fleet {
    pub(crate) pg: Pg,
    pub(crate) node: String,
    /// Users whose `chat_online` row must be brought in line with this
    /// node's connections (see [`heartbeats`]).
    pub(crate) sync: mpsc::UnboundedSender<String>,
}

/// How long a read of a range may ask for at once.
const FETCH: u32 = 2_048;

/// The listener thread: follows other nodes' changes until `stop`
/// (`crate::storage::follow_notifications`: this node's own skipped, a
/// lost connection made again). A change that cannot be followed, and
/// every reconnection (notifications sent meanwhile are gone), is caught
/// up from the tables ([`resync`]), tried every 500 ms until it works.
pub(super) fn listen(
    inner: Arc<Inner>,
    fleet: Fleet,
    listener: Listener,
    publisher: mpsc::UnboundedSender<Batch>,
    stop: CancellationToken,
) {
    let catch_up = || loop {
        if stop.is_cancelled() {
            return false;
        }
        match resync(&inner, &fleet, &publisher) {
            Ok(()) => return true,
            Err(err) => {
                tracing::warn!(%err, "chat: cannot catch up with the fleet; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    crate::storage::follow_notifications(
        &fleet.pg,
        Some(listener),
        &[CHANNEL],
        &|| stop.is_cancelled(),
        &mut |notes| {
            let mut behind = false;
            let changes = notes.iter().filter_map(|n| Change::parse(&n.payload));
            for change in coalesce(changes) {
                if let Err(err) = follow(&inner, &fleet, &publisher, change) {
                    tracing::warn!(%err, "chat: cannot follow a change from another node; catching up");
                    behind = true;
                }
            }
            !behind || catch_up()
        },
        &mut || catch_up(),
    );
}

/// Merges each run of a room's message ranges that follow one another
/// into one range, so a listener that fell behind under load reads a
/// room's messages with one query instead of one per commit. Everything
/// else keeps its place.
fn coalesce(changes: impl IntoIterator<Item = Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for change in changes {
        if let (
            Some(Change::Messages { room, last, .. }),
            Change::Messages {
                room: next_room,
                first: next_first,
                last: next_last,
            },
        ) = (out.last_mut(), &change)
            && room == next_room
            && *next_first == *last + 1
        {
            *last = *next_last;
            continue;
        }
        out.push(change);
    }
    out
}

/// Applies one change another node made.
fn follow(
    inner: &Arc<Inner>,
    fleet: &Fleet,
    publisher: &mpsc::UnboundedSender<Batch>,
    change: Change,
) -> agora_db::Result<()> {
    match change {
        Change::Messages { room, first, last } => fetch(fleet, publisher, &room, first - 1, last),
        Change::Stored(rows) => {
            let _ = publisher.send(Batch::Fetched(
                rows.into_iter().map(room_delivery).collect(),
            ));
            Ok(())
        }
        Change::Direct(id) => {
            if let Some(row) = fleet.pg.with(|c| PgChat::new(c).direct_by_id(id))? {
                let _ = publisher.send(Batch::Fetched(vec![direct_delivery(row)]));
            }
            Ok(())
        }
        Change::Room(room) => loop {
            let seen = inner.local_changes();
            let Some((topic, members)) = fleet.pg.with(|c| PgChat::new(c).room_state(&room))?
            else {
                return Ok(());
            };
            if inner.follow_room(&room, &topic, members.into_iter().collect(), seen) {
                return Ok(());
            }
        },
        Change::User(user) => refresh_user(inner, fleet, &user),
    }
}

/// Reads `user`'s presence from the fleet's tables and follows it here
/// (read again when this node changed something meanwhile).
fn refresh_user(inner: &Inner, fleet: &Fleet, user: &str) -> agora_db::Result<()> {
    loop {
        let seen = inner.local_changes();
        let Some(p) = fleet
            .pg
            .with(|c| PgChat::new(c).presence_of(user, &fleet.node))?
        else {
            return Ok(());
        };
        if inner.follow_user(user, &p, seen) {
            return Ok(());
        }
    }
}

/// Reads `room`'s messages after `since` up to `last` and hands them to
/// the publish loop.
fn fetch(
    fleet: &Fleet,
    publisher: &mpsc::UnboundedSender<Batch>,
    room: &str,
    mut since: i64,
    last: i64,
) -> agora_db::Result<()> {
    use agora_db::chat::ChatStore as _;
    while since < last {
        let want = (last - since).min(i64::from(FETCH)) as u32;
        let (rows, _) = fleet
            .pg
            .with(|c| PgChat::new(c).history_since(room, since, want))?;
        let Some(newest) = rows.last().map(|m| m.seq) else {
            break;
        };
        since = newest;
        let _ = publisher.send(Batch::Fetched(
            rows.into_iter().map(room_delivery).collect(),
        ));
    }
    Ok(())
}

/// Catches up after missed notifications: every room's messages after
/// the newest published here, members and topics, who is connected to
/// other nodes.
fn resync(
    inner: &Arc<Inner>,
    fleet: &Fleet,
    publisher: &mpsc::UnboundedSender<Batch>,
) -> agora_db::Result<()> {
    use agora_db::chat::ChatStore as _;
    let node = fleet.node.clone();
    let (last_seqs, elsewhere) = loop {
        let seen = inner.local_changes();
        let (last_seqs, rooms, memberships, elsewhere) = fleet.pg.with(|c| {
            let mut chat = PgChat::new(c);
            Ok((
                chat.last_seqs()?,
                chat.rooms()?,
                chat.memberships()?,
                chat.online_elsewhere(&node)?,
            ))
        })?;
        let mut members: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (room, user) in memberships {
            members.entry(room).or_default().insert(user);
        }
        let current = rooms.into_iter().all(|room| {
            let m = members.remove(&room.name).unwrap_or_default();
            inner.follow_room(&room.name, &room.topic, m, seen)
        });
        if current {
            break (last_seqs, elsewhere);
        }
    };
    for (room, last) in last_seqs {
        let known = inner.lock().rooms.last_seq(&room) as i64;
        if last > known {
            fetch(fleet, publisher, &room, known, last)?;
        }
    }
    let elsewhere: BTreeSet<String> = elsewhere.into_iter().collect();
    let marked = inner.lock().presence.elsewhere_users();
    for user in marked.iter().chain(elsewhere.iter()) {
        refresh_user(inner, fleet, user)?;
    }
    tracing::info!("chat: caught up with the fleet");
    Ok(())
}

/// The task that keeps this node's rows: its heartbeat, its users'
/// `chat_online` rows (one user at a time, as [`Fleet::sync`] names
/// them, written as they are when the write happens), and the reaping of
/// dead nodes. On `stop` it removes this node's rows.
pub(super) async fn heartbeats(
    inner: Arc<Inner>,
    fleet: Fleet,
    mut sync: mpsc::UnboundedReceiver<String>,
    stop: CancellationToken,
) {
    let timeout = inner.limits.node_timeout;
    let beat = (timeout / 5).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut tick = tokio::time::interval(beat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            user = sync.recv() => {
                let Some(user) = user else { break };
                let (inner, fleet) = (inner.clone(), fleet.clone());
                let written = tokio::task::spawn_blocking(move || {
                    let here = inner.lock().presence.here(&user) > 0;
                    fleet.pg.with(|c| PgChat::new(c).set_online(&fleet.node, &user, here))
                })
                .await;
                if let Ok(Err(err)) = written {
                    tracing::warn!(%err, "chat: cannot record presence in the fleet");
                }
            }
            _ = tick.tick() => {
                let (inner, fleet) = (inner.clone(), fleet.clone());
                let beat = tokio::task::spawn_blocking(move || beat_once(&inner, &fleet, timeout)).await;
                if let Ok(Err(err)) = beat {
                    tracing::warn!(%err, "chat: fleet heartbeat failed");
                }
            }
        }
    }
    let node = fleet.node.clone();
    let left = tokio::task::spawn_blocking(move || {
        fleet.pg.with(|c| agora_db::pg::fleet::leave(c, &node))
    })
    .await;
    if let Ok(Err(err)) = left {
        tracing::warn!(%err, "chat: cannot remove this node from the fleet's tables");
    }
}

/// One heartbeat: refresh this node's row (re-registering with its users
/// when another node took it for dead), then reap the dead.
fn beat_once(inner: &Inner, fleet: &Fleet, timeout: Duration) -> agora_db::Result<()> {
    let alive = fleet
        .pg
        .with(|c| agora_db::pg::fleet::heartbeat(c, &fleet.node))?;
    if !alive {
        tracing::warn!(node = %fleet.node, "chat: this node was taken for dead; registering again");
        let here = inner.lock().presence.connected_here();
        fleet.pg.with(|c| {
            agora_db::pg::fleet::register(c, &fleet.node)?;
            let mut chat = PgChat::new(c);
            for user in &here {
                chat.set_online(&fleet.node, user, true)?;
            }
            Ok(())
        })?;
    }
    let reaped = fleet.pg.with(|c| agora_db::pg::fleet::reap(c, timeout))?;
    if !reaped.nodes.is_empty() {
        tracing::warn!(nodes = ?reaped.nodes, users = reaped.users.len(), "chat: nodes stopped beating; their users are offline");
    }
    // The other nodes hear of it from the announcement; this one skips
    // its own, so it follows the users here.
    for user in &reaped.users {
        refresh_user(inner, fleet, user)?;
    }
    Ok(())
}

impl Inner {
    /// Brings this node's index of `room` in line with the table: a new
    /// room, a new topic, members who joined or left on other nodes —
    /// announced here as if they happened here. `seen` is
    /// [`Inner::local_changes`] from before the table was read: when this
    /// node has changed something since, the read may predate it and
    /// would undo it (a user who just joined here, unsubscribed), so
    /// nothing is applied and `false` says to read again.
    pub(super) fn follow_room(
        &self,
        room: &str,
        topic: &str,
        members: BTreeSet<String>,
        seen: u64,
    ) -> bool {
        let now = crate::now_ms();
        let mut events = Vec::new();
        let mut follow = Vec::new();
        {
            let mut guard = self.lock();
            let state = &mut *guard;
            if state.local_changes != seen {
                return false;
            }
            if !state.rooms.exists(room) {
                state.rooms.add_room(room, topic);
            } else if state.rooms.topic(room) != topic {
                state.rooms.set_topic(room, topic);
                events.push((
                    room_topic(room),
                    ChatEvent::Topic {
                        room: room.to_owned(),
                        topic: topic.to_owned(),
                        by: String::new(),
                    },
                ));
            }
            let known: BTreeSet<String> = state.rooms.members(room).into_iter().collect();
            for user in members.difference(&known) {
                state.rooms.join(room, user);
                let routing = state.route(&[room.to_owned()], Routed::Joined(user), now);
                let presence = state.presence.presence(user, now);
                let event = |room: &str| ChatEvent::Joined {
                    room: room.to_owned(),
                    user: presence.clone(),
                };
                if routing.batched {
                    events.push((user_topic(user), event(room)));
                }
                events.extend(routing.now.iter().map(|r| (room_topic(r), event(r))));
                self.note_digest(&routing);
                follow.push((user.clone(), true));
            }
            for user in known.difference(&members) {
                state.rooms.leave(room, user);
                let routing = state.route(&[room.to_owned()], Routed::Left(user), now);
                let event = |room: &str| ChatEvent::Left {
                    room: room.to_owned(),
                    user: user.clone(),
                    reason: LeaveReason::Left,
                };
                if routing.batched {
                    events.push((user_topic(user), event(room)));
                }
                events.extend(routing.now.iter().map(|r| (room_topic(r), event(r))));
                self.note_digest(&routing);
                follow.push((user.clone(), false));
            }
        }
        // Publish before unsubscribing, so a leaver's own terminals here
        // see the leave too.
        for (topic, event) in events {
            self.hub.publish(&topic, event);
        }
        let topic = vec![room_topic(room)];
        for (user, joined) in follow {
            for s in self.sessions_of(&user) {
                if joined {
                    self.hub.subscribe(&s, &topic);
                    s.add_topics(&topic);
                } else {
                    self.hub.unsubscribe(s.id, &topic);
                    s.remove_topics(&topic);
                }
            }
        }
        true
    }

    /// Takes a user's presence from the fleet's tables: connected
    /// elsewhere, away message; announced to their rooms when it shows.
    /// `seen` as for [`Inner::follow_room`]: `false` when the read may be
    /// older than a change made here, and nothing was applied.
    pub(super) fn follow_user(&self, user: &str, p: &UserPresence, seen: u64) -> bool {
        let now = crate::now_ms();
        let (routing, event) = {
            let mut state = self.lock();
            if state.local_changes != seen {
                return false;
            }
            if !state.presence.knows(user) {
                state.presence.add_user(user, p.last_seen_ms.max(0) as u64);
            }
            let status = state.presence.set_elsewhere(user, p.online_elsewhere, now);
            let away = state.presence.away(user) != p.away.as_deref();
            if away {
                state.presence.set_away(user, p.away.clone());
            }
            if !status && !away {
                return true;
            }
            let rooms = state.rooms.rooms_of(user);
            let change = if status { Routed::Status } else { Routed::Away };
            let routing = state.route(&rooms, change, now);
            let presence = state.presence.presence(user, now);
            let offline = status && !state.presence.is_connected(user);
            (routing, (presence, offline))
        };
        let (presence, offline) = event;
        self.announce(routing, |room| {
            if offline {
                ChatEvent::Left {
                    room: room.to_owned(),
                    user: user.to_owned(),
                    reason: LeaveReason::Quit,
                }
            } else {
                ChatEvent::Presence {
                    room: room.to_owned(),
                    user: presence.clone(),
                }
            }
        });
        true
    }

    /// Asks for `user`'s `chat_online` row to be written (fleet only).
    pub(super) fn sync_presence(&self, user: &str) {
        if let Some(fleet) = self.fleet.get() {
            let _ = fleet.sync.send(user.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use agora_wire::UserInfo;

    use super::*;
    use crate::chat::{Chat, Limits};
    use agora_db::Storage;

    fn members(inner: &Inner, room: &str) -> Vec<String> {
        inner.lock().rooms.members(room)
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    fn messages(room: &str, first: i64, last: i64) -> Change {
        Change::Messages {
            room: room.into(),
            first,
            last,
        }
    }

    #[test]
    fn a_rooms_consecutive_ranges_are_read_as_one() {
        let got = coalesce([
            messages("a", 1, 3),
            messages("a", 4, 4),
            messages("a", 5, 9),
            messages("b", 1, 2),
            messages("b", 4, 5),
            Change::Room("a".into()),
            messages("a", 10, 11),
            Change::Direct(7),
        ]);
        assert_eq!(
            got,
            [
                messages("a", 1, 9),
                messages("b", 1, 2),
                messages("b", 4, 5),
                Change::Room("a".into()),
                messages("a", 10, 11),
                Change::Direct(7),
            ]
        );
    }

    /// The listener read a room before this node committed a join and a
    /// leave; applied afterwards, that read would undo them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_older_than_a_change_made_here_is_read_again_not_applied() {
        let dir = tempfile::tempdir().unwrap();
        let db = agora_db::Db::open(&dir.path().join("agora.db")).unwrap();
        for name in ["alice", "bob"] {
            db.write(|c| agora_db::users::Users::new(c).create(name, "x"))
                .unwrap();
        }
        let chat = Chat::open(
            Storage::Sqlite(db),
            Arc::new(crate::hub::Hub::default()),
            Limits::default(),
        )
        .unwrap();
        let inner = chat.inner.clone();
        let user = |id, name: &str| UserInfo {
            id,
            name: name.into(),
        };
        let seen = inner.local_changes();
        assert!(inner.follow_room("ops", "", names(&["alice"]), seen));
        assert_eq!(members(&inner, "ops"), ["alice"]);

        let before_join = inner.local_changes();
        chat.join(&user(2, "bob"), "ops").await.unwrap();
        assert!(!inner.follow_room("ops", "", names(&["alice"]), before_join));
        assert_eq!(members(&inner, "ops"), ["alice", "bob"], "bob stays");

        let before_leave = inner.local_changes();
        chat.leave(&user(2, "bob"), "ops").await.unwrap();
        assert!(!inner.follow_room("ops", "", names(&["alice", "bob"]), before_leave));
        assert_eq!(members(&inner, "ops"), ["alice"], "bob stays gone");

        let before_topic = inner.local_changes();
        chat.set_topic(&user(1, "alice"), "ops", "new".into())
            .await
            .unwrap();
        assert!(!inner.follow_room("ops", "old", names(&["alice"]), before_topic));
        assert_eq!(inner.lock().rooms.topic("ops"), "new");

        // A read made after them applies.
        let fresh = inner.local_changes();
        assert!(inner.follow_room("ops", "newer", names(&["alice", "carol"]), fresh));
        assert_eq!(members(&inner, "ops"), ["alice", "carol"]);
        assert_eq!(inner.lock().rooms.topic("ops"), "newer");
    }
}
