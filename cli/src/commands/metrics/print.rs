//! One JSON shape per thing (a sample, a process, a point, an alert, a
//! transition, a viewer) and its text form. Floats are rounded to three
//! decimals (docs/CLI.md).

use std::fmt::Write as _;

use agora_wire::MetricsEvent;
use agora_wire::metrics::{Alert, Point, ProcessInfo, Sample, Transition, Viewer};
use serde_json::{Value, json};

use crate::output::round_micros as three;

/// `{ts_ms, values, processes}`.
pub fn sample(s: &Sample) -> Value {
    let values: serde_json::Map<String, Value> = s
        .values
        .iter()
        .map(|(k, v)| (k.clone(), json!(three(*v))))
        .collect();
    json!({
        "ts_ms": s.ts_ms,
        "values": values,
        "processes": s.processes.iter().map(process).collect::<Vec<_>>(),
    })
}

/// `{pid, name, user, cpu_pct, rss_bytes, state, cmd}`.
pub fn process(p: &ProcessInfo) -> Value {
    json!({
        "pid": p.pid,
        "name": p.name,
        "user": p.user,
        "cpu_pct": three(p.cpu_pct),
        "rss_bytes": p.rss_bytes,
        "state": p.state,
        "cmd": p.cmd,
    })
}

/// `{ts_ms, min, avg, max}`.
pub fn point(p: &Point) -> Value {
    json!({ "ts_ms": p.ts_ms, "min": three(p.min), "avg": three(p.avg), "max": three(p.max) })
}

/// `{name, metric, op, threshold, for_ms, severity, state, since_ms,
/// value, silenced_until_ms}` (value and silenced_until_ms may be null).
pub fn alert(a: &Alert) -> Value {
    json!({
        "name": a.name,
        "metric": a.metric,
        "op": a.op,
        "threshold": three(a.threshold),
        "for_ms": a.for_ms,
        "severity": a.severity,
        "state": a.state.name(),
        "since_ms": a.since_ms,
        "value": a.value.map(three),
        "silenced_until_ms": a.silenced_until_ms,
    })
}

/// `{id, rule, from, to, value, ts_ms, silenced}`.
pub fn transition(t: &Transition) -> Value {
    json!({
        "id": t.id,
        "rule": t.rule,
        "from": t.from.name(),
        "to": t.to.name(),
        "value": three(t.value),
        "ts_ms": t.ts_ms,
        "silenced": t.silenced,
    })
}

/// `{session, user, since_ms, view}`.
pub fn viewer(v: &Viewer) -> Value {
    json!({ "session": v.session, "user": v.user, "since_ms": v.since_ms, "view": v.view })
}

/// A `watch --json` line: `sample`, `alert` or `viewers`, with a type.
pub fn event_json(event: &MetricsEvent) -> Value {
    match event {
        MetricsEvent::Tick { sample: s } => {
            let mut v = sample(s);
            v["type"] = json!("sample");
            v
        }
        MetricsEvent::AlertChanged {
            transition: t,
            alert: a,
            name,
            node,
        } => json!({
            "type": "alert",
            "name": name,
            "node": node,
            "transition": t.as_ref().map(transition),
            "alert": a.as_deref().map(alert),
        }),
        MetricsEvent::Viewers { viewers } => json!({
            "type": "viewers",
            "viewers": viewers.iter().map(viewer).collect::<Vec<_>>(),
        }),
    }
}

