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
    /// One count per `--regexp` regex, in the order given: matching lines, or
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

    /// Sum of all `--regexp` counts (used to rank files by matches).
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
    /// The `--regexp` regexes, built by [`build_regex`].
    pub regexes: Vec<Regex>,
    /// Count occurrences instead of matching lines (`--count-matches`).
    pub count_matches: bool,
}

/// Builds a `--regexp` regex with per-line semantics: `^` and `$` match at
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
        self.counts.lines += fast::lines_and_levels(
            buf,
            self.at_line_start,
            self.opts.ignore_level_case,
            &mut self.counts.levels.0,
        );
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

/// Bit masks over 64-byte blocks: bit `i` is set when byte `i` is a newline
/// (or a `wc -w` space). These are the hot loops of the counter: one vector
/// compare per 16 bytes instead of a search call per line.
mod mask {
    /// Scalar version, for targets without SSE2 and as the reference.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    #[inline(always)]
    pub fn scalar(block: &[u8; 64], f: impl Fn(u8) -> bool) -> u64 {
        let mut m = 0u64;
        for (i, &b) in block.iter().enumerate() {
            m |= u64::from(f(b)) << i;
        }
        m
    }

    #[cfg(target_arch = "x86_64")]
    mod imp {
        use std::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
            _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };

        #[inline(always)]
        fn load(block: &[u8; 64], k: usize) -> __m128i {
            let lane: &[u8; 16] = block[k * 16..k * 16 + 16].try_into().unwrap_or(&[0; 16]);
            // SAFETY: `lane` is a valid, readable 16-byte array and
            // `_mm_loadu_si128` has no alignment requirement. SSE2 is part
            // of the x86_64 baseline.
            unsafe { _mm_loadu_si128(lane.as_ptr().cast()) }
        }

        #[inline(always)]
        fn combine(block: &[u8; 64], f: impl Fn(__m128i) -> __m128i) -> u64 {
            let mut m = 0u64;
            for k in 0..4 {
                // SAFETY: SSE2 is part of the x86_64 baseline.
                let bits = unsafe { _mm_movemask_epi8(f(load(block, k))) } as u32 & 0xFFFF;
                m |= u64::from(bits) << (16 * k);
            }
            m
        }

        /// Newline mask.
        #[inline(always)]
        pub fn newlines(block: &[u8; 64]) -> u64 {
            // SAFETY (all intrinsics below): SSE2 is part of the x86_64 baseline.
            combine(block, |v| unsafe {
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8))
            })
        }

        /// Mask of space, \t, \n, \v, \f, \r.
        #[inline(always)]
        pub fn spaces(block: &[u8; 64]) -> u64 {
            combine(block, |v| unsafe {
                // Signed compares: bytes >= 0x80 are negative, hence not in 9..=13.
                let ctl = _mm_and_si128(
                    _mm_cmpgt_epi8(v, _mm_set1_epi8(8)),
                    _mm_cmplt_epi8(v, _mm_set1_epi8(14)),
                );
                _mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)))
            })
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    mod imp {
        /// Newline mask.
        #[inline(always)]
        pub fn newlines(block: &[u8; 64]) -> u64 {
            super::scalar(block, |b| b == b'\n')
        }

        /// Mask of space, \t, \n, \v, \f, \r.
        #[inline(always)]
        pub fn spaces(block: &[u8; 64]) -> u64 {
            super::scalar(block, super::super::is_space)
        }
    }

    pub use imp::{newlines, spaces};
}

/// The straightforward line-by-line implementation of
/// [`Counter::count_lines_and_levels`] that [`fast`] replaced: every line's
/// head is scanned with [`scan_level`]. Kept as the reference the fast path
/// is checked against. Returns the number of newlines.
#[cfg(test)]
fn lines_and_levels_reference(
    buf: &[u8],
    at_line_start: bool,
    ci: bool,
    levels: &mut [u64; 7],
) -> u64 {
    let mut lines = LineWalk {
        buf,
        ci,
        levels,
        lines: 0,
        line_start: at_line_start.then_some(0),
    };
    let mut base = 0;
    let mut blocks = buf.chunks_exact(64);
    for block in &mut blocks {
        let block: &[u8; 64] = block.try_into().unwrap_or(&[0; 64]);
        let mut m = mask::newlines(block);
        while m != 0 {
            lines.newline(base + m.trailing_zeros() as usize);
            m &= m - 1;
        }
        base += 64;
    }
    for (i, &b) in blocks.remainder().iter().enumerate() {
        if b == b'\n' {
            lines.newline(base + i);
        }
    }
    if let Some(s) = lines.line_start.filter(|&s| s < buf.len()) {
        lines.judge(s, buf.len());
    }
    lines.lines
}

