//! Keyspace notifications (`notify-keyspace-events`): after a write
//! that changed something, [`super::execute_gated`] calls [`after_write`],
//! which publishes `__keyspace@<db>__:<key>` → event and
//! `__keyevent@<db>__:<event>` → key for each key the command names.
//!
//! How a command declares its event: by default, its own name, on the
//! keys of its registry entry (`Spec::keys`), in the class of its group
//! (`string` → `$`, `hash` → `h`, `list` → `l`, `set` → `s`,
//! `sorted-set` → `z`, `generic` → `g`). A command whose event differs
//! (SETEX publishes `set`, INCR `incrby`), that names several events
//! (RENAME: `rename_from`, `rename_to`) or that touches only some of its
//! keys (SINTERSTORE: the destination) has a line in [`events`]. Beside
//! that, every write publishes `new` for a key it created and `del` for
//! a key it emptied, and the store queues keys that expire or are evicted
//! (`expired`, `evicted`; [`publish_removals`]).

use bytes::Bytes;

use super::{Ctx, Group, Spec, db_arg, is};
use crate::cache::Cache;
use crate::cache::notify::{
    EVICTED, EXPIRED, GENERIC, HASH, KEYEVENT, KEYSPACE, LIST, NEW, SET, STREAM, STRING, ZSET,
};
use crate::cache::reply::Reply;

/// Publishes one event, if its class is enabled.
pub fn notify(cache: &Cache, flags: u32, class: u32, event: &str, db: usize, key: &[u8]) {
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        cache
            .pubsub
            .publish(&channel, &Bytes::copy_from_slice(event.as_bytes()));
    }
    if flags & KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        cache
            .pubsub
            .publish(channel.as_bytes(), &Bytes::copy_from_slice(key));
    }
}

/// Publishes `expired` and `evicted` for the keys the store removed since
/// the last call.
pub fn publish_removals(cache: &Cache) {
    let flags = cache.params.notify_flags();
    for removal in cache.store.take_removals() {
        cache.tracking.invalidate(&removal.key, None);
        if flags == 0 {
            continue;
        }
        let (class, event) = if removal.evicted {
            (EVICTED, "evicted")
        } else {
            (EXPIRED, "expired")
        };
        notify(cache, flags, class, event, removal.db, &removal.key);
    }
}

/// The keys a command names, by its registry entry.
pub fn keys_of<'a>(spec: &Spec, args: &'a [Bytes]) -> Vec<&'a Bytes> {
    let (first, last, step) = spec.keys;
    if first <= 0 || step <= 0 {
        return Vec::new();
    }
    let last = if last < 0 {
        args.len() as i32 + last
    } else {
        last
    };
    let mut out = Vec::new();
    let mut i = first;
    while i <= last && (i as usize) < args.len() {
        out.push(&args[i as usize]);
        i += step;
    }
    out
}

/// Which of `keys` exist in the client's database now.
pub fn existing(ctx: &Ctx<'_>, keys: &[&Bytes]) -> Vec<bool> {
    let db = ctx.db();
    keys.iter()
        .map(|k| db.lock_key(k).peek(k, ctx.now_ms).is_some())
        .collect()
}

fn class_of(group: Group) -> u32 {
    match group {
        Group::String => STRING,
        Group::Hash => HASH,
        Group::List => LIST,
        Group::Set => SET,
        Group::SortedSet => ZSET,
        Group::Stream => STREAM,
        _ => GENERIC,
    }
}

/// One event: class, name, database, key.
type Event<'a> = (u32, &'static str, usize, &'a [u8]);

