//! The keyspace: [`Store`], a fixed number of [`Shard`]s, each a
//! `std::sync::Mutex` around an insertion-ordered hash map of key →
//! [`Entry`].
//!
//! Sharding by key hash lets both cores serve requests without a global
//! lock; a command that touches several keys locks their shards one at a
//! time, or (when it must be atomic, like MSETNX) all of them in index
//! order, so two such commands can never deadlock.
//!
//! The map is an `IndexMap` rather than a `HashMap` for one reason: random
//! sampling. Eviction and active expiry sample random keys the way Redis
//! does (`dictGetSomeKeys`); an index map gives O(1) access by position,
//! and `swap_remove` keeps removal O(1).
//!
//! Memory is accounted approximately (key + value payload + a fixed
//! per-entry overhead) in an atomic counter striped by shard (one cache
//! line per shard, added up when read), as are keyspace hits and misses. This
//! module does no I/O and reads no clock: every method takes `now_ms`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use foldhash::fast::RandomState;
use indexmap::IndexMap;

/// How many shards the keyspace has: a power of two, well above the core
/// count so two cores rarely want the same lock.
pub const SHARDS: usize = 16;

/// Bookkeeping bytes counted per key on top of key and value: the map's
/// bucket, its index slot and allocator headers (measured, roughly).
pub const ENTRY_OVERHEAD: usize = 96;

/// A field map of a hash value, with its payload size kept up to date.
pub type FieldMap = IndexMap<Box<[u8]>, Box<[u8]>, RandomState>;

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A binary-safe string.
    Str(Box<[u8]>),
    /// A hash of field → value.
    Hash(Box<Hash>),
    /// A list.
    List(Box<List>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<super::zset::ZSet>),
    /// A stream.
    Stream(Box<super::stream::Stream>),
}

/// A set value: an insertion-ordered hash set (O(1) membership, removal
/// and access by position), with its members' bytes kept up to date so
/// measuring it is O(1).
#[derive(Debug, Clone, Default)]
pub struct Set {
    members: indexmap::IndexSet<Box<[u8]>, RandomState>,
    bytes: usize,
}

/// Bytes counted per set member on top of its length: the entry (hash
/// and pointer), its index slot and the allocation header.
const SET_MEMBER_OVERHEAD: usize = 40;

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.members.len() == other.members.len()
            && self.members.iter().all(|m| other.members.contains(m))
    }
}

impl Set {
    /// Adds a member; false when it was there already.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.members.contains(member) {
            return false;
        }
        self.bytes += member.len() + SET_MEMBER_OVERHEAD;
        self.members.insert(member.into())
    }

    /// Removes a member; false when it was not there. The last member
    /// takes its position.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let removed = self.members.swap_remove(member);
        if removed {
            self.bytes -= member.len() + SET_MEMBER_OVERHEAD;
        }
        removed
    }

    /// Removes the member at a position (the last takes its place).
    pub fn swap_remove_index(&mut self, idx: usize) -> Option<Box<[u8]>> {
        let member = self.members.swap_remove_index(idx)?;
        self.bytes -= member.len() + SET_MEMBER_OVERHEAD;
        Some(member)
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.contains(member)
    }

    /// The member at a position.
    pub fn get_index(&self, idx: usize) -> Option<&[u8]> {
        self.members.get_index(idx).map(|m| &**m)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members, by position.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.members.iter().map(|m| &**m)
    }
}

/// A hash value: its fields, with their bytes kept up to date so
/// measuring it after a write is O(1). Reads go through `Deref` to the
/// map; writes through the methods below, which keep the count.
#[derive(Debug, Clone, Default)]
pub struct Hash {
    map: FieldMap,
    bytes: usize,
}

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.map == other.map
    }
}

impl std::ops::Deref for Hash {
    type Target = FieldMap;
    fn deref(&self) -> &FieldMap {
        &self.map
    }
}

impl Hash {
    /// Sets a field; the old value if there was one.
    pub fn insert(&mut self, field: Box<[u8]>, value: Box<[u8]>) -> Option<Box<[u8]>> {
        let added = field.len() + value.len();
        let field_len = field.len();
        let old = self.map.insert(field, value);
        match &old {
            Some(v) => self.bytes = self.bytes + added - field_len - v.len(),
            None => self.bytes += added,
        }
        old
    }

    /// Sets a field from borrowed bytes; whether it is new. An existing
    /// field keeps its key, and its value's allocation when the length is
    /// the same (HSET over the same field allocates nothing).
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.map.get_mut(field) {
            Some(old) => {
                if old.len() == value.len() {
                    old.copy_from_slice(value);
                } else {
                    self.bytes = self.bytes + value.len() - old.len();
                    *old = value.into();
                }
                false
            }
            None => {
                self.bytes += field.len() + value.len();
                self.map.insert(field.into(), value.into());
                true
            }
        }
    }

    /// Removes a field (moving the last one into its place).
    pub fn swap_remove(&mut self, field: &[u8]) -> Option<Box<[u8]>> {
        let old = self.map.swap_remove(field)?;
        self.bytes -= field.len() + old.len();
        Some(old)
    }

    /// Field and value bytes, without per-field overhead.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A list value: its elements head first, with their bytes kept up to
/// date so measuring it after a write is O(1) (a push onto a list of a
/// million elements must not walk it). Reads go through `Deref` to the
/// deque; writes through the methods below.
#[derive(Debug, Clone, Default)]
pub struct List {
    items: VecDeque<Box<[u8]>>,
    bytes: usize,
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.items == other.items
    }
}

impl std::ops::Deref for List {
    type Target = VecDeque<Box<[u8]>>;
    fn deref(&self) -> &VecDeque<Box<[u8]>> {
        &self.items
    }
}

impl From<VecDeque<Box<[u8]>>> for List {
    fn from(items: VecDeque<Box<[u8]>>) -> List {
        let bytes = items.iter().map(|v| v.len()).sum();
        List { items, bytes }
    }
}

impl List {
    /// Adds an element at the head.
    pub fn push_front(&mut self, item: Box<[u8]>) {
        self.bytes += item.len();
        self.items.push_front(item);
    }

