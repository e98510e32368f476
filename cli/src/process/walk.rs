//! Finding the files to process: a parallel directory walk (the `ignore`
//! crate, as ripgrep uses) filtered by globs with ripgrep's `-g` semantics.
//!
//! # Glob rule
//!
//! The globs are ripgrep's overrides (gitignore syntax, compiled by the same
//! crate), each rooted at the path being walked:
//!
//! * A glob without `/` matches a file or directory *name* at any depth; a
//!   glob with a `/` matches the path *relative to the walked path* (`*`
//!   never crosses a `/`; `**` does). A leading `/` anchors at the walked
//!   path too; a leading `./` is dropped.
//! * `!GLOB` excludes. When several globs match, the **last** one given wins.
//!   With at least one include glob, a file must match an include glob.
//!   Directories are never left out for not matching an include glob, but
//!   an exclude glob that matches a directory prunes it.
//! * Globs take precedence over the hidden and ignore rules for the entries
//!   they match: `*.log` takes `.hidden.log` and a gitignored `x.log`, while
//!   `.hid/d.log` stays out unless hidden directories are walked, because
//!   the directory `.hid` matches no glob and is hidden.
//! * A path given explicitly (a file as a root) is always taken.
//!
//! With `decompress`, every glob `G` is also applied as `G.gz`, right after
//! `G` (so it keeps its precedence): `*.log` takes `app.log.gz`.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use ignore::overrides::{Override, OverrideBuilder};
use ignore::{WalkBuilder, WalkState};

use super::error::{Error, io_message};

/// How to walk.
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// The directories (or files) to walk.
    pub roots: Vec<PathBuf>,
    /// The globs as given (`!` prefix excludes; the last match wins).
    pub globs: Vec<String>,
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
    /// A regular file that matched the globs.
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

/// The globs, checked and expanded (see the module documentation); they are
/// compiled once per walked path, as globs with a `/` are relative to it.
#[derive(Clone, Debug, Default)]
pub struct Globs {
    lines: Vec<String>,
}

impl Globs {
    /// Checks and expands the globs; an invalid glob is an error naming it.
    pub fn new(globs: &[String], decompress: bool) -> Result<Globs, Error> {
        let mut lines = Vec::with_capacity(globs.len() * 2);
        for raw in globs {
            let (bang, body) = match raw.strip_prefix('!') {
                Some(rest) => ("!", rest),
                None => ("", raw.as_str()),
            };
            // ripgrep matches nothing for `./x/*.log`; nobody means that.
            let body = body.strip_prefix("./").unwrap_or(body);
            if body.is_empty() {
                return Err(Error::Glob {
                    glob: raw.clone(),
                    message: "empty glob".into(),
                });
            }
            let line = format!("{bang}{body}");
            // Compiling alone names the culprit; gitignore syntax would
            // silently drop a glob that reads as a comment or a blank.
            let mut one = OverrideBuilder::new(".");
            let compiled = one.add(&line).and_then(|b| b.build());
            match compiled {
                Err(e) => {
                    return Err(Error::Glob {
                        glob: raw.clone(),
                        message: glob_message(e),
                    });
                }
                Ok(o) if o.is_empty() => {
                    return Err(Error::Glob {
                        glob: raw.clone(),
                        message: "matches nothing (gitignore syntax: a comment or a blank)".into(),
                    });
                }
                Ok(_) => {}
            }
            lines.push(line);
            // `logs/` (directories only) and `logs/**` have no `.gz` twin.
            if decompress && !body.ends_with('/') && !body.ends_with("**") {
                lines.push(format!("{bang}{body}.gz"));
            }
        }
        Ok(Globs { lines })
    }

    /// The matcher for one walked path.
    pub fn for_root(&self, root: &Path) -> Result<Override, Error> {
        let mut b = OverrideBuilder::new(root);
        for line in &self.lines {
            b.add(line).map_err(|e| Error::Glob {
                glob: line.clone(),
                message: glob_message(e),
            })?;
        }
        b.build().map_err(|e| Error::Glob {
            glob: self.lines.join(" "),
            message: glob_message(e),
        })
    }
}

