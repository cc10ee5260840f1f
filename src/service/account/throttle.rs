//! Slowing down password guessing: failed attempts are counted per account
//! and per client address, and after three failures each further attempt
//! must wait twice as long as the one before (250 ms, 500 ms, 1 s … up to a
//! minute). An attempt made too early is refused with `RateLimited` before
//! any password is hashed, so guessing costs the server nothing.
//!
//! An attempt is **reserved** when it is checked: against its account it
//! counts as a failure at once, refunded only if it succeeds, and only a few
//! attempts per account and per address may be in progress at a time. So a
//! burst of concurrent guesses is throttled like the same guesses one after
//! another, while several people behind one address (a family's router)
//! can still log in at the same moment: against the address, a failure
//! counts when it is known.
//! IPv6 addresses count by their /64 (`crate::net`). The table is bounded: account keys are canonical usernames (at
//! most 32 bytes), and when it is full the entries with the fewest failures
//! go first, so a flood of fresh names cannot wipe a guessed account's count.

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
/// Keys tracked at most (each at most ~100 bytes with its entry).
const MAX_KEYS: usize = 100_000;
/// Attempts on one account in progress at once.
const MAX_PENDING_PER_ACCOUNT: u32 = 2;
/// Attempts from one address in progress at once.
const MAX_PENDING_PER_ADDRESS: u32 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

/// The account a login's username is counted against: its canonical form,
/// or none for a name no account can have — a made-up name of any length
/// then counts against the address only and adds nothing to the table.
pub(crate) fn account_key(username: &str) -> Option<String> {
    super::canonical_username(username).ok()
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    pending: u32,
}

impl Entry {
    /// When the next attempt may start, if the failures call for a wait.
    /// Under the free failures there is none, even if another attempt that
    /// read the clock a moment later took the lock first.
    fn wait_until(&self) -> Option<Instant> {
        let extra = self.failures.checked_sub(FREE_FAILURES)?;
        Some(self.last + BASE_DELAY.saturating_mul(1u32 << extra.min(16)).min(MAX_DELAY))
    }
}

/// Why an attempt may not start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too many recent failures: retry after this long.
    Wait(Duration),
    /// Too many attempts in progress for this account or address.
    Busy,
}

/// Failed-attempt bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

/// An attempt in progress; reserved as a failure until [`Attempt::succeeded`].
#[must_use]
pub(crate) struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
    /// When it began; a failure counts from then.
    at: Instant,
    succeeded: bool,
}

impl LoginThrottle {
    /// Reserves an attempt for `account` (a canonical username, if the name
    /// is one) from `address`, or says why it may not start now.
    pub(crate) fn begin(&self, account: Option<&str>, address: IpAddr, now: Instant) -> Result<Attempt<'_>, Refusal> {
        let keys: Vec<Key> = account
            .map(|a| Key::Account(a.to_string()))
            .into_iter()
            .chain([Key::Address(crate::net::subscriber(address))])
            .collect();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some(entry) = entries.get(key) {
                if now.saturating_duration_since(entry.last) >= FORGET_AFTER && entry.pending == 0 {
                    continue;
                }
                if let Some(until) = entry.wait_until() {
                    wait = wait.max(until.saturating_duration_since(now));
                }
                let cap =
                    if matches!(key, Key::Account(_)) { MAX_PENDING_PER_ACCOUNT } else { MAX_PENDING_PER_ADDRESS };
                if entry.pending >= cap {
                    return Err(Refusal::Busy);
                }
            }
        }
        if !wait.is_zero() {
            return Err(Refusal::Wait(wait));
        }
        if entries.len() + keys.len() > MAX_KEYS {
            evict(&mut entries, now);
        }
        for key in &keys {
            let entry = entries.entry(key.clone()).or_insert(Entry { failures: 0, last: now, pending: 0 });
            if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
                entry.failures = 0;
            }
            if matches!(key, Key::Account(_)) {
                entry.failures += 1;
                entry.last = now;
            }
            entry.pending += 1;
        }
        Ok(Attempt { throttle: self, keys, at: now, succeeded: false })
    }
}

