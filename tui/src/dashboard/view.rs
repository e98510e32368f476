//! Drawing the Dashboard tab.
//!
//! From the top: a CPU line (total, load, processes, the container's
//! limits), per-core gauges, memory and swap gauges, the chart of the
//! picked metric (braille, with a cursor reading exact values), network
//! and disk sparklines, then the process table beside the alerts (firing
//! first) and the viewers. Rows grow with the screen: at 80x24 the chart
//! is 6 rows and the sparklines one each; at 160x48 the chart doubles and
//! the sparklines get four rows.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Sparkline, Widget};

use super::DashboardState;
use agora_wire::metrics::AlertState;

/// The side panel's width (alerts, viewers).
fn side_width(area: Rect) -> u16 {
    if area.width >= 140 { 44 } else { 28 }
}

/// The chart's plotting width for a tab of `area` (its border off).
pub fn chart_width(area: Rect) -> u16 {
    area.width.saturating_sub(2).max(2)
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// `HH:MM:SS` (UTC).
pub fn clock(ts_ms: u64) -> String {
    let s = ts_ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60)
}

/// `512 B`, `1.5K`, `3.2G`: short sizes for tight columns.
pub fn short_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024.0 {
        return format!("{n:.0}B");
    }
    let mut v = n / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1}{}", UNITS[u])
}

/// A value as the chart shows it: percent, bytes or a plain number.
pub fn value_text(metric: &str, v: f64) -> String {
    if metric.ends_with("_pct") || metric.starts_with("cpu.total") || metric.starts_with("cpu.core")
    {
        format!("{v:.1}%")
    } else if metric.ends_with("_bytes") {
        short_bytes(v)
    } else if metric.ends_with("_bps") {
        format!("{}/s", short_bytes(v))
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A gauge of `width` cells for a percentage.
fn gauge(pct: f64, width: usize) -> Vec<Span<'static>> {
    let filled = ((pct.clamp(0.0, 100.0) / 100.0 * width as f64).round() as usize).min(width);
    let colour = if pct >= 90.0 {
        Color::Red
    } else if pct >= 70.0 {
        Color::Yellow
    } else {
        Color::Green
    };
    vec![
        Span::styled("█".repeat(filled), Style::new().fg(colour)),
        Span::styled("·".repeat(width - filled), dim()),
    ]
}

/// The whole tab.
pub struct View<'a> {
    /// What to draw.
    pub state: &'a DashboardState,
}

