//! A recorded history of reads and writes on keys, and the checker the
//! cluster's fault test runs over it (tests/e2e/cluster_history.rs).
//!
//! Each key is a last-writer-wins register: SET writes a value unique to
//! that write, DEL writes "absent", GET reads. Every operation is logged
//! with the times the client invoked it and saw it complete, and how it
//! ended: done (the reply), failed (refused before it ran: it took no
//! effect) or unknown (an error after it may have run, a timeout, a broken
//! connection — it may take effect at any time after it was invoked, as
//! Jepsen treats an indeterminate operation).
//!
//! What [`check`] shows, per key:
//! - every value read was written, by a write invoked before the read
//!   completed (nothing invented, nothing read from the future);
//! - reads invoked at or after `strict_from` are not stale: a read never
//!   returns a value when an acknowledged write invoked after that value's
//!   write completed had itself completed before the read began (the
//!   register is *regular*: R+W>N reads see the latest acknowledged write);
//! - the final state (read after everything, through every node) is not
//!   stale either: no acknowledged write is lost, no acknowledged delete is
//!   undone (a resurrected key).
//!
//! Reads before `strict_from` (during faults) are checked for the first
//! rule only: docs/CLUSTER.md says why a partition can serve older values.

use std::collections::HashMap;
use std::time::Duration;

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// SET key value.
    Set(String),
    /// DEL key.
    Del,
    /// GET key.
    Get,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// Acknowledged; for a read, the value it returned (`None`: absent).
    Done(Option<String>),
    /// Refused before it ran (CLUSTERDOWN, a redirection loop): no effect.
    Failed,
    /// It may or may not have taken effect, now or later.
    Unknown,
}

/// One operation of the history.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) key: String,
    pub(crate) kind: Kind,
    /// Since the history started.
    pub(crate) invoke: Duration,
    pub(crate) complete: Duration,
    pub(crate) status: Status,
}

/// What the checker counted, and what it found wrong.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) writes_acked: usize,
    pub(crate) writes_unknown: usize,
    pub(crate) writes_failed: usize,
    pub(crate) reads_checked: usize,
    pub(crate) reads_strict: usize,
    pub(crate) reads_failed: usize,
    pub(crate) violations: Vec<String>,
}

/// A write that may explain a value: its value and interval. An unknown
/// write may take effect any time after it was invoked: its end is
/// unbounded for what it supersedes, and it supersedes nothing.
#[derive(Debug, Clone, Copy)]
struct Write<'a> {
    value: Option<&'a str>,
    invoke: Duration,
    /// When it surely had taken effect (`None`: never sure).
    acked_at: Option<Duration>,
}

/// Checks `history` and the `last` value of each key (read after every
/// operation ended, at time `end`); reads invoked from `strict_from` on
/// must not be stale.
pub(crate) fn check(
    history: &[Op],
    last: &HashMap<String, Option<String>>,
    strict_from: Duration,
    end: Duration,
) -> Report {
    let mut report = Report::default();
    let mut per_key: HashMap<&str, Vec<&Op>> = HashMap::new();
    for op in history {
        per_key.entry(op.key.as_str()).or_default().push(op);
    }
    for key in last.keys() {
        per_key.entry(key.as_str()).or_default();
    }
    for (key, ops) in per_key {
        let writes: Vec<Write> = ops
            .iter()
            .filter_map(|op| {
                let value = match &op.kind {
                    Kind::Set(v) => Some(v.as_str()),
                    Kind::Del => None,
                    Kind::Get => return None,
                };
                let acked_at = match op.status {
                    Status::Done(_) => Some(op.complete),
                    Status::Unknown => None,
                    Status::Failed => return None,
                };
                Some(Write {
                    value,
                    invoke: op.invoke,
                    acked_at,
                })
            })
            .collect();
        for op in &ops {
            match (&op.kind, &op.status) {
                (Kind::Get, Status::Done(value)) => {
                    report.reads_checked += 1;
                    let strict = op.invoke >= strict_from;
                    report.reads_strict += usize::from(strict);
                    if let Err(why) =
                        explain(&writes, value.as_deref(), op.invoke, op.complete, strict)
                    {
                        report.violations.push(format!(
                            "GET {key} at {:?}..{:?} returned {}: {why}",
                            op.invoke,
                            op.complete,
                            show(value.as_deref())
                        ));
                    }
                }
                (Kind::Get, _) => report.reads_failed += 1,
                (_, Status::Done(_)) => report.writes_acked += 1,
                (_, Status::Unknown) => report.writes_unknown += 1,
                (_, Status::Failed) => report.writes_failed += 1,
            }
        }
        let Some(value) = last.get(key) else {
            report
                .violations
                .push(format!("{key}: no final value was read"));
            continue;
        };
        if let Err(why) = explain(&writes, value.as_deref(), end, end, true) {
            let what = if value.is_some()
                && writes
                    .iter()
                    .any(|w| w.value.is_none() && w.acked_at.is_some())
            {
                "lost write or resurrected key"
            } else {
                "lost write"
            };
            report.violations.push(format!(
                "{key}: final value {} ({what}): {why}",
                show(value.as_deref())
            ));
        }
    }
    report
}

