//! A chat bot in Rust: joins rooms and answers `!ping`, `!echo TEXT` and
//! `!roll N` until Ctrl-C, staying connected across daemon restarts and
//! (with several addresses) failing over to another node.
//!
//! ```sh
//! export AGORA_TOKEN=…                       # a token of the bot's account
//! AGORA_ADDR=127.0.0.1:7070 cargo run -p agora-wire --example chat_bot -- ops general
//! ```
//!
//! Prints `ready` once it is in every room.

use agora_wire::Session;
use agora_wire::bots::ChatBot;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rooms: Vec<String> = std::env::args().skip(1).collect();
    if rooms.is_empty() {
        return Err("usage: chat_bot ROOM...".into());
    }
    let addrs = std::env::var("AGORA_ADDR").unwrap_or_else(|_| "127.0.0.1:7070".into());
    let token = std::env::var("AGORA_TOKEN").map_err(|_| "set AGORA_TOKEN to a token")?;
    let session = Session::builder([addrs])
        .client_name("chat-bot-example")
        .token(token)
        .connect()
        .await?;
    let bot = ChatBot::new(session)
        .command("ping", |_, _| Some("pong".into()))
        .command("echo", |_, text| Some(text.to_owned()))
        .command("roll", |msg, sides| {
            let sides: u64 = sides.parse().ok().filter(|n| *n > 0)?;
            // Deterministic per message: good enough for a demo.
            Some(format!("{} rolled {}", msg.from, msg.seq % sides + 1))
        });
    let room_refs: Vec<&str> = rooms.iter().map(String::as_str).collect();
    let running = bot.start(&room_refs).await?;
    println!("ready");
    tokio::select! {
        () = running.serve() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
