//! The SSH listener's host key: ed25519, generated on first start in the
//! data directory (`ssh_host_ed25519_key`, OpenSSH's format, mode 0600),
//! read on every later start, so clients' `known_hosts` entries stay
//! valid across restarts.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rand::RngCore as _;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};

/// The host key's file name in the data directory.
pub const FILE: &str = "ssh_host_ed25519_key";

/// Where the host key of the daemon with this data directory lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The host key, created (and written with mode 0600) if there is none.
///
/// # Errors
/// When the file cannot be read, parsed or written.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<PrivateKey> {
    let path = path(data_dir);
    if path.exists() {
        return read(&path);
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment("agora host key");
    let text = key
        .to_openssh(LineEnding::LF)
        .context("cannot encode the SSH host key")?;
    write_private(&path, text.as_bytes())
        .with_context(|| format!("cannot write the SSH host key {}", path.display()))?;
    tracing::info!(path = %path.display(), fingerprint = %fingerprint_of(&key), "SSH host key generated");
    Ok(key)
}

/// Reads a host key file.
///
/// # Errors
/// When the file cannot be read or is not an OpenSSH private key.
pub fn read(path: &Path) -> anyhow::Result<PrivateKey> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read the SSH host key {}", path.display()))?;
    PrivateKey::from_openssh(text)
        .with_context(|| format!("{} is not an OpenSSH private key", path.display()))
}

/// The key's `SHA256:…` fingerprint, as `ssh-keygen -l` prints it.
pub fn fingerprint_of(key: &PrivateKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Creates `path` readable by its owner only, and writes `bytes` to it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(fingerprint_of(&first), fingerprint_of(&again));
        assert!(fingerprint_of(&first).starts_with("SHA256:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
