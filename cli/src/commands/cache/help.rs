//! The prompt's `help`, argument hints and tab completion, all generated
//! from the daemon's command table (`agora_daemon::cache::cmd::COMMANDS`:
//! syntax, summary, group, arity), so a new command gets them for free.
//!
//! As redis-cli: `help` alone explains itself, `help SET` shows a
//! command's syntax (with a container's subcommands), `help @string` a
//! group; typing `SET ` shows the rest of the syntax greyed
//! ([`PromptHelper`], a rustyline `Hinter`), dropping the arguments
//! already typed; Tab completes command names (in the case you started
//! typing), a container's subcommands, and `help` topics.

use std::borrow::Cow;

use agora_daemon::cache::cmd::{COMMANDS, Doc, Group, Spec, lookup};
use agora_daemon::resp::args::split_args;
use serde_json::{Value, json};

/// One `help` entry: a command or a container's subcommand.
#[derive(Clone, Copy)]
pub struct Entry {
    /// The command (`set`), or the container for a subcommand.
    pub spec: &'static Spec,
    /// The subcommand (`get` of `config get`), if this is one.
    pub sub: Option<&'static str>,
    /// Its arity (Redis's: `-n` at least n words, the name included).
    pub arity: i32,
    /// Its documentation.
    pub doc: Doc,
}

impl Entry {
    fn command(spec: &'static Spec) -> Entry {
        Entry {
            spec,
            sub: None,
            arity: spec.arity,
            doc: spec.doc,
        }
    }

    /// `SET`, `CONFIG GET`.
    pub fn name(&self) -> String {
        match self.sub {
            Some(sub) => format!("{} {}", self.spec.name, sub).to_uppercase(),
            None => self.spec.name.to_uppercase(),
        }
    }

    /// The arity in words: `exactly 2 arguments`, `at least 1 argument`.
    fn arity_text(&self) -> String {
        let words = if self.sub.is_some() { 2 } else { 1 };
        let n = self.arity.unsigned_abs().saturating_sub(words);
        let plural = if n == 1 { "" } else { "s" };
        let how = if self.arity < 0 {
            "at least"
        } else {
            "exactly"
        };
        format!("{} ({how} {n} argument{plural})", self.arity)
    }

