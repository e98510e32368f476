//! Connection and server commands: PING, ECHO, SELECT, INFO, CONFIG, HELLO,
//! CLIENT, COMMAND, TIME — including what redis-cli and redis-benchmark
//! send when they connect.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{COMMANDS, Ctx, Kind, is, lossy, parse_i64};
use crate::cache::reply::Reply;

/// The Redis version we claim in INFO and HELLO: the one whose command
/// semantics we follow. Clients use it to pick features.
pub const REDIS_VERSION: &str = "7.2.0";

/// The sections INFO prints with no argument (or `default`), in order.
/// `all` and `everything` add [`INFO_MORE`]; like Redis, INFO answers a
/// name it does not know with nothing (the `agora cache info` command
/// refuses it instead, listing these).
pub const INFO_SECTIONS: [&str; 11] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The sections only `all`, `everything` or their own name print.
pub const INFO_MORE: [&str; 2] = ["commandstats", "latencystats"];

/// CPU time of this process and of its children (user, system), in
/// seconds, from getrusage.
fn cpu_times() -> [(f64, f64); 2] {
    let read = |who| {
        // SAFETY: getrusage fills the zeroed struct we pass.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut usage) } != 0 {
            return (0.0, 0.0);
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (secs(usage.ru_utime), secs(usage.ru_stime))
    };
    [read(libc::RUSAGE_SELF), read(libc::RUSAGE_CHILDREN)]
}

pub(super) fn ping(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::Simple("PONG".into()),
        2 => Reply::Bulk(args[1].clone()),
        _ => super::wrong_arity("ping"),
    }
}

pub(super) fn echo(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

pub(super) fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match super::db_arg(&args[1]) {
        Ok(db) if db != 0 && ctx.cache.config.cluster => {
            Reply::err("ERR SELECT is not allowed in cluster mode")
        }
        Ok(db) => {
            ctx.client.db = db;
            Reply::ok()
        }
        Err(e) => e,
    }
}

pub(super) fn time(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from((ctx.now_ms / 1000).to_string())),
        Reply::Bulk(Bytes::from(((ctx.now_ms % 1000) * 1000).to_string())),
    ])
}

pub(super) fn lastsave(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    let at = ctx.cache.stats.last_save_ms.load(Ordering::Relaxed);
    Reply::Integer((at / 1000) as i64)
}