impl Widget for View<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let say = |text: &str, buf: &mut Buffer| {
            Paragraph::new(Line::from(text.to_owned()).fg(Color::DarkGray))
                .centered()
                .render(
                    Rect {
                        y: area.y + area.height / 2,
                        height: 1,
                        ..area
                    },
                    buf,
                );
        };
        if !s.connected {
            return say("connecting…", buf);
        }
        if !s.signed_in {
            return say("sign in (F2) to see the dashboard", buf);
        }
        let Some(sample) = &s.latest else {
            return say(
                s.error
                    .as_deref()
                    .unwrap_or("waiting for the first sample…"),
                buf,
            );
        };
        let v = |k: &str| sample.values.get(k).copied();
        let big = area.height >= 40;
        let cores = (0..)
            .map_while(|i| v(&format!("cpu.core.{i}")))
            .collect::<Vec<_>>();
        let per_row = (area.width / 20).max(1) as usize;
        let core_rows = cores.len().div_ceil(per_row).min(if big { 8 } else { 2 }) as u16;
        let [head, core_area, mem, chart, sparks, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(core_rows),
            Constraint::Length(1),
            Constraint::Length(if big { 14 } else { 7 }),
            Constraint::Length(if big { 5 } else { 2 }),
            Constraint::Min(4),
        ])
        .areas(area);

        // CPU line.
        let total = v("cpu.total").unwrap_or(0.0);
        let mut line = vec![Span::from("CPU ").bold()];
        line.extend(gauge(total, if big { 30 } else { 12 }));
        line.push(Span::from(format!(
            " {total:5.1}%  load {:.2} {:.2} {:.2}  procs {:.0}",
            v("load.1").unwrap_or(0.0),
            v("load.5").unwrap_or(0.0),
            v("load.15").unwrap_or(0.0),
            v("procs.count").unwrap_or(0.0)
        )));
        if let Some(cores) = v("cgroup.cpu.limit_cores") {
            line.push(Span::styled(
                format!("  limit {cores:.2} cores"),
                Style::new().fg(Color::Cyan),
            ));
        }
        Paragraph::new(Line::from(line)).render(head, buf);

        // Per-core gauges.
        let width = (core_area.width as usize / per_row).max(10);
        for (row, chunk) in cores.chunks(per_row).take(core_rows as usize).enumerate() {
            let mut spans = Vec::new();
            for (i, pct) in chunk.iter().enumerate() {
                let n = row * per_row + i;
                spans.push(Span::styled(format!("{n:>2} "), dim()));
                spans.extend(gauge(*pct, width.saturating_sub(9)));
                spans.push(Span::from(format!("{pct:4.0}% ")));
            }
            let r = Rect {
                y: core_area.y + row as u16,
                height: 1,
                ..core_area
            };
            Paragraph::new(Line::from(spans)).render(r, buf);
        }

        // Memory and swap.
        let mem_pct = v("mem.used_pct").unwrap_or(0.0);
        let swap_pct = v("swap.used_pct").unwrap_or(0.0);
        let gw = if big { 24 } else { 10 };
        let mut line = vec![Span::from("Mem ").bold()];
        line.extend(gauge(mem_pct, gw));
        line.push(Span::from(format!(
            " {mem_pct:4.1}% {}/{}",
            short_bytes(v("mem.used_bytes").unwrap_or(0.0)),
            short_bytes(v("mem.total_bytes").unwrap_or(0.0))
        )));
        if let Some(limit) = v("cgroup.mem.limit_bytes") {
            line.push(Span::styled(
                format!(
                    " (ctr {}/{})",
                    short_bytes(v("cgroup.mem.used_bytes").unwrap_or(0.0)),
                    short_bytes(limit)
                ),
                Style::new().fg(Color::Cyan),
            ));
        }
        line.push(Span::from("  Swp ").bold());
        line.extend(gauge(swap_pct, gw / 2));
        line.push(Span::from(format!(" {swap_pct:4.1}%")));
        Paragraph::new(Line::from(line)).render(mem, buf);

        draw_chart(s, chart, buf);
        draw_sparks(s, sparks, buf);

        let [procs, side] =
            Layout::horizontal([Constraint::Min(20), Constraint::Length(side_width(area))])
                .areas(bottom);
        draw_processes(s, procs, buf);
        draw_side(s, side, buf);
        if let Some(prompt) = &s.prompt {
            prompt.render(area, buf);
        }
    }
}

fn draw_chart(s: &DashboardState, area: Rect, buf: &mut Buffer) {
    let points = s.points();
    let metric = &s.metric;
    let mut title = vec![
        Span::from(format!(" {metric} ")).bold(),
        Span::from(format!("· {} ", s.window.label())),
    ];
    if s.window.from_history() {
        title.push(Span::styled("(history) ", dim()));
    }
    let cursor = s.cursor_point();
    if let Some((t, val)) = cursor {
        title.push(Span::styled(
            format!("▸ {} = {} ", clock(t), value_text(metric, val)),
            Style::new().fg(Color::Yellow),
        ));
    } else if let Some((_, last)) = points.last() {
        title.push(Span::from(format!("now {} ", value_text(metric, *last))));
    }
    let (lo, hi) = bounds(metric, &points);
    let block = Block::bordered()
        .title(Line::from(title))
        .title_top(
            Line::from(format!(
                " {}…{} ",
                value_text(metric, lo),
                value_text(metric, hi)
            ))
            .right_aligned()
            .style(dim()),
        )
        .border_style(dim());
    let inner = block.inner(area);
    block.render(area, buf);
    if points.len() < 2 {
        let text = if s.window.from_history() && s.series.is_none() {
            "loading history…"
        } else {
            "not enough samples yet"
        };
        Paragraph::new(Line::from(text).style(dim()))
            .centered()
            .render(inner, buf);
        return;
    }
    let t0 = points[0].0;
    let data: Vec<(f64, f64)> = points
        .iter()
        .map(|(t, v)| ((t - t0) as f64 / 1000.0, *v))
        .collect();
    let x_max = data.last().map_or(1.0, |p| p.0.max(1.0));
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Cyan))
        .data(&data);
    Chart::new(vec![dataset])
        .x_axis(Axis::default().bounds([0.0, x_max]))
        .y_axis(Axis::default().bounds([lo, hi]))
        .render(inner, buf);
    if let Some(col) = s.cursor {
        let x = inner.x + col.min(inner.width.saturating_sub(1));
        for y in inner.y..inner.y + inner.height {
            if let Some(cell) = buf.cell_mut(Position::new(x, y)) {
                cell.set_style(
                    Style::new()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::REVERSED),
                );
            }
        }
    }
}

