//! Drawing the Jobs tab, as `impl Widget for &JobsState`.
//!
//! Inside the tab body: a line of counts by state, the queue table
//! (waiting, running, retryable, dead, a sparkline of completions over the
//! last 20 seconds, paused marker), the job list — or, with Enter, the
//! selected job's detail in its place — and a status line (the kind filter
//! being typed, a question waiting for y/n, the last action's outcome, or
//! the keys).

use agora_wire::jobs::{Job, JobState, QueueInfo, StateCounts};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::{Focus, JobsState};

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn state_style(state: JobState) -> Style {
    match state {
        JobState::Running => Style::new().fg(Color::Cyan),
        JobState::Completed => Style::new().fg(Color::Green),
        JobState::Retryable => Style::new().fg(Color::Yellow),
        JobState::Dead => Style::new().fg(Color::Red),
        JobState::Cancelled | JobState::Scheduled => dim(),
        JobState::Available => Style::new(),
    }
}

/// Seconds of throughput the sparkline shows.
pub const SPARK: usize = 20;

/// A sparkline of `values` in eighth blocks, scaled to their maximum
/// (spaces when all are 0).
pub fn sparkline(values: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                ' '
            } else {
                BARS[((u64::from(v) * 8).div_ceil(u64::from(max)) as usize).clamp(1, 8) - 1]
            }
        })
        .collect()
}