fn glob_message(e: ignore::Error) -> String {
    match e {
        ignore::Error::Glob { err, .. } => err,
        other => other.to_string(),
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
/// event. `overrides` holds the globs compiled for each root, in order
/// ([`Globs::for_root`]). Stops early when `cancel` is set or `sink`
/// returns false.
pub fn walk(
    opts: &WalkOptions,
    overrides: &[Override],
    cancel: &AtomicBool,
    sink: &(dyn Fn(WalkEvent) -> bool + Sync),
) {
    // With several roots one may contain another; a file is reported once.
    // The key is the path without `.` components, so `.` and `sub` agree
    // on `sub/x.log`.
    let seen: Option<Mutex<HashSet<PathBuf>>> =
        (opts.roots.len() > 1).then(|| Mutex::new(HashSet::new()));
    for (root, overrides) in opts.roots.iter().zip(overrides) {
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
            .overrides(overrides.clone())
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
                        if let Some(seen) = seen {
                            let key: PathBuf = path
                                .components()
                                .filter(|c| *c != Component::CurDir)
                                .collect();
                            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                            if !seen.insert(key) {
                                return WalkState::Continue;
                            }
                        }
                        // Like ripgrep, files under the default `.` are
                        // shown without the `./` prefix.
                        match path.strip_prefix(".") {
                            Ok(rel) if root.as_os_str() == "." && !rel.as_os_str().is_empty() => {
                                WalkEvent::File(rel.to_path_buf())
                            }
                            _ => WalkEvent::File(entry.into_path()),
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

    /// Whether a file at `rel` below the root is taken by the globs alone
    /// (no hidden or ignore rules involved).
    fn takes(globs: &[&str], decompress: bool, rel: &str) -> bool {
        let globs: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
        let o = Globs::new(&globs, decompress)
            .unwrap()
            .for_root(Path::new("root"))
            .unwrap();
        !o.matched(Path::new("root").join(rel), false).is_ignore()
    }

    #[test]
    fn name_and_path_globs() {
        assert!(takes(&[], false, "a/b.txt"));
        let logs = ["*.log"];
        assert!(takes(&logs, false, "x.log"));
        assert!(takes(&logs, false, "deep/er/x.log"));
        assert!(!takes(&logs, false, "x.log.1"));
        let path = ["app/*.log"];
        assert!(takes(&path, false, "app/x.log"));
        assert!(!takes(&path, false, "app/sub/x.log"));
        assert!(!takes(&path, false, "other/app/x.log"));
        assert!(takes(&["./app/*.log"], false, "app/x.log"));
        assert!(takes(&["/app/*.log"], false, "app/x.log"));
        assert!(takes(&["app/**/*.log"], false, "app/sub/x.log"));
        let excl = ["*.log", "!debug-*"];
        assert!(takes(&excl, false, "a/x.log"));
        assert!(!takes(&excl, false, "a/debug-1.log"));
        // The last matching glob wins, as in ripgrep.
        assert!(takes(&["!debug-*", "*.log"], false, "a/debug-1.log"));
        let only_excl = ["!*.gz"];
        assert!(takes(&only_excl, false, "a.log"));
        assert!(!takes(&only_excl, false, "a.gz"));
    }

    #[test]
    fn decompress_matches_inner_name() {
        assert!(takes(&["*.log"], true, "a/app.log.gz"));
        assert!(!takes(&["*.log"], true, "a/app.txt.gz"));
        assert!(!takes(&["*.log"], false, "a/app.log.gz"));
        assert!(!takes(&["*.log", "!old-*.log"], true, "old-1.log.gz"));
        assert!(takes(&["logs/**"], true, "logs/a.gz"));
    }

    #[test]
    fn invalid_glob_is_an_error() {
        let e = Globs::new(&["a[".to_string()], false).unwrap_err();
        assert!(e.to_string().starts_with("invalid glob \"a[\""), "{e}");
        assert!(Globs::new(&["!".to_string()], false).is_err());
        assert!(Globs::new(&["#x".to_string()], false).is_err());
    }
}
