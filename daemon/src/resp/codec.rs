//! RESP framing: a [`Decoder`] for requests (RESP2 multibulk arrays and
//! inline "telnet" commands) and [`encode`] for replies in RESP2 or RESP3.
//!
//! The decoder is incremental: it keeps its place inside a multibulk
//! request between reads, so a large value arriving in many reads is not
//! re-scanned, and it checks every announced length against its limit
//! before reserving memory for it. Errors carry Redis's exact texts; the
//! connection answers them and closes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::cache::{MAX_BULK, Reply};
/// Most arguments in one multibulk request.
pub const MAX_MULTIBULK: i64 = 1024 * 1024;
/// Longest inline request or length line (Redis's PROTO_INLINE_MAX_SIZE).
pub const MAX_INLINE: usize = 64 * 1024;

/// A protocol error; the text is the whole error line after `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(what: &str) -> ProtocolError {
        ProtocolError(format!("ERR Protocol error: {what}"))
    }
}

/// An incremental RESP request decoder.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Arguments still expected in the current multibulk request; 0 when
    /// between requests.
    remaining: usize,
    /// The length of the bulk string being waited for, once its header was
    /// read.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
    max_bulk: usize,
}

impl Decoder {
    /// A decoder with the default limits.
    pub fn new() -> Decoder {
        Decoder::with_max_bulk(MAX_BULK)
    }

    /// A decoder refusing bulk strings over `max_bulk` bytes.
    pub fn with_max_bulk(max_bulk: usize) -> Decoder {
        Decoder {
            max_bulk,
            ..Decoder::default()
        }
    }

    /// Takes the next complete request out of `buf`: `Ok(None)` when more
    /// bytes are needed. Empty requests (blank lines, `*0`) are skipped.
    ///
    /// # Errors
    /// A [`ProtocolError`] once the input cannot be a valid request.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.decode_next(buf)? {
            Ok(Some(std::mem::take(&mut self.args)))
        } else {
            Ok(None)
        }
    }

    /// Like [`Decoder::decode`] but keeps the request in the decoder (read
    /// it with [`Decoder::args`]), reusing one vector for all requests:
    /// `Ok(true)` when a complete request is there. The arguments of the
    /// previous request are released when the next one is started, so once
    /// this returned `Ok(false)` at a request boundary the decoder holds no
    /// part of `buf`.
    ///
    /// # Errors
    /// A [`ProtocolError`] once the input cannot be a valid request.
    pub fn decode_next(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        loop {
            if self.remaining == 0 {
                self.args.clear();
                let Some(&first) = buf.first() else {
                    return Ok(false);
                };
                if first != b'*' {
                    match self.inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        Some(args) => {
                            self.args = args;
                            return Ok(true);
                        }
                        None => return Ok(false),
                    }
                }
                let Some(n) = take_len(buf, "too big mbulk count string")? else {
                    return Ok(false);
                };
                let n = n
                    .filter(|n| *n <= MAX_MULTIBULK)
                    .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
                if n <= 0 {
                    continue;
                }
                self.remaining = n as usize;
                // Reserve for what was announced only up to a small bound:
                // the count is the client's word, not yet its bytes.
                self.args.reserve(self.remaining.min(1024));
            }
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        let Some(&first) = buf.first() else {
                            return Ok(false);
                        };
                        if first != b'$' {
                            return Err(ProtocolError::new(&format!(
                                "expected '$', got '{}'",
                                char::from(first)
                            )));
                        }
                        let Some(len) = take_len(buf, "too big bulk count string")? else {
                            return Ok(false);
                        };
                        let len = len
                            .filter(|n| *n >= 0 && *n as u64 <= self.max_bulk as u64)
                            .ok_or_else(|| ProtocolError::new("invalid bulk length"))?
                            as usize;
                        self.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < len + 2 {
                    // Make room for the rest of this bulk at once (bounded
                    // by the checked length), so a large value is read with
                    // few reallocations.
                    buf.reserve(len + 2 - buf.len());
                    return Ok(false);
                }
                let arg = buf.split_to(len).freeze();
                // Redis does not check the CRLF after a bulk; skip two bytes.
                buf.advance(2);
                self.args.push(arg);
                self.bulk_len = None;
                self.remaining -= 1;
            }
            return Ok(true);
        }
    }

    /// The request [`Decoder::decode_next`] completed.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }

    /// An inline command: one line split like Redis's `sdssplitargs`.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > MAX_INLINE {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        if nl > MAX_INLINE {
            return Err(ProtocolError::new("too big inline request"));
        }
        let line = buf.split_to(nl + 1).freeze();
        let mut end = nl;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
        // The common case (no quotes, no escapes: `PING`, `GET key`): the
        // arguments are slices of the line, without copying.
        if !line[..end]
            .iter()
            .any(|b| matches!(b, b'"' | b'\'' | b'\\'))
        {
            let args = line[..end]
                .split(|b| b.is_ascii_whitespace())
                .filter(|word| !word.is_empty())
                .map(|word| line.slice_ref(word))
                .collect();
            return Ok(Some(args));
        }
        let line = &line[..end];
        // Redis answers both of sdssplitargs' refusals (an open quote, a
        // quote closed inside a word) with this text.
        super::args::split_args(line)
            .map(|args| Some(args.into_iter().map(Bytes::from).collect()))
            .map_err(|_| ProtocolError::new("unbalanced quotes in request"))
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Takes a `\r\n`-terminated length line (`*3`, `$5`): `Some(None)` when
/// the line is complete but not a valid number. Parsed in place, without
/// splitting the buffer.
fn take_len(buf: &mut BytesMut, too_big: &str) -> Result<Option<Option<i64>>, ProtocolError> {
    match memchr(b'\r', buf) {
        Some(cr) if cr + 1 < buf.len() => {
            let n = parse_len(&buf[1..cr]);
            buf.advance(cr + 2);
            Ok(Some(n))
        }
        Some(cr) if cr > MAX_INLINE => Err(ProtocolError::new(too_big)),
        Some(_) => Ok(None),
        None if buf.len() > MAX_INLINE => Err(ProtocolError::new(too_big)),
        None => Ok(None),
    }
}

