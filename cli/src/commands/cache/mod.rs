//! `agora cache …`: the cache over the native protocol, and a prompt like
//! redis-cli.
//!
//! Every subcommand is one or more `cache_command` requests (the same
//! executor as RESP) except `publish`, `subscribe` and `psubscribe`, which
//! use the `cache_publish` and `cache_subscribe` operations. Exit codes:
//! 0 ok, 1 nothing to report (no such key, no match), 2 error, 130
//! interrupted. How things are printed (text, JSON, redis-cli's formats)
//! is [`print`]; the prompt is [`prompt`], its `help`, hints and
//! completion [`help`].
//!
//! With `--json`, byte strings (values, keys, payloads) are JSON strings
//! when they are valid UTF-8 and `{"base64": "…"}` (standard alphabet,
//! padded) otherwise; "not found" prints `null`.

mod help;
mod print;
mod prompt;

use std::io::{IsTerminal as _, Write as _};

use agora_tui::redis_format::cli_text;
use agora_wire::{CacheEvent, CacheOp, CacheReply, CacheValue, Client, Event, Op, Reply};
use anyhow::Context as _;
use serde_bytes::ByteBuf;
use serde_json::{Value, json};

use self::print::{Format, bytes_json, human_ms, info_json, key_line};
use crate::args::{CacheArgs, CacheCommand};
use crate::credentials::Store;
use crate::output;
use crate::session;

/// Runs `agora cache`.
pub async fn run(addr: &str, args: CacheArgs, json: bool) -> anyhow::Result<u8> {
    let CacheArgs {
        raw,
        no_raw,
        command,
        remote: _,
    } = args;
    if command.is_some() && (raw || no_raw) {
        anyhow::bail!("--raw and --no-raw apply to the prompt (`agora cache` with no subcommand)");
    }
    if json && (raw || no_raw) {
        anyhow::bail!("--json cannot be combined with --raw or --no-raw");
    }
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, _) = session::connect(addr, Some(token)).await?;
    let c = Cmd {
        addr,
        client: &client,
    };
    let Some(cmd) = command else {
        let format = if json {
            Format::Json
        } else if raw {
            Format::Raw
        } else if no_raw || std::io::stdout().is_terminal() {
            Format::Formatted
        } else {
            Format::Raw
        };
        return prompt::run(&c, format).await;
    };
    match cmd {
        CacheCommand::Get { key } => match c.exec(&[b"GET", key.as_bytes()]).await? {
            CacheValue::Nil => not_found(json),
            CacheValue::Bulk { value } => {
                if json {
                    output::json(&json!({ "key": key, "value": bytes_json(&value) }))?;
                } else {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&value)?;
                    if out.is_terminal() {
                        out.write_all(b"\n")?;
                    }
                    out.flush()?;
                }
                Ok(0)
            }
            other => unexpected(other),
        },
        CacheCommand::Set {
            key,
            value,
            ttl,
            nx,
            xx,
        } => {
            let value = bytes_or_stdin(value)?;
            let mut argv: Vec<Vec<u8>> = vec![b"SET".to_vec(), key.clone().into(), value];
            if let Some(ttl) = ttl {
                argv.push(b"PX".to_vec());
                argv.push(ttl.as_millis().to_string().into());
            }
            if nx {
                argv.push(b"NX".to_vec());
            }
            if xx {
                argv.push(b"XX".to_vec());
            }
            let set = match c.exec(&argv).await? {
                CacheValue::Nil => false,
                CacheValue::Simple { .. } => true,
                other => return unexpected(other),
            };
            if json {
                output::json(&json!({ "key": key, "set": set }))?;
            } else if set {
                println!("OK");
            }
            Ok(if set { 0 } else { 1 })
        }
        CacheCommand::Del { keys } => {
            let mut argv: Vec<&[u8]> = vec![b"DEL"];
            argv.extend(keys.iter().map(|k| k.as_bytes()));
            let n = int(c.exec(&argv).await?)?;
            if json {
                output::json(&json!({ "deleted": n }))?;
            } else {
                println!("{n}");
            }
            Ok(0)
        }
        CacheCommand::Ttl { key } => {
            let ms = int(c.exec(&[b"PTTL", key.as_bytes()]).await?)?;
            if ms == -2 {
                return not_found(json);
            }
            if json {
                let ttl = (ms >= 0).then_some(ms);
                output::json(&json!({ "key": key, "ttl_ms": ttl }))?;
            } else if ms < 0 {
                println!("none");
            } else {
                println!("{}", human_ms(ms));
            }
            Ok(0)
        }
        CacheCommand::Expire { key, duration } => {
            let ms = duration.as_millis();
            let arg = ms.to_string();
            let done = int(c
                .exec(&[b"PEXPIRE", key.as_bytes(), arg.as_bytes()])
                .await?)?
                == 1;
            if !done {
                return not_found(json);
            }
            if json {
                output::json(&json!({ "key": key, "ttl_ms": ms }))?;
            } else {
                println!("OK");
            }
            Ok(0)
        }
        CacheCommand::Incr { key, by } => {
            let by = by.to_string();
            let n = int(c.exec(&[b"INCRBY", key.as_bytes(), by.as_bytes()]).await?)?;
            if json {
                output::json(&json!({ "key": key, "value": n }))?;
            } else {
                println!("{n}");
            }
            Ok(0)
        }
        CacheCommand::Keys { pattern } => {
            let keys = bulks(c.exec(&[b"KEYS", pattern.as_bytes()]).await?)?;
            if json {
                print_keys_json(&keys)?;
            } else {
                let mut out = std::io::stdout().lock();
                for k in &keys {
                    writeln!(out, "{}", key_line(k))?;
                }
            }
            Ok(if keys.is_empty() { 1 } else { 0 })
        }
        CacheCommand::Scan {
            pattern,
            count,
            kind,
        } => scan(&c, pattern, count, kind, json).await,
        CacheCommand::Publish { channel, message } => {
            let message = bytes_or_stdin(message)?;
            let reply = c
                .ask(Op::Cache(CacheOp::Publish {
                    channel: ByteBuf::from(channel.clone().into_bytes()),
                    message: ByteBuf::from(message),
                }))
                .await?;
            let Reply::Cache(CacheReply::Published { receivers }) = reply else {
                anyhow::bail!("unexpected reply");
            };
            if json {
                output::json(&json!({ "channel": channel, "receivers": receivers }))?;
            } else {
                println!("{receivers}");
            }
            Ok(0)
        }
        CacheCommand::Subscribe { channels } => subscribe(&c, channels, Kind::Channels, json).await,
        CacheCommand::Psubscribe { patterns } => {
            subscribe(&c, patterns, Kind::Patterns, json).await
        }
        CacheCommand::Info { sections } => {
            let mut argv: Vec<&[u8]> = vec![b"INFO"];
            argv.extend(sections.iter().map(|s| s.as_bytes()));
            let CacheValue::Bulk { value } = c.exec(&argv).await? else {
                anyhow::bail!("unexpected INFO reply");
            };
            let text = String::from_utf8_lossy(&value);
            if json {
                output::json(&info_json(&text))?;
            } else {
                print!("{}", text.replace("\r\n", "\n"));
            }
            Ok(0)
        }
    }
}

