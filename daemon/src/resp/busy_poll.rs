//! Busy polling for a RESP event loop: after a burst of requests, keep
//! the loop awake for a short window instead of sleeping in the kernel.
//!
//! Why: a loop that goes to sleep the moment it runs out of input has to
//! be woken by the next request, and the wake-up is paid by the client
//! that sends it (`try_to_wake_up` inside its `send`), plus a context
//! switch on our side. Under steady traffic a fast server sleeps between
//! almost every burst — measured under `redis-benchmark -P 16`, agora's
//! loop slept ~10,000 times per million requests where redis-server,
//! slower per request and so rarely idle, slept ~1,000 times. Spinning
//! for a few tens of microseconds after the last input (the idea of
//! Linux's `SO_BUSY_POLL`, or Go's spinning scheduler threads) keeps the
//! loop awake through the gaps of a busy connection, and costs nothing on
//! an idle daemon: the spinner sleeps until a connection reports input.
//!
//! The spinner is one task per loop. Each turn it calls `sched_yield`
//! (anything else runnable on this core goes first) and yields to the
//! runtime, which then polls its sockets without blocking. Connections
//! call [`note_input`] after each batch they serve; state is per thread
//! because each loop is one thread. A flag shared by a daemon's loops
//! pauses the spinning (`Loops::pause_busy_poll`): a cluster node sets it
//! while another node of its cluster runs on the same machine.
//!
//! The window stretches with the traffic ([`Gaps`]): `--resp-busy-poll`
//! is the base, and while the idle gaps between bursts are short but
//! longer than that (clients busy parsing large replies: `LRANGE` of 600
//! elements leaves gaps of 60–150 µs) the loop keeps polling for twice
//! the typical gap, up to [`STRETCH`] times the base. Measured under
//! `redis-benchmark -t lrange_600` unpipelined: a fixed 50 µs window
//! slept through most gaps and ran at 0.94x redis-server's rate, 200 µs
//! at 0.99–1.0x; a cap of 8x (400 µs) measured no better (0.95–0.99x in
//! the same list run). Sporadic traffic keeps the base window.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Gaps between inputs shorter than this are inside one burst.
const BURST_GAP: Duration = Duration::from_micros(5);

/// The stretched window is at most this many times the base.
pub const STRETCH: u32 = 4;

/// A moving average of the idle gaps between bursts of input (each new
/// gap weighs 1/8), from which the polling window is stretched.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gaps {
    typical_ns: u64,
}

impl Gaps {
    /// Counts the time between two inputs; gaps inside a burst are not
    /// idle time and are left out, and a long silence counts as at most
    /// twice the widest window so the average recovers quickly.
    pub fn note(&mut self, gap: Duration, base: Duration) {
        if gap < BURST_GAP {
            return;
        }
        let gap = gap.min(base * STRETCH * 2).as_nanos() as u64;
        self.typical_ns = self.typical_ns - self.typical_ns / 8 + gap / 8;
    }

    /// How long to keep polling after input: twice the typical gap,
    /// between `base` and [`STRETCH`] × `base`; just `base` while gaps
    /// are longer than that (polling through them would only burn CPU).
    pub fn window(&self, base: Duration) -> Duration {
        let cap = base * STRETCH;
        let typical = Duration::from_nanos(self.typical_ns);
        if typical >= cap {
            base
        } else {
            (typical * 2).clamp(base, cap)
        }
    }
}

thread_local! {
    /// When this thread's loop last served input.
    static LAST_INPUT: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The idle gaps between this thread's bursts of input.
    static GAPS: Cell<Gaps> = const { Cell::new(Gaps { typical_ns: 0 }) };
    /// This thread's base window (set by [`spin`]).
    static BASE: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    /// Whether this thread's spinner is asleep waiting for input.
    static ASLEEP: Cell<bool> = const { Cell::new(false) };
    /// Wakes this thread's spinner.
    static WAKE: Arc<Notify> = Arc::new(Notify::new());
    /// Whether this thread's loop pauses busy polling (set by [`spin`]).
    static PAUSED: std::cell::OnceCell<Arc<AtomicBool>> = const { std::cell::OnceCell::new() };
}

/// Whether the current loop's busy polling is paused ([`spin`]'s flag).
fn paused() -> bool {
    PAUSED.with(|p| p.get().is_some_and(|f| f.load(Ordering::Relaxed)))
}

/// Records that the current loop served input just now, waking its
/// spinner if it was asleep. Cheap: two thread-local reads and a clock
/// read.
pub fn note_input() {
    if paused() {
        return;
    }
    let now = Instant::now();
    if let Some(last) = LAST_INPUT.with(|t| t.replace(Some(now))) {
        let base = BASE.with(Cell::get);
        GAPS.with(|g| {
            let mut gaps = g.get();
            gaps.note(now.saturating_duration_since(last), base);
            g.set(gaps);
        });
    }
    if ASLEEP.with(|a| a.replace(false)) {
        WAKE.with(|w| w.notify_one());
    }
}

