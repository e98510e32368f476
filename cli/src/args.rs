//! The command line, as clap derive types. One source of truth: `--help`,
//! the man pages (`agora man`) and the shell completions
//! (`agora completions`) are all generated from these definitions.

pub mod blog;
pub mod cluster;
pub mod deploy;
pub mod org;
pub mod org_billing;
pub mod ssh;

use std::path::PathBuf;

use agora_wire::game::{KINDS, TimeControl};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Chat, games, live metrics, a Redis-compatible cache and a job queue in
/// your terminal: one daemon, one protocol, one TUI, one CLI.
///
/// Start with `agora up`: it runs a daemon in-process, signs you in and
/// opens the TUI. Or run `agora daemon` in one terminal and use the other
/// subcommands (or `agora tui`) from anywhere that can reach it.
///
/// Commands that need a sign-in present the token `agora login` saved for
/// the daemon's address, or AGORA_TOKEN when it is set (for scripts, CI
/// and containers).
#[derive(Debug, Parser)]
#[command(name = "agora", version, long_version = LONG_VERSION, max_term_width = 100)]
pub struct Cli {
    /// Address of the agora daemon, for the commands that talk to one
    /// (they also take --addr after their name); a fleet's nodes may be
    /// listed, comma-separated, and are tried in turn (the TUI moves to the
    /// next when a connection is lost) [env: AGORA_ADDR] [default:
    /// 127.0.0.1:7070].
    #[arg(long, value_name = "HOST:PORT[,…]", help_heading = "Connection")]
    pub addr: Option<String>,

    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `agora --version`: the version, the git commit and the build date
/// (cli/build.rs). `-V` and the man pages show the version alone.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AGORA_COMMIT"),
    ", built ",
    env!("AGORA_BUILD_DATE"),
    ")"
);

/// The default daemon address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7070";

/// Options every command takes, shown apart from each command's own.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// When to colour output and logs: auto (on a terminal, unless
    /// NO_COLOR is set), always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorChoice::Auto,
        value_name = "WHEN",
        help_heading = "Global options"
    )]
    pub color: ColorChoice,

    /// Log level or filter (error, warn, info, debug, trace, or a
    /// tracing filter such as `agora_daemon=debug`); RUST_LOG also works.
    #[arg(
        long,
        global = true,
        env = "AGORA_LOG_LEVEL",
        value_name = "FILTER",
        help_heading = "Global options"
    )]
    pub log_level: Option<String>,

    /// Log format: `human` (readable lines) or `json` (one object per
    /// line, for log collectors).
    #[arg(
        long,
        global = true,
        env = "AGORA_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Human,
        value_name = "FORMAT",
        help_heading = "Global options"
    )]
    pub log_format: LogFormat,
}

/// `--addr` of a command that talks to a daemon. The flag wins over
/// `agora --addr`, which wins over AGORA_ADDR (resolved in
/// `commands::addr`, not by clap, so an explicit flag always beats the
/// environment).
#[derive(Debug, Args, Clone, Default)]
pub struct RemoteArgs {
    /// Address of the agora daemon (its protocol port), or several,
    /// comma-separated, tried in turn [env: AGORA_ADDR] [default:
    /// 127.0.0.1:7070].
    #[arg(long, value_name = "HOST:PORT[,…]", help_heading = "Connection")]
    pub addr: Option<String>,
}

/// `--addr` of a command group (chat, cache, bench): taken before or after
/// the subcommand's name.
#[derive(Debug, Args, Clone, Default)]
pub struct GroupRemoteArgs {
    /// Address of the agora daemon (its protocol port), or several,
    /// comma-separated, tried in turn [env: AGORA_ADDR] [default:
    /// 127.0.0.1:7070].
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT[,…]",
        help_heading = "Connection"
    )]
    pub addr: Option<String>,
}

/// `--http-addr` of the commands that talk HTTP to a daemon (`blog`,
/// `org`, `admin`): taken before or after the subcommand's name.
#[derive(Debug, Args, Clone, Default)]
pub struct HttpRemoteArgs {
    /// Address of the daemon's HTTP listener (`agora daemon --http`), where
    /// the blog API and /admin are [env: AGORA_HTTP] [default:
    /// 127.0.0.1:7080].
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT",
        help_heading = "Connection"
    )]
    pub http_addr: Option<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines, coloured on a terminal (see --color).
    Human,
    /// One JSON object per line.
    Json,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless the NO_COLOR variable is set (no-color.org).
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to a stream that is (or is not) a
    /// terminal.
    pub fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// The subcommands.
