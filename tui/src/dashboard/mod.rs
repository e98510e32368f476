//! The Dashboard tab's state: live samples from the metrics service, the
//! chart's metric, window and cursor, the process table (sort, filter,
//! scroll), the alerts and who else is watching.
//!
//! Like every tab it does no I/O and reads no clock: it asks for
//! `metrics_watch` when it comes on screen ([`Tab::on_show`]) and
//! `metrics_unwatch` once it is hidden (so presence means "looking at the
//! dashboard now"); every sample arrives as a push. Windows up to 5
//! minutes are drawn from the live samples; longer ones (1h, 24h, 7d) ask
//! `metrics_range` for the history, with "now" taken from the latest
//! sample. `view` draws it.

mod signal;
mod view;

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use agora_wire::metrics::{Alert, AlertState, Point, ProcessInfo, Sample, Viewer};
use agora_wire::{Event, MetricsEvent, MetricsOp, MetricsReply, Op, Reply, Service};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Widget;

use crate::line_editor::LineEditor;
use crate::tab::{KeyOutcome, Outgoing, Tab};
pub use signal::{PromptKey, SignalPrompt};

/// Live samples kept (one per second: five minutes and a bit).
const LIVE: usize = 330;

/// The tab's own keys, for the help popup.
pub const KEYS: [(&str, &str); 9] = [
    ("m / M", "chart the next / previous metric"),
    ("w / W", "longer / shorter window (1m 5m 1h 24h 7d)"),
    ("h/l, [ ]", "move the chart's cursor (Esc hides it)"),
    ("s", "sort processes by cpu, mem, pid, name"),
    ("/", "filter processes by name or command"),
    ("j/k, Up/Down", "scroll the process table"),
    ("g/Home, G/End", "first / last process"),
    ("r", "fetch the window's history again"),
    ("x", "send a signal to the selected process (asks first)"),
];

/// The chart's time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    /// The last minute (live).
    #[default]
    Minute,
    /// The last five minutes (live).
    FiveMinutes,
    /// The last hour (history).
    Hour,
    /// The last day (history).
    Day,
    /// The last week (history).
    Week,
}

impl Window {
    const ALL: [Window; 5] = [
        Window::Minute,
        Window::FiveMinutes,
        Window::Hour,
        Window::Day,
        Window::Week,
    ];

    /// The window's length in ms.
    pub fn ms(self) -> u64 {
        match self {
            Window::Minute => 60_000,
            Window::FiveMinutes => 300_000,
            Window::Hour => 3_600_000,
            Window::Day => 86_400_000,
            Window::Week => 7 * 86_400_000,
        }
    }

    /// `1m`, `5m`, `1h`, `24h`, `7d`.
    pub fn label(self) -> &'static str {
        match self {
            Window::Minute => "1m",
            Window::FiveMinutes => "5m",
            Window::Hour => "1h",
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    /// Whether the window is drawn from history rather than live samples.
    pub fn from_history(self) -> bool {
        self.ms() > 300_000
    }

    fn step(self, by: isize) -> Window {
        let i = Window::ALL.iter().position(|w| *w == self).unwrap_or(0) as isize;
        Window::ALL[(i + by).clamp(0, Window::ALL.len() as isize - 1) as usize]
    }
}

/// How the process table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Busiest first.
    #[default]
    Cpu,
    /// Most memory first.
    Mem,
    /// By pid.
    Pid,
    /// By name.
    Name,
}

impl SortBy {
    /// The column's name.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Cpu => "cpu",
            SortBy::Mem => "mem",
            SortBy::Pid => "pid",
            SortBy::Name => "name",
        }
    }

    fn next(self) -> SortBy {
        match self {
            SortBy::Cpu => SortBy::Mem,
            SortBy::Mem => SortBy::Pid,
            SortBy::Pid => SortBy::Name,
            SortBy::Name => SortBy::Cpu,
        }
    }
}

#[derive(Debug, Clone)]
enum Pending {
    Watch,
    Unwatch,
    Range {
        metric: String,
        window: Window,
    },
    Signal {
        pid: u32,
        name: String,
        signal: &'static str,
    },
}

