//! The TUI's state and its pure transitions.
//!
//! [`App`] owns everything the screen shows: the tabs (a list of
//! [`Tab`]s, from `tabs.rs`) and which one is current, whether the help
//! [`Overlay`] is open, the [`Connection`] state, the server address, the
//! signed-in user and whether the user asked to quit. It changes only
//! through a few methods — [`App::handle_key`], [`App::on_server`],
//! [`App::on_tick`] and [`App::on_resize`] — none of which does I/O or
//! reads a clock, so every transition is a plain unit test. Requests for
//! the daemon are queued by the tabs as [`Outgoing`]s and taken by the
//! event loop with [`App::take_outbox`]. Drawing lives in `ui.rs`, the
//! terminal and the event loop in `tui.rs`, the network in
//! `connection.rs`. No tab is named here: the app forwards to them.
//!
//! Key routing: Ctrl-C quits from anywhere. The sign-in form
//! (`signin/`), while open, takes every other key, so nothing typed into
//! it reaches a tab; it opens by itself when the connection comes up
//! without a user (until closed with Esc) and with F2. Otherwise F1
//! toggles help and Alt-1..5 pick a tab from anywhere. Every other key
//! goes to the current tab first; a tab that types text (an input line)
//! keeps `q`, `?` and digits, and leaves the shell's keys (Tab,
//! Left/Right) to it only when it does not want them (an empty line).
//! What no tab wants goes to the shell: `q`, `?`, Tab,
//! Left/Right, digits.
//!
//! Requests carry tags in a namespace per tab: the app puts the tab's
//! number in the top bits on the way out ([`App::take_outbox`]) and routes
//! the reply back by it; namespace 0 is the sign-in form's. A successful
//! sign-in tells every tab (as a new connection would) and waits in
//! [`App::take_signed_in`] for the event loop, which hands the token to
//! the connection task and to the embedding program. A tab newly shown
//! hears of it ([`Tab::on_show`]). Pushes go to the tabs that follow the
//! pushing service ([`Tab::follows`]); an event no tab follows is dropped
//! with a debug log, never handed to another tab.

use std::any::Any;
use std::time::{Duration, Instant};

use agora_wire::{OrgRole, Push, Reply};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::signin::{FormKey, SignInForm, SignedIn};
pub use crate::tab::Outgoing;
use crate::tab::{KeyOutcome, Tab};
use crate::tabs::{self, TabId};

/// Where a tab's number goes in a request tag: tabs choose tags below
/// 2^48, the app adds `(tab number + 1) << 48`.
const TAG_SHIFT: u32 = 48;
const LOCAL_TAG: u64 = (1 << TAG_SHIFT) - 1;
/// The app's own request for the user's organizations (namespace 0, above
/// any tag the sign-in form counts to).
const ORGS_TAG: u64 = LOCAL_TAG;

/// What is drawn over the current tab, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlay {
    /// Nothing: the tab has the keyboard.
    #[default]
    None,
    /// The key help popup.
    Help,
    /// The sign-in form, which has the keyboard.
    SignIn,
}

/// Whether the event loop should keep going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunState {
    /// Keep drawing and reading input.
    #[default]
    Running,
    /// The user asked to quit; the loop ends after this event.
    Quitting,
}

/// The link to the daemon, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// The first attempt (or one right after a drop) is under way.
    Connecting,
    /// Handshake done.
    Connected {
        /// The last measured round trip of a ping, once one has returned.
        latency: Option<Duration>,
        /// This connection's session id.
        session: u64,
    },
    /// Waiting before the next attempt.
    Reconnecting {
        /// Which attempt comes next (1 for the first retry).
        attempt: u32,
        /// How long until that attempt; counts down on each tick.
        retry_in: Duration,
        /// Why the previous attempt or connection failed.
        last_error: String,
    },
}

/// What the connection task tells the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The handshake succeeded.
    Connected {
        /// The session id from the server's welcome.
        session: u64,
        /// The signed-in user's name, if the token was accepted.
        user: Option<String>,
    },
    /// A ping came back after this long.
    Latency(Duration),
    /// A push on a subscribed topic.
    Push(Push),
    /// The connection dropped, or an attempt to make one failed.
    Disconnected {
        /// Why, in words fit for the status bar.
        error: String,
    },
    /// The answer to an [`Outgoing`] request, matched by its tag.
    Reply {
        /// The tag of the request.
        tag: u64,
        /// The reply, or why there is none, in words for the status line.
        result: Result<Reply, String>,
    },
    /// The next attempt is scheduled.
    Reconnecting {
        /// Which attempt comes next (1 for the first retry).
        attempt: u32,
        /// How long until it starts.
        retry_in: Duration,
        /// Why the previous attempt or connection failed.
        last_error: String,
    },
}

