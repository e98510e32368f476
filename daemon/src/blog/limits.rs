//! Rate limiting: token buckets per client IP and per user, in three
//! classes — reads, writes, and sign-in attempts (register and login) —
//! so a script hammering logins or posts is slowed long before readers
//! notice. Pure and clock-free (callers pass the time in ms).
//!
//! A request takes one token from its IP's bucket and, when it carries a
//! valid token, one from its user's, both of its class; it is refused
//! when either is empty, and then takes from neither. IPv6 clients are
//! counted per /64, the block one subscriber usually holds.
//!
//! Memory is bounded: 16 shards of at most [`MAX_KEYS_PER_SHARD`] buckets.
//! A full bucket carries no information, so [`Limiter::prune`] (once a
//! minute) drops those; a shard at its limit drops some bucket before
//! adding one, which at worst gives that client a fresh bucket.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;

/// Buckets one shard may hold.
pub const MAX_KEYS_PER_SHARD: usize = 8192;
const SHARDS: usize = 16;

/// A sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_sec: f64,
    /// The bucket's size: requests allowed at once after a quiet spell.
    pub burst: f64,
}

/// The limits of each class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// GET and HEAD.
    pub read: Rate,
    /// Other methods, but for sign-in.
    pub write: Rate,
    /// POST /api/users and /api/users/login.
    pub auth: Rate,
}

impl Default for RateLimits {
    /// Generous for people and front ends (a page load is a handful of
    /// reads; a burst of 100 reads then 50/s), strict for writes (30, then
    /// 5/s) and sign-in attempts (10, then one per 5 s).
    fn default() -> Self {
        RateLimits {
            read: Rate {
                per_sec: 50.0,
                burst: 100.0,
            },
            write: Rate {
                per_sec: 5.0,
                burst: 30.0,
            },
            auth: Rate {
                per_sec: 0.2,
                burst: 10.0,
            },
        }
    }
}

/// Which limits a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Reads.
    Read,
    /// Writes.
    Write,
    /// Sign-in attempts.
    Auth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    /// An IPv4 address, or the first 64 bits of an IPv6 one.
    Ip(u128),
    User(i64),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    fn refill(&mut self, rate: Rate, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_sec).min(rate.burst);
        self.last_ms = self.last_ms.max(now_ms);
    }

    fn is_full(&self, rate: Rate, now_ms: u64) -> bool {
        let mut b = *self;
        b.refill(rate, now_ms);
        b.tokens >= rate.burst
    }
}

/// One shard of buckets.
type Shard = HashMap<(Who, Class), Bucket, foldhash::fast::RandomState>;

/// The answer for one request, with what the RateLimit headers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// The burst of the tighter bucket (RateLimit-Limit).
    pub limit: u64,
    /// Whole tokens left in it (RateLimit-Remaining).
    pub remaining: u64,
    /// Seconds until it is full again (RateLimit-Reset).
    pub reset_secs: u64,
    /// When refused: seconds until a token is back (Retry-After).
    pub retry_after_secs: u64,
}

/// The limiter. Shared by every request; see the module docs.
pub struct Limiter {
    limits: RateLimits,
    shards: Vec<Mutex<Shard>>,
    hasher: foldhash::fast::RandomState,
}

impl Limiter {
    /// A limiter with these limits.
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn rate(&self, class: Class) -> Rate {
        match class {
            Class::Read => self.limits.read,
            Class::Write => self.limits.write,
            Class::Auth => self.limits.auth,
        }
    }

    fn shard(&self, key: &(Who, Class)) -> std::sync::MutexGuard<'_, Shard> {
        let mut h = self.hasher.build_hasher();
        key.hash(&mut h);
        let i = (std::hash::Hasher::finish(&h) as usize) % SHARDS;
        // A panic cannot leave a bucket half-written (plain f64/u64 stores).
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a request of `class` from `ip` (and `user`, when signed in)
    /// at `now_ms`.
    pub fn check(&self, class: Class, ip: IpAddr, user: Option<i64>, now_ms: u64) -> Decision {
        let rate = self.rate(class);
        let keys = [
            Some((who_ip(ip), class)),
            user.map(|u| (Who::User(u), class)),
        ];
        // Look at both buckets first; take from them only if both allow.
        let mut seen: [Option<Bucket>; 2] = [None, None];
        for (slot, key) in seen.iter_mut().zip(&keys) {
            if let Some(key) = key {
                let shard = self.shard(key);
                let mut bucket = shard.get(key).copied().unwrap_or(Bucket {
                    tokens: rate.burst,
                    last_ms: now_ms,
                });
                bucket.refill(rate, now_ms);
                *slot = Some(bucket);
            }
        }
        let allowed = seen.iter().flatten().all(|b| b.tokens >= 1.0);
        let mut tightest = f64::INFINITY;
        for (slot, key) in seen.iter_mut().zip(&keys) {
            let (Some(bucket), Some(key)) = (slot.as_mut(), key) else {
                continue;
            };
            if allowed {
                bucket.tokens -= 1.0;
            }
            tightest = tightest.min(bucket.tokens);
            let mut shard = self.shard(key);
            // At the limit, one bucket makes room (scanning for full ones
            // here would let a client spraying addresses make every
            // request pay for a scan; `prune` does that once a minute).
            if shard.len() >= MAX_KEYS_PER_SHARD
                && !shard.contains_key(key)
                && let Some(victim) = shard.keys().next().copied()
            {
                shard.remove(&victim);
            }
            shard.insert(*key, *bucket);
        }
        let tokens = tightest.max(0.0);
        let per_sec = rate.per_sec.max(f64::MIN_POSITIVE);
        Decision {
            allowed,
            limit: rate.burst as u64,
            remaining: tokens.floor() as u64,
            reset_secs: secs((rate.burst - tokens) / per_sec),
            retry_after_secs: if allowed {
                0
            } else {
                secs((1.0 - tokens) / per_sec).max(1)
            },
        }
    }

