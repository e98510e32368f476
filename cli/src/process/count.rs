//! The per-chunk counter: bytes, lines, the log-level histogram, words and
//! regex matches of a stream of bytes fed in pieces.
//!
//! The counter never sees a whole file. The reader (see [`super::chunk`])
//! feeds it pieces that end at a line boundary, except when a single line is
//! longer than the reader's buffer: then the line arrives in several pieces and
//! the counter carries the little state it needs (are we at a line start, was
//! the previous byte part of a word, did the current line already match) from
//! one piece to the next. That is what keeps memory bounded on any input.
//!
//! # What counts as a level
//!
//! A line's level is decided by [`line_level`]:
//!
//! 1. Only the first [`LEVEL_MAX_TOKENS`] tokens of the line are looked at,
//!    and only its first [`LEVEL_MAX_BYTES`] bytes. Tokens are separated by
//!    spaces, tabs and other ASCII control characters (so a trailing `\r` of a
//!    CRLF line is not part of the last token).
//! 2. Brackets and punctuation from the set `[ ] ( ) { } < > : ; , | " '` are
//!    stripped from both ends of a token: `[ERROR]`, `<WARN>`, `ERROR:` and
//!    `"INFO",` all count.
//! 3. A token of the form `level=X`, `lvl=X`, `severity=X` or `loglevel=X`
//!    (logfmt; the key in any case) is judged by its value `X`. Any other
//!    `key=value` token never counts: `retry_on=ERROR` is not a level.
//! 4. What remains must be exactly one of `FATAL`, `ERROR`, `WARN`, `WARNING`
//!    (counted as WARN), `INFO`, `DEBUG`, `TRACE`. The comparison is
//!    case-sensitive unless `--ignore-level-case` is given. `ERROR_BUDGET`,
//!    `ERRORS` or `NOERROR` are not levels.
//! 5. The first token that qualifies is the line's level; a line has at most
//!    one level. Lines without one are counted under `none`, so the level
//!    counts always add up to the line count.

use memchr::{memchr, memrchr};
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};

/// How many leading tokens of a line may hold its level.
pub const LEVEL_MAX_TOKENS: usize = 8;
/// How many leading bytes of a line may hold its level.
pub const LEVEL_MAX_BYTES: usize = 256;

/// A log level, in order of severity. The discriminant indexes [`Levels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// `FATAL`.
    Fatal = 0,
    /// `ERROR`.
    Error = 1,
    /// `WARN` or `WARNING`.
    Warn = 2,
    /// `INFO`.
    Info = 3,
    /// `DEBUG`.
    Debug = 4,
    /// `TRACE`.
    Trace = 5,
}

impl Level {
    /// All levels, most severe first (the order used in every output).
    pub const ALL: [Level; 6] = [
        Level::Fatal,
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ];

    /// The canonical upper-case name, as used in tables, JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Level::Fatal => "FATAL",
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// Per-level line counts. Index with `Level as usize`; the last slot holds
/// the lines without a level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levels(pub [u64; 7]);

impl Levels {
    /// Index of the "no level" slot.
    pub const NONE: usize = 6;

    /// Lines of the given level.
    pub fn get(&self, level: Level) -> u64 {
        self.0[level as usize]
    }

    /// Lines without a recognised level.
    pub fn none(&self) -> u64 {
        self.0[Self::NONE]
    }
}

/// The counts of one file, one chunk, or any sum of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Bytes of content (after decompression for `.gz` files).
    pub bytes: u64,
    /// Lines; a last line without a trailing newline counts.
    pub lines: u64,
    /// Words like `wc -w` (runs of non-whitespace bytes); 0 unless `--words`.
    pub words: u64,
    /// The level histogram.
    pub levels: Levels,
    /// One count per `--match` regex, in the order given: matching lines, or
    /// occurrences with `--count-matches`.
    pub matches: Vec<u64>,
}

impl Counts {
    /// Empty counts with room for `n_matches` regex counters.
    pub fn new(n_matches: usize) -> Counts {
        Counts {
            matches: vec![0; n_matches],
            ..Counts::default()
        }
    }

    /// Adds `other` into `self`. Addition is commutative, which is why the
    /// totals do not depend on the order in which workers finish.
    pub fn add(&mut self, other: &Counts) {
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.words += other.words;
        for (a, b) in self.levels.0.iter_mut().zip(other.levels.0.iter()) {
            *a += b;
        }
        if self.matches.len() < other.matches.len() {
            self.matches.resize(other.matches.len(), 0);
        }
        for (a, b) in self.matches.iter_mut().zip(other.matches.iter()) {
            *a += b;
        }
    }

