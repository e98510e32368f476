//! The progress bar on stderr: files done/found (the total grows as the walk
//! finds files), bytes per second and ETA. Shown only when stderr is a
//! terminal and `--quiet` is absent; otherwise every call is a no-op.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use agora::process::Observer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::human_bytes;

/// An [`Observer`] drawing an indicatif bar, and collecting notices so they
/// can be printed once the bar is gone.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_message: Instant,
    /// Notices from the engine, printed by the caller after the run.
    pub notices: Vec<String>,
}

impl Progress {
    /// A bar on stderr, or a silent observer when `enabled` is false or
    /// stderr is not a terminal.
    pub fn new(enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
                .with_style(style);
            // Keeps the spinner and elapsed time moving during a slow walk.
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            started: now,
            last_message: now,
            notices: Vec::new(),
        }
    }

    /// Removes the bar (before printing results).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn found(&mut self, found: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(found);
        }
    }

    fn finished(&mut self, done: u64, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(done);
        // indicatif's own rates are per file here; bytes/s is computed from
        // the byte total, a few times a second.
        if self.last_message.elapsed() >= Duration::from_millis(200) {
            self.last_message = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{}/s", human_bytes((bytes as f64 / secs) as u64)));
        }
    }

    fn notice(&mut self, message: &str) {
        self.notices.push(message.to_string());
    }
}
