//! Bitmaps, which are strings: SETBIT GETBIT BITCOUNT BITPOS BITOP (and
//! the helpers BITFIELD and BITFIELD_RO share, in `bitfield`).
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis. A
//! write past the end grows the string with zero bytes, up to
//! [`MAX_STRING`] (proto-max-bulk-len's default); the growth is checked
//! against the memory limit *before* it is allocated, so one SETBIT with a
//! large offset cannot take more memory than the cache may use.

use bytes::Bytes;

use super::strings::MAX_STRING;
use super::{Ctx, int_arg, is, parse_i64, read_str};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, Value};

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset argument; `hash` allows `#N` (N times the field width).
pub(super) fn offset_arg(arg: &[u8], hash: bool, bits: u64) -> Result<u64, Reply> {
    let (digits, mul) = match arg.strip_prefix(b"#") {
        Some(rest) if hash => (rest, bits),
        _ => (arg, 1),
    };
    let n = parse_i64(digits)
        .filter(|n| *n >= 0)
        .and_then(|n| (n as u64).checked_mul(mul))
        .ok_or(Reply::err(BAD_OFFSET))?;
    if n >> 3 >= MAX_STRING as u64 {
        return Err(Reply::err(BAD_OFFSET));
    }
    Ok(n)
}

/// Refuses to grow a value by more than the whole memory limit (before
/// allocating it). A smaller growth may take memory past the limit, as
/// in Redis: the commands after it evict.
fn room_for(ctx: &Ctx<'_>, extra: usize) -> Result<(), Reply> {
    let store = &ctx.cache.store;
    let max = store.max_memory() as u64;
    if max > 0 && extra as u64 > max {
        return Err(Reply::err(errors::OOM));
    }
    Ok(())
}

/// Runs `f` on the string at `key`, created or grown with zero bytes to
/// at least `len` bytes. WRONGTYPE when the key holds another type. `f`
/// learns whether the string was created or grown, and answers its
/// result and how many changes it made, which count in INFO's
/// `rdb_changes_since_last_save` (as Redis counts SETBIT and BITFIELD: a
/// write counts when it changed a value or the string was created or
/// grown).
pub(super) fn with_bytes_mut<R>(
    ctx: &Ctx<'_>,
    key: &[u8],
    len: usize,
    f: impl FnOnce(&mut [u8], bool) -> (R, u64),
) -> Result<R, Reply> {
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let old_len = read_str(&mut shard, key, now, ctx.access)?.map(<[u8]>::len);
    room_for(ctx, len.saturating_sub(old_len.unwrap_or(0)))?;
    if old_len.is_none() {
        shard.insert(key, Entry::new(Value::Str(Box::default())), now);
    }
    shard
        .update(key, now, |e| {
            let Value::Str(s) = &mut e.value else {
                return Err(Reply::err(errors::WRONGTYPE));
            };
            let grown = s.len() < len;
            if grown {
                let mut longer = std::mem::take(s).into_vec();
                longer.resize(len, 0);
                *s = longer.into_boxed_slice();
            }
            Ok(f(s, grown))
        })
        .unwrap_or(Err(Reply::err(errors::WRONGTYPE)))
        .map(|(out, changes)| {
            let stats = &ctx.cache.stats;
            stats
                .dirty
                .fetch_add(changes, std::sync::atomic::Ordering::Relaxed);
            out
        })
}

/// Reads `bits` (1..=64) bits at bit `offset`, big-endian; bits past the
/// end read as 0.
pub(super) fn get_bits(buf: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for i in 0..u64::from(bits) {
        let pos = offset + i;
        let byte = buf.get((pos >> 3) as usize).copied().unwrap_or(0);
        let bit = (byte >> (7 - (pos & 7))) & 1;
        value = (value << 1) | u64::from(bit);
    }
    value
}

/// Writes the low `bits` bits of `value` at bit `offset` (the buffer is
/// long enough).
pub(super) fn set_bits(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let pos = offset + i;
        let bit = (value >> (u64::from(bits) - 1 - i)) & 1;
        let byte = &mut buf[(pos >> 3) as usize];
        let mask = 1u8 << (7 - (pos & 7));
        if bit == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// SETBIT key offset 0|1: the bit's old value.
pub(super) fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let offset = match offset_arg(&args[2], false, 1) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let on = match &args[3][..] {
        b"0" => 0,
        b"1" => 1,
        _ => return Reply::err("ERR bit is not an integer or out of range"),
    };
    let len = (offset >> 3) as usize + 1;
    match with_bytes_mut(ctx, &args[1], len, |buf, grown| {
        let old = get_bits(buf, offset, 1);
        set_bits(buf, offset, 1, on);
        (old, u64::from(grown || old != on))
    }) {
        Ok(old) => Reply::Integer(old as i64),
        Err(e) => e,
    }
}

