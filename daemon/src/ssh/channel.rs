//! One SSH session channel: waits for the client's requests (PTY, shell
//! or exec), then runs the TUI, a command, or the screen that explains
//! how to register an unknown key.
//!
//! The TUI's output goes through [`ChannelOut`] into an [`Outbox`] of at
//! most [`MAX_OUTPUT`] bytes, which a task drains into the channel as the
//! SSH window allows (frames written meanwhile are sent together). A
//! client that stops reading stops opening its window, the outbox fills,
//! the next redraw fails, and the session is dropped; its task is the only
//! one that waited. Input, window changes and the
//! channel's end come from the channel's read half and go to the TUI as
//! [`RemoteInput`].

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use agora_tui::{Ending, RemoteInput, RemoteTerminal};
use agora_wire::UserInfo;
use bytes::Bytes;
use russh::server::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::{Notify, mpsc};

use super::{SshState, exec};

/// Bytes of TUI output waiting for a client before it counts as not
/// reading: a redraw is a few KB, a full screen of a large terminal some
/// tens of KB.
pub(crate) const MAX_OUTPUT: usize = 1 << 20;

/// Who the channel serves.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    /// A registered key's owner.
    User(UserInfo),
    /// A key nobody registered (its fingerprint): it only gets told how.
    Unknown(String),
}

/// What the client asked the channel to run.
enum Start {
    Shell,
    Exec(String),
}

/// The client's terminal, from its PTY request.
struct Pty {
    term: String,
    width: u16,
    height: u16,
}

