//! Per-user message rate limiting: a token bucket, pure and clock-free
//! (callers pass the time), so tests need no sleeps.

/// The configured rate: `per_sec` tokens refill each second, up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained messages per second.
    pub per_sec: f64,
    /// Messages that may be sent at once after a quiet period.
    pub burst: f64,
}

/// One user's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn full(rate: Rate, now_ms: u64) -> Bucket {
        Bucket {
            tokens: rate.burst,
            last_ms: now_ms,
        }
    }

    /// Takes one token; when none is left, says how many milliseconds until
    /// one will be.
    pub fn take(&mut self, rate: Rate, now_ms: u64) -> Result<(), u64> {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_sec).min(rate.burst);
        self.last_ms = now_ms.max(self.last_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if rate.per_sec <= 0.0 {
            Err(u64::MAX)
        } else {
            Err((((1.0 - self.tokens) / rate.per_sec) * 1000.0).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_sec: 10.0,
        burst: 20.0,
    };

    #[test]
    fn burst_then_sustained_rate() {
        let mut b = Bucket::full(RATE, 0);
        for _ in 0..20 {
            assert!(b.take(RATE, 0).is_ok());
        }
        let wait = b.take(RATE, 0).unwrap_err();
        assert_eq!(wait, 100, "one token every 100 ms at 10/s");
        assert!(b.take(RATE, 99).is_err());
        assert!(b.take(RATE, 100).is_ok());
        // A long quiet period refills to the burst, not beyond.
        let mut taken = 0;
        while b.take(RATE, 60_000).is_ok() {
            taken += 1;
        }
        assert_eq!(taken, 20);
    }
}
