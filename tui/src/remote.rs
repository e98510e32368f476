//! The TUI on a terminal that is not this process's own: the daemon's SSH
//! listener runs one per session with a pseudo-terminal.
//!
//! [`run_remote`] draws on any [`Write`] (the SSH channel's output queue)
//! and reads the bytes the client's terminal sends from a channel of
//! [`RemoteInput`], which `input::InputParser` turns into the same
//! crossterm events `agora tui` gets, so the app, its tabs, keys, help and
//! colours are the same. There is no raw mode to set (the client's `ssh`
//! put its own terminal in raw mode); the screen is set up with escape
//! sequences only (alternate screen, hidden cursor, mouse reporting), and
//! put back, followed by a goodbye line, on every way out but a dead
//! connection. The size comes from the PTY request and window-change
//! messages, never from `ioctl`; the palette from the client's `TERM`.

use std::io::Write;

use anyhow::Context as _;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Options;
use crate::input::InputParser;
use crate::palette::Palette;
use crate::sgr::BasicSgr;
use crate::tui::{Ending, Screen, event_loop, write_colours_as_drawn};

/// What the remote terminal sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteInput {
    /// Bytes typed (keys, mouse reports), as the client sent them.
    Bytes(Vec<u8>),
    /// The window is now this many columns and rows.
    Resize(u16, u16),
}

/// A terminal at the other end of a connection.
pub struct RemoteTerminal<W: Write> {
    /// Where the screen is written.
    pub output: W,
    /// What the terminal sends; its end (the sender dropped) is the
    /// connection's end.
    pub input: mpsc::Receiver<RemoteInput>,
    /// Columns at the start.
    pub width: u16,
    /// Rows at the start.
    pub height: u16,
    /// The client's `TERM`.
    pub term: String,
    /// Cancelled to end the session (the daemon shuts down).
    pub stop: CancellationToken,
}

/// How many colours a terminal named `term` shows, as crossterm's
/// `available_color_count` would say of it. Pure.
pub fn colours_of(term: &str) -> u16 {
    if term.contains("256color") || term.contains("truecolor") || term.contains("direct") {
        256
    } else {
        8
    }
}

/// Whether the TUI can run on a terminal named `term`: not on `dumb` (no
/// cursor addressing) nor an empty name.
pub fn can_draw_on(term: &str) -> bool {
    !(term.is_empty() || term == "dumb")
}

/// Runs the TUI on `remote` until the user quits, the input ends or
/// `remote.stop` is cancelled. A goodbye line is written after the screen
/// is put back (not when the input ended: nobody is there to read it).
///
/// # Errors
/// When the screen cannot be written (the output refuses more: a client
/// that stopped reading), or the connection task fails to start.
pub async fn run_remote<W: Write>(
    options: Options,
    remote: RemoteTerminal<W>,
) -> anyhow::Result<Ending> {
    write_colours_as_drawn();
    let RemoteTerminal {
        mut output,
        input,
        width,
        height,
        term,
        stop,
    } = remote;
    let palette = Palette::detect(options.color, Some(&term), colours_of(&term));
    crossterm::execute!(
        output,
        EnterAlternateScreen,
        crossterm::cursor::Hide,
        EnableMouseCapture
    )
    .context("cannot set up the terminal")?;
    let backend = CrosstermBackend::new(BasicSgr::new(output));
    let mut terminal = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
        },
    )
    .context("cannot set up the terminal")?;
    let screen = Screen {
        palette,
        width,
        height,
    };
    let events = events(input);
    let ending = event_loop(&mut terminal, options, events, screen, &stop).await;
    if matches!(ending, Ok(Ending::InputClosed)) {
        return ending;
    }
    let goodbye = match &ending {
        Ok(Ending::Stopped) => "agora is shutting down. Goodbye!",
        Ok(_) => "Goodbye from agora!",
        Err(_) => "agora: the session ended (the screen could not be sent in time).",
    };
    let out = terminal.backend_mut();
    // Best effort: the output may be what failed.
    let _ = crossterm::execute!(
        out,
        DisableMouseCapture,
        crossterm::cursor::Show,
        LeaveAlternateScreen
    );
    let _ = write!(out, "{goodbye}\r\n");
    let _ = out.flush();
    ending
}

/// The remote terminal's input as crossterm events.
fn events(
    input: mpsc::Receiver<RemoteInput>,
) -> impl futures::Stream<Item = std::io::Result<Event>> + Unpin {
    let parser = InputParser::new();
    Box::pin(futures::stream::unfold(
        (input, parser, std::collections::VecDeque::new()),
        |(mut input, mut parser, mut queued)| async move {
            loop {
                if let Some(event) = queued.pop_front() {
                    return Some((Ok(event), (input, parser, queued)));
                }
                match input.recv().await? {
                    RemoteInput::Bytes(bytes) => queued.extend(parser.feed(&bytes)),
                    RemoteInput::Resize(w, h) => queued.push_back(Event::Resize(w, h)),
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_decides_the_palette() {
        assert_eq!(
            Palette::detect(true, Some("xterm-256color"), colours_of("xterm-256color")),
            Palette::Sixteen
        );
        assert_eq!(
            Palette::detect(true, Some("xterm"), colours_of("xterm")),
            Palette::Eight
        );
        assert!(!can_draw_on("dumb"));
        assert!(!can_draw_on(""));
        assert!(can_draw_on("screen"));
    }
}
