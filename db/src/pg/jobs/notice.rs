//! What one node's jobs writer tells the others (docs/FLEET.md, "Jobs
//! across nodes"): the state changes a transaction made, the queues whose
//! settings it changed, the earliest time it made something due — sent on
//! [`CHANNEL`] inside that transaction ([`super::PgJobs`]'s `announce`),
//! so delivered on commit, dropped on rollback.
//!
//! Unlike chat's notifications these carry the data, not ids to fetch: a
//! change is a few bytes (`id:attempt:FT`, two state letters), and the
//! receivers need nothing else to keep their counts, wake their claims
//! and publish on their `jobs` topic. A batch's changes are split over
//! as many notifications as keep each under [`LIMIT`] bytes (PostgreSQL
//! refuses payloads of 8,000).
//!
//! Each payload starts with the sending transaction's id (`xid8`): a node
//! that loads its counts from a snapshot skips the notifications of
//! transactions that snapshot already saw ([`Snapshot::saw`]) — without
//! it, a change committed between `LISTEN` and the load would be counted
//! twice.
//!
//! Body lines, `\n`-separated (names percent-escape ` `, `\n` and `%`,
//! none of which a valid queue or kind holds anyway):
//! - `c QUEUE KIND ID:ATTEMPT:FT …` — changes of one queue and kind;
//! - `q QUEUE` — the queue was made or its settings changed: read it;
//! - `t MS` — the earliest time the transaction made something due.

pub use super::super::snapshot::Snapshot;
use crate::jobs::{Change, State};

/// The channel jobs' notifications go on.
pub const CHANNEL: &str = "agora_jobs";
/// The most bytes a payload gets (PostgreSQL's limit is 8,000).
pub const LIMIT: usize = 7_000;

/// What a transaction announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// The sending transaction (`pg_current_xact_id()`).
    pub xid: u64,
    /// State changes.
    pub changes: Vec<Change>,
    /// Queues made or changed.
    pub queues: Vec<String>,
    /// The earliest time something became due.
    pub due_ms: Option<i64>,
}

/// The bodies (without the transaction id, which the SQL adds) that
/// announce `changes`, `queues` and `due_ms`, each under [`LIMIT`] bytes;
/// none when there is nothing to say.
pub fn encode(changes: &[Change], queues: &[String], due_ms: Option<i64>) -> Vec<String> {
    let mut out = Vec::new();
    let mut body = String::new();
    let push_line = |body: &mut String, line: &str, out: &mut Vec<String>| {
        if !body.is_empty() && body.len() + 1 + line.len() > LIMIT {
            out.push(std::mem::take(body));
        }
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(line);
    };
    if let Some(at) = due_ms {
        push_line(&mut body, &format!("t {at}"), &mut out);
    }
    for queue in queues {
        push_line(&mut body, &format!("q {}", escape(queue)), &mut out);
    }
    let mut rest = changes;
    while let Some(first) = rest.first() {
        let header = format!("c {} {}", escape(&first.queue), escape(&first.kind));
        if !body.is_empty() && body.len() + 1 + header.len() + 64 > LIMIT {
            // Too little room left for a useful line.
            out.push(std::mem::take(&mut body));
        }
        let mut line = header.clone();
        let mut taken = 0;
        for change in rest {
            if change.queue != first.queue || change.kind != first.kind {
                break;
            }
            let token = format!(
                " {}:{}:{}{}",
                change.id,
                change.attempt,
                letter(change.from),
                letter(change.to)
            );
            let room = LIMIT - if body.is_empty() { 0 } else { body.len() + 1 };
            if taken > 0 && line.len() + token.len() > room {
                break;
            }
            line.push_str(&token);
            taken += 1;
        }
        push_line(&mut body, &line, &mut out);
        rest = &rest[taken..];
    }
    if !body.is_empty() {
        out.push(body);
    }
    out
}

/// Reads a payload (`XID|BODY`, the node's prefix already taken off).
///
/// # Errors
/// A sentence saying what is wrong (another version's node, a bug).
pub fn decode(payload: &str) -> Result<Notice, String> {
    let (xid, body) = payload
        .split_once('|')
        .ok_or_else(|| format!("no transaction id in {payload:?}"))?;
    let mut notice = Notice {
        xid: xid
            .parse()
            .map_err(|_| format!("bad transaction id {xid:?}"))?,
        ..Notice::default()
    };
    for line in body.split('\n').filter(|l| !l.is_empty()) {
        let mut words = line.split(' ');
        match words.next() {
            Some("t") => {
                let at = words.next().and_then(|w| w.parse().ok());
                notice.due_ms = Some(at.ok_or_else(|| format!("bad due time in {line:?}"))?);
            }
            Some("q") => {
                let queue = words.next().ok_or("a queue line without a queue")?;
                notice.queues.push(unescape(queue)?);
            }
            Some("c") => {
                let (queue, kind) = match (words.next(), words.next()) {
                    (Some(q), Some(k)) => (unescape(q)?, unescape(k)?),
                    _ => return Err(format!("a change line without queue and kind: {line:?}")),
                };
                for token in words {
                    notice.changes.push(change(&queue, &kind, token)?);
                }
            }
            _ => return Err(format!("unknown line {line:?}")),
        }
    }
    Ok(notice)
}

