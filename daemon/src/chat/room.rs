//! The in-memory index of rooms and memberships, mirrored from SQLite at
//! start-up and kept in step by the service. Pure: no I/O, no locking.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use agora_wire::chat::RoomInfo;

#[derive(Debug, Default, Clone)]
struct Room {
    topic: String,
    members: BTreeSet<String>,
    last_seq: u64,
}

/// Rooms, their members, and each user's rooms.
#[derive(Debug, Default)]
pub struct RoomIndex {
    rooms: BTreeMap<String, Room>,
    by_user: HashMap<String, BTreeSet<String>>,
}

impl RoomIndex {
    /// Adds a room (idempotent).
    pub fn add_room(&mut self, room: &str, topic: &str) {
        self.rooms.entry(room.to_owned()).or_default().topic = topic.to_owned();
    }

    /// Adds a membership; `true` when new. Creates the room if needed.
    pub fn join(&mut self, room: &str, user: &str) -> bool {
        let added = self
            .rooms
            .entry(room.to_owned())
            .or_default()
            .members
            .insert(user.to_owned());
        self.by_user
            .entry(user.to_owned())
            .or_default()
            .insert(room.to_owned());
        added
    }

    /// Removes a membership; `true` when there was one.
    pub fn leave(&mut self, room: &str, user: &str) -> bool {
        let removed = self
            .rooms
            .get_mut(room)
            .is_some_and(|r| r.members.remove(user));
        if let Some(rooms) = self.by_user.get_mut(user) {
            rooms.remove(room);
        }
        removed
    }

    /// Whether `user` is a member of `room`.
    pub fn is_member(&self, room: &str, user: &str) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|r| r.members.contains(user))
    }

    /// A room's topic ('' when none or no such room).
    pub fn topic(&self, room: &str) -> &str {
        self.rooms.get(room).map_or("", |r| r.topic.as_str())
    }

    /// A room's newest published sequence number (0 when none).
    pub fn last_seq(&self, room: &str) -> u64 {
        self.rooms.get(room).map_or(0, |r| r.last_seq)
    }

    /// Whether the room exists.
    pub fn exists(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// The rooms `user` belongs to, by name.
    pub fn rooms_of(&self, user: &str) -> Vec<String> {
        self.by_user
            .get(user)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A room's members, by name.
    pub fn members(&self, room: &str) -> Vec<String> {
        self.rooms
            .get(room)
            .map(|r| r.members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A room's members, by name, without copying them.
    pub fn member_names(&self, room: &str) -> impl Iterator<Item = &str> + '_ {
        self.rooms
            .get(room)
            .into_iter()
            .flat_map(|r| r.members.iter().map(String::as_str))
    }

    /// How many members a room has.
    pub fn member_count(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |r| r.members.len())
    }

    /// Sets a room's topic.
    pub fn set_topic(&mut self, room: &str, topic: &str) {
        if let Some(r) = self.rooms.get_mut(room) {
            r.topic = topic.to_owned();
        }
    }

    /// Records the newest sequence number of a room.
    pub fn set_last_seq(&mut self, room: &str, seq: u64) {
        if let Some(r) = self.rooms.get_mut(room) {
            r.last_seq = r.last_seq.max(seq);
        }
    }

    /// One room as `user` sees it.
    pub fn info(&self, room: &str, user: &str) -> Option<RoomInfo> {
        self.rooms.get(room).map(|r| RoomInfo {
            name: room.to_owned(),
            topic: r.topic.clone(),
            members: r.members.len() as u32,
            last_seq: r.last_seq,
            joined: r.members.contains(user),
        })
    }

    /// Every room as `user` sees it, by name.
    pub fn infos(&self, user: &str) -> Vec<RoomInfo> {
        self.rooms
            .keys()
            .filter_map(|name| self.info(name, user))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_indexed_both_ways() {
        let mut idx = RoomIndex::default();
        assert!(idx.join("general", "alice"));
        assert!(!idx.join("general", "alice"));
        assert!(idx.join("ops", "alice"));
        assert!(idx.join("general", "bob"));
        assert_eq!(idx.rooms_of("alice"), vec!["general", "ops"]);
        assert_eq!(idx.members("general"), vec!["alice", "bob"]);
        assert!(idx.leave("general", "alice"));
        assert!(!idx.leave("general", "alice"));
        assert_eq!(idx.rooms_of("alice"), vec!["ops"]);
        assert!(!idx.is_member("general", "alice"));
        idx.set_last_seq("ops", 7);
        idx.set_last_seq("ops", 3);
        let info = idx.info("ops", "alice").unwrap();
        assert_eq!((info.members, info.last_seq, info.joined), (1, 7, true));
        assert_eq!(idx.infos("carol").len(), 2);
    }
}
