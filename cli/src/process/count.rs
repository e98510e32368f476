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
            // The head scan stops at the line's end, at the level token, or
            // at the token/byte limit; the newline is searched from there so
            // that no byte of the head is looked at twice.
            let head = &rest[..rest.len().min(LEVEL_MAX_BYTES)];
            let (level, scanned) = scan_level(head, ci);
            let slot = level.map_or(Levels::NONE, |l| l as usize);
            levels[slot] += 1;
            match memchr(b'\n', &rest[scanned..]) {
                Some(nl) => {
                    lines += 1;
                    pos += scanned + nl + 1;
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
/// the rule). `head` should be at most [`LEVEL_MAX_BYTES`] long; it may run
/// past the line's newline, where the scan stops.
pub fn line_level(head: &[u8], ignore_case: bool) -> Option<Level> {
    scan_level(head, ignore_case).0
}

/// Bytes that may start a token holding a level: the level initials, the
/// strippable punctuation and the initials of the logfmt keys (any case).
const fn first_byte_table(ignore_case: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let firsts = b"FEWIDT[](){}<>:;,|\"'lLsS";
    let mut i = 0;
    while i < firsts.len() {
        t[firsts[i] as usize] = true;
        i += 1;
    }
    if ignore_case {
        let lower = b"fewidt";
        let mut i = 0;
        while i < lower.len() {
            t[lower[i] as usize] = true;
            i += 1;
        }
    }
    t
}

static FIRST_CS: [bool; 256] = first_byte_table(false);
static FIRST_CI: [bool; 256] = first_byte_table(true);

/// Index of the first byte at or after `i` that is a separator (`<= b' '`),
/// or `head.len()`. Eight bytes at a time: this loop is the hot path, since a
/// typical line starts with a 20-30 byte timestamp.
#[inline(always)]
fn token_end(head: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= head.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&head[i..i + 8]);
        let x = u64::from_le_bytes(w);
        // Classic "has a byte less than 0x21" test; the lowest flagged byte
        // is exact (a borrow only ever flags bytes above a true hit).
        let mask = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < head.len() && head[i] > b' ' {
        i += 1;
    }
    i
}

/// [`line_level`], also returning how far into `head` the scan went (a
/// position within the line, or the position of its newline).
#[inline]
fn scan_level(head: &[u8], ignore_case: bool) -> (Option<Level>, usize) {
    let first_ok = if ignore_case { &FIRST_CI } else { &FIRST_CS };
    let n = head.len();
    let mut i = 0;
    for _ in 0..LEVEL_MAX_TOKENS {
        while i < n && head[i] <= b' ' {
            if head[i] == b'\n' {
                return (None, i);
            }
            i += 1;
        }
        if i >= n {
            return (None, i);
        }
        let start = i;
        i = token_end(head, i);
        // The shortest level word is four bytes; most tokens (timestamps,
        // message words) are rejected by their first byte.
        if i - start >= 4 && first_ok[head[start] as usize] {
            if let Some(level) = token_level(&head[start..i], ignore_case) {
                return (Some(level), i);
            }
        }
    }
    (None, i)
}

fn token_level(tok: &[u8], ignore_case: bool) -> Option<Level> {
    let mut tok = strip(tok);
    // Tokens are short: a plain loop beats a memchr call here.
    if let Some(eq) = tok.iter().position(|&b| b == b'=') {
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

#[inline]
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
#[inline]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn count_with(data: &[u8], opts: &CountOptions) -> Counts {
        let mut c = Counter::new(opts);
        c.feed(data);
        c.finish()
    }

    fn count(data: &[u8]) -> Counts {
        count_with(data, &CountOptions::default())
    }

    fn lv(line: &str) -> Option<Level> {
        line_level(line.as_bytes(), false)
    }

    #[test]
    fn empty_input() {
        let c = count(b"");
        assert_eq!(c, Counts::new(0));
    }

    #[test]
    fn last_line_without_newline_counts() {
        assert_eq!(count(b"a").lines, 1);
        assert_eq!(count(b"a\nb").lines, 2);
        assert_eq!(count(b"a\nb\n").lines, 2);
        assert_eq!(count(b"\n").lines, 1);
        assert_eq!(count(b"\n\n").lines, 2);
        let c = count(b"INFO a\nERROR b");
        assert_eq!(c.levels.get(Level::Error), 1);
        assert_eq!(c.levels.get(Level::Info), 1);
    }

    #[test]
    fn crlf_lines() {
        let c = count(b"ERROR\r\nx WARN\r\n\r\n");
        assert_eq!(c.lines, 3);
        assert_eq!(c.levels.get(Level::Error), 1);
        assert_eq!(c.levels.get(Level::Warn), 1);
        assert_eq!(c.levels.none(), 1);
        let opts = CountOptions {
            regexes: vec![build_regex("WARN$").unwrap()],
            ..CountOptions::default()
        };
        assert_eq!(count_with(b"x WARN\r\nWARN y\r\n", &opts).matches, [1]);
    }

    #[test]
    fn level_rule() {
        assert_eq!(lv("2024-01-01T00:00:00Z ERROR boom"), Some(Level::Error));
        assert_eq!(lv("[ERROR] boom"), Some(Level::Error));
        assert_eq!(lv("ERROR: boom"), Some(Level::Error));
        assert_eq!(lv("<WARN> x"), Some(Level::Warn));
        assert_eq!(lv("12:00 WARNING disk"), Some(Level::Warn));
        assert_eq!(lv("ts=1 level=ERROR msg=x"), Some(Level::Error));
        assert_eq!(lv("ts=1 LEVEL=\"DEBUG\" msg=x"), Some(Level::Debug));
        assert_eq!(lv("\tTRACE x"), Some(Level::Trace));
        assert_eq!(lv("FATAL"), Some(Level::Fatal));
        // Level words inside other words, or as other keys' values.
        assert_eq!(lv("2024 DEBUG retry_on=ERROR"), Some(Level::Debug));
        assert_eq!(lv("2024 retry_on=ERROR"), None);
        assert_eq!(lv("ERROR_BUDGET exceeded"), None);
        assert_eq!(lv("ERRORS: 3"), None);
        assert_eq!(lv("NOERROR here"), None);
        assert_eq!(lv("MyERROR"), None);
        assert_eq!(lv("error lowercase"), None);
        assert_eq!(lv("level=error"), None);
        assert_eq!(line_level(b"level=error", true), Some(Level::Error));
        assert_eq!(line_level(b"Warn: x", true), Some(Level::Warn));
        // The first level word wins.
        assert_eq!(lv("INFO saw an ERROR"), Some(Level::Info));
        // Only the first tokens count.
        assert_eq!(lv("a b c d e f g ERROR"), Some(Level::Error));
        assert_eq!(lv("a b c d e f g h ERROR"), None);
        assert_eq!(lv(""), None);
        assert_eq!(lv("   "), None);
    }

    #[test]
    fn scan_stops_at_newline_and_swar_is_exact() {
        assert_eq!(scan_level(b"abc\nERROR x", false), (None, 3));
        assert_eq!(scan_level(b"ts \nERROR", false), (None, 3));
        // Separators at every offset of the 8-byte words, non-ASCII bytes.
        for k in 0..20 {
            let mut line = vec![0xC3u8; k];
            line.extend_from_slice(b" \xff\xfeERROR\t[WARN]");
            assert_eq!(line_level(&line, false), Some(Level::Warn), "k {k}");
            let mut line = vec![b'x'; k];
            line.extend_from_slice(b"\x01ERROR");
            assert_eq!(line_level(&line, false), Some(Level::Error), "k {k}");
        }
        for k in 0..20 {
            let tok: Vec<u8> = (0..k).map(|i: usize| 0x21 + (i * 37 % 0xDE) as u8).collect();
            let mut line = tok.clone();
            line.push(b' ');
            assert_eq!(token_end(&line, 0), tok.iter().position(|&b| b <= b' ').unwrap_or(k), "k {k}");
        }
    }

    #[test]
    fn level_only_in_the_head_of_long_lines() {
        let mut line = vec![b'x'; LEVEL_MAX_BYTES];
        line.extend_from_slice(b" ERROR\n");
        let c = count(&line);
        assert_eq!(c.levels.none(), 1);
    }

    #[test]
    fn very_long_lines_in_pieces() {
        // A 3 MiB line fed in 64 KiB pieces.
        let mut data = b"ERROR ".to_vec();
        data.extend(std::iter::repeat_n(b"word ", 600_000).flatten());
        data.extend_from_slice(b"needle\nINFO tail");
        let opts = CountOptions {
            words: true,
            regexes: vec![build_regex("needle").unwrap(), build_regex("word").unwrap()],
            ..CountOptions::default()
        };
        let mut c = Counter::new(&opts);
        for piece in data.chunks(64 * 1024) {
            c.feed(piece);
        }
        let c = c.finish();
        assert_eq!(c.lines, 2);
        assert_eq!(c.words, 600_004);
        assert_eq!(c.levels.get(Level::Error), 1);
        assert_eq!(c.levels.get(Level::Info), 1);
        // The long line matches "word" in every piece but counts once.
        assert_eq!(c.matches, [1, 1]);
        assert_eq!(c.bytes, data.len() as u64);
    }

    #[test]
    fn invalid_utf8() {
        let data = b"\xff\xfe ERROR \xc3\x28 x\n\x80INFO\nINFO \xe2\x82\n";
        let opts = CountOptions {
            words: true,
            regexes: vec![build_regex("x").unwrap()],
            ..CountOptions::default()
        };
        let c = count_with(data, &opts);
        assert_eq!(c.lines, 3);
        assert_eq!(c.levels.get(Level::Error), 1);
        assert_eq!(c.levels.get(Level::Info), 1);
        assert_eq!(c.levels.none(), 1);
        assert_eq!(c.words, 7);
        assert_eq!(c.matches, [1]);
    }

    #[test]
    fn words_like_wc() {
        let opts = CountOptions {
            words: true,
            ..CountOptions::default()
        };
        assert_eq!(count_with(b"", &opts).words, 0);
        assert_eq!(count_with(b"  a  bb\tc\n\nd\x0be\x0cf\r\n", &opts).words, 6);
        let (n, in_word) = count_words(b"ab", false);
        assert_eq!((n, in_word), (1, true));
        assert_eq!(count_words(b"c d", true), (1, true));
        assert_eq!(count_words(b" ", true), (0, false));
    }

    #[test]
    fn matches_lines_and_occurrences() {
        let mut opts = CountOptions {
            regexes: vec![
                build_regex("a").unwrap(),
                build_regex(r"b\s+c").unwrap(),
                build_regex("^x").unwrap(),
                build_regex("z*").unwrap(),
            ],
            ..CountOptions::default()
        };
        let data = b"aaa\nb\nc\nx a\nyx\n";
        let c = count_with(data, &opts);
        // `b\s+c` would match across the newline; per-line semantics say no.
        assert_eq!(c.matches, [2, 0, 1, 5]);
        opts.count_matches = true;
        let c = count_with(data, &opts);
        assert_eq!(c.matches[0], 4);
        assert_eq!(c.matches[1], 0);
        assert_eq!(c.matches[2], 1);
    }

    #[test]
    fn counts_add_up() {
        let mut a = Counts::new(1);
        a.lines = 1;
        a.matches[0] = 2;
        let mut b = Counts::new(2);
        b.matches = vec![1, 5];
        a.add(&b);
        assert_eq!(a.matches, [3, 5]);
        assert_eq!(a.total_matches(), 8);
    }
}
