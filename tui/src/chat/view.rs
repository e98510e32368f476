//! Drawing the Chat tab, as `impl Widget for &ChatState`: the parts
//! placed by [`super::layout`], the transcript from [`super::lines`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::layout::areas;
use super::lines::{dim, lines, nick_colour};
use super::{ChatState, Level, View};
use agora_wire::chat::{Presence, Status};

/// The prompt before the input text.
const PROMPT: &str = "> ";

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
        Some(room) => format!(
            " Members {}",
            room.total.map_or(people.len(), |t| t as usize)
        ),
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
    if state.help_shown() {
        Line::from(vec![
            Span::styled("Slash commands", Style::new().fg(Color::Cyan).bold()),
            Span::styled(" — Esc closes", dim()),
        ])
        .render(area, buf);
        return;
    }
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

    #[test]
    fn truncate_adds_an_ellipsis() {
        assert_eq!(truncate("general-chat", 8), "general…");
        assert_eq!(truncate("dev", 8), "dev");
    }
}
