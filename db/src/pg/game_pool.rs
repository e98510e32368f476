//! Matchmaking pools shared by a fleet (schema `postgres/0012_game_pool.sql`,
//! docs/FLEET.md, "Games across nodes"): who waits for which game types,
//! whichever node they queued on. [`pair`] runs the caller's pairing
//! rule over every waiter under one advisory lock, so two nodes pairing
//! at once never give one player two games.

use postgres::{Client, GenericClient};

use crate::Result;

/// The pools' advisory lock key, "pool" in ASCII.
const POOL_LOCK: i64 = 0x706f_6f6c;

/// One waiting player.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiter {
    /// The player.
    pub user: String,
    /// The game types wanted, each with the player's rating in it.
    pub kinds: Vec<(String, f64)>,
    /// Initial clock, ms.
    pub initial_ms: u64,
    /// Increment, ms.
    pub increment_ms: u64,
    /// When they started waiting, ms since the epoch.
    pub since_ms: u64,
}

fn ms(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

/// Puts `waiter` in the pools as queued on `node` (replacing an entry of
/// theirs from any node).
///
/// # Errors
/// On database errors.
pub fn enqueue(client: &mut impl GenericClient, node: &str, waiter: &Waiter) -> Result<()> {
    let (kinds, ratings): (Vec<String>, Vec<f64>) = waiter.kinds.iter().cloned().unzip();
    client.execute(
        "INSERT INTO game_pool (user_name, node, kinds, ratings, initial_ms, increment_ms, since_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_name) DO UPDATE SET node = $2, kinds = $3, ratings = $4, \
           initial_ms = $5, increment_ms = $6, since_ms = $7",
        &[
            &waiter.user,
            &node,
            &kinds,
            &ratings,
            &ms(waiter.initial_ms),
            &ms(waiter.increment_ms),
            &ms(waiter.since_ms),
        ],
    )?;
    Ok(())
}

/// Takes `user` out of the pools when they queued on `node`; whether
/// they were waiting there.
///
/// # Errors
/// On database errors.
pub fn remove(client: &mut impl GenericClient, node: &str, user: &str) -> Result<bool> {
    Ok(client.execute(
        "DELETE FROM game_pool WHERE user_name = $1 AND node = $2",
        &[&user, &node],
    )? > 0)
}

/// Under the pools' lock: drops the entries of nodes no longer in the
/// fleet, hands every waiter (oldest first) to `choose`, and deletes
/// the players it returns (those it paired), in one transaction.
///
/// # Errors
/// On database errors; nothing is deleted then.
pub fn pair<T>(
    client: &mut Client,
    choose: impl FnOnce(Vec<Waiter>) -> (Vec<String>, T),
) -> Result<T> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POOL_LOCK])?;
    tx.execute(
        "DELETE FROM game_pool WHERE node NOT IN (SELECT id FROM fleet_nodes)",
        &[],
    )?;
    let waiters = tx
        .query(
            "SELECT user_name, kinds, ratings, initial_ms, increment_ms, since_ms \
             FROM game_pool ORDER BY since_ms, user_name",
            &[],
        )?
        .iter()
        .map(|r| {
            let kinds: Vec<String> = r.get(1);
            let ratings: Vec<f64> = r.get(2);
            Waiter {
                user: r.get(0),
                kinds: kinds.into_iter().zip(ratings).collect(),
                initial_ms: r.get::<_, i64>(3).max(0) as u64,
                increment_ms: r.get::<_, i64>(4).max(0) as u64,
                since_ms: r.get::<_, i64>(5).max(0) as u64,
            }
        })
        .collect::<Vec<_>>();
    if waiters.is_empty() {
        return Ok(choose(waiters).1);
    }
    let (paired, out) = choose(waiters);
    if !paired.is_empty() {
        tx.execute(
            "DELETE FROM game_pool WHERE user_name = ANY($1)",
            &[&paired],
        )?;
    }
    tx.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::Pg;

    fn waiter(user: &str, since_ms: u64) -> Waiter {
        Waiter {
            user: user.into(),
            kinds: vec![("connect4".into(), 1500.0), ("tictactoe".into(), 1600.0)],
            initial_ms: 60_000,
            increment_ms: 1_000,
            since_ms,
        }
    }

    #[test]
    fn waiters_from_live_nodes_are_paired_once_and_a_gone_nodes_are_dropped() {
        let url = crate::pg::testing::database();
        let a = Pg::connect_as(&url, "node-a").unwrap();
        a.with(|c| {
            crate::pg::fleet::register(c, "node-a")?;
            crate::pg::fleet::register(c, "node-b")
        })
        .unwrap();
        a.with(|c| {
            enqueue(c, "node-a", &waiter("ann", 3))?;
            enqueue(c, "node-b", &waiter("bob", 2))?;
            enqueue(c, "node-gone", &waiter("cyd", 1))?;
            // Queueing again replaces, and moves the entry to node-b.
            enqueue(c, "node-b", &waiter("ann", 4))
        })
        .unwrap();
        assert!(
            !a.with(|c| remove(c, "node-a", "ann")).unwrap(),
            "ann is node-b's now"
        );

        let seen = a
            .with(|c| pair(c, |w| (vec!["ann".to_owned()], w)))
            .unwrap();
        assert_eq!(
            seen,
            vec![waiter("bob", 2), waiter("ann", 4)],
            "oldest first, cyd dropped"
        );
        let left = a.with(|c| pair(c, |w| (Vec::new(), w))).unwrap();
        assert_eq!(left, vec![waiter("bob", 2)], "ann was paired and taken out");
        assert!(a.with(|c| remove(c, "node-b", "bob")).unwrap());
        assert!(a.with(|c| pair(c, |w| (Vec::new(), w))).unwrap().is_empty());
    }

    #[test]
    fn a_node_pairing_while_another_does_waits_and_sees_what_is_left() {
        let url = crate::pg::testing::database();
        let a = Pg::connect_as(&url, "node-a").unwrap();
        let b = Pg::connect_as(&url, "node-b").unwrap();
        a.with(|c| {
            crate::pg::fleet::register(c, "node-a")?;
            enqueue(c, "node-a", &waiter("ann", 1))?;
            enqueue(c, "node-a", &waiter("bob", 2))
        })
        .unwrap();
        let (inside_tx, inside) = std::sync::mpsc::channel();
        let (go_tx, go) = std::sync::mpsc::channel::<()>();
        let first = std::thread::spawn(move || {
            a.with(|c| {
                pair(c, |w| {
                    inside_tx.send(()).unwrap();
                    go.recv().unwrap();
                    (w.iter().map(|w| w.user.clone()).collect(), w.len())
                })
            })
            .unwrap()
        });
        inside.recv().unwrap();
        let second =
            std::thread::spawn(move || b.with(|c| pair(c, |w| (Vec::new(), w.len()))).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            !second.is_finished(),
            "the second pairing waits for the lock"
        );
        go_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap(), 2);
        assert_eq!(second.join().unwrap(), 0, "both were paired by the first");
    }
}
