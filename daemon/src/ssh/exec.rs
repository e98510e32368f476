//! Exec requests (`ssh -p 2222 HOST chat send ROOM TEXT`): a small,
//! documented set of scriptable commands, run as the key's user over a
//! native connection to this daemon (docs/SSH.md, "Commands").
//!
//! | command | does |
//! |---|---|
//! | `help` | lists these commands |
//! | `whoami` | prints the user's name |
//! | `chat join ROOM` | joins a room |
//! | `chat send ROOM TEXT…` | sends the rest of the line to the room |
//! | `chat history ROOM [N]` | prints the last N (default 20) messages, `seq from: text` |
//! | `jobs stats` | prints the job counts as JSON |
//!
//! Exit status as the CLI's: 0 done, 2 error (with one line on stderr).
//! Parsing is pure ([`parse`]); words split on blanks with `'…'`, `"…"`
//! and `\` quoting, as a shell would (OpenSSH sends the words joined by
//! spaces).

use std::net::SocketAddr;

use agora_wire::{ChatOp, ChatReply, Client, Hello, JobsOp, Reply};

/// The commands' one-screen help.
pub const HELP: &str = "\
commands (ssh -p PORT HOST COMMAND):
  help                     this list
  whoami                   your agora user name
  chat join ROOM           join a room
  chat send ROOM TEXT...   send TEXT to ROOM
  chat history ROOM [N]    the last N messages of ROOM (default 20)
  jobs stats               job counts by state and queue (JSON)
