//! Finding the files to process: a parallel directory walk (the `ignore`
//! crate, as ripgrep uses) filtered by the `--pattern` globs.
//!
//! # Pattern rule
//!
//! Each `--pattern GLOB` is matched against the file's *name* when the glob
//! has no `/`, and against the file's path *relative to the `--dir` it was
//! found under* when it has one (`*` never crosses a `/`; `**` does). A glob
//! starting with `!` excludes. A file is taken when no include pattern is
//! given or one matches, and no exclude pattern matches. With `--decompress`,
//! a `NAME.gz` file is also taken when `NAME` matches (so `*.log` finds
//! `app.log.gz`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::{WalkBuilder, WalkState};

use super::error::{Error, io_message};

/// How to walk.
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// The directories (or files) to walk.
    pub roots: Vec<PathBuf>,
    /// The `--pattern` globs as given (`!` prefix excludes).
    pub patterns: Vec<String>,
    /// Also walk hidden files and directories.
    pub hidden: bool,
    /// Do not read `.gitignore`, `.ignore` and similar rules.
    pub no_ignore: bool,
    /// Maximum depth below each root.
    pub max_depth: Option<usize>,
    /// Follow symbolic links (loops are detected and reported).
    pub follow: bool,
    /// Skip files larger than this many bytes.
    pub max_filesize: Option<u64>,
    /// Also match `NAME.gz` files by `NAME`.
    pub decompress: bool,
    /// Walker threads.
    pub threads: usize,
}

/// Something the walk found.
#[derive(Debug)]
pub enum WalkEvent {
    /// A regular file that matched the patterns.
    File(PathBuf),
    /// An I/O error during the walk (e.g. a directory that cannot be read):
    /// counts as a failure.
    Error {
        /// The path concerned, when known.
        path: Option<PathBuf>,
        /// One-line description.
        message: String,
    },
    /// A symlink loop or an unreadable ignore rule: reported, but nothing
    /// failed.
    Warning {
        /// One-line description.
        message: String,
    },
}

/// The compiled `--pattern` set.
#[derive(Clone, Debug)]
pub struct Matcher {
    include_name: GlobSet,
    include_path: GlobSet,
    exclude_name: GlobSet,
    exclude_path: GlobSet,
    has_include: bool,
    decompress: bool,
}

impl Matcher {
    /// Compiles the patterns; an invalid glob is an error naming it.
    pub fn new(patterns: &[String], decompress: bool) -> Result<Matcher, Error> {
        let mut sets = [
            GlobSetBuilder::new(),
            GlobSetBuilder::new(),
            GlobSetBuilder::new(),
            GlobSetBuilder::new(),
        ];
        let mut has_include = false;
        for raw in patterns {
            let (exclude, glob) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, raw.as_str()),
            };
            let invalid = |message: String| Error::Glob {
                glob: raw.clone(),
                message,
            };
            if glob.is_empty() {
                return Err(invalid("empty glob".into()));
            }
            let by_path = glob.contains('/');
            // A leading "./" or "/" means "relative to the dir" too.
            let glob = glob.trim_start_matches("./").trim_start_matches('/');
            let compiled = GlobBuilder::new(glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| invalid(e.kind().to_string()))?;
            has_include |= !exclude;
            let idx = usize::from(exclude) * 2 + usize::from(by_path);
            sets[idx].add(compiled);
        }
        let build = |set: GlobSetBuilder| {
            set.build().map_err(|e| Error::Glob {
                glob: e.glob().unwrap_or_default().to_string(),
                message: e.kind().to_string(),
            })
        };
        let [a, b, c, d] = sets;
        Ok(Matcher {
            include_name: build(a)?,
            include_path: build(b)?,
            exclude_name: build(c)?,
            exclude_path: build(d)?,
            has_include,
            decompress,
        })
    }

    /// Whether a file with this path relative to its root is taken.
    pub fn is_match(&self, rel: &Path) -> bool {
        if self.matches_one(rel) {
            return true;
        }
        if self.decompress
            && let Some(stripped) = rel.to_str().and_then(|s| s.strip_suffix(".gz"))
        {
            return !stripped.is_empty() && self.matches_one(Path::new(stripped));
        }
        false
    }

    fn matches_one(&self, rel: &Path) -> bool {
        let name = rel.file_name().map_or(rel.as_os_str(), |n| n);
        let name = Path::new(name);
        if self.exclude_name.is_match(name) || self.exclude_path.is_match(rel) {
            return false;
        }
        !self.has_include || self.include_name.is_match(name) || self.include_path.is_match(rel)
    }
}

/// Checks that every root exists, so that a typo is a one-line error rather
/// than a run that silently finds nothing.
pub fn check_roots(roots: &[PathBuf]) -> Result<(), Error> {
    for root in roots {
        if let Err(error) = std::fs::metadata(root) {
            return Err(Error::Path {
                path: root.clone(),
                error,
            });
        }
    }
    Ok(())
}