fn change(queue: &str, kind: &str, token: &str) -> Result<Change, String> {
    let bad = || format!("bad change {token:?}");
    let mut parts = token.split(':');
    let id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let attempt = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let states = parts.next().ok_or_else(bad)?.as_bytes();
    if states.len() != 2 || parts.next().is_some() {
        return Err(bad());
    }
    Ok(Change {
        id,
        queue: queue.to_owned(),
        kind: kind.to_owned(),
        from: state(states[0]).ok_or_else(bad)?,
        to: state(states[1]).ok_or_else(bad)?,
        attempt,
    })
}

/// A state's letter; `-` for none (new, deleted).
fn letter(state: Option<State>) -> char {
    match state {
        None => '-',
        Some(State::Scheduled) => 's',
        Some(State::Available) => 'a',
        Some(State::Running) => 'r',
        Some(State::Retryable) => 'y',
        Some(State::Completed) => 'c',
        Some(State::Dead) => 'd',
        Some(State::Cancelled) => 'x',
    }
}

/// The state a letter names (`Some(None)` for `-`).
fn state(letter: u8) -> Option<Option<State>> {
    Some(match letter {
        b'-' => None,
        b's' => Some(State::Scheduled),
        b'a' => Some(State::Available),
        b'r' => Some(State::Running),
        b'y' => Some(State::Retryable),
        b'c' => Some(State::Completed),
        b'd' => Some(State::Dead),
        b'x' => Some(State::Cancelled),
        _ => return None,
    })
}

fn escape(name: &str) -> String {
    name.replace('%', "%25")
        .replace(' ', "%20")
        .replace('\n', "%0A")
}

fn unescape(word: &str) -> Result<String, String> {
    let out = word
        .replace("%20", " ")
        .replace("%0A", "\n")
        .replace("%25", "%");
    if out.is_empty() {
        return Err("an empty name".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: i64, queue: &str, kind: &str, from: Option<State>, to: Option<State>) -> Change {
        Change {
            id,
            queue: queue.into(),
            kind: kind.into(),
            from,
            to,
            attempt: id % 3,
        }
    }

    #[test]
    fn a_notice_round_trips() {
        let changes = vec![
            change(1, "default", "email.send", None, Some(State::Available)),
            change(
                2,
                "default",
                "email.send",
                Some(State::Running),
                Some(State::Completed),
            ),
            change(3, "odd name", "Reports::Daily", Some(State::Dead), None),
            change(
                4,
                "default",
                "email.send",
                Some(State::Running),
                Some(State::Retryable),
            ),
        ];
        let bodies = encode(&changes, &["q%1".into()], Some(12_345));
        assert_eq!(bodies.len(), 1);
        let notice = decode(&format!("42|{}", bodies[0])).unwrap();
        assert_eq!(notice.xid, 42);
        assert_eq!(notice.changes, changes, "in order, every state");
        assert_eq!(notice.queues, ["q%1"]);
        assert_eq!(notice.due_ms, Some(12_345));
        assert!(encode(&[], &[], None).is_empty());
    }

    #[test]
    fn a_big_batch_is_split_under_the_limit_and_loses_nothing() {
        let changes: Vec<Change> = (0..5_000)
            .map(|i| {
                let queue = if i % 700 < 350 { "a" } else { "b" };
                change(
                    1_000_000 + i,
                    queue,
                    "noop",
                    Some(State::Available),
                    Some(State::Running),
                )
            })
            .collect();
        let bodies = encode(&changes, &["a".into()], Some(7));
        assert!(bodies.len() > 5, "{}", bodies.len());
        assert!(bodies.iter().all(|b| b.len() <= LIMIT));
        let mut back = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let notice = decode(&format!("{}|{body}", 9_000_000_000u64 + i as u64)).unwrap();
            back.extend(notice.changes);
        }
        assert_eq!(back, changes);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "x",
            "1|c",
            "1|c a",
            "1|c a b 1:2",
            "1|c a b 1:2:zz",
            "1|t",
            "1|z",
            "1|c a b 1:2:ar:4",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert!(decode("1|").is_ok_and(|n| n
            == Notice {
                xid: 1,
                ..Notice::default()
            }));
    }
}
