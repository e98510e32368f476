use std::time::{Duration, Instant};

use agora_wire::{CacheEvent, CacheOp, CacheReply, CacheValue, ClusterNode, Event, Op, Reply};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_bytes::ByteBuf;

use super::view::{hex_dump, human_bytes, ttl_text};
use super::*;

fn press(state: &mut CacheState, code: KeyCode) -> KeyOutcome {
    state.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn args(op: &Op) -> Vec<String> {
    match op {
        Op::Cache(CacheOp::Command { args, quiet }) => {
            assert!(quiet, "the Cache tab's browsing is quiet");
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        }
        other => vec![other.name().to_owned()],
    }
}

fn bulk(s: &str) -> CacheValue {
    CacheValue::bulk(s.as_bytes().to_vec())
}

fn reply(value: CacheValue) -> Result<Reply, String> {
    Ok(Reply::Cache(CacheReply::Value { value }))
}

#[test]
fn info_is_parsed() {
    let s = Stats::parse(
        "# Stats\r\ninstantaneous_ops_per_sec:42\r\nkeyspace_hits:3\r\nkeyspace_misses:1\r\n\
         # Memory\r\nused_memory:2048\r\nmaxmemory:0\r\n# Keyspace\r\ndb0:keys=7,expires=1,avg_ttl=0\r\n",
    );
    assert_eq!(s.ops_per_sec, 42);
    assert_eq!(s.hit_ratio(), Some(0.75));
    assert_eq!((s.used_memory, s.max_memory, s.keys), (2048, 0, 7));
    assert_eq!(Stats::default().hit_ratio(), None);
}

#[test]
fn scans_page_by_page_with_the_filter() {
    let mut s = CacheState::new();
    let t0 = Instant::now();
    s.on_tick(t0, true);
    assert!(s.take_outbox().is_empty(), "nothing before connecting");
    s.on_connected(None);
    s.on_tick(t0, false);
    assert!(s.take_outbox().is_empty(), "nothing while hidden");
    // Filter `user` becomes MATCH *user*.
    assert_eq!(press(&mut s, KeyCode::Char('/')), KeyOutcome::Consumed);
    for c in "user".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    assert_eq!(press(&mut s, KeyCode::Char('q')), KeyOutcome::Consumed);
    press(&mut s, KeyCode::Backspace);
    press(&mut s, KeyCode::Enter);
    s.on_tick(t0, true);
    let out = s.take_outbox();
    let scan = out.iter().find(|o| args(&o.op)[0] == "SCAN").unwrap();
    assert_eq!(
        args(&scan.op),
        ["SCAN", "0", "MATCH", "*user*", "COUNT", "200"]
    );
    assert!(out.iter().any(|o| args(&o.op) == ["INFO"]));
    s.on_reply(
        scan.tag,
        reply(CacheValue::Array {
            items: vec![
                bulk("17"),
                CacheValue::Array {
                    items: vec![bulk("user:2")],
                },
            ],
        }),
    );
    let next = s.take_outbox();
    assert_eq!(args(&next[0].op)[1], "17", "continues from the cursor");
    s.on_reply(
        next[0].tag,
        reply(CacheValue::Array {
            items: vec![
                bulk("0"),
                CacheValue::Array {
                    items: vec![bulk("user:1")],
                },
            ],
        }),
    );
    assert!(!s.scanning());
    assert_eq!(s.keys(), [b"user:1".to_vec(), b"user:2".to_vec()]);
    // The first key is selected and its details are asked for.
    let out = s.take_outbox();
    let asked: Vec<Vec<String>> = out.iter().map(|o| args(&o.op)).collect();
    assert_eq!(asked, [["TYPE", "user:1"], ["PTTL", "user:1"]]);
    s.on_reply(
        out[0].tag,
        reply(CacheValue::Simple {
            value: "string".into(),
        }),
    );
    s.on_reply(out[1].tag, reply(CacheValue::Integer { value: 10_000 }));
    let out = s.take_outbox();
    let asked: Vec<Vec<String>> = out.iter().map(|o| args(&o.op)).collect();
    assert_eq!(
        asked,
        [
            vec!["STRLEN", "user:1"],
            vec!["GETRANGE", "user:1", "0", "1023"]
        ]
    );
    // The TTL counts down with the ticks.
    assert_eq!(s.ttl_now(), Some(10_000));
    s.on_tick(t0 + Duration::from_millis(2_500), true);
    assert_eq!(s.ttl_now(), Some(7_500));
}

/// A SCAN answer with `keys` and cursor 0.
fn scan_reply(keys: &[&str]) -> Result<Reply, String> {
    reply(CacheValue::Array {
        items: vec![
            bulk("0"),
            CacheValue::Array {
                items: keys.iter().map(|k| bulk(k)).collect(),
            },
        ],
    })
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[test]
fn showing_the_tab_scans_at_once_and_says_loading_until_answered() {
    let mut s = CacheState::new();
    s.on_connected(None);
    assert!(s.take_outbox().is_empty(), "nothing while hidden");
    assert!(s.loading(), "nothing listed yet is not zero keys");
    // No tick needed: being shown is enough.
    s.on_show();
    let out = s.take_outbox();
    let asked: Vec<String> = out.iter().map(|o| args(&o.op)[0].clone()).collect();
    assert_eq!(asked, ["SCAN", "INFO", "cache_cluster_status"]);
    assert!(s.loading());
    // A tick right after asks for nothing more.
    s.on_tick(Instant::now(), true);
    assert!(s.take_outbox().is_empty());
    s.on_reply(out[0].tag, scan_reply(&["b", "a"]));
    assert!(!s.loading());
    assert_eq!(s.keys(), [b"a".to_vec(), b"b".to_vec()]);
    // Shown again later: the list is kept, only INFO is asked again.
    s.take_outbox();
    s.on_reply(out[1].tag, reply(bulk("# Stats\r\n")));
    // A daemon that does not know the operation: no panel, no error.
    s.on_reply(out[2].tag, Err("unknown operation".into()));
    assert!(s.cluster().is_none() && s.error().is_none());
    s.on_show();
    let asked: Vec<String> = s
        .take_outbox()
        .iter()
        .map(|o| args(&o.op)[0].clone())
        .collect();
    assert_eq!(asked, ["INFO", "cache_cluster_status"]);
}

#[test]
fn g_home_and_end_jump_to_the_first_and_last_key() {
    let mut s = CacheState::new();
    s.on_connected(None);
    s.on_show();
    let out = s.take_outbox();
    let keys: Vec<String> = (0..30).map(|i| format!("k{i:02}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    s.on_reply(out[0].tag, scan_reply(&keys));
    for (code, at) in [
        (KeyCode::Char('G'), 29),
        (KeyCode::Char('g'), 0),
        (KeyCode::End, 29),
        (KeyCode::PageUp, 19),
        (KeyCode::Home, 0),
        (KeyCode::Char('k'), 0),
    ] {
        assert_eq!(press(&mut s, code), KeyOutcome::Consumed, "{code:?}");
        assert_eq!(s.selected(), at, "{code:?}");
    }
}

#[test]
fn the_filter_prompt_edits_like_any_line() {
    let mut s = CacheState::new();
    s.on_connected(None);
    s.on_show();
    s.take_outbox();
    press(&mut s, KeyCode::Char('/'));
    assert!(s.types_text(), "q, ? and digits are typed into the filter");
    for c in "user:1".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    assert_eq!(s.handle_key(ctrl('u')), KeyOutcome::Consumed);
    assert_eq!(s.filter().1.map(|e| e.text()), Some(String::new()));
    for c in "ser".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Home);
    press(&mut s, KeyCode::Char('u'));
    press(&mut s, KeyCode::End);
    press(&mut s, KeyCode::Char('*'));
    press(&mut s, KeyCode::Left);
    press(&mut s, KeyCode::Char('G'));
    assert_eq!(s.filter().1.map(|e| e.text()), Some("userG*".into()));
    press(&mut s, KeyCode::Backspace);
    // Enter applies it and scans again at once, dropping the old scan.
    press(&mut s, KeyCode::Enter);
    assert!(!s.types_text());
    assert_eq!(s.filter().0, "user*");
    let out = s.take_outbox();
    assert_eq!(
        args(&out[0].op),
        ["SCAN", "0", "MATCH", "user*", "COUNT", "200"]
    );
    // The terminal cursor sits in the prompt while it is open.
    let area = Rect::new(1, 2, 78, 20);
    assert_eq!(s.cursor(area), None);
    press(&mut s, KeyCode::Char('/'));
    press(&mut s, KeyCode::Left);
    assert_eq!(s.cursor(area), Some(Position::new(1 + 9 + 4, 21)));
    press(&mut s, KeyCode::Esc);
    // Ctrl-C and the like are left to the shell even in the prompt.
    press(&mut s, KeyCode::Char('/'));
    assert_eq!(s.handle_key(ctrl('c')), KeyOutcome::NotConsumed);
    assert_eq!(press(&mut s, KeyCode::Esc), KeyOutcome::Consumed);
    assert!(s.filter().1.is_none());
}

#[test]
fn rescanning_drops_the_pages_of_the_scan_it_replaces() {
    let mut s = CacheState::new();
    s.on_connected(None);
    s.on_show();
    let first = s.take_outbox();
    press(&mut s, KeyCode::Char('r'));
    let second = s.take_outbox();
    assert_eq!(args(&second[0].op)[0], "SCAN");
    // The old scan's answer comes late: ignored.
    s.on_reply(first[0].tag, scan_reply(&["stale"]));
    assert!(s.loading());
    s.on_reply(second[0].tag, scan_reply(&["fresh"]));
    assert_eq!(s.keys(), [b"fresh".to_vec()]);
}

#[test]
fn errors_show_and_stale_replies_are_ignored() {
    let mut s = CacheState::new();
    s.on_connected(None);
    s.on_tick(Instant::now(), true);
    let out = s.take_outbox();
    s.on_reply(out[0].tag, Err("sign in first".into()));
    assert_eq!(s.error(), Some("sign in first"));
    assert!(!s.scanning());
    s.on_reply(12345, reply(CacheValue::Nil));
    s.on_disconnected();
    s.on_reply(out[1].tag, reply(bulk("ignored")));
    assert!(s.stats().is_none());
}

#[test]
fn monitor_subscribes_and_keeps_recent_messages() {
    let mut s = CacheState::new();
    s.on_connected(None);
    press(&mut s, KeyCode::Char('m'));
    let out = s.take_outbox();
    assert!(
        matches!(&out[0].op, Op::Cache(CacheOp::Subscribe { patterns, .. }) if patterns == &[ByteBuf::from(b"*".to_vec())])
    );
    for i in 0..(MONITOR_LINES + 5) {
        s.on_push(Event::Cache(CacheEvent::Message {
            channel: ByteBuf::from(b"news".to_vec()),
            pattern: Some(ByteBuf::from(b"*".to_vec())),
            payload: ByteBuf::from(format!("m{i}").into_bytes()),
        }));
    }
    let (on, lines) = s.monitor();
    assert!(on);
    assert_eq!(lines.len(), MONITOR_LINES);
    assert_eq!(
        lines.back().unwrap(),
        &format!("news m{}", MONITOR_LINES + 4)
    );
    // Reconnecting subscribes again.
    s.on_disconnected();
    s.on_connected(None);
    assert!(matches!(
        s.take_outbox()[0].op,
        Op::Cache(CacheOp::Subscribe { .. })
    ));
    press(&mut s, KeyCode::Char('m'));
    assert!(matches!(
        s.take_outbox()[0].op,
        Op::Cache(CacheOp::Unsubscribe { .. })
    ));
}

#[test]
fn formats() {
    assert_eq!(human_bytes(12), "12 B");
    assert_eq!(human_bytes(1536), "1.5 KiB");
    assert_eq!(ttl_text(-1), "none");
    assert_eq!(ttl_text(9_500), "9.5s");
    assert_eq!(ttl_text(123_000), "2m 03s");
    assert_eq!(ttl_text(3_720_000), "1h 02m");
    assert_eq!(
        hex_dump(b"Hi\x00\xff", 8),
        ["0000  48 69 00 ff              Hi.."]
    );
}

fn cluster_node(id: &str, state: &str, keys: u64, slots: u64, lag: Option<&str>) -> ClusterNode {
    ClusterNode {
        id: id.into(),
        name: "0".repeat(40),
        state: state.into(),
        myself: id == "n1",
        resp: Some(format!("127.0.0.1:700{}", &id[1..])),
        gossip: Some("127.0.0.1:7946".into()),
        keys: Some(keys),
        slots,
        lag: lag.map(str::to_owned),
    }
}

/// A `cache_cluster` reply of three nodes, one dead.
pub(crate) fn cluster_reply() -> Result<Reply, String> {
    Ok(Reply::Cache(CacheReply::Cluster {
        cluster: Some("prod".into()),
        mode: "proxy".into(),
        nodes: vec![
            cluster_node("n1", "alive", 120, 8190, None),
            cluster_node("n2", "alive", 118, 8194, Some("4ms")),
            cluster_node("n3", "dead", 0, 0, None),
        ],
    }))
}

#[test]
fn a_clustered_daemon_gets_a_cluster_panel_and_a_standalone_one_none() {
    let mut s = CacheState::new();
    s.on_connected(None);
    s.on_show();
    let out = s.take_outbox();
    let ask = out
        .iter()
        .find(|o| o.op == Op::Cache(CacheOp::ClusterStatus))
        .expect("the cluster is asked for with INFO");
    s.on_reply(ask.tag, cluster_reply());
    let view = s.cluster().expect("a cluster view");
    assert_eq!((view.name.as_str(), view.nodes.len()), ("prod", 3));
    assert_eq!(view.height(), 3 + 3);
    // The next second asks again; a standalone answer removes the panel.
    s.on_tick(Instant::now() + Duration::from_secs(2), true);
    let out = s.take_outbox();
    let ask = out
        .iter()
        .find(|o| o.op == Op::Cache(CacheOp::ClusterStatus))
        .expect("asked every second");
    s.on_reply(
        ask.tag,
        Ok(Reply::Cache(CacheReply::Cluster {
            cluster: None,
            mode: "standalone".into(),
            nodes: vec![cluster_node("n1", "alive", 3, 16384, None)],
        })),
    );
    assert!(s.cluster().is_none());
}
