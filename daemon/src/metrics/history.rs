//! History: samples go to SQLite in three tiers — raw, one-minute and
//! one-hour steps of min/avg/max — each with its own retention, so the
//! database holds at most (raw retention / interval + 7 days of minutes +
//! 90 days of hours) rows per metric, whatever the uptime.
//!
//! [`Downsampler`] folds samples into the open step of each tier and
//! hands a step's row over when a sample of the next step arrives; rows
//! collect in a [`Batch`] that the service writes in one transaction every
//! few seconds. Time is an argument, so the tests need no clock. A step
//! still open when the daemon stops is lost (at most a minute and an hour
//! of the downsampled tiers; the raw tier has it).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use agora_db::metrics::PointRow;

/// The tiers' numbers in the database.
pub const RAW: u8 = 0;
/// One-minute steps.
pub const MINUTE: u8 = 1;
/// One-hour steps.
pub const HOUR: u8 = 2;

/// Each tier's step, ms (raw has none).
const STEPS: [(u8, u64); 2] = [(MINUTE, 60_000), (HOUR, 3_600_000)];

/// How long each tier is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw samples (default 1 h).
    pub raw: Duration,
    /// One-minute steps (default 7 days).
    pub minute: Duration,
    /// One-hour steps (default 90 days).
    pub hour: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Duration::from_secs(3600),
            minute: Duration::from_secs(7 * 86_400),
            hour: Duration::from_secs(90 * 86_400),
        }
    }
}

impl Retention {
    /// Per tier, the oldest time kept at `now_ms`.
    pub fn cutoffs(&self, now_ms: u64) -> [(u8, u64); 3] {
        let before = |d: Duration| now_ms.saturating_sub(d.as_millis() as u64);
        [
            (RAW, before(self.raw)),
            (MINUTE, before(self.minute)),
            (HOUR, before(self.hour)),
        ]
    }

    /// The tier a query for `[from_ms, …)` in steps of `step_ms` reads at
    /// `now_ms`: the finest whose retention reaches back to `from_ms` (give
    /// or take a minute: "the last hour" asked a moment ago still reads
    /// the raw hour), and not finer than the step asks for.
    pub fn tier_for(&self, now_ms: u64, from_ms: u64, step_ms: u64) -> u8 {
        let reaches = |d: Duration| from_ms + 60_000 >= now_ms.saturating_sub(d.as_millis() as u64);
        if step_ms < 60_000 && reaches(self.raw) {
            RAW
        } else if step_ms < 3_600_000 && reaches(self.minute) {
            MINUTE
        } else {
            HOUR
        }
    }
}

/// Rows waiting to be written: (tier, metric name, row).
#[derive(Debug, Default)]
pub struct Batch {
    /// The rows, in the order produced.
    pub rows: Vec<(u8, String, PointRow)>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
struct Step {
    start: u64,
    min: f64,
    max: f64,
    sum: f64,
    n: u32,
}

impl Step {
    fn row(&self) -> PointRow {
        PointRow {
            ts_ms: self.start as i64,
            min: self.min,
            avg: self.sum / f64::from(self.n.max(1)),
            max: self.max,
        }
    }
}

/// The open step of every metric in every downsampled tier.
#[derive(Debug, Default)]
pub struct Downsampler {
    open: HashMap<(u8, String), Step>,
}

impl Downsampler {
    /// Adds one sample taken at `ts_ms`: its raw rows, and the rows of the
    /// steps it closes, go into `batch`.
    pub fn push(&mut self, ts_ms: u64, values: &BTreeMap<String, f64>, batch: &mut Batch) {
        for (name, &value) in values {
            batch.rows.push((
                RAW,
                name.clone(),
                PointRow {
                    ts_ms: ts_ms as i64,
                    min: value,
                    avg: value,
                    max: value,
                },
            ));
            for (tier, step_ms) in STEPS {
                let start = ts_ms - ts_ms % step_ms;
                let step = self.open.entry((tier, name.clone())).or_insert(Step {
                    start,
                    min: value,
                    max: value,
                    sum: 0.0,
                    n: 0,
                });
                if step.start != start {
                    batch.rows.push((tier, name.clone(), step.row()));
                    *step = Step {
                        start,
                        min: value,
                        max: value,
                        sum: 0.0,
                        n: 0,
                    };
                }
                step.min = step.min.min(value);
                step.max = step.max.max(value);
                step.sum += value;
                step.n += 1;
            }
        }
    }

