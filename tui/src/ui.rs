//! Drawing: turns an [`App`] into cells, and nothing else.
//!
//! The screen is a tab bar (top line), the current tab's body, and a
//! one-line status bar (bottom line); the help popup is drawn over the body
//! when open. Drawing reads the state and never changes it, so any state can
//! be rendered into a `TestBackend` and snapshotted. Each tab draws its own
//! body ([`crate::Tab::render`]); nothing here knows which tabs exist.
//!
//! Colours: only the 16 basic ANSI colours plus bold/reverse, so the screen
//! reads the same over SSH and on terminals with 256 colours or fewer;
//! `palette.rs` folds them onto 8 colours, or none, after drawing, for
//! terminals that need it.
//!
//! Below [`MIN_WIDTH`] x [`MIN_HEIGHT`] cells the layout cannot work, so the
//! whole screen says so instead ("terminal too small: …").

use std::time::Duration;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Widget};

use crate::app::{App, Connection, Overlay};
use crate::layout::{MIN_HEIGHT, MIN_WIDTH, body_inner, fits, rows};
use crate::signin::view as signin;

/// Draws the whole screen for `app` into `frame`, and puts the terminal
/// cursor where the current tab wants it (its input line), if anywhere.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(app, area);
    if !fits(area) {
        return;
    }
    let at = match (app.overlay(), app.signin()) {
        (Overlay::SignIn, Some(form)) => signin::cursor(form, area),
        (Overlay::None, _) => {
            let inner = body_inner(area);
            app.current().cursor(inner)
        }
        _ => None,
    };
    if let Some(at) = at {
        frame.set_cursor_position(at);
    }
}

/// Global keys and what they do, for the help popup. Tabs that type text
/// (an input line) keep some keys for typing; the notes name them.
fn global_keys(app: &App) -> Vec<(String, String)> {
    let typing: Vec<&str> = app
        .tabs()
        .filter(|t| t.types_text())
        .map(|t| t.title())
        .collect();
    let typing = typing.join("/");
    let n = app.tabs().count();
    let note = |text: &str| {
        if typing.is_empty() {
            String::new()
        } else {
            format!(" ({typing}: {text})")
        }
    };
    vec![
        (
            "Tab/S-Tab, →/←".into(),
            format!("next / previous tab{}", note("on an empty line")),
        ),
        (
            format!("1-{n}, Alt-1-{n}"),
            format!("go to tab 1 to {n}{}", note("Alt only")),
        ),
        (
            "?, F1, Esc".into(),
            format!("show / close this help{}", note("F1")),
        ),
        (
            "q".into(),
            if typing.is_empty() {
                "quit".into()
            } else {
                format!("quit (not in {typing}, where q is typed)")
            },
        ),
        ("F2".into(), "sign in or register".into()),
        ("Ctrl-C".into(), "quit, from anywhere".into()),
    ]
}

/// Width of the key column in the help popup.
const KEY_COLUMN: usize = 17;

fn border_style() -> Style {
    Style::new().fg(Color::DarkGray)
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if !fits(area) {
            render_too_small(area, buf);
            return;
        }
        let [tabs, body, status] = rows(area);
        render_tab_bar(self, tabs, buf);
        render_body(self, body, buf);
        render_status_bar(self, status, buf);
        match (self.overlay(), self.signin()) {
            (Overlay::Help, _) => render_help(self, body, buf),
            (Overlay::SignIn, Some(form)) => signin::render(form, self.addr(), area, buf),
            _ => {}
        }
    }
}

