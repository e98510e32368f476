//! State-transition tests for the Chat tab: no socket, no clock.

use agora_wire::chat::{ChatMessage, DirectMessage, LeaveReason, Presence, RoomInfo, Status};
use agora_wire::{BaseReply, ChatEvent, ChatOp, ChatReply, Event, Op, Reply};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

mod commands;

/// A fixed time: 2023-11-14 22:13:20 UTC.
pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn msg(room: &str, seq: u64, from: &str, text: &str) -> ChatMessage {
    ChatMessage {
        room: room.into(),
        seq,
        from: from.into(),
        text: text.into(),
        action: false,
        ts_ms: T0 + seq * 60_000,
    }
}

pub(crate) fn dm(id: u64, from: &str, to: &str, text: &str) -> DirectMessage {
    DirectMessage {
        id,
        from: from.into(),
        to: to.into(),
        text: text.into(),
        action: false,
        ts_ms: T0 + id * 60_000,
    }
}

pub(crate) fn presence(user: &str, status: Status) -> Presence {
    Presence {
        user: user.into(),
        status,
        away_message: (status == Status::Away).then(|| "lunch".into()),
        last_seen_ms: T0,
    }
}

pub(crate) fn room_info(name: &str, topic: &str, joined: bool) -> RoomInfo {
    RoomInfo {
        name: name.into(),
        topic: topic.into(),
        members: 3,
        last_seq: 0,
        joined,
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_line(chat: &mut ChatState, line: &str) -> KeyOutcome {
    for c in line.chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    chat.handle_key(key(KeyCode::Enter))
}

/// Answers every queued request with `respond` (skipping those it returns
/// `None` for), until nothing is queued; returns every op seen.
fn serve(chat: &mut ChatState, respond: impl Fn(&Op) -> Option<Result<Reply, String>>) -> Vec<Op> {
    let mut seen = Vec::new();
    loop {
        let out = chat.take_outbox();
        if out.is_empty() {
            return seen;
        }
        for Outgoing { tag, op } in out {
            if let Some(result) = respond(&op) {
                chat.on_reply(tag, result);
            }
            seen.push(op);
        }
    }
}

/// A plain daemon: rooms general (joined) and rust (joined), random (not).
fn daemon(op: &Op) -> Option<Result<Reply, String>> {
    Some(Ok(match op {
        Op::Chat(ChatOp::Rooms) => Reply::Chat(ChatReply::Rooms {
            rooms: vec![
                room_info("general", "all things", true),
                room_info("random", "", false),
                room_info("rust", "", true),
            ],
        }),
        Op::Chat(ChatOp::History { room, .. }) => Reply::Chat(ChatReply::History {
            room: room.clone(),
            messages: vec![],
            more: false,
        }),
        Op::Chat(ChatOp::Who { .. }) => Reply::Chat(ChatReply::Who {
            users: vec![
                presence("alice", Status::Online),
                presence("bob", Status::Away),
                presence("bobby", Status::Offline),
            ],
        }),
        _ => Reply::Base(BaseReply::Done),
    }))
}

/// Signed in as alice, rooms synced, nothing queued.
fn ready() -> ChatState {
    let mut chat = ChatState::new(None);
    chat.on_connected(Some("alice"));
    serve(&mut chat, daemon);
    chat
}

fn history(room: &str, seqs: std::ops::RangeInclusive<u64>, more: bool) -> Reply {
    Reply::Chat(ChatReply::History {
        room: room.into(),
        messages: seqs
            .map(|s| msg(room, s, "bob", &format!("m{s}")))
            .collect(),
        more,
    })
}

#[test]
fn connecting_syncs_rooms_history_and_members() {
    let mut chat = ChatState::new(None);
    chat.on_connected(Some("alice"));
    let ops = serve(&mut chat, daemon);
    assert_eq!(ops[0], Op::Chat(ChatOp::Rooms));
    for room in ["general", "rust"] {
        assert!(
            ops.contains(&Op::Chat(ChatOp::History {
                room: room.into(),
                before: None,
                since: None,
                limit: Some(PAGE),
            })),
            "{ops:?}"
        );
    }
    assert!(ops.contains(&Op::Chat(ChatOp::Who {
        room: Some("general".into())
    })));
    assert!(
        !ops.iter()
            .any(|op| matches!(op, Op::Chat(ChatOp::History { room, .. }) if room == "random"))
    );
    assert_eq!(chat.rooms().keys().collect::<Vec<_>>(), ["general", "rust"]);
    assert_eq!(chat.view(), &View::Room("general".into()));
    let general = chat.current_room().expect("room");
    assert_eq!(general.topic, "all things");
    assert_eq!(general.members.len(), 3);
    assert!(!general.more_older);
}

#[test]
fn reconnect_fills_the_gap_with_no_duplicates_or_holes() {
    let mut chat = ready();
    chat.on_reply(0, Ok(history("general", 1..=1, false))); // unknown tag: ignored
    for seq in 1..=10 {
        chat.on_push(Event::Chat(ChatEvent::Message {
            message: msg("general", seq, "bob", "x"),
        }));
    }
    chat.on_disconnected();
    chat.on_connected(Some("alice"));
    serve(&mut chat, |op| match op {
        Op::Chat(ChatOp::Rooms) => daemon(op),
        _ => None,
    });
    let out = chat.take_outbox();
    assert!(out.is_empty(), "already served: {out:?}");

    // Do it again by hand to hold the history reply back.
    chat.on_disconnected();
    chat.on_connected(Some("alice"));
    let rooms = chat.take_outbox();
    chat.on_reply(rooms[0].tag, daemon(&rooms[0].op).expect("rooms"));
    let out = chat.take_outbox();
    let since = out
        .iter()
        .find(|o| matches!(&o.op, Op::Chat(ChatOp::History { room, .. }) if room == "general"))
        .expect("history request");
    assert_eq!(
        since.op,
        Op::Chat(ChatOp::History {
            room: "general".into(),
            before: None,
            since: Some(10),
            limit: Some(MAX_HISTORY),
        })
    );
    // A live push overtakes the history reply.
    chat.on_push(Event::Chat(ChatEvent::Message {
        message: msg("general", 13, "bob", "live"),
    }));
    assert!(
        chat.take_outbox().is_empty(),
        "a sync is already on its way"
    );
    chat.on_reply(since.tag, Ok(history("general", 11..=15, false)));
    let room = &chat.rooms()["general"];
    assert_eq!(
        room.messages.keys().copied().collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
    assert_eq!(room.contiguous_end(), 15);
    assert_eq!(room.messages[&13].text, "m13", "one copy, whichever came");
}

#[test]
fn a_missed_push_asks_for_the_gap() {
    let mut chat = ready();
    for seq in [1, 2, 5] {
        chat.on_push(Event::Chat(ChatEvent::Message {
            message: msg("rust", seq, "bob", "x"),
        }));
    }
    let out = chat.take_outbox();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].op,
        Op::Chat(ChatOp::History {
            room: "rust".into(),
            before: None,
            since: Some(2),
            limit: Some(MAX_HISTORY),
        })
    );
}

#[test]
fn messages_are_ordered_and_deduplicated_by_seq() {
    let mut chat = ready();
    for seq in [3, 1, 2, 3, 1] {
        chat.on_push(Event::Chat(ChatEvent::Message {
            message: msg("general", seq, "bob", &format!("m{seq}")),
        }));
    }
    let room = chat.current_room().expect("room");
    let texts: Vec<_> = room.messages.values().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m1", "m2", "m3"]);
}

#[test]
fn other_rooms_count_unread_and_mentions_until_shown() {
    let mut chat = ready();
    chat.on_push(Event::Chat(ChatEvent::Message {
        message: msg("rust", 1, "bob", "hello all"),
    }));
    chat.on_push(Event::Chat(ChatEvent::Message {
        message: msg("rust", 2, "bob", "Alice: look"),
    }));
    chat.on_push(Event::Chat(ChatEvent::Message {
        message: msg("rust", 3, "alice", "mine"),
    }));
    chat.on_push(Event::Chat(ChatEvent::Message {
        message: msg("general", 1, "bob", "here"),
    }));
    assert_eq!(chat.rooms()["rust"].unread, 2);
    assert!(chat.rooms()["rust"].mentioned);
    assert_eq!(chat.rooms()["general"].unread, 0, "shown rooms are read");
    chat.handle_key(ctrl('n'));
    assert_eq!(chat.view(), &View::Room("rust".into()));
    assert_eq!(chat.rooms()["rust"].unread, 0);
    assert!(!chat.rooms()["rust"].mentioned);
    assert_eq!(
        chat.take_outbox()[0].op,
        Op::Chat(ChatOp::Who {
            room: Some("rust".into())
        })
    );
    chat.handle_key(ctrl('n'));
    assert_eq!(chat.view(), &View::Dms);
    chat.handle_key(ctrl('n'));
    assert_eq!(chat.view(), &View::Room("general".into()));
    chat.handle_key(ctrl('p'));
    assert_eq!(chat.view(), &View::Dms, "wraps backwards");
}

#[test]
fn mentions_are_whole_words_in_any_case() {
    assert!(mentions("hi alice", "alice"));
    assert!(mentions("ALICE: hi", "alice"));
    assert!(mentions("@alice!", "alice"));
    assert!(!mentions("malice aforethought", "alice"));
    assert!(!mentions("alice_b", "alice"));
    assert!(!mentions("anything", ""));
}

#[test]
fn typed_lines_become_requests() {
    let mut chat = ready();
    type_line(&mut chat, "hello");
    type_line(&mut chat, "/me waves");
    type_line(&mut chat, "/msg bob psst");
    type_line(&mut chat, "/topic new topic");
    type_line(&mut chat, "/away lunch");
    type_line(&mut chat, "/away");
    type_line(&mut chat, "/rooms");
    type_line(&mut chat, "/who");
    type_line(&mut chat, "/join #Ops");
    type_line(&mut chat, "/leave rust");
    let ops: Vec<Op> = chat.take_outbox().into_iter().map(|o| o.op).collect();
    assert_eq!(
        ops,
        [
            Op::Chat(ChatOp::Send {
                room: "general".into(),
                text: "hello".into(),
                action: false
            }),
            Op::Chat(ChatOp::Send {
                room: "general".into(),
                text: "waves".into(),
                action: true
            }),
            Op::Chat(ChatOp::Dm {
                to: "bob".into(),
                text: "psst".into(),
                action: false
            }),
            Op::Chat(ChatOp::Topic {
                room: "general".into(),
                topic: "new topic".into()
            }),
            Op::Chat(ChatOp::Away {
                message: Some("lunch".into())
            }),
            Op::Chat(ChatOp::Away { message: None }),
            Op::Chat(ChatOp::Rooms),
            Op::Chat(ChatOp::Who {
                room: Some("general".into())
            }),
            Op::Chat(ChatOp::Join { room: "ops".into() }),
            Op::Chat(ChatOp::Leave {
                room: "rust".into()
            }),
        ]
    );
    assert_eq!(type_line(&mut chat, "/quit"), KeyOutcome::Quit);
}

#[test]
fn an_unknown_command_is_an_inline_error_and_the_line_stays() {
    let mut chat = ready();
    type_line(&mut chat, "/dance");
    let notice = chat.notice().expect("notice");
    assert_eq!(notice.level, Level::Error);
    assert!(
        notice.text.contains("unknown command /dance"),
        "{}",
        notice.text
    );
    assert_eq!(chat.input().text(), "/dance");
    assert!(chat.take_outbox().is_empty());
    chat.handle_key(key(KeyCode::Esc));
    assert!(chat.notice().is_none());
}

#[test]
fn requests_while_disconnected_fail_fast() {
    let mut chat = ready();
    chat.on_disconnected();
    type_line(&mut chat, "hello");
    assert!(chat.take_outbox().is_empty());
    let notice = chat.notice().expect("notice");
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.starts_with("not connected"), "{}", notice.text);
}

