//! The chat repository: rooms, memberships, messages, private messages.
//!
//! Room messages are written in batches ([`Chat::insert_messages`] inside
//! one transaction — the daemon's group commit); everything else is a
//! single statement.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Result, now_ms};

/// A room with its member count and newest sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// Name.
    pub name: String,
    /// Topic ('' when none).
    pub topic: String,
}

/// A stored room message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Room.
    pub room: String,
    /// Sequence number within the room.
    pub seq: i64,
    /// Sender's name.
    pub sender: String,
    /// Text.
    pub text: String,
    /// `/me` action.
    pub action: bool,
    /// Server time, ms.
    pub ts_ms: i64,
}

/// A stored private message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectMessage {
    /// Id (assigned by SQLite; 0 before insertion).
    pub id: i64,
    /// Sender's name.
    pub sender: String,
    /// Recipient's name.
    pub recipient: String,
    /// Text.
    pub text: String,
    /// `/me` action.
    pub action: bool,
    /// Server time, ms.
    pub ts_ms: i64,
}

/// What the chat service needs of its storage, whichever backend holds
/// it: [`Chat`] on SQLite, [`crate::pg::chat::PgChat`] on a fleet's
/// PostgreSQL; one test suite (`chat_suite.rs`) runs on both.
pub trait ChatStore {
    /// Creates the room if it does not exist.
    fn ensure_room(&mut self, name: &str) -> Result<()>;
    /// Adds a membership; `true` if it is new.
    fn join(&mut self, room: &str, user: &str) -> Result<bool>;
    /// Removes a membership; `true` if there was one.
    fn leave(&mut self, room: &str, user: &str) -> Result<bool>;
    /// Sets a room's topic.
    fn set_topic(&mut self, room: &str, topic: &str) -> Result<()>;
    /// Every room.
    fn rooms(&mut self) -> Result<Vec<Room>>;
    /// Every membership, as (room, user) pairs.
    fn memberships(&mut self) -> Result<Vec<(String, String)>>;
    /// The newest sequence number of every room that has messages.
    fn last_seqs(&mut self) -> Result<Vec<(String, i64)>>;
    /// Stores room messages, numbering each in its room (the `seq` given
    /// is ignored and replaced) in one transaction: numbers follow the
    /// room's newest with no gap and no repeat, even with several writers
    /// (a fleet's daemons) appending to one room at once.
    fn append_messages(&mut self, messages: &mut [Message]) -> Result<()>;
    /// A group commit's batch in one transaction: room messages numbered
    /// as [`ChatStore::append_messages`] does, and private messages,
    /// each given its id. All or nothing.
    fn store_batch(
        &mut self,
        messages: &mut [Message],
        directs: &mut [DirectMessage],
    ) -> Result<()>;
    /// Stores a private message; returns its id.
    fn insert_direct(&mut self, m: &DirectMessage) -> Result<i64>;
    /// Up to `limit` messages before `before` (or the newest), oldest
    /// first, and whether older ones exist.
    fn history_before(
        &mut self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)>;
    /// Up to `limit` messages after `since`, oldest first, and whether
    /// more follow.
    fn history_since(&mut self, room: &str, since: i64, limit: u32)
    -> Result<(Vec<Message>, bool)>;
    /// The oldest `limit` unread private messages to `user`, marked read.
    fn take_unread(&mut self, user: &str, limit: u32) -> Result<Vec<DirectMessage>>;
    /// How many private messages to `user` are unread.
    fn unread_count(&mut self, user: &str) -> Result<u64>;
    /// The newest `limit` messages between `a` and `b`, oldest first; the
    /// ones to `a` are marked read.
    fn conversation(&mut self, a: &str, b: &str, limit: u32) -> Result<Vec<DirectMessage>>;
    /// Records when a user was last connected.
    fn touch_last_seen(&mut self, user: &str, ts_ms: i64) -> Result<()>;
    /// Every user's name and last-seen time.
    fn users_last_seen(&mut self) -> Result<Vec<(String, i64)>>;
    /// Sets (or, with `None`, clears) a user's away message.
    fn set_away(&mut self, user: &str, message: Option<&str>) -> Result<()>;
    /// Every user that is away, with the message.
    fn users_away(&mut self) -> Result<Vec<(String, String)>>;
    /// Whether a user with this name exists.
    fn user_exists(&mut self, name: &str) -> Result<bool>;
}

