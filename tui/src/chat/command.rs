//! The chat's slash commands: one table ([`COMMANDS`]) for parsing,
//! completion and `/help`, and [`parse`], which turns a submitted line
//! into a [`Command`].
//!
//! Plain text is [`Command::Say`], a line starting with `/` is a slash
//! command, and `//` sends a line that starts with a literal `/`. Pure
//! text in, value out; the chat state decides what each command does.

use agora_wire::names::{validate_room, validate_user_name};

/// Which command a table entry is; [`parse`] matches on it, so adding an
/// entry without parsing it does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/away`.
    Away,
    /// `/help`.
    Help,
    /// `/join`.
    Join,
    /// `/leave`.
    Leave,
    /// `/me`.
    Me,
    /// `/msg`.
    Msg,
    /// `/quit`.
    Quit,
    /// `/rooms`.
    Rooms,
    /// `/topic`.
    Topic,
    /// `/who`.
    Who,
}

/// One slash command, as the table lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name, with its slash: `/join`.
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// Its arguments in usage notation: `ROOM`, `[TEXT]`.
    pub args: &'static str,
    /// What it does, in a few words.
    pub summary: &'static str,
    /// Which command it is.
    pub kind: Kind,
}

impl Spec {
    /// `/join ROOM`.
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {}", self.name, self.args)
        }
    }

    /// One line of help: usage, what it does, and its other names.
    pub fn describe(&self) -> String {
        let mut text = format!("{} — {}", self.usage(), self.summary);
        if !self.aliases.is_empty() {
            text.push_str(&format!(" (also {})", self.aliases.join(", ")));
        }
        text
    }
}

const fn spec(
    name: &'static str,
    aliases: &'static [&'static str],
    args: &'static str,
    summary: &'static str,
    kind: Kind,
) -> Spec {
    Spec {
        name,
        aliases,
        args,
        summary,
        kind,
    }
}

/// The slash commands, sorted by name: what `/help` lists and tab
/// completion offers.
pub const COMMANDS: [Spec; 10] = [
    spec(
        "/away",
        &[],
        "[MESSAGE]",
        "away with a note; alone: back",
        Kind::Away,
    ),
    spec(
        "/help",
        &[],
        "[COMMAND]",
        "list commands, or explain one",
        Kind::Help,
    ),
    spec("/join", &[], "ROOM", "join (or create) a room", Kind::Join),
    spec(
        "/leave",
        &["/part"],
        "[ROOM]",
        "leave the room shown, or ROOM",
        Kind::Leave,
    ),
    spec(
        "/me",
        &[],
        "ACTION",
        "send an action: * you waves",
        Kind::Me,
    ),
    spec(
        "/msg",
        &[],
        "USER TEXT",
        "send a private message",
        Kind::Msg,
    ),
    spec("/quit", &[], "", "leave the TUI", Kind::Quit),
    spec(
        "/rooms",
        &["/list"],
        "",
        "list every room (* joined)",
        Kind::Rooms,
    ),
    spec(
        "/topic",
        &[],
        "[TEXT]",
        "show or set the room's topic",
        Kind::Topic,
    ),
    spec("/who", &[], "[ROOM]", "who is here, or in ROOM", Kind::Who),
];

/// The width of the usage column of `/help`.
pub const USAGE_COLUMN: usize = 16;

/// `/help`'s lines: each command's usage and summary.
pub fn help_lines() -> Vec<String> {
    COMMANDS
        .iter()
        .map(|c| format!("{:<USAGE_COLUMN$}{}", c.usage(), c.summary))
        .collect()
}

/// Every command's name, for completion.
pub fn names() -> [&'static str; COMMANDS.len()] {
    COMMANDS.map(|c| c.name)
}

/// The command called `name` (with or without its slash), by name or alias.
pub fn lookup(name: &str) -> Option<&'static Spec> {
    let name = name.strip_prefix('/').unwrap_or(name).to_lowercase();
    COMMANDS.iter().find(|c| {
        std::iter::once(c.name)
            .chain(c.aliases.iter().copied())
            .any(|n| n[1..] == name)
    })
}

