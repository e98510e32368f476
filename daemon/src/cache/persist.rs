//! Snapshots of the keyspace to `DATA/cache.snapshot` (with
//! `--cache-persist`): periodically and on shutdown, loaded on start.
//!
//! Format (little-endian): the magic `AGORACACHE\x02`, then one record per
//! key — type (0 string, 1 hash, 2 list, 3 set, 4 sorted set: members
//! each followed by its score as the 8 bytes of an f64; 5 stream, see
//! [`super::stream::codec`]), absolute expiry in ms (0 = none),
//! the key, the value (byte strings are a u32 length and the bytes;
//! containers a u32 count then their strings) — with, before the first key
//! of each database but 0, a database marker (`0xfe` and the index, one
//! byte: the keys after it belong to that database); then a trailer:
//! `0xff`, the record count (u64) and an FNV-1a 64 checksum of everything
//! before it. Version 1 snapshots (magic `AGORACACHE\x01`, written before
//! there were 16 databases: no markers, every key in database 0) still
//! load.
//!
//! A snapshot is written to a temp file, fsynced and renamed over the old
//! one, so a crash leaves either the old or the new snapshot. A snapshot
//! that fails to parse is moved aside (`cache.snapshot.corrupt-<ts>`) and
//! the daemon starts empty.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use super::Cache;
use super::store::{DATABASES, Entry, Hash, List, SHARDS, Set, Store, Value};
use super::zset::ZSet;

/// The snapshot's file name in the data directory.
pub const FILE_NAME: &str = "cache.snapshot";
const MAGIC: &[u8] = b"AGORACACHE\x02";
/// The magic of version 1 (one database), still read.
const MAGIC_V1: &[u8] = b"AGORACACHE\x01";
/// The record kind that switches the database of the records after it.
const DB_MARKER: u8 = 0xfe;

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn value_kind(value: &Value) -> u8 {
    match value {
        Value::Str(_) => 0u8,
        Value::Hash(_) => 1,
        Value::List(_) => 2,
        Value::Set(_) => 3,
        Value::ZSet(_) => 4,
        Value::Stream(_) => 5,
    }
}

fn encode_entry(out: &mut Vec<u8>, key: &[u8], entry: &Entry) {
    out.push(value_kind(&entry.value));
    out.extend_from_slice(&entry.expire_at.to_le_bytes());
    put_bytes(out, key);
    encode_value(out, &entry.value);
}

fn encode_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => put_bytes(out, s),
        Value::Hash(h) => {
            out.extend_from_slice(&(h.len() as u32).to_le_bytes());
            for (f, v) in h.iter() {
                put_bytes(out, f);
                put_bytes(out, v);
            }
        }
        Value::List(l) => {
            out.extend_from_slice(&(l.len() as u32).to_le_bytes());
            for v in l.iter() {
                put_bytes(out, v);
            }
        }
        Value::Set(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            for m in s.iter() {
                put_bytes(out, m);
            }
        }
        Value::ZSet(z) => {
            out.extend_from_slice(&(z.len() as u32).to_le_bytes());
            for (m, score) in z.iter() {
                put_bytes(out, m);
                out.extend_from_slice(&score.to_bits().to_le_bytes());
            }
        }
        Value::Stream(s) => super::stream::codec::encode(out, s),
    }
}

/// The version DUMP writes in its payloads (and RESTORE requires).
const DUMP_VERSION: u16 = 1;

/// DUMP's payload for a value: its type byte and encoding as in a
/// snapshot record, then the format version (u16) and an FNV-1a 64
/// checksum of everything before it (little-endian).
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = vec![value_kind(value)];
    encode_value(&mut out, value);
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let mut sum = Fnv::new();
    sum.update(&out);
    out.extend_from_slice(&sum.0.to_le_bytes());
    out
}

/// The value in a DUMP payload; `None` when the version, the checksum or
/// the encoding is wrong (nothing else may follow the value).
pub fn undump(payload: &[u8]) -> Option<Value> {
    if payload.len() < 11 {
        return None;
    }
    let (body, sum_bytes) = payload.split_at(payload.len() - 8);
    let mut sum = Fnv::new();
    sum.update(body);
    if sum.0.to_le_bytes() != sum_bytes {
        return None;
    }
    let (body, version) = body.split_at(body.len() - 2);
    if version != DUMP_VERSION.to_le_bytes() {
        return None;
    }
    let mut r = Reader { bytes: &body[1..] };
    let value = decode_value(&mut r, body[0]).ok()?;
    r.bytes.is_empty().then_some(value)
}

