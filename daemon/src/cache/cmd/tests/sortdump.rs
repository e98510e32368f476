//! SORT / SORT_RO, DUMP / RESTORE and TOUCH.

use super::*;

fn strs(items: &[&str]) -> Reply {
    arr(&items.iter().map(|s| b(s)).collect::<Vec<_>>())
}

#[test]
fn sort_numbers_alpha_by_get_limit_store() {
    let mut t = t();
    t.run("RPUSH l 3 1 2 10");
    assert_eq!(t.run("SORT l"), strs(&["1", "2", "3", "10"]));
    assert_eq!(t.run("SORT l DESC LIMIT 1 2"), strs(&["3", "2"]));
    assert_eq!(t.run("SORT l ALPHA"), strs(&["1", "10", "2", "3"]));
    t.run("MSET w_1 30 w_2 20 w_3 10 o_1 one o_2 two");
    assert_eq!(t.run("SORT l BY w_*"), strs(&["10", "3", "2", "1"]));
    assert_eq!(
        t.run("SORT l BY w_* GET o_* GET #"),
        arr(&[
            Reply::Nil,
            b("10"),
            Reply::Nil,
            b("3"),
            b("two"),
            b("2"),
            b("one"),
            b("1")
        ])
    );
    // BY without * keeps the native order.
    assert_eq!(t.run("SORT l BY nosort"), strs(&["3", "1", "2", "10"]));
    assert_eq!(t.run("SORT l BY nosort DESC"), strs(&["10", "2", "1", "3"]));
    t.run("HSET h_1 f x");
    assert_eq!(t.run("SORT l LIMIT 0 1 GET h_*->f"), strs(&["x"]));
    let dirty = |t: &T| {
        t.cache
            .stats
            .dirty
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = dirty(&t);
    t.run("SORT l");
    assert_eq!(dirty(&t), before, "SORT without STORE changes nothing");
    assert_eq!(t.run("SORT l STORE dst"), int(4));
    assert_eq!(dirty(&t), before + 1);
    assert_eq!(t.run("LRANGE dst 0 -1"), strs(&["1", "2", "3", "10"]));
    assert_eq!(t.run("SORT nokey STORE dst"), int(0));
    assert_eq!(t.run("EXISTS dst"), int(0));
    t.run("RPUSH bad a 1");
    assert_eq!(
        t.run("SORT bad"),
        e("ERR One or more scores can't be converted into double")
    );
    assert_eq!(t.run("SORT_RO l STORE dst"), e(errors::SYNTAX));
    assert_eq!(t.run("SORT_RO l LIMIT 0 2"), strs(&["1", "2"]));
    t.run("SET s v");
    assert_eq!(t.run("SORT s"), e(errors::WRONGTYPE));
    t.run("SADD set c a b");
    assert_eq!(t.run("SORT set BY nosort STORE dst"), int(3));
    assert_eq!(t.run("LRANGE dst 0 -1"), strs(&["a", "b", "c"]));
    t.run("ZADD z 1 c 2 a 3 b");
    assert_eq!(t.run("SORT z BY nosort"), strs(&["c", "a", "b"]));
}

#[test]
fn dump_restore_round_trips_every_type() {
    let mut t = t();
    t.run("SET s hello");
    t.run("RPUSH l a b");
    t.run("HSET h f v");
    t.run("SADD set m");
    t.run("ZADD z 1.5 m");
    for key in ["s", "l", "h", "set", "z"] {
        let Reply::Bulk(payload) = t.run(&format!("DUMP {key}")) else {
            panic!("DUMP {key}");
        };
        let before = t
            .cache
            .store
            .db(0)
            .lock_key(key.as_bytes())
            .peek(key.as_bytes(), t.now)
            .map(|e| e.value.clone());
        let args = vec![
            Bytes::from_static(b"RESTORE"),
            Bytes::from(format!("{key}2")),
            Bytes::from_static(b"0"),
            payload.clone(),
        ];
        let mut ctx = Ctx {
            cache: &t.cache,
            client: &mut t.client,
            now_ms: t.now,
            access: t.access,
        };
        assert_eq!(execute(&mut ctx, &args), ok());
        assert_eq!(
            execute(&mut ctx, &args),
            e("BUSYKEY Target key name already exists.")
        );
        let copy = format!("{key}2");
        let after = t
            .cache
            .store
            .db(0)
            .lock_key(copy.as_bytes())
            .peek(copy.as_bytes(), t.now)
            .map(|e| e.value.clone());
        assert_eq!(before, after, "{key}");
        // A flipped byte fails the checksum.
        let mut bad = payload.to_vec();
        bad[1] ^= 1;
        let mut args = args;
        args[3] = bad.into();
        args.push(Bytes::from_static(b"REPLACE"));
        let mut ctx = Ctx {
            cache: &t.cache,
            client: &mut t.client,
            now_ms: t.now,
            access: t.access,
        };
        assert_eq!(
            execute(&mut ctx, &args),
            e("ERR DUMP payload version or checksum are wrong")
        );
    }
    assert_eq!(t.run("DUMP nokey"), Reply::Nil);
    assert_eq!(
        t.run("RESTORE k 0 garbage"),
        e("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(t.run("RESTORE s 0 x REPLACE FOO"), e(errors::SYNTAX));
    assert_eq!(
        t.run("RESTORE k -1 x"),
        e("ERR Invalid TTL value, must be >= 0")
    );
    assert_eq!(
        t.run("RESTORE k 0 x IDLETIME -1"),
        e("ERR Invalid IDLETIME value, must be >= 0")
    );
    assert_eq!(
        t.run("RESTORE k 0 x FREQ 256"),
        e("ERR Invalid FREQ value, must be >= 0 and <= 255")
    );
}

#[test]
fn restore_ttl_absttl_and_idletime() {
    let mut t = t();
    t.run("SET s hello");
    let Reply::Bulk(payload) = t.run("DUMP s") else {
        panic!("DUMP");
    };
    let restore = |t: &mut T, rest: &[&str]| {
        let mut args = vec![Bytes::from_static(b"RESTORE"), Bytes::from_static(b"k")];
        args.push(Bytes::copy_from_slice(rest[0].as_bytes()));
        args.push(payload.clone());
        args.extend(
            rest[1..]
                .iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes())),
        );
        let mut ctx = Ctx {
            cache: &t.cache,
            client: &mut t.client,
            now_ms: t.now,
            access: t.access,
        };
        execute(&mut ctx, &args)
    };
    assert_eq!(restore(&mut t, &["5000"]), ok());
    assert_eq!(t.run("PTTL k"), int(5000));
    let at = (t.now + 7000).to_string();
    assert_eq!(restore(&mut t, &[&at, "REPLACE", "ABSTTL"]), ok());
    assert_eq!(t.run("PTTL k"), int(7000));
    // Already expired: the key is deleted, not created.
    assert_eq!(restore(&mut t, &["1", "REPLACE", "ABSTTL"]), ok());
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(restore(&mut t, &["0", "IDLETIME", "1000"]), ok());
    assert_eq!(t.run("OBJECT IDLETIME k"), int(1000));
    assert_eq!(t.run("GET k"), b("hello"));
}

#[test]
fn touch_refreshes_the_idle_time() {
    let mut t = t();
    t.run("SET a 1");
    t.run("SET b 2");
    t.now += 10_000;
    assert_eq!(t.run("OBJECT IDLETIME a"), int(10));
    assert_eq!(t.run("TOUCH a nokey"), int(1));
    assert_eq!(t.run("OBJECT IDLETIME a"), int(0));
    // EXISTS only looks.
    assert_eq!(t.run("EXISTS b"), int(1));
    assert_eq!(t.run("OBJECT IDLETIME b"), int(10));
}