/// Whether a read over `[invoke, complete]` may have returned `value`.
fn explain(
    writes: &[Write],
    value: Option<&str>,
    invoke: Duration,
    complete: Duration,
    strict: bool,
) -> Result<(), String> {
    // The key's state before any write: absent, "acknowledged" at 0.
    let initial = Write {
        value: None,
        invoke: Duration::ZERO,
        acked_at: Some(Duration::ZERO),
    };
    let candidates: Vec<Write> = writes
        .iter()
        .copied()
        .chain(value.is_none().then_some(initial))
        .filter(|w| w.value == value && w.invoke < complete)
        .collect();
    if candidates.is_empty() {
        return Err("no write of that value was invoked before the read completed".into());
    }
    if !strict {
        return Ok(());
    }
    // A candidate is superseded when an acknowledged write began after
    // it surely took effect and was itself acknowledged before the read
    // began. An unknown candidate is never surely done: never superseded.
    let newer = |c: &Write| {
        let done = c.acked_at?;
        writes
            .iter()
            .filter(|w| w.invoke > done && w.acked_at.is_some_and(|a| a < invoke))
            .min_by_key(|w| w.acked_at)
            .copied()
    };
    // Stale when every candidate is superseded.
    let Some(newer) = candidates.iter().map(newer).collect::<Option<Vec<Write>>>() else {
        return Ok(());
    };
    let by = newer[0];
    Err(format!(
        "stale: {} was acknowledged at {:?} (invoked at {:?}), after every write of this value \
         had taken effect and before the read began",
        show(by.value),
        by.acked_at.unwrap_or_default(),
        by.invoke
    ))
}

fn show(value: Option<&str>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), |v| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn op(kind: Kind, from: u64, to: u64, status: Status) -> Op {
        Op {
            key: "k".into(),
            kind,
            invoke: ms(from),
            complete: ms(to),
            status,
        }
    }

    fn set(v: &str, from: u64, to: u64, status: Status) -> Op {
        op(Kind::Set(v.into()), from, to, status)
    }

    fn get(v: Option<&str>, from: u64, to: u64) -> Op {
        op(Kind::Get, from, to, Status::Done(v.map(str::to_owned)))
    }

    fn ok() -> Status {
        Status::Done(None)
    }

    fn last(v: Option<&str>) -> HashMap<String, Option<String>> {
        HashMap::from([("k".to_owned(), v.map(str::to_owned))])
    }

    fn violations(history: &[Op], final_value: Option<&str>) -> Vec<String> {
        check(history, &last(final_value), ms(0), ms(1000)).violations
    }

    #[test]
    fn a_register_used_well_checks_out() {
        let h = [
            set("a", 0, 10, ok()),
            get(Some("a"), 20, 30),
            // Concurrent with the write of b: either value is fine.
            set("b", 40, 60, ok()),
            get(Some("a"), 45, 50),
            get(Some("b"), 50, 55),
            get(Some("b"), 70, 80),
        ];
        assert_eq!(violations(&h, Some("b")), Vec::<String>::new());
    }

    #[test]
    fn a_lost_acknowledged_write_is_found() {
        let h = [set("a", 0, 10, ok()), set("b", 20, 30, ok())];
        let v = violations(&h, Some("a"));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].contains("lost write") && v[0].contains("\"b\""),
            "{v:?}"
        );
        assert!(!violations(&h, None).is_empty(), "absent: b was lost too");
    }

    #[test]
    fn a_resurrected_key_is_found() {
        let h = [set("a", 0, 10, ok()), op(Kind::Del, 20, 30, ok())];
        let v = violations(&h, Some("a"));
        assert!(v[0].contains("resurrected"), "{v:?}");
        assert!(violations(&h, None).is_empty());
    }

    #[test]
    fn a_stale_read_counts_only_when_strict() {
        let h = [
            set("a", 0, 10, ok()),
            set("b", 20, 30, ok()),
            get(Some("a"), 40, 50),
        ];
        let strict = check(&h, &last(Some("b")), ms(0), ms(100));
        assert_eq!(strict.violations.len(), 1, "{:?}", strict.violations);
        assert!(strict.violations[0].contains("stale"));
        let lenient = check(&h, &last(Some("b")), ms(45), ms(100));
        assert_eq!(lenient.violations, Vec::<String>::new());
        assert_eq!((lenient.reads_checked, lenient.reads_strict), (1, 0));
    }

    #[test]
    fn invented_and_future_values_are_found_even_during_faults() {
        let h = [
            set("a", 0, 10, ok()),
            get(Some("zzz"), 20, 30),
            get(Some("late"), 40, 50),
            set("late", 60, 70, ok()),
        ];
        let r = check(&h, &last(Some("late")), ms(1000), ms(1000));
        assert_eq!(r.violations.len(), 2, "{:?}", r.violations);
    }

    #[test]
    fn an_unknown_write_may_show_up_any_time_later_and_a_failed_one_never() {
        let h = [
            set("a", 0, 10, ok()),
            set("u", 20, 30, Status::Unknown),
            set("b", 40, 50, ok()),
        ];
        // u took effect after b (it was delayed): allowed.
        assert_eq!(violations(&h, Some("u")), Vec::<String>::new());
        let failed = [set("a", 0, 10, ok()), set("f", 20, 30, Status::Failed)];
        assert!(!violations(&failed, Some("f")).is_empty());
        // An unknown write does not supersede: a is still a valid answer.
        let h = [set("a", 0, 10, ok()), set("u", 20, 30, Status::Unknown)];
        assert_eq!(violations(&h, Some("a")), Vec::<String>::new());
    }

    #[test]
    fn a_key_never_written_reads_absent() {
        let h = [get(None, 0, 10)];
        assert_eq!(violations(&h, None), Vec::<String>::new());
        assert!(!violations(&h, Some("x")).is_empty());
    }
}