/// GETBIT key offset.
pub(super) fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let offset = match offset_arg(&args[2], false, 1) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    match read_str(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Ok(s) => Reply::Integer(get_bits(s.unwrap_or_default(), offset, 1) as i64),
        Err(e) => e,
    }
}

/// A BITCOUNT/BITPOS range in bits, inclusive, from `start` and `end`
/// in bytes or bits (negative from the end) over `len` bytes; `None`
/// when empty.
fn bit_range(start: i64, end: i64, bit_unit: bool, len: usize) -> Option<(u64, u64)> {
    let total = if bit_unit { len as i64 * 8 } else { len as i64 };
    let mut start = if start < 0 { total + start } else { start };
    let mut end = if end < 0 { total + end } else { end };
    start = start.max(0);
    end = end.max(0).min(total - 1);
    if start > end || total == 0 {
        return None;
    }
    if bit_unit {
        Some((start as u64, end as u64))
    } else {
        Some((start as u64 * 8, end as u64 * 8 + 7))
    }
}

fn unit_arg(arg: Option<&Bytes>) -> Result<bool, Reply> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "bit") => Ok(true),
        Some(a) if is(a, "byte") => Ok(false),
        Some(_) => Err(Reply::err(errors::SYNTAX)),
    }
}

/// Counts the set bits in the inclusive bit range.
fn count_ones(buf: &[u8], from: u64, to: u64) -> u64 {
    let (first, last) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut count: u64 = buf[first..=last]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    // Take out the bits of the edge bytes outside the range.
    let head = buf[first] & !(0xffu8 >> (from & 7));
    let tail = buf[last] & (0xffu16 >> ((to & 7) + 1)) as u8;
    count -= u64::from(head.count_ones()) + u64::from(tail.count_ones());
    count
}

/// BITCOUNT key [start end [BYTE|BIT]].
pub(super) fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    let buf = match read_str(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let range = match args.len() {
        2 => bit_range(0, -1, false, buf.len()),
        4 | 5 => {
            let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return e,
            };
            let bit_unit = match unit_arg(args.get(4)) {
                Ok(b) => b,
                Err(e) => return e,
            };
            if start < 0 && end < 0 && start > end {
                return Reply::Integer(0);
            }
            bit_range(start, end, bit_unit, buf.len())
        }
        _ => return Reply::err(errors::SYNTAX),
    };
    Reply::Integer(range.map_or(0, |(from, to)| count_ones(buf, from, to)) as i64)
}

