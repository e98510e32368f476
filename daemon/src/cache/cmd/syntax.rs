//! Command syntax in redis-cli's notation (`key value [NX|XX] [EX
//! seconds|PX milliseconds]`), parsed into the argument tree that COMMAND
//! DOCS reports, so redis-cli's `help` and hints work against the daemon
//! and the one string in the command table is the only place a command's
//! syntax is written.
//!
//! The notation, as redis-cli prints it: words in lower case are values
//! the caller supplies (`key`), words in upper case are literal tokens
//! (`NX`); a token followed by values takes them (`EX seconds`, `AUTH
//! username password`); `[…]` is optional; `|` separates alternatives
//! inside `[…]` or `<…>` (`<…>` is a required choice, as in Redis's
//! documentation); `x [x ...]` repeats `x` (one or more items). Parsing
//! fails on anything else, so a unit test can hold every entry of the
//! table to it. Nothing here runs per request.

use bytes::Bytes;

use crate::cache::reply::Reply;

/// One argument of a command, as COMMAND DOCS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A value the caller supplies, maybe after a token: `key`, `EX
    /// seconds`.
    Value {
        /// The value's name (`seconds`).
        name: &'static str,
        /// The token in front of it (`EX`).
        token: Option<&'static str>,
    },
    /// A literal word: `NX`.
    Token(&'static str),
    /// One of several: `NX|XX`.
    OneOf(Vec<Node>),
    /// Several in a row: `field value`, `AUTH username password`.
    Block {
        /// The token in front of them (`AUTH`).
        token: Option<&'static str>,
        /// The parts.
        items: Vec<Node>,
    },
}

/// An argument and how often it may appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The argument.
    pub arg: Arg,
    /// Written `[…]`: may be left out.
    pub optional: bool,
    /// Written `x [x ...]`: one or more.
    pub multiple: bool,
}

impl Node {
    fn one(arg: Arg) -> Node {
        Node {
            arg,
            optional: false,
            multiple: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    OpenRequired,
    CloseRequired,
    Bar,
    Ellipsis,
    Word(&'static str),
}

fn tokenize(text: &'static str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let tok = match c {
            ' ' => None,
            '[' => Some(Tok::Open),
            ']' => Some(Tok::Close),
            '<' => Some(Tok::OpenRequired),
            '>' => Some(Tok::CloseRequired),
            '|' => Some(Tok::Bar),
            _ => {
                let end = rest
                    .find([' ', '[', ']', '<', '>', '|'])
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                out.push(if word == "..." {
                    Tok::Ellipsis
                } else {
                    Tok::Word(word)
                });
                rest = &rest[end..];
                continue;
            }
        };
        out.extend(tok);
        rest = &rest[1..];
    }
    out
}

/// A literal token is upper case (`NX`, `LIB-NAME`); a value is not.
fn is_token(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_uppercase()) && !word.chars().any(|c| c.is_ascii_lowercase())
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.at).copied()
    }

    fn expect(&mut self, tok: Tok) -> Result<(), String> {
        if self.peek() == Some(tok) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {tok:?} at token {}", self.at))
        }
    }

    /// Items up to a `]`, `>`, `|` or the end, and whether they ended
    /// with `...` (allowed only just before a `]`).
    fn seq(&mut self) -> Result<(Vec<Node>, bool), String> {
        let mut items: Vec<Node> = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Close | Tok::CloseRequired | Tok::Bar) => {
                    return Ok((items, false));
                }
                Some(Tok::Ellipsis) => {
                    self.at += 1;
                    return match self.peek() {
                        Some(Tok::Close) => Ok((items, true)),
                        _ => Err("`...` must end a `[…]`".into()),
                    };
                }
                Some(Tok::Open) => {
                    self.at += 1;
                    let alts = self.alternatives()?;
                    self.expect(Tok::Close)?;
                    if let [(repeat, true)] = alts.as_slice() {
                        // `x [x ...]`: the bracket repeats the items before it.
                        let n = repeat.len();
                        if n == 0
                            || items.len() < n
                            || render(&items[items.len() - n..]) != render(repeat)
                        {
                            return Err(format!(
                                "`[{} ...]` does not repeat what precedes it",
                                render(repeat)
                            ));
                        }
                        let mut group = items.split_off(items.len() - n);
                        let mut node = if n == 1 {
                            group.pop().expect("one item")
                        } else {
                            Node::one(Arg::Block {
                                token: None,
                                items: group,
                            })
                        };
                        if node.multiple || node.optional {
                            return Err("a repeated item must be plain".into());
                        }
                        node.multiple = true;
                        items.push(node);
                    } else {
                        let mut node = group(alts)?;
                        if node.optional {
                            return Err("`[[…]]` is written `[…]`".into());
                        }
                        node.optional = true;
                        items.push(node);
                    }
                }
                Some(Tok::OpenRequired) => {
                    self.at += 1;
                    let alts = self.alternatives()?;
                    self.expect(Tok::CloseRequired)?;
                    if alts.len() < 2 {
                        return Err("`<…>` holds a choice: `<a|b>`".into());
                    }
                    items.push(group(alts)?);
                }
                Some(Tok::Word(word)) => {
                    self.at += 1;
                    if !is_token(word) {
                        items.push(Node::one(Arg::Value {
                            name: word,
                            token: None,
                        }));
                        continue;
                    }
                    // A token takes the plain values that follow it.
                    let mut values = Vec::new();
                    while let Some(Tok::Word(next)) = self.peek() {
                        if is_token(next) {
                            break;
                        }
                        self.at += 1;
                        values.push(next);
                    }
                    items.push(Node::one(match values.as_slice() {
                        [] => Arg::Token(word),
                        [name] => Arg::Value {
                            name,
                            token: Some(word),
                        },
                        _ => Arg::Block {
                            token: Some(word),
                            items: values
                                .into_iter()
                                .map(|name| Node::one(Arg::Value { name, token: None }))
                                .collect(),
                        },
                    }));
                }
            }
        }
    }

    /// `seq (| seq)*`, each with its trailing-`...` flag.
    fn alternatives(&mut self) -> Result<Vec<(Vec<Node>, bool)>, String> {
        let mut alts = vec![self.seq()?];
        while self.peek() == Some(Tok::Bar) {
            self.at += 1;
            alts.push(self.seq()?);
        }
        if alts.len() > 1 && alts.iter().any(|(items, dots)| *dots || items.is_empty()) {
            return Err("an alternative is empty or repeats".into());
        }
        Ok(alts)
    }
}