/// Line bookkeeping of [`lines_and_levels_reference`].
#[cfg(test)]
struct LineWalk<'b, 'c> {
    buf: &'b [u8],
    ci: bool,
    levels: &'c mut [u64; 7],
    lines: u64,
    line_start: Option<usize>,
}

#[cfg(test)]
impl LineWalk<'_, '_> {
    #[inline(always)]
    fn newline(&mut self, nl: usize) {
        if let Some(s) = self.line_start {
            self.judge(s, nl);
        }
        self.lines += 1;
        self.line_start = Some(nl + 1);
    }

    /// Counts the level of the line starting at `s` and ending at `end`.
    #[inline(always)]
    fn judge(&mut self, s: usize, end: usize) {
        let head = &self.buf[s..end.min(s + LEVEL_MAX_BYTES)];
        let slot = scan_level(head, self.ci)
            .0
            .map_or(Levels::NONE, |l| l as usize);
        self.levels[slot] += 1;
    }
}

/// Lines and levels of a piece: the hot loop of `agora process`.
///
/// Two ideas make it cheaper than scanning every line's head byte by byte:
///
/// * The newlines of a batch of blocks are first turned into a list of
///   positions (a mask per 64-byte block, its set bits written out
///   unconditionally two at a time), so the loop over lines has no
///   unpredictable branch per block.
/// * A line's head is judged from bit masks of its first 64 bytes:
///   separators (bytes `<= b' '`) and bytes that may start a level token (see
///   [`first_byte_table`]). The token starts are the non-separators after a
///   separator or at the line start; the first *candidate* is the first token
///   start with such a first byte. Any earlier token cannot be a level (that
///   is what the first-byte table means), so when the candidate token is a
///   bare level word (`INFO`) or `level=` followed by one, compared as one
///   integer through a perfect hash, it is the line's level; a line of at
///   most 64 bytes with no candidate has none. Everything else (a level
///   word in brackets, another logfmt key, a candidate that is not a level,
///   a long token, the last bytes of a piece) goes to [`scan_level`], which
///   decides exactly; the fast path only ever answers when it agrees with
///   it, which the differential tests check.
mod fast {
    use super::{LEVEL_MAX_BYTES, LEVEL_MAX_TOKENS, Levels, scan_level};

    /// The level words packed little-endian, at their perfect-hash slot
    /// (`(word * HASH_MUL) >> 61`), and the level of each slot.
    const HASH_MUL: u64 = 0x63ca_828d_d5f4_b3b3;
    const fn hash_tables() -> ([u64; 8], [u8; 8]) {
        let words = [
            (super::W_FATAL, 0u8),
            (super::W_ERROR, 1),
            (super::W_WARN, 2),
            (super::W_WARNING, 2),
            (super::W_INFO, 3),
            (super::W_DEBUG, 4),
            (super::W_TRACE, 5),
        ];
        let mut table = [0u64; 8];
        let mut slot = [Levels::NONE as u8; 8];
        let mut i = 0;
        while i < words.len() {
            let h = (words[i].0.wrapping_mul(HASH_MUL) >> 61) as usize;
            assert!(table[h] == 0, "HASH_MUL is not a perfect hash");
            table[h] = words[i].0;
            slot[h] = words[i].1;
            i += 1;
        }
        (table, slot)
    }
    const TABLES: ([u64; 8], [u8; 8]) = hash_tables();
    static WORDS: [u64; 8] = TABLES.0;
    static SLOTS: [u8; 8] = TABLES.1;

    const LEVEL_EQ: u64 = super::packed(b"level=");
    const LEVEL_EQ_UPPER: u64 = super::packed(b"LEVEL=");
    const ONES: u64 = 0x0101_0101_0101_0101;

    /// ASCII upper-casing of eight bytes at once.
    #[inline(always)]
    fn upper(x: u64) -> u64 {
        let y = x & (ONES * 0x7F);
        // Bytes in b'a'..=b'z': at least 0x61 and below 0x7B.
        let lower = (y + ONES * 0x1F) & !(y + ONES * 0x05) & !x & (ONES * 0x80);
        x - (lower >> 2)
    }