/// Walks every root and calls `sink` (from several walker threads) for each
/// event. Stops early when `cancel` is set or `sink` returns false.
pub fn walk(
    opts: &WalkOptions,
    matcher: &Matcher,
    cancel: &AtomicBool,
    sink: &(dyn Fn(WalkEvent) -> bool + Sync),
) {
    // With several roots one may contain another; a file is reported once.
    let seen: Option<Mutex<HashSet<PathBuf>>> =
        (opts.roots.len() > 1).then(|| Mutex::new(HashSet::new()));
    for root in &opts.roots {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let mut builder = WalkBuilder::new(root);
        let respect = !opts.no_ignore;
        builder
            .hidden(!opts.hidden)
            .ignore(respect)
            .git_ignore(respect)
            .git_global(respect)
            .git_exclude(respect)
            .parents(respect)
            .max_depth(opts.max_depth)
            .follow_links(opts.follow)
            .max_filesize(opts.max_filesize)
            .threads(opts.threads.max(1));
        builder.build_parallel().run(|| {
            let seen = &seen;
            Box::new(move |entry| {
                if cancel.load(Ordering::Relaxed) {
                    return WalkState::Quit;
                }
                let event = match entry {
                    Ok(entry) => {
                        // Only regular files: a directory named `x.log`, a
                        // FIFO or a socket is never read. Without --follow a
                        // symlink is not a regular file either.
                        if !entry.file_type().is_some_and(|t| t.is_file()) {
                            return WalkState::Continue;
                        }
                        let path = entry.path();
                        let rel = match path.strip_prefix(root) {
                            Ok(rel) if !rel.as_os_str().is_empty() => rel,
                            // A root that is itself a file.
                            _ => Path::new(path.file_name().unwrap_or(path.as_os_str())),
                        };
                        if !matcher.is_match(rel) {
                            return WalkState::Continue;
                        }
                        if let Some(seen) = seen {
                            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                            if !seen.insert(path.to_path_buf()) {
                                return WalkState::Continue;
                            }
                        }
                        // Like ripgrep, files under the default `.` are
                        // shown without the `./` prefix.
                        if root.as_os_str() == "." {
                            WalkEvent::File(rel.to_path_buf())
                        } else {
                            WalkEvent::File(entry.into_path())
                        }
                    }
                    Err(err) => classify_error(&err),
                };
                if sink(event) {
                    WalkState::Continue
                } else {
                    WalkState::Quit
                }
            })
        });
    }
}

/// Sorts a walk error into a failure (I/O) or a warning (loops, bad ignore
/// rules).
fn classify_error(err: &ignore::Error) -> WalkEvent {
    let mut path = None;
    let mut inner = err;
    loop {
        match inner {
            ignore::Error::WithPath { path: p, err } => {
                path.get_or_insert_with(|| p.clone());
                inner = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                inner = err;
            }
            _ => break,
        }
    }
    match inner {
        ignore::Error::Loop { ancestor, child } => WalkEvent::Warning {
            message: format!(
                "symlink loop: {} points to its ancestor {}; not followed",
                child.display(),
                ancestor.display()
            ),
        },
        ignore::Error::Io(io) => WalkEvent::Error {
            message: match &path {
                Some(p) => format!("{}: {}", p.display(), io_message(io)),
                None => io_message(io),
            },
            path,
        },
        _ => WalkEvent::Warning {
            message: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[&str]) -> Matcher {
        Matcher::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>(), false).unwrap()
    }

    #[test]
    fn name_and_path_globs() {
        let all = m(&[]);
        assert!(all.is_match(Path::new("a/b.txt")));
        let logs = m(&["*.log"]);
        assert!(logs.is_match(Path::new("x.log")));
        assert!(logs.is_match(Path::new("deep/er/x.log")));
        assert!(!logs.is_match(Path::new("x.log.1")));
        let path = m(&["app/*.log"]);
        assert!(path.is_match(Path::new("app/x.log")));
        assert!(!path.is_match(Path::new("app/sub/x.log")));
        assert!(!path.is_match(Path::new("other/app/x.log")));
        let deep = m(&["app/**/*.log"]);
        assert!(deep.is_match(Path::new("app/sub/x.log")));
        let excl = m(&["*.log", "!debug-*"]);
        assert!(excl.is_match(Path::new("a/x.log")));
        assert!(!excl.is_match(Path::new("a/debug-1.log")));
        let only_excl = m(&["!*.gz"]);
        assert!(only_excl.is_match(Path::new("a.log")));
        assert!(!only_excl.is_match(Path::new("a.gz")));
    }

    #[test]
    fn decompress_matches_inner_name() {
        let z = Matcher::new(&["*.log".to_string()], true).unwrap();
        assert!(z.is_match(Path::new("a/app.log.gz")));
        assert!(!z.is_match(Path::new("a/app.txt.gz")));
        let nz = Matcher::new(&["*.log".to_string()], false).unwrap();
        assert!(!nz.is_match(Path::new("a/app.log.gz")));
    }

    #[test]
    fn invalid_glob_is_an_error() {
        let e = Matcher::new(&["a[".to_string()], false).unwrap_err();
        assert!(e.to_string().starts_with("invalid glob \"a[\""), "{e}");
        assert!(Matcher::new(&["!".to_string()], false).is_err());
    }
}
