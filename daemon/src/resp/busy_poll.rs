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
//! because each loop is one thread.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

thread_local! {
    /// When this thread's loop last served input.
    static LAST_INPUT: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Whether this thread's spinner is asleep waiting for input.
    static ASLEEP: Cell<bool> = const { Cell::new(false) };
    /// Wakes this thread's spinner.
    static WAKE: Arc<Notify> = Arc::new(Notify::new());
}

/// Records that the current loop served input just now, waking its
/// spinner if it was asleep. Cheap: two thread-local reads and a clock
/// read.
pub fn note_input() {
    LAST_INPUT.with(|t| t.set(Some(Instant::now())));
    if ASLEEP.with(|a| a.replace(false)) {
        WAKE.with(|w| w.notify_one());
    }
}

/// The spinner: runs on a loop's thread until the loop stops. Keeps the
/// loop polling for `window` after the last input; sleeps otherwise.
pub async fn spin(window: Duration) {
    let wake = WAKE.with(Arc::clone);
    loop {
        let busy = LAST_INPUT
            .with(Cell::get)
            .is_some_and(|t| t.elapsed() < window);
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

    #[test]
    fn an_idle_spinner_sleeps_and_input_wakes_it() {
        runtime().block_on(async {
            // A window no stall of a loaded machine can outlast.
            let spinner = tokio::spawn(spin(Duration::from_secs(600)));
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
            let spinner = tokio::spawn(spin(Duration::from_millis(1)));
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
}