    /// Eight bytes of the window from `at` (`at + 8 <= WINDOW`, which the
    /// callers' masking lets the compiler prove: no bounds check is left).
    #[inline(always)]
    fn load8(win: &[u8; WINDOW], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&win[at..at + 8]);
        u64::from_le_bytes(w)
    }

    /// The fast path reads this many bytes from the line start: 64 for the
    /// masks and up to 8 past a token that ends at byte 63, plus the
    /// `level=` offset.
    const WINDOW: usize = 80;

    /// The fast judgement of a line `len` bytes long, given the window of
    /// bytes from its start and the separator and first-byte masks of the
    /// window's first 64 bytes: the level slot, or `None` when
    /// [`scan_level`] must decide. `CI`: ignore the case of level words.
    #[inline(always)]
    fn head<const CI: bool>(win: &[u8; WINDOW], len: usize, sep: u64, first: u64) -> Option<usize> {
        // Bytes past the line end count as separators.
        let valid = if len >= 64 { !0 } else { (1u64 << len) - 1 };
        let sep = sep | !valid;
        let starts = !sep & ((sep << 1) | 1);
        let cand = starts & first;
        if cand == 0 {
            return (len <= 64).then_some(Levels::NONE);
        }
        let c = cand.trailing_zeros() as usize & 63;
        let bit = cand & cand.wrapping_neg();
        let after = sep & !(bit | (bit - 1));
        if after == 0 || (starts & (bit - 1)).count_ones() >= LEVEL_MAX_TOKENS as u32 {
            return None;
        }
        let tok_len = after.trailing_zeros() as usize - c;
        let mut w = load8(win, c);
        if CI {
            w = upper(w);
        }
        let prefix = w & 0xFFFF_FFFF_FFFF;
        // Branch-free: bare words and `level=` lines are mixed at random.
        let is_key = if CI {
            (prefix == LEVEL_EQ) | (prefix == LEVEL_EQ_UPPER)
        } else {
            prefix == LEVEL_EQ
        };
        let off = std::hint::select_unpredictable(is_key, 6, 0);
        let len = tok_len.wrapping_sub(off);
        if !(4..=7).contains(&len) {
            return None;
        }
        let mut x = load8(win, c + off);
        if CI {
            x = upper(x);
        }
        let x = x & (u64::MAX >> (64 - 8 * len));
        let h = (x.wrapping_mul(HASH_MUL) >> 61) as usize;
        (WORDS[h] == x).then_some(SLOTS[h] as usize)
    }

    /// Block masks, by SIMD or portably.
    pub(super) trait Masker {
        /// Mask of the `wc -w` spaces of a block.
        fn spaces(&self, block: &[u8; 64]) -> u64;
        /// Newline mask of a block.
        fn newlines(&self, block: &[u8; 64]) -> u64;
        /// Separator mask (bytes `<= b' '`) and first-byte mask of a block.
        fn head_masks(&self, block: &[u8; 64]) -> (u64, u64);
    }

    /// The level slot of the line `buf[s..end]`.
    #[inline(always)]
    fn judge<const CI: bool>(buf: &[u8], s: usize, end: usize, masker: &impl Masker) -> usize {
        let fast = match buf.get(s..s + WINDOW) {
            Some(win) => {
                let win: &[u8; WINDOW] = win.try_into().unwrap_or(&[0; WINDOW]);
                let block: &[u8; 64] = win[..64].try_into().unwrap_or(&[0; 64]);
                let (sep, first) = masker.head_masks(block);
                head::<CI>(win, end - s, sep, first)
            }
            // The last bytes of a piece: rare enough for the exact path.
            None => None,
        };
        match fast {
            Some(slot) => slot,
            None => slow(&buf[s..end.min(s + LEVEL_MAX_BYTES)], CI),
        }
    }

    #[inline(never)]
    #[cold]
    fn slow(head: &[u8], ci: bool) -> usize {
        scan_level(head, ci).0.map_or(Levels::NONE, |l| l as usize)
    }

    /// Positions are gathered for this many bytes at a time.
    const BATCH: usize = 1024;

    /// Counts the levels of the lines starting in `buf` into `levels` and
    /// returns the number of newlines. Same contract as
    /// `lines_and_levels_reference`.
    #[inline(always)]
    fn run(
        buf: &[u8],
        at_line_start: bool,
        ci: bool,
        levels: &mut [u64; 7],
        masker: &impl Masker,
    ) -> u64 {
        // Two copies of the loop, so the case test is not made per line.
        if ci {
            run_with::<true>(buf, at_line_start, levels, masker)
        } else {
            run_with::<false>(buf, at_line_start, levels, masker)
        }
    }

    #[inline(always)]
    fn run_with<const CI: bool>(
        buf: &[u8],
        at_line_start: bool,
        levels: &mut [u64; 7],
        masker: &impl Masker,
    ) -> u64 {
        let mut lines = 0u64;
        let mut line_start = at_line_start.then_some(0);
        let mut pos = [0u32; BATCH + 2];
        // Consecutive lines count into different banks: one array
        // incremented line after line waits on its own previous store
        // (most lines share a level), a chain of store-to-load latency.
        let mut banks = [[0u64; 8]; 4];
        for (k, batch) in buf.chunks(BATCH).enumerate() {
            let mut n = 0usize;
            let mut blocks = batch.chunks_exact(64);
            let mut base = (k * BATCH) as u32;
            for block in &mut blocks {
                let block: &[u8; 64] = block.try_into().unwrap_or(&[0; 64]);
                let mut m = masker.newlines(block);
                let count = m.count_ones() as usize;
                pos[n] = base + m.trailing_zeros();
                m &= m.wrapping_sub(1);
                pos[n + 1] = base + m.trailing_zeros();
                if count > 2 {
                    let mut i = n + 2;
                    m &= m - 1;
                    while m != 0 {
                        pos[i] = base + m.trailing_zeros();
                        m &= m - 1;
                        i += 1;
                    }
                }
                n += count;
                base += 64;
            }
            for (i, &b) in blocks.remainder().iter().enumerate() {
                if b == b'\n' {
                    pos[n] = base + i as u32;
                    n += 1;
                }
            }
            for (i, &p) in pos[..n].iter().enumerate() {
                let p = p as usize;
                if let Some(s) = line_start {
                    banks[i & 3][judge::<CI>(buf, s, p, masker) & 7] += 1;
                }
                line_start = Some(p + 1);
            }
            lines += n as u64;
        }
        // An open line (the piece ends inside it) is judged on what is here.
        if let Some(s) = line_start.filter(|&s| s < buf.len()) {
            banks[0][judge::<CI>(buf, s, buf.len(), masker) & 7] += 1;
        }
        for bank in &banks {
            for (total, n) in levels.iter_mut().zip(bank) {
                *total += n;
            }
        }
        lines
    }

    /// Masks computed byte by byte (SSE2 for newlines on x86_64).
    pub(super) struct Portable(pub &'static [bool; 256]);

    impl Masker for Portable {
        #[inline(always)]
        fn spaces(&self, block: &[u8; 64]) -> u64 {
            super::mask::spaces(block)
        }

        #[inline(always)]
        fn newlines(&self, block: &[u8; 64]) -> u64 {
            super::mask::newlines(block)
        }

        #[inline(always)]
        fn head_masks(&self, block: &[u8; 64]) -> (u64, u64) {
            (
                super::mask::scalar(block, |b| b <= b' '),
                super::mask::scalar(block, |b| self.0[b as usize]),
            )
        }
    }

    /// The portable kernel.
    pub fn lines_and_levels_portable(
        buf: &[u8],
        at_line_start: bool,
        ci: bool,
        levels: &mut [u64; 7],
    ) -> u64 {
        let first_ok = if ci {
            &super::FIRST_CI
        } else {
            &super::FIRST_CS
        };
        run(buf, at_line_start, ci, levels, &Portable(first_ok))
    }

    #[cfg(target_arch = "x86_64")]
    pub mod avx2 {
        use std::arch::x86_64::{
            __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8,
            _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_setzero_si256,
            _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_sub_epi8,
        };

        use super::Masker;

        /// Whether the CPU has the features the AVX2 kernel is compiled for.
        #[inline]
        pub fn available() -> bool {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
        }

        /// Nibble tables for a `pshufb` set-membership test: byte `b` is in
        /// the set when `LO[b & 15] & HI[b >> 4] != 0` (each high nibble of
        /// an ASCII byte owns one bit; bytes >= 0x80 are never in the set).
        const fn nibble_tables(set: &[bool; 256]) -> [[u8; 32]; 2] {
            let mut lo = [0u8; 32];
            let mut hi = [0u8; 32];
            let mut b = 0;
            while b < 128 {
                if set[b] {
                    lo[b & 15] |= 1 << (b >> 4);
                    lo[16 + (b & 15)] |= 1 << (b >> 4);
                }
                b += 1;
            }
            let mut h = 0;
            while h < 8 {
                hi[h] = 1 << h;
                hi[16 + h] = 1 << h;
                h += 1;
            }
            [lo, hi]
        }

        static TABLES_CS: [[u8; 32]; 2] = nibble_tables(&super::super::FIRST_CS);
        static TABLES_CI: [[u8; 32]; 2] = nibble_tables(&super::super::FIRST_CI);

        // The helpers below are `#[inline(always)]` without a target feature
        // of their own: they are only called (through `run`) from
        // `lines_and_levels`, which enables AVX2, so that everything is
        // inlined into it. Their `unsafe` blocks rely on that.

        #[inline(always)]
        fn load(p: &[u8]) -> __m256i {
            let p: &[u8; 32] = p.try_into().unwrap_or(&[0; 32]);
            // SAFETY: `p` is 32 readable bytes, no alignment is required,
            // and AVX2 is enabled in the only caller (see above).
            unsafe { _mm256_loadu_si256(p.as_ptr().cast()) }
        }

        #[inline(always)]
        fn join(lo: __m256i, hi: __m256i) -> u64 {
            // SAFETY: AVX2 is enabled in the only caller (see above).
            let (lo, hi) = unsafe { (_mm256_movemask_epi8(lo), _mm256_movemask_epi8(hi)) };
            u64::from(lo as u32) | (u64::from(hi as u32) << 32)
        }

        struct Avx2 {
            lo: __m256i,
            hi: __m256i,
        }

        impl Avx2 {
            /// The masker for a first-byte set's nibble tables.
            #[inline(always)]
            fn new(tables: &[[u8; 32]; 2]) -> Avx2 {
                Avx2 {
                    lo: load(&tables[0]),
                    hi: load(&tables[1]),
                }
            }
        }

        impl Masker for Avx2 {
            #[inline(always)]
            fn spaces(&self, block: &[u8; 64]) -> u64 {
                let (a, b) = (load(&block[..32]), load(&block[32..]));
                // SAFETY: AVX2 is enabled in the only callers (see above).
                unsafe {
                    // \t \n \v \f \r are 9..=13: `v - 9 <= 4` unsigned; and ' '.
                    let spaces = |v| {
                        let t = _mm256_sub_epi8(v, _mm256_set1_epi8(9));
                        let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(4)), t);
                        _mm256_or_si256(ctl, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b' ' as i8)))
                    };
                    join(spaces(a), spaces(b))
                }
            }

            #[inline(always)]
            fn newlines(&self, block: &[u8; 64]) -> u64 {
                let (a, b) = (load(&block[..32]), load(&block[32..]));
                // SAFETY: AVX2 is enabled in the only caller (see above).
                unsafe {
                    let nl = _mm256_set1_epi8(b'\n' as i8);
                    join(_mm256_cmpeq_epi8(a, nl), _mm256_cmpeq_epi8(b, nl))
                }
            }

            #[inline(always)]
            fn head_masks(&self, block: &[u8; 64]) -> (u64, u64) {
                let (a, b) = (load(&block[..32]), load(&block[32..]));
                // SAFETY: AVX2 is enabled in the only caller (see above).
                unsafe {
                    let space = _mm256_set1_epi8(b' ' as i8);
                    let sep = |v| _mm256_cmpeq_epi8(_mm256_min_epu8(v, space), v);
                    let nib = _mm256_set1_epi8(0x0F);
                    let not_first = |v| {
                        // `pshufb` looks at the low nibble and gives 0 for
                        // index bytes >= 0x80, which are never in the set.
                        let l = _mm256_shuffle_epi8(self.lo, v);
                        let h = _mm256_shuffle_epi8(
                            self.hi,
                            _mm256_and_si256(_mm256_srli_epi16::<4>(v), nib),
                        );
                        _mm256_cmpeq_epi8(_mm256_and_si256(l, h), _mm256_setzero_si256())
                    };
                    (join(sep(a), sep(b)), !join(not_first(a), not_first(b)))
                }
            }
        }

        /// The AVX2 kernel.
        #[target_feature(enable = "avx2,popcnt,bmi1,bmi2")]
        pub fn lines_and_levels(
            buf: &[u8],
            at_line_start: bool,
            ci: bool,
            levels: &mut [u64; 7],
        ) -> u64 {
            let masker = Avx2::new(if ci { &TABLES_CI } else { &TABLES_CS });
            super::run(buf, at_line_start, ci, levels, &masker)
        }

        /// [`super::super::count_words`] with AVX2.
        #[target_feature(enable = "avx2,popcnt,bmi1,bmi2")]
        pub fn count_words(buf: &[u8], in_word: bool) -> (u64, bool) {
            super::super::count_words_with(buf, in_word, &Avx2::new(&TABLES_CS))
        }
    }

    /// Counts the levels of the lines starting in `buf` (the line open at
    /// its start, when `at_line_start` is false, was judged in an earlier
    /// piece) and returns the number of newlines.
    #[inline]
    pub fn lines_and_levels(
        buf: &[u8],
        at_line_start: bool,
        ci: bool,
        levels: &mut [u64; 7],
    ) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            // SAFETY: AVX2, POPCNT, BMI1 and BMI2 are available, as just checked.
            return unsafe { avx2::lines_and_levels(buf, at_line_start, ci, levels) };
        }
        lines_and_levels_portable(buf, at_line_start, ci, levels)
    }
}

