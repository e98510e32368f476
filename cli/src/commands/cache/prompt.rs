//! The prompt (`agora cache` with no subcommand), like redis-cli's.
//!
//! On a terminal: a line editor with history
//! (`$XDG_DATA_HOME/agora/cache_history`), `help`, greyed argument hints
//! and tab completion ([`super::help`]); errors do not change the exit
//! code (0), as in redis-cli. When standard input is not a terminal: one
//! command per line, no prompt; exit 2 if any line was refused (an error
//! reply, or quotes that do not balance), else 0 — a nil reply is an
//! answer, not "nothing to report", as in redis-cli.
//!
//! Lines are split like redis-cli's (`sdssplitargs`); replies are printed
//! in the [`Format`] chosen by `agora cache` (formatted on a terminal, raw
//! on a pipe, or JSON lines). `SUBSCRIBE`/`PSUBSCRIBE` enter subscribed
//! mode, printing messages as redis-cli does until Ctrl-C (back to the
//! prompt on a terminal; exit 130 on a pipe, where nothing else can be
//! read). `quit`/`exit` leave.

use std::io::{IsTerminal as _, Write as _};

use agora_daemon::resp::args::split_args;
use agora_wire::{
    CacheEvent, CacheOp, CacheReply, CacheValue, ErrorCode, Event, Op, Pushes, Reply,
};
use anyhow::Context as _;
use futures::FutureExt as _;
use serde_bytes::ByteBuf;
use tokio::io::AsyncBufReadExt as _;

use super::help::{self, PromptHelper};
use super::print::{self, Format};
use super::{Cmd, Kind};
use crate::session;

/// Runs the prompt until `quit`, end of input, or (on a pipe) Ctrl-C in
/// subscribed mode; returns the exit code.
pub async fn run(c: &Cmd<'_>, format: Format) -> anyhow::Result<u8> {
    let pushes = c
        .client
        .pushes()
        .await
        .context("push stream already taken")?;
    let interactive = std::io::stdin().is_terminal();
    let mut prompt = Prompt {
        c,
        format,
        pushes,
        interactive,
        color: std::io::stdout().is_terminal() && format == Format::Formatted,
        failed: false,
    };
    if interactive {
        prompt.edit().await?;
        return Ok(0);
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines
            .read_until(b'\n', &mut line)
            .await
            .context("cannot read standard input")?
            == 0
        {
            break;
        }
        match prompt.answer(&line).await? {
            Next::Continue => {}
            Next::Quit => break,
            Next::Interrupted => return Ok(130),
        }
    }
    Ok(if prompt.failed { 2 } else { 0 })
}

/// What to do after a line.
enum Next {
    Continue,
    Quit,
    /// Ctrl-C in subscribed mode on a pipe.
    Interrupted,
}

struct Prompt<'a> {
    c: &'a Cmd<'a>,
    format: Format,
    pushes: Pushes,
    interactive: bool,
    /// `help` in redis-cli's colours (a terminal, formatted).
    color: bool,
    /// Whether a line was refused (an error reply or a bad line).
    failed: bool,
}