/// The first bit equal to `bit` in the inclusive bit range.
fn first_bit(buf: &[u8], from: u64, to: u64, bit: u8) -> Option<u64> {
    let skip = if bit == 1 { 0x00 } else { 0xff };
    let mut pos = from;
    while pos <= to {
        if pos & 7 == 0 && pos + 7 <= to && buf[(pos >> 3) as usize] == skip {
            pos += 8;
            continue;
        }
        if (buf[(pos >> 3) as usize] >> (7 - (pos & 7))) & 1 == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// BITPOS key 0|1 [start [end [BYTE|BIT]]].
pub(super) fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let bit = match parse_i64(&args[2]) {
        Some(0) => 0u8,
        Some(1) => 1u8,
        Some(_) => return Reply::err("ERR The bit argument must be 1 or 0."),
        None => return Reply::err(errors::NOT_INTEGER),
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let buf = match read_str(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Integer(if bit == 1 { -1 } else { 0 }),
        Err(e) => return e,
    };
    if args.len() > 6 {
        return Reply::err(errors::SYNTAX);
    }
    let start = match args.get(3).map(|a| int_arg(a)).transpose() {
        Ok(s) => s.unwrap_or(0),
        Err(e) => return e,
    };
    let bit_unit = match unit_arg(args.get(5)) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let end = match args.get(4).map(|a| int_arg(a)).transpose() {
        Ok(e) => e,
        Err(e) => return e,
    };
    let Some((from, to)) = bit_range(start, end.unwrap_or(-1), bit_unit, buf.len()) else {
        return Reply::Integer(-1);
    };
    match first_bit(buf, from, to, bit) {
        Some(pos) => Reply::Integer(pos as i64),
        // Looking for a 0 with no end given: the string is taken as
        // padded with zeros on the right.
        None if bit == 0 && end.is_none() => Reply::Integer(to as i64 + 1),
        None => Reply::Integer(-1),
    }
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: the result's length.
pub(super) fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    #[derive(PartialEq, Clone, Copy)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match args[1].to_ascii_lowercase().as_slice() {
        b"and" => Op::And,
        b"or" => Op::Or,
        b"xor" => Op::Xor,
        b"not" => Op::Not,
        _ => return Reply::err(errors::SYNTAX),
    };
    let (dest, sources) = (&args[2], &args[3..]);
    if op == Op::Not && sources.len() != 1 {
        return Reply::err("ERR BITOP NOT must be called with a single source key.");
    }
    let mut values: Vec<Vec<u8>> = Vec::with_capacity(sources.len());
    for key in sources {
        let mut shard = ctx.db().lock_key(key);
        match read_str(&mut shard, key, ctx.now_ms, ctx.access) {
            Ok(v) => values.push(v.map(<[u8]>::to_vec).unwrap_or_default()),
            Err(e) => return e,
        }
    }
    let len = values.iter().map(Vec::len).max().unwrap_or(0);
    if let Err(e) = room_for(ctx, len) {
        return e;
    }
    let mut out = vec![0u8; len];
    for (i, byte) in out.iter_mut().enumerate() {
        let at = |v: &Vec<u8>| v.get(i).copied().unwrap_or(0);
        *byte = match op {
            Op::Not => !at(&values[0]),
            Op::And => values.iter().fold(0xff, |acc, v| acc & at(v)),
            Op::Or => values.iter().fold(0, |acc, v| acc | at(v)),
            Op::Xor => values.iter().fold(0, |acc, v| acc ^ at(v)),
        };
    }
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(dest);
    if out.is_empty() {
        shard.remove(dest, now);
    } else {
        shard.insert(dest, Entry::new(Value::Str(out.into_boxed_slice())), now);
    }
    Reply::Integer(len as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_read_and_write_big_endian() {
        let mut buf = vec![0u8; 2];
        set_bits(&mut buf, 1, 1, 1);
        assert_eq!(buf, [0b0100_0000, 0]);
        set_bits(&mut buf, 4, 8, 0xab);
        assert_eq!(get_bits(&buf, 4, 8), 0xab);
        assert_eq!(get_bits(&buf, 8, 8), 0b1011_0000);
        assert_eq!(get_bits(&buf, 12, 8), 0);
        // Past the end reads zeros.
        assert_eq!(get_bits(&buf, 100, 3), 0);
    }

    #[test]
    fn ranges_and_counts_match_redis() {
        // "foobar": 26 ones in all, 4 in byte 1, 6 in bytes 1..=1 of 'o'.
        let s = b"foobar";
        let all = bit_range(0, -1, false, s.len()).unwrap();
        assert_eq!(count_ones(s, all.0, all.1), 26);
        let (a, b) = bit_range(1, 1, false, s.len()).unwrap();
        assert_eq!(count_ones(s, a, b), 6);
        let (a, b) = bit_range(5, 30, true, s.len()).unwrap();
        assert_eq!(count_ones(s, a, b), 17);
        // A range ending on a byte's last bit.
        assert_eq!(count_ones(b"\xff\xff", 0, 15), 16);
        assert_eq!(count_ones(b"\xff\xff", 3, 7), 5);
        assert_eq!(bit_range(3, 1, false, s.len()), None);
        assert_eq!(bit_range(0, -1, false, 0), None);
    }

    /// Every range over short strings, against a bit-by-bit count and
    /// search (this also proves no range panics).
    #[test]
    fn every_range_agrees_with_a_naive_scan() {
        let bit = |s: &[u8], i: u64| (s[(i >> 3) as usize] >> (7 - (i & 7))) & 1;
        for s in [
            &b""[..],
            b"\x00",
            b"\xff",
            b"\x81\x7e",
            b"\xff\x00\xf0",
            b"\x00\x00\x01",
        ] {
            for unit in [false, true] {
                for start in -30i64..30 {
                    for end in -30i64..30 {
                        let Some((from, to)) = bit_range(start, end, unit, s.len()) else {
                            continue;
                        };
                        assert!(to < s.len() as u64 * 8);
                        let naive: u64 = (from..=to).map(|i| u64::from(bit(s, i))).sum();
                        assert_eq!(count_ones(s, from, to), naive, "{s:?} {start} {end} {unit}");
                        for b in [0u8, 1] {
                            let naive = (from..=to).find(|&i| bit(s, i) == b);
                            assert_eq!(first_bit(s, from, to, b), naive, "{s:?} {start} {end} {b}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn offsets_are_checked() {
        assert_eq!(offset_arg(b"#2", true, 8).unwrap(), 16);
        assert!(offset_arg(b"#2", false, 8).is_err());
        assert!(offset_arg(b"-1", false, 1).is_err());
        assert!(offset_arg(b"4294967296", false, 1).is_err());
        assert_eq!(offset_arg(b"4294967295", false, 1).unwrap(), 4294967295);
    }
}
