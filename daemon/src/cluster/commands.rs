//! `CLUSTER …` over RESP, in Redis Cluster's formats (redis-cli and
//! redis-benchmark parse `CLUSTER NODES`; client libraries read
//! `CLUSTER SLOTS` or `SHARDS`).

use std::fmt::Write as _;

use bytes::Bytes;

use super::Cluster;
use super::membership::{Member, State, View};
use super::slots::{SLOTS, key_slot};
use crate::cache::cmd::{self, is};
use crate::cache::reply::Reply;

const HELP: [&str; 9] = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID | MYSHARDID",
    "    Return this node's id.",
    "NODES | SLOTS | SHARDS",
    "    Return the cluster's nodes and slots, in Redis Cluster's formats.",
];

/// `CLUSTER <subcommand>`.
pub fn cluster(cluster: &Cluster, args: &[Bytes]) -> Reply {
    let Some(sub) = args.get(1) else {
        return cmd::wrong_arity("cluster");
    };
    let view = cluster.view();
    let arity = |n: usize| args.len() == n;
    if is(sub, "keyslot") && arity(3) {
        Reply::Integer(i64::from(key_slot(&args[2])))
    } else if (is(sub, "myid") || is(sub, "myshardid")) && arity(2) {
        Reply::bulk(cluster.name.as_bytes())
    } else if is(sub, "info") && arity(2) {
        Reply::Bulk(Bytes::from(info(&view)))
    } else if is(sub, "nodes") && arity(2) {
        Reply::Bulk(Bytes::from(nodes(&view)))
    } else if is(sub, "slots") && arity(2) {
        slots(&view)
    } else if is(sub, "shards") && arity(2) {
        shards(&view)
    } else if is(sub, "help") && arity(2) {
        Reply::Array(HELP.iter().map(|l| Reply::Simple((*l).into())).collect())
    } else {
        Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
            cmd::lossy(sub, 128)
        ))
    }
}

/// Each serving member's slot ranges.
fn ranges(view: &View) -> impl Iterator<Item = (&Member, Vec<(u16, u16)>)> {
    view.members
        .iter()
        .filter(|m| m.serves())
        .map(|m| (m, view.placement.ranges_of(&m.id)))
}

/// How many slots are owned by members in `state`.
fn count_where(view: &View, state: State) -> usize {
    (0..SLOTS)
        .filter(|&s| view.owner(s).is_some_and(|m| m.state == state))
        .count()
}

fn info(view: &View) -> String {
    let assigned = view.placement.owners.len();
    let ok = count_where(view, State::Alive);
    let pfail = count_where(view, State::Suspect);
    let state = if assigned == usize::from(SLOTS) && view.has_majority() {
        "ok"
    } else {
        "fail"
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "cluster_enabled:1\r\ncluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\n\
         cluster_slots_ok:{ok}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:0\r\n\
         cluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:0\r\n\
         cluster_my_epoch:0\r\ncluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        view.members.len(),
        view.placement.nodes.len(),
    );
    out
}

/// `CLUSTER NODES`: `id ip:port@cport flags master ping pong epoch link
/// slots…`, one line per member.
fn nodes(view: &View) -> String {
    let now = crate::now_ms();
    let mut out = String::new();
    for m in &view.members {
        let (ip, port) = m.resp.map_or((m.gossip.ip().to_string(), 0), |a| {
            (a.ip().to_string(), a.port())
        });
        let mut flags = String::new();
        if m.myself {
            flags.push_str("myself,");
        }
        flags.push_str("master");
        match m.state {
            State::Alive => {}
            State::Suspect => flags.push_str(",fail?"),
            State::Dead | State::Left => flags.push_str(",fail"),
            // Redis has no flag for it; it serves no slots.
            State::Leaving => {}
        }
        if m.resp.is_none() || m.duplicate_of.is_some() {
            flags.push_str(",noaddr");
        }
        let gone = m.state.gone();
        let pong = if gone { 0 } else { now };
        let link = if gone { "disconnected" } else { "connected" };
        let _ = write!(
            out,
            "{} {ip}:{port}@{} {flags} - 0 {pong} 0 {link}",
            m.name,
            m.gossip.port()
        );
        if m.serves() {
            for (s, e) in view.placement.ranges_of(&m.id) {
                if s == e {
                    let _ = write!(out, " {s}");
                } else {
                    let _ = write!(out, " {s}-{e}");
                }
            }
        }
        out.push('\n');
    }
    out
}

