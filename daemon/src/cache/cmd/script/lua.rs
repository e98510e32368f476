//! The Lua 5.1 interpreter (mlua, vendored): the sandbox of
//! `prelude.lua`, running a script or function with `redis.call` bound to
//! the calling connection's database, and Redis's conversions between
//! replies and Lua values both ways.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};

use super::super::{self as cmd, Client, Ctx, Kind};
use super::RunState;
use crate::cache::reply::Reply;

/// Lua instructions between two looks at the kill flag.
const HOOK_EVERY: u32 = 10_000;

/// Nesting past which a returned table is cut (Redis: the Lua stack).
const MAX_DEPTH: usize = 100;

/// The interpreter and what runs in it.
pub struct Interp {
    pub lua: Lua,
    /// Filled per run: `f` (the dispatcher), `reg`, `resp`.
    slot: Table,
    /// The scripts' read-only globals.
    pub env: Table,
    /// `xpcall` with Redis's error handler.
    runner: Function,
}

/// How a run may use the keyspace.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// No write commands (EVAL_RO, FCALL_RO, `no-writes`).
    pub read_only: bool,
    /// FCALL (the kill error names FUNCTION KILL).
    pub function: bool,
    /// `allow-oom`: writes run over the memory limit.
    pub allow_oom: bool,
}

impl Interp {
    /// A fresh interpreter with the sandbox in place.
    ///
    /// # Errors
    /// Only if the prelude itself fails (a bug).
    pub fn new() -> mlua::Result<Interp> {
        // The debug library is loaded for the error handler's getinfo
        // only; the prelude keeps it from scripts.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let globals = lua.globals();
        let debug: Table = globals.get("debug")?;
        let getinfo: Function = debug.get("getinfo")?;
        globals.set("debug", Value::Nil)?;
        let slot = lua.create_table()?;
        let sha1hex =
            lua.create_function(|_, s: mlua::LuaString| Ok(super::sha1_hex(&s.as_bytes())))?;
        let log = lua.create_function(|_, (level, msg): (i64, mlua::LuaString)| {
            let msg = String::from_utf8_lossy(&msg.as_bytes()).into_owned();
            match level {
                3 => tracing::warn!(target: "cache::script", "{msg}"),
                2 => tracing::info!(target: "cache::script", "{msg}"),
                _ => tracing::debug!(target: "cache::script", "{msg}"),
            }
            Ok(())
        })?;
        let acl = lua.create_function(|_, name: mlua::LuaString| {
            Ok(cmd::lookup(&name.as_bytes()).is_some())
        })?;
        slot.set("acl", acl)?;
        super::libs::install(&lua)?;
        let (env, runner, protect): (Table, Function, Function) = lua
            .load(include_str!("prelude.lua"))
            .set_name("=prelude")
            .set_mode(ChunkMode::Text)
            .call((&slot, sha1hex, log, getinfo))?;
        for name in ["cjson", "cmsgpack", "bit", "struct"] {
            if let Value::Table(t) = globals.raw_get::<Value>(name)? {
                let view: Table = protect.call(t)?;
                globals.raw_set(name, view)?;
            }
        }
        Ok(Interp {
            lua,
            slot,
            env,
            runner,
        })
    }

