//! Drawing the Games tab: the lobby (queue line, live games and
//! challenges, leaderboard), the board (players with clocks, connection
//! and grace countdown, the board with the cursor and the last move, the
//! move list, spectators) and the replay viewer.

use agora_wire::game::{GameState, GameStatus};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{GamesState, Screen, geometry};

/// The challenge prompt's label.
pub const PROMPT: &str = "challenge: ";

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// `m:ss`, with tenths under ten seconds.
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else if secs < 10 {
        format!("{}:{:02}.{}", secs / 60, secs % 60, ms % 1000 / 100)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// The tab drawn into `area`.
pub struct Games<'a> {
    /// The tab's state.
    pub state: &'a GamesState,
}

impl Widget for Games<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let [body, status] = geometry::split(area);
        match s.screen {
            Screen::Lobby => lobby(s, body, buf),
            Screen::Board => board_screen(s, body, buf),
            Screen::Replay => replay(s, body, buf),
        }
        let line = if let Some(editor) = &s.prompt {
            let (text, _) = editor.view(
                status.width.saturating_sub(PROMPT.len() as u16) as usize,
                None,
            );
            Line::from(vec![
                Span::styled(PROMPT, Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(text),
            ])
        } else if let Some(m) = &s.message {
            Line::from(Span::styled(m.clone(), Style::new().fg(Color::Yellow)))
        } else {
            let help = match s.screen {
                Screen::Lobby => {
                    "t ttt · f connect four · a either · x leave queue · n challenge · Enter open"
                }
                Screen::Board => {
                    "arrows move · Enter plays · D draw · R resign · p replay · Esc lobby"
                }
                Screen::Replay => "Left/Right step · Home/End · Esc back",
            };
            Line::from(Span::styled(help, dim()))
        };
        Paragraph::new(line).render(status, buf);
    }
}