/// A connection to the daemon and its address (for error messages).
struct Cmd<'a> {
    addr: &'a str,
    client: &'a Client,
}

impl Cmd<'_> {
    async fn ask(&self, op: Op) -> anyhow::Result<Reply> {
        self.client
            .request(op)
            .await
            .map_err(|e| session::explain(self.addr, e, true))
    }

    /// Runs a cache command; a keyspace error becomes an `Err`.
    async fn exec<A: AsRef<[u8]>>(&self, argv: &[A]) -> anyhow::Result<CacheValue> {
        let args = argv
            .iter()
            .map(|a| ByteBuf::from(a.as_ref().to_vec()))
            .collect();
        match self
            .ask(Op::Cache(CacheOp::Command { args, quiet: false }))
            .await?
        {
            Reply::Cache(CacheReply::Value {
                value: CacheValue::Error { message },
            }) => anyhow::bail!("{message}"),
            Reply::Cache(CacheReply::Value { value }) => Ok(value),
            _ => anyhow::bail!("unexpected reply"),
        }
    }
}

/// "Nothing to report": exit 1, printing `null` with --json.
fn not_found(json: bool) -> anyhow::Result<u8> {
    if json {
        output::json(&Value::Null)?;
    }
    Ok(1)
}

fn unexpected(value: CacheValue) -> anyhow::Result<u8> {
    anyhow::bail!("unexpected reply: {}", cli_text(&value))
}

