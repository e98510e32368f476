//! `agora chat …`: rooms and private messages for scripts and terminals.
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to show (no rooms, no
//! messages, no unread private messages), 2 an error. `print` holds the
//! JSON shape of each thing and its text form.

mod print;

use std::io::IsTerminal as _;

use agora_wire::{ChatOp, ChatReply, Client, ErrorCode, Event, Op, Reply};
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
    let (client, welcome) = session::connect(addr, Some(token)).await?;
    let me = welcome.user.map(|u| u.name).unwrap_or_default();
    let ask = |op: Op| async {
        let hint = hint_for(&op);
        client.request(op).await.map_err(|e| match (e, hint) {
            // The daemon's words name no client's commands; add the CLI's.
            (agora_wire::Error::Server(body), Some(hint))
                if body.code == ErrorCode::Forbidden && body.message.contains("not in room") =>
            {
                anyhow::anyhow!("{addr}: {} ({hint})", body.message)
            }
            (e, _) => session::explain(addr, e, true),
        })
    };
    let unexpected = || anyhow::anyhow!("{addr}: unexpected reply");
    match cmd {
        ChatCommand::Rooms => {
            let Reply::Chat(ChatReply::Rooms { rooms }) = ask(ChatOp::Rooms.into()).await? else {
                return Err(unexpected());
            };
            if json {
                let list: Vec<_> = rooms.iter().map(print::room).collect();
                output::json(&json!({ "rooms": list }))?;
            } else if !rooms.is_empty() {
                print!("{}", print::rooms_text(&rooms));
            } else if std::io::stderr().is_terminal() {
                eprintln!("no rooms yet; create one with `agora chat join NAME`");
            }
            return Ok(nothing_if(rooms.is_empty()));
        }
        ChatCommand::Join { room } => {
            let Reply::Chat(ChatReply::Room { room, members }) =
                ask(ChatOp::Join { room }.into()).await?
            else {
                return Err(unexpected());
            };
            if json {
                // The room, with who is in it.
                let mut joined = print::room(&room);
                joined["presence"] = members.iter().map(print::presence).collect();
                output::json(&joined)?;
            } else {
                println!("{}", print::joined_text(&room));
            }
        }
        ChatCommand::Leave { room } => {
            ask(ChatOp::Leave { room: room.clone() }.into()).await?;
            if json {
                output::json(&json!({ "room": room, "left": true }))?;
            } else {
                println!("left {room}");
            }
        }
        ChatCommand::Send {
            room,
            message,
            me: action,
        } => {
            let text = message_or_stdin(message)?;
            let reply = ask(ChatOp::Send {
                room: room.clone(),
                text: text.clone(),
                action,
            }
            .into())
            .await?;
            let Reply::Chat(ChatReply::Sent { seq, ts_ms }) = reply else {
                return Err(unexpected());
            };
            let sent = agora_wire::chat::ChatMessage {
                room,
                seq,
                from: me,
                text,
                action,
                ts_ms,
            };
            if json {
                output::json(&print::message(&sent))?;
            } else {
                println!("sent to {} (#{seq})", sent.room);
            }
        }
        ChatCommand::Dm {
            user,
            message,
            me: action,
        } => {
            let text = message_or_stdin(message)?;
            let reply = ask(ChatOp::Dm {
                to: user.clone(),
                text: text.clone(),
                action,
            }
            .into())
            .await?;
            let Reply::Chat(ChatReply::Sent { seq, ts_ms }) = reply else {
                return Err(unexpected());
            };
            let sent = agora_wire::chat::DirectMessage {
                id: seq,
                from: me,
                to: user,
                text,
                action,
                ts_ms,
            };
            if json {
                output::json(&print::direct(&sent))?;
            } else {
                println!("sent to {}", sent.to);
            }
        }
        ChatCommand::Dms { with, limit } => {
            let Reply::Chat(ChatReply::Dms { messages, unread }) = ask(ChatOp::Dms {
                with,
                limit: Some(limit),
            }
            .into())
            .await?
            else {
                return Err(unexpected());
            };
            if json {
                let list: Vec<_> = messages.iter().map(print::direct).collect();
                output::json(&json!({ "dms": list, "unread": unread }))?;
            } else {
                for m in &messages {
                    println!("{}", print::direct_text(m));
                }
                if unread > 0 {
                    println!("({unread} more unread)");
                }
            }
            return Ok(nothing_if(messages.is_empty()));
        }
        ChatCommand::Who { room } => {
            let Reply::Chat(ChatReply::Who { users }) =
                ask(ChatOp::Who { room: room.clone() }.into()).await?
            else {
                return Err(unexpected());
            };
            if json {
                let list: Vec<_> = users.iter().map(print::presence).collect();
                output::json(&json!({ "room": room, "presence": list }))?;
            } else {
                print!("{}", print::who_text(&users));
            }
            return Ok(nothing_if(users.is_empty()));
        }
        ChatCommand::History {
            room,
            limit,
            before,
            since,
        } => {
            let Reply::Chat(ChatReply::History {
                room,
                messages,
                more,
            }) = ask(ChatOp::History {
                room,
                before,
                since,
                limit: Some(limit),
            }
            .into())
            .await?
            else {
                return Err(unexpected());
            };
            if json {
                let list: Vec<_> = messages.iter().map(print::message).collect();
                output::json(&json!({ "room": room, "messages": list, "more": more }))?;
            } else {
                for m in &messages {
                    println!("{}", print::message_text(m));
                }
            }
            return Ok(nothing_if(messages.is_empty()));
        }
        ChatCommand::Tail { room } => return tail(addr, &client, &room, json).await,
        ChatCommand::Topic { room, topic } => {
            ask(ChatOp::Topic {
                room: room.clone(),
                topic: topic.clone(),
            }
            .into())
            .await?;
            if json {
                output::json(&json!({ "room": room, "topic": topic }))?;
            } else {
                println!("topic of {room} set");
            }
        }
        ChatCommand::Away { message, back } => {
            let message = if back { None } else { message };
            ask(ChatOp::Away {
                message: message.clone(),
            }
            .into())
            .await?;
            if json {
                output::json(&json!({ "away": message }))?;
            } else if let Some(m) = &message {
                println!("marked away ({m}) until `agora chat away --back`");
            } else {
                println!("back");
            }
        }
    }
    Ok(0)
}

