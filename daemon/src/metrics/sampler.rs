//! The one sampler every viewer shares: sysinfo for the host, cgroup files
//! for a container's limits, a [`Source`] for agora's own counters.
//!
//! Each call to [`Sampler::sample`] is one tick. CPU, memory, load, disks
//! and networks are read every tick; the process table (the expensive
//! part: one `/proc/PID/stat` per process) and the cgroup files only every
//! `process_every` ticks, and the latest table rides along in between.
//! Monotonic counters (bytes read, requests) become per-second rates in
//! [`Rates`], which survives counter resets.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agora_wire::metrics::{ProcessInfo, Sample};
use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind,
    ProcessesToUpdate, System, UpdateKind, Users,
};

/// How many processes a sample carries (the busiest by CPU).
pub const TOP_PROCESSES: usize = 40;
/// The most disks and network interfaces sampled.
const MAX_DEVICES: usize = 8;
/// The longest command line kept, in bytes.
const MAX_CMD: usize = 256;

/// What agora itself reports each tick: gauges as they are, counters
/// (monotonic totals) turned into rates by the sampler.
#[derive(Debug, Default)]
pub struct Readings {
    /// Gauges, by metric name.
    pub gauges: Vec<(String, f64)>,
    /// Counters, by the name of the rate they become.
    pub counters: Vec<(String, u64)>,
}

/// Where agora's own figures come from (connections, requests, chat,
/// cache, jobs); see `metrics::agora_source`.
pub trait Source: Send {
    /// Adds this tick's readings.
    fn read(&self, out: &mut Readings);
}

/// One tick's result: the sample sent to viewers, plus the raw counter
/// totals `/metrics` exposes (Prometheus computes rates itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The sample.
    pub sample: Sample,
    /// Counter totals by the name of their rate (e.g. `net.eth0.rx_bps`).
    pub counters: BTreeMap<String, u64>,
    /// How long the tick took, in seconds.
    pub took_secs: f64,
}

/// Turns monotonic counters into per-second rates.
#[derive(Debug, Default)]
pub struct Rates {
    last: HashMap<String, (u64, u64)>,
}

impl Rates {
    /// The rate of `name` given its total `value` at `now_ms`: `None` on
    /// the first reading or when no time passed; after a reset (the total
    /// went down) the counter is taken to have restarted from zero, as
    /// Prometheus's `rate()` does.
    pub fn rate(&mut self, name: &str, value: u64, now_ms: u64) -> Option<f64> {
        let prev = self.last.insert(name.to_owned(), (value, now_ms));
        let (before, then) = prev?;
        if now_ms <= then {
            return None;
        }
        let grew = if value >= before {
            value - before
        } else {
            value
        };
        Some(grew as f64 * 1000.0 / (now_ms - then) as f64)
    }

    /// Forgets counters not read since `before_ms` (gone interfaces).
    pub fn forget_older(&mut self, before_ms: u64) {
        self.last.retain(|_, (_, t)| *t >= before_ms);
    }
}

/// A container's limits, from cgroup v2 (or v1) files.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgroupLimits {
    /// memory.max (v2) or memory.limit_in_bytes (v1); `None` = no limit.
    pub mem_limit: Option<u64>,
    /// memory.current (v2) or memory.usage_in_bytes (v1).
    pub mem_used: Option<u64>,
    /// cpu.max quota / period (v2) or cfs_quota_us / cfs_period_us (v1).
    pub cpu_cores: Option<f64>,
}

/// `memory.max`: a byte count or `max`. v1's "no limit" is a huge
/// number (page-rounded `i64::MAX`), so anything from 2^60 up is none.
pub fn parse_memory_max(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().filter(|n| *n < 1 << 60)
}

/// `cpu.max`: `QUOTA PERIOD` or `max PERIOD`, as cores.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    let quota: f64 = words.next()?.parse().ok()?;
    let period: f64 = words.next().unwrap_or("100000").parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// Reads the limits under `root` (normally `/sys/fs/cgroup`), for the
