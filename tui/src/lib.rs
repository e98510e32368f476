//! `agora-tui`: the terminal client of agora.
//!
//! The `agora` binary calls [`run`] with [`Options`]. Inside, the crate is
//! split so every part can be tested alone:
//!
//! - `app`: [`App`], the state and its pure transitions (keys, server
//!   events, ticks), and the key routing between the shell and the tabs;
//! - `tab`: the tab abstraction every tab implements; `tabs`: the one
//!   list of tabs ([`TabId`]);
//! - one module per tab: `chat` (rooms, input line, commands), `cache`
//!   (key browser, monitor), `jobs` (counts, queues, job list and detail,
//!   actions), `dashboard` (live metrics, charts, processes, alerts),
//!   `games` (lobby, board, replays);
//! - `layout`: the screen's geometry, shared by state and drawing, and the
//!   smallest screen it works on;
//! - `line_editor`: the one-line editor every input line uses;
//! - `ui`: drawing, as `impl Widget for &App` and [`render`]; `palette`:
//!   the colour depth, applied to the drawn screen (16, 8 or no colours);
//!   `sgr`: those colours sent as the basic escape codes, not 256-colour
//!   ones;
//! - `signin`: the sign-in form (an overlay of the app's, not a tab);
//! - `connection`: the task that keeps a connection to the daemon and
//!   reports [`ServerEvent`]s;
//! - `tui`: the terminal setup and the async event loop;
//! - `remote`: the same loop on a terminal at the other end of a
//!   connection (the daemon's SSH sessions), with `input` turning the
//!   bytes it sends into key and mouse events.
//!
//! The crate talks to the daemon only through `agora-wire`.
#![deny(missing_docs)]

mod app;
mod cache;
mod chat;
mod connection;
mod dashboard;
mod games;
mod input;
mod jobs;
mod layout;
mod line_editor;
mod palette;
mod remote;
mod sgr;
mod signin;
mod tab;
mod tabs;
mod tui;
mod ui;

pub use app::{App, Connection, EventState, Overlay, RunState, ServerEvent};
pub use cache::format as redis_format;
pub use cache::human_bytes;
pub use dashboard::{DashboardState, Window as DashboardWindow};
pub use input::InputParser;
pub use remote::{RemoteInput, RemoteTerminal, can_draw_on, colours_of, run_remote};
pub use signin::SignedIn;
pub use tab::{KeyOutcome, Outgoing, Tab};
pub use tabs::TabId;
pub use tui::Ending;
pub use ui::render;

/// What the embedding program is told when someone signs in (or
/// registers) with the TUI's form, to save it: `agora tui` and `agora up`
/// store the token for the CLI's other commands, as `agora login` does.
pub type OnSignIn = Box<dyn FnMut(SignedIn) + Send>;

/// How to reach the daemon and who is signing in.
pub struct Options {
    /// The daemon's `host:port`.
    pub addr: String,
    /// A token from `login`/`register` to sign in with.
    pub token: Option<String>,
    /// The user name to show until the server confirms who is signed in.
    pub user: Option<String>,
    /// Whether to draw in colour (`--color`, NO_COLOR); without it the
    /// screen keeps bold and reverse but no colours. With it, the terminal
    /// still decides how many (`TERM=dumb`: none; 8-colour terminals: the
    /// basic 8).
    pub color: bool,
    /// The daemon's RESP listener (`host:port`), when the caller knows it
    /// (`agora up`, which embeds the daemon): shown in the status bar when
    /// there is room and in the help (`redis-cli -p PORT`).
    pub resp: Option<String>,
    /// Called after each sign-in with the form (F2, or the form that opens
    /// when the connection comes up without a user). The TUI itself
    /// already uses the new token when it reconnects.
    pub on_sign_in: Option<OnSignIn>,
}

// By hand so the token never lands in a log or a panic message.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("user", &self.user)
            .field("color", &self.color)
            .field("resp", &self.resp)
            .field(
                "on_sign_in",
                &self.on_sign_in.as_ref().map(|_| "<callback>"),
            )
            .finish()
    }
}

/// Runs the TUI until the user quits. Restores the terminal on every exit
/// path, panics included.
///
/// # Errors
/// When the terminal cannot be set up, drawn to or read from.
pub async fn run(options: Options) -> anyhow::Result<()> {
    tui::run(options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_hides_the_token() {
        let options = Options {
            addr: "127.0.0.1:7070".into(),
            token: Some("secret-jwt".into()),
            user: Some("alice".into()),
            color: true,
            resp: None,
            on_sign_in: None,
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("secret-jwt"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("alice"),
            "{shown}"
        );
    }
}