    /// The entry as redis-cli prints it (plus its arity), `color` with
    /// redis-cli's colours: bold name, grey syntax, yellow labels.
    pub fn text(&self, color: bool) -> String {
        let (bold, grey, yellow, reset) = if color {
            ("\x1b[1m", "\x1b[90m", "\x1b[33m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let d = &self.doc;
        format!(
            "\n  {bold}{}{reset} {grey}{}{reset}\n  {yellow}summary:{reset} {}\n  {yellow}since:{reset} {}\n  {yellow}group:{reset} {}\n  {yellow}arity:{reset} {}\n",
            self.name(),
            d.syntax,
            d.summary,
            d.since,
            d.group.name(),
            self.arity_text(),
        )
    }

    /// `{"type": "help", "command", "syntax", "summary", "group", "since",
    /// "arity"}`.
    pub fn json(&self) -> Value {
        json!({
            "type": "help",
            "command": self.name(),
            "syntax": self.doc.syntax,
            "summary": self.doc.summary,
            "group": self.doc.group.name(),
            "since": self.doc.since,
            "arity": self.arity,
        })
    }
}

/// A command's entry followed by its subcommands' (a container's).
fn with_subcommands(spec: &'static Spec) -> impl Iterator<Item = Entry> {
    std::iter::once(Entry::command(spec)).chain(spec.subcommands.iter().map(move |s| Entry {
        spec,
        sub: Some(s.name),
        arity: s.arity,
        doc: s.doc,
    }))
}

/// What `help` with no topic prints.
pub fn general() -> String {
    let groups: Vec<String> = Group::ALL
        .iter()
        .map(|g| format!("@{}", g.name()))
        .collect();
    format!(
        "agora cache {} (commands: {}; the daemon speaks Redis 7)\n\
         To get help about commands type:\n      \
         \"help @<group>\" to get a list of commands in <group>\n      \
         \"help <command>\" for help on <command>\n      \
         \"help <tab>\" to get a list of possible help topics\n      \
         \"quit\" to exit\n\
         Groups: {}\n",
        env!("CARGO_PKG_VERSION"),
        COMMANDS.len(),
        groups.join(" "),
    )
}

/// The entries for `help TOPIC…`: `@group`, `command`, or `command
/// subcommand`; an error naming the topic when there are none.
pub fn topic(words: &[Vec<u8>]) -> Result<Vec<Entry>, String> {
    let first = String::from_utf8_lossy(&words[0]).to_lowercase();
    if let Some(name) = first.strip_prefix('@') {
        let Some(group) = Group::ALL.into_iter().find(|g| g.name() == name) else {
            let names: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
            return Err(format!("no group @{name} (groups: @{})", names.join(" @")));
        };
        return Ok(COMMANDS
            .iter()
            .filter(|s| s.doc.group == group)
            .flat_map(with_subcommands)
            .collect());
    }
    let Some(spec) = lookup(&words[0]) else {
        return Err(format!(
            "no help for '{first}': not a command (try `help @<group>`)"
        ));
    };
    if let Some(sub) = words.get(1).and_then(|w| spec.subcommand(w)) {
        return Ok(vec![Entry {
            spec,
            sub: Some(sub.name),
            arity: sub.arity,
            doc: sub.doc,
        }]);
    }
    Ok(with_subcommands(spec).collect())
}

/// The rest of a command's syntax after what `line` already holds, as
/// redis-cli hints it: the required arguments typed so far are dropped
/// (up to the first optional one); `None` when there is nothing to show.
pub fn hint(line: &str) -> Option<String> {
    let words = split_args(line).ok()?;
    let spec = lookup(words.first()?)?;
    let (syntax, typed) = match words.get(1).and_then(|w| spec.subcommand(w)) {
        Some(sub) if words.len() > 2 || line.ends_with(' ') => (sub.doc.syntax, words.len() - 2),
        _ => (spec.doc.syntax, words.len() - 1),
    };
    let rest = drop_typed(syntax, typed);
    if rest.is_empty() {
        return None;
    }
    Some(if line.ends_with(' ') {
        rest.to_owned()
    } else {
        format!(" {rest}")
    })
}

/// `syntax` less its first `typed` top-level items, stopping at the first
/// optional one (`[…]`), as redis-cli does.
fn drop_typed(syntax: &str, mut typed: usize) -> &str {
    let mut rest = syntax;
    while typed > 0 && !rest.is_empty() && !rest.starts_with('[') {
        // One item: a word, or a `<…>` choice taken whole.
        let mut depth = 0usize;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '<' | '[' => depth += 1,
                    '>' | ']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                c == ' ' && depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        rest = rest[end..].trim_start();
        typed -= 1;
    }
    rest
}

/// Completions for the word before `pos`: a command name as the first
/// word, a subcommand after a container, a topic after `help`; in the
/// case the word was started in (upper case when it is empty, as
/// redis-cli). Returns where the word starts.
pub fn complete(line: &str, pos: usize) -> (usize, Vec<String>) {
    let before = &line[..pos];
    let start = before.rfind(' ').map_or(0, |i| i + 1);
    let word = &before[start..];
    let earlier: Vec<&str> = before[..start].split_whitespace().collect();
    let upper = word.chars().next().is_none_or(|c| c.is_ascii_uppercase());
    let names: Vec<String> = match earlier.as_slice() {
        [] => COMMANDS
            .iter()
            .map(|s| s.name.to_owned())
            .chain(["help".to_owned()])
            .collect(),
        [help] if help.eq_ignore_ascii_case("help") => COMMANDS
            .iter()
            .map(|s| s.name.to_owned())
            .chain(Group::ALL.iter().map(|g| format!("@{}", g.name())))
            .collect(),
        [command] => lookup(command.as_bytes())
            .map(|s| s.subcommands.iter().map(|s| s.name.to_owned()).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let lower = word.to_ascii_lowercase();
    let mut found: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(&lower))
        .map(|n| if upper { n.to_uppercase() } else { n })
        .collect();
    found.sort();
    (start, found)
}

/// A syntax hint: shown greyed after the cursor, never inserted.
pub struct SyntaxHint(String);

impl rustyline::hint::Hint for SyntaxHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

/// The line editor's helper: hints and completion from the table.
pub struct PromptHelper;

impl rustyline::hint::Hinter for PromptHelper {
    type Hint = SyntaxHint;

    fn hint(&self, line: &str, pos: usize, _: &rustyline::Context<'_>) -> Option<SyntaxHint> {
        // Only with the cursor at the end, as redis-cli.
        (pos == line.len())
            .then(|| hint(line))
            .flatten()
            .map(SyntaxHint)
    }
}

impl rustyline::completion::Completer for PromptHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(complete(line, pos))
    }
}

impl rustyline::highlight::Highlighter for PromptHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl rustyline::validate::Validator for PromptHelper {}

impl rustyline::Helper for PromptHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_drop_what_was_typed() {
        let set = "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]";
        assert_eq!(hint("SET ").as_deref(), Some(set));
        assert_eq!(
            hint("set").map(|h| h.trim_start().to_owned()).as_deref(),
            Some(set)
        );
        assert_eq!(hint("SET foo").as_deref(), Some(&set[3..]));
        assert_eq!(hint("SET foo bar ").as_deref(), Some(&set[10..]));
        assert_eq!(hint("GET k "), None);
        assert_eq!(hint("nosuch "), None);
        assert_eq!(hint("CONFIG ").as_deref(), Some("<GET|SET|RESETSTAT>"));
        assert_eq!(
            hint("config get ").as_deref(),
            Some("parameter [parameter ...]")
        );
        assert_eq!(hint("CLIENT SETINFO LIB-NAME "), None);
        assert_eq!(hint("set \"open"), None);
    }

