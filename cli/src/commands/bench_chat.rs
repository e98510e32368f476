//! `agora bench chat …`: load generators for the chat service.
//!
//! - `idle`: many signed-in connections doing nothing; the daemon's memory.
//! - `fanout`: one room, many members, a fixed total send rate; delivery
//!   latency (send to receipt, one clock: sender and receivers share this
//!   process) and deliveries per second.
//! - `persist`: senders as fast as acknowledgements allow; stored
//!   messages per second.
//! - `join`: many clients join one new room while all read their pushes;
//!   the time to fill it and the presence pushes it cost.
//!
//! Users are registered fresh for each run (names carry a random suffix),
//! so runs can repeat against the same daemon.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agora_wire::{BaseOp, BaseReply, ChatOp, Op, Reply, Request, ServerFrame, decode, encode};
use anyhow::Context as _;
use futures::stream;
use futures::{SinkExt as _, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::bench::{Conn, open};
use crate::args::BenchChatCommand;
use crate::output;
use crate::session;

const PASSWORD: &str = "bench-password";
const WARM_UP: Duration = Duration::from_secs(1);

/// Runs one chat benchmark and prints its report.
pub async fn run(addr: &str, cmd: BenchChatCommand, json: bool) -> anyhow::Result<u8> {
    match cmd {
        BenchChatCommand::Idle {
            clients,
            users,
            pid,
            hold,
        } => idle(addr, clients, users, pid, hold, json).await,
        BenchChatCommand::Fanout {
            members,
            senders,
            rate,
            duration,
            receive_addr,
        } => {
            anyhow::ensure!(
                senders <= members,
                "--senders ({senders}) cannot exceed --members ({members}): the senders are members"
            );
            let load = Fanout {
                members,
                senders,
                rate,
                duration,
                receive: receive_addr,
            };
            fanout(addr, load, json).await
        }
        BenchChatCommand::Persist {
            senders,
            pipeline,
            duration,
        } => persist(addr, senders, pipeline, duration, json).await,
        BenchChatCommand::Join {
            clients,
            concurrency,
            quiet,
            pid,
        } => join_room(addr, clients, concurrency, quiet, pid, json).await,
    }
}

/// A short random tag so repeated runs register new users.
fn run_tag() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}

