//! Per-command statistics for INFO commandstats and errorstats: calls,
//! the time they took (the handler's, measured with a pair of readings
//! of [`Ticks`] per command and added to a relaxed atomic), rejected calls (refused
//! before running: arity, memory), failed calls (ran and answered an
//! error), and error replies by code. CONFIG RESETSTAT clears them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ticks::Ticks;
use super::{COMMANDS, Spec};

/// One counter per registry entry.
struct Column(Box<[AtomicU64]>);

impl Column {
    fn new() -> Column {
        Column((0..COMMANDS.len()).map(|_| AtomicU64::new(0)).collect())
    }

    fn add(&self, i: usize) {
        self.add_n(i, 1);
    }

    fn add_n(&self, i: usize, n: u64) {
        if let Some(c) = self.0.get(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn get(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn clear(&self) {
        for c in &self.0 {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// The counters.
pub struct CommandStats {
    calls: Column,
    /// Ticks of [`CommandStats::clock`], summed.
    ticks: Column,
    clock: Ticks,
    rejected: Column,
    failed: Column,
    errors: Mutex<BTreeMap<String, u64>>,
    total_errors: AtomicU64,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            calls: Column::new(),
            ticks: Column::new(),
            clock: Ticks::new(),
            rejected: Column::new(),
            failed: Column::new(),
            errors: Mutex::new(BTreeMap::new()),
            total_errors: AtomicU64::new(0),
        }
    }
}

/// A registry entry's position in [`COMMANDS`].
fn index(spec: &Spec) -> usize {
    let base = COMMANDS.as_ptr() as usize;
    (spec as *const Spec as usize).wrapping_sub(base) / std::mem::size_of::<Spec>()
}

impl CommandStats {
    /// The clock commands are timed with: pass the difference of two
    /// readings to [`CommandStats::ran`].
    pub fn clock(&self) -> &Ticks {
        &self.clock
    }

    /// A command ran for `ticks` of [`CommandStats::clock`]; `error` is
    /// its error reply's text, if it failed.
    pub fn ran(&self, spec: &Spec, error: Option<&str>, ticks: u64) {
        let i = index(spec);
        self.calls.add(i);
        self.ticks.add_n(i, ticks);
        if let Some(text) = error {
            self.failed.add(i);
            self.error(text);
        }
    }

    /// A command that ran failed with an error counted elsewhere (a
    /// script's reply of a command's error).
    pub fn failed(&self, spec: &Spec) {
        self.failed.add(index(spec));
    }

    /// A command was refused before running, with this error.
    pub fn rejected(&self, spec: Option<&Spec>, text: &str) {
        if let Some(spec) = spec {
            self.rejected.add(index(spec));
        }
        self.error(text);
    }

    /// An error reply, by its code (the first word).
    pub fn error(&self, text: &str) {
        let code = text.split(' ').next().unwrap_or("ERR");
        self.total_errors.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        // Redis caps the table at 128 codes.
        if errors.len() < 128 || errors.contains_key(code) {
            *errors.entry(code.to_string()).or_default() += 1;
        }
    }

    /// INFO's `total_error_replies`.
    pub fn total_errors(&self) -> u64 {
        self.total_errors.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.calls.clear();
        self.ticks.clear();
        self.rejected.clear();
        self.failed.clear();
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.total_errors.store(0, Ordering::Relaxed);
    }

    /// INFO commandstats's lines (`cmdstat_get:calls=…`).
    pub fn commandstats(&self) -> String {
        let mut out = String::new();
        for (i, spec) in COMMANDS.iter().enumerate() {
            let (calls, rejected, failed) =
                (self.calls.get(i), self.rejected.get(i), self.failed.get(i));
            if calls + rejected == 0 {
                continue;
            }
            let usec = self.clock.to_nanos(self.ticks.get(i)) / 1000;
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            out.push_str(&format!(
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                spec.name
            ));
        }
        out
    }

    /// INFO errorstats's lines (`errorstat_ERR:count=…`).
    pub fn errorstats(&self) -> String {
        let errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        errors
            .iter()
            .map(|(code, n)| format!("errorstat_{code}:count={n}\r\n"))
            .collect()
    }
}
