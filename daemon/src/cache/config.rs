//! CONFIG GET/SET: the parameters Redis's own test suite and common
//! clients read and set.
//!
//! Every parameter has a kind that validates its value the way Redis does
//! (a boolean is `yes`/`no`, a memory value takes `k`/`kb`/`m`/`mb`/`g`/
//! `gb`, an integer has a range, an enum a list of names) and answers
//! Redis's error texts. A parameter is one of:
//!
//! - *applied*: `maxmemory`, `maxmemory-policy` change the store at once;
//!   `notify-keyspace-events` is kept in its canonical form for keyspace
//!   notifications;
//! - *accepted and ignored*: encoding thresholds (`hash-max-listpack-*`,
//!   `set-max-intset-entries`, `zset-max-*`, `list-max-*`), persistence
//!   (`save`, `appendonly`, …), replication and Lua limits: validated and
//!   stored so CONFIG GET answers what was set, with no effect on agora
//!   (docs/CACHE.md lists them);
//! - *immutable*: `databases`, `port`, …: CONFIG SET refuses them as Redis
//!   does.
//!
//! Unknown parameters answer Redis's error. Several parameters in one
//! CONFIG SET are all validated before any is applied.

use std::sync::Mutex;

use super::store::{DATABASES, Policy, Store};

/// How a parameter's value is checked and shown.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `yes` or `no`.
    Bool,
    /// An integer within a range (inclusive).
    Int(i64, i64),
    /// Bytes, with Redis's unit suffixes; shown as a plain number.
    Memory,
    /// One of these names (any case; shown in lower case).
    Enum(&'static [&'static str]),
    /// Any string.
    Text,
    /// Redis's `save` syntax: pairs of seconds and changes, or empty.
    Save,
    /// `notify-keyspace-events` flags.
    NotifyFlags,
    /// Cannot be set at run time.
    Immutable,
}

/// What a parameter does in agora.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Changes the store (applied by [`Config::apply`]).
    Applied,
    /// Validated and stored; no effect on agora.
    Ignored,
}

struct Param {
    name: &'static str,
    /// Another name for the same value (Redis 7 renamed ziplist to
    /// listpack and kept the old names).
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    effect: Effect,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        effect: Effect::Ignored,
    }
}

const fn alias(name: &'static str, old: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: Some(old),
        kind,
        default,
        effect: Effect::Ignored,
    }
}

const fn applied(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        effect: Effect::Applied,
    }
}

const YES_NO: Kind = Kind::Bool;
const I32_MIN: i64 = -2_147_483_648;
const I32_MAX: i64 = 2_147_483_647;
const U32_MAX: i64 = 4_294_967_295;
const COUNT: Kind = Kind::Int(0, i64::MAX);
const POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "volatile-lru",
    "allkeys-lfu",
    "volatile-ttl",
    "allkeys-random",
    "volatile-random",
    "volatile-lfu",
];