/// The spinner: runs on a loop's thread until the loop stops. Keeps the
/// loop polling for `window` (stretched by [`Gaps`]) after the last
/// input; sleeps otherwise, and while `paused` is set (a daemon sharing
/// its machine with other nodes of its cluster: their loops would spin
/// against one another for the same cores; `resp/loops.rs`).
pub async fn spin(window: Duration, paused: Arc<AtomicBool>) {
    let wake = WAKE.with(Arc::clone);
    BASE.with(|b| b.set(window));
    PAUSED.with(|p| {
        let _ = p.set(paused);
    });
    loop {
        let stretched = GAPS.with(Cell::get).window(window);
        let busy = !self::paused()
            && LAST_INPUT
                .with(Cell::get)
                .is_some_and(|t| t.elapsed() < stretched);
        if busy {
            std::thread::yield_now();
            tokio::task::yield_now().await;
        } else {
            ASLEEP.with(|a| a.set(true));
            wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    const BASE_WINDOW: Duration = Duration::from_micros(50);

    fn after(gaps_us: &[u64]) -> Duration {
        let mut gaps = Gaps::default();
        for &us in gaps_us {
            gaps.note(Duration::from_micros(us), BASE_WINDOW);
        }
        gaps.window(BASE_WINDOW)
    }

    #[test]
    fn the_window_stretches_to_twice_the_typical_gap_within_bounds() {
        // No history, bursts only, or short gaps: the base.
        assert_eq!(after(&[]), BASE_WINDOW);
        assert_eq!(after(&[1; 100]), BASE_WINDOW);
        assert_eq!(after(&[10; 100]), BASE_WINDOW);
        // Gaps of ~80 µs: polled through (about 160 µs).
        let w = after(&[80; 100]);
        assert!(
            w > Duration::from_micros(150) && w <= Duration::from_micros(160),
            "{w:?}"
        );
        // Gaps just under the widest window: capped at 4x.
        assert_eq!(after(&[150; 100]), BASE_WINDOW * STRETCH);
        // Sporadic traffic (1 ms apart): back to the base.
        assert_eq!(after(&[1000; 100]), BASE_WINDOW);
        // Zero base (busy polling off) stays off.
        let mut g = Gaps::default();
        g.note(Duration::from_micros(80), Duration::ZERO);
        assert_eq!(g.window(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_long_silence_is_forgotten_after_a_few_bursts() {
        let mut gaps: Vec<u64> = vec![80; 100];
        gaps.push(10_000_000);
        // The silence counts as at most 400 µs: after 20 short gaps the
        // window is stretched again.
        gaps.extend([80; 20]);
        assert!(after(&gaps) > Duration::from_micros(150));
    }

    #[test]
    fn an_idle_spinner_sleeps_and_input_wakes_it() {
        runtime().block_on(async {
            // A window no stall of a loaded machine can outlast.
            let spinner = tokio::spawn(spin(Duration::from_secs(600), Arc::default()));
            tokio::task::yield_now().await;
            assert!(ASLEEP.with(Cell::get), "with no input yet it should sleep");
            note_input();
            assert!(!ASLEEP.with(Cell::get));
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            assert!(!ASLEEP.with(Cell::get), "it slept inside its window");
            spinner.abort();
        });
    }

    #[test]
    fn the_spinner_sleeps_again_once_the_window_has_passed() {
        runtime().block_on(async {
            let spinner = tokio::spawn(spin(Duration::from_millis(1), Arc::default()));
            let start = Instant::now();
            note_input();
            while !ASLEEP.with(Cell::get) {
                tokio::task::yield_now().await;
                assert!(start.elapsed() < Duration::from_secs(30), "it never slept");
            }
            assert!(start.elapsed() >= Duration::from_millis(1));
            spinner.abort();
        });
    }

    #[test]
    fn a_paused_spinner_sleeps_through_input_until_resumed() {
        runtime().block_on(async {
            let paused = Arc::new(AtomicBool::new(true));
            let spinner = tokio::spawn(spin(Duration::from_secs(600), paused.clone()));
            tokio::task::yield_now().await;
            note_input();
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            assert!(ASLEEP.with(Cell::get), "paused, input should not wake it");
            paused.store(false, Ordering::Relaxed);
            note_input();
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            assert!(!ASLEEP.with(Cell::get), "resumed, it polls after input");
            spinner.abort();
        });
    }
}
