//! The Jobs tab's state: counts by state, the queue table (waiting,
//! running, retryable and dead jobs, a throughput sparkline, paused
//! marker), a job list filtered by state, queue and kind, a job's detail
//! (arguments, attempts, errors, result), and actions — retry, cancel,
//! discard, pause/resume a queue, and retry or discard every dead job after
//! a confirmation.
//!
//! Like every tab it does no I/O: requests are queued as [`Outgoing`]s and
//! the clock comes in through [`Tab::on_tick`]. It subscribes to the `jobs`
//! topic the first time it is shown on a connection; a push marks the figures stale, and they are
//! asked again at most every [`REFRESH`] while the tab is shown (a burst
//! of thousands of changes costs one `jobs_stats` and one `jobs_list`).
//! The stats are also asked every second while shown, for the sparklines.
//!
//! - `view`: drawing, as `impl Widget for &JobsState`.

mod view;

use std::any::Any;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use agora_wire::jobs::{JOBS_TOPIC, Job, JobState, QueueInfo, StateCounts};
use agora_wire::{BaseOp, Event, JobsEvent, JobsOp, JobsReply, Op, Reply, Service};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Widget;

use crate::line_editor::LineEditor;
use crate::tab::{KeyOutcome, Outgoing, Tab};

/// The most often the figures are fetched again after pushes.
pub const REFRESH: Duration = Duration::from_millis(500);
/// How often the stats are asked while the tab is shown.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// How many jobs the list shows.
pub const LIST_LIMIT: u32 = 200;

/// The tab's own keys, for the help popup.
pub const KEYS: [(&str, &str); 8] = [
    ("↑/↓, j/k, g/G", "select a job (or a queue, after v)"),
    ("v", "switch between the job list and the queue table"),
    (
        "Enter / Esc",
        "job: open / close its detail; queue: list its jobs",
    ),
    (
        "s, /, x",
        "filter by state (cycles), by kind; clear the filters",
    ),
    ("r, c, d", "retry, cancel, discard the selected job"),
    ("p", "pause or resume the selected queue"),
    ("R, D", "retry / discard every dead job (asks first)"),
    ("  y / n", "confirm / refuse a bulk action"),
];

/// Which list the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The job list.
    #[default]
    Jobs,
    /// The queue table.
    Queues,
}

/// A bulk action waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Retry every dead job (of the queue, if one is filtered).
    RetryDead(Option<String>),
    /// Discard every dead job (of the queue, if one is filtered).
    DiscardDead(Option<String>),
}

impl Confirm {
    /// The question asked.
    pub fn question(&self, dead: u64) -> String {
        let (verb, queue) = match self {
            Confirm::RetryDead(q) => ("Retry", q),
            Confirm::DiscardDead(q) => ("Discard", q),
        };
        let which = match queue {
            Some(q) => format!("queue {q}'s dead jobs"),
            None => format!("all {dead} dead jobs"),
        };
        format!("{verb} {which}? y/n")
    }
}

#[derive(Debug, Clone)]
enum Pending {
    Subscribe,
    Stats,
    List,
    Detail(u64),
    Action(String),
}

/// The Jobs tab. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct JobsState {
    connected: bool,
    subscribed: bool,
    outbox: Vec<Outgoing>,
    next_tag: u64,
    pending: HashMap<u64, Pending>,
    counts: Option<StateCounts>,
    queues: Vec<QueueInfo>,
    jobs: Option<Vec<Job>>,
    more: bool,
    state_filter: Option<JobState>,
    queue_filter: Option<String>,
    kind_filter: String,
    /// The kind filter being typed.
    editing: Option<LineEditor>,
    focus: Focus,
    selected: usize,
    selected_queue: usize,
    /// The job whose detail is open, as last fetched.
    detail: Option<Job>,
    confirm: Option<Confirm>,
    /// The last action's outcome or error, for the status line.
    message: Option<String>,
    stale: bool,
    now: Option<Instant>,
    last_fetch: Option<Instant>,
    next_stats: Option<Instant>,
}

impl JobsState {
    /// A state before any connection.
    pub fn new() -> Self {
        JobsState::default()
    }

    /// Counts by state, once known.
    pub fn counts(&self) -> Option<&StateCounts> {
        self.counts.as_ref()
    }

