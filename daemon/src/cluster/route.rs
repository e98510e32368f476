//! Where a RESP command runs in cluster mode: here, or elsewhere
//! (`-MOVED slot ip:port`), or nowhere (`-CROSSSLOT`, `-CLUSTERDOWN`).
//!
//! The keys are the command table's key specs ([`keys_of`], the same
//! that `COMMAND GETKEYS` answers), so a new command is routed with no
//! list to update. Commands whose keys follow a `numkeys` argument have
//! no such spec and run where they are sent (docs/CLUSTER.md).

use bytes::Bytes;

use super::Cluster;
use super::slots::key_slot;
use crate::cache::cmd::events::keys_of;
use crate::cache::cmd::{self, is};
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
    let spec = cmd::lookup(name)?;
    if !cmd::arity_ok(spec.arity, args.len()) {
        return None;
    }
    let keys = keys_of(spec, args);
    let (first, rest) = keys.split_first()?;
    let slot = key_slot(first);
    if rest.iter().any(|k| key_slot(k) != slot) {
        return Some(Reply::err(CROSSSLOT));
    }
    redirect(cluster, slot)
}

/// `None` when this node owns `slot`; otherwise `MOVED` to its owner, or
/// `CLUSTERDOWN` when nobody serves it.
pub fn redirect(cluster: &Cluster, slot: u16) -> Option<Reply> {
    let view = cluster.view();
    match view.owner(slot) {
        Some(owner) if owner.myself => None,
        Some(owner) => owner
            .resp
            .map(|addr| Reply::error(format!("MOVED {slot} {addr}"))),
        None => Some(Reply::err("CLUSTERDOWN Hash slot not served")),
    }
}