/// Parses a length like Redis's `string2ll`, with a fast path for the
/// short non-negative numbers every request is made of.
fn parse_len(digits: &[u8]) -> Option<i64> {
    match digits {
        [d] if d.is_ascii_digit() => Some(i64::from(d - b'0')),
        [b'1'..=b'9', rest @ ..] if rest.len() < 17 && rest.iter().all(u8::is_ascii_digit) => Some(
            digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
        ),
        _ => crate::cache::cmd::parse_i64(digits),
    }
}

/// Appends `reply` to `out` in RESP3 (`resp3`) or RESP2.
pub fn encode(reply: &Reply, resp3: bool, out: &mut BytesMut) {
    match reply {
        Reply::Simple(text) => line(out, b'+', text.as_bytes()),
        Reply::Error(text) => line(out, b'-', text.as_bytes()),
        Reply::Integer(n) => {
            let mut b = itoa::Buffer::new();
            line(out, b':', b.format(*n).as_bytes());
        }
        Reply::Bulk(bytes) => bulk(out, bytes),
        Reply::Nil if resp3 => out.put_slice(b"_\r\n"),
        Reply::Nil => out.put_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
        Reply::NilArray => out.put_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            header(out, b'*', items.len());
            items.iter().for_each(|r| encode(r, resp3, out));
        }
        Reply::Push(items) => {
            header(out, if resp3 { b'>' } else { b'*' }, items.len());
            items.iter().for_each(|r| encode(r, resp3, out));
        }
        Reply::Double(d) => {
            let text = crate::cache::cmd::format_g17(*d);
            if resp3 {
                line(out, b',', text.as_bytes());
            } else {
                bulk(out, text.as_bytes());
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                header(out, b'%', pairs.len());
            } else {
                header(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode(k, resp3, out);
                encode(v, resp3, out);
            }
        }
    }
}

/// Replies encoded straight into an output buffer.
impl crate::cache::cmd::Sink for BytesMut {
    fn reply(&mut self, reply: Reply, resp3: bool) {
        encode(&reply, resp3, self);
    }

