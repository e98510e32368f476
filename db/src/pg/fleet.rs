//! The fleet's nodes (migration `postgres/0003_fleet.sql`): each daemon
//! registers under a name of its own, refreshes its heartbeat, and any
//! node deletes those whose heartbeat stopped — with, by cascade, the
//! connections (`chat_online`) they held, announced so every node updates
//! who is online (docs/FLEET.md, "Presence").

use std::time::Duration;

use postgres::Client;

use super::chat::{CHANNEL, Change};
use crate::Result;

/// Registers `node` (or refreshes it, when it is already there).
///
/// # Errors
/// On database errors.
pub fn register(client: &mut Client, node: &str) -> Result<()> {
    client.execute(
        "INSERT INTO fleet_nodes (id) VALUES ($1) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
        &[&node],
    )?;
    Ok(())
}

/// Refreshes `node`'s heartbeat; `false` when its row is gone (another
/// node took it for dead: register again and restore its rows).
///
/// # Errors
/// On database errors.
pub fn heartbeat(client: &mut Client, node: &str) -> Result<bool> {
    Ok(client.execute(
        "UPDATE fleet_nodes SET heartbeat_at = now() WHERE id = $1",
        &[&node],
    )? == 1)
}

/// What [`reap`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reaped {
    /// The dead nodes.
    pub nodes: Vec<String>,
    /// The users they had connected (each announced on the chat channel).
    pub users: Vec<String>,
}

/// Deletes the nodes whose heartbeat is older than `dead_after`, with
/// their users' connections, in one transaction that announces each user
/// ([`Change::User`]). Several nodes may reap at once: a row being reaped
/// by one is skipped by the others.
///
/// # Errors
/// On database errors (nothing is deleted).
pub fn reap(client: &mut Client, dead_after: Duration) -> Result<Reaped> {
    let mut tx = client.transaction()?;
    let ms = dead_after.as_millis().min(i64::MAX as u128) as i64;
    let nodes: Vec<String> = tx
        .query(
            "SELECT id FROM fleet_nodes \
             WHERE heartbeat_at < now() - $1::bigint * interval '1 millisecond' \
             ORDER BY id FOR UPDATE SKIP LOCKED",
            &[&ms],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if nodes.is_empty() {
        return Ok(Reaped::default());
    }
    let mut users: Vec<String> = tx
        .query(
            "DELETE FROM chat_online WHERE node_id = ANY($1) RETURNING user_name",
            &[&nodes],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    users.sort();
    users.dedup();
    tx.execute("DELETE FROM fleet_nodes WHERE id = ANY($1)", &[&nodes])?;
    // Their live games died with them.
    super::games::abort_hosted_by(&mut tx, &nodes)?;
    for user in &users {
        super::notify::send(&mut tx, CHANNEL, &Change::User(user.clone()).payload())?;
    }
    tx.commit()?;
    Ok(Reaped { nodes, users })
}

/// Removes `node` (a clean shutdown), announcing its users as [`reap`]
/// does; returns them.
///
/// # Errors
/// On database errors.
pub fn leave(client: &mut Client, node: &str) -> Result<Vec<String>> {
    let mut tx = client.transaction()?;
    let users: Vec<String> = tx
        .query(
            "DELETE FROM chat_online WHERE node_id = $1 RETURNING user_name",
            &[&node],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.execute("DELETE FROM fleet_nodes WHERE id = $1", &[&node])?;
    super::games::abort_hosted_by(&mut tx, &[node.to_owned()])?;
    for user in &users {
        super::notify::send(&mut tx, CHANNEL, &Change::User(user.clone()).payload())?;
    }
    tx.commit()?;
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pg;
    use crate::pg::chat::PgChat;

    #[test]
    fn a_silent_node_is_reaped_with_its_users_and_announced() {
        let url = crate::pg::testing::database();
        let pg = Pg::connect_as(&url, "reaper").unwrap();
        let mut listener = pg.listener(&[CHANNEL]).unwrap();
        pg.with(|c| {
            c.execute(
                "INSERT INTO users (name, password_hash, created_at_ms) VALUES ('ann', 'h', 0), ('bob', 'h', 0)",
                &[],
            )?;
            register(c, "a")?;
            register(c, "b")?;
            let mut chat = PgChat::new(c);
            chat.set_online("a", "ann", true)?;
            chat.set_online("b", "bob", true)?;
            chat.set_online("b", "ann", true)?;
            Ok(())
        })
        .unwrap();
        // Nobody is late yet.
        let none = pg.with(|c| reap(c, Duration::from_secs(60))).unwrap();
        assert_eq!(none, Reaped::default());
        // b stops beating; a goes on.
        pg.with(|c| {
            c.execute(
                "UPDATE fleet_nodes SET heartbeat_at = now() - interval '10 seconds' WHERE id = 'b'",
                &[],
            )?;
            Ok(())
        })
        .unwrap();
        assert!(pg.with(|c| heartbeat(c, "a")).unwrap());
        let reaped = pg.with(|c| reap(c, Duration::from_secs(5))).unwrap();
        assert_eq!(reaped.nodes, vec!["b".to_owned()]);
        assert_eq!(reaped.users, vec!["ann".to_owned(), "bob".to_owned()]);
        assert!(!pg.with(|c| heartbeat(c, "b")).unwrap(), "b's row is gone");
        // ann is still online through a; bob is not online anywhere.
        let (ann, bob) = pg
            .with(|c| {
                let mut chat = PgChat::new(c);
                Ok((
                    chat.presence_of("ann", "elsewhere")?,
                    chat.presence_of("bob", "elsewhere")?,
                ))
            })
            .unwrap();
        assert!(ann.unwrap().online_elsewhere);
        assert!(!bob.unwrap().online_elsewhere);
        // The set_online calls and the reap were announced, in order.
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.len() < 5 && start.elapsed() < Duration::from_secs(10) {
            got.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        let payloads: Vec<&str> = got.iter().map(|n| n.payload.as_str()).collect();
        assert_eq!(payloads, vec!["u:ann", "u:bob", "u:ann", "u:ann", "u:bob"]);
        assert!(got.iter().all(|n| n.origin == "reaper"));
        // A clean leave removes a's rows and says whose.
        assert_eq!(pg.with(|c| leave(c, "a")).unwrap(), vec!["ann".to_owned()]);
    }
}
