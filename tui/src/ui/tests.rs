//! Whole-screen snapshots at 80x24 (TestBackend + insta) and drawing
//! checks, with the real tabs.

use std::time::Instant;

use agora_wire::{CacheEvent, CacheOp, CacheReply, ChatEvent, ChatOp, ChatReply};
use agora_wire::{Event, Push};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use agora_wire::chat::Status;
use agora_wire::{Op, Reply};

use super::*;
use crate::app::{Outgoing, ServerEvent};
use crate::chat::tests::{dm, msg, presence, room_info};
use crate::palette::Palette;
use crate::tabs::TabId;

mod colours;
mod signin;
mod terminal;

/// Renders `app` at 80x24 and returns the screen as text, one line per
/// row, trailing spaces trimmed.
fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal.draw(|f| render(app, f)).expect("draw");
    let buf = terminal.backend().buffer();
    buffer_text(buf)
}

fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    (area.top()..area.bottom())
        .map(|y| {
            let row: String = (area.left()..area.right())
                .map(|x| buf[(x, y)].symbol())
                .collect();
            row.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn connected() -> App {
    let mut app = App::new("127.0.0.1:7070", None);
    app.on_server(ServerEvent::Connected {
        session: 42,
        user: Some("alice".into()),
    });
    app.on_server(ServerEvent::Latency(Duration::from_micros(12_400)));
    app
}

fn reconnecting() -> App {
    let mut app = App::new("127.0.0.1:7070", Some("alice".into()));
    app.on_server(ServerEvent::Disconnected {
        error: "connection refused".into(),
    });
    app.on_server(ServerEvent::Reconnecting {
        attempt: 3,
        retry_in: Duration::from_secs(2),
        last_error: "connection refused".into(),
    });
    app
}

/// Answers every request the app queued with `respond`, until none is
/// left, as the connection task would.
fn serve(app: &mut App, respond: impl Fn(&Op) -> Result<Reply, String>) {
    loop {
        let out = app.take_outbox();
        if out.is_empty() {
            return;
        }
        for Outgoing { tag, op } in out {
            let result = respond(&op);
            app.on_server(ServerEvent::Reply { tag, result });
        }
    }
}

fn push(app: &mut App, event: impl Into<Event>) {
    app.on_server(ServerEvent::Push(Push {
        topic: "chat".into(),
        event: event.into(),
    }));
}

/// Signed in as alice in #general (with members) and #rust; #rust has
/// unread messages, one private message is unread.
fn chat_scene() -> App {
    let mut app = connected();
    serve(&mut app, |op| {
        Ok(match op {
            Op::Chat(ChatOp::Rooms) => ChatReply::Rooms {
                rooms: vec![
                    room_info("general", "all things agora", true),
                    room_info("rust", "", true),
                ],
            }
            .into(),
            Op::Chat(ChatOp::History { room, .. }) => ChatReply::History {
                room: room.clone(),
                messages: vec![],
                more: room == "general",
            }
            .into(),
            Op::Chat(ChatOp::Who { .. }) => ChatReply::Who {
                users: vec![
                    presence("alice", Status::Online),
                    presence("bob", Status::Away),
                    presence("carol", Status::Offline),
                    presence("dave", Status::Online),
                ],
            }
            .into(),
            _ => agora_wire::BaseReply::Done.into(),
        })
    });
    let mut action = msg("general", 2, "carol", "waves at everyone");
    action.action = true;
    for message in [
        msg("general", 1, "bob", "morning all"),
        action,
        msg("general", 3, "dave", "alice: can you review the chat tab?"),
        msg("general", 4, "alice", "on it"),
        msg("rust", 1, "bob", "borrowck says no"),
        msg("rust", 2, "dave", "alice, ping"),
    ] {
        push(&mut app, ChatEvent::Message { message });
    }
    push(
        &mut app,
        ChatEvent::Direct {
            message: dm(1, "bob", "alice", "lunch later?"),
        },
    );
    // The DM's notice is not part of this picture.
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(app.take_outbox().is_empty());
    app
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

#[test]
fn snapshot_chat_rooms_messages_and_members() {
    let mut app = chat_scene();
    type_text(&mut app, "hello q?");
    let text = screen(&app);
    assert!(text.contains("#general — all things agora"), "{text}");
    assert!(text.contains("* carol waves at everyone"), "{text}");
    assert!(text.contains("● dave"), "{text}");
    assert!(text.contains("◐ bob"), "{text}");
    assert!(text.contains("> hello q?"), "{text}");
    insta::assert_snapshot!("chat_rooms", text);
    // The mention is highlighted, other text is not.
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal.draw(|f| render(&app, f)).expect("draw");
    let buf = terminal.backend().buffer();
    let row = (0..24)
        .find(|&y| {
            buffer_text(buf)
                .lines()
                .nth(y)
                .is_some_and(|l| l.contains("review"))
        })
        .expect("mention row") as u16;
    let x = (0..80)
        .find(|&x| buf[(x, row)].symbol() == "r" && buf[(x + 1, row)].symbol() == "e")
        .expect("review");
    assert_eq!(buf[(x, row)].fg, Color::Yellow);
    // Input row: tab bar, border, 18 main rows, status line, then input.
    assert_eq!(terminal.get_cursor_position().expect("cursor").y, 21);
}

#[test]
fn snapshot_chat_dms_view() {
    let mut app = chat_scene();
    push(
        &mut app,
        ChatEvent::Direct {
            message: dm(2, "alice", "bob", "sure, 12:30?"),
        },
    );
    push(
        &mut app,
        ChatEvent::Direct {
            message: dm(3, "carol", "alice", "did you see the build?"),
        },
    );
    app.handle_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL));
    serve(&mut app, |_| {
        Ok(ChatReply::Who {
            users: vec![
                presence("bob", Status::Away),
                presence("carol", Status::Online),
            ],
        }
        .into())
    });
    let text = screen(&app);
    assert!(
        text.contains("Private messages — Enter replies to carol"),
        "{text}"
    );
    assert!(text.contains("alice → bob: sure, 12:30?"), "{text}");
    insta::assert_snapshot!("chat_dms", text);
}

#[test]
fn snapshot_chat_long_message_wraps() {
    let mut app = chat_scene();
    let long = "this is a long message that has to wrap over several lines of the \
                centre column, with a verylongwordthatcannotfitonanysinglelineatallokay \
                in the middle of it";
    push(
        &mut app,
        ChatEvent::Message {
            message: msg("general", 5, "bob", long),
        },
    );
    let text = screen(&app);
    for line in text.lines() {
        assert!(line.chars().count() <= 80);
    }
    assert!(text.contains("      wrap over several lines"), "{text}");
    insta::assert_snapshot!("chat_wrapping", text);
}

#[test]
fn snapshot_chat_error_in_the_status_line() {
    let mut app = chat_scene();
    type_text(&mut app, "spam");
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    serve(&mut app, |_| {
        Err("too many messages: at most 10 per second (rate_limited)".into())
    });
    let text = screen(&app);
    assert!(
        text.contains("✗ send failed: too many messages: at most 10 per second"),
        "{text}"
    );
    insta::assert_snapshot!("chat_error", text);
}

#[test]
fn snapshot_chat_help_lists_the_slash_commands() {
    let mut app = chat_scene();
    type_text(&mut app, "/help");
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let text = screen(&app);
    assert!(text.contains("Slash commands — Esc closes"), "{text}");
    assert!(
        text.contains("/join ROOM      join (or create) a room"),
        "{text}"
    );
    insta::assert_snapshot!("chat_help", text);
}

#[test]
fn chat_fits_narrow_and_short_screens() {
    let app = chat_scene();
    for (w, h) in [(60, 16), (69, 20), (79, 24), (120, 40)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        terminal.draw(|f| render(&app, f)).expect("draw");
    }
}

#[test]
fn snapshot_connected_chat() {
    let app = connected();
    let text = screen(&app);
    // Guard against an empty or half-drawn screen being snapshotted.
    assert!(text.contains("1 Chat"));
    assert!(text.contains("No private messages yet."));
    assert!(text.contains("rtt 12 ms"));
    insta::assert_snapshot!("connected_chat", text);
}

#[test]
fn snapshot_help_overlay() {
    let mut app = connected();
    app.handle_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    let text = screen(&app);
    assert!(text.contains("Global keys"));
    assert!(text.contains("Chat tab"));
    insta::assert_snapshot!("help_overlay", text);
}

#[test]
fn snapshot_up_shows_where_redis_clients_connect() {
    let mut app = connected().with_resp(Some("127.0.0.1:6379".into()));
    let text = screen(&app);
    let status = text.lines().last().unwrap_or_default();
    assert!(
        status.contains("RESP :6379 │ rtt 12 ms │ F1 help"),
        "{status}"
    );
    app.handle_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    let text = screen(&app);
    assert!(text.contains("Redis clients: redis-cli -p 6379"), "{text}");
    assert!(
        text.contains("Ctrl-C"),
        "the whole help still fits:\n{text}"
    );
    insta::assert_snapshot!("help_overlay_up", text);
    // A long name leaves no room: the RESP address goes first, the round
    // trip stays.
    let mut app = App::new("127.0.0.1:7070", None).with_resp(Some("10.1.2.3:16379".into()));
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: Some("a-rather-long-user-name".into()),
    });
    app.on_server(ServerEvent::Latency(Duration::from_millis(3)));
    let status = screen(&app).lines().last().unwrap_or_default().to_string();
    assert!(!status.contains("RESP"), "{status}");
    assert!(status.contains("rtt 3 ms"), "{status}");
    assert_eq!(
        redis_cli("10.1.2.3:16379"),
        "redis-cli -h 10.1.2.3 -p 16379"
    );
    assert_eq!(redis_cli("[::1]:6380"), "redis-cli -p 6380");
    assert_eq!(
        short_resp("127.0.0.1:7070", "10.1.2.3:16379"),
        "10.1.2.3:16379"
    );
}

