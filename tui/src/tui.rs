//! The terminal and the event loop.
//!
//! [`run`] puts the terminal in raw mode on the alternate screen, starts the
//! connection task, and loops on one `tokio::select!` over keyboard input,
//! a redraw tick and server events, redrawing after each and handing the
//! requests the app queued to the connection task. The terminal is
//! restored on every way out: normal return, error, the future being
//! dropped (a [`TerminalGuard`]), and panic (the hook `ratatui::try_init`
//! installs restores the terminal, then calls the previous hook).

use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use crate::Options;
use crate::app::{App, RunState, ServerEvent};
use crate::connection;
use crate::palette::Palette;
use crate::sgr::BasicSgr;
use crate::ui::render;

/// How often the screen is refreshed without input (the reconnect
/// countdown moves on each tick).
const TICK: Duration = Duration::from_millis(250);

/// How many requests may wait for the connection task.
const COMMANDS: usize = 256;

/// How long to wait for the connection task after asking it to stop.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Restores the terminal when dropped, so an early return or a dropped
/// future cannot leave the user's shell in raw mode.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}

/// Turns mouse reporting on (clicks select tabs and play on the Games
/// board; most terminals still select text with Shift held), and makes a
/// panic turn it off again before the hook `ratatui::try_init` installs
/// restores the rest of the terminal.
fn capture_mouse() -> std::io::Result<()> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
    crossterm::execute!(std::io::stdout(), EnableMouseCapture)
}

/// Makes crossterm write the colours it is given, NO_COLOR or not.
///
/// Whether to colour is decided once, from `--color`, NO_COLOR and TERM
/// ([`Palette::detect`]), and applied to the drawn screen. crossterm also
/// honours NO_COLOR on its own, by leaving the colour out of its escape
/// sequences: `ESC[38;5;8m` becomes `ESC[m` (or `ESC[;m`), which is a full
/// SGR reset, cancelling bold and reverse behind ratatui's back. With
/// `--color always` and NO_COLOR set, bold then came and went on single
/// letters ("Members" in the Chat tab). So crossterm is told to write what
/// it is given; with NO_COLOR and `--color auto` the palette has already
/// taken every colour out.
pub(crate) fn write_colours_as_drawn() {
    crossterm::style::force_color_output(true);
}

/// Runs the TUI until the user quits. See the module docs.
pub async fn run(options: Options) -> anyhow::Result<()> {
    write_colours_as_drawn();
    // The guard comes first: if `try_init` fails half-way (raw mode on, the
    // alternate screen refused), the terminal is still put back.
    let guard = TerminalGuard;
    // `try_init` sets the terminal up (raw mode, alternate screen, the
    // panic hook); the terminal drawn to is ours, writing through
    // `BasicSgr` so colours go out as the basic codes, never 256-colour
    // ones.
    drop(ratatui::try_init().context("cannot set up the terminal")?);
    capture_mouse().context("cannot set up the terminal")?;
    let backend = CrosstermBackend::new(BasicSgr::new(std::io::stdout()));
    let mut terminal = Terminal::new(backend).context("cannot set up the terminal")?;
    // What the terminal can show, decided once: TERM=dumb and --color
    // never (or NO_COLOR) get none, 8-colour terminals the basic 8.
    let palette = Palette::detect(
        options.color,
        std::env::var("TERM").ok().as_deref(),
        crossterm::style::available_color_count(),
    );
    let size = terminal.size().context("cannot read the terminal size")?;
    let screen = Screen {
        palette,
        width: size.width,
        height: size.height,
    };
    // The local TUI ends only when the user quits (or input ends).
    let never = CancellationToken::new();
    let result = event_loop(&mut terminal, options, EventStream::new(), screen, &never).await;
    drop(guard);
    result.map(|_| ())
}

/// The terminal the TUI draws on: stdout for `agora tui`, an SSH channel
/// for `crate::remote`.
pub(crate) type Drawn<W> = Terminal<CrosstermBackend<BasicSgr<W>>>;

/// What the event loop needs to know of its terminal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Screen {
    /// The colours it may use.
    pub palette: Palette,
    /// Its size when the loop starts (later sizes come as resize events).
    pub width: u16,
    /// See `width`.
    pub height: u16,
}

/// Why the event loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user quit.
    Quit,
    /// The input ended (the terminal, or the connection to it, is gone).
    InputClosed,
    /// The embedding program asked it to stop (the daemon shuts down).
    Stopped,
}

pub(crate) async fn event_loop<W, S>(
    terminal: &mut Drawn<W>,
    options: Options,
    mut input: S,
    screen: Screen,
    stop: &CancellationToken,
) -> anyhow::Result<Ending>
where
    W: std::io::Write,
    S: futures::Stream<Item = std::io::Result<Event>> + Unpin,
{
    let Options {
        addr,
        token,
        user,
        color: _,
        resp,
        mut on_sign_in,
    } = options;
    let mut app = App::new(addr.clone(), user).with_resp(resp);
    let palette = screen.palette;

    let cancel = CancellationToken::new();
    // Dropping the guard cancels the task on every exit path, `?` included.
    let _stop = cancel.clone().drop_guard();
    let (events_tx, mut events) = mpsc::channel(256);
    let (commands, commands_rx) = mpsc::channel(COMMANDS);
    // The token the connection task signs in with; the sign-in form
    // replaces it, so reconnecting keeps the new sign-in.
    let (tokens, tokens_rx) = watch::channel(token);
    let task = connection::spawn(
        connection::Config::new(addr, None).tokens(tokens_rx),
        events_tx,
        commands_rx,
        cancel.child_token(),
    );
    app.on_resize(screen.width, screen.height);

    let mut ticker = interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut ending = Ending::Quit;

    while app.run_state() == RunState::Running {
        if let Some(signed) = app.take_signed_in() {
            tokens.send_replace(Some(signed.token.clone()));
            if let Some(save) = on_sign_in.as_mut() {
                save(signed);
            }
        }
        // Requests queued by the last event go out before the next wait.
        for command in app.take_outbox() {
            let tag = command.tag;
            if let Err(err) = commands.try_send(command) {
                let why = match err {
                    TrySendError::Full(_) => "too many requests waiting; try again",
                    TrySendError::Closed(_) => "the connection task has stopped",
                };
                app.on_server(ServerEvent::Reply {
                    tag,
                    result: Err(why.to_string()),
                });
            }
        }
        terminal
            .draw(|frame| {
                render(&app, frame);
                palette.apply(frame.buffer_mut());
            })
            .context("cannot draw the screen")?;
        tokio::select! {
            next = input.next() => match next {
                Some(Ok(Event::Key(key))) => {
                    app.handle_key(key);
                }
                Some(Ok(Event::Mouse(mouse))) => {
                    app.handle_mouse(mouse);
                }
                Some(Ok(Event::Resize(width, height))) => {
                    app.on_resize(width, height);
                    terminal
                        .resize(ratatui::layout::Rect::new(0, 0, width, height))
                        .context("cannot resize the screen")?;
                }
                // The rest need only the redraw at the top.
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err).context("cannot read terminal input"),
                None => {
                    ending = Ending::InputClosed;
                    break;
                }
            },
            Some(event) = events.recv() => app.on_server(event),
            _ = ticker.tick() => app.on_tick(Instant::now()),
            () = stop.cancelled() => {
                ending = Ending::Stopped;
                break;
            }
        }
    }

    cancel.cancel();
    if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
        tracing::warn!("connection task did not stop in time");
    }
    Ok(ending)
}
