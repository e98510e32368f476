//! PostgreSQL, the fleet's shared storage (issue 18, docs/FLEET.md).
//!
//! [`Pg`] is to PostgreSQL what [`crate::Db`] is to SQLite: a cheap-clone
//! handle over a few connections, with a synchronous API the daemon runs
//! on tokio's blocking pool. It uses the synchronous `postgres` client
//! (rust-postgres' blocking layer over tokio-postgres), so a repository
//! keeps the shape it has on SQLite: a type over a connection, one method
//! per query. [`Pg::connect`] checks the server answers with these
//! credentials, then brings the schema up to date
//! ([`migrations::apply`], under an advisory lock, so several daemons may
//! start at once). LISTEN/NOTIFY is [`notify`]. TLS follows the URL's
//! `sslmode` and `sslrootcert` as libpq does ([`tls`]).

pub mod billing;
pub mod blog;
pub mod chat;
pub mod fleet;
pub mod game_pool;
pub mod game_relay;
pub mod games;
pub mod jobs;
pub(crate) mod migrations;
pub mod notify;
pub mod orgs;
pub mod snapshot;
pub mod ssh_keys;
pub mod tenant;
pub mod tls;
pub mod users;

use std::str::FromStr as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use postgres::Client;
use postgres::Config;

use crate::{Error, Result};

/// How many connections one daemon keeps to the server. Each costs the
/// server a process; a fleet of three daemons then holds 12, far below
/// the default `max_connections` of 100.
const CONNECTIONS: usize = 4;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle to a PostgreSQL database. Cheap to clone; share it freely.
#[derive(Clone)]
pub struct Pg {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// How connections are made: TLS or not, and how the server's
    /// certificate is checked.
    tls: tls::Tls,
    /// The node name of [`Pg::connect_as`].
    node: Option<String>,
    /// Where, for messages: `host:port/dbname`, never the password.
    place: String,
    /// A slot per connection; `None` until first used, or after the
    /// connection broke (the next caller reconnects).
    clients: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

impl Pg {
    /// Connects to the database at `url` (`postgres://…`), checks the
    /// credentials, and brings the schema up to date.
    ///
    /// # Errors
    /// [`Error::Connect`] for a malformed URL, an unreachable server,
    /// refused credentials or TLS that fails (`sslmode`, [`tls`]): one
    /// line naming the host and the reason;
    /// [`Error::Postgres`] when a migration fails.
    pub fn connect(url: &str) -> Result<Pg> {
        let (config, tls) = settings(url)?;
        Pg::open(config, tls)
    }

