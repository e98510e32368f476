//! Drawing the Chat tab, as `impl Widget for &ChatState`.
//!
//! Inside the tab body: the room list on the left, the topic line and the
//! messages in the centre, the members on the right (hidden when the body
//! is narrower than 70 cells), then a status line and the input line
//! across the bottom. Messages are wrapped here (continuation lines
//! indented under the text), and the same wrapping tells the state how
//! many lines a view has, so scrolling and drawing agree.
//!
//! Colours are the 16 basic ones only: nick colours come from a hash of
//! the nick into 12 of them, leaving out black, white and the greys so a
//! nick never disappears into the background.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Margin, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{ChatState, Level, Room, View};
use agora_wire::chat::{ChatMessage, DirectMessage, Presence, Status};

/// Width of the room list and of the member list, borders included.
const SIDE: u16 = 15;
/// Continuation lines start under the text, after `HH:MM `.
const INDENT: usize = 6;
/// The prompt before the input text.
const PROMPT: &str = "> ";

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

/// Where each part of the tab goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Areas {
    rooms: Option<Rect>,
    topic: Rect,
    messages: Rect,
    members: Option<Rect>,
    status: Rect,
    input: Rect,
}

/// Splits the tab body's inner area.
pub(crate) fn areas(inner: Rect) -> Areas {
    let [main, status, input] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let rooms_width = if main.width >= 40 { SIDE } else { 0 };
    let members_width = if main.width >= 70 { SIDE } else { 0 };
    let [rooms, centre, members] = Layout::horizontal([
        Constraint::Length(rooms_width),
        Constraint::Fill(1),
        Constraint::Length(members_width),
    ])
    .areas(main);
    let centre = centre.inner(Margin::new(1, 0));
    let [topic, messages] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(centre);
    Areas {
        rooms: (rooms_width > 0).then_some(rooms),
        topic,
        messages,
        members: (members_width > 0).then_some(members),
        status,
        input,
    }
}

/// The messages area's (width, height) on a `width` x `height` screen.
pub(crate) fn viewport(width: u16, height: u16) -> (u16, u16) {
    let a = areas(crate::ui::body_inner(Rect::new(0, 0, width, height)));
    (a.messages.width, a.messages.height)
}

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

fn dim() -> Style {
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

impl Widget for &ChatState {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let a = areas(area);
        if let Some(rooms) = a.rooms {
            render_rooms(self, rooms, buf);
        }
        if let Some(members) = a.members {
            render_members(self, members, buf);
        }
        render_topic(self, a.topic, buf);
        render_messages(self, a.messages, buf);
        render_status(self, a.status, buf);
        render_input(self, a.input, buf);
    }
}

fn render_rooms(state: &ChatState, area: Rect, buf: &mut Buffer) {
    let block = Block::new().borders(Borders::RIGHT).border_style(dim());
    let inner = block.inner(area);
    block.render(area, buf);
    let width = usize::from(inner.width);
    let mut rows: Vec<Line> = Vec::new();
    let entry = |label: String, count: String, style: Style, selected: bool| {
        let room_for_label = width.saturating_sub(count.width() + 2);
        let label = truncate(&label, room_for_label);
        let gap = width.saturating_sub(label.width() + count.width() + 2);
        let mut style = style;
        if selected {
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        Line::styled(format!(" {label}{}{count} ", " ".repeat(gap)), style)
    };
    for room in state.rooms().values() {
        let selected = *state.view() == View::Room(room.name.clone());
        let (count, style) = match (room.unread, room.mentioned) {
            (0, _) => (String::new(), Style::new()),
            (n, true) => (format!("!{n}"), Style::new().fg(Color::Yellow).bold()),
            (n, false) => (n.to_string(), Style::new().bold()),
        };
        rows.push(entry(format!("#{}", room.name), count, style, selected));
    }
    if !state.rooms().is_empty() {
        rows.push(Line::default());
    }
    let (count, style) = match state.dm_unread() {
        0 => (String::new(), Style::new().fg(Color::Magenta)),
        n => (n.to_string(), Style::new().fg(Color::Magenta).bold()),
    };
    rows.push(entry(
        "DMs".into(),
        count,
        style,
        *state.view() == View::Dms,
    ));
    Paragraph::new(rows).render(inner, buf);
}

/// Cuts `text` to at most `width` cells, ending in `…` when cut.
fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The presence marker and its colour.
fn marker(status: Status) -> (&'static str, Color) {
    match status {
        Status::Online => ("●", Color::Green),
        Status::Away => ("◐", Color::Yellow),
        Status::Offline => ("○", Color::DarkGray),
    }
}

fn render_members(state: &ChatState, area: Rect, buf: &mut Buffer) {
    let block = Block::new().borders(Borders::LEFT).border_style(dim());
    let inner = block.inner(area);
    block.render(area, buf);
    let mut people: Vec<&Presence> = match state.current_room() {
        Some(room) => room.members.values().collect(),
        None => state.everyone().iter().collect(),
    };
    let rank = |s: Status| match s {
        Status::Online => 0,
        Status::Away => 1,
        Status::Offline => 2,
    };
    people.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then_with(|| a.user.cmp(&b.user))
    });
    let title = match state.current_room() {
        Some(_) => format!(" Members {}", people.len()),
        None => format!(" People {}", people.len()),
    };
    let width = usize::from(inner.width).saturating_sub(3);
    let mut rows = vec![Line::styled(title, dim().bold())];
    for p in people {
        let (mark, colour) = marker(p.status);
        let name_style = match p.status {
            Status::Offline => dim(),
            _ => Style::new().fg(nick_colour(&p.user)),
        };
        rows.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(mark, Style::new().fg(colour)),
            Span::raw(" "),
            Span::styled(truncate(&p.user, width), name_style),
        ]));
    }
    Paragraph::new(rows).render(inner, buf);
}

