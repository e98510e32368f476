//! The 16 basic colours as the basic escape codes.
//!
//! crossterm writes every colour in its 256-colour form: red is
//! `ESC[38;5;1m`, not `ESC[31m`. Terminals limited to 8 or 16 colours (the
//! Linux console, old xterms, serial terminals) may not understand that
//! form at all. [`BasicSgr`] sits between crossterm and the terminal and
//! rewrites the colours 0-15 into the codes every colour terminal knows:
//! `30`-`37` and `90`-`97` for the foreground, `40`-`47` and `100`-`107`
//! for the background. On a 256-colour terminal both forms show the same
//! palette entry, so it is always on. The views use those 16 colours only
//! (`palette.rs` keeps it so), so the TUI never sends a 256-colour code.
//! Everything else passes through unchanged. Pure byte rewriting, tested
//! without a terminal.

use std::io::{self, Write};

/// Longest escape sequence held back while it is incomplete; anything
/// longer is not one of crossterm's colour sequences and passes as is.
const MAX_SEQUENCE: usize = 64;

/// A writer that rewrites 256-colour SGR codes for colours 0-15 into the
/// basic ones. See the module docs.
#[derive(Debug)]
pub struct BasicSgr<W: Write> {
    inner: W,
    /// An escape sequence being received: `ESC`, `[`, parameters.
    pending: Vec<u8>,
}

impl<W: Write> BasicSgr<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> BasicSgr<W> {
        BasicSgr {
            inner,
            pending: Vec::new(),
        }
    }

    /// The wrapped writer.
    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.pending.is_empty() {
            if b == 0x1b {
                self.pending.push(b);
            } else {
                out.push(b);
            }
            return;
        }
        self.pending.push(b);
        let len = self.pending.len();
        if len == 2 && b != b'[' {
            // Not a CSI sequence: nothing to rewrite.
            out.append(&mut self.pending);
        } else if len > 2 && (0x40..=0x7e).contains(&b) {
            // The final byte: the sequence is whole.
            let sequence = std::mem::take(&mut self.pending);
            match sequence.strip_suffix(b"m") {
                Some(body) => out.extend(rewrite(&body[2..])),
                None => out.extend(sequence),
            }
        } else if len > MAX_SEQUENCE {
            out.append(&mut self.pending);
        }
    }
}

/// `ESC [ params m` with the colours 0-15 in their basic codes.
fn rewrite(params: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(params);
    let parts: Vec<&str> = text.split(';').collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        let indexed = parts.get(i + 1) == Some(&"5");
        let colour = parts.get(i + 2).and_then(|n| n.parse::<u8>().ok());
        match (parts[i], indexed, colour) {
            ("38", true, Some(n)) if n < 16 => {
                out.push(basic(n, 30, 90));
                i += 3;
            }
            ("48", true, Some(n)) if n < 16 => {
                out.push(basic(n, 40, 100));
                i += 3;
            }
            (part, _, _) => {
                out.push(part.to_string());
                i += 1;
            }
        }
    }
    format!("\x1b[{}m", out.join(";")).into_bytes()
}

/// The basic code of colour `n` (0-15): `normal + n`, or `bright + n - 8`.
fn basic(n: u8, normal: u8, bright: u8) -> String {
    if n < 8 {
        (normal + n).to_string()
    } else {
        (bright + n - 8).to_string()
    }
}

impl<W: Write> Write for BasicSgr<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 8);
        for &b in buf {
            self.byte(b, &mut out);
        }
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A flush in the middle of a sequence would be crossterm's doing;
        // send what there is rather than hold it.
        let pending = std::mem::take(&mut self.pending);
        self.inner.write_all(&pending)?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `pieces` one `write` call each, as crossterm's formatting
    /// does, and returns what came out.
    fn through(pieces: &[&str]) -> String {
        let mut w = BasicSgr::new(Vec::new());
        for piece in pieces {
            w.write_all(piece.as_bytes()).unwrap();
        }
        w.flush().unwrap();
        String::from_utf8(w.get_ref().clone()).unwrap()
    }

    #[test]
    fn basic_colours_get_their_basic_codes() {
        assert_eq!(through(&["\x1b[38;5;1m"]), "\x1b[31m");
        assert_eq!(through(&["\x1b[38;5;8m"]), "\x1b[90m");
        assert_eq!(through(&["\x1b[48;5;15m"]), "\x1b[107m");
        assert_eq!(through(&["\x1b[38;5;3;48;5;4m"]), "\x1b[33;44m");
        // Split across writes, as `write!` with arguments produces it.
        assert_eq!(
            through(&["\x1b[", "38;", "5;12", ";", "48;", "5;0", "m", "x"]),
            "\x1b[94;40mx"
        );
    }

    #[test]
    fn everything_else_passes_unchanged() {
        for s in [
            "plain text, ünïcödé ●",
            "\x1b[1m\x1b[22m\x1b[7m\x1b[0m",
            "\x1b[39m\x1b[49m\x1b[59m",
            "\x1b[38;5;200m\x1b[48;2;1;2;3m",
            "\x1b[12;40H\x1b[?25h\x1b[2J",
            "\x1b7\x1b8",
        ] {
            assert_eq!(through(&[s]), s);
        }
        assert_eq!(through(&["\x1b[38;5;9mred\x1b[39m"]), "\x1b[91mred\x1b[39m");
    }
}