/// Whether a key did something (cf. gitui's `EventState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    /// The key was used; redraw.
    Consumed,
    /// Nobody wanted the key.
    NotConsumed,
}

/// The whole TUI state. See the module docs.
#[derive(Debug)]
pub struct App {
    tab: TabId,
    overlay: Overlay,
    run_state: RunState,
    connection: Connection,
    addr: String,
    /// The daemon's RESP listener, when known (`agora up` embeds the
    /// daemon, so it knows).
    resp: Option<String>,
    user: Option<String>,
    /// When the current reconnect countdown was first seen by a tick, and
    /// its length then. The connection task reports `retry_in` once; the
    /// countdown is derived from tick times so no method here reads a clock.
    countdown: Option<(Instant, Duration)>,
    /// Every tab, in [`TabId::ALL`] order.
    tabs: Vec<Box<dyn Tab>>,
    /// The sign-in form, while open.
    signin: Option<SignInForm>,
    /// Whether the user closed the form that opened by itself: it does
    /// not open by itself again (F2 still does).
    signin_dismissed: bool,
    /// A sign-in from the form, until the event loop takes it.
    signed_in: Option<SignedIn>,
    /// The name last known to be ours, to fill the form in with.
    name_hint: Option<String>,
    /// The signed-in user's organizations and roles (the status bar's),
    /// asked for on every connect and sign-in.
    orgs: Vec<OrgRole>,
    /// The app's own requests (the organizations), until taken.
    outbox: Vec<Outgoing>,
}

