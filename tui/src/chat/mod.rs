//! The Chat tab: rooms, messages, members, private messages and the input
//! line.
//!
//! [`ChatState`] owns what the tab shows and changes only through the pure
//! methods of [`Tab`]: keys, pushes of the chat service, replies,
//! connection changes. Requests to the daemon are not sent from here: they
//! are queued as [`Outgoing`]s (an op plus a tag) that the event loop hands
//! to the connection task, which answers with `ServerEvent::Reply`
//! carrying the same tag. What each tag was for is kept in `pending`, so
//! replies are routed without any I/O here.
//!
//! - `command`: the slash commands (one table for parsing, completion
//!   and `/help`);
//! - `layout`: where each part of the tab goes;
//! - `lines`: the transcript as wrapped, styled lines (counted by the
//!   state for scrolling, shown by the view);
//! - `view`: drawing, as `impl Widget for &ChatState`.
//!
//! The input line is the shared [`LineEditor`] (`line_editor.rs`).
//!
//! Messages are kept per room keyed by sequence number, so history replies
//! and pushes that overlap are merged without duplicates; a reconnect asks
//! for `since` the end of the contiguous run held, so no holes are left.

mod command;
mod layout;
mod lines;
mod view;

use std::any::Any;
use std::collections::{BTreeMap, HashMap};

use agora_wire::chat::{ChatMessage, DirectMessage, LeaveReason, MAX_HISTORY, Presence, Status};
use agora_wire::{BaseReply, ChatEvent, ChatOp, ChatReply, Event, Op, Reply, Service};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Widget;

use crate::line_editor::LineEditor;
use crate::tab::{KeyOutcome, Outgoing, Tab};
use command::Command;

/// What the status line says while nobody is signed in.
const NOT_SIGNED_IN: &str = "not signed in: F2 signs in or registers";

/// How many messages a room's first load and each older page ask for.
const PAGE: u32 = 50;

/// Keys of the Chat tab, for the help popup.
pub const KEYS: [(&str, &str); 8] = [
    ("Enter", "send the line; /help lists commands"),
    ("Up, Down", "previous / next sent line"),
    ("Tab", "complete a nick or command"),
    ("PageUp, PageDown", "scroll; older history loads"),
    ("Ctrl-N, Ctrl-P", "next / previous room (Alt-↓/↑)"),
    ("Home, End", "start / end of the line (Ctrl-A/E)"),
    ("Ctrl-U, W, K", "clear line / word before / rest"),
    ("Esc", "close the command list or message"),
];

/// What the centre of the tab shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// A joined room, by name.
    Room(String),
    /// Private messages.
    Dms,
}

/// How a status-line message should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An answer or a note.
    Info,
    /// Something failed.
    Error,
}

/// The status line inside the tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What to say.
    pub text: String,
    /// How.
    pub level: Level,
}

/// One joined room as the client holds it.
#[derive(Debug, Clone, Default)]
pub struct Room {
    /// The room's name.
    pub name: String,
    /// Its topic; empty when none.
    pub topic: String,
    /// Messages held, by sequence number.
    pub messages: BTreeMap<u64, ChatMessage>,
    /// Members, by name.
    pub members: BTreeMap<String, Presence>,
    /// How many members the room has, when `members` holds only some of
    /// them (a large room: its join reply lists some, and its
    /// `chat_members` digests give counts); `None` when `members` is
    /// the whole list.
    pub total: Option<u32>,
    /// Messages from others since the room was last looked at.
    pub unread: u32,
    /// Whether one of those mentions the user.
    pub mentioned: bool,
    /// Whether the server has messages older than the oldest held.
    pub more_older: bool,
    /// An older page is on its way.
    pub loading_older: bool,
    /// A newest/since history request is on its way.
    pub syncing: bool,
    /// How many lines the view is scrolled up from the newest.
    pub scroll: usize,
}

impl Room {
    fn new(name: &str) -> Self {
        Room {
            name: name.to_string(),
            more_older: true,
            ..Room::default()
        }
    }

    /// The newest sequence number of the run of messages with no gap that
    /// starts at the oldest held; 0 when none are held. A reconnect asks
    /// for history `since` this, so a gap in the middle is refilled too.
    pub fn contiguous_end(&self) -> u64 {
        let mut seqs = self.messages.keys();
        let Some(&first) = seqs.next() else { return 0 };
        let mut end = first;
        for &seq in seqs {
            if seq != end + 1 {
                break;
            }
            end = seq;
        }
        end
    }

