//! The clock commandstats times commands with: the CPU's time-stamp
//! counter where it runs at a constant rate, converted to nanoseconds
//! only when INFO reads the sums.
//!
//! Why: every command is timed (INFO commandstats' `usec`), and two
//! `Instant::now()` calls (`clock_gettime` through the vDSO, ~20 ns each
//! here) were ~5% of a RESP loop's time under `redis-benchmark -P 16`.
//! `rdtsc` costs a few nanoseconds. Where the counter is not known to be
//! invariant (another architecture, or a CPU without the invariant-TSC
//! flag), ticks are nanoseconds from `Instant`, as before.
//!
//! The rate is not calibrated up front: [`Ticks::to_nanos`] divides the
//! nanoseconds elapsed since the clock was created by the ticks elapsed
//! since then, a ratio that only gets more exact as the daemon runs.

use std::time::Instant;

/// A tick source and its origin.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    origin: Instant,
    /// The counter at `origin`; `None` when ticks are nanoseconds.
    tsc_origin: Option<u64>,
}

impl Default for Ticks {
    fn default() -> Self {
        Ticks::new()
    }
}

impl Ticks {
    /// The time-stamp counter when it is invariant, else `Instant`.
    pub fn new() -> Ticks {
        Ticks {
            origin: Instant::now(),
            tsc_origin: invariant_tsc().then(read_tsc),
        }
    }

    /// A clock on `Instant` alone (the fallback; for tests).
    pub fn instant() -> Ticks {
        Ticks {
            origin: Instant::now(),
            tsc_origin: None,
        }
    }

    /// Now, in ticks: only differences between two readings mean
    /// anything.
    #[inline]
    pub fn now(&self) -> u64 {
        match self.tsc_origin {
            Some(_) => read_tsc(),
            None => self.origin.elapsed().as_nanos() as u64,
        }
    }

    /// A number of ticks (a sum of differences) in nanoseconds.
    pub fn to_nanos(&self, ticks: u64) -> u64 {
        let Some(tsc_origin) = self.tsc_origin else {
            return ticks;
        };
        let nanos = self.origin.elapsed().as_nanos();
        let elapsed = u128::from(read_tsc().wrapping_sub(tsc_origin));
        if elapsed == 0 {
            return 0;
        }
        (u128::from(ticks) * nanos / elapsed).min(u128::from(u64::MAX)) as u64
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_tsc() -> u64 {
    // SAFETY: RDTSC exists on every x86_64 CPU and has no preconditions.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn read_tsc() -> u64 {
    0
}

/// Whether the CPU says its time-stamp counter runs at a constant rate
/// in every power state (CPUID 8000_0007h, EDX bit 8), which is what
/// makes it a clock.
#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    // Leaf 8000_0000h answers the highest extended leaf, checked before
    // 8000_0007h is asked.
    let max = core::arch::x86_64::__cpuid(0x8000_0000).eax;
    max >= 0x8000_0007 && core::arch::x86_64::__cpuid(0x8000_0007).edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy_for(d: std::time::Duration) {
        let start = Instant::now();
        while start.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    /// Whichever source this machine has, a measured interval converts
    /// to about the nanoseconds `Instant` saw (wide bounds: only the
    /// scale is checked, a factor of two would be a wrong rate).
    #[test]
    fn ticks_convert_to_about_the_nanoseconds_that_passed() {
        for clock in [Ticks::new(), Ticks::instant()] {
            busy_for(std::time::Duration::from_millis(5));
            let start = Instant::now();
            let t0 = clock.now();
            busy_for(std::time::Duration::from_millis(20));
            let ticks = clock.now() - t0;
            let real = start.elapsed().as_nanos() as u64;
            let nanos = clock.to_nanos(ticks);
            assert!(
                nanos > real / 2 && nanos < real * 2,
                "{ticks} ticks -> {nanos} ns, {real} ns passed ({clock:?})"
            );
        }
    }

    #[test]
    fn readings_do_not_go_backwards_and_zero_is_zero() {
        let clock = Ticks::new();
        let mut last = clock.now();
        for _ in 0..1000 {
            let now = clock.now();
            assert!(now >= last);
            last = now;
        }
        assert_eq!(clock.to_nanos(0), 0);
        assert_eq!(Ticks::instant().to_nanos(1234), 1234);
    }
}
