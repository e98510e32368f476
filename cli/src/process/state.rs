//! The resume file (`--state FILE`): a JSON Lines log of finished files, so a
//! rerun after an interruption, or a later incremental run, only processes
//! new or changed files.
//!
//! Format (one JSON object per line, each with a `type`):
//!
//! ```text
//! {"type":"header","agora_process_state":2,"options":"<fingerprint of the counting options>"}
//! {"type":"file","path":"logs/a.log","size":1234,"mtime_s":1700000000,"mtime_ns":0,"binary":false,"counts":{…}}
//! …
//! ```
//!
//! Lines of another `type` are skipped, so later versions can add some. A
//! file of format 1 (no `type`) is started afresh like one written with other
//! options.
//!
//! Entries are appended as files finish, so an interrupted run keeps what it
//! did; a later entry for the same path wins. A complete run rewrites the file
//! with exactly the files it saw (atomically, via a temporary file), which
//! drops deleted files. A file is reused when its path (as walked), size and
//! modification time are unchanged. When the counting options differ from
//! the ones the file was written with (e.g. `--words` added), the stored
//! counts cannot be reused and the file is started afresh.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::count::Counts;
use super::error::{Error, io_message};

const FORMAT_VERSION: u64 = 2;

/// Identity of a file's content as far as reuse is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// Size on disk.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime_s: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_ns: u32,
}

impl FileId {
    /// From file metadata; `None` when the platform gives no mtime.
    pub fn from_metadata(md: &std::fs::Metadata) -> Option<FileId> {
        let mtime = md.modified().ok()?;
        let (s, ns) = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => (i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let s = -i64::try_from(d.as_secs()).ok()?;
                (s, d.subsec_nanos())
            }
        };
        Some(FileId {
            size: md.len(),
            mtime_s: s,
            mtime_ns: ns,
        })
    }

    /// The modification time back as a `SystemTime` (for display).
    pub fn mtime(&self) -> Option<SystemTime> {
        let d = Duration::new(self.mtime_s.unsigned_abs(), self.mtime_ns);
        if self.mtime_s >= 0 {
            UNIX_EPOCH.checked_add(d)
        } else {
            UNIX_EPOCH.checked_sub(d)
        }
    }
}

/// One finished file as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path as walked (`--dir` joined with the relative path).
    pub path: String,
    /// Size and mtime when it was processed.
    #[serde(flatten)]
    pub id: FileId,
    /// Skipped as binary (then `counts` is empty).
    pub binary: bool,
    /// Its counts.
    pub counts: Counts,
}

#[derive(Serialize, Deserialize)]
struct Header {
    /// `"header"`; absent in format 1.
    #[serde(rename = "type", default)]
    kind: String,
    agora_process_state: u64,
    options: String,
}

/// An [`Entry`] as a line: `{"type":"file", …}`.
#[derive(Serialize)]
struct EntryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// A line read back: an entry when its `type` is `file`.
#[derive(Deserialize)]
struct LineIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    entry: Entry,
}

fn entry_line(entry: &Entry) -> EntryLine<'_> {
    EntryLine {
        kind: "file",
        entry,
    }
}

/// Previously recorded entries, by path.
pub type Recorded = HashMap<PathBuf, Entry>;

/// An open state file.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    fingerprint: String,
    out: BufWriter<File>,
    last_flush: Instant,
    unflushed: usize,
}