#[test]
fn server_errors_show_in_the_status_line() {
    let mut chat = ready();
    type_line(&mut chat, "spam");
    let out = chat.take_outbox();
    chat.on_reply(
        out[0].tag,
        Err("too many messages: at most 10 per second (rate_limited)".into()),
    );
    let notice = chat.notice().expect("notice");
    assert_eq!(notice.level, Level::Error);
    assert_eq!(
        notice.text,
        "send failed: too many messages: at most 10 per second (rate_limited)"
    );
}

#[test]
fn joining_switches_to_the_room_and_loads_it() {
    let mut chat = ready();
    type_line(&mut chat, "/join ops");
    let out = chat.take_outbox();
    chat.on_reply(
        out[0].tag,
        Ok(Reply::Chat(ChatReply::Room {
            room: room_info("ops", "on call", true),
            members: vec![presence("alice", Status::Online)],
        })),
    );
    assert_eq!(chat.view(), &View::Room("ops".into()));
    let out = chat.take_outbox();
    assert!(
        matches!(&out[0].op, Op::Chat(ChatOp::History { room, since: None, .. }) if room == "ops")
    );
    // Leaving (here, from another terminal) goes back to the first room.
    chat.on_push(Event::Chat(ChatEvent::Left {
        room: "ops".into(),
        user: "alice".into(),
        reason: LeaveReason::Left,
    }));
    assert!(!chat.rooms().contains_key("ops"));
    assert_eq!(chat.view(), &View::Room("general".into()));
}