/// Makes room: entries forgotten anyway go first, then those with the fewest
/// failures (the oldest of them first) — the counts that throttle someone stay.
fn evict(entries: &mut HashMap<Key, Entry>, now: Instant) {
    entries.retain(|_, e| e.pending > 0 || now.saturating_duration_since(e.last) < FORGET_AFTER);
    if entries.len() < MAX_KEYS * 9 / 10 {
        return;
    }
    let mut idle: Vec<(u32, Instant, Key)> =
        entries.iter().filter(|(_, e)| e.pending == 0).map(|(k, e)| (e.failures, e.last, k.clone())).collect();
    idle.sort_unstable_by_key(|(failures, last, _)| (*failures, *last));
    for (_, _, key) in idle.into_iter().take(MAX_KEYS / 10) {
        entries.remove(&key);
    }
}

impl Attempt<'_> {
    /// The password was right: the account's failures are forgotten; the
    /// address's are not (one good password does not reset a guesser's count).
    pub(crate) fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut entries = self.throttle.entries.lock().unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            let Some(entry) = entries.get_mut(key) else { continue };
            entry.pending = entry.pending.saturating_sub(1);
            match (key, self.succeeded) {
                (Key::Account(_), true) => entry.failures = 0,
                (Key::Address(_), false) => {
                    entry.failures += 1;
                    entry.last = entry.last.max(self.at);
                }
                _ => {}
            }
            if entry.failures == 0 && entry.pending == 0 {
                entries.remove(key);
            }
        }
    }
}

/// Bounds registrations, which anyone who can connect may send: so many per
/// address per hour, and so many in progress server-wide.
#[derive(Debug)]
pub(crate) struct RegistrationLimit {
    per_hour: usize,
    max_pending: usize,
    state: Mutex<(usize, HashMap<IpAddr, Vec<Instant>>)>,
}

/// A registration in progress; its slot is freed when dropped.
#[must_use]
pub(crate) struct Registration<'a>(&'a RegistrationLimit);

const HOUR: Duration = Duration::from_secs(3600);

impl RegistrationLimit {
    /// `per_hour` registrations per address, `max_pending` at once.
    pub(crate) fn new(per_hour: u32, max_pending: usize) -> RegistrationLimit {
        RegistrationLimit { per_hour: per_hour as usize, max_pending, state: Mutex::default() }
    }

    /// Counts a registration from `address`, or refuses it.
    pub(crate) fn begin(&self, address: IpAddr, now: Instant) -> Result<Registration<'_>, Refusal> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (pending, recent) = &mut *state;
        if *pending >= self.max_pending {
            return Err(Refusal::Busy);
        }
        if recent.len() >= MAX_KEYS {
            recent.retain(|_, times| times.iter().any(|t| now.saturating_duration_since(*t) < HOUR));
        }
        let times = recent.entry(crate::net::subscriber(address)).or_default();
        times.retain(|t| now.saturating_duration_since(*t) < HOUR);
        if times.len() >= self.per_hour {
            let oldest = times.first().copied().unwrap_or(now);
            return Err(Refusal::Wait((oldest + HOUR).saturating_duration_since(now)));
        }
        times.push(now);
        *pending += 1;
        Ok(Registration(self))
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(t: &LoginThrottle, account: &str, ip: IpAddr, at: Instant) {
        drop(t.begin(Some(account), ip, at).expect("allowed"));
    }

