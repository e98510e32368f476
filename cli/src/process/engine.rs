//! The engine: walk, process and aggregate, independent of any printing.
//!
//! [`process`] runs three things at once so that the walk and the work
//! overlap:
//!
//! * the walker threads ([`super::walk`]) push matching paths into a bounded
//!   channel (the bound keeps memory flat on huge trees: the walk waits when
//!   the workers fall behind);
//! * a rayon pool of `workers` threads pulls paths from that channel (one
//!   receiving loop per thread) and counts each file; a big file is cut into
//!   line-aligned chunks ([`super::chunk`]) counted as rayon jobs, which idle
//!   workers steal, so one huge file does not leave the others idle at the
//!   end of a run;
//! * the calling thread collects the per-file outcomes (handed over in
//!   batches of [`BATCH`]), sums them, appends to the `--state` file and
//!   reports progress to an [`Observer`].
//!
//! Cancellation (Ctrl-C, or a job queue stopping the job) is a shared flag:
//! the walk stops, queued files are dropped, files being read stop at their
//! next buffer refill, and the aggregate of the finished files is returned
//! marked `partial`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rayon::prelude::*;

pub use super::aggregate::{Aggregate, Failure, FailureKind, FileStats};
use super::chunk::{self, BINARY_PROBE, Span, SpanError};
use super::count::Counter;
pub use super::count::{CountOptions, Counts};
use super::error::{Error, io_message};
use super::state::{Entry, FileId, Recorded, StateFile};
use super::walk::{self, Globs, WalkEvent, WalkOptions};

/// Files at least this big are split into chunks.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 * 1024 * 1024;

/// How many found paths may wait for a worker. Big enough that the walk runs
/// well ahead (so the progress total and ETA are soon right), small enough
/// (a few MiB of paths) that memory stays flat on huge trees.
const WALK_QUEUE: usize = 16 * 1024;

/// Everything the engine needs to know; no printing options.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// What to walk and which files to take.
    pub walk: WalkOptions,
    /// What to count.
    pub count: CountOptions,
    /// Size of the rayon pool.
    pub workers: usize,
    /// Keep per-file results in [`Aggregate::files`] (CSV, `--top`,
    /// `--group-by`).
    pub keep_files: bool,
    /// The `--state` resume file.
    pub state: Option<PathBuf>,
    /// Set to stop the run (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Chunk size for big files (tests use tiny ones).
    pub chunk_size: u64,
    /// Testing aid: cancel after this many files were counted.
    pub stop_after: Option<u64>,
    /// Testing aid: sleep this long before each file.
    pub file_delay: Option<Duration>,
}

impl ProcessOptions {
    /// Options with defaults for everything but the roots and globs.
    pub fn new(roots: Vec<PathBuf>, globs: Vec<String>) -> ProcessOptions {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        ProcessOptions {
            walk: WalkOptions {
                roots,
                globs,
                threads: workers,
                ..WalkOptions::default()
            },
            count: CountOptions::default(),
            workers,
            keep_files: false,
            state: None,
            cancel: Arc::new(AtomicBool::new(false)),
            chunk_size: DEFAULT_CHUNK_SIZE,
            stop_after: None,
            file_delay: None,
        }
    }

    /// Fingerprint of the options that change stored counts: a `--state`
    /// file written with another fingerprint is not reused.
    pub fn fingerprint(&self) -> String {
        let c = &self.count;
        let regexes: Vec<&str> = c.regexes.iter().map(|r| r.as_str()).collect();
        serde_json::json!({
            "words": c.words,
            "ignore_level_case": c.ignore_level_case,
            "count_matches": c.count_matches,
            "decompress": self.walk.decompress,
            "match": regexes,
        })
        .to_string()
    }
}