fn lobby(s: &GamesState, area: Rect, buf: &mut Buffer) {
    let [top, lists] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let queue = match (&s.queued, &s.user) {
        (_, None) => Span::styled("sign in (F2) to play", dim()),
        (Some(kinds), _) => Span::styled(
            format!(
                "waiting for an opponent: {} · {}",
                kinds.join(", "),
                s.time.label()
            ),
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        (None, Some(_)) => Span::raw(format!("not queued · time control {}", s.time.label())),
    };
    Paragraph::new(Line::from(queue)).render(top, buf);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(lists);
    let block = Block::bordered().title(" Live games and challenges ");
    let inner = block.inner(left);
    block.render(left, buf);
    if s.live.is_empty() {
        Paragraph::new(Line::from(Span::styled("no live games", dim()))).render(inner, buf);
    }
    for (i, g) in s.live.iter().enumerate().take(inner.height as usize) {
        let extra = match g.status {
            GameStatus::Waiting => "  challenge".to_owned(),
            _ if g.spectators > 0 => format!("  {} watching", g.spectators),
            _ => String::new(),
        };
        let kind = if g.kind == "connect4" { "c4" } else { "ttt" };
        let text = format!(
            "{:>3} {:<3} {:<5} {} v {}{}",
            g.id,
            kind,
            g.time.label(),
            g.players.first().map_or("", String::as_str),
            g.players.get(1).map_or("", String::as_str),
            extra,
        );
        let style = if i == s.selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        let row = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        Paragraph::new(Line::from(Span::styled(text, style))).render(row, buf);
    }
    let block = Block::bordered().title(" Leaderboard ");
    let inner = block.inner(right);
    block.render(right, buf);
    if s.leaderboard.is_empty() {
        Paragraph::new(Line::from(Span::styled("nobody rated yet", dim()))).render(inner, buf);
    }
    for (i, e) in s.leaderboard.iter().enumerate().take(inner.height as usize) {
        let kind = if e.kind == "connect4" { "c4" } else { "ttt" };
        let text = format!(
            "{:>2} {:<10} {:<3} {:>4} {}/{}/{}",
            i + 1,
            e.user,
            kind,
            e.rating,
            e.won,
            e.lost,
            e.drawn
        );
        let row = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        Paragraph::new(text).render(row, buf);
    }
}

/// The board's lines: column labels, then rows with their labels; the
/// cursor cell in reverse, the last move bold and underlined.
fn board_lines(
    kind: &str,
    rows: &[String],
    cursor: Option<(usize, usize)>,
    last: Option<(usize, usize)>,
) -> Vec<Line<'static>> {
    let ttt = kind == "tictactoe";
    let width = rows.first().map_or(0, |r| r.chars().count());
    let mut out = Vec::new();
    let labels: String = (0..width)
        .map(|c| {
            let l = if ttt {
                ((b'a' + c as u8) as char).to_string()
            } else {
                (c + 1).to_string()
            };
            format!(" {l} ")
        })
        .collect();
    out.push(Line::from(Span::styled(format!("   {labels}"), dim())));
    for (r, row) in rows.iter().enumerate() {
        let mut spans = vec![Span::styled(
            if ttt {
                format!(" {} ", rows.len() - r)
            } else {
                "   ".to_owned()
            },
            dim(),
        )];
        for (c, cell) in row.chars().enumerate() {
            let mut style = match cell {
                'X' => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                'O' => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                _ => dim(),
            };
            if last == Some((r, c)) {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            let on_cursor = match cursor {
                Some((cr, cc)) if ttt => cr == r && cc == c,
                Some((_, cc)) => cc == c && r == 0,
                None => false,
            };
            let text = if on_cursor {
                format!("[{cell}]")
            } else if last == Some((r, c)) {
                format!("<{cell}>")
            } else {
                format!(" {cell} ")
            };
            if on_cursor {
                style = style.add_modifier(Modifier::REVERSED);
            }
            spans.push(Span::styled(text, style));
        }
        out.push(Line::from(spans));
    }
    out
}

fn header(g: &GameState) -> String {
    let status = match &g.result {
        Some(r) => match &r.winner {
            Some(w) => format!("{w} won ({})", r.reason.as_str()),
            None => r.reason.as_str().to_owned(),
        },
        None => g.status.as_str().replace('_', " "),
    };
    format!("game {} · {} {} · {}", g.id, g.kind, g.time.label(), status)
}

fn board_screen(s: &GamesState, area: Rect, buf: &mut Buffer) {
    let Some(g) = &s.game else { return };
    let geometry::BoardScreen {
        head,
        players,
        board,
        moves,
    } = geometry::board_screen(area);
    let spectators = if g.spectators > 0 {
        format!("   {} watching", g.spectators)
    } else {
        String::new()
    };
    Paragraph::new(Line::from(vec![
        Span::styled(header(g), Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(spectators, dim()),
    ]))
    .render(head, buf);
    let clocks = s.clocks_now();
    let grace = s.grace_left();
    let lines: Vec<Line> = g
        .players
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mark = if i == 0 { "X" } else { "O" };
            let to_move = g.turn.as_deref() == Some(p.as_str());
            let mut spans = vec![
                Span::styled(
                    format!(" {mark} "),
                    if i == 0 {
                        Style::new().fg(Color::Red)
                    } else {
                        Style::new().fg(Color::Yellow)
                    },
                ),
                Span::raw(format!("{p:<14}")),
                Span::styled(
                    format!(
                        "{:>8}",
                        clocks.get(i).map(|ms| clock(*ms)).unwrap_or_default()
                    ),
                    if to_move {
                        Style::new().add_modifier(Modifier::REVERSED)
                    } else {
                        Style::new()
                    },
                ),
            ];
            if to_move {
                spans.push(Span::raw("  to move"));
            }
            if let Some(Some(secs)) = grace.get(i) {
                spans.push(Span::styled(
                    format!("  disconnected: {secs} s to come back"),
                    Style::new().fg(Color::Red),
                ));
            }
            if g.draw_offer.as_deref() == Some(p.as_str()) {
                spans.push(Span::styled(
                    "  offers a draw (D accepts)",
                    Style::new().fg(Color::Cyan),
                ));
            }
            if let Some(c) = g
                .result
                .as_ref()
                .and_then(|r| r.ratings.iter().find(|c| c.user == *p))
            {
                spans.push(Span::styled(
                    format!("  {} → {} ({:+})", c.before, c.after, c.after - c.before),
                    Style::new().fg(Color::Cyan),
                ));
            }
            Line::from(spans)
        })
        .collect();
    Paragraph::new(lines).render(players, buf);
    let cursor = (g.status == GameStatus::InProgress).then_some(s.cursor);
    Paragraph::new(board_lines(&g.kind, &g.board, cursor, s.last_cell())).render(board, buf);
    let mut list = vec![Line::from(Span::styled("moves", dim()))];
    let pairs: Vec<String> = g
        .moves
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| format!("{:>2}. {}", i + 1, pair.join(" ")))
        .collect();
    let room = moves.height.saturating_sub(1) as usize;
    let skip = pairs.len().saturating_sub(room);
    list.extend(pairs.into_iter().skip(skip).map(Line::from));
    Paragraph::new(list).render(moves, buf);
}

fn replay(s: &GamesState, area: Rect, buf: &mut Buffer) {
    let Some((g, positions, step)) = s.replay() else {
        return;
    };
    let [head, rest] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(area);
    let what = match step {
        0 => "start".to_owned(),
        n => format!(
            "after {}. {}",
            n,
            g.moves.get(n - 1).map_or("", String::as_str)
        ),
    };
    Paragraph::new(vec![
        Line::from(Span::styled(
            format!("replay · {}", header(g)),
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(format!(
            "position {step} of {} · {what}",
            positions.len().saturating_sub(1)
        )),
    ])
    .render(head, buf);
    let rows = positions.get(step).cloned().unwrap_or_default();
    let last = step
        .checked_sub(1)
        .and_then(|i| g.moves.get(i))
        .and_then(|mv| super::cell_of(&g.kind, &rows, mv));
    Paragraph::new(board_lines(&g.kind, &rows, None, last)).render(rest, buf);
}