/// Every parameter CONFIG knows, in CONFIG GET `*`'s order.
static PARAMS: &[Param] = &[
    applied("maxmemory", Kind::Memory, "0"),
    applied("maxmemory-policy", Kind::Enum(POLICIES), "noeviction"),
    applied("notify-keyspace-events", Kind::NotifyFlags, ""),
    p("maxmemory-samples", Kind::Int(1, 64), "5"),
    p("maxmemory-eviction-tenacity", Kind::Int(0, 100), "10"),
    p("lfu-log-factor", COUNT, "10"),
    p("lfu-decay-time", COUNT, "1"),
    p("save", Kind::Save, ""),
    p("appendonly", YES_NO, "no"),
    p(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
    ),
    p("appendfilename", Kind::Immutable, "appendonly.aof"),
    p("aof-use-rdb-preamble", YES_NO, "yes"),
    p("rdb-key-save-delay", Kind::Int(I32_MIN, I32_MAX), "0"),
    p("rdbcompression", YES_NO, "yes"),
    p("dbfilename", Kind::Text, "dump.rdb"),
    alias(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        COUNT,
        "128",
    ),
    alias(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        COUNT,
        "64",
    ),
    alias(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Kind::Int(-5, I32_MAX),
        "-2",
    ),
    p("list-compress-depth", Kind::Int(0, I32_MAX), "0"),
    p("set-max-intset-entries", COUNT, "512"),
    p("set-max-listpack-entries", COUNT, "128"),
    p("set-max-listpack-value", COUNT, "64"),
    alias(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        COUNT,
        "128",
    ),
    alias(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        COUNT,
        "64",
    ),
    p("stream-node-max-bytes", Kind::Memory, "4096"),
    p("stream-node-max-entries", COUNT, "100"),
    p("hll-sparse-max-bytes", Kind::Memory, "3000"),
    alias("busy-reply-threshold", "lua-time-limit", COUNT, "5000"),
    p("proto-max-bulk-len", Kind::Memory, "536870912"),
    p("client-query-buffer-limit", Kind::Memory, "1073741824"),
    p("repl-backlog-size", Kind::Memory, "1048576"),
    p("min-replicas-to-write", COUNT, "0"),
    p("min-replicas-max-lag", COUNT, "10"),
    p("replica-serve-stale-data", YES_NO, "yes"),
    p("replica-read-only", YES_NO, "yes"),
    p("timeout", COUNT, "0"),
    p("tcp-keepalive", COUNT, "300"),
    p("hz", Kind::Int(1, 500), "10"),
    p("activerehashing", YES_NO, "yes"),
    p("active-expire-effort", Kind::Int(1, 10), "1"),
    p("lazyfree-lazy-eviction", YES_NO, "no"),
    p("lazyfree-lazy-expire", YES_NO, "no"),
    p("lazyfree-lazy-server-del", YES_NO, "no"),
    p("lazyfree-lazy-user-del", YES_NO, "no"),
    p("lazyfree-lazy-user-flush", YES_NO, "no"),
    p("slowlog-log-slower-than", Kind::Int(-1, i64::MAX), "10000"),
    p("slowlog-max-len", COUNT, "128"),
    p("latency-monitor-threshold", COUNT, "0"),
    p("latency-tracking", YES_NO, "yes"),
    p(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
    ),
    p("maxclients", Kind::Int(1, U32_MAX), "10000"),
    p("tracking-table-max-keys", COUNT, "1000000"),
    p("close-on-replica-write", YES_NO, "yes"),
    p("databases", Kind::Immutable, "16"),
    p("port", Kind::Immutable, "6379"),
    p("daemonize", Kind::Immutable, "no"),
    p("cluster-enabled", Kind::Immutable, "no"),
    p("io-threads", Kind::Immutable, "1"),
];

/// The run-time configuration: the current value of every parameter.
pub struct Config {
    values: Mutex<Vec<String>>,
    /// `notify-keyspace-events` as flags, read on every write.
    notify: std::sync::atomic::AtomicU32,
}

