//! The SSH listener (`agora daemon --ssh`): `ssh -p 2222 HOST` opens the
//! agora TUI, signed in as the account the client's key is bound to
//! (docs/SSH.md).
//!
//! russh serves the protocol; this module decides who gets in and what
//! runs. [`accept_loop`] hands each TCP connection to russh with a
//! [`Connection`], the per-connection handler: public keys only (a
//! registered key signs its owner in; an unknown key gets in only to be
//! told how to register it; passwords are refused and, with unknown keys,
//! counted per IP address: past [`limits::MAX_FAILURES`] a minute the
//! address is refused outright). Each session channel is served by
//! [`channel::serve`] on the daemon's `TaskTracker`: the TUI
//! (`agora_tui::run_remote`, connected to this daemon's own protocol
//! listener with a token minted for the user, exactly as `agora tui`
//! connects), an exec command ([`exec`]), or the explanation.
//!
//! The host key lives in the data directory ([`hostkey`]); keys bound to
//! accounts in the database ([`keys`], `agora_db::ssh_keys`).

pub(crate) mod channel;
pub mod exec;
pub mod hostkey;
pub mod keys;
pub mod limits;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_db::Access;
use agora_wire::UserInfo;
use russh::MethodKind;
use russh::keys::PrivateKey;
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::Shared;
use channel::Peer;
use limits::{AuthFailures, UserSessions};

/// The address `--ssh` listens on when given without one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:2222";

/// The SSH listener's settings.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// Where to listen (`--ssh ADDR`).
    pub listen: String,
    /// A connection that sends nothing for this long is closed
    /// (`--ssh-idle-timeout`; `None`: never).
    pub idle_timeout: Option<Duration>,
    /// The most sessions one user may have open at once
    /// (`--ssh-max-sessions-per-user`; 0: no limit).
    pub max_sessions_per_user: usize,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            listen: DEFAULT_LISTEN.into(),
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            max_sessions_per_user: 8,
        }
    }
}

/// What every connection of the listener shares.
pub(crate) struct SshState {
    shared: Arc<Shared>,
    config: SshConfig,
    /// The daemon's protocol listener, as the TUI and commands reach it.
    native: SocketAddr,
    failures: AuthFailures,
    sessions: Arc<UserSessions>,
    tracker: TaskTracker,
}

impl SshState {
    /// A token for `user`, as `login` would give (the TUI and commands
    /// sign in with it over the native protocol).
    fn token_for(&self, user: &UserInfo) -> Option<String> {
        match self.shared.services.base.accounts().issue(user.clone()) {
            Ok(signed) => Some(signed.token),
            Err(err) => {
                tracing::warn!(user = %user.name, "ssh: cannot issue a token: {}", err.message);
                None
            }
        }
    }
}

/// A bound SSH listener and its host key, ready to serve.
pub struct Listener {
    listener: TcpListener,
    key: PrivateKey,
    config: SshConfig,
}

impl Listener {
    /// Binds `config.listen` and loads (or creates) the host key in
    /// `data_dir`; logs the key's fingerprint.
    ///
    /// # Errors
    /// When the address cannot be bound or the key cannot be read or made.
    pub async fn bind(config: SshConfig, data_dir: &std::path::Path) -> anyhow::Result<Listener> {
        use anyhow::Context as _;
        let key = hostkey::load_or_create(data_dir)?;
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen for SSH on {}", config.listen))?;
        tracing::info!(
            addr = %listener.local_addr()?,
            fingerprint = %hostkey::fingerprint_of(&key),
            "SSH listener ready"
        );
        Ok(Listener {
            listener,
            key,
            config,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// The address the TUI connects to for a protocol listener bound at
/// `listen` (an unspecified address is reached on loopback).
fn reachable(listen: SocketAddr) -> SocketAddr {
    if listen.ip().is_unspecified() {
        let ip = if listen.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, listen.port())
    } else {
        listen
    }
}

/// Serves SSH connections until the daemon shuts down.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: Listener,
    native: SocketAddr,
    tracker: TaskTracker,
) {
    let Listener {
        listener,
        key,
        config,
    } = listener;
    let mut methods = russh::MethodSet::empty();
    methods.push(MethodKind::PublicKey);
    methods.push(MethodKind::KeyboardInteractive);
    let russh_config = Arc::new(russh::server::Config {
        methods,
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        inactivity_timeout: config.idle_timeout,
        keepalive_interval: Some(Duration::from_secs(30)),
        max_auth_attempts: 6,
        nodelay: true,
        ..Default::default()
    });
    let shutdown = shared.shutdown.clone();
    let state = Arc::new(SshState {
        shared,
        config,
        native: reachable(native),
        failures: AuthFailures::default(),
        sessions: Arc::new(UserSessions::default()),
        tracker: tracker.clone(),
    });
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!("ssh: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        tracing::info!(%peer, "ssh: connection");
        let handler = Connection {
            state: state.clone(),
            peer,
            peer_user: None,
        };
        let config = russh_config.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let running = match russh::server::run_stream(config, stream, handler).await {
                Ok(running) => running,
                Err(err) => {
                    tracing::info!(%peer, "ssh: connection failed: {err:#}");
                    return;
                }
            };
            let handle = running.handle();
            tokio::pin!(running);
            tokio::select! {
                result = &mut running => {
                    if let Err(err) = result {
                        tracing::debug!(%peer, "ssh: connection ended: {err:#}");
                    }
                }
                () = shutdown.cancelled() => {
                    // Sessions say goodbye on the same token; give them a
                    // moment, then hang up.
                    if tokio::time::timeout(Duration::from_secs(1), &mut running).await.is_err() {
                        let bye = handle.disconnect(
                            russh::Disconnect::ByApplication,
                            "agora is shutting down".into(),
                            String::new(),
                        );
                        let _ = tokio::time::timeout(Duration::from_millis(500), bye).await;
                    }
                }
            }
            tracing::info!(%peer, "ssh: connection closed");
        });
    }
}