    /// Forgets buckets that have filled up again (they hold no state).
    pub fn prune(&self, now_ms: u64) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.retain(|(_, c), b| !b.is_full(self.rate(*c), now_ms));
        }
    }

    /// How many buckets are held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whole seconds, rounded up, saturating.
fn secs(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        s.ceil().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

fn who_ip(ip: IpAddr) -> Who {
    match ip {
        IpAddr::V4(v4) => Who::Ip(u128::from(u32::from(v4))),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Who::Ip(u128::from(u32::from(v4))),
            None => Who::Ip(u128::from(v6) & !((1u128 << 64) - 1)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RateLimits = RateLimits {
        read: Rate {
            per_sec: 10.0,
            burst: 20.0,
        },
        write: Rate {
            per_sec: 1.0,
            burst: 3.0,
        },
        auth: Rate {
            per_sec: 0.5,
            burst: 2.0,
        },
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_with_headers_that_say_so() {
        let l = Limiter::new(LIMITS);
        let a = ip("10.0.0.1");
        for i in 0..3 {
            let d = l.check(Class::Write, a, None, 0);
            assert!(d.allowed);
            assert_eq!((d.limit, d.remaining), (3, 2 - i));
        }
        let d = l.check(Class::Write, a, None, 0);
        assert!(!d.allowed);
        assert_eq!((d.remaining, d.retry_after_secs, d.reset_secs), (0, 1, 3));
        assert!(l.check(Class::Write, a, None, 1000).allowed);
        // Reads have their own bucket.
        assert!(l.check(Class::Read, a, None, 1000).allowed);
    }

    #[test]
    fn user_and_ip_are_limited_apart_and_together() {
        let l = Limiter::new(LIMITS);
        // One user from many addresses is still one user.
        for n in 0..3 {
            assert!(
                l.check(Class::Write, ip(&format!("10.0.0.{n}")), Some(7), 0)
                    .allowed
            );
        }
        assert!(!l.check(Class::Write, ip("10.0.0.9"), Some(7), 0).allowed);
        // Another user on a fresh address is not affected.
        assert!(l.check(Class::Write, ip("10.0.0.9"), Some(8), 0).allowed);
        // A refused request takes from neither bucket: 10.0.0.9 had one
        // write (by user 8) and has two more before it is empty.
        assert!(l.check(Class::Write, ip("10.0.0.9"), None, 0).allowed);
        assert!(l.check(Class::Write, ip("10.0.0.9"), None, 0).allowed);
        assert!(!l.check(Class::Write, ip("10.0.0.9"), None, 0).allowed);
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_v4_as_v4() {
        let l = Limiter::new(LIMITS);
        assert!(l.check(Class::Auth, ip("2001:db8::1"), None, 0).allowed);
        assert!(
            l.check(Class::Auth, ip("2001:db8::ffff:2"), None, 0)
                .allowed
        );
        assert!(!l.check(Class::Auth, ip("2001:db8::3"), None, 0).allowed);
        assert!(l.check(Class::Auth, ip("2001:db8:0:1::1"), None, 0).allowed);
        assert!(l.check(Class::Auth, ip("192.0.2.1"), None, 0).allowed);
        assert!(
            l.check(Class::Auth, ip("::ffff:192.0.2.1"), None, 0)
                .allowed
        );
        assert!(!l.check(Class::Auth, ip("192.0.2.1"), None, 0).allowed);
    }

    #[test]
    fn full_buckets_are_forgotten_and_memory_is_bounded() {
        let l = Limiter::new(LIMITS);
        for n in 0..100u32 {
            l.check(Class::Read, IpAddr::from(n.to_be_bytes()), None, 0);
        }
        assert_eq!(l.len(), 100);
        l.prune(50);
        assert_eq!(l.len(), 100, "not yet refilled");
        l.prune(10_000);
        assert!(l.is_empty());
        for n in 0..(SHARDS * MAX_KEYS_PER_SHARD + 5000) as u32 {
            l.check(Class::Read, IpAddr::from(n.to_be_bytes()), None, 0);
        }
        assert!(l.len() <= SHARDS * MAX_KEYS_PER_SHARD);
    }
}