/// Writes a snapshot of `store` to `path` atomically; returns the number
/// of keys written. Blocking: call from a blocking thread.
///
/// # Errors
/// Any I/O error; the previous snapshot is then left in place.
pub fn save(store: &Store, path: &Path, now_ms: u64) -> std::io::Result<u64> {
    let tmp = path.with_extension("snapshot.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut writer = std::io::BufWriter::new(file);
    let mut sum = Fnv::new();
    let mut count = 0u64;
    writer.write_all(MAGIC)?;
    sum.update(MAGIC);
    let mut buf = Vec::new();
    for db in store.dbs() {
        let mut marked = db.index() == 0;
        for i in 0..SHARDS {
            // Serialize under the lock, write after releasing it: requests
            // wait for a memory copy of one shard, never for the disk.
            buf.clear();
            {
                let shard = db.lock(i);
                for (key, entry) in shard.iter() {
                    if !entry.is_expired(now_ms) {
                        if !marked {
                            buf.extend_from_slice(&[DB_MARKER, db.index() as u8]);
                            marked = true;
                        }
                        encode_entry(&mut buf, key, entry);
                        count += 1;
                    }
                }
            }
            sum.update(&buf);
            writer.write_all(&buf)?;
        }
    }
    writer.write_all(&[0xff])?;
    writer.write_all(&count.to_le_bytes())?;
    writer.write_all(&sum.0.to_le_bytes())?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(count)
}

/// Why a snapshot could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading failed.
    #[error("cannot read snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a valid snapshot.
    #[error("corrupt snapshot: {0}")]
    Corrupt(&'static str),
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LoadError> {
        if self.bytes.len() < n {
            return Err(LoadError::Corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, LoadError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, LoadError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, LoadError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<Box<[u8]>, LoadError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.into())
    }
}

fn decode_value(r: &mut Reader<'_>, kind: u8) -> Result<Value, LoadError> {
    Ok(match kind {
        0 => Value::Str(r.string()?),
        1 => {
            let n = r.u32()?;
            let mut h = Hash::default();
            for _ in 0..n {
                let f = r.string()?;
                h.insert(f, r.string()?);
            }
            Value::Hash(Box::new(h))
        }
        2 => {
            let n = r.u32()?;
            let mut l = List::default();
            for _ in 0..n {
                l.push_back(r.string()?);
            }
            Value::List(Box::new(l))
        }
        3 => {
            let n = r.u32()?;
            let mut s = Set::default();
            for _ in 0..n {
                s.insert(&r.string()?);
            }
            Value::Set(Box::new(s))
        }
        4 => {
            let n = r.u32()?;
            let mut z = ZSet::default();
            for _ in 0..n {
                let m = r.string()?;
                let score = f64::from_bits(r.u64()?);
                if score.is_nan() {
                    return Err(LoadError::Corrupt("NaN score"));
                }
                z.insert(&m, score);
            }
            Value::ZSet(Box::new(z))
        }
        5 => Value::Stream(Box::new(
            super::stream::codec::decode(&mut r.bytes).ok_or(LoadError::Corrupt("bad stream"))?,
        )),
        _ => return Err(LoadError::Corrupt("unknown value type")),
    })
}

/// One key's database, the key and its entry, as read from a snapshot.
pub type Record = (usize, Box<[u8]>, Entry);

/// Parses a snapshot into entries (expired ones dropped). Pure.
///
/// # Errors
/// [`LoadError::Corrupt`] when the bytes are not a complete snapshot.
pub fn decode(bytes: &[u8], now_ms: u64) -> Result<Vec<Record>, LoadError> {
    if bytes.len() < MAGIC.len() + 17 || !(bytes.starts_with(MAGIC) || bytes.starts_with(MAGIC_V1))
    {
        return Err(LoadError::Corrupt("bad header"));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 17);
    let mut sum = Fnv::new();
    sum.update(body);
    let mut t = Reader { bytes: trailer };
    if t.u8()? != 0xff {
        return Err(LoadError::Corrupt("bad trailer"));
    }
    let count = t.u64()?;
    if t.u64()? != sum.0 {
        return Err(LoadError::Corrupt("checksum mismatch"));
    }
    let mut r = Reader {
        bytes: &body[MAGIC.len()..],
    };
    let mut out = Vec::new();
    let mut db = 0;
    while !r.bytes.is_empty() {
        let kind = r.u8()?;
        if kind == DB_MARKER {
            db = usize::from(r.u8()?);
            if db >= DATABASES {
                return Err(LoadError::Corrupt("database index out of range"));
            }
            continue;
        }
        let expire_at = r.u64()?;
        let key = r.string()?;
        let value = decode_value(&mut r, kind)?;
        let entry = Entry::with_expiry(value, expire_at);
        if !entry.is_expired(now_ms) {
            out.push((db, key, entry));
        }
    }
    if out.len() as u64 > count {
        return Err(LoadError::Corrupt("record count mismatch"));
    }
    Ok(out)
}

/// Loads the snapshot at `path` into `store`, if there is one. A corrupt
/// snapshot is moved aside and reported; the store then stays empty.
/// Returns the number of keys loaded.
pub fn load_or_quarantine(store: &Store, path: &Path, now_ms: u64) -> usize {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return 0,
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "cannot read cache snapshot; starting empty");
            return 0;
        }
    };
    match decode(&bytes, now_ms) {
        Ok(entries) => {
            let n = entries.len();
            for (db, key, entry) in entries {
                store.db(db).lock_key(&key).insert(&key, entry, now_ms);
            }
            n
        }
        Err(err) => {
            let aside = corrupt_path(path, now_ms);
            let moved = std::fs::rename(path, &aside);
            tracing::warn!(
                path = %path.display(),
                moved_to = %aside.display(),
                moved = moved.is_ok(),
                %err,
                "cache snapshot is corrupt; moved aside, starting with an empty cache"
            );
            0
        }
    }
}

