//! Keys and mouse from raw terminal bytes, for a terminal that is not this
//! process's own (an SSH channel: the client sends what its terminal
//! types, and nothing here can ask crossterm to read it).
//!
//! [`InputParser::feed`] turns a chunk of bytes into crossterm
//! [`Event`]s, the same events crossterm's own reader gives `agora tui`,
//! so the app handles both alike: printable UTF-8, control keys
//! (`Ctrl-A` … `Ctrl-Z`), Enter, Tab, Backspace, Esc, `Alt-`+key, the
//! cursor and editing keys in their CSI and SS3 forms (with xterm's
//! modifier parameter, `ESC[1;5C`), F1–F12, Shift-Tab, and SGR mouse
//! reports (`ESC[<b;x;yM`, which `EnableMouseCapture` turns on).
//!
//! A lone `ESC` is the Esc key when it ends a chunk: a client sends one
//! key press per packet, and an escape sequence arrives whole. An
//! incomplete sequence at the end of a chunk that is not a lone `ESC`
//! (rare: a packet split inside a sequence) is kept for the next chunk.
//! Bytes that make no sense are dropped, never a panic. Pure; no I/O.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

/// The longest sequence kept across chunks; past it the bytes are dropped.
const MAX_PENDING: usize = 64;

/// Turns bytes typed on a remote terminal into events. See the module docs.
#[derive(Debug, Default)]
pub struct InputParser {
    pending: Vec<u8>,
}

/// What one attempt at the front of the buffer found.
enum Parsed {
    /// An event (or nothing, for bytes that mean nothing) and how many
    /// bytes it took.
    Event(Option<Event>, usize),
    /// The bytes may be the start of a longer sequence.
    Incomplete,
}

impl InputParser {
    /// A parser with nothing pending.
    pub fn new() -> Self {
        InputParser::default()
    }

    /// The events in `bytes` (after what an earlier chunk left pending).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match parse(&self.pending[at..]) {
                Parsed::Event(event, used) => {
                    events.extend(event);
                    at += used.max(1);
                }
                Parsed::Incomplete => {
                    let rest = &self.pending[at..];
                    if rest == [0x1b] {
                        // A lone ESC ending the chunk is the Esc key.
                        events.push(key(KeyCode::Esc, KeyModifiers::NONE));
                        at += 1;
                    }
                    break;
                }
            }
        }
        self.pending.drain(..at);
        if self.pending.len() > MAX_PENDING {
            self.pending.clear();
        }
        events
    }
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, modifiers))
}

/// A character as crossterm reports it: upper case letters with Shift.
fn char_key(c: char, extra: KeyModifiers) -> Event {
    let shift = if c.is_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    key(KeyCode::Char(c), shift | extra)
}

/// A control byte as crossterm reports it.
fn control(b: u8, extra: KeyModifiers) -> Event {
    match b {
        b'\r' | b'\n' => key(KeyCode::Enter, extra),
        b'\t' => key(KeyCode::Tab, extra),
        0x7f | 0x08 => key(KeyCode::Backspace, extra),
        0 => key(KeyCode::Char(' '), KeyModifiers::CONTROL | extra),
        0x01..=0x1a => key(
            KeyCode::Char((b - 1 + b'a') as char),
            KeyModifiers::CONTROL | extra,
        ),
        // 0x1c..=0x1f: Ctrl-4 … Ctrl-7, as crossterm names them.
        _ => key(
            KeyCode::Char((b - 0x1c + b'4') as char),
            KeyModifiers::CONTROL | extra,
        ),
    }
}

fn parse(buf: &[u8]) -> Parsed {
    let b = buf[0];
    match b {
        0x1b => parse_escape(buf),
        0x00..=0x1f | 0x7f => Parsed::Event(Some(control(b, KeyModifiers::NONE)), 1),
        _ => match utf8(buf) {
            Some(Ok((c, len))) => Parsed::Event(Some(char_key(c, KeyModifiers::NONE)), len),
            Some(Err(())) => Parsed::Event(None, 1),
            None => Parsed::Incomplete,
        },
    }
}

/// The character at the front: `None` when it is cut short, `Err` when
/// the bytes are not UTF-8.
fn utf8(buf: &[u8]) -> Option<Result<(char, usize), ()>> {
    let len = match buf[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Some(Err(())),
    };
    if buf.len() < len {
        // Only continuation bytes may follow: anything else is not UTF-8.
        if buf[1..].iter().any(|b| b & 0xc0 != 0x80) {
            return Some(Err(()));
        }
        return None;
    }
    match std::str::from_utf8(&buf[..len]) {
        Ok(s) => s.chars().next().map(|c| Ok((c, len))),
        Err(_) => Some(Err(())),
    }
}