/// cgroup this process is in when `/proc/self/cgroup` names one.
pub fn read_cgroup(root: &Path) -> CgroupLimits {
    let read = |p: PathBuf| std::fs::read_to_string(p).ok();
    let own = read(PathBuf::from("/proc/self/cgroup"))
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(|p| p.trim().to_owned()))
        })
        .map(|p| root.join(p.trim_start_matches('/')))
        .filter(|p| p.join("memory.max").exists())
        .unwrap_or_else(|| root.to_path_buf());
    if own.join("cgroup.controllers").exists() || own.join("memory.max").exists() {
        return CgroupLimits {
            mem_limit: read(own.join("memory.max")).and_then(|t| parse_memory_max(&t)),
            mem_used: read(own.join("memory.current")).and_then(|t| t.trim().parse().ok()),
            cpu_cores: read(own.join("cpu.max")).and_then(|t| parse_cpu_max(&t)),
        };
    }
    let v1 = |p: &str| read(root.join(p));
    let quota = v1("cpu/cpu.cfs_quota_us").and_then(|t| t.trim().parse::<f64>().ok());
    let period = v1("cpu/cpu.cfs_period_us").and_then(|t| t.trim().parse::<f64>().ok());
    CgroupLimits {
        mem_limit: v1("memory/memory.limit_in_bytes").and_then(|t| parse_memory_max(&t)),
        mem_used: v1("memory/memory.usage_in_bytes").and_then(|t| t.trim().parse().ok()),
        cpu_cores: match (quota, period) {
            (Some(q), Some(p)) if q > 0.0 && p > 0.0 => Some(q / p),
            _ => None,
        },
    }
}

/// The sampler's state between ticks. See the module docs.
pub struct Sampler {
    system: System,
    disks: Disks,
    networks: Networks,
    users: Users,
    rates: Rates,
    ticks: u64,
    process_every: u64,
    processes: Vec<ProcessInfo>,
    process_count: usize,
    cgroup_root: PathBuf,
    cgroup: CgroupLimits,
    source: Option<Box<dyn Source>>,
}

impl Sampler {
    /// A sampler that reads the process table every `process_every` ticks
    /// and agora's figures from `source`.
    pub fn new(process_every: u32, source: Option<Box<dyn Source>>) -> Sampler {
        // sysinfo keeps /proc/PID/stat files open by default: one
        // descriptor per process; the daemon needs its descriptors.
        sysinfo::set_open_files_limit(0);
        Sampler {
            system: System::new(),
            disks: Disks::new_with_refreshed_list_specifics(
                DiskRefreshKind::nothing().with_storage().with_io_usage(),
            ),
            networks: Networks::new_with_refreshed_list(),
            users: Users::new_with_refreshed_list(),
            rates: Rates::default(),
            ticks: 0,
            process_every: u64::from(process_every.max(1)),
            processes: Vec::new(),
            process_count: 0,
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            cgroup: CgroupLimits::default(),
            source,
        }
    }

    /// Takes one sample at `now_ms`.
    pub fn sample(&mut self, now_ms: u64) -> Snapshot {
        let started = std::time::Instant::now();
        let mut values = BTreeMap::new();
        let mut counters = BTreeMap::new();
        let tables = self.ticks.is_multiple_of(self.process_every);
        self.ticks += 1;
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::everything());
        let clean = |v: f64| if v.is_finite() { v } else { 0.0 };
        values.insert(
            "cpu.total".to_owned(),
            clean(f64::from(self.system.global_cpu_usage())).clamp(0.0, 100.0),
        );
        for (i, cpu) in self.system.cpus().iter().enumerate() {
            values.insert(
                format!("cpu.core.{i}"),
                clean(f64::from(cpu.cpu_usage())).clamp(0.0, 100.0),
            );
        }
        values.insert("cpu.cores".to_owned(), self.system.cpus().len() as f64);
        let load = System::load_average();
        values.insert("load.1".to_owned(), clean(load.one));
        values.insert("load.5".to_owned(), clean(load.five));
        values.insert("load.15".to_owned(), clean(load.fifteen));
        let total = self.system.total_memory();
        let available = self.system.available_memory().min(total);
        let used = total - available;
        values.insert("mem.total_bytes".to_owned(), total as f64);
        values.insert("mem.used_bytes".to_owned(), used as f64);
        values.insert("mem.available_bytes".to_owned(), available as f64);
        values.insert("mem.used_pct".to_owned(), percent(used, total));
        let swap_total = self.system.total_swap();
        let swap_used = self.system.used_swap().min(swap_total);
        values.insert("swap.total_bytes".to_owned(), swap_total as f64);
        values.insert("swap.used_bytes".to_owned(), swap_used as f64);
        values.insert("swap.used_pct".to_owned(), percent(swap_used, swap_total));

