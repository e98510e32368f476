//! The games repository: games (from challenge to result, with their move
//! lists for replays) and ratings per user and game type.
//!
//! The rating algorithm is not here: [`finish`] reads both players'
//! ratings, hands them to the caller's closure and writes what it returns,
//! the game's result and both players' counts in one transaction, so a
//! result is never stored without its rating change or the other way
//! round.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// A Glicko-2 rating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// The rating (1500 to start).
    pub rating: f64,
    /// Its deviation (350 to start).
    pub deviation: f64,
    /// Its volatility (0.06 to start).
    pub volatility: f64,
}

impl Default for Rating {
    /// Glickman's starting values.
    fn default() -> Self {
        Rating {
            rating: 1500.0,
            deviation: 350.0,
            volatility: 0.06,
        }
    }
}

/// A game as first stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGame {
    /// The game type.
    pub kind: String,
    /// Who moves first.
    pub first: String,
    /// The other player.
    pub second: String,
    /// Initial clock, ms.
    pub initial_ms: u64,
    /// Increment, ms.
    pub increment_ms: u64,
    /// `waiting` (a challenge) or `in_progress`.
    pub status: &'static str,
    /// When, ms since the epoch.
    pub created_at_ms: i64,
}

/// A stored game.
#[derive(Debug, Clone, PartialEq)]
pub struct GameRow {
    /// Id.
    pub id: i64,
    /// The game type.
    pub kind: String,
    /// Who moved first.
    pub first: String,
    /// The other player.
    pub second: String,
    /// Initial clock, ms.
    pub initial_ms: u64,
    /// Increment, ms.
    pub increment_ms: u64,
    /// `waiting`, `in_progress` or `finished`.
    pub status: String,
    /// How it ended.
    pub reason: Option<String>,
    /// Who won.
    pub winner: Option<String>,
    /// The moves in order.
    pub moves: Vec<String>,
    /// Ratings (before, after) of the first and second player, when rated.
    pub ratings: Option<[(f64, f64); 2]>,
    /// When it was created, ms since the epoch.
    pub created_at_ms: i64,
    /// When it ended.
    pub ended_at_ms: Option<i64>,
}

/// How a game ended, as [`finish`] stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// The game.
    pub id: i64,
    /// `win`, `draw`, `resign`, `timeout`, `abandoned` or `aborted`.
    pub reason: String,
    /// Who won.
    pub winner: Option<String>,
    /// The moves in order.
    pub moves: Vec<String>,
    /// The first player's score (1, 0.5 or 0) when the game is rated.
    pub score: Option<f64>,
    /// When, ms since the epoch.
    pub ended_at_ms: i64,
}

/// A leaderboard line.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingRow {
    /// The user.
    pub user: String,
    /// The game type.
    pub kind: String,
    /// The rating.
    pub rating: Rating,
    /// Rated games played, won, lost, drawn.
    pub played: u64,
    /// Won.
    pub won: u64,
    /// Lost.
    pub lost: u64,
    /// Drawn.
    pub drawn: u64,
}

/// Game queries over one connection.
pub struct Games<'c> {
    conn: &'c Connection,
}