#[test]
fn snapshot_reconnecting() {
    let mut app = reconnecting();
    // A tick only starts the countdown; the first report is shown as is.
    app.on_tick(Instant::now());
    let text = screen(&app);
    assert!(text.contains("reconnecting in 2s (attempt 3): connection refused"));
    insta::assert_snapshot!("reconnecting", text);
}

/// A fake cache: three keys, INFO figures, details per key.
fn cache_answer(op: &Op) -> Result<Reply, String> {
    use agora_wire::CacheValue as V;
    let Op::Cache(CacheOp::Command { args, quiet: true }) = op else {
        return Ok(CacheReply::Subscribed {
            channels: vec![],
            patterns: vec![],
        }
        .into());
    };
    let a: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let bulk = |b: &[u8]| V::bulk(b.to_vec());
    let value = match (a[0].as_str(), a.get(1).map(String::as_str)) {
        ("SCAN", _) => V::Array {
            items: vec![
                bulk(b"0"),
                V::Array {
                    items: vec![bulk(b"user:1"), bulk(b"blob"), bulk(b"queue")],
                },
            ],
        },
        ("INFO", _) => bulk(
            b"# Stats\r\ninstantaneous_ops_per_sec:1250\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\n# Memory\r\nused_memory:3145728\r\nmaxmemory:8388608\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n",
        ),
        ("TYPE", Some("queue")) => V::Simple {
            value: "list".into(),
        },
        ("TYPE", _) => V::Simple {
            value: "string".into(),
        },
        ("PTTL", Some("user:1")) => V::Integer { value: 95_000 },
        ("PTTL", _) => V::Integer { value: -1 },
        ("STRLEN", Some("blob")) => V::Integer { value: 20 },
        ("STRLEN", _) => V::Integer { value: 5 },
        ("LLEN", _) => V::Integer { value: 2 },
        ("GETRANGE", Some("blob")) => V::bulk((0u8..20).map(|b| b * 13).collect::<Vec<_>>()),
        ("GETRANGE", _) => bulk(b"alice"),
        ("LRANGE", _) => V::Array {
            items: vec![bulk(b"job-1"), bulk(b"job-2")],
        },
        _ => V::Nil,
    };
    Ok(CacheReply::Value { value }.into())
}