/// SAVE and BGSAVE: write the snapshot (`--cache-persist`) now. BGSAVE
/// writes it before answering too: a snapshot takes one pass over the
/// keyspace, shard by shard, without stopping other clients.
pub(super) fn save(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let background = is(&args[0], "bgsave");
    if args.len() > 2 || (args.len() == 2 && !(background && is(&args[1], "schedule"))) {
        return Reply::err(crate::cache::reply::errors::SYNTAX);
    }
    let Some(path) = ctx.cache.snapshot.as_deref() else {
        return Reply::err("ERR snapshots are off: start the daemon with --cache-persist");
    };
    let now = crate::now_ms();
    match crate::cache::persist::save(&ctx.cache.store, path, now) {
        Ok(_) => {
            ctx.cache.stats.last_save_ms.store(now, Ordering::Relaxed);
            if background {
                Reply::Simple("Background saving started".into())
            } else {
                Reply::ok()
            }
        }
        Err(e) => {
            tracing::warn!(%e, "SAVE: cannot write the cache snapshot");
            Reply::err("ERR cannot write the snapshot (see the daemon's log)")
        }
    }
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// The process's resident set size, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

pub(super) fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let cache = ctx.cache;
    let wanted: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || everything || wanted.iter().any(|w| w == "default");
    let show = |name: &str| {
        debug_assert!(
            INFO_SECTIONS.contains(&name) || INFO_MORE.contains(&name),
            "{name} is not in INFO_SECTIONS"
        );
        if INFO_MORE.contains(&name) {
            everything || wanted.iter().any(|w| w == name)
        } else {
            default || wanted.iter().any(|w| w == name)
        }
    };
    let stats = &cache.stats;
    let counters = cache.store.counters();
    let mut out = String::new();
    let uptime = ctx.now_ms.saturating_sub(cache.started_ms) / 1000;
    if show("server") {
        let _ = write!(
            out,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nagora_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{:040x}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutable:agora\r\n\r\n",
            crate::VERSION,
            std::env::consts::OS,
            std::process::id(),
            cache.started_ms,
            cache.port.load(Ordering::Relaxed),
            uptime / 86_400,
        );
    }
    if show("clients") {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:10000\r\nblocked_clients:{}\r\npubsub_clients:{}\r\ntracking_clients:{}\r\n\r\n",
            stats.connected.load(Ordering::Relaxed),
            cache.blocked.len(),
            cache.pubsub.subscriber_count(),
            cache.tracking.clients(),
        );
    }
    if show("memory") {
        let used = cache.store.used_memory();
        let rss = rss_bytes();
        let max = cache.store.max_memory() as u64;
        let lua = cache.scripting.memory();
        let overhead = cache.store.overhead();
        let _ = write!(
            out,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_overhead:{overhead}\r\nused_memory_dataset:{}\r\nused_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_scripts_eval:0\r\nnumber_of_cached_scripts:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:libc\r\nmem_not_counted_for_evict:0\r\nlazyfree_pending_objects:0\r\n\r\n",
            human(used),
            human(rss),
            used.saturating_sub(overhead),
            cache.scripting.cached_scripts(),
            human(max),
            cache.store.policy().name(),
        );
    }
    if show("persistence") {
        let _ = write!(
            out,
            "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n\r\n",
            stats.dirty.load(Ordering::Relaxed),
            stats.last_save_ms.load(Ordering::Relaxed) / 1000
        );
    }
    if show("stats") {
        let tracking = cache.tracking.totals();
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\ntotal_error_replies:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nmonitors_dropped_slow:{}\r\n\r\n",
            stats.connections_total.load(Ordering::Relaxed),
            stats.commands.load(Ordering::Relaxed),
            stats.ops_per_sec(),
            counters.expired.load(Ordering::Relaxed),
            counters.evicted.load(Ordering::Relaxed),
            counters.hits.load(Ordering::Relaxed),
            counters.misses.load(Ordering::Relaxed),
            cache.pubsub.channel_count(),
            cache.pubsub.pattern_count(),
            cache.cmdstats.total_errors(),
            tracking.0,
            tracking.1,
            tracking.2,
            cache.monitors.dropped_slow(),
        );
    }
    if show("replication") {
        let _ = write!(
            out,
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n\r\n"
        );
    }
    if show("cpu") {
        let [(user, sys), (user_c, sys_c)] = cpu_times();
        let _ = write!(
            out,
            "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{sys_c:.6}\r\nused_cpu_user_children:{user_c:.6}\r\n\r\n"
        );
    }
    if show("modules") {
        out.push_str("# Modules\r\n\r\n");
    }
    if show("commandstats") {
        let _ = write!(
            out,
            "# Commandstats\r\n{}\r\n",
            cache.cmdstats.commandstats()
        );
    }
    if show("errorstats") {
        let _ = write!(out, "# Errorstats\r\n{}\r\n", cache.cmdstats.errorstats());
    }
    if show("latencystats") {
        out.push_str("# Latencystats\r\n\r\n");
    }
    if show("cluster") {
        let enabled = u8::from(cache.config.cluster);
        let _ = write!(out, "# Cluster\r\ncluster_enabled:{enabled}\r\n\r\n");
    }
    if show("keyspace") {
        out.push_str("# Keyspace\r\n");
        for db in cache.store.dbs() {
            let (keys, expires) = db.len();
            if keys > 0 {
                let _ = write!(
                    out,
                    "db{}:keys={keys},expires={expires},avg_ttl=0\r\n",
                    db.index()
                );
            }
        }
        out.push_str("\r\n");
    }
    // Redis ends the text with one CRLF, not a blank line.
    if out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    Reply::Bulk(Bytes::from(out))
}

