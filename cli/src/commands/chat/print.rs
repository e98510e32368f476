//! How chat things look on the command line: one JSON shape per thing,
//! the same in every command (docs/CLI.md), and one text form.
//!
//! - a room: `{name, topic, members, last_seq, joined}`;
//! - a message: `{room, seq, from, text, action, ts_ms}`;
//! - a private message: `{id, from, to, text, action, ts_ms}`;
//! - a presence: `{name, status, away_message, last_seen_ms}` (a *user* is
//!   always `{id, name}`; a presence names its user by `name`).
//!
//! Every field is always present (`action: false`, `away_message: null`),
//! unlike the wire, which leaves out what is empty.

use agora_wire::chat::{ChatMessage, DirectMessage, LeaveReason, Presence, RoomInfo, Status};
use agora_wire::{ChatEvent, Event};
use serde_json::{Value, json};

use crate::output::count;

/// A room as JSON.
pub fn room(r: &RoomInfo) -> Value {
    json!({
        "name": r.name,
        "topic": r.topic,
        "members": r.members,
        "last_seq": r.last_seq,
        "joined": r.joined,
    })
}

/// A room message as JSON.
pub fn message(m: &ChatMessage) -> Value {
    json!({
        "room": m.room,
        "seq": m.seq,
        "from": m.from,
        "text": m.text,
        "action": m.action,
        "ts_ms": m.ts_ms,
    })
}

/// A private message as JSON.
pub fn direct(d: &DirectMessage) -> Value {
    json!({
        "id": d.id,
        "from": d.from,
        "to": d.to,
        "text": d.text,
        "action": d.action,
        "ts_ms": d.ts_ms,
    })
}

/// A user's presence as JSON.
pub fn presence(p: &Presence) -> Value {
    json!({
        "name": p.user,
        "status": p.status.as_str(),
        "away_message": p.away_message,
        "last_seen_ms": p.last_seen_ms,
    })
}

/// A `chat tail` line as JSON: every line has a `type`.
pub fn event_line(event: &ChatEvent) -> Option<Value> {
    let mut line = match event {
        ChatEvent::Message { message: m } => message(m),
        ChatEvent::Joined { room, user } => json!({ "room": room, "presence": presence(user) }),
        ChatEvent::Left { room, user, reason } => json!({
            "room": room,
            "name": user,
            "reason": match reason {
                LeaveReason::Left => "left",
                LeaveReason::Quit => "quit",
            },
        }),
        ChatEvent::Presence { room, user } => {
            json!({ "room": room, "presence": presence(user) })
        }
        ChatEvent::Topic { room, topic, by } => json!({ "room": room, "topic": topic, "by": by }),
        ChatEvent::Members {
            room,
            members,
            online,
            joined,
            left,
            more,
        } => json!({
            "room": room,
            "members": members,
            "online": online,
            "joined_names": joined,
            "left_names": left,
            "more": more,
        }),
        ChatEvent::Direct { .. } | ChatEvent::Unread { .. } => return None,
    };
    let kind = match event {
        ChatEvent::Message { .. } => "message",
        ChatEvent::Joined { .. } => "joined",
        ChatEvent::Left { .. } => "left",
        ChatEvent::Presence { .. } => "presence",
        ChatEvent::Topic { .. } => "topic",
        ChatEvent::Members { .. } => "members",
        ChatEvent::Direct { .. } | ChatEvent::Unread { .. } => return None,
    };
    line["type"] = json!(kind);
    Some(line)
}

