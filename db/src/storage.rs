//! Which backend holds the data: the `--database` URL ([`DatabaseUrl`])
//! and the handle it opens ([`Storage`]).
//!
//! The backend is an enum, not a trait object or a type parameter: there
//! are exactly two, chosen once at start-up, and a `match` in each
//! repository accessor ([`Storage::users`]) keeps the daemon's types free
//! of a generic that would reach every service. Each repository is a
//! trait ([`crate::users::UserStore`]) with one implementation per
//! backend, which is what lets one test suite run on both
//! (docs/FLEET.md).

use std::path::{Path, PathBuf};

use crate::billing::{Billing, BillingStore};
use crate::blog::{Blog, BlogStore};
use crate::chat::{Chat, ChatStore};
use crate::games::{GameStore, Games};
use crate::jobs::{JobStore, Jobs};
use crate::orgs::{OrgStore, Orgs};
use crate::ssh_keys::{SshKeyStore, SshKeys};
use crate::users::{UserStore, Users};
use crate::{Db, Pg, Result};

/// The transaction [`Storage`]'s `transaction` opened, on its backend.
enum Tx<'a, 't> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a mut postgres::Transaction<'t>),
}

/// Where the data lives, as `--database` (or `AGORA_DATABASE`) says.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:PATH`: one SQLite file (the default is `agora.db` in the
    /// data directory).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, kept whole for the driver.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, even in a debug dump of the config.
        write!(f, "{self}")
    }
}

impl std::fmt::Display for DatabaseUrl {
    /// The URL with any password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&crate::pg::redact(url)),
        }
    }
}

impl DatabaseUrl {
    /// Parses `sqlite:PATH` or `postgres://…`; a relative SQLite path is
    /// taken as is (relative to the daemon's working directory).
    ///
    /// # Errors
    /// A one-line message saying what is wrong: another scheme, an empty
    /// path, a PostgreSQL URL the driver cannot read.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(
                    "sqlite: needs a file path, e.g. sqlite:/var/lib/agora/agora.db".into(),
                );
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            crate::pg::parse(url).map_err(|e| e.to_string())?;
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(format!(
            "unsupported database URL {:?}: expected sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            crate::pg::redact(url)
        ))
    }

    /// The default: `agora.db` in `data_dir`.
    pub fn default_in(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(data_dir.join("agora.db"))
    }
}

/// Whether a repository call only reads (SQLite then uses a read-only
/// connection) or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Queries only.
    Read,
    /// Changes something.
    Write,
}

/// The opened backend of the repositories ported so far (docs/FLEET.md
/// lists them). Cheap to clone.
#[derive(Clone)]
pub enum Storage {
    /// A SQLite database.
    Sqlite(Db),
    /// A PostgreSQL database, shared by a fleet of daemons.
    Postgres(Pg),
}

