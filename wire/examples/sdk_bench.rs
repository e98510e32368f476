//! Throughput and latency of the Rust SDK over one connection: `ping` and a
//! cache `GET` with N requests in flight on one `Session`. Prints one JSON
//! object, in the shape of `sdk/python/bench.py`'s (scripts/bench-sdk.sh
//! compares them).
//!
//! ```sh
//! AGORA_TOKEN=… cargo run --release -p agora-wire --example sdk_bench -- 127.0.0.1:7070 3 64
//! ```
//!
//! Arguments: ADDR [SECONDS] [IN_FLIGHT]; the token (the cache needs a
//! signed-in connection) from `AGORA_TOKEN`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agora_wire::Session;

async fn measure<F, Fut>(
    name: &str,
    call: F,
    inflight: usize,
    seconds: f64,
) -> Result<serde_json::Value, agora_wire::Error>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), agora_wire::Error>> + Send,
{
    let run = |limit: Duration| {
        let stop = Arc::new(AtomicBool::new(false));
        let lanes: Vec<_> = (0..inflight)
            .map(|_| {
                let (call, stop) = (call.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        call().await?;
                        latencies.push(started.elapsed());
                    }
                    Ok::<_, agora_wire::Error>(latencies)
                })
            })
            .collect();
        async move {
            tokio::time::sleep(limit).await;
            stop.store(true, Ordering::Relaxed);
            let mut all = Vec::new();
            for lane in lanes {
                all.extend(lane.await.expect("lane")?);
            }
            Ok::<_, agora_wire::Error>(all)
        }
    };
    run(Duration::from_millis(500)).await?; // warm-up
    let begin = Instant::now();
    let mut latencies = run(Duration::from_secs_f64(seconds)).await?;
    let elapsed = begin.elapsed().as_secs_f64();
    latencies.sort();
    let ms = |p: f64| {
        let i =
            ((p / 100.0 * latencies.len() as f64).round() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1e3
    };
    Ok(serde_json::json!({
        "op": name,
        "requests": latencies.len(),
        "seconds": elapsed,
        "rps": latencies.len() as f64 / elapsed,
        "p50_ms": ms(50.0),
        "p99_ms": ms(99.0),
        "max_ms": ms(100.0),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7070".into());
    let seconds: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let inflight: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let token = std::env::var("AGORA_TOKEN").map_err(|_| "set AGORA_TOKEN to a token")?;
    let session = Session::builder([addr.as_str()])
        .client_name("agora-bench-rust")
        .token(token)
        .connect()
        .await?;
    let key = format!("bench:{}", std::process::id());
    session.cache().set(key.as_bytes(), &[b'x'; 16]).await?;
    let ping = {
        let s = session.clone();
        move || {
            let s = s.clone();
            async move { s.ping().await.map(drop) }
        }
    };
    let get = {
        let (s, key) = (session.clone(), key.clone());
        move || {
            let (s, key) = (s.clone(), key.clone());
            async move { s.cache().get(key.as_bytes()).await.map(drop) }
        }
    };
    let results = vec![
        measure("ping", ping, inflight, seconds).await?,
        measure("cache_get", get, inflight, seconds).await?,
    ];
    session.cache().del(&[key.as_bytes()]).await?;
    println!(
        "{}",
        serde_json::json!({
            "client": "agora-wire-rust",
            "version": env!("CARGO_PKG_VERSION"),
            "addr": addr,
            "connections": 1,
            "inflight": inflight,
            "results": results,
        })
    );
    Ok(())
}