// Parsed once per process: the daemon's many flags make its variant large,
// and boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a daemon in this process, sign in as your OS user and open the
    /// TUI; quitting the TUI stops the daemon.
    ///
    /// The one-command experience. The daemon keeps its data in the XDG data
    /// directory (e.g. ~/.local/share/agora) unless --data is given, and logs
    /// to DATA/agora.log because the TUI owns the terminal. The first run
    /// creates an account named after your OS user ($USER, folded to a valid
    /// agora name) with a random password kept in DATA/local-account.json
    /// (mode 0600); later runs sign in with it. The token is also saved for
    /// other terminals, so `agora whoami` and `agora tui` work there while
    /// `agora up` runs. The TUI's status bar and help (F1) show where Redis
    /// clients connect (`redis-cli -p PORT`, from --resp); its keys are
    /// those of `agora tui` (F2 signs in as someone else). If the ports are
    /// taken (another daemon is running), use `agora tui` to join it, or pass
    /// --listen 127.0.0.1:0 --http 127.0.0.1:0.
    Up(UpArgs),
    /// Run the daemon in the foreground until SIGINT or SIGTERM.
    ///
    /// Serves the agora protocol (docs/PROTOCOL.md) on --listen and HTTP on
    /// --http: GET /healthz (alive), /readyz (ready to serve: 200, or 503
    /// while shutting down or when the database does not answer) and
    /// /metrics (Prometheus text format).
    ///
    /// Files in the data directory: agora.db (SQLite, WAL mode; every
    /// acknowledged write survives `kill -9`), jwt.key (the token signing key,
    /// mode 0600, generated on first start unless AGORA_JWT_SECRET or
    /// --jwt-key-file is set). With --database postgres://… the accounts
    /// live in that shared PostgreSQL database instead (docs/FLEET.md).
    ///
    /// On SIGINT or SIGTERM the daemon first drains for --drain-period
    /// (default none: /readyz answers 503 while it still serves), then
    /// stops accepting, finishes requests in flight, tells clients it is
    /// shutting down and to reconnect elsewhere, flushes the database and
    /// exits 0 within 5 seconds. A second signal exits at once with 130.
    /// Under systemd (Type=notify) it reports READY=1, STOPPING=1 and
    /// watchdog pings (docs/DEPLOY.md).
    ///
    /// Logs go to stderr: readable on a terminal, one JSON object per line
    /// with --log-format json; the level comes from --log-level or RUST_LOG
    /// (default info).
    Daemon(DaemonArgs),
    /// Open the TUI against a running daemon (see --addr).
    ///
    /// Signs in with the token saved by `agora login` for that address, if
    /// any. Without one (or when the daemon refuses it) a sign-in form opens;
    /// F2 opens it at any time. It signs in, or registers with Ctrl-R (the
    /// password typed twice: at least 8 bytes); Tab moves between fields,
    /// Enter submits, Esc closes; the token is saved as `agora login` saves
    /// it.
    ///
    /// Keys everywhere: F1 shows help, F2 the sign-in form, Alt-1..5 switch
    /// tabs, Ctrl-C quits. On tabs without an input line also Tab/Shift-Tab
    /// or 1-5 switch tabs, ? shows help and q quits. The Chat tab opens with
    /// its input line focused, so there q, ? and digits are typed; Tab and
    /// Left/Right switch tabs on an empty line; /help lists the slash
    /// commands and /quit quits. In the Cache tab j/k move, g/Home and
    /// G/End jump to the first and last key, / filters. Every input line
    /// edits alike: Home/End, Ctrl-A/Ctrl-E, Ctrl-U clears, Ctrl-W deletes a
    /// word, Ctrl-K the rest.
    ///
    /// Colours follow --color and NO_COLOR, then the terminal: none with
    /// TERM=dumb, the basic 8 on 8-colour terminals (TERM=xterm, screen,
    /// linux), 16 otherwise. The screen needs at least 60x16 cells and says
    /// so when smaller. When the daemon goes away the status bar says
    /// "reconnecting" and the TUI retries with backoff (250 ms doubling to
    /// 5 s). Logs go to the XDG data directory (tui.log).
    Tui(RemoteArgs),
    /// Measure round trips to the daemon.
    ///
    /// Connects, sends --count pings --interval milliseconds apart, prints each
    /// round trip and a min/avg/max summary (with --json: one document with
    /// `rtt_ms`, `min_ms`, `avg_ms`, `max_ms`). Exits 2 with one line on
    /// stderr when the daemon cannot be reached.
    Ping(PingArgs),
    /// Create an account and sign in; the token is saved for later commands.
    ///
    /// Password rules: at least 8 bytes, at most 1024; anything else is
    /// allowed (spaces, any script). It is asked twice on the terminal, or
    /// read from the first line of standard input with --password-stdin.
    /// Names: 1-32 of a-z, 0-9, '_', '-', '.', starting with a letter or
    /// digit; upper case is folded to lower case.
    Register(CredentialArgs),
    /// Sign in; the token is saved in your config directory (mode 0600).
    Login(CredentialArgs),
    /// Forget the saved token for this daemon address.
    ///
    /// Exits 1 when there was nothing to forget.
    Logout(RemoteArgs),
    /// Show who you are signed in as on this daemon.
    ///
    /// Exits 0 when signed in, 1 when not (so scripts can test it).
    Whoami(RemoteArgs),
    /// Chat rooms and private messages from the command line.
    ///
    /// Needs a sign-in (`agora login NAME`). Every subcommand that prints
    /// data takes --json; `tail` prints one JSON object per line with it.
    Chat(ChatArgs),
    /// Turn-based games against other users: tic-tac-toe and connect four.
    ///
    /// Needs a sign-in (`agora login NAME`). Queue for an opponent or
    /// challenge one, play moves, watch live games, read the leaderboard
    /// (Glicko-2) and replay finished games. Every subcommand takes
    /// --json; `watch` prints one JSON object per line with it.
    Game(GameArgs),
    /// The cache (Redis-compatible keyspace) over the native protocol.
    ///
    /// Needs a sign-in (`agora login NAME`). With a subcommand, does one
    /// thing (get, set, scan, …). With none, opens a prompt like redis-cli:
    /// line editing, history, `help`, hints and tab completion on a
    /// terminal; one command per line when standard input is a pipe, with
    /// replies printed raw (like `redis-cli --raw`) when standard output is
    /// not a terminal, formatted (`"bar"`, `(integer) 1`) when it is
    /// (--raw and --no-raw force either), or one JSON object per line with
    /// --json. See docs/CACHE.md.
    ///
    /// With --json, byte strings are JSON strings when they are UTF-8,
    /// otherwise {"base64": "…"}; a missing key prints `null`.
    Cache(CacheArgs),
    /// The cluster of cache daemons (`agora daemon --cluster NAME`): its
    /// nodes, their states, keys and slot shares.
    ///
    /// Needs a sign-in (`agora login NAME`) on the daemon at --addr; any
    /// node answers for the whole cluster (each gossips its key count). A
    /// daemon started without --cluster answers as a one-node cluster
    /// marked "standalone". Takes --json. See docs/CLUSTER.md.
    Cluster(cluster::ClusterArgs),
    /// The blog: articles and comments through the daemon's RealWorld API.
    ///
    /// Talks HTTP to the daemon's API (--http-addr, AGORA_HTTP, default
    /// 127.0.0.1:7080) with the token `agora login` saved for --addr.
    /// Reading needs no sign-in; writing does. Every subcommand takes
    /// --json. See docs/BLOG.md for the API itself.
    Blog(blog::BlogArgs),
    /// Organizations: multi-tenant blogs with members, roles and
    /// invitations.
    ///
    /// Talks HTTP to the daemon's API like `agora blog` (--http-addr,
    /// AGORA_HTTP) with the token `agora login` saved for --addr; every
    /// subcommand needs a sign-in and takes --json. An organization's blog
    /// is `agora blog --org SLUG …`. See docs/BLOG.md, "Organizations".
    Org(org::OrgArgs),
    /// The SSH listener's host key, and the SSH keys that sign you in.
    ///
    /// `agora daemon --ssh` serves the TUI over SSH: `ssh -p 2222 HOST`
    /// opens it signed in as the account your key is bound to. Bind it with
    /// `agora ssh keys add` (signed in, as `agora login` leaves you); see
    /// docs/SSH.md for the commands exec requests run.
    Ssh(ssh::SshArgs),
    /// Check a daemon config file; print the effective settings.
    Config(deploy::ConfigArgs),
    /// Operators' changes to a running daemon: its log filter.
    ///
    /// Talks HTTP to the daemon's /admin (--http-addr, AGORA_HTTP) with the
    /// token `agora login` saved for --addr, which must be one of the
    /// daemon's operators (`agora daemon --operators`). Every subcommand
    /// takes --json.
    Admin(deploy::AdminArgs),
    /// Ask a daemon whether it is ready (/readyz) or alive (/healthz):
    /// exit status 0 or 1.
    ///
    /// For health checks that have no curl: the container image's
    /// HEALTHCHECK, a Kubernetes exec probe, a deploy script waiting for a
    /// node. Prints what the daemon said (ready, draining, shutting_down,
    /// database_unavailable); exit status 1 (what Docker reads as
    /// unhealthy) when it answers anything but 200 or cannot be reached in
    /// --timeout, with one line saying why.
    Health(deploy::HealthArgs),
    /// Copy a data directory's databases and keys while its daemon runs.
    ///
    /// Each database (agora.db and every organization's file) is copied
    /// with SQLite's online backup API in one step, so each copy is a
    /// consistent snapshot taken while the daemon keeps writing; jwt.key
    /// and the SSH host key are copied too, and DEST/manifest.json lists
    /// every file with its size, SHA-256 and schema version. Databases are
    /// copied one after another: consistent per file, not across files. A
    /// progress line per file shows on a terminal. A fleet's PostgreSQL is
    /// backed up with pg_dump: with --database the command prints how and
    /// exits 2.
    Backup(deploy::BackupArgs),
    /// Put a backup (made by `agora backup`) back into a data directory.
    ///
    /// Checks the whole backup first (every file's size and checksum, no
    /// schema newer than this agora), then copies each file beside its
    /// place and renames it over it. Refused while a daemon runs on the
    /// directory (its lock, DIR/agora.lock), and over an existing database
    /// unless --replace.
    Restore(deploy::RestoreArgs),
    /// See and advance the schema of the databases: the data directory's
    /// files, or a fleet's PostgreSQL.
    ///
    /// `agora migrate` alone is `agora migrate up`.
    Migrate(deploy::MigrateArgs),
    /// The background job queue: enqueue, inspect, retry, schedule, and
    /// work a queue with any program.
    ///
    /// Needs a sign-in (`agora login NAME`). Jobs wait in queues by
    /// priority (0 highest … 9 lowest) and time; workers claim them with a
    /// lease kept alive by heartbeats, so a job whose worker dies runs
    /// again (at least once). A failed job is retried with backoff
    /// (attempt⁴ + 15 s + up to 30 s) and lands in the dead letter queue
    /// after its last attempt. The kinds noop, sleep and fail run inside
    /// the daemon. Every subcommand that prints data takes --json; `watch`
    /// and `work` print one JSON object per line with it.
    Jobs(JobsArgs),
    /// Live system and agora metrics, their history and the process table
    /// (the Dashboard's data).
    ///
    /// Needs a sign-in (`agora login NAME`). The daemon samples once per
    /// --metrics-interval for everyone; `watch` follows the samples live
    /// and counts you as a dashboard viewer. Every subcommand takes
    /// --json; `watch` prints one JSON object per line with it. The same
    /// data is on the daemon's HTTP side: /dashboard (a page) and /metrics
    /// (Prometheus).
    Metrics(MetricsArgs),
    /// Alert rules on metrics: list, add, remove, silence, and their
    /// history.
    ///
    /// Needs a sign-in (`agora login NAME`). A rule fires when its
    /// condition has held for its duration (pending until then) and is
    /// resolved when it stops holding, as in Prometheus. Firing and
    /// resolved alerts are posted into the chat room #alerts (see the
    /// daemon's --metrics-alert-room) unless the rule is silenced.
    Alerts(AlertsArgs),
    /// Count lines, bytes and log levels of many files in parallel.
    ///
    /// Walks the PATHs (default .) like ripgrep (hidden files and
    /// .gitignore rules respected unless -u/-uu; -g globs as rg's), counts
    /// every matching file on a rayon pool, and prints the aggregate as a
    /// table, JSON (--json) or CSV (--csv). See docs/PROCESS.md for every
    /// rule.
    Process(crate::commands::process::ProcessArgs),
    /// Load generators for measuring the daemon.
    Bench(BenchArgs),
    /// Print a shell completion script (e.g. `agora completions bash >
    /// /etc/bash_completion.d/agora`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (agora.1 and one per subcommand) into DIR.
    Man {
        /// The directory to write to (created if missing).
        dir: PathBuf,
    },
}

