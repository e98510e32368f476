//! The RESP connections, for CLIENT LIST and CLIENT KILL: each
//! connection registers itself with its addresses and a token that
//! closes it, and updates its name and database when they change.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// One connection as CLIENT LIST shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its address (`ip:port`).
    pub addr: String,
    /// The listener's address.
    pub laddr: String,
    /// When it connected (ms since the epoch).
    pub since_ms: u64,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// The selected database.
    pub db: usize,
    /// RESP3 after HELLO 3.
    pub resp3: bool,
    /// Subscribed to channels or patterns.
    pub pubsub: bool,
    /// Cancelled by CLIENT KILL.
    pub kill: CancellationToken,
}

/// Every connection, by id.
#[derive(Default)]
pub struct Clients {
    entries: Mutex<BTreeMap<u64, Entry>>,
}

impl Clients {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection opened.
    pub fn add(&self, id: u64, entry: Entry) {
        self.lock().insert(id, entry);
    }

    /// A connection closed.
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Changes what CLIENT LIST shows of a connection.
    pub fn update(&self, id: u64, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.lock().get_mut(&id) {
            change(entry);
        }
    }

    /// Every connection, by id.
    pub fn list(&self) -> Vec<(u64, Entry)> {
        self.lock().iter().map(|(id, e)| (*id, e.clone())).collect()
    }
}
