//! Snowflake message ids: 64-bit, time-ordered, strictly increasing on this node.
//!
//! Layout, most significant bit first:
//!
//! ```text
//! 0 | 41 bits: milliseconds since 2025-01-01T00:00:00Z | 10 bits: node | 12 bits: sequence
//! ```
//!
//! The generator never hands out an id at or below the last one, whatever the
//! wall clock does: if the clock steps back, or 4096 ids are taken within one
//! millisecond, it keeps counting up from the last id (borrowing from the next
//! millisecond) until real time catches up. Across restarts it is seeded with
//! the highest id the store has persisted, so ids stay increasing even when the
//! machine boots with a clock that is behind.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time of the id epoch, 2025-01-01T00:00:00Z, in milliseconds.
pub const EPOCH_MS: u64 = 1_735_689_600_000;

const SEQUENCE_BITS: u32 = 12;
const NODE_BITS: u32 = 10;
const TIME_SHIFT: u32 = SEQUENCE_BITS + NODE_BITS;
const NODE_MASK: u64 = (1 << NODE_BITS) - 1;

/// Milliseconds since the Unix epoch by the wall clock.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The Unix time in milliseconds that an id was generated at.
pub fn id_time_ms(id: u64) -> u64 {
    (id >> TIME_SHIFT) + EPOCH_MS
}

/// The smallest possible id at a Unix time, for range bounds.
pub fn first_id_at(unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(EPOCH_MS) << TIME_SHIFT
}

/// The first id of the `secs` seconds up to `now_ms`: ids below it are
/// older (expired, past a horizon, out of a window). 0 when `secs` is 0,
/// which keeps everything.
pub fn first_id_within(secs: u64, now_ms: u64) -> u64 {
    match secs {
        0 => 0,
        secs => first_id_at(now_ms.saturating_sub(secs.saturating_mul(1000))),
    }
}

/// Hands out strictly increasing snowflake ids. Not shared: the single storage
/// writer owns the one instance.
#[derive(Debug)]
pub struct Snowflake {
    node: u64,
    last: u64,
}

impl Snowflake {
    /// A generator for `node` (0–1023) that will only return ids above `last`.
    pub fn new(node: u16, last: u64) -> Snowflake {
        Snowflake { node: u64::from(node) & NODE_MASK, last }
    }

    /// The last id handed out (or the seed).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The next id, using the wall clock.
    pub fn next_id(&mut self) -> u64 {
        self.next_at(now_ms())
    }

    /// The next id as if the wall clock read `unix_ms`.
    pub fn next_at(&mut self, unix_ms: u64) -> u64 {
        let from_clock = first_id_at(unix_ms) | (self.node << SEQUENCE_BITS);
        let id = if from_clock > self.last { from_clock } else { self.successor(self.last) };
        self.last = id;
        id
    }

    /// The next id after `last` with this node's bits, carrying a full
    /// sequence into the time field.
    fn successor(&self, last: u64) -> u64 {
        let seq_mask = (1u64 << SEQUENCE_BITS) - 1;
        let time = last >> TIME_SHIFT;
        let last_node = (last >> SEQUENCE_BITS) & NODE_MASK;
        let seq = last & seq_mask;
        if last_node == self.node && seq < seq_mask {
            last + 1
        } else if last_node < self.node {
            (time << TIME_SHIFT) | (self.node << SEQUENCE_BITS)
        } else {
            ((time + 1) << TIME_SHIFT) | (self.node << SEQUENCE_BITS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_within_a_span_is_that_of_its_start() {
        let now = EPOCH_MS + 10_000;
        assert_eq!(first_id_within(0, now), 0, "0 seconds keeps everything");
        assert_eq!(first_id_within(4, now), first_id_at(EPOCH_MS + 6_000));
        assert_eq!(first_id_within(u64::MAX, now), 0, "a span past the epoch reaches the first id");
    }

    #[test]
    fn ids_follow_the_clock() {
        let mut g = Snowflake::new(0, 0);
        let a = g.next_at(EPOCH_MS + 1000);
        let b = g.next_at(EPOCH_MS + 2000);
        assert!(b > a);
        assert_eq!(id_time_ms(a), EPOCH_MS + 1000);
        assert_eq!(id_time_ms(b), EPOCH_MS + 2000);
    }

    #[test]
    fn clock_stepping_back_still_increases() {
        let mut g = Snowflake::new(3, 0);
        let a = g.next_at(EPOCH_MS + 5000);
        let b = g.next_at(EPOCH_MS + 1000);
        let c = g.next_at(EPOCH_MS + 1000);
        assert!(a < b && b < c);
        assert_eq!((b >> SEQUENCE_BITS) & NODE_MASK, 3);
    }

    #[test]
    fn sequence_overflow_borrows_the_next_millisecond() {
        let mut g = Snowflake::new(0, 0);
        let mut prev = 0;
        for _ in 0..10_000 {
            let id = g.next_at(EPOCH_MS + 7);
            assert!(id > prev);
            prev = id;
        }
        assert!(id_time_ms(prev) > EPOCH_MS + 7);
    }

    #[test]
    fn seeded_generator_stays_above_the_seed() {
        let seed = first_id_at(EPOCH_MS + 10_000) + 17;
        let mut g = Snowflake::new(0, seed);
        assert!(g.next_at(EPOCH_MS) > seed);
    }
}