/// Flags of `agora daemon`; each can also come from its AGORA_*
/// environment variable (handy in containers).
#[derive(Debug, Args, Clone)]
pub struct DaemonArgs {
    /// Where to listen and where to keep data.
    #[command(flatten)]
    pub listeners: ListenArgs,

    /// Read settings from this TOML file. Its keys are these flags with
    /// `_` for `-` (`max_frame = "8MiB"`, `cache_persist = true`,
    /// `seeds = ["a:7946", "b:7946"]`); a flag or an AGORA_* variable
    /// overrides the file, the file overrides the defaults. An unknown key
    /// or a bad value stops the daemon with one line naming it; `agora
    /// config check FILE` checks a file and prints the effective settings.
    #[arg(long, env = "AGORA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// On SIGTERM or SIGINT, first drain for this long, e.g. 5s: /readyz
    /// answers 503 at once while everything else keeps serving, so a load
    /// balancer or Kubernetes stops sending new clients; then the shutdown
    /// proper (clients told to reconnect elsewhere, requests in flight
    /// finished, exit 0 within 5 s). Give the orchestrator's stop timeout
    /// (TimeoutStopSec, terminationGracePeriodSeconds) this plus 10 s.
    #[arg(long, env = "AGORA_DRAIN_PERIOD", default_value = "0s", value_parser = crate::duration::parse_duration_or_zero, value_name = "DURATION")]
    pub drain_period: std::time::Duration,

    /// Load balancers in front of the HTTP listener, comma-separated
    /// addresses or networks (127.0.0.1, 10.0.0.0/8, fd00::/8): a request
    /// from one of them is counted against, and logged with, the client
    /// its X-Forwarded-For names (the rightmost address there that is not
    /// itself listed), so the blog's per-IP rate limits see each visitor,
    /// not the balancer. Unlisted senders' X-Forwarded-For is ignored, so
    /// it cannot be forged. HAProxy adds the header with `option
    /// forwardfor` (deploy/haproxy/haproxy.cfg).
    #[arg(
        long,
        env = "AGORA_TRUSTED_PROXIES",
        value_name = "ADDR[/BITS],…",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,

    /// Require RESP clients to `AUTH username password` with an agora
    /// account before any other command (Redis's NOAUTH otherwise).
    #[arg(long, env = "AGORA_RESP_REQUIRE_AUTH")]
    pub resp_require_auth: bool,