/// Registers `n` users (in parallel on 16 connections); returns tokens.
async fn register(addr: &str, tag: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let results: Vec<anyhow::Result<String>> = stream::iter(0..n)
        .map(|i| async move {
            let (client, _) = session::connect(addr, None).await?;
            let reply = client
                .request(BaseOp::Register {
                    name: format!("b{tag}-{i}"),
                    password: PASSWORD.into(),
                })
                .await
                .map_err(|e| session::explain(addr, e, false))?;
            match reply {
                Reply::Base(BaseReply::Session { token, .. }) => Ok(token),
                other => anyhow::bail!("unexpected reply to register: {other:?}"),
            }
        })
        .buffered(16)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Resident memory of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[derive(Serialize)]
struct IdleReport {
    clients: usize,
    users: usize,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    bytes_per_client: Option<u64>,
}

async fn idle(
    addr: &str,
    clients: usize,
    users: usize,
    pid: Option<u32>,
    hold: f64,
    json: bool,
) -> anyhow::Result<u8> {
    let tag = run_tag();
    let tokens = register(addr, &tag, users).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = pid.and_then(rss_kib);
    let conns: Vec<anyhow::Result<Conn>> = stream::iter(0..clients)
        .map(|i| {
            let token = tokens[i % tokens.len()].clone();
            async move { open(addr, Some(&token)).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let conns: Vec<Conn> = conns.into_iter().collect::<anyhow::Result<_>>()?;
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    let after = pid.and_then(rss_kib);
    let report = IdleReport {
        clients: conns.len(),
        users,
        rss_before_kib: before,
        rss_after_kib: after,
        bytes_per_client: before
            .zip(after)
            .map(|(b, a)| a.saturating_sub(b) * 1024 / conns.len().max(1) as u64),
    };
    drop(conns);
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} idle signed-in connections ({} users)",
            report.clients, users
        );
        if let (Some(b), Some(a)) = (before, after) {
            println!(
                "daemon RSS: {:.1} MiB before, {:.1} MiB with them ({} bytes per connection)",
                b as f64 / 1024.0,
                a as f64 / 1024.0,
                report.bytes_per_client.unwrap_or(0)
            );
        }
    }
    Ok(0)
}

/// Just enough of a push to find a message's text.
#[derive(Deserialize)]
struct PushLite {
    r#type: String,
    #[serde(default)]
    event: Option<EventLite>,
}

#[derive(Deserialize)]
struct EventLite {
    r#type: String,
    #[serde(default)]
    message: Option<MessageLite>,
}

#[derive(Deserialize)]
struct MessageLite {
    text: String,
}

#[derive(Serialize)]
struct FanoutReport {
    members: usize,
    senders: usize,
    #[serde(serialize_with = "crate::output::three_decimals")]
    target_rate: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    seconds: f64,
    sent: u64,
    deliveries: u64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    deliveries_per_sec: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    p50_ms: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    p99_ms: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    max_ms: f64,
}

/// The fan-out load.
struct Fanout {
    members: usize,
    senders: usize,
    rate: f64,
    duration: f64,
    /// Where the members receive (empty: --addr).
    receive: Vec<String>,
}

async fn fanout(addr: &str, load: Fanout, json: bool) -> anyhow::Result<u8> {
    let Fanout {
        members,
        senders,
        rate,
        duration,
        receive: receive_at,
    } = load;
    let tag = run_tag();
    let room = format!("fanout-{tag}");
    if !json {
        eprintln!("registering {members} users…");
    }
    let tokens = register(addr, &tag, members).await?;
    // Every member opens the connection it will receive on and joins the
    // room on it, so nobody goes offline and online again; then the join
    // announcements drain before the measurement starts (members²/2
    // frames, half a million for 1,000, where each join is announced;
    // a few digests a second where the daemon coalesces presence).
    let mut conns = Vec::with_capacity(members);
    for (i, token) in tokens.iter().enumerate() {
        let at = match receive_at.len() {
            0 => addr,
            n => receive_at[i % n].as_str(),
        };
        let mut conn = open(at, Some(token)).await?;
        conn.send(encode(&Request {
            id: 1,
            op: Op::Chat(ChatOp::Join { room: room.clone() }),
        })?)
        .await?;
        conns.push(conn);
    }
    let settle = Duration::from_secs(3) + Duration::from_millis(members as u64 * 3);
    let base = Instant::now();
    let measure_from = base + settle + WARM_UP;
    let deadline = measure_from + Duration::from_secs_f64(duration);
    let mut receivers = Vec::with_capacity(members);
    for (i, conn) in conns.into_iter().enumerate() {
        let sampled = i % LATENCY_SAMPLE == 0;
        receivers.push(tokio::spawn(receive(
            conn,
            base,
            measure_from,
            deadline,
            sampled,
        )));
    }
    tokio::time::sleep(settle).await;
    // Senders: typed clients, each at rate/senders per second.
    let sent = Arc::new(AtomicU64::new(0));
    let per_sender = Duration::from_secs_f64(senders as f64 / rate);
    let mut sender_tasks = Vec::with_capacity(senders);
    for token in tokens.iter().take(senders) {
        let (client, _) = session::connect(addr, Some(token.clone())).await?;
        let (room, sent) = (room.clone(), sent.clone());
        sender_tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(per_sender);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let client = Arc::new(client);
            while Instant::now() < deadline {
                ticker.tick().await;
                let text = base.elapsed().as_micros().to_string();
                let counted = Instant::now() >= measure_from;
                let (client, room, sent) = (client.clone(), room.clone(), sent.clone());
                // Fire and forget: the ack is not what is measured.
                tokio::spawn(async move {
                    if client
                        .request(ChatOp::Send {
                            room,
                            text,
                            action: false,
                        })
                        .await
                        .is_ok()
                        && counted
                    {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }));
    }
    for task in sender_tasks {
        task.await.context("sender panicked")?;
    }
    let mut latencies: Vec<u32> = Vec::new();
    let mut deliveries = 0u64;
    for task in receivers {
        let (count, sample) = task.await.context("receiver panicked")??;
        deliveries += count;
        latencies.extend(sample);
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    let report = FanoutReport {
        members,
        senders,
        target_rate: rate,
        seconds: duration,
        sent: sent.load(Ordering::Relaxed),
        deliveries,
        deliveries_per_sec: deliveries as f64 / duration,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: latencies.last().map_or(0.0, |v| *v as f64 / 1000.0),
    };
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} members, {} senders at {:.0} msg/s for {:.0} s: {} sent, {} deliveries ({:.0}/s)",
            members,
            senders,
            rate,
            duration,
            report.sent,
            report.deliveries,
            report.deliveries_per_sec
        );
        println!(
            "delivery latency ms: p50 {:.2}  p99 {:.2}  max {:.2}",
            report.p50_ms, report.p99_ms, report.max_ms
        );
    }
    Ok(0)
}

