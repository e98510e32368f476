//! `agora process`: the command line around the engine in
//! [`agora::process`]. This module owns everything the engine must not:
//! the flags ([`args`]), rendering the aggregate as a table ([`table`]),
//! JSON ([`json`]) or CSV ([`csv`]) with what they share in [`output`], the
//! progress bar ([`progress`]), the Ctrl-C handler, messages on stderr and
//! the exit status.

mod args;
mod csv;
mod json;
mod output;
mod progress;
mod table;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use agora::process::{self, Error};
use anyhow::bail;

pub use args::ProcessArgs;

/// Exit code: every matching file was processed.
const EXIT_OK: u8 = 0;
/// Exit code: no file matched.
const EXIT_NO_MATCH: u8 = 1;
/// Exit code: some files or directories failed.
const EXIT_FAILURES: u8 = 2;
/// Exit code: interrupted; a partial aggregate was printed.
const EXIT_INTERRUPTED: u8 = 130;

/// How many failures and warnings are listed on stderr.
const LIST_LIMIT: usize = 10;

/// Runs the processor, prints results to stdout (table, or JSON when `json`,
/// or CSV when --csv), progress on stderr.
/// Returns the process exit code (0 all processed, 1 nothing matched, 2 some
/// files failed, 130 interrupted).
pub fn run(args: &ProcessArgs, json: bool) -> anyhow::Result<u8> {
    args.validate(json)?;
    let mut opts = args.to_options()?;
    let cancel = interrupt_flag();
    cancel.store(false, Ordering::SeqCst);
    opts.cancel = cancel;

    let started = Instant::now();
    let mut progress = progress::Progress::new(!args.quiet);
    let result = process::process(&opts, &mut progress);
    progress.finish();
    let agg = result.map_err(|e| anyhow::anyhow!(describe(&e)))?;
    let elapsed = started.elapsed();

    let view = output::View {
        regexes: args.regexps.clone(),
        count_matches: args.count_matches,
        words: args.words,
        group_by: args.group_by.map(Into::into),
        top: args.top,
        sort: args.sort.map(Into::into),
        exact_bytes: args.bytes,
    };
    // Nothing found prints nothing, like ripgrep; JSON keeps its shape (zero
    // counts, empty lists) so that scripts need no special case.
    let nothing = agg.found == 0 && !agg.partial;
    let text = if json {
        json::render(&agg, &view) + "\n"
    } else if nothing {
        String::new()
    } else if args.csv {
        csv::render(&agg, &view)
    } else {
        table::render(&agg, &view)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // `agora process | head` is not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            bail!("cannot write the results: {e}");
        }
    }

    let mut err = std::io::stderr().lock();
    for n in &progress.notices {
        let _ = writeln!(err, "agora: {n}");
    }
    list(&mut err, "warning", &agg.warnings);
    let failures: Vec<String> = agg.failures.iter().map(|f| f.message.clone()).collect();
    if !failures.is_empty() {
        let _ = writeln!(
            err,
            "agora: {} file(s) or director(ies) could not be processed:",
            failures.len()
        );
        list(&mut err, "", &failures);
    }
    if agg.partial {
        let _ = writeln!(err, "agora: interrupted; the results above are partial");
    } else if nothing {
        if !args.quiet {
            let _ = writeln!(err, "agora: no file matched");
        }
    } else if !args.quiet {
        let secs = elapsed.as_secs_f64();
        let _ = writeln!(
            err,
            "agora: files {}; {} in {:.2} s ({}/s)",
            output::files_summary(&agg),
            crate::output::human_bytes(agg.totals.bytes),
            secs,
            crate::output::human_bytes((agg.totals.bytes as f64 / secs.max(1e-6)) as u64),
        );
    }

    Ok(if agg.partial {
        EXIT_INTERRUPTED
    } else if !agg.failures.is_empty() {
        EXIT_FAILURES
    } else if agg.found == 0 {
        EXIT_NO_MATCH
    } else {
        EXIT_OK
    })
}

/// An engine error as one line, with the flag it concerns.
fn describe(e: &Error) -> String {
    match e {
        Error::Path { .. } | Error::Pool(_) => e.to_string(),
        Error::Glob { glob, message } => format!("invalid --glob {glob:?}: {message}"),
        Error::State { .. } => format!("--state {e}"),
    }
}

/// Lists the first items on stderr, then how many were left out.
fn list(err: &mut impl Write, prefix: &str, items: &[String]) {
    for item in items.iter().take(LIST_LIMIT) {
        if prefix.is_empty() {
            let _ = writeln!(err, "  {item}");
        } else {
            let _ = writeln!(err, "agora: {prefix}: {item}");
        }
    }
    if items.len() > LIST_LIMIT {
        let _ = writeln!(err, "  ... and {} more", items.len() - LIST_LIMIT);
    }
}

/// The process-wide Ctrl-C flag. The handler is installed once; a second
/// Ctrl-C while the first is being honoured exits at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flag);
        // If a handler was installed before (no other command of the
        // binary does), this fails and Ctrl-C keeps its default meaning:
        // the run simply cannot be interrupted gracefully.
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
        flag
    })
    .clone()
}