    /// The oldest sequence number held.
    pub fn oldest(&self) -> Option<u64> {
        self.messages.keys().next().copied()
    }

    /// The newest sequence number held.
    pub fn newest(&self) -> Option<u64> {
        self.messages.keys().next_back().copied()
    }
}

/// Which history a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HistoryKind {
    /// The newest page (first load).
    Newest,
    /// Everything after a sequence number (reconnect, gap).
    Since,
    /// A page before the oldest held (scrolling up).
    Older,
}

/// What a request in flight was for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Rooms { listing: bool },
    Join,
    Leave(String),
    History { room: String, kind: HistoryKind },
    Who { room: Option<String>, listing: bool },
    Send,
    Topic,
    Away { away: bool },
    Dms,
}

impl Pending {
    /// The request in words, for error messages.
    fn what(&self) -> &'static str {
        match self {
            Pending::Rooms { .. } => "listing rooms",
            Pending::Join => "join",
            Pending::Leave(_) => "leave",
            Pending::History { .. } => "loading history",
            Pending::Who { .. } => "who",
            Pending::Send => "send",
            Pending::Topic => "topic",
            Pending::Away { .. } => "away",
            Pending::Dms => "loading private messages",
        }
    }
}

/// The Chat tab's state. See the module docs.
#[derive(Debug, Clone)]
pub struct ChatState {
    me: Option<String>,
    online: bool,
    rooms: BTreeMap<String, Room>,
    view: View,
    dms: BTreeMap<u64, DirectMessage>,
    dm_unread: u64,
    dm_scroll: usize,
    /// Everyone seen online, for the DMs view's side column.
    everyone: Vec<Presence>,
    input: LineEditor,
    notice: Option<Notice>,
    /// Whether `/help`'s list of commands replaces the transcript.
    help: bool,
    next_tag: u64,
    pending: HashMap<u64, Pending>,
    outbox: Vec<Outgoing>,
    /// The messages area's (width, height) at the current screen size.
    viewport: (u16, u16),
}

impl ChatState {
    /// An empty chat for `me`, offline, sized for an 80x24 screen.
    pub fn new(me: Option<String>) -> Self {
        ChatState {
            me,
            online: false,
            rooms: BTreeMap::new(),
            view: View::Dms,
            dms: BTreeMap::new(),
            dm_unread: 0,
            dm_scroll: 0,
            everyone: Vec::new(),
            input: LineEditor::default(),
            notice: None,
            help: false,
            next_tag: 1,
            pending: HashMap::new(),
            outbox: Vec::new(),
            viewport: layout::viewport(crate::layout::tab_area(80, 24)),
        }
    }

    // ----- reading -----

    /// The signed-in user's name.
    pub fn me(&self) -> Option<&str> {
        self.me.as_deref()
    }

    /// Whether requests can be sent now.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// The joined rooms, by name.
    pub fn rooms(&self) -> &BTreeMap<String, Room> {
        &self.rooms
    }

    /// What the centre shows.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The current room, if a room is shown.
    pub fn current_room(&self) -> Option<&Room> {
        match &self.view {
            View::Room(name) => self.rooms.get(name),
            View::Dms => None,
        }
    }

    /// Private messages held, by id.
    pub fn dms(&self) -> &BTreeMap<u64, DirectMessage> {
        &self.dms
    }

    /// Private messages from others not yet looked at.
    pub fn dm_unread(&self) -> u64 {
        self.dm_unread
    }

    /// How far the DMs view is scrolled up.
    pub fn dm_scroll(&self) -> usize {
        self.dm_scroll
    }

    /// Everyone, for the DMs view's side column.
    pub fn everyone(&self) -> &[Presence] {
        &self.everyone
    }

    /// The input line.
    pub fn input(&self) -> &LineEditor {
        &self.input
    }

    /// The status line's message, if any.
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// Whether `/help`'s list of commands is shown (until Esc, the next
    /// line sent or another view).
    pub fn help_shown(&self) -> bool {
        self.help
    }

    /// The user a plain line in the DMs view goes to: the other side of
    /// the newest private message.
    pub fn dm_partner(&self) -> Option<&str> {
        let newest = self.dms.values().next_back()?;
        Some(if Some(newest.from.as_str()) == self.me() {
            newest.to.as_str()
        } else {
            newest.from.as_str()
        })
    }