    /// Let RESP clients stop the daemon with SHUTDOWN (as `redis-cli
    /// shutdown` stops redis-server). Off by default: the daemon serves
    /// chat, jobs and the blog too, and SHUTDOWN then answers an error
    /// naming this flag. With it, SHUTDOWN stops the daemon as SIGTERM
    /// does (NOSAVE skips the final cache snapshot).
    #[arg(long, env = "AGORA_RESP_ALLOW_SHUTDOWN")]
    pub resp_allow_shutdown: bool,

    /// Event-loop threads serving RESP connections (default: half the
    /// CPUs, at least 1). Each loop serves its connections from one
    /// thread, as redis-server does; more loops let the cache use more
    /// cores, fewer leave cores to local clients.
    #[arg(long, env = "AGORA_RESP_THREADS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub resp_threads: Option<u16>,

    /// How long, in microseconds, a RESP loop keeps polling after its last
    /// request before it sleeps (like Linux's SO_BUSY_POLL). Spares busy
    /// clients a wake-up per request; costs nothing when idle; 0 turns it
    /// off. Under steady traffic with short idle gaps the window stretches
    /// to twice the typical gap, up to 4 times this value. A cluster node
    /// pauses it while another node of its cluster runs on the same
    /// machine (their loops would spin against one another).
    #[arg(long, env = "AGORA_RESP_BUSY_POLL", default_value_t = 50, value_name = "MICROS", value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub resp_busy_poll: u64,

    /// Memory limit of the cache, e.g. 512mb (0 = unlimited). Over it,
    /// writes evict keys per --cache-policy or fail with OOM.
    #[arg(long, env = "AGORA_CACHE_MAX_MEMORY", default_value = "0", value_parser = crate::size::parse_size, value_name = "SIZE")]
    pub cache_max_memory: usize,

    /// What the cache evicts over its memory limit: noeviction,
    /// allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, volatile-ttl,
    /// allkeys-random or volatile-random.
    #[arg(long, env = "AGORA_CACHE_POLICY", default_value = "noeviction", value_parser = parse_policy, value_name = "POLICY")]
    pub cache_policy: agora_daemon::cache::Policy,

    /// Snapshot the cache to DATA/cache.snapshot every 60 s and on
    /// shutdown, and load it on start.
    #[arg(long, env = "AGORA_CACHE_PERSIST")]
    pub cache_persist: bool,

    /// Once listening, write the bound addresses as JSON to this file
    /// (`{"listen": "127.0.0.1:7070", "http": "127.0.0.1:7080", "resp":
    /// "127.0.0.1:7379", "pid": …}`, plus `"cluster"`, the gossip address,
    /// with --cluster), so scripts and tests can use port 0.
    #[arg(long, env = "AGORA_READY_FILE", value_name = "PATH")]
    pub ready_file: Option<PathBuf>,

    /// Largest accepted frame, e.g. 8MiB, 512KiB or 1048576. A client that
    /// sends a larger one gets a `too_large` error and is disconnected.
    #[arg(long, env = "AGORA_MAX_FRAME", default_value = "8MiB", value_parser = crate::size::parse_size, value_name = "SIZE")]
    pub max_frame: usize,

