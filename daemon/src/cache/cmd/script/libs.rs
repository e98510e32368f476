//! The libraries Redis loads beside Lua's own: `bit` (LuaBitOp's API,
//! 32-bit operations on Lua numbers), `cjson` ([`super::cjson`]),
//! `cmsgpack` ([`super::cmsgpack`]) and `struct` ([`super::luastruct`]).

use mlua::{Lua, Variadic};

/// LuaBitOp's normalisation: round to the nearest integer, keep the low
/// 32 bits, signed.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    (x.round_ties_even().rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

fn fold(args: &Variadic<f64>, init: i32, op: fn(i32, i32) -> i32) -> i32 {
    args.iter().fold(init, |acc, &x| op(acc, tobit(x)))
}

/// Installs the libraries as globals (the prelude makes them read-only).
///
/// # Errors
/// Only on allocation failure.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let bit = lua.create_table()?;
    bit.set("tobit", lua.create_function(|_, x: f64| Ok(tobit(x)))?)?;
    bit.set("bnot", lua.create_function(|_, x: f64| Ok(!tobit(x)))?)?;
    bit.set(
        "band",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(&a, -1, |x, y| x & y)))?,
    )?;
    bit.set(
        "bor",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(&a, 0, |x, y| x | y)))?,
    )?;
    bit.set(
        "bxor",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(&a, 0, |x, y| x ^ y)))?,
    )?;
    let shift = |f: fn(i32, u32) -> i32| {
        move |_: &Lua, (x, n): (f64, f64)| Ok(f(tobit(x), (tobit(n) & 31) as u32))
    };
    bit.set(
        "lshift",
        lua.create_function(shift(|x, n| ((x as u32) << n) as i32))?,
    )?;
    bit.set(
        "rshift",
        lua.create_function(shift(|x, n| ((x as u32) >> n) as i32))?,
    )?;
    bit.set("arshift", lua.create_function(shift(|x, n| x >> n))?)?;
    bit.set(
        "rol",
        lua.create_function(shift(|x, n| (x as u32).rotate_left(n) as i32))?,
    )?;
    bit.set(
        "ror",
        lua.create_function(shift(|x, n| (x as u32).rotate_right(n) as i32))?,
    )?;
    bit.set(
        "bswap",
        lua.create_function(|_, x: f64| Ok((tobit(x) as u32).swap_bytes() as i32))?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let x = tobit(x) as u32;
            let n = n.map_or(8, tobit);
            let (upper, width) = if n < 0 {
                (true, (-n).min(8))
            } else {
                (false, n.min(8))
            };
            let width = width.max(1) as usize;
            let text = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(text[8 - width..].to_string())
        })?,
    )?;
    lua.globals().set("bit", bit)?;
    super::cjson::install(lua)?;
    super::cmsgpack::install(lua)?;
    super::luastruct::install(lua)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_to_signed_32_bits() {
        assert_eq!(tobit(1.0), 1);
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(tobit(f64::NAN), 0);
    }
}