pub(super) fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "get") {
        if args.len() < 3 {
            return super::wrong_arity("config|get");
        }
        let patterns: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
        let port = ctx.cache.port.load(Ordering::Relaxed);
        let pairs = ctx
            .cache
            .params
            .get(&patterns)
            .into_iter()
            .map(|(name, value)| {
                let value = if name == "port" {
                    port.to_string()
                } else {
                    value
                };
                (Reply::text(name), Reply::Bulk(Bytes::from(value)))
            })
            .collect();
        Reply::Map(pairs)
    } else if is(sub, "set") {
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return super::wrong_arity("config|set");
        }
        // `port` to the port it listens on is a no-op (Redis rebinds; agora
        // cannot, so another port stays refused as immutable).
        let port = ctx.cache.port.load(Ordering::Relaxed).to_string();
        let pairs: Vec<(&[u8], &[u8])> = args[2..]
            .chunks_exact(2)
            .map(|p| (&p[0][..], &p[1][..]))
            .filter(|(n, v)| !(is(n, "port") && *v == port.as_bytes()))
            .collect();
        let result = if pairs.is_empty() {
            Ok(())
        } else {
            ctx.cache.params.set(&ctx.cache.store, &pairs)
        };
        match result {
            Ok(()) => {
                // A lower limit evicts at once, as Redis does.
                if pairs.iter().any(|(n, _)| is(n, "maxmemory")) {
                    let _ = ctx.cache.store.make_room(ctx.now_ms);
                    super::events::publish_removals(ctx.cache);
                }
                if let Some((_, v)) = pairs.iter().find(|(n, _)| is(n, "tracking-table-max-keys")) {
                    let max = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
                    ctx.cache.tracking.set_max_keys(max.unwrap_or(0));
                }
                Reply::ok()
            }
            Err(e) => Reply::error(e),
        }
    } else if is(sub, "resetstat") {
        ctx.cache.cmdstats.reset();
        Reply::ok()
    } else {
        unknown_subcommand(sub, "CONFIG")
    }
}

fn unknown_subcommand(sub: &[u8], cmd: &str) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {cmd} HELP.",
        lossy(sub, 128)
    ))
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]. AUTH was already
/// checked by the connection (it needs the account service).
pub(super) fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut resp3 = ctx.client.resp3;
    if let Some(version) = args.get(1) {
        match parse_i64(version) {
            None => {
                return Reply::err("ERR Protocol version is not an integer or out of range");
            }
            Some(2) => resp3 = false,
            Some(3) => resp3 = true,
            Some(_) => return Reply::err("NOPROTO unsupported protocol version"),
        }
    }
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "auth") && i + 2 < args.len() {
            i += 3;
        } else if is(&args[i], "setname") && i + 1 < args.len() {
            if let Err(e) = check_name(&args[i + 1]) {
                return e;
            }
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(&args[i], 128)
            ));
        }
    }
    ctx.client.resp3 = resp3;
    if name.is_some() {
        ctx.client.name = name;
    }
    Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (Reply::text("version"), Reply::text(REDIS_VERSION)),
        (
            Reply::text("proto"),
            Reply::Integer(if resp3 { 3 } else { 2 }),
        ),
        (Reply::text("id"), Reply::Integer(ctx.client.id as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ])
}

fn check_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

pub(super) fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    let arity = |n: usize, name: &str| (args.len() != n).then(|| super::wrong_arity(name));
    if is(sub, "id") {
        arity(2, "client|id").unwrap_or(Reply::Integer(ctx.client.id as i64))
    } else if is(sub, "getname") {
        arity(2, "client|getname")
            .unwrap_or_else(|| ctx.client.name.clone().map_or(Reply::Nil, Reply::Bulk))
    } else if is(sub, "setname") {
        if let Some(e) = arity(3, "client|setname") {
            return e;
        }
        if let Err(e) = check_name(&args[2]) {
            return e;
        }
        ctx.client.name = (!args[2].is_empty()).then(|| args[2].clone());
        Reply::ok()
    } else if is(sub, "setinfo") {
        if let Some(e) = arity(4, "client|setinfo") {
            return e;
        }
        if is(&args[2], "lib-name") {
            ctx.client.lib.0 = Some(args[3].clone());
        } else if is(&args[2], "lib-ver") {
            ctx.client.lib.1 = Some(args[3].clone());
        } else {
            return Reply::error(format!(
                "ERR Unrecognized option '{}'",
                lossy(&args[2], 128)
            ));
        }
        Reply::ok()
    } else if is(sub, "info") {
        if let Some(e) = arity(2, "client|info") {
            return e;
        }
        Reply::Bulk(Bytes::from(client_line(ctx, ctx.client.id, None)))
    } else if is(sub, "list") {
        client_list(ctx, args)
    } else if is(sub, "kill") {
        client_kill(ctx, args)
    } else if is(sub, "reply") {
        if let Some(e) = arity(3, "client|reply") {
            return e;
        }
        let mode = &args[2];
        ctx.client.reply = if is(mode, "on") {
            super::ReplyMode::On
        } else if is(mode, "off") {
            super::ReplyMode::Off
        } else if is(mode, "skip") {
            super::ReplyMode::Skip
        } else {
            return Reply::err(crate::cache::reply::errors::SYNTAX);
        };
        Reply::ok()
    } else if is(sub, "tracking")
        || is(sub, "caching")
        || is(sub, "getredir")
        || is(sub, "trackinginfo")
    {
        super::tracking::client(ctx, args)
    } else if is(sub, "no-evict") || is(sub, "no-touch") {
        Reply::ok()
    } else if is(sub, "unblock") {
        if !(3..=4).contains(&args.len()) {
            return super::wrong_arity("client|unblock");
        }
        let Some(id) = parse_i64(&args[2]) else {
            return Reply::err(crate::cache::reply::errors::NOT_INTEGER);
        };
        match super::bpop::unblock_mode(args.get(3)) {
            Ok(error) => Reply::Integer(i64::from(ctx.cache.blocked.unblock(id as u64, error))),
            Err(e) => e,
        }
    } else {
        unknown_subcommand(sub, "CLIENT")
    }
}