    /// Most connections served at once.
    #[arg(
        long,
        env = "AGORA_MAX_CONNECTIONS",
        default_value_t = 16_384,
        value_name = "N"
    )]
    pub max_connections: usize,

    /// Undelivered push data (bytes) that gets a client disconnected as too
    /// slow at once, like Redis's client-output-buffer-limit hard limit.
    #[arg(long, env = "AGORA_PUSH_LIMIT_HARD", default_value = "32MiB", value_parser = crate::size::parse_size, value_name = "SIZE")]
    pub push_limit_hard: usize,

    /// Undelivered push data that gets a client disconnected when it stays
    /// above this for --push-limit-soft-secs.
    #[arg(long, env = "AGORA_PUSH_LIMIT_SOFT", default_value = "8MiB", value_parser = crate::size::parse_size, value_name = "SIZE")]
    pub push_limit_soft: usize,

    /// How long a client may stay above --push-limit-soft, in seconds.
    #[arg(
        long,
        env = "AGORA_PUSH_LIMIT_SOFT_SECS",
        default_value_t = 60,
        value_name = "SECS"
    )]
    pub push_limit_soft_secs: u64,

    /// Seconds of silence before TCP keepalive probes a client, to find
    /// peers that vanished without closing (with the defaults, within
    /// about 30 s).
    #[arg(
        long,
        env = "AGORA_KEEPALIVE_SECS",
        default_value_t = 15,
        value_name = "SECS"
    )]
    pub keepalive_secs: u64,

    /// Seconds between keepalive probes.
    #[arg(
        long,
        env = "AGORA_KEEPALIVE_INTERVAL_SECS",
        default_value_t = 5,
        value_name = "SECS"
    )]
    pub keepalive_interval_secs: u64,

    /// Unanswered keepalive probes before a client is dropped.
    #[arg(
        long,
        env = "AGORA_KEEPALIVE_PROBES",
        default_value_t = 3,
        value_name = "N"
    )]
    pub keepalive_probes: u32,

    /// Chat messages (room and private) one user may send per second,
    /// sustained.
    #[arg(
        long,
        env = "AGORA_CHAT_RATE",
        default_value_t = 10.0,
        value_name = "N"
    )]
    pub chat_rate: f64,

    /// Chat messages one user may send in a burst after a quiet period.
    #[arg(
        long,
        env = "AGORA_CHAT_BURST",
        default_value_t = 20.0,
        value_name = "N"
    )]
    pub chat_burst: f64,

    /// Rooms one user may belong to.
    #[arg(
        long,
        env = "AGORA_CHAT_MAX_ROOMS",
        default_value_t = 100,
        value_name = "N"
    )]
    pub chat_max_rooms: usize,

    /// Members one room may have.
    #[arg(
        long,
        env = "AGORA_CHAT_MAX_MEMBERS",
        default_value_t = 10_000,
        value_name = "N"
    )]
    pub chat_max_members: usize,

    /// Rooms with more members than this do not announce each join,
    /// leave, sign-in and sign-out to everyone: their members get one
    /// `chat_members` event (counts and names) per
    /// --chat-presence-interval instead, and ask `chat_who` for the list.
    #[arg(
        long,
        env = "AGORA_CHAT_PRESENCE_THRESHOLD",
        default_value_t = 100,
        value_name = "N"
    )]
    pub chat_presence_threshold: usize,

    /// The shortest time between two `chat_members` events of one room
    /// (500ms, 1s, 2m …).
    #[arg(
        long,
        env = "AGORA_CHAT_PRESENCE_INTERVAL",
        default_value = "1s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub chat_presence_interval: std::time::Duration,

    /// With --database postgres://…: how long a node of the fleet may
    /// miss its heartbeats (sent every fifth of this, at most every
    /// second) before the other nodes take it for dead and show its
    /// users offline (500ms, 5s, 1m …).
    #[arg(
        long,
        env = "AGORA_FLEET_NODE_TIMEOUT",
        default_value = "5s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub fleet_node_timeout: std::time::Duration,

    /// How long completed and cancelled jobs are kept before they are
    /// pruned (10s, 2h, 7d …); dead jobs stay until discarded.
    #[arg(
        long,
        env = "AGORA_JOBS_RETENTION",
        default_value = "1d",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub jobs_retention: std::time::Duration,

    /// How long a game player whose last connection closed has to come
    /// back before losing the game by abandonment (500ms, 30s, 2m …).
    #[arg(
        long,
        env = "AGORA_GAME_GRACE",
        default_value = "30s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub game_grace: std::time::Duration,

    /// Secret for signing tokens (HS256). Default: a random key generated
    /// on first start in DATA/jwt.key (mode 0600). Prefer the environment
    /// variable to the flag, which other users can see in `ps`.
    #[arg(
        long,
        env = "AGORA_JWT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub jwt_secret: Option<String>,

    /// Read the token signing key from FILE (at least 32 bytes; one
    /// trailing newline is ignored), e.g. made with
    /// `head -c 32 /dev/urandom > FILE`. Every daemon of a fleet sharing
    /// one PostgreSQL needs the same key (this file, or AGORA_JWT_SECRET),
    /// so a token issued by one is accepted by all.
    #[arg(long, env = "AGORA_JWT_KEY_FILE", value_name = "FILE")]
    pub jwt_key_file: Option<PathBuf>,

    /// Where the data lives: sqlite:PATH (default: DATA/agora.db) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE, a PostgreSQL database
    /// several daemons share (a fleet; docs/FLEET.md). On PostgreSQL the
    /// accounts and tokens are shared (a token from one daemon works on
    /// every other; set the same AGORA_JWT_SECRET or --jwt-key-file on
    /// each), and so are chat, jobs, games (matchmaking, live play through
    /// any node, results and ratings), the blog, organizations, billing
    /// and SSH keys; metrics stay per daemon. TLS follows the URL's
    /// sslmode as libpq's does: disable, prefer (the default), require,
    /// verify-ca or verify-full, with sslrootcert=FILE for the server's
    /// CA (else the system's roots), e.g.
    /// postgres://agora@db:5432/agora?sslmode=verify-full&sslrootcert=ca.pem.
    /// The schema is migrated at start. An unreachable server or refused
    /// credentials stop the daemon with one line saying where and why.
    /// Prefer the environment variable when the URL holds a password.
    #[arg(
        long,
        env = "AGORA_DATABASE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,

    /// The blog API's limits and cache.
    #[command(flatten)]
    pub blog: blog::BlogDaemonArgs,
    /// Cluster membership (`--cluster` and companions).
    #[command(flatten)]
    pub cluster: cluster::ClusterDaemonArgs,
    /// The SSH listener (`--ssh` and companions).
    #[command(flatten)]
    pub ssh: ssh::SshDaemonArgs,
    /// Billing: the mock payment provider and the webhook secret.
    #[command(flatten)]
    pub billing: org_billing::BillingDaemonArgs,
    /// The metrics sampler and its history.
    #[command(flatten)]
    pub metrics: crate::commands::metrics::args::DaemonMetricsArgs,
}

/// Parses an eviction policy by its Redis name.
fn parse_policy(text: &str) -> Result<agora_daemon::cache::Policy, String> {
    agora_daemon::cache::Policy::parse(text).ok_or_else(|| {
        format!("unknown policy {text:?} (noeviction, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, volatile-ttl, allkeys-random, volatile-random)")
    })
}

/// Flags of `agora up`: the embedded daemon's listeners and data.
#[derive(Debug, Args, Clone)]
pub struct UpArgs {
    /// Where the embedded daemon listens and keeps its data.
    #[command(flatten)]
    pub listeners: ListenArgs,
}

/// Listener addresses and the data directory, shared by `agora daemon`
/// and `agora up`; each can also come from its AGORA_* variable.
#[derive(Debug, Args, Clone)]
pub struct ListenArgs {
    /// Address for the protocol listener (port 0 picks a free port).
    #[arg(
        long,
        env = "AGORA_LISTEN",
        default_value = "127.0.0.1:7070",
        value_name = "ADDR"
    )]
    pub listen: String,

    /// Address for the HTTP listener (/healthz, /readyz, /metrics).
    #[arg(
        long,
        env = "AGORA_HTTP",
        default_value = "127.0.0.1:7080",
        value_name = "ADDR"
    )]
    pub http: String,

    /// Address for the RESP listener: the cache, spoken to by redis-cli,
    /// redis-benchmark and Redis client libraries (see docs/CACHE.md).
    #[arg(
        long,
        env = "AGORA_RESP",
        default_value = "127.0.0.1:7379",
        value_name = "ADDR"
    )]
    pub resp: String,

    /// Data directory (database, signing key). Default: the XDG data
    /// directory, e.g. ~/.local/share/agora.
    #[arg(long, env = "AGORA_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// Flags of `agora ping`.
#[derive(Debug, Args, Clone)]
pub struct PingArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// How many pings to send (1 or more).
    #[arg(long, short = 'c', default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,

    /// Pause between pings, in milliseconds.
    #[arg(long, short = 'i', default_value_t = 500, value_name = "MS")]
    pub interval: u64,
}

/// How `register` and `login` get the password.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// The account name: 1–32 of a-z, 0-9, '_', '-', '.', starting with a
    /// letter or digit (upper case is folded to lower case).
    pub name: String,

    /// Read the password from the first line of standard input instead of
    /// prompting (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `agora cache [SUBCOMMAND]`
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// Prompt only: print replies raw, like `redis-cli --raw` (a string's
    /// bytes, integers bare, one array element per line, nil as an empty
    /// line), even on a terminal. The default when standard output is not
    /// a terminal.
    #[arg(long, conflicts_with = "no_raw")]
    pub raw: bool,

    /// Prompt only: print replies formatted like redis-cli on a terminal
    /// (`"bar"`, `(integer) 1`, `1) "a"`), even when standard output is not
    /// a terminal.
    #[arg(long)]
    pub no_raw: bool,

    /// What to do; none opens the prompt.
    #[command(subcommand)]
    pub command: Option<CacheCommand>,
}

