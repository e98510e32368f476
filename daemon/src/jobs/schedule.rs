//! Recurring jobs' schedules: cron expressions parsed by `croner` and
//! evaluated in UTC, with the clock passed in.
//!
//! croner was chosen over the `cron` crate because it reads the standard
//! 5-field Unix syntax (minute hour day month weekday) that users write in
//! crontabs — `cron` insists on a seconds field and counts weekdays from 1
//! for Sunday — and also takes an optional seconds field, `L`, `W` and
//! `#`, and it is maintained.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::CronParser;

/// The most missed slots one catch-up runs.
pub const MAX_CATCH_UP: usize = 100;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule(Cron);

impl Schedule {
    /// Parses a cron expression of 5 fields, or 6 with seconds first.
    ///
    /// # Errors
    /// A sentence saying what is wrong with it.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "bad cron expression {expr:?}: expected 5 fields (minute hour day month weekday) \
                 or 6 (seconds first), got {fields}"
            ));
        }
        // The default parser: seconds optional, no year field.
        CronParser::new()
            .parse(expr)
            .map(Schedule)
            .map_err(|err| format!("bad cron expression {expr:?}: {err}"))
    }

    /// The first slot strictly after `after_ms`, if there is one.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
        let next = self.0.find_next_occurrence(&after, false).ok()?;
        u64::try_from(next.timestamp_millis()).ok()
    }

    /// The slots due by `now_ms`, starting with `first_ms` (the stored
    /// next slot, already due): every one with `catch_up` (at most
    /// [`MAX_CATCH_UP`], the latest ones), else only the latest — so a
    /// daemon that was down runs a missed schedule once, not in a burst.
    /// Also returns the next slot after `now_ms`.
    pub fn due(&self, first_ms: u64, now_ms: u64, catch_up: bool) -> (Vec<u64>, Option<u64>) {
        let mut slots = Vec::new();
        let mut slot = Some(first_ms);
        while let Some(s) = slot.filter(|s| *s <= now_ms) {
            slots.push(s);
            if slots.len() > MAX_CATCH_UP {
                slots.remove(0);
            }
            slot = self.next_after(s);
        }
        if !catch_up && slots.len() > 1 {
            slots.drain(..slots.len() - 1);
        }
        let next = match slot {
            Some(s) if s > now_ms => Some(s),
            _ => self.next_after(now_ms),
        };
        (slots, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    /// 2026-01-01T00:00:00Z.
    const T0: u64 = 1_767_225_600_000;

    #[test]
    fn five_and_six_fields() {
        let every_minute = Schedule::parse("* * * * *").unwrap();
        assert_eq!(every_minute.next_after(T0), Some(T0 + MIN));
        assert_eq!(every_minute.next_after(T0 + 1), Some(T0 + MIN));
        let every_second = Schedule::parse("* * * * * *").unwrap();
        assert_eq!(every_second.next_after(T0), Some(T0 + 1000));
        let nightly = Schedule::parse("30 3 * * *").unwrap();
        assert_eq!(nightly.next_after(T0), Some(T0 + 3 * 3_600_000 + 30 * MIN));
    }

    #[test]
    fn bad_expressions_say_why() {
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "* * * * * * * *",
            "every day",
            "* * 32 * *",
        ] {
            let err = Schedule::parse(bad).unwrap_err();
            assert!(err.starts_with("bad cron expression"), "{bad}: {err}");
        }
    }

    #[test]
    fn missed_slots_run_once_unless_caught_up() {
        let s = Schedule::parse("* * * * *").unwrap();
        let (slots, next) = s.due(T0 + MIN, T0 + 5 * MIN + 10, false);
        assert_eq!(slots, [T0 + 5 * MIN]);
        assert_eq!(next, Some(T0 + 6 * MIN));
        let (slots, _) = s.due(T0 + MIN, T0 + 5 * MIN + 10, true);
        assert_eq!(slots, (1..=5).map(|m| T0 + m * MIN).collect::<Vec<_>>());
        let (slots, next) = s.due(T0 + MIN, T0 + MIN - 1, false);
        assert!(slots.is_empty());
        assert_eq!(next, Some(T0 + MIN));
        let (slots, _) = s.due(T0, T0 + 1_000 * MIN, true);
        assert_eq!(slots.len(), MAX_CATCH_UP);
        assert_eq!(slots.last(), Some(&(T0 + 1_000 * MIN)));
    }
}