#[test]
fn membership_and_presence_events_update_members() {
    let mut chat = ready();
    chat.on_push(Event::Chat(ChatEvent::Joined {
        room: "general".into(),
        user: presence("carol", Status::Online),
    }));
    chat.on_push(Event::Chat(ChatEvent::Presence {
        room: "general".into(),
        user: presence("alice", Status::Away),
    }));
    chat.on_push(Event::Chat(ChatEvent::Left {
        room: "general".into(),
        user: "bob".into(),
        reason: LeaveReason::Left,
    }));
    chat.on_push(Event::Chat(ChatEvent::Left {
        room: "general".into(),
        user: "carol".into(),
        reason: LeaveReason::Quit,
    }));
    chat.on_push(Event::Chat(ChatEvent::Topic {
        room: "general".into(),
        topic: "fresh".into(),
        by: "carol".into(),
    }));
    let room = chat.current_room().expect("room");
    let members: Vec<_> = room
        .members
        .values()
        .map(|p| (p.user.as_str(), p.status))
        .collect();
    assert_eq!(
        members,
        [
            ("alice", Status::Away),
            ("bobby", Status::Offline),
            ("carol", Status::Offline)
        ]
    );
    assert_eq!(room.topic, "fresh");
    // Joined from another terminal of ours: the room appears and loads.
    chat.on_push(Event::Chat(ChatEvent::Joined {
        room: "ops".into(),
        user: presence("alice", Status::Online),
    }));
    assert!(chat.rooms().contains_key("ops"));
    assert!(
        matches!(&chat.take_outbox()[0].op, Op::Chat(ChatOp::History { room, .. }) if room == "ops")
    );
}

