//! The list commands beyond push and pop: LINSERT LSET LREM LTRIM LPOS
//! LPUSHX RPUSHX LMOVE RPOPLPUSH, and BLMOVE/BRPOPLPUSH where they cannot
//! block (EXEC, the native protocol).

use super::*;

fn range(t: &mut T, key: &str) -> Reply {
    t.run(&format!("LRANGE {key} 0 -1"))
}

fn list(items: &[&str]) -> Reply {
    arr(&items.iter().map(|s| b(s)).collect::<Vec<_>>())
}

#[test]
fn linsert_lset_lrem_ltrim() {
    let mut t = t();
    assert_eq!(t.run("LINSERT l BEFORE a x"), int(0));
    assert_eq!(t.run("EXISTS l"), int(0));
    t.run("RPUSH l a b c b");
    assert_eq!(t.run("LINSERT l BEFORE b x"), int(5));
    assert_eq!(t.run("LINSERT l after c y"), int(6));
    assert_eq!(t.run("LINSERT l before zz y"), int(-1));
    assert_eq!(t.run("LINSERT l aft3r a y"), e(errors::SYNTAX));
    assert_eq!(range(&mut t, "l"), list(&["a", "x", "b", "c", "y", "b"]));
    assert_eq!(t.run("LSET l -1 z"), ok());
    assert_eq!(t.run("LSET l 6 z"), e("ERR index out of range"));
    assert_eq!(t.run("LSET nosuch 0 z"), e("ERR no such key"));
    assert_eq!(t.run("LSET l x z"), e(errors::NOT_INTEGER));
    t.run("RPUSH l x a x");
    // a x b c y z x a x: two from the tail, then all the rest.
    assert_eq!(t.run("LREM l -2 x"), int(2));
    assert_eq!(
        range(&mut t, "l"),
        list(&["a", "x", "b", "c", "y", "z", "a"])
    );
    assert_eq!(t.run("LREM l 1 a"), int(1));
    assert_eq!(t.run("LREM l 0 nothere"), int(0));
    assert_eq!(t.run("LTRIM l 1 -2"), ok());
    assert_eq!(range(&mut t, "l"), list(&["b", "c", "y", "z"]));
    assert_eq!(t.run("LTRIM l 5 10"), ok());
    assert_eq!(t.run("EXISTS l"), int(0));
    t.run("SET s v");
    assert_eq!(t.run("LINSERT s before a b"), e(errors::WRONGTYPE));
    assert_eq!(t.run("LTRIM s 0 1"), e(errors::WRONGTYPE));
    assert_eq!(t.run("LREM s 0 a"), e(errors::WRONGTYPE));
}

#[test]
fn lpos_options() {
    let mut t = t();
    t.run("RPUSH l a b c 1 2 3 c c");
    assert_eq!(t.run("LPOS l c"), int(2));
    assert_eq!(t.run("LPOS l c RANK 2"), int(6));
    assert_eq!(t.run("LPOS l c RANK -1"), int(7));
    assert_eq!(t.run("LPOS l c COUNT 0"), arr(&[int(2), int(6), int(7)]));
    assert_eq!(t.run("LPOS l c COUNT 2 RANK -1"), arr(&[int(7), int(6)]));
    assert_eq!(t.run("LPOS l c COUNT 0 MAXLEN 5"), arr(&[int(2)]));
    assert_eq!(t.run("LPOS l zz"), Reply::Nil);
    assert_eq!(t.run("LPOS l zz COUNT 1"), arr(&[]));
    assert_eq!(t.run("LPOS nokey a COUNT 1"), arr(&[]));
    assert!(
        matches!(t.run("LPOS l c RANK 0"), Reply::Error(m) if m.starts_with("ERR RANK can't be zero"))
    );
    assert_eq!(t.run("LPOS l c COUNT -1"), e("ERR COUNT can't be negative"));
    assert_eq!(
        t.run("LPOS l c MAXLEN -1"),
        e("ERR MAXLEN can't be negative")
    );
    assert_eq!(t.run("LPOS l c RANK"), e(errors::SYNTAX));
    assert_eq!(t.run("LPOS l c FOO 1"), e(errors::SYNTAX));
}

#[test]
fn pushx_only_pushes_to_existing_lists() {
    let mut t = t();
    assert_eq!(t.run("LPUSHX l a"), int(0));
    assert_eq!(t.run("EXISTS l"), int(0));
    t.run("RPUSH l b");
    assert_eq!(t.run("LPUSHX l a"), int(2));
    assert_eq!(t.run("RPUSHX l c d"), int(4));
    assert_eq!(range(&mut t, "l"), list(&["a", "b", "c", "d"]));
    t.run("SET s v");
    assert_eq!(t.run("RPUSHX s a"), e(errors::WRONGTYPE));
}

#[test]
fn lmove_and_rpoplpush() {
    let mut t = t();
    t.run("RPUSH src a b c");
    assert_eq!(t.run("LMOVE src dst LEFT RIGHT"), b("a"));
    assert_eq!(t.run("RPOPLPUSH src dst"), b("c"));
    assert_eq!(range(&mut t, "dst"), list(&["c", "a"]));
    assert_eq!(t.run("LMOVE src dst up down"), e(errors::SYNTAX));
    // Rotation in place keeps a one-element list (and its TTL).
    assert_eq!(t.run("PEXPIRE src 100000"), int(1));
    assert_eq!(t.run("LMOVE src src RIGHT LEFT"), b("b"));
    assert!(matches!(t.run("PTTL src"), Reply::Integer(n) if n > 0));
    assert_eq!(t.run("RPOPLPUSH src dst"), b("b"));
    assert_eq!(t.run("EXISTS src"), int(0));
    assert_eq!(t.run("RPOPLPUSH src dst"), Reply::Nil);
    t.run("SET s v");
    t.run("RPUSH l x");
    assert_eq!(t.run("RPOPLPUSH l s"), e(errors::WRONGTYPE));
    assert_eq!(range(&mut t, "l"), list(&["x"]));
    assert_eq!(t.run("RPOPLPUSH s l"), e(errors::WRONGTYPE));
}

#[test]
fn blocking_moves_answer_at_once_where_they_cannot_block() {
    let mut t = t();
    t.run("RPUSH src a");
    assert_eq!(t.run("BRPOPLPUSH src dst 0"), b("a"));
    assert_eq!(t.run("BRPOPLPUSH src dst 0"), Reply::Nil);
    assert_eq!(t.run("BLMOVE dst src LEFT LEFT 0"), b("a"));
    assert_eq!(t.run("BLMOVE dst src LEFT LEFT 0"), Reply::Nil);
    assert_eq!(t.run("BLMOVE dst src LEFT UP 0"), e(errors::SYNTAX));
    assert_eq!(t.run("BRPOPLPUSH dst src -1"), e("ERR timeout is negative"));
}