/// `agora cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print a key's value (its raw bytes; a newline is added only on a
    /// terminal).
    Get {
        /// The key.
        key: String,
    },
    /// Set a key.
    Set {
        /// The key.
        key: String,
        /// The value; `-` reads standard input (binary-safe, kept as is).
        value: String,
        /// Expire after this long: 500ms, 10s, 2m, 1h, 1d (a bare number
        /// is seconds; zero is refused).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        ttl: Option<std::time::Duration>,
        /// Only set a key that does not exist.
        #[arg(long, conflicts_with = "xx")]
        nx: bool,
        /// Only set a key that already exists.
        #[arg(long)]
        xx: bool,
    },
    /// Delete keys; prints how many existed.
    Del {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print a key's time to live (`none` for a key without expiry).
    Ttl {
        /// The key.
        key: String,
    },
    /// Make a key expire after DURATION.
    Expire {
        /// The key.
        key: String,
        /// 500ms, 10s, 2m, 1h, 1d (a bare number is seconds; zero is
        /// refused).
        #[arg(value_parser = parse_duration)]
        duration: std::time::Duration,
    },
    /// Add BY (default 1, may be negative) to an integer key; prints the
    /// new value.
    Incr {
        /// The key.
        key: String,
        /// The increment.
        #[arg(allow_negative_numbers = true, default_value_t = 1)]
        by: i64,
    },
    /// List the keys matching a glob, one per line (non-printable bytes
    /// quoted like redis-cli). Blocks the daemon's loop over big
    /// keyspaces, like Redis's KEYS: prefer `scan`.
    Keys {
        /// The glob (Redis syntax: *, ?, [a-z], \x).
        #[arg(value_name = "GLOB")]
        pattern: String,
    },
    /// Iterate over the keyspace with SCAN, printing keys as they come.
    Scan {
        /// Only keys matching this glob (Redis syntax: *, ?, [a-z], \x).
        #[arg(long = "match", value_name = "GLOB")]
        pattern: Option<String>,
        /// Keys to examine per SCAN call (a hint; at least 1).
        #[arg(long, value_name = "N", value_parser = parse_count)]
        count: Option<u64>,
        /// Only keys of this type.
        #[arg(long = "type", value_name = "TYPE", value_parser = OneOf::new("a type the cache has", &agora_daemon::cache::store::TYPE_NAMES))]
        kind: Option<String>,
    },
    /// Publish a message on a channel (RESP and native subscribers alike);
    /// prints how many received it.
    Publish {
        /// The channel.
        channel: String,
        /// The message; `-` reads standard input (binary-safe).
        message: String,
    },
    /// Print messages from channels until Ctrl-C, one line each: `CHANNEL
    /// PAYLOAD` (a JSON object per line with --json).
    Subscribe {
        /// The channels.
        #[arg(required = true, value_name = "CHANNEL")]
        channels: Vec<String>,
    },
    /// Print messages from the channels matching glob patterns until
    /// Ctrl-C, like PSUBSCRIBE: one line each, `CHANNEL PAYLOAD` (a JSON
    /// object per line with --json, with the matching `pattern`).
    Psubscribe {
        /// The glob patterns (Redis syntax: *, ?, [a-z], \x).
        #[arg(required = true, value_name = "PATTERN")]
        patterns: Vec<String>,
    },
    /// Print the server's INFO: the named sections, or all of them.
    Info {
        /// Sections: server, clients, memory, persistence, stats,
        /// replication, cpu, modules, errorstats, cluster, keyspace,
        /// commandstats, latencystats, or all (the default).
        #[arg(value_name = "SECTION", value_parser = OneOf::new("an INFO section", &INFO_SECTIONS))]
        sections: Vec<String>,
    },
}

/// INFO's sections, plus `all` and its synonyms.
const INFO_SECTIONS: [&str; 16] = {
    let s = agora_daemon::cache::cmd::INFO_SECTIONS;
    let m = agora_daemon::cache::cmd::INFO_MORE;
    [
        s[0],
        s[1],
        s[2],
        s[3],
        s[4],
        s[5],
        s[6],
        s[7],
        s[8],
        s[9],
        s[10],
        m[0],
        m[1],
        "all",
        "everything",
        "default",
    ]
};

/// A value from a fixed list (any case), refused in one line that names
/// the list; the list also feeds `--help`, man pages and completions.
#[derive(Debug, Clone)]
struct OneOf {
    what: &'static str,
    names: &'static [&'static str],
}

impl OneOf {
    const fn new(what: &'static str, names: &'static [&'static str]) -> OneOf {
        OneOf { what, names }
    }
}

impl clap::builder::TypedValueParser for OneOf {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_string_lossy();
        let lower = text.to_ascii_lowercase();
        if self.names.contains(&lower.as_str()) {
            return Ok(lower);
        }
        let arg = arg.map(ToString::to_string).unwrap_or_default();
        let message = format!(
            "invalid value '{text}' for '{arg}': not {} (one of: {})\n",
            self.what,
            self.names.join(", ")
        );
        Err(clap::Error::raw(clap::error::ErrorKind::InvalidValue, message).with_cmd(cmd))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.names
                .iter()
                .map(|n| clap::builder::PossibleValue::new(*n)),
        ))
    }
}

/// SCAN's COUNT: a whole number, at least 1.
fn parse_count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (1..=i64::MAX as u64).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?}: the count must be a whole number of at least 1"
        )),
    }
}

/// A count that must be 1 or more (bench sizes: refused, not clamped).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

pub use crate::duration::parse_duration;

/// `agora jobs SUBCOMMAND` (the subcommands' flags are in
/// `commands/jobs/args.rs`).
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: crate::commands::jobs::args::JobsCommand,
}

/// `agora metrics SUBCOMMAND`
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: crate::commands::metrics::args::MetricsCommand,
}

/// `agora alerts SUBCOMMAND`
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: crate::commands::metrics::args::AlertsCommand,
}

/// `agora chat SUBCOMMAND`
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: ChatCommand,
}