    /// Adds an element at the tail.
    pub fn push_back(&mut self, item: Box<[u8]>) {
        self.bytes += item.len();
        self.items.push_back(item);
    }

    /// Removes the head element.
    pub fn pop_front(&mut self) -> Option<Box<[u8]>> {
        let item = self.items.pop_front()?;
        self.bytes -= item.len();
        Some(item)
    }

    /// Removes the tail element.
    pub fn pop_back(&mut self) -> Option<Box<[u8]>> {
        let item = self.items.pop_back()?;
        self.bytes -= item.len();
        Some(item)
    }

    /// Inserts an element before position `at` (at most the length).
    pub fn insert(&mut self, at: usize, item: Box<[u8]>) {
        self.bytes += item.len();
        self.items.insert(at, item);
    }

    /// Replaces the element at `at` (in range).
    pub fn set(&mut self, at: usize, item: Box<[u8]>) {
        self.bytes = self.bytes + item.len() - self.items[at].len();
        self.items[at] = item;
    }

    /// Takes every element out, leaving the list empty.
    pub fn take(&mut self) -> VecDeque<Box<[u8]>> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }

    /// Keeps the elements from `start` to `stop` inclusive (in range,
    /// `start <= stop`).
    pub fn keep_range(&mut self, start: usize, stop: usize) {
        let removed: usize = self.items.range(stop + 1..).map(|v| v.len()).sum::<usize>()
            + self.items.range(..start).map(|v| v.len()).sum::<usize>();
        self.items.truncate(stop + 1);
        self.items.drain(..start);
        self.bytes -= removed;
    }

    /// Element bytes, without per-element overhead.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The names [`Value::type_name`] gives, one per variant: the types TYPE
/// answers and SCAN's TYPE filter can match (`agora cache scan --type`
/// accepts only these).
pub const TYPE_NAMES: [&str; 6] = ["string", "list", "hash", "set", "zset", "stream"];

impl Value {
    /// Redis's name for the type, as TYPE answers (one of [`TYPE_NAMES`]).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate bytes held by the value, O(1): every container keeps a
    /// running count of its elements' bytes (it is re-measured after each
    /// write to it).
    pub fn mem_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Hash(h) => h.bytes() + 48 * h.len(),
            Value::List(l) => l.bytes() + 24 * l.len(),
            Value::Set(s) => s.bytes,
            Value::ZSet(z) => z.mem_size(),
            Value::Stream(s) => s.mem_size(),
        }
    }
}

/// One key's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in ms since the epoch; 0 means no expiry.
    pub expire_at: u64,
    /// LRU clock (seconds) or LFU state (minutes << 8 | log counter),
    /// depending on the eviction policy.
    access: u32,
    /// The size this entry was last accounted at.
    size: u32,
}

impl Entry {
    /// A new entry without expiry.
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_at: 0,
            access: 0,
            size: 0,
        }
    }

    /// The LRU clock or LFU state, for tests that check it is left alone.
    #[cfg(test)]
    pub(crate) fn access(&self) -> u32 {
        self.access
    }

    /// A new entry expiring at `expire_at` (0 = never).
    pub fn with_expiry(value: Value, expire_at: u64) -> Entry {
        Entry {
            expire_at,
            ..Entry::new(value)
        }
    }

    /// Seconds since the last access (OBJECT IDLETIME), under an LRU
    /// policy's clock.
    pub fn idle_secs(&self, now_ms: u64) -> u64 {
        u64::from(lru_clock(now_ms).wrapping_sub(self.access))
    }

    /// The LFU counter decayed to now (OBJECT FREQ), under an LFU policy.
    pub fn freq(&self, now_ms: u64) -> u8 {
        lfu_decayed(self.access, now_ms)
    }

    /// The bytes this entry is accounted for (MEMORY USAGE).
    pub fn accounted_size(&self) -> u32 {
        self.size
    }

    /// Whether the entry has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

/// How keys are chosen for eviction when memory is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Refuse writes with an OOM error.
    #[default]
    NoEviction,
    /// Evict the least recently used of any key.
    AllKeysLru,
    /// Evict the least recently used of keys with a TTL.
    VolatileLru,
    /// Evict the least frequently used of any key.
    AllKeysLfu,
    /// Evict the key with the nearest expiry.
    VolatileTtl,
    /// Evict any key at random.
    AllKeysRandom,
    /// Evict a key with a TTL at random.
    VolatileRandom,
    /// Evict the least frequently used of keys with a TTL.
    VolatileLfu,
}

impl Policy {
    /// Every policy, in the order CONFIG's error lists them.
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::VolatileLru,
        Policy::AllKeysLfu,
        Policy::VolatileTtl,
        Policy::AllKeysRandom,
        Policy::VolatileRandom,
        Policy::VolatileLfu,
    ];

    /// Parses Redis's policy names (`allkeys-lru`, …).
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-lfu" => Policy::VolatileLfu,
            _ => return None,
        })
    }

    /// Redis's name for the policy.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::VolatileLru => "volatile-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileLfu => "volatile-lfu",
        }
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileTtl
                | Policy::VolatileRandom
                | Policy::VolatileLfu
        )
    }

    /// Whether keys keep LFU counters (rather than LRU clocks).
    fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// How a read counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Counts a keyspace hit or miss and refreshes the key's LRU/LFU data:
    /// every ordinary command.
    #[default]
    Counted,
    /// Counts nothing and leaves the key's LRU/LFU data alone: a monitoring
    /// tool looking (the TUI's Cache tab), which should not change the
    /// figures it shows nor which keys get evicted.
    Quiet,
}

/// Counters shared by all shards (and read by INFO).
#[derive(Debug, Default)]
pub struct Counters {
    /// Approximate bytes used by keys and values.
    pub used: Striped<AtomicI64>,
    /// Keys removed because their TTL passed.
    pub expired: AtomicU64,
    /// Keys evicted for memory.
    pub evicted: AtomicU64,
    /// Lookups that found a key.
    pub hits: Striped<AtomicU64>,
    /// Lookups that found nothing.
    pub misses: Striped<AtomicU64>,
    /// The memory limit in bytes (0 = none): settable at run time.
    max_memory: AtomicU64,
    /// The eviction policy, as its position in [`Policy::ALL`].
    policy: AtomicU8,
    /// Whether keys removed by expiry or eviction are queued for keyspace
    /// notifications ([`Store::take_removals`]).
    track_removals: std::sync::atomic::AtomicBool,
    /// What the server uses besides keys (an estimate: a base plus the
    /// connections' buffers; 0 unless set), counted in `used_memory`
    /// as Redis counts its overhead.
    overhead: AtomicI64,
    /// The same for CLIENT TRACKING's invalidations.
    pub track_removals_for_tracking: std::sync::atomic::AtomicBool,
    /// The queue (database, key, evicted rather than expired).
    removals: Mutex<Vec<Removal>>,
}

