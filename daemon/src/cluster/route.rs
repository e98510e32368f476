//! Where a RESP command runs in cluster mode: here, or elsewhere
//! (`-MOVED slot ip:port`), or nowhere (`-CROSSSLOT`, `-CLUSTERDOWN`).
//!
//! The keys are the command table's key specs plus the `numkeys` and
//! `STREAMS` rules of [`keyspec::keys`] — the same that `COMMAND GETKEYS`
//! answers — so a new command is routed with no list to update.

use bytes::Bytes;

use super::Cluster;
use super::slots::key_slot;
use crate::cache::cmd::{self, is, keyspec};
use crate::cache::reply::Reply;

/// Redis's error for keys in several slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// What a cluster node answers instead of running `args` itself, if
/// anything: the cluster's own commands, or a redirection or refusal for
/// keys it does not own. `None`: run it here as usual.
pub fn intercept(cluster: &Cluster, args: &[Bytes]) -> Option<Reply> {
    let name = &args[0];
    if is(name, "cluster") {
        return Some(super::commands::cluster(cluster, args));
    }
    if is(name, "readonly") || is(name, "readwrite") || is(name, "asking") {
        return Some(if args.len() == 1 {
            Reply::ok()
        } else {
            cmd::wrong_arity(&String::from_utf8_lossy(name).to_lowercase())
        });
    }
    match command_slot(args) {
        Ok(Some(slot)) => redirect(cluster, slot),
        Ok(None) => None,
        Err(crossslot) => Some(crossslot),
    }
}

/// The one slot of a command's keys: `Ok(None)` for a keyless, unknown
/// or wrongly called command (it runs here and answers for itself),
/// `Err(CROSSSLOT)` for keys in several slots.
pub fn command_slot(args: &[Bytes]) -> Result<Option<u16>, Reply> {
    let Some(spec) = cmd::lookup(&args[0]) else {
        return Ok(None);
    };
    if !cmd::arity_ok(spec.arity, args.len()) {
        return Ok(None);
    }
    let keys = keyspec::keys(spec, args);
    let Some((first, rest)) = keys.split_first() else {
        return Ok(None);
    };
    let slot = key_slot(first);
    if rest.iter().any(|k| key_slot(k) != slot) {
        return Err(Reply::err(CROSSSLOT));
    }
    Ok(Some(slot))
}

/// The keys a command names (its key specs, the `numkeys` and `STREAMS`
/// rules): what replication copies after a write.
pub fn command_keys(spec: &cmd::Spec, args: &[Bytes]) -> Vec<Bytes> {
    keyspec::keys(spec, args)
}

/// Redis Cluster's error while the cluster is down, here: this node does
/// not hear from a majority of the cluster ([`super::View::has_majority`]).
pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";