impl<'c> Games<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Games { conn }
    }

    /// Stores a new game; returns its id.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn create(&self, game: &NewGame) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO games (kind, first, second, initial_ms, increment_ms, status, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                game.kind,
                game.first,
                game.second,
                game.initial_ms as i64,
                game.increment_ms as i64,
                game.status,
                game.created_at_ms
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks a waiting game started.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn start(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE games SET status = 'in_progress' WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Marks every game a crash left unfinished as aborted; returns how
    /// many.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn abort_unfinished(&self, now_ms: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE games SET status = 'finished', reason = 'aborted', ended_at_ms = ?1
             WHERE status IN ('waiting', 'in_progress')",
            [now_ms],
        )?)
    }

    /// A game by id.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn find(&self, id: i64) -> Result<Option<GameRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, kind, first, second, initial_ms, increment_ms, status, reason, winner,
                        moves, first_before, first_after, second_before, second_after,
                        created_at_ms, ended_at_ms
                 FROM games WHERE id = ?1",
                [id],
                |r| {
                    let moves: String = r.get(9)?;
                    let ratings = match (r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?) {
                        (Some(a), Some(b), Some(c), Some(d)) => Some([(a, b), (c, d)]),
                        _ => None,
                    };
                    Ok(GameRow {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        first: r.get(2)?,
                        second: r.get(3)?,
                        initial_ms: r.get::<_, i64>(4)?.max(0) as u64,
                        increment_ms: r.get::<_, i64>(5)?.max(0) as u64,
                        status: r.get(6)?,
                        reason: r.get(7)?,
                        winner: r.get(8)?,
                        moves: moves.split_whitespace().map(str::to_owned).collect(),
                        ratings,
                        created_at_ms: r.get(14)?,
                        ended_at_ms: r.get(15)?,
                    })
                },
            )
            .optional()?)
    }

    /// A user's rating in a game type (the starting values if unrated).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn rating(&self, user: &str, kind: &str) -> Result<Rating> {
        Ok(self
            .conn
            .query_row(
                "SELECT rating, deviation, volatility FROM game_ratings WHERE user = ?1 AND kind = ?2",
                params![user, kind],
                |r| {
                    Ok(Rating {
                        rating: r.get(0)?,
                        deviation: r.get(1)?,
                        volatility: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// The best ratings, of one game type or of all, best first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn leaderboard(&self, kind: Option<&str>, limit: u32) -> Result<Vec<RatingRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user, kind, rating, deviation, volatility, played, won, lost, drawn
             FROM game_ratings WHERE ?1 IS NULL OR kind = ?1
             ORDER BY rating DESC, user LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![kind, limit], |r| {
            Ok(RatingRow {
                user: r.get(0)?,
                kind: r.get(1)?,
                rating: Rating {
                    rating: r.get(2)?,
                    deviation: r.get(3)?,
                    volatility: r.get(4)?,
                },
                played: r.get::<_, i64>(5)?.max(0) as u64,
                won: r.get::<_, i64>(6)?.max(0) as u64,
                lost: r.get::<_, i64>(7)?.max(0) as u64,
                drawn: r.get::<_, i64>(8)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// How a finished rated game's ratings change: `(first, second,
/// first's score)` → the new ratings.
pub type Rate<'a> = &'a mut dyn FnMut(Rating, Rating, f64) -> (Rating, Rating);

/// The (won, lost, drawn) counts a score adds.
pub(crate) fn tally(points: f64) -> (i64, i64, i64) {
    match points {
        p if p > 0.75 => (1, 0, 0),
        p if p < 0.25 => (0, 1, 0),
        _ => (0, 0, 1),
    }
}

impl Games<'_> {
    /// [`GameStore::finish`] inside the caller's transaction.
    fn finish_in(&self, ending: &Ending, rate: Rate<'_>) -> Result<Option<[(Rating, Rating); 2]>> {
        let tx = self.conn;
        let (kind, first, second): (String, String, String) = tx.query_row(
            "SELECT kind, first, second FROM games WHERE id = ?1",
            [ending.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut changes = None;
        if let Some(score) = ending.score {
            let (a, b) = (self.rating(&first, &kind)?, self.rating(&second, &kind)?);
            let (a2, b2) = rate(a, b, score);
            for (user, after, points) in [(&first, a2, score), (&second, b2, 1.0 - score)] {
                let (won, lost, drawn) = tally(points);
                tx.execute(
                    "INSERT INTO game_ratings (user, kind, rating, deviation, volatility, played, won, lost, drawn)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8)
                     ON CONFLICT (user, kind) DO UPDATE SET
                       rating = excluded.rating, deviation = excluded.deviation,
                       volatility = excluded.volatility, played = played + 1,
                       won = won + excluded.won, lost = lost + excluded.lost,
                       drawn = drawn + excluded.drawn",
                    params![
                        user,
                        kind,
                        after.rating,
                        after.deviation,
                        after.volatility,
                        won,
                        lost,
                        drawn
                    ],
                )?;
            }
            changes = Some([(a, a2), (b, b2)]);
        }
        let r = changes.map(|[(a, a2), (b, b2)]| (a.rating, a2.rating, b.rating, b2.rating));
        tx.execute(
            "UPDATE games SET status = 'finished', reason = ?2, winner = ?3, moves = ?4,
               first_before = ?5, first_after = ?6, second_before = ?7, second_after = ?8,
               ended_at_ms = ?9
             WHERE id = ?1",
            params![
                ending.id,
                ending.reason,
                ending.winner,
                ending.moves.join(" "),
                r.map(|r| r.0),
                r.map(|r| r.1),
                r.map(|r| r.2),
                r.map(|r| r.3),
                ending.ended_at_ms
            ],
        )?;
        Ok(changes)
    }
}

/// The games repository, on either backend: [`Games`] on SQLite,
/// `pg::games::PgGames` on a fleet's PostgreSQL; one suite
/// (`games/suite.rs`) runs on both. Each call runs inside the transaction
/// [`crate::Storage::games`] opens.
pub trait GameStore {
    /// Stores a new game (on PostgreSQL, hosted by this node); returns
    /// its id.
    fn create(&mut self, game: &NewGame) -> Result<i64>;
    /// Marks a waiting game started.
    fn start(&mut self, id: i64) -> Result<()>;
    /// Marks the unfinished games this node hosted as aborted (on SQLite
    /// every unfinished game: there is one node); returns how many.
    fn abort_unfinished(&mut self, now_ms: i64) -> Result<usize>;
    /// A game by id.
    fn find(&mut self, id: i64) -> Result<Option<GameRow>>;
    /// A user's rating in a game type (the starting values if unrated).
    fn rating(&mut self, user: &str, kind: &str) -> Result<Rating>;
    /// The best ratings, of one game type or of all, best first.
    fn leaderboard(&mut self, kind: Option<&str>, limit: u32) -> Result<Vec<RatingRow>>;
    /// Stores a game's end: the result and move list and, when
    /// `ending.score` is set (a rated game), both players' new ratings
    /// from `rate(first, second, first_score)` and their counts. Returns
    /// the (before, after) ratings of the first and second player when
    /// rated. On PostgreSQL both players' rating rows are locked first (in
    /// name order), so two nodes finishing games of one player at once
    /// rate one after the other.
    fn finish(&mut self, ending: &Ending, rate: Rate<'_>) -> Result<Option<[(Rating, Rating); 2]>>;
}

impl GameStore for Games<'_> {
    fn create(&mut self, game: &NewGame) -> Result<i64> {
        Games::create(self, game)
    }
    fn start(&mut self, id: i64) -> Result<()> {
        Games::start(self, id)
    }
    fn abort_unfinished(&mut self, now_ms: i64) -> Result<usize> {
        Games::abort_unfinished(self, now_ms)
    }
    fn find(&mut self, id: i64) -> Result<Option<GameRow>> {
        Games::find(self, id)
    }
    fn rating(&mut self, user: &str, kind: &str) -> Result<Rating> {
        Games::rating(self, user, kind)
    }
    fn leaderboard(&mut self, kind: Option<&str>, limit: u32) -> Result<Vec<RatingRow>> {
        Games::leaderboard(self, kind, limit)
    }
    fn finish(&mut self, ending: &Ending, rate: Rate<'_>) -> Result<Option<[(Rating, Rating); 2]>> {
        self.finish_in(ending, rate)
    }
}

#[cfg(test)]
mod suite;