    #[test]
    fn an_invalid_username_keys_only_the_address() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let made_up = "x".repeat(100_000);
        assert_eq!(account_key(&made_up), None);
        assert_eq!(account_key("Alice").as_deref(), Some("alice"));
        fail(&t, "alice", ip, Instant::now());
        drop(t.begin(account_key(&made_up).as_deref(), ip, Instant::now()).expect("allowed"));
        let entries = t.entries.lock().unwrap();
        let accounts: Vec<&Key> = entries.keys().filter(|k| matches!(k, Key::Account(_))).collect();
        assert_eq!(accounts, [&Key::Account("alice".into())], "the made-up name is no key");
    }

    #[test]
    fn after_three_failures_each_attempt_waits() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            fail(&t, "alice", ip, t0);
        }
        assert_eq!(t.begin(Some("alice"), ip, t0).err(), Some(Refusal::Wait(BASE_DELAY)), "the fourth waits");
        fail(&t, "alice", ip, t0 + BASE_DELAY);
        assert_eq!(t.begin(Some("alice"), ip, t0 + BASE_DELAY).err(), Some(Refusal::Wait(BASE_DELAY * 2)));
        // Another account from the same address waits too; the same account
        // from another address as well.
        let later = t0 + BASE_DELAY;
        assert!(t.begin(Some("bob"), ip, later).is_err());
        assert!(t.begin(Some("alice"), [10, 0, 0, 2].into(), later).is_err());
        assert!(t.begin(Some("bob"), [10, 0, 0, 2].into(), later).is_ok());
        // A success clears the account's count.
        t.begin(Some("alice"), [10, 0, 0, 3].into(), later + BASE_DELAY * 2).unwrap().succeeded();
        assert!(t.begin(Some("alice"), [10, 0, 0, 4].into(), later + BASE_DELAY * 2).is_ok());
    }

    #[test]
    fn concurrent_attempts_are_reserved_and_capped() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let now = Instant::now();
        let first = t.begin(Some("alice"), ip, now).unwrap();
        let second = t.begin(Some("alice"), ip, now).unwrap();
        assert_eq!(t.begin(Some("alice"), ip, now).err(), Some(Refusal::Busy));
        // The two in progress count against the account already.
        assert_eq!(t.entries.lock().unwrap()[&Key::Account("alice".into())].failures, 2);
        drop((first, second));
        let third = t.begin(Some("alice"), ip, now).unwrap();
        drop(third);
        assert!(matches!(t.begin(Some("alice"), ip, now), Err(Refusal::Wait(_))));
        // Eight people behind one address may log in at once.
        let others: Vec<Attempt<'_>> =
            (0..8).map(|i| t.begin(Some(&format!("user{i}")), [10, 0, 0, 9].into(), now).unwrap()).collect();
        assert_eq!(t.begin(Some("user9"), [10, 0, 0, 9].into(), now).err(), Some(Refusal::Busy));
        others.into_iter().for_each(Attempt::succeeded);
        assert!(t.begin(Some("user9"), [10, 0, 0, 9].into(), now).is_ok());
    }

    #[test]
    fn an_attempt_that_read_the_clock_earlier_is_not_made_to_wait() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        let later = t.begin(Some("alice"), ip, t0 + Duration::from_millis(1)).unwrap();
        let earlier = t.begin(Some("bob"), ip, t0);
        assert!(earlier.is_ok(), "{:?}", earlier.err());
        later.succeeded();
    }

    #[test]
    fn ipv6_counts_by_its_slash_64() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..FREE_FAILURES {
            let ip: IpAddr = format!("2001:db8:1:2::{i}").parse().unwrap();
            fail(&t, &format!("user{i}"), ip, now);
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(t.begin(Some("other"), same_64, now).is_err());
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(t.begin(Some("other"), other_64, now).is_ok());
    }

    #[test]
    fn a_full_table_keeps_recent_counters() {
        let t = LoginThrottle::default();
        let target: IpAddr = [10, 9, 9, 9].into();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            fail(&t, "victim", target, t0);
        }
        // A flood of distinct names from distinct addresses, later on.
        for i in 0..MAX_KEYS as u32 {
            let ip = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            fail(&t, &format!("n{i}"), ip, t0 + Duration::from_millis(1));
        }
        assert!(t.entries.lock().unwrap().len() <= MAX_KEYS);
        assert!(t.begin(Some("victim"), [10, 8, 8, 8].into(), t0 + Duration::from_millis(2)).is_err(), "not wiped");
    }

    #[test]
    fn registrations_are_counted_per_address_per_hour_and_bounded_in_flight() {
        let limit = RegistrationLimit::new(3, 2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        let a = limit.begin(ip, t0).unwrap();
        let b = limit.begin(ip, t0).unwrap();
        assert_eq!(limit.begin([10, 0, 0, 2].into(), t0).err(), Some(Refusal::Busy), "two in progress");
        drop((a, b));
        drop(limit.begin(ip, t0).unwrap());
        assert_eq!(limit.begin(ip, t0).err(), Some(Refusal::Wait(HOUR)));
        assert!(limit.begin([10, 0, 0, 2].into(), t0).is_ok(), "another address has its own count");
        assert!(limit.begin(ip, t0 + HOUR).is_ok(), "an hour later");
    }

    #[test]
    fn delays_are_capped_and_forgotten() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        let mut at = t0;
        let mut longest = Duration::ZERO;
        for _ in 0..40 {
            match t.begin(Some("alice"), ip, at) {
                Ok(a) => drop(a),
                Err(Refusal::Wait(w)) => {
                    longest = longest.max(w);
                    at += w;
                }
                Err(Refusal::Busy) => unreachable!("nothing is in progress"),
            }
        }
        assert_eq!(longest, MAX_DELAY, "the delays grow to the cap and no further");
        assert!(t.begin(Some("alice"), ip, at + FORGET_AFTER + MAX_DELAY).is_ok());
    }
}
