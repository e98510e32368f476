//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, and (in
//! [`functions`]) FUNCTION and FCALL/FCALL_RO, with Redis 7.0's
//! semantics over a Lua 5.1 interpreter ([`lua`]: mlua, vendored).
//!
//! A script runs atomically: the RESP connection runs these commands
//! (they are [`super::Kind::Script`]) holding the exclusive side of the
//! transaction gate, on a blocking thread, as EXEC runs its queue; inside
//! EXEC they run inline. While one runs, other connections wait for it
//! (asynchronously); once it has run past `busy-reply-threshold` they get
//! `BUSY …` except for SCRIPT KILL / FUNCTION KILL ([`RunState`]), which
//! stops a script that has not written (`UNKILLABLE` otherwise).
//! `redis.call` goes through the same registry as every command.

mod cjson;
mod cmsgpack;
mod functions;
mod libs;
mod lua;
mod luastruct;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use mlua::Function;

pub(super) use functions::{fcall, function};

use super::{Ctx, int_arg, is, lossy};
use crate::cache::reply::{Reply, errors};

/// What other connections see of the running script.
#[derive(Default)]
pub struct RunState {
    /// When it started (ms since the epoch); 0 when none runs.
    started_ms: AtomicU64,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    kill: AtomicBool,
    /// It ran a write command: it cannot be killed.
    wrote: AtomicBool,
    /// It is a function (FCALL), not an EVAL script.
    function: AtomicBool,
    /// Its error reply is a command's error the error stats counted
    /// already (Redis's `ignore_error_stats_update`).
    error_counted: AtomicBool,
}

/// A compiled EVAL script.
struct Script {
    f: Function,
    /// Declared flags (shebang); `None` without a shebang.
    flags: Option<Flags>,
}

/// A script's or function's flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    no_writes: bool,
    allow_oom: bool,
}

/// The interpreter with its script cache and function libraries.
struct State {
    interp: lua::Interp,
    scripts: HashMap<String, Script>,
    libs: functions::Libraries,
}

/// The scripting engine of a cache.
#[derive(Default)]
pub struct Engine {
    state: Mutex<Option<State>>,
    run: Arc<RunState>,
}

/// Clears an [`Engine::announce`] when dropped.
pub struct Settle<'a>(&'a Engine);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        self.0.run.started_ms.store(0, Ordering::Release);
    }
}

/// Whether a script is running, for the connections that must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// No script runs.
    Idle,
    /// One runs, within the threshold: wait.
    Running,
    /// One has run past the threshold: answer this error.
    TimedOut(&'static str),
}