fn cache_scene() -> App {
    let mut app = connected();
    app.select_tab(TabId::Cache);
    app.on_tick(Instant::now());
    serve(&mut app, cache_answer);
    app
}

#[test]
fn snapshot_cache_browser_with_a_binary_value() {
    let app = cache_scene();
    let text = screen(&app);
    assert!(text.contains("ops/s 1250"), "{text}");
    insta::assert_snapshot!("cache_binary", text);
}

#[test]
fn snapshot_cache_list_value_filter_and_monitor() {
    let mut app = cache_scene();
    let key =
        |app: &mut App, code: KeyCode| app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('m'));
    serve(&mut app, cache_answer);
    app.on_server(ServerEvent::Push(Push {
        topic: "cache".into(),
        event: CacheEvent::Message {
            channel: serde_bytes::ByteBuf::from(b"news".to_vec()),
            pattern: Some(serde_bytes::ByteBuf::from(b"*".to_vec())),
            payload: serde_bytes::ByteBuf::from(b"hello\nworld".to_vec()),
        }
        .into(),
    }));
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Char('q'));
    let text = screen(&app);
    assert!(text.contains("job-2"), "{text}");
    assert_eq!(app.tab(), TabId::Cache, "q is typed into the filter");
    insta::assert_snapshot!("cache_list_monitor", text);
}