fn corrupt_path(path: &Path, now_ms: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{}", now_ms / 1000));
    path.with_file_name(name)
}

/// Writes one snapshot on a blocking thread, logging the outcome.
pub async fn snapshot(cache: &Arc<Cache>) {
    let Some(path) = cache.snapshot.clone() else {
        return;
    };
    let cache2 = cache.clone();
    let now = crate::now_ms();
    let dirty = cache.stats.dirty.load(Ordering::Relaxed);
    let result = tokio::task::spawn_blocking(move || save(&cache2.store, &path, now)).await;
    match result {
        Ok(Ok(keys)) => {
            cache.stats.last_save_ms.store(now, Ordering::Relaxed);
            cache.stats.dirty.fetch_sub(dirty, Ordering::Relaxed);
            tracing::debug!(keys, "cache snapshot written");
        }
        Ok(Err(err)) => tracing::warn!(%err, "cannot write cache snapshot"),
        Err(err) => tracing::warn!(%err, "cache snapshot task failed"),
    }
}

/// Snapshots every `snapshot_every` and once more when `token` is
/// cancelled (unless `SHUTDOWN NOSAVE` said not to).
pub async fn run(cache: Arc<Cache>, token: CancellationToken) {
    let every = cache
        .config
        .snapshot_every
        .max(std::time::Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tick.tick() => snapshot(&cache).await,
        }
    }
    if cache.nosave.load(std::sync::atomic::Ordering::Acquire) {
        tracing::info!("SHUTDOWN NOSAVE: no final cache snapshot");
        return;
    }
    snapshot(&cache).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Policy;

    fn sample_store() -> Store {
        let store = Store::new(0, Policy::NoEviction);
        let put = |k: &str, e: Entry| {
            store
                .db(0)
                .lock_key(k.as_bytes())
                .insert(k.as_bytes(), e, 0);
        };
        put("s", Entry::new(Value::Str((*b"value").into())));
        put(
            "ttl",
            Entry::with_expiry(Value::Str((*b"x").into()), 10_000),
        );
        put("gone", Entry::with_expiry(Value::Str((*b"x").into()), 5));
        let mut h = Hash::default();
        h.insert((*b"f").into(), (*b"v").into());
        put("h", Entry::new(Value::Hash(Box::new(h))));
        let mut l = List::default();
        l.push_back((*b"a").into());
        put("l", Entry::new(Value::List(Box::new(l))));
        let mut set = Set::default();
        set.insert(b"m1");
        set.insert(b"m2");
        put("set", Entry::new(Value::Set(Box::new(set))));
        let mut z = ZSet::default();
        z.insert(b"low", -1.5);
        z.insert(b"high", f64::INFINITY);
        put("z", Entry::new(Value::ZSet(Box::new(z))));
        store
    }

    #[test]
    fn round_trip_keeps_values_and_ttls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(save(&sample_store(), &path, 100).unwrap(), 6);
        let store = Store::new(0, Policy::NoEviction);
        assert_eq!(load_or_quarantine(&store, &path, 100), 6);
        let mut shard = store.db(0).lock_key(b"ttl");
        assert_eq!(shard.peek(b"ttl", 100).unwrap().expire_at, 10_000);
        drop(shard);
        let mut shard = store.db(0).lock_key(b"set");
        match &shard.peek(b"set", 100).unwrap().value {
            Value::Set(s) => assert!(s.len() == 2 && s.contains(b"m1") && s.contains(b"m2")),
            other => panic!("{other:?}"),
        }
        drop(shard);
        let mut shard = store.db(0).lock_key(b"z");
        match &shard.peek(b"z", 100).unwrap().value {
            Value::ZSet(z) => {
                let all: Vec<(&[u8], f64)> = z.iter().collect();
                assert_eq!(all, [(&b"low"[..], -1.5), (&b"high"[..], f64::INFINITY)]);
            }
            other => panic!("{other:?}"),
        }
        drop(shard);
        // Loading later drops what expired meanwhile.
        let store = Store::new(0, Policy::NoEviction);
        assert_eq!(load_or_quarantine(&store, &path, 20_000), 5);
    }

    #[test]
    fn streams_round_trip_with_their_groups() {
        use crate::cache::stream::{Group, NodeLimits, Stream, StreamId};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = Store::new(0, Policy::NoEviction);
        let mut s = Stream::default();
        let f: Box<[Box<[u8]>]> = vec![(*b"f").into(), (*b"v").into()].into();
        s.append(StreamId::new(5, 1), f.clone(), NodeLimits::default());
        s.append(StreamId::new(6, 0), f, NodeLimits::default());
        let mut g = Group::default();
        g.assign(StreamId::new(5, 1), b"c", 9).delivery_count = 1;
        s.groups.insert((*b"g").into(), g);
        let value = Value::Stream(Box::new(s));
        store
            .db(0)
            .lock_key(b"x")
            .insert(b"x", Entry::new(value.clone()), 0);
        assert_eq!(save(&store, &path, 100).unwrap(), 1);
        let loaded = Store::new(0, Policy::NoEviction);
        assert_eq!(load_or_quarantine(&loaded, &path, 100), 1);
        let mut shard = loaded.db(0).lock_key(b"x");
        assert_eq!(shard.peek(b"x", 100).unwrap().value, value);
        drop(shard);
        // DUMP's payload too.
        assert_eq!(undump(&dump(&value)), Some(value));
    }

    #[test]
    fn keys_keep_their_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = sample_store();
        for db in [1, 9, 15] {
            store.db(db).lock_key(b"s").insert(
                b"s",
                Entry::new(Value::Str(format!("db{db}").into_bytes().into())),
                0,
            );
        }
        assert_eq!(save(&store, &path, 100).unwrap(), 9);
        let loaded = Store::new(0, Policy::NoEviction);
        assert_eq!(load_or_quarantine(&loaded, &path, 100), 9);
        for db in [1, 9, 15] {
            let mut shard = loaded.db(db).lock_key(b"s");
            let value = &shard.peek(b"s", 100).unwrap().value;
            assert_eq!(value, &Value::Str(format!("db{db}").into_bytes().into()));
        }
        assert_eq!(loaded.db(0).len().0, 6);
        assert_eq!(loaded.db(2).len().0, 0);
    }

    #[test]
    fn version_1_snapshots_load_into_database_0() {
        // A snapshot as version 1 wrote it: no markers.
        let mut bytes = MAGIC_V1.to_vec();
        let mut body = Vec::new();
        encode_entry(&mut body, b"old", &Entry::new(Value::Str((*b"v1").into())));
        bytes.extend_from_slice(&body);
        let mut sum = Fnv::new();
        sum.update(&bytes);
        bytes.push(0xff);
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&sum.0.to_le_bytes());
        let records = decode(&bytes, 0).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, 0);
        assert_eq!(&*records[0].1, b"old");
    }

    #[test]
    fn a_database_marker_out_of_range_is_corrupt() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[DB_MARKER, 16]);
        let mut sum = Fnv::new();
        sum.update(&bytes);
        bytes.push(0xff);
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&sum.0.to_le_bytes());
        assert!(matches!(decode(&bytes, 0), Err(LoadError::Corrupt(_))));
    }

    #[test]
    fn corrupt_snapshot_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        save(&sample_store(), &path, 100).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let store = Store::new(0, Policy::NoEviction);
        assert_eq!(load_or_quarantine(&store, &path, 100_000), 0);
        assert!(!path.exists());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("cache.snapshot.corrupt-")),
            "{names:?}"
        );
    }

    #[test]
    fn decode_never_panics_on_garbage() {
        for len in 0..64 {
            let mut bytes = MAGIC.to_vec();
            bytes.extend((0..len).map(|i| (i * 37 % 256) as u8));
            let _ = decode(&bytes, 0);
        }
    }
}
