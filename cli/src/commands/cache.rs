//! `agora cache …`: the cache over the native protocol, and an interactive
//! prompt like redis-cli.
//!
//! Every subcommand is one or more `cache_command` requests (the same
//! executor as RESP) except `publish` and `subscribe`, which use the
//! `cache_publish` and `cache_subscribe` operations. Exit codes follow
//! ripgrep: 0 ok, 1 nothing found, 2 error.
//!
//! With `--json`, byte strings (values, keys, payloads) are JSON strings
//! when they are valid UTF-8 and `{"base64": "…"}` (standard alphabet,
//! padded) otherwise.

use std::io::{IsTerminal as _, Read as _, Write as _};

use agora_daemon::resp::args::split_args;
use agora_tui::redis_format::{cli_text, quote};
use agora_wire::{
    CacheEvent, CacheOp, CacheReply, CacheValue, Client, ErrorCode, Event, Op, Reply,
};
use anyhow::Context as _;
use base64::Engine as _;
use serde_bytes::ByteBuf;
use serde_json::{Value, json};

use crate::args::{CacheArgs, CacheCommand};
use crate::credentials::Store;
use crate::output;
use crate::session;

/// Runs `agora cache`.
pub async fn run(addr: &str, args: CacheArgs, json: bool) -> anyhow::Result<u8> {
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, _) = session::connect(addr, Some(token)).await?;
    let Some(cmd) = args.command else {
        return prompt(addr, &client, json).await;
    };
    let c = Cmd {
        addr,
        client: &client,
    };
    match cmd {
        CacheCommand::Get { key } => match c.exec(&[b"GET", key.as_bytes()]).await? {
            CacheValue::Nil => Ok(1),
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
                return Ok(1);
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
            let ms = duration.as_millis().to_string();
            let done = int(c.exec(&[b"PEXPIRE", key.as_bytes(), ms.as_bytes()]).await?)? == 1;
            if json {
                output::json(&json!({ "key": key, "expire": done }))?;
            } else if done {
                println!("OK");
            }
            Ok(if done { 0 } else { 1 })
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
            print_keys(&keys, json)?;
            Ok(if keys.is_empty() { 1 } else { 0 })
        }
        CacheCommand::Scan {
            pattern,
            count,
            kind,
        } => {
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
                let keys: Vec<Value> = all.iter().map(|k| bytes_json(k)).collect();
                output::json(&json!({ "keys": keys }))?;
            }
            Ok(if all.is_empty() { 1 } else { 0 })
        }
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
        CacheCommand::Subscribe { channels, pattern } => {
            subscribe(addr, &client, channels, pattern, json).await
        }
        CacheCommand::Info { section } => {
            let mut argv: Vec<&[u8]> = vec![b"INFO"];
            if let Some(s) = &section {
                argv.push(s.as_bytes());
            }
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
        match self.ask(Op::Cache(CacheOp::Command { args })).await? {
            Reply::Cache(CacheReply::Value {
                value: CacheValue::Error { message },
            }) => anyhow::bail!("{message}"),
            Reply::Cache(CacheReply::Value { value }) => Ok(value),
            _ => anyhow::bail!("unexpected reply"),
        }
    }
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

fn print_keys(keys: &[Vec<u8>], json: bool) -> anyhow::Result<()> {
    if json {
        let keys: Vec<Value> = keys.iter().map(|k| bytes_json(k)).collect();
        output::json(&json!({ "keys": keys }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for k in keys {
            writeln!(out, "{}", key_line(k))?;
        }
    }
    Ok(())
}

/// A key or payload on one line: as is when printable UTF-8, otherwise
/// quoted like redis-cli (`"a\nb"`).
pub fn key_line(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) && !s.starts_with('"') => s.to_owned(),
        _ => quote(bytes),
    }
}

