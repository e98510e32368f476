//! `cmsgpack`, as Redis 7.0 bundles it (lua-cmsgpack 0.4): `pack`,
//! `unpack`, `unpack_one`, `unpack_limit`.
//!
//! Packing follows lua-cmsgpack byte for byte (the suite compares hex):
//! integer-valued numbers in the smallest integer form, other numbers as
//! a float32 when that is exact and a float64 otherwise, strings as
//! fixstr/str8/16/32, a table whose keys are exactly 1..n as an array and
//! any other as a map, nesting cut at 16 levels (deeper tables pack as
//! nil, which is what makes a circular table packable), anything else as
//! nil. The encoding itself is `rmp`'s (the crate agora's wire protocol
//! already uses); unpacking reads every MessagePack type but extensions.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const MAX_NESTING: usize = 16;

/// How deep unpacking goes before calling the data bad (Lua's C stack
/// is the limit in lua-cmsgpack).
const MAX_UNPACK_DEPTH: usize = 512;

/// Installs `cmsgpack` as a global.
///
/// # Errors
/// Only on allocation failure.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| unpack_full(lua, &s.as_bytes(), 0, 0))?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::LuaString, Option<f64>)| {
            unpack_full(lua, &s.as_bytes(), 1, offset.unwrap_or(0.0) as i64)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::LuaString, Option<f64>, Option<f64>)| {
                unpack_full(
                    lua,
                    &s.as_bytes(),
                    limit.unwrap_or(0.0) as i64,
                    offset.unwrap_or(0.0) as i64,
                )
            },
        )?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    lua.globals().set("cmsgpack", t)?;
    Ok(())
}

fn io(e: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(e.to_string())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn pack(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    use rmp::encode;
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            encode::write_str_len(out, b.len() as u32).map_err(io)?;
            out.extend_from_slice(&b);
        }
        Value::Boolean(b) => encode::write_bool(out, *b).map_err(io)?,
        Value::Integer(_) | Value::Number(_) => {
            let n = number(v).unwrap_or_default();
            if n.is_finite() && n == (n as i64) as f64 {
                encode::write_sint(out, n as i64).map_err(io)?;
            } else if f64::from(n as f32) == n {
                encode::write_f32(out, n as f32).map_err(io)?;
            } else {
                encode::write_f64(out, n).map_err(io)?;
            }
        }
        Value::Table(t) if level < MAX_NESTING => pack_table(t, level, out)?,
        _ => encode::write_nil(out).map_err(io)?,
    }
    Ok(())
}

fn pack_table(t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let mut count = 0usize;
    let mut max = 0f64;
    let mut array = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match number(&k) {
            Some(n) if n > 0.0 && n.fract() == 0.0 => {
                max = max.max(n);
                count += 1;
            }
            _ => {
                array = false;
                count += 1;
            }
        }
    }
    if array && max == count as f64 {
        let len = t.raw_len();
        rmp::encode::write_array_len(out, len as u32).map_err(io)?;
        for i in 1..=len {
            let v: Value = t.raw_get(i)?;
            pack(&v, level + 1, out)?;
        }
    } else {
        rmp::encode::write_map_len(out, count as u32).map_err(io)?;
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            pack(&k, level + 1, out)?;
            pack(&v, level + 1, out)?;
        }
    }
    Ok(())
}

/// lua-cmsgpack's `mp_unpack_full`: `limit` 0 unpacks everything and
/// returns the values; otherwise up to `limit` values, preceded by the
/// next offset (-1 at the end of the input).
fn unpack_full(lua: &Lua, s: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    if offset < 0 || limit < 0 {
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {limit}."
        )));
    }
    if offset as usize > s.len() {
        return Err(mlua::Error::runtime(format!(
            "Start offset {offset} greater than input length {}.",
            s.len()
        )));
    }
    let all = limit == 0;
    let limit = if all { usize::MAX } else { limit as usize };
    let mut cur = &s[offset as usize..];
    let mut values = Vec::new();
    while !cur.is_empty() && values.len() < limit {
        values.push(decode(lua, &mut cur, 0)?);
    }
    if !all {
        let next = if cur.is_empty() {
            -1
        } else {
            (s.len() - cur.len()) as i64
        };
        values.insert(0, Value::Number(next as f64));
    }
    Ok(MultiValue::from_iter(values))
}

fn take<'a>(cur: &mut &'a [u8], n: usize) -> mlua::Result<&'a [u8]> {
    if cur.len() < n {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let (head, tail) = cur.split_at(n);
    *cur = tail;
    Ok(head)
}

