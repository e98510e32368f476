//! What only PostgreSQL has to show: games of several nodes side by side.

use std::time::Duration;

use super::*;
use crate::Pg;

fn node(url: &str, name: &str) -> Pg {
    Pg::connect_as(url, name).unwrap()
}

fn committed<T>(pg: &Pg, f: impl FnOnce(&mut PgGames) -> Result<T>) -> T {
    pg.with(|c| {
        let mut tx = c.transaction()?;
        let out = f(&mut PgGames::new(&mut tx))?;
        tx.commit()?;
        Ok(out)
    })
    .unwrap()
}

fn game(first: &str, second: &str) -> NewGame {
    NewGame {
        kind: "tictactoe".into(),
        first: first.into(),
        second: second.into(),
        initial_ms: 60_000,
        increment_ms: 0,
        status: "in_progress",
        created_at_ms: 1,
    }
}

fn won_by_first(id: i64) -> Ending {
    Ending {
        id,
        reason: "win".into(),
        winner: None,
        moves: Vec::new(),
        score: Some(1.0),
        ended_at_ms: 2,
    }
}

fn plus_ten(a: Rating, b: Rating, _: f64) -> (Rating, Rating) {
    (
        Rating {
            rating: a.rating + 10.0,
            ..a
        },
        b,
    )
}

#[test]
fn a_node_aborts_only_the_games_it_hosts_and_a_leaving_node_takes_its_own() {
    let url = crate::pg::testing::database();
    let (a, b) = (node(&url, "node-a"), node(&url, "node-b"));
    let on_a = committed(&a, |g| g.create(&game("ann", "bo")));
    let on_b = committed(&b, |g| g.create(&game("cy", "di")));
    // B restarts: its own game goes, A's live game stays.
    assert_eq!(committed(&b, |g| g.abort_unfinished(5)), 1);
    let status = |id| committed(&a, |g| g.find(id)).unwrap().status;
    assert_eq!(
        (status(on_a), status(on_b)),
        ("in_progress".into(), "finished".into())
    );
    // A leaves the fleet: its game with it.
    a.with(|c| crate::pg::fleet::register(c, "node-a")).unwrap();
    a.with(|c| crate::pg::fleet::leave(c, "node-a")).unwrap();
    let row = committed(&b, |g| g.find(on_a)).unwrap();
    assert_eq!(
        (row.status.as_str(), row.reason.as_deref()),
        ("finished", Some("aborted"))
    );
}

#[test]
fn two_nodes_rating_one_player_at_once_lose_no_update() {
    let url = crate::pg::testing::database();
    let (a, b) = (node(&url, "node-a"), node(&url, "node-b"));
    let one = committed(&a, |g| g.create(&game("ann", "bo")));
    let two = committed(&b, |g| g.create(&game("ann", "cy")));
    a.with(|ca| {
        let mut tx = ca.transaction()?;
        PgGames::new(&mut tx).finish(&won_by_first(one), &mut plus_ten)?;
        // B finishes ann's other game while A's transaction holds her row.
        std::thread::scope(|s| {
            let waiting =
                s.spawn(|| committed(&b, |g| g.finish(&won_by_first(two), &mut plus_ten)));
            std::thread::sleep(Duration::from_millis(300));
            assert!(!waiting.is_finished(), "B did not wait for A's rating");
            tx.commit().unwrap();
            let changes = waiting.join().unwrap().unwrap();
            assert_eq!(changes[0].0.rating, 1510.0, "B rated from A's result");
        });
        Ok(())
    })
    .unwrap();
    let board = committed(&a, |g| g.leaderboard(None, 10));
    let ann = board.iter().find(|r| r.user == "ann").unwrap();
    assert_eq!((ann.rating.rating, ann.played, ann.won), (1520.0, 2, 2));
}