/// `HH:MM:SS` (UTC) of a timestamp.
pub fn clock(ts_ms: u64) -> String {
    let secs = ts_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// `[12:00:03] #4 <alice> text`, or `* alice waves` for an action.
pub fn message_text(m: &ChatMessage) -> String {
    if m.action {
        format!("[{}] #{} * {} {}", clock(m.ts_ms), m.seq, m.from, m.text)
    } else {
        format!("[{}] #{} <{}> {}", clock(m.ts_ms), m.seq, m.from, m.text)
    }
}

/// `[12:00:03] alice -> bob: text`.
pub fn direct_text(m: &DirectMessage) -> String {
    if m.action {
        format!(
            "[{}] {} -> {}: * {} {}",
            clock(m.ts_ms),
            m.from,
            m.to,
            m.from,
            m.text
        )
    } else {
        format!("[{}] {} -> {}: {}", clock(m.ts_ms), m.from, m.to, m.text)
    }
}

/// The rooms as a table (`*` marks the ones you are in).
pub fn rooms_text(rooms: &[RoomInfo]) -> String {
    let width = rooms.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!("  {:width$}  {:>7}  TOPIC\n", "ROOM", "MEMBERS");
    for r in rooms {
        let mark = if r.joined { '*' } else { ' ' };
        out.push_str(&format!(
            "{mark} {:width$}  {:>7}  {}\n",
            r.name, r.members, r.topic
        ));
    }
    out
}

/// One line per user: name and presence.
pub fn who_text(users: &[Presence]) -> String {
    let width = users.iter().map(|u| u.user.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    for u in users {
        let status = match (&u.status, &u.away_message) {
            (Status::Away, Some(m)) => format!("away: {m}"),
            (Status::Offline, _) if u.last_seen_ms > 0 => {
                format!("offline, last seen {}", clock(u.last_seen_ms))
            }
            (s, _) => s.as_str().to_owned(),
        };
        out.push_str(&format!("{:width$}  {status}\n", u.user));
    }
    out
}

/// `joined ops (1 member): the topic`.
pub fn joined_text(r: &RoomInfo) -> String {
    let topic = if r.topic.is_empty() {
        String::new()
    } else {
        format!(": {}", r.topic)
    };
    format!(
        "joined {} ({}){topic}",
        r.name,
        count(r.members as usize, "member", "members")
    )
}

/// A one-line description of a room event for `tail`.
pub fn event_text(event: &Event) -> Option<String> {
    let Event::Chat(event) = event else {
        return None;
    };
    match event {
        ChatEvent::Message { message } => Some(message_text(message)),
        ChatEvent::Joined { user, .. } => Some(format!("-- {} joined", user.user)),
        ChatEvent::Left { user, reason, .. } => Some(match reason {
            LeaveReason::Left => format!("-- {user} left"),
            LeaveReason::Quit => format!("-- {user} quit"),
        }),
        ChatEvent::Topic { topic, by, .. } => Some(format!("-- {by} set the topic: {topic}")),
        ChatEvent::Presence { user, .. } => {
            Some(format!("-- {} is {}", user.user, user.status.as_str()))
        }
        ChatEvent::Members {
            members,
            online,
            joined,
            left,
            more,
            ..
        } => Some(members_text(*members, *online, joined, left, *more)),
        ChatEvent::Direct { .. } | ChatEvent::Unread { .. } => None,
    }
}

/// `-- 2000 members, 1800 online; joined: alice, bob; left: carol …`: a
/// large room's digest (`…` when it named only some of the changes).
pub fn members_text(
    members: u32,
    online: u32,
    joined: &[String],
    left: &[String],
    more: bool,
) -> String {
    let mut line = format!(
        "-- {}, {online} online",
        count(members as usize, "member", "members")
    );
    if !joined.is_empty() {
        line.push_str(&format!("; joined: {}", joined.join(", ")));
    }
    if !left.is_empty() {
        line.push_str(&format!("; left: {}", left.join(", ")));
    }
    if more {
        line.push_str(" …");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_one_line() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            members_text(
                2000,
                1800,
                &names(&["alice", "bob"]),
                &names(&["carol"]),
                true
            ),
            "-- 2000 members, 1800 online; joined: alice, bob; left: carol …"
        );
        assert_eq!(members_text(1, 1, &[], &[], false), "-- 1 member, 1 online");
    }

    #[test]
    fn every_field_is_always_there() {
        let m = ChatMessage {
            room: "ops".into(),
            seq: 1,
            from: "a".into(),
            text: "t".into(),
            action: false,
            ts_ms: 5,
        };
        assert_eq!(message(&m)["action"], json!(false));
        let p = Presence {
            user: "a".into(),
            status: Status::Online,
            away_message: None,
            last_seen_ms: 0,
        };
        assert_eq!(presence(&p)["away_message"], Value::Null);
        assert_eq!(presence(&p)["name"], json!("a"));
        let line = event_line(&ChatEvent::Message { message: m }).unwrap();
        assert_eq!(line["type"], json!("message"));
        assert_eq!(line["seq"], json!(1));
    }
}
