//! The daemon's log filter, changeable while it runs (`PUT
//! /admin/log-level`, `agora admin log-level`). The binary that sets up
//! logging installs the way to change it (tracing-subscriber's reload
//! handle, behind a closure, so this crate needs no subscriber types);
//! without one (a daemon embedded in a test), the filter cannot be changed
//! and says so.

use std::sync::{Mutex, OnceLock};

/// Applies a filter (`tracing_subscriber::EnvFilter` syntax), or says why
/// it cannot.
pub type Apply = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

struct Control {
    apply: Apply,
    current: Mutex<String>,
}

static CONTROL: OnceLock<Control> = OnceLock::new();

/// Why a filter was not applied.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError {
    /// This process's logging cannot be changed at runtime.
    NotInstalled,
    /// Not a valid filter; says why.
    Invalid(String),
}

/// Installs the control, with the filter in effect now. Only the first
/// call counts (logging is set up once per process).
pub fn install(current: impl Into<String>, apply: Apply) {
    let _ = CONTROL.set(Control {
        apply,
        current: Mutex::new(current.into()),
    });
}

/// The filter in effect, when it can be changed.
pub fn current() -> Option<String> {
    CONTROL
        .get()
        .map(|c| c.current.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Applies `filter`; returns the one it replaced.
///
/// # Errors
/// [`SetError::NotInstalled`] without a control, [`SetError::Invalid`]
/// for a filter that does not parse (the old one stays).
pub fn set(filter: &str) -> Result<String, SetError> {
    let control = CONTROL.get().ok_or(SetError::NotInstalled)?;
    let filter = filter.trim();
    if filter.is_empty() {
        return Err(SetError::Invalid("the filter is empty".into()));
    }
    let mut current = control.current.lock().unwrap_or_else(|e| e.into_inner());
    (control.apply)(filter).map_err(SetError::Invalid)?;
    Ok(std::mem::replace(&mut current, filter.to_owned()))
}