impl ChatStore for Chat<'_> {
    fn ensure_room(&mut self, name: &str) -> Result<()> {
        Chat::ensure_room(self, name)
    }
    fn join(&mut self, room: &str, user: &str) -> Result<bool> {
        Chat::join(self, room, user)
    }
    fn leave(&mut self, room: &str, user: &str) -> Result<bool> {
        Chat::leave(self, room, user)
    }
    fn set_topic(&mut self, room: &str, topic: &str) -> Result<()> {
        Chat::set_topic(self, room, topic)
    }
    fn rooms(&mut self) -> Result<Vec<Room>> {
        Chat::rooms(self)
    }
    fn memberships(&mut self) -> Result<Vec<(String, String)>> {
        Chat::memberships(self)
    }
    fn last_seqs(&mut self) -> Result<Vec<(String, i64)>> {
        Chat::last_seqs(self)
    }
    fn append_messages(&mut self, messages: &mut [Message]) -> Result<()> {
        Chat::append_messages(self, messages)
    }
    fn store_batch(
        &mut self,
        messages: &mut [Message],
        directs: &mut [DirectMessage],
    ) -> Result<()> {
        Chat::store_batch(self, messages, directs)
    }
    fn insert_direct(&mut self, m: &DirectMessage) -> Result<i64> {
        Chat::insert_direct(self, m)
    }
    fn history_before(
        &mut self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        Chat::history_before(self, room, before, limit)
    }
    fn history_since(
        &mut self,
        room: &str,
        since: i64,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        Chat::history_since(self, room, since, limit)
    }
    fn take_unread(&mut self, user: &str, limit: u32) -> Result<Vec<DirectMessage>> {
        Chat::take_unread(self, user, limit)
    }
    fn unread_count(&mut self, user: &str) -> Result<u64> {
        Chat::unread_count(self, user)
    }
    fn conversation(&mut self, a: &str, b: &str, limit: u32) -> Result<Vec<DirectMessage>> {
        Chat::conversation(self, a, b, limit)
    }
    fn touch_last_seen(&mut self, user: &str, ts_ms: i64) -> Result<()> {
        Chat::touch_last_seen(self, user, ts_ms)
    }
    fn users_last_seen(&mut self) -> Result<Vec<(String, i64)>> {
        Chat::users_last_seen(self)
    }
    fn set_away(&mut self, user: &str, message: Option<&str>) -> Result<()> {
        Chat::set_away(self, user, message)
    }
    fn users_away(&mut self) -> Result<Vec<(String, String)>> {
        Chat::users_away(self)
    }
    fn user_exists(&mut self, name: &str) -> Result<bool> {
        Chat::user_exists(self, name)
    }
}

/// Chat queries over one connection.
pub struct Chat<'c> {
    conn: &'c Connection,
}

