//! What the writer keeps in memory about each queue: its settings, its
//! jobs counted by state, its rate-limit bucket, and recent figures
//! (throughput per second, wait and run times). Pure and synchronous, with
//! the clock passed in; only the writer thread touches it, so claims see
//! counts that include every earlier command of the same batch.

use std::collections::BTreeMap;

use agora_db::jobs::{Change, QueueRow, State};
use agora_wire::jobs::{JobState, QueueInfo, StateCounts};

/// How many recent wait and run times each queue keeps.
const SAMPLES: usize = 1024;
/// Seconds of throughput history.
const SECONDS: usize = 60;

/// The wire's state for a stored one.
pub fn wire_state(state: State) -> JobState {
    match state {
        State::Scheduled => JobState::Scheduled,
        State::Available => JobState::Available,
        State::Running => JobState::Running,
        State::Retryable => JobState::Retryable,
        State::Completed => JobState::Completed,
        State::Dead => JobState::Dead,
        State::Cancelled => JobState::Cancelled,
    }
}

/// The stored state for a wire one.
pub fn stored_state(state: JobState) -> State {
    match state {
        JobState::Scheduled => State::Scheduled,
        JobState::Available => State::Available,
        JobState::Running => State::Running,
        JobState::Retryable => State::Retryable,
        JobState::Completed => State::Completed,
        JobState::Dead => State::Dead,
        JobState::Cancelled => State::Cancelled,
    }
}

/// Every queue's state.
#[derive(Debug, Default)]
pub struct Book {
    queues: BTreeMap<String, Queue>,
}

/// One queue's state.
#[derive(Debug)]
pub struct Queue {
    /// Held back.
    pub paused: bool,
    /// Running at once (0: unlimited).
    pub concurrency: u32,
    /// Starts per second (0: unlimited).
    pub rate: u32,
    /// Jobs by state.
    pub counts: StateCounts,
    tokens: f64,
    refilled_ms: u64,
    throughput: [u32; SECONDS],
    /// The second (since the epoch) of `throughput`'s last slot.
    second: u64,
    waits: Ring,
    runs: Ring,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            paused: false,
            concurrency: 0,
            rate: 0,
            counts: StateCounts::default(),
            tokens: 0.0,
            refilled_ms: 0,
            throughput: [0; SECONDS],
            second: 0,
            waits: Ring::default(),
            runs: Ring::default(),
        }
    }
}

/// The last [`SAMPLES`] durations.
#[derive(Debug, Default)]
struct Ring {
    values: Vec<u64>,
    next: usize,
}

impl Ring {
    fn push(&mut self, value: u64) {
        if self.values.len() < SAMPLES {
            self.values.push(value);
        } else {
            self.values[self.next] = value;
        }
        self.next = (self.next + 1) % SAMPLES;
    }

    /// The p50 and p99 of the samples (0 when none).
    fn percentiles(&self) -> (u64, u64) {
        if self.values.is_empty() {
            return (0, 0);
        }
        let mut sorted = self.values.clone();
        sorted.sort_unstable();
        let at = |p: usize| sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1)];
        (at(50), at(99))
    }
}

impl Book {
    /// The book as stored: settings and counts.
    pub fn load(queues: Vec<QueueRow>, counts: Vec<(String, State, i64)>) -> Book {
        let mut book = Book::default();
        for q in queues {
            let queue = book.queue_mut(&q.name);
            queue.paused = q.paused;
            queue.concurrency = q.concurrency.clamp(0, i64::from(u32::MAX)) as u32;
            queue.rate = q.rate.clamp(0, i64::from(u32::MAX)) as u32;
        }
        for (name, state, n) in counts {
            *book.queue_mut(&name).counts.get_mut(wire_state(state)) += n.max(0) as u64;
        }
        book
    }

    /// Whether the queue exists.
    pub fn has(&self, name: &str) -> bool {
        self.queues.contains_key(name)
    }