fn parse_escape(buf: &[u8]) -> Parsed {
    let Some(&next) = buf.get(1) else {
        return Parsed::Incomplete;
    };
    match next {
        b'[' => parse_csi(buf),
        b'O' => match buf.get(2) {
            None => Parsed::Incomplete,
            Some(&c) => Parsed::Event(ss3(c, KeyModifiers::NONE), 3),
        },
        0x1b => Parsed::Event(Some(key(KeyCode::Esc, KeyModifiers::NONE)), 1),
        // Alt- and a key: the terminal sends ESC first.
        0x00..=0x1f | 0x7f => Parsed::Event(Some(control(next, KeyModifiers::ALT)), 2),
        _ => match utf8(&buf[1..]) {
            Some(Ok((c, len))) => Parsed::Event(Some(char_key(c, KeyModifiers::ALT)), 1 + len),
            Some(Err(())) => Parsed::Event(None, 2),
            None => Parsed::Incomplete,
        },
    }
}

/// `ESC O x`: F1–F4 and the cursor keys in application mode.
fn ss3(c: u8, modifiers: KeyModifiers) -> Option<Event> {
    let code = match c {
        b'P' => KeyCode::F(1),
        b'Q' => KeyCode::F(2),
        b'R' => KeyCode::F(3),
        b'S' => KeyCode::F(4),
        _ => return cursor(c).map(|code| key(code, modifiers)),
    };
    Some(key(code, modifiers))
}

fn cursor(c: u8) -> Option<KeyCode> {
    Some(match c {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        _ => return None,
    })
}

/// xterm's modifier parameter: 1 + (Shift 1, Alt 2, Ctrl 4).
fn modifiers(param: u16) -> KeyModifiers {
    let bits = param.saturating_sub(1);
    let mut m = KeyModifiers::NONE;
    if bits & 1 != 0 {
        m |= KeyModifiers::SHIFT;
    }
    if bits & 2 != 0 {
        m |= KeyModifiers::ALT;
    }
    if bits & 4 != 0 {
        m |= KeyModifiers::CONTROL;
    }
    m
}

fn parse_csi(buf: &[u8]) -> Parsed {
    // ESC [ parameters (0x30-0x3f) intermediates (0x20-0x2f) final (0x40-0x7e)
    let Some(end) = buf[2..].iter().position(|b| !(0x20..=0x3f).contains(b)) else {
        return Parsed::Incomplete;
    };
    if !(0x40..=0x7e).contains(&buf[2 + end]) {
        // Not a CSI sequence after all: drop the ESC [ and go on.
        return Parsed::Event(None, 2);
    }
    let used = 2 + end + 1;
    let params = &buf[2..2 + end];
    let last = buf[2 + end];
    if params.first() == Some(&b'<') {
        return Parsed::Event(sgr_mouse(&params[1..], last), used);
    }
    let numbers: Vec<u16> = std::str::from_utf8(params)
        .unwrap_or("")
        .split(';')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let first = numbers.first().copied().unwrap_or(0);
    let mods = modifiers(numbers.get(1).copied().unwrap_or(1));
    let event = match last {
        b'Z' => Some(key(KeyCode::BackTab, KeyModifiers::SHIFT)),
        b'~' => tilde(first).map(|code| key(code, mods)),
        b'P'..=b'S' => ss3(last, mods),
        c => cursor(c).map(|code| key(code, mods)),
    };
    Parsed::Event(event, used)
}

/// `ESC [ n ~`: editing keys and F5–F12.
fn tilde(n: u16) -> Option<KeyCode> {
    Some(match n {
        1 | 7 => KeyCode::Home,
        2 => KeyCode::Insert,
        3 => KeyCode::Delete,
        4 | 8 => KeyCode::End,
        5 => KeyCode::PageUp,
        6 => KeyCode::PageDown,
        11..=15 => KeyCode::F((n - 10) as u8),
        17..=21 => KeyCode::F((n - 11) as u8),
        23 | 24 => KeyCode::F((n - 12) as u8),
        _ => return None,
    })
}

