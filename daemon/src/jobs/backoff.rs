//! How long a failed job waits before its next attempt.
//!
//! Sidekiq's curve: `attempt⁴ + 15` seconds plus up to 30 s of jitter, so
//! the first retries come quickly (16–46 s, 31–61 s, 96–126 s …) and a job
//! that keeps failing spreads out to about 1.9 days before its 20th and
//! last attempt (about 9 days in all), while the jitter keeps a burst of
//! failures from coming back as a burst. A worker can override it per
//! failure (`retry_in_ms`) or give up at once (`discard`).

/// The most a single backoff waits: a week.
pub const MAX_BACKOFF_MS: u64 = 7 * 24 * 3600 * 1000;
/// The jitter's range, in ms (exclusive).
pub const JITTER_MS: u64 = 30_000;

/// The wait after failed attempt number `attempt` (1 for the first), with
/// `jitter_ms` (taken from `0..JITTER_MS` by the caller, so tests can fix
/// it).
pub fn backoff_ms(attempt: u32, jitter_ms: u64) -> u64 {
    let secs = u64::from(attempt).saturating_pow(4).saturating_add(15);
    secs.saturating_mul(1000)
        .saturating_add(jitter_ms.min(JITTER_MS - 1))
        .min(MAX_BACKOFF_MS)
}

/// The wait after failed attempt `attempt` as the daemon applies it: the
/// curve with a random jitter, or — for end-to-end tests only — the fixed
/// wait in ms given by the `AGORA_TEST_JOBS_BACKOFF_MS` environment
/// variable (read once), so a test of dead letters or lost leases need not
/// wait the curve's 16 s.
pub fn wait_ms(attempt: u32) -> u64 {
    static FIXED: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let fixed = FIXED.get_or_init(|| {
        std::env::var("AGORA_TEST_JOBS_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    fixed.unwrap_or_else(|| backoff_ms(attempt, jitter()))
}

/// A random jitter in `0..JITTER_MS`.
pub fn jitter() -> u64 {
    rand::random_range(0..JITTER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_sidekiqs_curve() {
        assert_eq!(backoff_ms(1, 0), 16_000);
        assert_eq!(backoff_ms(2, 0), 31_000);
        assert_eq!(backoff_ms(3, 0), 96_000);
        assert_eq!(backoff_ms(5, 29_999), 640_000 + 29_999);
        assert_eq!(backoff_ms(19, 0), (130_321 + 15) * 1000);
        assert_eq!(backoff_ms(1_000, 0), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX, u64::MAX), MAX_BACKOFF_MS);
        // Each wait is longer than the one before (until the cap); from
        // the fourth on, longer whatever the jitter.
        for a in 1..30 {
            let (this, next) = (backoff_ms(a, 0), backoff_ms(a + 1, 0));
            assert!(next > this || next == MAX_BACKOFF_MS, "{a}");
            if a >= 3 {
                assert!(
                    next > backoff_ms(a, JITTER_MS) || next == MAX_BACKOFF_MS,
                    "{a}"
                );
            }
        }
        for _ in 0..100 {
            assert!(jitter() < JITTER_MS);
        }
    }
}
