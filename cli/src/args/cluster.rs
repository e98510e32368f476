//! The daemon's cluster flags (`--cluster`, `--node-id`, …; see
//! docs/CLUSTER.md).

use clap::{Args, Subcommand, ValueEnum};

use crate::args::GroupRemoteArgs;

/// `agora daemon --cluster NAME …`: join or form a cluster.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterDaemonArgs {
    /// Serve the cache as one node of the cluster NAME: slots are spread
    /// over the live nodes and keys owned elsewhere answer -MOVED (see
    /// docs/CLUSTER.md). Nodes with another name are not taken in.
    #[arg(long, env = "AGORA_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,

    /// This node's id, unique in the cluster (default: the host name and
    /// the gossip port).
    #[arg(long, env = "AGORA_NODE_ID", value_name = "ID", requires = "cluster")]
    pub node_id: Option<String>,

    /// Where to gossip with the other nodes (UDP; port 0 picks one, which
    /// the ready file reports as "cluster").
    #[arg(
        long,
        env = "AGORA_CLUSTER_LISTEN",
        default_value = "127.0.0.1:7946",
        value_name = "HOST:PORT"
    )]
    pub cluster_listen: String,

    /// Gossip addresses of nodes already in the cluster, comma-separated;
    /// unreachable ones are retried (and logged) while the daemon serves.
    #[arg(
        long,
        env = "AGORA_SEEDS",
        value_name = "HOST:PORT,…",
        value_delimiter = ',',
        requires = "cluster"
    )]
    pub seeds: Vec<String>,

    /// Silence after which a node is declared dead and its slots go to
    /// the others (half of it makes it suspect), e.g. 2s or 500ms.
    #[arg(long, env = "AGORA_CLUSTER_FAILURE_TIMEOUT", default_value = "2s", value_parser = crate::duration::parse_duration, value_name = "DURATION")]
    pub cluster_failure_timeout: std::time::Duration,

    /// Copies of each slot, on distinct nodes (N; capped at the live node
    /// count). 1 keeps each key on one node only.
    #[arg(long, env = "AGORA_REPLICAS", default_value_t = 3, value_name = "N")]
    pub replicas: usize,

    /// Copies (the primary's included) that must acknowledge a write
    /// before the client gets its reply (W, 1..=N); fewer within the
    /// timeout answer -NOREPLICAS.
    #[arg(
        long,
        env = "AGORA_WRITE_QUORUM",
        default_value_t = 2,
        value_name = "W"
    )]
    pub write_quorum: usize,

    /// Copies (the primary's included) consulted before a command runs;
    /// the newest wins and stale ones are repaired (R, 1..=N; R+W>N reads
    /// every acknowledged write).
    #[arg(long, env = "AGORA_READ_QUORUM", default_value_t = 2, value_name = "R")]
    pub read_quorum: usize,

    /// How a key owned by another node is answered: `redirect` sends
    /// -MOVED (Redis Cluster's contract: cluster-aware clients follow
    /// it); `proxy` forwards the command to the owner and relays its reply,
    /// so plain clients (redis-cli without -c) reach every key. See
    /// docs/CLUSTER.md for what proxy mode refuses (MULTI, WATCH,
    /// blocking commands on other nodes' keys).
    #[arg(
        long,
        env = "AGORA_CLUSTER_MODE",
        value_enum,
        default_value = "redirect",
        value_name = "MODE"
    )]
    pub cluster_mode: ClusterMode,
}

/// `--cluster-mode`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClusterMode {
    /// Answer -MOVED slot ip:port (the default).
    Redirect,
    /// Forward to the owner and relay its reply.
    Proxy,
}

/// `agora cluster SUBCOMMAND`
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: ClusterCommand,
}

/// The subcommands of `agora cluster`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The cluster as the daemon at --addr sees it: one row per node.
    ///
    /// Columns: the node's id, its state (alive, suspect, dead; leaving:
    /// shutting down and handing its keys over; left: gone after a clean
    /// leave, no longer counted for the majority a node needs to serve
    /// keys), its RESP
    /// address (where clients connect) and gossip address, the keys it
    /// holds (as it last gossiped them; with replication each of a key's
    /// N replicas holds it, so the total counts it once per copy), its
    /// share of the 16,384 hash slots, and its replication lag (`-` when
    /// it publishes none). A
    /// daemon started without --cluster shows itself as the one node,
    /// owning every slot, under "standalone". With --json: one document
    /// `{cluster, mode, nodes: [{id, name, state, myself, resp, gossip,
    /// keys, slots, slots_pct, lag}], totals}`.
    Status,
}