/// One submitted input line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Plain text for the current room (or DM partner).
    Say(String),
    /// `/me text`: an action.
    Me(String),
    /// `/msg USER text`: a private message.
    Msg {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// `/join ROOM` (a leading `#` is allowed).
    Join(String),
    /// `/leave [ROOM]`: the named room, or the current one.
    Leave(Option<String>),
    /// `/topic [text]`: set the current room's topic, or show it.
    Topic(Option<String>),
    /// `/who [ROOM]`: who is in a room (the current one by default).
    Who(Option<String>),
    /// `/rooms`: list every room.
    Rooms,
    /// `/away [message]`: away with a message, or back without one.
    Away(Option<String>),
    /// `/help`: every command; `/help CMD`: that one.
    Help(Option<&'static Spec>),
    /// `/quit`: leave the TUI.
    Quit,
}

/// Parses one input line. `Ok(None)` for a blank line.
///
/// # Errors
/// A sentence for the status line: an unknown command or a usage hint.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    if let Some(literal) = line.strip_prefix("//") {
        return Ok(Some(Command::Say(format!("/{literal}"))));
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Command::Say(line.to_string())));
    };
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    let Some(spec) = lookup(name) else {
        return Err(format!(
            "unknown command /{name}: /help lists them (// sends a literal /)"
        ));
    };
    let usage = || format!("usage: {}", spec.usage());
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let command = match spec.kind {
        Kind::Me if args.is_empty() => return Err(format!("{}, e.g. /me waves", usage())),
        Kind::Me => Command::Me(args.to_string()),
        Kind::Msg => {
            let (to, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let text = text.trim();
            if to.is_empty() || text.is_empty() {
                return Err(usage());
            }
            Command::Msg {
                to: validate_user_name(to)?,
                text: text.to_string(),
            }
        }
        Kind::Join if args.is_empty() => return Err(usage()),
        Kind::Join => Command::Join(room(args)?),
        Kind::Leave => Command::Leave(optional(args).map(|r| room(&r)).transpose()?),
        Kind::Topic => Command::Topic(optional(args)),
        Kind::Who => Command::Who(optional(args).map(|r| room(&r)).transpose()?),
        Kind::Rooms => Command::Rooms,
        Kind::Away => Command::Away(optional(args)),
        Kind::Help if args.is_empty() => Command::Help(None),
        Kind::Help => match lookup(args) {
            Some(about) => Command::Help(Some(about)),
            None => {
                let name = args.strip_prefix('/').unwrap_or(args);
                return Err(format!("no command /{name}: /help lists them"));
            }
        },
        Kind::Quit => Command::Quit,
    };
    Ok(Some(command))
}

/// A room name as typed: `#general` or `general`, one word.
fn room(typed: &str) -> Result<String, String> {
    if typed.split_whitespace().nth(1).is_some() {
        return Err(format!("room names are one word, not {typed:?}"));
    }
    validate_room(typed.strip_prefix('#').unwrap_or(typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .expect("a command")
    }

    #[test]
    fn plain_text_is_said_and_blank_is_nothing() {
        assert_eq!(ok("hello there"), Command::Say("hello there".into()));
        assert_eq!(ok("//etc/passwd"), Command::Say("/etc/passwd".into()));
        assert_eq!(parse("   "), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn every_slash_command_parses() {
        assert_eq!(ok("/me waves"), Command::Me("waves".into()));
        assert_eq!(
            ok("/msg bob  hi there "),
            Command::Msg {
                to: "bob".into(),
                text: "hi there".into()
            }
        );
        assert_eq!(ok("/join #General"), Command::Join("general".into()));
        assert_eq!(ok("/join rust"), Command::Join("rust".into()));
        assert_eq!(ok("/leave"), Command::Leave(None));
        assert_eq!(ok("/leave #rust"), Command::Leave(Some("rust".into())));
        assert_eq!(ok("/topic"), Command::Topic(None));
        assert_eq!(
            ok("/topic all about  rust"),
            Command::Topic(Some("all about  rust".into()))
        );
        assert_eq!(ok("/who"), Command::Who(None));
        assert_eq!(ok("/who general"), Command::Who(Some("general".into())));
        assert_eq!(ok("/rooms"), Command::Rooms);
        assert_eq!(ok("/away"), Command::Away(None));
        assert_eq!(ok("/away lunch"), Command::Away(Some("lunch".into())));
        assert_eq!(ok("/quit"), Command::Quit);
        assert_eq!(ok("/part"), Command::Leave(None), "an alias");
        assert_eq!(ok("/LIST"), Command::Rooms, "any case");
        assert_eq!(ok("/help"), Command::Help(None));
        let Command::Help(Some(spec)) = ok("/help /join") else {
            panic!("/help /join")
        };
        assert_eq!(spec.kind, Kind::Join);
        assert!(matches!(ok("/help part"), Command::Help(Some(s)) if s.kind == Kind::Leave));
    }

    #[test]
    fn the_table_is_sorted_and_names_are_unique() {
        let names = names();
        let mut sorted = names;
        sorted.sort();
        assert_eq!(names, sorted);
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count);
        for c in &COMMANDS {
            assert!(c.name.starts_with('/') && c.aliases.iter().all(|a| a.starts_with('/')));
            // `/help` lists one line per command: usage, then summary,
            // within the messages area at 80 columns (46 cells).
            assert!(c.usage().len() < USAGE_COLUMN, "{}", c.usage());
            assert!(c.summary.chars().count() <= 30, "{}", c.summary);
        }
        assert_eq!(
            COMMANDS[1].describe(),
            "/help [COMMAND] — list commands, or explain one"
        );
        assert_eq!(
            lookup("part").map(Spec::describe).as_deref(),
            Some("/leave [ROOM] — leave the room shown, or ROOM (also /part)")
        );
    }

    #[test]
    fn bad_commands_say_how_to_use_them() {
        let err = parse("/frobnicate now").expect_err("unknown");
        assert!(err.starts_with("unknown command /frobnicate"), "{err}");
        assert!(err.contains("/help"), "{err}");
        let err = parse("/help frobnicate").expect_err("unknown");
        assert_eq!(err, "no command /frobnicate: /help lists them");
        assert!(parse("/me").expect_err("usage").contains("/me ACTION"));
        assert!(
            parse("/msg bob")
                .expect_err("usage")
                .contains("/msg USER TEXT")
        );
        assert!(parse("/msg").expect_err("usage").contains("/msg USER TEXT"));
        assert!(parse("/join").expect_err("usage").contains("/join ROOM"));
        assert!(
            parse("/join a b")
                .expect_err("one word")
                .contains("one word")
        );
        assert!(parse("/join bad!room").is_err());
    }
}