/// A key that expired or was evicted, for keyspace notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Its database.
    pub db: usize,
    /// The key.
    pub key: Box<[u8]>,
    /// Evicted for memory (`evicted`) rather than expired (`expired`).
    pub evicted: bool,
}

impl Counters {
    fn note_removal(&self, db: usize, key: Box<[u8]>, evicted: bool) {
        if self.track_removals.load(Ordering::Relaxed)
            || self.track_removals_for_tracking.load(Ordering::Relaxed)
        {
            self.removals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Removal { db, key, evicted });
        }
    }
}

impl Counters {
    /// The eviction policy now.
    pub fn policy(&self) -> Policy {
        Policy::ALL[usize::from(self.policy.load(Ordering::Relaxed)) % Policy::ALL.len()]
    }

    fn set_policy(&self, policy: Policy) {
        let idx = Policy::ALL.iter().position(|p| *p == policy).unwrap_or(0);
        self.policy.store(idx as u8, Ordering::Relaxed);
    }

    fn set_max_memory(&self, max: usize) {
        self.max_memory.store(max as u64, Ordering::Relaxed);
    }
}

/// An atomic counter split into one cache line per shard, so the two
/// cores do not fight over one line on every request; reads add the
/// stripes up.
#[derive(Debug, Default)]
pub struct Striped<A>([Padded<A>; SHARDS]);

/// One stripe, alone on its cache line(s).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<A>(A);

impl Striped<AtomicU64> {
    /// Adds `n` to shard `shard`'s stripe.
    pub fn add(&self, shard: usize, n: u64) {
        self.0[shard % SHARDS].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total.
    pub fn load(&self, order: Ordering) -> u64 {
        self.0.iter().map(|p| p.0.load(order)).sum()
    }
}

impl Striped<AtomicI64> {
    /// Adds `n` to shard `shard`'s stripe.
    pub fn add(&self, shard: usize, n: i64) {
        self.0[shard % SHARDS].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total.
    pub fn load(&self, order: Ordering) -> i64 {
        self.0.iter().map(|p| p.0.load(order)).sum()
    }
}

/// One shard of the keyspace. Reached through [`Store::lock`].
pub struct Shard {
    map: IndexMap<Box<[u8]>, Entry, RandomState>,
    /// Keys that have a TTL (for sampling and INFO's `expires=`).
    volatile: usize,
    counters: Arc<Counters>,
    rng: u64,
    /// This shard's position, its stripe of the counters.
    idx: usize,
    /// Its database's index.
    db: usize,
}

/// The LFU counter a new key starts with (Redis's LFU_INIT_VAL).
const LFU_INIT: u32 = 5;

impl Shard {
    fn new(counters: Arc<Counters>, seed: u64, idx: usize, db: usize) -> Shard {
        Shard {
            idx,
            db,
            map: IndexMap::with_hasher(RandomState::default()),
            volatile: 0,
            counters,
            rng: seed | 1,
        }
    }

    /// Number of keys (expired ones not yet collected included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the shard holds no key.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Looks a key up for reading or changing in place, deleting it first
    /// if it has expired (lazy expiry). A [`Access::Counted`] lookup
    /// counts a hit or a miss and touches the key's access clock (LRU/LFU);
    /// a [`Access::Quiet`] one does neither.
    pub fn get(&mut self, key: &[u8], now_ms: u64, access: Access) -> Option<&mut Entry> {
        let idx = self.locate(key, now_ms, access)?;
        Some(&mut self.map[idx])
    }

    /// [`Shard::get`]'s lookup, answering the key's position instead: a
    /// command that reads a key and then changes it in place passes the
    /// position to [`Shard::entry_at`] and [`Shard::update_at`] rather
    /// than hashing the key again.
    pub fn locate(&mut self, key: &[u8], now_ms: u64, access: Access) -> Option<usize> {
        let found = self.lookup(key, now_ms);
        if access == Access::Quiet {
            return found;
        }
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.add(self.idx, 1);
        let idx = found?;
        let access = self.touch_value(self.map[idx].access, now_ms);
        self.map[idx].access = access;
        Some(idx)
    }

    /// [`Shard::peek`]'s lookup, answering the key's position (see
    /// [`Shard::locate`]).
    pub fn find(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        self.lookup(key, now_ms)
    }

    /// The entry at a position [`Shard::locate`] or [`Shard::find`]
    /// answered, for reading (a change goes through
    /// [`Shard::update_at`], which re-accounts its size).
    ///
    /// # Panics
    /// If `idx` is out of range: it must come from a lookup on this
    /// shard with no removal since.
    pub fn entry_at(&self, idx: usize) -> &Entry {
        &self.map[idx]
    }

    /// Like [`Shard::get`] but counts no hit/miss and does not touch the
    /// access clock (for EXISTS, TYPE, TTL, SCAN and writes).
    pub fn peek(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let idx = self.lookup(key, now_ms)?;
        Some(&mut self.map[idx])
    }

    /// Index of a live key, removing it if expired.
    fn lookup(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let idx = self.map.get_index_of(key)?;
        if self.map[idx].is_expired(now_ms) {
            let (key, _) = self.remove_at(idx);
            self.counters.expired.fetch_add(1, Ordering::Relaxed);
            self.counters.note_removal(self.db, key, false);
            return None;
        }
        Some(idx)
    }

