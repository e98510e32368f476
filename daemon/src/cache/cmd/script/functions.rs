//! FUNCTION LOAD/DELETE/FLUSH/LIST/KILL/STATS and FCALL/FCALL_RO: Lua
//! libraries (`#!lua name=lib`) whose code registers functions with
//! `redis.register_function`, run like EVAL scripts.

use std::cell::RefCell;
use std::collections::BTreeMap;

use bytes::Bytes;
use mlua::{Function, Value};

use super::super::{Ctx, is, lossy};
use super::{Flags, State, check_oom, keys_and_args, lua, run_published};
use crate::cache::glob;
use crate::cache::reply::Reply;

/// One registered function.
struct Func {
    callback: Function,
    flags: Flags,
    description: Option<String>,
}

/// A loaded library.
struct Library {
    code: Bytes,
    functions: BTreeMap<String, Func>,
}

/// Every library, by name.
#[derive(Default)]
pub struct Libraries {
    libs: BTreeMap<String, Library>,
}

impl Libraries {
    fn find(&self, name: &str) -> Option<&Func> {
        self.libs.values().find_map(|l| l.functions.get(name))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `#!lua name=lib`: the library's name, or Redis's error.
fn metadata(code: &[u8]) -> Result<String, Reply> {
    if !code.starts_with(b"#!") {
        return Err(Reply::err("ERR Missing library metadata"));
    }
    let end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Reply::error(format!("ERR Engine '{engine}' not found")));
    }
    let mut name = None;
    for part in parts {
        match part.split_once('=') {
            Some(("name", value)) => name = Some(value.to_string()),
            _ => {
                return Err(Reply::error(format!(
                    "ERR Invalid metadata value given: {part}"
                )));
            }
        }
    }
    let Some(name) = name else {
        return Err(Reply::err("ERR Library name was not given"));
    };
    if !valid_name(&name) {
        return Err(Reply::err(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ));
    }
    Ok(name)
}

fn parse_flags(value: Value) -> Result<Flags, String> {
    let mut flags = Flags::default();
    let Value::Table(t) = value else {
        return Err(
            "flags argument to redis.register_function must be a table representing function flags"
                .into(),
        );
    };
    for v in t.sequence_values::<Value>() {
        let Ok(Value::String(s)) = v else {
            return Err("unknown flag given".into());
        };
        match &*s.as_bytes() {
            b"no-writes" => flags.no_writes = true,
            b"allow-oom" => flags.allow_oom = true,
            b"allow-stale" | b"no-cluster" | b"allow-cross-slot-keys" => {}
            _ => return Err("unknown flag given".into()),
        }
    }
    Ok(flags)
}

/// One `redis.register_function` call: `(name, callback)` or a table
/// `{function_name=, callback=, flags=, description=}`.
fn register(args: mlua::Variadic<Value>) -> Result<(String, Func), String> {
    let (name, callback, flags, description) = match args.as_slice() {
        [Value::String(name), Value::Function(f)] => (
            name.to_string_lossy().to_string(),
            f.clone(),
            Flags::default(),
            None,
        ),
        [Value::Table(t)] => {
            let mut name = None;
            let mut callback = None;
            let mut flags = Flags::default();
            let mut description = None;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                let key =
                    match &k {
                        Value::String(s) => s.to_string_lossy().to_string(),
                        _ => return Err(
                            "named argument key given to redis.register_function is not a string"
                                .into(),
                        ),
                    };
                match (key.as_str(), v) {
                    ("function_name", Value::String(s)) => {
                        name = Some(s.to_string_lossy().to_string())
                    }
                    ("callback", Value::Function(f)) => callback = Some(f),
                    ("flags", v) => flags = parse_flags(v)?,
                    ("description", Value::String(s)) => {
                        description = Some(s.to_string_lossy().to_string())
                    }
                    ("function_name" | "callback" | "description", _) => {
                        return Err(format!(
                            "{key} argument given to redis.register_function has the wrong type"
                        ));
                    }
                    _ => return Err("unknown argument given to redis.register_function".into()),
                }
            }
            let Some(name) = name else {
                return Err("redis.register_function must get a function name argument".into());
            };
            let Some(callback) = callback else {
                return Err("redis.register_function must get a callback argument".into());
            };
            (name, callback, flags, description)
        }
        _ => return Err("wrong number of arguments to redis.register_function".into()),
    };
    if !valid_name(&name) {
        return Err("Function names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    Ok((
        name,
        Func {
            callback,
            flags,
            description,
        },
    ))
}