/// A fake cache holding one stream: XLEN and XINFO STREAM answer.
fn stream_answer(op: &Op) -> Result<Reply, String> {
    use agora_wire::CacheValue as V;
    let Op::Cache(CacheOp::Command { args, .. }) = op else {
        return cache_answer(op);
    };
    let bulk = |b: &str| V::bulk(b.as_bytes().to_vec());
    let entry = |id: &str, v: &str| V::Array {
        items: vec![
            bulk(id),
            V::Array {
                items: vec![bulk("job"), bulk(v)],
            },
        ],
    };
    let value = match String::from_utf8_lossy(&args[0]).as_ref() {
        "SCAN" => V::Array {
            items: vec![
                bulk("0"),
                V::Array {
                    items: vec![bulk("events")],
                },
            ],
        },
        "TYPE" => V::Simple {
            value: "stream".into(),
        },
        "PTTL" => V::Integer { value: -1 },
        "XLEN" => V::Integer { value: 3 },
        "XINFO" => V::Array {
            items: vec![
                bulk("length"),
                V::Integer { value: 3 },
                bulk("last-generated-id"),
                bulk("1700000000002-0"),
                bulk("groups"),
                V::Integer { value: 1 },
                bulk("first-entry"),
                entry("1700000000000-0", "send-mail"),
                bulk("last-entry"),
                entry("1700000000002-0", "resize"),
            ],
        },
        _ => return cache_answer(op),
    };
    Ok(CacheReply::Value { value }.into())
}

#[test]
fn snapshot_cache_cluster_panel() {
    let mut app = connected();
    app.select_tab(TabId::Cache);
    app.on_tick(Instant::now());
    serve(&mut app, |op| match op {
        Op::Cache(CacheOp::ClusterStatus) => crate::cache::tests::cluster_reply(),
        other => cache_answer(other),
    });
    let text = screen(&app);
    assert!(text.contains("Cluster prod (proxy)"), "{text}");
    assert!(text.contains("n1 *"), "{text}");
    insta::assert_snapshot!("cache_cluster", text);
}

#[test]
fn snapshot_cache_stream_value() {
    let mut app = connected();
    app.select_tab(TabId::Cache);
    app.on_tick(Instant::now());
    serve(&mut app, stream_answer);
    let text = screen(&app);
    assert!(text.contains("1700000000002-0"), "{text}");
    insta::assert_snapshot!("cache_stream", text);
}

#[test]
fn cache_tab_scans_as_soon_as_it_is_shown_and_says_loading_meanwhile() {
    let mut app = connected();
    assert!(
        app.take_outbox()
            .iter()
            .all(|o| !matches!(o.op, Op::Cache(_)))
    );
    // Alt-5 from the Chat tab: no tick has passed yet.
    app.handle_key(KeyEvent::new(KeyCode::Char('5'), KeyModifiers::ALT));
    let text = screen(&app);
    assert!(text.contains("Keys (loading…)"), "{text}");
    assert!(!text.contains("Keys (0)"), "{text}");
    let out = app.take_outbox();
    let asked: Vec<&Op> = out.iter().map(|o| &o.op).collect();
    assert!(
        asked.iter().any(|op| matches!(op, Op::Cache(CacheOp::Command { args, .. }) if args[0].as_slice() == b"SCAN")),
        "{asked:?}"
    );
    for Outgoing { tag, op } in out {
        let result = cache_answer(&op);
        app.on_server(ServerEvent::Reply { tag, result });
    }
    serve(&mut app, cache_answer);
    let text = screen(&app);
    assert!(text.contains("Keys (3)"), "{text}");
    assert!(text.contains("keys 3"), "{text}");
    // Connecting while the tab is shown scans at once too.
    app.on_server(ServerEvent::Disconnected {
        error: "gone".into(),
    });
    app.on_server(ServerEvent::Connected {
        session: 43,
        user: Some("alice".into()),
    });
    assert!(screen(&app).contains("Keys (loading…)"));
    assert!(app.take_outbox().iter().any(|o| matches!(&o.op, Op::Cache(CacheOp::Command { args, .. }) if args[0].as_slice() == b"SCAN")));
}