/// `None` when this node owns `slot`; otherwise `MOVED` to its owner, or
/// `CLUSTERDOWN` when nobody serves it or this node is in a minority.
pub fn redirect(cluster: &Cluster, slot: u16) -> Option<Reply> {
    let view = cluster.view();
    if !view.has_majority() {
        return Some(Reply::err(CLUSTERDOWN));
    }
    match view.owner(slot) {
        Some(owner) if owner.myself => None,
        Some(owner) => owner
            .resp
            .map(|addr| Reply::error(format!("MOVED {slot} {addr}"))),
        None => Some(Reply::err("CLUSTERDOWN Hash slot not served")),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::membership::{Observed, State, View};
    use super::*;

    fn node(id: &str, port: u16, myself: bool) -> Observed {
        Observed {
            id: id.into(),
            generation: 1,
            gossip: SocketAddr::from(([127, 0, 0, 1], port)),
            resp: Some(SocketAddr::from(([127, 0, 0, 1], port + 1000))),
            state: State::Alive,
            myself,
        }
    }

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn error_text(reply: Option<Reply>) -> Option<String> {
        match reply? {
            Reply::Error(text) => Some(text.into_owned()),
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn keys_run_on_their_owner_and_move_elsewhere() {
        let cluster = Cluster::for_view(View::build(vec![node("a", 1, true), node("b", 2, false)]));
        let view = cluster.view();
        let mine = (0..100)
            .map(|i| format!("k{i}"))
            .find(|k| view.owner(key_slot(k.as_bytes())).is_some_and(|m| m.myself))
            .unwrap();
        let theirs = (0..100)
            .map(|i| format!("k{i}"))
            .find(|k| {
                view.owner(key_slot(k.as_bytes()))
                    .is_some_and(|m| !m.myself)
            })
            .unwrap();
        assert!(intercept(&cluster, &args(&["GET", &mine])).is_none());
        let moved = error_text(intercept(&cluster, &args(&["get", &theirs]))).unwrap();
        let slot = key_slot(theirs.as_bytes());
        assert_eq!(moved, format!("MOVED {slot} 127.0.0.1:1002"));
        // Keyless commands and unknown ones run here.
        assert!(intercept(&cluster, &args(&["DBSIZE"])).is_none());
        assert!(intercept(&cluster, &args(&["NOSUCH", &theirs])).is_none());
    }

    #[test]
    fn keys_in_several_slots_are_crossslot_and_hash_tags_join_them() {
        let cluster = Cluster::for_view(View::build(vec![node("a", 1, true)]));
        let reply = intercept(&cluster, &args(&["MSET", "foo", "1", "bar", "2"]));
        assert_eq!(error_text(reply).as_deref(), Some(CROSSSLOT));
        assert!(intercept(&cluster, &args(&["MSET", "{t}foo", "1", "{t}bar", "2"])).is_none());
        // MSET's values are not keys.
        assert!(intercept(&cluster, &args(&["MSET", "{t}foo", "x", "{t}bar", "y"])).is_none());
    }

    #[test]
    fn scripts_are_routed_by_their_numkeys_keys() {
        let cluster = Cluster::for_view(View::build(vec![node("a", 1, true)]));
        let eval = |words: &[&str]| intercept(&cluster, &args(words));
        let cross = eval(&["EVAL", "return 1", "2", "foo", "bar", "arg"]);
        assert_eq!(error_text(cross).as_deref(), Some(CROSSSLOT));
        // Arguments after the keys are not keys.
        assert!(eval(&["EVAL", "return 1", "1", "foo", "bar"]).is_none());
        assert!(eval(&["FCALL_RO", "f", "2", "{t}a", "{t}b"]).is_none());
        // A bad count is left to the command's own error.
        assert!(eval(&["EVAL", "return 1", "9", "foo", "bar"]).is_none());
        assert!(eval(&["EVAL", "return 1", "-1"]).is_none());
    }

    #[test]
    fn numkeys_and_streams_commands_are_routed_by_their_keys() {
        let cluster = Cluster::for_view(View::build(vec![node("a", 1, true)]));
        let run = |words: &[&str]| intercept(&cluster, &args(words));
        for cross in [
            &["ZUNIONSTORE", "{t}d", "2", "{t}a", "b"][..],
            &["ZINTER", "2", "a", "b"],
            &["LMPOP", "2", "a", "b", "LEFT"],
            &["BLMPOP", "0", "2", "a", "b", "LEFT"],
            &["SINTERCARD", "2", "a", "b"],
            &["XREAD", "STREAMS", "a", "b", "0", "0"],
        ] {
            assert_eq!(
                error_text(run(cross)).as_deref(),
                Some(CROSSSLOT),
                "{cross:?}"
            );
        }
        assert!(run(&["ZUNIONSTORE", "{t}d", "2", "{t}a", "{t}b"]).is_none());
        assert!(
            run(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "STREAMS",
                "{t}a",
                "{t}b",
                ">",
                ">"
            ])
            .is_none()
        );
        // Routed to the owner, not run here.
        let two = Cluster::for_view(View::build(vec![node("a", 1, true), node("b", 2, false)]));
        let view = two.view();
        let theirs = (0..100)
            .map(|i| format!("k{i}"))
            .find(|k| {
                view.owner(key_slot(k.as_bytes()))
                    .is_some_and(|m| !m.myself)
            })
            .unwrap();
        let moved = error_text(intercept(&two, &args(&["ZINTERCARD", "1", &theirs]))).unwrap();
        assert!(moved.starts_with("MOVED "), "{moved}");
    }

    #[test]
    fn cluster_commands_are_answered_here() {
        let cluster = Cluster::for_view(View::build(vec![node("a", 1, true)]));
        assert_eq!(
            intercept(&cluster, &args(&["CLUSTER", "KEYSLOT", "foo"])),
            Some(Reply::Integer(12182))
        );
        assert_eq!(intercept(&cluster, &args(&["READONLY"])), Some(Reply::ok()));
        let unknown = error_text(intercept(&cluster, &args(&["CLUSTER", "NOPE"]))).unwrap();
        assert!(unknown.contains("Try CLUSTER HELP"), "{unknown}");
    }
}