/// The Dashboard tab. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct DashboardState {
    connected: bool,
    signed_in: bool,
    watching: bool,
    outbox: Vec<Outgoing>,
    next_tag: u64,
    pending: HashMap<u64, Pending>,
    /// Live samples, oldest first (values only; the processes of the
    /// latest are kept apart).
    live: VecDeque<(u64, BTreeMap<String, f64>)>,
    latest: Option<Sample>,
    alerts: Vec<Alert>,
    viewers: Vec<Viewer>,
    metric: String,
    window: Window,
    /// The history of (metric, window), when fetched.
    series: Option<(String, Window, Vec<Point>)>,
    /// The chart's cursor, in chart columns from the left.
    cursor: Option<u16>,
    /// The chart's width when last drawn (for the cursor's range).
    chart_width: u16,
    sort: SortBy,
    filter: String,
    editing: Option<LineEditor>,
    selected: usize,
    error: Option<String>,
    /// The "send a signal" prompt, while open.
    prompt: Option<SignalPrompt>,
    /// What the last signal did ("sent SIGTERM to 1234 (sleep)" or the
    /// daemon's refusal).
    notice: Option<String>,
}

impl DashboardState {
    /// A state before any connection.
    pub fn new() -> Self {
        DashboardState {
            metric: "cpu.total".into(),
            chart_width: 60,
            ..DashboardState::default()
        }
    }

    fn send(&mut self, op: impl Into<Op>, pending: Pending) {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.insert(tag, pending);
        self.outbox.push(Outgoing { tag, op: op.into() });
    }

