//! Errors: the codes a server sends to clients, and this crate's own error.

use serde::{Deserialize, Serialize};

/// What went wrong, as a machine-readable code. Serialized as a snake_case
/// string (`"bad_request"`, …). Clients should treat an unknown code like
/// [`ErrorCode::Internal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request was malformed, named an unknown operation, or had an
    /// invalid argument. The connection stays usable.
    BadRequest,
    /// The operation needs a signed-in user, or the credentials were wrong.
    Unauthorized,
    /// The user is signed in but may not do this.
    Forbidden,
    /// The thing named does not exist.
    NotFound,
    /// The request conflicts with existing state (e.g. a taken user name).
    Conflict,
    /// Too many requests; retry after `retry_after_ms`.
    RateLimited,
    /// A frame or value exceeded a size limit. For a frame, the connection
    /// is closed afterwards because the stream can no longer be trusted.
    TooLarge,
    /// The server cannot serve this now (shutting down, overloaded).
    Unavailable,
    /// A bug or an unexpected failure on the server; details are in its log.
    /// A code this crate does not know (from a newer server) decodes as
    /// this one.
    #[serde(other)]
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `"bad_request"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// Every code, in declaration order (for metrics and documentation).
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::TooLarge,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the server sends it: a code, one human sentence, and when to
/// retry where that applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// A short human-readable explanation, safe to show to a person.
    pub message: String,
    /// For `rate_limited` and `unavailable`: milliseconds to wait before
    /// retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorBody {
    /// An error with a code and a message and no retry hint.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// Shorthand for a `bad_request` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(ms) = self.retry_after_ms {
            write!(f, ", retry after {ms} ms")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorBody {}

/// Everything that can go wrong in this crate. New kinds may be added in
/// a minor version: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket read or write failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A frame announced a length above the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A frame's body was not valid MessagePack for the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A value could not be encoded (should not happen for this crate's types).
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// The server answered with an error.
    #[error("{0}")]
    Server(ErrorBody),
    /// The connection was closed before the answer arrived.
    #[error("connection closed by the server")]
    Closed,
    /// The server did not answer within the client's timeout.
    #[error("timed out waiting for the server")]
    Timeout,
}

impl Error {
    /// The server's error code, if this error came from the server.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(body) => Some(body.code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_from_a_newer_server_reads_as_internal() {
        #[derive(Serialize)]
        struct Raw<'a> {
            code: &'a str,
            message: &'a str,
        }
        let body = crate::encode(&Raw {
            code: "quota_exceeded",
            message: "over quota",
        })
        .expect("encode");
        let decoded: ErrorBody = crate::decode(&body).expect("decodes");
        assert_eq!(decoded.code, ErrorCode::Internal);
        assert_eq!(decoded.message, "over quota");
        for code in ErrorCode::ALL {
            let body = crate::encode(&ErrorBody::new(code, "x")).expect("encode");
            assert_eq!(
                crate::decode::<ErrorBody>(&body).expect("decode").code,
                code
            );
        }
    }
}