#[test]
fn dashboard_says_who_is_watching_once_signed_in() {
    let mut app = connected();
    app.select_tab(TabId::Dashboard);
    assert!(screen(&app).contains("waiting for the first sample"));
    app.on_server(ServerEvent::Push(Push {
        topic: "metrics".into(),
        event: agora_wire::MetricsEvent::Viewers {
            viewers: vec![agora_wire::metrics::Viewer {
                session: 9,
                user: "bob".into(),
                since_ms: 0,
                view: "web".into(),
            }],
        }
        .into(),
    }));
    let dashboard: &crate::dashboard::DashboardState = app.find().expect("the dashboard");
    assert_eq!(dashboard.viewers()[0].user, "bob");
}

#[test]
fn status_bar_says_who_and_how() {
    let app = App::new("example.org:7070", None);
    let text = screen(&app);
    let status = text.lines().last().unwrap_or_default();
    assert!(status.contains("example.org:7070"), "{status}");
    assert!(status.contains("not signed in (F2)"), "{status}");
    assert!(status.contains("connecting…"), "{status}");
    assert!(!status.contains("rtt"), "{status}");
}

#[test]
fn formats_are_stable() {
    assert_eq!(latency_text(Duration::from_micros(400)), "<1 ms");
    assert_eq!(latency_text(Duration::from_micros(12_900)), "12 ms");
    assert_eq!(ceil_secs(Duration::from_millis(250)), 1);
    assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
    assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
    let (text, _) = connection_text(&Connection::Reconnecting {
        attempt: 1,
        retry_in: Duration::ZERO,
        last_error: "timed out".into(),
    });
    assert_eq!(text, "reconnecting now (attempt 1): timed out");
}

#[test]
fn a_click_on_a_tab_title_selects_it() {
    use crate::app::EventState;
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = connected();
    let click = |column: u16, row: u16| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // Each title's cells, as drawn: its first and last letter select it.
    for tab in [TabId::Games, TabId::Cache, TabId::Chat, TabId::Jobs] {
        let text = screen(&app);
        let bar = text.lines().next().unwrap();
        let title = format!(
            "{} {}",
            tab.index() + 1,
            app.tabs().nth(tab.index()).unwrap().title()
        );
        let byte = bar.find(&title).expect("the title in the tab bar");
        let first = bar[..byte].chars().count() as u16;
        let last = first + title.chars().count() as u16 - 1;
        for x in [first, last] {
            app.select_tab(TabId::Dashboard);
            assert_eq!(
                app.handle_mouse(click(x, 0)),
                EventState::Consumed,
                "{title} at {x}"
            );
            assert_eq!(app.tab(), tab, "{title} at {x}");
        }
    }
    // The brand, and a click below the bar in a tab without mouse actions.
    assert_eq!(app.handle_mouse(click(2, 0)), EventState::NotConsumed);
    assert_eq!(app.handle_mouse(click(10, 10)), EventState::NotConsumed);
    assert_eq!(app.tab(), TabId::Jobs);
}

/// The status bar names the signed-in user's organizations (the first by
/// slug with the role, and how many more), as the daemon's `orgs` says.
#[test]
fn snapshot_status_bar_shows_the_users_organizations() {
    let mut app = connected();
    let org = |slug: &str, role: &str| agora_wire::OrgRole {
        slug: slug.into(),
        name: format!("{slug} Inc."),
        role: role.into(),
    };
    // Only the organizations are answered: the rest is not this picture.
    for Outgoing { tag, op } in app.take_outbox() {
        if op == Op::Base(agora_wire::BaseOp::Orgs) {
            let orgs = vec![org("acme", "owner"), org("globex", "author")];
            let result = Ok(agora_wire::BaseReply::Orgs { orgs }.into());
            app.on_server(ServerEvent::Reply { tag, result });
        }
    }
    assert_eq!(app.orgs().len(), 2);
    let text = screen(&app);
    let status = text.lines().last().unwrap_or_default();
    assert!(status.contains("alice (acme owner +1)"), "{status}");
    assert!(status.contains("connected"), "{status}");
    insta::assert_snapshot!("status_orgs", text);
    // One organization: no count; none (or an error): nothing.
    assert_eq!(
        orgs_text(&[org("acme", "viewer")]).as_deref(),
        Some("acme viewer")
    );
    assert_eq!(orgs_text(&[]), None);
    // Signed out on the next connection: forgotten, not asked.
    app.on_server(ServerEvent::Connected {
        session: 43,
        user: None,
    });
    assert!(app.orgs().is_empty());
    assert!(
        app.take_outbox()
            .iter()
            .all(|o| !matches!(o.op, Op::Base(agora_wire::BaseOp::Orgs)))
    );
}
