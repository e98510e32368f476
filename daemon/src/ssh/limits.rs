//! The SSH listener's limits: failed authentications per IP address, and
//! sessions per user. Both pure bookkeeping behind a `std` mutex (held
//! for a map lookup, never across an await); time comes in as an argument
//! so the tests need no clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failed authentications an address may make per [`WINDOW`] before it is
/// refused outright until the window has passed.
pub const MAX_FAILURES: u32 = 10;

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most addresses remembered; past it the oldest windows are dropped.
const MAX_ADDRESSES: usize = 65_536;

/// Failed authentications per IP address, in fixed windows.
#[derive(Debug, Default)]
pub struct AuthFailures {
    by_ip: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthFailures {
    /// Whether `ip` is refused now (it failed [`MAX_FAILURES`] times in its
    /// current window).
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let map = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip)
            .is_some_and(|(start, n)| now.duration_since(*start) < WINDOW && *n >= MAX_FAILURES)
    }

    /// Counts a failure of `ip`; true when this one reached the limit (the
    /// moment to log it, once).
    pub fn fail(&self, ip: IpAddr, now: Instant) -> bool {
        let mut map = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ADDRESSES {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 == MAX_FAILURES
    }
}

/// Open sessions per user, with a limit.
#[derive(Debug, Default)]
pub struct UserSessions {
    open: Mutex<HashMap<i64, usize>>,
}

/// One open session; dropping it frees its place.
#[derive(Debug)]
pub struct SessionGuard {
    sessions: Arc<UserSessions>,
    user: i64,
}

impl UserSessions {
    /// A place for one more session of `user`, unless `max` are open
    /// (`max` 0: no limit).
    pub fn open(self: &Arc<Self>, user: i64, max: usize) -> Option<SessionGuard> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(SessionGuard {
            sessions: self.clone(),
            user,
        })
    }

    /// How many sessions `user` has open.
    pub fn count(&self, user: i64) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&user).copied().unwrap_or(0)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut open = self.sessions.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_too_many_failures_until_the_window_passes() {
        let failures = AuthFailures::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 1..MAX_FAILURES {
            assert!(!failures.fail(ip, t0), "failure {i}");
            assert!(!failures.blocked(ip, t0));
        }
        assert!(failures.fail(ip, t0), "the limit is reported once");
        assert!(failures.blocked(ip, t0));
        assert!(!failures.fail(ip, t0));
        assert!(
            !failures.blocked(other, t0),
            "other addresses are not affected"
        );
        assert!(!failures.blocked(ip, t0 + WINDOW));
        assert!(
            !failures.fail(ip, t0 + WINDOW),
            "a new window counts from one"
        );
    }

    #[test]
    fn sessions_per_user_are_limited_and_freed_on_drop() {
        let sessions = Arc::new(UserSessions::default());
        let a = sessions.open(1, 2).unwrap();
        let _b = sessions.open(1, 2).unwrap();
        assert!(sessions.open(1, 2).is_none());
        assert!(sessions.open(2, 2).is_some(), "per user");
        drop(a);
        assert_eq!(sessions.count(1), 1);
        assert!(sessions.open(1, 2).is_some());
        assert!(sessions.open(1, 0).is_some(), "0: no limit");
    }
}
