//! A key holding one container type, read or changed in place: shared by
//! the list, set and sorted-set commands. Another type is WRONGTYPE; a change
//! may create the key (only if the new value is not empty) and deletes it
//! when the value ends up empty, as Redis never keeps an empty container.

use super::Ctx;
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, List, Set, Shard, Value};
use crate::cache::zset::ZSet;

/// A container value type and its [`Value`] variant.
pub(super) trait Container: Default {
    /// The value as this type, if it is one.
    fn of(value: &Value) -> Option<&Self>;
    /// The same, to change it.
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    /// The value to store.
    fn into_value(self) -> Value;
    /// Whether it holds nothing (and so must not be stored).
    fn is_empty(&self) -> bool;
}

impl Container for Set {
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}

impl Container for List {
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        (**self).is_empty()
    }
}

impl Container for ZSet {
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::ZSet(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        ZSet::is_empty(self)
    }
}

/// The live value at `key`: `Ok(None)` when missing, WRONGTYPE when of
/// another type.
pub(super) fn read<'s, T: Container>(
    shard: &'s mut Shard,
    key: &[u8],
    ctx: &Ctx<'_>,
) -> Result<Option<&'s T>, Reply> {
    match shard.get(key, ctx.now_ms, ctx.access) {
        None => Ok(None),
        Some(entry) => T::of(&entry.value)
            .map(Some)
            .ok_or_else(|| Reply::err(errors::WRONGTYPE)),
    }
}

/// Changes the value at `key` in place (creating it when `create` and it
/// is missing); deletes the key when the value ends up empty. `Ok(None)`
/// when the key is missing and not created.
pub(super) fn change<T: Container, R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut T) -> R,
) -> Result<Option<R>, Reply> {
    // One lookup: the position found is the one changed.
    match shard.find(key, now) {
        None if create => {
            let mut value = T::default();
            let out = f(&mut value);
            if !value.is_empty() {
                shard.insert(key, Entry::new(value.into_value()), now);
            }
            Ok(Some(out))
        }
        None => Ok(None),
        Some(idx) if T::of(&shard.entry_at(idx).value).is_none() => {
            Err(Reply::err(errors::WRONGTYPE))
        }
        Some(idx) => {
            let (out, empty) = shard.update_at(idx, |e| match T::of_mut(&mut e.value) {
                Some(value) => {
                    let out = f(value);
                    (Some(out), value.is_empty())
                }
                None => (None, false),
            });
            if empty {
                shard.remove(key, now);
            }
            Ok(out)
        }
    }
}
