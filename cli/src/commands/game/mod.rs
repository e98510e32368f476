//! `agora game …`: matchmaking, challenges, moves, watching, ratings and
//! replays for scripts and terminals — enough to write a bot in a shell
//! script (`agora game show ID --json`, then `agora game move ID MOVE`).
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to show (no live games,
//! no ratings, no such game for `show`/`watch`/`replay`, no opponent
//! before `queue --wait` ran out), 2 an error. `print` holds the JSON
//! shape of each thing and its text form.

mod print;

use std::io::Write as _;

use agora_wire::game::{GameState, game_topic};
use agora_wire::{Client, ErrorCode, Event, GameEvent, GameOp, GameReply, Reply};
use anyhow::Context as _;
use serde_json::json;

use crate::args::GameCommand;
use crate::credentials::Store;
use crate::output;
use crate::session;

/// Runs one game subcommand.
pub async fn run(addr: &str, cmd: GameCommand, json: bool) -> anyhow::Result<u8> {
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, welcome) = session::connect(addr, Some(token)).await?;
    let me = welcome.user.map(|u| u.name).unwrap_or_default();
    let g = Game {
        addr,
        client: &client,
        json,
    };
    match cmd {
        GameCommand::Queue { kinds, time, wait } => g.queue(&me, kinds, time, wait).await,
        GameCommand::Cancel => {
            g.ask(GameOp::Cancel).await?;
            if json {
                output::json(&json!({ "cancelled": true }))?;
            } else {
                println!("left the pools");
            }
            Ok(0)
        }
        GameCommand::Challenge { user, kind, time } => {
            let state = g
                .state(GameOp::Challenge {
                    opponent: user.clone(),
                    kind,
                    time,
                })
                .await?;
            g.print_state(&state, || {
                format!(
                    "challenged {user}: game {} (they accept with `agora game accept {}`)",
                    state.id, state.id
                )
            })
        }
        GameCommand::Accept { id } => {
            let state = g.state(GameOp::Accept { game: id }).await?;
            g.print_state(&state, || print::state_text(&state))
        }
        GameCommand::Decline { id } => {
            let state = g.state(GameOp::Decline { game: id }).await?;
            g.print_state(&state, || format!("game {id} declined"))
        }
        GameCommand::List => {
            let Reply::Game(GameReply::Games { games }) = g.ask(GameOp::List).await? else {
                return Err(g.unexpected());
            };
            if json {
                let list: Vec<_> = games.iter().map(print::summary).collect();
                output::json(&json!({ "games": list }))?;
            } else {
                for game in &games {
                    println!("{}", print::summary_text(game));
                }
            }
            Ok(u8::from(games.is_empty()))
        }
        GameCommand::Watch { id } => g.watch(id).await,
        GameCommand::Move { id, play, seq } => {
            let seq = match seq {
                Some(seq) => seq,
                None => g.state(GameOp::Show { game: id }).await?.seq,
            };
            let reply = g
                .ask(GameOp::Move {
                    game: id,
                    seq,
                    play: play.clone(),
                })
                .await?;
            let Reply::Game(GameReply::Moved { seq, .. }) = reply else {
                return Err(g.unexpected());
            };
            if json {
                output::json(&json!({ "game": id, "seq": seq, "move": play }))?;
            } else {
                println!("played {play} in game {id} (move {seq})");
            }
            Ok(0)
        }
        GameCommand::Show { id } => match g.state(GameOp::Show { game: id }).await {
            Ok(state) => g.print_state(&state, || print::state_text(&state)),
            Err(e) => g.not_found(e),
        },
        GameCommand::Resign { id } => {
            let state = g.state(GameOp::Resign { game: id }).await?;
            g.print_state(&state, || print::state_text(&state))
        }
        GameCommand::Draw { id, decline } => {
            let state = g
                .state(GameOp::Draw {
                    game: id,
                    offer: !decline,
                })
                .await?;
            g.print_state(&state, || match (&state.result, &state.draw_offer) {
                (Some(_), _) => print::state_text(&state),
                (None, Some(by)) => format!("{by} offers a draw in game {id}"),
                (None, None) => format!("no draw offer in game {id}"),
            })
        }
        GameCommand::Leaderboard { kind, limit } => {
            let reply = g
                .ask(GameOp::Leaderboard {
                    kind,
                    limit: Some(limit),
                })
                .await?;
            let Reply::Game(GameReply::Leaderboard { entries }) = reply else {
                return Err(g.unexpected());
            };
            if json {
                let list: Vec<_> = entries.iter().map(print::entry).collect();
                output::json(&json!({ "entries": list }))?;
            } else if !entries.is_empty() {
                print!("{}", print::leaderboard_text(&entries));
            }
            Ok(u8::from(entries.is_empty()))
        }
        GameCommand::Replay { id } => {
            let reply = match g.ask(GameOp::Replay { game: id }).await {
                Ok(reply) => reply,
                Err(e) => return g.not_found(e),
            };
            let Reply::Game(GameReply::Replay { state, positions }) = reply else {
                return Err(g.unexpected());
            };
            if json {
                output::json(&json!({ "state": print::state(&state), "positions": positions }))?;
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "{}",
                    print::state_text(&state).lines().next().unwrap_or("")
                )?;
                for (i, rows) in positions.iter().enumerate() {
                    let title = match i {
                        0 => "start".to_owned(),
                        _ => format!("{i}. {}", state.moves[i - 1]),
                    };
                    writeln!(
                        out,
                        "\n{title}\n{}",
                        print::board(&state.kind, rows).trim_end()
                    )?;
                }
            }
            Ok(0)
        }
    }
}

