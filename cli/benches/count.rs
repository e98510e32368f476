//! In-memory throughput of `agora process`'s counter: the level kernel
//! (lines, bytes, levels) and `--words`, on a synthetic log shaped like
//! scripts/bench-process.sh's corpus (timestamped, bracketed and logfmt
//! lines mixed at random). Each iteration copies 64 KiB line-aligned
//! pieces into a reused buffer and feeds them, as reading a file does, so
//! the figure includes the (cache-hot) copy but no system calls.
//!
//!   scripts/bench-count.sh

use std::hint::black_box;

use agora::process::count::{CountOptions, Counter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About `size` bytes of log lines from a fixed seed.
fn synthetic_log(size: usize) -> Vec<u8> {
    const LEVELS: [&str; 10] = [
        "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR", "TRACE",
    ];
    const WORDS: [&str; 12] = [
        "request", "served", "user", "session", "cache", "miss", "retry", "timeout", "upstream",
        "closed", "payload", "latency",
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(size + 256);
    let mut t = 1_700_000_000u64;
    while out.len() < size {
        let r = next();
        t += r % 4;
        let level = LEVELS[(r >> 8) as usize % LEVELS.len()];
        let words = 3 + (r >> 16) as usize % 14;
        let msg: Vec<&str> = (0..words)
            .map(|i| WORDS[(r >> (20 + i % 40)) as usize % WORDS.len()])
            .collect();
        let msg = msg.join(" ");
        let ts = format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + t % 12,
            1 + t % 28,
            t % 24,
            t % 60,
            (t * 7) % 60,
            t % 1000
        );
        let line = match (r >> 60) % 10 {
            0..=6 => format!("{ts} {level} [worker-{}] {msg} id={t}\n", t % 16),
            7 | 8 => format!("ts={ts} level={level} msg=\"{msg}\" id={t}\n"),
            _ => format!("{ts} {level:<5} {msg}\n"),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Feeds `data` to a counter in line-aligned pieces of at most 64 KiB,
/// each first copied into `buf`.
fn count(data: &[u8], opts: &CountOptions, buf: &mut [u8]) -> u64 {
    let mut counter = Counter::new(opts);
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + buf.len()).min(data.len());
        if end < data.len() {
            end =
                start + memchr::memrchr(b'\n', &data[start..end]).map_or(end - start, |nl| nl + 1);
        }
        let piece = &mut buf[..end - start];
        piece.copy_from_slice(&data[start..end]);
        counter.feed(piece);
        start = end;
    }
    counter.finish().lines
}

fn bench_count(c: &mut Criterion) {
    let data = synthetic_log(16 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut group = c.benchmark_group("count");
    group.throughput(Throughput::Bytes(data.len() as u64));
    let levels = CountOptions {
        words: false,
        ignore_level_case: false,
        regexes: Vec::new(),
        count_matches: false,
    };
    group.bench_function("lines_bytes_levels", |b| {
        b.iter(|| count(black_box(&data), &levels, &mut buf))
    });
    let words = CountOptions {
        words: true,
        ..levels.clone()
    };
    group.bench_function("with_words", |b| {
        b.iter(|| count(black_box(&data), &words, &mut buf))
    });
    group.finish();
}

criterion_group!(benches, bench_count);
criterion_main!(benches);
