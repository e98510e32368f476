//! The games repository on PostgreSQL: [`PgGames`], the same
//! [`GameStore`] as SQLite's [`crate::games::Games`], tested by the same
//! suite (`games/suite.rs`); schema `postgres/0006_games.sql`.
//!
//! Two things differ from one node's SQLite. A game row names the node
//! hosting it (the connection's `agora.node` setting), so a node starting
//! up aborts only its own unfinished games, not the live games of the
//! rest of the fleet (a node that leaves or dies takes its games with it:
//! [`abort_hosted_by`], called by `pg::fleet`). And rating a finished
//! game locks both players' rating rows first, in name order: two nodes
//! finishing games of one player at once rate one after the other, each
//! from the other's result (no lost update, no deadlock).

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};

use crate::Result;
use crate::games::{Ending, GameRow, GameStore, NewGame, Rate, Rating, RatingRow, tally};

/// Games queries inside one PostgreSQL transaction.
pub struct PgGames<'a, 't> {
    tx: &'a mut Transaction<'t>,
}

impl<'a, 't> PgGames<'a, 't> {
    /// The repository inside `tx`.
    pub fn new(tx: &'a mut Transaction<'t>) -> Self {
        PgGames { tx }
    }
}

/// Marks the unfinished games hosted by `nodes` aborted (those nodes left
/// the fleet or died); returns how many.
///
/// # Errors
/// On database errors.
pub fn abort_hosted_by(client: &mut impl GenericClient, nodes: &[String]) -> Result<u64> {
    Ok(client.execute(
        "UPDATE games SET status = 'finished', reason = 'aborted', \
         ended_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint \
         WHERE status IN ('waiting', 'in_progress') AND node = ANY($1)",
        &[&nodes],
    )?)
}

fn rating_of(r: &Row, at: usize) -> Rating {
    Rating {
        rating: r.get(at),
        deviation: r.get(at + 1),
        volatility: r.get(at + 2),
    }
}

fn count(r: &Row, at: usize) -> u64 {
    r.get::<_, i64>(at).max(0) as u64
}

impl GameStore for PgGames<'_, '_> {
    fn create(&mut self, game: &NewGame) -> Result<i64> {
        let params: [&(dyn ToSql + Sync); 7] = [
            &game.kind,
            &game.first,
            &game.second,
            &(game.initial_ms.min(i64::MAX as u64) as i64),
            &(game.increment_ms.min(i64::MAX as u64) as i64),
            &game.status,
            &game.created_at_ms,
        ];
        let row = self.tx.query_one(
            "INSERT INTO games (kind, first, second, initial_ms, increment_ms, status, \
             created_at_ms, node) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce(current_setting('agora.node', true), '')) \
             RETURNING id",
            &params,
        )?;
        Ok(row.get(0))
    }

