//! Stream commands: XADD's IDs and trimming, ranges, XREAD, consumer
//! groups, XPENDING/XCLAIM/XAUTOCLAIM, XINFO, WRONGTYPE, and random
//! argument vectors that must answer (an error or not), never panic.

use super::*;

fn id(s: &str) -> Reply {
    b(s)
}

fn entry(i: &str, fields: &[&str]) -> Reply {
    arr(&[id(i), arr(&fields.iter().map(|f| b(f)).collect::<Vec<_>>())])
}

#[test]
fn xadd_ids_and_errors() {
    let mut t = t();
    assert_eq!(t.run("XADD s 5-1 a 1"), id("5-1"));
    assert_eq!(t.run("XADD s 5-* a 2"), id("5-2"));
    assert_eq!(t.run("XADD s 7 a 3"), id("7-0"));
    assert_eq!(
        t.run("XADD s 7-0 a 4"),
        e("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
    assert_eq!(
        t.run("XADD n 0-0 a 1"),
        e("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(t.run("EXISTS n"), int(0));
    // `*` takes the clock, or the last ID's next when the clock is behind.
    assert_eq!(t.run("XADD s * a 5"), id("1000000-0"));
    assert_eq!(t.run("XADD s * a 6"), id("1000000-1"));
    assert_eq!(t.run("XLEN s"), int(5));
    assert_eq!(t.run("XADD s NOMKSTREAM * a 1"), id("1000000-2"));
    assert_eq!(t.run("XADD missing NOMKSTREAM * a 1"), Reply::Nil);
    assert_eq!(
        t.run("XADD s bad a 1"),
        e("ERR Invalid stream ID specified as stream command argument")
    );
    assert_eq!(
        t.run("XADD s * a"),
        e("ERR wrong number of arguments for 'xadd' command")
    );
    assert_eq!(
        t.run("XADD s MAXLEN 1 LIMIT 5 * a 1"),
        e("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    t.run("SET str x");
    assert_eq!(t.run("XADD str * a 1"), e(errors::WRONGTYPE));
    assert_eq!(t.run("XLEN str"), e(errors::WRONGTYPE));
    assert_eq!(t.run("TYPE s"), Reply::Simple("stream".into()));
    assert_eq!(t.run("OBJECT ENCODING s"), b("stream"));
}

#[test]
fn ranges_trims_and_deletes() {
    let mut t = t();
    for i in 1..=5 {
        t.run(&format!("XADD s {i}-0 n {i}"));
    }
    assert_eq!(
        t.run("XRANGE s (1 3 COUNT 5"),
        arr(&[entry("2-0", &["n", "2"]), entry("3-0", &["n", "3"])])
    );
    assert_eq!(
        t.run("XREVRANGE s + - COUNT 1"),
        arr(&[entry("5-0", &["n", "5"])])
    );
    assert_eq!(t.run("XRANGE s - + COUNT 0"), Reply::NilArray);
    assert_eq!(
        t.run("XRANGE s (- +"),
        e("ERR Invalid stream ID specified as stream command argument")
    );
    assert_eq!(t.run("XRANGE nokey - +"), arr(&[]));
    assert_eq!(t.run("XDEL s 2-0 9-0"), int(1));
    assert_eq!(t.run("XTRIM s MAXLEN 2"), int(2));
    assert_eq!(
        t.run("XRANGE s - +"),
        arr(&[entry("4-0", &["n", "4"]), entry("5-0", &["n", "5"])])
    );
    assert_eq!(t.run("XTRIM s MINID = 5"), int(1));
    assert_eq!(t.run("XTRIM nokey MAXLEN 0"), int(0));
    assert_eq!(
        t.run("XTRIM s LIMIT 1"),
        e("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    // An emptied stream stays, with its last ID.
    assert_eq!(t.run("XTRIM s MAXLEN 0"), int(1));
    assert_eq!(t.run("EXISTS s"), int(1));
    assert_eq!(
        t.run("XADD s 5-0 a 1"),
        e("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
    assert_eq!(t.run("XSETID s 9-0"), ok());
    assert_eq!(t.run("XADD s 9-* a 1"), id("9-1"));
    assert_eq!(t.run("XSETID nokey 1-1"), e("ERR no such key"));
}

#[test]
fn xread_without_blocking() {
    let mut t = t();
    assert_eq!(t.run("XREAD STREAMS a b 0 0"), Reply::NilArray);
    t.run("XADD b 1-0 f v");
    assert_eq!(
        t.run("XREAD COUNT 5 STREAMS a b 0 0"),
        arr(&[arr(&[b("b"), arr(&[entry("1-0", &["f", "v"])])])])
    );
    assert_eq!(t.run("XREAD STREAMS b $"), Reply::NilArray);
    assert_eq!(
        t.run("XREAD STREAMS b c d"),
        e(
            "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified."
        )
    );
    // Not blocking here (EXEC, the native protocol): nil at once.
    assert_eq!(t.run("XREAD BLOCK 0 STREAMS b $"), Reply::NilArray);
}

#[test]
fn groups_pending_claims_and_info() {
    let mut t = t();
    for i in 1..=3 {
        t.run(&format!("XADD s {i}-0 f {i}"));
    }
    assert_eq!(t.run("XGROUP CREATE s g 0"), ok());
    assert_eq!(
        t.run("XGROUP CREATE s g 0"),
        e("BUSYGROUP Consumer Group name already exists")
    );
    assert!(matches!(t.run("XGROUP CREATE nokey g $"), Reply::Error(m) if m.contains("MKSTREAM")));
    assert_eq!(t.run("XGROUP CREATE new g $ MKSTREAM"), ok());
    assert_eq!(
        t.run("XREADGROUP GROUP g alice COUNT 2 STREAMS s >"),
        arr(&[arr(&[
            b("s"),
            arr(&[entry("1-0", &["f", "1"]), entry("2-0", &["f", "2"])])
        ])])
    );
    assert!(matches!(
        t.run("XREADGROUP GROUP nog alice STREAMS s >"),
        Reply::Error(m) if m.starts_with("NOGROUP")
    ));
    // History: the consumer's own pending entries.
    t.now += 100;
    assert_eq!(
        t.run("XREADGROUP GROUP g alice STREAMS s 0"),
        arr(&[arr(&[
            b("s"),
            arr(&[entry("1-0", &["f", "1"]), entry("2-0", &["f", "2"])])
        ])])
    );
    assert_eq!(
        t.run("XPENDING s g - + 10"),
        arr(&[
            arr(&[id("1-0"), b("alice"), int(0), int(2)]),
            arr(&[id("2-0"), b("alice"), int(0), int(2)]),
        ])
    );
    t.now += 50;
    assert_eq!(t.run("XCLAIM s g bob 40 1-0 JUSTID"), arr(&[id("1-0")]));
    assert_eq!(
        t.run("XPENDING s g"),
        arr(&[
            int(2),
            id("1-0"),
            id("2-0"),
            arr(&[arr(&[b("alice"), b("1")]), arr(&[b("bob"), b("1")])]),
        ])
    );
    t.run("XDEL s 2-0");
    t.now += 50;
    assert_eq!(
        t.run("XAUTOCLAIM s g carol 10 0 COUNT 10"),
        arr(&[
            id("0-0"),
            arr(&[entry("1-0", &["f", "1"])]),
            arr(&[id("2-0")])
        ])
    );
    assert_eq!(t.run("XACK s g 1-0 2-0"), int(1));
    assert_eq!(
        t.run("XAUTOCLAIM s g c 0 0 COUNT 0"),
        e("ERR COUNT must be > 0")
    );
    assert_eq!(t.run("XGROUP CREATECONSUMER s g dave"), int(1));
    assert_eq!(t.run("XGROUP DELCONSUMER s g dave"), int(0));
    let Reply::Array(groups) = t.run("XINFO GROUPS s") else {
        panic!()
    };
    assert_eq!(
        groups[0],
        Reply::Map(vec![
            (b("name"), b("g")),
            (b("consumers"), int(3)),
            (b("pending"), int(0)),
            (b("last-delivered-id"), id("2-0")),
            (b("entries-read"), int(2)),
            (b("lag"), Reply::Nil),
        ])
    );
    assert!(matches!(t.run("XINFO STREAM s FULL COUNT 1"), Reply::Map(f) if f.len() == 9));
    assert_eq!(
        t.run("XGROUP HELP x"),
        e("ERR wrong number of arguments for 'xgroup|help' command")
    );
    assert_eq!(t.run("XGROUP DESTROY s g"), int(1));
    assert_eq!(t.run("XGROUP DESTROY s g"), int(0));
}

/// A tiny xorshift generator: the test is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Random argument vectors, mixing the commands' own words with garbage,
/// against every X command: each answers, nothing panics, and the
/// keyspace stays usable.
#[test]
fn random_arguments_never_panic() {
    let mut t = t();
    t.run("XADD s 1-0 f v");
    t.run("XGROUP CREATE s g 0");
    t.run("SET str x");
    let commands = [
        "XADD",
        "XLEN",
        "XRANGE",
        "XREVRANGE",
        "XDEL",
        "XTRIM",
        "XSETID",
        "XREAD",
        "XREADGROUP",
        "XACK",
        "XPENDING",
        "XCLAIM",
        "XAUTOCLAIM",
        "XGROUP",
        "XINFO",
    ];
    let words = [
        "s",
        "str",
        "nokey",
        "g",
        "c",
        "*",
        "$",
        ">",
        "-",
        "+",
        "(",
        "(0",
        "(+",
        "0",
        "1",
        "-1",
        "1-0",
        "1-*",
        "0-0",
        "18446744073709551615-18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "MAXLEN",
        "MINID",
        "~",
        "=",
        "LIMIT",
        "COUNT",
        "BLOCK",
        "STREAMS",
        "GROUP",
        "NOACK",
        "IDLE",
        "TIME",
        "RETRYCOUNT",
        "FORCE",
        "JUSTID",
        "LASTID",
        "NOMKSTREAM",
        "ENTRIESADDED",
        "MAXDELETEDID",
        "CREATE",
        "SETID",
        "DESTROY",
        "CREATECONSUMER",
        "DELCONSUMER",
        "HELP",
        "MKSTREAM",
        "ENTRIESREAD",
        "FULL",
        "STREAM",
        "GROUPS",
        "CONSUMERS",
        "\u{0}",
        "",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let n = (rng.next() % 9) as usize;
        let mut args = vec![Bytes::from(rng.pick(&commands))];
        for _ in 0..n {
            args.push(Bytes::from(rng.pick(&words)));
        }
        let mut ctx = Ctx {
            cache: &t.cache,
            client: &mut t.client,
            now_ms: t.now,
            access: Access::Counted,
        };
        let _ = execute(&mut ctx, &args);
        t.now += rng.next() % 3;
    }
    assert_eq!(t.run("GET str"), b("x"));
    assert!(!t.run("XLEN s").is_error());
}