fn be(cur: &mut &[u8], n: usize) -> mlua::Result<u64> {
    Ok(take(cur, n)?
        .iter()
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
}

fn decode(lua: &Lua, cur: &mut &[u8], depth: usize) -> mlua::Result<Value> {
    if depth > MAX_UNPACK_DEPTH {
        return Err(mlua::Error::runtime("Bad data format in input."));
    }
    let marker = take(cur, 1)?[0];
    let num = |n: f64| Ok(Value::Number(n));
    match marker {
        0x00..=0x7f => num(f64::from(marker)),
        0xe0..=0xff => num(f64::from(marker as i8)),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xcc => num(be(cur, 1)? as f64),
        0xcd => num(be(cur, 2)? as f64),
        0xce => num(be(cur, 4)? as f64),
        0xcf => num(be(cur, 8)? as f64),
        0xd0 => num(f64::from(be(cur, 1)? as u8 as i8)),
        0xd1 => num(f64::from(be(cur, 2)? as u16 as i16)),
        0xd2 => num(f64::from(be(cur, 4)? as u32 as i32)),
        0xd3 => num(be(cur, 8)? as i64 as f64),
        0xca => num(f64::from(f32::from_bits(be(cur, 4)? as u32))),
        0xcb => num(f64::from_bits(be(cur, 8)?)),
        0xa0..=0xbf => bytes(lua, cur, usize::from(marker & 0x1f)),
        0xd9 | 0xc4 => {
            let n = be(cur, 1)? as usize;
            bytes(lua, cur, n)
        }
        0xda | 0xc5 => {
            let n = be(cur, 2)? as usize;
            bytes(lua, cur, n)
        }
        0xdb | 0xc6 => {
            let n = be(cur, 4)? as usize;
            bytes(lua, cur, n)
        }
        0x90..=0x9f => array(lua, cur, usize::from(marker & 0x0f), depth),
        0xdc => {
            let n = be(cur, 2)? as usize;
            array(lua, cur, n, depth)
        }
        0xdd => {
            let n = be(cur, 4)? as usize;
            array(lua, cur, n, depth)
        }
        0x80..=0x8f => map(lua, cur, usize::from(marker & 0x0f), depth),
        0xde => {
            let n = be(cur, 2)? as usize;
            map(lua, cur, n, depth)
        }
        0xdf => {
            let n = be(cur, 4)? as usize;
            map(lua, cur, n, depth)
        }
        _ => Err(mlua::Error::runtime("Bad data format in input.")),
    }
}

fn bytes(lua: &Lua, cur: &mut &[u8], n: usize) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(take(cur, n)?)?))
}

fn array(lua: &Lua, cur: &mut &[u8], n: usize, depth: usize) -> mlua::Result<Value> {
    // Every element takes at least a byte: a length past the input is bad
    // data, not a reason to allocate.
    if n > cur.len() {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(n, 0)?;
    for i in 1..=n {
        t.raw_set(i, decode(lua, cur, depth + 1)?)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, cur: &mut &[u8], n: usize, depth: usize) -> mlua::Result<Value> {
    if n > cur.len() / 2 {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(0, n)?;
    for _ in 0..n {
        let k = decode(lua, cur, depth + 1)?;
        let v = decode(lua, cur, depth + 1)?;
        if !matches!(k, Value::Nil) {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        install(&lua).unwrap();
        lua.load(code).eval::<String>().unwrap()
    }

    const HEX: &str = "local function hex(s) local h = '' for i = 1, #s do \
                       h = h .. string.format('%02x', string.byte(s, i)) end return h end ";

    #[test]
    fn packs_as_lua_cmsgpack() {
        let h = |e: &str| eval(&format!("{HEX} return hex(cmsgpack.pack({e}))"));
        assert_eq!(h("0.1"), "cb3fb999999999999a");
        assert_eq!(h("-1099511627776"), "d3ffffff0000000000");
        assert_eq!(h("0.5"), "ca3f000000");
        assert_eq!(h("1, -1, 200, -100"), "01ffccc8d09c");
        assert_eq!(h("{1, 2}"), "920102");
        assert_eq!(h("{}"), "90");
        assert_eq!(h("{a = true}"), "81a161c3");
        assert_eq!(h("'abc', nil"), "a3616263c0");
    }

    #[test]
    fn unpacks_what_it_packs() {
        assert_eq!(
            eval(
                "local t = cmsgpack.unpack(cmsgpack.pack({a = {1, 'x'}, b = 2^40})) return t.a[2] .. t.b"
            ),
            "x1099511627776"
        );
        assert_eq!(
            eval(
                "local s = cmsgpack.pack('a', 'bb') local o, v = cmsgpack.unpack_limit(s, 1, 0) \
                  local o2, v2 = cmsgpack.unpack_limit(s, 1, o) return o .. v .. o2 .. v2"
            ),
            "2a-1bb"
        );
        assert_eq!(
            eval(
                "local a = {y = 5} a.x = {x = a} local r = cmsgpack.unpack(cmsgpack.pack(a)) return r.x.x.y"
            ),
            "5"
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        for code in [
            "cmsgpack.unpack('\\220\\255\\255')",
            "cmsgpack.unpack('\\193')",
            "cmsgpack.unpack_one('a', -1)",
            "cmsgpack.unpack_one('a', 5)",
            "cmsgpack.pack()",
        ] {
            assert_eq!(
                eval(&format!(
                    "return tostring(pcall(function() return {code} end))"
                )),
                "false",
                "{code}"
            );
        }
    }
}
