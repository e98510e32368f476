//! The games' relay between nodes (schema `postgres/0011_game_relay.sql`,
//! docs/FLEET.md, "Games across nodes"): a live game is an actor on the
//! node hosting it (`games.node`); a player or spectator connected to
//! another node has their requests relayed there as *calls*, the host's
//! *answers* come back the same way, and the host's *events* reach every
//! other node. Each message is a row, announced on [`CHANNEL`] in the
//! transaction that inserts it ([`Note`]); what the rows hold is the
//! daemon's business (MessagePack).

use postgres::{Client, GenericClient};

use super::notify;
use crate::Result;

/// The channel relay messages are announced on.
pub const CHANNEL: &str = "agora_games";

/// What a relay message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request for the game's host.
    Call,
    /// The host's answer to a call.
    Answer,
    /// An event of a game, for every other node.
    Event,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Answer => "answer",
            Kind::Event => "event",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "call" => Some(Kind::Call),
            "answer" => Some(Kind::Answer),
            "event" => Some(Kind::Event),
            _ => None,
        }
    }
}

/// A notification on [`CHANNEL`]: which row, of what kind, for which node
/// (for an event: the node that sent it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The kind.
    pub kind: Kind,
    /// The row.
    pub id: i64,
    /// The node it is for (calls and answers) or from (events).
    pub node: String,
}

impl Note {
    /// The notification's payload.
    pub fn payload(&self) -> String {
        format!("{}:{}:{}", self.kind.as_str(), self.id, self.node)
    }

    /// Reads a payload; `None` for anything else.
    pub fn parse(payload: &str) -> Option<Note> {
        let mut parts = payload.splitn(3, ':');
        let kind = Kind::parse(parts.next()?)?;
        let id = parts.next()?.parse().ok()?;
        let node = parts.next()?.to_owned();
        Some(Note { kind, id, node })
    }
}

/// Stores a message of `kind` for `node` (an event: for everyone, `node`
/// being the sender) and announces it, in one transaction; returns its
/// id.
///
/// # Errors
/// On database errors.
pub fn post(client: &mut Client, kind: Kind, node: &str, body: &[u8], now_ms: i64) -> Result<i64> {
    let mut tx = client.transaction()?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO game_relay (kind, node, origin, body, created_at_ms) \
             VALUES ($1, $2, coalesce(current_setting('agora.node', true), ''), $3, $4) \
             RETURNING id",
            &[&kind.as_str(), &node, &body, &now_ms],
        )?
        .get(0);
    let note = Note {
        kind,
        id,
        node: node.to_owned(),
    };
    notify::send(&mut tx, CHANNEL, &note.payload())?;
    tx.commit()?;
    Ok(id)
}

/// Takes a call or an answer: its body, deleted; `None` when it is gone
/// (taken already, or swept).
///
/// # Errors
/// On database errors.
pub fn take(client: &mut impl GenericClient, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(client
        .query_opt(
            "DELETE FROM game_relay WHERE id = $1 RETURNING body",
            &[&id],
        )?
        .map(|r| r.get(0)))
}

/// Reads an event's body (every node reads it; [`sweep`] removes it).
///
/// # Errors
/// On database errors.
pub fn read(client: &mut impl GenericClient, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(client
        .query_opt("SELECT body FROM game_relay WHERE id = $1", &[&id])?
        .map(|r| r.get(0)))
}

/// Deletes the messages stored before `before_ms` (events every node has
/// long read, calls and answers whose node is gone); returns how many.
///
/// # Errors
/// On database errors.
pub fn sweep(client: &mut impl GenericClient, before_ms: i64) -> Result<u64> {
    Ok(client.execute(
        "DELETE FROM game_relay WHERE created_at_ms < $1",
        &[&before_ms],
    )?)
}

/// The node hosting `game` and its status, when it exists.
///
/// # Errors
/// On database errors.
pub fn host_of(client: &mut impl GenericClient, game: i64) -> Result<Option<(String, String)>> {
    Ok(client
        .query_opt("SELECT node, status FROM games WHERE id = $1", &[&game])?
        .map(|r| (r.get(0), r.get(1))))
}

/// The unfinished games `user` plays that other nodes than `node` host:
/// (id, host).
///
/// # Errors
/// On database errors.
pub fn hosted_elsewhere(
    client: &mut impl GenericClient,
    user: &str,
    node: &str,
) -> Result<Vec<(i64, String)>> {
    Ok(client
        .query(
            "SELECT id, node FROM games \
             WHERE status IN ('waiting', 'in_progress') AND node <> $2 \
               AND (first = $1 OR second = $1) ORDER BY id",
            &[&user, &node],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pg::Pg;

    #[test]
    fn notes_read_back_and_refuse_anything_else() {
        let note = Note {
            kind: Kind::Answer,
            id: 42,
            node: "n:1".into(),
        };
        assert_eq!(note.payload(), "answer:42:n:1");
        assert_eq!(Note::parse(&note.payload()), Some(note));
        for bad in ["", "call", "call:x:n", "ping:1:n", "call:1"] {
            assert_eq!(Note::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_posted_call_is_announced_and_taken_once_and_events_are_read_until_swept() {
        let url = crate::pg::testing::database();
        let a = Pg::connect_as(&url, "node-a").unwrap();
        let b = Pg::connect_as(&url, "node-b").unwrap();
        let mut listener = b.listener(&[CHANNEL]).unwrap();
        let call = a
            .with(|c| post(c, Kind::Call, "node-b", b"move e4", 1_000))
            .unwrap();
        let event = a
            .with(|c| post(c, Kind::Event, "node-a", b"moved", 2_000))
            .unwrap();
        let mut notes = Vec::new();
        let start = std::time::Instant::now();
        while notes.len() < 2 && start.elapsed() < Duration::from_secs(10) {
            notes.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        let parsed: Vec<Note> = notes
            .iter()
            .filter_map(|n| Note::parse(&n.payload))
            .collect();
        assert_eq!(
            parsed,
            vec![
                Note {
                    kind: Kind::Call,
                    id: call,
                    node: "node-b".into()
                },
                Note {
                    kind: Kind::Event,
                    id: event,
                    node: "node-a".into()
                }
            ]
        );
        assert!(notes.iter().all(|n| n.origin == "node-a"));
        assert_eq!(
            b.with(|c| take(c, call)).unwrap().as_deref(),
            Some(&b"move e4"[..])
        );
        assert_eq!(b.with(|c| take(c, call)).unwrap(), None, "taken once");
        for _ in 0..2 {
            assert_eq!(
                b.with(|c| read(c, event)).unwrap().as_deref(),
                Some(&b"moved"[..])
            );
        }
        assert_eq!(a.with(|c| sweep(c, 1_500)).unwrap(), 0, "the call is gone");
        assert_eq!(a.with(|c| sweep(c, 2_001)).unwrap(), 1);
        assert_eq!(b.with(|c| read(c, event)).unwrap(), None);
    }
}