    /// The queues, by name.
    pub fn queues(&self) -> &[QueueInfo] {
        &self.queues
    }

    /// The listed jobs, newest first (`None` until the first answer).
    pub fn jobs(&self) -> Option<&[Job]> {
        self.jobs.as_deref()
    }

    /// Whether more jobs match than are listed.
    pub fn more(&self) -> bool {
        self.more
    }

    /// The filters: state, queue, kind, and the kind being typed.
    pub fn filters(&self) -> (Option<JobState>, Option<&str>, &str, Option<&LineEditor>) {
        (
            self.state_filter,
            self.queue_filter.as_deref(),
            &self.kind_filter,
            self.editing.as_ref(),
        )
    }

    /// Which list has the arrows.
    pub fn focus(&self) -> Focus {
        self.focus
    }

    /// The selected job's and queue's index.
    pub fn selection(&self) -> (usize, usize) {
        (self.selected, self.selected_queue)
    }

    /// The open detail.
    pub fn detail(&self) -> Option<&Job> {
        self.detail.as_ref()
    }

    /// The question waiting for y/n.
    pub fn confirm(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }

    /// The status line's message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    fn selected_job(&self) -> Option<&Job> {
        self.jobs.as_ref()?.get(self.selected)
    }

    fn selected_queue_name(&self) -> Option<String> {
        self.queues.get(self.selected_queue).map(|q| q.name.clone())
    }

    fn request(&mut self, pending: Pending, op: impl Into<Op>) {
        if !self.connected {
            return;
        }
        self.next_tag += 1;
        let tag = self.next_tag;
        self.pending.insert(tag, pending);
        self.outbox.push(Outgoing { tag, op: op.into() });
    }

    fn asking(&self, what: fn(&Pending) -> bool) -> bool {
        self.pending.values().any(what)
    }

    /// Asks for the stats and the list (unless already on their way).
    fn fetch(&mut self) {
        self.stale = false;
        self.last_fetch = self.now;
        self.ask_stats();
        if !self.asking(|p| matches!(p, Pending::List)) {
            let kind = (!self.kind_filter.is_empty()).then(|| self.kind_filter.clone());
            self.request(
                Pending::List,
                JobsOp::List {
                    state: self.state_filter,
                    queue: self.queue_filter.clone(),
                    kind,
                    before: None,
                    limit: Some(LIST_LIMIT),
                },
            );
        }
        if let Some(id) = self.detail.as_ref().map(|j| j.id) {
            self.request(Pending::Detail(id), JobsOp::Get { id });
        }
    }

    fn ask_stats(&mut self) {
        if !self.asking(|p| matches!(p, Pending::Stats)) {
            self.request(Pending::Stats, JobsOp::Stats);
        }
    }

    /// The filters changed: the list starts over.
    fn refilter(&mut self) {
        self.jobs = None;
        self.selected = 0;
        self.detail = None;
        self.pending.retain(|_, p| !matches!(p, Pending::List));
        self.fetch();
    }

    fn connected(&mut self) {
        self.connected = true;
        self.subscribed = false;
        self.pending.clear();
        self.stale = true;
    }

    fn disconnected(&mut self) {
        self.connected = false;
        self.pending.clear();
        self.confirm = None;
    }

    fn show(&mut self) {
        // The topic is followed from the first time the tab is shown on
        // this connection (nothing is asked of a tab never looked at).
        if self.connected && !self.subscribed {
            self.subscribed = true;
            self.request(
                Pending::Subscribe,
                BaseOp::Subscribe {
                    topics: vec![JOBS_TOPIC.into()],
                },
            );
        }
        if self.connected {
            self.fetch();
            self.next_stats = self.now.map(|n| n + STATS_EVERY);
        }
    }

    fn tick(&mut self, now: Instant, shown: bool) {
        self.now = Some(now);
        if !shown || !self.connected {
            return;
        }
        let due = self.last_fetch.is_none_or(|t| now >= t + REFRESH);
        if self.stale && due {
            self.fetch();
        } else if self.next_stats.is_none_or(|t| now >= t) {
            self.ask_stats();
        }
        if self.next_stats.is_none_or(|t| now >= t) {
            self.next_stats = Some(now + STATS_EVERY);
        }
    }

    fn select(&mut self, index: usize) {
        match self.focus {
            Focus::Jobs => {
                let n = self.jobs.as_ref().map_or(0, Vec::len);
                self.selected = index.min(n.saturating_sub(1));
            }
            Focus::Queues => {
                self.selected_queue = index.min(self.queues.len().saturating_sub(1));
            }
        }
    }

    fn action(&mut self, what: String, op: JobsOp) {
        self.message = Some(format!("{what}…"));
        self.request(Pending::Action(what), op);
    }

    fn key(&mut self, key: KeyEvent) -> KeyOutcome {
        if let Some(edit) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    self.kind_filter = edit.text().trim().to_owned();
                    self.editing = None;
                    self.refilter();
                }
                KeyCode::Esc => self.editing = None,
                _ if edit.edit(key) => {}
                _ if key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
                {
                    return KeyOutcome::NotConsumed;
                }
                _ => {}
            }
            return KeyOutcome::Consumed;
        }
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return KeyOutcome::NotConsumed;
        }
        if let Some(confirm) = self.confirm.take() {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    let (what, op) = match confirm {
                        Confirm::RetryDead(queue) => (
                            "retry dead jobs".to_owned(),
                            JobsOp::Retry {
                                id: None,
                                all_dead: true,
                                queue,
                            },
                        ),
                        Confirm::DiscardDead(queue) => (
                            "discard dead jobs".to_owned(),
                            JobsOp::Discard {
                                id: None,
                                all_dead: true,
                                queue,
                            },
                        ),
                    };
                    self.action(what, op);
                }
                _ => self.message = Some("nothing done".into()),
            }
            return KeyOutcome::Consumed;
        }
        let page = 10;
        let current = match self.focus {
            Focus::Jobs => self.selected,
            Focus::Queues => self.selected_queue,
        };
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => self.select(current + 1),
            KeyCode::Up | KeyCode::Char('k') => self.select(current.saturating_sub(1)),
            KeyCode::PageDown => self.select(current + page),
            KeyCode::PageUp => self.select(current.saturating_sub(page)),
            KeyCode::Home | KeyCode::Char('g') => self.select(0),
            KeyCode::End | KeyCode::Char('G') => self.select(usize::MAX),
            KeyCode::Char('v') => {
                self.focus = match self.focus {
                    Focus::Jobs => Focus::Queues,
                    Focus::Queues => Focus::Jobs,
                };
                self.detail = None;
            }
            KeyCode::Enter => match self.focus {
                Focus::Jobs => {
                    if let Some(id) = self.selected_job().map(|j| j.id) {
                        self.detail = self.selected_job().cloned();
                        self.request(Pending::Detail(id), JobsOp::Get { id });
                    }
                }
                Focus::Queues => {
                    if let Some(name) = self.selected_queue_name() {
                        self.queue_filter = Some(name);
                        self.focus = Focus::Jobs;
                        self.refilter();
                    }
                }
            },
            KeyCode::Esc if self.detail.is_some() => self.detail = None,
            KeyCode::Char('s') => {
                // None → each state in life order → None.
                self.state_filter = match self.state_filter {
                    None => Some(JobState::ALL[0]),
                    Some(s) => JobState::ALL
                        .iter()
                        .position(|x| *x == s)
                        .and_then(|i| JobState::ALL.get(i + 1))
                        .copied(),
                };
                self.refilter();
            }
            KeyCode::Char('/') => {
                let mut edit = LineEditor::default();
                edit.set_text(&self.kind_filter);
                self.editing = Some(edit);
            }
            KeyCode::Char('x') => {
                self.state_filter = None;
                self.queue_filter = None;
                self.kind_filter.clear();
                self.refilter();
            }
            KeyCode::Char(c @ ('r' | 'c' | 'd')) => {
                let Some(job) = self.selected_job() else {
                    return KeyOutcome::Consumed;
                };
                let id = job.id;
                let (what, op) = match c {
                    'r' => (
                        format!("retry job {id}"),
                        JobsOp::Retry {
                            id: Some(id),
                            all_dead: false,
                            queue: None,
                        },
                    ),
                    'c' => (format!("cancel job {id}"), JobsOp::Cancel { id }),
                    _ => (
                        format!("discard job {id}"),
                        JobsOp::Discard {
                            id: Some(id),
                            all_dead: false,
                            queue: None,
                        },
                    ),
                };
                self.action(what, op);
            }
            KeyCode::Char('p') => {
                let name = match self.focus {
                    Focus::Queues => self.selected_queue_name(),
                    Focus::Jobs => self
                        .queue_filter
                        .clone()
                        .or_else(|| self.selected_job().map(|j| j.queue.clone())),
                };
                let Some(name) = name else {
                    return KeyOutcome::Consumed;
                };
                let paused = self.queues.iter().any(|q| q.name == name && q.paused);
                let verb = if paused { "resume" } else { "pause" };
                self.action(
                    format!("{verb} queue {name}"),
                    JobsOp::QueueSet {
                        queue: name,
                        paused: Some(!paused),
                        concurrency: None,
                        rate: None,
                    },
                );
            }
            KeyCode::Char('R') => {
                self.confirm = Some(Confirm::RetryDead(self.queue_filter.clone()))
            }
            KeyCode::Char('D') => {
                self.confirm = Some(Confirm::DiscardDead(self.queue_filter.clone()))
            }
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    fn push(&mut self, event: JobsEvent) {
        match event {
            JobsEvent::Changed { .. } => self.stale = true,
            JobsEvent::Queue { queue } => {
                match self.queues.iter_mut().find(|q| q.name == queue.name) {
                    Some(q) => *q = *queue,
                    None => self.stale = true,
                }
            }
        }
    }

    fn reply(&mut self, tag: u64, result: Result<Reply, String>) {
        let Some(pending) = self.pending.remove(&tag) else {
            return;
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(message) => {
                self.message = Some(match pending {
                    Pending::Action(what) => format!("{what}: {message}"),
                    _ => message,
                });
                return;
            }
        };
        match (pending, reply) {
            (Pending::Stats, Reply::Jobs(JobsReply::Stats { states, queues })) => {
                self.counts = Some(states);
                self.queues = queues;
                self.select_queue_in_range();
            }
            (Pending::List, Reply::Jobs(JobsReply::List { jobs, more })) => {
                // Keep the same job selected when it is still listed.
                let id = self.selected_job().map(|j| j.id);
                self.jobs = Some(jobs);
                self.more = more;
                let list = self.jobs.as_deref().unwrap_or_default();
                self.selected = id
                    .and_then(|id| list.iter().position(|j| j.id == id))
                    .unwrap_or(self.selected)
                    .min(list.len().saturating_sub(1));
            }
            (Pending::Detail(id), Reply::Jobs(JobsReply::Job { job }))
                if self.detail.as_ref().is_some_and(|d| d.id == id) =>
            {
                self.detail = Some(*job);
            }
            (Pending::Action(what), reply) => {
                self.message = Some(match reply {
                    Reply::Jobs(JobsReply::Count { count }) => {
                        format!("{what}: {count} job{}", if count == 1 { "" } else { "s" })
                    }
                    _ => format!("{what}: done"),
                });
                self.stale = true;
                self.last_fetch = None;
            }
            _ => {}
        }
    }

    fn select_queue_in_range(&mut self) {
        self.selected_queue = self.selected_queue.min(self.queues.len().saturating_sub(1));
    }
}

impl Tab for JobsState {
    fn title(&self) -> &'static str {
        "Jobs"
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &KEYS
    }

    fn types_text(&self) -> bool {
        self.editing.is_some()
    }

    fn follows(&self) -> Option<Service> {
        Some(Service::Jobs)
    }

    fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        self.key(key)
    }

    fn on_connected(&mut self, _user: Option<&str>) {
        self.connected();
    }

    fn on_disconnected(&mut self) {
        self.disconnected();
    }

    fn on_push(&mut self, event: Event) {
        match event {
            Event::Jobs(event) => self.push(event),
            other => tracing::debug!(event = other.name(), "jobs tab ignores event"),
        }
    }

    fn on_reply(&mut self, tag: u64, result: Result<Reply, String>) {
        self.reply(tag, result);
    }

    fn on_show(&mut self) {
        self.show();
    }

    fn on_tick(&mut self, now: Instant, shown: bool) {
        self.tick(now, shown);
    }

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        Widget::render(self, area, buf);
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        view::cursor(self, area)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
