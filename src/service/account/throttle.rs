//! Slowing down password guessing: failed logins are counted per account and
//! per client address, and after a few free attempts each further one must
//! wait twice as long as the last (250 ms, 500 ms, 1 s … up to a minute).
//! A login attempted too early is refused with `RateLimited` before any
//! password is hashed, so guessing costs the server nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before delays start.
const FREE_FAILURES: u32 = 3;
/// Delay after the first failure beyond the free ones.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest delay.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A key with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Keys tracked at most; beyond it, forgotten ones are dropped first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn wait_until(&self) -> Instant {
        match self.count.checked_sub(FREE_FAILURES + 1) {
            None => self.last,
            Some(extra) => self.last + BASE_DELAY.saturating_mul(1u32 << extra.min(16)).min(MAX_DELAY),
        }
    }
}

/// Failed-login bookkeeping.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl LoginThrottle {
    /// `Err(wait)` if a login for `account` from `address` must wait.
    pub fn check(&self, account: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let wait = [Key::Account(account.to_string()), Key::Address(address)]
            .iter()
            .filter_map(|k| failures.get(k))
            .map(|f| f.wait_until().saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Records a failed login.
    pub fn failed(&self, account: &str, address: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        for key in [Key::Account(account.to_string()), Key::Address(address)] {
            let entry = failures.entry(key).or_insert(Failures { count: 0, last: now });
            if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    /// Records a successful login: the account's failures are forgotten (the
    /// address's are not, so one good password does not reset a guesser).
    pub fn succeeded(&self, account: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&Key::Account(account.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(t.check("alice", ip, t0).is_ok());
            t.failed("alice", ip, t0);
        }
        assert!(t.check("alice", ip, t0).is_ok(), "free failures carry no delay");
        t.failed("alice", ip, t0);
        assert_eq!(t.check("alice", ip, t0), Err(BASE_DELAY));
        assert!(t.check("alice", ip, t0 + BASE_DELAY).is_ok());
        t.failed("alice", ip, t0 + BASE_DELAY);
        assert_eq!(t.check("alice", ip, t0 + BASE_DELAY), Err(BASE_DELAY * 2));
        // Another account from the same address waits too; the same account
        // from another address as well.
        assert!(t.check("bob", ip, t0 + BASE_DELAY).is_err());
        assert!(t.check("alice", [10, 0, 0, 2].into(), t0 + BASE_DELAY).is_err());
        assert!(t.check("bob", [10, 0, 0, 2].into(), t0 + BASE_DELAY).is_ok());
        t.succeeded("alice");
        assert!(t.check("alice", [10, 0, 0, 2].into(), t0 + BASE_DELAY).is_ok());
    }

    #[test]
    fn delays_are_capped_and_forgotten() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..50 {
            t.failed("alice", ip, t0);
        }
        assert_eq!(t.check("alice", ip, t0), Err(MAX_DELAY));
        t.failed("alice", ip, t0 + FORGET_AFTER);
        assert!(t.check("alice", ip, t0 + FORGET_AFTER).is_ok());
    }
}
