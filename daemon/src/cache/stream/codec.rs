//! The snapshot and DUMP encoding of a stream (little-endian; byte
//! strings are a u32 length and the bytes; an ID is two u64): last ID,
//! first ID, entries added, max deleted ID; the entry count, then each
//! entry's ID, field count and fields; the group count, then each
//! group's name, last ID, entries read (`u64::MAX`: unknown), its
//! consumers (count, then name and seen time each) and its PEL (count,
//! then ID, owner, delivery time and count each).

use super::{Consumer, Group, NodeLimits, Pending, Stream, StreamId};

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}
fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}
fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_u64(out, id.ms);
    put_u64(out, id.seq);
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len());
    out.extend_from_slice(b);
}

/// Appends `s`'s encoding to `out`.
pub fn encode(out: &mut Vec<u8>, s: &Stream) {
    put_id(out, s.last_id);
    put_id(out, s.first_id);
    put_u64(out, s.entries_added);
    put_id(out, s.max_deleted);
    put_u32(out, s.len());
    for (id, fields) in s.entries() {
        put_id(out, id);
        put_u32(out, fields.len());
        for f in fields.iter() {
            put_bytes(out, f);
        }
    }
    put_u32(out, s.groups.len());
    for (name, g) in &s.groups {
        put_bytes(out, name);
        put_id(out, g.last_id);
        put_u64(out, g.entries_read.unwrap_or(u64::MAX));
        put_u32(out, g.consumers.len());
        for (cname, c) in &g.consumers {
            put_bytes(out, cname);
            put_u64(out, c.seen_time);
        }
        put_u32(out, g.pel.len());
        for (id, n) in &g.pel {
            put_id(out, *id);
            put_bytes(out, &n.consumer);
            put_u64(out, n.delivery_time);
            put_u64(out, n.delivery_count);
        }
    }
}

struct In<'a, 'b>(&'a mut &'b [u8]);

impl In<'_, '_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        *self.0 = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn count(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
    fn id(&mut self) -> Option<StreamId> {
        Some(StreamId::new(self.u64()?, self.u64()?))
    }
    fn bytes(&mut self) -> Option<Box<[u8]>> {
        let n = self.count()?;
        Some(self.take(n)?.into())
    }
}

/// Reads a stream from the front of `bytes` (advancing it); `None`
/// when the encoding is wrong.
pub fn decode(bytes: &mut &[u8]) -> Option<Stream> {
    let mut r = In(bytes);
    let (last_id, first_id, added, max_deleted) = (r.id()?, r.id()?, r.u64()?, r.id()?);
    let mut s = Stream::default();
    for _ in 0..r.count()? {
        let id = r.id()?;
        if s.last_entry().is_some_and(|(last, _)| id <= last) {
            return None;
        }
        let n = r.count()?;
        if n % 2 != 0 || n > bytes_left(&r) {
            return None;
        }
        let fields = (0..n).map(|_| r.bytes()).collect::<Option<Vec<_>>>()?;
        s.append(id, fields.into_boxed_slice(), NodeLimits::default());
    }
    if s.last_entry().is_some_and(|(last, _)| last > last_id) {
        return None;
    }
    s.last_id = last_id;
    s.first_id = first_id;
    s.entries_added = added;
    s.max_deleted = max_deleted;
    for _ in 0..r.count()? {
        let name = r.bytes()?;
        let mut g = Group {
            last_id: r.id()?,
            entries_read: Some(r.u64()?).filter(|n| *n != u64::MAX),
            ..Group::default()
        };
        for _ in 0..r.count()? {
            let cname = r.bytes()?;
            let seen_time = r.u64()?;
            g.consumers.insert(
                cname,
                Consumer {
                    seen_time,
                    ..Consumer::default()
                },
            );
        }
        for _ in 0..r.count()? {
            let id = r.id()?;
            let consumer = r.bytes()?;
            let (delivery_time, delivery_count) = (r.u64()?, r.u64()?);
            g.consumers
                .entry(consumer.clone())
                .or_default()
                .pending
                .insert(id);
            g.pel.insert(
                id,
                Pending {
                    consumer,
                    delivery_time,
                    delivery_count,
                },
            );
        }
        s.groups.insert(name, g);
    }
    Some(s)
}

fn bytes_left(r: &In<'_, '_>) -> usize {
    r.0.len()
}