fn int(value: CacheValue) -> anyhow::Result<i64> {
    value
        .as_int()
        .with_context(|| format!("expected an integer, got {}", cli_text(&value)))
}

fn bulks(value: CacheValue) -> anyhow::Result<Vec<Vec<u8>>> {
    let CacheValue::Array { items } = value else {
        anyhow::bail!("expected an array, got {}", cli_text(&value));
    };
    items
        .into_iter()
        .map(|i| match i {
            CacheValue::Bulk { value } => Ok(value),
            other => anyhow::bail!("expected a string, got {}", cli_text(&other)),
        })
        .collect()
}

fn print_keys_json(keys: &[Vec<u8>]) -> anyhow::Result<()> {
    let keys: Vec<Value> = keys.iter().map(|k| bytes_json(k)).collect();
    output::json(&json!({ "keys": keys }))
}

/// SCAN until the cursor comes back to 0, printing keys as they come
/// (all at the end with --json).
async fn scan(
    c: &Cmd<'_>,
    pattern: Option<String>,
    count: Option<u64>,
    kind: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    let mut cursor = b"0".to_vec();
    let mut all = Vec::new();
    let mut out = std::io::stdout().lock();
    loop {
        let mut argv = vec![b"SCAN".to_vec(), cursor.clone()];
        if let Some(p) = &pattern {
            argv.extend([b"MATCH".to_vec(), p.clone().into()]);
        }
        if let Some(n) = count {
            argv.extend([b"COUNT".to_vec(), n.to_string().into()]);
        }
        if let Some(t) = &kind {
            argv.extend([b"TYPE".to_vec(), t.clone().into()]);
        }
        let CacheValue::Array { mut items } = c.exec(&argv).await? else {
            anyhow::bail!("unexpected SCAN reply");
        };
        anyhow::ensure!(items.len() == 2, "unexpected SCAN reply");
        let keys = bulks(items.pop().expect("two items"))?;
        let next = items
            .pop()
            .and_then(|c| c.as_bytes().map(<[u8]>::to_vec))
            .context("unexpected SCAN cursor")?;
        if !json {
            for k in &keys {
                writeln!(out, "{}", key_line(k))?;
            }
            out.flush()?;
        }
        all.extend(keys);
        if next == b"0" {
            break;
        }
        cursor = next;
    }
    drop(out);
    if json {
        print_keys_json(&all)?;
    }
    Ok(if all.is_empty() { 1 } else { 0 })
}

/// The argument itself, or standard input's bytes (as they are) for `-`.
fn bytes_or_stdin(arg: String) -> anyhow::Result<Vec<u8>> {
    if arg != "-" {
        return Ok(arg.into_bytes());
    }
    crate::stdin::read_piped("`-` reads standard input, which is a terminal; pipe the value in")
}

/// What `subscribe` and `psubscribe` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channels,
    Patterns,
}

/// Subscribes, then prints messages until Ctrl-C (130) or the connection
/// closes (an error). With --json: first one `subscribe`/`psubscribe`
/// line per name (as Redis confirms them), then one `message` line each.
async fn subscribe(c: &Cmd<'_>, names: Vec<String>, kind: Kind, json: bool) -> anyhow::Result<u8> {
    let pushes = c
        .client
        .pushes()
        .await
        .context("push stream already taken")?;
    let names: Vec<Vec<u8>> = names.into_iter().map(String::into_bytes).collect();
    let bufs = names.iter().map(|n| ByteBuf::from(n.clone())).collect();
    let op = match kind {
        Kind::Channels => CacheOp::Subscribe {
            channels: bufs,
            patterns: Vec::new(),
        },
        Kind::Patterns => CacheOp::Subscribe {
            channels: Vec::new(),
            patterns: bufs,
        },
    };
    c.ask(Op::Cache(op)).await?;
    if json {
        let mut out = std::io::stdout().lock();
        for line in print::confirmations(Format::Json, kind, &names) {
            out.write_all(&line)?;
        }
        out.flush()?;
    }
    session::follow(c.addr, c.client, pushes, |push| {
        let Event::Cache(CacheEvent::Message {
            channel,
            pattern,
            payload,
        }) = push.event
        else {
            return Ok(None);
        };
        Ok(Some(if json {
            print::message_json(&channel, pattern.as_ref().map(|p| p.as_slice()), &payload)
                .to_string()
        } else {
            format!("{} {}", key_line(&channel), key_line(&payload))
        }))
    })
    .await
}