impl Engine {
    fn lock(&self) -> Result<MutexGuard<'_, Option<State>>, Reply> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let interp = lua::Interp::new()
                .map_err(|e| Reply::error(format!("ERR Lua interpreter failed to start: {e}")))?;
            *guard = Some(State {
                interp,
                scripts: HashMap::new(),
                libs: functions::Libraries::default(),
            });
        }
        Ok(guard)
    }

    /// When the running script started (ms since the epoch), if one runs
    /// (one atomic load: every command looks).
    pub fn running_since(&self) -> Option<u64> {
        let started = self.run.started_ms.load(Ordering::Acquire);
        (started != 0).then_some(started)
    }

    /// Whether a script runs now and for how long (`threshold_ms`:
    /// `busy-reply-threshold`).
    pub fn busy(&self, now_ms: u64, threshold_ms: u64) -> Busy {
        let started = self.run.started_ms.load(Ordering::Acquire);
        if started == 0 {
            Busy::Idle
        } else if now_ms.saturating_sub(started) < threshold_ms {
            Busy::Running
        } else if self.run.function.load(Ordering::Relaxed) {
            Busy::TimedOut(
                "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
            )
        } else {
            Busy::TimedOut(
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            )
        }
    }

    /// Marks a script command as about to run, before it takes the gate:
    /// other connections then wait for it without blocking their event
    /// loop on the gate (which would also hold up SCRIPT KILL).
    pub fn announce(&self) {
        let _ = self.run.started_ms.compare_exchange(
            0,
            crate::now_ms().max(1),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Clears [`Engine::announce`] when the returned guard drops (the
    /// command is done, or panicked).
    pub fn settle_on_drop(&self) -> Settle<'_> {
        Settle(self)
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL.
    pub fn kill(&self, function: bool) -> Reply {
        let run = &self.run;
        if run.started_ms.load(Ordering::Acquire) == 0
            || run.function.load(Ordering::Relaxed) != function
        {
            return Reply::err("NOTBUSY No scripts in execution right now.");
        }
        if run.wrote.load(Ordering::Relaxed) {
            return Reply::err(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        run.kill.store(true, Ordering::Relaxed);
        Reply::ok()
    }

    /// Whether the last script's error reply was counted in the error
    /// stats already (then its command counts as failed, and the error
    /// table does not count it again); clears the mark.
    pub fn take_error_counted(&self) -> bool {
        self.run.error_counted.swap(false, Ordering::Relaxed)
    }

    /// How many EVAL scripts are cached (INFO `number_of_cached_scripts`).
    pub fn cached_scripts(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |s| s.scripts.len())
    }

    /// Memory the interpreter uses (INFO `used_memory_lua`).
    pub fn memory(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |s| s.interp.lua.used_memory())
    }
}

/// Whether `name` (a registry name) is SCRIPT KILL / FUNCTION KILL, which
/// run while a script holds the gate.
pub fn is_kill(args: &[Bytes]) -> bool {
    args.len() == 2 && (is(&args[0], "script") || is(&args[0], "function")) && is(&args[1], "kill")
}

/// Lower-case hex SHA-1.
pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    let digest = sha1::Sha1::digest(bytes);
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Parses a shebang line's flags (`#!lua flags=no-writes,allow-oom`);
/// `Ok(None)` without a shebang. The shebang line is blanked out of the
/// body (kept as an empty line, so line numbers hold).
fn shebang(body: &[u8]) -> Result<(Option<Flags>, Vec<u8>), Reply> {
    if !body.starts_with(b"#!") {
        return Ok((None, body.to_vec()));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(Reply::error(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = Flags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(Reply::error(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(Reply::error(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )));
                }
            }
        }
    }
    let mut code = body[end..].to_vec();
    code.insert(0, b' ');
    Ok((Some(flags), code))
}

/// `numkeys key… arg…` after the script or function name: the keys and
/// the arguments.
fn keys_and_args(args: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let n = int_arg(&args[2])?;
    if n < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    let n = n as usize;
    if n > args.len() - 3 {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok((&args[3..3 + n], &args[3 + n..]))
}

/// Refuses a script that may write while over the memory limit (only
/// for scripts that declared flags, as Redis 7).
fn check_oom(ctx: &Ctx<'_>, flags: Option<Flags>) -> Result<(), Reply> {
    if let Some(flags) = flags
        && !flags.no_writes
        && !flags.allow_oom
        && ctx.cache.store.make_room(ctx.now_ms).is_err()
    {
        return Err(Reply::err(errors::OOM));
    }
    Ok(())
}

/// Runs `f` with the run state published, so other connections see it.
fn run_published(
    ctx: &mut Ctx<'_>,
    interp: &lua::Interp,
    f: &Function,
    name: &str,
    keys: &[Bytes],
    argv: &[Bytes],
    mode: lua::Mode,
) -> Reply {
    let run = ctx.cache.scripting.run.clone();
    run.kill.store(false, Ordering::Relaxed);
    run.wrote.store(false, Ordering::Relaxed);
    run.error_counted.store(false, Ordering::Relaxed);
    run.function.store(mode.function, Ordering::Relaxed);
    run.started_ms
        .store(crate::now_ms().max(1), Ordering::Release);
    let reply = interp.run(ctx, &run, f, name, (keys, argv), mode);
    run.started_ms.store(0, Ordering::Release);
    run.kill.store(false, Ordering::Relaxed);
    reply
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO.
pub(super) fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let by_sha = is(&args[0], "evalsha") || is(&args[0], "evalsha_ro");
    let read_only = is(&args[0], "eval_ro") || is(&args[0], "evalsha_ro");
    let (keys, argv) = match keys_and_args(args) {
        Ok(ka) => ka,
        Err(e) => return e,
    };
    let engine = &ctx.cache.scripting;
    let mut guard = match engine.lock() {
        Ok(g) => g,
        Err(e) => return e,
    };
    let Some(state) = guard.as_mut() else {
        return Reply::err("ERR scripting unavailable");
    };
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        if sha.len() != 40 || !state.scripts.contains_key(&sha) {
            return Reply::err("NOSCRIPT No matching script. Please use EVAL.");
        }
        sha
    } else {
        match load(state, &args[1]) {
            Ok(sha) => sha,
            Err(e) => return e,
        }
    };
    let script = &state.scripts[&sha];
    if let Err(e) = check_oom(ctx, script.flags) {
        return e;
    }
    let read_only = read_only || script.flags.is_some_and(|f| f.no_writes);
    let f = script.f.clone();
    let mode = lua::Mode {
        read_only,
        function: false,
        allow_oom: script.flags.is_some_and(|f| f.allow_oom),
    };
    run_published(
        ctx,
        &state.interp,
        &f,
        &format!("f_{sha}"),
        keys,
        argv,
        mode,
    )
}

/// Compiles and caches a script; its SHA-1.
fn load(state: &mut State, body: &[u8]) -> Result<String, Reply> {
    let sha = sha1_hex(body);
    if state.scripts.contains_key(&sha) {
        return Ok(sha);
    }
    let (flags, code) = shebang(body)?;
    let f = state.interp.compile(&code, "@user_script").map_err(|e| {
        Reply::error(format!(
            "ERR Error compiling script (new function): {}",
            lossy(e.as_bytes(), usize::MAX)
        ))
    })?;
    state.scripts.insert(sha.clone(), Script { f, flags });
    Ok(sha)
}

/// SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP.
pub(super) fn script(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    let engine = &ctx.cache.scripting;
    if is(sub, "kill") {
        if args.len() != 2 {
            return super::wrong_arity("script|kill");
        }
        return engine.kill(false);
    }
    let mut guard = match engine.lock() {
        Ok(g) => g,
        Err(e) => return e,
    };
    let Some(state) = guard.as_mut() else {
        return Reply::err("ERR scripting unavailable");
    };
    if is(sub, "load") {
        if args.len() != 3 {
            return super::wrong_arity("script|load");
        }
        match load(state, &args[2]) {
            Ok(sha) => Reply::Bulk(Bytes::from(sha)),
            Err(e) => e,
        }
    } else if is(sub, "exists") {
        if args.len() < 3 {
            return super::wrong_arity("script|exists");
        }
        Reply::Array(
            args[2..]
                .iter()
                .map(|sha| {
                    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                    Reply::Integer(i64::from(state.scripts.contains_key(&sha)))
                })
                .collect(),
        )
    } else if is(sub, "flush") {
        match args.get(2) {
            None => {}
            Some(m) if args.len() == 3 && (is(m, "async") || is(m, "sync")) => {}
            Some(_) => return Reply::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
        }
        state.scripts.clear();
        // Redis starts a fresh interpreter; functions share this one, so
        // the scripts' memory is collected instead.
        let _ = state.interp.lua.gc_collect();
        let _ = state.interp.lua.gc_collect();
        Reply::ok()
    } else if is(sub, "help") {
        Reply::Array(
            [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "FLUSH [ASYNC|SYNC]",
                "KILL",
                "LOAD <script>",
                "HELP",
            ]
            .iter()
            .map(|l| Reply::Simple((*l).into()))
            .collect(),
        )
    } else {
        Reply::error(format!(
            "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
            lossy(sub, 128)
        ))
    }
}

#[cfg(test)]
mod tests;
