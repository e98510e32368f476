//! The keys of commands that a `(first, last, step)` triple cannot
//! describe: those after a `numkeys` argument (ZUNION, ZINTERSTORE,
//! LMPOP, BLMPOP, ZMPOP, SINTERCARD, ZINTERCARD, EVAL, FCALL …) and
//! XREAD/XREADGROUP's streams after `STREAMS`. [`keys`] is what cluster
//! routing (`cluster::route`) and `COMMAND GETKEYS` use, so both agree.
//!
//! A bad count or a malformed STREAMS list yields only the triple's keys:
//! the command itself then answers its own error wherever it runs.

use bytes::Bytes;

use super::events::keys_of;
use super::{Spec, parse_i64, streams};

/// The position of a command's `numkeys` argument (its keys follow it).
pub fn numkeys_at(name: &str) -> Option<usize> {
    match name {
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => Some(1),
        "zunionstore" | "zinterstore" | "zdiffstore" | "blmpop" | "bzmpop" | "eval" | "evalsha"
        | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => Some(2),
        _ => None,
    }
}

/// Every key `args` names, by `spec`'s triple and the rules above, in
/// the order they appear.
pub fn keys(spec: &Spec, args: &[Bytes]) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = keys_of(spec, args).into_iter().cloned().collect();
    if let Some(at) = numkeys_at(spec.name) {
        let count = args
            .get(at)
            .and_then(|n| parse_i64(n))
            .and_then(|n| usize::try_from(n).ok());
        if let Some(n) = count
            && args.len() > at + n
        {
            out.extend(args[at + 1..at + 1 + n].iter().cloned());
        }
    } else if matches!(spec.name, "xread" | "xreadgroup") {
        out.extend(streams::read_keys(args));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::cmd::lookup;

    fn keys_in(line: &str) -> Vec<String> {
        let args: Vec<Bytes> = line
            .split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let spec = lookup(&args[0]).expect("a command");
        keys(spec, &args)
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn keys_after_numkeys_are_found() {
        assert_eq!(keys_in("ZUNION 2 a b WEIGHTS 1 2"), ["a", "b"]);
        assert_eq!(keys_in("ZINTER 1 a WITHSCORES"), ["a"]);
        assert_eq!(keys_in("ZDIFF 2 a b"), ["a", "b"]);
        assert_eq!(
            keys_in("ZUNIONSTORE d 2 a b AGGREGATE MAX"),
            ["d", "a", "b"]
        );
        assert_eq!(keys_in("ZINTERSTORE d 1 a"), ["d", "a"]);
        assert_eq!(keys_in("ZDIFFSTORE d 2 a b"), ["d", "a", "b"]);
        assert_eq!(keys_in("ZINTERCARD 2 a b LIMIT 5"), ["a", "b"]);
        assert_eq!(keys_in("SINTERCARD 2 a b"), ["a", "b"]);
        assert_eq!(keys_in("LMPOP 2 a b LEFT COUNT 2"), ["a", "b"]);
        assert_eq!(keys_in("BLMPOP 0 2 a b RIGHT"), ["a", "b"]);
        assert_eq!(keys_in("ZMPOP 1 a MIN"), ["a"]);
        assert_eq!(keys_in("BZMPOP 1.5 2 a b MAX COUNT 3"), ["a", "b"]);
        assert_eq!(keys_in("EVAL s 2 a b arg"), ["a", "b"]);
        assert_eq!(keys_in("FCALL_RO f 1 a arg"), ["a"]);
    }

    #[test]
    fn streams_keys_are_the_first_half_after_streams() {
        assert_eq!(keys_in("XREAD COUNT 2 STREAMS a b 0 0"), ["a", "b"]);
        assert_eq!(
            keys_in("XREADGROUP GROUP g streams BLOCK 10 STREAMS s1 >"),
            ["s1"]
        );
        // Unbalanced: the command's own error, no keys.
        assert!(keys_in("XREAD STREAMS a b 0").is_empty());
    }

    #[test]
    fn a_bad_count_yields_no_extra_keys() {
        assert!(keys_in("ZUNION 5 a b").is_empty());
        assert!(keys_in("ZUNION -1 a").is_empty());
        assert!(keys_in("ZUNION x a").is_empty());
        assert_eq!(keys_in("ZUNIONSTORE d 9 a"), ["d"]);
        assert!(keys_in("EVAL s 0").is_empty());
        // Triple-described commands are unchanged.
        assert_eq!(keys_in("MSET a 1 b 2"), ["a", "b"]);
    }
}
