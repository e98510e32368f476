//! [`Backoff`]: the waits between a session's reconnection attempts.

use std::time::Duration;

/// Exponential backoff between reconnection attempts, with jitter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Backoff {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// Give up (and end every subscription) after this long without a
    /// connection; `None` retries forever.
    pub give_up_after: Option<Duration>,
}

impl Default for Backoff {
    /// 100 ms doubling to 5 s, retrying forever.
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            give_up_after: None,
        }
    }
}

impl Backoff {
    /// A backoff from `first` doubling up to `cap`.
    pub fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            first,
            cap,
            give_up_after: None,
        }
    }

    /// The same, giving up after `limit` without a connection.
    pub fn give_up_after(mut self, limit: Duration) -> Backoff {
        self.give_up_after = Some(limit);
        self
    }

    /// The wait before attempt `attempt` (0-based), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.cap)
    }

    /// [`Backoff::delay`] with ±25 % jitter from `seed`, so clients cut off
    /// together do not come back together.
    pub(crate) fn jittered(&self, attempt: u32, seed: u64) -> Duration {
        let base = self.delay(attempt);
        let spread = (seed % 501) as f64 / 1000.0 - 0.25; // -0.25..=0.25
        base.mul_f64(1.0 + spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_jitter_stays_within_a_quarter() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let waits: Vec<u128> = (0..8).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(5));
        for seed in [0, 1, 250, 500, 12345, u64::MAX] {
            let j = b.jittered(3, seed).as_secs_f64();
            assert!((0.6..=1.0).contains(&j), "{j}");
        }
    }
}
