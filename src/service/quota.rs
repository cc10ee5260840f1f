//! Quotas on actions that reach other people (searches of the directory,
//! group invitations, per user; mentions of everyone, per group): fixed
//! windows counted in memory, so a user can neither list the directory by
//! brute force nor flood others' update logs. A restart forgets the counts, which only ever lets a user
//! start a window afresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{ServiceError, ServiceResult};
use crate::protocol::RateLimitReason;

/// Users whose windows are remembered before stale ones are dropped.
const REMEMBERED: usize = 100_000;

/// At most `most` of one action per user (or group) per window.
pub(super) struct Quota {
    what: &'static str,
    most: u32,
    window: Duration,
    windows: Mutex<HashMap<u64, (Instant, u32)>>,
}

impl Quota {
    /// A quota of `most` `what` (plural, for the refusal) per `window`.
    pub(super) fn new(what: &'static str, most: u32, window: Duration) -> Quota {
        Quota { what, most, window, windows: Mutex::new(HashMap::new()) }
    }

    /// Counts `n` actions by `who` (a user, or a group), or refuses them
    /// all with how long to wait (`RateLimited`, `limit` = the quota).
    pub(super) fn allow(&self, who: u64, n: u32, now: Instant) -> ServiceResult<()> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= REMEMBERED {
            windows.retain(|_, (start, _)| now.saturating_duration_since(*start) < self.window);
        }
        let (start, count) = windows.entry(who).or_insert((now, 0));
        if now.saturating_duration_since(*start) >= self.window {
            (*start, *count) = (now, 0);
        }
        if count.saturating_add(n) > self.most {
            let wait = self.window.saturating_sub(now.saturating_duration_since(*start));
            let per = humantime_window(self.window);
            return Err(ServiceError::rate_limited(
                RateLimitReason::Quota,
                format!("at most {} {} per {per}", self.most, self.what),
                wait,
            )
            .with_limit(u64::from(self.most)));
        }
        *count += n;
        Ok(())
    }
}

/// "minute", "hour" or a number of seconds, for a refusal's message.
fn humantime_window(window: Duration) -> String {
    match window.as_secs() {
        60 => "minute".into(),
        3600 => "hour".into(),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_then_refuses_then_starts_afresh() {
        let quota = Quota::new("invitations", 3, Duration::from_secs(60));
        let t = Instant::now();
        quota.allow(1, 2, t).unwrap();
        assert!(quota.allow(1, 2, t).is_err(), "2 + 2 > 3, and nothing is counted");
        quota.allow(1, 1, t).unwrap();
        assert!(quota.allow(1, 1, t).is_err());
        quota.allow(2, 3, t).unwrap();
        quota.allow(1, 3, t + Duration::from_secs(60)).unwrap();
    }
}
