//! Reading a file, or a line-aligned chunk of it, through a reused buffer
//! into a [`Counter`].
//!
//! # Chunk ownership
//!
//! A big file is cut at fixed byte offsets `0 = o0 < o1 < … < on = size`.
//! Offsets rarely fall on line boundaries, so each offset `x` is moved to the
//! next line start `b(x)`: `x` itself when the byte before it is `\n`,
//! otherwise the byte after the first `\n` at or after `x`. Chunk `k` owns the
//! bytes `[b(ok), b(ok+1))`: every line belongs to exactly one chunk, whatever
//! the chunk size, so per-chunk counts add up to the whole-file counts exactly.
//! A chunk reads from `ok - 1` to find `b(ok)` and stops at the first `\n` at
//! or after `ok+1 - 1`.

use std::cell::RefCell;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use memchr::{memchr, memrchr};

use super::count::Counter;

/// Size of the reused read buffer. A line longer than this is fed to the
/// counter in pieces, which is what bounds memory on any input.
pub const BUF_SIZE: usize = 64 * 1024;

/// How many leading bytes are checked for a NUL to call a file binary (as
/// ripgrep does).
pub const BINARY_PROBE: usize = 8 * 1024;

/// Why reading a span stopped early.
#[derive(Debug)]
pub enum SpanError {
    /// The run was cancelled (Ctrl-C); the counts are incomplete.
    Cancelled,
    /// The first [`BINARY_PROBE`] bytes hold a NUL byte.
    Binary,
    /// Reading failed.
    Io(io::Error),
}

impl From<io::Error> for SpanError {
    fn from(e: io::Error) -> Self {
        SpanError::Io(e)
    }
}

/// A span to read, in absolute offsets of the underlying stream.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// The offset the reader is positioned at (`start - 1` when `start > 0`,
    /// so that the byte before the chunk can be inspected).
    pub reader_pos: u64,
    /// The nominal chunk start `ok`.
    pub start: u64,
    /// The nominal chunk end `ok+1`; `u64::MAX` for "until the end".
    pub end: u64,
    /// Check the first bytes for NUL (only for the span starting at 0).
    pub check_binary: bool,
}

impl Span {
    /// The whole stream.
    pub fn whole(check_binary: bool) -> Span {
        Span {
            reader_pos: 0,
            start: 0,
            end: u64::MAX,
            check_binary,
        }
    }
}

thread_local! {
    /// One read buffer per worker thread, reused across files.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's reused buffer (or a fresh one if the thread's
/// buffer is already in use, which cannot happen in the engine but must not
/// panic either).
pub fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() != BUF_SIZE {
                buf.resize(BUF_SIZE, 0);
            }
            f(&mut buf)
        }
        Err(_) => f(&mut vec![0; BUF_SIZE]),
    })
}

/// Reads into `buf[filled..]`, retrying on `Interrupted`.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads the span from `reader` (already positioned at `span.reader_pos` and
/// limited to the bytes that may be read) and feeds the owned lines to
/// `counter`. `buf` must be non-empty.
pub fn count_span(
    reader: &mut impl Read,
    span: Span,
    counter: &mut Counter<'_>,
    buf: &mut [u8],
    cancel: &AtomicBool,
) -> Result<(), SpanError> {
    let cap = buf.len();
    // Absolute offset of buf[0].
    let mut base = span.reader_pos;
    let mut filled = 0usize;
    let mut eof = false;

    let mut fill = |buf: &mut [u8], filled: &mut usize, eof: &mut bool| -> Result<(), SpanError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(SpanError::Cancelled);
        }
        let n = read_some(reader, &mut buf[*filled..])?;
        if n == 0 {
            *eof = true;
        }
        *filled += n;
        Ok(())
    };

    if span.check_binary {
        while filled < BINARY_PROBE.min(cap) && !eof {
            fill(buf, &mut filled, &mut eof)?;
        }
        if memchr(0, &buf[..filled.min(BINARY_PROBE)]).is_some() {
            return Err(SpanError::Binary);
        }
    }

    // Skip to the first line start at or after `start` (see module docs).
    if span.start > 0 {
        loop {
            if let Some(nl) = memchr(b'\n', &buf[..filled]) {
                let nl_abs = base + nl as u64;
                if span.end != u64::MAX && nl_abs >= span.end.saturating_sub(1) {
                    // The line that crosses our start also crosses our end:
                    // this chunk owns no line.
                    return Ok(());
                }
                buf.copy_within(nl + 1..filled, 0);
                filled -= nl + 1;
                base = nl_abs + 1;
                break;
            }
            base += filled as u64;
            filled = 0;
            if eof {
                return Ok(());
            }
            fill(buf, &mut filled, &mut eof)?;
        }
    }

    loop {
        // Does the end of the chunk lie in the buffer? Then stop at the first
        // newline at or after `end - 1`.
        if span.end != u64::MAX {
            let last = span.end.saturating_sub(1);
            if last < base + filled as u64 {
                let from = last.saturating_sub(base) as usize;
                if let Some(nl) = memchr(b'\n', &buf[from..filled]) {
                    counter.feed(&buf[..from + nl + 1]);
                    return Ok(());
                }
            }
        }
        if eof {
            counter.feed(&buf[..filled]);
            return Ok(());
        }
        match memrchr(b'\n', &buf[..filled]) {
            Some(nl) => {
                counter.feed(&buf[..=nl]);
                buf.copy_within(nl + 1..filled, 0);
                filled -= nl + 1;
                base += nl as u64 + 1;
            }
            None if filled == cap => {
                // A line longer than the buffer: feed it in pieces.
                counter.feed(&buf[..filled]);
                base += filled as u64;
                filled = 0;
            }
            None => {}
        }
        fill(buf, &mut filled, &mut eof)?;
    }
}