/// A `watch` line for people.
pub fn event_text(event: &MetricsEvent) -> Option<String> {
    match event {
        MetricsEvent::Tick { sample } => Some(watch_line(sample)),
        MetricsEvent::AlertChanged {
            transition: Some(t),
            node,
            ..
        } => Some(match node {
            Some(node) => format!("{node}: {}", transition_text(t)),
            None => transition_text(t),
        }),
        MetricsEvent::AlertChanged { alert: Some(a), .. } => {
            Some(format!("[{}] rule {}", clock(a.since_ms), alert_text(a)))
        }
        MetricsEvent::AlertChanged { name, .. } => Some(format!("rule {name} removed")),
        MetricsEvent::Viewers { viewers } => Some(format!(
            "watching: {}",
            viewers
                .iter()
                .map(|v| format!("{} ({})", v.user, v.view))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `HH:MM:SS` (UTC).
pub fn clock(ts_ms: u64) -> String {
    let secs = ts_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// `2026-11-30T10:40:01Z`.
pub fn datetime(ts_ms: u64) -> String {
    let secs = ts_ms / 1000;
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{}Z", clock(ts_ms))
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024.0 {
        return format!("{n:.0} B");
    }
    let mut v = n / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// One compact line per sample: `10:40:01 cpu 12.3% mem 45.6% load 0.52
/// net ↓1.2 KiB/s ↑300 B/s procs 123 conns 3`.
pub fn watch_line(s: &Sample) -> String {
    let v = |k: &str| s.values.get(k).copied();
    let (rx, tx) = s.values.iter().fold((0.0, 0.0), |(rx, tx), (k, val)| {
        if !k.starts_with("net.") || k.starts_with("net.lo.") {
            (rx, tx)
        } else if k.ends_with(".rx_bps") {
            (rx + val, tx)
        } else if k.ends_with(".tx_bps") {
            (rx, tx + val)
        } else {
            (rx, tx)
        }
    });
    format!(
        "{} cpu {:.1}% mem {:.1}% load {:.2} net ↓{}/s ↑{}/s procs {} conns {}",
        clock(s.ts_ms),
        v("cpu.total").unwrap_or(0.0),
        v("mem.used_pct").unwrap_or(0.0),
        v("load.1").unwrap_or(0.0),
        bytes(rx),
        bytes(tx),
        v("procs.count").unwrap_or(0.0),
        v("agora.connections").unwrap_or(0.0),
    )
}

/// `agora metrics now` for people.
pub fn now_text(s: &Sample) -> String {
    let v = |k: &str| s.values.get(k).copied();
    let mut out = String::new();
    let _ = writeln!(out, "time     {}", datetime(s.ts_ms));
    let cores: Vec<String> = (0..)
        .map_while(|i| v(&format!("cpu.core.{i}")))
        .map(|c| format!("{c:.0}%"))
        .collect();
    let _ = write!(
        out,
        "cpu      {:.1}% ({} cores: {})",
        v("cpu.total").unwrap_or(0.0),
        cores.len(),
        cores.join(" ")
    );
    if let Some(limit) = v("cgroup.cpu.limit_cores") {
        let _ = write!(out, "   container limit {limit:.2} cores");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "load     {:.2} {:.2} {:.2}",
        v("load.1").unwrap_or(0.0),
        v("load.5").unwrap_or(0.0),
        v("load.15").unwrap_or(0.0)
    );
    let _ = write!(
        out,
        "memory   {} of {} ({:.1}%)",
        bytes(v("mem.used_bytes").unwrap_or(0.0)),
        bytes(v("mem.total_bytes").unwrap_or(0.0)),
        v("mem.used_pct").unwrap_or(0.0)
    );
    if let Some(limit) = v("cgroup.mem.limit_bytes") {
        let _ = write!(
            out,
            "   container {} of {}",
            bytes(v("cgroup.mem.used_bytes").unwrap_or(0.0)),
            bytes(limit)
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "swap     {} of {}",
        bytes(v("swap.used_bytes").unwrap_or(0.0)),
        bytes(v("swap.total_bytes").unwrap_or(0.0))
    );
    for (k, pct) in &s.values {
        if let Some(mount) = k
            .strip_prefix("disk.")
            .and_then(|r| r.strip_suffix(".used_pct"))
        {
            let _ = writeln!(
                out,
                "disk     {mount} {pct:.1}% of {}, read {}/s, write {}/s",
                bytes(v(&format!("disk.{mount}.total_bytes")).unwrap_or(0.0)),
                bytes(v(&format!("disk.{mount}.read_bps")).unwrap_or(0.0)),
                bytes(v(&format!("disk.{mount}.write_bps")).unwrap_or(0.0)),
            );
        }
    }
    for k in s.values.keys() {
        if let Some(iface) = k
            .strip_prefix("net.")
            .and_then(|r| r.strip_suffix(".rx_bps"))
        {
            let _ = writeln!(
                out,
                "net      {iface} ↓{}/s ↑{}/s",
                bytes(v(k).unwrap_or(0.0)),
                bytes(v(&format!("net.{iface}.tx_bps")).unwrap_or(0.0)),
            );
        }
    }
    let _ = writeln!(out, "procs    {:.0}", v("procs.count").unwrap_or(0.0));
    let _ = writeln!(
        out,
        "agora    {:.0} connections, {:.1} requests/s, {:.1} chat messages/s, {:.1} cache ops/s (hit ratio {:.0}%), RSS {}",
        v("agora.connections").unwrap_or(0.0),
        v("agora.requests_per_sec").unwrap_or(0.0),
        v("agora.chat.messages_per_sec").unwrap_or(0.0),
        v("agora.cache.ops_per_sec").unwrap_or(0.0),
        v("agora.cache.hit_ratio").unwrap_or(0.0) * 100.0,
        bytes(v("agora.rss_bytes").unwrap_or(0.0)),
    );
    out
}

/// The process table.
pub fn top_text(procs: &[ProcessInfo]) -> String {
    let mut out = format!(
        "{:>7}  {:<10} {:>6} {:>10}  {:<8} {:<16} {}\n",
        "PID", "USER", "CPU%", "RSS", "STATE", "NAME", "COMMAND"
    );
    for p in procs {
        let user: String = p.user.chars().take(10).collect();
        let name: String = p.name.chars().take(16).collect();
        let _ = writeln!(
            out,
            "{:>7}  {:<10} {:>6.1} {:>10}  {:<8} {:<16} {}",
            p.pid,
            user,
            p.cpu_pct,
            bytes(p.rss_bytes as f64),
            p.state,
            name,
            p.cmd
        );
    }
    out
}

/// History rows for people.
pub fn points_text(metric: &str, points: &[Point]) -> String {
    let mut out = format!(
        "{:<21} {:>12} {:>12} {:>12}   {metric}\n",
        "TIME", "MIN", "AVG", "MAX"
    );
    for p in points {
        let _ = writeln!(
            out,
            "{:<21} {:>12.3} {:>12.3} {:>12.3}",
            datetime(p.ts_ms),
            p.min,
            p.avg,
            p.max
        );
    }
    out
}

/// History rows as CSV.
pub fn points_csv(points: &[Point]) -> String {
    let mut out = String::from("ts_ms,min,avg,max\n");
    for p in points {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            p.ts_ms,
            three(p.min),
            three(p.avg),
            three(p.max)
        );
    }
    out
}

/// `FIRING   hot  cpu.total > 90 for 60s (critical), now 97.0, since 10:40:01`.
pub fn alert_text(a: &Alert) -> String {
    let mut line = format!(
        "{:<8} {}  {} {} {} for {}s ({})",
        a.state.name().to_uppercase(),
        a.name,
        a.metric,
        a.op,
        three(a.threshold),
        a.for_ms / 1000,
        a.severity
    );
    if let Some(v) = a.value {
        let _ = write!(line, ", now {v:.1}");
    }
    if a.since_ms > 0 {
        let _ = write!(line, ", since {}", clock(a.since_ms));
    }
    if let Some(until) = a.silenced_until_ms {
        let _ = write!(line, ", silenced until {}", datetime(until));
    }
    line
}

/// `[10:40:01] hot: pending → firing (97.0)`.
pub fn transition_text(t: &Transition) -> String {
    format!(
        "[{}] {}: {} → {} ({:.1}){}",
        datetime(t.ts_ms),
        t.rule,
        t.from.name(),
        t.to.name(),
        t.value,
        if t.silenced { " silenced" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_sizes() {
        assert_eq!(datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(datetime(1_796_036_401_000), "2026-11-30T11:00:01Z");
        assert_eq!(datetime(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }
}
