//! The cache's command dispatcher on arbitrary argument vectors (every
//! command of the table, with arguments drawn from keywords, edge numbers
//! and raw bytes, scripts from a table: `agora_daemon::cache::cmd::fuzz`):
//! every vector must get a reply, never a panic. One cache serves the
//! whole run, so commands meet the keys earlier ones made.
#![no_main]

use std::sync::{LazyLock, Mutex};

use agora_daemon::cache::cmd::{Client, fuzz};
use agora_daemon::cache::{Cache, CacheConfig};
use libfuzzer_sys::fuzz_target;

static CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::new(CacheConfig::default(), std::path::Path::new("/nonexistent")));
static CLIENT: LazyLock<Mutex<Client>> = LazyLock::new(|| {
    Mutex::new(Client {
        id: 1,
        ..Client::default()
    })
});

fuzz_target!(|data: &[u8]| {
    let mut client = CLIENT.lock().unwrap_or_else(|p| p.into_inner());
    let _ = fuzz::run(&CACHE, &mut client, data);
    fuzz::settle(&mut client);
});