without a command, with a terminal (ssh -t): the agora TUI
";

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help`.
    Help,
    /// `whoami`.
    Whoami,
    /// `chat join ROOM`.
    Join(String),
    /// `chat send ROOM TEXT…`.
    Send(String, String),
    /// `chat history ROOM [N]`.
    History(String, u32),
    /// `jobs stats`.
    JobsStats,
}

/// What a command printed, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// For the channel's standard output.
    pub stdout: String,
    /// For its standard error.
    pub stderr: String,
    /// The exit status.
    pub status: u32,
}

impl Outcome {
    fn ok(stdout: String) -> Outcome {
        Outcome {
            stdout,
            stderr: String::new(),
            status: 0,
        }
    }

    fn error(message: impl std::fmt::Display) -> Outcome {
        Outcome {
            stdout: String::new(),
            stderr: format!("agora: {message}\n"),
            status: 2,
        }
    }
}

/// Splits a command line into words, as a shell would. Pure.
///
/// # Errors
/// When a quote is not closed.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\\' => word.get_or_insert_default().extend(chars.next()),
            '\'' | '"' => {
                let w = word.get_or_insert_default();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => w.extend(chars.next()),
                        Some(other) => w.push(other),
                        None => return Err(format!("unclosed {c} in the command")),
                    }
                }
            }
            other => word.get_or_insert_default().push(other),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Parses a command line. Pure.
///
/// # Errors
/// A one-line reason, naming `help`.
pub fn parse(line: &str) -> Result<Command, String> {
    let words = split(line)?;
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let usage = |what: &str| format!("usage: {what} (try `help`)");
    Ok(match words.as_slice() {
        ["help"] | ["--help"] => Command::Help,
        ["whoami"] => Command::Whoami,
        ["chat", "join", room] => Command::Join((*room).to_owned()),
        ["chat", "join", ..] => return Err(usage("chat join ROOM")),
        ["chat", "send", room, text @ ..] if !text.is_empty() => {
            Command::Send((*room).to_owned(), text.join(" "))
        }
        ["chat", "send", ..] => return Err(usage("chat send ROOM TEXT...")),
        ["chat", "history", room] => Command::History((*room).to_owned(), 20),
        ["chat", "history", room, n] => match n.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => Command::History((*room).to_owned(), n),
            _ => return Err(format!("{n:?} is not a count from 1 to 1000")),
        },
        ["chat", "history", ..] => return Err(usage("chat history ROOM [N]")),
        ["jobs", "stats"] => Command::JobsStats,
        [] => return Err("no command (try `help`)".into()),
        _ => {
            let shown: String = words.join(" ").chars().take(80).collect();
            return Err(format!("{shown:?} is not a command here (try `help`)"));
        }
    })
}

/// Runs `line` as the user `token` signs in, against the daemon at `addr`.
pub async fn run(addr: SocketAddr, token: String, line: &str) -> Outcome {
    let command = match parse(line) {
        Ok(command) => command,
        Err(why) => return Outcome::error(why),
    };
    if command == Command::Help {
        return Outcome::ok(HELP.to_owned());
    }
    let hello = Hello::new(format!("agora-ssh/{}", crate::VERSION), Some(token));
    let client = match Client::connect(addr, hello).await {
        Ok((client, _)) => client,
        Err(err) => return Outcome::error(format!("cannot reach the daemon: {err}")),
    };
    match execute(&client, command).await {
        Ok(out) => Outcome::ok(out),
        Err(err) => Outcome::error(err),
    }
}

async fn execute(client: &Client, command: Command) -> Result<String, agora_wire::Error> {
    let unexpected = || agora_wire::Error::Malformed("unexpected answer".into());
    Ok(match command {
        Command::Help => HELP.to_owned(),
        Command::Whoami => match client.request(agora_wire::BaseOp::Whoami).await? {
            Reply::Base(agora_wire::BaseReply::Whoami { user: Some(u), .. }) => {
                format!("{}\n", u.name)
            }
            _ => return Err(unexpected()),
        },
        Command::Join(room) => {
            client.request(ChatOp::Join { room: room.clone() }).await?;
            format!("joined {room}\n")
        }
        Command::Send(room, text) => match client
            .request(ChatOp::Send {
                room,
                text,
                action: false,
            })
            .await?
        {
            Reply::Chat(ChatReply::Sent { seq, .. }) => format!("sent {seq}\n"),
            _ => return Err(unexpected()),
        },
        Command::History(room, n) => match client
            .request(ChatOp::History {
                room,
                before: None,
                since: None,
                limit: Some(n),
            })
            .await?
        {
            Reply::Chat(ChatReply::History { messages, .. }) => messages
                .iter()
                .map(|m| format!("{} {}: {}\n", m.seq, m.from, m.text.replace('\n', " ")))
                .collect(),
            _ => return Err(unexpected()),
        },
        Command::JobsStats => match client.request(JobsOp::Stats).await? {
            Reply::Jobs(reply) => {
                let mut text = serde_json::to_string_pretty(&reply)
                    .map_err(|e| agora_wire::Error::Malformed(e.to_string()))?;
                text.push('\n');
                text
            }
            _ => return Err(unexpected()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_a_shell_would() {
        assert_eq!(
            split(r#"chat send  general 'hi there' "a \"b\"" c\ d"#).unwrap(),
            vec!["chat", "send", "general", "hi there", "a \"b\"", "c d"]
        );
        assert!(split("say 'oops").unwrap_err().contains("unclosed"));
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn commands_parse_and_others_get_a_reason() {
        assert_eq!(
            parse("chat send general hello world").unwrap(),
            Command::Send("general".into(), "hello world".into())
        );
        assert_eq!(
            parse("chat history general").unwrap(),
            Command::History("general".into(), 20)
        );
        assert_eq!(
            parse("chat history general 5").unwrap(),
            Command::History("general".into(), 5)
        );
        assert_eq!(parse("jobs stats").unwrap(), Command::JobsStats);
        assert_eq!(parse("help").unwrap(), Command::Help);
        assert!(parse("chat send general").unwrap_err().contains("usage"));
        assert!(
            parse("chat history general 0")
                .unwrap_err()
                .contains("count")
        );
        assert!(parse("rm -rf /").unwrap_err().contains("not a command"));
        assert!(parse("").unwrap_err().contains("no command"));
    }
}
