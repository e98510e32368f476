//! What a blog operation answers when it does not succeed. The HTTP layer
//! maps each variant to its status and the RealWorld error body
//! (`{"errors": {"field": ["message"]}}`).

use agora_db::blog::StoredResponse;

/// A failed blog operation.
#[derive(Debug)]
pub enum Error {
    /// No token, or one that is invalid or expired (401).
    Unauthorized(String),
    /// Signed in, but it is someone else's (403).
    Forbidden(&'static str),
    /// No such article, profile or comment (404); names what.
    NotFound(&'static str),
    /// Refused by the organization's policy (403); says why.
    Denied(&'static str),
    /// A request that names nothing sensible, e.g. a malformed Host (400).
    BadRequest(String),
    /// This organization's data cannot be reached now (503); every other
    /// organization still works.
    Unavailable(String),
    /// Invalid input (422): messages by field.
    Invalid(Vec<(String, String)>),
    /// A concurrent request with the same Idempotency-Key got there first;
    /// this is its response.
    Replay(StoredResponse),
    /// SQLite was busy (`database is locked`): transient, so
    /// [`super::store::Store`] tries again; past its retries it becomes
    /// [`Error::Internal`].
    Busy(String),
    /// A bug or a storage failure (500); logged, never shown.
    Internal(String),
    /// Refused with a status of its own and details beside the usual
    /// error body: billing's 402 over a plan's limit, 409 for a
    /// downgrade that does not fit, 503 when billing is not configured.
    Refused(Box<Refusal>),
}

/// The body of [`Error::Refused`]: `{"errors": {field: [message]},
/// key: detail}` with `status`.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The error's field (`plan`, `billing`, …).
    pub field: &'static str,
    /// One line for people.
    pub message: String,
    /// Machine-readable details, if any, and the key they go under
    /// (`limit`).
    pub detail: Option<(&'static str, serde_json::Value)>,
}

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid(vec![(field.into(), message.into())])
    }

    /// A storage or runtime failure: logged here, generic to the client.
    pub fn internal(err: impl std::fmt::Display) -> Error {
        tracing::error!(%err, "blog: internal error");
        Error::Internal(err.to_string())
    }
}

impl From<agora_db::Error> for Error {
    fn from(err: agora_db::Error) -> Error {
        if err.is_busy() || err.is_pg_conflict() {
            // Not logged yet: the store retries it (the transaction was
            // rolled back whole).
            return Error::Busy(err.to_string());
        }
        if err.is_unavailable() {
            // The fleet's PostgreSQL is down or restarting: say so, and
            // that it is worth trying again, rather than a bare 500.
            tracing::warn!(%err, "blog: the database is unavailable");
            return Error::Refused(Box::new(Refusal {
                status: 503,
                field: "database",
                message: "the database cannot be reached right now; try again in a moment".into(),
                detail: None,
            }));
        }
        Error::internal(err)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unauthorized(why) => write!(f, "unauthorized: {why}"),
            Error::Forbidden(what) => write!(f, "forbidden: {what}"),
            Error::NotFound(what) => write!(f, "{what} not found"),
            Error::Denied(why) => write!(f, "denied: {why}"),
            Error::BadRequest(why) => write!(f, "bad request: {why}"),
            Error::Unavailable(why) => write!(f, "unavailable: {why}"),
            Error::Invalid(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
                write!(f, "invalid: {}", parts.join("; "))
            }
            Error::Replay(_) => write!(f, "replayed an idempotent response"),
            Error::Refused(r) => write!(f, "{} {}", r.field, r.message),
            Error::Busy(_) | Error::Internal(_) => write!(f, "internal error"),
        }
    }
}

impl std::error::Error for Error {}

/// Collects field errors so a request hears about all of them at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    /// Notes a problem with `field` when `result` is one.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push((field.to_owned(), message));
                None
            }
        }
    }

    /// Notes a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    /// `Ok` when nothing was noted.
    ///
    /// # Errors
    /// [`Error::Invalid`] with every problem noted.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}