/// The events of a command that changed something (before `new`/`del`).
fn events<'a>(
    spec: &Spec,
    args: &'a [Bytes],
    reply: &'a Reply,
    db: usize,
    keys: &[&'a Bytes],
) -> Vec<Event<'a>> {
    let key = |i: usize| args.get(i).map_or(&b""[..], |k| &k[..]);
    let on_keys = |class: u32, event: &'static str| -> Vec<Event<'a>> {
        keys.iter().map(|k| (class, event, db, &k[..])).collect()
    };
    let has = |word: &str| args.iter().skip(2).any(|a| is(a, word));
    // The key a [LM]POP-like command popped from: the reply's first item.
    let popped = || match reply {
        Reply::Array(items) => match items.first() {
            Some(Reply::Bulk(k)) => Some(&k[..]),
            _ => None,
        },
        _ => None,
    };
    let name = spec.name;
    match name {
        "set" => {
            let mut out = vec![(STRING, "set", db, key(1))];
            if ["ex", "px", "exat", "pxat"].iter().any(|w| has(w)) {
                out.push((GENERIC, "expire", db, key(1)));
            }
            out
        }
        "setex" | "psetex" => vec![(STRING, "set", db, key(1)), (GENERIC, "expire", db, key(1))],
        "setnx" | "getset" | "mset" | "msetnx" => on_keys(STRING, "set"),
        "incr" | "decr" | "incrby" | "decrby" => on_keys(STRING, "incrby"),
        "getdel" => on_keys(GENERIC, "del"),
        "getex" => {
            if has("persist") {
                on_keys(GENERIC, "persist")
            } else if ["ex", "px", "exat", "pxat"].iter().any(|w| has(w)) {
                on_keys(GENERIC, "expire")
            } else {
                Vec::new()
            }
        }
        "hset" | "hmset" | "hsetnx" => on_keys(HASH, "hset"),
        "lpush" | "lpushx" => on_keys(LIST, "lpush"),
        "rpush" | "rpushx" => on_keys(LIST, "rpush"),
        "blpop" => popped().map_or(Vec::new(), |k| vec![(LIST, "lpop", db, k)]),
        "brpop" => popped().map_or(Vec::new(), |k| vec![(LIST, "rpop", db, k)]),
        "lmpop" | "blmpop" => {
            let event = if has("left") { "lpop" } else { "rpop" };
            popped().map_or(Vec::new(), |k| vec![(LIST, event, db, k)])
        }
        "rpoplpush" => vec![(LIST, "rpop", db, key(1)), (LIST, "lpush", db, key(2))],
        "lmove" | "blmove" => {
            let from = if args.get(3).is_some_and(|a| is(a, "left")) {
                "lpop"
            } else {
                "rpop"
            };
            let to = if args.get(4).is_some_and(|a| is(a, "left")) {
                "lpush"
            } else {
                "rpush"
            };
            vec![(LIST, from, db, key(1)), (LIST, to, db, key(2))]
        }
        "smove" => vec![(SET, "srem", db, key(1)), (SET, "sadd", db, key(2))],
        "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore"
        | "zdiffstore" | "zrangestore" => {
            let class = if name.starts_with('s') { SET } else { ZSET };
            vec![(class, name, db, key(1))]
        }
        "zadd" if has("incr") => on_keys(ZSET, "zincr"),
        "zincrby" => on_keys(ZSET, "zincr"),
        "bzpopmin" => popped().map_or(Vec::new(), |k| vec![(ZSET, "zpopmin", db, k)]),
        "bzpopmax" => popped().map_or(Vec::new(), |k| vec![(ZSET, "zpopmax", db, k)]),
        "zmpop" | "bzmpop" => {
            let event = if has("min") { "zpopmin" } else { "zpopmax" };
            popped().map_or(Vec::new(), |k| vec![(ZSET, event, db, k)])
        }
        "xgroup" => {
            // The consumer events come from the handler (they depend on
            // whether the consumer existed).
            let event = match args.get(1) {
                Some(a) if is(a, "create") => "xgroup-create",
                Some(a) if is(a, "setid") => "xgroup-setid",
                Some(a) if is(a, "destroy") => "xgroup-destroy",
                _ => return Vec::new(),
            };
            if matches!(reply, Reply::Integer(0)) {
                return Vec::new();
            }
            vec![(STREAM, event, db, key(2))]
        }
        "xadd" => {
            let mut out = vec![(STREAM, "xadd", db, key(1))];
            if has("maxlen") || has("minid") {
                out.push((STREAM, "xtrim", db, key(1)));
            }
            out
        }
        // As Redis 7.0: no event of their own (a consumer they create
        // has its `xgroup-createconsumer`, from the handler).
        "xack" | "xreadgroup" | "xclaim" | "xautoclaim" => Vec::new(),
        "del" | "unlink" | "flushdb" | "flushall" | "swapdb" => Vec::new(),
        "expire" | "pexpire" | "expireat" | "pexpireat" => on_keys(GENERIC, "expire"),
        "rename" | "renamenx" => vec![
            (GENERIC, "rename_from", db, key(1)),
            (GENERIC, "rename_to", db, key(2)),
        ],
        "move" => {
            let mut out = vec![(GENERIC, "move_from", db, key(1))];
            if let Ok(to) = db_arg(key(2)) {
                out.push((GENERIC, "move_to", to, key(1)));
            }
            out
        }
        "copy" => {
            let to = args
                .iter()
                .position(|a| is(a, "db"))
                .and_then(|i| args.get(i + 1))
                .and_then(|a| db_arg(a).ok())
                .unwrap_or(db);
            vec![(GENERIC, "copy_to", to, key(2))]
        }
        _ => on_keys(class_of(spec.doc.group), name),
    }
}