    /// Whether `text` mentions the user by name (as a whole word, any case).
    pub fn mentions_me(&self, text: &str) -> bool {
        self.me().is_some_and(|me| mentions(text, me))
    }

    // ----- connection -----

    /// The connection is up (again): sync rooms and unread private
    /// messages arrive by push.
    fn connected(&mut self, me: Option<String>) {
        self.me = me;
        self.online = true;
        self.pending.clear();
        if self.me.is_some() {
            // Signed in since (the sign-in form): the old advice is stale.
            if self
                .notice
                .as_ref()
                .is_some_and(|n| n.text == NOT_SIGNED_IN)
            {
                self.notice = None;
            }
            self.request(ChatOp::Rooms, Pending::Rooms { listing: false });
        } else {
            self.error(NOT_SIGNED_IN.into());
        }
    }

    /// The connection dropped: requests in flight will not be answered.
    fn disconnected(&mut self) {
        self.online = false;
        self.pending.clear();
        for room in self.rooms.values_mut() {
            room.loading_older = false;
            room.syncing = false;
        }
    }

    // ----- keys -----

    /// Applies a key press meant for the Chat tab.
    fn key(&mut self, key: KeyEvent) -> KeyOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('n') if ctrl => self.switch(1),
            KeyCode::Char('p') if ctrl => self.switch(-1),
            KeyCode::Down if alt => self.switch(1),
            KeyCode::Up if alt => self.switch(-1),
            // The shell's keys, when the line has no use for them.
            KeyCode::Left | KeyCode::Right if self.input.is_empty() && !ctrl && !alt => {
                return KeyOutcome::NotConsumed;
            }
            _ if self.input.edit(key) => {}
            _ if ctrl || alt => return KeyOutcome::NotConsumed,
            KeyCode::Enter => return self.submit(),
            KeyCode::Up => self.input.history_up(),
            KeyCode::Down => self.input.history_down(),
            KeyCode::Tab | KeyCode::BackTab if self.input.is_empty() => {
                return KeyOutcome::NotConsumed;
            }
            KeyCode::Tab => {
                let nicks = self.nicks();
                self.input.complete(&command::names(), &nicks);
            }
            KeyCode::BackTab => {}
            // The help list does not scroll; the transcript behind it waits.
            KeyCode::PageUp | KeyCode::PageDown if self.help => {}
            KeyCode::PageUp => self.scroll_up(),
            KeyCode::PageDown => self.scroll_down(),
            KeyCode::Esc if self.help => self.help = false,
            KeyCode::Esc if self.notice.is_some() => self.notice = None,
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    /// Nicks for completion: the current room's members, or everyone and
    /// DM partners in the DMs view.
    fn nicks(&self) -> Vec<String> {
        let mut nicks: Vec<String> = match self.current_room() {
            Some(room) => room.members.keys().cloned().collect(),
            None => self.everyone.iter().map(|p| p.user.clone()).collect(),
        };
        nicks.extend(
            self.dms
                .values()
                .flat_map(|d| [d.from.clone(), d.to.clone()]),
        );
        nicks.retain(|n| Some(n.as_str()) != self.me());
        nicks
    }

    fn submit(&mut self) -> KeyOutcome {
        let line = self.input.text();
        let command = match command::parse(&line) {
            // The line stays for fixing.
            Err(e) => {
                self.error(e);
                return KeyOutcome::Consumed;
            }
            Ok(None) => return KeyOutcome::Consumed,
            Ok(Some(command)) => command,
        };
        self.input.submit();
        self.notice = None;
        self.help = false;
        self.run(command)
    }

