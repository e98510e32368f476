//! The chat repository on PostgreSQL: [`PgChat`], the same [`ChatStore`]
//! as SQLite's [`crate::chat::Chat`], tested by the same suite
//! (`chat_suite.rs`).
//!
//! Room messages are numbered in the inserting transaction (migration
//! `postgres/0002_chat.sql`): the room's `last_seq` is raised by the
//! batch's count, which locks the room's row until commit, so a fleet's
//! daemons appending to one room take turns and the numbers have no gap
//! and no repeat. One batch is one transaction and one multi-row INSERT
//! per room (`UNNEST`): the daemon's group commit keeps its shape. The
//! transaction also announces each room's new messages on [`CHANNEL`]
//! (carried whole when they fit, else their range: [`Change::stored`]),
//! delivered to every node's listener on commit.

use postgres::{Client, Row};

use crate::chat::{ChatStore, DirectMessage, Message, Room, page};
use crate::{Result, now_ms};

/// Chat queries over one PostgreSQL connection.
pub struct PgChat<'c> {
    client: &'c mut Client,
}

impl<'c> PgChat<'c> {
    /// The repository over `client`.
    pub fn new(client: &'c mut Client) -> Self {
        PgChat { client }
    }
}

/// The channel chat's changes are announced on at commit
/// ([`super::notify`]), one [`Change`] per notification.
pub const CHANNEL: &str = "agora_chat";

/// A change of chat's tables another node must follow, as announced on
/// [`CHANNEL`]. It names what changed, never the data (a payload holds
/// 8,000 bytes at most): the listener reads what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `m:FIRST:LAST:ROOM`: a room's messages FIRST..=LAST were stored
    /// (fetch them with `history_since(room, FIRST - 1)`).
    Messages {
        /// The room.
        room: String,
        /// The first new sequence number.
        first: i64,
        /// The last.
        last: i64,
    },
    /// `d:ID`: a private message was stored ([`PgChat::direct_by_id`]).
    Direct(i64),
    /// `r:ROOM`: a room's topic or members changed
    /// ([`PgChat::room_state`]).
    Room(String),
    /// `u:USER`: a user's presence, away message or account changed
    /// ([`PgChat::presence_of`]).
    User(String),
    /// `M:JSON`: a room's messages were stored, carried whole (a batch
    /// that fits in [`INLINE_MAX`] bytes): the listeners publish them
    /// without reading the table. `{"room":…,"rows":[[seq, sender,
    /// text, action, ts_ms],…]}`.
    Stored(Vec<Message>),
}

/// The most bytes of a payload carrying its messages; a larger batch is
/// announced as a range ([`Change::Messages`]). PostgreSQL refuses
/// payloads of 8,000 bytes or more, and the sending node's name and `|`
/// go first.
pub const INLINE_MAX: usize = 7_500;

impl Change {
    /// The payload that announces it.
    pub fn payload(&self) -> String {
        match self {
            Change::Messages { room, first, last } => format!("m:{first}:{last}:{room}"),
            Change::Direct(id) => format!("d:{id}"),
            Change::Room(room) => format!("r:{room}"),
            Change::User(user) => format!("u:{user}"),
            Change::Stored(rows) => {
                let room = rows.first().map_or("", |m| m.room.as_str());
                let rows: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|m| serde_json::json!([m.seq, m.sender, m.text, m.action, m.ts_ms]))
                    .collect();
                format!("M:{}", serde_json::json!({ "room": room, "rows": rows }))
            }
        }
    }

    /// How `rows` (one room's, just stored, in order) are announced:
    /// carried whole when they fit, else as their range.
    pub fn stored(rows: &[Message]) -> Option<Change> {
        let (first, last) = (rows.first()?, rows.last()?);
        let whole = Change::Stored(rows.to_vec());
        if whole.payload().len() <= INLINE_MAX {
            return Some(whole);
        }
        Some(Change::Messages {
            room: first.room.clone(),
            first: first.seq,
            last: last.seq,
        })
    }

    fn parse_stored(json: &str) -> Option<Change> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let room = value.get("room")?.as_str()?;
        let rows = value.get("rows")?.as_array()?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let [seq, sender, text, action, ts_ms] = row.as_array()?.as_slice() else {
                return None;
            };
            out.push(Message {
                room: room.to_owned(),
                seq: seq.as_i64()?,
                sender: sender.as_str()?.to_owned(),
                text: text.as_str()?.to_owned(),
                action: action.as_bool()?,
                ts_ms: ts_ms.as_i64()?,
            });
        }
        (!out.is_empty()).then_some(Change::Stored(out))
    }

    /// Reads a payload; `None` when it is none of these (a newer node's
    /// kind: skipped).
    pub fn parse(payload: &str) -> Option<Change> {
        let (kind, rest) = payload.split_once(':')?;
        match kind {
            "m" => {
                let mut parts = rest.splitn(3, ':');
                let first = parts.next()?.parse().ok()?;
                let last = parts.next()?.parse().ok()?;
                let room = parts.next()?.to_owned();
                Some(Change::Messages { room, first, last })
            }
            "d" => rest.parse().ok().map(Change::Direct),
            "r" => Some(Change::Room(rest.to_owned())),
            "u" => Some(Change::User(rest.to_owned())),
            "M" => Change::parse_stored(rest),
            _ => None,
        }
    }
}