/// `agora chat …`
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// List every room with its member count and topic.
    Rooms,
    /// Join a room (created on first join); you stay a member across
    /// reconnects until you leave.
    Join {
        /// The room: 1-64 of a-z, 0-9, '.', '_', '-' (case-folded).
        room: String,
    },
    /// Leave a room.
    Leave {
        /// The room.
        room: String,
    },
    /// Send a message to a room; with no MESSAGE, standard input is sent as
    /// one message.
    Send {
        /// The room.
        room: String,
        /// The text (at most 4096 bytes); `-` or nothing reads stdin.
        message: Option<String>,
        /// Send as an action, shown as `* you MESSAGE` (like /me).
        #[arg(long)]
        me: bool,
    },
    /// Send a private message; with no MESSAGE, standard input is sent.
    Dm {
        /// The recipient.
        user: String,
        /// The text; `-` or nothing reads stdin.
        message: Option<String>,
        /// Send as an action.
        #[arg(long)]
        me: bool,
    },
    /// Read private messages: the unread ones (marking them read), or the
    /// conversation with one user.
    Dms {
        /// Show the conversation with this user.
        #[arg(long, value_name = "USER")]
        with: Option<String>,
        /// At most this many messages (1-500).
        #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// Who is in a room (or every user), with presence and last-seen time.
    Who {
        /// The room; every user when omitted.
        room: Option<String>,
    },
    /// A room's message history, oldest first.
    History {
        /// The room.
        room: String,
        /// At most this many messages (1-500).
        #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        /// Only messages before this sequence number (page backwards).
        #[arg(long, value_name = "SEQ")]
        before: Option<u64>,
        /// Only messages after this sequence number.
        #[arg(long, value_name = "SEQ", conflicts_with = "before")]
        since: Option<u64>,
    },
    /// Print a room's new messages as they arrive, until interrupted
    /// (`agora chat tail ops | grep deploy`).
    Tail {
        /// The room (you must be a member).
        room: String,
    },
    /// Set a room's topic (empty clears it).
    Topic {
        /// The room.
        room: String,
        /// The topic.
        topic: String,
    },
    /// Mark yourself away with a message, or back with --back.
    Away {
        /// The away message.
        #[arg(required_unless_present = "back")]
        message: Option<String>,
        /// Clear the away state.
        #[arg(long, conflicts_with = "message")]
        back: bool,
    },
}

/// `agora game SUBCOMMAND`
#[derive(Debug, Args)]
pub struct GameArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: GameCommand,
}

/// `agora game …`
#[derive(Debug, Subcommand)]
pub enum GameCommand {
    /// Wait in the matchmaking pools of one or more game types for an
    /// opponent of a similar rating, then print the game that starts.
    ///
    /// The rating window widens the longer you wait. Leaving (Ctrl-C,
    /// --wait running out) takes you out of the pools.
    Queue {
        /// Game types: tictactoe (ttt), connect4 (c4).
        #[arg(required = true, value_name = "TYPE", value_parser = parse_kind)]
        kinds: Vec<String>,
        /// Time control, minutes+seconds of increment (3+2, 0.5+0).
        #[arg(long, default_value = "3+2", value_name = "M+S", value_parser = parse_time)]
        time: TimeControl,
        /// Give up after this long (500ms, 10s, 2m): exit status 1.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        wait: Option<std::time::Duration>,
    },
    /// Leave every matchmaking pool.
    Cancel,
    /// Challenge a user to a game; they have a minute to accept. The
    /// challenger moves first.
    Challenge {
        /// Who to challenge.
        user: String,
        /// The game type: tictactoe (ttt), connect4 (c4).
        #[arg(value_parser = parse_kind)]
        kind: String,
        /// Time control, minutes+seconds of increment (3+2, 0.5+0).
        #[arg(long, default_value = "3+2", value_name = "M+S", value_parser = parse_time)]
        time: TimeControl,
    },
    /// Accept a challenge: the game starts.
    Accept {
        /// The game's id.
        id: u64,
    },
    /// Decline a challenge (or withdraw your own).
    Decline {
        /// The game's id.
        id: u64,
    },
    /// Live games, and challenges to or from you.
    List,
    /// Print a game's state, then each move and event as it happens,
    /// until the game ends.
    Watch {
        /// The game's id.
        id: u64,
    },
    /// Play a move: a cell a1-c3 (tictactoe) or a column 1-7 (connect4).
    Move {
        /// The game's id.
        id: u64,
        /// The move.
        #[arg(value_name = "MOVE")]
        play: String,
        /// The number of moves the game had when you chose this one
        /// (the state's seq); a move made against an older position is
        /// refused. Default: the game's seq now.
        #[arg(long, value_name = "N")]
        seq: Option<u64>,
    },
    /// A game's board, clocks, moves and result, live or finished.
    Show {
        /// The game's id.
        id: u64,
    },
    /// Resign a game.
    Resign {
        /// The game's id.
        id: u64,
    },
    /// Offer a draw, or accept the one offered; --decline declines or
    /// withdraws it.
    Draw {
        /// The game's id.
        id: u64,
        /// Decline (or withdraw) the offer.
        #[arg(long)]
        decline: bool,
    },
    /// The best Glicko-2 ratings, with games played, won, lost and drawn.
    Leaderboard {
        /// Only this game type.
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: Option<String>,
        /// At most this many entries (1-500).
        #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// A finished game, position by position.
    Replay {
        /// The game's id.
        id: u64,
    },
}

/// A game type by name or alias (`ttt`, `c4`), as its wire name.
pub fn parse_kind(text: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    let kind = match lower.as_str() {
        "ttt" | "tic-tac-toe" => "tictactoe",
        "c4" | "connect-four" | "connectfour" => "connect4",
        other => other,
    };
    if KINDS.contains(&kind) {
        Ok(kind.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a game type: one of {} (or ttt, c4)",
            KINDS.join(", ")
        ))
    }
}

/// A time control in lichess's notation.
pub fn parse_time(text: &str) -> Result<TimeControl, String> {
    TimeControl::parse(text)
}

/// Flags of `agora bench game`.
#[derive(Debug, Args, Clone)]
pub struct BenchGameArgs {
    /// Games played at once (two bots, two users, two connections each).
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = at_least_one)]
    pub games: usize,
    /// Seconds to measure, after a one-second warm-up.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = parse_secs)]
    pub duration: f64,
    /// The game type: tictactoe (ttt) or connect4 (c4).
    #[arg(long, default_value = "tictactoe", value_name = "TYPE", value_parser = parse_kind)]
    pub kind: String,
    /// The daemon's process id, to read its CPU time and memory.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// How long a bot thinks before each move, on average (uniform between
    /// half and one and a half times this): 0 plays as fast as the daemon
    /// answers (saturation, where the latency is mostly queueing); a human
    /// pace such as 1s measures the latency at a load the daemon keeps up
    /// with. The think time is not part of the measured latency.
    #[arg(long, default_value = "0s", value_parser = crate::duration::parse_duration_or_zero, value_name = "DURATION")]
    pub think: std::time::Duration,
}

/// Seconds for the bench flags: a finite number above 0 (`0.5`, `10`).
/// Refused otherwise, rather than panicking on a negative or infinite
/// duration or dividing by zero.
fn parse_secs(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds above 0 (try 0.5 or 10)"
        )),
    }
}

