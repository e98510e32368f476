//! The Cache tab's state: a key browser over SCAN (with a filter), the
//! selected key's type, TTL (counting down), size and value, gauges from
//! INFO (ops/s, hit ratio, memory), and a channel monitor.
//!
//! Like every tab it does no I/O: requests are queued as [`Outgoing`]s
//! and every clock reading comes in through [`Tab::on_tick`]. Every
//! command it sends is *quiet* (`cache_command` with `quiet`), so its own
//! browsing counts in none of the figures it shows. The keys are scanned
//! as soon as the tab is shown ([`Tab::on_show`]), and again on `r` or a
//! new filter; INFO is asked then and every second while shown.
//!
//! - `format`: values and bytes as redis-cli shows them (also used by the
//!   CLI);
//! - `cluster`: the cluster panel, shown when the daemon is clustered
//!   (`cache_cluster_status`, asked with INFO);
//! - `stats`: the figures read from INFO;
//! - `view`: drawing, as `impl Widget for &CacheState`.

pub mod cluster;
pub mod format;
mod stats;
mod view;

pub use view::human_bytes;

pub use stats::Stats;

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use agora_wire::{CacheEvent, CacheOp, CacheReply, CacheValue, Event, Op, Reply, Service};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Widget;
use serde_bytes::ByteBuf;

use crate::line_editor::LineEditor;
use crate::tab::{KeyOutcome, Outgoing, Tab};
use cluster::ClusterView;
use format::printable;
/// The most keys the browser lists.
pub const MAX_KEYS: usize = 500;
/// How often INFO is asked for while the tab is shown.
const INFO_EVERY: Duration = Duration::from_secs(1);
/// Messages the monitor keeps.
const MONITOR_LINES: usize = 100;
/// The pattern the monitor subscribes to.
pub const MONITOR_PATTERN: &str = "*";

/// The tab's own keys, for the help popup.
pub const KEYS: [(&str, &str); 7] = [
    ("Up/Down, j/k", "select a key"),
    ("PgUp/PgDn", "move ten keys"),
    ("g/Home, G/End", "first / last key"),
    ("/", "filter keys (glob; Enter applies, Esc cancels)"),
    ("  Ctrl-U, Home/End", "in the filter: clear, start / end"),
    ("r", "scan the keys again"),
    ("m", "start or stop the channel monitor"),
];

/// What is known about the selected key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detail {
    /// The key.
    pub key: Vec<u8>,
    /// string, list, hash, or none (gone).
    pub kind: Option<String>,
    /// PTTL when fetched (-1: no expiry) and the tick time it arrived.
    pub ttl: Option<(i64, Option<Instant>)>,
    /// Bytes (string) or elements (list, hash).
    pub size: Option<i64>,
    /// The value, or its first elements.
    pub value: Option<CacheValue>,
}

#[derive(Debug, Clone)]
enum Pending {
    Scan,
    Info,
    Type(Vec<u8>),
    Ttl(Vec<u8>),
    Size(Vec<u8>),
    Value(Vec<u8>),
    Monitor,
    Cluster,
}

/// The Cache tab. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct CacheState {
    connected: bool,
    outbox: Vec<Outgoing>,
    next_tag: u64,
    pending: HashMap<u64, Pending>,
    keys: Vec<Vec<u8>>,
    scanning: bool,
    needs_scan: bool,
    filter: String,
    /// The filter being typed, while the prompt is open.
    editing: Option<LineEditor>,
    selected: usize,
    detail: Option<Detail>,
    stats: Option<Stats>,
    next_info: Option<Instant>,
    now: Option<Instant>,
    monitoring: bool,
    monitor: VecDeque<String>,
    error: Option<String>,
    cluster: Option<ClusterView>,
}

impl CacheState {
    /// A state before any connection.
    pub fn new() -> Self {
        CacheState {
            needs_scan: true,
            ..CacheState::default()
        }
    }

    /// The keys listed, in scan order.
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// The selected key's index.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The applied filter, and the one being typed.
    pub fn filter(&self) -> (&str, Option<&LineEditor>) {
        (&self.filter, self.editing.as_ref())
    }

