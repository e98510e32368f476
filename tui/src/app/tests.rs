//! State-transition tests of the app with the real tabs: key routing,
//! server events, ticks, tag namespaces.

use super::*;
use agora_wire::{ChatOp, Event, Op};

fn press(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn app() -> App {
    App::new("127.0.0.1:7070", None)
}

fn chat(app: &App) -> &crate::chat::ChatState {
    app.find().expect("a chat tab")
}

#[test]
fn tab_and_right_move_forward_and_wrap() {
    let mut app = app();
    let mut seen = vec![app.tab()];
    for _ in 0..5 {
        assert_eq!(app.handle_key(press(KeyCode::Tab)), EventState::Consumed);
        seen.push(app.tab());
    }
    assert_eq!(
        seen,
        [
            TabId::Chat,
            TabId::Dashboard,
            TabId::Games,
            TabId::Jobs,
            TabId::Cache,
            TabId::Chat
        ]
    );
    app.handle_key(press(KeyCode::Right));
    assert_eq!(app.tab(), TabId::Dashboard);
}

#[test]
fn shift_tab_and_left_move_back_and_wrap() {
    let mut app = app();
    app.handle_key(press(KeyCode::BackTab));
    assert_eq!(app.tab(), TabId::Cache);
    app.handle_key(press(KeyCode::Left));
    assert_eq!(app.tab(), TabId::Jobs);
    // Some terminals send Shift-Tab as BackTab with SHIFT set.
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.tab(), TabId::Games);
}

#[test]
fn number_keys_pick_tabs() {
    let mut app = app();
    // In the Chat tab digits are typed; elsewhere they pick tabs.
    app.select_tab(TabId::Dashboard);
    for (c, tab) in ['5', '2', '4', '3', '1'].into_iter().zip([
        TabId::Cache,
        TabId::Dashboard,
        TabId::Jobs,
        TabId::Games,
        TabId::Chat,
    ]) {
        assert_eq!(
            app.handle_key(press(KeyCode::Char(c))),
            EventState::Consumed
        );
        assert_eq!(app.tab(), tab, "key {c}");
    }
    app.select_tab(TabId::Games);
    for c in ['0', '6', '9', 'Z'] {
        assert_eq!(
            app.handle_key(press(KeyCode::Char(c))),
            EventState::NotConsumed
        );
        assert_eq!(app.tab(), TabId::Games, "key {c}");
    }
}

#[test]
fn question_mark_toggles_help_and_esc_closes_it() {
    let mut app = app();
    app.select_tab(TabId::Dashboard);
    assert_eq!(app.overlay(), Overlay::None);
    app.handle_key(press(KeyCode::Char('?')));
    assert_eq!(app.overlay(), Overlay::Help);
    app.handle_key(press(KeyCode::Char('?')));
    assert_eq!(app.overlay(), Overlay::None);
    app.handle_key(press(KeyCode::Char('?')));
    assert_eq!(app.handle_key(press(KeyCode::Esc)), EventState::Consumed);
    assert_eq!(app.overlay(), Overlay::None);
    // Esc with nothing open is nobody's business yet.
    assert_eq!(app.handle_key(press(KeyCode::Esc)), EventState::NotConsumed);
}

#[test]
fn help_is_modal_for_tab_keys() {
    let mut app = app();
    app.handle_key(press(KeyCode::F(1)));
    app.handle_key(press(KeyCode::Tab));
    app.handle_key(press(KeyCode::Char('3')));
    assert_eq!(app.tab(), TabId::Chat);
    assert_eq!(app.overlay(), Overlay::Help);
}

#[test]
fn q_quits_even_with_help_open() {
    let mut app = app();
    assert_eq!(app.run_state(), RunState::Running);
    app.handle_key(press(KeyCode::F(1)));
    app.handle_key(press(KeyCode::Char('q')));
    assert_eq!(app.run_state(), RunState::Quitting);
}

#[test]
fn ctrl_c_quits_but_other_ctrl_keys_do_not() {
    let mut app = app();
    app.handle_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::CONTROL));
    app.handle_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL));
    assert_eq!(app.run_state(), RunState::Running);
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(app.run_state(), RunState::Quitting);
}

#[test]
fn key_releases_are_ignored() {
    let mut app = app();
    let mut release = press(KeyCode::Tab);
    release.kind = KeyEventKind::Release;
    assert_eq!(app.handle_key(release), EventState::NotConsumed);
    assert_eq!(app.tab(), TabId::Chat);
}

