//! `agora bench game`: N concurrent games played by bots as fast as the
//! daemon allows. Each pair of bots (two users, two connections) plays
//! game after game: the first challenges, the second accepts, then they
//! alternate random legal moves, each sent as soon as the opponent's move
//! arrives. Reports moves per second, the move → broadcast latency (from
//! sending a move to the opponent receiving its `game_moved` push; both
//! in this process, one clock), finished games, and with --pid the
//! daemon's CPU time and resident memory over the measured window.

use std::time::{Duration, Instant};

use agora_wire::game::{GameState, TimeControl};
use agora_wire::{Client, Event, GameEvent, GameOp, GameReply, Pushes, Reply};
use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use serde::Serialize;

use crate::args::BenchGameArgs;
use crate::output;
use crate::session;

const WARM_UP: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct Report {
    games: usize,
    kind: String,
    #[serde(serialize_with = "output::three_decimals")]
    seconds: f64,
    /// The average think time before each move (ms).
    think_ms: u64,
    moves: u64,
    #[serde(serialize_with = "output::three_decimals")]
    moves_per_sec: f64,
    finished: u64,
    #[serde(serialize_with = "output::three_decimals")]
    p50_ms: f64,
    #[serde(serialize_with = "output::three_decimals")]
    p99_ms: f64,
    #[serde(serialize_with = "output::three_decimals")]
    max_ms: f64,
    /// Daemon CPU time over the window, as a share of one core (%).
    cpu_percent: Option<f64>,
    rss_kib: Option<u64>,
}

/// What one pair of bots measured.
#[derive(Default)]
struct Tally {
    moves: u64,
    finished: u64,
    latencies_us: Vec<u64>,
}

/// Runs the benchmark and prints its report.
pub async fn run(addr: &str, args: BenchGameArgs, json: bool) -> anyhow::Result<u8> {
    let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let n = args.games * 2;
    let names: Vec<String> = (0..n).map(|i| format!("g{tag}-{i}")).collect();
    let clients: Vec<anyhow::Result<(Client, Pushes)>> = stream::iter(names.clone())
        .map(|name| async move {
            let (client, _) = session::connect(addr, None).await?;
            client
                .request(agora_wire::BaseOp::Register {
                    name,
                    password: "bench-password".into(),
                })
                .await
                .map_err(|e| session::explain(addr, e, false))?;
            let pushes = client.pushes().await.context("pushes taken")?;
            Ok((client, pushes))
        })
        .buffered(16)
        .collect()
        .await;
    let mut clients: Vec<(Client, Pushes)> = clients.into_iter().collect::<anyhow::Result<_>>()?;
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let measure_to = measure_from + Duration::from_secs_f64(args.duration);
    let mut tasks = Vec::new();
    let mut i = 0;
    while let (Some(b), Some(a)) = (clients.pop(), clients.pop()) {
        let opponent = names[n - 1 - 2 * i].clone();
        i += 1;
        let kind = args.kind.clone();
        tasks.push(tokio::spawn(play_pair(
            a,
            b,
            opponent,
            kind,
            args.think,
            (measure_from, measure_to),
        )));
    }
    let cpu_before = sleep_until_then(measure_from, args.pid).await;
    let cpu_after = sleep_until_then(measure_to, args.pid).await;
    let mut total = Tally::default();
    for t in tasks {
        let tally = t.await.context("a bot panicked")??;
        total.moves += tally.moves;
        total.finished += tally.finished;
        total.latencies_us.extend(tally.latencies_us);
    }
    total.latencies_us.sort_unstable();
    let pct = |q: f64| -> f64 {
        let l = &total.latencies_us;
        if l.is_empty() {
            return 0.0;
        }
        l[((l.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
    };
    let ticks = clock_ticks();
    let cpu_percent = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => {
            Some((((b - a) as f64 / ticks) / args.duration * 1000.0).round() / 10.0)
        }
        _ => None,
    };
    let report = Report {
        games: args.games,
        kind: args.kind,
        seconds: args.duration,
        think_ms: args.think.as_millis() as u64,
        moves: total.moves,
        moves_per_sec: total.moves as f64 / args.duration,
        finished: total.finished,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: total
            .latencies_us
            .last()
            .map_or(0.0, |m| *m as f64 / 1000.0),
        cpu_percent,
        rss_kib: args.pid.and_then(rss_kib),
    };
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} games of {} for {:.1} s: {} moves, {:.0} moves/s, {} games finished",
            report.games,
            report.kind,
            report.seconds,
            report.moves,
            report.moves_per_sec,
            report.finished
        );
        println!(
            "move → broadcast latency ms: p50 {:.3}  p99 {:.3}  max {:.3}",
            report.p50_ms, report.p99_ms, report.max_ms
        );
        if let (Some(cpu), Some(rss)) = (report.cpu_percent, report.rss_kib) {
            println!("daemon: {cpu:.1}% of a core, {} MiB resident", rss / 1024);
        }
    }
    Ok(0)
}

