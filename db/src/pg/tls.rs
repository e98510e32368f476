//! TLS to PostgreSQL, the way libpq users expect it (docs/FLEET.md,
//! "Using it").
//!
//! The URL's `sslmode` says whether and how:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it, else plain | as `require` |
//! | `require` | always: a server without TLS is refused | not checked, unless `sslrootcert` is given: then its chain is (libpq's rule) |
//! | `verify-ca` | always | signed by a trusted CA |
//! | `verify-full` | always | signed by a trusted CA and issued for the URL's host name (or IP address) |
//!
//! The trusted CAs are the PEM file `sslrootcert=PATH`, or the system's
//! roots when it is absent (libpq would read `~/.postgresql/root.crt`
//! instead) or `sslrootcert=system` (which, as in libpq, needs
//! `verify-full` and makes it the default mode). As in libpq, connections
//! over Unix sockets never use TLS, whatever the mode.
//!
//! The driver (`tokio-postgres`, under the synchronous `postgres` client)
//! knows only `disable`, `prefer` and `require` and no `sslrootcert`: [`split`]
//! takes these settings out of the URL before the driver reads the rest,
//! and the verification is ours ([`Verifier`]). The TLS itself is rustls
//! with the `ring` provider (no OpenSSL), plugged into the driver by
//! `tokio-postgres-rustls`, which also gives SCRAM its
//! `tls-server-end-point` channel binding.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::{Host, SslMode as DriverMode};
use postgres::{Client, Config, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values, less `allow` (plain first, TLS on refusal),
/// which the driver cannot do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it.
    Prefer,
    /// Always TLS; the certificate is not checked (unless `sslrootcert`
    /// is given).
    Require,
    /// Always TLS; the certificate must chain to a trusted CA.
    VerifyCa,
    /// Always TLS; the certificate must chain to a trusted CA and name
    /// the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the driver is told: it negotiates, we verify.
    fn driver(self) -> DriverMode {
        match self {
            SslMode::Disable => DriverMode::Disable,
            SslMode::Prefer => DriverMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverMode::Require,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CAs are trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// The PEM certificates in this file (`sslrootcert=PATH`).
    File(PathBuf),
    /// The system's roots (`sslrootcert=system`, or no `sslrootcert` with
    /// `verify-ca` or `verify-full`).
    System,
}

/// The URL's TLS settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `sslmode`; `prefer` when absent (`verify-full` with
    /// `sslrootcert=system`).
    pub mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<RootCert>,
}

/// Splits a `postgres://` URL into what the driver reads (the URL less
/// `sslmode` and `sslrootcert`) and our [`Settings`]. A string that is not
/// a URL (`host=… user=…`) goes to the driver whole, with its defaults.
///
/// # Errors
/// One line, without the URL: an unknown or unsupported `sslmode`, an
/// empty `sslrootcert`, `sslrootcert=system` with a weaker mode than
/// `verify-full`, or client certificates (`sslcert`, `sslkey`).
pub fn split(url: &str) -> Result<(String, Settings), String> {
    let mut settings = Settings {
        mode: SslMode::Prefer,
        root_cert: None,
    };
    let (base, query) = match url.split_once('?') {
        Some((base, query)) if url.contains("://") => (base, query),
        _ => return Ok((url.to_owned(), settings)),
    };
    let mut mode = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !matches!(
            key,
            "sslmode" | "sslrootcert" | "sslcert" | "sslkey" | "sslpassword"
        ) {
            kept.push(pair);
            continue;
        }
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("the URL's {key} is not UTF-8"))?;
        match key {
            "sslmode" => {
                mode = Some(match SslMode::parse(&value) {
                    Some(mode) => mode,
                    None if value == "allow" => {
                        return Err("sslmode=allow is not supported: use disable, prefer, \
                                    require, verify-ca or verify-full"
                            .into());
                    }
                    None => {
                        return Err(format!(
                            "invalid sslmode {value:?}: use disable, prefer, require, \
                             verify-ca or verify-full"
                        ));
                    }
                });
            }
            "sslrootcert" if value.is_empty() => {
                return Err("sslrootcert is empty: give a PEM file of CA certificates".into());
            }
            "sslrootcert" if value == "system" => settings.root_cert = Some(RootCert::System),
            "sslrootcert" => settings.root_cert = Some(RootCert::File(value.into_owned().into())),
            _ => {
                return Err(format!(
                    "{key}: client certificates are not supported; authenticate with a password"
                ));
            }
        }
    }
    settings.mode = match (mode, &settings.root_cert) {
        (None, Some(RootCert::System)) => SslMode::VerifyFull,
        (Some(mode), Some(RootCert::System)) if mode != SslMode::VerifyFull => {
            return Err(format!(
                "sslmode={mode} may not be used with sslrootcert=system (use verify-full)"
            ));
        }
        (mode, _) => mode.unwrap_or(SslMode::Prefer),
    };
    let driver_url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver_url, settings))
}