impl App {
    /// A fresh state for a connection to `addr`, before any server event.
    /// `user` is the name the caller believes is signed in; the server's
    /// welcome replaces it once connected.
    pub fn new(addr: impl Into<String>, user: Option<String>) -> Self {
        App {
            tab: TabId::default(),
            overlay: Overlay::default(),
            run_state: RunState::default(),
            connection: Connection::Connecting,
            addr: addr.into(),
            resp: None,
            tabs: tabs::all(user.as_deref()),
            name_hint: user.clone(),
            user,
            countdown: None,
            signin: None,
            signin_dismissed: false,
            signed_in: None,
            orgs: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// The signed-in user's organizations with their roles, by slug (empty
    /// until the daemon answered, and when signed out).
    pub fn orgs(&self) -> &[OrgRole] {
        &self.orgs
    }

    /// Asks the daemon for the signed-in user's organizations, or forgets
    /// them when no one is signed in.
    fn ask_orgs(&mut self) {
        self.orgs.clear();
        if self.user.is_some() {
            self.outbox.push(Outgoing {
                tag: ORGS_TAG,
                op: agora_wire::BaseOp::Orgs.into(),
            });
        }
    }

    /// The current tab.
    pub fn tab(&self) -> TabId {
        self.tab
    }

    /// What is drawn over the tab.
    pub fn overlay(&self) -> Overlay {
        if self.signin.is_some() {
            Overlay::SignIn
        } else {
            self.overlay
        }
    }

    /// The sign-in form, while open.
    pub fn signin(&self) -> Option<&SignInForm> {
        self.signin.as_ref()
    }

    /// Takes the sign-in made with the form since the last call, if any:
    /// the event loop hands its token to the connection task (so a
    /// reconnection signs in again) and to the embedding program (to save
    /// it).
    pub fn take_signed_in(&mut self) -> Option<SignedIn> {
        self.signed_in.take()
    }

    /// Whether the loop should go on.
    pub fn run_state(&self) -> RunState {
        self.run_state
    }

    /// The link to the daemon.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The daemon's address, as given.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The same app, knowing the daemon's RESP listener is at `resp`
    /// (`host:port`), which the status bar and the help then show.
    pub fn with_resp(mut self, resp: Option<String>) -> Self {
        self.resp = resp;
        self
    }

    /// The daemon's RESP listener, when known.
    pub fn resp(&self) -> Option<&str> {
        self.resp.as_deref()
    }

    /// The signed-in user's name, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The current tab's state.
    pub(crate) fn current(&self) -> &dyn Tab {
        self.tabs[self.tab.index()].as_ref()
    }

    fn current_mut(&mut self) -> &mut dyn Tab {
        self.tabs[self.tab.index()].as_mut()
    }

    /// Every tab's state, in tab-bar order.
    pub(crate) fn tabs(&self) -> impl Iterator<Item = &dyn Tab> {
        self.tabs.iter().map(|t| t.as_ref())
    }

    /// The tab bar's titles (`"1 Chat"`…), as drawn and as clicked
    /// ([`crate::layout::tab_at`]).
    pub(crate) fn tab_titles(&self) -> Vec<String> {
        self.tabs()
            .enumerate()
            .map(|(i, tab)| format!("{} {}", i + 1, tab.title()))
            .collect()
    }

    /// The first tab whose state is a `T`.
    pub fn find<T: Any>(&self) -> Option<&T> {
        self.tabs.iter().find_map(|t| t.as_any().downcast_ref())
    }

    /// Takes the requests queued for the daemon since the last call, each
    /// tagged with its tab's number.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        // The form's requests and the app's own keep namespace 0.
        let mut out: Vec<Outgoing> = std::mem::take(&mut self.outbox);
        out.extend(
            self.signin
                .as_mut()
                .map(|form| form.take_outbox())
                .unwrap_or_default()
                .into_iter()
                .map(|o| Outgoing {
                    tag: o.tag & LOCAL_TAG,
                    op: o.op,
                }),
        );
        for (i, tab) in self.tabs.iter_mut().enumerate() {
            let space = (i as u64 + 1) << TAG_SHIFT;
            out.extend(tab.take_outbox().into_iter().map(|o| Outgoing {
                tag: space | (o.tag & LOCAL_TAG),
                op: o.op,
            }));
        }
        out
    }

    /// The terminal is now `width` x `height` cells.
    pub fn on_resize(&mut self, width: u16, height: u16) {
        let area = crate::layout::tab_area(width, height);
        for tab in &mut self.tabs {
            tab.on_resize(area);
        }
    }

    /// Switches to a tab; a tab newly shown hears of it
    /// ([`Tab::on_show`]).
    pub fn select_tab(&mut self, tab: TabId) {
        if tab != self.tab {
            self.tab = tab;
            self.current_mut().on_show();
        }
    }

    /// Applies one key press. See the module docs for the routing.
    pub fn handle_key(&mut self, key: KeyEvent) -> EventState {
        // Some terminals (Windows, kitty protocol) also report releases and
        // repeats; acting on those would switch tabs twice per press.
        if key.kind != KeyEventKind::Press {
            return EventState::NotConsumed;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        // The form is modal: what is typed into it reaches nobody else.
        if let Some(form) = &mut self.signin {
            if form.handle_key(key) == FormKey::Close {
                self.signin = None;
                self.signin_dismissed = true;
            }
            return EventState::Consumed;
        }
        match key.code {
            KeyCode::F(1) => return self.toggle_help(),
            KeyCode::F(2) => {
                self.open_signin();
                return EventState::Consumed;
            }
            KeyCode::Char(c) if alt => {
                if let Some(tab) = TabId::from_digit(c) {
                    self.select_tab(tab);
                    return EventState::Consumed;
                }
            }
            _ => {}
        }
        // The help popup is modal: while it is open, keys do not reach the
        // tabs behind it.
        if self.overlay() == Overlay::Help {
            return match key.code {
                KeyCode::Char('q') => self.quit(),
                KeyCode::Char('?') | KeyCode::Esc => self.toggle_help(),
                _ => EventState::Consumed,
            };
        }
        match self.current_mut().handle_key(key) {
            KeyOutcome::Consumed => return EventState::Consumed,
            KeyOutcome::Quit => return self.quit(),
            KeyOutcome::NotConsumed => {}
        }
        if ctrl || alt {
            return EventState::NotConsumed;
        }
        let tab = match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char('?') => return self.toggle_help(),
            KeyCode::Tab | KeyCode::Right => self.tab.next(),
            KeyCode::BackTab | KeyCode::Left => self.tab.previous(),
            KeyCode::Char(c) => match TabId::from_digit(c) {
                Some(tab) => tab,
                None => return EventState::NotConsumed,
            },
            _ => return EventState::NotConsumed,
        };
        self.select_tab(tab);
        EventState::Consumed
    }

    /// Applies one mouse event: a left click on a tab's title selects it;
    /// the rest goes to the current tab (the Games board plays the cell
    /// clicked). Nothing passes the sign-in form or the help popup.
    pub fn handle_mouse(&mut self, mouse: MouseEvent) -> EventState {
        if self.signin.is_some() || self.overlay() == Overlay::Help {
            return EventState::NotConsumed;
        }
        if mouse.kind == MouseEventKind::Down(MouseButton::Left) && mouse.row == 0 {
            let titles = self.tab_titles();
            let hit = crate::layout::tab_at(mouse.column, titles.iter().map(String::as_str));
            return match hit.and_then(|i| TabId::ALL.get(i)) {
                Some(&tab) => {
                    self.select_tab(tab);
                    EventState::Consumed
                }
                None => EventState::NotConsumed,
            };
        }
        match self.current_mut().handle_mouse(mouse) {
            KeyOutcome::Consumed => EventState::Consumed,
            KeyOutcome::Quit => self.quit(),
            KeyOutcome::NotConsumed => EventState::NotConsumed,
        }
    }

    fn toggle_help(&mut self) -> EventState {
        self.overlay = match self.overlay {
            Overlay::None => Overlay::Help,
            Overlay::Help | Overlay::SignIn => Overlay::None,
        };
        EventState::Consumed
    }

    /// Opens the sign-in form (over the help, which closes), filled in
    /// with the last name known to be ours.
    fn open_signin(&mut self) {
        self.overlay = Overlay::None;
        if self.signin.is_none() {
            self.signin = Some(SignInForm::new(self.name_hint.as_deref()));
        }
    }

    /// Someone signed in with the form: the session is theirs now, and the
    /// tabs start over as on a new connection.
    fn signed_in(&mut self, signed: SignedIn) {
        self.signin = None;
        self.user = Some(signed.user.clone());
        self.name_hint = self.user.clone();
        for tab in &mut self.tabs {
            tab.on_connected(self.user.as_deref());
        }
        self.current_mut().on_show();
        self.signed_in = Some(signed);
        self.ask_orgs();
    }

    /// Applies one report from the connection task.
    pub fn on_server(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Connected { session, user } => {
                self.connection = Connection::Connected {
                    latency: None,
                    session,
                };
                // The server's word on who is signed in wins over the
                // caller's guess.
                self.user = user;
                if self.user.is_some() {
                    self.name_hint = self.user.clone();
                }
                self.countdown = None;
                for tab in &mut self.tabs {
                    tab.on_connected(self.user.as_deref());
                }
                self.current_mut().on_show();
                self.ask_orgs();
                if self.user.is_none() && !self.signin_dismissed {
                    self.open_signin();
                }
            }
            ServerEvent::Latency(rtt) => {
                // A late pong from a connection that is already gone says
                // nothing about the next one.
                if let Connection::Connected { latency, .. } = &mut self.connection {
                    *latency = Some(rtt);
                }
            }
            ServerEvent::Push(push) => self.on_push(push),
            ServerEvent::Reply { tag, result } => {
                let index = (tag >> TAG_SHIFT) as usize;
                if tag == ORGS_TAG {
                    match result {
                        Ok(Reply::Base(agora_wire::BaseReply::Orgs { orgs })) => self.orgs = orgs,
                        // Not shown is all: the status bar is a nicety.
                        other => tracing::debug!(?other, "no organizations"),
                    }
                    return;
                }
                if index == 0 {
                    let form = self.signin.as_mut().filter(|f| f.owns(tag));
                    match form.and_then(|f| f.on_reply(tag, result)) {
                        Some(signed) => self.signed_in(signed),
                        None => tracing::debug!(tag, "reply for the sign-in form, or no one"),
                    }
                    return;
                }
                match index.checked_sub(1).and_then(|i| self.tabs.get_mut(i)) {
                    Some(tab) => tab.on_reply(tag & LOCAL_TAG, result),
                    None => tracing::debug!(tag, "reply for no tab"),
                }
            }
            ServerEvent::Disconnected { .. } => {
                for tab in &mut self.tabs {
                    tab.on_disconnected();
                }
                // The task follows up with `Reconnecting`, which carries the
                // error; until then the link is simply not up.
                self.connection = Connection::Connecting;
                self.countdown = None;
            }
            ServerEvent::Reconnecting {
                attempt,
                retry_in,
                last_error,
            } => {
                self.connection = Connection::Reconnecting {
                    attempt,
                    retry_in,
                    last_error,
                };
                self.countdown = None;
            }
        }
    }