impl Storage {
    /// Runs `f` with the accounts repository of this backend.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn users<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn UserStore) -> Result<T>,
    ) -> Result<T> {
        match (self, access) {
            (Storage::Sqlite(db), Access::Read) => db.read(|c| f(&mut Users::new(c))),
            (Storage::Sqlite(db), Access::Write) => db.write(|c| f(&mut Users::new(c))),
            (Storage::Postgres(pg), _) => pg.with(|c| f(&mut crate::pg::users::PgUsers::new(c))),
        }
    }

    /// Runs `f` with the chat repository of this backend.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn chat<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn ChatStore) -> Result<T>,
    ) -> Result<T> {
        match (self, access) {
            (Storage::Sqlite(db), Access::Read) => db.read(|c| f(&mut Chat::new(c))),
            (Storage::Sqlite(db), Access::Write) => db.write(|c| f(&mut Chat::new(c))),
            (Storage::Postgres(pg), _) => pg.with(|c| f(&mut crate::pg::chat::PgChat::new(c))),
        }
    }

    /// Runs `f` with the jobs repository of this backend, in one
    /// transaction committed when `f` returns `Ok` (rolled back on
    /// `Err`; how each backend opens it: `Storage::transaction`).
    ///
    /// # Errors
    /// Whatever `f` returns; the database's errors.
    pub fn jobs<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn JobStore) -> Result<T>,
    ) -> Result<T> {
        self.transaction(access, |tx| match tx {
            Tx::Sqlite(c) => f(&mut Jobs::new(c)),
            Tx::Postgres(tx) => f(&mut crate::pg::jobs::PgJobs::new(tx)),
        })
    }

    /// Runs `f` with the games repository of this backend, in one
    /// transaction as [`Storage::jobs`] does.
    ///
    /// # Errors
    /// Whatever `f` returns; the database's errors.
    pub fn games<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn GameStore) -> Result<T>,
    ) -> Result<T> {
        self.transaction(access, |tx| match tx {
            Tx::Sqlite(c) => f(&mut Games::new(c)),
            Tx::Postgres(tx) => f(&mut crate::pg::games::PgGames::new(tx)),
        })
    }

    /// Runs `f` with the SSH keys repository of this backend, in one
    /// transaction as [`Storage::jobs`] does.
    ///
    /// # Errors
    /// Whatever `f` returns; the database's errors.
    pub fn ssh_keys<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn SshKeyStore) -> Result<T>,
    ) -> Result<T> {
        self.transaction(access, |tx| match tx {
            Tx::Sqlite(c) => f(&mut SshKeys::new(c)),
            Tx::Postgres(tx) => f(&mut crate::pg::ssh_keys::PgSshKeys::new(tx)),
        })
    }

    /// Runs `f` with the organizations repository of this backend (and,
    /// through its supertrait, billing's queries in the same
    /// transaction), in one transaction committed only when `f` returns
    /// `Ok(Ok(_))`: an `Ok(Err(_))` is the caller's refusal (a taken slug,
    /// the last owner, a plan's limit), and everything `f` wrote is rolled
    /// back with it. How each backend opens it: `Storage::transaction_if`.
    ///
    /// # Errors
    /// Whatever `f` returns; the database's errors.
    pub fn orgs<T, E>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn OrgStore) -> Result<std::result::Result<T, E>>,
    ) -> Result<std::result::Result<T, E>> {
        self.transaction_if(access, std::result::Result::is_ok, |tx| match tx {
            Tx::Sqlite(c) => f(&mut Orgs::new(c)),
            Tx::Postgres(tx) => f(&mut crate::pg::orgs::PgOrgs::new(tx)),
        })
    }

    /// Runs `f` with the billing repository of this backend, in one
    /// transaction committed only when `f` returns `Ok(Ok(_))`, as
    /// [`Storage::orgs`] does.
    ///
    /// # Errors
    /// Whatever `f` returns; the database's errors.
    pub fn billing<T, E>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn BillingStore) -> Result<std::result::Result<T, E>>,
    ) -> Result<std::result::Result<T, E>> {
        self.transaction_if(access, std::result::Result::is_ok, |tx| match tx {
            Tx::Sqlite(c) => f(&mut Billing::new(c)),
            Tx::Postgres(tx) => f(&mut crate::pg::orgs::PgOrgs::new(tx)),
        })
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`
    /// ([`Storage::transaction_if`] with every answer kept).
    fn transaction<T>(&self, access: Access, f: impl FnOnce(Tx<'_, '_>) -> Result<T>) -> Result<T> {
        self.transaction_if(access, |_| true, f)
    }

    /// Runs `f` in one transaction, committed when it returns `Ok(out)`
    /// and `keep(&out)` holds, rolled back otherwise: on SQLite a write is
    /// `BEGIN IMMEDIATE` (the writer's lock, so a check and the write
    /// after it cannot be split), a read uses a read-only connection; on
    /// PostgreSQL a read is REPEATABLE READ, one snapshot throughout (the
    /// counts and the snapshot a jobs node loads must agree:
    /// `pg::jobs::notice`), a write READ COMMITTED (each repository locks
    /// what its checks depend on).
    fn transaction_if<T>(
        &self,
        access: Access,
        keep: impl FnOnce(&T) -> bool,
        f: impl FnOnce(Tx<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        match (self, access) {
            (Storage::Sqlite(db), Access::Read) => db.read(|c| f(Tx::Sqlite(c))),
            (Storage::Sqlite(db), Access::Write) => db.write(|c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(Tx::Sqlite(&tx))?;
                if keep(&out) {
                    tx.commit()?;
                }
                Ok(out)
            }),
            (Storage::Postgres(pg), access) => pg.with(|c| {
                let mut tx = match access {
                    Access::Read => c
                        .build_transaction()
                        .isolation_level(postgres::IsolationLevel::RepeatableRead)
                        .start()?,
                    Access::Write => c.transaction()?,
                };
                let out = f(Tx::Postgres(&mut tx))?;
                if keep(&out) {
                    tx.commit()?;
                }
                Ok(out)
            }),
        }
    }

    /// The main site's blog on this backend (each organization's:
    /// `BlogDb::Sqlite` over its own file, or [`BlogDb::Postgres`] with its
    /// id).
    pub fn blog(&self) -> BlogDb {
        match self {
            Storage::Sqlite(db) => BlogDb::Sqlite(db.clone()),
            Storage::Postgres(pg) => BlogDb::Postgres {
                pg: pg.clone(),
                org: crate::pg::tenant::MAIN_SITE,
            },
        }
    }

    /// Whether this is the fleet's shared PostgreSQL.
    pub fn is_shared(&self) -> bool {
        matches!(self, Storage::Postgres(_))
    }

    /// Where, for logs: the SQLite file or PostgreSQL's `host:port/db`.
    pub fn describe(&self) -> String {
        match self {
            Storage::Sqlite(db) => match db.path() {
                Some(path) => format!("sqlite:{}", path.display()),
                None => "sqlite (in memory)".into(),
            },
            Storage::Postgres(pg) => format!("postgres://{}", pg.place()),
        }
    }
}

/// One blog (the main site's or an organization's) on its backend.
/// Cheap to clone.
#[derive(Clone)]
pub enum BlogDb {
    /// Its own SQLite file (the main site's is the daemon's `agora.db`).
    Sqlite(Db),
    /// Organization `org`'s rows of the fleet's PostgreSQL
    /// ([`crate::pg::tenant::MAIN_SITE`] for the main site).
    Postgres {
        /// The pool.
        pg: Pg,
        /// Whose rows.
        org: i64,
    },
}

impl BlogDb {
    /// Runs `f` on a read-only snapshot: SQLite's reader connection, or a
    /// REPEATABLE READ tenant transaction on PostgreSQL.
    ///
    /// # Errors
    /// Whatever `f` returns; the database's errors.
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn BlogStore) -> Result<T>) -> Result<T> {
        match self {
            BlogDb::Sqlite(db) => db.read(|c| f(&mut Blog::new(c))),
            BlogDb::Postgres { pg, org } => {
                pg.tenant_read(*org, |tx| f(&mut crate::pg::blog::PgBlog::new(tx, *org)))
            }
        }
    }

    /// Runs `f` in one write transaction, committed when `f` returns
    /// `Ok(Ok(_))` and rolled back otherwise. Writes to one blog take turns:
    /// SQLite's `BEGIN IMMEDIATE` holds the file's write lock; on
    /// PostgreSQL the transaction first takes the organization's advisory
    /// lock, so the blog's check-then-write steps (a free slug, a taken
    /// email) cannot interleave across the fleet either.
    ///
    /// # Errors
    /// The database's errors (`f`'s own error is the inner `Err`).
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn BlogStore) -> Result<std::result::Result<T, E>>,
    ) -> Result<std::result::Result<T, E>> {
        match self {
            BlogDb::Sqlite(db) => db.write(|c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(&mut Blog::new(&tx))?;
                if out.is_ok() {
                    tx.commit()?;
                }
                Ok(out)
            }),
            BlogDb::Postgres { pg, org } => pg.tenant_write(*org, |tx| {
                crate::pg::blog::lock_writes(tx, *org)?;
                f(&mut crate::pg::blog::PgBlog::new(tx, *org))
            }),
        }
    }

    /// On PostgreSQL, the blog's generation: bumped by every write
    /// transaction, on whichever node (`pg::blog::lock_writes`). `None` on
    /// SQLite, whose one process counts its own writes.
    ///
    /// # Errors
    /// Database errors.
    pub fn generation(&self) -> Result<Option<i64>> {
        match self {
            BlogDb::Sqlite(_) => Ok(None),
            BlogDb::Postgres { pg, org } => {
                pg.with(|c| crate::pg::blog::generation(c, *org).map(Some))
            }
        }
    }

    /// The SQLite database, when that is the backend.
    pub fn sqlite(&self) -> Option<&Db> {
        match self {
            BlogDb::Sqlite(db) => Some(db),
            BlogDb::Postgres { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_schemes() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:/tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:rel.db").unwrap(),
            DatabaseUrl::Sqlite("rel.db".into())
        );
        let pg = DatabaseUrl::parse("postgresql://u:secret@127.0.0.1:5432/agora").unwrap();
        assert!(matches!(pg, DatabaseUrl::Postgres(_)));
        assert_eq!(pg.to_string(), "postgresql://u:***@127.0.0.1:5432/agora");
        assert_eq!(format!("{pg:?}"), "postgresql://u:***@127.0.0.1:5432/agora");
    }

    #[test]
    fn bad_urls_say_why_on_one_line() {
        for (url, says) in [
            ("mysql://u:secret@h/db", "unsupported database URL"),
            ("agora.db", "expected sqlite:PATH or postgres://"),
            ("sqlite:", "needs a file path"),
            ("postgres://u:secret@h:99999/db", "cannot use PostgreSQL at"),
        ] {
            let err = DatabaseUrl::parse(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains('\n'), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: {err}");
        }
    }
}
