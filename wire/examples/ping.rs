//! Connects to an agora daemon, pings it a few times and prints the
//! round-trip times.
//!
//! ```sh
//! cargo run -p agora-wire --example ping -- 127.0.0.1:7070
//! ```

use std::time::Instant;

use agora_wire::{BaseOp, BaseReply, Client, Hello, Reply};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7070".into());
    let (client, welcome) = Client::connect(&addr, Hello::new("wire-example", None)).await?;
    println!(
        "connected to agora {} (protocol {}, session {})",
        welcome.server_version, welcome.protocol, welcome.session
    );
    for seq in 1..=4 {
        let started = Instant::now();
        let Reply::Base(BaseReply::Pong { server_time_ms }) = client.request(BaseOp::Ping).await?
        else {
            return Err("unexpected reply to ping".into());
        };
        println!(
            "pong {seq}: {:.3} ms (server clock {server_time_ms})",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