/// One CLIENT LIST line: the registry's view of connection `id`, or the
/// calling client's own state for itself.
fn client_line(ctx: &Ctx<'_>, id: u64, entry: Option<&crate::cache::clients::Entry>) -> String {
    let own = ctx.cache.clients.list().into_iter().find(|(i, _)| *i == id);
    let entry = entry.cloned().or(own.map(|(_, e)| e));
    let (addr, laddr, since, pubsub) = entry
        .as_ref()
        .map_or((String::new(), String::new(), ctx.now_ms, false), |e| {
            (e.addr.clone(), e.laddr.clone(), e.since_ms, e.pubsub)
        });
    let (name, db, resp3, lib) = if id == ctx.client.id {
        let c = &ctx.client;
        (c.name.clone(), c.db, c.resp3, c.lib.clone())
    } else {
        let e = entry.as_ref();
        (
            e.and_then(|e| e.name.clone()),
            e.map_or(0, |e| e.db),
            e.is_some_and(|e| e.resp3),
            (None, None),
        )
    };
    let text = |b: &Option<Bytes>| b.as_deref().map(|n| lossy(n, 128)).unwrap_or_default();
    format!(
        "id={id} addr={addr} laddr={laddr} fd=0 name={} age={} idle=0 flags={} db={db} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=NULL user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
        text(&name),
        ctx.now_ms.saturating_sub(since) / 1000,
        if pubsub { "P" } else { "N" },
        if resp3 { 3 } else { 2 },
        text(&lib.0),
        text(&lib.1),
    )
}

/// CLIENT LIST [TYPE normal|pubsub|master|replica] [ID id …].
fn client_list(ctx: &Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut kind: Option<bool> = None;
    let mut ids: Option<Vec<u64>> = None;
    match args.get(2) {
        None => {}
        Some(a) if is(a, "type") && args.len() == 4 => {
            let t = &args[3];
            kind = Some(if is(t, "pubsub") {
                true
            } else if is(t, "normal") {
                false
            } else if is(t, "master") || is(t, "replica") || is(t, "slave") {
                return Reply::Bulk(Bytes::new());
            } else {
                return Reply::error(format!("ERR Unknown client type '{}'", lossy(t, 128)));
            });
        }
        Some(a) if is(a, "id") && args.len() > 3 => {
            let mut list = Vec::new();
            for id in &args[3..] {
                match parse_i64(id) {
                    Some(n) if n > 0 => list.push(n as u64),
                    _ => return Reply::err("ERR Invalid client ID"),
                }
            }
            ids = Some(list);
        }
        Some(_) => return Reply::err(crate::cache::reply::errors::SYNTAX),
    }
    let mut out = String::new();
    for (id, entry) in ctx.cache.clients.list() {
        if kind.is_some_and(|pubsub| pubsub != entry.pubsub)
            || ids.as_ref().is_some_and(|ids| !ids.contains(&id))
        {
            continue;
        }
        out.push_str(&client_line(ctx, id, Some(&entry)));
    }
    Reply::Bulk(Bytes::from(out))
}