/// `12`, `1.2k`, `3.4M`: a count in at most 5 cells.
pub fn short(n: u64) -> String {
    match n {
        n if n < 10_000 => n.to_string(),
        n if n < 1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        n => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The text before `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A state's short label for the counts line (all seven fit 76 cells).
pub fn label(state: JobState) -> &'static str {
    match state {
        JobState::Scheduled => "sched",
        JobState::Available => "avail",
        JobState::Running => "run",
        JobState::Retryable => "retry",
        JobState::Completed => "done",
        JobState::Dead => "dead",
        JobState::Cancelled => "cancel",
    }
}

fn counts_line(counts: Option<&StateCounts>) -> Line<'static> {
    let Some(c) = counts else {
        return Line::styled("loading…", dim());
    };
    let mut spans = Vec::new();
    for (i, state) in JobState::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", dim()));
        }
        spans.push(Span::styled(label(state), dim()));
        spans.push(Span::styled(
            format!(" {}", short(c.get(state))),
            state_style(state),
        ));
    }
    Line::from(spans)
}

fn queue_line(q: &QueueInfo, selected: bool) -> Line<'static> {
    let recent = &q.throughput[q.throughput.len().saturating_sub(SPARK)..];
    let per_sec = q.throughput.last().copied().unwrap_or(0);
    let text = format!(
        "{:<12} {:>5} {:>5} {:>5} {:>5}  {:<SPARK$} {:>5}/s {}",
        cut(&q.name, 12),
        short(q.states.available + q.states.scheduled),
        short(q.states.running),
        short(q.states.retryable),
        short(q.states.dead),
        sparkline(recent),
        short(u64::from(per_sec)),
        if q.paused { "paused" } else { "" },
    );
    let style = if selected {
        Style::new().add_modifier(Modifier::REVERSED)
    } else if q.paused {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new()
    };
    Line::styled(text, style)
}

fn job_line(j: &Job, selected: bool) -> Line<'static> {
    let attempts = format!("{}/{}", j.attempt, j.max_attempts);
    let last_error = j
        .errors
        .last()
        .map(|e| e.message.lines().last().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let head = format!(
        "{:>7} {:<10} {:<12} {:<18} {:>6} ",
        j.id,
        j.state.as_str(),
        cut(&j.queue, 12),
        cut(&j.kind, 18),
        attempts
    );
    if selected {
        return Line::styled(
            format!("{head}{last_error}"),
            Style::new().add_modifier(Modifier::REVERSED),
        );
    }
    Line::from(vec![
        Span::styled(head, state_style(j.state)),
        Span::styled(last_error, dim()),
    ])
}

/// `2026-05-01 09:00:00` (UTC) of a time in ms since the epoch (the
/// civil-from-days algorithm of H. Hinnant, so the TUI needs no date
/// crate).
pub fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn detail_lines(j: &Job) -> Vec<Line<'static>> {
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), dim()),
            Span::raw(value),
        ])
    };
    let mut lines = vec![
        field(
            "state",
            format!(
                "{}, attempt {} of {}, priority {}",
                j.state, j.attempt, j.max_attempts, j.priority
            ),
        ),
        field("queue", format!("{}  kind {}", j.queue, j.kind)),
        field("run at", time(j.run_at_ms)),
        field("inserted", time(j.inserted_at_ms)),
    ];
    if let Some(at) = j.attempted_at_ms {
        lines.push(field("attempted", time(at)));
    }
    if let Some(at) = j.finished_at_ms {
        lines.push(field("finished", time(at)));
    }
    if let Some(key) = &j.unique_key {
        lines.push(field("unique", key.clone()));
    }
    lines.push(field("args", j.args.clone()));
    if let Some(result) = &j.result {
        lines.push(field("result", result.clone()));
    }
    if !j.errors.is_empty() {
        lines.push(Line::styled(format!("errors ({})", j.errors.len()), dim()));
        for e in j.errors.iter().rev() {
            let message = e.message.lines().last().unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled(format!(" #{} {} ", e.attempt, time(e.at_ms)), dim()),
                Span::styled(message.to_owned(), Style::new().fg(Color::Red)),
            ]));
        }
    }
    lines
}

/// What starts the kind filter prompt.
const PROMPT: &str = "kind: /";

fn status_row(area: Rect) -> Rect {
    Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1)
}

fn prompt_room(status: Rect) -> usize {
    usize::from(status.width).saturating_sub(PROMPT.len())
}

/// Where the terminal cursor goes: in the kind prompt, while it is open.
pub(super) fn cursor(state: &JobsState, area: Rect) -> Option<Position> {
    let edit = state.filters().3?;
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

impl Widget for &JobsState {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height < 6 {
            return;
        }
        let queues = self.queues();
        // The queue table: its rows plus header and borders, at most 8.
        let table_height = (queues.len().max(1) as u16 + 3).min(8);
        let [counts_area, table_area, list_area, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(table_height),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        counts_line(self.counts()).render(counts_area, buf);

        let (selected_job, selected_queue) = self.selection();
        let focus = self.focus();
        let focused = |f: Focus| {
            if focus == f {
                Style::new().fg(Color::Cyan)
            } else {
                dim()
            }
        };
        let block = Block::bordered()
            .border_style(focused(Focus::Queues))
            .title(format!(" Queues ({}) ", queues.len()));
        let inner = block.inner(table_area);
        block.render(table_area, buf);
        let mut lines = vec![Line::styled(
            format!(
                "{:<12} {:>5} {:>5} {:>5} {:>5}  {:<SPARK$} {:>7}",
                "queue", "wait", "run", "retry", "dead", "completed (20 s)", "now"
            ),
            dim(),
        )];
        let rows = usize::from(inner.height.saturating_sub(1));
        let first = selected_queue.saturating_sub(rows.saturating_sub(1));
        lines.extend(
            queues
                .iter()
                .enumerate()
                .skip(first)
                .take(rows)
                .map(|(i, q)| queue_line(q, focus == Focus::Queues && i == selected_queue)),
        );
        if queues.is_empty() {
            lines.push(Line::styled(
                if self.counts().is_some() {
                    "no queues yet: a queue appears with its first job"
                } else {
                    "loading…"
                },
                dim(),
            ));
        }
        Paragraph::new(lines).render(inner, buf);

        let (state, queue, kind, _) = self.filters();
        let mut filters = Vec::new();
        if let Some(s) = state {
            filters.push(format!("state {s}"));
        }
        if let Some(q) = queue {
            filters.push(format!("queue {q}"));
        }
        if !kind.is_empty() {
            filters.push(format!("kind {kind}"));
        }
        let filters = if filters.is_empty() {
            "all".to_owned()
        } else {
            filters.join(", ")
        };
        if let Some(job) = self.detail() {
            let block = Block::bordered()
                .border_style(focused(Focus::Jobs))
                .title(format!(" Job {} (Esc closes) ", job.id));
            let inner = block.inner(list_area);
            block.render(list_area, buf);
            Paragraph::new(detail_lines(job))
                .wrap(Wrap { trim: false })
                .render(inner, buf);
        } else {
            let jobs = self.jobs();
            let count = match jobs {
                None => "loading…".to_owned(),
                Some(j) if self.more() => format!("{}+", j.len()),
                Some(j) => j.len().to_string(),
            };
            let block = Block::bordered()
                .border_style(focused(Focus::Jobs))
                .title(format!(" Jobs: {filters} ({count}) "));
            let inner = block.inner(list_area);
            block.render(list_area, buf);
            let height = usize::from(inner.height);
            match jobs {
                Some(list) if !list.is_empty() => {
                    let first = selected_job.saturating_sub(height.saturating_sub(1));
                    let lines: Vec<Line> = list
                        .iter()
                        .enumerate()
                        .skip(first)
                        .take(height)
                        .map(|(i, j)| job_line(j, focus == Focus::Jobs && i == selected_job))
                        .collect();
                    Paragraph::new(lines).render(inner, buf);
                }
                Some(_) => Line::styled("no jobs match", dim()).render(inner, buf),
                None => Line::styled("loading…", dim()).render(inner, buf),
            }
        }

        let dead = self.counts().map_or(0, |c| c.dead);
        let line = match (self.filters().3, self.confirm(), self.message()) {
            (Some(edit), _, _) => Line::from(vec![
                Span::styled(PROMPT, Style::new().fg(Color::Cyan)),
                Span::raw(edit.view(prompt_room(status), None).0),
            ]),
            (None, Some(confirm), _) => Line::styled(
                confirm.question(dead),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            (None, None, Some(message)) => Line::raw(message.to_owned()),
            (None, None, None) => Line::styled(
                "Enter detail  v queues  s,/ filter  r retry  c cancel  d discard  p pause",
                dim(),
            ),
        };
        line.render(status, buf);
    }
}
