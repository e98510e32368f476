//! Who is online: connection counts, away messages and last-seen times,
//! per user. Pure bookkeeping; the service stores the away messages and
//! last-seen times and publishes the changes.
//!
//! An away message belongs to the user, not to a connection: it lasts
//! until cleared, whatever connects or disconnects (a user who goes away
//! from `agora chat away` and opens the TUI later is still away).
//!
//! In a fleet a user may be connected to another node: `elsewhere` says
//! so (kept from the fleet's tables, chat's `fleet` module), and counts
//! as connected. `connections` counts this node's only.

use std::collections::HashMap;

use agora_wire::chat::{Presence, Status};

#[derive(Debug, Default, Clone)]
struct Entry {
    connections: u32,
    elsewhere: bool,
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
        e.connections == 1 && !e.elsewhere
    }

    /// A connection of `user` closed; `true` when it was their last (they
    /// are now offline; an away message stays until cleared).
    pub fn disconnect(&mut self, user: &str, now_ms: u64) -> bool {
        let Some(e) = self.users.get_mut(user) else {
            return false;
        };
        e.connections = e.connections.saturating_sub(1);
        e.last_seen_ms = now_ms;
        e.connections == 0 && !e.elsewhere
    }

    /// How many of this node's connections the user has.
    pub fn here(&self, user: &str) -> u32 {
        self.users.get(user).map_or(0, |e| e.connections)
    }

    /// The users with a connection to this node.
    pub fn connected_here(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .users
            .iter()
            .filter(|(_, e)| e.connections > 0)
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    }

    /// Records whether `user` is connected to another node of the fleet
    /// (a user unknown until now is added); `true` when that made them
    /// come online or go offline.
    pub fn set_elsewhere(&mut self, user: &str, elsewhere: bool, now_ms: u64) -> bool {
        let e = self.users.entry(user.to_owned()).or_default();
        let before = e.connections > 0 || e.elsewhere;
        if e.elsewhere && !elsewhere {
            e.last_seen_ms = e.last_seen_ms.max(now_ms);
        }
        e.elsewhere = elsewhere;
        before != (e.connections > 0 || e.elsewhere)
    }

    /// The users marked as connected to another node.
    pub fn elsewhere_users(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .users
            .iter()
            .filter(|(_, e)| e.elsewhere)
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    }

    /// The away message.
    pub fn away(&self, user: &str) -> Option<&str> {
        self.users.get(user).and_then(|e| e.away.as_deref())
    }

    /// Whether the user has a connection (online or away), here or
    /// elsewhere in the fleet.
    pub fn is_connected(&self, user: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|e| e.connections > 0 || e.elsewhere)
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
        let connected = e.connections > 0 || e.elsewhere;
        let status = match (connected, &e.away) {
            (false, _) => Status::Offline,
            (true, Some(_)) => Status::Away,
            (true, None) => Status::Online,
        };
        Presence {
            user: user.to_owned(),
            status,
            away_message: e.away,
            last_seen_ms: if connected { now_ms } else { e.last_seen_ms },
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

    #[test]
    fn connected_elsewhere_counts_as_online() {
        let mut book = PresenceBook::default();
        book.add_user("ann", 0);
        assert!(book.set_elsewhere("ann", true, 5), "came online elsewhere");
        assert!(!book.set_elsewhere("ann", true, 6), "no change");
        assert_eq!(book.presence("ann", 9).status, Status::Online);
        assert_eq!(book.here("ann"), 0);
        // A terminal here too: she was online already.
        assert!(!book.connect("ann", 10));
        assert_eq!(book.connected_here(), vec!["ann".to_owned()]);
        assert!(!book.set_elsewhere("ann", false, 11), "still here");
        assert!(book.disconnect("ann", 12), "last connection anywhere");
        assert!(book.set_elsewhere("ann", true, 13));
        assert!(book.set_elsewhere("ann", false, 20));
        let p = book.presence("ann", 30);
        assert_eq!((p.status, p.last_seen_ms), (Status::Offline, 20));
        // A user first heard of from another node.
        assert!(book.set_elsewhere("new", true, 40));
        assert!(book.knows("new"));
    }
}