    fn bulk_or_nil(&mut self, bytes: Option<&[u8]>, resp3: bool) {
        match bytes {
            Some(bytes) => bulk(self, bytes),
            None => encode(&Reply::Nil, resp3, self),
        }
    }

    fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]> + Clone, _: bool) {
        header(self, b'*', items.len());
        super::frame::put_bulks(self, items);
    }
}

fn line(out: &mut BytesMut, tag: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(tag);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, tag: u8, n: usize) {
    let mut b = itoa::Buffer::new();
    line(out, tag, b.format(n).as_bytes());
}

fn bulk(out: &mut BytesMut, bytes: &[u8]) {
    super::frame::put_bulk(out, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn decode_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = d.decode(&mut buf)? {
            out.push(cmd);
        }
        Ok(out)
    }

    const PIPELINE: &[u8] =
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\n";

    #[test]
    fn pipeline_decodes_in_order() {
        let cmds = decode_all(PIPELINE).unwrap();
        assert_eq!(
            cmds,
            vec![
                args(&["SET", "k", "hello"]),
                args(&["GET", "k"]),
                args(&["PING"]),
                args(&["PING"])
            ]
        );
    }

    #[test]
    fn split_reads_at_every_byte() {
        let expected = decode_all(PIPELINE).unwrap();
        for split in 0..PIPELINE.len() {
            let mut d = Decoder::new();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for chunk in [&PIPELINE[..split], &PIPELINE[split..]] {
                buf.extend_from_slice(chunk);
                while let Some(cmd) = d.decode(&mut buf).unwrap() {
                    got.push(cmd);
                }
            }
            assert_eq!(got, expected, "split at {split}");
        }
        // And one byte at a time.
        let mut d = Decoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in PIPELINE {
            buf.put_u8(*b);
            while let Some(cmd) = d.decode(&mut buf).unwrap() {
                got.push(cmd);
            }
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn inline_commands_split_like_redis() {
        assert_eq!(
            decode_all(b"set k v\r\n").unwrap(),
            vec![args(&["set", "k", "v"])]
        );
        assert_eq!(decode_all(b"get k\n").unwrap(), vec![args(&["get", "k"])]);
        assert_eq!(
            decode_all(b"\r\n\r\nping\r\n").unwrap(),
            vec![args(&["ping"])]
        );
        assert_eq!(
            decode_all(b"set k \"a b\\x41\\n\" 'c\\'d'\r\n").unwrap(),
            vec![args(&["set", "k", "a bA\n", "c'd"])]
        );
        assert_eq!(
            decode_all(b"set k \"unterminated\r\n"),
            Err(ProtocolError(
                "ERR Protocol error: unbalanced quotes in request".into()
            ))
        );
        assert!(decode_all(b"set \"a\"b\r\n").is_err());
    }

    #[test]
    fn protocol_errors_have_redis_texts() {
        let err = |input: &[u8]| decode_all(input).unwrap_err().0;
        assert_eq!(
            err(b"*x\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*2000000\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(err(b"*1\r\nx"), "ERR Protocol error: expected '$', got 'x'");
        assert_eq!(
            err(b"*1\r\n$-5\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n$536870913\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        let long = vec![b'a'; MAX_INLINE + 10];
        assert_eq!(err(&long), "ERR Protocol error: too big inline request");
        let mut long = b"*".to_vec();
        long.extend(vec![b'1'; MAX_INLINE + 10]);
        assert_eq!(err(&long), "ERR Protocol error: too big mbulk count string");
    }

    #[test]
    fn oversized_bulk_is_refused_before_allocating() {
        let mut d = Decoder::with_max_bulk(1024);
        let mut buf = BytesMut::from(&b"*1\r\n$1025\r\n"[..]);
        assert!(d.decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024);
        // A huge multibulk count reserves little.
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(&b"*1048576\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(d.args.capacity() <= 1024);
    }

    #[test]
    fn encodes_resp2_and_resp3() {
        let enc = |r: &Reply, v3: bool| {
            let mut out = BytesMut::new();
            encode(r, v3, &mut out);
            String::from_utf8(out.to_vec()).unwrap()
        };
        assert_eq!(enc(&Reply::ok(), false), "+OK\r\n");
        assert_eq!(enc(&Reply::err("ERR x"), false), "-ERR x\r\n");
        assert_eq!(enc(&Reply::Integer(-3), false), ":-3\r\n");
        assert_eq!(enc(&Reply::text("hi"), false), "$2\r\nhi\r\n");
        assert_eq!(enc(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, true), "_\r\n");
        assert_eq!(enc(&Reply::NilArray, false), "*-1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), false), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), true), ",1.5\r\n");
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Integer(1))]);
        assert_eq!(enc(&map, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(
            enc(&Reply::Push(vec![Reply::Integer(1)]), true),
            ">1\r\n:1\r\n"
        );
        assert_eq!(
            enc(&Reply::Push(vec![Reply::Integer(1)]), false),
            "*1\r\n:1\r\n"
        );
    }

    #[test]
    fn length_fast_path_agrees_with_string2ll() {
        for text in [
            "0",
            "1",
            "9",
            "10",
            "00",
            "01",
            "-0",
            "-1",
            "+1",
            " 1",
            "1 ",
            "",
            "-",
            "123456789012345678",
            "999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "1a",
            "a",
            "1\r",
        ] {
            assert_eq!(
                parse_len(text.as_bytes()),
                crate::cache::cmd::parse_i64(text.as_bytes()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn decode_next_reuses_its_vector_and_releases_the_buffer() {
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nget\r\n$1\r\nk\r\nping\r\n*1\r\n$4\r\nPI"[..]);
        assert_eq!(d.decode_next(&mut buf), Ok(true));
        assert_eq!(d.args(), &args(&["get", "k"])[..]);
        assert_eq!(d.decode_next(&mut buf), Ok(true));
        assert_eq!(d.args(), &args(&["ping"])[..]);
        assert_eq!(d.decode_next(&mut buf), Ok(false));
        buf.extend_from_slice(b"NG\r\n");
        assert_eq!(d.decode_next(&mut buf), Ok(true));
        assert_eq!(d.args(), &args(&["PING"])[..]);
        // At a request boundary nothing of the input is held any more.
        assert_eq!(d.decode_next(&mut buf), Ok(false));
        assert!(d.args().is_empty());
    }

    #[test]
    fn sink_writes_what_encode_writes() {
        use crate::cache::cmd::Sink as _;
        for resp3 in [false, true] {
            let mut direct = BytesMut::new();
            direct.bulk_or_nil(Some(b"value"), resp3);
            direct.bulk_or_nil(None, resp3);
            direct.reply(Reply::ok(), resp3);
            let items: [&[u8]; 3] = [b"a", b"", &[0xff; 12]];
            direct.bulks(items.iter().copied(), resp3);
            direct.bulks(std::iter::empty(), resp3);
            let mut expected = BytesMut::new();
            encode(&Reply::bulk(b"value"), resp3, &mut expected);
            encode(&Reply::Nil, resp3, &mut expected);
            encode(&Reply::ok(), resp3, &mut expected);
            let array = Reply::Array(items.iter().map(|i| Reply::bulk(i)).collect());
            encode(&array, resp3, &mut expected);
            encode(&Reply::Array(Vec::new()), resp3, &mut expected);
            assert_eq!(direct, expected);
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut d = Decoder::with_max_bulk(4096);
            let mut buf = BytesMut::new();
            'outer: for chunk in chunks {
                buf.extend_from_slice(&chunk);
                loop {
                    match d.decode(&mut buf) {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }

        #[test]
        fn random_resp_like_input_never_panics(parts in proptest::collection::vec(
            prop_oneof![
                Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()),
                Just(b"-1".to_vec()), Just(b"3".to_vec()), Just(b"abc".to_vec()),
                Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\x4".to_vec()),
                Just(b" ".to_vec()), Just(b"\n".to_vec()),
            ], 0..40)) {
            let input: Vec<u8> = parts.concat();
            let _ = decode_all(&input);
        }
    }
}