/// The whole screen on a terminal too small for the layout: what it is and
/// what it needs, centred, wrapped if need be.
fn render_too_small(area: Rect, buf: &mut Buffer) {
    let lines = [
        format!(
            "terminal too small: {}×{}, needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        ),
        "(Ctrl-C quits)".to_string(),
    ];
    let width = usize::from(area.width.max(1));
    let rows: usize = lines
        .iter()
        .map(|l| l.chars().count().div_ceil(width))
        .sum();
    let text = Text::from(lines.map(Line::from).to_vec());
    let height = (rows as u16).min(area.height);
    let at = area.centered_vertically(Constraint::Length(height));
    Paragraph::new(text)
        .centered()
        .wrap(ratatui::widgets::Wrap { trim: true })
        .style(Style::new().fg(Color::Yellow))
        .render(at, buf);
}

fn render_tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let brand = crate::layout::BRAND;
    let [brand_area, tabs_area] =
        Layout::horizontal([Constraint::Length(brand.len() as u16), Constraint::Fill(1)])
            .areas(area);
    Span::styled(brand, Style::new().fg(Color::Cyan).bold()).render(brand_area, buf);
    // The titles' positions are `layout::tab_at`'s, which the mouse uses.
    Tabs::new(app.tab_titles())
        .select(app.tab().index())
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD))
        .divider(Span::styled("│", border_style()))
        .render(tabs_area, buf);
}

fn render_body(app: &App, area: Rect, buf: &mut Buffer) {
    let tab = app.current();
    let block = Block::bordered()
        .border_style(border_style())
        .title(Line::from(format!(" {} ", tab.title())).bold());
    let inner = block.inner(area);
    block.render(area, buf);
    tab.render(inner, buf);
}

fn render_status_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let separator = || Span::styled(" │ ", border_style());
    let user = match app.user() {
        Some(name) => Span::raw(name.to_string()),
        None => Span::styled("not signed in (F2)", Style::new().fg(Color::DarkGray)),
    };
    let (state, colour) = connection_text(app.connection());
    let mut left = vec![
        Span::raw(" "),
        Span::raw(app.addr().to_string()),
        separator(),
        user,
    ];
    if let Some(orgs) = orgs_text(app.orgs()) {
        left.push(Span::styled(
            format!(" ({orgs})"),
            Style::new().fg(Color::Cyan),
        ));
    }
    left.extend([separator(), Span::styled(state, Style::new().fg(colour))]);
    let left = Line::from(left);

    // Right, in order: the RESP address (with `agora up`), the round trip,
    // the help hint. On a narrow screen the RESP address goes first, then
    // the hint: the connection state (and its error) matters more.
    let help = if app.current().types_text() {
        "F1 help"
    } else {
        "? help"
    };
    let mut parts: Vec<(u8, Span)> = Vec::new();
    if let Some(resp) = app.resp() {
        parts.push((
            2,
            Span::raw(format!("RESP {}", short_resp(app.addr(), resp))),
        ));
    }
    if let Connection::Connected {
        latency: Some(rtt), ..
    } = app.connection()
    {
        parts.push((0, Span::raw(format!("rtt {}", latency_text(*rtt)))));
    }
    parts.push((1, Span::styled(help, Style::new().fg(Color::DarkGray))));
    let joined = |parts: &[(u8, Span<'static>)]| {
        let mut spans = Vec::new();
        for (i, (_, span)) in parts.iter().enumerate() {
            if i > 0 {
                spans.push(separator());
            }
            spans.push(span.clone());
        }
        spans.push(Span::raw(" "));
        Line::from(spans)
    };
    while left.width() + joined(&parts).width() > usize::from(area.width) {
        let Some(least) = parts.iter().map(|(p, _)| *p).filter(|p| *p > 0).max() else {
            break;
        };
        parts.retain(|(p, _)| *p != least);
    }
    let right = joined(&parts);

    let [left_area, right_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right.width() as u16),
    ])
    .areas(area);
    left.render(left_area, buf);
    right.render(right_area, buf);
}

/// The user's organizations as the status bar shows them, after their
/// name: the first by slug with the role, and how many more (`acme owner`,
/// `acme owner +2`); `None` for none.
pub(crate) fn orgs_text(orgs: &[agora_wire::OrgRole]) -> Option<String> {
    let first = orgs.first()?;
    let more = match orgs.len() - 1 {
        0 => String::new(),
        n => format!(" +{n}"),
    };
    Some(format!("{} {}{more}", first.slug, first.role))
}