fn node_entry(m: &Member) -> Vec<Reply> {
    let addr = m.resp.expect("serving members have an address");
    vec![
        Reply::Bulk(Bytes::from(addr.ip().to_string())),
        Reply::Integer(i64::from(addr.port())),
        Reply::Bulk(Bytes::from(m.name.clone())),
    ]
}

/// `CLUSTER SLOTS`: `[start, end, [ip, port, id]]` per range, by slot.
fn slots(view: &View) -> Reply {
    let mut all: Vec<(u16, u16, &Member)> = ranges(view)
        .flat_map(|(m, rs)| rs.into_iter().map(move |(s, e)| (s, e, m)))
        .collect();
    all.sort_unstable_by_key(|&(s, _, _)| s);
    Reply::Array(
        all.into_iter()
            .map(|(s, e, m)| {
                Reply::Array(vec![
                    Reply::Integer(i64::from(s)),
                    Reply::Integer(i64::from(e)),
                    Reply::Array(node_entry(m)),
                ])
            })
            .collect(),
    )
}

/// `CLUSTER SHARDS`: one shard per serving member (no replicas yet).
fn shards(view: &View) -> Reply {
    let text = |s: &'static str| Reply::text(s);
    Reply::Array(
        ranges(view)
            .map(|(m, rs)| {
                let addr = m.resp.expect("serving members have an address");
                let slots = rs
                    .iter()
                    .flat_map(|&(s, e)| {
                        [Reply::Integer(i64::from(s)), Reply::Integer(i64::from(e))]
                    })
                    .collect();
                let health = if m.state == State::Alive {
                    "online"
                } else {
                    "failed"
                };
                let node = Reply::Map(vec![
                    (text("id"), Reply::Bulk(Bytes::from(m.name.clone()))),
                    (text("port"), Reply::Integer(i64::from(addr.port()))),
                    (text("ip"), Reply::Bulk(Bytes::from(addr.ip().to_string()))),
                    (
                        text("endpoint"),
                        Reply::Bulk(Bytes::from(addr.ip().to_string())),
                    ),
                    (text("role"), text("master")),
                    (text("replication-offset"), Reply::Integer(0)),
                    (text("health"), text(health)),
                ]);
                Reply::Map(vec![
                    (text("slots"), Reply::Array(slots)),
                    (text("nodes"), Reply::Array(vec![node])),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::membership::Observed;
    use super::*;
    use std::net::SocketAddr;

    fn view() -> View {
        let obs = |id: &str, port: u16, state, myself| Observed {
            id: id.into(),
            generation: 1,
            gossip: SocketAddr::from(([127, 0, 0, 1], port)),
            resp: Some(SocketAddr::from(([127, 0, 0, 1], port + 1000))),
            state,
            myself,
        };
        View::build(vec![
            obs("a", 1, State::Alive, true),
            obs("b", 2, State::Alive, false),
            obs("c", 3, State::Dead, false),
        ])
    }

    #[test]
    fn nodes_lines_have_redis_fields_and_cover_every_slot() {
        let text = nodes(&view());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let mut covered = 0usize;
        for line in &lines {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f[0].len(), 40, "{line}");
            assert!(f[1].contains('@'), "{line}");
            assert_eq!(f[3], "-");
            for r in &f[8..] {
                let (s, e) = r.split_once('-').unwrap_or((r, r));
                covered += e.parse::<usize>().unwrap() - s.parse::<usize>().unwrap() + 1;
            }
        }
        assert_eq!(covered, usize::from(SLOTS));
        assert!(lines.iter().any(|l| l.contains(" myself,master ")));
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" master,fail ") && l.ends_with("disconnected"))
        );
    }

    #[test]
    fn info_counts_nodes_and_slots() {
        let text = info(&view());
        assert!(text.contains("cluster_state:ok\r\n"));
        assert!(text.contains("cluster_slots_assigned:16384\r\n"));
        assert!(text.contains("cluster_slots_ok:16384\r\n"));
        assert!(text.contains("cluster_known_nodes:3\r\n"));
        assert!(text.contains("cluster_size:2\r\n"));
    }

    #[test]
    fn slots_are_sorted_ranges_of_serving_nodes() {
        let Reply::Array(entries) = slots(&view()) else {
            panic!("an array")
        };
        let mut next = 0;
        for e in entries {
            let Reply::Array(f) = e else { panic!() };
            let (Reply::Integer(s), Reply::Integer(end)) = (&f[0], &f[1]) else {
                panic!()
            };
            assert_eq!(*s, next);
            next = end + 1;
        }
        assert_eq!(next, i64::from(SLOTS));
    }
}
