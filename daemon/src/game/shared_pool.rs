//! Matchmaking on a fleet: the pools are PostgreSQL's
//! (`agora_db::pg::game_pool`), so two players queued on different nodes
//! are paired. Whichever node pairs (every node tries once a second, and
//! at each queueing) runs the pure [`Pools`] over every waiter under the
//! pools' lock and hosts the games it pairs; players on other nodes
//! follow them through the relay ([`super::fleet`]).

use agora_db::pg::game_pool::{self, Waiter};
use agora_wire::ErrorBody;
use agora_wire::game::TimeControl;

use super::Games;
use super::pool::{Entry, Pairing, Pools};
use crate::service::{blocking, stored};

/// Who of `waiters` to pair at `now_ms`: the paired players (to take out
/// of the pools) and the pairings.
fn choose(waiters: Vec<Waiter>, now_ms: u64) -> (Vec<String>, Vec<Pairing>) {
    let mut pools = Pools::default();
    for w in waiters {
        pools.enqueue(Entry {
            user: w.user,
            kinds: w.kinds,
            time: TimeControl {
                initial_ms: w.initial_ms,
                increment_ms: w.increment_ms,
            },
            since_ms: w.since_ms,
        });
    }
    let pairs = pools.pair_all(now_ms);
    let users = pairs
        .iter()
        .flat_map(|p| [p.a.clone(), p.b.clone()])
        .collect();
    (users, pairs)
}

impl Games {
    /// Puts `entry` in the fleet's pools (as queued here) and pairs.
    pub(super) async fn queue_shared(&self, entry: Entry) -> Result<(), ErrorBody> {
        let Some(relay) = self.inner.relay.get() else {
            return Ok(());
        };
        let (pg, node) = (relay.pg().clone(), relay.node().to_owned());
        let waiter = Waiter {
            user: entry.user,
            kinds: entry.kinds,
            initial_ms: entry.time.initial_ms,
            increment_ms: entry.time.increment_ms,
            since_ms: entry.since_ms,
        };
        blocking(move || pg.with(|c| game_pool::enqueue(c, &node, &waiter)))
            .await?
            .map_err(stored)?;
        self.pair_shared().await;
        Ok(())
    }

    /// Pairs whoever can be paired in the fleet's pools now; this node
    /// hosts their games.
    pub(super) async fn pair_shared(&self) {
        let Some(relay) = self.inner.relay.get() else {
            return;
        };
        let pg = relay.pg().clone();
        let now = self.inner.clock.now_ms();
        let paired = blocking(move || pg.with(|c| game_pool::pair(c, |w| choose(w, now)))).await;
        match paired {
            Ok(Ok(pairs)) => {
                for pair in pairs {
                    self.start_pairing(pair);
                }
            }
            Ok(Err(err)) => tracing::warn!(%err, "games: cannot pair the fleet's pools"),
            Err(_) => {}
        }
    }

    /// Takes `user` out of the fleet's pools when they queued here.
    pub(super) async fn unqueue_shared(&self, user: String) -> Result<(), ErrorBody> {
        let Some(relay) = self.inner.relay.get() else {
            return Ok(());
        };
        let (pg, node) = (relay.pg().clone(), relay.node().to_owned());
        blocking(move || pg.with(|c| game_pool::remove(c, &node, &user)))
            .await?
            .map_err(stored)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(user: &str, rating: f64, since_ms: u64) -> Waiter {
        Waiter {
            user: user.into(),
            kinds: vec![("connect4".into(), rating)],
            initial_ms: 60_000,
            increment_ms: 0,
            since_ms,
        }
    }

    #[test]
    fn the_fleets_waiters_are_paired_by_the_same_rule_as_one_nodes() {
        let waiters = vec![
            waiter("ann", 1500.0, 0),
            waiter("bob", 2200.0, 0),
            waiter("cyd", 1550.0, 1_000),
        ];
        let (users, pairs) = choose(waiters.clone(), 1_000);
        assert_eq!(users, ["ann", "cyd"]);
        assert_eq!((pairs[0].a.as_str(), pairs[0].b.as_str()), ("ann", "cyd"));
        assert_eq!(pairs[0].kind, "connect4");
        // bob, far off, waits until the windows have widened enough.
        let (users, _) = choose(vec![waiters[0].clone(), waiters[1].clone()], 1_000);
        assert!(users.is_empty());
        let (users, _) = choose(vec![waiters[0].clone(), waiters[1].clone()], 60_000);
        assert_eq!(users, ["ann", "bob"]);
    }
}
