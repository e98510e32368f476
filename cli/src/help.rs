//! What `--help` and the man pages say beyond the flags: examples, exit
//! status, environment, files and related commands. One table for both,
//! applied to the clap definitions at start-up ([`command`]), so `--help`,
//! `agora man` and the completions come from the same source.

use clap::CommandFactory as _;

use crate::args::Cli;

/// Extras of one command, by its path below `agora` (`""` is `agora`).
pub struct Extra {
    /// The command's path, words separated by spaces (`"chat send"`).
    pub path: &'static str,
    /// `(command line, what it does)`.
    pub examples: &'static [(&'static str, &'static str)],
    /// What exit status 1 means for this command; `None`: it is not used.
    pub nothing: Option<&'static str>,
    /// Exit codes whose meaning is more specific for this command than
    /// the common table: `(code, meaning)`.
    pub exit: &'static [(&'static str, &'static str)],
    /// Files the command reads or writes: `(path, what)`.
    pub files: &'static [(&'static str, &'static str)],
    /// Related commands (`agora-chat(1)` …), as page names.
    pub see_also: &'static [&'static str],
}

const CREDENTIALS: (&str, &str) = (
    "$XDG_CONFIG_HOME/agora/credentials.json",
    "saved sign-ins, a token per daemon address (mode 0600)",
);

const MIGRATE_EXAMPLES: &[(&str, &str)] = &[
    (
        "agora migrate",
        "every database of the default data directory, to the newest",
    ),
    (
        "agora migrate up --data /srv/agora --dry-run",
        "what would run, changing nothing",
    ),
    (
        "agora migrate up --to 11 --json",
        "the shared database to version 11 only; every file's result as JSON",
    ),
    (
        "AGORA_DATABASE=postgres://agora:PW@db/agora agora migrate up",
        "a fleet's PostgreSQL, beside running daemons",
    ),
];

const MIGRATE_EXIT: &[(&str, &str)] = &[
    ("0", "every database migrated (or, with --dry-run, checked)"),
    (
        "2",
        "a daemon runs on the directory, or a database failed (it is left as it was; the others were still migrated)",
    ),
];

const MIGRATE_FILES: &[(&str, &str)] = &[
    ("DIR/agora.db", "the shared database"),
    ("DIR/tenants/ID.db", "each organization's blog"),
    (
        "DIR/agora.lock",
        "held by running daemons; taken exclusively by `up`",
    ),
];

const CONFIG_EXAMPLES: &[(&str, &str)] = &[
    (
        "agora config check /etc/agora/agora.toml",
        "check a file; print every setting and where it comes from",
    ),
    (
        "agora config check agora.toml --json | jq '.settings[] | select(.source == \"file\")'",
        "the settings the file sets",
    ),
    (
        "agora config check > agora.toml",
        "a starting file: every setting at its default",
    ),
];

const ADMIN_EXAMPLES: &[(&str, &str)] = &[
    ("agora admin log-level", "the filter in effect"),
    (
        "agora admin log-level debug",
        "everything at debug, until the daemon restarts",
    ),
    (
        "agora admin log-level 'info,agora::request=warn'",
        "info, without a line per request",
    ),
    (
        "agora admin log-level 'info,agora_daemon::cluster=debug' --addr node2:7070 --http-addr node2:7080",
        "look into one node's cluster traffic",
    ),
];

