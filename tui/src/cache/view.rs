//! Drawing the Cache tab, as `impl Widget for &CacheState`.
//!
//! Inside the tab body: a gauge line (ops/s, hit ratio, memory, keys),
//! the key list on the left and the selected key on the right (type, TTL,
//! size, value — a hex dump for binary strings), the cluster panel when
//! the daemon is clustered, the channel monitor across the bottom when it
//! is on, and a status line (filter being typed, errors, key help).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::format::{cli_text, printable};
use super::{CacheState, MONITOR_PATTERN, Stats};
use agora_wire::CacheValue;

/// Width of the key list, borders included.
const LIST: u16 = 28;
/// Height of the monitor, borders included.
const MONITOR: u16 = 7;

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Bytes in binary units with one decimal, e.g. `1.5 GiB`; below 1 KiB,
/// exact (`512 B`). Rounding never shows `1024.0` of a unit: 1048575 bytes
/// are `1.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while (v * 10.0).round() >= 10240.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// A TTL in ms as shown: `none`, `9.5s`, `2m 03s`, `1h 02m`.
pub fn ttl_text(ms: i64) -> String {
    match ms {
        -2 => "gone".into(),
        ms if ms < 0 => "none".into(),
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{}m {:02}s", ms / 60_000, ms / 1000 % 60),
        ms => format!("{}h {:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// `[#####.....]` for a ratio in 0..=1.
fn bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// A hex dump: `0000  48 65 6c 6c  Hell`, `per_line` bytes per line.
pub fn hex_dump(bytes: &[u8], per_line: usize) -> Vec<String> {
    bytes
        .chunks(per_line.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!(
                "{:04x}  {:<width$}  {ascii}",
                i * per_line,
                hex.join(" "),
                width = per_line * 3 - 1
            )
        })
        .collect()
}

fn gauges(stats: Option<&Stats>) -> Line<'static> {
    let Some(s) = stats else {
        return Line::styled("waiting for INFO…", dim());
    };
    let sep = || Span::styled(" │ ", dim());
    let ratio = match s.hit_ratio() {
        Some(r) => format!("{} {:.0}%", bar(r, 8), r * 100.0),
        None => format!("{} --", bar(0.0, 8)),
    };
    let memory = if s.max_memory > 0 {
        let r = s.used_memory as f64 / s.max_memory as f64;
        format!(
            "{} {}/{}",
            bar(r, 8),
            human_bytes(s.used_memory),
            human_bytes(s.max_memory)
        )
    } else {
        format!("{} (no limit)", human_bytes(s.used_memory))
    };
    Line::from(vec![
        Span::raw(format!("ops/s {}", s.ops_per_sec)),
        sep(),
        Span::raw(format!("hit {ratio}")),
        sep(),
        Span::raw(format!("mem {memory}")),
        sep(),
        Span::raw(format!("keys {}", s.keys)),
    ])
}

fn value_lines(value: &CacheValue, width: usize) -> Vec<Line<'static>> {
    match value {
        CacheValue::Bulk { value } => match std::str::from_utf8(value) {
            Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                s.lines().map(|l| Line::raw(l.to_owned())).collect()
            }
            _ => {
                let per_line = if width >= 4 + 2 + 16 * 3 + 2 + 16 {
                    16
                } else {
                    8
                };
                hex_dump(value, per_line)
                    .into_iter()
                    .map(Line::raw)
                    .collect()
            }
        },
        CacheValue::Array { items } => items
            .iter()
            .enumerate()
            .map(|(i, v)| Line::raw(format!("{}) {}", i + 1, short(v))))
            .collect(),
        CacheValue::Map { entries } => entries
            .iter()
            .map(|(k, v)| Line::raw(format!("{} => {}", short(k), short(v))))
            .collect(),
        other => vec![Line::raw(cli_text(other))],
    }
}

fn short(v: &CacheValue) -> String {
    match v {
        CacheValue::Bulk { value } => printable(value),
        other => cli_text(other),
    }
}