/// `ESC [ < b ; x ; y M` (press, motion) or `… m` (release).
fn sgr_mouse(params: &[u8], last: u8) -> Option<Event> {
    let text = std::str::from_utf8(params).ok()?;
    let mut numbers = text.split(';').map(|p| p.parse::<u16>().ok());
    let (b, x, y) = (numbers.next()??, numbers.next()??, numbers.next()??);
    let mut modifiers = KeyModifiers::NONE;
    if b & 4 != 0 {
        modifiers |= KeyModifiers::SHIFT;
    }
    if b & 8 != 0 {
        modifiers |= KeyModifiers::ALT;
    }
    if b & 16 != 0 {
        modifiers |= KeyModifiers::CONTROL;
    }
    let button = match b & 3 {
        0 => MouseButton::Left,
        1 => MouseButton::Middle,
        _ => MouseButton::Right,
    };
    let kind = if b & 64 != 0 {
        match b & 3 {
            0 => MouseEventKind::ScrollUp,
            1 => MouseEventKind::ScrollDown,
            2 => MouseEventKind::ScrollLeft,
            _ => MouseEventKind::ScrollRight,
        }
    } else if b & 32 != 0 {
        if b & 3 == 3 {
            MouseEventKind::Moved
        } else {
            MouseEventKind::Drag(button)
        }
    } else if last == b'm' {
        MouseEventKind::Up(button)
    } else if last == b'M' {
        MouseEventKind::Down(button)
    } else {
        return None;
    };
    Some(Event::Mouse(MouseEvent {
        kind,
        column: x.saturating_sub(1),
        row: y.saturating_sub(1),
        modifiers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<(KeyCode, KeyModifiers)> {
        InputParser::new()
            .feed(bytes)
            .into_iter()
            .map(|e| match e {
                Event::Key(k) => (k.code, k.modifiers),
                other => panic!("not a key: {other:?}"),
            })
            .collect()
    }

    const NONE: KeyModifiers = KeyModifiers::NONE;
    const CTRL: KeyModifiers = KeyModifiers::CONTROL;

    #[test]
    fn printable_text_and_utf8_are_characters() {
        assert_eq!(
            keys("hé€Q".as_bytes()),
            vec![
                (KeyCode::Char('h'), NONE),
                (KeyCode::Char('é'), NONE),
                (KeyCode::Char('€'), NONE),
                (KeyCode::Char('Q'), KeyModifiers::SHIFT),
            ]
        );
    }

    #[test]
    fn control_bytes_are_the_keys_crossterm_reports() {
        assert_eq!(
            keys(b"\r\t\x7f\x03\x17"),
            vec![
                (KeyCode::Enter, NONE),
                (KeyCode::Tab, NONE),
                (KeyCode::Backspace, NONE),
                (KeyCode::Char('c'), CTRL),
                (KeyCode::Char('w'), CTRL),
            ]
        );
    }

    #[test]
    fn lone_escape_at_the_end_of_a_chunk_is_the_esc_key() {
        assert_eq!(keys(b"\x1b"), vec![(KeyCode::Esc, NONE)]);
        assert_eq!(
            keys(b"\x1bx"),
            vec![(KeyCode::Char('x'), KeyModifiers::ALT)]
        );
    }

    #[test]
    fn cursor_editing_and_function_keys() {
        assert_eq!(
            keys(b"\x1b[A\x1bOB\x1b[1;5C\x1b[3~\x1b[6~\x1bOP\x1b[15~\x1b[24~\x1b[Z\x1b[H"),
            vec![
                (KeyCode::Up, NONE),
                (KeyCode::Down, NONE),
                (KeyCode::Right, CTRL),
                (KeyCode::Delete, NONE),
                (KeyCode::PageDown, NONE),
                (KeyCode::F(1), NONE),
                (KeyCode::F(5), NONE),
                (KeyCode::F(12), NONE),
                (KeyCode::BackTab, KeyModifiers::SHIFT),
                (KeyCode::Home, NONE),
            ]
        );
    }

    #[test]
    fn a_sequence_split_across_chunks_is_kept_until_whole() {
        let mut parser = InputParser::new();
        assert!(parser.feed(b"\x1b[1;").is_empty());
        let events = parser.feed(b"5D");
        assert_eq!(events, vec![key(KeyCode::Left, CTRL)]);
        assert!(parser.feed("\u{e9}".as_bytes()[..1].as_ref()).is_empty());
        assert_eq!(
            parser.feed(&"\u{e9}".as_bytes()[1..]),
            vec![key(KeyCode::Char('é'), NONE)]
        );
    }

    #[test]
    fn sgr_mouse_reports_are_mouse_events() {
        let events = InputParser::new().feed(b"\x1b[<0;10;3M\x1b[<0;10;3m\x1b[<65;1;1M");
        assert_eq!(
            events,
            vec![
                Event::Mouse(MouseEvent {
                    kind: MouseEventKind::Down(MouseButton::Left),
                    column: 9,
                    row: 2,
                    modifiers: NONE,
                }),
                Event::Mouse(MouseEvent {
                    kind: MouseEventKind::Up(MouseButton::Left),
                    column: 9,
                    row: 2,
                    modifiers: NONE,
                }),
                Event::Mouse(MouseEvent {
                    kind: MouseEventKind::ScrollDown,
                    column: 0,
                    row: 0,
                    modifiers: NONE,
                }),
            ]
        );
    }

    #[test]
    fn garbage_never_panics_and_does_not_stall_what_follows() {
        let mut parser = InputParser::new();
        let events = parser.feed(b"\xff\xfe\x1b[\x01\x1b[<;;M\x1b[99~a");
        assert_eq!(events.last(), Some(&key(KeyCode::Char('a'), NONE)));
        // Every byte value, in every position, at least terminates.
        for b in 0..=255u8 {
            let mut parser = InputParser::new();
            parser.feed(&[0x1b, b'[', b, b'x', 0x1b, b, b]);
            parser.feed(&[b; 100]);
            assert!(parser.pending.len() <= MAX_PENDING);
        }
    }
}