/// One CLIENT KILL filter: whether it matches a connection.
type KillFilter = Box<dyn Fn(u64, &crate::cache::clients::Entry) -> bool>;

/// CLIENT KILL ip:port, or CLIENT KILL with ID / ADDR / LADDR / USER /
/// SKIPME / TYPE filters (the number killed).
fn client_kill(ctx: &Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() < 3 {
        return super::wrong_arity("client|kill");
    }
    let all = ctx.cache.clients.list();
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]);
        return match all.iter().find(|(_, e)| e.addr == addr) {
            Some((_, e)) => {
                e.kill.cancel();
                Reply::ok()
            }
            None => Reply::err("ERR No such client"),
        };
    }
    if !args.len().is_multiple_of(2) {
        return Reply::err(crate::cache::reply::errors::SYNTAX);
    }
    let mut skipme = true;
    let mut filters: Vec<KillFilter> = Vec::new();
    for pair in args[2..].chunks_exact(2) {
        let (key, value) = (&pair[0], pair[1].clone());
        let text = String::from_utf8_lossy(&value).into_owned();
        if is(key, "id") {
            let Some(id) = parse_i64(&value).filter(|n| *n > 0) else {
                return Reply::err("ERR client-id should be greater than 0");
            };
            filters.push(Box::new(move |i, _| i == id as u64));
        } else if is(key, "addr") {
            filters.push(Box::new(move |_, e| e.addr == text));
        } else if is(key, "laddr") {
            filters.push(Box::new(move |_, e| e.laddr == text));
        } else if is(key, "user") {
            if text != "default" {
                return Reply::error(format!("ERR No such user '{text}'"));
            }
        } else if is(key, "type") {
            let pubsub = if is(&value, "pubsub") {
                true
            } else if is(&value, "normal") {
                false
            } else if is(&value, "master") || is(&value, "replica") || is(&value, "slave") {
                filters.push(Box::new(|_, _| false));
                continue;
            } else {
                return Reply::error(format!("ERR Unknown client type '{text}'"));
            };
            filters.push(Box::new(move |_, e| e.pubsub == pubsub));
        } else if is(key, "skipme") {
            skipme = if is(&value, "yes") {
                true
            } else if is(&value, "no") {
                false
            } else {
                return Reply::err(crate::cache::reply::errors::SYNTAX);
            };
        } else {
            return Reply::err(crate::cache::reply::errors::SYNTAX);
        }
    }
    let mut killed = 0;
    for (id, entry) in &all {
        if (skipme && *id == ctx.client.id) || !filters.iter().all(|f| f(*id, entry)) {
            continue;
        }
        entry.kill.cancel();
        killed += 1;
    }
    Reply::Integer(killed)
}