/// Runs a library's code, collecting what it registers.
fn load_library(state: &State, code: &[u8]) -> Result<BTreeMap<String, Func>, Reply> {
    let end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let body = &code[end..];
    let interp = &state.interp;
    let chunk = interp.compile(body, "@user_function").map_err(|e| {
        Reply::error(format!(
            "ERR Error compiling function: {}",
            lossy(e.as_bytes(), usize::MAX)
        ))
    })?;
    let found: RefCell<BTreeMap<String, Func>> = RefCell::new(BTreeMap::new());
    let failure: RefCell<Option<String>> = RefCell::new(None);
    let result = interp.lua.scope(|scope| {
        let reg = scope.create_function(|_, args: mlua::Variadic<Value>| match register(args) {
            Ok((name, func)) => {
                let mut found = found.borrow_mut();
                if found.contains_key(&name) {
                    return Err(mlua::Error::runtime(
                        "Function already exists in the library",
                    ));
                }
                found.insert(name, func);
                Ok(())
            }
            Err(e) => {
                *failure.borrow_mut() = Some(e.clone());
                Err(mlua::Error::runtime(e))
            }
        })?;
        interp.set_registrar(Some(reg))?;
        let out = chunk.call::<()>(());
        interp.set_registrar(None)?;
        out
    });
    if let Err(e) = result {
        let text = failure
            .borrow_mut()
            .take()
            .unwrap_or_else(|| e.to_string().lines().next().unwrap_or("").to_string());
        return Err(Reply::error(format!(
            "ERR Error registering functions: {text}"
        )));
    }
    let found = found.into_inner();
    if found.is_empty() {
        return Err(Reply::err("ERR No functions registered"));
    }
    Ok(found)
}

/// FUNCTION LOAD [REPLACE] code.
fn function_load(state: &mut State, args: &[Bytes]) -> Reply {
    let (replace, code) = match args.len() {
        3 => (false, &args[2]),
        4 if is(&args[2], "replace") => (true, &args[3]),
        4 => {
            return Reply::error(format!(
                "ERR Unknown option given: {}",
                lossy(&args[2], 128)
            ));
        }
        _ => return super::super::wrong_arity("function|load"),
    };
    let name = match metadata(code) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if state.libs.libs.contains_key(&name) && !replace {
        return Reply::error(format!("ERR Library '{name}' already exists"));
    }
    let functions = match load_library(state, code) {
        Ok(f) => f,
        Err(e) => return e,
    };
    for fname in functions.keys() {
        let clash = state
            .libs
            .libs
            .iter()
            .any(|(lib, l)| *lib != name && l.functions.contains_key(fname));
        if clash {
            return Reply::error(format!("ERR Function {fname} already exists"));
        }
    }
    state.libs.libs.insert(
        name.clone(),
        Library {
            code: code.clone(),
            functions,
        },
    );
    Reply::Bulk(Bytes::from(name))
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
fn function_list(state: &State, args: &[Bytes]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "withcode") && !with_code {
            with_code = true;
            i += 1;
        } else if is(&args[i], "libraryname") && pattern.is_none() {
            let Some(p) = args.get(i + 1) else {
                return Reply::err("ERR library name argument was not given");
            };
            pattern = Some(p);
            i += 2;
        } else {
            return Reply::error(format!("ERR Unknown argument {}", lossy(&args[i], 128)));
        }
    }
    let mut out = Vec::new();
    for (name, lib) in &state.libs.libs {
        if pattern.is_some_and(|p| !glob::matches(p, name.as_bytes())) {
            continue;
        }
        let functions = lib
            .functions
            .iter()
            .map(|(fname, f)| {
                let mut flags = Vec::new();
                if f.flags.no_writes {
                    flags.push(Reply::Simple("no-writes".into()));
                }
                if f.flags.allow_oom {
                    flags.push(Reply::Simple("allow-oom".into()));
                }
                Reply::Map(vec![
                    (Reply::text("name"), Reply::Bulk(Bytes::from(fname.clone()))),
                    (
                        Reply::text("description"),
                        f.description
                            .clone()
                            .map_or(Reply::Nil, |d| Reply::Bulk(Bytes::from(d))),
                    ),
                    (Reply::text("flags"), Reply::Array(flags)),
                ])
            })
            .collect();
        let mut map = vec![
            (
                Reply::text("library_name"),
                Reply::Bulk(Bytes::from(name.clone())),
            ),
            (Reply::text("engine"), Reply::text("LUA")),
            (Reply::text("functions"), Reply::Array(functions)),
        ];
        if with_code {
            map.push((Reply::text("library_code"), Reply::Bulk(lib.code.clone())));
        }
        out.push(Reply::Map(map));
    }
    Reply::Array(out)
}

