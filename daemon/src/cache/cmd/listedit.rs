//! List commands that read or change elements in the middle: LINSERT,
//! LSET, LREM, LTRIM, LPOS.

use bytes::Bytes;

use super::typed::{change, read};
use super::{Ctx, int_arg, is, parse_i64};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::List;

/// A list index from the head (`0..`) or the tail (`-1` the last), as a
/// position in a list of `len` elements, when in range.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let idx = if index < 0 { len + index } else { index };
    (0..len).contains(&idx).then_some(idx as usize)
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the
/// pivot is not there, 0 when the key is missing.
pub(super) fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Reply::err(errors::SYNTAX);
    };
    let (key, pivot, element) = (&args[1], &args[3], &args[4]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let result = change(&mut shard, key, now, false, |list: &mut List| {
        match list.iter().position(|v| **v == pivot[..]) {
            Some(i) => {
                let at = if after { i + 1 } else { i };
                list.insert(at, (&element[..]).into());
                list.len() as i64
            }
            None => -1,
        }
    });
    match result {
        Ok(n) => Reply::Integer(n.unwrap_or(0)),
        Err(e) => e,
    }
}

/// LSET key index element.
pub(super) fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let index = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let (key, element) = (&args[1], &args[3]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let result = change(
        &mut shard,
        key,
        now,
        false,
        |list: &mut List| match position(index, list.len()) {
            Some(i) => {
                list.set(i, (&element[..]).into());
                true
            }
            None => false,
        },
    );
    match result {
        Ok(None) => Reply::err(errors::NO_SUCH_KEY),
        Ok(Some(true)) => Reply::ok(),
        Ok(Some(false)) => Reply::err("ERR index out of range"),
        Err(e) => e,
    }
}

/// LREM key count element: removes up to |count| occurrences (from the
/// head when count > 0, from the tail when < 0, all when 0).
pub(super) fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let (key, element) = (&args[1], &args[3]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let result = change(&mut shard, key, now, false, |list: &mut List| {
        let mut removed = 0usize;
        let items = list.take();
        let mut kept: std::collections::VecDeque<Box<[u8]>> =
            std::collections::VecDeque::with_capacity(items.len());
        if count >= 0 {
            for v in items {
                if removed < limit && *v == element[..] {
                    removed += 1;
                } else {
                    kept.push_back(v);
                }
            }
        } else {
            for v in items.into_iter().rev() {
                if removed < limit && *v == element[..] {
                    removed += 1;
                } else {
                    kept.push_front(v);
                }
            }
        }
        *list = List::from(kept);
        removed as i64
    });
    match result {
        Ok(n) => Reply::Integer(n.unwrap_or(0)),
        Err(e) => e,
    }
}

/// LTRIM key start stop: keeps the elements from start to stop
/// (inclusive, negative from the tail); deletes the key when none is left.
pub(super) fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let key = &args[1];
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let result = change(&mut shard, key, now, false, |list: &mut List| {
        let len = list.len() as i64;
        let start = if start < 0 {
            (len + start).max(0)
        } else {
            start
        };
        let stop = if stop < 0 { len + stop } else { stop };
        if start > stop || start >= len {
            list.take();
            return;
        }
        let stop = stop.min(len - 1);
        list.keep_range(start as usize, stop as usize);
    });
    match result {
        Ok(_) => Reply::ok(),
        Err(e) => e,
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
pub(super) fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut rest = &args[3..];
    while let [word, value, tail @ ..] = rest {
        let Some(n) = parse_i64(value) else {
            return Reply::err(errors::NOT_INTEGER);
        };
        if is(word, "rank") {
            if n == 0 {
                return Reply::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                );
            }
            rank = n;
        } else if is(word, "count") {
            if n < 0 {
                return Reply::err("ERR COUNT can't be negative");
            }
            count = Some(n as usize);
        } else if is(word, "maxlen") {
            if n < 0 {
                return Reply::err("ERR MAXLEN can't be negative");
            }
            maxlen = n as usize;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Reply::err(errors::SYNTAX);
    }
    let (key, element) = (&args[1], &args[2]);
    let mut shard = ctx.db().lock_key(key);
    let list: &List = match read(&mut shard, key, ctx) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return if count.is_some() {
                Reply::Array(Vec::new())
            } else {
                Reply::Nil
            };
        }
        Err(e) => return e,
    };
    let len = list.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let mut skip = rank.unsigned_abs().saturating_sub(1);
    let mut found = Vec::new();
    let mut visit = |i: usize, v: &[u8]| {
        if v == &element[..] {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(i as i64);
            }
        }
        found.len() >= want
    };
    if rank > 0 {
        for (i, v) in list.iter().enumerate().take(scan) {
            if visit(i, v) {
                break;
            }
        }
    } else {
        for (i, v) in list.iter().enumerate().rev().take(scan) {
            if visit(i, v) {
                break;
            }
        }
    }
    match count {
        Some(_) => Reply::Array(found.into_iter().map(Reply::Integer).collect()),
        None => found.first().map_or(Reply::Nil, |&i| Reply::Integer(i)),
    }
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn positions_count_from_either_end() {
        assert_eq!(position(0, 3), Some(0));
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-3, 3), Some(0));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(3, 3), None);
        assert_eq!(position(i64::MIN, 3), None);
    }
}