impl Config {
    /// Every parameter at its default, then `maxmemory`,
    /// `maxmemory-policy` and `port` as the daemon was started with.
    pub fn new(store: &Store, port: u16) -> Config {
        let mut values: Vec<String> = PARAMS.iter().map(|p| p.default.to_string()).collect();
        values[0] = store.max_memory().to_string();
        values[1] = store.policy().name().to_string();
        if let Some(i) = index("databases") {
            values[i] = DATABASES.to_string();
        }
        if let Some(i) = index("port") {
            values[i] = port.to_string();
        }
        Config {
            values: Mutex::new(values),
            notify: std::sync::atomic::AtomicU32::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets one value as the daemon knows it (the RESP port once bound).
    pub fn set_internal(&self, name: &str, value: String) {
        if let Some(i) = index(name) {
            self.lock()[i] = value;
        }
    }

    /// The keyspace notification flags now ([`notify`] bits).
    pub fn notify_flags(&self) -> u32 {
        self.notify.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// CONFIG GET: (name, value) of every parameter (or alias) matching
    /// one of `patterns` (globs, any case), each once.
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let values = self.lock();
        let mut out = Vec::new();
        for (i, param) in PARAMS.iter().enumerate() {
            for name in std::iter::once(param.name).chain(param.alias) {
                if patterns
                    .iter()
                    .any(|p| super::glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
                {
                    out.push((name, values[i].clone()));
                }
            }
        }
        out
    }

    /// CONFIG SET of `pairs` (name, value): validates every pair first and
    /// applies none on an error; applied parameters change `store`.
    ///
    /// # Errors
    /// Redis's error text.
    pub fn set(&self, store: &Store, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        let mut checked: Vec<(usize, String)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            let Some(i) = index(&lower) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    super::cmd::lossy(name, 128)
                ));
            };
            if checked.iter().any(|(j, _)| *j == i) {
                return Err(failed(&lower, "duplicate parameter"));
            }
            let canonical = validate(PARAMS[i].kind, value).map_err(|why| failed(&lower, &why))?;
            checked.push((i, canonical));
        }
        let mut values = self.lock();
        for (i, value) in checked {
            let param = &PARAMS[i];
            if param.effect == Effect::Applied {
                match param.name {
                    "maxmemory" => store.set_max_memory(value.parse().unwrap_or(0)),
                    "maxmemory-policy" => {
                        if let Some(policy) = Policy::parse(&value) {
                            store.set_policy(policy);
                        }
                    }
                    "notify-keyspace-events" => {
                        let flags = notify::parse(value.as_bytes()).unwrap_or(0);
                        self.notify
                            .store(flags, std::sync::atomic::Ordering::Relaxed);
                        store.track_removals(
                            flags & (notify::EXPIRED | notify::EVICTED) != 0
                                && flags & (notify::KEYSPACE | notify::KEYEVENT) != 0,
                        );
                    }
                    _ => {}
                }
            }
            values[i] = value;
        }
        Ok(())
    }
}

/// The position of a parameter by name or alias (lower case).
fn index(name: &str) -> Option<usize> {
    PARAMS
        .iter()
        .position(|p| p.name == name || p.alias == Some(name))
}

fn failed(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// Checks a value against its kind; the canonical form to store.
fn validate(kind: Kind, value: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(value).map_err(|_| "argument must be valid text".to_string())?;
    match kind {
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => match super::cmd::parse_i64(value) {
            Some(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            Some(_) => Err(format!(
                "argument must be between {min} and {max} inclusive"
            )),
            None => Err("argument couldn't be parsed into an integer".into()),
        },
        Kind::Memory => parse_memory(text)
            .map(|n| n.to_string())
            .ok_or_else(|| "argument must be a memory value".into()),
        Kind::Enum(names) => {
            let lower = text.to_ascii_lowercase();
            if names.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                ))
            }
        }
        Kind::Text => Ok(text.to_string()),
        Kind::Save => {
            let parts: Vec<&str> = text.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".into());
            }
            Ok(parts.join(" "))
        }
        Kind::NotifyFlags => notify::parse(value)
            .map(notify::format)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmd'.".into()),
        Kind::Immutable => Err("can't set immutable config".into()),
    }
}