#[test]
fn server_events_drive_the_connection_state() {
    let mut app = App::new("127.0.0.1:7070", Some("guess".into()));
    assert_eq!(app.connection(), &Connection::Connecting);

    app.on_server(ServerEvent::Connected {
        session: 7,
        user: Some("alice".into()),
    });
    assert_eq!(
        app.connection(),
        &Connection::Connected {
            latency: None,
            session: 7
        }
    );
    assert_eq!(app.user(), Some("alice"));

    app.on_server(ServerEvent::Latency(Duration::from_millis(12)));
    assert_eq!(
        app.connection(),
        &Connection::Connected {
            latency: Some(Duration::from_millis(12)),
            session: 7
        }
    );

    app.on_server(ServerEvent::Disconnected {
        error: "connection reset".into(),
    });
    assert_eq!(app.connection(), &Connection::Connecting);
    // A pong that raced the drop does not resurrect the connection.
    app.on_server(ServerEvent::Latency(Duration::from_millis(3)));
    assert_eq!(app.connection(), &Connection::Connecting);

    app.on_server(ServerEvent::Reconnecting {
        attempt: 3,
        retry_in: Duration::from_secs(2),
        last_error: "connection refused".into(),
    });
    assert_eq!(
        app.connection(),
        &Connection::Reconnecting {
            attempt: 3,
            retry_in: Duration::from_secs(2),
            last_error: "connection refused".into()
        }
    );

    app.on_server(ServerEvent::Connected {
        session: 8,
        user: None,
    });
    assert_eq!(app.user(), None);
}

#[test]
fn ticks_count_the_reconnect_delay_down() {
    let mut app = app();
    let t0 = Instant::now();
    app.on_server(ServerEvent::Reconnecting {
        attempt: 1,
        retry_in: Duration::from_secs(2),
        last_error: "refused".into(),
    });
    let retry_in = |app: &App| match app.connection() {
        Connection::Reconnecting { retry_in, .. } => *retry_in,
        other => panic!("not reconnecting: {other:?}"),
    };
    app.on_tick(t0);
    assert_eq!(retry_in(&app), Duration::from_secs(2));
    app.on_tick(t0 + Duration::from_millis(750));
    assert_eq!(retry_in(&app), Duration::from_millis(1250));
    app.on_tick(t0 + Duration::from_secs(5));
    assert_eq!(retry_in(&app), Duration::ZERO);

    // A new report restarts the countdown from its own value.
    app.on_server(ServerEvent::Reconnecting {
        attempt: 2,
        retry_in: Duration::from_secs(4),
        last_error: "refused".into(),
    });
    app.on_tick(t0 + Duration::from_secs(6));
    app.on_tick(t0 + Duration::from_secs(7));
    assert_eq!(retry_in(&app), Duration::from_secs(3));
}

#[test]
fn dashboard_viewers_arrive_as_metrics_pushes() {
    use agora_wire::MetricsEvent;
    use agora_wire::metrics::Viewer;
    let mut app = app();
    let viewer = |session: u64| Viewer {
        session,
        user: format!("u{session}"),
        since_ms: 0,
        view: "tui".into(),
    };
    app.on_server(ServerEvent::Push(Push {
        topic: "metrics".into(),
        event: MetricsEvent::Viewers {
            viewers: vec![viewer(1), viewer(2)],
        }
        .into(),
    }));
    let dashboard: &crate::dashboard::DashboardState = app.find().expect("the dashboard");
    let seen: Vec<_> = dashboard
        .viewers()
        .iter()
        .map(|v| v.user.as_str())
        .collect();
    assert_eq!(seen, ["u1", "u2"]);
}

#[test]
fn the_chat_input_gets_typed_keys_and_the_shell_keeps_a_way_out() {
    let mut app = app();
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: Some("alice".into()),
    });
    for c in ['q', '?', '2'] {
        assert_eq!(
            app.handle_key(press(KeyCode::Char(c))),
            EventState::Consumed
        );
    }
    assert_eq!(app.run_state(), RunState::Running, "q is typed, not quit");
    assert_eq!((app.tab(), app.overlay()), (TabId::Chat, Overlay::None));
    assert_eq!(chat(&app).input().text(), "q?2");
    // With text in the line, Tab completes and Left moves the cursor.
    app.handle_key(press(KeyCode::Tab));
    app.handle_key(press(KeyCode::Left));
    assert_eq!(app.tab(), TabId::Chat);
    // F1 and Alt-digits work from the input line.
    app.handle_key(press(KeyCode::F(1)));
    assert_eq!(app.overlay(), Overlay::Help);
    app.handle_key(press(KeyCode::Esc));
    app.handle_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::ALT));
    assert_eq!(app.tab(), TabId::Jobs);
    app.handle_key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT));
    // An empty line hands Tab back to the shell.
    app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    app.handle_key(press(KeyCode::Tab));
    assert_eq!(app.tab(), TabId::Dashboard);
    // Back in Chat, /quit and Ctrl-C quit.
    app.select_tab(TabId::Chat);
    for c in "/quit".chars() {
        app.handle_key(press(KeyCode::Char(c)));
    }
    app.handle_key(press(KeyCode::Enter));
    assert_eq!(app.run_state(), RunState::Quitting);
}