/// Serves one session channel until it ends.
pub(crate) async fn serve(
    state: Arc<SshState>,
    peer: Peer,
    addr: Option<SocketAddr>,
    channel: russh::Channel<Msg>,
    handle: russh::server::Handle,
) {
    let (mut rx, tx) = channel.split();
    let tx = Arc::new(tx);
    let mut pty = None;
    let start = loop {
        match rx.wait().await {
            Some(ChannelMsg::RequestPty {
                term,
                col_width,
                row_height,
                ..
            }) => {
                pty = Some(Pty {
                    term,
                    width: clamp(col_width, 80),
                    height: clamp(row_height, 24),
                });
            }
            Some(ChannelMsg::WindowChange {
                col_width,
                row_height,
                ..
            }) => {
                if let Some(pty) = pty.as_mut() {
                    pty.width = clamp(col_width, pty.width);
                    pty.height = clamp(row_height, pty.height);
                }
            }
            Some(ChannelMsg::RequestShell { .. }) => break Start::Shell,
            Some(ChannelMsg::Exec { command, .. }) => {
                break Start::Exec(String::from_utf8_lossy(&command).into_owned());
            }
            Some(ChannelMsg::Eof | ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    };
    state
        .shared
        .stats
        .ssh_sessions
        .fetch_add(1, Ordering::Relaxed);
    let status = match (peer, start) {
        (Peer::Unknown(fingerprint), _) => {
            explain_unknown(&tx, &fingerprint, pty.is_some()).await;
            1
        }
        (Peer::User(user), Start::Exec(line)) => run_exec(&state, &tx, user, &line, addr).await,
        (Peer::User(_), Start::Shell) if pty.is_none() => {
            let line = "agora: this SSH server runs the agora TUI, which needs a terminal: \
                        connect with `ssh -t`, or give a command (`ssh ... help`)\r\n";
            let _ = tx.extended_data_bytes(1, Bytes::from(line)).await;
            1
        }
        (Peer::User(user), Start::Shell) => {
            let pty = pty.unwrap_or(Pty {
                term: String::new(),
                width: 80,
                height: 24,
            });
            run_tui(&state, &tx, rx, user, pty, addr, &handle).await
        }
    };
    state
        .shared
        .stats
        .ssh_sessions
        .fetch_sub(1, Ordering::Relaxed);
    let _ = tx.exit_status(status).await;
    let _ = tx.eof().await;
    let _ = tx.close().await;
}

/// A window size from the client, as the TUI takes it: 0 means the client
/// does not know (`ssh -tt` without a terminal), which gets `unknown`.
fn clamp(n: u32, unknown: u16) -> u16 {
    if n == 0 { unknown } else { n.min(1000) as u16 }
}

/// The screen for a key nobody registered: how to register it.
pub(crate) fn unknown_key_text(fingerprint: &str) -> String {
    format!(
        "Welcome to agora!\r\n\r\n\
         This SSH key is not registered with any agora account:\r\n  {fingerprint}\r\n\r\n\
         To register it, sign in on a machine with the agora CLI and run\r\n  \
         agora login NAME\r\n  agora ssh keys add ~/.ssh/id_ed25519.pub\r\n\
         (the .pub file of the key you connect with), then connect again.\r\n"
    )
}

async fn explain_unknown(tx: &ChannelWriteHalf<Msg>, fingerprint: &str, pty: bool) {
    let text = unknown_key_text(fingerprint);
    let _ = if pty {
        // Clear the screen first, so it reads as a screen of its own.
        let screen = format!("\x1b[H\x1b[2J{text}");
        tx.data_bytes(Bytes::from(screen)).await
    } else {
        tx.extended_data_bytes(1, Bytes::from(text)).await
    };
}

async fn run_exec(
    state: &SshState,
    tx: &ChannelWriteHalf<Msg>,
    user: UserInfo,
    line: &str,
    addr: Option<SocketAddr>,
) -> u32 {
    let Some(token) = state.token_for(&user) else {
        let _ = tx
            .extended_data_bytes(1, Bytes::from("agora: cannot sign you in\r\n"))
            .await;
        return 2;
    };
    tracing::info!(user = %user.name, peer = ?addr, command = %line.chars().take(120).collect::<String>(), "ssh: exec");
    let outcome = exec::run(state.native, token, line).await;
    if !outcome.stdout.is_empty() {
        let _ = tx.data_bytes(Bytes::from(outcome.stdout)).await;
    }
    if !outcome.stderr.is_empty() {
        let _ = tx.extended_data_bytes(1, Bytes::from(outcome.stderr)).await;
    }
    outcome.status
}

async fn run_tui(
    state: &Arc<SshState>,
    tx: &Arc<ChannelWriteHalf<Msg>>,
    rx: ChannelReadHalf,
    user: UserInfo,
    pty: Pty,
    addr: Option<SocketAddr>,
    handle: &russh::server::Handle,
) -> u32 {
    let say = |text: String| async move {
        let _ = tx.data_bytes(Bytes::from(text)).await;
    };
    if !agora_tui::can_draw_on(&pty.term) {
        say(format!(
            "agora: the TUI cannot draw on a terminal of type {:?}; use a terminal that can \
             (TERM=xterm-256color), or give a command (`ssh ... help`)\r\n",
            pty.term
        ))
        .await;
        return 1;
    }
    let Some(_place) = state
        .sessions
        .open(user.id, state.config.max_sessions_per_user)
    else {
        tracing::info!(user = %user.name, peer = ?addr, "ssh: session refused, too many open");
        say(format!(
            "agora: {} already has {} SSH sessions open (the limit); close one first\r\n",
            user.name, state.config.max_sessions_per_user
        ))
        .await;
        return 1;
    };
    let Some(token) = state.token_for(&user) else {
        say("agora: cannot sign you in\r\n".into()).await;
        return 2;
    };
    tracing::info!(user = %user.name, peer = ?addr, term = %pty.term, width = pty.width, height = pty.height, "ssh: TUI session started");

    let outbox = Arc::new(Outbox::default());
    let pump = tokio::spawn(drain(outbox.clone(), tx.clone()));
    let (in_tx, in_rx) = mpsc::channel(64);
    let reader = tokio::spawn(forward_input(rx, in_tx));
    let stop = state.shared.shutdown.child_token();
    let options = agora_tui::Options {
        addr: state.native.to_string(),
        token: Some(token),
        user: Some(user.name.clone()),
        color: true,
        resp: None,
        on_sign_in: None,
    };
    let remote = RemoteTerminal {
        output: ChannelOut {
            buf: Vec::new(),
            outbox,
        },
        input: in_rx,
        width: pty.width,
        height: pty.height,
        term: pty.term,
        stop,
    };
    let ending = agora_tui::run_remote(options, remote).await;
    reader.abort();
    // The terminal (and its `ChannelOut`) is gone: the pump sends what is
    // left (the goodbye) and stops.
    let status = match ending {
        Ok(Ending::Quit) => {
            tracing::info!(user = %user.name, peer = ?addr, "ssh: TUI session ended (quit)");
            0
        }
        Ok(Ending::InputClosed) => {
            tracing::info!(user = %user.name, peer = ?addr, "ssh: TUI session ended (connection closed)");
            pump.abort();
            return 0;
        }
        Ok(Ending::Stopped) => {
            tracing::info!(user = %user.name, peer = ?addr, "ssh: TUI session ended (daemon shutting down)");
            0
        }
        Err(err) => {
            tracing::warn!(user = %user.name, peer = ?addr, "ssh: TUI session dropped: {err:#}");
            pump.abort();
            // The client is not reading: whatever is queued for it is
            // never sent, so the whole connection goes.
            let bye = handle.disconnect(
                russh::Disconnect::ByApplication,
                "the client did not read its screen in time".into(),
                String::new(),
            );
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), bye).await;
            return 1;
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), pump).await;
    status
}

