//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO (the registry
//! and the invalidations are [`crate::cache::tracking`]).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{Ctx, is, parse_i64, wrong_arity};
use crate::cache::reply::{Reply, errors};
use crate::cache::tracking::Mode;

/// `CLIENT TRACKING|CACHING|GETREDIR|TRACKINGINFO …`.
pub(super) fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "tracking") {
        if args.len() < 3 {
            return wrong_arity("client|tracking");
        }
        // Invalidations go to a connection: a native request has none.
        if ctx.client.addr.is_none() {
            return Reply::err(
                "ERR CLIENT TRACKING needs a RESP connection (cache_command has no connection state)",
            );
        }
        tracking(ctx, args)
    } else if is(sub, "caching") {
        if args.len() != 3 {
            return wrong_arity("client|caching");
        }
        caching(ctx, &args[2])
    } else if is(sub, "getredir") {
        if args.len() != 2 {
            return wrong_arity("client|getredir");
        }
        let info = ctx.cache.tracking.info(ctx.client.id);
        Reply::Integer(info.map_or(-1, |i| i.redirect as i64))
    } else {
        if args.len() != 2 {
            return wrong_arity("client|trackinginfo");
        }
        trackinginfo(ctx)
    }
}

fn tracking(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut mode = Mode::default();
    let mut redirect = 0u64;
    let mut prefixes = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Reply::err("ERR A client can only redirect to a single other client");
            }
            match parse_i64(&args[j]) {
                Some(id) if id >= 0 => redirect = id as u64,
                _ => return Reply::err(errors::NOT_INTEGER),
            }
        } else if is(a, "bcast") {
            mode.bcast = true;
        } else if is(a, "optin") {
            mode.optin = true;
        } else if is(a, "optout") {
            mode.optout = true;
        } else if is(a, "noloop") {
            mode.noloop = true;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(args[j].clone());
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 1;
    }
    let tracking = &ctx.cache.tracking;
    if is(&args[2], "on") {
        if redirect == ctx.client.id {
            // Redis accepts it; invalidations then come as pushes.
            redirect = 0;
        }
        if let Err(e) = tracking.enable(ctx.client.id, mode, redirect, &prefixes) {
            return Reply::error(e);
        }
        ctx.client.tracking = Some(mode);
    } else if is(&args[2], "off") {
        tracking.disable(ctx.client.id);
        ctx.client.tracking = None;
        ctx.client.caching = false;
    } else {
        return Reply::err(errors::SYNTAX);
    }
    ctx.cache
        .store
        .counters()
        .track_removals_for_tracking
        .store(tracking.any(), Ordering::Relaxed);
    Reply::ok()
}

fn caching(ctx: &mut Ctx<'_>, opt: &[u8]) -> Reply {
    let Some(mode) = ctx.client.tracking else {
        return Reply::err(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        );
    };
    if is(opt, "yes") {
        if !mode.optin {
            return Reply::err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if is(opt, "no") {
        if !mode.optout {
            return Reply::err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return Reply::err(errors::SYNTAX);
    }
    ctx.client.caching = true;
    Reply::ok()
}

fn trackinginfo(ctx: &Ctx<'_>) -> Reply {
    let info = ctx.cache.tracking.info(ctx.client.id);
    let mut flags = Vec::new();
    let redirect = match &info {
        None => {
            flags.push(Reply::text("off"));
            -1
        }
        Some(i) => {
            flags.push(Reply::text("on"));
            if i.mode.bcast {
                flags.push(Reply::text("bcast"));
            }
            if i.mode.optin {
                flags.push(Reply::text("optin"));
                if ctx.client.caching {
                    flags.push(Reply::text("caching-yes"));
                }
            }
            if i.mode.optout {
                flags.push(Reply::text("optout"));
                if ctx.client.caching {
                    flags.push(Reply::text("caching-no"));
                }
            }
            if i.mode.noloop {
                flags.push(Reply::text("noloop"));
            }
            if i.broken {
                flags.push(Reply::text("broken_redirect"));
            }
            i.redirect as i64
        }
    };
    let prefixes = info
        .map(|i| i.prefixes.into_iter().map(Reply::Bulk).collect())
        .unwrap_or_default();
    Reply::Map(vec![
        (Reply::text("flags"), Reply::Array(flags)),
        (Reply::text("redirect"), Reply::Integer(redirect)),
        (Reply::text("prefixes"), Reply::Array(prefixes)),
    ])
}