        self.disks.refresh_specifics(
            true,
            DiskRefreshKind::nothing().with_storage().with_io_usage(),
        );
        let mut seen_mounts = 0;
        for disk in self.disks.list() {
            let mount = disk.mount_point().to_string_lossy();
            let total = disk.total_space();
            if total == 0 || is_pseudo_mount(&mount) || seen_mounts == MAX_DEVICES {
                continue;
            }
            seen_mounts += 1;
            let avail = disk.available_space().min(total);
            values.insert(format!("disk.{mount}.total_bytes"), total as f64);
            values.insert(
                format!("disk.{mount}.used_pct"),
                percent(total - avail, total),
            );
            let usage = disk.usage();
            for (name, total) in [
                (format!("disk.{mount}.read_bps"), usage.total_read_bytes),
                (format!("disk.{mount}.write_bps"), usage.total_written_bytes),
            ] {
                if let Some(rate) = self.rates.rate(&name, total, now_ms) {
                    values.insert(name.clone(), rate);
                }
                counters.insert(name, total);
            }
        }

        self.networks.refresh(true);
        let mut nets: Vec<_> = self.networks.list().iter().collect();
        nets.sort_by(|a, b| a.0.cmp(b.0));
        for (iface, data) in nets.into_iter().take(MAX_DEVICES) {
            for (name, total) in [
                (format!("net.{iface}.rx_bps"), data.total_received()),
                (format!("net.{iface}.tx_bps"), data.total_transmitted()),
            ] {
                if let Some(rate) = self.rates.rate(&name, total, now_ms) {
                    values.insert(name.clone(), rate);
                }
                counters.insert(name, total);
            }
        }

        if tables {
            self.refresh_processes();
            self.cgroup = read_cgroup(&self.cgroup_root);
        }
        values.insert("procs.count".to_owned(), self.process_count as f64);
        if let Some(limit) = self.cgroup.mem_limit {
            values.insert("cgroup.mem.limit_bytes".to_owned(), limit as f64);
            if let Some(used) = self.cgroup.mem_used {
                values.insert("cgroup.mem.used_bytes".to_owned(), used as f64);
                values.insert("cgroup.mem.used_pct".to_owned(), percent(used, limit));
            }
        }
        if let Some(cores) = self.cgroup.cpu_cores {
            values.insert("cgroup.cpu.limit_cores".to_owned(), cores);
        }

        if let Some(source) = &self.source {
            let mut readings = Readings::default();
            source.read(&mut readings);
            for (name, value) in readings.gauges {
                values.insert(name, clean(value));
            }
            for (name, total) in readings.counters {
                if let Some(rate) = self.rates.rate(&name, total, now_ms) {
                    values.insert(name.clone(), rate);
                }
                counters.insert(name, total);
            }
        }
        if let Some(rss) = own_rss() {
            values.insert("agora.rss_bytes".to_owned(), rss as f64);
        }
        // Interfaces and disks that went away stop being rated.
        self.rates
            .forget_older(now_ms.saturating_sub(3_600_000 * self.process_every));
        let took_secs = started.elapsed().as_secs_f64();
        Snapshot {
            sample: Sample {
                ts_ms: now_ms,
                values,
                processes: self.processes.clone(),
            },
            counters,
            took_secs,
        }
    }

    fn refresh_processes(&mut self) {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_user(UpdateKind::OnlyIfNotSet)
                .with_cmd(UpdateKind::OnlyIfNotSet)
                .without_tasks(),
        );
        let procs = self.system.processes();
        // Threads are listed as tasks of their process, not as processes.
        let mut list: Vec<ProcessInfo> = procs
            .values()
            .filter(|p| p.thread_kind().is_none())
            .map(|p| {
                let user = p
                    .user_id()
                    .map(|uid| {
                        self.users
                            .get_user_by_id(uid)
                            .map_or_else(|| uid.to_string(), |u| u.name().to_owned())
                    })
                    .unwrap_or_default();
                let mut cmd = p
                    .cmd()
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ");
                truncate(&mut cmd, MAX_CMD);
                let cpu = f64::from(p.cpu_usage());
                ProcessInfo {
                    pid: p.pid().as_u32(),
                    name: p.name().to_string_lossy().into_owned(),
                    user,
                    cpu_pct: if cpu.is_finite() { cpu.max(0.0) } else { 0.0 },
                    rss_bytes: p.memory(),
                    state: p.status().to_string(),
                    cmd,
                }
            })
            .collect();
        self.process_count = list.len();
        list.sort_by(|a, b| {
            b.cpu_pct
                .total_cmp(&a.cpu_pct)
                .then(b.rss_bytes.cmp(&a.rss_bytes))
        });
        list.truncate(TOP_PROCESSES);
        self.processes = list;
    }
}

