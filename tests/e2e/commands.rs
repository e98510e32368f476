//! The two tests docs/CLI.md promises, on every command the CLI has: each
//! one run on an empty daemon with its exit status checked (0 success, 1
//! nothing to report, 2 error, 130 interrupted), and its `--json` output
//! validated against the JSON Schema kept for it in `tests/schemas/`.
//!
//! Which commands there are comes from the command tree itself, through
//! the committed man pages: `man/` holds one page per command path (kept
//! equal to the CLI by `docs.rs`, so it is a faithful list), and each
//! page's SYNOPSIS names its path and says whether it takes a subcommand
//! (`<subcommands>`: a group) or may take one (`[subcommands]`: a group
//! that also runs on its own, like `agora cache`, the prompt). Unlike
//! parsing `--help` or a completion script, that is one directory read
//! and a line per page, and it sees the runnable groups too. A command
//! that lands without a row in [`TABLE`] or a reason in [`EXCLUDED`]
//! fails [`every_command_is_in_the_table_or_excluded`], by name.
//!
//! [`TABLE`] is the documentation of what every command does on a daemon
//! where nothing exists yet: its rows run in order against one daemon,
//! each building on what the rows above did (two accounts, registered by
//! the table itself).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Daemon, Home, wait_for};

/// Commands that print no data or cannot run in a test, and why.
#[rustfmt::skip]
const EXCLUDED: &[(&str, &str)] = &[
    ("up", "needs a terminal (its refusal without one: conventions.rs)"),
    ("tui", "needs a terminal (its refusal without one: conventions.rs)"),
    ("daemon", "the server itself: every row below runs against one"),
    ("completions", "prints a shell script, not data"),
    ("man", "writes man pages, not data (docs.rs keeps them fresh)"),
];

/// Commands whose `--json` is one object per line, each with a `type`
/// (the schema is for one line); every other command prints one document.
const JSON_LINES: &[&str] = &[
    "chat tail",
    "cache subscribe",
    "cache psubscribe",
    "cache",
    "jobs watch",
    "jobs work",
    "metrics watch",
    "game watch",
];

/// Whose home (config directory, hence sign-in) a row runs in.
#[derive(Debug, Clone, Copy)]
enum Who {
    Alice,
    Bob,
}

/// How a row is printed, and so checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    /// Text, for people.
    Text,
    /// `--json`, validated against the command's schema.
    Json,
    /// Text, then `--json`: both give the same exit status.
    Both,
    /// `--json` prints exactly `null` ("not found"), which the schema
    /// allows too.
    Null,
}