/// Redis's `memtoull`: a number with an optional unit (`b`, `k` = 1000,
/// `kb` = 1024, `m`, `mb`, `g`, `gb`; any case).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Keyspace notification flags: [`super::notify`] (its own module, so
/// the command modules reach them without a loop through this one).
pub use super::notify;

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> (Store, Config) {
        let store = Store::new(0, Policy::NoEviction);
        let config = Config::new(&store, 6379);
        (store, config)
    }

    fn get(config: &Config, name: &str) -> Vec<(&'static str, String)> {
        config.get(&[name.as_bytes()])
    }

    #[test]
    fn maxmemory_and_policy_apply_to_the_store() {
        let (store, config) = config();
        config
            .set(
                &store,
                &[
                    (b"maxmemory", b"1mb"),
                    (b"maxmemory-policy", b"allkeys-lru"),
                ],
            )
            .unwrap();
        assert_eq!(store.max_memory(), 1024 * 1024);
        assert_eq!(store.policy(), Policy::AllKeysLru);
        assert_eq!(
            get(&config, "maxmemory"),
            [("maxmemory", "1048576".to_string())]
        );
        assert_eq!(
            get(&config, "maxmemory-policy"),
            [("maxmemory-policy", "allkeys-lru".to_string())]
        );
    }

    #[test]
    fn one_bad_value_applies_nothing() {
        let (store, config) = config();
        let err = config
            .set(&store, &[(b"maxmemory", b"10"), (b"appendonly", b"maybe")])
            .unwrap_err();
        assert_eq!(
            err,
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"
        );
        assert_eq!(store.max_memory(), 0);
    }

    #[test]
    fn errors_match_redis() {
        let (store, config) = config();
        assert_eq!(
            config.set(&store, &[(b"nosuch", b"1")]).unwrap_err(),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert!(
            config
                .set(&store, &[(b"databases", b"4")])
                .unwrap_err()
                .ends_with("can't set immutable config")
        );
        assert!(
            config
                .set(&store, &[(b"maxmemory", b"lots")])
                .unwrap_err()
                .ends_with("argument must be a memory value")
        );
        assert!(
            config
                .set(&store, &[(b"maxmemory-samples", b"0")])
                .unwrap_err()
                .ends_with("argument must be between 1 and 64 inclusive")
        );
        assert!(
            config
                .set(&store, &[(b"save", b"100")])
                .unwrap_err()
                .ends_with("Invalid save parameters")
        );
        assert!(
            config
                .set(&store, &[(b"hz", b"5"), (b"HZ", b"6")])
                .unwrap_err()
                .ends_with("duplicate parameter")
        );
    }

    #[test]
    fn aliases_share_one_value() {
        let (store, config) = config();
        config
            .set(&store, &[(b"zset-max-ziplist-entries", b"0")])
            .unwrap();
        assert_eq!(
            get(&config, "zset-max-*-entries"),
            [
                ("zset-max-listpack-entries", "0".to_string()),
                ("zset-max-ziplist-entries", "0".to_string())
            ]
        );
        config.set(&store, &[(b"lua-time-limit", b"10")]).unwrap();
        assert_eq!(get(&config, "busy-reply-threshold")[0].1, "10");
    }

    #[test]
    fn notify_flags_parse_and_show_canonically() {
        let (store, config) = config();
        config
            .set(&store, &[(b"notify-keyspace-events", b"KEA")])
            .unwrap();
        assert_eq!(get(&config, "notify-keyspace-events")[0].1, "AKE");
        assert_eq!(
            config.notify_flags(),
            notify::ALL | notify::KEYSPACE | notify::KEYEVENT
        );
        config
            .set(&store, &[(b"notify-keyspace-events", b"El$")])
            .unwrap();
        assert_eq!(get(&config, "notify-keyspace-events")[0].1, "$lE");
        assert!(
            config
                .set(&store, &[(b"notify-keyspace-events", b"Q")])
                .is_err()
        );
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("mb"), None);
        assert_eq!(parse_memory("99999999999999999999gb"), None);
    }

    #[test]
    fn save_is_normalised() {
        let (store, config) = config();
        config.set(&store, &[(b"save", b"900 1  300 10")]).unwrap();
        assert_eq!(get(&config, "save")[0].1, "900 1 300 10");
        config.set(&store, &[(b"save", b"")]).unwrap();
        assert_eq!(get(&config, "save")[0].1, "");
    }
}