/// A connection and how to print.
struct Game<'a> {
    addr: &'a str,
    client: &'a Client,
    json: bool,
}

/// An error that means "no such game": exit status 1, `null` with --json.
#[derive(Debug)]
struct NotFound(String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotFound {}

impl Game<'_> {
    async fn ask(&self, op: GameOp) -> anyhow::Result<Reply> {
        self.client.request(op).await.map_err(|e| match e {
            agora_wire::Error::Server(body) if body.code == ErrorCode::NotFound => {
                anyhow::Error::new(NotFound(format!("{}: {}", self.addr, body.message)))
            }
            e => session::explain(self.addr, e, true),
        })
    }

    async fn state(&self, op: GameOp) -> anyhow::Result<GameState> {
        match self.ask(op).await? {
            Reply::Game(GameReply::State { state }) => Ok(*state),
            _ => Err(self.unexpected()),
        }
    }

    fn unexpected(&self) -> anyhow::Error {
        anyhow::anyhow!("{}: unexpected reply", self.addr)
    }

    /// "No such game" is nothing to show (exit 1, `null`); other errors
    /// stay errors.
    fn not_found(&self, err: anyhow::Error) -> anyhow::Result<u8> {
        if err.downcast_ref::<NotFound>().is_none() {
            return Err(err);
        }
        if self.json {
            output::json(&serde_json::Value::Null)?;
        } else {
            eprintln!("agora: {err}");
        }
        Ok(1)
    }

    fn print_state(&self, state: &GameState, text: impl FnOnce() -> String) -> anyhow::Result<u8> {
        if self.json {
            output::json(&print::state(state))?;
        } else {
            println!("{}", text().trim_end());
        }
        Ok(0)
    }

    /// Waits in the pools until a game starts (printed), `wait` runs out
    /// (exit 1) or Ctrl-C (130); either way out of the pools.
    async fn queue(
        &self,
        me: &str,
        kinds: Vec<String>,
        time: agora_wire::game::TimeControl,
        wait: Option<std::time::Duration>,
    ) -> anyhow::Result<u8> {
        let mut pushes = self
            .client
            .pushes()
            .await
            .context("push stream already taken")?;
        self.ask(GameOp::Queue {
            kinds: kinds.clone(),
            time,
        })
        .await?;
        if !self.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprintln!(
                "waiting for an opponent ({}, {})",
                kinds.join(", "),
                time.label()
            );
        }
        let deadline = async {
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            tokio::select! {
                biased;
                _ = &mut interrupted => {
                    let _ = self.client.request(GameOp::Cancel).await;
                    return Ok(130);
                }
                () = &mut deadline => {
                    self.ask(GameOp::Cancel).await?;
                    if self.json {
                        output::json(&serde_json::Value::Null)?;
                    } else {
                        eprintln!("agora: no opponent found in time");
                    }
                    return Ok(1);
                }
                push = pushes.recv() => {
                    let Some(push) = push else {
                        anyhow::bail!("{}: connection closed while waiting", self.addr);
                    };
                    if let Event::Game(GameEvent::Started { state }) = push.event
                        && state.players.iter().any(|p| p == me)
                    {
                        return self.print_state(&state, || print::state_text(&state));
                    }
                }
            }
        }
    }

    /// Prints the state, then every event of the game until it ends
    /// (exit 0) or Ctrl-C (130).
    async fn watch(&self, id: u64) -> anyhow::Result<u8> {
        let pushes = self
            .client
            .pushes()
            .await
            .context("push stream already taken")?;
        let state = match self.state(GameOp::Watch { game: id }).await {
            Ok(state) => state,
            // A stream that does not start prints nothing, not even `null`
            // (every line of a stream has a type).
            Err(e) if e.downcast_ref::<NotFound>().is_some() => {
                eprintln!("agora: {e}");
                return Ok(1);
            }
            Err(e) => return Err(e),
        };
        {
            let mut out = std::io::stdout().lock();
            if self.json {
                writeln!(out, "{}", print::state_line(&state))?;
            } else {
                writeln!(out, "{}", print::state_text(&state).trim_end())?;
            }
            out.flush()?;
        }
        if state.result.is_some() {
            return Ok(0);
        }
        let topic = game_topic(id);
        let seq = state.seq;
        let json = self.json;
        let code = session::follow(self.addr, self.client, pushes, |push| {
            if push.topic != topic {
                return Ok(None);
            }
            let Event::Game(event) = push.event else {
                return Ok(None);
            };
            // Already in the state printed first.
            if let GameEvent::Moved { seq: s, .. } = &event
                && *s <= seq
            {
                return Ok(None);
            }
            let over = matches!(event, GameEvent::Ended { .. });
            let line = if json {
                Some(print::event_line(&event).to_string())
            } else {
                print::event_text(&event).map(|t| t.trim_end().to_owned())
            };
            if over {
                // Print the end, then stop with status 0.
                if let Some(l) = &line {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{l}")?;
                    out.flush()?;
                }
                return Err(anyhow::Error::new(Finished));
            }
            Ok(line)
        })
        .await;
        match code {
            Err(e) if e.downcast_ref::<Finished>().is_some() => Ok(0),
            other => other,
        }
    }
}

/// The watched game ended: the stream stops with exit status 0.
#[derive(Debug)]
struct Finished;

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the game ended")
    }
}

impl std::error::Error for Finished {}