impl Widget for &CacheState {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height < 3 || area.width < 10 {
            return;
        }
        let (monitoring, monitor) = self.monitor();
        let monitor_height = if monitoring && area.height >= MONITOR + 8 {
            MONITOR
        } else {
            0
        };
        let cluster_height = match self.cluster() {
            Some(c) if area.height >= monitor_height + c.height() + 8 => c.height(),
            _ => 0,
        };
        let [top, middle, cluster_area, bottom, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(cluster_height),
            Constraint::Length(monitor_height),
            Constraint::Length(1),
        ])
        .areas(area);
        if let Some(c) = self.cluster()
            && cluster_height > 0
        {
            c.render(cluster_area, buf);
        }
        gauges(self.stats()).render(top, buf);

        let [list_area, detail_area] = Layout::horizontal([
            Constraint::Length(LIST.min(area.width / 2)),
            Constraint::Fill(1),
        ])
        .areas(middle);
        let (filter, _) = self.filter();
        let count = if self.loading() {
            "loading…".to_string()
        } else {
            self.keys().len().to_string()
        };
        let title = if filter.is_empty() {
            format!(" Keys ({count}) ")
        } else {
            format!(" Keys /{filter} ({count}) ")
        };
        let block = Block::bordered().border_style(dim()).title(title);
        let inner = block.inner(list_area);
        block.render(list_area, buf);
        let height = inner.height as usize;
        let first = self.selected().saturating_sub(height.saturating_sub(1));
        let lines: Vec<Line> = self
            .keys()
            .iter()
            .enumerate()
            .skip(first)
            .take(height)
            .map(|(i, k)| {
                let text = printable(k);
                if i == self.selected() {
                    Line::styled(text, Style::new().add_modifier(Modifier::REVERSED))
                } else {
                    Line::raw(text)
                }
            })
            .collect();
        if lines.is_empty() {
            let note = if self.loading() {
                "loading…"
            } else {
                "no keys"
            };
            Line::styled(note, dim()).render(inner, buf);
        } else {
            Paragraph::new(lines).render(inner, buf);
        }

        let key_title = self
            .detail()
            .map(|d| format!(" {} ", printable(&d.key)))
            .unwrap_or_else(|| " Value ".into());
        let block = Block::bordered().border_style(dim()).title(key_title);
        let inner = block.inner(detail_area);
        block.render(detail_area, buf);
        if let Some(d) = self.detail() {
            let kind = d.kind.clone().unwrap_or_else(|| "…".into());
            let ttl = self.ttl_now().map_or("…".into(), ttl_text);
            let size = match (d.size, d.kind.as_deref()) {
                (Some(n), Some("string")) => human_bytes(n.max(0) as u64),
                (Some(n), _) => format!("{n} elements"),
                (None, _) => "…".into(),
            };
            let mut lines = vec![
                Line::from(vec![
                    Span::styled("type ", dim()),
                    Span::raw(kind),
                    Span::styled("  ttl ", dim()),
                    Span::raw(ttl),
                    Span::styled("  size ", dim()),
                    Span::raw(size),
                ]),
                Line::default(),
            ];
            if let Some(v) = &d.value {
                lines.extend(value_lines(v, inner.width as usize));
            }
            Paragraph::new(lines).render(inner, buf);
        }

        if monitor_height > 0 {
            let block = Block::bordered()
                .border_style(dim())
                .title(format!(" Monitor {MONITOR_PATTERN} "));
            let inner = block.inner(bottom);
            block.render(bottom, buf);
            let n = inner.height as usize;
            let lines: Vec<Line> = monitor
                .iter()
                .skip(monitor.len().saturating_sub(n))
                .map(|l| Line::raw(l.clone()))
                .collect();
            Paragraph::new(lines).render(inner, buf);
        }

        let line = match (self.filter().1, self.error()) {
            (Some(edit), _) => Line::from(vec![
                Span::styled(PROMPT, Style::new().fg(Color::Cyan)),
                Span::raw(edit.view(prompt_room(status), None).0),
            ]),
            (None, Some(err)) => Line::styled(err.to_owned(), Style::new().fg(Color::Red)),
            (None, None) => Line::styled(
                if monitoring {
                    "j/k select  g/G first/last  / filter  r rescan  m stop monitor"
                } else {
                    "j/k select  g/G first/last  / filter  r rescan  m monitor channels"
                },
                dim(),
            ),
        };
        line.render(status, buf);
    }
}

/// What starts the filter prompt.
const PROMPT: &str = "filter: /";

/// The status line of the tab drawn in `area` (its last row).
fn status_row(area: Rect) -> Rect {
    Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1)
}

/// Cells for the filter's text after the prompt.
fn prompt_room(status: Rect) -> usize {
    usize::from(status.width).saturating_sub(PROMPT.len())
}

/// Where the terminal cursor goes: in the filter prompt, while it is open.
pub(super) fn cursor(state: &CacheState, area: Rect) -> Option<Position> {
    let edit = state.filter().1?;
    if area.height < 3 || area.width < 10 {
        return None;
    }
    let status = status_row(area);
    let col = PROMPT.len() + edit.view(prompt_room(status), None).1;
    let x = status.x.saturating_add(col as u16);
    Some(Position::new(
        x.min(status.right().saturating_sub(1)),
        status.y,
    ))
}
