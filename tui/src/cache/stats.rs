//! The Cache tab's gauges: the figures it reads from INFO.

/// Figures from INFO.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// instantaneous_ops_per_sec.
    pub ops_per_sec: u64,
    /// keyspace_hits.
    pub hits: u64,
    /// keyspace_misses.
    pub misses: u64,
    /// used_memory (bytes).
    pub used_memory: u64,
    /// maxmemory (bytes; 0 = unlimited).
    pub max_memory: u64,
    /// Keys in db0.
    pub keys: u64,
}

impl Stats {
    /// Parses INFO's text; unknown fields are ignored.
    pub fn parse(text: &str) -> Stats {
        let mut s = Stats::default();
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once(':') else {
                continue;
            };
            let n = || v.parse().unwrap_or(0);
            match k {
                "instantaneous_ops_per_sec" => s.ops_per_sec = n(),
                "keyspace_hits" => s.hits = n(),
                "keyspace_misses" => s.misses = n(),
                "used_memory" => s.used_memory = n(),
                "maxmemory" => s.max_memory = n(),
                "db0" => {
                    s.keys = v
                        .split(',')
                        .find_map(|f| f.strip_prefix("keys="))
                        .and_then(|k| k.parse().ok())
                        .unwrap_or(0)
                }
                _ => {}
            }
        }
        s
    }

    /// Hits over lookups, if there were any.
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}
