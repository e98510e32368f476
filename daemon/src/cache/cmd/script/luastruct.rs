//! `struct`, as Redis 7.0 bundles it (Roberto Ierusalimschy's
//! lua_struct.c, `deps/lua/src/lua_struct.c`): `struct.pack(fmt, ...)`,
//! `struct.unpack(fmt, s [, pos])` and `struct.size(fmt)`.
//!
//! A port of the C file's semantics for the platform Redis runs on
//! (64-bit Linux, little-endian): `b`/`B` 1 byte, `h`/`H` 2, `l`/`L` and
//! `T` 8, `i`/`I` 4 or `iN` N bytes (at most 32), `f` float, `d` double,
//! `x` a pad byte, `cN` N bytes (`c0`: the whole string; unpacking takes
//! its length from the previous result), `s` a zero-terminated string;
//! `>`/`<` big/little endian, `!N` the maximum alignment (`!` alone: 8),
//! spaces ignored. Integers go through a C `long` (an `i64`) and come
//! back as Lua numbers, as in the original. Errors are the C library's
//! texts (`bad argument #1 to 'pack' (invalid format option 'z')`).

use mlua::{Lua, MultiValue, Value, Variadic};

/// `MAXINTSIZE`: the largest integer size, in bytes.
const MAX_INT_SIZE: usize = 32;
/// `MAXALIGN` on x86-64 (a double's alignment).
const MAX_ALIGN: usize = 8;

/// The running endianness and alignment (`Header`).
struct Header {
    big: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            big: cfg!(target_endian = "big"),
            align: 1,
        }
    }
}

/// A format string being read.
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
    /// The function's name, for `bad argument` errors.
    func: &'static str,
}

fn bad_arg(n: usize, func: &str, msg: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{func}' ({msg})"))
}