impl StateFile {
    /// Opens (or creates) the state file. Returns the entries usable for this
    /// run and a message when stored entries were discarded.
    pub fn open(
        path: &Path,
        fingerprint: &str,
    ) -> Result<(StateFile, Recorded, Option<String>), Error> {
        let io_err = |e: std::io::Error| Error::state(path, io_message(&e));
        let mut recorded = Recorded::new();
        let mut note = None;
        let mut fresh = true;
        match File::open(path) {
            Ok(f) => {
                let mut lines = BufReader::new(f).lines();
                match lines.next() {
                    None => {}
                    Some(first) => {
                        let first = first.map_err(io_err)?;
                        let header: Header = match serde_json::from_str(&first) {
                            Ok(h) => h,
                            // Never clobber a file that is not ours.
                            Err(_) => {
                                return Err(Error::state(path, "not an agora process state file"));
                            }
                        };
                        if header.agora_process_state != FORMAT_VERSION
                            || header.options != fingerprint
                        {
                            note = Some(format!(
                                "state file {}: written with other counting options or by another version; starting afresh",
                                path.display()
                            ));
                        } else {
                            fresh = false;
                            for line in lines {
                                let Ok(line) = line else { break };
                                // A torn last line after a crash is ignored.
                                if let Ok(LineIn { kind, entry }) = serde_json::from_str(&line)
                                    && kind == "file"
                                {
                                    recorded.insert(PathBuf::from(&entry.path), entry);
                                }
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let file = if fresh {
            let mut f = File::create(path)
                .map_err(|e| Error::state(path, format!("cannot create: {}", io_message(&e))))?;
            write_header(&mut f, fingerprint).map_err(io_err)?;
            f
        } else {
            let mut f = OpenOptions::new()
                .read(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    Error::state(path, format!("cannot open for writing: {}", io_message(&e)))
                })?;
            // After a crash the last line may be torn: start on a new line so
            // that the next entry is not glued to it.
            if !ends_with_newline(&mut f).map_err(io_err)? {
                f.write_all(b"\n").map_err(io_err)?;
            }
            f
        };
        Ok((
            StateFile {
                path: path.to_path_buf(),
                fingerprint: fingerprint.to_string(),
                out: BufWriter::new(file),
                last_flush: Instant::now(),
                unflushed: 0,
            },
            recorded,
            note,
        ))
    }

    /// Appends a finished file. Flushed in small batches so that a crash
    /// loses at most a few entries without a write per file.
    pub fn append(&mut self, entry: &Entry) -> Result<(), Error> {
        write_line(&mut self.out, &entry_line(entry)).map_err(|e| self.write_failed(&e))?;
        self.unflushed += 1;
        if self.unflushed >= 256 || self.last_flush.elapsed() > Duration::from_millis(500) {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes appended entries to the file.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(|e| self.write_failed(&e))?;
        self.unflushed = 0;
        self.last_flush = Instant::now();
        Ok(())
    }

    fn write_failed(&self, e: &std::io::Error) -> Error {
        Error::state(&self.path, format!("write failed: {}", io_message(e)))
    }

    /// Rewrites the file with exactly `entries` (after a complete run).
    pub fn compact<'e>(
        mut self,
        entries: impl IntoIterator<Item = &'e Entry>,
    ) -> Result<(), Error> {
        self.flush()?;
        let tmp = self.path.with_extension("tmp-agora");
        let write = || -> std::io::Result<()> {
            let mut w = BufWriter::new(File::create(&tmp)?);
            write_header(&mut w, &self.fingerprint)?;
            for e in entries {
                write_line(&mut w, &entry_line(e))?;
            }
            w.flush()
        };
        write().map_err(|e| {
            Error::state(
                &self.path,
                format!("cannot write {}: {}", tmp.display(), io_message(&e)),
            )
        })?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| Error::state(&self.path, format!("cannot replace: {}", io_message(&e))))
    }
}

fn ends_with_newline(f: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// One JSON line. Serialising plain structs of numbers and strings only
/// fails when writing does.
fn write_line(w: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(std::io::Error::from)?;
    w.write_all(b"\n")
}

fn write_header(w: &mut impl Write, fingerprint: &str) -> std::io::Result<()> {
    write_line(
        w,
        &Header {
            kind: "header".into(),
            agora_process_state: FORMAT_VERSION,
            options: fingerprint.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            id: FileId {
                size,
                mtime_s: 5,
                mtime_ns: 7,
            },
            binary: false,
            counts: Counts::new(1),
        }
    }

    #[test]
    fn roundtrip_append_and_compact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.jsonl");
        let (mut s, rec, note) = StateFile::open(&p, "fp").unwrap();
        assert!(rec.is_empty() && note.is_none());
        s.append(&entry("a", 1)).unwrap();
        s.append(&entry("b", 2)).unwrap();
        s.append(&entry("a", 3)).unwrap();
        s.flush().unwrap();
        drop(s);
        // A torn line is ignored.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"path\":\"c\",\"si").unwrap();
        drop(f);
        let (mut s, rec, _) = StateFile::open(&p, "fp").unwrap();
        assert_eq!(rec.len(), 2);
        // An entry appended after a torn line is not lost.
        s.append(&entry("d", 4)).unwrap();
        s.flush().unwrap();
        drop(s);
        let (s, rec, _) = StateFile::open(&p, "fp").unwrap();
        assert_eq!(rec.len(), 3);
        assert_eq!(rec[Path::new("a")].id.size, 3);
        s.compact([&entry("b", 2)]).unwrap();
        let (_s, rec, _) = StateFile::open(&p, "fp").unwrap();
        assert_eq!(rec.len(), 1);
        // Other options: started afresh.
        let (_s, rec, note) = StateFile::open(&p, "other").unwrap();
        assert!(rec.is_empty() && note.is_some());
    }

    #[test]
    fn every_line_has_a_type() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.jsonl");
        let (mut s, _, _) = StateFile::open(&p, "fp").unwrap();
        s.append(&entry("a", 1)).unwrap();
        s.flush().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let types: Vec<String> = (text.lines())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
            .collect();
        assert_eq!(types, ["\"header\"", "\"file\""]);
        s.compact([&entry("b", 2)]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with("{\"type\":\"file\",")
        );
        // Unknown line types are skipped.
        std::fs::write(&p, text + "{\"type\":\"later\",\"x\":1}\n").unwrap();
        let (_, rec, note) = StateFile::open(&p, "fp").unwrap();
        assert_eq!((rec.len(), note), (1, None));
    }

    #[test]
    fn format_1_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.jsonl");
        std::fs::write(
            &p,
            "{\"agora_process_state\":1,\"options\":\"fp\"}\n\
             {\"path\":\"a\",\"size\":1,\"mtime_s\":5,\"mtime_ns\":7,\"binary\":false,\
             \"counts\":{\"bytes\":0,\"lines\":0,\"words\":0,\"levels\":[0,0,0,0,0,0,0],\"matches\":[0]}}\n",
        )
        .unwrap();
        let (_, rec, note) = StateFile::open(&p, "fp").unwrap();
        assert!(rec.is_empty());
        assert!(note.unwrap().contains("starting afresh"));
    }

    #[test]
    fn refuses_foreign_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        std::fs::write(&p, "my precious notes\n").unwrap();
        let e = StateFile::open(&p, "fp").unwrap_err();
        assert!(e.to_string().contains("not an agora process state file"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "my precious notes\n");
    }
}
