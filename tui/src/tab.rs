//! The tab abstraction, in the spirit of gitui's components: each tab owns
//! its state, its keys, its requests, the pushes of the service it follows
//! and its drawing. [`crate::App`] holds a list of them (`tabs.rs`) and
//! forwards to the current one; it knows none of them by name.
//!
//! Everything here is pure, like the rest of the TUI's state: no I/O, no
//! clock. Requests are queued as [`Outgoing`]s with tags the tab chooses
//! (its own namespace: the app adds the tab's number on the way out and
//! takes it off on the way back), and time arrives through
//! [`Tab::on_tick`].

use std::any::Any;
use std::fmt::Debug;
use std::time::Instant;

use agora_wire::{Event, Reply, Service};
use crossterm::event::{KeyEvent, MouseEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

/// A request for the daemon, queued by a tab and sent by the connection
/// task, which answers with [`crate::ServerEvent::Reply`] and the same tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Chosen by the sender; unique among its requests in flight.
    pub tag: u64,
    /// What to ask.
    pub op: agora_wire::Op,
}

/// What a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Used; redraw.
    Consumed,
    /// Not for this tab: the shell may use it (Tab, q, digits…).
    NotConsumed,
    /// The tab asks to quit the TUI (`/quit`).
    Quit,
}

/// One tab of the TUI. See the module docs. `Send`: the daemon runs the
/// TUI on its own runtime for SSH sessions (`agora_tui::run_remote`).
pub trait Tab: Debug + Any + Send {
    /// The tab's name, e.g. `"Chat"`.
    fn title(&self) -> &'static str;

    /// Keys only this tab understands, as `(keys, what they do)`, for the
    /// help popup.
    fn keys(&self) -> &'static [(&'static str, &'static str)];

    /// Whether the tab types printable keys (an input line has the focus),
    /// so `q`, `?` and digits are its own; the shell then offers F1 for help
    /// and Alt-digits for tabs.
    fn types_text(&self) -> bool {
        false
    }

    /// The service whose pushes this tab follows; pushes of other
    /// services never reach it.
    fn follows(&self) -> Option<Service>;

    /// A key press while the tab is shown and no popup is open.
    fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome;

    /// A mouse event while the tab is shown and no popup is open, in screen
    /// cells; the tab knows where it draws from [`Tab::on_resize`]. Tabs
    /// without mouse actions leave it to the shell.
    fn handle_mouse(&mut self, _mouse: MouseEvent) -> KeyOutcome {
        KeyOutcome::NotConsumed
    }

    /// The connection is up (again), signed in as `user` if anyone; also
    /// when someone signs in on the open connection (the sign-in form).
    fn on_connected(&mut self, user: Option<&str>);

    /// The connection dropped: requests in flight will not be answered.
    fn on_disconnected(&mut self);

    /// An event of the followed service.
    fn on_push(&mut self, event: Event);

    /// The answer to the request this tab queued with `tag`.
    fn on_reply(&mut self, tag: u64, result: Result<Reply, String>);

    /// The tab has come on screen: it was selected, or the connection came
    /// up (or someone signed in) while it was shown. A tab that fetches
    /// what it shows starts now rather than on the next tick, so it is
    /// never drawn empty while its data is merely not asked for yet.
    fn on_show(&mut self) {}

    /// Time passed; `shown` says whether this tab is on screen.
    fn on_tick(&mut self, _now: Instant, _shown: bool) {}

    /// The tab now draws into `area` (the body inside its border).
    fn on_resize(&mut self, _area: Rect) {}

    /// Takes the requests queued since the last call, oldest first.
    fn take_outbox(&mut self) -> Vec<Outgoing>;

    /// Draws the tab into `area`.
    fn render(&self, area: Rect, buf: &mut Buffer);

    /// Where the terminal cursor goes when the tab is shown in `area`, if
    /// it has an input line.
    fn cursor(&self, _area: Rect) -> Option<Position> {
        None
    }

    /// For typed access in tests and by the app's owner.
    fn as_any(&self) -> &dyn Any;
}