impl Format<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = self.fmt.get(self.pos).copied()?;
        self.pos += 1;
        Some(c)
    }

    /// `getnum`: a decimal number at the cursor, or `default`.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: usize = 0;
        while let Some(&c) = self.fmt.get(self.pos).filter(|c| c.is_ascii_digit()) {
            let d = usize::from(c - b'0');
            if a > (i32::MAX as usize) / 10 || a * 10 > i32::MAX as usize - d {
                return Err(mlua::Error::runtime("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a)
    }

    /// `optsize`: the size of option `opt` (reading its number).
    fn size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(mlua::Error::runtime(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment, spaces; anything else is
    /// an invalid option.
    fn control(&mut self, opt: u8, h: &mut Header) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => h.big = true,
            b'<' => h.big = false,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(mlua::Error::runtime(format!(
                        "alignment {a} is not a power of 2"
                    )));
                }
                h.align = a;
            }
            _ => {
                return Err(bad_arg(
                    1,
                    self.func,
                    &format!("invalid format option '{}'", char::from(opt)),
                ));
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding before an item of `size` at `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::UserData(_) | Value::LightUserData(_) => "userdata",
        _ => "no value",
    }
}

/// `luaL_checknumber`: a number or a string that reads as one.
fn check_number(lua: &Lua, v: Option<&Value>, n: usize, func: &str) -> mlua::Result<f64> {
    let v = v.cloned().unwrap_or(Value::Nil);
    let name = type_name(&v);
    match lua.coerce_number(v)? {
        Some(x) => Ok(x),
        None => Err(bad_arg(n, func, &format!("number expected, got {name}"))),
    }
}

/// `luaL_checklstring`: a string, or a number as a string.
fn check_string(lua: &Lua, v: Option<&Value>, n: usize, func: &str) -> mlua::Result<Vec<u8>> {
    let v = v.cloned().unwrap_or(Value::Nil);
    let name = type_name(&v);
    match lua.coerce_string(v)? {
        Some(s) => Ok(s.as_bytes().to_vec()),
        None => Err(bad_arg(n, func, &format!("string expected, got {name}"))),
    }
}

/// `putinteger`: `size` bytes of the number as a C `long`.
fn put_integer(out: &mut Vec<u8>, n: f64, big: bool, size: usize) {
    let mut value: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut buf = [0u8; MAX_INT_SIZE];
    for i in 0..size {
        let at = if big { size - 1 - i } else { i };
        buf[at] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&buf[..size]);
}

/// `getinteger`: a C `long` from `size` bytes, as a Lua number.
fn get_integer(bytes: &[u8], big: bool, signed: bool) -> f64 {
    let size = bytes.len();
    if size == 0 {
        return 0.0;
    }
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if big { bytes[i] } else { bytes[size - 1 - i] };
        l = (l.checked_shl(8).unwrap_or(0)) | u64::from(b);
    }
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX.checked_shl((size * 8 - 1) as u32).unwrap_or(0);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn pack(lua: &Lua, args: &[Value]) -> mlua::Result<Vec<u8>> {
    const F: &str = "pack";
    let fmt = check_string(lua, args.first(), 1, F)?;
    let mut f = Format {
        fmt: &fmt,
        pos: 0,
        func: F,
    };
    let mut h = Header::default();
    let mut arg = 1;
    let mut out = Vec::new();
    while let Some(opt) = f.next() {
        let mut size = f.size(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, args.get(arg), arg + 1, F)?;
                arg += 1;
                put_integer(&mut out, n, h.big, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let x = check_number(lua, args.get(arg), arg + 1, F)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.big {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                });
            }
            b'd' => {
                let x = check_number(lua, args.get(arg), arg + 1, F)?;
                arg += 1;
                out.extend_from_slice(&if h.big {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_string(lua, args.get(arg), arg + 1, F)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // luaL_argcheck after `arg++`: the next argument's number.
                    return Err(bad_arg(arg + 1, F, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => f.control(opt, &mut h)?,
        }
    }
    Ok(out)
}

fn unpack(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    const F: &str = "unpack";
    let fmt = check_string(lua, args.first(), 1, F)?;
    let data = check_string(lua, args.get(1), 2, F)?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        v => check_number(lua, v, 3, F)?,
    };
    // luaL_optinteger truncates; the C code keeps it as a size_t.
    let start = start as i64;
    if start <= 0 {
        return Err(bad_arg(3, F, "offset must be 1 or greater"));
    }
    let mut pos = (start - 1) as usize;
    let ld = data.len();
    let mut f = Format {
        fmt: &fmt,
        pos: 0,
        func: F,
    };
    let mut h = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let too_short = || bad_arg(2, F, "data string too short");
    while let Some(opt) = f.next() {
        let mut size = f.size(opt)?;
        pos += to_align(pos, &h, opt, size);
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        if results.len() > 8000 {
            return Err(mlua::Error::runtime("stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                let n = get_integer(&data[pos..pos + size], h.big, signed);
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let x = if h.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                results.push(Value::Number(f64::from(x)));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let x = if h.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                results.push(Value::Number(x));
            }
            b'c' => {
                if size == 0 {
                    let prev = match results.last() {
                        Some(v) => lua.coerce_number(v.clone())?,
                        None => None,
                    };
                    let Some(n) = prev else {
                        return Err(mlua::Error::runtime("format 'c0' needs a previous size"));
                    };
                    results.pop();
                    size = if n <= 0.0 { 0 } else { n as usize };
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(mlua::Error::runtime("unfinished string in data"));
                };
                results.push(Value::String(lua.create_string(&data[pos..pos + len])?));
                size = len + 1;
            }
            _ => f.control(opt, &mut h)?,
        }
        pos += size;
    }
    results.push(Value::Integer((pos + 1) as i64));
    Ok(MultiValue::from_iter(results))
}

fn size(lua: &Lua, args: &[Value]) -> mlua::Result<i64> {
    const F: &str = "size";
    let fmt = check_string(lua, args.first(), 1, F)?;
    let mut f = Format {
        fmt: &fmt,
        pos: 0,
        func: F,
    };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = f.next() {
        let size = f.size(opt)?;
        pos += to_align(pos, &h, opt, size);
        if opt == b's' {
            return Err(bad_arg(1, F, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(bad_arg(1, F, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, &mut h)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}

/// Installs `struct` as a global.
///
/// # Errors
/// Only on allocation failure.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| lua.create_string(pack(lua, &args)?))?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| unpack(lua, &args))?,
    )?;
    t.set(
        "size",
        lua.create_function(|lua, args: Variadic<Value>| size(lua, &args))?,
    )?;
    lua.globals().set("struct", t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use mlua::Lua;

    /// Runs `code` with `struct` installed; its results joined by spaces
    /// (strings in hex), or the error's first line.
    fn eval(code: &str) -> String {
        let lua = Lua::new();
        super::install(&lua).unwrap();
        match lua.load(code).eval::<mlua::MultiValue>() {
            Ok(values) => values
                .iter()
                .map(|v| match v {
                    mlua::Value::String(s) => {
                        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
                    }
                    mlua::Value::Integer(n) => n.to_string(),
                    mlua::Value::Number(n) => n.to_string(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => e.to_string().lines().next().unwrap_or("").to_string(),
        }
    }

    #[test]
    fn packs_as_lua_struct() {
        assert_eq!(eval("return struct.pack('>I2', 258)"), "0102");
        assert_eq!(eval("return struct.pack('<I2', 258)"), "0201");
        assert_eq!(eval("return struct.pack('HH', 1, 2)"), "01000200");
        assert_eq!(eval("return struct.pack('b', -1)"), "ff");
        assert_eq!(eval("return struct.pack('>i', -2)"), "fffffffe");
        assert_eq!(eval("return struct.pack('>l', 1)"), "0000000000000001");
        // Alignment: `!` pads to the item's size, up to the maximum.
        assert_eq!(eval("return struct.pack('!bi', 1, 2)"), "0100000002000000");
        assert_eq!(eval("return struct.pack('!2bi', 1, 2)"), "010002000000");
        assert_eq!(eval("return struct.pack('bi', 1, 2)"), "0102000000");
        assert_eq!(eval("return struct.pack('>d', 1.5)"), "3ff8000000000000");
        assert_eq!(eval("return struct.pack('>f', 1.5)"), "3fc00000");
        assert_eq!(eval("return struct.pack('c3', 'abcdef')"), "616263");
        assert_eq!(eval("return struct.pack('c0', 'ab')"), "6162");
        assert_eq!(eval("return struct.pack('sx', 'ab')"), "61620000");
        // Numbers as strings and strings as numbers, as luaL_check*.
        assert_eq!(eval("return struct.pack('B s', '7', 12)"), "07313200");
    }

    #[test]
    fn unpacks_what_it_packs() {
        assert_eq!(eval("return struct.unpack('>I2', '\\1\\2')"), "258 3");
        assert_eq!(eval("return struct.unpack('b', '\\255')"), "-1 2");
        assert_eq!(eval("return struct.unpack('B', '\\255')"), "255 2");
        assert_eq!(
            eval("return struct.unpack('<i8', struct.pack('<i8', -5))"),
            "-5 9"
        );
        assert_eq!(
            eval("return struct.unpack('>d', struct.pack('>d', 0.1))"),
            "0.1 9"
        );
        assert_eq!(eval("return struct.unpack('s B', 'ab\\0\\9')"), "6162 9 5");
        assert_eq!(eval("return struct.unpack('B c0', '\\2abc')"), "6162 4");
        assert_eq!(eval("return struct.unpack('B', 'xyz', 2)"), "121 3");
        assert_eq!(
            eval("return struct.unpack('!bi', '\\1\\0\\0\\0\\2\\0\\0\\0')"),
            "1 2 9"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(eval("return struct.size('bhilTfd')"), "35");
        assert_eq!(eval("return struct.size('!bhilTfd')"), "40");
        assert_eq!(eval("return struct.size('c10 x i3')"), "14");
        assert_eq!(eval("return struct.unpack('i0 B', '\\7')"), "0 7 2");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            eval("return struct.pack('z', 1)"),
            "runtime error: bad argument #1 to 'pack' (invalid format option 'z')"
        );
        assert_eq!(
            eval("return struct.pack('i', nil)"),
            "runtime error: bad argument #2 to 'pack' (number expected, got nil)"
        );
        assert_eq!(
            eval("return struct.pack('c5', 'ab')"),
            "runtime error: bad argument #3 to 'pack' (string too short)"
        );
        assert_eq!(
            eval("return struct.pack('i33', 1)"),
            "runtime error: integral size 33 is larger than limit of 32"
        );
        assert_eq!(
            eval("return struct.pack('!3i', 1)"),
            "runtime error: alignment 3 is not a power of 2"
        );
        assert_eq!(
            eval("return struct.pack('i99999999999', 1)"),
            "runtime error: integral size overflow"
        );
        assert_eq!(
            eval("return struct.unpack('i', 'ab')"),
            "runtime error: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            eval("return struct.unpack('B', 'ab', 0)"),
            "runtime error: bad argument #3 to 'unpack' (offset must be 1 or greater)"
        );
        assert_eq!(
            eval("return struct.unpack('s', 'ab')"),
            "runtime error: unfinished string in data"
        );
        assert_eq!(
            eval("return struct.unpack('c0', 'ab')"),
            "runtime error: format 'c0' needs a previous size"
        );
        assert_eq!(
            eval("return struct.size('s')"),
            "runtime error: bad argument #1 to 'size' (option 's' has no fixed size)"
        );
        assert_eq!(
            eval("return struct.size('c0')"),
            "runtime error: bad argument #1 to 'size' (option 'c0' has no fixed size)"
        );
    }
}
