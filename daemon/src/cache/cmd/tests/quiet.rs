//! Quiet commands ([`Access::Quiet`], `cache_command` with `quiet`): they
//! answer as usual but count in none of INFO's statistics and touch no
//! key's LRU/LFU data.

use std::sync::atomic::Ordering;

use super::*;
use crate::cache::store::Access;

/// What a quiet command must leave alone.
#[derive(Debug, PartialEq)]
struct Figures {
    commands: u64,
    ops_per_sec: u64,
    hits: u64,
    misses: u64,
    access: Vec<u32>,
}

fn figures(t: &mut T) -> Figures {
    // Two samples 100 ms apart: ops/sec counts what ran in between.
    t.cache.stats.sample_ops(t.now + 100);
    let store = &t.cache.store;
    let access = ["s", "l", "h"]
        .iter()
        .map(|k| {
            let mut shard = store.db(0).lock_key(k.as_bytes());
            shard.peek(k.as_bytes(), t.now).map_or(0, |e| e.access())
        })
        .collect();
    Figures {
        commands: t.cache.stats.commands.load(Ordering::Relaxed),
        ops_per_sec: t.cache.stats.ops_per_sec(),
        hits: store.counters().hits.load(Ordering::Relaxed),
        misses: store.counters().misses.load(Ordering::Relaxed),
        access,
    }
}

#[test]
fn quiet_commands_change_no_statistic_and_touch_no_key() {
    for policy in [Policy::AllKeysLru, Policy::AllKeysLfu] {
        let mut t = limited(0, policy);
        assert_eq!(t.run("SET s hello PX 100000000"), ok());
        assert_eq!(t.run("RPUSH l a b"), int(2));
        assert_eq!(t.run("HSET h f v"), int(1));
        // An hour later, so a touch would move the LRU clock.
        t.now += 3_600_000;
        t.cache.stats.sample_ops(t.now);
        let before = figures(&mut t);

        t.access = Access::Quiet;
        t.now += 200;
        t.cache.stats.sample_ops(t.now);
        // Everything the TUI's Cache tab asks, and misses too.
        for line in [
            "SCAN 0 MATCH * COUNT 200",
            "INFO",
            "TYPE s",
            "PTTL s",
            "STRLEN s",
            "GETRANGE s 0 1023",
            "GET s",
            "GET missing",
            "LLEN l",
            "LRANGE l 0 49",
            "HLEN h",
            "HGETALL h",
            "HGET missing f",
            "EXISTS s",
        ] {
            let reply = t.run(line);
            assert!(!matches!(reply, Reply::Error(_)), "{line}: {reply:?}");
        }
        assert_eq!(t.run("GET s"), Reply::bulk(b"hello"), "answers as usual");
        let quiet = figures(&mut t);
        assert_eq!(quiet, before, "{policy:?}");

        // The same command, counted, moves every figure.
        t.access = Access::Counted;
        t.now += 200;
        t.cache.stats.sample_ops(t.now);
        t.run("GET s");
        t.run("GET missing");
        t.run("LLEN l");
        t.run("HLEN h");
        let counted = figures(&mut t);
        assert_eq!(counted.commands, before.commands + 4);
        assert!(counted.ops_per_sec > 0);
        assert_eq!(counted.hits, before.hits + 3);
        assert_eq!(counted.misses, before.misses + 1);
        for (i, (after, was)) in counted.access.iter().zip(&before.access).enumerate() {
            assert_ne!(after, was, "{policy:?}: key {i} was not touched");
        }
    }
}