/// The chart's y range: 0–100 for percentages, else the data's range.
fn bounds(metric: &str, points: &[(u64, f64)]) -> (f64, f64) {
    if metric.ends_with("_pct") || metric.starts_with("cpu.total") || metric.starts_with("cpu.core")
    {
        return (0.0, 100.0);
    }
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let lo = lo.min(0.0);
    if hi <= lo { (lo, lo + 1.0) } else { (lo, hi) }
}

/// Network (all interfaces but lo) and disk (all mounts) rates.
fn sum_rates(s: &DashboardState, pick: impl Fn(&str) -> bool) -> Vec<u64> {
    s.live
        .iter()
        .map(|(_, values)| {
            values
                .iter()
                .filter(|(k, _)| pick(k))
                .map(|(_, v)| *v)
                .sum::<f64>() as u64
        })
        .collect()
}

fn draw_sparks(s: &DashboardState, area: Rect, buf: &mut Buffer) {
    let [net, disk] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let nets = |suffix: &'static str| {
        move |k: &str| k.starts_with("net.") && !k.starts_with("net.lo.") && k.ends_with(suffix)
    };
    let disks = |suffix: &'static str| move |k: &str| k.starts_with("disk.") && k.ends_with(suffix);
    for (area, label, up, down, colour) in [
        (
            net,
            "net",
            sum_rates(s, nets(".rx_bps")),
            sum_rates(s, nets(".tx_bps")),
            Color::Green,
        ),
        (
            disk,
            "disk",
            sum_rates(s, disks(".read_bps")),
            sum_rates(s, disks(".write_bps")),
            Color::Magenta,
        ),
    ] {
        let rows = area.height.max(1);
        let last = |v: &Vec<u64>| v.last().copied().unwrap_or(0) as f64;
        let arrows = if label == "net" {
            ("↓", "↑")
        } else {
            ("r", "w")
        };
        let text = format!(
            "{label} {}{}/s {}{}/s ",
            arrows.0,
            short_bytes(last(&up)),
            arrows.1,
            short_bytes(last(&down))
        );
        let label_w = (text.chars().count() as u16).min(area.width);
        Paragraph::new(Line::from(text).bold()).render(
            Rect {
                width: label_w,
                height: 1,
                ..area
            },
            buf,
        );
        let spark = Rect {
            x: area.x + label_w,
            width: area.width.saturating_sub(label_w + 1),
            ..area
        };
        let both: Vec<u64> = up.iter().zip(&down).map(|(a, b)| a + b).collect();
        let start = both.len().saturating_sub(spark.width as usize);
        Sparkline::default()
            .data(&both[start..])
            .style(Style::new().fg(colour))
            .render(
                Rect {
                    height: rows,
                    ..spark
                },
                buf,
            );
    }
}