    /// Sum of all `--match` counts (used to rank files by matches).
    pub fn total_matches(&self) -> u64 {
        self.matches.iter().sum()
    }
}

/// What to count besides bytes, lines and levels.
#[derive(Clone, Debug, Default)]
pub struct CountOptions {
    /// Count words (`--words`).
    pub words: bool,
    /// Compare level words case-insensitively (`--ignore-level-case`).
    pub ignore_level_case: bool,
    /// The `--match` regexes, built by [`build_regex`].
    pub regexes: Vec<Regex>,
    /// Count occurrences instead of matching lines (`--count-matches`).
    pub count_matches: bool,
}

/// Builds a `--match` regex with per-line semantics: `^` and `$` match at
/// line boundaries (also before a `\r\n`).
pub fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .multi_line(true)
        .crlf(true)
        // A bigger size limit than the default would let a user regex eat
        // memory; the default (about 10 MiB per regex) is kept on purpose.
        .build()
}

/// Streaming counter for one contiguous, line-aligned range of a file.
#[derive(Debug)]
pub struct Counter<'a> {
    opts: &'a CountOptions,
    counts: Counts,
    /// The next byte fed starts a new line.
    at_line_start: bool,
    /// The last byte fed was part of a word (for `--words` across pieces).
    in_word: bool,
    /// Per regex: the line currently open (started in an earlier piece)
    /// already matched, so it must not be counted again (line mode only).
    open_line_matched: Vec<bool>,
}