    #[test]
    fn completion_follows_the_typed_case() {
        assert_eq!(
            complete("hs", 2),
            (0, vec!["hset".into(), "hsetnx".into(), "hstrlen".into()])
        );
        assert_eq!(complete("HGETA", 5), (0, vec!["HGETALL".into()]));
        assert_eq!(
            complete("help @s", 7),
            (
                5,
                [
                    "@scripting",
                    "@server",
                    "@set",
                    "@sorted-set",
                    "@stream",
                    "@string"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(complete("CONFIG G", 8), (7, vec!["GET".into()]));
        assert_eq!(complete("get k", 5).1, Vec::<String>::new());
    }

    #[test]
    fn help_topics_come_from_the_table() {
        let set = topic(&[b"set".to_vec()]).unwrap();
        assert_eq!(set.len(), 1);
        let text = set[0].text(false);
        assert!(text.contains("  SET key value [NX|XX]"), "{text}");
        assert!(
            text.contains("summary: Set the string value of a key"),
            "{text}"
        );
        assert!(text.contains("arity: -3 (at least 2 arguments)"), "{text}");
        let config = topic(&[b"CONFIG".to_vec()]).unwrap();
        let names: Vec<String> = config.iter().map(Entry::name).collect();
        assert_eq!(
            names,
            ["CONFIG", "CONFIG GET", "CONFIG SET", "CONFIG RESETSTAT"]
        );
        let get = topic(&[b"config".to_vec(), b"get".to_vec()]).unwrap();
        assert_eq!(get[0].json()["arity"], -3);
        let hashes = topic(&[b"@hash".to_vec()]).unwrap();
        assert!(hashes.iter().all(|e| e.doc.group == Group::Hash) && hashes.len() > 5);
        assert!(topic(&[b"@nosuch".to_vec()]).is_err());
        assert!(topic(&[b"nosuch".to_vec()]).is_err());
        // Every command has an entry.
        for spec in COMMANDS {
            assert!(
                topic(&[spec.name.as_bytes().to_vec()]).is_ok(),
                "{}",
                spec.name
            );
        }
    }
}
