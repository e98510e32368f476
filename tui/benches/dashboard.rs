//! Frame render time of the Dashboard tab at 160x48 with a full minute of
//! samples, 40 processes and a few alerts (the goal: under 2 ms).
//! `scripts/bench-dashboard.sh` runs it.

use std::collections::BTreeMap;

use agora_tui::{DashboardState, Tab};
use agora_wire::metrics::{Alert, AlertState, ProcessInfo, Sample, Viewer};
use agora_wire::{MetricsReply, Reply};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

fn sample(ts_ms: u64, i: u64) -> Sample {
    let mut values = BTreeMap::new();
    let wave = |p: u64| ((i + p) % 20) as f64 * 5.0;
    values.insert("cpu.total".to_owned(), wave(0));
    for c in 0..16 {
        values.insert(format!("cpu.core.{c}"), wave(c));
    }
    for (k, v) in [
        ("load.1", 1.5),
        ("mem.total_bytes", 64e9),
        ("mem.used_bytes", 20e9),
        ("mem.used_pct", 31.0),
        ("swap.used_pct", 0.0),
        ("procs.count", 400.0),
    ] {
        values.insert(k.to_owned(), v);
    }
    for d in ["/", "/data", "/home"] {
        values.insert(format!("disk.{d}.read_bps"), wave(3) * 1e4);
        values.insert(format!("disk.{d}.write_bps"), wave(4) * 1e4);
    }
    for n in ["eth0", "eth1", "lo"] {
        values.insert(format!("net.{n}.rx_bps"), wave(5) * 1e5);
        values.insert(format!("net.{n}.tx_bps"), wave(6) * 1e5);
    }
    let processes = (0..40)
        .map(|n| ProcessInfo {
            pid: 1000 + n,
            name: format!("worker-{n}"),
            user: "alice".into(),
            cpu_pct: f64::from(n),
            rss_bytes: u64::from(n) << 24,
            state: "Run".into(),
            cmd: format!("/opt/app/bin/worker --id {n} --queue default --threads 4"),
        })
        .collect();
    Sample {
        ts_ms,
        values,
        processes,
    }
}

fn state() -> DashboardState {
    let mut s = DashboardState::new();
    s.on_connected(Some("alice"));
    s.on_show();
    let tag = s.take_outbox()[0].tag;
    let alerts = (0..5)
        .map(|i| Alert {
            name: format!("rule-{i}"),
            metric: "cpu.total".into(),
            op: ">".into(),
            threshold: 90.0,
            for_ms: 60_000,
            severity: "warning".into(),
            state: if i == 0 {
                AlertState::Firing
            } else {
                AlertState::Ok
            },
            since_ms: 0,
            value: Some(50.0),
            silenced_until_ms: None,
        })
        .collect();
    let viewers = (0..4)
        .map(|i| Viewer {
            session: i,
            user: format!("user{i}"),
            since_ms: 0,
            view: "tui".into(),
        })
        .collect();
    s.on_reply(
        tag,
        Ok(Reply::Metrics(MetricsReply::Watching {
            recent: (0..300).map(|i| sample(1_000_000 + i * 1000, i)).collect(),
            alerts,
            viewers,
        })),
    );
    s
}

fn render(c: &mut Criterion) {
    let mut s = state();
    s.on_resize(Rect::new(0, 0, 160, 48));
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("dashboard frame 160x48", |b| {
        b.iter(|| {
            terminal
                .draw(|f| s.render(f.area(), f.buffer_mut()))
                .unwrap();
        })
    });
    let mut small = Terminal::new(TestBackend::new(80, 24)).unwrap();
    s.on_resize(Rect::new(0, 0, 80, 24));
    c.bench_function("dashboard frame 80x24", |b| {
        b.iter(|| {
            small.draw(|f| s.render(f.area(), f.buffer_mut())).unwrap();
        })
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
