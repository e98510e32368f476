//! Drawing: turns an [`App`] into cells, and nothing else.
//!
//! The screen is a tab bar (top line), the current tab's body, and a
//! one-line status bar (bottom line); the help popup is drawn over the body
//! when open. Drawing reads the state and never changes it, so any state can
//! be rendered into a `TestBackend` and snapshotted.
//!
//! Colours: only the 16 basic ANSI colours plus bold/reverse, so the screen
//! reads the same over SSH and on terminals with 256 colours or fewer.

use std::time::Duration;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Widget, Wrap};

use crate::app::{App, Connection, Overlay, Tab};

/// Draws the whole screen for `app` into `frame`.
pub fn render(app: &App, frame: &mut Frame) {
    frame.render_widget(app, frame.area());
}

/// Global keys and what they do, for the help popup.
const GLOBAL_KEYS: [(&str, &str); 6] = [
    ("Tab, Right", "next tab"),
    ("Shift-Tab, Left", "previous tab"),
    ("1-5", "go to tab 1 to 5"),
    ("?", "show or hide this help"),
    ("Esc", "close this help"),
    ("q, Ctrl-C", "quit"),
];

/// Width of the key column in the help popup.
const KEY_COLUMN: usize = 17;

fn border_style() -> Style {
    Style::new().fg(Color::DarkGray)
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [tabs, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        render_tab_bar(self, tabs, buf);
        render_body(self, body, buf);
        render_status_bar(self, status, buf);
        if self.overlay() == Overlay::Help {
            render_help(self.tab(), body, buf);
        }
    }
}

fn render_tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let brand = " agora ";
    let [brand_area, tabs_area] =
        Layout::horizontal([Constraint::Length(brand.len() as u16), Constraint::Fill(1)])
            .areas(area);
    Span::styled(brand, Style::new().fg(Color::Cyan).bold()).render(brand_area, buf);
    let titles = Tab::ALL
        .iter()
        .map(|tab| format!("{} {}", tab.index() + 1, tab.title()));
    Tabs::new(titles)
        .select(app.tab().index())
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD))
        .divider(Span::styled("│", border_style()))
        .render(tabs_area, buf);
}

fn render_body(app: &App, area: Rect, buf: &mut Buffer) {
    let tab = app.tab();
    let block = Block::bordered()
        .border_style(border_style())
        .title(Line::from(format!(" {} ", tab.title())).bold());
    let inner = block.inner(area);
    block.render(area, buf);

    let mut lines = vec![Line::default(), Line::from(unavailable_message(tab))];
    if tab == Tab::Dashboard {
        lines.push(Line::default());
        lines.push(Line::from("Recent sessions").bold());
        let before = lines.len();
        lines.extend(app.recent_sessions().map(|s| Line::from(s.to_string())));
        if lines.len() == before {
            lines.push(Line::from("none seen since connecting").fg(Color::DarkGray));
        }
    }
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: true })
        .centered()
        .render(inner, buf);
}

/// What a tab says until its service exists.
pub(crate) fn unavailable_message(tab: Tab) -> String {
    format!(
        "{} is not available yet: the {} arrives in a later release.",
        tab.title(),
        tab.service()
    )
}

fn render_status_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let separator = || Span::styled(" │ ", border_style());
    let user = match app.user() {
        Some(name) => Span::raw(name.to_string()),
        None => Span::styled("not signed in", Style::new().fg(Color::DarkGray)),
    };
    let (state, colour) = connection_text(app.connection());
    let left = Line::from(vec![
        Span::raw(" "),
        Span::raw(app.addr().to_string()),
        separator(),
        user,
        separator(),
        Span::styled(state, Style::new().fg(colour)),
    ]);

    let mut right = Vec::new();
    if let Connection::Connected {
        latency: Some(rtt), ..
    } = app.connection()
    {
        right.push(Span::raw(format!("rtt {}", latency_text(*rtt))));
        right.push(separator());
    }
    // The hint is the first thing to go on a narrow screen: the connection
    // state (and its error) matters more.
    let hint = Span::styled("? help ", Style::new().fg(Color::DarkGray));
    let fits = left.width() + Line::from(right.clone()).width() + hint.width();
    if fits <= usize::from(area.width) {
        right.push(hint);
    } else if right.pop().is_some() {
        right.push(Span::raw(" "));
    }
    let right = Line::from(right);

    let [left_area, right_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right.width() as u16),
    ])
    .areas(area);
    left.render(left_area, buf);
    right.render(right_area, buf);
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

