//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the
//! longest common subsequence of two strings, by Redis's own dynamic
//! programming and backtracking (so IDX lists the same ranges, in the
//! same order, as Redis).

use bytes::Bytes;

use super::strings::MAX_STRING;
use super::{Ctx, int_arg, is};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, Value};

struct Options {
    len: bool,
    idx: bool,
    min_len: u64,
    with_len: bool,
}

fn options(args: &[Bytes]) -> Result<Options, Reply> {
    let mut opts = Options {
        len: false,
        idx: false,
        min_len: 0,
        with_len: false,
    };
    let mut i = 3;
    while i < args.len() {
        let word = &args[i];
        if is(word, "idx") {
            opts.idx = true;
        } else if is(word, "len") {
            opts.len = true;
        } else if is(word, "withmatchlen") {
            opts.with_len = true;
        } else if is(word, "minmatchlen") && i + 1 < args.len() {
            opts.min_len = int_arg(&args[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if opts.idx && opts.len {
        return Err(Reply::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(opts)
}

fn string_of(ctx: &Ctx<'_>, key: &[u8]) -> Result<Vec<u8>, Reply> {
    let mut shard = ctx.db().lock_key(key);
    match shard.get(key, ctx.now_ms, ctx.access) {
        None => Ok(Vec::new()),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Ok(s.to_vec()),
        Some(_) => Err(Reply::err(
            "ERR The specified keys must contain string values",
        )),
    }
}

pub(super) fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match run(ctx, args) {
        Ok(r) | Err(r) => r,
    }
}

fn run(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let a = string_of(ctx, &args[1])?;
    let b = string_of(ctx, &args[2])?;
    let opts = options(args)?;
    let (alen, blen) = (a.len(), b.len());
    // The table is (alen+1)*(blen+1) u32s: refuse what would take more
    // than proto-max-bulk-len, as Redis does.
    let cells = (alen as u128 + 1) * (blen as u128 + 1);
    if cells * 4 > MAX_STRING as u128 {
        return Err(Reply::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let width = blen + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * width + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * width + j - 1] + 1
            } else {
                dp[(i - 1) * width + j].max(dp[i * width + j - 1])
            };
        }
    }
    let at = |i: usize, j: usize| dp[i * width + j];
    let total = at(alen, blen);
    if opts.len {
        return Ok(Reply::Integer(i64::from(total)));
    }
    let mut result = vec![0u8; total as usize];
    let mut matches = Vec::new();
    let (mut arange_start, mut arange_end, mut brange_start, mut brange_end) = (alen, 0, 0, 0);
    let mut idx = total as usize;
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if arange_start == alen {
                arange_start = i - 1;
                arange_end = i - 1;
                brange_start = j - 1;
                brange_end = j - 1;
            } else if arange_start == i && brange_start == j {
                arange_start -= 1;
                brange_start -= 1;
            } else {
                emit = true;
            }
            if arange_start == 0 || brange_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if arange_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (arange_end - arange_start + 1) as u64;
            if opts.idx && (opts.min_len == 0 || match_len >= opts.min_len) {
                let pair = |s: usize, e: usize| {
                    Reply::Array(vec![Reply::Integer(s as i64), Reply::Integer(e as i64)])
                };
                let mut item = vec![
                    pair(arange_start, arange_end),
                    pair(brange_start, brange_end),
                ];
                if opts.with_len {
                    item.push(Reply::Integer(match_len as i64));
                }
                matches.push(Reply::Array(item));
            }
            arange_start = alen;
        }
    }
    if opts.idx {
        return Ok(Reply::Map(vec![
            (
                Reply::Bulk(Bytes::from_static(b"matches")),
                Reply::Array(matches),
            ),
            (
                Reply::Bulk(Bytes::from_static(b"len")),
                Reply::Integer(i64::from(total)),
            ),
        ]));
    }
    Ok(Reply::Bulk(result.into()))
}