/// The RESP address as the status bar shows it: `:6379` when on the
/// daemon's host, the whole address otherwise.
fn short_resp<'a>(addr: &str, resp: &'a str) -> &'a str {
    let host = |a: &str| a.rsplit_once(':').map(|(h, _)| h.to_owned());
    match (host(addr), resp.rsplit_once(':')) {
        (Some(daemon), Some((h, _))) if daemon == h => &resp[h.len()..],
        _ => resp,
    }
}

/// What a Redis client types to reach the RESP listener at `resp`:
/// `redis-cli -p 6379`, with `-h HOST` unless it is this machine.
pub(crate) fn redis_cli(resp: &str) -> String {
    let Some((host, port)) = resp.rsplit_once(':') else {
        return format!("redis-cli -h {resp}");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host {
        "127.0.0.1" | "localhost" | "::1" | "0.0.0.0" | "::" => format!("redis-cli -p {port}"),
        _ => format!("redis-cli -h {host} -p {port}"),
    }
}

/// The connection state in words, and the colour to show it in.
pub(crate) fn connection_text(connection: &Connection) -> (String, Color) {
    match connection {
        Connection::Connecting => ("connecting…".to_string(), Color::Yellow),
        Connection::Connected { .. } => ("connected".to_string(), Color::Green),
        Connection::Reconnecting {
            attempt,
            retry_in,
            last_error,
        } => {
            let when = if retry_in.is_zero() {
                "now".to_string()
            } else {
                format!("in {}s", ceil_secs(*retry_in))
            };
            (
                format!("reconnecting {when} (attempt {attempt}): {last_error}"),
                Color::Red,
            )
        }
    }
}

/// Whole seconds, rounded up, so a countdown never shows "in 0s" while it
/// is still waiting.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A round trip in milliseconds: `"12 ms"`, or `"<1 ms"` on a fast link.
pub(crate) fn latency_text(rtt: Duration) -> String {
    if rtt < Duration::from_millis(1) {
        "<1 ms".to_string()
    } else {
        format!("{} ms", rtt.as_millis())
    }
}

fn render_help(app: &App, over: Rect, buf: &mut Buffer) {
    let key_line = |keys: &str, what: &str| {
        Line::from(vec![
            Span::styled(
                format!("  {keys:<KEY_COLUMN$}"),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(what.to_string()),
        ])
    };
    let tab = app.current();
    let mut lines = vec![Line::from("Global keys").bold()];
    lines.extend(global_keys(app).iter().map(|(k, w)| key_line(k, w)));
    lines.push(Line::default());
    lines.push(Line::from(format!("{} tab", tab.title())).bold());
    if tab.keys().is_empty() {
        lines.push(Line::from("  No keys of its own yet.").fg(Color::DarkGray));
    } else {
        lines.extend(tab.keys().iter().map(|(k, w)| key_line(k, w)));
    }
    if let Some(resp) = app.resp() {
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw("Redis clients: ").bold(),
            Span::styled(redis_cli(resp), Style::new().fg(Color::Cyan)),
        ]));
    }

    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let height = lines.len() as u16 + 2;
    let popup = over.centered(Constraint::Length(width), Constraint::Length(height));
    Clear.render(popup, buf);
    let block = Block::bordered()
        .border_style(Style::new().fg(Color::Cyan))
        .title(Line::from(" Help ").bold())
        .title_bottom(Line::from(" ? or Esc to close ").right_aligned());
    let inner = block.inner(popup).inner(ratatui::layout::Margin::new(1, 0));
    block.render(popup, buf);
    Paragraph::new(Text::from(lines)).render(inner, buf);
}

#[cfg(test)]
mod tests;