/// What a stream row makes happen once the stream runs; the stream must
/// print it, then Ctrl-C (SIGINT) stops it with exit status 130.
#[derive(Debug, Clone, Copy)]
enum Event {
    /// `agora chat send ROOM …` in the same home.
    Say(&'static str),
    /// `agora chat topic ROOM …` in the same home.
    Topic(&'static str),
    /// `agora cache publish CHANNEL …` in the same home.
    Publish(&'static str),
    /// `agora jobs enqueue … --queue QUEUE` in the same home: a job whose
    /// kind is the event's text.
    Enqueue(&'static str),
    /// Nothing: the stream prints a sample a second on its own; a sample
    /// line (` cpu ` in text, `"sample"` in JSON) will do.
    Tick,
}

/// One row: a command line (after `agora`; the daemon's address comes
/// from AGORA_ADDR), the exit status it must give, and why.
#[derive(Debug, Clone, Copy)]
struct Row {
    who: Who,
    /// The command line after `agora`: words split on spaces, but for
    /// those in single quotes.
    line: &'static str,
    out: Out,
    code: i32,
    why: &'static str,
    /// Standard input; none is /dev/null.
    stdin: Option<&'static [u8]>,
    /// A stream: runs until this happened and it was interrupted.
    event: Option<Event>,
    /// Runs at the same time as the neighbouring rows marked so (the
    /// benchmarks: independent, and each takes seconds).
    together: bool,
}

const fn row(who: Who, out: Out, code: i32, line: &'static str, why: &'static str) -> Row {
    Row {
        who,
        line,
        out,
        code,
        why,
        stdin: None,
        event: None,
        together: false,
    }
}

impl Row {
    /// The command line's words: split on spaces, a word in single quotes
    /// taken whole (`chat away 'at lunch'`).
    fn words(&self) -> Vec<&'static str> {
        let mut words = Vec::new();
        let mut rest = self.line.trim_start();
        while !rest.is_empty() {
            let (word, after) = match rest.strip_prefix('\'') {
                Some(quoted) => quoted.split_once('\'').expect("a closing quote"),
                None => rest.split_once(' ').unwrap_or((rest, "")),
            };
            words.push(word);
            rest = after.trim_start();
        }
        words
    }

    /// Whether each run of the row has --json.
    fn forms(&self) -> &'static [bool] {
        match self.out {
            Text => &[false],
            Json | Null => &[true],
            Both => &[false, true],
        }
    }

    const fn input(mut self, stdin: &'static [u8]) -> Row {
        self.stdin = Some(stdin);
        self
    }

    const fn until(mut self, event: Event) -> Row {
        self.event = Some(event);
        self
    }

    const fn together(mut self) -> Row {
        self.together = true;
        self
    }
}

use Event::{Enqueue, Publish, Say, Tick, Topic};
use Out::{Both, Json, Null, Text};
use Who::{Alice, Bob};

/// What a stream must print: the text of the [`Event`].
const EVENT_TEXT: &str = "event-from-the-test";

/// Every command on a fresh daemon, in order: whose home it runs in, how
/// its output is checked, the exit status it must give, the command line
/// after `agora` and what that status means there. `{empty}`, `{logs}`,
/// `{missing}`, `{pid}` (the daemon's), `{sleeper}` (a `sleep` the
/// runner started), `{invitation}` (the last `org invite`'s token),
/// `{data}` (the daemon's data directory) and `{fresh}` (a directory not
/// made yet) are filled in by the runner.
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // Accounts, signed out first.
    row(Alice, Both, 1, "whoami", "not signed in"),
    row(Alice, Both, 1, "logout", "nothing to forget"),
    row(Alice, Text, 2, "chat rooms", "not signed in: an error naming `agora login`"),
    row(Alice, Text, 2, "cache get k", "not signed in"),
    row(Alice, Json, 0, "register alice --password-stdin", "created, signed in")
        .input(b"alice-password\n"),
    row(Alice, Text, 2, "register alice --password-stdin", "the name is taken")
        .input(b"alice-password\n"),
    row(Bob,   Text, 0, "register bob --password-stdin", "bob, in his own home")
        .input(b"bob-password\n"),
    row(Alice, Both, 0, "whoami", "signed in"),
    row(Alice, Json, 0, "logout", "the saved sign-in is forgotten"),
    row(Alice, Text, 1, "logout", "nothing left to forget"),
    row(Alice, Text, 2, "login alice --password-stdin", "a wrong password")
        .input(b"not-her-password\n"),
    row(Alice, Json, 0, "login alice --password-stdin", "signed in again")
        .input(b"alice-password\n"),
    row(Alice, Both, 0, "ping -c 2 -i 0", "two round trips"),
    // Chat: no rooms yet.
    row(Alice, Both, 1, "chat rooms", "no rooms"),
    row(Alice, Text, 2, "chat history ops", "not in the room: an error naming `agora chat join`"),
    row(Alice, Text, 2, "chat send ops hello", "not in the room"),
    row(Alice, Text, 2, "chat tail ops", "not in the room: no stream starts"),
    row(Alice, Text, 2, "chat topic ops deploys", "not in the room"),
    row(Alice, Text, 2, "chat leave ops", "not in the room"),
    row(Alice, Text, 2, "chat who ops", "no such room"),
    row(Alice, Text, 2, "chat join 'no spaces!'", "not a room name"),
    row(Alice, Json, 0, "chat join ops", "creates the room"),
    row(Alice, Both, 0, "chat rooms", "one room"),
    row(Alice, Both, 1, "chat history ops", "no messages yet"),
    row(Alice, Text, 0, "chat send ops hello", "message #1"),
    row(Alice, Json, 0, "chat send ops --me waves", "message #2, an action"),
    row(Alice, Both, 0, "chat history ops", "two messages"),
    row(Alice, Text, 1, "chat history ops --since 2", "nothing after #2"),
    row(Alice, Both, 0, "chat who ops", "alice is in it"),
    row(Alice, Both, 0, "chat who", "every user: alice and bob"),
    row(Alice, Both, 0, "chat topic ops deploys", "the topic is set"),
    row(Alice, Json, 0, "chat away 'at lunch'", "away, with a message"),
    row(Alice, Both, 0, "chat away --back", "back"),
    row(Alice, Both, 1, "chat dms", "no unread private messages"),
    row(Alice, Text, 2, "chat dm carol hi", "no such user"),
    row(Alice, Json, 0, "chat dm bob lunch?", "a private message"),
    row(Alice, Text, 0, "chat dm bob --me waves", "a private action"),
    row(Alice, Both, 0, "chat dms --with bob", "the conversation"),
    row(Bob,   Json, 0, "chat dms", "bob's two unread messages, now read"),
    row(Bob,   Text, 1, "chat dms", "nothing unread any more"),
    row(Alice, Text, 130, "chat tail ops", "the new message, until Ctrl-C").until(Say("ops")),
    row(Alice, Json, 130, "chat tail ops", "the same, a JSON object per line").until(Say("ops")),
    row(Alice, Json, 130, "chat tail ops", "a topic change, as a JSON line").until(Topic("ops")),
    row(Alice, Json, 0, "chat leave ops", "left"),
    row(Alice, Both, 1, "chat who ops", "the room has no members left"),
    row(Alice, Text, 0, "chat rooms", "the room is still listed"),
    // Cache: an empty keyspace.
    row(Alice, Text, 1, "cache get k", "no such key: nothing printed"),
    row(Alice, Null, 1, "cache get k", "no such key"),
    row(Alice, Text, 1, "cache ttl k", "no such key"),
    row(Alice, Null, 1, "cache ttl k", "no such key"),
    row(Alice, Text, 1, "cache expire k 10s", "no such key"),
    row(Alice, Null, 1, "cache expire k 10s", "no such key"),
    row(Alice, Both, 1, "cache keys *", "no key matches"),
    row(Alice, Both, 1, "cache scan", "no key at all"),
    row(Alice, Both, 0, "cache del k", "done, even when none existed (0 deleted)"),
    row(Alice, Both, 0, "cache set k v", "written"),
    row(Alice, Both, 1, "cache set k w --nx", "--nx: not written"),
    row(Alice, Both, 0, "cache get k", "the value"),
    row(Alice, Both, 0, "cache ttl k", "no expiry (ttl_ms null)"),
    row(Alice, Both, 0, "cache expire k 1h", "expires in an hour"),
    row(Alice, Json, 0, "cache ttl k", "ttl_ms a number now"),
    row(Alice, Both, 0, "cache incr n", "1, then 2"),
    row(Alice, Text, 2, "cache incr k", "not an integer"),
    row(Alice, Text, 0, "cache set bin -", "bytes from standard input").input(b"\xff\x00"),
    row(Alice, Json, 0, "cache get bin", "not UTF-8: {\"base64\": …}"),
    row(Alice, Both, 0, "cache keys *", "three keys"),
    row(Alice, Both, 0, "cache scan --match k*", "one key"),
    row(Alice, Both, 0, "cache publish news hi", "published, to nobody (0 receivers)"),
    row(Alice, Both, 0, "cache info", "every section"),
    row(Alice, Json, 0, "cache info keyspace", "one section"),
    row(Alice, Text, 2, "cache info bogus", "not a section"),
    row(Alice, Text, 130, "cache subscribe news", "the message, until Ctrl-C")
        .until(Publish("news")),
    row(Alice, Json, 130, "cache subscribe news", "a confirmation, then the message")
        .until(Publish("news")),
    row(Alice, Text, 130, "cache psubscribe news.*", "the message, until Ctrl-C")
        .until(Publish("news.today")),
    row(Alice, Json, 130, "cache psubscribe news.*", "a confirmation, then the message")
        .until(Publish("news.today")),
    row(Alice, Both, 0, "cache", "the prompt on a pipe; a nil reply is an answer")
        .input(b"set p 1\nincr p\nget nothing\nhgetall nothing\nhelp\nhelp get\n"),
    row(Alice, Text, 0, "cache", "the prompt, with nothing to do").input(b""),
    row(Alice, Both, 2, "cache", "the prompt: a command got an error reply")
        .input(b"get p\nincr k\n"),
    // Blog: no articles yet (over the HTTP API, AGORA_HTTP).
    row(Alice, Both, 1, "blog posts", "no articles"),
    row(Alice, Text, 1, "blog show hello", "no such article: nothing printed"),
    row(Alice, Null, 1, "blog show hello", "no such article"),
    row(Alice, Text, 2, "blog comments hello", "no such article"),
    row(Alice, Text, 2, "blog comment hello hi", "no such article"),
    row(Alice, Text, 2, "blog edit hello --title T", "no such article"),
    row(Alice, Text, 2, "blog rm hello", "no such article"),
    row(Alice, Text, 2, "blog post new --title T --description D", "a blank body").input(b""),
    row(Alice, Json, 0, "blog post new --title Hello --description First --tag intro", "published: hello")
        .input(b"The body\n"),
    row(Alice, Text, 0, "blog post new --title Hello --description Again", "the same title: hello-2")
        .input(b"Another body\n"),
    row(Alice, Both, 0, "blog posts", "two articles"),
    row(Alice, Json, 0, "blog posts --tag intro --limit 1", "the one with the tag"),
    row(Alice, Both, 0, "blog show hello", "the article with its body"),
    row(Bob,   Text, 2, "blog edit hello --title Mine", "not his article"),
    row(Alice, Text, 2, "blog edit hello", "nothing to change"),
    row(Alice, Json, 0, "blog edit hello --title 'Hello again'", "renamed: hello-again"),
    row(Bob,   Both, 1, "blog comments hello-again", "no comments yet"),
    row(Bob,   Json, 0, "blog comment hello-again 'Nice post'", "comment #1"),
    row(Alice, Text, 0, "blog comment hello-again thanks --reply-to 1", "a reply to #1"),
    row(Alice, Text, 2, "blog comment hello-2 no --reply-to 1", "#1 is another article's"),
    row(Alice, Both, 0, "blog comments hello-again", "two, flat"),
    row(Alice, Json, 0, "blog comments hello-again --tree", "one thread"),
    row(Alice, Both, 1, "blog posts --feed", "alice follows nobody"),
    row(Bob,   Text, 2, "blog rm hello-again", "not his article"),
    row(Alice, Json, 0, "blog rm hello-again", "deleted with its comments"),
    row(Alice, Text, 0, "blog rm hello-2", "deleted"),
    row(Alice, Text, 2, "blog posts --limit 0", "a limit must be 1-100"),
    // Organizations (the same API); `{invitation}` is the token the last
    // `org invite` printed.
    row(Alice, Both, 1, "org list", "no organizations"),
    row(Alice, Text, 2, "org usage acme", "no such organization"),
    row(Alice, Text, 2, "org invoices acme", "no such organization"),
    row(Alice, Text, 2, "org plan acme", "no such organization"),
    row(Alice, Text, 2, "org plan acme team", "no such organization"),
    row(Alice, Text, 2, "org create www", "a reserved name"),
    row(Alice, Json, 0, "org create acme --name 'Acme Inc'", "created: alice owns it"),
    row(Alice, Text, 2, "org create acme", "the slug is taken"),
    row(Alice, Both, 0, "org list", "one organization, alice its owner"),
    row(Alice, Both, 0, "org members acme", "alice, owner"),
    row(Bob,   Text, 2, "org members acme", "bob is not a member"),
    row(Alice, Text, 2, "org members nope", "no such organization"),
    // Billing (the full flow, with --json against the schemas, is
    // tests/e2e/billing.rs).
    row(Alice, Both, 0, "org usage acme", "one member, no articles"),
    row(Alice, Both, 1, "org invoices acme", "no invoices yet"),
    row(Alice, Both, 0, "org plan acme", "free, no subscription"),
    row(Bob,   Text, 2, "org plan acme", "not a member"),
    row(Alice, Text, 2, "org plan acme team", "no payment provider (no --billing-mock)"),
    row(Alice, Text, 2, "org invite acme carol", "no such user"),
    row(Alice, Json, 0, "org invite acme bob --role author", "the invitation and its token"),
    row(Alice, Text, 2, "org accept {invitation}", "it is bob's invitation, not alice's"),
    row(Bob,   Json, 0, "org accept {invitation}", "bob joins acme as an author"),
    row(Bob,   Text, 2, "org decline {invitation}", "answered already"),
    row(Bob,   Text, 0, "blog post new --org acme --title Hi --description D", "posted in acme")
        .input(b"hello from acme"),
    row(Bob,   Text, 1, "blog posts", "not in the blog without an organization"),
    row(Alice, Text, 2, "org role acme alice viewer", "the last owner cannot step down"),
    row(Bob,   Text, 2, "org role acme bob admin", "an author does not manage members"),
    row(Alice, Json, 0, "org role acme bob admin", "bob is an admin"),
    row(Alice, Json, 0, "org transfer acme bob", "bob owns acme, alice is an admin"),
    row(Bob,   Text, 0, "org transfer acme alice", "and back"),
    row(Alice, Json, 0, "org remove acme bob", "bob is removed"),
    row(Alice, Text, 0, "org invite acme bob --role viewer", "the token alone"),
    row(Bob,   Json, 0, "org decline {invitation}", "bob declines"),
    row(Alice, Text, 2, "org delete acme", "no --yes and no terminal to ask on"),
    row(Bob,   Text, 2, "org delete acme --yes", "bob is not a member"),
    row(Alice, Json, 0, "org delete acme --yes", "deleted"),
    row(Alice, Text, 1, "org list", "none left"),
    // Offline migrations: `{data}` is the running daemon's directory,
    // `{fresh}` one that does not exist yet.
    row(Alice, Text, 2, "migrate --data {data}", "the daemon holds the directory's lock"),
    row(Alice, Json, 0, "migrate --data {fresh}", "a new directory: its database made"),
    row(Alice, Both, 0, "migrate --data {fresh}", "the same, nothing left to do"),
    row(Alice, Both, 0, "migrate status --data {fresh}", "every database up to date"),
    row(Alice, Json, 0, "migrate status --data {data}", "reads only: allowed beside the daemon"),
    row(Alice, Both, 0, "migrate status --data {fresh}/new", "no database yet: every migration pending"),
    row(Alice, Text, 2, "migrate up --data {data}", "the daemon holds the directory's lock"),
    row(Alice, Both, 0, "migrate up --data {fresh}/new --dry-run", "what would run; nothing made"),
    row(Alice, Json, 0, "migrate up --data {fresh}/new --to 2", "the shared database to version 2"),
    row(Alice, Text, 2, "migrate up --database mysql://x", "only PostgreSQL URLs"),
    // Backups: of a directory nobody runs on, of the daemon's while it
    // runs, and restored.
    row(Alice, Json, 0, "backup {fresh}/bk1 --data {fresh}", "a copy of every database and key"),
    row(Alice, Text, 0, "backup {fresh}/bk2 --data {data}", "taken while the daemon writes"),
    row(Alice, Text, 2, "backup {fresh}/bk1 --data {fresh}", "not into a backup that exists"),
    row(Alice, Text, 2, "backup {fresh}/bk3 --database postgres://db/agora", "PostgreSQL: pg_dump, says how"),
    row(Alice, Json, 0, "restore {fresh}/bk2 --data {fresh}/restored", "checked, then put in place"),
    row(Alice, Text, 2, "restore {fresh}/bk2 --data {fresh}/restored", "a database is there: --replace"),
    row(Alice, Text, 2, "restore {fresh}/bk2 --data {data} --replace", "the daemon holds the lock"),
    row(Alice, Text, 2, "restore {fresh} --data {fresh}/r2", "not a backup: no manifest"),
    // The daemon's config file: none here, so the environment and the
    // defaults.
    row(Alice, Both, 0, "config check", "every setting at its default"),
    row(Alice, Text, 2, "config check {fresh}/none.toml", "no such file"),
    // Health checks (AGORA_HTTP names the daemon's HTTP listener).
    row(Alice, Both, 0, "health", "/readyz: ready"),
    row(Alice, Json, 0, "health --live", "/healthz: alive"),
    row(Alice, Both, 1, "health --http-addr 127.0.0.1:1", "nothing listens: unhealthy"),
    // SSH: the host key the listener made, and Alice's keys.
    row(Alice, Both, 0, "ssh fingerprint --data {data}", "the host key's SHA256 fingerprint"),
    row(Alice, Both, 1, "ssh keys list", "no SSH keys yet"),
    row(Alice, Text, 2, "ssh keys add -", "not a public key line").input(b"hello\n"),
    row(Alice, Json, 0, "ssh keys add -", "her key, from standard input")
        .input(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICdDGAhJNjHM+5QmCGsfirRGSxPPtgV57LHlamDeH4Cz me@laptop\n"),
    row(Bob,   Text, 2, "ssh keys add -", "alice holds that key")
        .input(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICdDGAhJNjHM+5QmCGsfirRGSxPPtgV57LHlamDeH4Cz me@laptop\n"),
    row(Alice, Both, 0, "ssh keys list", "her key"),
    row(Alice, Json, 0, "ssh keys rm SHA256:fJnrU4bvWJXVK6dPsxhoBUDub39nULTQ/8TznQpIxBA", "removed"),
    row(Alice, Text, 2, "ssh keys rm SHA256:fJnrU4bvWJXVK6dPsxhoBUDub39nULTQ/8TznQpIxBA", "she holds no such key any more"),
    // Jobs: no job, queue or schedule yet.
    row(Alice, Both, 1, "jobs list", "no jobs"),
    row(Alice, Both, 1, "jobs queues", "no queues"),
    row(Alice, Both, 0, "jobs stats", "every count is 0"),
    row(Alice, Both, 1, "jobs dead", "the dead letter queue is empty"),
    row(Alice, Text, 1, "jobs show 1", "no such job"),
    row(Alice, Null, 1, "jobs show 1", "no such job"),
    row(Alice, Text, 1, "jobs cancel 1", "no such job"),
    row(Alice, Null, 1, "jobs cancel 1", "no such job"),
    row(Alice, Both, 1, "jobs retry 1", "no such job (0 retried)"),
    row(Alice, Both, 1, "jobs retry --all-dead", "no dead jobs"),
    row(Alice, Both, 1, "jobs discard 1", "no such job (0 discarded)"),
    row(Alice, Text, 2, "jobs pause ops", "no such queue"),
    row(Alice, Text, 2, "jobs resume ops", "no such queue"),
    row(Alice, Text, 2, "jobs limit ops --rate 5", "no such queue"),
    row(Alice, Text, 2, "jobs watch --queue ops", "no such queue: no stream starts"),
    row(Alice, Both, 1, "jobs cron list", "no recurring jobs"),
    row(Alice, Both, 1, "jobs cron rm nightly", "no such recurring job"),
    row(Alice, Text, 2, "jobs cron add nightly 'not a cron' noop", "a bad cron expression"),
    row(Alice, Text, 2, "jobs enqueue report --args {bad", "the arguments are not JSON"),
    row(Alice, Text, 2, "jobs enqueue report --priority 10", "priorities are 0-9"),
    row(Alice, Json, 0, "jobs enqueue report --queue ops --args {\"day\":1}", "job 1: no worker takes it"),
    row(Alice, Text, 0, "jobs enqueue fail --queue doomed --max-attempts 1", "job 2: dead at once (the daemon runs fail)"),
    row(Alice, Both, 0, "jobs enqueue report --queue ops --unique-key daily", "job 3, then the same id again"),
    row(Alice, Both, 0, "jobs list", "three jobs"),
    row(Alice, Json, 0, "jobs list --state available --queue ops", "jobs 1 and 3"),
    row(Alice, Both, 0, "jobs show 1", "job 1"),
    row(Alice, Both, 0, "jobs queues", "ops and doomed"),
    row(Alice, Json, 0, "jobs stats", "counts and queues"),
    row(Alice, Both, 0, "jobs pause ops", "paused"),
    row(Alice, Both, 0, "jobs resume ops", "running again"),
    row(Alice, Both, 0, "jobs limit ops --concurrency 2 --rate 100", "limits set"),
    row(Alice, Text, 2, "jobs limit ops", "neither --concurrency nor --rate"),
    row(Alice, Json, 0, "jobs cron add nightly '0 3 * * *' noop --queue ops", "a schedule"),
    row(Alice, Text, 2, "jobs cron add nightly '0 4 * * *' noop", "the name is taken"),
    row(Alice, Both, 0, "jobs cron list", "one schedule"),
    row(Alice, Json, 0, "jobs cron rm nightly", "removed"),
    row(Alice, Json, 0, "jobs cancel 1", "cancelled"),
    row(Alice, Text, 2, "jobs cancel 1", "already finished"),
    row(Alice, Json, 0, "jobs discard 1", "a cancelled job is deleted"),
    row(Alice, Both, 0, "jobs dead", "job 2, dead after its only attempt"),
    row(Alice, Json, 0, "jobs retry 2", "back to available (and dead again soon)"),
    row(Alice, Text, 130, "jobs watch", "a state change, until Ctrl-C").until(Enqueue("ops")),
    row(Alice, Json, 130, "jobs watch --queue ops", "the same, a JSON object per line")
        .until(Enqueue("ops")),
    row(Alice, Text, 130, "jobs work --queue ops -- true", "runs the jobs, until Ctrl-C")
        .until(Enqueue("ops")),
    row(Alice, Json, 130, "jobs work --queue ops --concurrency 2 -- cat", "a JSON line per job")
        .until(Enqueue("ops")),
    // Metrics: the sampler has run; no alert rules yet.
    // Cluster: a standalone daemon is a one-node cluster.
    row(Alice, Both, 0, "cluster status", "standalone: itself, owning every slot"),
    row(Alice, Both, 0, "metrics now", "the latest sample"),
    row(Alice, Both, 0, "metrics top --limit 5", "the five busiest processes"),
    row(Alice, Json, 0, "metrics top --sort mem --limit 3", "by memory"),
    row(Alice, Text, 2, "metrics top --limit 0", "the limit is 1-40"),
    row(Alice, Text, 2, "metrics top --sort colour", "not an order"),
    row(Alice, Both, 1, "metrics history no.such.metric --since 10m", "no history for it"),
    row(Alice, Text, 2, "metrics history cpu.total --step 0", "a step must be positive"),
    row(Alice, Both, 1, "alerts list", "no rules"),
    row(Alice, Both, 1, "alerts history", "no transitions"),
    row(Alice, Text, 2, "alerts add hot 'cpu.total 90'", "no comparison"),
    row(Alice, Text, 2, "alerts add 'bad name' 'cpu.total > 1'", "not a rule name"),
    row(Alice, Json, 0, "alerts add always 'cpu.total >= 0' --for 0s --severity info", "fires at the next sample"),
    row(Alice, Text, 2, "alerts add always cpu.total > 1", "the name is taken"),
    row(Alice, Text, 0, "alerts add hot cpu.total '>' 100 --for 5m", "never fires"),
    row(Alice, Text, 130, "metrics watch", "a line a sample, until Ctrl-C").until(Tick),
    row(Alice, Json, 130, "metrics watch", "a JSON line a sample (and the rule firing)").until(Tick),
    row(Alice, Both, 0, "metrics history cpu.total --since 1h --step 1s", "the samples written so far"),
    row(Alice, Text, 0, "metrics history cpu.total --since 10m --csv", "as CSV"),
    row(Alice, Both, 0, "alerts list", "two rules, the firing one first"),
    row(Alice, Both, 0, "alerts history always", "ok → firing"),
    row(Alice, Both, 0, "alerts silence hot --for 1h", "muted for an hour"),
    row(Alice, Text, 2, "alerts silence nope", "no such rule"),
    row(Alice, Text, 0, "alerts rm hot", "removed"),
    row(Alice, Json, 0, "alerts rm always", "removed"),
    row(Alice, Text, 2, "alerts rm hot", "no such rule any more"),
    row(Bob,   Text, 2, "metrics kill {sleeper}", "bob is not one of the daemon's --operators"),
    row(Alice, Text, 2, "metrics kill 1", "never pid 1"),
    row(Alice, Text, 2, "metrics kill {pid} --signal INT", "never the daemon itself"),
    row(Alice, Text, 2, "metrics kill {sleeper} --signal SEGV", "not one of the signals offered"),
    // The log filter, changed while the daemon runs (operators only).
    row(Bob,   Text, 2, "admin log-level", "bob is not one of the daemon's --operators"),
    row(Alice, Both, 0, "admin log-level", "the filter in effect"),
    row(Alice, Json, 0, "admin log-level 'info,agora::request=warn'", "applied; the old one returned"),
    row(Alice, Text, 0, "admin log-level info", "and back"),
    row(Alice, Text, 2, "admin log-level 'info,[x'", "not a filter: the old one stays"),
    row(Alice, Json, 0, "metrics kill {sleeper} --signal cont", "an operator may"),
    row(Alice, Text, 0, "metrics kill {sleeper} -s KILL", "and may again"),
    // Games: none yet. Ids count from 1 on an empty daemon; the
    // challenger moves first.
    row(Alice, Both, 1, "game list", "no live games, no challenges"),
    row(Alice, Text, 1, "game show 1", "no such game"),
    row(Alice, Null, 1, "game show 1", "no such game"),
    row(Alice, Text, 1, "game watch 1", "no such game: no stream starts"),
    row(Alice, Json, 1, "game watch 1", "no such game: nothing printed"),
    row(Alice, Null, 1, "game replay 1", "no such game"),
    row(Alice, Both, 1, "game leaderboard", "nobody is rated yet"),
    row(Alice, Text, 1, "game queue tictactoe --wait 200ms", "nobody else waits"),
    row(Alice, Null, 1, "game queue ttt connect4 --time 1+0 --wait 200ms", "nobody else waits"),
    row(Alice, Both, 0, "game cancel", "out of the pools (even when not in them)"),
    row(Alice, Text, 2, "game queue chess", "not a game type"),
    row(Alice, Text, 2, "game queue ttt --time 0+0", "not a time control"),
    row(Alice, Text, 2, "game challenge alice ttt", "not yourself"),
    row(Alice, Text, 2, "game challenge carol ttt", "no such user"),
    row(Alice, Json, 0, "game challenge bob tictactoe", "game 1 waits for bob"),
    row(Bob,   Both, 0, "game list", "bob sees the challenge"),
    row(Alice, Text, 2, "game move 1 b2", "not started yet"),
    row(Alice, Text, 2, "game accept 1", "not her own challenge"),
    row(Bob,   Json, 0, "game accept 1", "the game starts"),
    row(Alice, Text, 0, "game move 1 b2", "alice moves first"),
    row(Alice, Text, 2, "game move 1 a1", "not her turn"),
    row(Bob,   Text, 2, "game move 1 b2", "the cell is taken"),
    row(Bob,   Text, 2, "game move 1 a1 --seq 0", "a stale move"),
    row(Bob,   Json, 0, "game move 1 a1", "bob's move"),
    row(Bob,   Both, 0, "game show 1", "the board, clocks and moves"),
    row(Alice, Text, 2, "game replay 1", "not over yet"),
    row(Alice, Json, 0, "game draw 1", "alice offers a draw"),
    row(Bob,   Text, 0, "game draw 1 --decline", "bob declines it"),
    row(Bob,   Json, 0, "game resign 1", "bob resigns: alice wins, both rated"),
    row(Bob,   Text, 2, "game resign 1", "the game is over"),
    row(Alice, Both, 0, "game watch 1", "a finished game: its state, and done"),
    row(Alice, Both, 0, "game replay 1", "every position"),
    row(Alice, Both, 0, "game leaderboard", "alice first, bob second"),
    row(Alice, Text, 1, "game leaderboard connect4", "nobody rated in connect four"),
    row(Alice, Text, 0, "game challenge bob c4 --time 1+0", "game 2 waits"),
    row(Bob,   Json, 0, "game decline 2", "declined: aborted"),
    row(Bob,   Text, 2, "game decline 2", "already over"),
    // process: no daemon involved.
    row(Alice, Both, 1, "process {empty}", "no file matched (JSON: zero counts)"),
    row(Alice, Both, 0, "process {logs}", "two files counted"),
    row(Alice, Json, 0, "process {logs} --top 2 --group-by ext -e ERROR --words", "top files, groups"),
    row(Alice, Text, 2, "process {missing}", "a path that does not exist"),
    // Benchmarks, tiny and all at once (each registers its own users).
    row(Alice, Both, 0, "bench ping --connections 1 --duration 0.2", "0.2 s of pings").together(),
    row(Alice, Text, 2, "bench ping --duration 0", "a duration must be above 0").together(),
    row(Alice, Both, 0, "bench chat idle --clients 3 --users 2 --hold 0.1 --pid {pid}", "3 idle connections")
        .together(),
    row(Alice, Both, 0, "bench chat fanout --members 3 --senders 1 --rate 20 --duration 0.5", "a room of 3")
        .together(),
    row(Alice, Text, 2, "bench chat fanout --rate 0", "a rate must be above 0").together(),
    row(Alice, Both, 0, "bench chat persist --senders 1 --pipeline 1 --duration 0.3", "one sender")
        .together(),
    row(Alice, Both, 0, "bench chat join --clients 3 --quiet 0.3 --pid {pid}", "3 clients fill a room")
        .together(),
    row(Alice, Both, 0, "bench jobs --jobs 300 --batch 50", "300 noop jobs, run by the daemon")
        .together(),
    row(Alice, Text, 2, "bench jobs --batch 0", "a batch must be 1-1000").together(),
    row(Alice, Both, 0, "bench game --games 2 --duration 0.5 --think 20ms --pid {pid}", "two games of bots, thinking")
        .together(),
    row(Alice, Text, 2, "bench game --games 0", "at least one game").together(),
];

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every command path below `agora` (`"chat send"`), from the man pages,
/// with whether it runs on its own (a leaf, or a group whose subcommand
/// is optional).
fn command_tree() -> BTreeMap<String, bool> {
    let dir = repo().join("man");
    let mut pages = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("man/") {
        let entry = entry.unwrap();
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = file.strip_suffix(".1") else {
            continue;
        };
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let synopsis = text
            .lines()
            .skip_while(|l| *l != ".SH SYNOPSIS")
            .nth(1)
            .unwrap_or_else(|| panic!("{file}: no SYNOPSIS"));
        // `\fBagora chat send\fR [\fB\-\-addr\fR] …`
        let path = synopsis
            .strip_prefix("\\fB")
            .and_then(|s| s.split_once("\\fR"))
            .map(|(name, _)| name.replace("\\-", "-"))
            .unwrap_or_else(|| panic!("{file}: unexpected SYNOPSIS {synopsis:?}"));
        let path = path.strip_prefix("agora").unwrap().trim().to_owned();
        let group = synopsis.contains("<\\fIsubcommands\\fR>");
        let optional = synopsis.contains("[\\fIsubcommands\\fR]");
        pages.insert(stem.to_owned(), (path, group, optional));
    }
    // A page is a group exactly when another page extends its name.
    for (stem, (path, group, optional)) in &pages {
        let extended = pages.keys().any(|k| k.starts_with(&format!("{stem}-")));
        assert_eq!(
            extended,
            *group || *optional,
            "{stem}.1 (`agora {path}`): its SYNOPSIS disagrees with the pages around it"
        );
    }
    pages
        .into_values()
        .filter(|(path, ..)| !path.is_empty())
        .map(|(path, group, _)| (path, !group))
        .collect()
}

/// The command path a row runs: the longest prefix of its words that
/// is a command.
fn path_of(args: &[&str], tree: &BTreeMap<String, bool>) -> String {
    (1..=args.len())
        .rev()
        .map(|n| args[..n].join(" "))
        .find(|p| tree.contains_key(p))
        .unwrap_or_else(|| panic!("{args:?} names no command"))
}

/// The schema file of a command: `chat send` → `chat-send.json`.
fn schema_name(path: &str) -> String {
    format!("{}.json", path.replace(' ', "-"))
}

fn schema_dir() -> PathBuf {
    repo().join("tests/schemas")
}

#[test]
fn every_command_is_in_the_table_or_excluded() {
    let tree = command_tree();
    let runnable: BTreeSet<&str> = tree
        .iter()
        .filter(|(_, runs)| **runs)
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(runnable.contains("chat send") && runnable.contains("cache"));
    let tested: BTreeSet<String> = TABLE.iter().map(|r| path_of(&r.words(), &tree)).collect();
    let excluded: BTreeSet<&str> = EXCLUDED.iter().map(|(p, _)| *p).collect();
    for command in &runnable {
        assert!(
            tested.contains(*command) || excluded.contains(command),
            "`agora {command}` is neither in TABLE (tests/e2e/commands.rs: how to run it on an \
             empty daemon, what exit status it gives, and a schema for its --json in \
             tests/schemas/) nor in EXCLUDED with a reason"
        );
        assert!(
            !(tested.contains(*command) && excluded.contains(command)),
            "`agora {command}` is both tested and excluded"
        );
    }
    for (command, why) in EXCLUDED {
        assert!(
            runnable.contains(command),
            "EXCLUDED names `agora {command}`, which does not run"
        );
        assert!(!why.is_empty());
    }
    for command in &tested {
        assert!(
            runnable.contains(command.as_str()),
            "`agora {command}` does not run on its own"
        );
        let rows: Vec<&Row> = TABLE
            .iter()
            .filter(|r| path_of(&r.words(), &tree) == *command)
            .collect();
        // Every command in the table prints data: its --json is checked.
        assert!(
            rows.iter().any(|r| r.out != Text),
            "`agora {command}` has no --json row in TABLE"
        );
        assert!(
            schema_dir().join(schema_name(command)).is_file(),
            "`agora {command}` has no schema: tests/schemas/{}",
            schema_name(command)
        );
        let streams = rows.iter().any(|r| r.event.is_some());
        if streams {
            assert!(
                JSON_LINES.contains(&command.as_str()),
                "{command} streams JSON lines"
            );
        }
    }
    // No schema is left without a command.
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if file == "defs.json" {
            continue;
        }
        assert!(
            tested.iter().any(|c| schema_name(c) == file),
            "tests/schemas/{file} is the schema of no command in TABLE"
        );
    }
}

/// The base URI the schemas are known under: made up, so that nothing is
/// ever fetched (the validator is offline, and `defs.json` is handed to
/// it in memory).
const SCHEMA_BASE: &str = "https://agora.invalid/schemas/";

/// The validators of every schema in `tests/schemas/`, by file name.
fn validators() -> BTreeMap<String, jsonschema::Validator> {
    let read = |file: &str| -> Value {
        let text = std::fs::read_to_string(schema_dir().join(file)).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("tests/schemas/{file}: {e}"))
    };
    let registry = jsonschema::Registry::new()
        .add(
            format!("{SCHEMA_BASE}defs.json"),
            jsonschema::Resource::from_contents(read("defs.json")),
        )
        .and_then(|r| r.prepare())
        .expect("tests/schemas/defs.json");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if file == "defs.json" || !file.ends_with(".json") {
            continue;
        }
        let validator = jsonschema::options()
            .offline()
            .with_registry(&registry)
            .with_base_uri(format!("{SCHEMA_BASE}{file}"))
            .build(&read(&file))
            .unwrap_or_else(|e| panic!("tests/schemas/{file}: {e}"));
        out.insert(file, validator);
    }
    out
}