/// Receives progress on the collecting (calling) thread.
pub trait Observer {
    /// The walk has found `found` matching files so far.
    fn found(&mut self, _found: u64) {}
    /// `done` files are finished, holding `bytes` bytes of content.
    fn finished(&mut self, _done: u64, _bytes: u64) {}
    /// A one-line notice (e.g. the state file was started afresh).
    fn notice(&mut self, _message: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;
impl Observer for Silent {}

/// The outcome for one file.
#[derive(Debug)]
pub enum Outcome {
    /// Counted (read now, or reused from the state file).
    Counted(FileStats),
    /// Skipped: NUL byte in the first 8 KiB.
    Binary {
        /// The file.
        path: PathBuf,
        /// Its size and mtime.
        id: Option<FileId>,
    },
    /// Could not be read.
    Failed(Failure),
    /// Dropped or abandoned because the run was cancelled.
    Cancelled,
}

enum Event {
    /// The walk found more files (the count is in the shared counter).
    Found,
    Walk(WalkEvent),
    /// Outcomes a worker collected (see [`BATCH`]).
    Done(Vec<Outcome>),
}

/// Workers hand their outcomes to the collecting thread this many at a
/// time (sooner when the queue of found files runs dry, so progress stays
/// live on slow walks): a send per file woke the collector 20,000 times
/// on the benchmark corpus.
const BATCH: usize = 32;

/// The walker reports the found count after this many files (and at the
/// end); the count itself is an atomic.
const FOUND_EVERY: u64 = 256;

/// Walks, processes and aggregates. Errors are only for problems that stop
/// the run before it starts (a missing path, a bad glob, an unusable state
/// file); per-file problems end up in [`Aggregate::failures`].
pub fn process(opts: &ProcessOptions, observer: &mut dyn Observer) -> Result<Aggregate, Error> {
    walk::check_roots(&opts.walk.roots)?;
    let globs = Globs::new(&opts.walk.globs, opts.walk.decompress)?;
    let overrides = (opts.walk.roots.iter())
        .map(|root| globs.for_root(root))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut state, recorded) = match &opts.state {
        Some(path) => {
            let (s, r, note) = StateFile::open(path, &opts.fingerprint())?;
            if let Some(note) = note {
                observer.notice(&note);
            }
            (Some(s), r)
        }
        None => (None, Recorded::new()),
    };
    let workers = opts.workers.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("agora-process-{i}"))
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;

    let cancel = &*opts.cancel;
    let (file_tx, file_rx) = crossbeam_channel::bounded::<PathBuf>(WALK_QUEUE);
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded::<Event>();
    let found = AtomicU64::new(0);
    let keep_entries = state.is_some();
    let mut agg = Aggregate::default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut state_error = None;