    /// [`Pg::connect`] for a node of a fleet: every connection carries
    /// `node` as its `agora.node` setting, so the notifications it sends
    /// name their origin ([`notify::Notification::origin`]). `node` is
    /// letters, digits, `-` and `_`.
    ///
    /// # Errors
    /// As [`Pg::connect`]; [`Error::Connect`] for a node name with other
    /// characters.
    pub fn connect_as(url: &str, node: &str) -> Result<Pg> {
        let (mut config, tls) = settings(url)?;
        if node.is_empty()
            || !node
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Connect {
                place: place(&config),
                reason: format!("node name {node:?}: use letters, digits, '-' and '_'"),
            });
        }
        let options = match config.get_options() {
            Some(options) if !options.is_empty() => format!("{options} -c agora.node={node}"),
            _ => format!("-c agora.node={node}"),
        };
        config.options(&options);
        let mut pg = Pg::open(config, tls)?;
        if let Some(inner) = Arc::get_mut(&mut pg.inner) {
            inner.node = Some(node.to_owned());
        }
        Ok(pg)
    }

    /// The node name given to [`Pg::connect_as`].
    pub fn node(&self) -> Option<&str> {
        self.inner.node.as_deref()
    }

    fn open(mut config: Config, settings: tls::Settings) -> Result<Pg> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("agora");
        }
        let place = place(&config);
        let tls = tls::Tls::new(settings, &config).map_err(|reason| Error::Connect {
            place: place.clone(),
            reason,
        })?;
        let mut first = connect(&config, &tls, &place)?;
        migrations::apply(&mut first)?;
        let mut clients: Vec<Mutex<Option<Client>>> =
            (0..CONNECTIONS).map(|_| Mutex::new(None)).collect();
        clients[0] = Mutex::new(Some(first));
        Ok(Pg {
            inner: Arc::new(Inner {
                config,
                tls,
                node: None,
                place,
                clients,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// Where the database is, for logs: `host:port/dbname` (no user, no
    /// password).
    pub fn place(&self) -> &str {
        &self.inner.place
    }

    /// Runs `f` with a connection of the pool, opening (or reopening) it
    /// first when needed. Calls take turns per connection; wrap
    /// multi-statement work in `client.transaction()`.
    ///
    /// # Errors
    /// Whatever `f` returns; [`Error::Connect`] when no connection can be
    /// made.
    pub fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut slot = self.slot();
        let client = match slot.take() {
            Some(client) if !client.is_closed() => slot.insert(client),
            _ => slot.insert(connect(
                &self.inner.config,
                &self.inner.tls,
                &self.inner.place,
            )?),
        };
        f(client)
    }

    /// A free slot if there is one (round-robin from the last), else the
    /// next one in turn.
    fn slot(&self) -> MutexGuard<'_, Option<Client>> {
        let clients = &self.inner.clients;
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..clients.len() {
            if let Ok(slot) = clients[(start + i) % clients.len()].try_lock() {
                return slot;
            }
        }
        // A panic inside `f` leaves no half-done transaction: the
        // client's `Transaction` rolls back on drop.
        clients[start % clients.len()]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Inner {
    /// Closes the connections on a thread of their own: closing one runs
    /// its small runtime's `block_on`, which panics when the last handle
    /// is dropped on a tokio worker (as the daemon's shared state is, at
    /// shutdown).
    fn drop(&mut self) {
        let clients: Vec<Client> = self
            .clients
            .iter_mut()
            .filter_map(|slot| {
                slot.get_mut()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .take()
            })
            .collect();
        if !clients.is_empty() {
            let _ = std::thread::Builder::new()
                .name("agora-pg-close".into())
                .spawn(move || drop(clients));
        }
    }
}

/// Parses a `postgres://` (or `postgresql://`) URL, its TLS settings
/// included (checked, not applied: the CA file is read on connecting).
///
/// # Errors
/// [`Error::Connect`] saying what is wrong with it.
pub fn parse(url: &str) -> Result<Config> {
    Ok(settings(url)?.0)
}

/// The driver's configuration and our TLS settings ([`tls::split`]) of a
/// URL.
fn settings(url: &str) -> Result<(Config, tls::Settings)> {
    let bad = |reason: String| Error::Connect {
        place: redact(url),
        reason,
    };
    let (driver_url, settings) = tls::split(url).map_err(bad)?;
    let mut config = Config::from_str(&driver_url).map_err(|err| bad(reason(&err)))?;
    if config.get_hosts().is_empty() {
        return Err(bad("the URL names no host".into()));
    }
    tls::configure(&mut config, &settings);
    Ok((config, settings))
}

/// One connection to `url`, its schema left as it is (`agora migrate`).
///
/// # Errors
/// As [`Pg::connect`].
pub(crate) fn connect_plain(url: &str) -> Result<Client> {
    let (mut config, settings) = settings(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let place = place(&config);
    let tls = tls::Tls::new(settings, &config).map_err(|reason| Error::Connect {
        place: place.clone(),
        reason,
    })?;
    connect(&config, &tls, &place)
}

fn connect(config: &Config, tls: &tls::Tls, place: &str) -> Result<Client> {
    tls.connect(config).map_err(|reason| Error::Connect {
        place: place.to_owned(),
        reason,
    })
}

/// `host:port/dbname` of a configuration (its first host).
fn place(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "?".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// A URL with its password (in the user info or a `password=` parameter)
/// replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    // postgres://user:password@host…: the password sits between the
    // first ':' after the scheme and the last '@' before the path.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("password", _)) => "password=***",
                    _ => pair,
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => format!("{scheme}://{authority}{tail}"),
        },
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// The driver's reason on one line: the server's own message when it sent
/// one (wrong password, no such database), else the error and its cause
/// ("error connecting to server: Connection refused (os error 111)").
pub(crate) fn reason(err: &postgres::Error) -> String {
    let text = match err.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    };
    text.replace('\n', " ")
}

/// A test server started by `scripts/pg.sh` (once per test process) and
/// a fresh database on it per call, so tests never share tables. Other
/// crates' tests reach it through the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SERVER: OnceLock<String> = OnceLock::new();
    static TLS_SERVER: OnceLock<TlsServer> = OnceLock::new();
    static TLS_ONLY_SERVER: OnceLock<TlsServer> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);

    /// The server's URL: `AGORA_TEST_POSTGRES` when set (CI's `.ci/run`
    /// may start one for the whole run), else a server this process
    /// starts with `scripts/pg.sh start`, stopped when it exits. Never
    /// skipped: without PostgreSQL the tests fail, saying why.
    pub fn server() -> &'static str {
        SERVER.get_or_init(|| {
            if let Ok(url) = std::env::var("AGORA_TEST_POSTGRES")
                && !url.is_empty()
            {
                return url;
            }
            start(&[])
        })
    }

    /// Runs `scripts/pg.sh start --owner THIS-PROCESS OPTIONS…` and
    /// returns the URL it printed.
    fn start(options: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .arg("start")
            .arg("--owner")
            .arg(std::process::id().to_string())
            .args(options)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("cannot run scripts/pg.sh");
        assert!(
            out.status.success(),
            "scripts/pg.sh start {} failed: the PostgreSQL tests need a server\n{}",
            options.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("scripts/pg.sh printed no URL")
            .trim()
            .to_owned()
    }

    /// A test server with TLS on (`scripts/pg.sh start --tls` or
    /// `--tls-only`), started by this process.
    pub struct TlsServer {
        /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres`, no
        /// `sslmode`: add the one a test wants.
        pub url: String,
        /// The CA that signed the server's certificate (for localhost and
        /// 127.0.0.1), for `sslrootcert`.
        pub ca: PathBuf,
    }

    impl TlsServer {
        fn start(option: &str) -> TlsServer {
            let printed = start(&[option]);
            let (url, query) = printed
                .split_once('?')
                .expect("scripts/pg.sh --tls printed no sslrootcert");
            let ca = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("sslrootcert="))
                .expect("scripts/pg.sh --tls printed no sslrootcert");
            TlsServer {
                url: url.to_owned(),
                ca: ca.into(),
            }
        }

        /// A URL (no `sslmode`) of a new, empty database on this server.
        pub fn database(&self) -> String {
            create_database(&self.url)
        }
    }

    /// The server of `scripts/pg.sh start --tls`: TLS offered, plain
    /// connections accepted too. Started once per test process.
    pub fn tls_server() -> &'static TlsServer {
        TLS_SERVER.get_or_init(|| TlsServer::start("--tls"))
    }

    /// The server of `scripts/pg.sh start --tls-only`: plain connections
    /// refused. Started once per test process.
    pub fn tls_only_server() -> &'static TlsServer {
        TLS_ONLY_SERVER.get_or_init(|| TlsServer::start("--tls-only"))
    }

    /// A URL of a new, empty database on the test server.
    pub fn database() -> String {
        create_database(server())
    }

    /// Creates a database on the server of `url` (connecting as the
    /// daemon does, TLS settings and all); returns its URL.
    fn create_database(url: &str) -> String {
        let name = format!(
            "agora_db_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (config, settings) = super::settings(url).expect("bad test PostgreSQL URL");
        let tls = super::tls::Tls::new(settings, &config).expect("bad test TLS settings");
        let mut admin = tls
            .connect(&config)
            .unwrap_or_else(|err| panic!("cannot connect to the test PostgreSQL: {err}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("cannot create a test database");
        with_dbname(url, &name)
    }

    /// `url` with its database replaced by `name`.
    pub fn with_dbname(url: &str, name: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let host_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut out = format!("{}/{name}", &base[..host_end]);
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://agora:s3cret@db.example:5433/agora"),
            "postgres://agora:***@db.example:5433/agora"
        );
        assert_eq!(
            redact("postgres://agora@db.example/agora"),
            "postgres://agora@db.example/agora"
        );
        assert_eq!(
            redact("postgresql://a:b:c@h/d?sslmode=disable"),
            "postgresql://a:***@h/d?sslmode=disable"
        );
    }

    #[test]
    fn redact_hides_a_password_parameter() {
        assert_eq!(
            redact("postgres://agora@h/db?sslmode=require&password=s3cret&application_name=x"),
            "postgres://agora@h/db?sslmode=require&password=***&application_name=x"
        );
        assert_eq!(
            redact("postgres://agora:pw@h/db?password=s3cret"),
            "postgres://agora:***@h/db?password=***"
        );
    }

    #[test]
    fn bad_urls_are_one_line_errors() {
        for url in [
            "postgres://",
            "postgres://h:notaport/db",
            "postgres://h/db?x=1",
            "postgres://u:secret@h/db?sslmode=allow",
            "postgres://u:secret@h/db?sslmode=verify",
            "postgres://u:secret@h/db?sslmode=require&sslrootcert=system",
            "postgres://u:secret@h/db?sslcert=client.crt",
        ] {
            let err = parse(url).err().unwrap_or_else(|| panic!("{url} parsed"));
            let text = err.to_string();
            assert!(text.starts_with("cannot use PostgreSQL at"), "{text}");
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn place_names_host_port_and_database() {
        let config = parse("postgres://u:p@127.0.0.9:6000/fleet").unwrap();
        assert_eq!(place(&config), "127.0.0.9:6000/fleet");
        let config = parse("postgres://u@localhost").unwrap();
        assert_eq!(place(&config), "localhost:5432/u");
    }

    #[test]
    fn unreachable_server_names_host_and_reason() {
        // Port 1 on loopback: nothing listens there, so the connection is
        // refused at once.
        let err = Pg::connect("postgres://agora:pw@127.0.0.1:1/agora")
            .err()
            .expect("connected to port 1");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "cannot use PostgreSQL at 127.0.0.1:1/agora: error connecting to server"
            ),
            "{text}"
        );
        assert!(!text.contains("pw"), "{text}");
    }

    #[test]
    fn wrong_password_says_so() {
        let url = testing::server();
        let config = parse(url).unwrap();
        let user = config.get_user().unwrap_or("postgres").to_owned();
        let place = place(&config);
        let (host, port) = place.split_once('/').unwrap().0.split_once(':').unwrap();
        let wrong = format!("postgres://{user}:not-the-password@{host}:{port}/postgres");
        let text = Pg::connect(&wrong)
            .err()
            .expect("wrong password accepted")
            .to_string();
        assert!(text.contains("password authentication failed"), "{text}");
        assert!(!text.contains("not-the-password"), "{text}");
    }

    #[test]
    fn the_last_handle_may_be_dropped_inside_a_runtime() {
        let pg = Pg::connect(&testing::database()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move { drop(pg) });
    }

    #[test]
    fn broken_connections_are_reopened() {
        let pg = Pg::connect(&testing::database()).unwrap();
        let one = |pg: &Pg| pg.with(|c| Ok(c.query_one("SELECT 1", &[])?.get::<_, i32>(0)));
        // Sequential calls find every slot free: round-robin opens them all.
        for _ in 0..CONNECTIONS {
            assert_eq!(one(&pg).unwrap(), 1);
        }
        let db = pg.place().rsplit('/').next().unwrap().to_owned();
        let killer = Pg::connect(testing::server()).unwrap();
        let killed = killer
            .with(|c| {
                Ok(c.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&db],
                )?
                .len())
            })
            .unwrap();
        assert_eq!(killed, CONNECTIONS);
        // A killed connection may fail its next call (the driver learns of
        // the close by trying); the call after that reopens it.
        let failures = (0..CONNECTIONS).filter(|_| one(&pg).is_err()).count();
        assert!(failures <= CONNECTIONS);
        for _ in 0..CONNECTIONS {
            assert_eq!(one(&pg).unwrap(), 1);
        }
    }
}