    /// Closes every step that ended before `now_ms` (metrics that stopped
    /// being sampled), putting their rows into `batch`.
    pub fn close_stale(&mut self, now_ms: u64, batch: &mut Batch) {
        self.open.retain(|(tier, name), step| {
            let step_ms = if *tier == MINUTE { 60_000 } else { 3_600_000 };
            if step.start + step_ms * 2 <= now_ms {
                batch.rows.push((*tier, name.clone(), step.row()));
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_db::Db;
    use agora_db::metrics::Metrics;

    fn one(v: f64) -> BTreeMap<String, f64> {
        BTreeMap::from([("cpu.total".to_owned(), v)])
    }

    #[test]
    fn minutes_and_hours_get_min_avg_max() {
        let mut d = Downsampler::default();
        let mut batch = Batch::default();
        // Two minutes of one sample a second: 0..59, then 100..159.
        for s in 0..120u64 {
            let v = if s < 60 {
                s as f64
            } else {
                100.0 + (s - 60) as f64
            };
            d.push(s * 1000, &one(v), &mut batch);
        }
        let minutes: Vec<_> = batch.rows.iter().filter(|r| r.0 == MINUTE).collect();
        assert_eq!(minutes.len(), 1, "the second minute is still open");
        let m = minutes[0].2;
        assert_eq!((m.ts_ms, m.min, m.avg, m.max), (0, 0.0, 29.5, 59.0));
        assert_eq!(batch.rows.iter().filter(|r| r.0 == RAW).count(), 120);
        // The next minute's first sample closes the second.
        d.push(120_000, &one(0.0), &mut batch);
        let m = batch.rows.iter().rfind(|r| r.0 == MINUTE).unwrap().2;
        assert_eq!(
            (m.ts_ms, m.min, m.avg, m.max),
            (60_000, 100.0, 129.5, 159.0)
        );
        // An hour later the hour closes: its mean is the mean of all.
        d.push(3_600_000, &one(0.0), &mut batch);
        let h = batch.rows.iter().find(|r| r.0 == HOUR).unwrap().2;
        let all: Vec<f64> = (0..60)
            .map(|s| s as f64)
            .chain((0..60).map(|s| 100.0 + s as f64))
            .chain([0.0])
            .collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        assert_eq!((h.ts_ms, h.min, h.max), (0, 0.0, 159.0));
        assert!((h.avg - mean).abs() < 1e-9);
    }

    #[test]
    fn stale_steps_are_closed() {
        let mut d = Downsampler::default();
        let mut batch = Batch::default();
        d.push(1_000, &one(5.0), &mut batch);
        batch.rows.clear();
        d.close_stale(60_000, &mut batch);
        assert!(batch.is_empty(), "the minute may still get samples");
        d.close_stale(120_000, &mut batch);
        assert_eq!(batch.rows.len(), 1);
        assert_eq!(batch.rows[0].0, MINUTE);
    }

    #[test]
    fn queries_pick_the_finest_tier_that_reaches_back() {
        let r = Retention::default();
        let now = 100 * 86_400_000;
        assert_eq!(r.tier_for(now, now - 60_000, 1_000), RAW);
        assert_eq!(
            r.tier_for(now, now - 3_600_010, 1_000),
            RAW,
            "an hour, asked 10 ms ago"
        );
        assert_eq!(r.tier_for(now, now - 7_200_000, 1_000), MINUTE);
        assert_eq!(r.tier_for(now, now - 600_000, 60_000), MINUTE);
        assert_eq!(r.tier_for(now, now - 8 * 86_400_000, 60_000), HOUR);
        assert_eq!(r.tier_for(now, now - 86_400_000, 3_600_000), HOUR);
    }

    /// Retention with a fake clock: a simulated week of samples every 10 s
    /// over 3 metrics, pruned each simulated minute, keeps the database
    /// at a bounded size instead of growing with the days.
    #[test]
    fn retention_bounds_the_database() {
        let db = Db::open_in_memory().unwrap();
        let retention = Retention {
            raw: Duration::from_secs(600),
            minute: Duration::from_secs(3 * 3600),
            hour: Duration::from_secs(86_400),
        };
        let mut d = Downsampler::default();
        let mut ids: HashMap<String, i64> = HashMap::new();
        let mut peak = [0u64; 3];
        let day = 86_400_000u64;
        let mut now = 0;
        while now < 3 * day {
            let mut batch = Batch::default();
            for _ in 0..6 {
                let values: BTreeMap<String, f64> = ["a", "b", "c"]
                    .iter()
                    .map(|m| ((*m).to_owned(), (now % 1000) as f64))
                    .collect();
                d.push(now, &values, &mut batch);
                now += 10_000;
            }
            db.write(|c| {
                let m = Metrics::new(c);
                for (tier, name, row) in &batch.rows {
                    let id = match ids.get(name) {
                        Some(id) => *id,
                        None => {
                            let id = m.metric_id(name)?;
                            ids.insert(name.clone(), id);
                            id
                        }
                    };
                    m.insert_points(*tier, &[(id, *row)])?;
                }
                for (tier, before) in retention.cutoffs(now) {
                    m.prune(tier, before as i64)?;
                }
                for tier in [RAW, MINUTE, HOUR] {
                    peak[tier as usize] = peak[tier as usize].max(m.count(tier)?);
                }
                Ok(())
            })
            .unwrap();
        }
        // 10 min raw at one sample per 10 s: 60 (+ one minute's worth not
        // yet pruned) per metric; 3 h of minutes: 180 (+1); a day of
        // hours: 24 (+1).
        assert!(peak[0] <= 3 * 67, "{peak:?}");
        assert!(peak[1] <= 3 * 182, "{peak:?}");
        assert!(peak[2] <= 3 * 26, "{peak:?}");
        assert!(peak[2] >= 3 * 23, "hours were kept: {peak:?}");
    }
}
