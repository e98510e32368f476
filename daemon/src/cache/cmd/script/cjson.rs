//! `cjson`, as Redis 7.0 bundles it (lua-cjson 2.1): `encode`, `decode`,
//! `null`, and the settings scripts call (`encode_max_depth`,
//! `decode_max_depth`, `encode_invalid_numbers`, `encode_keep_buffer`,
//! `encode_sparse_array`, `decode_invalid_numbers`, `encode_number_precision`).
//!
//! Encoding follows lua-cjson's rules: a table whose keys are all
//! positive integers is an array (unless excessively sparse: more than
//! twice as many slots as items past 10 slots, an error by default),
//! other tables are objects with string or number keys, an empty table is
//! `{}`, numbers print as `%.14g`, `/` is escaped, NaN and infinity are
//! refused unless `encode_invalid_numbers(true)`. Decoding parses with
//! serde_json (numbers become Lua numbers, `null` becomes `cjson.null`)
//! and enforces `decode_max_depth` (default 1000; serde_json itself stops
//! at 128 levels).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use mlua::{LightUserData, Lua, Table, Value, Variadic};

/// The settings a script may change (per interpreter, as in Redis).
struct Settings {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    invalid_numbers: AtomicBool,
}

/// `cjson.null`: a NULL light userdata, as lua-cjson's.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Installs `cjson` as a global.
///
/// # Errors
/// Only on allocation failure.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let settings = Arc::new(Settings {
        encode_max_depth: AtomicUsize::new(1000),
        decode_max_depth: AtomicUsize::new(1000),
        invalid_numbers: AtomicBool::new(false),
    });
    let t = lua.create_table()?;
    let s = settings.clone();
    t.set(
        "encode",
        lua.create_function(move |_, v: Value| {
            let mut out = String::new();
            encode(&v, &s, 1, &mut out).map_err(mlua::Error::runtime)?;
            Ok(out)
        })?,
    )?;
    let s = settings.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, text: mlua::LuaString| {
            let bytes = text.as_bytes();
            let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token: {e}"))
            })?;
            to_lua(lua, json, &s, 1)
        })?,
    )?;
    t.set("null", null())?;
    let setter = |lua: &Lua, cell: fn(&Settings) -> &AtomicUsize, s: Arc<Settings>| {
        lua.create_function(move |_, n: Option<f64>| {
            if let Some(n) = n {
                if !(1.0..=2_147_483_647.0).contains(&n) {
                    return Err(mlua::Error::runtime(
                        "bad argument #1 (expected integer between 1 and 2147483647)",
                    ));
                }
                cell(&s).store(n as usize, Relaxed);
            }
            Ok(cell(&s).load(Relaxed))
        })
    };
    t.set(
        "encode_max_depth",
        setter(lua, |s| &s.encode_max_depth, settings.clone())?,
    )?;
    t.set(
        "decode_max_depth",
        setter(lua, |s| &s.decode_max_depth, settings.clone())?,
    )?;
    let s = settings.clone();
    t.set(
        "encode_invalid_numbers",
        lua.create_function(move |_, v: Value| {
            match v {
                Value::Boolean(b) => s.invalid_numbers.store(b, Relaxed),
                Value::String(ref x) if x.as_bytes().eq_ignore_ascii_case(b"on") => {
                    s.invalid_numbers.store(true, Relaxed)
                }
                Value::String(ref x) if x.as_bytes().eq_ignore_ascii_case(b"off") => {
                    s.invalid_numbers.store(false, Relaxed)
                }
                _ => {}
            }
            Ok(s.invalid_numbers.load(Relaxed))
        })?,
    )?;
    // Accepted for compatibility; they change nothing here.
    for name in [
        "encode_keep_buffer",
        "encode_sparse_array",
        "decode_invalid_numbers",
        "encode_number_precision",
    ] {
        t.set(name, lua.create_function(|_, v: Variadic<Value>| Ok(v))?)?;
    }
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    lua.globals().set("cjson", t)?;
    Ok(())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn encode(v: &Value, s: &Settings, depth: usize, out: &mut String) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::LightUserData(p) if p.0.is_null() => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(_) | Value::Number(_) => {
            let n = number(v).unwrap_or_default();
            if !n.is_finite() {
                if !s.invalid_numbers.load(Relaxed) {
                    return Err("Cannot serialise number: must not be NaN or Inf".into());
                }
                out.push_str(if n.is_nan() {
                    "nan"
                } else if n > 0.0 {
                    "inf"
                } else {
                    "-inf"
                });
            } else {
                out.push_str(&format_g14(n));
            }
        }
        Value::String(text) => string(&text.as_bytes(), out),
        Value::Table(t) => {
            if depth > s.encode_max_depth.load(Relaxed) {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            table(t, s, depth, out)?;
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

/// The array length lua-cjson would use: `Some(n)` for an array, `None`
/// for an object.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match number(&k) {
            Some(n) if n >= 1.0 && n.fract() == 0.0 => {
                max = max.max(n as usize);
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    if max > 10 && max > items * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok((items > 0).then_some(max))
}

fn table(t: &Table, s: &Settings, depth: usize, out: &mut String) -> Result<(), String> {
    if let Some(len) = array_len(t)? {
        out.push('[');
        for i in 1..=len {
            if i > 1 {
                out.push(',');
            }
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(&v, s, depth + 1, out)?;
        }
        out.push(']');
        return Ok(());
    }
    out.push('{');
    let mut first = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        if !first {
            out.push(',');
        }
        first = false;
        match &k {
            Value::String(text) => string(&text.as_bytes(), out),
            Value::Integer(_) | Value::Number(_) => {
                let n = number(&k).unwrap_or_default();
                string(format_g14(n).as_bytes(), out);
            }
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(':');
        encode(&v, s, depth + 1, out)?;
    }
    out.push('}');
    Ok(())
}

/// lua-cjson's string escaping (`/` too).
fn string(bytes: &[u8], out: &mut String) {
    out.push('"');
    let text = String::from_utf8_lossy(bytes);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// C's `%.14g`, cjson's number format.
pub(super) fn format_g14(value: f64) -> String {
    crate::cache::cmd::format_g(value, 14)
}

fn to_lua(lua: &Lua, json: serde_json::Value, s: &Settings, depth: usize) -> mlua::Result<Value> {
    use serde_json::Value as J;
    let nested = matches!(json, J::Array(_) | J::Object(_));
    if nested && depth > s.decode_max_depth.load(Relaxed) {
        return Err(mlua::Error::runtime(format!(
            "Found too many nested data structures ({depth})"
        )));
    }
    Ok(match json {
        J::Null => null(),
        J::Bool(b) => Value::Boolean(b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        J::String(text) => Value::String(lua.create_string(&text)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item, s, depth + 1)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k, to_lua(lua, v, s, depth + 1)?)?;
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        install(&lua).unwrap();
        lua.load(code).eval::<String>().unwrap()
    }

    #[test]
    fn encodes_as_lua_cjson() {
        assert_eq!(
            eval("return cjson.encode({1, 2, 'a/b'})"),
            "[1,2,\"a\\/b\"]"
        );
        assert_eq!(eval("return cjson.encode({})"), "{}");
        assert_eq!(eval("return cjson.encode({a = 0.1})"), "{\"a\":0.1}");
        assert_eq!(
            eval("return cjson.encode({[1] = 'x', [2] = cjson.null})"),
            "[\"x\",null]"
        );
        assert_eq!(eval("return cjson.encode(1e20)"), "1e+20");
        assert_eq!(eval("return cjson.encode(100)"), "100");
        assert_eq!(eval("return cjson.encode('\\n\\1')"), "\"\\n\\u0001\"");
    }

    #[test]
    fn refuses_what_lua_cjson_refuses() {
        assert_eq!(
            eval("return tostring(pcall(cjson.encode, {[false] = 1}))"),
            "false"
        );
        assert_eq!(eval("return tostring(pcall(cjson.encode, 0/0))"), "false");
        assert_eq!(
            eval("return tostring(pcall(cjson.encode, {[100] = 1}))"),
            "false"
        );
        assert_eq!(eval("return tostring(pcall(cjson.encode, print))"), "false");
        assert_eq!(
            eval("cjson.encode_max_depth(1) return tostring(pcall(cjson.encode, {{}}))"),
            "false"
        );
        assert_eq!(
            eval("cjson.decode_max_depth(1) return tostring(pcall(cjson.decode, '[[1]]'))"),
            "false"
        );
        assert_eq!(eval("return tostring(pcall(cjson.decode, '{'))"), "false");
    }

    #[test]
    fn decodes_numbers_strings_and_null() {
        assert_eq!(
            eval("return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')"),
            "0 -5000 -1 0.0003 1023.2 0"
        );
        assert_eq!(
            eval("local t = cjson.decode('{\"a\":\"b\"}') return t.a"),
            "b"
        );
        assert_eq!(
            eval("return tostring(cjson.decode('null') == cjson.null)"),
            "true"
        );
    }

    #[test]
    fn g14_matches_c() {
        assert_eq!(format_g14(1023.2), "1023.2");
        assert_eq!(format_g14(0.0003), "0.0003");
        assert_eq!(format_g14(0.00001), "1e-05");
        assert_eq!(format_g14(123_456_789_012_345.0), "1.2345678901234e+14");
        assert_eq!(format_g14(-5000.0), "-5000");
    }
}
