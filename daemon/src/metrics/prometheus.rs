//! The system half of `/metrics`: the latest sample in Prometheus's text
//! format, with conventional names and base units (bytes, seconds,
//! ratios 0–1), counters as totals ending in `_total` (Prometheus takes
//! the rates itself), one HELP and TYPE line per family.

use std::fmt::Write as _;

use agora_wire::metrics::AlertState;

use super::Metrics;

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn line(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_finite() {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            format!("{v}")
        }
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

/// The metrics of `values` named `prefix.X.suffix`, as (X, value).
fn per<'a>(
    values: &'a std::collections::BTreeMap<String, f64>,
    prefix: &'a str,
    suffix: &'a str,
) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    values.iter().filter_map(move |(k, v)| {
        k.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .map(|x| (x, *v))
    })
}

/// Appends the system and dashboard metrics to `out`.
pub fn render(metrics: &Metrics, out: &mut String) {
    let Some(snap) = metrics.latest() else {
        return;
    };
    let v = &snap.sample.values;
    let c = &snap.counters;
    let mut f = Family { out };
    let get = |k: &str| v.get(k).copied();

    f.head(
        "agora_system_cpu_usage_ratio",
        "gauge",
        "CPU busy time over the last sampling interval, 0-1, in total and per core.",
    );
    if let Some(total) = get("cpu.total") {
        f.line(
            "agora_system_cpu_usage_ratio",
            &[("cpu", "total")],
            total / 100.0,
        );
    }
    for (core, value) in per(v, "cpu.core.", "") {
        f.line(
            "agora_system_cpu_usage_ratio",
            &[("cpu", core)],
            value / 100.0,
        );
    }
    for (name, key, help) in [
        (
            "agora_system_load1",
            "load.1",
            "Load average over 1 minute.",
        ),
        (
            "agora_system_load5",
            "load.5",
            "Load average over 5 minutes.",
        ),
        (
            "agora_system_load15",
            "load.15",
            "Load average over 15 minutes.",
        ),
        (
            "agora_system_processes",
            "procs.count",
            "Processes on the host.",
        ),
    ] {
        if let Some(value) = get(key) {
            f.head(name, "gauge", help);
            f.line(name, &[], value);
        }
    }
    f.head(
        "agora_system_memory_bytes",
        "gauge",
        "Host memory in bytes, by state (total, used, available).",
    );
    for state in ["total", "used", "available"] {
        if let Some(value) = get(&format!("mem.{state}_bytes")) {
            f.line("agora_system_memory_bytes", &[("state", state)], value);
        }
    }
    f.head(
        "agora_system_swap_bytes",
        "gauge",
        "Host swap in bytes, by state (total, used).",
    );
    for state in ["total", "used"] {
        if let Some(value) = get(&format!("swap.{state}_bytes")) {
            f.line("agora_system_swap_bytes", &[("state", state)], value);
        }
    }
    f.head(
        "agora_system_filesystem_size_bytes",
        "gauge",
        "File system size in bytes, by mount point.",
    );
    for (mount, value) in per(v, "disk.", ".total_bytes") {
        f.line(
            "agora_system_filesystem_size_bytes",
            &[("mountpoint", mount)],
            value,
        );
    }
    f.head(
        "agora_system_filesystem_used_ratio",
        "gauge",
        "Share of the file system in use, 0-1, by mount point.",
    );
    for (mount, value) in per(v, "disk.", ".used_pct") {
        f.line(
            "agora_system_filesystem_used_ratio",
            &[("mountpoint", mount)],
            value / 100.0,
        );
    }
    let counters =
        |name: &str, prefix: &str, suffix: &str, label: &str, help: &str, f: &mut Family| {
            f.head(name, "counter", help);
            for (key, total) in c {
                if let Some(x) = key
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_suffix(suffix))
                {
                    f.line(name, &[(label, x)], *total as f64);
                }
            }
        };
    counters(
        "agora_system_disk_read_bytes_total",
        "disk.",
        ".read_bps",
        "mountpoint",
        "Bytes read from the device behind the mount point.",
        &mut f,
    );
    counters(
        "agora_system_disk_written_bytes_total",
        "disk.",
        ".write_bps",
        "mountpoint",
        "Bytes written to the device behind the mount point.",
        &mut f,
    );
    counters(
        "agora_system_network_receive_bytes_total",
        "net.",
        ".rx_bps",
        "interface",
        "Bytes received, by network interface.",
        &mut f,
    );
    counters(
        "agora_system_network_transmit_bytes_total",
        "net.",
        ".tx_bps",
        "interface",
        "Bytes sent, by network interface.",
        &mut f,
    );
    if let Some(limit) = get("cgroup.mem.limit_bytes") {
        f.head(
            "agora_cgroup_memory_limit_bytes",
            "gauge",
            "The container's memory limit (cgroup memory.max).",
        );
        f.line("agora_cgroup_memory_limit_bytes", &[], limit);
    }
    if let Some(used) = get("cgroup.mem.used_bytes") {
        f.head(
            "agora_cgroup_memory_usage_bytes",
            "gauge",
            "The container's memory in use (cgroup memory.current).",
        );
        f.line("agora_cgroup_memory_usage_bytes", &[], used);
    }
    if let Some(cores) = get("cgroup.cpu.limit_cores") {
        f.head(
            "agora_cgroup_cpu_limit_cores",
            "gauge",
            "The container's CPU limit in cores (cgroup cpu.max quota / period).",
        );
        f.line("agora_cgroup_cpu_limit_cores", &[], cores);
    }
    if let Some(rss) = get("agora.rss_bytes") {
        f.head(
            "agora_process_resident_memory_bytes",
            "gauge",
            "The daemon's resident memory in bytes.",
        );
        f.line("agora_process_resident_memory_bytes", &[], rss);
    }
    if let Some(total) = c.get("agora.cache.ops_per_sec") {
        f.head(
            "agora_cache_commands_total",
            "counter",
            "Cache commands executed (RESP and native).",
        );
        f.line("agora_cache_commands_total", &[], *total as f64);
    }
    if let Some(ratio) = get("agora.cache.hit_ratio") {
        f.head(
            "agora_cache_hit_ratio",
            "gauge",
            "Cache lookups that found their key since start, 0-1.",
        );
        f.line("agora_cache_hit_ratio", &[], ratio);
    }
    f.head(
        "agora_metrics_sample_duration_seconds",
        "gauge",
        "How long the last sample took to take.",
    );
    f.line("agora_metrics_sample_duration_seconds", &[], snap.took_secs);
    f.head(
        "agora_dashboard_viewers",
        "gauge",
        "Sessions and web pages watching the dashboard now.",
    );
    f.line(
        "agora_dashboard_viewers",
        &[],
        metrics.viewers().len() as f64,
    );
    let counts = metrics.alert_counts();
    f.head("agora_alerts", "gauge", "Alert rules, by state.");
    for state in [
        AlertState::Ok,
        AlertState::Pending,
        AlertState::Firing,
        AlertState::Resolved,
    ] {
        let n = counts.get(&state).copied().unwrap_or(0);
        f.line("agora_alerts", &[("state", state.name())], n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_labels_are_written_as_the_format_wants() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