fn render_topic(state: &ChatState, area: Rect, buf: &mut Buffer) {
    let line = match state.current_room() {
        Some(room) => {
            let mut spans = vec![Span::styled(
                format!("#{}", room.name),
                Style::new().fg(Color::Cyan).bold(),
            )];
            if room.topic.is_empty() {
                spans.push(Span::styled(" — no topic (/topic TEXT)", dim()));
            } else {
                spans.push(Span::raw(format!(" — {}", room.topic)));
            }
            Line::from(spans)
        }
        None => {
            let hint = match state.dm_partner() {
                Some(who) => format!(" — Enter replies to {who}"),
                None => " — /msg USER TEXT starts one".into(),
            };
            Line::from(vec![
                Span::styled("Private messages", Style::new().fg(Color::Magenta).bold()),
                Span::styled(hint, dim()),
            ])
        }
    };
    line.render(area, buf);
}

fn render_messages(state: &ChatState, area: Rect, buf: &mut Buffer) {
    let all = lines(state, area.width);
    let scroll = state.current_room().map_or(state.dm_scroll(), |r| r.scroll);
    let rows = usize::from(area.height);
    let end = all
        .len()
        .saturating_sub(scroll.min(all.len().saturating_sub(rows)));
    let start = end.saturating_sub(rows);
    Paragraph::new(all[start..end].to_vec()).render(area, buf);
}

fn render_status(state: &ChatState, area: Rect, buf: &mut Buffer) {
    let line = match state.notice() {
        Some(notice) => {
            let (mark, style) = match notice.level {
                Level::Error => ("✗ ", Style::new().fg(Color::Red).bold()),
                Level::Info => ("· ", Style::new().fg(Color::Cyan)),
            };
            Line::from(vec![
                Span::styled(format!(" {mark}"), style),
                Span::styled(notice.text.clone(), style.remove_modifier(Modifier::BOLD)),
            ])
        }
        None => {
            let scrolled = state.current_room().map_or(state.dm_scroll(), |r| r.scroll) > 0;
            let hint = if !state.is_online() {
                " offline: nothing can be sent until reconnected ".to_string()
            } else if scrolled {
                " scrolled up: PageDown for newer ".to_string()
            } else {
                " Enter send · Tab complete · PgUp older · Ctrl-N/P rooms · F1 help ".to_string()
            };
            let rule = "─".repeat(usize::from(area.width).saturating_sub(hint.width() + 1));
            let style = if state.is_online() {
                dim()
            } else {
                Style::new().fg(Color::Yellow)
            };
            Line::from(vec![
                Span::styled("─", dim()),
                Span::styled(hint, style),
                Span::styled(rule, dim()),
            ])
        }
    };
    line.render(area, buf);
}

/// The first visible input column: the text scrolls left so the cursor
/// always shows.
fn input_offset(state: &ChatState, area: Rect) -> usize {
    let room = usize::from(area.width).saturating_sub(PROMPT.len() + 1);
    state.input().cursor_column().saturating_sub(room)
}

fn render_input(state: &ChatState, area: Rect, buf: &mut Buffer) {
    let offset = input_offset(state, area);
    let mut col = 0;
    let visible: String = state
        .input()
        .text()
        .chars()
        .filter(|c| {
            let keep = col >= offset;
            col += c.width().unwrap_or(0);
            keep
        })
        .collect();
    Line::from(vec![
        Span::styled(PROMPT, Style::new().fg(Color::Cyan).bold()),
        Span::raw(visible),
    ])
    .render(area, buf);
}

/// Where the terminal cursor goes: in the input line, inside `inner`.
pub(crate) fn cursor(state: &ChatState, inner: Rect) -> Position {
    let input = areas(inner).input;
    let col = state.input().cursor_column() - input_offset(state, input);
    let x = input.x.saturating_add((PROMPT.len() + col) as u16);
    Position::new(x.min(input.right().saturating_sub(1)), input.y)
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
        assert_eq!(truncate("general-chat", 8), "general…");
        assert_eq!(truncate("dev", 8), "dev");
    }
}
