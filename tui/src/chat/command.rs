//! What a line typed into the chat input means.
//!
//! [`parse`] turns a submitted line into a [`Command`]: plain text is
//! [`Command::Say`], a line starting with `/` is a slash command, and `//`
//! sends a line that starts with a literal `/`. Pure text in, value out; the
//! chat state decides what each command does.

use agora_wire::names::{validate_room, validate_user_name};

/// The slash commands, sorted, as tab completion offers them.
pub const COMMANDS: [&str; 9] = [
    "/away", "/join", "/leave", "/me", "/msg", "/quit", "/rooms", "/topic", "/who",
];

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
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let command = match name {
        "me" if args.is_empty() => return Err("usage: /me ACTION, e.g. /me waves".into()),
        "me" => Command::Me(args.to_string()),
        "msg" => {
            let (to, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let text = text.trim();
            if to.is_empty() || text.is_empty() {
                return Err("usage: /msg USER TEXT".into());
            }
            Command::Msg {
                to: validate_user_name(to)?,
                text: text.to_string(),
            }
        }
        "join" if args.is_empty() => return Err("usage: /join ROOM".into()),
        "join" => Command::Join(room(args)?),
        "leave" | "part" => Command::Leave(optional(args).map(|r| room(&r)).transpose()?),
        "topic" => Command::Topic(optional(args)),
        "who" => Command::Who(optional(args).map(|r| room(&r)).transpose()?),
        "rooms" | "list" => Command::Rooms,
        "away" => Command::Away(optional(args)),
        "quit" => Command::Quit,
        _ => {
            return Err(format!(
                "unknown command /{name}; try {} (// sends a literal /)",
                COMMANDS.join(" ")
            ));
        }
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
    }

    #[test]
    fn bad_commands_say_how_to_use_them() {
        let err = parse("/frobnicate now").expect_err("unknown");
        assert!(err.starts_with("unknown command /frobnicate"), "{err}");
        assert!(err.contains("/join"), "{err}");
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