/// Bytes in JSON: a string when UTF-8, else `{"base64": …}`.
pub fn bytes_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// A cache value in JSON: nil is `null`, integers and doubles numbers,
/// strings as in [`bytes_json`], errors `{"error": "…"}`, arrays arrays,
/// maps objects when every key is a UTF-8 string (else arrays of pairs).
pub fn value_json(value: &CacheValue) -> Value {
    match value {
        CacheValue::Simple { value } => Value::String(value.clone()),
        CacheValue::Error { message } => json!({ "error": message }),
        CacheValue::Integer { value } => json!(value),
        CacheValue::Bulk { value } => bytes_json(value),
        CacheValue::Nil => Value::Null,
        CacheValue::Array { items } => Value::Array(items.iter().map(value_json).collect()),
        CacheValue::Map { entries } => {
            let keys: Option<Vec<String>> = entries
                .iter()
                .map(|(k, _)| {
                    k.as_bytes()
                        .and_then(|b| std::str::from_utf8(b).ok().map(str::to_owned))
                })
                .collect();
            match keys {
                Some(keys) => Value::Object(
                    keys.into_iter()
                        .zip(entries.iter().map(|(_, v)| value_json(v)))
                        .collect(),
                ),
                None => Value::Array(
                    entries
                        .iter()
                        .map(|(k, v)| json!([value_json(k), value_json(v)]))
                        .collect(),
                ),
            }
        }
        CacheValue::Double { value } => json!(value),
        CacheValue::Boolean { value } => json!(value),
    }
}

/// INFO's text as `{"section": {"field": "value"}}` (sections lower-case).
fn info_json(text: &str) -> Value {
    let mut root = serde_json::Map::new();
    let mut section = String::from("default");
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("# ") {
            section = name.to_lowercase();
            root.entry(section.clone()).or_insert_with(|| json!({}));
        } else if let Some((k, v)) = line.split_once(':') {
            let entry = root.entry(section.clone()).or_insert_with(|| json!({}));
            if let Value::Object(map) = entry {
                map.insert(k.to_owned(), Value::String(v.to_owned()));
            }
        }
    }
    Value::Object(root)
}