/// One receiver in this many decodes its messages to sample latency; the
/// others only count frames, so the generator's own decoding does not
/// become what is measured.
const LATENCY_SAMPLE: usize = 10;

/// The MessagePack string `chat_message` (type tag of a message push).
const MESSAGE_TAG: &[u8] = b"\xacchat_message";

/// Reads pushes until the deadline (plus a second for stragglers). Returns
/// the frames that arrived within the measuring window and, when
/// `sampled`, the latencies (µs) of messages sent within it.
async fn receive(
    mut conn: Conn,
    base: Instant,
    measure_from: Instant,
    deadline: Instant,
    sampled: bool,
) -> anyhow::Result<(u64, Vec<u32>)> {
    let mut latencies = Vec::new();
    let mut arrived = 0u64;
    let from_us = measure_from.duration_since(base).as_micros() as u64;
    let until_us = deadline.duration_since(base).as_micros() as u64;
    let stop = deadline + Duration::from_secs(1);
    loop {
        let next = tokio::time::timeout_at(stop.into(), conn.next()).await;
        let Ok(Some(Ok(body))) = next else { break };
        let now_us = base.elapsed().as_micros() as u64;
        // A cheap test for a chat message push, without decoding.
        let is_message = body.windows(MESSAGE_TAG.len()).any(|w| w == MESSAGE_TAG);
        if is_message && (from_us..until_us).contains(&now_us) {
            arrived += 1;
        }
        if !sampled {
            continue;
        }
        let Ok(push) = decode::<PushLite>(&body) else {
            continue;
        };
        if push.r#type != "push" {
            continue;
        }
        let Some(EventLite {
            r#type,
            message: Some(MessageLite { text }),
        }) = push.event
        else {
            continue;
        };
        if r#type != "chat_message" {
            continue;
        }
        let Ok(sent_us) = text.parse::<u64>() else {
            continue;
        };
        if (from_us..until_us).contains(&sent_us) {
            latencies.push(now_us.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
        }
    }
    Ok((arrived, latencies))
}

#[derive(Serialize)]
struct PersistReport {
    senders: usize,
    pipeline: usize,
    #[serde(serialize_with = "crate::output::three_decimals")]
    seconds: f64,
    stored: u64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    stored_per_sec: f64,
}

async fn persist(
    addr: &str,
    senders: usize,
    pipeline: usize,
    duration: f64,
    json: bool,
) -> anyhow::Result<u8> {
    let tag = run_tag();
    let tokens = register(addr, &tag, senders).await?;
    let mut conns = Vec::with_capacity(senders);
    for (i, token) in tokens.iter().enumerate() {
        let (client, _) = session::connect(addr, Some(token.clone())).await?;
        client
            .request(ChatOp::Join {
                room: format!("persist-{tag}-{i}"),
            })
            .await
            .map_err(|e| session::explain(addr, e, true))?;
        drop(client);
        conns.push((open(addr, Some(token)).await?, format!("persist-{tag}-{i}")));
    }
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let deadline = measure_from + Duration::from_secs_f64(duration);
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(conn, room)| {
            tokio::spawn(send_flat_out(conn, room, pipeline, measure_from, deadline))
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        stored += t.await.context("sender panicked")??;
    }
    let report = PersistReport {
        senders,
        pipeline,
        seconds: duration,
        stored,
        stored_per_sec: stored as f64 / duration,
    };
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} senders, {} in flight each: {} messages stored in {:.0} s ({:.0}/s)",
            senders, pipeline, stored, duration, report.stored_per_sec
        );
    }
    Ok(0)
}