    /// What is known about the selected key.
    pub fn detail(&self) -> Option<&Detail> {
        self.detail.as_ref()
    }

    /// The latest INFO figures.
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_ref()
    }

    /// Whether a scan is under way.
    pub fn scanning(&self) -> bool {
        self.scanning
    }

    /// Whether the list is not known yet: a scan is under way, or one is
    /// due and nothing is listed (so the view says "loading…", not 0).
    pub fn loading(&self) -> bool {
        self.scanning || (self.needs_scan && self.keys.is_empty())
    }

    /// Whether the monitor is on, and its lines (oldest first).
    pub fn monitor(&self) -> (bool, &VecDeque<String>) {
        (self.monitoring, &self.monitor)
    }

    /// The cluster, when the daemon is one node of one.
    pub fn cluster(&self) -> Option<&ClusterView> {
        self.cluster.as_ref()
    }

    /// The last error, for the tab's status line.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The remaining TTL in ms of the selected key at the last tick.
    pub fn ttl_now(&self) -> Option<i64> {
        let (ttl, at) = self.detail.as_ref()?.ttl?;
        if ttl < 0 {
            return Some(ttl);
        }
        let elapsed = match (at, self.now) {
            (Some(at), Some(now)) => now.saturating_duration_since(at).as_millis() as i64,
            _ => 0,
        };
        Some((ttl - elapsed).max(0))
    }

    /// The connection is up (again): everything is fetched anew.
    fn connected(&mut self) {
        self.connected = true;
        self.pending.clear();
        self.scanning = false;
        self.needs_scan = true;
        self.next_info = None;
        if self.monitoring {
            self.subscribe_monitor(true);
        }
    }

    /// The connection dropped; answers in flight will not come.
    fn disconnected(&mut self) {
        self.connected = false;
        self.pending.clear();
        self.scanning = false;
    }

    /// The tab came on screen: what it shows is fetched at once.
    fn show(&mut self) {
        if !self.connected {
            return;
        }
        if self.needs_scan && !self.scanning {
            self.start_scan();
        }
        self.ask_info();
        self.next_info = self.now.map(|now| now + INFO_EVERY);
    }

    /// Time passed; `shown` says whether the tab is on screen (nothing is
    /// polled while it is not).
    fn tick(&mut self, now: Instant, shown: bool) {
        self.now = Some(now);
        if !shown || !self.connected {
            return;
        }
        if self.needs_scan && !self.scanning {
            self.start_scan();
        }
        if self.next_info.is_none_or(|t| now >= t) {
            self.next_info = Some(now + INFO_EVERY);
            self.ask_info();
        }
    }

    /// Asks for INFO and the cluster's state unless answers are already
    /// on their way.
    fn ask_info(&mut self) {
        if !self.pending.values().any(|p| matches!(p, Pending::Info)) {
            self.command(Pending::Info, &["INFO"]);
        }
        if !self.pending.values().any(|p| matches!(p, Pending::Cluster)) {
            self.request(Pending::Cluster, CacheOp::ClusterStatus);
        }
    }

    /// Scans again now (when connected), dropping a scan under way.
    fn rescan(&mut self) {
        self.needs_scan = true;
        if self.connected {
            self.start_scan();
        }
    }

    fn request(&mut self, pending: Pending, op: impl Into<Op>) {
        self.next_tag += 1;
        let tag = self.next_tag;
        self.pending.insert(tag, pending);
        self.outbox.push(Outgoing { tag, op: op.into() });
    }

    /// Queues a cache command. Every one is quiet: the tab's own browsing
    /// must not count in the ops/s and hit ratio it shows, nor make the
    /// keys it looks at look recently used.
    fn command<A: AsRef<[u8]>>(&mut self, pending: Pending, args: &[A]) {
        let args = args
            .iter()
            .map(|a| ByteBuf::from(a.as_ref().to_vec()))
            .collect();
        self.request(pending, CacheOp::Command { args, quiet: true });
    }

    fn pattern(&self) -> String {
        if self.filter.is_empty() {
            "*".into()
        } else if self.filter.contains(['*', '?', '[']) {
            self.filter.clone()
        } else {
            format!("*{}*", self.filter)
        }
    }

    fn start_scan(&mut self) {
        // Pages of an older scan (another filter) are not wanted any more.
        self.pending.retain(|_, p| !matches!(p, Pending::Scan));
        self.needs_scan = false;
        self.scanning = true;
        self.keys.clear();
        self.scan_from(b"0".to_vec());
    }

    fn scan_from(&mut self, cursor: Vec<u8>) {
        let pattern = self.pattern();
        self.command(
            Pending::Scan,
            &[
                b"SCAN".to_vec(),
                cursor,
                b"MATCH".to_vec(),
                pattern.into_bytes(),
                b"COUNT".to_vec(),
                b"200".to_vec(),
            ],
        );
    }

    fn select(&mut self, index: usize) {
        if self.keys.is_empty() {
            self.detail = None;
            return;
        }
        self.selected = index.min(self.keys.len() - 1);
        let key = self.keys[self.selected].clone();
        if self.detail.as_ref().is_some_and(|d| d.key == key) {
            return;
        }
        self.detail = Some(Detail {
            key: key.clone(),
            ..Detail::default()
        });
        if self.connected {
            self.command(Pending::Type(key.clone()), &[&b"TYPE"[..], &key]);
            self.command(Pending::Ttl(key.clone()), &[&b"PTTL"[..], &key]);
        }
    }

    fn subscribe_monitor(&mut self, on: bool) {
        let patterns = vec![ByteBuf::from(MONITOR_PATTERN.as_bytes().to_vec())];
        let op = if on {
            CacheOp::Subscribe {
                channels: vec![],
                patterns,
            }
        } else {
            CacheOp::Unsubscribe {
                channels: vec![],
                patterns,
            }
        };
        self.request(Pending::Monitor, op);
    }

    /// A key press while the tab has the keyboard.
    fn key(&mut self, key: KeyEvent) -> KeyOutcome {
        if let Some(edit) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    self.filter = edit.text();
                    self.editing = None;
                    self.selected = 0;
                    self.detail = None;
                    self.rescan();
                }
                KeyCode::Esc => self.editing = None,
                _ if edit.edit(key) => {}
                // The prompt is modal, but Ctrl-C & co. stay the shell's.
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
        match key.code {
            KeyCode::Char('/') => {
                let mut edit = LineEditor::default();
                edit.set_text(&self.filter);
                self.editing = Some(edit);
            }
            KeyCode::Char('r') => {
                self.detail = None;
                self.rescan();
            }
            KeyCode::Char('m') => {
                self.monitoring = !self.monitoring;
                if self.connected {
                    self.subscribe_monitor(self.monitoring);
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.select(self.selected + 1),
            KeyCode::Up | KeyCode::Char('k') => self.select(self.selected.saturating_sub(1)),
            KeyCode::PageDown => self.select(self.selected + 10),
            KeyCode::PageUp => self.select(self.selected.saturating_sub(10)),
            KeyCode::Home | KeyCode::Char('g') => self.select(0),
            KeyCode::End | KeyCode::Char('G') => self.select(usize::MAX),
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    /// A push: monitor lines.
    fn push(&mut self, event: CacheEvent) {
        let CacheEvent::Message {
            channel, payload, ..
        } = event;
        if !self.monitoring {
            return;
        }
        if self.monitor.len() == MONITOR_LINES {
            self.monitor.pop_front();
        }
        self.monitor
            .push_back(format!("{} {}", printable(&channel), printable(&payload)));
    }

    /// The answer to a request of this tab.
    fn reply(&mut self, tag: u64, result: Result<Reply, String>) {
        let Some(pending) = self.pending.remove(&tag) else {
            return;
        };
        if let Pending::Cluster = pending {
            // A daemon without the operation (older) is left alone: no
            // panel, no error.
            self.cluster = match result {
                Ok(Reply::Cache(CacheReply::Cluster {
                    cluster,
                    mode,
                    nodes,
                })) => ClusterView::from_reply(cluster, mode, nodes),
                _ => None,
            };
            return;
        }
        let value = match result {
            Ok(Reply::Cache(CacheReply::Value {
                value: CacheValue::Error { message },
            }))
            | Err(message) => {
                if matches!(pending, Pending::Scan) {
                    self.scanning = false;
                }
                self.error = Some(message);
                return;
            }
            Ok(Reply::Cache(CacheReply::Value { value })) => value,
            Ok(_) => return,
        };
        self.error = None;
        match pending {
            Pending::Scan => self.on_scan(value),
            Pending::Info => {
                if let Some(text) = value.as_bytes() {
                    self.stats = Some(Stats::parse(&String::from_utf8_lossy(text)));
                }
            }
            Pending::Type(key) => {
                let kind = value
                    .as_bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned());
                let Some(d) = self.detail.as_mut().filter(|d| d.key == key) else {
                    return;
                };
                d.kind = kind.clone();
                let (size, fetch): (&[u8], Vec<&[u8]>) = match kind.as_deref() {
                    Some("string") => (b"STRLEN", vec![b"GETRANGE", &key, b"0", b"1023"]),
                    Some("list") => (b"LLEN", vec![b"LRANGE", &key, b"0", b"49"]),
                    Some("hash") => (b"HLEN", vec![b"HGETALL", &key]),
                    // Up to 50 members: all of a small set, in insertion
                    // order; a sample of a big one.
                    Some("set") => (b"SCARD", vec![b"SRANDMEMBER", &key, b"50"]),
                    Some("zset") => (b"ZCARD", vec![b"ZRANGE", &key, b"0", b"49", b"WITHSCORES"]),
                    // Length, last ID, groups, first and last entries.
                    Some("stream") => (b"XLEN", vec![b"XINFO", &key, b"STREAM"]),
                    _ => return,
                };
                let fetch: Vec<Vec<u8>> = fetch.into_iter().map(<[u8]>::to_vec).collect();
                self.command(Pending::Size(key.clone()), &[size, &key]);
                self.command(Pending::Value(key.clone()), &fetch);
            }
            Pending::Ttl(key) => {
                let now = self.now;
                if let Some(d) = self.detail.as_mut().filter(|d| d.key == key) {
                    d.ttl = value.as_int().map(|t| (t, now));
                }
            }
            Pending::Size(key) => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.key == key) {
                    d.size = value.as_int();
                }
            }
            Pending::Value(key) => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.key == key) {
                    d.value = Some(value);
                }
            }
            Pending::Monitor | Pending::Cluster => {}
        }
    }

    fn on_scan(&mut self, value: CacheValue) {
        let CacheValue::Array { items } = value else {
            self.scanning = false;
            return;
        };
        let mut items = items.into_iter();
        let cursor = items.next().and_then(|c| c.as_bytes().map(<[u8]>::to_vec));
        if let Some(CacheValue::Array { items }) = items.next() {
            for k in items {
                if let CacheValue::Bulk { value } = k
                    && self.keys.len() < MAX_KEYS
                {
                    self.keys.push(value);
                }
            }
        }
        match cursor {
            Some(c) if c != b"0" && self.keys.len() < MAX_KEYS => self.scan_from(c),
            _ => {
                self.scanning = false;
                self.keys.sort();
                let index = self.selected;
                self.detail = None;
                self.select(index);
            }
        }
    }
}

impl Tab for CacheState {
    fn title(&self) -> &'static str {
        "Cache"
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &KEYS
    }

    fn types_text(&self) -> bool {
        // While the filter prompt is open, q, ? and digits are typed.
        self.editing.is_some()
    }

    fn follows(&self) -> Option<Service> {
        Some(Service::Cache)
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
            Event::Cache(event) => self.push(event),
            other => tracing::debug!(event = other.name(), "cache tab ignores event"),
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
pub(crate) mod tests;
