//! The metrics repository: history points in three tiers, alert rules
//! and the alert history.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{Error, Result, now_ms};

/// One stored history row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointRow {
    /// Sample time or step start, ms since the epoch.
    pub ts_ms: i64,
    /// Smallest value.
    pub min: f64,
    /// Mean.
    pub avg: f64,
    /// Largest value.
    pub max: f64,
}

/// An alert rule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    /// Unique name.
    pub name: String,
    /// The metric watched.
    pub metric: String,
    /// The comparison (`>`, `>=`, …).
    pub op: String,
    /// The threshold.
    pub threshold: f64,
    /// How long the condition must hold, ms.
    pub for_ms: i64,
    /// `info`, `warning`, `critical`.
    pub severity: String,
    /// Muted until then (0: not muted).
    pub silenced_until_ms: i64,
}

impl RuleRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RuleRow> {
        Ok(RuleRow {
            name: row.get("name")?,
            metric: row.get("metric")?,
            op: row.get("op")?,
            threshold: row.get("threshold")?,
            for_ms: row.get("for_ms")?,
            severity: row.get("severity")?,
            silenced_until_ms: row.get("silenced_until_ms")?,
        })
    }
}

/// One stored alert transition.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRow {
    /// Increasing id.
    pub id: i64,
    /// The rule's name.
    pub rule: String,
    /// State before (`ok`, `pending`, `firing`, `resolved`).
    pub from: String,
    /// State after.
    pub to: String,
    /// The metric's value then.
    pub value: f64,
    /// When.
    pub ts_ms: i64,
    /// Whether the rule was silenced then.
    pub silenced: bool,
}

/// Metrics queries over one connection.
pub struct Metrics<'c> {
    conn: &'c Connection,
}