    /// The queue's state, if it exists.
    pub fn get(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name)
    }

    /// The queue's state, created if new.
    pub fn queue_mut(&mut self, name: &str) -> &mut Queue {
        if !self.queues.contains_key(name) {
            self.queues.insert(name.to_owned(), Queue::default());
        }
        self.queues.get_mut(name).expect("just inserted")
    }

    /// Every queue's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.queues.keys().map(String::as_str)
    }

    /// Counts a job's state change.
    pub fn apply(&mut self, change: &Change) {
        let q = self.queue_mut(&change.queue);
        if let Some(from) = change.from {
            let n = q.counts.get_mut(wire_state(from));
            *n = n.saturating_sub(1);
        }
        if let Some(to) = change.to {
            *q.counts.get_mut(wire_state(to)) += 1;
        }
    }

    /// Every queue's counts added up.
    pub fn totals(&self) -> StateCounts {
        let mut total = StateCounts::default();
        for q in self.queues.values() {
            total.add(&q.counts);
        }
        total
    }

    /// The queue as the wire shows it, at `now_ms`.
    pub fn info(&self, name: &str, now_ms: u64) -> Option<QueueInfo> {
        let q = self.queues.get(name)?;
        let (wait_p50_ms, wait_p99_ms) = q.waits.percentiles();
        let (run_p50_ms, run_p99_ms) = q.runs.percentiles();
        Some(QueueInfo {
            name: name.to_owned(),
            paused: q.paused,
            concurrency: q.concurrency,
            rate: q.rate,
            states: q.counts,
            throughput: q.throughput_at(now_ms),
            wait_p50_ms,
            wait_p99_ms,
            run_p50_ms,
            run_p99_ms,
        })
    }

    /// Every queue, by name.
    pub fn infos(&self, now_ms: u64) -> Vec<QueueInfo> {
        self.queues
            .keys()
            .filter_map(|name| self.info(name, now_ms))
            .collect()
    }
}

impl Queue {
    /// How many jobs a claim for `limit` may take now, honouring pause,
    /// concurrency and rate; when the rate is what stops it, also how long
    /// until one more may start (ms).
    pub fn allowance(&mut self, limit: u32, now_ms: u64) -> (u32, Option<u64>) {
        if self.paused {
            return (0, None);
        }
        let mut n = limit;
        if self.concurrency > 0 {
            let running = u32::try_from(self.counts.running).unwrap_or(u32::MAX);
            n = n.min(self.concurrency.saturating_sub(running));
        }
        if self.rate > 0 {
            self.refill(now_ms);
            let whole = self.tokens.floor() as u32;
            if whole == 0 && n > 0 {
                let missing = 1.0 - self.tokens;
                let wait = (missing * 1000.0 / f64::from(self.rate)).ceil() as u64;
                return (0, Some(wait.max(1)));
            }
            n = n.min(whole);
        }
        (n, None)
    }

    /// `n` jobs started at `now_ms` (after [`Queue::allowance`]).
    pub fn started(&mut self, n: u32) {
        if self.rate > 0 {
            self.tokens = (self.tokens - f64::from(n)).max(0.0);
        }
    }

    /// A token bucket: `rate` per second, bursts of one second's worth.
    fn refill(&mut self, now_ms: u64) {
        let rate = f64::from(self.rate);
        if self.refilled_ms == 0 {
            self.tokens = rate;
        } else {
            let elapsed = now_ms.saturating_sub(self.refilled_ms) as f64 / 1000.0;
            self.tokens = (self.tokens + elapsed * rate).min(rate);
        }
        self.refilled_ms = now_ms;
    }

    /// A job waited `ms` between being due and starting.
    pub fn note_wait(&mut self, ms: u64) {
        self.waits.push(ms);
    }

    /// An attempt ran `ms` and finished at `now_ms` (completed when
    /// `completed`).
    pub fn note_run(&mut self, ms: u64, completed: bool, now_ms: u64) {
        self.runs.push(ms);
        if completed {
            self.note_completed(now_ms);
        }
    }