#[test]
fn a_large_rooms_digest_shows_its_count_and_refreshes_the_shown_list() {
    let mut chat = ready();
    assert_eq!(chat.view(), &View::Room("general".into()));
    let digest = |room: &str, members: u32| {
        Event::Chat(ChatEvent::Members {
            room: room.into(),
            members,
            online: members / 2,
            joined: vec!["dave".into()],
            left: vec![],
            more: false,
        })
    };
    // The room on screen: the count at once, and one fetch of the list.
    chat.on_push(digest("general", 2000));
    assert_eq!(chat.current_room().unwrap().total, Some(2000));
    let out = chat.take_outbox();
    assert_eq!(out.len(), 1);
    assert!(
        matches!(&out[0].op, Op::Chat(ChatOp::Who { room: Some(r) }) if r == "general"),
        "{:?}",
        out[0].op
    );
    // Another digest while that fetch is on its way asks for nothing more.
    chat.on_push(digest("general", 2001));
    assert!(chat.take_outbox().is_empty());
    assert_eq!(chat.current_room().unwrap().total, Some(2001));
    // The list arrives: it is the whole list, so the count is its length.
    chat.on_reply(
        out[0].tag,
        Ok(Reply::Chat(ChatReply::Who {
            users: vec![
                presence("alice", Status::Online),
                presence("dave", Status::Online),
            ],
        })),
    );
    let room = chat.current_room().unwrap();
    assert_eq!((room.total, room.members.len()), (None, 2));
    // A room not on screen keeps the count; its list is fetched when shown.
    chat.on_push(digest("rust", 500));
    assert!(chat.take_outbox().is_empty());
    assert_eq!(chat.rooms()["rust"].total, Some(500));
    chat.handle_key(ctrl('n'));
    assert!(
        chat.take_outbox()
            .iter()
            .any(|o| matches!(&o.op, Op::Chat(ChatOp::Who { room: Some(r) }) if r == "rust"))
    );
}

