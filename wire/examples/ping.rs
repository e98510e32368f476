//! Connects to an agora daemon, pings it a few times and prints the
//! round-trip times.
//!
//! ```sh
//! cargo run -p agora-wire --example ping -- 127.0.0.1:7070
//! ```
//!
//! Several addresses (`a:7070,b:7070`) are tried in turn.

use agora_wire::Session;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addrs = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7070".into());
    let session = Session::builder([addrs])
        .client_name("wire-example")
        .reconnect(false)
        .connect()
        .await?;
    let welcome = session.welcome().ok_or("the connection closed")?;
    println!(
        "connected to agora {} (protocol {}, session {})",
        welcome.server_version, welcome.protocol, welcome.session
    );
    for seq in 1..=4 {
        let rtt = session.ping().await?;
        println!("pong {seq}: {:.3} ms", rtt.as_secs_f64() * 1e3);
    }
    Ok(())
}
