use std::time::{Duration, Instant};

use agora_wire::{CacheEvent, CacheOp, CacheReply, CacheValue, Event, Op, Reply};
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