/// Hands what the client sends to the TUI, until the channel ends.
async fn forward_input(mut rx: ChannelReadHalf, input: mpsc::Sender<RemoteInput>) {
    while let Some(msg) = rx.wait().await {
        let event = match msg {
            ChannelMsg::Data { data } => RemoteInput::Bytes(data.to_vec()),
            ChannelMsg::WindowChange {
                col_width,
                row_height,
                ..
            } => RemoteInput::Resize(clamp(col_width, 80), clamp(row_height, 24)),
            ChannelMsg::Eof | ChannelMsg::Close => break,
            _ => continue,
        };
        if input.send(event).await.is_err() {
            break;
        }
    }
}

/// TUI output waiting for the client: written by the session's
/// [`ChannelOut`], drained by [`drain`].
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    bytes: Mutex<Vec<u8>>,
    ready: Notify,
    closed: AtomicBool,
}

/// Sends what the outbox holds as the SSH window allows, until the
/// writer is gone and all is sent.
async fn drain(outbox: Arc<Outbox>, tx: Arc<ChannelWriteHalf<Msg>>) {
    loop {
        let chunk = std::mem::take(&mut *outbox.bytes.lock().unwrap_or_else(|e| e.into_inner()));
        if chunk.is_empty() {
            if outbox.closed.load(Ordering::Acquire) {
                return;
            }
            // A notification sent since the take is kept as a permit.
            outbox.ready.notified().await;
            continue;
        }
        if tx.data_bytes(Bytes::from(chunk)).await.is_err() {
            return;
        }
    }
}

/// The TUI's screen on its way to the client: each flush moves what was
/// written since the last one to the outbox; an outbox over
/// [`MAX_OUTPUT`] (the client is not reading) is an error, which ends the
/// session.
pub(crate) struct ChannelOut {
    buf: Vec<u8>,
    outbox: Arc<Outbox>,
}

impl Write for ChannelOut {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut queued = self.outbox.bytes.lock().unwrap_or_else(|e| e.into_inner());
        if queued.len() + self.buf.len() > MAX_OUTPUT {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "the client has not read {} KiB of its screen",
                    queued.len() / 1024
                ),
            ));
        }
        queued.append(&mut self.buf);
        drop(queued);
        self.outbox.ready.notify_one();
        Ok(())
    }
}

impl Drop for ChannelOut {
    fn drop(&mut self) {
        self.outbox.closed.store(true, Ordering::Release);
        self.outbox.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_moved_per_flush_and_a_full_outbox_is_an_error() {
        let outbox = Arc::new(Outbox::default());
        let mut out = ChannelOut {
            buf: Vec::new(),
            outbox: outbox.clone(),
        };
        out.write_all(b"one").unwrap();
        out.flush().unwrap();
        out.flush().unwrap(); // nothing written: nothing moved
        out.write_all(b"two").unwrap();
        assert_eq!(*outbox.bytes.lock().unwrap(), b"one");
        out.flush().unwrap();
        assert_eq!(*outbox.bytes.lock().unwrap(), b"onetwo");
        out.write_all(&vec![b'x'; MAX_OUTPUT]).unwrap();
        let err = out.flush().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(!outbox.closed.load(Ordering::Acquire));
        drop(out);
        assert!(outbox.closed.load(Ordering::Acquire));
    }

    #[test]
    fn an_unknown_window_size_is_the_default() {
        assert_eq!(clamp(0, 80), 80);
        assert_eq!(clamp(132, 80), 132);
        assert_eq!(clamp(100_000, 24), 1000);
    }

    #[test]
    fn the_unknown_key_screen_says_how_to_register() {
        let text = unknown_key_text("SHA256:abc");
        assert!(text.contains("SHA256:abc"));
        assert!(text.contains("agora ssh keys add"));
    }
}