    fn run(&mut self, command: Command) -> KeyOutcome {
        match command {
            Command::Say(text) => self.say(text, false),
            Command::Me(text) => self.say(text, true),
            Command::Msg { to, text } => self.request(
                ChatOp::Dm {
                    to,
                    text,
                    action: false,
                },
                Pending::Send,
            ),
            Command::Join(room) => {
                if self.rooms.contains_key(&room) {
                    self.show(View::Room(room.clone()));
                }
                self.request(ChatOp::Join { room }, Pending::Join);
            }
            Command::Leave(room) => match room.or_else(|| self.current_name()) {
                Some(room) => {
                    self.request(ChatOp::Leave { room: room.clone() }, Pending::Leave(room))
                }
                None => self.error("not in a room: /leave ROOM".into()),
            },
            Command::Topic(None) => match self.current_room() {
                Some(room) if room.topic.is_empty() => {
                    let text = format!("#{} has no topic; /topic TEXT sets one", room.name);
                    self.info(text);
                }
                Some(room) => {
                    let text = format!("topic of #{}: {}", room.name, room.topic);
                    self.info(text);
                }
                None => self.error("not in a room: the DMs view has no topic".into()),
            },
            Command::Topic(Some(topic)) => match self.current_name() {
                Some(room) => self.request(ChatOp::Topic { room, topic }, Pending::Topic),
                None => self.error("not in a room: the DMs view has no topic".into()),
            },
            Command::Who(room) => {
                let room = room.or_else(|| self.current_name());
                self.request(
                    ChatOp::Who { room: room.clone() },
                    Pending::Who {
                        room,
                        listing: true,
                    },
                );
            }
            Command::Rooms => self.request(ChatOp::Rooms, Pending::Rooms { listing: true }),
            Command::Away(message) => {
                let away = message.is_some();
                self.request(ChatOp::Away { message }, Pending::Away { away });
            }
            Command::Help(None) => self.help = true,
            Command::Help(Some(spec)) => self.info(spec.describe()),
            Command::Quit => return KeyOutcome::Quit,
        }
        KeyOutcome::Consumed
    }

    fn say(&mut self, text: String, action: bool) {
        match &self.view {
            View::Room(room) => {
                let room = room.clone();
                self.request(ChatOp::Send { room, text, action }, Pending::Send);
            }
            View::Dms => match self.dm_partner() {
                Some(to) => {
                    let to = to.to_string();
                    self.request(ChatOp::Dm { to, text, action }, Pending::Send);
                }
                None => {
                    self.error("no conversation to reply to: /msg USER TEXT, or /join ROOM".into())
                }
            },
        }
    }

    fn current_name(&self) -> Option<String> {
        self.current_room().map(|r| r.name.clone())
    }

    /// The room list's entries in order: rooms by name, then DMs.
    pub fn entries(&self) -> Vec<View> {
        self.rooms
            .keys()
            .map(|r| View::Room(r.clone()))
            .chain([View::Dms])
            .collect()
    }

    /// Moves `by` entries along the room list, wrapping.
    fn switch(&mut self, by: isize) {
        let entries = self.entries();
        let at = entries.iter().position(|v| *v == self.view).unwrap_or(0) as isize;
        let len = entries.len() as isize;
        let next = entries[((at + by) % len + len) as usize % entries.len()].clone();
        self.show(next);
    }

    /// Shows `view`: clears its unread marks and refreshes its side column.
    fn show(&mut self, view: View) {
        self.view = view;
        self.help = false;
        match self.view.clone() {
            View::Room(name) => {
                if let Some(room) = self.rooms.get_mut(&name) {
                    room.unread = 0;
                    room.mentioned = false;
                }
                if self.online {
                    self.request(
                        ChatOp::Who {
                            room: Some(name.clone()),
                        },
                        Pending::Who {
                            room: Some(name),
                            listing: false,
                        },
                    );
                }
            }
            View::Dms => {
                self.dm_unread = 0;
                // The "private message from …" note has done its job.
                if self.notice.as_ref().is_some_and(|n| n.level == Level::Info) {
                    self.notice = None;
                }
                if self.online && self.me.is_some() {
                    self.request(
                        ChatOp::Who { room: None },
                        Pending::Who {
                            room: None,
                            listing: false,
                        },
                    );
                }
            }
        }
    }

    // ----- scrolling -----

    /// How many lines the current view has, and how many fit.
    fn extent(&self) -> (usize, usize) {
        let (width, height) = self.viewport;
        let total = lines::line_count(self, width);
        (total, usize::from(height))
    }

    fn scroll_up(&mut self) {
        let (total, rows) = self.extent();
        let page = rows.saturating_sub(1).max(1);
        let top = total.saturating_sub(rows);
        let online = self.online;
        let Some(name) = self.current_name() else {
            self.dm_scroll = (self.dm_scroll + page).min(top);
            return;
        };
        let Some(room) = self.rooms.get_mut(&name) else {
            return;
        };
        room.scroll = (room.scroll + page).min(top);
        let oldest = room.oldest();
        if room.scroll == top && room.more_older && !room.loading_older && online {
            room.loading_older = true;
            self.request(
                ChatOp::History {
                    room: name.clone(),
                    before: oldest,
                    since: None,
                    limit: Some(PAGE),
                },
                Pending::History {
                    room: name,
                    kind: HistoryKind::Older,
                },
            );
        }
    }

