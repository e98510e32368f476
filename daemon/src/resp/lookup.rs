//! The command registry's lookup as a connection makes it.

use crate::cache::cmd;

/// [`cmd::lookup`] behind a one-entry cache of the last name looked up,
/// in the case it was sent in: a pipeline mostly repeats one command,
/// and comparing a few bytes costs less than the case-folded hash
/// lookup.
#[derive(Default)]
pub struct LastLookup {
    len: usize,
    bytes: [u8; LastLookup::LONGEST],
    spec: Option<&'static cmd::Spec>,
}

impl LastLookup {
    /// The longest name remembered (longer ones are looked up each time).
    const LONGEST: usize = 16;

    /// The command named `name`, in any case.
    pub fn lookup(&mut self, name: &[u8]) -> Option<&'static cmd::Spec> {
        if let Some(spec) = self.spec
            && name == &self.bytes[..self.len]
        {
            return Some(spec);
        }
        let spec = cmd::lookup(name);
        if name.len() <= Self::LONGEST {
            self.bytes[..name.len()].copy_from_slice(name);
            self.len = name.len();
            self.spec = spec;
        }
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(spec: Option<&'static cmd::Spec>) -> Option<&'static str> {
        spec.map(|s| s.name)
    }

    #[test]
    fn the_last_lookup_answers_as_the_registry_does() {
        let mut last = LastLookup::default();
        for (sent, expected) in [
            (&b"INCR"[..], Some("incr")),
            (b"INCR", Some("incr")),
            (b"incr", Some("incr")),
            (b"INC", None),
            (b"INCR", Some("incr")),
            (b"nosuchcommand", None),
            (b"nosuchcommand", None),
            (b"get", Some("get")),
            (b"zremrangebyscore", Some("zremrangebyscore")),
            (b"ZREMRANGEBYSCORE", Some("zremrangebyscore")),
            (b"zremrangebyscorex", None),
            (b"", None),
            (b"lpush", Some("lpush")),
            (b"LPUSHX", Some("lpushx")),
            (b"lpush", Some("lpush")),
        ] {
            assert_eq!(name(last.lookup(sent)), expected, "{sent:?}");
            assert_eq!(name(last.lookup(sent)), name(cmd::lookup(sent)));
        }
    }
}
