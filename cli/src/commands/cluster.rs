//! `agora cluster status`: the cluster as one daemon sees it, over the
//! native protocol (`cache_cluster_status`, docs/PROTOCOL.md).
//!
//! Exit status: 0 with the table (or the JSON document), 2 on an error.
//! A standalone daemon is shown as a one-node cluster marked
//! "standalone" (docs/CLI.md says why: scripts get the same shape
//! everywhere).

use agora_wire::{CacheOp, CacheReply, ClusterNode, Op, Reply};
use anyhow::Context as _;
use serde::Serialize;

use crate::args::cluster::ClusterCommand;
use crate::credentials::Store;
use crate::output;
use crate::session;

/// Hash slots in a cluster (Redis Cluster's 16,384).
const SLOTS: u64 = 16_384;

/// Runs one `agora cluster` subcommand.
pub async fn run(addr: &str, cmd: ClusterCommand, json: bool) -> anyhow::Result<u8> {
    match cmd {
        ClusterCommand::Status => status(addr, json).await,
    }
}

async fn status(addr: &str, json: bool) -> anyhow::Result<u8> {
    let token = Store::load()?
        .token_for(addr)
        .with_context(|| format!("not signed in on {addr}: run `agora login NAME` first"))?;
    let (client, _) = session::connect(addr, Some(token)).await?;
    let reply = client
        .request(Op::from(CacheOp::ClusterStatus))
        .await
        .map_err(|e| session::explain(addr, e, true))?;
    let Reply::Cache(CacheReply::Cluster {
        cluster,
        mode,
        nodes,
    }) = reply
    else {
        anyhow::bail!("{addr}: unexpected reply to cache_cluster_status");
    };
    let report = Report::new(cluster, mode, nodes);
    if json {
        output::json(&report)?;
    } else {
        print!("{}", report.text());
    }
    Ok(0)
}

/// The JSON document (tests/schemas/cluster-status.json).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The cluster's name; `null` for a standalone daemon.
    cluster: Option<String>,
    /// `redirect`, `proxy` or `standalone`.
    mode: String,
    nodes: Vec<Node>,
    totals: Totals,
}

#[derive(Debug, Serialize)]
struct Node {
    id: String,
    name: String,
    state: String,
    myself: bool,
    resp: Option<String>,
    gossip: Option<String>,
    keys: Option<u64>,
    slots: u64,
    #[serde(serialize_with = "output::three_decimals")]
    slots_pct: f64,
    lag: Option<String>,
}

#[derive(Debug, Serialize)]
struct Totals {
    nodes: usize,
    alive: usize,
    suspect: usize,
    dead: usize,
    /// Keys held by the nodes that are not dead, summed: with
    /// replication a key counts once per copy (N times when in sync).
    keys: u64,
    /// Slots served (16,384 when the cluster is whole).
    slots: u64,
}

impl Report {
    fn new(cluster: Option<String>, mode: String, nodes: Vec<ClusterNode>) -> Report {
        let count = |state: &str| nodes.iter().filter(|n| n.state == state).count();
        let totals = Totals {
            nodes: nodes.len(),
            alive: count("alive"),
            suspect: count("suspect"),
            dead: count("dead"),
            keys: nodes
                .iter()
                .filter(|n| n.state != "dead")
                .filter_map(|n| n.keys)
                .sum(),
            slots: nodes.iter().map(|n| n.slots).sum(),
        };
        let nodes = nodes
            .into_iter()
            .map(|n| Node {
                slots_pct: output::round_micros(n.slots as f64 * 100.0 / SLOTS as f64),
                id: n.id,
                name: n.name,
                state: n.state,
                myself: n.myself,
                resp: n.resp,
                gossip: n.gossip,
                keys: n.keys,
                slots: n.slots,
                lag: n.lag,
            })
            .collect();
        Report {
            cluster,
            mode,
            nodes,
            totals,
        }
    }

    /// The table for people: a heading, a row per node (`*` marks the
    /// node that answered), totals.
    fn text(&self) -> String {
        let t = &self.totals;
        let mut out = match &self.cluster {
            Some(name) => format!(
                "cluster {name} ({} mode): {}, {} alive, {} suspect, {} dead\n",
                self.mode,
                output::count(t.nodes, "node", "nodes"),
                t.alive,
                t.suspect,
                t.dead
            ),
            None => "standalone daemon (not started with --cluster): one node owning every slot\n"
                .to_owned(),
        };
        let dash = || "-".to_owned();
        let rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|n| {
                let id = if n.myself {
                    format!("{} *", n.id)
                } else {
                    n.id.clone()
                };
                vec![
                    id,
                    n.state.clone(),
                    n.resp.clone().unwrap_or_else(dash),
                    n.gossip.clone().unwrap_or_else(dash),
                    n.keys.map_or_else(dash, |k| k.to_string()),
                    format!("{} ({:.1}%)", n.slots, n.slots_pct),
                    n.lag.clone().unwrap_or_else(dash),
                ]
            })
            .collect();
        out.push_str(&table(
            &["NODE", "STATE", "RESP", "GOSSIP", "KEYS", "SLOTS", "LAG"],
            &rows,
        ));
        out.push_str(&format!(
            "total: {} keys held (a replicated key once per copy), {} of {SLOTS} slots served\n",
            t.keys, t.slots
        ));
        out
    }
}

/// Rows as aligned columns (the last one ragged), with a header.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let all = std::iter::once(header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>())
        .chain(rows.iter().cloned());
    for cells in all {
        let last = cells.len() - 1;
        let line: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(
        id: &str,
        state: &str,
        keys: Option<u64>,
        slots: u64,
        lag: Option<&str>,
    ) -> ClusterNode {
        ClusterNode {
            id: id.into(),
            name: "0".repeat(40),
            state: state.into(),
            myself: id == "a",
            resp: Some("127.0.0.1:7001".into()),
            gossip: Some("127.0.0.1:7946".into()),
            keys,
            slots,
            lag: lag.map(str::to_owned),
        }
    }

    #[test]
    fn the_table_shows_every_node_and_the_totals() {
        let report = Report::new(
            Some("prod".into()),
            "redirect".into(),
            vec![
                node("a", "alive", Some(10), 8192, None),
                node("b", "alive", Some(5), 8192, Some("3ms")),
                node("c", "dead", Some(99), 0, None),
            ],
        );
        let text = report.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "cluster prod (redirect mode): 3 nodes, 2 alive, 0 suspect, 1 dead"
        );
        assert!(lines[1].starts_with("NODE "), "{text}");
        assert!(
            lines[2].starts_with("a *") && lines[2].contains("8192 (50.0%)"),
            "{text}"
        );
        assert!(lines[2].ends_with(" -"), "no lag is a dash: {text}");
        assert!(lines[3].ends_with(" 3ms"), "{text}");
        assert!(
            lines[4].contains("dead") && lines[4].contains("0 (0.0%)"),
            "{text}"
        );
        // Dead nodes' keys are not served: not counted.
        assert_eq!(
            lines[5],
            "total: 15 keys held (a replicated key once per copy), 16384 of 16384 slots served"
        );
        assert_eq!(report.totals.dead, 1);
    }

    #[test]
    fn a_standalone_daemon_says_so() {
        let report = Report::new(
            None,
            "standalone".into(),
            vec![node("standalone", "alive", Some(2), SLOTS, None)],
        );
        assert!(report.text().starts_with("standalone daemon"));
        assert_eq!(report.nodes[0].slots_pct, 100.0);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["cluster"], serde_json::Value::Null);
        assert_eq!(json["nodes"][0]["lag"], serde_json::Value::Null);
    }
}