    /// The latest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.latest.as_ref()
    }

    /// The alerts, firing first.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// Who is watching.
    pub fn viewers(&self) -> &[Viewer] {
        &self.viewers
    }

    /// The charted metric and window.
    pub fn chart(&self) -> (&str, Window) {
        (&self.metric, self.window)
    }

    /// Whether the tab is following the live samples.
    pub fn watching(&self) -> bool {
        self.watching
    }

    /// The process table as shown: filtered, sorted.
    pub fn processes(&self) -> Vec<&ProcessInfo> {
        let Some(sample) = &self.latest else {
            return Vec::new();
        };
        let needle = self.filter.to_lowercase();
        let mut list: Vec<&ProcessInfo> = sample
            .processes
            .iter()
            .filter(|p| {
                needle.is_empty()
                    || p.name.to_lowercase().contains(&needle)
                    || p.cmd.to_lowercase().contains(&needle)
            })
            .collect();
        match self.sort {
            SortBy::Cpu => list.sort_by(|a, b| b.cpu_pct.total_cmp(&a.cpu_pct)),
            SortBy::Mem => list.sort_by_key(|p| std::cmp::Reverse(p.rss_bytes)),
            SortBy::Pid => list.sort_by_key(|p| p.pid),
            SortBy::Name => list.sort_by(|a, b| a.name.cmp(&b.name)),
        }
        list
    }

    /// The chart's points for the metric and window: `(ts_ms, value)`,
    /// oldest first, from history or the live samples.
    pub fn points(&self) -> Vec<(u64, f64)> {
        if self.window.from_history() {
            return match &self.series {
                Some((m, w, points)) if *m == self.metric && *w == self.window => {
                    points.iter().map(|p| (p.ts_ms, p.avg)).collect()
                }
                _ => Vec::new(),
            };
        }
        let Some(now) = self.live.back().map(|(t, _)| *t) else {
            return Vec::new();
        };
        let from = now.saturating_sub(self.window.ms());
        self.live
            .iter()
            .filter(|(t, _)| *t >= from)
            .filter_map(|(t, v)| v.get(&self.metric).map(|v| (*t, *v)))
            .collect()
    }

    /// The point under the cursor, if the cursor is shown.
    pub fn cursor_point(&self) -> Option<(u64, f64)> {
        let col = self.cursor?;
        let points = self.points();
        let (first, last) = (points.first()?.0, points.last()?.0);
        let width = u64::from(self.chart_width.max(2) - 1);
        let at = first + (last - first) * u64::from(col) / width;
        points.into_iter().min_by_key(|(t, _)| t.abs_diff(at))
    }

    /// The values of a metric over the live samples (for sparklines).
    pub fn live_values(&self, metric: &str) -> Vec<f64> {
        self.live
            .iter()
            .map(|(_, v)| v.get(metric).copied().unwrap_or(0.0))
            .collect()
    }

    /// The "send a signal" prompt, while open.
    pub fn prompt(&self) -> Option<&SignalPrompt> {
        self.prompt.as_ref()
    }

    /// What the last signal did.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    fn prompt_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some(prompt) = &mut self.prompt else {
            return KeyOutcome::NotConsumed;
        };
        match prompt.handle_key(key) {
            PromptKey::Stay => {}
            PromptKey::Cancel => {
                self.prompt = None;
                self.notice = Some("no signal sent".into());
            }
            PromptKey::Send(pid, signal) => {
                let name = prompt.name.clone();
                self.prompt = None;
                self.notice = Some(format!("sending SIG{signal} to {pid} ({name})…"));
                self.send(
                    MetricsOp::Signal {
                        pid,
                        signal: signal.into(),
                    },
                    Pending::Signal { pid, name, signal },
                );
            }
        }
        KeyOutcome::Consumed
    }

    /// The filter, applied and being typed.
    pub fn filter(&self) -> (&str, Option<&LineEditor>) {
        (&self.filter, self.editing.as_ref())
    }

    fn metric_names(&self) -> Vec<String> {
        self.latest
            .as_ref()
            .map(|s| s.values.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn fetch(&mut self) {
        if !self.window.from_history() || !self.watching {
            return;
        }
        let Some(now) = self.latest.as_ref().map(|s| s.ts_ms) else {
            return;
        };
        let ms = self.window.ms();
        // About one point per column, whole seconds.
        let step = (ms / u64::from(self.chart_width.max(10)) / 1000).max(1) * 1000;
        self.send(
            MetricsOp::Range {
                metric: self.metric.clone(),
                from_ms: now.saturating_sub(ms),
                to_ms: now + 1,
                step_ms: step,
            },
            Pending::Range {
                metric: self.metric.clone(),
                window: self.window,
            },
        );
    }

    fn add_sample(&mut self, sample: Sample) {
        if self.live.back().is_some_and(|(t, _)| *t >= sample.ts_ms) {
            return;
        }
        if self.live.len() == LIVE {
            self.live.pop_front();
        }
        self.live.push_back((sample.ts_ms, sample.values.clone()));
        self.latest = Some(sample);
    }

    fn set_alert(&mut self, name: &str, alert: Option<Alert>) {
        self.alerts.retain(|a| a.name != name);
        if let Some(alert) = alert {
            self.alerts.push(alert);
        }
        let rank = |s: AlertState| match s {
            AlertState::Firing => 0,
            AlertState::Pending => 1,
            _ => 2,
        };
        self.alerts
            .sort_by(|a, b| rank(a.state).cmp(&rank(b.state)).then(a.name.cmp(&b.name)));
    }

    fn watch(&mut self) {
        if self.connected && self.signed_in && !self.watching {
            self.watching = true;
            self.send(MetricsOp::Watch { view: "tui".into() }, Pending::Watch);
        }
    }

    fn filter_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some(edit) = &mut self.editing else {
            return KeyOutcome::NotConsumed;
        };
        match key.code {
            KeyCode::Enter => {
                self.filter = edit.text();
                self.editing = None;
                self.selected = 0;
            }
            KeyCode::Esc => self.editing = None,
            _ => {
                edit.edit(key);
            }
        }
        KeyOutcome::Consumed
    }
}

