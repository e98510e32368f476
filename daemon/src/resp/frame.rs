//! Bulk strings written in place: the hot end of reply encoding.
//!
//! An `LRANGE` of 600 short elements is 600 bulk strings; written with
//! `extend_from_slice`, each took three calls to libc's `memmove` (its
//! length, its bytes, its end), which `perf` showed as a fifth of the
//! RESP loop's time under `redis-benchmark`. Here an array is sized
//! exactly first ([`bulk_len`]), the buffer grown once, and each element
//! written into it with fixed-size stores: the length's digits and the
//! `\r\n`s are constants or short loops, and an element of up to 32
//! bytes is copied as two overlapping fixed-size chunks ([`copy_short`],
//! the trick libc's own `memcpy` uses for small sizes), so only longer
//! elements call `memcpy`.

use bytes::BytesMut;

/// Bytes of `$<len>\r\n<bytes>\r\n` for a string of `len` bytes.
pub fn bulk_len(len: usize) -> usize {
    1 + digits(len) + 2 + len + 2
}

/// Appends bulk strings to `out`, growing it once.
pub fn put_bulks<'a>(out: &mut BytesMut, items: impl Iterator<Item = &'a [u8]> + Clone) {
    let total = items
        .clone()
        .map(|item| bulk_len(item.len()))
        .sum::<usize>();
    let start = out.len();
    out.resize(start + total, 0);
    let mut at = start;
    for item in items {
        at += write_bulk(&mut out[at..], item);
    }
    debug_assert_eq!(at, start + total);
}

/// Appends one bulk string to `out`; a long one is copied straight in,
/// without zeroing its room first.
pub fn put_bulk(out: &mut BytesMut, item: &[u8]) {
    if item.len() <= LONG {
        return put_bulks(out, std::iter::once(item));
    }
    out.reserve(bulk_len(item.len()));
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(b"$");
    out.extend_from_slice(buf.format(item.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(item);
    out.extend_from_slice(b"\r\n");
}

/// Past this length a single bulk string is appended with `memcpy`
/// rather than written into zeroed room.
const LONG: usize = 1024;

/// Writes `$<len>\r\n<item>\r\n` at the start of `dst` (which has room
/// for [`bulk_len`] bytes) and answers how many bytes that was.
fn write_bulk(dst: &mut [u8], item: &[u8]) -> usize {
    let len = item.len();
    dst[0] = b'$';
    let mut at = 1;
    if len < 10 {
        dst[1] = b'0' + len as u8;
        at += 1;
    } else {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(len).as_bytes();
        dst[1..1 + text.len()].copy_from_slice(text);
        at += text.len();
    }
    dst[at..at + 2].copy_from_slice(b"\r\n");
    at += 2;
    copy_short(&mut dst[at..at + len], item);
    at += len;
    dst[at..at + 2].copy_from_slice(b"\r\n");
    at + 2
}

/// Copies `src` into `dst` (of the same length) without a call to
/// `memcpy` when it is at most 32 bytes: two fixed-size copies that
/// overlap in the middle.
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    match n {
        0 => {}
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..].copy_from_slice(&src[n - 4..]);
        }
        8..=15 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..].copy_from_slice(&src[n - 8..]);
        }
        16..=32 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..].copy_from_slice(&src[n - 16..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Decimal digits of `n`.
fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_is_framed_and_copied_exactly() {
        for len in 0..200 {
            let item: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            let mut out = BytesMut::from(&b"*2\r\n"[..]);
            put_bulks(&mut out, [&item[..], b"x"].into_iter());
            let mut expected = format!("*2\r\n${len}\r\n").into_bytes();
            expected.extend_from_slice(&item);
            expected.extend_from_slice(b"\r\n$1\r\nx\r\n");
            assert_eq!(&out[..], &expected[..], "length {len}");
        }
    }

    #[test]
    fn lengths_count_their_digits() {
        for (len, d) in [(0, 1), (9, 1), (10, 2), (99, 2), (100, 3), (123_456, 6)] {
            assert_eq!(digits(len), d);
            assert_eq!(bulk_len(len), 5 + d + len);
        }
        let mut out = BytesMut::new();
        put_bulk(&mut out, &vec![b'a'; 12_345]);
        assert!(out.starts_with(b"$12345\r\naaa"));
        assert!(out.ends_with(b"aa\r\n"));
        assert_eq!(out.len(), bulk_len(12_345));
    }
}