/// Walks a schema, calling `f` with each subschema and its location.
fn each_subschema(
    at: &str,
    schema: &Value,
    f: &mut dyn FnMut(&str, &serde_json::Map<String, Value>),
) {
    match schema {
        Value::Object(map) => {
            f(at, map);
            for (k, v) in map {
                each_subschema(&format!("{at}/{k}"), v, f);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                each_subschema(&format!("{at}/{i}"), v, f);
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_are_strict_and_share_their_definitions() {
    // Every schema compiles, references resolved.
    let validators = validators();
    assert!(validators.len() > 30, "{}", validators.len());
    let mut refs = BTreeSet::new();
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(schema_dir().join(&file)).unwrap())
                .unwrap();
        each_subschema(&file, &schema, &mut |at, map| {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.insert(r.rsplit('/').next().unwrap().to_owned());
            }
            let Some(Value::Object(props)) = map.get("properties") else {
                return;
            };
            // An object lists what it holds: nothing more, and everything
            // is required, unless its $comment says what is optional.
            let closed = map.get("additionalProperties") == Some(&Value::Bool(false))
                || map.get("unevaluatedProperties") == Some(&Value::Bool(false));
            assert!(
                closed || at.ends_with("_fields"),
                "{at}: not closed (\"additionalProperties\": false)"
            );
            let required: BTreeSet<&str> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let comment = map.get("$comment").and_then(Value::as_str).unwrap_or("");
            for name in props.keys() {
                assert!(
                    required.contains(name.as_str())
                        || (comment.starts_with("optional:") && comment.contains(name.as_str())),
                    "{at}: `{name}` is not required, and no \"$comment\": \"optional: …\" says why"
                );
            }
        });
    }
    // Every shared definition is used.
    let defs: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_dir().join("defs.json")).unwrap())
            .unwrap();
    for name in defs["$defs"].as_object().unwrap().keys() {
        assert!(refs.contains(name), "defs.json: `{name}` is never used");
    }
}

