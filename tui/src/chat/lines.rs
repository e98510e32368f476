//! The Chat tab's transcript as styled lines: messages and private
//! messages formatted (`HH:MM nick: text`, `* nick action`), word-wrapped
//! at a width with continuation lines indented under the text. The drawing
//! shows these lines; the state counts them, so scrolling and drawing
//! agree without the state calling drawing code.
//!
//! Colours are the 16 basic ones only: nick colours come from a hash of
//! the nick into 12 of them, leaving out black, white and the greys so a
//! nick never disappears into the background.

use agora_wire::chat::{ChatMessage, DirectMessage};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{ChatState, Room};

/// Continuation lines start under the text, after `HH:MM `.
const INDENT: usize = 6;

/// Nick colours: the basic colours that read on dark and light
/// backgrounds alike.
const NICK_COLOURS: [Color; 12] = [
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightCyan,
];

/// A nick's colour: stable across runs and machines (FNV-1a, not the
/// std hasher, whose output may change between Rust versions).
pub(crate) fn nick_colour(nick: &str) -> Color {
    let hash = nick.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    NICK_COLOURS[hash as usize % NICK_COLOURS.len()]
}

/// `HH:MM` (UTC) of a server timestamp.
pub(crate) fn clock(ts_ms: u64) -> String {
    let minutes = ts_ms / 60_000 % (24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub(crate) fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn message_spans(msg: &ChatMessage, mention: bool) -> Vec<Span<'static>> {
    let time = Span::styled(format!("{} ", clock(msg.ts_ms)), dim());
    let nick = Style::new().fg(nick_colour(&msg.from)).bold();
    let mut text = if mention {
        Style::new().fg(Color::Yellow).bold()
    } else {
        Style::new()
    };
    if msg.action {
        text = text.italic();
        vec![
            time,
            Span::styled(format!("* {}", msg.from), nick),
            Span::raw(" "),
            Span::styled(msg.text.clone(), text),
        ]
    } else {
        vec![
            time,
            Span::styled(msg.from.clone(), nick),
            Span::raw(": "),
            Span::styled(msg.text.clone(), text),
        ]
    }
}

fn dm_spans(dm: &DirectMessage) -> Vec<Span<'static>> {
    let nick = |n: &str| Span::styled(n.to_string(), Style::new().fg(nick_colour(n)).bold());
    let mut spans = vec![Span::styled(format!("{} ", clock(dm.ts_ms)), dim())];
    if dm.action {
        spans.extend([
            Span::styled("* ", Style::new().fg(nick_colour(&dm.from)).bold()),
            nick(&dm.from),
            Span::styled(" → ", dim()),
            nick(&dm.to),
            Span::raw(" "),
            Span::styled(dm.text.clone(), Style::new().italic()),
        ]);
    } else {
        spans.extend([
            nick(&dm.from),
            Span::styled(" → ", dim()),
            nick(&dm.to),
            Span::raw(": "),
            Span::raw(dm.text.clone()),
        ]);
    }
    spans
}

/// How many lines `msg` takes at `width`.
pub(crate) fn message_height(msg: &ChatMessage, width: u16) -> usize {
    wrap(message_spans(msg, false), usize::from(width), INDENT).len()
}

/// Every line of the current view, oldest first.
pub(crate) fn lines(state: &ChatState, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    if state.help_shown() {
        return help_lines(width);
    }
    match state.current_room() {
        Some(room) => room_lines(state, room, width),
        None if state.dms().is_empty() => {
            let help = [
                "No private messages yet.",
                "",
                "/join ROOM joins (or creates) a room.",
                "/msg USER TEXT writes to someone.",
                "Ctrl-N / Ctrl-P switch rooms; F1 shows every key.",
            ];
            help.iter()
                .flat_map(|t| wrap(vec![Span::styled(*t, dim())], width, 0))
                .collect()
        }
        None => state
            .dms()
            .values()
            .flat_map(|dm| wrap(dm_spans(dm), width, INDENT))
            .collect(),
    }
}

/// `/help`: one line per command, usage then summary; then how to get
/// out and how to learn more.
fn help_lines(width: usize) -> Vec<Line<'static>> {
    let usage = Style::new().fg(Color::Cyan);
    let mut lines: Vec<Line<'static>> = super::command::help_lines()
        .into_iter()
        .flat_map(|line| {
            let (name, summary) = line.split_at(super::command::USAGE_COLUMN);
            let spans = vec![
                Span::styled(name.to_string(), usage),
                Span::raw(summary.to_string()),
            ];
            wrap(spans, width, super::command::USAGE_COLUMN)
        })
        .collect();
    for note in [
        "",
        "/help COMMAND explains one.",
        "A line starting // sends a literal /.",
        "Esc closes this list.",
    ] {
        lines.extend(wrap(vec![Span::styled(note, dim())], width, 0));
    }
    lines
}