    /// Inserts or replaces a key, returning the previous live entry.
    pub fn insert(&mut self, key: &[u8], mut entry: Entry, now_ms: u64) -> Option<Entry> {
        entry.size = entry_size(key.len(), &entry.value);
        entry.access = self.new_access(now_ms);
        self.add_used(i64::from(entry.size));
        if entry.expire_at != 0 {
            self.volatile += 1;
        }
        match self.map.get_full_mut(key) {
            Some((_, _, slot)) => {
                let old = std::mem::replace(slot, entry);
                self.forget(&old);
                (!old.is_expired(now_ms)).then_some(old)
            }
            None => {
                self.map.insert(key.into(), entry);
                None
            }
        }
    }

    /// Sets a key to a string, as [`Shard::insert`] of a new string entry
    /// would, but in one lookup, and over the old bytes when the key
    /// already holds a string of the same length (a counter, a token, a
    /// session blob rewritten: no allocation, no free).
    pub fn put_str(&mut self, key: &[u8], value: &[u8], expire_at: u64, now_ms: u64) {
        let access = self.new_access(now_ms);
        if let Some(idx) = self.map.get_index_of(key) {
            return self.update_at(idx, |entry| {
                match &mut entry.value {
                    Value::Str(bytes) if bytes.len() == value.len() => bytes.copy_from_slice(value),
                    other => *other = Value::Str(value.into()),
                }
                entry.expire_at = expire_at;
                entry.access = access;
            });
        }
        let mut entry = Entry::with_expiry(Value::Str(value.into()), expire_at);
        entry.size = entry_size(key.len(), &entry.value);
        entry.access = access;
        self.add_used(i64::from(entry.size));
        if expire_at != 0 {
            self.volatile += 1;
        }
        self.map.insert(key.into(), entry);
    }

    /// A new entry's access state under the current policy.
    fn new_access(&self, now_ms: u64) -> u32 {
        if self.counters.policy().lfu() {
            (lfu_minutes(now_ms) << 8) | LFU_INIT
        } else {
            lru_clock(now_ms)
        }
    }

    /// Removes a live key, returning its entry.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let idx = self.lookup(key, now_ms)?;
        Some(self.remove_at(idx).1)
    }

    /// Changes a live key's value in place and re-accounts its size.
    /// Returns `None` when the key does not exist.
    pub fn update<R>(
        &mut self,
        key: &[u8],
        now_ms: u64,
        change: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        let idx = self.lookup(key, now_ms)?;
        Some(self.update_at(idx, change))
    }

    /// Changes the entry at a position [`Shard::locate`] or
    /// [`Shard::find`] answered (no removal since), re-accounting its
    /// size and TTL count as [`Shard::update`] does.
    pub fn update_at<R>(&mut self, idx: usize, change: impl FnOnce(&mut Entry) -> R) -> R {
        let (key, entry) = self.map.get_index_mut(idx).expect("index from lookup");
        let had_ttl = entry.expire_at != 0;
        let out = change(entry);
        let new_size = entry_size(key.len(), &entry.value);
        let delta = i64::from(new_size) - i64::from(entry.size);
        entry.size = new_size;
        let has_ttl = entry.expire_at != 0;
        self.add_used(delta);
        match (had_ttl, has_ttl) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        out
    }

    /// RESTORE's IDLETIME / FREQ: under an LRU policy sets a live key's
    /// clock `idle_secs` back; under the LFU policy sets its counter.
    pub fn set_access(
        &mut self,
        key: &[u8],
        now_ms: u64,
        idle_secs: Option<u64>,
        freq: Option<u8>,
    ) {
        let Some(idx) = self.lookup(key, now_ms) else {
            return;
        };
        let lfu = self.counters.policy().lfu();
        let entry = &mut self.map[idx];
        match (lfu, idle_secs, freq) {
            (true, _, Some(f)) => entry.access = (lfu_minutes(now_ms) << 8) | u32::from(f),
            (false, Some(idle), _) => {
                let idle = u32::try_from(idle).unwrap_or(u32::MAX);
                entry.access = lru_clock(now_ms).saturating_sub(idle);
            }
            _ => {}
        }
    }

    /// Sets or clears (0) a live key's expiry. Returns false if missing.
    pub fn set_expiry(&mut self, key: &[u8], expire_at: u64, now_ms: u64) -> bool {
        self.update(key, now_ms, |e| e.expire_at = expire_at)
            .is_some()
    }

    /// Deletes every key.
    pub fn clear(&mut self) {
        let used: i64 = self.map.values().map(|e| i64::from(e.size)).sum();
        self.add_used(-used);
        self.map = IndexMap::with_hasher(RandomState::default());
        self.volatile = 0;
    }

    /// Exchanges keys with `other` (the same shard of another database):
    /// the memory account is shared, so nothing is re-counted.
    fn swap_contents(&mut self, other: &mut Shard) {
        std::mem::swap(&mut self.map, &mut other.map);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
    }

    /// The key and entry at a position (for SCAN and snapshots), expired
    /// or not.
    pub fn get_index(&self, idx: usize) -> Option<(&[u8], &Entry)> {
        self.map.get_index(idx).map(|(k, e)| (&**k, e))
    }

    /// Iterates over all entries, expired ones included.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map.iter().map(|(k, e)| (&**k, e))
    }

    fn remove_at(&mut self, idx: usize) -> (Box<[u8]>, Entry) {
        let (key, entry) = self.map.swap_remove_index(idx).expect("index in range");
        self.forget(&entry);
        (key, entry)
    }

    /// Un-accounts an entry that left the map.
    fn forget(&mut self, entry: &Entry) {
        self.add_used(-i64::from(entry.size));
        if entry.expire_at != 0 {
            self.volatile -= 1;
        }
    }

    fn add_used(&self, delta: i64) {
        if delta != 0 {
            self.counters.used.add(self.idx, delta);
        }
    }

    /// A cheap xorshift: sampling needs speed, not quality.
    fn next_rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn random_index(&mut self) -> Option<usize> {
        let len = self.map.len();
        (len > 0).then(|| (self.next_rand() % len as u64) as usize)
    }

    /// A random live key, if any (RANDOMKEY). Expired keys met on the way
    /// are collected.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Box<[u8]>> {
        for _ in 0..100 {
            let idx = self.random_index()?;
            if self.map[idx].is_expired(now_ms) {
                self.remove_at(idx);
                self.counters.expired.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return self.map.get_index(idx).map(|(k, _)| k.clone());
        }
        None
    }