impl<'c> Chat<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Chat { conn }
    }

    /// Creates the room if it does not exist.
    pub fn ensure_room(&self, name: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO rooms (name, created_at_ms) VALUES (?1, ?2)",
            params![name, now_ms()],
        )?;
        Ok(())
    }

    /// Adds a membership; `true` if it is new.
    pub fn join(&self, room: &str, user: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "INSERT OR IGNORE INTO memberships (room, user_name, joined_at_ms) VALUES (?1, ?2, ?3)",
            params![room, user, now_ms()],
        )? == 1)
    }

    /// Removes a membership; `true` if there was one.
    pub fn leave(&self, room: &str, user: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM memberships WHERE room = ?1 AND user_name = ?2",
            params![room, user],
        )? == 1)
    }

    /// Sets a room's topic.
    pub fn set_topic(&self, room: &str, topic: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE rooms SET topic = ?2 WHERE name = ?1",
            params![room, topic],
        )?;
        Ok(())
    }

    /// Every room.
    pub fn rooms(&self) -> Result<Vec<Room>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, topic FROM rooms ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(Room {
                name: r.get(0)?,
                topic: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every membership, as (room, user) pairs.
    pub fn memberships(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT room, user_name FROM memberships ORDER BY room, user_name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest sequence number of every room that has messages.
    pub fn last_seqs(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT room, max(seq) FROM messages GROUP BY room")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores room messages (their `seq` already assigned). Call inside a
    /// transaction to commit a batch at once.
    pub fn insert_messages(&self, messages: &[Message]) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO messages (room, seq, sender, text, action, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for m in messages {
            stmt.execute(params![m.room, m.seq, m.sender, m.text, m.action, m.ts_ms])?;
        }
        Ok(())
    }

    /// Stores room messages numbered after each room's newest (see
    /// [`ChatStore::append_messages`]), inside a savepoint: all or none,
    /// whether or not the caller is in a transaction. The daemon's single
    /// writer numbers messages in memory and calls
    /// [`Chat::insert_messages`]; this is the form a fleet's several
    /// writers need, kept here so both backends pass one suite.
    pub fn append_messages(&self, messages: &mut [Message]) -> Result<()> {
        self.conn.execute_batch("SAVEPOINT chat_append")?;
        let numbered = (|| -> Result<()> {
            let mut next: std::collections::HashMap<String, i64> = Default::default();
            for m in messages.iter_mut() {
                let seq = match next.get_mut(&m.room) {
                    Some(seq) => seq,
                    None => {
                        let last: i64 = self.conn.query_row(
                            "SELECT coalesce(max(seq), 0) FROM messages WHERE room = ?1",
                            [&m.room],
                            |r| r.get(0),
                        )?;
                        next.entry(m.room.clone()).or_insert(last)
                    }
                };
                *seq += 1;
                m.seq = *seq;
            }
            self.insert_messages(messages)
        })();
        match numbered {
            Ok(()) => self.conn.execute_batch("RELEASE chat_append")?,
            Err(_) => self
                .conn
                .execute_batch("ROLLBACK TO chat_append; RELEASE chat_append")?,
        }
        numbered
    }

    /// [`ChatStore::store_batch`]: inside a savepoint, so all or none
    /// whether or not the caller is in a transaction.
    pub fn store_batch(
        &self,
        messages: &mut [Message],
        directs: &mut [DirectMessage],
    ) -> Result<()> {
        self.conn.execute_batch("SAVEPOINT chat_batch")?;
        let stored = (|| -> Result<()> {
            self.append_messages(messages)?;
            for d in directs.iter_mut() {
                d.id = self.insert_direct(d)?;
            }
            Ok(())
        })();
        match stored {
            Ok(()) => self.conn.execute_batch("RELEASE chat_batch")?,
            Err(_) => self
                .conn
                .execute_batch("ROLLBACK TO chat_batch; RELEASE chat_batch")?,
        }
        stored
    }

    /// Stores a private message; returns its id.
    pub fn insert_direct(&self, m: &DirectMessage) -> Result<i64> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO direct_messages (sender, recipient, text, action, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![m.sender, m.recipient, m.text, m.action, m.ts_ms])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Up to `limit` messages before `before` (or the newest), oldest
    /// first, and whether older ones exist.
    pub fn history_before(
        &self,
        room: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT room, seq, sender, text, action, ts_ms FROM messages
             WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![room, before.unwrap_or(i64::MAX), i64::from(limit) + 1],
            message_from_row,
        )?;
        let (mut messages, more) = page(rows.collect::<rusqlite::Result<_>>()?, limit);
        messages.reverse();
        Ok((messages, more))
    }

    /// Up to `limit` messages after `since`, oldest first, and whether
    /// more follow.
    pub fn history_since(
        &self,
        room: &str,
        since: i64,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT room, seq, sender, text, action, ts_ms FROM messages
             WHERE room = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![room, since, i64::from(limit) + 1], message_from_row)?;
        Ok(page(rows.collect::<rusqlite::Result<_>>()?, limit))
    }

    /// The oldest `limit` unread private messages to `user`, marked read.
    pub fn take_unread(&self, user: &str, limit: u32) -> Result<Vec<DirectMessage>> {
        let tx = self.conn.unchecked_transaction()?;
        let messages = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, sender, recipient, text, action, ts_ms FROM direct_messages
                 WHERE recipient = ?1 AND read = 0 ORDER BY id ASC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![user, limit], direct_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        if let Some(last) = messages.last() {
            tx.execute(
                "UPDATE direct_messages SET read = 1 WHERE recipient = ?1 AND read = 0 AND id <= ?2",
                params![user, last.id],
            )?;
        }
        tx.commit()?;
        Ok(messages)
    }

    /// How many private messages to `user` are unread.
    pub fn unread_count(&self, user: &str) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM direct_messages WHERE recipient = ?1 AND read = 0",
            [user],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// The newest `limit` messages between `a` and `b`, oldest first; the
    /// ones to `a` are marked read.
    pub fn conversation(&self, a: &str, b: &str, limit: u32) -> Result<Vec<DirectMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, sender, recipient, text, action, ts_ms FROM direct_messages
             WHERE (sender = ?1 AND recipient = ?2) OR (sender = ?2 AND recipient = ?1)
             ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![a, b, limit], direct_from_row)?;
        let mut messages: Vec<DirectMessage> = rows.collect::<rusqlite::Result<_>>()?;
        messages.reverse();
        self.conn.execute(
            "UPDATE direct_messages SET read = 1 WHERE recipient = ?1 AND sender = ?2 AND read = 0",
            params![a, b],
        )?;
        Ok(messages)
    }

    /// Records when a user was last connected.
    pub fn touch_last_seen(&self, user: &str, ts_ms: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET last_seen_ms = ?2 WHERE name = ?1",
            params![user, ts_ms],
        )?;
        Ok(())
    }

    /// Every user's name and last-seen time.
    pub fn users_last_seen(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, last_seen_ms FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets (or, with `None`, clears) a user's away message.
    pub fn set_away(&self, user: &str, message: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET away_message = ?2 WHERE name = ?1",
            params![user, message],
        )?;
        Ok(())
    }

    /// Every user that is away, with the message.
    pub fn users_away(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, away_message FROM users WHERE away_message IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a user with this name exists.
    pub fn user_exists(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

/// A page of `limit` from rows fetched with `limit + 1` (both backends'
/// history queries): the rows, and whether there were more.
pub(crate) fn page(mut rows: Vec<Message>, limit: u32) -> (Vec<Message>, bool) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    (rows, more)
}

fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        room: r.get(0)?,
        seq: r.get(1)?,
        sender: r.get(2)?,
        text: r.get(3)?,
        action: r.get(4)?,
        ts_ms: r.get(5)?,
    })
}