    /// Compiles `body` as a chunk named `name` (`@user_script`) in the
    /// sandbox.
    ///
    /// # Errors
    /// Lua's message (`user_script:1: …`).
    pub fn compile(&self, body: &[u8], name: &str) -> Result<Function, String> {
        self.lua
            .load(body)
            .set_name(name)
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// Sets (or clears) the FUNCTION LOAD registrar.
    pub fn set_registrar(&self, reg: Option<Function>) -> mlua::Result<()> {
        self.slot.set("reg", reg)
    }

    /// Runs `f` (a script chunk, or a function's callback) with `keys`
    /// and `argv`, `redis.call` executing on `ctx`'s database; answers
    /// the script's reply or Redis's error.
    pub fn run(
        &self,
        ctx: &mut Ctx<'_>,
        state: &Arc<RunState>,
        f: &Function,
        name: &str,
        (keys, argv): (&[Bytes], &[Bytes]),
        mode: Mode,
    ) -> Reply {
        let lua = &self.lua;
        let result = (|| -> mlua::Result<Reply> {
            let keys_t = lua.create_sequence_from(
                keys.iter()
                    .map(|k| lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?;
            let argv_t = lua.create_sequence_from(
                argv.iter()
                    .map(|a| lua.create_string(a))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?;
            let globals = lua.globals();
            globals.raw_set("KEYS", keys_t.clone())?;
            globals.raw_set("ARGV", argv_t.clone())?;
            self.slot.set("resp", 2)?;
            install_hook(lua, state, mode.function)?;
            let mut client = Client {
                id: ctx.client.id,
                db: ctx.client.db,
                script: true,
                allow_oom: mode.allow_oom,
                ..Client::default()
            };
            let cache = ctx.cache;
            let now_ms = ctx.now_ms;
            let client = RefCell::new(&mut client);
            // Whether it ran a read: CLIENT TRACKING then remembers the
            // script's declared keys for its caller, as Redis does.
            let read = std::cell::Cell::new(false);
            let dispatch = |lua: &Lua, raise: bool, args: &[Value]| {
                if let Some(Value::String(name)) = args.first()
                    && cmd::lookup(&name.as_bytes()).is_some_and(|s| s.kind == Kind::Read)
                {
                    read.set(true);
                }
                let resp3 = self.slot.get::<i64>("resp").unwrap_or(2) == 3;
                let mut client = client.borrow_mut();
                let (reply, always, counted) =
                    call(cache, &mut client, now_ms, state, mode, resp3, args);
                let failed = reply.is_error();
                let value = to_lua(lua, reply, resp3)?;
                if failed
                    && counted
                    && let Value::Table(t) = &value
                {
                    // Redis's mark: the command's error is in the error
                    // stats already, the script's reply of it is not.
                    t.raw_set("ignore_error_stats_update", true)?;
                }
                Ok((value, failed && (raise || always)))
            };
            let dispatch = &dispatch;
            let out = lua.scope(|scope| {
                let by_args =
                    scope.create_function(move |lua, (raise, args): (bool, Variadic<Value>)| {
                        dispatch(lua, raise, &args)
                    })?;
                // Many arguments come in a table (see prelude.lua).
                let by_table =
                    scope.create_function(move |lua, (raise, t, n): (bool, Table, usize)| {
                        let args = (1..=n)
                            .map(|i| t.raw_get::<Value>(i))
                            .collect::<mlua::Result<Vec<_>>>()?;
                        dispatch(lua, raise, &args)
                    })?;
                self.slot.set("f", by_args)?;
                self.slot.set("ft", by_table)?;
                let (ok, value): (bool, Value) = self.runner.call((f.clone(), keys_t, argv_t))?;
                self.slot.set("f", Value::Nil)?;
                self.slot.set("ft", Value::Nil)?;
                let reply = if ok {
                    from_lua(&value, 0)
                } else {
                    error_reply(&value, name)
                };
                if reply.is_error()
                    && let Value::Table(t) = &value
                    && t.raw_get::<bool>("ignore_error_stats_update")
                        .unwrap_or(false)
                {
                    state.error_counted.store(true, Ordering::Relaxed);
                }
                Ok(reply)
            });
            lua.remove_hook();
            // A flush inside the script is the caller's, for replication.
            if client.borrow().flushed {
                ctx.client.flushed = true;
            }
            // A collection step per run, as Redis's luaGC: the garbage of
            // many short scripts does not pile up between cycles.
            let _ = lua.gc_step();
            if read.get()
                && let Some(mode) = ctx.client.tracking
                && mode.remembers(ctx.client.caching)
            {
                cache.tracking.remember(ctx.client.id, keys);
            }
            out
        })();
        let reply =
            result.unwrap_or_else(|e| Reply::error(format!("ERR {}", first_line(&e.to_string()))));
        if state.kill.load(Ordering::Relaxed) {
            return Reply::error(format!(
                "ERR Script killed by user with {}... script: {name}",
                if mode.function {
                    "FUNCTION KILL"
                } else {
                    "SCRIPT KILL"
                }
            ));
        }
        reply
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Looks at the kill flag every [`HOOK_EVERY`] instructions; once it is
/// set, at every instruction, so a `pcall` loop cannot swallow it.
fn install_hook(lua: &Lua, state: &Arc<RunState>, function: bool) -> mlua::Result<()> {
    let state = state.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, _| {
            if !state.kill.load(Ordering::Relaxed) {
                return Ok(VmState::Continue);
            }
            let _ = lua.set_hook(HookTriggers::new().every_nth_instruction(1), move |_, _| {
                Err(mlua::Error::runtime(killed(function)))
            });
            Err(mlua::Error::runtime(killed(function)))
        },
    )
}

fn killed(function: bool) -> String {
    format!(
        "Script killed by user with {}...",
        if function {
            "FUNCTION KILL"
        } else {
            "SCRIPT KILL"
        }
    )
}

/// `redis.call`/`redis.pcall`: the command's reply, and whether the
/// error must be raised even by `pcall` (a kill, a bad call).
fn call(
    cache: &crate::cache::Cache,
    client: &mut Client,
    now_ms: u64,
    state: &RunState,
    mode: Mode,
    resp3: bool,
    args: &[Value],
) -> (Reply, bool, bool) {
    if state.kill.load(Ordering::Relaxed) {
        return (
            Reply::error(format!("ERR {}", killed(mode.function))),
            true,
            false,
        );
    }
    if args.is_empty() {
        return (
            Reply::err("ERR Please specify at least one argument for this redis lib call"),
            false,
            false,
        );
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => argv.push(Bytes::from(n.to_string())),
            Value::Number(n) => argv.push(Bytes::from(cmd::format_f64(*n))),
            _ => {
                return (
                    Reply::err("ERR Lua redis lib command arguments must be strings or integers"),
                    false,
                    false,
                );
            }
        }
    }
    // Refusals of the call itself count as the command's rejected call
    // and an error reply, as Redis's scriptCall counts them; the script's
    // reply of one is then not counted again.
    let reject = |spec: Option<&cmd::Spec>, text: String| {
        cache.cmdstats.rejected(spec, &text);
        (Reply::error(text), false, true)
    };
    let Some(spec) = cmd::lookup(&argv[0]) else {
        // CLUSTER is a Redis command scripts may not call, whether or not
        // this build answers it.
        if cmd::is(&argv[0], "cluster") {
            return reject(
                None,
                "ERR This Redis command is not allowed from script".into(),
            );
        }
        return reject(None, "ERR Unknown Redis command called from script".into());
    };
    if !cmd::arity_ok(spec.arity, argv.len()) {
        return reject(
            Some(spec),
            "ERR Wrong number of args calling Redis command from script".into(),
        );
    }
    let forbidden = matches!(spec.kind, Kind::Conn | Kind::Script)
        && !matches!(spec.name, "publish" | "spublish")
        || cmd::bpop::is_blocking(spec.name)
        || matches!(
            spec.name,
            "client" | "save" | "bgsave" | "monitor" | "shutdown" | "cluster"
        );
    if forbidden {
        return reject(
            Some(spec),
            "ERR This Redis command is not allowed from script".into(),
        );
    }
    if matches!(spec.name, "xread" | "xreadgroup") && cmd::streams::read_blocks(&argv) {
        return reject(
            Some(spec),
            format!(
                "ERR {} command is not allowed with BLOCK option from scripts",
                spec.name
            ),
        );
    }
    let writes = matches!(spec.kind, Kind::Write | Kind::DenyOom);
    if writes && mode.read_only {
        return reject(
            Some(spec),
            "ERR Write commands are not allowed from read-only scripts.".into(),
        );
    }
    client.resp3 = resp3;
    let reply = if spec.name == "publish" {
        Reply::Integer(cache.pubsub.publish(&argv[1], &argv[2]) as i64)
    } else if spec.name == "spublish" {
        Reply::Integer(cache.pubsub.spublish(&argv[1], &argv[2]) as i64)
    } else {
        let mut ctx = Ctx {
            cache,
            client,
            now_ms,
            access: crate::cache::Access::Counted,
        };
        let mut out = None;
        if cmd::execute_gated(&mut ctx, Some(spec), &argv, &mut out, false) {
            cache.stats.commands.fetch_add(1, Ordering::Relaxed);
        }
        out.unwrap_or(Reply::Nil)
    };
    if writes && !reply.is_error() {
        state.wrote.store(true, Ordering::Relaxed);
    }
    (reply, false, true)
}

/// A reply as Lua sees it (Redis's `redisProtocolToLuaType`).
fn to_lua(lua: &Lua, reply: Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(s.as_bytes())?)?;
            Value::Table(t)
        }
        Reply::Error(s) => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(s.as_bytes())?)?;
            Value::Table(t)
        }
        Reply::Integer(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Double(d) => {
            if resp3 {
                let t = lua.create_table()?;
                t.raw_set("double", d)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(cmd::format_g17(d))?)
            }
        }
        Reply::Array(items) | Reply::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            if resp3 {
                let map = lua.create_table()?;
                for (k, v) in pairs {
                    map.raw_set(to_lua(lua, k, resp3)?, to_lua(lua, v, resp3)?)?;
                }
                let t = lua.create_table()?;
                t.raw_set("map", map)?;
                Value::Table(t)
            } else {
                let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
                for (i, (k, v)) in pairs.into_iter().enumerate() {
                    t.raw_set(2 * i + 1, to_lua(lua, k, resp3)?)?;
                    t.raw_set(2 * i + 2, to_lua(lua, v, resp3)?)?;
                }
                Value::Table(t)
            }
        }
    })
}