#[test]
fn joining_a_large_room_counts_every_member() {
    let mut chat = ready();
    type_line(&mut chat, "/join big");
    let out = chat.take_outbox();
    let mut info = room_info("big", "", true);
    info.members = 5000;
    chat.on_reply(
        out[0].tag,
        Ok(Reply::Chat(ChatReply::Room {
            room: info,
            members: vec![presence("bob", Status::Online)],
        })),
    );
    assert_eq!(chat.current_room().unwrap().total, Some(5000));
    // Our own join, echoed on our user topic, is counted already.
    chat.on_push(Event::Chat(ChatEvent::Joined {
        room: "big".into(),
        user: presence("alice", Status::Online),
    }));
    assert_eq!(chat.current_room().unwrap().total, Some(5000));
}

#[test]
fn page_up_at_the_top_asks_for_older_history_once() {
    let mut chat = ready();
    let out = {
        chat.on_disconnected();
        chat.on_connected(Some("alice"));
        let rooms = chat.take_outbox();
        chat.on_reply(rooms[0].tag, daemon(&rooms[0].op).expect("rooms"));
        chat.take_outbox()
    };
    let newest = out
        .iter()
        .find(|o| matches!(&o.op, Op::Chat(ChatOp::History { room, .. }) if room == "general"))
        .expect("history");
    chat.on_reply(newest.tag, Ok(history("general", 51..=100, true)));
    let page = usize::from(chat.viewport.1) - 1;
    let mut requests = Vec::new();
    for _ in 0..10 {
        chat.handle_key(key(KeyCode::PageUp));
        requests.extend(chat.take_outbox());
    }
    let room = &chat.rooms()["general"];
    assert!(room.scroll >= page);
    assert!(room.loading_older);
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].op,
        Op::Chat(ChatOp::History {
            room: "general".into(),
            before: Some(51),
            since: None,
            limit: Some(PAGE),
        })
    );
    let scroll = room.scroll;
    chat.on_reply(requests[0].tag, Ok(history("general", 1..=50, false)));
    let room = &chat.rooms()["general"];
    assert_eq!(room.messages.len(), 100);
    assert!(!room.more_older && !room.loading_older);
    assert_eq!(room.scroll, scroll, "the view stays put");
    // Scrolling further up reaches the start and asks nothing more.
    for _ in 0..20 {
        chat.handle_key(key(KeyCode::PageUp));
    }
    assert!(chat.take_outbox().is_empty());
    for _ in 0..40 {
        chat.handle_key(key(KeyCode::PageDown));
    }
    assert_eq!(chat.rooms()["general"].scroll, 0);
}

#[test]
fn new_messages_do_not_move_a_scrolled_view() {
    let mut chat = ready();
    for seq in 1..=40 {
        chat.on_push(Event::Chat(ChatEvent::Message {
            message: msg("general", seq, "bob", "x"),
        }));
    }
    chat.handle_key(key(KeyCode::PageUp));
    let scroll = chat.rooms()["general"].scroll;
    assert!(scroll > 0);
    chat.on_push(Event::Chat(ChatEvent::Message {
        message: msg("general", 41, "bob", "y"),
    }));
    assert_eq!(chat.rooms()["general"].scroll, scroll + 1);
}

