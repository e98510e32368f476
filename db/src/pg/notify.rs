//! LISTEN/NOTIFY: how a fleet's daemons tell one another that something
//! was committed (docs/FLEET.md, "Fan-out").
//!
//! A writer sends a notification inside the transaction that made the
//! change (`pg_notify`, [`send`]): PostgreSQL delivers it on commit and
//! drops it on rollback, so a listener never hears of a change it cannot
//! read — the fleet's form of the daemon's commit-then-publish. The
//! payload names what changed (a room and a range of sequence numbers),
//! or carries it when it is small (a chat batch: `pg::chat::Change::Stored`):
//! a payload is limited to 8,000 bytes, and otherwise the listeners
//! fetch what they need by id. Each daemon keeps one [`Listener`]: a
//! connection of its own (outside [`super::Pg`]'s pool), on a thread of
//! its own, that waits with a timeout so it can notice shutdown.
//!
//! Notifications are not kept: a listener whose connection breaks misses
//! what was sent meanwhile. Its owner reconnects and catches up from the
//! tables (for chat, `history_since` the last sequence number it saw).

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, GenericClient};

use super::Pg;
use crate::{Error, Result};

/// A notification: the channel it was sent on, the node that sent it and
/// its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel.
    pub channel: String,
    /// The sending connection's node ([`Pg::connect_as`]; empty when it
    /// named none): a listener skips what its own node sent, which it
    /// has already published.
    pub origin: String,
    /// The payload.
    pub payload: String,
}

/// A connection that listens on some channels.
pub struct Listener {
    /// `None` only once dropped.
    client: Option<Client>,
    /// `host:port/dbname`, for errors.
    place: String,
}

impl Drop for Listener {
    /// Closes the connection on a thread of its own: closing runs the
    /// client's small runtime's `block_on`, which panics on a tokio worker
    /// (where a listener's owner may be dropped when its runtime shuts
    /// down), as `Pg`'s pool does.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = std::thread::Builder::new()
                .name("agora-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

/// Sends `payload` on `channel` as part of `client`'s transaction (or at
/// once, outside one), prefixed with the sending node's name (the
/// connection's `agora.node` setting, [`Pg::connect_as`]) and `|`.
///
/// # Errors
/// On database errors (a payload over 8,000 bytes is refused).
pub fn send(client: &mut impl GenericClient, channel: &str, payload: &str) -> Result<()> {
    client.execute(
        "SELECT pg_notify($1, coalesce(current_setting('agora.node', true), '') || '|' || $2)",
        &[&channel, &payload],
    )?;
    Ok(())
}

/// `name` quoted as an SQL identifier (`LISTEN` takes no parameters).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Pg {
    /// A new connection listening on `channels`.
    ///
    /// # Errors
    /// [`Error::Connect`] when no connection can be made.
    pub fn listener(&self, channels: &[&str]) -> Result<Listener> {
        let mut client = super::connect(&self.inner.config, &self.inner.tls, &self.inner.place)?;
        let sql: String = channels
            .iter()
            .map(|c| format!("LISTEN {};", quote(c)))
            .collect();
        client.batch_execute(&sql)?;
        Ok(Listener {
            client: Some(client),
            place: self.inner.place.clone(),
        })
    }
}

impl Listener {
    /// The notifications that arrive within `timeout` (those already
    /// waiting, else the first to come and any right behind it); empty
    /// when none came.
    ///
    /// # Errors
    /// [`Error::Postgres`] or [`Error::Connect`] when the connection broke:
    /// make a new listener and catch up from the tables.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<Notification>> {
        let mut out = Vec::new();
        let Some(client) = self.client.as_mut() else {
            return Err(Error::Connect {
                place: self.place.clone(),
                reason: "the listening connection is closed".into(),
            });
        };
        {
            let mut notifications = client.notifications();
            let mut waiting = notifications.iter();
            while let Some(n) = waiting.next()? {
                out.push(convert(&n));
            }
        }
        if out.is_empty() {
            let mut notifications = client.notifications();
            {
                let mut arriving = notifications.timeout_iter(timeout);
                if let Some(n) = arriving.next()? {
                    out.push(convert(&n));
                }
            }
            let mut behind = notifications.iter();
            while let Some(n) = behind.next()? {
                out.push(convert(&n));
            }
        }
        if out.is_empty() && client.is_closed() {
            return Err(Error::Connect {
                place: self.place.clone(),
                reason: "the listening connection closed".into(),
            });
        }
        Ok(out)
    }
}

fn convert(n: &postgres::Notification) -> Notification {
    let (origin, payload) = n.payload().split_once('|').unwrap_or(("", n.payload()));
    Notification {
        channel: n.channel().to_owned(),
        origin: origin.to_owned(),
        payload: payload.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_arrives_on_commit_and_not_on_rollback() {
        let url = crate::pg::testing::database();
        let pg = Pg::connect_as(&url, "node-a").unwrap();
        let mut listener = pg.listener(&["agora_test", "other \"one\""]).unwrap();
        assert!(listener.wait(Duration::from_millis(50)).unwrap().is_empty());
        // Rolled back: never delivered.
        pg.with(|c| {
            let mut tx = c.transaction()?;
            send(&mut tx, "agora_test", "dropped")?;
            tx.rollback()?;
            Ok(())
        })
        .unwrap();
        // Committed, two channels, in commit order.
        pg.with(|c| {
            let mut tx = c.transaction()?;
            send(&mut tx, "agora_test", "1:2:general")?;
            send(&mut tx, "other \"one\"", "x")?;
            tx.commit()?;
            Ok(())
        })
        .unwrap();
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.len() < 2 && start.elapsed() < Duration::from_secs(10) {
            got.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        assert_eq!(
            got,
            vec![
                Notification {
                    channel: "agora_test".into(),
                    origin: "node-a".into(),
                    payload: "1:2:general".into()
                },
                Notification {
                    channel: "other \"one\"".into(),
                    origin: "node-a".into(),
                    payload: "x".into()
                },
            ]
        );
        assert!(listener.wait(Duration::from_millis(50)).unwrap().is_empty());
        // A connection that names no node sends an empty origin.
        let plain = Pg::connect(&url).unwrap();
        plain.with(|c| send(c, "agora_test", "a|b")).unwrap();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
            got.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        assert_eq!(
            (got[0].origin.as_str(), got[0].payload.as_str()),
            ("", "a|b")
        );
    }

    #[test]
    fn a_listener_works_over_tls() {
        let server = crate::pg::testing::tls_server();
        let url = format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            server.database(),
            server.ca.display()
        );
        let pg = Pg::connect_as(&url, "node-tls").unwrap();
        let mut listener = pg.listener(&["agora_tls"]).unwrap();
        let encrypted: bool = listener
            .client
            .as_mut()
            .unwrap()
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(encrypted, "the listening connection is not encrypted");
        pg.with(|c| send(c, "agora_tls", "over TLS")).unwrap();
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
            got.extend(listener.wait(Duration::from_millis(200)).unwrap());
        }
        assert_eq!(
            got,
            vec![Notification {
                channel: "agora_tls".into(),
                origin: "node-tls".into(),
                payload: "over TLS".into()
            }]
        );
    }
}