/// What a `[…]` or `<…>` holds: one item, a block, or a choice.
fn group(alts: Vec<(Vec<Node>, bool)>) -> Result<Node, String> {
    let as_one = |mut items: Vec<Node>| -> Result<Node, String> {
        match items.len() {
            0 => Err("empty group".into()),
            1 => Ok(items.pop().expect("one item")),
            _ => Ok(Node::one(Arg::Block { token: None, items })),
        }
    };
    if alts.len() == 1 {
        let (items, _) = alts.into_iter().next().expect("one alternative");
        return as_one(items);
    }
    let choices = alts
        .into_iter()
        .map(|(items, _)| as_one(items))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Node::one(Arg::OneOf(choices)))
}

/// Parses a syntax string (the arguments after the command's name).
///
/// # Errors
/// A message saying what is malformed.
pub fn parse(syntax: &'static str) -> Result<Vec<Node>, String> {
    let mut p = Parser {
        toks: tokenize(syntax),
        at: 0,
    };
    let (items, dots) = p.seq()?;
    if dots || p.peek().is_some() {
        return Err(format!("unbalanced brackets in {syntax:?}"));
    }
    Ok(items)
}

/// Writes nodes back in redis-cli's notation; `render(parse(s)) == s` for
/// every well-formed `s` (a unit test holds the command table to it).
pub fn render(nodes: &[Node]) -> String {
    nodes.iter().map(render_node).collect::<Vec<_>>().join(" ")
}

fn render_node(node: &Node) -> String {
    let mut text = match &node.arg {
        Arg::Value { name, token: None } => (*name).to_owned(),
        Arg::Value {
            name,
            token: Some(t),
        } => format!("{t} {name}"),
        Arg::Token(t) => (*t).to_owned(),
        Arg::OneOf(choices) => choices
            .iter()
            .map(render_node)
            .collect::<Vec<_>>()
            .join("|"),
        Arg::Block { token, items } => {
            let rest = render(items);
            match token {
                Some(t) => format!("{t} {rest}"),
                None => rest,
            }
        }
    };
    if node.multiple {
        text = format!("{text} [{text} ...]");
    }
    if node.optional {
        format!("[{text}]")
    } else if matches!(node.arg, Arg::OneOf(_)) {
        format!("<{text}>")
    } else {
        text
    }
}

/// The fewest arguments the syntax accepts.
pub fn min_args(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .filter(|n| !n.optional)
        .map(|n| min_arg(&n.arg))
        .sum()
}

fn min_arg(arg: &Arg) -> usize {
    match arg {
        Arg::Value { token, .. } => 1 + usize::from(token.is_some()),
        Arg::Token(_) => 1,
        Arg::OneOf(choices) => choices.iter().map(|c| min_arg(&c.arg)).min().unwrap_or(0),
        Arg::Block { token, items } => usize::from(token.is_some()) + min_args(items),
    }
}

/// The most arguments the syntax accepts (`None`: no limit).
pub fn max_args(nodes: &[Node]) -> Option<usize> {
    nodes.iter().map(max_node).sum()
}