/// Counts word starts in `buf`; `in_word` tells whether the byte before the
/// piece was part of a word. Returns the count and the new `in_word`.
pub fn count_words(buf: &[u8], in_word: bool) -> (u64, bool) {
    #[cfg(target_arch = "x86_64")]
    if fast::avx2::available() {
        // SAFETY: AVX2, POPCNT, BMI1 and BMI2 are available, as just checked.
        return unsafe { fast::avx2::count_words(buf, in_word) };
    }
    count_words_with(buf, in_word, &fast::Portable(&FIRST_CS))
}

/// [`count_words`] with the given block masks.
#[inline(always)]
fn count_words_with(buf: &[u8], in_word: bool, masker: &impl fast::Masker) -> (u64, bool) {
    let mut count = 0u64;
    // A word starts wherever a non-space follows a space: with `s` the mask
    // of spaces of a 64-byte block, the starts are `!s & (s << 1 | carry)`.
    let mut carry = u64::from(!in_word);
    let mut blocks = buf.chunks_exact(64);
    for block in &mut blocks {
        let block: &[u8; 64] = block.try_into().unwrap_or(&[0; 64]);
        let s = masker.spaces(block);
        count += u64::from((!s & ((s << 1) | carry)).count_ones());
        carry = s >> 63;
    }
    let mut prev_space = carry == 1;
    for &b in blocks.remainder() {
        let sp = is_space(b);
        count += u64::from(prev_space && !sp);
        prev_space = sp;
    }
    (count, !prev_space)
}