/// One SSH connection's handler (russh calls it for every message).
struct Connection {
    state: Arc<SshState>,
    peer: SocketAddr,
    /// Set by authentication.
    peer_user: Option<Peer>,
}

impl Connection {
    /// Counts a failed authentication of this address (logged, and once
    /// more when the address reaches the limit).
    fn fail(&self, why: &str) {
        let stats = &self.state.shared.stats;
        stats
            .ssh_auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(peer = %self.peer, "ssh: authentication refused: {why}");
        if self.state.failures.fail(self.peer.ip(), Instant::now()) {
            tracing::warn!(
                ip = %self.peer.ip(),
                "ssh: {} failed authentications from {} within {:?}; refusing it until the window passes",
                limits::MAX_FAILURES,
                self.peer.ip(),
                limits::WINDOW
            );
        }
    }

    fn blocked(&self) -> bool {
        self.state.failures.blocked(self.peer.ip(), Instant::now())
    }

    /// The account holding the key with `fingerprint`, if any (and notes
    /// that the key was used). Keys and accounts are in the daemon's
    /// storage: on a fleet's PostgreSQL a key added through any node
    /// signs in here.
    async fn owner(&self, fingerprint: String) -> anyhow::Result<Option<UserInfo>> {
        let storage = self.state.shared.storage.clone();
        // On the blocking pool: the synchronous PostgreSQL client must not
        // run on a runtime worker.
        let found = tokio::task::spawn_blocking(move || {
            let Some(key) = storage.ssh_keys(Access::Read, |keys| keys.find(&fingerprint))? else {
                return Ok::<_, agora_db::Error>(None);
            };
            let user = storage.users(Access::Read, |users| users.find_by_id(key.user_id))?;
            if user.is_some() {
                storage.ssh_keys(Access::Write, |keys| keys.touch(&fingerprint))?;
            }
            Ok(user.map(|u| UserInfo {
                id: u.id,
                name: u.name,
            }))
        })
        .await??;
        Ok(found)
    }
}

impl russh::server::Handler for Connection {
    type Error = anyhow::Error;

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        self.fail("password authentication is not offered");
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.blocked() || !keys::accepted(&offer.public_key.algorithm()) {
            return Ok(Auth::reject());
        }
        Ok(Auth::Accept)
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.blocked() {
            return Ok(Auth::reject());
        }
        let fingerprint = keys::fingerprint(key.public_key);
        match self.owner(fingerprint.clone()).await? {
            Some(user) => {
                tracing::info!(peer = %self.peer, user = %user.name, %fingerprint, "ssh: signed in");
                self.peer_user = Some(Peer::User(user));
                Ok(Auth::Accept)
            }
            None => {
                // The client may have another key: let it try, and keep
                // this one to explain if none is known.
                if self.peer_user.is_none() {
                    self.peer_user = Some(Peer::Unknown(fingerprint));
                }
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        // Only a client that proved it holds a key nobody registered gets
        // in this way, and only to the screen saying how to register it.
        match &self.peer_user {
            Some(Peer::Unknown(fingerprint)) if !self.blocked() => {
                let fingerprint = fingerprint.clone();
                self.fail(&format!(
                    "unknown key {fingerprint}; showing how to register it"
                ));
                Ok(Auth::Accept)
            }
            _ => {
                self.fail("no registered key");
                Ok(Auth::reject())
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(peer) = self.peer_user.clone() else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        reply.accept().await;
        let (state, addr, handle) = (self.state.clone(), self.peer, session.handle());
        self.state
            .tracker
            .spawn(channel::serve(state, peer, Some(addr), channel, handle));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Nothing runs in a shell here: variables are not taken.
        session.channel_failure(channel)?;
        Ok(())
    }
}

/// The fingerprint of the host key in `data_dir`, for `agora ssh
/// fingerprint` (`None` when the daemon never created one there).
///
/// # Errors
/// When the file exists but cannot be read.
pub fn host_fingerprint(data_dir: &std::path::Path) -> anyhow::Result<Option<String>> {
    let path = hostkey::path(data_dir);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(hostkey::fingerprint_of(&hostkey::read(&path)?)))
}