/// Tells the driver's configuration what it negotiates for `settings`.
pub fn configure(config: &mut Config, settings: &Settings) {
    config.ssl_mode(if over_unix_only(config) {
        DriverMode::Disable
    } else {
        settings.mode.driver()
    });
}

/// Whether every host is a Unix socket (libpq then never asks for TLS).
fn over_unix_only(config: &Config) -> bool {
    !config.get_hosts().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|host| matches!(host, Host::Unix(_)))
}

/// How a [`super::Pg`]'s connections are made: the settings and, unless
/// TLS is off, a rustls connector built once (the CA file is read then).
#[derive(Clone)]
pub struct Tls {
    settings: Settings,
    connector: Option<MakeRustlsConnect>,
}

impl Tls {
    /// The connector for `settings` and the driver's `config` (after
    /// [`configure`]).
    ///
    /// # Errors
    /// One line: the `sslrootcert` file cannot be read or holds no
    /// certificate; no system roots were found.
    pub fn new(settings: Settings, config: &Config) -> Result<Tls, String> {
        if config.get_ssl_mode() == DriverMode::Disable {
            return Ok(Tls {
                settings,
                connector: None,
            });
        }
        let roots = match (&settings.root_cert, settings.mode) {
            (Some(RootCert::File(path)), _) => Some(roots_from_file(path)?),
            (Some(RootCert::System), _) | (None, SslMode::VerifyCa | SslMode::VerifyFull) => {
                Some(system_roots()?)
            }
            (None, _) => None,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Verifier {
            roots: roots.map(Arc::new),
            check_name: settings.mode == SslMode::VerifyFull,
            provider: provider.clone(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("TLS: {err}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // As libpq 17 does: PostgreSQL 17's direct TLS (sslnegotiation=
        // direct) requires it; older servers ignore it.
        tls.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Tls {
            settings,
            connector: Some(MakeRustlsConnect::new(tls)),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Opens a connection. With `prefer`, a failed TLS handshake is
    /// retried without TLS, as libpq does.
    ///
    /// # Errors
    /// A one-line reason (TLS failures explained, the password never in it).
    pub fn connect(&self, config: &Config) -> Result<Client, String> {
        let Some(connector) = &self.connector else {
            return config.connect(NoTls).map_err(|err| super::reason(&err));
        };
        match config.connect(connector.clone()) {
            Ok(client) => Ok(client),
            Err(err) if self.settings.mode == SslMode::Prefer && is_tls(&err) => {
                let mut plain = config.clone();
                plain.ssl_mode(DriverMode::Disable);
                plain.connect(NoTls).map_err(|err| super::reason(&err))
            }
            Err(err) => Err(self.reason(&err)),
        }
    }

    /// `err` explained when the TLS handshake failed, else the driver's
    /// reason.
    fn reason(&self, err: &postgres::Error) -> String {
        if !is_tls(err) {
            return super::reason(err);
        }
        let mode = self.settings.mode;
        let Some(cause) = std::error::Error::source(err) else {
            return format!("TLS handshake failed (sslmode={mode})");
        };
        let rustls = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        let text = match rustls {
            Some(rustls::Error::InvalidCertificate(cert)) => {
                format!("certificate verify failed: {}", self.describe(cert))
            }
            Some(other) => format!("TLS handshake failed: {other}"),
            None => match cause.to_string().as_str() {
                "server does not support TLS" => "the server does not support TLS".to_owned(),
                other => format!("TLS handshake failed: {other}"),
            },
        };
        format!("{text} (sslmode={mode})").replace('\n', " ")
    }

    /// A certificate error in words.
    fn describe(&self, err: &CertificateError) -> String {
        let trusted = match &self.settings.root_cert {
            Some(RootCert::File(path)) => format!("sslrootcert {}", path.display()),
            _ => "the system's roots; set sslrootcert=PATH for a private CA".to_owned(),
        };
        match err {
            CertificateError::UnknownIssuer => {
                format!("the server's certificate is not signed by a trusted CA ({trusted})")
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "the server's certificate is not valid for host {:?} (it names {})",
                expected.to_str(),
                presented
                    .iter()
                    .map(|name| bare_name(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CertificateError::NotValidForName => {
                "the server's certificate is not valid for this host name".to_owned()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet".to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// A name of a certificate as rustls shows it (`DnsName("db.example")`,
/// `IpAddress(10.0.0.1)`), without the wrapping.
fn bare_name(name: &str) -> &str {
    name.strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(name)
}

/// Whether the driver failed in the TLS handshake (its error kinds are
/// private; this is its message for them).
fn is_tls(err: &postgres::Error) -> bool {
    err.to_string() == "error performing TLS handshake"
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let pem =
        std::fs::read(path).map_err(|err| format!("cannot read sslrootcert {shown}: {err}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| format!("sslrootcert {shown}: {err}"))?;
        roots
            .add(cert)
            .map_err(|err| format!("sslrootcert {shown}: {err}"))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "sslrootcert {shown} holds no PEM certificate (BEGIN CERTIFICATE)"
        ));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = match found.errors.first() {
            Some(err) => format!(" ({err})"),
            None => String::new(),
        };
        return Err(format!(
            "no system root certificates found{why}: set sslrootcert=PATH to the server's CA"
        ));
    }
    Ok(roots)
}

/// Checks the server's certificate as the mode asks.
///
/// Without roots (`prefer` or `require` and no `sslrootcert`) any
/// certificate is accepted: that is libpq's `require`, which encrypts but
/// does not authenticate the server (an active man in the middle is not
/// stopped; SCRAM's channel binding, which the driver uses when the
/// server offers it, still keeps it from relaying a password login). The
/// handshake's signatures are checked all the same, so the peer must hold
/// the key of the certificate it shows. With roots, the chain must lead to
/// one of them (rustls' own WebPKI check, as `WebPkiServerVerifier` does it
/// less revocation lists), and for `verify-full` the certificate must name
/// the host.
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.check_name {
            rustls::client::verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::{Pg, testing};

    fn settings(mode: SslMode, root_cert: Option<RootCert>) -> Settings {
        Settings { mode, root_cert }
    }

    #[test]
    fn split_takes_out_our_settings_and_keeps_the_rest() {
        let url = "postgres://u:hunter2-secret@h:5433/db";
        assert_eq!(
            split(url).unwrap(),
            (url.to_owned(), settings(SslMode::Prefer, None))
        );
        assert_eq!(
            split("postgres://u:hunter2-secret@h/db?connect_timeout=3&sslmode=disable&application_name=a")
                .unwrap(),
            (
                "postgres://u:hunter2-secret@h/db?connect_timeout=3&application_name=a".to_owned(),
                settings(SslMode::Disable, None)
            )
        );
        assert_eq!(
            split("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fmy%20ca.pem")
                .unwrap(),
            (
                "postgres://u@h/db".to_owned(),
                settings(
                    SslMode::VerifyFull,
                    Some(RootCert::File("/etc/my ca.pem".into()))
                )
            )
        );
        assert_eq!(
            split("postgres://u@h/db?sslmode=require&sslrootcert=ca.pem").unwrap(),
            (
                "postgres://u@h/db".to_owned(),
                settings(SslMode::Require, Some(RootCert::File("ca.pem".into())))
            )
        );
        assert_eq!(
            split("postgres://u@h/db?sslmode=verify-ca").unwrap().1,
            settings(SslMode::VerifyCa, None)
        );
        // As in libpq: the system's roots mean verify-full.
        assert_eq!(
            split("postgres://u@h/db?sslrootcert=system").unwrap().1,
            settings(SslMode::VerifyFull, Some(RootCert::System))
        );
        // Not a URL: the driver's, whole.
        assert_eq!(
            split("host=h sslmode=require").unwrap(),
            (
                "host=h sslmode=require".to_owned(),
                settings(SslMode::Prefer, None)
            )
        );
        for (url, says) in [
            (
                "postgres://h/db?sslmode=allow",
                "sslmode=allow is not supported",
            ),
            ("postgres://h/db?sslmode=on", "invalid sslmode \"on\""),
            ("postgres://h/db?sslrootcert=", "sslrootcert is empty"),
            (
                "postgres://h/db?sslmode=verify-ca&sslrootcert=system",
                "sslmode=verify-ca may not be used with sslrootcert=system",
            ),
            (
                "postgres://h/db?sslkey=k.pem",
                "client certificates are not supported",
            ),
        ] {
            let err = split(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn the_driver_negotiates_and_we_verify() {
        let config = crate::pg::parse("postgres://u@h/db?sslmode=verify-full").unwrap();
        assert_eq!(config.get_ssl_mode(), DriverMode::Require);
        let config = crate::pg::parse("postgres://u@h/db").unwrap();
        assert_eq!(config.get_ssl_mode(), DriverMode::Prefer);
        // Unix sockets never use TLS (libpq's rule).
        let config =
            crate::pg::parse("postgres://u@%2Frun%2Fpostgresql/db?sslmode=require").unwrap();
        assert_eq!(config.get_ssl_mode(), DriverMode::Disable);
        assert!(
            crate::DatabaseUrl::parse("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=/x")
                .is_ok()
        );
    }

    /// Whether the connections of `pg` are encrypted, as the server sees it.
    fn encrypted(pg: &Pg) -> bool {
        pg.with(|c| {
            Ok(c.query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?
            .get(0))
        })
        .unwrap()
    }

    /// The one-line error of connecting to `url`, checked for the shape
    /// every connection error has.
    fn refused(url: &str) -> String {
        let password = crate::pg::parse(url)
            .unwrap()
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let text = Pg::connect(url)
            .err()
            .unwrap_or_else(|| panic!("connected to {url}"))
            .to_string();
        assert!(text.starts_with("cannot use PostgreSQL at "), "{text}");
        assert!(!text.contains('\n'), "{text}");
        if let Some(password) = password {
            assert!(!text.contains(&password), "{text}");
        }
        text
    }

    /// A self-signed CA that signed nothing the test servers show.
    fn another_ca(dir: &Path) -> PathBuf {
        let ca = dir.join("other-ca.crt");
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-new", "-nodes", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-days", "1"])
            .args(["-subj", "/CN=another CA", "-keyout"])
            .arg(dir.join("other-ca.key"))
            .arg("-out")
            .arg(&ca)
            .output()
            .expect("cannot run openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ca
    }

    #[test]
    fn require_encrypts_without_verifying() {
        let url = testing::tls_server().database();
        assert!(encrypted(
            &Pg::connect(&format!("{url}?sslmode=require")).unwrap()
        ));
        // prefer, the default, takes TLS when the server offers it.
        assert!(encrypted(&Pg::connect(&url).unwrap()));
        assert!(encrypted(
            &Pg::connect(&format!("{url}?sslmode=prefer")).unwrap()
        ));
    }

    #[test]
    fn disable_stays_plain() {
        let url = testing::tls_server().database();
        assert!(!encrypted(
            &Pg::connect(&format!("{url}?sslmode=disable")).unwrap()
        ));
    }

    #[test]
    fn verify_full_with_the_servers_ca() {
        let server = testing::tls_server();
        let url = server.database();
        let ca = server.ca.display();
        for mode in ["verify-full", "verify-ca", "require"] {
            let pg = Pg::connect(&format!("{url}?sslmode={mode}&sslrootcert={ca}")).unwrap();
            assert!(encrypted(&pg), "{mode}");
        }
        // By name too: the certificate names localhost as well as
        // 127.0.0.1.
        let by_name = url.replace("@127.0.0.1:", "@localhost:");
        let pg = Pg::connect(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}")).unwrap();
        assert!(encrypted(&pg));
    }

    #[test]
    fn another_ca_is_refused() {
        let url = testing::tls_server().database();
        let dir = tempfile::tempdir().unwrap();
        let other = another_ca(dir.path());
        for mode in ["verify-full", "verify-ca", "require"] {
            let text = refused(&format!(
                "{url}?sslmode={mode}&sslrootcert={}",
                other.display()
            ));
            assert!(
                text.ends_with(&format!(
                    "certificate verify failed: the server's certificate is not signed by a \
                     trusted CA (sslrootcert {}) (sslmode={mode})",
                    other.display()
                )),
                "{text}"
            );
        }
        // prefer, as in libpq, falls back to a plain connection when the
        // TLS handshake fails.
        let pg = Pg::connect(&format!(
            "{url}?sslmode=prefer&sslrootcert={}",
            other.display()
        ))
        .unwrap();
        assert!(!encrypted(&pg));
        // Without sslrootcert, the system's roots: they do not know the
        // test CA either (or there are none).
        let text = refused(&format!("{url}?sslmode=verify-full"));
        assert!(
            text.contains("certificate verify failed: the server's certificate is not signed by a trusted CA (the system's roots")
                || text.contains("no system root certificates found"),
            "{text}"
        );
    }

    #[test]
    fn verify_full_checks_the_host_name() {
        let server = testing::tls_server();
        let url = server.database();
        let ca = server.ca.display();
        // The TCP connection goes to 127.0.0.1 (hostaddr); the name the
        // certificate is checked against is the URL's host.
        let elsewhere = format!(
            "{}?sslmode=verify-full&hostaddr=127.0.0.1&sslrootcert={ca}",
            url.replace("@127.0.0.1:", "@db.invalid:")
        );
        let text = refused(&elsewhere);
        assert!(
            text.contains(
                "certificate verify failed: the server's certificate is not valid for host \
                 \"db.invalid\" (it names localhost, 127.0.0.1) (sslmode=verify-full)"
            ),
            "{text}"
        );
        // verify-ca checks the chain only.
        let pg = Pg::connect(&elsewhere.replace("verify-full", "verify-ca")).unwrap();
        assert!(encrypted(&pg));
    }

    #[test]
    fn require_against_a_server_without_tls_fails() {
        let url = testing::database();
        let text = refused(&format!("{url}?sslmode=require"));
        assert!(
            text.ends_with(": the server does not support TLS (sslmode=require)"),
            "{text}"
        );
        // prefer falls back to a plain connection.
        assert!(!encrypted(&Pg::connect(&url).unwrap()));
    }

    #[test]
    fn a_tls_only_server_refuses_plain_connections() {
        let url = testing::tls_only_server().database();
        let text = refused(&format!("{url}?sslmode=disable"));
        assert!(text.contains("no pg_hba.conf entry"), "{text}");
        assert!(text.contains("no encryption"), "{text}");
        assert!(encrypted(&Pg::connect(&url).unwrap()));
    }

    #[test]
    fn a_missing_or_empty_rootcert_says_so() {
        // Port 1: the file is read before connecting.
        let text = refused(
            "postgres://u:hunter2-secret@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        );
        assert!(
            text.ends_with(": cannot read sslrootcert /nonexistent/ca.crt: No such file or directory (os error 2)"),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let text = refused(&format!(
            "postgres://u:hunter2-secret@127.0.0.1:1/db?sslmode=require&sslrootcert={}",
            empty.display()
        ));
        assert!(text.contains("holds no PEM certificate"), "{text}");
    }
}