impl Prompt<'_> {
    /// The line editor loop, on a terminal.
    async fn edit(&mut self) -> anyhow::Result<()> {
        let history = crate::credentials::data_dir()?.join("cache_history");
        // No cursor-position query before each prompt: the reply can come
        // late over SSH or on a busy machine (rustyline waits 100 ms), and
        // then reads as typed keys; every reply here ends with a newline,
        // so the prompt always starts a line anyway.
        let config = rustyline::Config::builder()
            .check_cursor_position(false)
            .build();
        let mut editor =
            rustyline::Editor::<PromptHelper, rustyline::history::DefaultHistory>::with_config(
                config,
            )
            .context("cannot start the line editor")?;
        editor.set_helper(Some(PromptHelper));
        let _ = editor.load_history(&history);
        let prompt = format!("{}> ", self.c.addr);
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
                    if let Next::Quit = self.answer(line.as_bytes()).await? {
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
        Ok(())
    }

    /// Runs one line and prints the answer.
    async fn answer(&mut self, line: &[u8]) -> anyhow::Result<Next> {
        let args = match split_args(line) {
            Ok(args) if args.is_empty() => return Ok(Next::Continue),
            Ok(args) => args,
            Err(why) => {
                self.failed = true;
                self.write(&print::invalid_line(self.format, &why))?;
                return Ok(Next::Continue);
            }
        };
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        match name.as_str() {
            "quit" | "exit" if args.len() == 1 => return Ok(Next::Quit),
            "help" => {
                self.help(&args[1..])?;
                return Ok(Next::Continue);
            }
            "subscribe" if args.len() > 1 => {
                return self.subscribed(Kind::Channels, args[1..].to_vec()).await;
            }
            "psubscribe" if args.len() > 1 => {
                return self.subscribed(Kind::Patterns, args[1..].to_vec()).await;
            }
            // Outside subscribed mode there is nothing to leave: Redis's
            // answer for a connection without subscriptions.
            "unsubscribe" | "punsubscribe" => {
                let value = CacheValue::Array {
                    items: vec![
                        CacheValue::bulk(name.as_str()),
                        CacheValue::Nil,
                        CacheValue::Integer { value: 0 },
                    ],
                };
                self.write(&print::reply(self.format, &value, false))?;
                return Ok(Next::Continue);
            }
            _ => {}
        }
        // Text meant to be read as is, printed without quoting (as
        // redis-cli does for these).
        let verbatim = name == "info"
            || (name == "client"
                && args.get(1).is_some_and(|s| {
                    s.eq_ignore_ascii_case(b"list") || s.eq_ignore_ascii_case(b"info")
                }));
        let op = Op::Cache(CacheOp::Command {
            args: args.into_iter().map(ByteBuf::from).collect(),
            quiet: false,
        });
        let value = match self.c.client.request(op).await {
            Ok(Reply::Cache(CacheReply::Value { value })) => value,
            Ok(_) => anyhow::bail!("unexpected reply"),
            // Refused requests (a reply over the frame limit, …) read as
            // error replies; only a lost connection ends the prompt.
            Err(agora_wire::Error::Server(body)) if body.code != ErrorCode::Unavailable => {
                CacheValue::Error {
                    message: format!("ERR {}", body.message),
                }
            }
            Err(e) => return Err(session::explain(self.c.addr, e, true)),
        };
        self.failed |= value.is_error();
        self.write(&print::reply(self.format, &value, verbatim))?;
        Ok(Next::Continue)
    }

    fn help(&mut self, words: &[Vec<u8>]) -> anyhow::Result<()> {
        if words.is_empty() {
            let text = help::general();
            return self.write(&match self.format {
                Format::Json => {
                    print::json_line(&serde_json::json!({ "type": "help", "text": text }))
                }
                _ => text.into_bytes(),
            });
        }
        match help::topic(words) {
            Ok(entries) => {
                let mut out = Vec::new();
                for e in entries {
                    match self.format {
                        Format::Json => out.extend(print::json_line(&e.json())),
                        _ => out.extend(e.text(self.color).into_bytes()),
                    }
                }
                if self.format != Format::Json {
                    // A blank line after the last entry, as redis-cli.
                    out.push(b'\n');
                }
                self.write(&out)
            }
            Err(why) => {
                self.failed = true;
                let value = CacheValue::Error {
                    message: format!("ERR {why}"),
                };
                self.write(&print::reply(self.format, &value, false))
            }
        }
    }

    /// SUBSCRIBE/PSUBSCRIBE: confirmations, then messages until Ctrl-C,
    /// then every subscription is dropped.
    async fn subscribed(&mut self, kind: Kind, names: Vec<Vec<u8>>) -> anyhow::Result<Next> {
        // Messages still queued from an earlier subscribed mode are stale.
        while let Some(Some(_)) = self.pushes.recv().now_or_never() {}
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
        self.c.ask(Op::Cache(op)).await?;
        if self.format == Format::Formatted {
            self.write(b"Reading messages... (press Ctrl-C to quit)\n")?;
        }
        for line in print::confirmations(self.format, kind, &names) {
            self.write(&line)?;
        }
        // One listener, polled first, so that no Ctrl-C is lost between
        // two messages (see `session::follow`).
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            tokio::select! {
                biased;
                _ = &mut interrupted => break,
                push = self.pushes.recv() => {
                    let Some(push) = push else {
                        let why = self.c.client.goodbye().map_or_else(
                            || "connection closed".to_owned(),
                            |g| g.message,
                        );
                        anyhow::bail!("{}: {why}", self.c.addr);
                    };
                    if let Event::Cache(CacheEvent::Message { channel, pattern, payload }) = push.event {
                        self.write(&print::message(self.format, &channel, pattern.as_ref().map(|p| p.as_slice()), &payload))?;
                    }
                }
            }
        }
        if !self.interactive {
            return Ok(Next::Interrupted);
        }
        self.c
            .ask(Op::Cache(CacheOp::Unsubscribe {
                channels: Vec::new(),
                patterns: Vec::new(),
            }))
            .await?;
        // The terminal echoed ^C; the prompt goes on the next line.
        self.write(b"\n")?;
        Ok(Next::Continue)
    }

    /// Writes and flushes at once, so a pipe sees each answer as it comes.
    fn write(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        Ok(())
    }
}