#[test]
fn connecting_queues_the_chat_sync_and_replies_reach_the_chat() {
    let mut app = app();
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: Some("alice".into()),
    });
    let out = app.take_outbox();
    // The app's own request for the status bar's organizations, and the
    // chat's sync.
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].op, agora_wire::BaseOp::Orgs.into());
    assert_eq!(out[1].op, ChatOp::Rooms.into());
    assert!(app.take_outbox().is_empty());
    app.on_server(ServerEvent::Reply {
        tag: out[1].tag,
        result: Err("boom".into()),
    });
    let notice = chat(&app).notice().expect("notice");
    assert_eq!(notice.text, "listing rooms failed: boom");
}

#[test]
fn each_tab_gets_its_own_tag_namespace_and_its_own_replies() {
    let mut app = app();
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: Some("alice".into()),
    });
    app.select_tab(TabId::Cache);
    app.on_tick(Instant::now());
    let out = app.take_outbox();
    let space = |tag: u64| tag >> 48;
    let chat_tags: Vec<u64> = out
        .iter()
        .filter(|o| matches!(o.op, Op::Chat(_)))
        .map(|o| o.tag)
        .collect();
    let cache_tags: Vec<u64> = out
        .iter()
        .filter(|o| matches!(o.op, Op::Cache(_)))
        .map(|o| o.tag)
        .collect();
    assert!(!chat_tags.is_empty() && !cache_tags.is_empty(), "{out:?}");
    // Both tabs number their requests from 1; the app keeps them apart.
    assert!(
        chat_tags
            .iter()
            .all(|t| space(*t) == 1 + TabId::Chat.index() as u64)
    );
    assert!(
        cache_tags
            .iter()
            .all(|t| space(*t) == 1 + TabId::Cache.index() as u64)
    );
    let mut all: Vec<u64> = out.iter().map(|o| o.tag).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), out.len(), "tags are unique");
    // An error for the cache's request shows in the Cache tab only.
    app.on_server(ServerEvent::Reply {
        tag: cache_tags[0],
        result: Err("cache boom".into()),
    });
    let cache: &crate::cache::CacheState = app.find().expect("cache tab");
    assert_eq!(cache.error(), Some("cache boom"));
    assert!(chat(&app).notice().is_none());
    // And the chat's in the Chat tab only.
    app.on_server(ServerEvent::Reply {
        tag: chat_tags[0],
        result: Err("chat boom".into()),
    });
    assert_eq!(
        chat(&app).notice().map(|n| n.text.as_str()),
        Some("listing rooms failed: chat boom")
    );
    // A tag in no tab's namespace is dropped.
    app.on_server(ServerEvent::Reply {
        tag: 99 << 48 | 1,
        result: Err("stray".into()),
    });
    app.on_server(ServerEvent::Reply {
        tag: 1,
        result: Err("stray".into()),
    });
    assert_eq!(
        chat(&app).notice().map(|n| n.text.as_str()),
        Some("listing rooms failed: chat boom")
    );
}

#[test]
fn pushes_reach_only_the_tab_that_follows_their_service() {
    use agora_wire::{CacheEvent, ChatEvent};
    let mut app = app();
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: Some("alice".into()),
    });
    // The Cache tab's monitor on, so it would show any message it got.
    app.select_tab(TabId::Cache);
    app.handle_key(press(KeyCode::Char('m')));
    let push = |app: &mut App, event: Event| {
        app.on_server(ServerEvent::Push(Push {
            topic: "t".into(),
            event,
        }))
    };
    let message = agora_wire::chat::ChatMessage {
        room: "ops".into(),
        seq: 1,
        from: "bob".into(),
        text: "hi".into(),
        action: false,
        ts_ms: 0,
    };
    push(&mut app, ChatEvent::Message { message }.into());
    let cache: &crate::cache::CacheState = app.find().expect("cache tab");
    assert!(
        cache.monitor().1.is_empty(),
        "a chat event reached the cache tab"
    );
    push(
        &mut app,
        CacheEvent::Message {
            channel: serde_bytes::ByteBuf::from(b"news".to_vec()),
            pattern: None,
            payload: serde_bytes::ByteBuf::from(b"x".to_vec()),
        }
        .into(),
    );
    let cache: &crate::cache::CacheState = app.find().expect("cache tab");
    assert_eq!(cache.monitor().1.len(), 1);
    // Metrics events go to the Dashboard, not to the chat.
    push(
        &mut app,
        agora_wire::MetricsEvent::Viewers {
            viewers: vec![agora_wire::metrics::Viewer {
                session: 5,
                user: "carol".into(),
                since_ms: 0,
                view: "web".into(),
            }],
        }
        .into(),
    );
    let dashboard: &crate::dashboard::DashboardState = app.find().expect("the dashboard");
    assert_eq!(dashboard.viewers().len(), 1);
    assert!(chat(&app).notice().is_none());
}