    /// One round of active expiry: samples up to `samples` keys that have
    /// a TTL and deletes the expired ones. Returns (sampled, expired).
    ///
    /// Keys with a TTL are found by probing random positions; probes are
    /// capped so a shard with few volatile keys among many costs little
    /// (lazy expiry still catches those on access).
    pub fn expire_round(&mut self, now_ms: u64, samples: usize) -> (usize, usize) {
        if self.volatile == 0 {
            return (0, 0);
        }
        let density = self.map.len() / self.volatile.max(1);
        let max_probes = (samples * density.max(1)).min(samples * 20);
        let (mut sampled, mut expired) = (0, 0);
        for _ in 0..max_probes {
            if sampled >= samples || self.volatile == 0 {
                break;
            }
            let Some(idx) = self.random_index() else {
                break;
            };
            let entry = &self.map[idx];
            if entry.expire_at == 0 {
                continue;
            }
            sampled += 1;
            if entry.is_expired(now_ms) {
                let (key, _) = self.remove_at(idx);
                self.counters.expired.fetch_add(1, Ordering::Relaxed);
                self.counters.note_removal(self.db, key, false);
                expired += 1;
            }
        }
        (sampled, expired)
    }

    /// The best eviction candidate among up to `samples` random keys:
    /// (score, key), higher score = better to evict.
    fn eviction_candidate(&mut self, now_ms: u64, samples: usize) -> Option<(u64, Box<[u8]>)> {
        let mut best: Option<(u64, usize)> = None;
        let policy = self.counters.policy();
        let probes = if policy.volatile_only() {
            samples * 10
        } else {
            samples
        };
        let mut seen = 0;
        for _ in 0..probes {
            if seen >= samples {
                break;
            }
            let idx = self.random_index()?;
            let entry = &self.map[idx];
            if policy.volatile_only() && entry.expire_at == 0 {
                continue;
            }
            seen += 1;
            let score = match policy {
                Policy::NoEviction => return None,
                Policy::AllKeysLru | Policy::VolatileLru => {
                    u64::from(lru_clock(now_ms).wrapping_sub(entry.access))
                }
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - u64::from(lfu_decayed(entry.access, now_ms))
                }
                Policy::VolatileTtl => u64::MAX - entry.expire_at,
                // The sample is random already: its first key.
                Policy::AllKeysRandom | Policy::VolatileRandom => 1,
            };
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, idx));
            }
        }
        let (score, idx) = best?;
        Some((score, self.map.get_index(idx)?.0.clone()))
    }

    /// The access value after an access now, per the policy.
    fn touch_value(&mut self, old: u32, now_ms: u64) -> u32 {
        if !self.counters.policy().lfu() {
            return lru_clock(now_ms);
        }
        let mut counter = lfu_decayed(old, now_ms);
        // Redis's LFULogIncr with lfu-log-factor 10: the counter grows
        // logarithmically with accesses.
        if counter < 255 {
            let base = f64::from(counter.saturating_sub(LFU_INIT as u8));
            let p = 1.0 / (base * 10.0 + 1.0);
            let r = (self.next_rand() >> 11) as f64 / (1u64 << 53) as f64;
            if r < p {
                counter += 1;
            }
        }
        (lfu_minutes(now_ms) << 8) | u32::from(counter)
    }
}

/// Seconds clock for LRU (wraps after 136 years).
fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xff_ffff) as u32
}

/// The LFU counter after decaying one per idle minute (lfu-decay-time 1).
fn lfu_decayed(access: u32, now_ms: u64) -> u8 {
    let counter = (access & 0xff) as u8;
    let last = access >> 8;
    let elapsed = lfu_minutes(now_ms).wrapping_sub(last) & 0xff_ffff;
    counter.saturating_sub(elapsed.min(255) as u8)
}