    fn scroll_down(&mut self) {
        let page = usize::from(self.viewport.1).saturating_sub(1).max(1);
        match self.view.clone() {
            View::Room(name) => {
                if let Some(room) = self.rooms.get_mut(&name) {
                    room.scroll = room.scroll.saturating_sub(page);
                }
            }
            View::Dms => self.dm_scroll = self.dm_scroll.saturating_sub(page),
        }
    }

    // ----- requests and replies -----

    /// Queues `op`, or fails at once when offline.
    fn request(&mut self, op: impl Into<Op>, pending: Pending) {
        if !self.online {
            self.error(format!(
                "not connected: cannot {} until the daemon is back",
                pending.what()
            ));
            return;
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.insert(tag, pending);
        self.outbox.push(Outgoing { tag, op: op.into() });
    }

    fn error(&mut self, text: String) {
        self.notice = Some(Notice {
            text,
            level: Level::Error,
        });
    }

    fn info(&mut self, text: String) {
        self.notice = Some(Notice {
            text,
            level: Level::Info,
        });
    }

    /// Applies the answer to the request queued with `tag`.
    fn reply(&mut self, tag: u64, result: Result<Reply, String>) {
        let Some(pending) = self.pending.remove(&tag) else {
            return;
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                if let Pending::History { room, .. } = &pending
                    && let Some(room) = self.rooms.get_mut(room)
                {
                    room.loading_older = false;
                    room.syncing = false;
                }
                self.error(format!("{} failed: {e}", pending.what()));
                return;
            }
        };
        match (pending, reply) {
            (Pending::Rooms { listing }, Reply::Chat(ChatReply::Rooms { rooms })) => {
                self.sync_rooms(&rooms, listing);
            }
            (Pending::Join, Reply::Chat(ChatReply::Room { room, members })) => {
                let name = room.name.clone();
                let entry = self
                    .rooms
                    .entry(name.clone())
                    .or_insert_with(|| Room::new(&name));
                entry.topic = room.topic;
                entry.total = (members.len() < room.members as usize).then_some(room.members);
                entry.members = members.into_iter().map(|p| (p.user.clone(), p)).collect();
                self.view = View::Room(name.clone());
                self.fetch_history(&name);
            }
            (Pending::Leave(room), Reply::Base(BaseReply::Done)) => {
                self.remove_room(&room);
                self.info(format!("left #{room}"));
            }
            (
                Pending::History { room, kind },
                Reply::Chat(ChatReply::History { messages, more, .. }),
            ) => {
                self.merge_history(&room, kind, messages, more);
            }
            (Pending::Who { room, listing }, Reply::Chat(ChatReply::Who { users })) => {
                if listing {
                    let place = room.as_ref().map_or("everyone".into(), |r| format!("#{r}"));
                    let names: Vec<String> = users.iter().map(describe_presence).collect();
                    self.info(format!("{place}: {}", names.join(", ")));
                }
                match room.and_then(|r| self.rooms.get_mut(&r)) {
                    Some(room) => {
                        room.members = users.into_iter().map(|p| (p.user.clone(), p)).collect();
                        room.total = None;
                    }
                    None => self.everyone = users,
                }
            }
            (Pending::Away { away }, Reply::Base(BaseReply::Done)) => self.info(if away {
                "you are marked away; /away alone to come back".into()
            } else {
                "you are back".into()
            }),
            (Pending::Dms, Reply::Chat(ChatReply::Dms { messages, .. })) => {
                for dm in messages {
                    self.add_dm(dm);
                }
            }
            (Pending::Topic | Pending::Send, _) => {}
            (pending, reply) => tracing::debug!(?pending, ?reply, "unexpected chat reply"),
        }
    }

