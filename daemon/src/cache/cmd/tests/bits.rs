//! Bitmaps (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD) and LCS, with
//! the answers redis-server 7.0.15 gives.

use super::*;

#[test]
fn setbit_getbit_grow_and_check() {
    let mut t = t();
    assert_eq!(t.run("SETBIT k 7 1"), int(0));
    assert_eq!(t.run("SETBIT k 7 1"), int(1));
    assert_eq!(t.run("GET k"), b("\u{1}"));
    assert_eq!(t.run("SETBIT k 23 1"), int(0));
    assert_eq!(t.run("STRLEN k"), int(3));
    assert_eq!(t.run("GETBIT k 23"), int(1));
    assert_eq!(t.run("GETBIT k 1000"), int(0));
    assert_eq!(t.run("GETBIT nokey 0"), int(0));
    let offset = "ERR bit offset is not an integer or out of range";
    assert_eq!(t.run("SETBIT k -1 1"), e(offset));
    assert_eq!(t.run("SETBIT k 4294967296 1"), e(offset));
    assert_eq!(t.run("GETBIT k x"), e(offset));
    assert_eq!(
        t.run("SETBIT k 0 2"),
        e("ERR bit is not an integer or out of range")
    );
    t.run("LPUSH l a");
    assert_eq!(t.run("SETBIT l 0 1"), e(errors::WRONGTYPE));
    assert_eq!(t.run("GETBIT l 0"), e(errors::WRONGTYPE));
}

#[test]
fn a_large_offset_is_refused_over_the_memory_limit() {
    let mut t = limited(1 << 20, Policy::NoEviction);
    // 100 MB would be allocated: refused before allocating.
    assert_eq!(t.run("SETBIT k 800000000 1"), e(errors::OOM));
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(t.run("SETBIT k 8000 1"), int(0));
}

#[test]
fn bitcount_and_bitpos() {
    let mut t = t();
    t.run("SET k foobar");
    assert_eq!(t.run("BITCOUNT k"), int(26));
    assert_eq!(t.run("BITCOUNT k 0 0"), int(4));
    assert_eq!(t.run("BITCOUNT k 1 1"), int(6));
    assert_eq!(t.run("BITCOUNT k 1 1 BYTE"), int(6));
    assert_eq!(t.run("BITCOUNT k 5 30 BIT"), int(17));
    assert_eq!(t.run("BITCOUNT k -1 -2"), int(0));
    assert_eq!(t.run("BITCOUNT k 0"), e(errors::SYNTAX));
    assert_eq!(t.run("BITCOUNT k 0 1 WORD"), e(errors::SYNTAX));
    assert_eq!(t.run("BITCOUNT nokey 0"), int(0));
    t.run("SET z \"\\xff\\xf0\\x00\"");
    assert_eq!(t.run("BITPOS z 0"), int(12));
    assert_eq!(t.run("BITPOS z 1 2"), int(-1));
    assert_eq!(t.run("BITPOS z 1 7 15 BIT"), int(7));
    t.run("SET f \"\\xff\\xff\"");
    // No end given: the string is padded with zeros; an end: -1.
    assert_eq!(t.run("BITPOS f 0"), int(16));
    assert_eq!(t.run("BITPOS f 0 0 -1"), int(-1));
    assert_eq!(t.run("BITPOS nokey 0"), int(0));
    assert_eq!(t.run("BITPOS nokey 1"), int(-1));
    assert_eq!(
        t.run("BITPOS f 2"),
        e("ERR The bit argument must be 1 or 0.")
    );
}