impl ClusterDaemonArgs {
    /// The daemon's cluster configuration, if `--cluster` was given.
    ///
    /// # Errors
    /// When the name or id is empty, or the timeout is under 100 ms.
    pub fn config(&self) -> anyhow::Result<Option<agora_daemon::cluster::ClusterConfig>> {
        let Some(name) = &self.cluster else {
            return Ok(None);
        };
        anyhow::ensure!(!name.trim().is_empty(), "--cluster needs a name");
        anyhow::ensure!(
            self.cluster_failure_timeout >= std::time::Duration::from_millis(100),
            "--cluster-failure-timeout must be at least 100ms"
        );
        let node_id = match &self.node_id {
            Some(id) => {
                anyhow::ensure!(!id.trim().is_empty(), "--node-id must not be empty");
                id.clone()
            }
            // The daemon makes one from the host name and the gossip port
            // once it is bound.
            None => String::new(),
        };
        let mut config = agora_daemon::cluster::ClusterConfig::new(name.clone(), node_id);
        config.listen = self.cluster_listen.clone();
        config.seeds = self
            .seeds
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        config.failure_timeout = self.cluster_failure_timeout;
        config.quorum = agora_daemon::cluster::Quorum {
            replicas: self.replicas,
            write: self.write_quorum,
            read: self.read_quorum,
        };
        config.quorum.validate().map_err(anyhow::Error::msg)?;

        config.mode = match self.cluster_mode {
            ClusterMode::Redirect => agora_daemon::cluster::proxy::Mode::Redirect,
            ClusterMode::Proxy => agora_daemon::cluster::proxy::Mode::Proxy,
        };
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::args::{Cli, Command};

    fn cluster_config(args: &[&str]) -> Option<agora_daemon::cluster::ClusterConfig> {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Daemon(daemon) = cli.command else {
            panic!("parsed {:?}", cli.command);
        };
        daemon.cluster.config().unwrap()
    }

    #[test]
    fn cluster_flags_parse() {
        let config = cluster_config(&[
            "agora",
            "daemon",
            "--cluster",
            "prod",
            "--node-id",
            "n1",
            "--seeds",
            "10.0.0.1:7946, 10.0.0.2:7946",
            "--cluster-failure-timeout",
            "500ms",
            "--cluster-mode",
            "proxy",
        ])
        .unwrap();
        assert_eq!(config.mode, agora_daemon::cluster::proxy::Mode::Proxy);
        assert_eq!(
            (config.name.as_str(), config.node_id.as_str()),
            ("prod", "n1")
        );
        assert_eq!(config.seeds, ["10.0.0.1:7946", "10.0.0.2:7946"]);
        assert_eq!(
            config.failure_timeout,
            std::time::Duration::from_millis(500)
        );
        assert!(cluster_config(&["agora", "daemon"]).is_none());
        assert_eq!(config.quorum, agora_daemon::cluster::Quorum::default());
        // The cluster's companions mean nothing alone.
        assert!(Cli::try_parse_from(["agora", "daemon", "--node-id", "n1"]).is_err());
        assert!(Cli::try_parse_from(["agora", "daemon", "--seeds", "a:1"]).is_err());
    }

    #[test]
    fn quorums_are_validated() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["agora", "daemon", "--cluster", "c"];
            args.extend_from_slice(extra);
            let cli = Cli::try_parse_from(args).unwrap();
            let Command::Daemon(daemon) = cli.command else {
                panic!("parsed {:?}", cli.command);
            };
            daemon.cluster.config().map(|c| c.unwrap().quorum)
        };
        let q = parse(&[
            "--replicas",
            "5",
            "--write-quorum",
            "3",
            "--read-quorum",
            "3",
        ])
        .unwrap();
        assert_eq!((q.replicas, q.write, q.read), (5, 3, 3));
        let q = parse(&[
            "--replicas",
            "1",
            "--write-quorum",
            "1",
            "--read-quorum",
            "1",
        ])
        .unwrap();
        assert!(!q.replicates());
        for (bad, says) in [
            (
                &["--write-quorum", "4"][..],
                "--write-quorum must be between 1 and --replicas (3) (got 4)",
            ),
            (
                &["--read-quorum", "0"][..],
                "--read-quorum must be between 1 and --replicas (3) (got 0)",
            ),
            (
                &["--replicas", "0"][..],
                "--replicas must be between 1 and 16 (got 0)",
            ),
            (
                &["--replicas", "1"][..],
                "--write-quorum must be between 1 and --replicas (1) (got 2)",
            ),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert_eq!(err, says);
        }
    }
}
