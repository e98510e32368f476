//! The metrics history on a real SQLite file: insert throughput through
//! the downsampler and the batched writes the service uses, then range
//! query latency over 7 days of one-minute steps (the goal: under
//! 20 ms). Not a criterion bench: it builds a week of data once and
//! prints a Markdown table. `scripts/bench-dashboard.sh` runs it:
//!
//!   cargo bench -p agora-daemon --bench metrics_history [-- METRICS]

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use agora_daemon::metrics::history::{Batch, Downsampler, MINUTE};
use agora_db::Db;
use agora_db::metrics::Metrics;

/// Writes `batch` in one transaction, as the service's flush does.
fn write(db: &Db, ids: &mut HashMap<String, i64>, batch: &Batch) {
    db.write(|c| {
        let tx = c.transaction()?;
        {
            let repo = Metrics::new(&tx);
            for (tier, name, row) in &batch.rows {
                let id = match ids.get(name) {
                    Some(id) => *id,
                    None => {
                        let id = repo.metric_id(name)?;
                        ids.insert(name.clone(), id);
                        id
                    }
                };
                repo.insert_points(*tier, &[(id, *row)])?;
            }
        }
        tx.commit()?;
        Ok(())
    })
    .unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let metrics: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("agora.db")).unwrap();
    let names: Vec<String> = (0..metrics).map(|i| format!("bench.metric.{i}")).collect();
    let mut ids = HashMap::new();

    // (1) Raw samples through the downsampler: one sample a second for an
    // hour, flushed every 5 samples (the service's 5 s).
    let mut down = Downsampler::default();
    let mut batch = Batch::default();
    let start = 1_700_000_000_000u64;
    let t = Instant::now();
    let mut rows = 0;
    for s in 0..3600u64 {
        let values: BTreeMap<String, f64> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), ((s + i as u64) % 100) as f64))
            .collect();
        down.push(start + s * 1000, &values, &mut batch);
        if s % 5 == 4 {
            rows += batch.rows.len();
            write(&db, &mut ids, &std::mem::take(&mut batch));
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("| what | figure |");
    println!("|---|---:|");
    println!(
        "| history insert, {metrics} metrics, 1 sample/s for 1 h, a transaction per 5 s | {:.0} rows/s ({rows} rows in {:.2} s; {:.2} ms per 5-second flush) |",
        rows as f64 / secs,
        secs,
        secs * 1000.0 / 720.0
    );

    // (2) A week of one-minute steps, written directly in tier 1.
    let week = 7 * 24 * 60;
    let t = Instant::now();
    db.write(|c| {
        let tx = c.transaction()?;
        {
            let repo = Metrics::new(&tx);
            for name in &names {
                let id = ids[name];
                let points: Vec<_> = (0..week)
                    .map(|m| {
                        let v = (m % 100) as f64;
                        (
                            id,
                            agora_db::metrics::PointRow {
                                ts_ms: (start + m * 60_000) as i64,
                                min: v,
                                avg: v,
                                max: v,
                            },
                        )
                    })
                    .collect();
                repo.insert_points(MINUTE, &points)?;
            }
        }
        tx.commit()?;
        Ok(())
    })
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let total = week as usize * metrics;
    println!(
        "| 7 days of 1-minute steps for {metrics} metrics, one transaction | {:.0} rows/s ({total} rows in {:.2} s) |",
        total as f64 / secs,
        secs
    );

    // (3) Range queries over the week, on a read connection.
    let to = (start + week * 60_000) as i64;
    let from = start as i64;
    for (label, step) in [
        ("1-minute steps (10,080 points)", 60_000i64),
        ("10-minute steps (1,008 points)", 600_000),
        ("1-hour steps (168 points)", 3_600_000),
    ] {
        let mut times = Vec::new();
        let mut n = 0;
        for q in 0..200 {
            let id = ids[&names[q % names.len()]];
            let t = Instant::now();
            n = db
                .read(|c| Metrics::new(c).range(MINUTE, id, from, to, step))
                .unwrap()
                .len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| range over 7 days, {label}: {n} points | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
    }
    let size = std::fs::metadata(dir.path().join("agora.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.path().join("agora.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "| database size after both | {:.1} MiB |",
        size as f64 / 1048576.0
    );
}