const fn strip_table() -> [bool; 256] {
    let mut t = [false; 256];
    let chars = b"[](){}<>:;,|\"'";
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] = true;
        i += 1;
    }
    t
}

static STRIP: [bool; 256] = strip_table();

/// Characters stripped from both ends of a token before it is compared with
/// the level words.
#[inline(always)]
fn is_strip(b: u8) -> bool {
    STRIP[b as usize]
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
        if i - start >= 4
            && first_ok[head[start] as usize]
            && let Some(level) = token_level(&head[start..i], ignore_case)
        {
            return (Some(level), i);
        }
    }
    (None, i)
}

fn token_level(tok: &[u8], ignore_case: bool) -> Option<Level> {
    // Fast path for the common bare word (`INFO`): no punctuation to strip.
    let (&first, &last) = (tok.first()?, tok.last()?);
    let tok = if is_strip(first) || is_strip(last) {
        strip(tok)
    } else {
        tok
    };
    // Only a logfmt key can put a `=` before a level: level words have none,
    // so other tokens go straight to the word comparison (which rejects
    // anything with a `=`).
    if matches!(tok.first(), Some(b'l' | b'L' | b's' | b'S'))
        && let Some(eq) = tok.iter().position(|&b| b == b'=')
    {
        let key = &tok[..eq];
        let is_level_key = [&b"level"[..], b"lvl", b"severity", b"loglevel"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k));
        if !is_level_key {
            return None;
        }
        return level_word(strip(&tok[eq + 1..]), ignore_case);
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

/// A level word packed little-endian into a `u64`, zero-padded.
const fn packed(word: &[u8]) -> u64 {
    let mut x = 0u64;
    let mut i = 0;
    while i < word.len() {
        x |= (word[i] as u64) << (8 * i);
        i += 1;
    }
    x
}

const W_INFO: u64 = packed(b"INFO");
const W_WARN: u64 = packed(b"WARN");
const W_ERROR: u64 = packed(b"ERROR");
const W_DEBUG: u64 = packed(b"DEBUG");
const W_TRACE: u64 = packed(b"TRACE");
const W_FATAL: u64 = packed(b"FATAL");
const W_WARNING: u64 = packed(b"WARNING");

/// Exact match of a level word. The token is packed into one integer so
/// that the comparison is a handful of integer compares rather than a jump
/// table and byte compares (this runs once per line).
#[inline]
pub fn level_word(tok: &[u8], ignore_case: bool) -> Option<Level> {
    if !(4..=7).contains(&tok.len()) {
        return None;
    }
    // Shifts rather than a slice copy: a variable-length copy becomes a
    // memcpy call, which costs more than the whole comparison.
    let mut x = 0u64;
    for (i, &b) in tok.iter().enumerate() {
        let b = if ignore_case {
            b.to_ascii_uppercase()
        } else {
            b
        };
        x |= u64::from(b) << (8 * i);
    }
    match x {
        W_INFO => Some(Level::Info),
        W_WARN => Some(Level::Warn),
        W_ERROR => Some(Level::Error),
        W_DEBUG => Some(Level::Debug),
        W_TRACE => Some(Level::Trace),
        W_FATAL => Some(Level::Fatal),
        W_WARNING => Some(Level::Warn),
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
            let tok: Vec<u8> = (0..k)
                .map(|i: usize| 0x21 + (i * 37 % 0xDE) as u8)
                .collect();
            let mut line = tok.clone();
            line.push(b' ');
            assert_eq!(
                token_end(&line, 0),
                tok.iter().position(|&b| b <= b' ').unwrap_or(k),
                "k {k}"
            );
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
    fn vector_masks_match_scalar() {
        let mut block = [0u8; 64];
        for seed in 0..300u32 {
            for (i, b) in block.iter_mut().enumerate() {
                *b = (seed.wrapping_mul(2_654_435_761).rotate_left(i as u32) as u8)
                    ^ (i as u8).wrapping_mul(7);
                if seed < 256 && i % 3 == 0 {
                    *b = seed as u8;
                }
            }
            assert_eq!(mask::newlines(&block), mask::scalar(&block, |b| b == b'\n'));
            assert_eq!(mask::spaces(&block), mask::scalar(&block, is_space));
        }
    }

    /// Runs every implementation of the line/level kernel on `buf` and
    /// checks that they agree with the reference.
    fn check_kernels(buf: &[u8], at_line_start: bool, ci: bool) {
        let mut want = [0u64; 7];
        let want_lines = lines_and_levels_reference(buf, at_line_start, ci, &mut want);
        let mut got = [0u64; 7];
        let lines = fast::lines_and_levels_portable(buf, at_line_start, ci, &mut got);
        assert_eq!(
            (lines, got),
            (want_lines, want),
            "portable, ci {ci}, {buf:?}"
        );
        #[cfg(target_arch = "x86_64")]
        if fast::avx2::available() {
            let mut got = [0u64; 7];
            // SAFETY: the CPU features are available, as just checked.
            let lines = unsafe { fast::avx2::lines_and_levels(buf, at_line_start, ci, &mut got) };
            assert_eq!((lines, got), (want_lines, want), "avx2, ci {ci}, {buf:?}");
        }
        let mut got = [0u64; 7];
        let lines = fast::lines_and_levels(buf, at_line_start, ci, &mut got);
        assert_eq!((lines, got), (want_lines, want), "dispatch, ci {ci}");
    }

    #[test]
    fn fast_kernel_matches_reference_on_examples() {
        let mut cases: Vec<Vec<u8>> = [
            "2024-05-01T10:00:00Z ERROR db down",
            "May  1 10:00:00 host app[12]: WARN disk 91%",
            "ts=2024-05-01 level=INFO msg=\"ok\"",
            "2024-05-01 DEBUG retry_on=ERROR attempt=2",
            "2024-05-01 retry_on=ERROR",
            "ERROR_BUDGET exhausted",
            "INFO saw an ERROR upstream",
            "a b c d e f g h ERROR",
            "a b c d e f g ERROR",
            "ts=1 level=error",
            "[ERROR] x",
            "\"DEBUG\", x",
            "x\tTRACE\r",
            "FATAL",
            "WARNING",
            "",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        // Level words around the 256-byte head limit and block boundaries.
        for k in 240..262 {
            let mut line = vec![b'x'; k];
            line.extend_from_slice(b" ERROR_BUDGET");
            cases.push(line.clone());
            line.truncate(k);
            line.extend_from_slice(b" ERROR");
            cases.push(line);
        }
        for k in 0..70 {
            let mut line = vec![b'y'; k];
            line.extend_from_slice(b" [WARN] level=INFO");
            cases.push(line);
        }
        for ci in [false, true] {
            for case in &cases {
                for nl in [&b""[..], b"\n", b"\r\n"] {
                    let mut buf = case.clone();
                    buf.extend_from_slice(nl);
                    for als in [true, false] {
                        check_kernels(&buf, als, ci);
                    }
                }
            }
            let all = cases.join(&b'\n');
            for start in [0, 1, 7, 63, 64, 65, 300] {
                check_kernels(&all[start..], true, ci);
                check_kernels(&all[start..], false, ci);
            }
        }
    }

    mod differential {
        use super::*;
        use proptest::prelude::*;

        fn token() -> impl Strategy<Value = Vec<u8>> {
            let words = prop::sample::select(vec![
                "FATAL",
                "ERROR",
                "WARN",
                "WARNING",
                "INFO",
                "DEBUG",
                "TRACE",
                "error",
                "Warn",
                "info",
                "INFOS",
                "xINFO",
                "ERROR_BUDGET",
                "retry_on=ERROR",
                "level=INFO",
                "LEVEL=\"debug\"",
                "lvl=WARN",
                "severity='ERROR'",
                "loglevel=trace",
                "level=",
                "level=x",
                "[ERROR]",
                "<WARN>:",
                "(INFO)",
                "\"DEBUG\",",
                "ERROR:",
                "[[",
                "::",
                "lvl",
                "s=INFO",
                "Level=FATAL",
                "2024-05-01T10:00:00.123Z",
                "[worker-3]",
                "request",
                "served",
                "é",
            ]);
            prop_oneof![
                6 => words.prop_map(|w| w.as_bytes().to_vec()),
                2 => "[a-zA-Z\\[\\]():;,|\"'<>{}=_]{1,9}".prop_map(String::into_bytes),
                1 => prop::collection::vec(any::<u8>(), 0..12),
                1 => (1usize..300).prop_map(|n| vec![b'z'; n]),
            ]
        }

        fn sep() -> impl Strategy<Value = &'static [u8]> {
            prop::sample::select(vec![
                &b" "[..],
                b" ",
                b" ",
                b"  ",
                b"\t",
                b"\r",
                b"\x01",
                b"\0",
                b"\x0b",
                b"\n",
                b"\r\n",
                b"\n\n",
            ])
        }

        fn log() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec((token(), sep()), 0..120).prop_map(|parts| {
                let mut v = Vec::new();
                for (t, s) in parts {
                    v.extend_from_slice(&t);
                    v.extend_from_slice(s);
                }
                v
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn fast_kernel_matches_reference(
                data in log(),
                cut in any::<prop::sample::Index>(),
                als in any::<bool>(),
                ci in any::<bool>(),
            ) {
                check_kernels(&data, als, ci);
                let start = cut.index(data.len() + 1);
                check_kernels(&data[start..], als, ci);
            }

            #[test]
            fn words_match_scalar(data in log(), in_word in any::<bool>()) {
                let mut want = 0u64;
                let mut prev_space = !in_word;
                for &b in &data {
                    let sp = is_space(b);
                    want += u64::from(prev_space && !sp);
                    prev_space = sp;
                }
                let want = (want, !prev_space);
                prop_assert_eq!(count_words(&data, in_word), want);
                prop_assert_eq!(
                    count_words_with(&data, in_word, &fast::Portable(&FIRST_CS)),
                    want
                );
            }

            #[test]
            fn counter_matches_reference_in_pieces(
                data in log(),
                piece in 1usize..200,
                ci in any::<bool>(),
            ) {
                let opts = CountOptions { ignore_level_case: ci, ..CountOptions::default() };
                let mut c = Counter::new(&opts);
                let mut want = [0u64; 7];
                let mut lines = 0;
                let mut als = true;
                for p in data.chunks(piece) {
                    c.feed(p);
                    lines += lines_and_levels_reference(p, als, ci, &mut want);
                    als = p[p.len() - 1] == b'\n';
                }
                let got = c.finish();
                if !als {
                    lines += 1;
                }
                prop_assert_eq!(got.lines, lines);
                prop_assert_eq!(got.levels.0, want);
            }
        }
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