    fn sync_rooms(&mut self, rooms: &[agora_wire::chat::RoomInfo], listing: bool) {
        if listing {
            let list: Vec<String> = rooms
                .iter()
                .map(|r| {
                    let mark = if r.joined { "*" } else { "" };
                    format!("#{}{mark} ({})", r.name, r.members)
                })
                .collect();
            self.info(if list.is_empty() {
                "no rooms yet: /join NAME creates one".into()
            } else {
                format!("rooms (* joined): {}", list.join(", "))
            });
        }
        let joined: Vec<_> = rooms.iter().filter(|r| r.joined).collect();
        self.rooms
            .retain(|name, _| joined.iter().any(|r| &r.name == name));
        for info in &joined {
            let room = self
                .rooms
                .entry(info.name.clone())
                .or_insert_with(|| Room::new(&info.name));
            room.topic = info.topic.clone();
            self.fetch_history(&info.name);
        }
        let current_gone = match &self.view {
            View::Room(name) => !self.rooms.contains_key(name),
            View::Dms => false,
        };
        if current_gone || (self.view == View::Dms && self.dms.is_empty()) {
            let first = self.rooms.keys().next().cloned();
            self.view = first.map_or(View::Dms, View::Room);
        }
        // Refresh the side column of whatever is shown.
        self.show(self.view.clone());
    }

    /// Asks for what a room is missing: its newest page when empty,
    /// otherwise everything after the contiguous run held.
    fn fetch_history(&mut self, name: &str) {
        let Some(room) = self.rooms.get_mut(name) else {
            return;
        };
        if room.syncing {
            return;
        }
        room.syncing = true;
        let (since, limit, kind) = if room.messages.is_empty() {
            (None, PAGE, HistoryKind::Newest)
        } else {
            (Some(room.contiguous_end()), MAX_HISTORY, HistoryKind::Since)
        };
        self.request(
            ChatOp::History {
                room: name.to_string(),
                before: None,
                since,
                limit: Some(limit),
            },
            Pending::History {
                room: name.to_string(),
                kind,
            },
        );
    }

    fn merge_history(
        &mut self,
        name: &str,
        kind: HistoryKind,
        messages: Vec<ChatMessage>,
        more: bool,
    ) {
        let current = self.view == View::Room(name.to_string());
        let me = self.me.clone();
        let Some(room) = self.rooms.get_mut(name) else {
            return;
        };
        let full = messages.len() >= MAX_HISTORY as usize;
        let mut mentioned = false;
        let mut fresh = 0;
        for message in messages {
            let from_other = Some(&message.from) != me.as_ref();
            mentioned |= from_other && me.as_deref().is_some_and(|me| mentions(&message.text, me));
            if room.messages.insert(message.seq, message).is_none() && from_other {
                fresh += 1;
            }
        }
        match kind {
            HistoryKind::Newest => {
                room.more_older = more;
                room.syncing = false;
            }
            HistoryKind::Older => {
                room.more_older = more;
                room.loading_older = false;
            }
            HistoryKind::Since => {
                // What arrived while disconnected counts as unread.
                if !current {
                    room.unread += fresh;
                    room.mentioned |= mentioned;
                }
                room.syncing = false;
                if full {
                    self.fetch_history(name);
                }
            }
        }
    }

    fn remove_room(&mut self, name: &str) {
        self.rooms.remove(name);
        if self.view == View::Room(name.to_string()) {
            let first = self.rooms.keys().next().cloned();
            self.view = first.map_or(View::Dms, View::Room);
        }
    }

    fn add_dm(&mut self, dm: DirectMessage) -> bool {
        let from_other = Some(dm.from.as_str()) != self.me();
        let from = dm.from.clone();
        let new = self.dms.insert(dm.id, dm).is_none();
        if new && from_other && self.view != View::Dms {
            self.dm_unread += 1;
            self.info(format!("private message from {from}: Ctrl-N/Ctrl-P to DMs"));
        }
        new
    }

    // ----- pushes -----