/// Sleeps until `at`, then reads the daemon's CPU time (ticks).
async fn sleep_until_then(at: Instant, pid: Option<u32>) -> Option<u64> {
    tokio::time::sleep_until(at.into()).await;
    cpu_ticks(pid?)
}

/// utime + stime of a process, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

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

/// The legal moves on a board, from the board alone (the bots know the
/// notation, not the rules): empty cells, or columns with room.
fn legal(kind: &str, board: &[String]) -> Vec<String> {
    if kind == "tictactoe" {
        let n = board.len();
        let mut out = Vec::new();
        for (i, row) in board.iter().enumerate() {
            for (c, cell) in row.chars().enumerate() {
                if cell == '.' {
                    out.push(format!("{}{}", (b'a' + c as u8) as char, n - i));
                }
            }
        }
        out
    } else {
        board
            .first()
            .map(|top| {
                top.chars()
                    .enumerate()
                    .filter(|(_, c)| *c == '.')
                    .map(|(i, _)| (i + 1).to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Two bots playing game after game until `to`.
async fn play_pair(
    a: (Client, Pushes),
    b: (Client, Pushes),
    b_name: String,
    kind: String,
    think: Duration,
    (from, to): (Instant, Instant),
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut bots = [a, b];
    let time = TimeControl {
        initial_ms: 600_000,
        increment_ms: 0,
    };
    while Instant::now() < to {
        let Reply::Game(GameReply::State { state }) = bots[0]
            .0
            .request(GameOp::Challenge {
                opponent: b_name.clone(),
                kind: kind.clone(),
                time,
            })
            .await?
        else {
            anyhow::bail!("unexpected reply to a challenge");
        };
        let id = state.id;
        let Reply::Game(GameReply::State { state }) =
            bots[1].0.request(GameOp::Accept { game: id }).await?
        else {
            anyhow::bail!("unexpected reply to an accept");
        };
        play_one(&mut bots, *state, &mut tally, think, (from, to)).await?;
    }
    Ok(tally)
}

/// Plays one game to its end (or resigns it at `to`).
async fn play_one(
    bots: &mut [(Client, Pushes); 2],
    state: GameState,
    tally: &mut Tally,
    think: Duration,
    (from, to): (Instant, Instant),
) -> anyhow::Result<()> {
    let id = state.id;
    // The challenger moves first: bots[0].
    let mut board = state.board;
    let mut seq = state.seq;
    let mut turn = 0;
    loop {
        if Instant::now() >= to {
            let _ = bots[0].0.request(GameOp::Resign { game: id }).await;
            return Ok(());
        }
        if !think.is_zero() {
            tokio::time::sleep(think.mul_f64(rand::random_range(0.5..1.5))).await;
        }
        let moves = legal(&state.kind, &board);
        let play = moves[rand::random_range(0..moves.len())].clone();
        let sent = Instant::now();
        let (mover, waiter) = if turn == 0 {
            let (x, y) = bots.split_at_mut(1);
            (&mut x[0], &mut y[0])
        } else {
            let (x, y) = bots.split_at_mut(1);
            (&mut y[0], &mut x[0])
        };
        let request = mover.0.request(GameOp::Move {
            game: id,
            seq,
            play,
        });
        let arrival = async {
            loop {
                match waiter.1.recv().await {
                    None => return Err(anyhow::anyhow!("connection closed")),
                    Some(push) => match push.event {
                        // An empty `turn`: the move ended the game.
                        Event::Game(GameEvent::Moved {
                            game,
                            seq: s,
                            board,
                            turn,
                            ..
                        }) if game == id && s == seq + 1 => {
                            return Ok((Instant::now(), board, turn.is_empty()));
                        }
                        Event::Game(GameEvent::Ended { state })
                            if state.id == id && state.seq == seq + 1 =>
                        {
                            return Ok((Instant::now(), state.board, true));
                        }
                        _ => {}
                    },
                }
            }
        };
        let (reply, arrived) = tokio::join!(request, arrival);
        reply?;
        let (at, new_board, ended) = arrived?;
        if sent >= from && at <= to {
            tally.moves += 1;
            tally
                .latencies_us
                .push(at.duration_since(sent).as_micros() as u64);
        }
        board = new_board;
        seq += 1;
        if ended || legal(&state.kind, &board).is_empty() {
            // Wait for the end on the challenger's side too (the game is
            // stored by then), then the next game.
            wait_end(&mut bots[0].1, id).await?;
            if at <= to {
                tally.finished += 1;
            }
            return Ok(());
        }
        turn = 1 - turn;
    }
}

/// Waits for a game's `game_ended` on one bot's pushes.
async fn wait_end(pushes: &mut Pushes, id: u64) -> anyhow::Result<()> {
    loop {
        match pushes.recv().await {
            None => anyhow::bail!("connection closed"),
            Some(push) => {
                if let Event::Game(GameEvent::Ended { state }) = push.event
                    && state.id == id
                {
                    return Ok(());
                }
            }
        }
    }
}