/// A user's presence as the fleet's tables hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPresence {
    /// Connected to a node other than the asking one.
    pub online_elsewhere: bool,
    /// The away message.
    pub away: Option<String>,
    /// When last seen, ms.
    pub last_seen_ms: i64,
}

impl PgChat<'_> {
    /// Records that `user` is (or no longer is) connected to `node`, and
    /// announces it.
    ///
    /// # Errors
    /// On database errors.
    pub fn set_online(&mut self, node: &str, user: &str, online: bool) -> Result<()> {
        let mut tx = self.client.transaction()?;
        if online {
            tx.execute(
                "INSERT INTO chat_online (node_id, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&node, &user],
            )?;
        } else {
            tx.execute(
                "DELETE FROM chat_online WHERE node_id = $1 AND user_name = $2",
                &[&node, &user],
            )?;
        }
        super::notify::send(&mut tx, CHANNEL, &Change::User(user.to_owned()).payload())?;
        tx.commit()?;
        Ok(())
    }

    /// A user's presence as seen from `node` (`None`: no such user).
    ///
    /// # Errors
    /// On database errors.
    pub fn presence_of(&mut self, user: &str, node: &str) -> Result<Option<UserPresence>> {
        Ok(self
            .client
            .query_opt(
                "SELECT EXISTS (SELECT 1 FROM chat_online WHERE user_name = u.name AND node_id <> $2),                         away_message, last_seen_ms                  FROM users u WHERE name = $1",
                &[&user, &node],
            )?
            .map(|r| UserPresence {
                online_elsewhere: r.get(0),
                away: r.get(1),
                last_seen_ms: r.get(2),
            }))
    }

    /// The users connected to nodes other than `node`.
    ///
    /// # Errors
    /// On database errors.
    pub fn online_elsewhere(&mut self, node: &str) -> Result<Vec<String>> {
        Ok(self
            .client
            .query(
                "SELECT DISTINCT user_name FROM chat_online WHERE node_id <> $1 ORDER BY user_name",
                &[&node],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// A room's topic and members (`None`: no such room).
    ///
    /// # Errors
    /// On database errors.
    pub fn room_state(&mut self, room: &str) -> Result<Option<(String, Vec<String>)>> {
        let Some(topic) = self
            .client
            .query_opt("SELECT topic FROM rooms WHERE name = $1", &[&room])?
        else {
            return Ok(None);
        };
        let members = self
            .client
            .query(
                "SELECT user_name FROM memberships WHERE room = $1 ORDER BY user_name",
                &[&room],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(Some((topic.get(0), members)))
    }

    /// A private message by id.
    ///
    /// # Errors
    /// On database errors.
    pub fn direct_by_id(&mut self, id: i64) -> Result<Option<DirectMessage>> {
        Ok(self
            .client
            .query_opt(
                &format!("SELECT {DIRECT} FROM direct_messages WHERE id = $1"),
                &[&id],
            )?
            .map(|r| direct(&r)))
    }

    /// Runs `f` in a transaction and announces `change` in it.
    fn announced<T>(
        &mut self,
        change: impl FnOnce(&T) -> Option<Change>,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.client.transaction()?;
        let out = f(&mut tx)?;
        if let Some(change) = change(&out) {
            super::notify::send(&mut tx, CHANNEL, &change.payload())?;
        }
        tx.commit()?;
        Ok(out)
    }
}

const MESSAGE: &str = "room, seq, sender, text, action, ts_ms";
const DIRECT: &str = "id, sender, recipient, text, action, ts_ms";

fn message(row: &Row) -> Message {
    Message {
        room: row.get(0),
        seq: row.get(1),
        sender: row.get(2),
        text: row.get(3),
        action: row.get(4),
        ts_ms: row.get(5),
    }
}

fn direct(row: &Row) -> DirectMessage {
    DirectMessage {
        id: row.get(0),
        sender: row.get(1),
        recipient: row.get(2),
        text: row.get(3),
        action: row.get(4),
        ts_ms: row.get(5),
    }
}

impl ChatStore for PgChat<'_> {
    fn ensure_room(&mut self, name: &str) -> Result<()> {
        let change = Change::Room(name.to_owned());
        self.announced(
            |new: &bool| new.then_some(change),
            |tx| {
                Ok(tx.execute(
                    "INSERT INTO rooms (name, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&name, &now_ms()],
                )? == 1)
            },
        )?;
        Ok(())
    }

    fn join(&mut self, room: &str, user: &str) -> Result<bool> {
        let change = Change::Room(room.to_owned());
        self.announced(
            |new: &bool| new.then_some(change),
            |tx| {
                Ok(tx.execute(
                    "INSERT INTO memberships (room, user_name, joined_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&room, &user, &now_ms()],
                )? == 1)
            },
        )
    }

    fn leave(&mut self, room: &str, user: &str) -> Result<bool> {
        let change = Change::Room(room.to_owned());
        self.announced(
            |gone: &bool| gone.then_some(change),
            |tx| {
                Ok(tx.execute(
                    "DELETE FROM memberships WHERE room = $1 AND user_name = $2",
                    &[&room, &user],
                )? == 1)
            },
        )
    }

    fn set_topic(&mut self, room: &str, topic: &str) -> Result<()> {
        let change = Change::Room(room.to_owned());
        self.announced(
            |()| Some(change),
            |tx| {
                tx.execute(
                    "UPDATE rooms SET topic = $2 WHERE name = $1",
                    &[&room, &topic],
                )?;
                Ok(())
            },
        )
    }

    fn rooms(&mut self) -> Result<Vec<Room>> {
        Ok(self
            .client
            .query("SELECT name, topic FROM rooms ORDER BY name", &[])?
            .iter()
            .map(|r| Room {
                name: r.get(0),
                topic: r.get(1),
            })
            .collect())
    }

    fn memberships(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self
            .client
            .query(
                "SELECT room, user_name FROM memberships ORDER BY room, user_name",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn last_seqs(&mut self) -> Result<Vec<(String, i64)>> {
        Ok(self
            .client
            .query(
                "SELECT name, last_seq FROM rooms WHERE last_seq > 0 ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn append_messages(&mut self, messages: &mut [Message]) -> Result<()> {
        self.store_batch(messages, &mut [])
    }

    fn store_batch(
        &mut self,
        messages: &mut [Message],
        directs: &mut [DirectMessage],
    ) -> Result<()> {
        // Rooms in order of first appearance, each with its messages'
        // positions in the batch.
        let mut rooms: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            match rooms.iter_mut().find(|(r, _)| *r == m.room) {
                Some((_, at)) => at.push(i),
                None => rooms.push((m.room.clone(), vec![i])),
            }
        }
        // Rooms locked in name order: two batches naming the same rooms
        // cannot wait on each other.
        rooms.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tx = self.client.transaction()?;
        for (room, at) in &rooms {
            let count = at.len() as i64;
            let last: i64 = tx
                .query_one(
                    "INSERT INTO rooms (name, created_at_ms, last_seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET last_seq = rooms.last_seq + EXCLUDED.last_seq \
                     RETURNING last_seq",
                    &[room, &now_ms(), &count],
                )?
                .get(0);
            let first = last - count + 1;
            let (mut seqs, mut senders, mut texts, mut actions, mut times) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (n, &i) in at.iter().enumerate() {
                messages[i].seq = first + n as i64;
            }
            for &i in at {
                let m = &messages[i];
                seqs.push(m.seq);
                senders.push(m.sender.as_str());
                texts.push(m.text.as_str());
                actions.push(m.action);
                times.push(m.ts_ms);
            }
            tx.execute(
                "INSERT INTO messages (room, seq, sender, text, action, ts_ms) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::bigint[])",
                &[room, &seqs, &senders, &texts, &actions, &times],
            )?;
            let rows: Vec<Message> = at.iter().map(|&i| messages[i].clone()).collect();
            if let Some(change) = Change::stored(&rows) {
                super::notify::send(&mut tx, CHANNEL, &change.payload())?;
            }
        }
        for m in directs.iter_mut() {
            m.id = tx
                .query_one(
                    "INSERT INTO direct_messages (sender, recipient, text, action, ts_ms) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&m.sender, &m.recipient, &m.text, &m.action, &m.ts_ms],
                )?
                .get(0);
            super::notify::send(&mut tx, CHANNEL, &Change::Direct(m.id).payload())?;
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_direct(&mut self, m: &DirectMessage) -> Result<i64> {
        Ok(self
            .client
            .query_one(
                "INSERT INTO direct_messages (sender, recipient, text, action, ts_ms) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&m.sender, &m.recipient, &m.text, &m.action, &m.ts_ms],
            )?
            .get(0))
    }

    fn history_before(
        &mut self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let rows = self.client.query(
            &format!(
                "SELECT {MESSAGE} FROM messages WHERE room = $1 AND seq < $2 \
                 ORDER BY seq DESC LIMIT $3"
            ),
            &[&room, &before.unwrap_or(i64::MAX), &(i64::from(limit) + 1)],
        )?;
        let (mut messages, more) = page(rows.iter().map(message).collect(), limit);
        messages.reverse();
        Ok((messages, more))
    }

    fn history_since(
        &mut self,
        room: &str,
        since: i64,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let rows = self.client.query(
            &format!(
                "SELECT {MESSAGE} FROM messages WHERE room = $1 AND seq > $2 \
                 ORDER BY seq ASC LIMIT $3"
            ),
            &[&room, &since, &(i64::from(limit) + 1)],
        )?;
        Ok(page(rows.iter().map(message).collect(), limit))
    }

    fn take_unread(&mut self, user: &str, limit: u32) -> Result<Vec<DirectMessage>> {
        // One statement: the rows it marks are the rows it returns, even
        // with another node taking the same user's messages at once.
        let rows = self.client.query(
            &format!(
                "UPDATE direct_messages SET read = TRUE WHERE id IN ( \
                   SELECT id FROM direct_messages WHERE recipient = $1 AND NOT read \
                   ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 RETURNING {DIRECT}"
            ),
            &[&user, &i64::from(limit)],
        )?;
        let mut messages: Vec<DirectMessage> = rows.iter().map(direct).collect();
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }

    fn unread_count(&mut self, user: &str) -> Result<u64> {
        let n: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM direct_messages WHERE recipient = $1 AND NOT read",
                &[&user],
            )?
            .get(0);
        Ok(n as u64)
    }

    fn conversation(&mut self, a: &str, b: &str, limit: u32) -> Result<Vec<DirectMessage>> {
        let rows = self.client.query(
            &format!(
                "SELECT {DIRECT} FROM direct_messages \
                 WHERE (sender = $1 AND recipient = $2) OR (sender = $2 AND recipient = $1) \
                 ORDER BY id DESC LIMIT $3"
            ),
            &[&a, &b, &i64::from(limit)],
        )?;
        let mut messages: Vec<DirectMessage> = rows.iter().map(direct).collect();
        messages.reverse();
        self.client.execute(
            "UPDATE direct_messages SET read = TRUE WHERE recipient = $1 AND sender = $2 AND NOT read",
            &[&a, &b],
        )?;
        Ok(messages)
    }

    fn touch_last_seen(&mut self, user: &str, ts_ms: i64) -> Result<()> {
        self.client.execute(
            "UPDATE users SET last_seen_ms = $2 WHERE name = $1",
            &[&user, &ts_ms],
        )?;
        Ok(())
    }

    fn users_last_seen(&mut self) -> Result<Vec<(String, i64)>> {
        Ok(self
            .client
            .query("SELECT name, last_seen_ms FROM users ORDER BY name", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn set_away(&mut self, user: &str, message: Option<&str>) -> Result<()> {
        let change = Change::User(user.to_owned());
        self.announced(
            |()| Some(change),
            |tx| {
                tx.execute(
                    "UPDATE users SET away_message = $2 WHERE name = $1",
                    &[&user, &message],
                )?;
                Ok(())
            },
        )
    }

    fn users_away(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self
            .client
            .query(
                "SELECT name, away_message FROM users WHERE away_message IS NOT NULL ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn user_exists(&mut self, name: &str) -> Result<bool> {
        Ok(self
            .client
            .query_opt("SELECT 1 FROM users WHERE name = $1", &[&name])?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn changes_read_back_from_their_payloads() {
        for change in [
            Change::Messages {
                room: "a:b".into(),
                first: 3,
                last: 9,
            },
            Change::Direct(42),
            Change::Room("general".into()),
            Change::User("ann".into()),
            Change::Stored(vec![
                Message {
                    room: "a:b".into(),
                    seq: 7,
                    sender: "ann".into(),
                    text: "quote \" colon : newline \n tab \t é 🎉".into(),
                    action: false,
                    ts_ms: 1_700_000_000_000,
                },
                Message {
                    room: "a:b".into(),
                    seq: 8,
                    sender: "bob".into(),
                    text: String::new(),
                    action: true,
                    ts_ms: 1_700_000_000_001,
                },
            ]),
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        for junk in [
            "",
            "m:1:2",
            "d:x",
            "z:1",
            "m:a:2:r",
            "nocolon",
            "M:",
            "M:{}",
            "M:{\"room\":\"a\",\"rows\":[]}",
            "M:{\"room\":\"a\",\"rows\":[[1,\"ann\",\"hi\",false]]}",
        ] {
            assert_eq!(Change::parse(junk), None, "{junk}");
        }
    }

    use super::*;
    use crate::{Access, Pg, Storage};

    #[test]
    fn each_committed_batch_announces_its_rooms_ranges() {
        let pg = Pg::connect(&crate::pg::testing::database()).unwrap();
        let mut listener = pg.listener(&[CHANNEL]).unwrap();
        let storage = Storage::Postgres(pg);
        let m = |room: &str| Message {
            room: room.into(),
            seq: 0,
            sender: "ann".into(),
            text: "hi".into(),
            action: false,
            ts_ms: 1,
        };
        let mut batch = vec![m("general"), m("dev"), m("general")];
        storage
            .chat(Access::Write, |c| c.append_messages(&mut batch))
            .unwrap();
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.len() < 2 && start.elapsed() < Duration::from_secs(10) {
            got.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        let changes: Vec<Change> = got
            .iter()
            .map(|n| Change::parse(&n.payload).unwrap())
            .collect();
        // Rooms in name order (the order their rows are locked), each
        // batch carried whole: it fits.
        let numbered = |room: &str, seq: i64| Message { seq, ..m(room) };
        assert_eq!(
            changes,
            vec![
                Change::Stored(vec![numbered("dev", 1)]),
                Change::Stored(vec![numbered("general", 1), numbered("general", 2)]),
            ]
        );
        // A batch too large to carry is announced as its range.
        let mut big: Vec<Message> = (0..40)
            .map(|_| Message {
                text: "x".repeat(300),
                ..m("big")
            })
            .collect();
        storage
            .chat(Access::Write, |c| c.append_messages(&mut big))
            .unwrap();
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
            got.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        assert!(got[0].payload.len() < 8_000);
        assert_eq!(
            Change::parse(&got[0].payload),
            Some(Change::Messages {
                room: "big".into(),
                first: 1,
                last: 40
            })
        );
        assert!(got.iter().all(|n| n.channel == CHANNEL));
    }
}