#[test]
fn tab_completes_members_and_commands() {
    let mut chat = ready();
    for c in "bo".chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    chat.handle_key(key(KeyCode::Tab));
    assert_eq!(chat.input().text(), "bob: ");
    chat.handle_key(key(KeyCode::Tab));
    assert_eq!(chat.input().text(), "bobby: ");
    chat.handle_key(ctrl('u'));
    for c in "/to".chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    chat.handle_key(key(KeyCode::Tab));
    assert_eq!(chat.input().text(), "/topic ");
    chat.handle_key(ctrl('u'));
    for c in "al".chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    chat.handle_key(key(KeyCode::Tab));
    assert_eq!(chat.input().text(), "al", "your own nick is not offered");
    chat.handle_key(ctrl('u'));
    assert_eq!(chat.handle_key(key(KeyCode::Tab)), KeyOutcome::NotConsumed);
}

#[test]
fn up_and_down_recall_sent_lines() {
    let mut chat = ready();
    type_line(&mut chat, "one");
    type_line(&mut chat, "two");
    chat.handle_key(key(KeyCode::Up));
    chat.handle_key(key(KeyCode::Up));
    assert_eq!(chat.input().text(), "one");
    chat.handle_key(key(KeyCode::Down));
    assert_eq!(chat.input().text(), "two");
    chat.handle_key(key(KeyCode::Enter));
    assert!(matches!(
        chat.take_outbox().last().map(|o| &o.op),
        Some(Op::Chat(ChatOp::Send { text, .. })) if text == "two"
    ));
}

#[test]
fn unread_dms_are_fetched_flagged_and_answered() {
    let mut chat = ready();
    chat.on_push(Event::Chat(ChatEvent::Unread { dms: 2 }));
    let out = chat.take_outbox();
    assert_eq!(
        out[0].op,
        Op::Chat(ChatOp::Dms {
            with: None,
            limit: Some(MAX_HISTORY)
        })
    );
    chat.on_reply(
        out[0].tag,
        Ok(Reply::Chat(ChatReply::Dms {
            messages: vec![dm(1, "bob", "alice", "hi"), dm(2, "bob", "alice", "there?")],
            unread: 0,
        })),
    );
    assert_eq!(chat.dm_unread(), 2);
    chat.on_push(Event::Chat(ChatEvent::Direct {
        message: dm(3, "carol", "alice", "yo"),
    }));
    chat.on_push(Event::Chat(ChatEvent::Direct {
        message: dm(3, "carol", "alice", "yo"),
    }));
    chat.on_push(Event::Chat(ChatEvent::Direct {
        message: dm(4, "alice", "carol", "mine"),
    }));
    assert_eq!(
        chat.dm_unread(),
        3,
        "duplicates and own messages do not count"
    );
    assert_eq!(chat.dms().len(), 4);
    chat.handle_key(ctrl('p'));
    assert_eq!(chat.view(), &View::Dms);
    assert_eq!(chat.dm_unread(), 0);
    chat.take_outbox();
    assert_eq!(chat.dm_partner(), Some("carol"));
    type_line(&mut chat, "later");
    assert_eq!(
        chat.take_outbox()[0].op,
        Op::Chat(ChatOp::Dm {
            to: "carol".into(),
            text: "later".into(),
            action: false
        })
    );
}

#[test]
fn not_signed_in_says_how_to_sign_in() {
    let mut chat = ChatState::new(None);
    chat.on_connected(None);
    assert!(chat.take_outbox().is_empty());
    assert!(chat.notice().expect("notice").text.contains("F2 signs in"));
    // Signing in on the same connection (the sign-in form) clears it.
    chat.on_connected(Some("alice"));
    assert!(chat.notice().is_none());
    assert_eq!(chat.take_outbox()[0].op, Op::Chat(ChatOp::Rooms));
}