    std::thread::scope(|s| {
        let walk_tx = ev_tx.clone();
        let overrides = &overrides;
        let found = &found;
        s.spawn(move || {
            let file_tx = file_tx;
            walk::walk(&opts.walk, overrides, cancel, &|ev| match ev {
                WalkEvent::File(path) => {
                    if (found.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(FOUND_EVERY) {
                        let _ = walk_tx.send(Event::Found);
                    }
                    file_tx.send(path).is_ok()
                }
                other => walk_tx.send(Event::Walk(other)).is_ok(),
            });
            let _ = walk_tx.send(Event::Found);
        });
        let recorded = &recorded;
        let pool = &pool;
        let work_tx = ev_tx.clone();
        s.spawn(move || {
            // One receiving loop per pool thread: the channel hands each
            // path to one of them. (rayon's `par_bridge` serialises the
            // workers on a mutex around the iterator instead.) A big
            // file's chunks are rayon jobs, which idle workers steal.
            pool.scope(|scope| {
                for _ in 0..workers {
                    let (file_rx, tx) = (file_rx.clone(), work_tx.clone());
                    scope.spawn(move |_| {
                        let mut batch = Vec::with_capacity(BATCH);
                        for path in file_rx.iter() {
                            batch.push(if cancel.load(Ordering::Relaxed) {
                                Outcome::Cancelled
                            } else {
                                process_file(path, opts, recorded)
                            });
                            if batch.len() >= BATCH || file_rx.is_empty() {
                                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                                let _ = tx.send(Event::Done(full));
                            }
                        }
                        if !batch.is_empty() {
                            let _ = tx.send(Event::Done(batch));
                        }
                    });
                }
            });
        });
        drop(ev_tx);

        let mut done = 0u64;
        let mut counted = 0u64;
        for ev in ev_rx {
            match ev {
                Event::Found => {
                    agg.found = found.load(Ordering::Relaxed);
                    observer.found(agg.found);
                }
                Event::Walk(WalkEvent::Error { path, message }) => {
                    agg.failures.push(Failure {
                        path,
                        message,
                        kind: FailureKind::Walk,
                    });
                }
                Event::Walk(WalkEvent::Warning { message }) => agg.warnings.push(message),
                Event::Walk(WalkEvent::File(_)) => {}
                Event::Done(outcomes) => {
                    for outcome in outcomes {
                        let mut entry = None;
                        match outcome {
                            Outcome::Counted(fs) => {
                                agg.totals.add(&fs.counts);
                                agg.processed += 1;
                                if fs.reused {
                                    agg.reused += 1;
                                }
                                counted += 1;
                                if keep_entries {
                                    entry = make_entry(&fs.path, fs.id, false, &fs.counts)
                                        .map(|e| (e, !fs.reused));
                                }
                                if opts.keep_files {
                                    agg.files.push(fs);
                                }
                            }
                            Outcome::Binary { path, id } => {
                                agg.binary += 1;
                                if keep_entries {
                                    let counts = Counts::new(opts.count.regexes.len());
                                    entry = make_entry(&path, id, true, &counts).map(|e| (e, true));
                                }
                            }
                            Outcome::Failed(f) => {
                                agg.failed += 1;
                                agg.failures.push(f);
                            }
                            Outcome::Cancelled => {}
                        }
                        if let Some((entry, is_new)) = entry {
                            if is_new
                                && let Some(st) = state.as_mut()
                                && let Err(e) = st.append(&entry)
                            {
                                // A full disk must not stop the counting;
                                // report it once at the end.
                                state_error.get_or_insert(e);
                            }
                            entries.push(entry);
                        }
                        done += 1;
                    }
                    // The walk may be ahead of its last report.
                    let now_found = found.load(Ordering::Relaxed);
                    if now_found > agg.found {
                        agg.found = now_found;
                        observer.found(agg.found);
                    }
                    observer.finished(done, agg.totals.bytes);
                    if opts.stop_after.is_some_and(|n| counted >= n) {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
    });
    agg.found = found.load(Ordering::Relaxed);
    agg.partial = cancel.load(Ordering::Relaxed);
    // Only a cancelled run leaves found files unfinished (dropped from the
    // queue, or abandoned mid-read).
    agg.unfinished = (agg.found).saturating_sub(agg.processed + agg.binary + agg.failed);
    debug_assert!(agg.partial || agg.unfinished == 0);
    agg.files.sort_by(|a, b| a.path.cmp(&b.path));
    agg.failures.sort();
    agg.warnings.sort();
    if let Some(mut st) = state {
        if let Some(e) = state_error {
            return Err(e);
        }
        if agg.partial {
            st.flush()?;
        } else {
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            st.compact(entries.iter())?;
        }
    }
    Ok(agg)
}

fn make_entry(path: &Path, id: Option<FileId>, binary: bool, counts: &Counts) -> Option<Entry> {
    // Without an mtime, or with a path that is not UTF-8, a file cannot be
    // recognised later: it is simply not recorded (and read again next time).
    Some(Entry {
        path: path.to_str()?.to_string(),
        id: id?,
        binary,
        counts: counts.clone(),
    })
}

/// Counts one file (or reuses its recorded counts).
pub fn process_file(path: PathBuf, opts: &ProcessOptions, recorded: &Recorded) -> Outcome {
    if let Some(delay) = opts.file_delay {
        std::thread::sleep(delay);
    }
    if let Some(entry) = recorded.get(&path)
        && let Ok(md) = std::fs::metadata(&path)
        && FileId::from_metadata(&md) == Some(entry.id)
    {
        return if entry.binary {
            Outcome::Binary {
                path,
                id: Some(entry.id),
            }
        } else {
            Outcome::Counted(FileStats {
                path,
                id: Some(entry.id),
                counts: entry.counts.clone(),
                reused: true,
            })
        };
    }
    let failed = |path: PathBuf, e: &std::io::Error| {
        Outcome::Failed(Failure {
            message: format!("{}: {}", path.display(), io_message(e)),
            path: Some(path),
            kind: FailureKind::File,
        })
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => return failed(path, &e),
    };
    let md = match file.metadata() {
        Ok(md) => md,
        Err(e) => return failed(path, &e),
    };
    let id = FileId::from_metadata(&md);
    let is_gz = opts.walk.decompress && path.extension().is_some_and(|e| e == "gz");
    let result = if is_gz {
        count_gz(file, &opts.count, &opts.cancel)
    } else {
        count_file(&path, file, md.len(), opts)
    };
    match result {
        Ok(counts) => Outcome::Counted(FileStats {
            path,
            id,
            counts,
            reused: false,
        }),
        Err(SpanError::Binary) => Outcome::Binary { path, id },
        Err(SpanError::Cancelled) => Outcome::Cancelled,
        Err(SpanError::Io(e)) => failed(path, &e),
    }
}

fn count_gz(file: File, count: &CountOptions, cancel: &AtomicBool) -> Result<Counts, SpanError> {
    let mut reader =
        flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(64 * 1024, file));
    let mut counter = Counter::new(count);
    chunk::with_buffer(|buf| {
        chunk::count_span(&mut reader, Span::whole(true), &mut counter, buf, cancel)
    })?;
    Ok(counter.finish())
}

/// Counts a plain file: in one go when small, in parallel chunks when big.
/// Reads stop at the size seen when the file was opened, so a log that grows
/// meanwhile is counted as a consistent prefix.
fn count_file(
    path: &Path,
    file: File,
    size: u64,
    opts: &ProcessOptions,
) -> Result<Counts, SpanError> {
    let cancel = &*opts.cancel;
    let chunk_size = opts.chunk_size.max(1);
    if size < chunk_size.saturating_mul(2) {
        let mut reader = file.take(size);
        let mut counter = Counter::new(&opts.count);
        chunk::with_buffer(|buf| {
            chunk::count_span(&mut reader, Span::whole(true), &mut counter, buf, cancel)
        })?;
        return Ok(counter.finish());
    }
    // Binary check up front: the chunks are read in any order.
    let mut probe = Vec::with_capacity(BINARY_PROBE);
    (&file).take(BINARY_PROBE as u64).read_to_end(&mut probe)?;
    if memchr::memchr(0, &probe).is_some() {
        return Err(SpanError::Binary);
    }
    drop(file);
    let n = size.div_ceil(chunk_size);
    let parts: Vec<Result<Counts, SpanError>> = (0..n)
        .into_par_iter()
        .map(|k| {
            let start = k * chunk_size;
            let end = (start + chunk_size).min(size);
            let reader_pos = start.saturating_sub(1);
            let mut f = File::open(path)?;
            f.seek(SeekFrom::Start(reader_pos))?;
            let mut reader = f.take(size - reader_pos);
            let span = Span {
                reader_pos,
                start,
                end,
                check_binary: false,
            };
            let mut counter = Counter::new(&opts.count);
            chunk::with_buffer(|buf| {
                chunk::count_span(&mut reader, span, &mut counter, buf, cancel)
            })?;
            Ok(counter.finish())
        })
        .collect();
    let mut total = Counts::new(opts.count.regexes.len());
    for part in parts {
        total.add(&part?);
    }
    Ok(total)
}