/// Every command with extras. Commands not listed get the common exit
/// status and environment only.
pub const EXTRAS: &[Extra] = &[
    Extra {
        path: "",
        examples: &[
            (
                "agora up",
                "a daemon, your account and the TUI, in one command",
            ),
            ("agora daemon &", "run a daemon; then, from anywhere:"),
            (
                "agora register alice",
                "create an account (prompts for a password)",
            ),
            (
                "echo 'deploy done' | agora chat send ops",
                "send a message from a script",
            ),
            ("agora cache set greeting hello --ttl 10s", "use the cache"),
            (
                "agora process /var/log -g '*.log'",
                "count lines and log levels",
            ),
        ],
        nothing: Some("there was nothing to report: no match, an empty result, a missing key"),
        exit: &[],
        files: &[
            CREDENTIALS,
            (
                "$XDG_DATA_HOME/agora/",
                "the default data directory of `agora up` and `agora daemon`",
            ),
        ],
        see_also: &[
            "agora-up",
            "agora-daemon",
            "agora-chat",
            "agora-cache",
            "agora-jobs",
            "agora-process",
        ],
    },
    Extra {
        path: "up",
        examples: &[
            (
                "agora up",
                "start everything; Ctrl-C (or /quit) quits and stops the daemon",
            ),
            (
                "agora up --data /tmp/agora-demo",
                "a throw-away data directory",
            ),
            (
                "agora up --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0",
                "when another daemon holds the default ports",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[
            ("DATA/agora.db", "the database (SQLite, WAL)"),
            ("DATA/agora.log", "the embedded daemon's log"),
            (
                "DATA/local-account.json",
                "your local account's password (mode 0600)",
            ),
            CREDENTIALS,
        ],
        see_also: &["agora-tui", "agora-daemon"],
    },
    Extra {
        path: "daemon",
        examples: &[
            (
                "agora daemon",
                "serve on 127.0.0.1:7070 (protocol), :7080 (HTTP), :7379 (RESP)",
            ),
            (
                "AGORA_LISTEN=0.0.0.0:7070 AGORA_DATA=/var/lib/agora agora daemon",
                "configured from the environment, as in a container",
            ),
            (
                "agora daemon --listen 127.0.0.1:0 --ready-file ready.json",
                "a free port, written to ready.json once listening",
            ),
            ("curl -s 127.0.0.1:7080/metrics", "Prometheus metrics"),
            (
                "AGORA_DATABASE=postgres://agora:PW@db:5432/agora agora daemon --jwt-key-file fleet.key",
                "one node of a fleet: accounts shared through PostgreSQL (docs/FLEET.md)",
            ),
            (
                "agora daemon --config /etc/agora/agora.toml",
                "settings from a file (flags and AGORA_* variables override it)",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[
            (
                "DATA/agora.db",
                "the database (SQLite, WAL): accounts, chat",
            ),
            (
                "DATA/jwt.key",
                "the token signing key (mode 0600), unless AGORA_JWT_SECRET or --jwt-key-file",
            ),
            (
                "DATA/cache.snapshot",
                "the cache snapshot, with --cache-persist",
            ),
            (
                "DATA/ssh_host_ed25519_key",
                "the SSH host key (mode 0600), made on first start with --ssh",
            ),
        ],
        see_also: &["agora-up", "agora-ping", "agora-ssh"],
    },
    Extra {
        path: "tui",
        examples: &[
            ("agora tui", "the TUI against the daemon at 127.0.0.1:7070"),
            (
                "agora tui --addr box.example:7070",
                "against another daemon",
            ),
            ("NO_COLOR=1 agora tui", "without colours"),
            (
                "TERM=dumb agora tui",
                "without colours too (8-colour terminals get 8)",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[
            CREDENTIALS,
            ("$XDG_DATA_HOME/agora/tui.log", "the TUI's log"),
        ],
        see_also: &["agora-up", "agora-login"],
    },
    Extra {
        path: "ping",
        examples: &[
            ("agora ping", "four round trips"),
            ("agora ping -c 1 --json", "one, as JSON"),
        ],
        nothing: None,
        exit: &[],
        files: &[],
        see_also: &["agora-bench-ping"],
    },
    Extra {
        path: "register",
        examples: &[
            ("agora register alice", "prompts for the password twice"),
            (
                "printf '%s\\n' \"$PASS\" | agora register alice --password-stdin",
                "from a script",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-login", "agora-whoami"],
    },
    Extra {
        path: "login",
        examples: &[
            ("agora login alice", "prompts for the password"),
            (
                "agora login alice --addr box.example:7070",
                "sign in on another daemon",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-logout", "agora-whoami"],
    },
    Extra {
        path: "logout",
        examples: &[("agora logout", "forget the token for 127.0.0.1:7070")],
        nothing: Some("you were not signed in on that daemon"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-login"],
    },
    Extra {
        path: "whoami",
        examples: &[
            ("agora whoami", "who you are on the daemon"),
            (
                "agora whoami >/dev/null || agora login alice",
                "sign in when needed",
            ),
        ],
        nothing: Some("not signed in on that daemon"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-login"],
    },
    Extra {
        path: "chat",
        examples: &[
            ("agora chat join ops", "join (or create) a room"),
            (
                "echo 'deploy done' | agora chat send ops",
                "send standard input",
            ),
            ("agora chat tail ops | grep deploy", "follow new messages"),
            (
                "agora chat history ops --limit 20 --json",
                "the last 20 messages as JSON",
            ),
            ("agora chat dm bob 'lunch?'", "a private message"),
            (
                "agora chat away 'in a meeting'",
                "away until `agora chat away --back`",
            ),
        ],
        nothing: Some("nothing to show: no rooms, no messages, no unread private messages"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-tui", "agora-login"],
    },
    Extra {
        path: "game",
        examples: &[
            (
                "agora game queue tictactoe connect4 --time 3+2",
                "wait for an opponent",
            ),
            (
                "agora game challenge bob c4",
                "challenge bob to connect four",
            ),
            ("agora game accept 12", "bob accepts"),
            ("agora game move 12 4", "drop a piece in column 4"),
            ("agora game watch 12", "follow a live game"),
            (
                "agora game show 12 --json | jq -r .legal[0]",
                "a bot's next move",
            ),
            ("agora game leaderboard tictactoe", "the best ratings"),
            ("agora game replay 12", "step through a finished game"),
        ],
        nothing: Some(
            "nothing to show: no live games, no ratings yet, no such game (show, replay: `null` with --json; watch prints nothing), no opponent before --wait ran out (queue)",
        ),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-tui", "agora-login"],
    },
    Extra {
        path: "game watch",
        examples: &[
            (
                "agora game watch 12",
                "the board, then each move, until the game ends",
            ),
            (
                "agora game watch 12 --json",
                "one {\"type\": \"state\"|\"moved\"|\"ended\"|…} object per line",
            ),
        ],
        nothing: Some("no such game: nothing printed"),
        exit: &[
            ("0", "the game ended (or was over already)"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-game"],
    },
    Extra {
        path: "game queue",
        examples: &[
            ("agora game queue ttt", "tic-tac-toe, 3+2"),
            (
                "agora game queue tictactoe connect4 --time 1+0 --wait 2m",
                "either game, one minute each, give up after two minutes",
            ),
        ],
        nothing: Some("no opponent before --wait ran out (`null` with --json)"),
        exit: &[
            ("0", "a game started (printed)"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C); out of the pools"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-game"],
    },
    Extra {
        path: "cache",
        examples: &[
            ("agora cache set greeting hello --ttl 10s", ""),
            ("agora cache get greeting", ""),
            (
                "agora cache --json get greeting",
                "{\"key\": \"greeting\", \"value\": \"hello\"}",
            ),
            ("agora cache scan --match 'user:*' --type hash", ""),
            (
                "agora cache",
                "the prompt (try `help`, `help set`, `help @string`)",
            ),
            (
                "printf 'set a 1\\nincr a\\n' | agora cache",
                "one command per line; prints OK, then 2",
            ),
            (
                "agora cache --json < commands.txt",
                "one {\"type\": \"reply\"|\"error\", …} line per command",
            ),
        ],
        nothing: Some(
            "nothing to report: no such key (get, ttl, expire), no match (keys, scan), set --nx/--xx did not write",
        ),
        exit: &[
            ("0", "success; the prompt: no command got an error reply"),
            (
                "2",
                "error (one line on stderr); the prompt on a pipe: some command got an error reply",
            ),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["redis-cli"],
    },
    Extra {
        path: "cache get",
        examples: &[
            ("agora cache get greeting", ""),
            ("agora cache get blob > copy.png", ""),
            (
                "agora cache --json get greeting",
                "{\"key\": \"greeting\", \"value\": \"hello\"}",
            ),
        ],
        nothing: Some("no such key: nothing printed (`null` with --json)"),
        exit: &[
            ("0", "printed"),
            ("2", "error, e.g. the key holds a list (WRONGTYPE)"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache set",
        examples: &[
            ("agora cache set greeting hello --ttl 10s", ""),
            ("agora cache set lock me --nx --ttl 30s", "only if absent"),
            (
                "agora cache set blob - < image.png",
                "the value from standard input",
            ),
            (
                "agora cache --json set k v",
                "{\"key\": \"k\", \"set\": true}",
            ),
        ],
        nothing: Some(
            "--nx or --xx prevented the write ({\"key\": …, \"set\": false} with --json)",
        ),
        exit: &[
            ("0", "written (prints OK)"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache del",
        examples: &[
            ("agora cache del session:1 session:2", ""),
            ("agora cache --json del a b", "{\"deleted\": 1}"),
        ],
        nothing: None,
        exit: &[
            ("0", "done (even when none existed: the count is 0)"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache ttl",
        examples: &[
            ("agora cache ttl greeting", "9.981s"),
            (
                "agora cache --json ttl greeting",
                "{\"key\": \"greeting\", \"ttl_ms\": 9981}; null ttl_ms without expiry",
            ),
        ],
        nothing: Some("no such key: nothing printed (`null` with --json)"),
        exit: &[
            ("0", "printed"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache expire",
        examples: &[
            ("agora cache expire greeting 2m", ""),
            (
                "agora cache --json expire greeting 500ms",
                "{\"key\": \"greeting\", \"ttl_ms\": 500}",
            ),
        ],
        nothing: Some("no such key (`null` with --json)"),
        exit: &[
            ("0", "done (prints OK)"),
            ("2", "error, e.g. a duration that is not one"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache incr",
        examples: &[
            ("agora cache incr visits", ""),
            ("agora cache incr stock -5", ""),
            (
                "agora cache --json incr visits",
                "{\"key\": \"visits\", \"value\": 2}",
            ),
        ],
        nothing: None,
        exit: &[
            ("0", "printed"),
            ("2", "error, e.g. the value is not an integer"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache keys",
        examples: &[
            ("agora cache keys 'user:*'", ""),
            (
                "agora cache --json keys 'user:*'",
                "{\"keys\": [\"user:1\", \"user:2\"]}",
            ),
        ],
        nothing: Some("no key matches ({\"keys\": []} with --json)"),
        exit: &[
            ("0", "printed"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache scan",
        examples: &[
            ("agora cache scan --match 'user:*'", ""),
            ("agora cache scan --type hash --count 1000", ""),
            (
                "agora cache --json scan --match 'user:*'",
                "{\"keys\": [\"user:1\", \"user:2\"]}",
            ),
        ],
        nothing: Some("no key matches ({\"keys\": []} with --json)"),
        exit: &[
            ("0", "printed"),
            ("2", "error, e.g. an unknown --type or --count 0"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache publish",
        examples: &[
            ("agora cache publish news 'hello'", ""),
            (
                "tail -f log | while read l; do agora cache publish log \"$l\"; done",
                "",
            ),
            (
                "agora cache --json publish news hi",
                "{\"channel\": \"news\", \"receivers\": 2}",
            ),
        ],
        nothing: None,
        exit: &[
            ("0", "published (even to nobody: the count is 0)"),
            ("2", "error"),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache subscribe",
        examples: &[
            ("agora cache subscribe news alerts", ""),
            (
                "agora cache --json subscribe news",
                "{\"type\": \"subscribe\", \"channel\": \"news\", \"count\": 1}; {\"type\": \"message\", \"channel\": \"news\", \"payload\": \"hi\"}",
            ),
        ],
        nothing: None,
        exit: &[
            ("2", "error, e.g. the daemon went away"),
            ("130", "interrupted (Ctrl-C): the normal way to stop"),
            ("0", "not used"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache psubscribe",
        examples: &[
            ("agora cache psubscribe 'sport.*'", ""),
            (
                "agora cache --json psubscribe 'sport.*'",
                "{\"type\": \"psubscribe\", \"pattern\": \"sport.*\", \"count\": 1}; {\"type\": \"message\", \"pattern\": \"sport.*\", \"channel\": \"sport.ski\", \"payload\": \"powder\"}",
            ),
        ],
        nothing: None,
        exit: &[
            ("2", "error, e.g. the daemon went away"),
            ("130", "interrupted (Ctrl-C): the normal way to stop"),
            ("0", "not used"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "cache info",
        examples: &[
            ("agora cache info memory", ""),
            ("agora cache info server stats", ""),
            (
                "agora cache --json info keyspace",
                "{\"keyspace\": {\"db0\": {\"keys\": 2, \"expires\": 0, \"avg_ttl\": 0}}}",
            ),
        ],
        nothing: None,
        exit: &[
            ("0", "printed"),
            (
                "2",
                "error, e.g. a section INFO does not have (Redis would print nothing)",
            ),
            ("130", "interrupted (Ctrl-C)"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-cache", "redis-cli"],
    },
    Extra {
        path: "blog",
        examples: &[
            (
                "agora blog post new --title 'Hello' --description 'First post' --tag intro --body-file hello.md",
                "publish an article (prints its slug)",
            ),
            (
                "agora blog posts --tag intro",
                "the newest articles with a tag",
            ),
            ("agora blog show hello", "one article with its body"),
            (
                "agora blog comment hello 'Nice!' --reply-to 3",
                "reply to comment #3",
            ),
            (
                "agora blog comments hello --tree",
                "the comments as a thread",
            ),
            (
                "agora blog --http-addr 127.0.0.1:9080 posts --json",
                "a daemon whose HTTP listener is elsewhere",
            ),
        ],
        nothing: Some("nothing to show: no articles, no comments, or `show` of an unknown slug"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-login", "agora-daemon"],
    },
    Extra {
        path: "org",
        examples: &[
            (
                "agora org create acme --name 'Acme Inc.'",
                "an organization; you own it",
            ),
            (
                "token=$(agora org invite acme bob --role author)",
                "invite bob; he runs `agora org accept $token`",
            ),
            ("agora org members acme", "who is in it, with their roles"),
            ("agora org role acme bob admin", "change bob's role"),
            (
                "agora org transfer acme bob",
                "bob owns it; you become an admin",
            ),
            ("agora blog --org acme posts", "acme's blog"),
        ],
        nothing: Some("nothing to show: `list` when you belong to no organization"),
        exit: &[(
            "2",
            "error: not signed in, an unknown organization, member or invitation, a role that may not do it, the last owner stepping down",
        )],
        files: &[CREDENTIALS],
        see_also: &["agora-blog", "agora-login"],
    },
    Extra {
        path: "ssh",
        examples: &[
            (
                "agora daemon --ssh",
                "serve the TUI over SSH on 127.0.0.1:2222",
            ),
            (
                "agora ssh keys add",
                "bind ~/.ssh/id_ed25519.pub to the signed-in account",
            ),
            ("ssh -p 2222 HOST", "the TUI, signed in by that key"),
            (
                "ssh -p 2222 HOST chat send general hello",
                "a command, as that user (ssh -p 2222 HOST help lists them)",
            ),
            (
                "agora ssh fingerprint",
                "the host key's fingerprint, to compare with what ssh shows",
            ),
        ],
        nothing: Some(
            "nothing to show: `keys list` without keys, `fingerprint` without a host key",
        ),
        exit: &[(
            "2",
            "error: not signed in, not a public key, a key another account holds, `rm` of a key you do not hold",
        )],
        files: &[
            CREDENTIALS,
            (
                "~/.ssh/id_ed25519.pub",
                "the key `keys add` reads without FILE",
            ),
            (
                "DATA/ssh_host_ed25519_key",
                "the host key `fingerprint` reads",
            ),
        ],
        see_also: &["agora-daemon", "agora-login", "agora-tui"],
    },
    Extra {
        path: "org delete",
        examples: &[
            (
                "agora org delete acme",
                "asks you to type acme back (on a terminal)",
            ),
            ("agora org delete acme --yes", "in a script"),
        ],
        nothing: None,
        exit: &[(
            "2",
            "error, or no confirmation: not a terminal and no --yes, or the slug typed back differs",
        )],
        files: &[CREDENTIALS],
        see_also: &["agora-org"],
    },
    Extra {
        path: "backup",
        examples: &[
            (
                "agora backup /backups/agora-$(date +%F)",
                "the default data directory, while its daemon runs",
            ),
            (
                "agora backup /backups/today --data /var/lib/agora --json",
                "every file with its size, SHA-256 and schema version",
            ),
        ],
        nothing: None,
        exit: &[
            ("0", "every file backed up and checked"),
            (
                "2",
                "no database, DEST not empty, a file unreadable, or --database (PostgreSQL: use pg_dump, as the message says)",
            ),
        ],
        files: &[
            (
                "DEST/manifest.json",
                "every file, its size, SHA-256 and schema version",
            ),
            (
                "DEST/agora.db, DEST/tenants/ID.db",
                "the databases, each one snapshot",
            ),
            (
                "DEST/jwt.key, DEST/ssh_host_ed25519_key",
                "the keys, when present",
            ),
        ],
        see_also: &["agora-restore", "agora-migrate"],
    },
    Extra {
        path: "restore",
        examples: &[
            (
                "agora restore /backups/2026-12-01 --data /var/lib/agora",
                "into a new or empty data directory (no daemon running)",
            ),
            (
                "systemctl stop agora && agora restore /backups/2026-12-01 --data /var/lib/agora --replace && systemctl start agora",
                "over the live one",
            ),
        ],
        nothing: None,
        exit: &[
            ("0", "every file checked and restored"),
            (
                "2",
                "a damaged backup, a schema newer than this agora, a running daemon, or a database already there without --replace",
            ),
        ],
        files: &[(
            "DIR/agora.lock",
            "taken exclusively: refused while a daemon runs",
        )],
        see_also: &["agora-backup", "agora-daemon"],
    },
    Extra {
        path: "config",
        examples: CONFIG_EXAMPLES,
        nothing: None,
        exit: &[],
        files: &[],
        see_also: &["agora-daemon"],
    },
    Extra {
        path: "config check",
        examples: CONFIG_EXAMPLES,
        nothing: None,
        exit: &[
            ("0", "the file is valid"),
            (
                "2",
                "the file cannot be read, is not TOML, or has an unknown key or a bad value (named)",
            ),
        ],
        files: &[],
        see_also: &["agora-daemon"],
    },
    Extra {
        path: "admin",
        examples: ADMIN_EXAMPLES,
        nothing: None,
        exit: &[],
        files: &[],
        see_also: &["agora-daemon", "agora-admin-log-level"],
    },
    Extra {
        path: "admin log-level",
        examples: ADMIN_EXAMPLES,
        nothing: None,
        exit: &[
            ("0", "shown or applied"),
            (
                "2",
                "not signed in, not an operator, not a filter (the old one stays), or the daemon cannot be reached",
            ),
        ],
        files: &[],
        see_also: &["agora-daemon", "agora-login"],
    },
    Extra {
        path: "health",
        examples: &[
            (
                "agora health",
                "is the daemon at AGORA_HTTP (default 127.0.0.1:7080) ready?",
            ),
            (
                "agora health --live --http-addr 10.0.0.5:7080",
                "is that one alive (it may be draining)?",
            ),
            (
                "HEALTHCHECK CMD [\"agora\", \"health\"]",
                "a Dockerfile's health check (the image's own)",
            ),
            (
                "until agora health; do sleep 1; done",
                "wait for a node before sending it traffic",
            ),
        ],
        nothing: None,
        exit: &[
            (
                "0",
                "the daemon answered 200: ready (or alive, with --live)",
            ),
            (
                "1",
                "any other answer (503 while draining, shutting down or when a database does not answer), or none within --timeout",
            ),
        ],
        files: &[],
        see_also: &["agora-daemon"],
    },
    Extra {
        path: "migrate",
        examples: MIGRATE_EXAMPLES,
        nothing: None,
        exit: MIGRATE_EXIT,
        files: MIGRATE_FILES,
        see_also: &["agora-daemon", "agora-migrate-status", "agora-migrate-up"],
    },
    Extra {
        path: "migrate up",
        examples: MIGRATE_EXAMPLES,
        nothing: None,
        exit: MIGRATE_EXIT,
        files: MIGRATE_FILES,
        see_also: &["agora-daemon", "agora-migrate-status"],
    },
    Extra {
        path: "migrate status",
        examples: &[
            ("agora migrate status", "the default data directory"),
            (
                "agora migrate status --json | jq -e 'all(.databases[]; .state == \"current\")'",
                "exit 0 only when nothing is pending",
            ),
            (
                "AGORA_DATABASE=postgres://agora:PW@db/agora agora migrate status",
                "a fleet's PostgreSQL",
            ),
        ],
        nothing: None,
        exit: &[
            ("0", "every database was read (pending migrations or not)"),
            (
                "2",
                "a database cannot be read, or is newer than this agora",
            ),
        ],
        files: MIGRATE_FILES,
        see_also: &["agora-migrate-up"],
    },
    Extra {
        path: "blog post new",
        examples: &[
            (
                "agora blog post new --title 'Hello' --description 'First' --tag a --tag b --body-file hello.md",
                "",
            ),
            (
                "echo 'Short body' | agora blog post new --title T --description D",
                "the body from standard input",
            ),
            (
                "agora blog --json post new --title T --description D --body-file b.md",
                "{\"slug\": \"t\", \"title\": \"T\", …}",
            ),
        ],
        nothing: None,
        exit: &[(
            "2",
            "an error: not signed in, a blank field, the daemon unreachable",
        )],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-edit", "agora-blog-show"],
    },
    Extra {
        path: "blog posts",
        examples: &[
            ("agora blog posts", "the 20 newest articles"),
            ("agora blog posts --author alice --limit 5", ""),
            (
                "agora blog posts --feed",
                "articles by the users you follow",
            ),
            (
                "agora blog --json posts --limit 50 --cursor \"$CURSOR\"",
                "the page after the one whose next_cursor was $CURSOR",
            ),
        ],
        nothing: Some("no article matches ({\"articles\": [], …} with --json)"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-show"],
    },
    Extra {
        path: "blog show",
        examples: &[
            ("agora blog show hello", ""),
            ("agora blog --json show hello", "the article, or null"),
        ],
        nothing: Some("no article with that slug (`null` with --json)"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-posts", "agora-blog-comments"],
    },
    Extra {
        path: "blog edit",
        examples: &[
            (
                "agora blog edit hello --title 'Hello again'",
                "a new title renames the slug: prints the new one",
            ),
            ("agora blog edit hello --body-file hello.md --tag intro", ""),
        ],
        nothing: None,
        exit: &[(
            "2",
            "an error: no such article, someone else's, nothing to change",
        )],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-post-new"],
    },
    Extra {
        path: "blog rm",
        examples: &[(
            "agora blog rm hello",
            "delete your article and its comments",
        )],
        nothing: None,
        exit: &[("2", "an error: no such article, or someone else's")],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-posts"],
    },
    Extra {
        path: "blog comment",
        examples: &[
            ("agora blog comment hello 'Great post'", ""),
            ("agora blog comment hello 'Agreed' --reply-to 12", "a reply"),
            (
                "fortune | agora blog comment hello -",
                "the text from standard input",
            ),
        ],
        nothing: None,
        exit: &[(
            "2",
            "an error: no such article, a --reply-to that is not one of its comments",
        )],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-comments"],
    },
    Extra {
        path: "blog comments",
        examples: &[
            ("agora blog comments hello", "oldest first, replies marked"),
            ("agora blog comments hello --tree", "as a thread"),
            (
                "agora blog --json comments hello --tree",
                "{\"article\": \"hello\", \"comments\": [{\"comment\": {…}, \"replies\": […]}]}",
            ),
        ],
        nothing: Some("the article has no comments"),
        exit: &[("2", "an error, e.g. no such article")],
        files: &[CREDENTIALS],
        see_also: &["agora-blog-comment", "agora-blog-show"],
    },
    Extra {
        path: "jobs",
        examples: &[
            (
                "agora jobs enqueue email.send --queue mail --args '{\"to\": \"bob\"}'",
                "enqueue a job; prints its id",
            ),
            (
                "agora jobs work --queue mail -- ./send-email.py",
                "run ./send-email.py per job, args as JSON on stdin",
            ),
            (
                "agora jobs work --queue logs -- agora process --json --dir /var/log/app",
                "a queue of log-statistics jobs: the JSON report is each job's result",
            ),
            ("agora jobs enqueue report --in 10m", "run in ten minutes"),
            (
                "agora jobs cron add nightly '0 3 * * *' report",
                "every day at 03:00 UTC",
            ),
            ("agora jobs dead", "the dead letter queue"),
            ("agora jobs retry --all-dead", "run every dead job again"),
            ("agora jobs watch --json", "state changes as JSON lines"),
        ],
        nothing: Some(
            "nothing to report: no jobs, no such job, no dead jobs to retry or discard, no recurring jobs",
        ),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-tui", "agora-process"],
    },
    Extra {
        path: "jobs enqueue",
        examples: &[
            ("agora jobs enqueue noop", "a job the daemon runs itself"),
            (
                "agora jobs enqueue resize --args @job.json --priority 1 --max-attempts 5",
                "arguments from a file, high priority",
            ),
            (
                "agora jobs enqueue report --at 2026-05-01T09:00:00Z --unique-key may-report",
                "at a time, once",
            ),
        ],
        nothing: None,
        exit: &[
            (
                "0",
                "enqueued (or the waiting job with that unique key named)",
            ),
            (
                "2",
                "error, e.g. --args is not JSON or a bad kind or queue name",
            ),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-show", "agora-jobs-work"],
    },
    Extra {
        path: "jobs list",
        examples: &[
            ("agora jobs list --state running", ""),
            ("agora jobs list --queue mail --kind email.send --json", ""),
        ],
        nothing: Some("no job matched"),
        exit: &[("2", "error, e.g. an unknown queue")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-show"],
    },
    Extra {
        path: "jobs show",
        examples: &[
            ("agora jobs show 42", ""),
            ("agora jobs show 42 --json", ""),
        ],
        nothing: Some("no such job (`null` with --json)"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-list"],
    },
    Extra {
        path: "jobs cancel",
        examples: &[("agora jobs cancel 42", "")],
        nothing: Some("no such job (`null` with --json)"),
        exit: &[("2", "error, e.g. the job already finished")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-retry"],
    },
    Extra {
        path: "jobs retry",
        examples: &[
            (
                "agora jobs retry 42",
                "one dead, cancelled or retryable job",
            ),
            (
                "agora jobs retry --all-dead --queue mail",
                "a queue's dead letter queue",
            ),
        ],
        nothing: Some("no such job, or no dead jobs"),
        exit: &[("2", "error, e.g. the job is running")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-dead", "agora-jobs-discard"],
    },
    Extra {
        path: "jobs discard",
        examples: &[
            ("agora jobs discard 42", "delete one finished job"),
            (
                "agora jobs discard --all-dead",
                "empty the dead letter queue",
            ),
        ],
        nothing: Some("no such job, or no dead jobs"),
        exit: &[(
            "2",
            "error, e.g. the job has not finished (cancel it first)",
        )],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-dead", "agora-jobs-retry"],
    },
    Extra {
        path: "jobs dead",
        examples: &[("agora jobs dead --queue mail", "")],
        nothing: Some("the dead letter queue is empty"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-retry", "agora-jobs-discard"],
    },
    Extra {
        path: "jobs stats",
        examples: &[("agora jobs stats", ""), ("agora jobs stats --json", "")],
        nothing: None,
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-queues"],
    },
    Extra {
        path: "jobs watch",
        examples: &[
            ("agora jobs watch", "every state change"),
            (
                "agora jobs watch --queue mail --json",
                "one JSON object per line",
            ),
        ],
        nothing: None,
        exit: &[
            ("2", "error, e.g. an unknown queue or the daemon went away"),
            ("130", "interrupted (Ctrl-C): the normal way to stop"),
            ("0", "not used"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-stats"],
    },
    Extra {
        path: "jobs work",
        examples: &[
            (
                "agora jobs work --queue mail --concurrency 4 -- ./send-email.py",
                "four at a time",
            ),
            (
                "agora jobs work --queue logs --timeout 5m -- agora process --json --dir /var/log/app",
                "log statistics per job, killed after five minutes",
            ),
            (
                "agora jobs work --queue shell -- sh -c 'jq -r .cmd | sh'",
                "read the job's arguments from standard input",
            ),
        ],
        nothing: None,
        exit: &[
            ("2", "error, e.g. not signed in or the daemon went away"),
            (
                "130",
                "stopped by Ctrl-C or SIGTERM after the running jobs finished: the normal way to stop",
            ),
            ("0", "not used"),
        ],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-enqueue", "agora-process"],
    },
    Extra {
        path: "jobs cron add",
        examples: &[
            ("agora jobs cron add nightly '0 3 * * *' report", ""),
            (
                "agora jobs cron add ping '*/10 * * * * *' noop --catch-up",
                "every 10 seconds (6 fields: seconds first)",
            ),
        ],
        nothing: None,
        exit: &[("2", "error, e.g. a bad cron expression or a taken name")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-cron-list"],
    },
    Extra {
        path: "jobs cron list",
        examples: &[("agora jobs cron list", "")],
        nothing: Some("no recurring jobs"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-cron-add"],
    },
    Extra {
        path: "jobs cron rm",
        examples: &[("agora jobs cron rm nightly", "")],
        nothing: Some("no recurring job by that name"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-cron-list"],
    },
    Extra {
        path: "jobs queues",
        examples: &[("agora jobs queues", "")],
        nothing: Some("no queues yet (a queue appears with its first job)"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-pause", "agora-jobs-limit"],
    },
    Extra {
        path: "jobs pause",
        examples: &[("agora jobs pause mail", "")],
        nothing: None,
        exit: &[("2", "error, e.g. no such queue")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-resume"],
    },
    Extra {
        path: "jobs resume",
        examples: &[("agora jobs resume mail", "")],
        nothing: None,
        exit: &[("2", "error, e.g. no such queue")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-pause"],
    },
    Extra {
        path: "jobs limit",
        examples: &[
            ("agora jobs limit mail --concurrency 2", "two at a time"),
            ("agora jobs limit mail --rate 10", "ten starts per second"),
            (
                "agora jobs limit mail --concurrency 0 --rate 0",
                "no limits",
            ),
        ],
        nothing: None,
        exit: &[("2", "error, e.g. no such queue")],
        files: &[CREDENTIALS],
        see_also: &["agora-jobs-queues"],
    },
    Extra {
        path: "cluster",
        examples: &[
            (
                "agora cluster status",
                "every node: state, addresses, keys, slot share, lag",
            ),
            (
                "agora cluster status --json | jq '.nodes[] | select(.state != \"alive\")'",
                "the nodes that are not alive",
            ),
            (
                "agora daemon --cluster prod --node-id n2 --seeds 10.0.0.1:7946 --cluster-mode proxy",
                "a node that serves plain Redis clients every key",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-daemon", "agora-cache"],
    },
    Extra {
        path: "metrics",
        examples: &[
            (
                "agora metrics now",
                "CPU, memory, disks, networks, limits, agora",
            ),
            (
                "agora metrics history cpu.total --since 24h --step 5m",
                "a day of CPU in five-minute steps (min, avg, max)",
            ),
            (
                "agora metrics history mem.used_pct --since 7d --csv > mem.csv",
                "a week of memory for a spreadsheet",
            ),
            (
                "agora metrics top --sort mem --limit 5",
                "the biggest processes",
            ),
            ("agora metrics watch", "a line per second until Ctrl-C"),
            (
                "curl -s 127.0.0.1:7080/metrics | grep agora_system",
                "the same figures for Prometheus",
            ),
        ],
        nothing: Some("nothing to show: no history for the metric in that range"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-alerts", "agora-tui", "agora-daemon"],
    },
    Extra {
        path: "alerts",
        examples: &[
            (
                "agora alerts add cpu-hot 'cpu.total > 90' --for 5m --severity critical",
                "fire when CPU stays above 90% for five minutes",
            ),
            (
                "agora alerts add disk-full 'disk./.used_pct >= 95' --for 0s",
                "fire at once",
            ),
            ("agora alerts list", "every rule, firing first"),
            (
                "agora alerts silence cpu-hot --for 2h",
                "mute a rule's announcements",
            ),
            (
                "agora alerts history cpu-hot --limit 10",
                "its last ten transitions",
            ),
            (
                "agora chat tail alerts",
                "follow the alerts posted into #alerts",
            ),
        ],
        nothing: Some("nothing to show: no rules, no transitions"),
        exit: &[],
        files: &[CREDENTIALS],
        see_also: &["agora-metrics", "agora-chat"],
    },
    Extra {
        path: "process",
        examples: &[
            (
                "agora process /var/log -g '*.log'",
                "every .log file below /var/log",
            ),
            (
                "agora process . --top 10 --group-by ext",
                "the 10 largest groups by extension",
            ),
            ("agora process logs --json", "the aggregate as JSON"),
        ],
        nothing: Some(
            "no file matched (nothing is printed; with --json, the document with zero counts)",
        ),
        exit: &[
            (
                "0",
                "all matching files were processed (binary files skipped count as processed)",
            ),
            (
                "2",
                "some files or directories could not be read (listed on stderr), or an error \
                 stopped the run before it started (e.g. a PATH that does not exist)",
            ),
            (
                "130",
                "interrupted (Ctrl-C); the partial aggregate was printed, marked PARTIAL",
            ),
        ],
        files: &[],
        see_also: &["rg"],
    },
    Extra {
        path: "bench",
        examples: &[
            (
                "agora bench ping --connections 32 --duration 5",
                "round trips per second",
            ),
            (
                "agora bench chat fanout --members 1000",
                "chat fan-out latency",
            ),
            (
                "agora bench jobs --jobs 100000 --batch 1000",
                "job queue throughput, end to end",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[],
        see_also: &["agora-ping"],
    },
    Extra {
        path: "completions",
        examples: &[
            (
                "agora completions bash > /etc/bash_completion.d/agora",
                "bash completion",
            ),
            (
                "agora completions zsh > \"${fpath[1]}/_agora\"",
                "zsh completion",
            ),
        ],
        nothing: None,
        exit: &[],
        files: &[],
        see_also: &[],
    },
    Extra {
        path: "man",
        examples: &[("agora man /usr/local/share/man/man1", "install the pages")],
        nothing: None,
        exit: &[],
        files: &[],
        see_also: &[],
    },
];

/// Environment variables every command reads, besides its flags' own.
pub const COMMON_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "AGORA_ADDR",
        "the daemon's address for commands that talk to one (--addr wins)",
    ),
    (
        "NO_COLOR",
        "when set and not empty, no colour (--color auto)",
    ),
    ("RUST_LOG", "log filter, when --log-level is not given"),
    (
        "XDG_CONFIG_HOME, XDG_DATA_HOME",
        "where credentials and data go (default ~/.config, ~/.local/share)",
    ),
];

/// The extras of the command at `path`, if any.
pub fn extra(path: &str) -> Option<&'static Extra> {
    EXTRAS.iter().find(|e| e.path == path)
}

/// The exit status table of the command at `path`.
pub fn exit_status(path: &str) -> Vec<(&'static str, String)> {
    let nothing = match extra(path).and_then(|e| e.nothing) {
        Some(what) => what.to_string(),
        None => "not used".into(),
    };
    let mut rows = vec![
        ("0", "success".to_string()),
        ("1", nothing),
        ("2", "an error; one line on standard error says what".into()),
        ("130", "interrupted (Ctrl-C)".into()),
    ];
    for (code, what) in extra(path).map_or(&[][..], |e| e.exit) {
        if let Some(row) = rows.iter_mut().find(|(c, _)| c == code) {
            row.1 = (*what).to_owned();
        }
    }
    rows
}

/// The command line definition with the extras in each command's long
/// help (EXAMPLES and EXIT STATUS), as `--help` shows it.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    augment(cmd, "")
}

fn augment(cmd: clap::Command, path: &str) -> clap::Command {
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let tail = long_help_tail(&cmd, path);
    let mut cmd = cmd.after_long_help(tail);
    for name in subs {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |sub| augment(sub, &sub_path));
    }
    cmd
}

/// What follows a command's own long help: its examples and exit status.
fn long_help_tail(cmd: &clap::Command, path: &str) -> String {
    let mut out = String::new();
    if let Some(existing) = cmd.get_after_long_help() {
        out.push_str(&existing.to_string());
        out.push_str("\n\n");
    }
    if let Some(e) = extra(path).filter(|e| !e.examples.is_empty()) {
        out.push_str("Examples:\n");
        for (line, what) in e.examples {
            out.push_str(&format!("  {line}\n"));
            if !what.is_empty() {
                out.push_str(&format!("      {what}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str("Exit status:\n");
    for (code, what) in exit_status(path) {
        out.push_str(&format!("  {code:<4} {what}\n"));
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_extra_names_a_real_command() {
        let cmd = command();
        for e in EXTRAS {
            let mut at = &cmd;
            for word in e.path.split_whitespace() {
                at = at
                    .find_subcommand(word)
                    .unwrap_or_else(|| panic!("no command `agora {}`", e.path));
            }
        }
    }

    #[test]
    fn nothing_is_hidden_from_help_completions_or_man_pages() {
        // Test-only switches are environment variables (AGORA_TEST_*), not
        // hidden flags: shells would still complete those.
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                assert!(
                    !arg.is_hide_set(),
                    "`agora {path}` has a hidden flag: {}",
                    arg.get_id()
                );
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&command(), "");
    }

    #[test]
    fn every_top_level_command_has_examples() {
        let cmd = command();
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let e = extra(sub.get_name())
                .unwrap_or_else(|| panic!("`agora {}` has no examples", sub.get_name()));
            assert!(!e.examples.is_empty(), "{}", sub.get_name());
        }
    }
}