/// Publishes a changed write's events: `new` for keys it created, its
/// own events, `del` for keys it emptied. `before` is which of its keys
/// ([`keys_of`]) existed before it ran.
pub fn after_write(ctx: &Ctx<'_>, spec: &Spec, args: &[Bytes], reply: &Reply, before: &[bool]) {
    let flags = ctx.cache.params.notify_flags();
    let db = ctx.client.db;
    let keys = keys_of(spec, args);
    let after = existing(ctx, &keys);
    for (i, key) in keys.iter().enumerate() {
        if !before.get(i).copied().unwrap_or(true) && after[i] {
            notify(ctx.cache, flags, NEW, "new", db, key);
        }
    }
    for (class, event, db, key) in events(spec, args, reply, db, &keys) {
        notify(ctx.cache, flags, class, event, db, key);
    }
    for (i, key) in keys.iter().enumerate() {
        if before.get(i).copied().unwrap_or(false) && !after[i] {
            // DEL, and a command that emptied a container or set a past
            // expiry.
            notify(ctx.cache, flags, GENERIC, "del", db, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lookup;
    use super::*;

    fn args(line: &[&str]) -> Vec<Bytes> {
        line.iter().map(|a| Bytes::from(a.to_string())).collect()
    }

    fn names(line: &[&str], reply: &Reply) -> Vec<(&'static str, Vec<u8>)> {
        let a = args(line);
        let spec = lookup(&a[0]).unwrap();
        let keys = keys_of(spec, &a);
        events(spec, &a, reply, 0, &keys)
            .into_iter()
            .map(|(_, e, _, k)| (e, k.to_vec()))
            .collect()
    }

    #[test]
    fn commands_name_redis_events() {
        let ok = Reply::ok();
        assert_eq!(names(&["SET", "k", "v"], &ok), vec![("set", b"k".to_vec())]);
        assert_eq!(
            names(&["SET", "k", "v", "EX", "10"], &ok),
            vec![("set", b"k".to_vec()), ("expire", b"k".to_vec())]
        );
        assert_eq!(names(&["INCR", "n"], &ok), vec![("incrby", b"n".to_vec())]);
        assert_eq!(
            names(&["HMSET", "h", "a", "1"], &ok),
            vec![("hset", b"h".to_vec())]
        );
        assert_eq!(
            names(&["LPUSH", "l", "a"], &ok),
            vec![("lpush", b"l".to_vec())]
        );
        assert_eq!(
            names(&["SADD", "s", "a"], &ok),
            vec![("sadd", b"s".to_vec())]
        );
        assert_eq!(
            names(&["ZINCRBY", "z", "1", "a"], &ok),
            vec![("zincr", b"z".to_vec())]
        );
        assert_eq!(
            names(&["RENAME", "a", "b"], &ok),
            vec![("rename_from", b"a".to_vec()), ("rename_to", b"b".to_vec())]
        );
        assert_eq!(names(&["DEL", "a"], &ok), vec![]);
        assert_eq!(
            names(&["SINTERSTORE", "d", "a", "b"], &ok),
            vec![("sinterstore", b"d".to_vec())]
        );
    }
}
