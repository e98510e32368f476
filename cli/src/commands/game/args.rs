//! The flags of `agora game …`, kept here rather than in `cli/src/args.rs`
//! (which only names [`GameArgs`]).

use agora_wire::game::{KINDS, TimeControl};
use clap::{Args, Subcommand};

use crate::args::{GroupRemoteArgs, parse_duration};

/// `agora game SUBCOMMAND`
#[derive(Debug, Args)]
pub struct GameArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: GameCommand,
}

/// `agora game …`
#[derive(Debug, Subcommand)]
pub enum GameCommand {
    /// Wait in the matchmaking pools of one or more game types for an
    /// opponent of a similar rating, then print the game that starts.
    ///
    /// The rating window widens the longer you wait. Leaving (Ctrl-C,
    /// --wait running out) takes you out of the pools.
    Queue {
        /// Game types: tictactoe (ttt), connect4 (c4).
        #[arg(required = true, value_name = "TYPE", value_parser = parse_kind)]
        kinds: Vec<String>,
        /// Time control, minutes+seconds of increment (3+2, 0.5+0).
        #[arg(long, default_value = "3+2", value_name = "M+S", value_parser = parse_time)]
        time: TimeControl,
        /// Give up after this long (500ms, 10s, 2m): exit status 1.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        wait: Option<std::time::Duration>,
    },
    /// Leave every matchmaking pool.
    Cancel,
    /// Challenge a user to a game; they have a minute to accept. The
    /// challenger moves first.
    Challenge {
        /// Who to challenge.
        user: String,
        /// The game type: tictactoe (ttt), connect4 (c4).
        #[arg(value_parser = parse_kind)]
        kind: String,
        /// Time control, minutes+seconds of increment (3+2, 0.5+0).
        #[arg(long, default_value = "3+2", value_name = "M+S", value_parser = parse_time)]
        time: TimeControl,
    },
    /// Accept a challenge: the game starts.
    Accept {
        /// The game's id.
        id: u64,
    },
    /// Decline a challenge (or withdraw your own).
    Decline {
        /// The game's id.
        id: u64,
    },
    /// Live games, and challenges to or from you.
    List,
    /// Print a game's state, then each move and event as it happens,
    /// until the game ends.
    Watch {
        /// The game's id.
        id: u64,
    },
    /// Play a move: a cell a1-c3 (tictactoe) or a column 1-7 (connect4).
    Move {
        /// The game's id.
        id: u64,
        /// The move.
        #[arg(value_name = "MOVE")]
        play: String,
        /// The number of moves the game had when you chose this one
        /// (the state's seq); a move made against an older position is
        /// refused. Default: the game's seq now.
        #[arg(long, value_name = "N")]
        seq: Option<u64>,
    },
    /// A game's board, clocks, moves and result, live or finished.
    Show {
        /// The game's id.
        id: u64,
    },
    /// Resign a game.
    Resign {
        /// The game's id.
        id: u64,
    },
    /// Offer a draw, or accept the one offered; --decline declines or
    /// withdraws it.
    Draw {
        /// The game's id.
        id: u64,
        /// Decline (or withdraw) the offer.
        #[arg(long)]
        decline: bool,
    },
    /// The best Glicko-2 ratings, with games played, won, lost and drawn.
    Leaderboard {
        /// Only this game type.
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: Option<String>,
        /// At most this many entries (1-500).
        #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// A finished game, position by position.
    Replay {
        /// The game's id.
        id: u64,
    },
}

/// A game type by name or alias (`ttt`, `c4`), as its wire name.
pub fn parse_kind(text: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    let kind = match lower.as_str() {
        "ttt" | "tic-tac-toe" => "tictactoe",
        "c4" | "connect-four" | "connectfour" => "connect4",
        other => other,
    };
    if KINDS.contains(&kind) {
        Ok(kind.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a game type: one of {} (or ttt, c4)",
            KINDS.join(", ")
        ))
    }
}

/// A time control in lichess's notation.
pub fn parse_time(text: &str) -> Result<TimeControl, String> {
    TimeControl::parse(text)
}
