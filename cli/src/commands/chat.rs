//! `agora chat …`: rooms and private messages for scripts and terminals.

use agora_wire::chat::{ChatMessage, DirectMessage, LeaveReason, Presence, RoomInfo, Status};
use agora_wire::{ChatEvent, ChatOp, ChatReply, Client, Event, Op, Reply};
use anyhow::Context as _;
use serde_json::json;

use crate::args::ChatCommand;
use crate::credentials::Store;
use crate::output;
use crate::session;

/// Runs one chat subcommand.
pub async fn run(addr: &str, cmd: ChatCommand, json: bool) -> anyhow::Result<u8> {
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, _) = session::connect(addr, Some(token)).await?;
    let ask = |op: Op| async {
        client
            .request(op)
            .await
            .map_err(|e| session::explain(addr, e, true))
    };
    match cmd {
        ChatCommand::Rooms => {
            let Reply::Chat(ChatReply::Rooms { rooms }) = ask(Op::Chat(ChatOp::Rooms)).await?
            else {
                anyhow::bail!("unexpected reply");
            };
            if json {
                output::json(&json!({ "rooms": rooms }))?;
            } else {
                print_rooms(&rooms);
            }
        }
        ChatCommand::Join { room } => {
            let Reply::Chat(ChatReply::Room { room, members }) =
                ask(Op::Chat(ChatOp::Join { room })).await?
            else {
                anyhow::bail!("unexpected reply");
            };
            if json {
                output::json(&json!({ "room": room, "members": members }))?;
            } else {
                println!(
                    "joined {} ({} members){}",
                    room.name,
                    room.members,
                    topic_suffix(&room.topic)
                );
            }
        }
        ChatCommand::Leave { room } => {
            ask(Op::Chat(ChatOp::Leave { room: room.clone() })).await?;
            if json {
                output::json(&json!({ "left": room }))?;
            } else {
                println!("left {room}");
            }
        }
        ChatCommand::Send { room, message, me } => {
            let text = message_or_stdin(message)?;
            let reply = ask(Op::Chat(ChatOp::Send {
                room: room.clone(),
                text,
                action: me,
            }))
            .await?;
            print_sent(reply, json, &room)?;
        }
        ChatCommand::Dm { user, message, me } => {
            let text = message_or_stdin(message)?;
            let reply = ask(Op::Chat(ChatOp::Dm {
                to: user.clone(),
                text,
                action: me,
            }))
            .await?;
            print_sent(reply, json, &user)?;
        }
        ChatCommand::Dms { with, limit } => {
            let Reply::Chat(ChatReply::Dms { messages, unread }) = ask(Op::Chat(ChatOp::Dms {
                with,
                limit: Some(limit),
            }))
            .await?
            else {
                anyhow::bail!("unexpected reply");
            };
            if json {
                output::json(&json!({ "messages": messages, "unread": unread }))?;
            } else {
                for m in &messages {
                    println!("{}", format_direct(m));
                }
                if messages.is_empty() {
                    println!("no messages");
                }
                if unread > 0 {
                    println!("({unread} more unread)");
                }
            }
            return Ok(if messages.is_empty() { 1 } else { 0 });
        }
        ChatCommand::Who { room } => {
            let Reply::Chat(ChatReply::Who { users }) = ask(Op::Chat(ChatOp::Who { room })).await?
            else {
                anyhow::bail!("unexpected reply");
            };
            if json {
                output::json(&json!({ "users": users }))?;
            } else {
                print_who(&users);
            }
        }
        ChatCommand::History {
            room,
            limit,
            before,
            since,
        } => {
            let Reply::Chat(ChatReply::History { messages, more, .. }) =
                ask(Op::Chat(ChatOp::History {
                    room,
                    before,
                    since,
                    limit: Some(limit),
                }))
                .await?
            else {
                anyhow::bail!("unexpected reply");
            };
            if json {
                output::json(&json!({ "messages": messages, "more": more }))?;
            } else {
                for m in &messages {
                    println!("{}", format_message(m));
                }
            }
        }
        ChatCommand::Tail { room } => return tail(addr, &client, &room, json).await,
        ChatCommand::Topic { room, topic } => {
            ask(Op::Chat(ChatOp::Topic {
                room: room.clone(),
                topic: topic.clone(),
            }))
            .await?;
            if json {
                output::json(&json!({ "room": room, "topic": topic }))?;
            } else {
                println!("topic of {room} set");
            }
        }
        ChatCommand::Away { message, back } => {
            let message = if back { None } else { message };
            ask(Op::Chat(ChatOp::Away {
                message: message.clone(),
            }))
            .await?;
            if json {
                output::json(&json!({ "away": message }))?;
            } else {
                println!(
                    "{}",
                    if message.is_some() {
                        "marked away"
                    } else {
                        "back"
                    }
                );
            }
        }
    }
    Ok(0)
}