impl<'c> Metrics<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Metrics { conn }
    }

    /// The id of a metric name, creating it on first use.
    ///
    /// # Errors
    /// SQLite's.
    pub fn metric_id(&self, name: &str) -> Result<i64> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO metric_names (name) VALUES (?1)")?
            .execute([name])?;
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM metric_names WHERE name = ?1")?
            .query_row([name], |r| r.get(0))?)
    }

    /// The id of a metric name, if it was ever stored.
    ///
    /// # Errors
    /// SQLite's.
    pub fn find_metric(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM metric_names WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    /// Stores points of one tier (replacing any at the same time).
    ///
    /// # Errors
    /// SQLite's.
    pub fn insert_points(&self, tier: u8, points: &[(i64, PointRow)]) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO metric_points (tier, metric, ts_ms, min, avg, max) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (metric, p) in points {
            stmt.execute(params![tier, metric, p.ts_ms, p.min, p.avg, p.max])?;
        }
        Ok(())
    }

    /// A tier's points of one metric in `[from_ms, to_ms)`, grouped into
    /// steps of `step_ms` (min of mins, mean of means, max of maxes),
    /// oldest first; each point's time is its step's start.
    ///
    /// # Errors
    /// SQLite's.
    pub fn range(
        &self,
        tier: u8,
        metric: i64,
        from_ms: i64,
        to_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<PointRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT (ts_ms / ?5) * ?5 AS step, MIN(min), AVG(avg), MAX(max) \
             FROM metric_points WHERE tier = ?1 AND metric = ?2 AND ts_ms >= ?3 AND ts_ms < ?4 \
             GROUP BY step ORDER BY step",
        )?;
        let rows = stmt.query_map(params![tier, metric, from_ms, to_ms, step_ms.max(1)], |r| {
            Ok(PointRow {
                ts_ms: r.get(0)?,
                min: r.get(1)?,
                avg: r.get(2)?,
                max: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The oldest point's time in a tier, if any.
    ///
    /// # Errors
    /// SQLite's.
    pub fn oldest(&self, tier: u8) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT MIN(ts_ms) FROM metric_points WHERE tier = ?1")?
            .query_row([tier], |r| r.get(0))?)
    }

    /// Deletes a tier's points older than `before_ms`; returns how many.
    ///
    /// # Errors
    /// SQLite's.
    pub fn prune(&self, tier: u8, before_ms: i64) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM metric_points WHERE tier = ?1 AND ts_ms < ?2")?
            .execute(params![tier, before_ms])?)
    }

    /// How many points a tier holds.
    ///
    /// # Errors
    /// SQLite's.
    pub fn count(&self, tier: u8) -> Result<u64> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM metric_points WHERE tier = ?1")?
            .query_row([tier], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Every alert rule, by name.
    ///
    /// # Errors
    /// SQLite's.
    pub fn rules(&self) -> Result<Vec<RuleRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM alert_rules ORDER BY name")?;
        let rows = stmt.query_map([], RuleRow::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds a rule.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the name is taken.
    pub fn add_rule(&self, rule: &RuleRow) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO alert_rules (name, metric, op, threshold, for_ms, severity, \
                 silenced_until_ms, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    rule.name,
                    rule.metric,
                    rule.op,
                    rule.threshold,
                    rule.for_ms,
                    rule.severity,
                    rule.silenced_until_ms,
                    now_ms()
                ],
            )
            .map_err(|err| {
                if Error::is_unique_violation(&err) {
                    Error::Conflict(format!("alert rule {:?}", rule.name))
                } else {
                    err.into()
                }
            })?;
        Ok(())
    }

    /// Removes a rule; whether there was one.
    ///
    /// # Errors
    /// SQLite's.
    pub fn remove_rule(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM alert_rules WHERE name = ?1", [name])?
            > 0)
    }

    /// Mutes a rule until `until_ms` (0 lifts it); whether there is one.
    ///
    /// # Errors
    /// SQLite's.
    pub fn silence(&self, name: &str, until_ms: i64) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE alert_rules SET silenced_until_ms = ?2 WHERE name = ?1",
            params![name, until_ms],
        )? > 0)
    }

    /// Records a transition; returns its id.
    ///
    /// # Errors
    /// SQLite's.
    pub fn add_transition(&self, t: &TransitionRow) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO alert_transitions (rule, from_state, to_state, value, ts_ms, silenced) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![t.rule, t.from, t.to, t.value, t.ts_ms, t.silenced])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Transitions, newest first, of one rule or all.
    ///
    /// # Errors
    /// SQLite's.
    pub fn transitions(&self, rule: Option<&str>, limit: u32) -> Result<Vec<TransitionRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, rule, from_state, to_state, value, ts_ms, silenced FROM alert_transitions \
             WHERE ?1 IS NULL OR rule = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![rule, limit], |r| {
            Ok(TransitionRow {
                id: r.get(0)?,
                rule: r.get(1)?,
                from: r.get(2)?,
                to: r.get(3)?,
                value: r.get(4)?,
                ts_ms: r.get(5)?,
                silenced: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Keeps only the newest `keep` transitions; returns how many went.
    ///
    /// # Errors
    /// SQLite's.
    pub fn prune_transitions(&self, keep: u32) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM alert_transitions WHERE id <= \
             (SELECT id FROM alert_transitions ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            [keep],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;

    #[test]
    fn points_group_into_steps_and_prune_by_age() {
        let db = Db::open_in_memory().unwrap();
        db.write(|c| {
            let m = Metrics::new(c);
            let id = m.metric_id("cpu.total")?;
            assert_eq!(m.metric_id("cpu.total")?, id);
            let points: Vec<_> = (0..120)
                .map(|i| {
                    let v = i as f64;
                    (
                        id,
                        PointRow {
                            ts_ms: i * 1000,
                            min: v,
                            avg: v,
                            max: v,
                        },
                    )
                })
                .collect();
            m.insert_points(0, &points)?;
            let steps = m.range(0, id, 0, 120_000, 60_000)?;
            assert_eq!(steps.len(), 2);
            assert_eq!(
                (steps[0].min, steps[0].avg, steps[0].max),
                (0.0, 29.5, 59.0)
            );
            assert_eq!(steps[1].ts_ms, 60_000);
            assert_eq!(m.prune(0, 60_000)?, 60);
            assert_eq!(m.count(0)?, 60);
            assert_eq!(m.oldest(0)?, Some(60_000));
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn rules_and_transitions() {
        let db = Db::open_in_memory().unwrap();
        db.write(|c| {
            let m = Metrics::new(c);
            let rule = RuleRow {
                name: "hot".into(),
                metric: "cpu.total".into(),
                op: ">".into(),
                threshold: 90.0,
                for_ms: 60_000,
                severity: "warning".into(),
                silenced_until_ms: 0,
            };
            m.add_rule(&rule)?;
            assert!(matches!(m.add_rule(&rule), Err(Error::Conflict(_))));
            assert!(m.silence("hot", 5)?);
            assert_eq!(m.rules()?[0].silenced_until_ms, 5);
            for i in 0..5 {
                m.add_transition(&TransitionRow {
                    id: 0,
                    rule: "hot".into(),
                    from: "ok".into(),
                    to: "pending".into(),
                    value: 91.0,
                    ts_ms: i,
                    silenced: false,
                })?;
            }
            assert_eq!(m.transitions(Some("hot"), 2)?.len(), 2);
            assert_eq!(m.transitions(None, 50)?[0].ts_ms, 4);
            assert_eq!(m.prune_transitions(3)?, 2);
            assert_eq!(m.transitions(None, 50)?.len(), 3);
            assert!(m.remove_rule("hot")?);
            assert!(!m.remove_rule("hot")?);
            Ok(())
        })
        .unwrap();
    }
}