#[test]
fn bitop_combines_strings() {
    let mut t = t();
    t.run("SET a \"\\x0f\"");
    t.run("SET b \"\\xf0\\x01\"");
    assert_eq!(t.run("BITOP OR d a b"), int(2));
    assert_eq!(t.run("GET d"), Reply::Bulk(Bytes::from_static(b"\xff\x01")));
    assert_eq!(t.run("BITOP AND d a b nokey"), int(2));
    assert_eq!(t.run("GET d"), Reply::Bulk(Bytes::from_static(b"\x00\x00")));
    assert_eq!(t.run("BITOP XOR d a b"), int(2));
    assert_eq!(t.run("GET d"), Reply::Bulk(Bytes::from_static(b"\xff\x01")));
    assert_eq!(t.run("BITOP NOT d a"), int(1));
    assert_eq!(t.run("GET d"), Reply::Bulk(Bytes::from_static(b"\xf0")));
    assert_eq!(
        t.run("BITOP NOT d a b"),
        e("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(t.run("BITOP NOT d nokey"), int(0));
    assert_eq!(t.run("EXISTS d"), int(0));
    t.run("LPUSH l x");
    assert_eq!(t.run("BITOP AND d a l"), e(errors::WRONGTYPE));
    assert_eq!(t.run("BITOP FOO d a"), e(errors::SYNTAX));
}

#[test]
fn bitfield_get_set_incrby_overflow() {
    let mut t = t();
    assert_eq!(
        t.run("BITFIELD k SET u8 0 255 GET u8 0"),
        arr(&[int(0), int(255)])
    );
    assert_eq!(t.run("BITFIELD k INCRBY u8 0 10"), arr(&[int(9)]));
    assert_eq!(
        t.run("BITFIELD k OVERFLOW SAT INCRBY u8 0 300 OVERFLOW FAIL INCRBY u8 0 1"),
        arr(&[int(255), Reply::Nil])
    );
    assert_eq!(
        t.run("BITFIELD k SET i8 #1 -1 GET i8 8 GET u4 8"),
        arr(&[int(0), int(-1), int(15)])
    );
    assert_eq!(
        t.run("BITFIELD k OVERFLOW SAT SET u8 0 -1"),
        arr(&[int(255)])
    );
    assert_eq!(t.run("BITFIELD nokey GET i64 0"), arr(&[int(0)]));
    assert_eq!(t.run("EXISTS nokey"), int(0));
    assert_eq!(t.run("BITFIELD_RO k GET u8 0"), arr(&[int(255)]));
    assert_eq!(
        t.run("BITFIELD_RO k SET u8 0 1"),
        e("ERR BITFIELD_RO only supports the GET subcommand")
    );
    assert_eq!(
        t.run("BITFIELD k OVERFLOW x"),
        e("ERR Invalid OVERFLOW type specified")
    );
    assert_eq!(t.run("BITFIELD k GET u8"), e(errors::SYNTAX));
    assert!(
        matches!(t.run("BITFIELD k GET u64 0"), Reply::Error(m) if m.starts_with("ERR Invalid bitfield type"))
    );
    assert_eq!(
        t.run("BITFIELD k GET i8 -1"),
        e("ERR bit offset is not an integer or out of range")
    );
}

#[test]
fn lcs_string_len_and_idx() {
    let mut t = t();
    t.run("MSET key1 ohmytext key2 mynewtext");
    assert_eq!(t.run("LCS key1 key2"), b("mytext"));
    assert_eq!(t.run("LCS key1 key2 LEN"), int(6));
    let pair = |a: i64, b: i64| arr(&[int(a), int(b)]);
    assert_eq!(
        t.run("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
        Reply::Map(vec![
            (b("matches"), arr(&[arr(&[pair(4, 7), pair(5, 8), int(4)])])),
            (b("len"), int(6)),
        ])
    );
    assert_eq!(
        t.run("LCS key1 key2 IDX"),
        Reply::Map(vec![
            (
                b("matches"),
                arr(&[
                    arr(&[pair(4, 7), pair(5, 8)]),
                    arr(&[pair(2, 3), pair(0, 1)])
                ])
            ),
            (b("len"), int(6)),
        ])
    );
    assert_eq!(
        t.run("LCS key1 key2 IDX LEN"),
        e("ERR If you want both the length and indexes, please just use IDX.")
    );
    assert_eq!(t.run("LCS key1 nokey"), b(""));
    t.run("LPUSH l a");
    assert_eq!(
        t.run("LCS key1 l"),
        e("ERR The specified keys must contain string values")
    );
}

#[test]
fn setbit_and_bitfield_count_only_real_changes() {
    use std::sync::atomic::Ordering;
    let mut t = t();
    let dirty = |t: &T| t.cache.stats.dirty.load(Ordering::Relaxed);
    t.run("SETBIT foo 0 0");
    t.run("BITFIELD foo2 SET i5 0 0");
    assert_eq!(dirty(&t), 2, "creating counts");
    t.run("SETBIT foo 0 0");
    t.run("BITFIELD foo2 SET i5 0 0");
    assert_eq!(dirty(&t), 2, "no change");
    t.run("SETBIT foo 0 1");
    t.run("SETBIT foo 0 1");
    t.run("BITFIELD foo2 SET i5 0 1");
    t.run("BITFIELD foo2 SET i5 0 1");
    assert_eq!(dirty(&t), 4);
    t.run("BITFIELD foo3 INCRBY i5 0 1");
    t.run("BITFIELD foo3 INCRBY i5 0 1");
    assert_eq!(dirty(&t), 6, "INCRBY counts");
    t.run("SETBIT foo 90 0");
    assert_eq!(dirty(&t), 7, "growing counts");
    t.run("BITFIELD foo2 SET i5 100 0 SET i5 0 1");
    assert_eq!(dirty(&t), 9, "after growing, every write counts");
    t.run("SET s v");
    assert_eq!(dirty(&t), 10, "other writes count one");
    t.run("DEL nokey");
    assert_eq!(dirty(&t), 10, "a write that changes nothing does not");
}