/// Prints the room's messages as they arrive until Ctrl-C or the server
/// closes the connection; each line is flushed at once so pipes work.
async fn tail(addr: &str, client: &Client, room: &str, json: bool) -> anyhow::Result<u8> {
    let room = agora_wire::names::validate_room(room).map_err(anyhow::Error::msg)?;
    let pushes = client.pushes().await.context("push stream already taken")?;
    // Membership check (and the newest seq): a history request of one.
    client
        .request(ChatOp::History {
            room: room.clone(),
            before: None,
            since: None,
            limit: Some(1),
        })
        .await
        .map_err(|e| session::explain(addr, e, true))?;
    let topic = format!("chat.room.{room}");
    session::follow(addr, client, pushes, |push| {
        if push.topic != topic {
            return Ok(None);
        }
        Ok(match (&push.event, json) {
            (Event::Chat(ChatEvent::Message { message }), true) => {
                Some(serde_json::to_string(message)?)
            }
            (Event::Chat(ChatEvent::Message { message }), false) => Some(format_message(message)),
            (other, true) => Some(serde_json::to_string(other)?),
            (other, false) => describe(other),
        })
    })
    .await
}

fn message_or_stdin(message: Option<String>) -> anyhow::Result<String> {
    match message {
        Some(m) if m != "-" => Ok(m),
        _ => {
            let bytes = crate::stdin::read_piped(
                "no MESSAGE given and standard input is a terminal; pass the message or pipe it in",
            )?;
            let text =
                String::from_utf8(bytes).context("the message on standard input is not UTF-8")?;
            Ok(text.trim_end_matches(['\n', '\r']).to_owned())
        }
    }
}

fn print_sent(reply: Reply, json: bool, to: &str) -> anyhow::Result<()> {
    let Reply::Chat(ChatReply::Sent { seq, ts_ms }) = reply else {
        anyhow::bail!("unexpected reply");
    };
    if json {
        output::json(&json!({ "to": to, "seq": seq, "ts_ms": ts_ms }))?;
    } else {
        println!("sent to {to} (#{seq})");
    }
    Ok(())
}

fn topic_suffix(topic: &str) -> String {
    if topic.is_empty() {
        String::new()
    } else {
        format!(": {topic}")
    }
}

fn print_rooms(rooms: &[RoomInfo]) {
    if rooms.is_empty() {
        println!("no rooms yet; create one with `agora chat join NAME`");
        return;
    }
    let width = rooms.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("  {:width$}  {:>7}  TOPIC", "ROOM", "MEMBERS");
    for r in rooms {
        let mark = if r.joined { '*' } else { ' ' };
        println!("{mark} {:width$}  {:>7}  {}", r.name, r.members, r.topic);
    }
}

fn print_who(users: &[Presence]) {
    let width = users.iter().map(|u| u.user.len()).max().unwrap_or(4).max(4);
    for u in users {
        let status = match (&u.status, &u.away_message) {
            (Status::Away, Some(m)) => format!("away: {m}"),
            (Status::Offline, _) if u.last_seen_ms > 0 => {
                format!("offline, last seen {}", clock(u.last_seen_ms))
            }
            (s, _) => s.as_str().to_owned(),
        };
        println!("{:width$}  {status}", u.user);
    }
}

/// `HH:MM:SS` (UTC) of a timestamp.
fn clock(ts_ms: u64) -> String {
    let secs = ts_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

fn format_message(m: &ChatMessage) -> String {
    if m.action {
        format!("[{}] #{} * {} {}", clock(m.ts_ms), m.seq, m.from, m.text)
    } else {
        format!("[{}] #{} <{}> {}", clock(m.ts_ms), m.seq, m.from, m.text)
    }
}

fn format_direct(m: &DirectMessage) -> String {
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

/// A one-line description of a room event for `tail`.
fn describe(event: &Event) -> Option<String> {
    match event {
        Event::Chat(ChatEvent::Joined { user, .. }) => Some(format!("-- {} joined", user.user)),
        Event::Chat(ChatEvent::Left { user, reason, .. }) => Some(match reason {
            LeaveReason::Left => format!("-- {user} left"),
            LeaveReason::Quit => format!("-- {user} quit"),
        }),
        Event::Chat(ChatEvent::Topic { topic, by, .. }) => {
            Some(format!("-- {by} set the topic: {topic}"))
        }
        Event::Chat(ChatEvent::Presence { user, .. }) => {
            Some(format!("-- {} is {}", user.user, user.status.as_str()))
        }
        Event::Chat(ChatEvent::Members {
            members,
            online,
            joined,
            left,
            more,
            ..
        }) => Some(describe_members(*members, *online, joined, left, *more)),
        _ => None,
    }
}

/// `-- 2000 members, 1800 online; joined: alice, bob; left: carol …`: a
/// large room's digest (`…` when it named only some of the changes).
fn describe_members(
    members: u32,
    online: u32,
    joined: &[String],
    left: &[String],
    more: bool,
) -> String {
    let mut line = format!("-- {members} members, {online} online");
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
            describe_members(
                2000,
                1800,
                &names(&["alice", "bob"]),
                &names(&["carol"]),
                true
            ),
            "-- 2000 members, 1800 online; joined: alice, bob; left: carol …"
        );
        assert_eq!(
            describe_members(150, 90, &[], &[], false),
            "-- 150 members, 90 online"
        );
    }
}