impl<'a> Counter<'a> {
    /// A counter positioned at the start of a line.
    pub fn new(opts: &'a CountOptions) -> Counter<'a> {
        Counter {
            opts,
            counts: Counts::new(opts.regexes.len()),
            at_line_start: true,
            in_word: false,
            open_line_matched: vec![false; opts.regexes.len()],
        }
    }

    /// Feeds the next piece. A piece normally ends with `\n`; it may end
    /// inside a line when that line is longer than the reader's buffer, or at
    /// the end of the input.
    pub fn feed(&mut self, buf: &[u8]) {
        if buf.is_empty() {
            return;
        }
        self.counts.bytes += buf.len() as u64;
        self.count_lines_and_levels(buf);
        if self.opts.words {
            let (words, in_word) = count_words(buf, self.in_word);
            self.counts.words += words;
            self.in_word = in_word;
        }
        for i in 0..self.opts.regexes.len() {
            self.count_regex(i, buf);
        }
        self.at_line_start = buf[buf.len() - 1] == b'\n';
        if self.at_line_start {
            self.open_line_matched.iter_mut().for_each(|m| *m = false);
        }
    }

    /// Ends the input and returns the counts. A last line without a trailing
    /// newline is counted here.
    pub fn finish(mut self) -> Counts {
        if !self.at_line_start {
            self.counts.lines += 1;
        }
        self.counts
    }

    fn count_lines_and_levels(&mut self, buf: &[u8]) {
        let ci = self.opts.ignore_level_case;
        let mut pos = 0;
        if !self.at_line_start {
            // Continuation of a long line: its level was taken from its
            // first piece. Skip to its end.
            match memchr(b'\n', buf) {
                Some(nl) => {
                    self.counts.lines += 1;
                    pos = nl + 1;
                }
                None => return,
            }
        }
        let levels = &mut self.counts.levels.0;
        let mut lines = 0u64;
        while pos < buf.len() {
            let rest = &buf[pos..];
            let nl = memchr(b'\n', rest);
            let line_len = nl.unwrap_or(rest.len());
            let head = &rest[..line_len.min(LEVEL_MAX_BYTES)];
            let slot = match line_level(head, ci) {
                Some(level) => level as usize,
                None => Levels::NONE,
            };
            levels[slot] += 1;
            match nl {
                Some(nl) => {
                    lines += 1;
                    pos += nl + 1;
                }
                // An open line: counted when its newline (or the end of the
                // input) arrives.
                None => break,
            }
        }
        self.counts.lines += lines;
    }

    fn count_regex(&mut self, i: usize, buf: &[u8]) {
        let re = &self.opts.regexes[i];
        let count_matches = self.opts.count_matches;
        let mut pos = 0;
        let mut total = 0u64;
        while pos < buf.len() {
            // Find the leftmost candidate in the rest of the piece, then judge
            // the line it starts in on its own. Searching the whole piece lets
            // the regex engine use its fast literal prefilters; judging the
            // line alone keeps matches from spanning lines.
            let Some(m) = re.find_at(buf, pos) else { break };
            let start = m.start();
            let line_start = memrchr(b'\n', &buf[pos..start]).map_or(pos, |p| pos + p + 1);
            let line_end = memchr(b'\n', &buf[start..]).map_or(buf.len(), |p| start + p);
            let first_line_of_piece = line_start == 0 && !self.at_line_start;
            let line = &buf[line_start..line_end];
            if count_matches {
                total += re.find_iter(line).count() as u64;
            } else {
                let matched = m.end() <= line_end || re.is_match(line);
                if matched {
                    if !(first_line_of_piece && self.open_line_matched[i]) {
                        total += 1;
                    }
                    if line_end == buf.len() {
                        // The line goes on in the next piece.
                        self.open_line_matched[i] = true;
                    }
                }
            }
            pos = line_end + 1;
        }
        self.counts.matches[i] += total;
    }
}

/// Whether a byte separates words, like `wc -w` in the C locale: space, and
/// `\t` `\n` `\v` `\f` `\r`.
#[inline(always)]
fn is_space(b: u8) -> bool {
    b == b' ' || b.wrapping_sub(b'\t') < 5
}

/// Counts word starts in `buf`; `in_word` tells whether the byte before the
/// piece was part of a word. Returns the count and the new `in_word`.
pub fn count_words(buf: &[u8], in_word: bool) -> (u64, bool) {
    let mut count = 0u64;
    let mut prev_space = !in_word;
    // A word starts wherever a non-space follows a space. Written as a flat
    // sum over byte pairs so that the compiler vectorises it; the blocks keep
    // the narrow per-lane counters from overflowing.
    for block in buf.chunks(1 << 16) {
        let mut c = u32::from(prev_space && !is_space(block[0]));
        for (a, b) in block.iter().zip(&block[1..]) {
            c += u32::from(is_space(*a) & !is_space(*b));
        }
        count += u64::from(c);
        prev_space = is_space(block[block.len() - 1]);
    }
    (count, !prev_space)
}

/// Characters stripped from both ends of a token before it is compared with
/// the level words.
#[inline(always)]
fn is_strip(b: u8) -> bool {
    matches!(
        b,
        b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'<' | b'>' | b':' | b';' | b',' | b'|' | b'"' | b'\''
    )
}

/// The level of a line, judged on its head (see the module documentation for
/// the rule). `head` should be at most [`LEVEL_MAX_BYTES`] long and must not
/// contain the line's newline.
pub fn line_level(head: &[u8], ignore_case: bool) -> Option<Level> {
    let n = head.len();
    let mut i = 0;
    let mut tokens = 0;
    while tokens < LEVEL_MAX_TOKENS {
        while i < n && head[i] <= b' ' {
            i += 1;
        }
        if i >= n {
            return None;
        }
        let start = i;
        while i < n && head[i] > b' ' {
            i += 1;
        }
        tokens += 1;
        // The shortest level word is four bytes; most tokens (timestamps,
        // message words) are rejected by the cheap checks in `token_level`.
        if i - start >= 4 {
            if let Some(level) = token_level(&head[start..i], ignore_case) {
                return Some(level);
            }
        }
    }
    None
}

fn token_level(tok: &[u8], ignore_case: bool) -> Option<Level> {
    let mut tok = strip(tok);
    if let Some(eq) = memchr(b'=', tok) {
        let key = &tok[..eq];
        let is_level_key = [&b"level"[..], b"lvl", b"severity", b"loglevel"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k));
        if !is_level_key {
            return None;
        }
        tok = strip(&tok[eq + 1..]);
    }
    level_word(tok, ignore_case)
}

fn strip(mut tok: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = tok {
        if !is_strip(*first) {
            break;
        }
        tok = rest;
    }
    while let [rest @ .., last] = tok {
        if !is_strip(*last) {
            break;
        }
        tok = rest;
    }
    tok
}

/// Exact match of a level word.
pub fn level_word(tok: &[u8], ignore_case: bool) -> Option<Level> {
    if !(4..=7).contains(&tok.len()) {
        return None;
    }
    if ignore_case {
        let mut up = [0u8; 7];
        for (d, s) in up.iter_mut().zip(tok) {
            *d = s.to_ascii_uppercase();
        }
        return level_word(&up[..tok.len()], false);
    }
    match tok {
        b"INFO" => Some(Level::Info),
        b"WARN" => Some(Level::Warn),
        b"ERROR" => Some(Level::Error),
        b"DEBUG" => Some(Level::Debug),
        b"TRACE" => Some(Level::Trace),
        b"FATAL" => Some(Level::Fatal),
        b"WARNING" => Some(Level::Warn),
        _ => None,
    }
}
