//! [`Reply`]: what a command answers, independent of the wire encoding
//! (RESP2 or RESP3 in [`crate::resp`], or later the native protocol).

use std::borrow::Cow;

use bytes::Bytes;

/// A command's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A status line (`+OK`).
    Simple(Cow<'static, str>),
    /// An error; the text starts with its code (`ERR …`, `WRONGTYPE …`).
    Error(Cow<'static, str>),
    /// An integer.
    Integer(i64),
    /// A binary-safe string.
    Bulk(Bytes),
    /// No value: a null bulk string in RESP2, `_` in RESP3.
    Nil,
    /// A null array (`*-1`) in RESP2, `_` in RESP3.
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A double (a bulk string in RESP2).
    Double(f64),
    /// A map (a flat array in RESP2).
    Map(Vec<(Reply, Reply)>),
    /// An out-of-band push (pub/sub messages): `>` in RESP3, an array in
    /// RESP2.
    Push(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub const fn ok() -> Reply {
        Reply::Simple(Cow::Borrowed("OK"))
    }

    /// An error from a static text (which starts with its code).
    pub const fn err(text: &'static str) -> Reply {
        Reply::Error(Cow::Borrowed(text))
    }

    /// An error from a formatted text.
    pub fn error(text: String) -> Reply {
        Reply::Error(Cow::Owned(text))
    }

    /// A bulk string copied from a slice.
    pub fn bulk(bytes: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(bytes))
    }

    /// A bulk string from a static text.
    pub fn text(text: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(text.as_bytes()))
    }

    /// A bulk string or nil.
    pub fn bulk_or_nil(bytes: Option<&[u8]>) -> Reply {
        bytes.map_or(Reply::Nil, Reply::bulk)
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Error texts shared by many commands, exactly as Redis 7 words them.
pub mod errors {
    /// A key holds another type.
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    /// An argument is not a 64-bit integer.
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    /// An argument is not a float.
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    /// Bad options.
    pub const SYNTAX: &str = "ERR syntax error";
    /// Over the memory limit with nothing to evict.
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    /// INCR and friends past i64.
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    /// RENAME of a missing key.
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    /// SELECT of a database past `databases`.
    pub const DB_RANGE: &str = "ERR DB index is out of range";
    /// A string would pass the size limit.
    pub const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
}
