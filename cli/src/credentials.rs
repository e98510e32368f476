//! Saved sign-ins: a token per daemon address, in the user's config
//! directory (`$XDG_CONFIG_HOME/agora/credentials.json`, mode 0600).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// One saved sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credential {
    /// The account name.
    pub user: String,
    /// The account's id (absent in files written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// The bearer token.
    pub token: String,
    /// When the token expires, ms since the epoch.
    pub expires_at_ms: u64,
}

/// The credentials file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    /// Sign-ins by daemon address.
    #[serde(default)]
    pub servers: BTreeMap<String, Credential>,
}

/// Where agora keeps per-user configuration.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("", "", "agora")
        .map(|d| d.config_dir().to_path_buf())
        .context("cannot find your home directory to store configuration (set XDG_CONFIG_HOME)")
}

/// Where agora keeps per-user data (the `agora up` daemon's database).
pub fn data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("", "", "agora")
        .map(|d| d.data_dir().to_path_buf())
        .context("cannot find your home directory to store data (set XDG_DATA_HOME or pass --data)")
}

fn store_path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

impl Store {
    /// Loads the store; a missing file is an empty store.
    pub fn load() -> anyhow::Result<Store> {
        let path = store_path()?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not valid JSON; delete it and sign in again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Saves the store (mode 0600, replaced atomically).
    pub fn save(&self) -> anyhow::Result<()> {
        let path = store_path()?;
        write_private(&path, &serde_json::to_vec_pretty(self)?)
    }

    /// The token to present to `addr`: `AGORA_TOKEN` when set (scripts,
    /// CI, containers: no credentials file needed), else the one saved by
    /// `agora login` for that address, if any.
    pub fn token_for(&self, addr: &str) -> Option<String> {
        if let Some(token) = env_token() {
            return Some(token);
        }
        self.servers.get(addr).map(|c| c.token.clone())
    }
}

/// `AGORA_TOKEN`, when set and not empty.
pub fn env_token() -> Option<String> {
    std::env::var("AGORA_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Writes a file only its owner can read, atomically (temp file + rename),
/// creating its directory if needed.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("path has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