#[cfg(test)]
mod tests {
    use super::super::count::{CountOptions, Counts, build_regex};
    use super::*;

    fn whole(data: &[u8], opts: &CountOptions, cap: usize) -> Counts {
        let mut c = Counter::new(opts);
        let mut buf = vec![0; cap];
        let cancel = AtomicBool::new(false);
        count_span(
            &mut &data[..],
            Span::whole(false),
            &mut c,
            &mut buf,
            &cancel,
        )
        .unwrap();
        c.finish()
    }

    fn chunked(data: &[u8], opts: &CountOptions, cap: usize, chunk: usize) -> Counts {
        let cancel = AtomicBool::new(false);
        let mut total = Counts::new(opts.regexes.len());
        let mut start = 0usize;
        while start < data.len() || (start == 0 && data.is_empty()) {
            let end = (start + chunk).min(data.len());
            let reader_pos = start.saturating_sub(1);
            let mut r = &data[reader_pos..];
            let span = Span {
                reader_pos: reader_pos as u64,
                start: start as u64,
                end: end as u64,
                check_binary: false,
            };
            let mut c = Counter::new(opts);
            let mut buf = vec![0; cap];
            count_span(&mut r, span, &mut c, &mut buf, &cancel).unwrap();
            total.add(&c.finish());
            if data.is_empty() {
                break;
            }
            start = end;
        }
        total
    }

    fn opts_all() -> CountOptions {
        CountOptions {
            words: true,
            ignore_level_case: false,
            regexes: vec![build_regex("ERR").unwrap(), build_regex("o").unwrap()],
            count_matches: false,
        }
    }

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        let levels = ["INFO", "ERROR", "WARN", "DEBUG", "TRACE", "FATAL", "x"];
        for i in 0..500 {
            let lvl = levels[i % levels.len()];
            let pad = "word ".repeat(i % 37);
            v.extend_from_slice(format!("2024-01-01 {lvl} line {i} {pad}ERR o o\n").as_bytes());
            if i % 50 == 0 {
                v.extend_from_slice(&vec![b'z'; 3000]);
                v.extend_from_slice(b" ERROR o\r\n");
            }
        }
        v.extend_from_slice(b"ERROR no newline at end");
        v
    }

    #[test]
    fn chunk_boundaries_inside_lines_sum_exactly() {
        let data = sample();
        let opts = opts_all();
        let reference = whole(&data, &opts, 1 << 20);
        assert_eq!(reference.bytes, data.len() as u64);
        assert_eq!(
            reference.lines,
            data.iter().filter(|&&b| b == b'\n').count() as u64 + 1
        );
        // Every combination of buffer sizes (lines longer than the buffer
        // arrive in pieces) and chunk sizes that fall inside lines must give
        // the same counts. Levels are judged on a line's first piece, so they
        // are exact once the buffer holds LEVEL_MAX_BYTES, as the real one
        // (BUF_SIZE) always does; bytes, lines and words are exact always.
        for cap in [7usize, 64, 1000, 5000] {
            for chunk in [
                None,
                Some(1usize),
                Some(2),
                Some(13),
                Some(100),
                Some(999),
                Some(4096),
                Some(100_000),
            ] {
                let got = match chunk {
                    None => whole(&data, &opts, cap),
                    Some(chunk) => chunked(&data, &opts, cap, chunk),
                };
                let ctx = format!("cap {cap} chunk {chunk:?}");
                assert_eq!(got.levels.0.iter().sum::<u64>(), got.lines, "{ctx}");
                if cap >= super::super::count::LEVEL_MAX_BYTES {
                    assert_eq!(got, reference, "{ctx}");
                } else {
                    assert_eq!(
                        (got.bytes, got.lines, got.words),
                        (reference.bytes, reference.lines, reference.words),
                        "{ctx}"
                    );
                }
            }
        }
    }

    #[test]
    fn count_matches_over_chunks() {
        let data = sample();
        let mut opts = opts_all();
        opts.count_matches = true;
        let reference = whole(&data, &opts, 1 << 20);
        for chunk in [1usize, 17, 4096] {
            assert_eq!(chunked(&data, &opts, 1 << 20, chunk), reference);
        }
    }

    #[test]
    fn empty_input() {
        let opts = opts_all();
        let c = whole(b"", &opts, 16);
        assert_eq!(c, Counts::new(2));
        assert_eq!(chunked(b"", &opts, 16, 4), Counts::new(2));
    }

    #[test]
    fn binary_detection() {
        let opts = CountOptions::default();
        let cancel = AtomicBool::new(false);
        let mut data = b"INFO hello\n".repeat(10);
        data.push(0);
        let mut c = Counter::new(&opts);
        let mut buf = vec![0; BUF_SIZE];
        let r = count_span(&mut &data[..], Span::whole(true), &mut c, &mut buf, &cancel);
        assert!(matches!(r, Err(SpanError::Binary)));
        // A NUL after the probe window is not looked for.
        let mut data = b"INFO hello\n".repeat(1000);
        data.push(0);
        let mut c = Counter::new(&opts);
        let mut buf = vec![0; BUF_SIZE];
        count_span(&mut &data[..], Span::whole(true), &mut c, &mut buf, &cancel).unwrap();
    }

    #[test]
    fn cancel_stops() {
        let opts = CountOptions::default();
        let cancel = AtomicBool::new(true);
        let mut c = Counter::new(&opts);
        let mut buf = vec![0; 64];
        let r = count_span(
            &mut &b"a\n"[..],
            Span::whole(false),
            &mut c,
            &mut buf,
            &cancel,
        );
        assert!(matches!(r, Err(SpanError::Cancelled)));
    }
}
