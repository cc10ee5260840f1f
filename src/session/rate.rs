//! Per-connection request rate limit: a token bucket.

use std::time::{Duration, Instant};

/// Allows `burst` requests at once and `rate` per second sustained.
#[derive(Debug)]
pub(super) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(super) fn new(rate: u32, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket { rate: f64::from(rate), burst: f64::from(burst), tokens: f64::from(burst), last: now }
    }

    /// Takes one token if there is one; otherwise says how long until there is.
    pub(super) fn allow(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 3, t0);
        assert!(b.allow(t0).is_ok() && b.allow(t0).is_ok() && b.allow(t0).is_ok());
        assert_eq!(b.allow(t0), Err(Duration::from_millis(100)));
        assert!(b.allow(t0 + Duration::from_millis(100)).is_ok());
        assert!(b.allow(t0 + Duration::from_millis(100)).is_err());
    }
}