#[test]
fn the_sign_in_form_opens_without_a_user_and_keeps_its_keys() {
    use agora_wire::{BaseOp, BaseReply, UserInfo};
    let mut app = App::new("127.0.0.1:7070", Some("alice".into()));
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: None,
    });
    assert_eq!(app.overlay(), Overlay::SignIn);
    let form = app.signin().expect("the form");
    assert_eq!(form.field(crate::signin::Field::Name).text(), "alice");
    // Everything typed goes into the form: not quit, not a tab switch,
    // not the chat's input line, not the help.
    for code in [
        KeyCode::Char('q'),
        KeyCode::Char('2'),
        KeyCode::Char('?'),
        KeyCode::Tab,
        KeyCode::F(1),
    ] {
        assert_eq!(app.handle_key(press(code)), EventState::Consumed);
    }
    app.handle_key(KeyEvent::new(KeyCode::Char('5'), KeyModifiers::ALT));
    assert_eq!(app.run_state(), RunState::Running);
    assert_eq!((app.tab(), app.overlay()), (TabId::Chat, Overlay::SignIn));
    assert!(chat(&app).input().is_empty());
    // Esc closes it; a reconnection without a user does not reopen it.
    app.handle_key(press(KeyCode::Esc));
    assert_eq!(app.overlay(), Overlay::None);
    app.on_server(ServerEvent::Disconnected {
        error: "gone".into(),
    });
    app.on_server(ServerEvent::Connected {
        session: 2,
        user: None,
    });
    assert_eq!(app.overlay(), Overlay::None);
    app.take_outbox();
    // F2 opens it from anywhere, even over the help.
    app.handle_key(press(KeyCode::F(1)));
    app.handle_key(press(KeyCode::F(2)));
    assert_eq!(app.overlay(), Overlay::SignIn);
    for c in "pass-word".chars() {
        app.handle_key(press(KeyCode::Char(c)));
    }
    app.handle_key(press(KeyCode::Enter));
    let out = app.take_outbox();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tag >> 48, 0, "the form's own tag namespace");
    assert_eq!(
        out[0].op,
        Op::Base(BaseOp::Login {
            name: "alice".into(),
            password: "pass-word".into()
        })
    );
    assert_eq!(app.take_signed_in(), None);
    app.on_server(ServerEvent::Reply {
        tag: out[0].tag,
        result: Ok(BaseReply::Session {
            user: UserInfo {
                id: 3,
                name: "alice".into(),
            },
            token: "new-token".into(),
            expires_at_ms: 5,
        }
        .into()),
    });
    assert_eq!(app.overlay(), Overlay::None);
    assert_eq!(app.user(), Some("alice"));
    let signed = app.take_signed_in().expect("for the event loop");
    assert_eq!((signed.user_id, signed.token.as_str()), (3, "new-token"));
    assert_eq!(app.take_signed_in(), None, "taken once");
    // The tabs start over signed in: the chat syncs its rooms.
    assert!(
        app.take_outbox()
            .iter()
            .any(|o| o.op == ChatOp::Rooms.into())
    );
    assert_eq!(chat(&app).me(), Some("alice"));
    // Ctrl-C quits even from the form.
    app.handle_key(press(KeyCode::F(2)));
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(app.run_state(), RunState::Quitting);
}

#[test]
fn a_failed_sign_in_stays_in_the_form() {
    let mut app = app();
    app.on_server(ServerEvent::Connected {
        session: 1,
        user: None,
    });
    for c in "bob".chars() {
        app.handle_key(press(KeyCode::Char(c)));
    }
    app.handle_key(press(KeyCode::Tab));
    for c in "nope-nope".chars() {
        app.handle_key(press(KeyCode::Char(c)));
    }
    app.handle_key(press(KeyCode::Enter));
    let out = app.take_outbox();
    app.on_server(ServerEvent::Reply {
        tag: out[0].tag,
        result: Err("wrong user name or password (unauthorized)".into()),
    });
    let form = app.signin().expect("still open");
    assert_eq!(
        form.error(),
        Some("wrong user name or password (unauthorized)")
    );
    assert_eq!(app.user(), None);
    assert_eq!(app.take_signed_in(), None);
}