    /// Advances time-based state to `now`: the tabs' timers and the
    /// reconnect countdown.
    pub fn on_tick(&mut self, now: Instant) {
        let current = self.tab.index();
        for (i, tab) in self.tabs.iter_mut().enumerate() {
            tab.on_tick(now, i == current);
        }
        let Connection::Reconnecting { retry_in, .. } = &mut self.connection else {
            self.countdown = None;
            return;
        };
        match self.countdown {
            None => self.countdown = Some((now, *retry_in)),
            Some((since, total)) => {
                *retry_in = total.saturating_sub(now.saturating_duration_since(since));
            }
        }
    }

    fn quit(&mut self) -> EventState {
        self.run_state = RunState::Quitting;
        EventState::Consumed
    }

    /// Hands a push to every tab that follows its service.
    fn on_push(&mut self, push: Push) {
        let service = push.event.service();
        let mut followers = self
            .tabs
            .iter_mut()
            .filter(|t| t.follows() == Some(service))
            .peekable();
        if followers.peek().is_none() {
            tracing::debug!(
                topic = %push.topic,
                event = push.event.name(),
                "no tab follows this event; ignored"
            );
            return;
        }
        for tab in followers {
            tab.on_push(push.event.clone());
        }
    }
}

#[cfg(test)]
mod tests;