/// Keeps `depth` sends in flight; counts acknowledgements in the window.
async fn send_flat_out(
    mut conn: Conn,
    room: String,
    depth: usize,
    from: Instant,
    until: Instant,
) -> anyhow::Result<u64> {
    let mut next_id = 1u64;
    let mut outstanding = 0usize;
    let mut stored = 0u64;
    let request = |id: u64, room: &str| {
        encode(&Request {
            id,
            op: Op::Chat(ChatOp::Send {
                room: room.to_owned(),
                text: "persisted benchmark message with a realistic length of about sixty bytes"
                    .into(),
                action: false,
            }),
        })
    };
    for _ in 0..depth {
        conn.feed(request(next_id, &room)?).await?;
        next_id += 1;
        outstanding += 1;
    }
    conn.flush().await?;
    while outstanding > 0 {
        let body = conn.next().await.context("connection closed")??;
        let now = Instant::now();
        match decode::<ServerFrame>(&body)? {
            ServerFrame::Reply { .. } => {
                outstanding -= 1;
                if now >= from && now <= until {
                    stored += 1;
                }
            }
            ServerFrame::Error { error, .. } => anyhow::bail!("send refused: {error}"),
            _ => continue,
        }
        if now < until {
            conn.send(request(next_id, &room)?).await?;
            next_id += 1;
            outstanding += 1;
        }
    }
    Ok(stored)
}

#[derive(Serialize)]
struct JoinReport {
    clients: usize,
    concurrency: usize,
    /// First join sent to last join answered.
    #[serde(serialize_with = "crate::output::three_decimals")]
    fill_secs: f64,
    /// First join sent to the last push received.
    #[serde(serialize_with = "crate::output::three_decimals")]
    settle_secs: f64,
    /// Push frames received by all clients together.
    pushes: u64,
    push_bytes: u64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    pushes_per_join: f64,
    /// Bytes of the join replies (each lists the room's members).
    reply_bytes: u64,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
}

/// What every reader of the `join` benchmark adds to.
#[derive(Default)]
struct PushCount {
    frames: AtomicU64,
    bytes: AtomicU64,
    reply_bytes: AtomicU64,
    /// When the newest push arrived, µs after the start.
    last_us: AtomicU64,
}

