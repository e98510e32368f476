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
//! transaction also announces each room's new range on [`CHANNEL`],
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

/// The channel a batch's rooms are announced on at commit
/// ([`super::notify`]): one notification per room, `FIRST:LAST:ROOM`, the
/// range of sequence numbers it added (the other nodes fetch them with
/// `history_since`).
pub const CHANNEL: &str = "agora_chat";

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
        self.client.execute(
            "INSERT INTO rooms (name, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &now_ms()],
        )?;
        Ok(())
    }

    fn join(&mut self, room: &str, user: &str) -> Result<bool> {
        Ok(self.client.execute(
            "INSERT INTO memberships (room, user_name, joined_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&room, &user, &now_ms()],
        )? == 1)
    }

    fn leave(&mut self, room: &str, user: &str) -> Result<bool> {
        Ok(self.client.execute(
            "DELETE FROM memberships WHERE room = $1 AND user_name = $2",
            &[&room, &user],
        )? == 1)
    }

    fn set_topic(&mut self, room: &str, topic: &str) -> Result<()> {
        self.client.execute(
            "UPDATE rooms SET topic = $2 WHERE name = $1",
            &[&room, &topic],
        )?;
        Ok(())
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
            super::notify::send(&mut tx, CHANNEL, &format!("{first}:{last}:{room}"))?;
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
        self.client.execute(
            "UPDATE users SET away_message = $2 WHERE name = $1",
            &[&user, &message],
        )?;
        Ok(())
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
        let payloads: Vec<&str> = got.iter().map(|n| n.payload.as_str()).collect();
        // Rooms in name order (the order their rows are locked).
        assert_eq!(payloads, vec!["1:1:dev", "1:2:general"]);
        assert!(got.iter().all(|n| n.channel == CHANNEL));
    }
}