/// Seconds, where 0 is allowed (`--hold 0`).
fn parse_secs_or_zero(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds of 0 or more (try 0.5 or 10)"
        )),
    }
}

/// A rate per second: a finite number above 0.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a rate above 0 (try 20 or 1000)")),
    }
}

/// `agora bench SUBCOMMAND`
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// `agora bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Chat load: idle clients, fan-out latency, persisted messages/s,
    /// filling one room.
    #[command(subcommand)]
    Chat(BenchChatCommand),
    /// Request/reply round trips per second over N concurrent connections.
    ///
    /// Each connection keeps --pipeline pings in flight for --duration
    /// seconds after a one-second warm-up, speaking raw frames. Prints
    /// requests per second and latency percentiles (p50, p90, p99, p99.9,
    /// max) in microseconds. scripts/bench-ping.sh runs the standard rows.
    Ping(BenchPingArgs),
    /// Job queue throughput: enqueue N jobs (in batches or one by one) and
    /// wait until all completed; jobs/s enqueued and end to end, and the
    /// wait from when a job could run to when it started (p50, p99, max).
    ///
    /// The kind noop runs inside the daemon; any other kind needs workers
    /// on the queue. scripts/bench-jobs.sh runs the standard rows.
    Jobs(crate::commands::bench_jobs::BenchJobsArgs),

    /// Games: N concurrent games played by bots as fast as allowed;
    /// reports moves per second, move → broadcast latency, and with
    /// --pid the daemon's CPU and memory. scripts/bench-games.sh runs it.
    Game(BenchGameArgs),
}

/// `agora bench chat …`
#[derive(Debug, Subcommand)]
pub enum BenchChatCommand {
    /// Open N signed-in connections and keep them idle; report the
    /// daemon's memory (with --pid) before and after.
    Idle {
        /// Idle connections to open.
        #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = at_least_one)]
        clients: usize,
        /// Distinct users they sign in as.
        #[arg(long, default_value_t = 100, value_name = "N", value_parser = at_least_one)]
        users: usize,
        /// The daemon's process id, to read its resident memory.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// Seconds to hold the connections before measuring.
        #[arg(long, default_value_t = 2.0, value_name = "SECS", value_parser = parse_secs_or_zero)]
        hold: f64,
    },
    /// One room with many members: some send at a fixed total rate, all
    /// receive; reports delivery latency and deliveries per second.
    Fanout {
        /// Members of the room (each its own user and connection).
        #[arg(long, default_value_t = 1000, value_name = "N", value_parser = at_least_one)]
        members: usize,
        /// How many of the members send.
        #[arg(long, default_value_t = 100, value_name = "N", value_parser = at_least_one)]
        senders: usize,
        /// Total messages per second sent into the room.
        #[arg(long, default_value_t = 1000.0, value_name = "N", value_parser = parse_rate)]
        rate: f64,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = parse_secs)]
        duration: f64,
        /// Receive on other daemons of a fleet (comma-separated protocol
        /// addresses, used in turn): the members' receiving connections go
        /// there while the senders send through --addr, so the latency is
        /// across nodes (docs/FLEET.md).
        #[arg(long, value_name = "HOST:PORT,…", value_delimiter = ',')]
        receive_addr: Vec<String>,
    },
    /// Senders sending as fast as acknowledgements allow; reports stored
    /// (acknowledged) messages per second.
    Persist {
        /// Concurrent senders (each its own connection and room).
        #[arg(long, default_value_t = 32, value_name = "N", value_parser = at_least_one)]
        senders: usize,
        /// Messages each sender keeps in flight.
        #[arg(long, default_value_t = 16, value_name = "N", value_parser = at_least_one)]
        pipeline: usize,
        /// Seconds to measure.
        #[arg(long, default_value_t = 5.0, value_name = "SECS", value_parser = parse_secs)]
        duration: f64,
    },
    /// N signed-in clients join one new room, one after another (each
    /// waits for its reply), while every client reads its pushes; reports
    /// the time to fill the room and the pushes it cost.
    Join {
        /// Clients that join (each its own user and connection).
        #[arg(long, default_value_t = 2000, value_name = "N", value_parser = at_least_one)]
        clients: usize,
        /// Joins in flight at once (1: one after another).
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = at_least_one)]
        concurrency: usize,
        /// Seconds without any push, after the last join, that end the
        /// count (longer than the daemon's presence interval).
        #[arg(long, default_value_t = 3.0, value_name = "SECS", value_parser = parse_secs)]
        quiet: f64,
        /// The daemon's process id, to read its resident memory.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
    },
}

/// Flags of `agora bench ping`.
#[derive(Debug, Args, Clone)]
pub struct BenchPingArgs {
    /// Concurrent connections.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = at_least_one)]
    pub connections: usize,

    /// How long to measure, in seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 5.0, value_name = "SECS", value_parser = parse_secs)]
    pub duration: f64,

    /// Requests each connection keeps in flight (1 = strict request/reply).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = at_least_one)]
    pub pipeline: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn bench_seconds_and_rates_are_finite_and_positive() {
        assert_eq!(parse_secs("0.5"), Ok(0.5));
        assert_eq!(parse_secs_or_zero("0"), Ok(0.0));
        assert_eq!(parse_rate("20"), Ok(20.0));
        for bad in ["0", "-1", "inf", "NaN", "soon", ""] {
            assert!(parse_secs(bad).is_err(), "{bad}");
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert!(parse_secs_or_zero("-0.1").is_err());
        assert!(parse_secs_or_zero("inf").is_err());
        // Refused by clap, naming the flag, instead of a panic later.
        let err = Cli::try_parse_from(["agora", "bench", "chat", "persist", "--duration", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--duration"), "{err}");
    }

    #[test]
    fn cache_flags_parse() {
        let cli = Cli::try_parse_from(["agora", "cache", "set", "k", "v", "--ttl", "10s", "--nx"])
            .unwrap();
        let Command::Cache(CacheArgs {
            command: Some(CacheCommand::Set { ttl, nx, xx, .. }),
            ..
        }) = cli.command
        else {
            panic!("parsed {:?}", cli.command);
        };
        assert_eq!(ttl, Some(std::time::Duration::from_secs(10)));
        assert!(nx && !xx);
        assert!(Cli::try_parse_from(["agora", "cache", "set", "k", "v", "--nx", "--xx"]).is_err());
        let cli = Cli::try_parse_from(["agora", "cache", "incr", "n", "-5"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Cache(CacheArgs {
                command: Some(CacheCommand::Incr { by: -5, .. }),
                ..
            })
        ));
        let cli = Cli::try_parse_from(["agora", "cache"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Cache(CacheArgs { command: None, .. })
        ));
    }
}