fn max_node(node: &Node) -> Option<usize> {
    if node.multiple {
        return None;
    }
    match &node.arg {
        Arg::Value { token, .. } => Some(1 + usize::from(token.is_some())),
        Arg::Token(_) => Some(1),
        Arg::OneOf(choices) => choices
            .iter()
            .map(max_node)
            .try_fold(0, |m, c| c.map(|c| m.max(c))),
        Arg::Block { token, items } => max_args(items).map(|n| n + usize::from(token.is_some())),
    }
}

/// The `arguments` array of COMMAND DOCS for parsed syntax, in Redis 7's
/// shape (`name`, `type`, `token`, `flags`, nested `arguments`).
pub fn docs_reply(nodes: &[Node]) -> Reply {
    Reply::Array(nodes.iter().map(arg_reply).collect())
}

fn arg_reply(node: &Node) -> Reply {
    let text = |s: String| Reply::Bulk(Bytes::from(s));
    let (name, kind, token, nested) = match &node.arg {
        Arg::Value { name, token } => ((*name).to_owned(), value_type(name), *token, None),
        Arg::Token(t) => (t.to_lowercase(), "pure-token", Some(*t), None),
        Arg::OneOf(choices) => (joined_name(choices), "oneof", None, Some(choices)),
        Arg::Block { token, items } => (
            token.map_or_else(|| joined_name(items), str::to_lowercase),
            "block",
            *token,
            Some(items),
        ),
    };
    let mut map = vec![
        (Reply::text("name"), text(name)),
        (Reply::text("type"), Reply::text(kind)),
    ];
    if let Some(t) = token {
        map.push((Reply::text("token"), Reply::text(t)));
    }
    let mut flags = Vec::new();
    if node.optional {
        flags.push(Reply::Simple("optional".into()));
    }
    if node.multiple {
        flags.push(Reply::Simple("multiple".into()));
    }
    if !flags.is_empty() {
        map.push((Reply::text("flags"), Reply::Array(flags)));
    }
    if let Some(items) = nested {
        map.push((Reply::text("arguments"), docs_reply(items)));
    }
    Reply::Map(map)
}

fn joined_name(items: &[Node]) -> String {
    items
        .iter()
        .map(|n| match &n.arg {
            Arg::Value { name, .. } => (*name).to_owned(),
            Arg::Token(t) => t.to_lowercase(),
            Arg::Block { token: Some(t), .. } => t.to_lowercase(),
            Arg::OneOf(c) | Arg::Block { items: c, .. } => joined_name(c),
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Redis's argument type for a value, guessed from its name (types only
/// label the docs; nothing checks arguments by them).
fn value_type(name: &str) -> &'static str {
    match name {
        "key" | "newkey" => "key",
        "pattern" => "pattern",
        "unix-time-seconds" | "unix-time-milliseconds" => "unix-time",
        "seconds" | "milliseconds" | "count" | "increment" | "decrement" | "start" | "end"
        | "stop" | "index" | "offset" | "cursor" | "protover" => "integer",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]";

    #[test]
    fn round_trips_redis_notation() {
        for s in [
            SET,
            "",
            "key [key ...]",
            "key field value [field value ...]",
            "[section [section ...]]",
            "[protover [AUTH username password] [SETNAME clientname]]",
            "[username] password",
            "cursor [MATCH pattern] [COUNT count] [TYPE type]",
            "<ON|OFF>",
            "<LIB-NAME libname|LIB-VER libver>",
            "[PREFIX prefix [PREFIX prefix ...]]",
        ] {
            assert_eq!(render(&parse(s).unwrap()), s);
        }
    }

    #[test]
    fn shapes_and_counts() {
        let set = parse(SET).unwrap();
        assert_eq!((min_args(&set), max_args(&set)), (2, Some(6)));
        assert_eq!(
            set[2],
            Node {
                arg: Arg::OneOf(vec![
                    Node::one(Arg::Token("NX")),
                    Node::one(Arg::Token("XX"))
                ]),
                optional: true,
                multiple: false,
            }
        );
        let hset = parse("key field value [field value ...]").unwrap();
        assert_eq!((min_args(&hset), max_args(&hset)), (3, None));
        assert!(hset[1].multiple && matches!(hset[1].arg, Arg::Block { .. }));
        let hello = parse("[protover [AUTH username password] [SETNAME clientname]]").unwrap();
        assert_eq!((min_args(&hello), max_args(&hello)), (0, Some(6)));
    }

    #[test]
    fn malformed_syntax_is_refused() {
        for s in [
            "[key",
            "key]",
            "key [value ...]",
            "[...]",
            "<a>",
            "[a|]",
            "key ...",
            "[[key]]",
        ] {
            assert!(parse(s).is_err(), "{s:?} parsed");
        }
    }
}