/// A Lua value as a reply (Redis's `luaReplyToRedisReply`): numbers are
/// truncated to integers, `true` is 1, `false` and nil are nil, a table
/// is an error (`err`), a status (`ok`), a double, a map, or an array cut
/// at its first nil. Tables are read raw: no metamethod runs.
pub fn from_lua(value: &Value, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::err("ERR reached lua stack limit");
    }
    match value {
        Value::Boolean(true) => Reply::Integer(1),
        Value::Integer(n) => Reply::Integer(*n),
        Value::Number(n) => Reply::Integer(*n as i64),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                let text = String::from_utf8_lossy(&e.as_bytes()).into_owned();
                let text = text.strip_prefix('-').map(str::to_string).unwrap_or(text);
                return Reply::error(if text.is_empty() { "ERR".into() } else { text });
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                return Reply::Simple(String::from_utf8_lossy(&s.as_bytes()).into_owned().into());
            }
            if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
                return Reply::Double(d);
            }
            if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
                return Reply::Double(d as f64);
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
                let mut pairs = Vec::new();
                for (k, v) in m.pairs::<Value, Value>().flatten() {
                    pairs.push((from_lua(&k, depth + 1), from_lua(&v, depth + 1)));
                }
                return Reply::Map(pairs);
            }
            if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
                let mut items = Vec::new();
                for (k, _) in s.pairs::<Value, Value>().flatten() {
                    items.push(from_lua(&k, depth + 1));
                }
                return Reply::Array(items);
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(from_lua(&v, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// The error a failed run answers: the error table's text, then where
/// (Redis 7: `… script: NAME, on @user_script:LINE.`).
fn error_reply(value: &Value, name: &str) -> Reply {
    let Value::Table(t) = value else {
        return Reply::err("ERR unknown error");
    };
    let text = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => "ERR unknown error".to_string(),
    };
    let text = text.strip_prefix('-').map(str::to_string).unwrap_or(text);
    let text = if text.is_empty() {
        "ERR".to_string()
    } else {
        text
    };
    let text = cmd::lossy(text.as_bytes(), usize::MAX);
    match (t.raw_get::<Value>("source"), t.raw_get::<Value>("line")) {
        (Ok(Value::String(source)), Ok(line)) => {
            let line = match line {
                Value::Integer(n) => n.to_string(),
                Value::Number(n) => (n as i64).to_string(),
                _ => "?".into(),
            };
            Reply::error(format!(
                "{text} script: {name}, on {}:{line}.",
                String::from_utf8_lossy(&source.as_bytes())
            ))
        }
        _ => Reply::error(format!("{text} script: {name}")),
    }
}
