//! `metrics_signal`: an operator sends a signal to a process of the
//! table. [`check`] is the permission rule (pure, tested below); [`send`]
//! asks the kernel, which has the last word (the daemon's own rights).

use agora_wire::metrics::signal_name;
use agora_wire::{ErrorBody, ErrorCode};

/// Whether `user` may send `signal` to `pid`, and the signal's number.
/// The rule: only the daemon's operators, never pid 1 nor the daemon
/// itself (`own_pid`), never pid 0 or pids that would name a process
/// group; the signal one of [`agora_wire::metrics::SIGNALS`].
///
/// # Errors
/// `forbidden` or `bad_request` with a one-line reason.
pub fn check(
    user: &str,
    operators: &[String],
    pid: u32,
    own_pid: u32,
    signal: &str,
) -> Result<(&'static str, i32), ErrorBody> {
    if !operators.iter().any(|o| o == user) {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!(
                "only the daemon's operators may send signals (--operators); {user} is not one"
            ),
        ));
    }
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(ErrorBody::bad_request(format!(
            "bad pid {pid}: name one process (1 to {})",
            i32::MAX
        )));
    }
    if pid == 1 {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "pid 1 (init) is never signalled",
        ));
    }
    if pid == own_pid {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("pid {pid} is the daemon itself; stop it with SIGTERM from its host"),
        ));
    }
    let name = signal_name(signal).ok_or_else(|| {
        ErrorBody::bad_request(format!(
            "unknown signal {signal:?}: use one of {}",
            agora_wire::metrics::SIGNALS.join(" ")
        ))
    })?;
    Ok((name, number(name)))
}

/// The signal's number on this system.
fn number(name: &str) -> i32 {
    match name {
        "KILL" => libc::SIGKILL,
        "INT" => libc::SIGINT,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        _ => libc::SIGTERM,
    }
}

/// Sends signal `number` to `pid` (already allowed by [`check`]).
///
/// # Errors
/// `not_found` when there is no such process, `forbidden` when the
/// daemon's user may not signal it.
pub fn send(pid: u32, name: &str, number: i32) -> Result<(), ErrorBody> {
    // SAFETY: kill(2) with a positive pid (checked: 2..=i32::MAX) names
    // one process; it touches no memory of ours.
    let rc = unsafe { libc::kill(pid as libc::pid_t, number) };
    if rc == 0 {
        return Ok(());
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("no process {pid}"),
        )),
        Some(libc::EPERM) => Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("the daemon's user may not signal process {pid} (SIG{name})"),
        )),
        _ => Err(ErrorBody::new(
            ErrorCode::Internal,
            format!("cannot send SIG{name} to {pid}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<String> {
        vec!["alice".into(), "carol".into()]
    }

    #[test]
    fn only_operators_may_signal() {
        assert_eq!(
            check("alice", &ops(), 4242, 77, "TERM").unwrap(),
            ("TERM", libc::SIGTERM)
        );
        let err = check("bob", &ops(), 4242, 77, "TERM").unwrap_err();
        assert_eq!(err.code, ErrorCode::Forbidden);
        assert_eq!(
            err.message,
            "only the daemon's operators may send signals (--operators); bob is not one"
        );
        assert!(!err.message.contains('\n'));
        // No operators configured: nobody, not even a name that looks
        // special.
        for user in ["alice", "root", "admin", ""] {
            assert_eq!(
                check(user, &[], 4242, 77, "TERM").unwrap_err().code,
                ErrorCode::Forbidden
            );
        }
    }

    #[test]
    fn never_init_the_daemon_or_a_process_group() {
        assert_eq!(
            check("alice", &ops(), 1, 77, "KILL").unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert_eq!(
            check("alice", &ops(), 77, 77, "TERM").unwrap_err().code,
            ErrorCode::Forbidden
        );
        for pid in [0, u32::MAX, i32::MAX as u32 + 1] {
            assert_eq!(
                check("alice", &ops(), pid, 77, "TERM").unwrap_err().code,
                ErrorCode::BadRequest
            );
        }
        // A non-operator hears that first, whatever the pid.
        let err = check("bob", &ops(), 1, 77, "TERM").unwrap_err();
        assert!(err.message.contains("operators"), "{}", err.message);
    }

    #[test]
    fn signals_by_name() {
        for (given, name, number) in [
            ("TERM", "TERM", libc::SIGTERM),
            ("sigkill", "KILL", libc::SIGKILL),
            (" int ", "INT", libc::SIGINT),
            ("SIGHUP", "HUP", libc::SIGHUP),
            ("usr1", "USR1", libc::SIGUSR1),
        ] {
            assert_eq!(
                check("alice", &ops(), 4242, 77, given).unwrap(),
                (name, number)
            );
        }
        for bad in ["", "SIG", "9", "SEGV", "TERMX"] {
            assert_eq!(
                check("alice", &ops(), 4242, 77, bad).unwrap_err().code,
                ErrorCode::BadRequest
            );
        }
    }

    #[test]
    fn the_kernel_has_the_last_word() {
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let pid = child.id();
        send(pid, "TERM", libc::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // Reaped: gone.
        assert_eq!(
            send(pid, "TERM", libc::SIGTERM).unwrap_err().code,
            ErrorCode::NotFound
        );
    }
}