/// The accounted size of an entry.
fn entry_size(key_len: usize, value: &Value) -> u32 {
    let size = key_len + value.mem_size() + ENTRY_OVERHEAD;
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// How many databases there are (Redis's `databases` default): SELECT,
/// MOVE, SWAPDB and COPY … DB take an index below it.
pub const DATABASES: usize = 16;

/// One database: its keys spread over [`SHARDS`] locked shards. Every
/// database of a [`Store`] hashes keys the same way, so shard `i` of one
/// database and shard `i` of another hold the same keys' slots (which is
/// what lets SWAPDB swap them shard by shard).
pub struct Db {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    index: usize,
}

impl Db {
    fn new(index: usize, counters: &Arc<Counters>, seed: u64, hasher: RandomState) -> Db {
        let shards = (0..SHARDS as u64)
            .map(|i| {
                Mutex::new(Shard::new(
                    counters.clone(),
                    seed.wrapping_mul(i + 1 + 17 * index as u64),
                    i as usize,
                    index,
                ))
            })
            .collect();
        Db {
            shards,
            hasher,
            index,
        }
    }

    /// This database's index (SELECT's argument).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The shard a key lives in.
    pub fn shard_of(&self, key: &[u8]) -> usize {
        use std::hash::BuildHasher as _;
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    /// Locks shard `idx`. A poisoned lock is taken over: every shard
    /// method leaves the map consistent between statements that can panic.
    pub fn lock(&self, idx: usize) -> MutexGuard<'_, Shard> {
        self.shards[idx % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the shard holding `key`.
    pub fn lock_key(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.lock(self.shard_of(key))
    }

    /// Locks every shard any of `keys` lives in, in index order (so
    /// concurrent multi-key commands cannot deadlock). Index `i` of the
    /// result holds shard `i` if it was needed.
    pub fn lock_keys<'a>(
        &'a self,
        keys: impl Iterator<Item = &'a [u8]>,
    ) -> [Option<MutexGuard<'a, Shard>>; SHARDS] {
        let mut wanted = [false; SHARDS];
        for key in keys {
            wanted[self.shard_of(key)] = true;
        }
        // An array, not a Vec: MSET takes this path on every call.
        let mut guards = [const { None }; SHARDS];
        for (i, slot) in guards.iter_mut().enumerate() {
            if wanted[i] {
                *slot = Some(self.lock(i));
            }
        }
        guards
    }

    /// Number of live-or-not-yet-collected keys, and how many have a TTL.
    pub fn len(&self) -> (usize, usize) {
        (0..SHARDS).fold((0, 0), |(n, v), i| {
            let shard = self.lock(i);
            (n + shard.len(), v + shard.volatile())
        })
    }

    /// Deletes every key of this database (FLUSHDB).
    pub fn clear(&self) {
        for i in 0..SHARDS {
            self.lock(i).clear();
        }
    }
}

/// The keyspace: [`DATABASES`] databases sharing one memory account,
/// limit and eviction policy. See the module documentation.
///
/// This is the interface a cluster router would sit in front of: every
/// operation names its database and key(s) and goes through
/// [`Db::shard_of`].
pub struct Store {
    dbs: Box<[Db]>,
    counters: Arc<Counters>,
}

impl Store {
    /// An empty keyspace; `max_memory` 0 means unlimited.
    pub fn new(max_memory: usize, policy: Policy) -> Store {
        let counters = Counters::default();
        counters.set_max_memory(max_memory);
        counters.set_policy(policy);
        let counters = Arc::new(counters);
        let seed = crate::now_ms() ^ 0x9e37_79b9_7f4a_7c15;
        let hasher = RandomState::default();
        let dbs = (0..DATABASES)
            .map(|i| Db::new(i, &counters, seed, hasher.clone()))
            .collect();
        Store { dbs, counters }
    }

    /// Starts or stops queueing the keys that expire or are evicted
    /// (when `expired`/`evicted` keyspace events are wanted).
    pub fn track_removals(&self, on: bool) {
        self.counters.track_removals.store(on, Ordering::Relaxed);
        if !on {
            self.take_removals();
        }
    }

    /// The keys that expired or were evicted since the last call (empty
    /// unless [`Store::track_removals`] is on).
    pub fn take_removals(&self) -> Vec<Removal> {
        if !self.counters.track_removals.load(Ordering::Relaxed)
            && !self
                .counters
                .track_removals_for_tracking
                .load(Ordering::Relaxed)
        {
            return Vec::new();
        }
        std::mem::take(
            &mut *self
                .counters
                .removals
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Database `index` (below [`DATABASES`]; larger indexes wrap, callers
    /// check the range first).
    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index % DATABASES]
    }

    /// Every database, in index order.
    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// Swaps the contents of two databases (SWAPDB): locks shard `i` of
    /// both, lower database first, and swaps them, for each `i` in turn.
    pub fn swap(&self, a: usize, b: usize) {
        let (a, b) = (a.min(b) % DATABASES, a.max(b) % DATABASES);
        if a == b {
            return;
        }
        for i in 0..SHARDS {
            let mut first = self.dbs[a].lock(i);
            let mut second = self.dbs[b].lock(i);
            first.swap_contents(&mut second);
        }
    }

    /// Shared counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Approximate bytes in use.
    pub fn used_memory(&self) -> u64 {
        (self.counters.used.load(Ordering::Relaxed)
            + self.counters.overhead.load(Ordering::Relaxed))
        .max(0) as u64
    }

    /// The part of [`Store::used_memory`] that is not keys and values.
    pub fn overhead(&self) -> u64 {
        self.counters.overhead.load(Ordering::Relaxed).max(0) as u64
    }

    /// Adds to (or with a negative `bytes`, takes from) the overhead
    /// estimate.
    pub fn add_overhead(&self, bytes: i64) {
        self.counters.overhead.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The memory limit (0 = none).
    pub fn max_memory(&self) -> usize {
        self.counters.max_memory.load(Ordering::Relaxed) as usize
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        self.counters.policy()
    }

    /// Changes the memory limit (CONFIG SET maxmemory); the next write
    /// evicts down to it.
    pub fn set_max_memory(&self, max: usize) {
        self.counters.set_max_memory(max);
    }

    /// Changes the eviction policy (CONFIG SET maxmemory-policy).
    pub fn set_policy(&self, policy: Policy) {
        self.counters.set_policy(policy);
    }

    /// Number of keys in all databases, and how many have a TTL.
    pub fn len(&self) -> (usize, usize) {
        self.dbs.iter().fold((0, 0), |(n, v), db| {
            let (k, e) = db.len();
            (n + k, v + e)
        })
    }

    /// Deletes every key of every database (FLUSHALL).
    pub fn clear(&self) {
        for db in self.dbs.iter() {
            db.clear();
        }
    }

    /// Makes room before a write: while memory is over the limit, evicts
    /// keys by the policy (sampling 5 keys per shard probed, like Redis's
    /// maxmemory-samples). Fails when over the limit and nothing can be
    /// evicted (or the policy is noeviction).
    pub fn make_room(&self, now_ms: u64) -> Result<(), OutOfMemory> {
        let max_memory = self.max_memory();
        if max_memory == 0 {
            return Ok(());
        }
        let mut start = (now_ms as usize).wrapping_mul(7) % (SHARDS * DATABASES);
        // Bounded: each round frees one key; give up after many fruitless
        // rounds rather than spin under the lock-free counter.
        for _ in 0..1024 {
            if self.used_memory() <= max_memory as u64 {
                return Ok(());
            }
            if self.policy() == Policy::NoEviction {
                return Err(OutOfMemory);
            }
            // Sample a few non-empty shards of any database, keep the best
            // candidate across them. Positions run shard-major so the
            // shards of one database are not all probed before another's.
            let mut best: Option<(u64, usize, usize, Box<[u8]>)> = None;
            let mut sampled = 0;
            for probe in 0..SHARDS * DATABASES {
                let pos = (start + probe) % (SHARDS * DATABASES);
                let (idx, db) = (pos / DATABASES, pos % DATABASES);
                let mut shard = self.dbs[db].lock(idx);
                if shard.is_empty() {
                    continue;
                }
                sampled += 1;
                let candidate = shard.eviction_candidate(now_ms, 5);
                drop(shard);
                if let Some((score, key)) = candidate
                    && best.as_ref().is_none_or(|(s, _, _, _)| score > *s)
                {
                    best = Some((score, db, idx, key));
                }
                if best.is_some() && sampled >= 3 {
                    break;
                }
            }
            start = (start + 3 * DATABASES + 1) % (SHARDS * DATABASES);
            let Some((_, db, idx, key)) = best else {
                return Err(OutOfMemory);
            };
            let mut shard = self.dbs[db].lock(idx);
            if let Some(pos) = shard.map.get_index_of(&*key) {
                let (key, _) = shard.remove_at(pos);
                self.counters.evicted.fetch_add(1, Ordering::Relaxed);
                self.counters.note_removal(db, key, true);
            }
        }
        if self.used_memory() <= max_memory as u64 {
            Ok(())
        } else {
            Err(OutOfMemory)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn set_keeps_its_byte_count() {
        let mut set = super::Set::default();
        assert!(set.insert(b"abc"));
        assert!(!set.insert(b"abc"));
        assert!(set.insert(b"de"));
        assert_eq!(
            super::Value::Set(Box::new(set.clone())).mem_size(),
            5 + 2 * super::SET_MEMBER_OVERHEAD
        );
        assert!(set.remove(b"abc"));
        assert!(!set.remove(b"abc"));
        assert_eq!(set.swap_remove_index(0).as_deref(), Some(&b"de"[..]));
        assert!(set.is_empty());
        assert_eq!(super::Value::Set(Box::new(set)).mem_size(), 0);
    }

    #[test]
    fn every_type_name_is_listed() {
        use super::{TYPE_NAMES, Value};
        let values = [
            Value::Str(Box::default()),
            Value::List(Box::default()),
            Value::Hash(Box::default()),
            Value::Set(Box::default()),
            Value::ZSet(Box::default()),
            Value::Stream(Box::default()),
        ];
        let names: Vec<&str> = values.iter().map(Value::type_name).collect();
        assert_eq!(names, TYPE_NAMES);
    }

    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.as_bytes().into())
    }

    #[test]
    fn striped_counters_add_up_across_shards() {
        let counters = Counters::default();
        for shard in 0..SHARDS {
            counters.hits.add(shard, shard as u64);
            counters.used.add(shard, 10);
        }
        counters.used.add(3, -25);
        assert_eq!(
            counters.hits.load(Ordering::Relaxed),
            (0..SHARDS as u64).sum::<u64>()
        );
        assert_eq!(
            counters.used.load(Ordering::Relaxed),
            10 * SHARDS as i64 - 25
        );
    }

    #[test]
    fn insert_get_remove_and_accounting() {
        let store = Store::new(0, Policy::NoEviction);
        let mut shard = store.db(0).lock_key(b"k");
        assert!(shard.insert(b"k", Entry::new(s("v")), 0).is_none());
        drop(shard);
        assert_eq!(store.used_memory(), (1 + 1 + ENTRY_OVERHEAD) as u64);
        let mut shard = store.db(0).lock_key(b"k");
        assert_eq!(shard.get(b"k", 0, Access::Counted).unwrap().value, s("v"));
        shard.update(b"k", 0, |e| e.value = s("longer")).unwrap();
        assert!(shard.remove(b"k", 0).is_some());
        drop(shard);
        assert_eq!(store.used_memory(), 0);
        assert_eq!(store.counters().hits.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn put_str_overwrites_in_place_and_accounts_as_insert_does() {
        let store = Store::new(0, Policy::NoEviction);
        let mut shard = store.db(0).lock_key(b"k");
        shard.put_str(b"k", b"abc", 0, 0);
        let first = shard.peek(b"k", 0).map(|e| match &e.value {
            Value::Str(b) => b.as_ptr(),
            _ => unreachable!(),
        });
        // Same length: the same bytes, rewritten; a TTL is counted.
        shard.put_str(b"k", b"xyz", 500, 0);
        let entry = shard.peek(b"k", 0).unwrap();
        assert_eq!(entry.value, s("xyz"));
        assert_eq!(entry.expire_at, 500);
        assert_eq!(
            Some(match &entry.value {
                Value::Str(b) => b.as_ptr(),
                _ => unreachable!(),
            }),
            first
        );
        assert_eq!(shard.volatile(), 1);
        // Another length, and no TTL: replaced and re-accounted.
        shard.put_str(b"k", b"longer", 0, 0);
        assert_eq!(shard.peek(b"k", 0).unwrap().value, s("longer"));
        assert_eq!(shard.volatile(), 0);
        // Over another type: a string now.
        shard.insert(b"h", Entry::new(Value::Hash(Box::default())), 0);
        shard.put_str(b"h", b"v", 0, 0);
        assert_eq!(shard.peek(b"h", 0).unwrap().value, s("v"));
        drop(shard);
        assert_eq!(
            store.used_memory(),
            (1 + 6 + ENTRY_OVERHEAD + 1 + 1 + ENTRY_OVERHEAD) as u64
        );
        let mut shard = store.db(0).lock_key(b"k");
        shard.remove(b"k", 0);
        shard.remove(b"h", 0);
        drop(shard);
        assert_eq!(store.used_memory(), 0);
    }

    #[test]
    fn a_position_found_once_reads_and_changes_the_key() {
        let store = Store::new(0, Policy::NoEviction);
        let mut shard = store.db(0).lock_key(b"k");
        shard.insert(b"k", Entry::with_expiry(s("v"), 1000), 0);
        // `find` counts nothing; `locate` counts a hit (or a miss).
        let idx = shard.find(b"k", 0).unwrap();
        assert_eq!(shard.entry_at(idx).value, s("v"));
        assert_eq!(shard.locate(b"k", 0, Access::Counted), Some(idx));
        assert_eq!(shard.locate(b"nope", 0, Access::Counted), None);
        assert_eq!(shard.locate(b"k", 0, Access::Quiet), Some(idx));
        // A change at the position is re-accounted, its TTL count too.
        shard.update_at(idx, |e| {
            e.value = s("longer");
            e.expire_at = 0;
        });
        assert_eq!(shard.volatile(), 0);
        drop(shard);
        assert_eq!(store.used_memory(), (1 + 6 + ENTRY_OVERHEAD) as u64);
        assert_eq!(store.counters().hits.load(Ordering::Relaxed), 1);
        assert_eq!(store.counters().misses.load(Ordering::Relaxed), 1);
        // An expired key has no position (and is removed).
        let mut shard = store.db(0).lock_key(b"k");
        shard.update_at(idx, |e| e.expire_at = 10);
        assert_eq!(shard.find(b"k", 10), None);
        assert_eq!(shard.len(), 0);
        drop(shard);
        assert_eq!(store.used_memory(), 0);
    }

    #[test]
    fn hash_set_reuses_the_field_and_keeps_its_byte_count() {
        let mut hash = Hash::default();
        assert!(hash.set(b"f", b"abc"));
        assert!(!hash.set(b"f", b"xyz"), "same length, in place");
        assert!(!hash.set(b"f", b"longer"));
        assert!(hash.set(b"g", b""));
        assert_eq!(hash.get(&b"f"[..]).map(|v| &v[..]), Some(&b"longer"[..]));
        assert_eq!(hash.len(), 2);
        assert_eq!(hash.bytes(), 1 + 6 + 1);
        assert!(!hash.set(b"f", b"x"));
        assert_eq!(hash.bytes(), 1 + 1 + 1);
    }

    #[test]
    fn expired_key_is_gone_on_access() {
        let store = Store::new(0, Policy::NoEviction);
        let mut shard = store.db(0).lock_key(b"k");
        shard.insert(b"k", Entry::with_expiry(s("v"), 1000), 0);
        assert_eq!(shard.volatile(), 1);
        assert!(shard.get(b"k", 999, Access::Counted).is_some());
        assert!(shard.get(b"k", 1000, Access::Counted).is_none());
        assert_eq!(shard.len(), 0);
        assert_eq!(shard.volatile(), 0);
        drop(shard);
        assert_eq!(store.counters().expired.load(Ordering::Relaxed), 1);
        assert_eq!(store.used_memory(), 0);
    }

    #[test]
    fn expire_round_collects_expired_keys() {
        let store = Store::new(0, Policy::NoEviction);
        let mut shard = store.db(0).lock(0);
        for i in 0..100u32 {
            let key = i.to_be_bytes();
            let at = if i % 2 == 0 { 10 } else { 0 };
            shard.insert(&key, Entry::with_expiry(s("v"), at), 0);
        }
        let mut total = 0;
        for _ in 0..100 {
            total += shard.expire_round(20, 20).1;
        }
        assert_eq!(total, 50);
        assert_eq!(shard.len(), 50);
        assert_eq!(shard.volatile(), 0);
    }

    fn fill(store: &Store, n: u32, ttl_every: u32) {
        for i in 0..n {
            let key = format!("key:{i}");
            let at = if ttl_every > 0 && i % ttl_every == 0 {
                1_000_000 + u64::from(i)
            } else {
                0
            };
            store.make_room(0).ok();
            store.db(0).lock_key(key.as_bytes()).insert(
                key.as_bytes(),
                Entry::with_expiry(s("0123456789"), at),
                0,
            );
        }
    }

    #[test]
    fn noeviction_refuses_when_over() {
        let store = Store::new(1000, Policy::NoEviction);
        fill(&store, 20, 0);
        assert_eq!(store.make_room(0), Err(OutOfMemory));
    }

    #[test]
    fn allkeys_lru_evicts_down_to_the_limit() {
        let store = Store::new(10_000, Policy::AllKeysLru);
        fill(&store, 500, 0);
        assert!(store.make_room(0).is_ok());
        assert!(store.used_memory() <= 10_000);
        assert!(store.counters().evicted.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn volatile_policies_evict_only_keys_with_ttl() {
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileTtl,
            Policy::VolatileRandom,
            Policy::VolatileLfu,
        ] {
            let store = Store::new(20_000, policy);
            fill(&store, 400, 2);
            let (keys, volatile) = store.len();
            // Every key without a TTL survived.
            assert_eq!(keys - volatile, 200, "{policy:?}");
            // Once only non-volatile keys remain, writes fail.
            let store = Store::new(1_000, policy);
            fill(&store, 50, 0);
            assert_eq!(store.make_room(0), Err(OutOfMemory));
        }
    }

    #[test]
    fn lfu_keeps_frequently_used_keys() {
        let store = Store::new(0, Policy::AllKeysLfu);
        let mut shard = store.db(0).lock(0);
        shard.insert(b"hot", Entry::new(s("v")), 0);
        shard.insert(b"cold", Entry::new(s("v")), 0);
        for _ in 0..1000 {
            shard.get(b"hot", 0, Access::Counted);
        }
        let hot = shard.peek(b"hot", 0).unwrap().access & 0xff;
        let cold = shard.peek(b"cold", 0).unwrap().access & 0xff;
        assert!(hot > cold, "{hot} > {cold}");
        // A day idle decays the counter.
        assert!(lfu_decayed(shard.peek(b"hot", 0).unwrap().access, 86_400_000) < hot as u8);
    }

    #[test]
    fn quiet_lookups_count_nothing_and_leave_the_access_clock() {
        for policy in [Policy::AllKeysLru, Policy::AllKeysLfu] {
            let store = Store::new(0, policy);
            let mut shard = store.db(0).lock(0);
            shard.insert(b"k", Entry::new(s("v")), 0);
            let before = shard.peek(b"k", 0).unwrap().access;
            let later = 3_600_000;
            for _ in 0..100 {
                assert!(shard.get(b"k", later, Access::Quiet).is_some());
                assert!(shard.get(b"nope", later, Access::Quiet).is_none());
            }
            assert_eq!(shard.peek(b"k", later).unwrap().access, before);
            let counters = store.counters();
            assert_eq!(counters.hits.load(Ordering::Relaxed), 0);
            assert_eq!(counters.misses.load(Ordering::Relaxed), 0);
            shard.get(b"k", later, Access::Counted);
            assert_ne!(shard.peek(b"k", later).unwrap().access, before);
            assert_eq!(counters.hits.load(Ordering::Relaxed), 1);
        }
    }

    #[test]
    fn policies_parse_by_redis_name() {
        for p in [
            Policy::NoEviction,
            Policy::AllKeysLru,
            Policy::VolatileLru,
            Policy::AllKeysLfu,
            Policy::VolatileTtl,
        ] {
            assert_eq!(Policy::parse(p.name()), Some(p));
        }
        assert_eq!(Policy::parse("bogus"), None);
    }
}