fn command_info(spec: &super::Spec) -> Reply {
    let flags: &[&'static str] = match spec.kind {
        Kind::Read => &["readonly", "fast"],
        Kind::Write => &["write"],
        Kind::DenyOom => &["write", "denyoom"],
        Kind::Admin => &["fast", "loading", "stale"],
        Kind::Conn => &["pubsub", "noscript", "loading", "stale"],
        Kind::Script => &["noscript", "skip_monitor"],
    };
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Integer(i64::from(spec.arity)),
        Reply::Array(flags.iter().map(|f| Reply::Simple((*f).into())).collect()),
        Reply::Integer(i64::from(spec.keys.0)),
        Reply::Integer(i64::from(spec.keys.1)),
        Reply::Integer(i64::from(spec.keys.2)),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

/// One command's COMMAND DOCS entry, from the table's [`super::Doc`]:
/// `summary`, `since`, `group`, `arguments` (parsed from the syntax) and,
/// for a container, `subcommands` keyed `name|sub`, as Redis 7 answers.
fn command_docs(spec: &super::Spec) -> Reply {
    let mut map = doc_fields(&spec.doc, spec.subcommands.is_empty());
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(|sub| {
                let name = format!("{}|{}", spec.name, sub.name);
                (
                    Reply::Bulk(Bytes::from(name)),
                    Reply::Map(doc_fields(&sub.doc, true)),
                )
            })
            .collect();
        map.push((Reply::text("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(map)
}

fn doc_fields(doc: &super::Doc, with_arguments: bool) -> Vec<(Reply, Reply)> {
    let mut map = vec![
        (Reply::text("summary"), Reply::text(doc.summary)),
        (Reply::text("since"), Reply::text(doc.since)),
        (Reply::text("group"), Reply::text(doc.group.name())),
    ];
    // A container's own syntax only names its subcommands, which Redis
    // lists under `subcommands` instead.
    if with_arguments
        && let Ok(args) = super::syntax::parse(doc.syntax)
        && !args.is_empty()
    {
        map.push((Reply::text("arguments"), super::syntax::docs_reply(&args)));
    }
    map
}

pub(super) fn command(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::Array(COMMANDS.iter().map(command_info).collect());
    };
    if is(sub, "count") {
        Reply::Integer(COMMANDS.len() as i64)
    } else if is(sub, "docs") {
        // redis-cli builds its `help` and hints from these.
        let specs: Vec<&super::Spec> = if args.len() == 2 {
            COMMANDS.iter().collect()
        } else {
            args[2..].iter().filter_map(|n| super::lookup(n)).collect()
        };
        Reply::Map(
            specs
                .into_iter()
                .map(|s| (Reply::text(s.name), command_docs(s)))
                .collect(),
        )
    } else if is(sub, "info") {
        Reply::Array(
            args[2..]
                .iter()
                .map(|n| super::lookup(n).map_or(Reply::NilArray, command_info))
                .collect(),
        )
    } else if is(sub, "list") {
        Reply::Array(COMMANDS.iter().map(|s| Reply::text(s.name)).collect())
    } else if is(sub, "getkeys") {
        if args.len() < 3 {
            return super::wrong_arity("command|getkeys");
        }
        let Some(spec) = super::lookup(&args[2]) else {
            return Reply::err("ERR Invalid command specified");
        };
        let call = &args[2..];
        if !super::arity_ok(spec.arity, call.len()) {
            return Reply::err("ERR Invalid number of arguments specified for command");
        }
        let keys = super::keyspec::keys(spec, call);
        if keys.is_empty() {
            return Reply::err("ERR The command has no key arguments");
        }
        Reply::Array(keys.into_iter().map(Reply::Bulk).collect())
    } else {
        unknown_subcommand(sub, "COMMAND")
    }
}

/// ACL WHOAMI / USERS / CAT: the one user a RESP connection is, Redis's
/// `default` (AUTH checks agora accounts, which are not ACL users).
pub(super) fn acl(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    let arity = |n: usize, name: &str| (args.len() != n).then(|| super::wrong_arity(name));
    if is(sub, "whoami") {
        arity(2, "acl|whoami").unwrap_or(Reply::text("default"))
    } else if is(sub, "users") {
        arity(2, "acl|users").unwrap_or_else(|| Reply::Array(vec![Reply::text("default")]))
    } else if is(sub, "cat") {
        if args.len() > 3 {
            return super::wrong_arity("acl|cat");
        }
        let category = |spec: &super::Spec| -> [&'static str; 2] {
            let group = spec.doc.group.name();
            let kind = match spec.kind {
                Kind::Read => "read",
                Kind::Write | Kind::DenyOom => "write",
                Kind::Admin => "connection",
                Kind::Conn => "pubsub",
                Kind::Script => "scripting",
            };
            [group, kind]
        };
        match args.get(2) {
            None => {
                let mut names: Vec<&str> = COMMANDS.iter().flat_map(category).collect();
                names.sort_unstable();
                names.dedup();
                Reply::Array(names.into_iter().map(Reply::text).collect())
            }
            Some(cat) => {
                let cat = String::from_utf8_lossy(cat).to_ascii_lowercase();
                let found: Vec<Reply> = COMMANDS
                    .iter()
                    .filter(|s| category(s).contains(&cat.as_str()))
                    .map(|s| Reply::text(s.name))
                    .collect();
                if found.is_empty() {
                    Reply::error(format!("ERR Unknown category '{cat}'"))
                } else {
                    Reply::Array(found)
                }
            }
        }
    } else {
        unknown_subcommand(sub, "ACL")
    }
}