impl Tab for DashboardState {
    fn title(&self) -> &'static str {
        "Dashboard"
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &KEYS
    }

    fn types_text(&self) -> bool {
        self.editing.is_some()
    }

    fn follows(&self) -> Option<Service> {
        Some(Service::Metrics)
    }

    fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        if self.editing.is_some() {
            return self.filter_key(key);
        }
        if self.prompt.is_some() {
            return self.prompt_key(key);
        }
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return KeyOutcome::NotConsumed;
        }
        let rows = self.processes().len();
        match key.code {
            KeyCode::Char('m') | KeyCode::Char('M') => {
                let names = self.metric_names();
                if !names.is_empty() {
                    let at = names.iter().position(|n| *n == self.metric).unwrap_or(0);
                    let by = if key.code == KeyCode::Char('m') {
                        1
                    } else {
                        names.len() - 1
                    };
                    self.metric = names[(at + by) % names.len()].clone();
                    self.fetch();
                }
            }
            KeyCode::Char('w') => {
                self.window = self.window.step(1);
                self.fetch();
            }
            KeyCode::Char('W') => {
                self.window = self.window.step(-1);
                self.fetch();
            }
            KeyCode::Char('r') => self.fetch(),
            KeyCode::Char('h') | KeyCode::Char('[') => {
                let at = self.cursor.unwrap_or(self.chart_width.saturating_sub(1));
                self.cursor = Some(at.saturating_sub(1));
            }
            KeyCode::Char('l') | KeyCode::Char(']') => {
                let last = self.chart_width.saturating_sub(1);
                let at = self.cursor.map_or(last, |c| (c + 1).min(last));
                self.cursor = Some(at);
            }
            KeyCode::Esc if self.cursor.is_some() => self.cursor = None,
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.selected = 0;
            }
            KeyCode::Char('/') => {
                let mut edit = LineEditor::default();
                edit.set_text(&self.filter);
                self.editing = Some(edit);
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(rows.saturating_sub(1));
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = rows.saturating_sub(1),
            KeyCode::Char('x') => {
                let at = self.selected.min(rows.saturating_sub(1));
                if let Some(p) = self.processes().get(at) {
                    self.prompt = Some(SignalPrompt::new(p.pid, &p.name));
                }
            }
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    fn on_connected(&mut self, user: Option<&str>) {
        self.connected = true;
        self.signed_in = user.is_some();
        self.watching = false;
        self.pending.clear();
        self.error = None;
    }

    fn on_disconnected(&mut self) {
        self.connected = false;
        self.watching = false;
        self.pending.clear();
    }

    fn on_show(&mut self) {
        self.watch();
    }

    fn on_tick(&mut self, _now: Instant, shown: bool) {
        if shown {
            self.watch();
        } else if self.watching {
            self.watching = false;
            self.send(MetricsOp::Unwatch, Pending::Unwatch);
        }
    }

    fn on_resize(&mut self, area: Rect) {
        self.chart_width = view::chart_width(area);
        if let Some(c) = self.cursor {
            self.cursor = Some(c.min(self.chart_width.saturating_sub(1)));
        }
    }

    fn on_push(&mut self, event: Event) {
        let Event::Metrics(event) = event else {
            return;
        };
        match event {
            MetricsEvent::Tick { sample } => {
                if self.watching {
                    self.add_sample(sample);
                }
            }
            // Another node's rule (a fleet): listed beside this node's
            // own, as NAME@NODE.
            MetricsEvent::AlertChanged {
                node: Some(node),
                alert,
                name,
                ..
            } => {
                let key = format!("{name}@{node}");
                let alert = alert.map(|a| Alert {
                    name: key.clone(),
                    ..*a
                });
                self.set_alert(&key, alert);
            }
            MetricsEvent::AlertChanged { alert, name, .. } => {
                self.set_alert(&name, alert.map(|a| *a))
            }
            MetricsEvent::Viewers { viewers } => self.viewers = viewers,
        }
    }

    fn on_reply(&mut self, tag: u64, result: Result<Reply, String>) {
        let Some(pending) = self.pending.remove(&tag) else {
            return;
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(err) => {
                match pending {
                    Pending::Signal { .. } => self.notice = Some(err),
                    Pending::Watch => {
                        self.watching = false;
                        self.error = Some(err);
                    }
                    _ => self.error = Some(err),
                }
                return;
            }
        };
        self.error = None;
        match (pending, reply) {
            (
                Pending::Watch,
                Reply::Metrics(MetricsReply::Watching {
                    recent,
                    alerts,
                    viewers,
                }),
            ) => {
                for sample in recent {
                    self.add_sample(sample);
                }
                self.alerts.clear();
                for alert in alerts {
                    let name = alert.name.clone();
                    self.set_alert(&name, Some(alert));
                }
                self.viewers = viewers;
                self.fetch();
            }
            (
                Pending::Range { metric, window },
                Reply::Metrics(MetricsReply::Series { points, .. }),
            ) => self.series = Some((metric, window, points)),
            (Pending::Signal { pid, name, signal }, _) => {
                self.notice = Some(format!("sent SIG{signal} to {pid} ({name})"));
            }
            _ => {}
        }
    }

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        view::View { state: self }.render(area, buf);
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        view::filter_cursor(self, area)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