fn draw_processes(s: &DashboardState, area: Rect, buf: &mut Buffer) {
    let list = s.processes();
    let (filter, editing) = s.filter();
    let mut title = format!(" Processes ({}) sort {} ", list.len(), s.sort.label());
    if !filter.is_empty() {
        title.push_str(&format!("filter {filter:?} "));
    }
    let mut block = Block::bordered().title(title).border_style(dim());
    if let Some(notice) = &s.notice {
        block = block.title_bottom(Line::styled(
            format!(" {notice} "),
            Style::new().fg(Color::Yellow),
        ));
    }
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let wide = inner.width >= 90;
    let header = if wide {
        format!(
            "{:>7} {:<10} {:>5} {:>7} {:<6} {:<16} {}",
            "PID", "USER", "CPU%", "RSS", "STATE", "NAME", "COMMAND"
        )
    } else {
        format!(
            "{:>7} {:<8} {:>5} {:>7} {}",
            "PID", "USER", "CPU%", "RSS", "NAME"
        )
    };
    let mut lines = vec![Line::from(header).style(dim())];
    let rows = inner
        .height
        .saturating_sub(1 + u16::from(editing.is_some())) as usize;
    let selected = s.selected.min(list.len().saturating_sub(1));
    let first = selected.saturating_sub(rows.saturating_sub(1));
    for (i, p) in list.iter().enumerate().skip(first).take(rows) {
        let user: String = p.user.chars().take(if wide { 10 } else { 8 }).collect();
        let text = if wide {
            let name: String = p.name.chars().take(16).collect();
            format!(
                "{:>7} {:<10} {:>5.1} {:>7} {:<6} {:<16} {}",
                p.pid,
                user,
                p.cpu_pct,
                short_bytes(p.rss_bytes as f64),
                p.state,
                name,
                p.cmd
            )
        } else {
            format!(
                "{:>7} {:<8} {:>5.1} {:>7} {}",
                p.pid,
                user,
                p.cpu_pct,
                short_bytes(p.rss_bytes as f64),
                p.name
            )
        };
        let mut line = Line::from(text);
        if i == selected {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        } else if p.cpu_pct >= 50.0 {
            line = line.style(Style::new().fg(Color::Yellow));
        }
        lines.push(line);
    }
    Paragraph::new(lines).render(inner, buf);
    if let Some(edit) = editing {
        let (text, _) = edit.view(inner.width.saturating_sub(9) as usize, None);
        let r = Rect {
            y: inner.y + inner.height - 1,
            height: 1,
            ..inner
        };
        Paragraph::new(Line::from(vec![
            Span::from("filter: ").bold(),
            Span::from(text),
        ]))
        .render(r, buf);
    }
}

/// Where the terminal cursor goes while the filter is typed.
pub fn filter_cursor(s: &DashboardState, area: Rect) -> Option<Position> {
    let edit = s.editing.as_ref()?;
    let width = area.width.saturating_sub(side_width(area) + 2);
    // The process block's last inner row.
    let y = area.y + area.height.saturating_sub(2);
    let col = edit.cursor_column().min(width.saturating_sub(10) as usize) as u16;
    Some(Position::new(area.x + 1 + 8 + col, y))
}

fn draw_side(s: &DashboardState, area: Rect, buf: &mut Buffer) {
    let viewer_rows = (s.viewers.len() as u16 + 2).clamp(3, area.height / 2);
    let [alerts, viewers] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(viewer_rows)]).areas(area);
    let firing = s
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .count();
    let block = Block::bordered()
        .title(format!(" Alerts ({firing} firing) "))
        .border_style(if firing > 0 {
            Style::new().fg(Color::Red)
        } else {
            dim()
        });
    let inner = block.inner(alerts);
    block.render(alerts, buf);
    let lines: Vec<Line> = if s.alerts.is_empty() {
        vec![Line::from("no rules").style(dim())]
    } else {
        s.alerts
            .iter()
            .map(|a| {
                let colour = match a.state {
                    AlertState::Firing => Color::Red,
                    AlertState::Pending => Color::Yellow,
                    AlertState::Ok => Color::Green,
                    AlertState::Resolved => Color::DarkGray,
                };
                let mut text = format!("{:<8} {}", a.state.name(), a.name);
                if let Some(v) = a.value {
                    text.push_str(&format!(" {}", value_text(&a.metric, v)));
                }
                if a.silenced_until_ms.is_some() {
                    text.push_str(" (muted)");
                }
                Line::from(text).style(Style::new().fg(colour))
            })
            .collect()
    };
    Paragraph::new(lines).render(inner, buf);

    let block = Block::bordered()
        .title(format!(" Watching ({}) ", s.viewers.len()))
        .border_style(dim());
    let inner = block.inner(viewers);
    block.render(viewers, buf);
    let lines: Vec<Line> = s
        .viewers
        .iter()
        .map(|v| Line::from(format!("{} ({}) {}", v.user, v.view, clock(v.since_ms))))
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