/// FUNCTION and its subcommands.
pub(in crate::cache::cmd) fn function(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    let engine = &ctx.cache.scripting;
    if is(sub, "kill") {
        if args.len() != 2 {
            return super::super::wrong_arity("function|kill");
        }
        return engine.kill(true);
    }
    let mut guard = match engine.lock() {
        Ok(g) => g,
        Err(e) => return e,
    };
    let Some(state) = guard.as_mut() else {
        return Reply::err("ERR scripting unavailable");
    };
    if is(sub, "load") {
        function_load(state, args)
    } else if is(sub, "delete") {
        if args.len() != 3 {
            return super::super::wrong_arity("function|delete");
        }
        let name = String::from_utf8_lossy(&args[2]).into_owned();
        if state.libs.libs.remove(&name).is_some() {
            Reply::ok()
        } else {
            Reply::err("ERR Library not found")
        }
    } else if is(sub, "flush") {
        match args.get(2) {
            None => {}
            Some(m) if args.len() == 3 && (is(m, "async") || is(m, "sync")) => {}
            Some(_) => return Reply::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        }
        state.libs.libs.clear();
        Reply::ok()
    } else if is(sub, "list") {
        function_list(state, args)
    } else if is(sub, "stats") {
        if args.len() != 2 {
            return super::super::wrong_arity("function|stats");
        }
        let functions: usize = state.libs.libs.values().map(|l| l.functions.len()).sum();
        Reply::Map(vec![
            (Reply::text("running_script"), Reply::Nil),
            (
                Reply::text("engines"),
                Reply::Map(vec![(
                    Reply::text("LUA"),
                    Reply::Map(vec![
                        (
                            Reply::text("libraries_count"),
                            Reply::Integer(state.libs.libs.len() as i64),
                        ),
                        (
                            Reply::text("functions_count"),
                            Reply::Integer(functions as i64),
                        ),
                    ]),
                )]),
            ),
        ])
    } else {
        Reply::error(format!(
            "ERR unknown subcommand '{}'. Try FUNCTION HELP.",
            lossy(sub, 128)
        ))
    }
}

/// FCALL / FCALL_RO name numkeys key… arg….
pub(in crate::cache::cmd) fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let read_only = is(&args[0], "fcall_ro");
    let (keys, argv) = match keys_and_args(args) {
        Ok(ka) => ka,
        Err(e) => return e,
    };
    let engine = &ctx.cache.scripting;
    let guard = match engine.lock() {
        Ok(g) => g,
        Err(e) => return e,
    };
    let Some(state) = guard.as_ref() else {
        return Reply::err("ERR scripting unavailable");
    };
    let name = String::from_utf8_lossy(&args[1]).into_owned();
    let Some(func) = state.libs.find(&name) else {
        return Reply::err("ERR Function not found");
    };
    if read_only && !func.flags.no_writes {
        return Reply::err("ERR Can not execute a script with write flag using *_ro command.");
    }
    if let Err(e) = check_oom(ctx, Some(func.flags)) {
        return e;
    }
    let mode = lua::Mode {
        read_only: read_only || func.flags.no_writes,
        function: true,
        allow_oom: func.flags.allow_oom,
    };
    let callback = func.callback.clone();
    run_published(ctx, &state.interp, &callback, &name, keys, argv, mode)
}