/// Fails when a float in `value` prints with more than three decimals
/// (the CLI rounds to the microsecond: `0.20316099999999998` must never
/// appear) or in exponent form.
fn assert_tidy_floats(value: &Value, what: &str) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let text = n.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(
                decimals <= 3 && !text.contains(['e', 'E']),
                "{what}: the float {text} has more than three decimals"
            );
        }
        Value::Array(items) => items.iter().for_each(|v| assert_tidy_floats(v, what)),
        Value::Object(map) => map.values().for_each(|v| assert_tidy_floats(v, what)),
        _ => {}
    }
}

/// JSON Schema's `integer` accepts `5.0`. A field printed as a float is a
/// float, so a whole float is nudged off the integers before validation:
/// an `integer` field that turned into a float fails, a `number` field
/// still passes.
fn floats_stay_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            let x = if x.fract() == 0.0 { x + 0.5 } else { x };
            serde_json::json!(x)
        }
        Value::Array(items) => Value::Array(items.iter().map(floats_stay_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), floats_stay_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The daemon, the two homes and the files `process` counts.
struct World {
    daemon: Daemon,
    alice: Home,
    bob: Home,
    files: tempfile::TempDir,
    tree: BTreeMap<String, bool>,
    validators: BTreeMap<String, jsonschema::Validator>,
    /// A `sleep` for `metrics kill` to signal (`{sleeper}`).
    sleeper: std::process::Child,
    /// The token the last `org invite` row printed (`{invitation}`).
    invitation: std::sync::Mutex<String>,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

impl World {
    fn home(&self, who: Who) -> &Home {
        match who {
            Alice => &self.alice,
            Bob => &self.bob,
        }
    }

    /// `agora [--json] ARGS` in `who`'s home, placeholders filled in.
    fn command(&self, who: Who, args: &[&str], json: bool) -> Command {
        let fill = |a: &str| -> String {
            a.replace("{empty}", self.files.path().join("empty").to_str().unwrap())
                .replace("{logs}", self.files.path().join("logs").to_str().unwrap())
                .replace(
                    "{missing}",
                    self.files.path().join("missing").to_str().unwrap(),
                )
                .replace("{pid}", &self.daemon.ready.pid.to_string())
                .replace("{sleeper}", &self.sleeper.id().to_string())
                .replace("{invitation}", &self.invitation.lock().unwrap())
                .replace("{data}", self.alice.data().to_str().unwrap())
                .replace("{fresh}", self.files.path().join("fresh").to_str().unwrap())
        };
        let mut cmd = self.home(who).cmd();
        cmd.env("AGORA_ADDR", &self.daemon.addr);
        cmd.env("AGORA_HTTP", self.daemon.ready.http.to_string());
        if json {
            cmd.arg("--json");
        }
        cmd.args(args.iter().map(|a| fill(a)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a command to completion.
    fn run(&self, who: Who, args: &[&str], json: bool, stdin: Option<&[u8]>) -> Output {
        let mut cmd = self.command(who, args, json);
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn agora");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        child.wait_with_output().expect("wait for agora")
    }

    /// Runs a row in one of its forms (`json` or not) and checks it.
    fn check(&self, row: &Row, json: bool) {
        let path = path_of(&row.words(), &self.tree);
        let what = format!(
            "`agora {}{}` ({})",
            if json { "--json " } else { "" },
            row.line,
            row.why
        );
        let (code, stdout, stderr) = match row.event {
            Some(event) => self.stream(row, json, event, &what),
            None => {
                let out = self.run(row.who, &row.words(), json, row.stdin);
                let code = out
                    .status
                    .code()
                    .unwrap_or_else(|| panic!("{what}: killed by a signal"));
                (
                    code,
                    out.stdout,
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            }
        };
        let shown = || {
            format!(
                "{what}\n--- stdout:\n{}\n--- stderr:\n{stderr}",
                String::from_utf8_lossy(&stdout)
            )
        };
        assert_eq!(code, row.code, "exit status of {}", shown());
        assert!(!stderr.contains("panicked"), "{}", shown());
        if path == "org invite" && code == 0 {
            // The token, for the rows that answer it: alone on a line, or
            // the JSON's "token".
            let text = String::from_utf8_lossy(&stdout);
            let token = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["token"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.trim().to_owned());
            *self.invitation.lock().unwrap() = token;
        }
        let prompt = path == "cache";
        match code {
            0 | 130 => assert!(
                !stdout.is_empty() || row.stdin.is_some_and(<[u8]>::is_empty),
                "printed nothing: {}",
                shown()
            ),
            // Nothing to report prints nothing (docs/CLI.md).
            1 if !json => assert!(stdout.is_empty(), "exit 1 printed: {}", shown()),
            // The prompt prints error replies as replies (docs/CACHE.md).
            2 if !prompt => {
                assert!(stdout.is_empty(), "an error printed on stdout: {}", shown());
                // Our errors are one line (clap's usage errors are clap's).
                if stderr.starts_with("agora:") {
                    assert_eq!(stderr.lines().count(), 1, "{}", shown());
                } else {
                    assert!(stderr.starts_with("error:"), "{}", shown());
                }
            }
            _ => {}
        }
        if !json {
            return;
        }
        let schema = schema_name(&path);
        let validator = &self.validators[&schema];
        let text =
            String::from_utf8(stdout.clone()).unwrap_or_else(|_| panic!("not UTF-8: {}", shown()));
        if row.out == Null {
            assert_eq!(text, "null\n", "\"not found\" prints null: {}", shown());
        }
        let documents: Vec<Value> = if JSON_LINES.contains(&path.as_str()) {
            text.lines()
                .map(|line| {
                    let v: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("{e} in the line {line:?} of {}", shown()));
                    assert!(
                        v["type"].is_string(),
                        "a line without a \"type\": {line}\n{}",
                        shown()
                    );
                    v
                })
                .collect()
        } else {
            serde_json::Deserializer::from_str(&text)
                .into_iter::<Value>()
                .map(|v| v.unwrap_or_else(|e| panic!("{e}: {}", shown())))
                .collect()
        };
        if !JSON_LINES.contains(&path.as_str()) {
            assert_eq!(documents.len(), 1, "one JSON document: {}", shown());
        }
        for doc in &documents {
            assert_tidy_floats(doc, &what);
            let errors: Vec<String> = validator
                .iter_errors(&floats_stay_floats(doc))
                .map(|e| format!("  at {}: {e}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{what} does not match tests/schemas/{schema}:\n{}\n{doc:#}\n(a float printed \
                 as N.0 is checked as N.5, so that it cannot pass for an integer)",
                errors.join("\n")
            );
        }
    }

    /// Runs a stream: starts it, makes `event` happen until the stream
    /// prints it, interrupts it with SIGINT; returns its exit status and
    /// everything it printed.
    fn stream(&self, row: &Row, json: bool, event: Event, what: &str) -> (i32, Vec<u8>, String) {
        let mut child = self
            .command(row.who, &row.words(), json)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn agora");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        'seen: loop {
            assert!(
                Instant::now() < deadline,
                "{what}: never printed the event; printed {printed:?}"
            );
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("{what}: ended before the event ({status}): {err}");
            }
            // Make it happen; how long to wait for the line depends on
            // whether the stream is known to be listening yet.
            let wait = match event {
                Say(room) | Topic(room) => {
                    let verb = if matches!(event, Say(_)) {
                        "send"
                    } else {
                        "topic"
                    };
                    let out = self.run(row.who, &["chat", verb, room, EVENT_TEXT], false, None);
                    assert!(out.status.success(), "chat {verb}: {out:?}");
                    // No receiver count: try again if it was too early.
                    Duration::from_millis(500)
                }
                Tick => Duration::from_secs(5),
                Publish(channel) => {
                    let out = self.run(
                        row.who,
                        &["cache", "publish", channel, EVENT_TEXT],
                        true,
                        None,
                    );
                    assert!(out.status.success(), "cache publish: {out:?}");
                    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
                    if sent["receivers"].as_u64() > Some(0) {
                        Duration::from_secs(10)
                    } else {
                        Duration::from_millis(50)
                    }
                }
                Enqueue(queue) => {
                    let out = self.run(
                        row.who,
                        &["jobs", "enqueue", EVENT_TEXT, "--queue", queue],
                        false,
                        None,
                    );
                    assert!(out.status.success(), "jobs enqueue: {out:?}");
                    // No way to know the stream is listening: try again.
                    Duration::from_millis(500)
                }
            };
            let until = Instant::now() + wait;
            while let Ok(line) = lines.recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                let seen = match event {
                    Tick => line.contains(" cpu ") || line.contains("\"sample\""),
                    _ => line.contains(EVENT_TEXT),
                };
                printed.push(line);
                if seen {
                    break 'seen;
                }
            }
        }
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        let status = wait_for("the stream to stop", Duration::from_secs(10), || {
            child.try_wait().unwrap()
        });
        reader.join().unwrap();
        printed.extend(lines.try_iter());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let code = status
            .code()
            .unwrap_or_else(|| panic!("{what}: killed by {status}"));
        let mut stdout = printed.join("\n").into_bytes();
        stdout.push(b'\n');
        (code, stdout, stderr)
    }
}

#[test]
fn every_command_on_an_empty_daemon() {
    let started = Instant::now();
    let alice = Home::new();
    let bob = Home::new();
    // The benchmarks send as fast as they can: no rate limit in the way.
    // Alice may send signals (`metrics kill`), Bob may not.
    let daemon = Daemon::start(
        &alice,
        &[
            "--chat-rate",
            "100000",
            "--chat-burst",
            "100000",
            // The blog and organization rows write more than the default
            // burst, all from one address.
            "--blog-write-burst",
            "1000",
            "--operators",
            "alice",
            // The SSH listener makes its host key: `ssh fingerprint`.
            "--ssh",
            "127.0.0.1:0",
        ],
    );
    let files = tempfile::tempdir().unwrap();
    std::fs::create_dir(files.path().join("empty")).unwrap();
    std::fs::create_dir(files.path().join("logs")).unwrap();
    std::fs::write(
        files.path().join("logs/a.log"),
        "ERROR boom\nINFO ok\nWARN slow\n",
    )
    .unwrap();
    std::fs::write(files.path().join("logs/b.txt"), "hello\n").unwrap();
    let world = World {
        daemon,
        alice,
        bob,
        files,
        tree: command_tree(),
        validators: validators(),
        sleeper: Command::new("sleep").arg("1000").spawn().unwrap(),
        invitation: std::sync::Mutex::default(),
    };
    let mut rows = TABLE.iter().peekable();
    while let Some(first) = rows.next() {
        if !first.together {
            for &json in first.forms() {
                world.check(first, json);
            }
            continue;
        }
        // Independent rows: every form of each at once.
        let mut group = vec![first];
        while let Some(next) = rows.next_if(|r| r.together) {
            group.push(next);
        }
        std::thread::scope(|s| {
            for row in &group {
                let world = &world;
                for &json in row.forms() {
                    s.spawn(move || world.check(row, json));
                }
            }
        });
    }
    eprintln!(
        "{} rows in {:.1} s",
        TABLE.len(),
        started.elapsed().as_secs_f64()
    );
}