fn room_lines(state: &ChatState, room: &Room, width: usize) -> Vec<Line<'static>> {
    let header = if room.loading_older {
        "loading older messages…".to_string()
    } else if room.syncing && room.messages.is_empty() {
        "loading…".to_string()
    } else if room.more_older {
        "PageUp for older messages".to_string()
    } else {
        format!("start of #{}", room.name)
    };
    let mut lines = vec![Line::styled(format!("── {header} ──"), dim())];
    for msg in room.messages.values() {
        let mention = Some(msg.from.as_str()) != state.me() && state.mentions_me(&msg.text);
        lines.extend(wrap(message_spans(msg, mention), width, INDENT));
    }
    lines
}

/// How many lines the current view has at `width`.
pub(crate) fn line_count(state: &ChatState, width: u16) -> usize {
    lines(state, width).len()
}

/// Word-wraps `spans` into lines at most `width` cells wide; lines after
/// the first start with `indent` spaces. Words longer than a line are cut.
fn wrap(spans: Vec<Span<'static>>, width: usize, indent: usize) -> Vec<Line<'static>> {
    if width <= indent + 1 {
        return vec![Line::from(spans)];
    }
    let mut lines = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut col = 0;
    let push = |current: &mut Vec<Span<'static>>, text: &str, style: Style| match current.last_mut()
    {
        Some(last) if last.style == style => last.content.to_mut().push_str(text),
        _ => current.push(Span::styled(text.to_string(), style)),
    };
    let mut newline = |current: &mut Vec<Span<'static>>, col: &mut usize| {
        if let Some(last) = current.last_mut() {
            let kept = last.content.trim_end().len();
            last.content.to_mut().truncate(kept);
        }
        lines.push(Line::from(std::mem::take(current)));
        current.push(Span::raw(" ".repeat(indent)));
        *col = indent;
    };
    for span in spans {
        let style = span.style;
        for token in tokens(&span.content) {
            let w = token.width();
            if col + w <= width {
                push(&mut current, token, style);
                col += w;
            } else if token.starts_with(char::is_whitespace) {
                newline(&mut current, &mut col);
            } else if w <= width - indent {
                newline(&mut current, &mut col);
                push(&mut current, token, style);
                col += w;
            } else {
                for c in token.chars() {
                    let cw = c.width().unwrap_or(0);
                    if col + cw > width {
                        newline(&mut current, &mut col);
                    }
                    let mut buf = [0; 4];
                    push(&mut current, c.encode_utf8(&mut buf), style);
                    col += cw;
                }
            }
        }
    }
    lines.push(Line::from(current));
    lines
}

/// Splits text into runs of whitespace and runs of anything else.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_ws = None;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if last_ws.is_some_and(|l| l != ws) {
            out.push(&text[start..i]);
            start = i;
        }
        last_ws = Some(ws);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wrap_breaks_at_spaces_and_indents() {
        let spans = vec![
            Span::raw("12:00 "),
            Span::raw("bob: the quick brown fox jumps"),
        ];
        let lines = wrap(spans, 20, INDENT);
        assert_eq!(
            text(&lines),
            ["12:00 bob: the quick", "      brown fox", "      jumps"]
        );
        for line in &lines {
            assert!(line.width() <= 20);
        }
    }

    #[test]
    fn wrap_cuts_words_longer_than_a_line() {
        let lines = wrap(vec![Span::raw("x".repeat(25))], 10, 2);
        assert_eq!(text(&lines), ["xxxxxxxxxx", "  xxxxxxxx", "  xxxxxxx"]);
        assert!(
            wrap(vec![Span::raw("日本語")], 3, 0)
                .iter()
                .all(|l| l.width() <= 3)
        );
    }

    #[test]
    fn nick_colours_are_stable_and_never_grey() {
        assert_eq!(nick_colour("alice"), nick_colour("alice"));
        let seen: std::collections::HashSet<_> =
            (0..50).map(|i| nick_colour(&format!("user{i}"))).collect();
        assert!(seen.len() > 6, "{seen:?}");
        for c in seen {
            assert!(!matches!(
                c,
                Color::Black | Color::White | Color::Gray | Color::DarkGray | Color::Reset
            ));
        }
    }

    #[test]
    fn clock_is_utc_hours_and_minutes() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(1_700_000_000_000), "22:13");
    }
}
