//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits (`iN`, `uN` up to
//! u63) at any bit offset of a string (`#N`: N times the width), with
//! GET, SET, INCRBY and OVERFLOW WRAP|SAT|FAIL.

use bytes::Bytes;

use super::bits::{get_bits, offset_arg, set_bits, with_bytes_mut};
use super::{Ctx, int_arg, is, parse_i64, read_str};
use crate::cache::reply::{Reply, errors};

/// A BITFIELD field type: signed or not, and its width.
#[derive(Clone, Copy)]
struct Field {
    signed: bool,
    bits: u32,
}

impl Field {
    fn parse(arg: &[u8]) -> Result<Field, Reply> {
        let bad = || {
            Reply::err(
                "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
            )
        };
        let (signed, rest) = match arg.split_first() {
            Some((b'i' | b'I', rest)) => (true, rest),
            Some((b'u' | b'U', rest)) => (false, rest),
            _ => return Err(bad()),
        };
        let bits = parse_i64(rest).ok_or_else(bad)?;
        let max = if signed { 64 } else { 63 };
        if !(1..=max).contains(&bits) {
            return Err(bad());
        }
        Ok(Field {
            signed,
            bits: bits as u32,
        })
    }

    /// The stored bits as this type's value.
    fn decode(self, raw: u64) -> i128 {
        if self.signed && self.bits < 64 && raw >> (self.bits - 1) & 1 == 1 {
            i128::from(raw) - (1i128 << self.bits)
        } else if self.signed {
            i128::from(raw as i64)
        } else {
            i128::from(raw)
        }
    }

    fn range(self) -> (i128, i128) {
        if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        }
    }

    /// `value` fitted to the type under `overflow`; `None` on FAIL.
    fn fit(self, value: i128, overflow: Overflow) -> Option<i128> {
        let (min, max) = self.range();
        if (min..=max).contains(&value) {
            return Some(value);
        }
        match overflow {
            Overflow::Fail => None,
            Overflow::Sat => Some(if value > max { max } else { min }),
            Overflow::Wrap => {
                Some(self.decode((value as u128 & ((1u128 << self.bits) - 1)) as u64))
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

enum Op {
    Get(Field, u64),
    Set(Field, u64, i64),
    Incr(Field, u64, i64),
}

fn parse_bitfield(args: &[Bytes], read_only: bool) -> Result<Vec<(Op, Overflow)>, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < args.len() {
        let word = &args[i];
        let rest = args.len() - i - 1;
        if is(word, "overflow") && rest >= 1 {
            overflow = match args[i + 1].to_ascii_lowercase().as_slice() {
                b"wrap" => Overflow::Wrap,
                b"sat" => Overflow::Sat,
                b"fail" => Overflow::Fail,
                _ => return Err(Reply::err("ERR Invalid OVERFLOW type specified")),
            };
            i += 2;
            continue;
        }
        let write = is(word, "set") || is(word, "incrby");
        if !(is(word, "get") && rest >= 2 || write && rest >= 3) {
            return Err(Reply::err(errors::SYNTAX));
        }
        let field = Field::parse(&args[i + 1])?;
        let offset = offset_arg(&args[i + 2], true, u64::from(field.bits))?;
        if !write {
            ops.push((Op::Get(field, offset), overflow));
            i += 3;
            continue;
        }
        let n = int_arg(&args[i + 3])?;
        if read_only {
            return Err(Reply::err(
                "ERR BITFIELD_RO only supports the GET subcommand",
            ));
        }
        let op = if is(word, "set") {
            Op::Set(field, offset, n)
        } else {
            Op::Incr(field, offset, n)
        };
        ops.push((op, overflow));
        i += 4;
    }
    Ok(ops)
}

/// Runs the operations: one reply each (OVERFLOW has none), and how many
/// writes changed a value (every write that ran, when the string was
/// created or `grown`).
fn run_bitfield(buf: &mut [u8], ops: &[(Op, Overflow)], grown: bool) -> (Vec<Reply>, u64) {
    let mut replies = Vec::with_capacity(ops.len());
    let mut changes = 0;
    for (op, overflow) in ops {
        match *op {
            Op::Get(f, at) => {
                replies.push(Reply::Integer(f.decode(get_bits(buf, at, f.bits)) as i64));
            }
            Op::Set(f, at, n) => {
                let old = f.decode(get_bits(buf, at, f.bits));
                // An unsigned field takes the value as Redis does: its
                // 64-bit pattern (-1 is 2^64-1).
                let value = if f.signed {
                    i128::from(n)
                } else {
                    i128::from(n as u64)
                };
                match f.fit(value, *overflow) {
                    Some(v) => {
                        set_bits(buf, at, f.bits, v as u64);
                        changes += u64::from(grown || v != old);
                        replies.push(Reply::Integer(old as i64));
                    }
                    None => replies.push(Reply::Nil),
                }
            }
            Op::Incr(f, at, n) => {
                let old = f.decode(get_bits(buf, at, f.bits));
                match f.fit(old + i128::from(n), *overflow) {
                    Some(v) => {
                        set_bits(buf, at, f.bits, v as u64);
                        changes += u64::from(grown || v != old);
                        replies.push(Reply::Integer(v as i64));
                    }
                    None => replies.push(Reply::Nil),
                }
            }
        }
    }
    (replies, changes)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Reply {
    let ops = match parse_bitfield(args, read_only) {
        Ok(ops) => ops,
        Err(e) => return e,
    };
    let key = &args[1];
    let highest = ops
        .iter()
        .filter_map(|(op, _)| match op {
            Op::Set(f, at, _) | Op::Incr(f, at, _) => Some(at + u64::from(f.bits)),
            Op::Get(..) => None,
        })
        .max();
    let Some(end) = highest else {
        // Reads only: a missing key reads as zeros.
        let mut shard = ctx.db().lock_key(key);
        return match read_str(&mut shard, key, ctx.now_ms, ctx.access) {
            Ok(s) => {
                let mut buf = s.unwrap_or_default().to_vec();
                Reply::Array(run_bitfield(&mut buf, &ops, false).0)
            }
            Err(e) => e,
        };
    };
    let len = end.div_ceil(8) as usize;
    match with_bytes_mut(ctx, key, len, |buf, grown| run_bitfield(buf, &ops, grown)) {
        Ok(replies) => Reply::Array(replies),
        Err(e) => e,
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type
/// offset increment] [OVERFLOW WRAP|SAT|FAIL] ...
pub(super) fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset] ...
pub(super) fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bitfield_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_wrap_saturate_and_fail() {
        let u8f = Field::parse(b"u8").unwrap();
        let i8f = Field::parse(b"i8").unwrap();
        assert_eq!(u8f.fit(256, Overflow::Wrap), Some(0));
        assert_eq!(u8f.fit(300, Overflow::Sat), Some(255));
        assert_eq!(u8f.fit(-1, Overflow::Sat), Some(0));
        assert_eq!(u8f.fit(-1, Overflow::Fail), None);
        assert_eq!(i8f.fit(128, Overflow::Wrap), Some(-128));
        assert_eq!(i8f.fit(-129, Overflow::Sat), Some(-128));
        assert_eq!(i8f.decode(0xff), -1);
        let i64f = Field::parse(b"i64").unwrap();
        assert_eq!(
            i64f.fit(i128::from(i64::MAX) + 1, Overflow::Wrap),
            Some(i128::from(i64::MIN))
        );
        assert!(Field::parse(b"u64").is_err());
        assert!(Field::parse(b"i0").is_err());
        assert!(Field::parse(b"x8").is_err());
    }
}
