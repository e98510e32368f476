//! A game bot in Rust, playing the first legal move (a Python bot plays
//! against it in sdk/python's tests).
//!
//! ```sh
//! export AGORA_TOKEN=…
//! cargo run -p agora-wire --example game_bot -- accept              # plays every challenge
//! cargo run -p agora-wire --example game_bot -- challenge bob tictactoe   # one game
//! ```
//!
//! `accept` prints `ready` once it listens for challenges; `challenge`
//! prints the final state's result as `result REASON WINNER`.

use agora_wire::Session;
use agora_wire::bots::{GameBot, play};
use agora_wire::game::TimeControl;

fn first_legal(state: &agora_wire::game::GameState) -> Option<String> {
    state.legal.first().cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addrs = std::env::var("AGORA_ADDR").unwrap_or_else(|_| "127.0.0.1:7070".into());
    let token = std::env::var("AGORA_TOKEN").map_err(|_| "set AGORA_TOKEN to a token")?;
    let session = Session::builder([addrs])
        .client_name("game-bot-example")
        .token(token)
        .connect()
        .await?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["accept"] => {
            let running = GameBot::new(session).start().await?;
            println!("ready");
            tokio::select! {
                () = running.serve(first_legal) => Ok(()),
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        ["challenge", opponent, kind] => {
            let time = TimeControl {
                initial_ms: 60_000,
                increment_ms: 0,
            };
            let state = session.games().challenge(opponent, kind, time).await?;
            let end = play(&session, state.id, first_legal).await?;
            let result = end.result.ok_or("the game ended without a result")?;
            println!(
                "result {:?} {}",
                result.reason,
                result.winner.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        _ => Err("usage: game_bot accept | game_bot challenge USER KIND".into()),
    }
}