fn direct_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DirectMessage> {
    Ok(DirectMessage {
        id: r.get(0)?,
        sender: r.get(1)?,
        recipient: r.get(2)?,
        text: r.get(3)?,
        action: r.get(4)?,
        ts_ms: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;
    use crate::users::Users;

    fn msg(room: &str, seq: i64) -> Message {
        Message {
            room: room.into(),
            seq,
            sender: "alice".into(),
            text: format!("m{seq}"),
            action: false,
            ts_ms: seq,
        }
    }

    #[test]
    fn rooms_memberships_and_history() {
        let db = Db::open_in_memory().unwrap();
        db.write(|c| {
            Users::new(c).create("alice", "h")?;
            let chat = Chat::new(c);
            chat.ensure_room("general")?;
            chat.ensure_room("general")?;
            assert!(chat.join("general", "alice")?);
            assert!(!chat.join("general", "alice")?);
            chat.set_topic("general", "hi")?;
            let tx = c.unchecked_transaction()?;
            Chat::new(&tx)
                .insert_messages(&(1..=10).map(|s| msg("general", s)).collect::<Vec<_>>())?;
            tx.commit()?;
            Ok(())
        })
        .unwrap();
        db.read(|c| {
            let chat = Chat::new(c);
            assert_eq!(
                chat.rooms()?,
                vec![Room {
                    name: "general".into(),
                    topic: "hi".into()
                }]
            );
            assert_eq!(chat.last_seqs()?, vec![("general".into(), 10)]);
            let (page, more) = chat.history_before("general", None, 3)?;
            assert_eq!(
                page.iter().map(|m| m.seq).collect::<Vec<_>>(),
                vec![8, 9, 10]
            );
            assert!(more);
            let (page, more) = chat.history_before("general", Some(3), 5)?;
            assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
            assert!(!more);
            let (page, more) = chat.history_since("general", 7, 50)?;
            assert_eq!(
                page.iter().map(|m| m.seq).collect::<Vec<_>>(),
                vec![8, 9, 10]
            );
            assert!(!more);
            Ok(())
        })
        .unwrap();
        // The same seq twice is refused: no duplicates in history.
        let dup = db.write(|c| Chat::new(c).insert_messages(&[msg("general", 5)]));
        assert!(dup.is_err());
    }

    #[test]
    fn direct_messages_unread_then_read() {
        let db = Db::open_in_memory().unwrap();
        db.write(|c| {
            let chat = Chat::new(c);
            for (i, text) in ["a", "b", "c"].iter().enumerate() {
                chat.insert_direct(&DirectMessage {
                    id: 0,
                    sender: "bob".into(),
                    recipient: "alice".into(),
                    text: (*text).into(),
                    action: false,
                    ts_ms: i as i64,
                })?;
            }
            assert_eq!(chat.unread_count("alice")?, 3);
            let first = chat.take_unread("alice", 2)?;
            assert_eq!(
                first.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                vec!["a", "b"]
            );
            assert_eq!(chat.unread_count("alice")?, 1);
            let convo = chat.conversation("alice", "bob", 10)?;
            assert_eq!(convo.len(), 3);
            assert_eq!(chat.unread_count("alice")?, 0);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn away_messages_are_kept_until_cleared() {
        let db = Db::open_in_memory().unwrap();
        db.write(|c| {
            Users::new(c).create("alice", "h")?;
            Users::new(c).create("bob", "h")?;
            let chat = Chat::new(c);
            assert!(chat.users_away()?.is_empty());
            chat.set_away("alice", Some("lunch"))?;
            assert_eq!(chat.users_away()?, vec![("alice".into(), "lunch".into())]);
            chat.set_away("alice", None)?;
            assert!(chat.users_away()?.is_empty());
            Ok(())
        })
        .unwrap();
    }
}