    fn start(&mut self, id: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE games SET status = 'in_progress' WHERE id = $1",
            &[&id],
        )?;
        Ok(())
    }

    fn abort_unfinished(&mut self, now_ms: i64) -> Result<usize> {
        Ok(self.tx.execute(
            "UPDATE games SET status = 'finished', reason = 'aborted', ended_at_ms = $1 \
             WHERE status IN ('waiting', 'in_progress') \
             AND node = coalesce(current_setting('agora.node', true), '')",
            &[&now_ms],
        )? as usize)
    }

    fn find(&mut self, id: i64) -> Result<Option<GameRow>> {
        let row = self.tx.query_opt(
            "SELECT id, kind, first, second, initial_ms, increment_ms, status, reason, winner, \
                    moves, first_before, first_after, second_before, second_after, \
                    created_at_ms, ended_at_ms \
             FROM games WHERE id = $1",
            &[&id],
        )?;
        Ok(row.map(|r| {
            let moves: String = r.get(9);
            let ratings = match (r.get(10), r.get(11), r.get(12), r.get(13)) {
                (Some(a), Some(b), Some(c), Some(d)) => Some([(a, b), (c, d)]),
                _ => None,
            };
            GameRow {
                id: r.get(0),
                kind: r.get(1),
                first: r.get(2),
                second: r.get(3),
                initial_ms: count(&r, 4),
                increment_ms: count(&r, 5),
                status: r.get(6),
                reason: r.get(7),
                winner: r.get(8),
                moves: moves.split_whitespace().map(str::to_owned).collect(),
                ratings,
                created_at_ms: r.get(14),
                ended_at_ms: r.get(15),
            }
        }))
    }

    fn rating(&mut self, user: &str, kind: &str) -> Result<Rating> {
        let row = self.tx.query_opt(
            "SELECT rating, deviation, volatility FROM game_ratings WHERE player = $1 AND kind = $2",
            &[&user, &kind],
        )?;
        Ok(row.map_or_else(Rating::default, |r| rating_of(&r, 0)))
    }

    fn leaderboard(&mut self, kind: Option<&str>, limit: u32) -> Result<Vec<RatingRow>> {
        let rows = self.tx.query(
            "SELECT player, kind, rating, deviation, volatility, played, won, lost, drawn \
             FROM game_ratings WHERE $1::text IS NULL OR kind = $1 \
             ORDER BY rating DESC, player LIMIT $2",
            &[&kind, &i64::from(limit)],
        )?;
        Ok(rows
            .iter()
            .map(|r| RatingRow {
                user: r.get(0),
                kind: r.get(1),
                rating: rating_of(r, 2),
                played: count(r, 5),
                won: count(r, 6),
                lost: count(r, 7),
                drawn: count(r, 8),
            })
            .collect())
    }

    fn finish(&mut self, ending: &Ending, rate: Rate<'_>) -> Result<Option<[(Rating, Rating); 2]>> {
        let row = self.tx.query_one(
            "SELECT kind, first, second FROM games WHERE id = $1",
            &[&ending.id],
        )?;
        let (kind, first, second): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let mut changes = None;
        if let Some(score) = ending.score {
            // Both rows exist, then are locked in name order: another
            // node rating either player waits for this commit.
            let start = Rating::default();
            let mut players = [first.as_str(), second.as_str()];
            players.sort_unstable();
            for player in players {
                self.tx.execute(
                    "INSERT INTO game_ratings (player, kind, rating, deviation, volatility) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (player, kind) DO NOTHING",
                    &[
                        &player,
                        &kind,
                        &start.rating,
                        &start.deviation,
                        &start.volatility,
                    ],
                )?;
            }
            self.tx.execute(
                "SELECT 1 FROM game_ratings WHERE kind = $1 AND player = ANY($2) \
                 ORDER BY player FOR UPDATE",
                &[&kind, &players.to_vec()],
            )?;
            let (a, b) = (self.rating(&first, &kind)?, self.rating(&second, &kind)?);
            let (a2, b2) = rate(a, b, score);
            for (user, after, points) in [(&first, a2, score), (&second, b2, 1.0 - score)] {
                let (won, lost, drawn) = tally(points);
                self.tx.execute(
                    "UPDATE game_ratings SET rating = $3, deviation = $4, volatility = $5, \
                     played = played + 1, won = won + $6, lost = lost + $7, drawn = drawn + $8 \
                     WHERE player = $1 AND kind = $2",
                    &[
                        user,
                        &kind,
                        &after.rating,
                        &after.deviation,
                        &after.volatility,
                        &won,
                        &lost,
                        &drawn,
                    ],
                )?;
            }
            changes = Some([(a, a2), (b, b2)]);
        }
        let r = changes.map(|[(a, a2), (b, b2)]| [a.rating, a2.rating, b.rating, b2.rating]);
        let at = |i: usize| r.map(|r| r[i]);
        self.tx.execute(
            "UPDATE games SET status = 'finished', reason = $2, winner = $3, moves = $4, \
               first_before = $5, first_after = $6, second_before = $7, second_after = $8, \
               ended_at_ms = $9 \
             WHERE id = $1",
            &[
                &ending.id,
                &ending.reason,
                &ending.winner,
                &ending.moves.join(" "),
                &at(0),
                &at(1),
                &at(2),
                &at(3),
                &ending.ended_at_ms,
            ],
        )?;
        Ok(changes)
    }
}

#[cfg(test)]
mod tests;