/// Exit status 1 when there was nothing to show.
fn nothing_if(empty: bool) -> u8 {
    u8::from(empty)
}

/// The CLI command that fixes "not in room X" for this operation.
fn hint_for(op: &Op) -> Option<String> {
    let room = match op {
        Op::Chat(
            ChatOp::Send { room, .. }
            | ChatOp::History { room, .. }
            | ChatOp::Topic { room, .. }
            | ChatOp::Leave { room },
        ) => room,
        Op::Chat(ChatOp::Who { room: Some(room) }) => room,
        _ => return None,
    };
    Some(format!("agora chat join {room}"))
}

/// Prints the room's messages and events as they arrive until Ctrl-C or
/// the server closes the connection; each line is flushed at once so pipes
/// work. With --json, one object per line, each with a `type`.
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
        .map_err(|e| match e {
            agora_wire::Error::Server(body)
                if body.code == ErrorCode::Forbidden && body.message.contains("not in room") =>
            {
                anyhow::anyhow!("{addr}: {} (agora chat join {room})", body.message)
            }
            e => session::explain(addr, e, true),
        })?;
    let topic = agora_wire::chat::room_topic(&room);
    session::follow(addr, client, pushes, |push| {
        if push.topic != topic {
            return Ok(None);
        }
        Ok(match (&push.event, json) {
            (Event::Chat(event), true) => print::event_line(event).map(|l| l.to_string()),
            (event, _) => print::event_text(event),
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