async fn join_room(
    addr: &str,
    clients: usize,
    concurrency: usize,
    quiet: f64,
    pid: Option<u32>,
    json: bool,
) -> anyhow::Result<u8> {
    let tag = run_tag();
    let room = format!("join-{tag}");
    if !json {
        eprintln!("registering {clients} users…");
    }
    let tokens = register(addr, &tag, clients).await?;
    // Fresh users belong to no room, so signing them in announces nothing.
    let conns: Vec<anyhow::Result<Conn>> = stream::iter(&tokens)
        .map(|token| open(addr, Some(token.as_str())))
        .buffered(64)
        .collect()
        .await;
    let conns: Vec<Conn> = conns.into_iter().collect::<anyhow::Result<_>>()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = pid.and_then(rss_kib);
    if !json {
        eprintln!("{clients} clients join {room}, {concurrency} at a time…");
    }
    let count = Arc::new(PushCount::default());
    let (answered, mut answers) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let start = Instant::now();
    let mut sinks = Vec::with_capacity(clients);
    let mut readers = Vec::with_capacity(clients);
    for conn in conns {
        let (sink, frames) = conn.split();
        sinks.push(sink);
        readers.push(tokio::spawn(read_pushes(
            frames,
            start,
            count.clone(),
            answered.clone(),
            stopped.clone(),
        )));
    }
    let join = encode(&Request {
        id: 1,
        op: Op::Chat(ChatOp::Join { room }),
    })?;
    let (mut sent, mut done) = (0, 0);
    while done < clients {
        while sent < clients && sent - done < concurrency {
            sinks[sent].send(join.clone()).await?;
            sent += 1;
        }
        let answer: anyhow::Result<()> = answers.recv().await.context("every reader stopped")?;
        answer?;
        done += 1;
    }
    let fill = start.elapsed();
    // The last announcements may still be on their way (queued, or held
    // back for the daemon's next presence digest): wait for a quiet spell.
    let quiet = Duration::from_secs_f64(quiet);
    loop {
        let last = Duration::from_micros(count.last_us.load(Ordering::Relaxed));
        let idle = start.elapsed().saturating_sub(last);
        if idle >= quiet {
            break;
        }
        tokio::time::sleep(quiet - idle).await;
    }
    let rss_after = pid.and_then(rss_kib);
    let _ = stop.send(true);
    for reader in readers {
        reader.await.context("reader panicked")??;
    }
    let pushes = count.frames.load(Ordering::Relaxed);
    let report = JoinReport {
        clients,
        concurrency,
        fill_secs: fill.as_secs_f64(),
        settle_secs: count.last_us.load(Ordering::Relaxed) as f64 / 1e6,
        pushes,
        push_bytes: count.bytes.load(Ordering::Relaxed),
        pushes_per_join: pushes as f64 / clients as f64,
        reply_bytes: count.reply_bytes.load(Ordering::Relaxed),
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
    };
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} clients joined one room in {:.2} s ({} at a time); last push after {:.2} s",
            clients, report.fill_secs, concurrency, report.settle_secs
        );
        println!(
            "{} pushes ({:.1} MiB) received in all, {:.1} per join; join replies {:.1} MiB",
            pushes,
            report.push_bytes as f64 / (1024.0 * 1024.0),
            report.pushes_per_join,
            report.reply_bytes as f64 / (1024.0 * 1024.0)
        );
        if let (Some(b), Some(a)) = (rss_before, rss_after) {
            println!(
                "daemon RSS: {:.1} MiB before, {:.1} MiB after",
                b as f64 / 1024.0,
                a as f64 / 1024.0
            );
        }
    }
    Ok(0)
}

/// The start of every push frame's body: a map whose first key is the
/// `type` tag, `push` (internally tagged enums put the tag first).
const PUSH_PREFIX: &[u8] = b"\xa4type\xa4push";

/// Whether a frame body is a push, without decoding it.
fn is_push(body: &[u8]) -> bool {
    body.get(1..1 + PUSH_PREFIX.len()) == Some(PUSH_PREFIX)
}

/// Counts one client's pushes until told to stop; each reply (or error)
/// to its join is passed on.
async fn read_pushes(
    mut frames: futures::stream::SplitStream<Conn>,
    start: Instant,
    count: Arc<PushCount>,
    answered: mpsc::UnboundedSender<anyhow::Result<()>>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let body = tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(()),
            frame = frames.next() => match frame {
                Some(frame) => frame?,
                None => anyhow::bail!("the daemon closed a connection"),
            },
        };
        if is_push(&body) {
            count.frames.fetch_add(1, Ordering::Relaxed);
            count.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
            let at = start.elapsed().as_micros() as u64;
            count.last_us.fetch_max(at, Ordering::Relaxed);
            continue;
        }
        match decode::<ServerFrame>(&body)? {
            ServerFrame::Reply { .. } => {
                count
                    .reply_bytes
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
                let _ = answered.send(Ok(()));
            }
            ServerFrame::Error { error, .. } => {
                let _ = answered.send(Err(anyhow::anyhow!("join refused: {error}")));
            }
            ServerFrame::Goodbye { error } => anyhow::bail!("disconnected: {error}"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_wire::{ChatEvent, Push};

    #[test]
    fn pushes_are_told_from_replies_by_their_first_bytes() {
        let push = encode(&ServerFrame::Push(Push {
            topic: "chat.room.r".into(),
            event: ChatEvent::Unread { dms: 1 }.into(),
        }))
        .unwrap();
        assert!(is_push(&push));
        let reply = encode(&ServerFrame::Reply {
            id: 1,
            body: Reply::Base(BaseReply::Done),
        })
        .unwrap();
        assert!(!is_push(&reply));
    }
}