/// `12.345s`, `2m 3.000s` … for a TTL in ms.
fn human_ms(ms: i64) -> String {
    let secs = ms as f64 / 1000.0;
    if ms >= 3_600_000 {
        format!(
            "{}h {}m {:.3}s",
            ms / 3_600_000,
            ms / 60_000 % 60,
            (ms % 60_000) as f64 / 1000.0
        )
    } else if ms >= 60_000 {
        format!("{}m {:.3}s", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
    } else {
        format!("{secs:.3}s")
    }
}

/// The argument itself, or standard input's bytes (as they are) for `-`.
fn bytes_or_stdin(arg: String) -> anyhow::Result<Vec<u8>> {
    if arg != "-" {
        return Ok(arg.into_bytes());
    }
    crate::stdin::read_piped("`-` reads standard input, which is a terminal; pipe the value in")
}

/// Prints messages until Ctrl-C or the connection closes.
async fn subscribe(
    addr: &str,
    client: &Client,
    names: Vec<String>,
    pattern: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let pushes = client.pushes().await.context("push stream already taken")?;
    let names: Vec<ByteBuf> = names
        .into_iter()
        .map(|n| ByteBuf::from(n.into_bytes()))
        .collect();
    let (channels, patterns) = if pattern {
        (Vec::new(), names)
    } else {
        (names, Vec::new())
    };
    client
        .request(CacheOp::Subscribe { channels, patterns })
        .await
        .map_err(|e| session::explain(addr, e, true))?;
    session::follow(addr, client, pushes, |push| {
        let Event::Cache(CacheEvent::Message {
            channel,
            pattern,
            payload,
        }) = push.event
        else {
            return Ok(None);
        };
        Ok(Some(if json {
            let mut obj = json!({
                "channel": bytes_json(&channel),
                "payload": bytes_json(&payload),
            });
            if let Some(p) = &pattern {
                obj["pattern"] = bytes_json(p);
            }
            obj.to_string()
        } else {
            format!("{} {}", key_line(&channel), key_line(&payload))
        }))
    })
    .await
}

/// The interactive prompt: a line editor with history on a terminal,
/// otherwise one command per line of standard input.
async fn prompt(addr: &str, client: &Client, json: bool) -> anyhow::Result<u8> {
    let c = Cmd { addr, client };
    if !std::io::stdin().is_terminal() {
        let mut code = 0;
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        for line in text.lines() {
            match answer(&c, line, json).await? {
                Answered::Quit => break,
                Answered::Printed(ok) => {
                    if !ok {
                        code = 1;
                    }
                }
            }
        }
        return Ok(code);
    }
    let history = crate::credentials::data_dir()?.join("cache_history");
    let mut editor = rustyline::DefaultEditor::new().context("cannot start the line editor")?;
    let _ = editor.load_history(&history);
    let prompt = format!("{addr}> ");
    loop {
        // The editor blocks; run it off the async workers.
        let (ed, line) = tokio::task::spawn_blocking({
            let prompt = prompt.clone();
            move || {
                let line = editor.readline(&prompt);
                (editor, line)
            }
        })
        .await?;
        editor = ed;
        match line {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Answered::Quit = answer(&c, &line, json).await? {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("cannot read a line"),
        }
    }
    if let Some(dir) = history.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = editor.save_history(&history);
    Ok(0)
}

enum Answered {
    Quit,
    /// Whether the command succeeded (no error reply).
    Printed(bool),
}

/// Runs one prompt line and prints the answer redis-cli style.
async fn answer(c: &Cmd<'_>, line: &str, json: bool) -> anyhow::Result<Answered> {
    let args = match split_args(line) {
        Ok(args) if args.is_empty() => return Ok(Answered::Printed(true)),
        Ok(args) => args,
        Err(e) => {
            println!("Invalid argument(s): {e}");
            return Ok(Answered::Printed(false));
        }
    };
    if args.len() == 1
        && (args[0].eq_ignore_ascii_case(b"quit") || args[0].eq_ignore_ascii_case(b"exit"))
    {
        return Ok(Answered::Quit);
    }
    let op = Op::Cache(CacheOp::Command {
        args: args.into_iter().map(ByteBuf::from).collect(),
    });
    let value = match c.client.request(op).await {
        Ok(Reply::Cache(CacheReply::Value { value })) => value,
        Ok(_) => anyhow::bail!("unexpected reply"),
        Err(agora_wire::Error::Server(body)) if body.code != ErrorCode::Unavailable => {
            CacheValue::Error {
                message: format!("ERR {}", body.message),
            }
        }
        Err(e) => return Err(session::explain(c.addr, e, true)),
    };
    let ok = !value.is_error();
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", value_json(&value))?;
    } else {
        writeln!(out, "{}", cli_text(&value))?;
    }
    out.flush()?;
    Ok(Answered::Printed(ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms() {
        assert_eq!(bytes_json(b"hi"), json!("hi"));
        assert_eq!(bytes_json(&[0xff, 0]), json!({ "base64": "/wA=" }));
        let map = CacheValue::Map {
            entries: vec![(CacheValue::bulk("a"), CacheValue::Integer { value: 1 })],
        };
        assert_eq!(value_json(&map), json!({ "a": 1 }));
        assert_eq!(value_json(&CacheValue::Nil), Value::Null);
        assert_eq!(
            value_json(&CacheValue::Error {
                message: "ERR x".into()
            }),
            json!({ "error": "ERR x" })
        );
    }

    #[test]
    fn key_lines_quote_only_when_needed() {
        assert_eq!(key_line(b"user:1"), "user:1");
        assert_eq!(key_line(b"a\nb"), "\"a\\nb\"");
        assert_eq!(key_line(&[0xff]), "\"\\xff\"");
    }

    #[test]
    fn info_sections() {
        let v = info_json("# Server\r\nredis_version:7.2.0\r\n\r\n# Keyspace\r\ndb0:keys=1\r\n");
        assert_eq!(v["server"]["redis_version"], "7.2.0");
        assert_eq!(v["keyspace"]["db0"], "keys=1");
    }

    #[test]
    fn ttl_text() {
        assert_eq!(human_ms(1500), "1.500s");
        assert_eq!(human_ms(61_000), "1m 1.000s");
    }
}