    /// A job completed at `now_ms` (counted in the throughput; on another
    /// node of a fleet, which timed the attempt itself).
    pub fn note_completed(&mut self, now_ms: u64) {
        self.advance(now_ms);
        self.throughput[SECONDS - 1] = self.throughput[SECONDS - 1].saturating_add(1);
    }

    /// Moves the throughput window so its last slot is `now_ms`'s second.
    fn advance(&mut self, now_ms: u64) {
        let second = now_ms / 1000;
        if second <= self.second {
            return;
        }
        let shift = (second - self.second).min(SECONDS as u64) as usize;
        self.throughput.rotate_left(shift);
        for slot in &mut self.throughput[SECONDS - shift..] {
            *slot = 0;
        }
        self.second = second;
    }

    /// Completions per second over the last minute at `now_ms`, oldest
    /// first.
    fn throughput_at(&self, now_ms: u64) -> Vec<u32> {
        let second = now_ms / 1000;
        let mut out = self.throughput.to_vec();
        if second > self.second {
            let shift = (second - self.second).min(SECONDS as u64) as usize;
            out.rotate_left(shift);
            for slot in &mut out[SECONDS - shift..] {
                *slot = 0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(queue: &str, from: Option<State>, to: Option<State>) -> Change {
        Change {
            id: 1,
            queue: queue.into(),
            kind: "k".into(),
            from,
            to,
            attempt: 0,
        }
    }

    #[test]
    fn counts_follow_changes() {
        let mut book = Book::load(
            vec![QueueRow {
                name: "a".into(),
                paused: true,
                concurrency: 3,
                rate: 0,
            }],
            vec![("a".into(), State::Dead, 2)],
        );
        book.apply(&change("a", None, Some(State::Available)));
        book.apply(&change("a", Some(State::Available), Some(State::Running)));
        book.apply(&change("b", None, Some(State::Scheduled)));
        book.apply(&change("a", Some(State::Dead), None));
        let a = book.get("a").unwrap();
        assert_eq!(
            (a.counts.running, a.counts.available, a.counts.dead),
            (1, 0, 1)
        );
        assert!(a.paused);
        assert_eq!(book.totals().scheduled, 1);
        assert_eq!(book.names().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn allowance_honours_pause_concurrency_and_rate() {
        let mut q = Queue {
            concurrency: 5,
            ..Queue::default()
        };
        q.counts.running = 3;
        assert_eq!(q.allowance(10, 0), (2, None));
        q.paused = true;
        assert_eq!(q.allowance(10, 0), (0, None));
        let mut r = Queue {
            rate: 10,
            ..Queue::default()
        };
        assert_eq!(
            r.allowance(100, 1_000),
            (10, None),
            "a second's worth at once"
        );
        r.started(10);
        let (n, wait) = r.allowance(100, 1_000);
        assert_eq!((n, wait), (0, Some(100)), "one more in 100 ms");
        assert_eq!(r.allowance(100, 1_250), (2, None));
        r.started(2);
        assert_eq!(r.allowance(100, 60_000).0, 10, "the burst is capped");
    }

    #[test]
    fn throughput_keeps_the_last_minute() {
        let mut q = Queue::default();
        for _ in 0..3 {
            q.note_run(5, true, 10_000);
        }
        q.note_run(7, true, 12_500);
        q.note_run(9, false, 12_500);
        let t = q.throughput_at(12_900);
        assert_eq!(&t[SECONDS - 3..], [3, 0, 1]);
        assert_eq!(q.throughput_at(12_000 + 60_000).iter().sum::<u32>(), 0);
        assert_eq!(q.runs.percentiles(), (5, 9));
    }

    #[test]
    fn percentiles_of_a_full_ring() {
        let mut r = Ring::default();
        for v in 0..2_000 {
            r.push(v);
        }
        let (p50, p99) = r.percentiles();
        assert_eq!(r.values.len(), SAMPLES);
        assert!(p50 > 1_400 && p99 > 1_980, "{p50} {p99}");
    }
}