fn render_help(tab: Tab, over: Rect, buf: &mut Buffer) {
    let key_line = |keys: &str, what: &str| {
        Line::from(vec![
            Span::styled(
                format!("  {keys:<KEY_COLUMN$}"),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(what.to_string()),
        ])
    };
    let mut lines = vec![Line::from("Global keys").bold()];
    lines.extend(GLOBAL_KEYS.iter().map(|(k, w)| key_line(k, w)));
    lines.push(Line::default());
    lines.push(Line::from(format!("{} tab", tab.title())).bold());
    if tab.keys().is_empty() {
        lines.push(Line::from("  No keys of its own yet.").fg(Color::DarkGray));
    } else {
        lines.extend(tab.keys().iter().map(|(k, w)| key_line(k, w)));
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
mod tests {
    use std::time::Instant;

    use agora_wire::{Event, Push, SessionInfo};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::app::ServerEvent;

    /// Renders `app` at 80x24 and returns the screen as text, one line per
    /// row, trailing spaces trimmed.
    fn screen(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        terminal.draw(|f| render(app, f)).expect("draw");
        let buf = terminal.backend().buffer();
        buffer_text(buf)
    }

    fn buffer_text(buf: &Buffer) -> String {
        let area = buf.area;
        (area.top()..area.bottom())
            .map(|y| {
                let row: String = (area.left()..area.right())
                    .map(|x| buf[(x, y)].symbol())
                    .collect();
                row.trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn connected() -> App {
        let mut app = App::new("127.0.0.1:7070", None);
        app.on_server(ServerEvent::Connected {
            session: 42,
            user: Some("alice".into()),
        });
        app.on_server(ServerEvent::Latency(Duration::from_micros(12_400)));
        app
    }

    fn reconnecting() -> App {
        let mut app = App::new("127.0.0.1:7070", Some("alice".into()));
        app.on_server(ServerEvent::Disconnected {
            error: "connection refused".into(),
        });
        app.on_server(ServerEvent::Reconnecting {
            attempt: 3,
            retry_in: Duration::from_secs(2),
            last_error: "connection refused".into(),
        });
        app
    }

    #[test]
    fn snapshot_connected_chat() {
        let app = connected();
        let text = screen(&app);
        // Guard against an empty or half-drawn screen being snapshotted.
        assert!(text.contains("1 Chat"));
        assert!(text.contains(&unavailable_message(Tab::Chat)));
        assert!(text.contains("rtt 12 ms"));
        insta::assert_snapshot!("connected_chat", text);
    }

    #[test]
    fn snapshot_help_overlay() {
        let mut app = connected();
        app.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        let text = screen(&app);
        assert!(text.contains("Global keys"));
        assert!(text.contains("Chat tab"));
        insta::assert_snapshot!("help_overlay", text);
    }

    #[test]
    fn snapshot_reconnecting() {
        let mut app = reconnecting();
        // A tick only starts the countdown; the first report is shown as is.
        app.on_tick(Instant::now());
        let text = screen(&app);
        assert!(text.contains("reconnecting in 2s (attempt 3): connection refused"));
        insta::assert_snapshot!("reconnecting", text);
    }

    #[test]
    fn every_tab_says_which_service_it_waits_for() {
        let mut app = connected();
        for (tab, service) in Tab::ALL.into_iter().zip([
            "chat service",
            "metrics service",
            "game service",
            "job queue service",
            "cache service",
        ]) {
            app.select_tab(tab);
            // Long messages wrap, so compare with whitespace squeezed.
            let squeezed = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let text = squeezed(&screen(&app).replace('│', " "));
            let message = unavailable_message(tab);
            assert!(message.contains(service));
            assert!(text.contains(&squeezed(&message)), "{tab:?}:\n{text}");
        }
    }

    #[test]
    fn dashboard_lists_recent_sessions() {
        let mut app = connected();
        app.select_tab(Tab::Dashboard);
        assert!(screen(&app).contains("none seen since connecting"));
        app.on_server(ServerEvent::Push(Push {
            topic: "sessions".into(),
            event: Event::SessionOpened {
                session: SessionInfo {
                    id: 9,
                    user: Some("bob".into()),
                    client: "agora-cli/0.1.0".into(),
                },
            },
        }));
        let text = screen(&app);
        assert!(text.contains("opened  #9 bob (agora-cli/0.1.0)"), "{text}");
        assert!(!text.contains("none seen"));
    }

    #[test]
    fn status_bar_says_who_and_how() {
        let app = App::new("example.org:7070", None);
        let text = screen(&app);
        let status = text.lines().last().unwrap_or_default();
        assert!(status.contains("example.org:7070"), "{status}");
        assert!(status.contains("not signed in"), "{status}");
        assert!(status.contains("connecting…"), "{status}");
        assert!(!status.contains("rtt"), "{status}");
    }

    #[test]
    fn only_basic_colours_are_used() {
        let mut help = connected();
        help.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        let mut dashboard = reconnecting();
        dashboard.select_tab(Tab::Dashboard);
        for app in [connected(), help, reconnecting(), dashboard] {
            let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
            terminal.draw(|f| render(&app, f)).expect("draw");
            let mut coloured = 0;
            for cell in terminal.backend().buffer().content() {
                for colour in [cell.fg, cell.bg] {
                    assert!(
                        !matches!(colour, Color::Rgb(..) | Color::Indexed(_)),
                        "{colour:?} is not one of the 16 basic colours"
                    );
                    coloured += usize::from(colour != Color::Reset);
                }
            }
            assert!(coloured > 0, "nothing was coloured at all");
        }
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let mut app = reconnecting();
        app.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5), (80, 2)] {
            let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
            terminal.draw(|f| render(&app, f)).expect("draw");
        }
    }

    #[test]
    fn formats_are_stable() {
        assert_eq!(latency_text(Duration::from_micros(400)), "<1 ms");
        assert_eq!(latency_text(Duration::from_micros(12_900)), "12 ms");
        assert_eq!(ceil_secs(Duration::from_millis(250)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
        let (text, _) = connection_text(&Connection::Reconnecting {
            attempt: 1,
            retry_in: Duration::ZERO,
            last_error: "timed out".into(),
        });
        assert_eq!(text, "reconnecting now (attempt 1): timed out");
    }
}
