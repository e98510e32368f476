//! Who is online: connection counts, away messages and last-seen times,
//! per user. Pure bookkeeping; the service stores the away messages and
//! last-seen times and publishes the changes.
//!
//! An away message belongs to the user, not to a connection: it lasts
//! until cleared, whatever connects or disconnects (a user who goes away
//! from `agora chat away` and opens the TUI later is still away).

use std::collections::HashMap;

use agora_wire::chat::{Presence, Status};

#[derive(Debug, Default, Clone)]
struct Entry {
    connections: u32,
    away: Option<String>,
    last_seen_ms: u64,
}

/// Presence of every known user. Also the directory of user names (for
/// checking a private message's recipient without a database read).
#[derive(Debug, Default)]
pub struct PresenceBook {
    users: HashMap<String, Entry>,
}

impl PresenceBook {
    /// Records a known user (at start-up, or on registration).
    pub fn add_user(&mut self, user: &str, last_seen_ms: u64) {
        self.users.entry(user.to_owned()).or_default().last_seen_ms = last_seen_ms;
    }

    /// Whether the user exists.
    pub fn knows(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// A connection of `user` signed in; `true` when they were offline.
    pub fn connect(&mut self, user: &str, now_ms: u64) -> bool {
        let e = self.users.entry(user.to_owned()).or_default();
        e.connections += 1;
        e.last_seen_ms = now_ms;
        e.connections == 1
    }

    /// A connection of `user` closed; `true` when it was their last (they
    /// are now offline; an away message stays until cleared).
    pub fn disconnect(&mut self, user: &str, now_ms: u64) -> bool {
        let Some(e) = self.users.get_mut(user) else {
            return false;
        };
        e.connections = e.connections.saturating_sub(1);
        e.last_seen_ms = now_ms;
        e.connections == 0
    }

    /// Whether the user has a connection (online or away).
    pub fn is_connected(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|e| e.connections > 0)
    }

    /// Sets or clears the away message.
    pub fn set_away(&mut self, user: &str, message: Option<String>) {
        if let Some(e) = self.users.get_mut(user) {
            e.away = message;
        }
    }

    /// A user's presence (offline and never seen when unknown).
    pub fn presence(&self, user: &str, now_ms: u64) -> Presence {
        let e = self.users.get(user).cloned().unwrap_or_default();
        let status = match (e.connections, &e.away) {
            (0, _) => Status::Offline,
            (_, Some(_)) => Status::Away,
            (_, None) => Status::Online,
        };
        Presence {
            user: user.to_owned(),
            status,
            away_message: e.away,
            last_seen_ms: if e.connections > 0 {
                now_ms
            } else {
                e.last_seen_ms
            },
        }
    }

    /// Every known user's presence, by name.
    pub fn everyone(&self, now_ms: u64) -> Vec<Presence> {
        let mut names: Vec<&String> = self.users.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|u| self.presence(u, now_ms))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_away_offline() {
        let mut book = PresenceBook::default();
        book.add_user("alice", 5);
        assert_eq!(book.presence("alice", 100).status, Status::Offline);
        assert_eq!(book.presence("alice", 100).last_seen_ms, 5);
        assert!(!book.is_connected("alice"));
        assert!(book.connect("alice", 10));
        assert!(!book.connect("alice", 11), "second terminal");
        assert!(book.is_connected("alice"));
        assert_eq!(book.presence("alice", 100).status, Status::Online);
        book.set_away("alice", Some("lunch".into()));
        let p = book.presence("alice", 100);
        assert_eq!(
            (p.status, p.away_message.as_deref()),
            (Status::Away, Some("lunch"))
        );
        assert!(!book.disconnect("alice", 20));
        assert!(book.disconnect("alice", 30));
        let p = book.presence("alice", 100);
        assert_eq!(
            (p.status, p.last_seen_ms, p.away_message.as_deref()),
            (Status::Offline, 30, Some("lunch"))
        );
        // The away message belongs to the user: back online, still away.
        assert!(book.connect("alice", 40));
        assert_eq!(book.presence("alice", 100).status, Status::Away);
        book.set_away("alice", None);
        assert_eq!(book.presence("alice", 100).status, Status::Online);
        assert!(!book.knows("bob"));
    }
}