/// `part` of `whole` in percent, 0 when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
    }
}

/// Mounts that are not storage anyone cares about (bind-mounted files in
/// containers, kernel file systems).
fn is_pseudo_mount(mount: &str) -> bool {
    mount.starts_with("/proc")
        || mount.starts_with("/sys")
        || mount.starts_with("/dev")
        || mount.starts_with("/run")
        || mount.starts_with("/etc/")
        || mount.starts_with("/snap/")
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// This process's resident memory, from /proc/self/statm.
pub fn own_rss() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).unwrap_or(4096))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_become_rates_and_survive_resets() {
        let mut r = Rates::default();
        assert_eq!(r.rate("x", 100, 1_000), None, "the first reading");
        assert_eq!(r.rate("x", 1_100, 2_000), Some(1000.0));
        assert_eq!(r.rate("x", 1_600, 2_500), Some(1000.0), "per second");
        assert_eq!(r.rate("x", 1_600, 2_500), None, "no time passed");
        assert_eq!(r.rate("x", 1_600, 3_500), Some(0.0));
        // A reset: the counter restarted from zero.
        assert_eq!(r.rate("x", 300, 4_500), Some(300.0));
        r.forget_older(4_000);
        assert_eq!(r.rate("y", 1, 5_000), None);
        r.forget_older(5_000);
        assert_eq!(r.rate("x", 400, 5_500), None, "forgotten");
    }

    #[test]
    fn cgroup_files_parse() {
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max("536870912\n"), Some(512 << 20));
        assert_eq!(parse_memory_max("9223372036854771712"), None, "v1's none");
        assert_eq!(parse_memory_max("junk"), None);
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2.0));
        assert_eq!(parse_cpu_max("50000 100000"), Some(0.5));
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn cgroup_v2_limits_are_read_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory").unwrap();
        std::fs::write(dir.path().join("memory.max"), "1073741824\n").unwrap();
        std::fs::write(dir.path().join("memory.current"), "268435456\n").unwrap();
        std::fs::write(dir.path().join("cpu.max"), "150000 100000\n").unwrap();
        let limits = read_cgroup(dir.path());
        assert_eq!(limits.mem_limit, Some(1 << 30));
        assert_eq!(limits.mem_used, Some(256 << 20));
        assert_eq!(limits.cpu_cores, Some(1.5));
    }

    #[test]
    fn samples_are_sane() {
        let mut s = Sampler::new(1, None);
        let first = s.sample(1_000);
        std::thread::sleep(std::time::Duration::from_millis(250));
        let second = s.sample(1_250);
        for snap in [&first, &second] {
            let v = &snap.sample.values;
            for (name, value) in v {
                assert!(value.is_finite(), "{name} = {value}");
                if name.ends_with("_pct") || name.starts_with("cpu.total") {
                    assert!((0.0..=100.0).contains(value), "{name} = {value}");
                }
                if name.ends_with("_bps") || name.ends_with("_bytes") {
                    assert!(*value >= 0.0, "{name} = {value}");
                }
            }
            assert!(v["mem.total_bytes"] > 0.0);
            assert!(v["cpu.cores"] >= 1.0);
            assert!(v.contains_key("cpu.core.0"));
            assert!(v["procs.count"] >= 1.0);
            assert!(v["agora.rss_bytes"] > 0.0);
        }
        // Rates appear from the second tick on.
        assert!(
            second.sample.values.keys().any(|k| k.ends_with("rx_bps")),
            "{:?}",
            second.sample.values.keys().collect::<Vec<_>>()
        );
        assert!(
            !second.sample.processes.is_empty() && second.sample.processes.len() <= TOP_PROCESSES
        );
    }
}