    /// Applies a pushed chat event.
    fn push(&mut self, event: ChatEvent) {
        match event {
            ChatEvent::Message { message } => self.on_message(message),
            ChatEvent::Joined { room, user } => {
                if Some(user.user.as_str()) == self.me() && !self.rooms.contains_key(&room) {
                    // Joined from another terminal of ours.
                    self.rooms.insert(room.clone(), Room::new(&room));
                    self.fetch_history(&room);
                }
                let mine = Some(user.user.as_str()) == self.me();
                if let Some(r) = self.rooms.get_mut(&room)
                    && r.members.insert(user.user.clone(), user).is_none()
                    && !mine
                {
                    // Our own join is counted in the join reply already.
                    r.total = r.total.map(|t| t.saturating_add(1));
                }
            }
            ChatEvent::Left { room, user, reason } => match reason {
                LeaveReason::Left if Some(user.as_str()) == self.me() => self.remove_room(&room),
                LeaveReason::Left => {
                    if let Some(r) = self.rooms.get_mut(&room) {
                        r.members.remove(&user);
                        r.total = r.total.map(|t| t.saturating_sub(1));
                    }
                }
                LeaveReason::Quit => {
                    if let Some(p) = self
                        .rooms
                        .get_mut(&room)
                        .and_then(|r| r.members.get_mut(&user))
                    {
                        p.status = Status::Offline;
                        p.away_message = None;
                    }
                }
            },
            ChatEvent::Topic { room, topic, .. } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.topic = topic;
                }
            }
            ChatEvent::Presence { room, user } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.members.insert(user.user.clone(), user);
                }
            }
            ChatEvent::Members { room, members, .. } => self.on_members(&room, members),
            ChatEvent::Direct { message } => {
                self.add_dm(message);
            }
            ChatEvent::Unread { dms } if dms > 0 => {
                self.request(
                    ChatOp::Dms {
                        with: None,
                        limit: Some(MAX_HISTORY),
                    },
                    Pending::Dms,
                );
            }
            ChatEvent::Unread { .. } => {}
        }
    }

    /// A large room's digest: the count is shown at once; the list is
    /// fetched again only for the room on screen, and only when no fetch
    /// is already on its way (digests come at most once per interval, so
    /// this asks at most that often). Other rooms fetch it when shown.
    fn on_members(&mut self, name: &str, members: u32) {
        let Some(room) = self.rooms.get_mut(name) else {
            return;
        };
        room.total = Some(members);
        let shown = self.view == View::Room(name.to_string());
        let asking = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::Who { room: Some(r), .. } if r == name));
        if shown && !asking && self.online {
            self.request(
                ChatOp::Who {
                    room: Some(name.to_string()),
                },
                Pending::Who {
                    room: Some(name.to_string()),
                    listing: false,
                },
            );
        }
    }

    fn on_message(&mut self, message: ChatMessage) {
        let name = message.room.clone();
        let current = self.view == View::Room(name.clone());
        let width = self.viewport.0;
        let mention = Some(&message.from) != self.me.as_ref() && self.mentions_me(&message.text);
        let lines = lines::message_height(&message, width);
        let from_other = Some(&message.from) != self.me.as_ref();
        let Some(room) = self.rooms.get_mut(&name) else {
            return;
        };
        // A push past the next expected seq means pushes were missed.
        let gap = room.newest().is_some_and(|newest| message.seq > newest + 1);
        if room.messages.insert(message.seq, message).is_some() {
            return;
        }
        if current && room.scroll > 0 {
            // Keep what the reader is looking at in place.
            room.scroll += lines;
        }
        if !current && from_other {
            room.unread += 1;
            room.mentioned |= mention;
        }
        if gap {
            self.fetch_history(&name);
        }
    }
}

impl Tab for ChatState {
    fn title(&self) -> &'static str {
        "Chat"
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &KEYS
    }

    fn types_text(&self) -> bool {
        true
    }

    fn follows(&self) -> Option<Service> {
        Some(Service::Chat)
    }

    fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        self.key(key)
    }

    fn on_connected(&mut self, user: Option<&str>) {
        self.connected(user.map(str::to_owned));
    }

    fn on_disconnected(&mut self) {
        self.disconnected();
    }

    fn on_push(&mut self, event: Event) {
        match event {
            Event::Chat(event) => self.push(event),
            other => tracing::debug!(event = other.name(), "chat tab ignores event"),
        }
    }

    fn on_reply(&mut self, tag: u64, result: Result<Reply, String>) {
        self.reply(tag, result);
    }

    fn on_resize(&mut self, area: Rect) {
        self.viewport = layout::viewport(area);
    }

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        Widget::render(self, area, buf);
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        Some(view::cursor(self, area))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `alice`, `bob (away: lunch)`, `carol (offline)`.
fn describe_presence(p: &Presence) -> String {
    match (p.status, &p.away_message) {
        (Status::Online, _) => p.user.clone(),
        (Status::Away, Some(m)) => format!("{} (away: {m})", p.user),
        (status, _) => format!("{} ({})", p.user, status.as_str()),
    }
}

/// Whether `text` contains `name` as a whole word, ignoring case.
pub fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let text = text.to_lowercase();
    let name = name.to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices(&name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[cfg(test)]
pub(crate) mod tests;
