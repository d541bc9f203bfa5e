//! Time that never goes backwards inside a machine. A host's clock may step back (NTP, a VM
//! restored, another node's clock); every machine clamps the `now` it is given to the newest
//! time it has seen, so deadlines already passed stay passed, durations never underflow and
//! nothing expires early. Any upper cap a machine needs (the session registry's
//! `NOW_UNIX_MS_MAX`) is the caller's, applied to `now` before it gets here.
//!
//! The clocks are unit-free: each caller names its unit (`_ms`, `_us`) in its own fields.

use crate::sync::{AtomicU64, Ordering};

/// The newest `now` a machine has been told, for a machine behind `&mut self`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonotonicClock {
    newest: u64,
}

impl MonotonicClock {
    /// A clock that has seen `newest` (0 for a new machine, a persisted time for a restored one).
    #[must_use]
    pub const fn new(newest: u64) -> MonotonicClock {
        MonotonicClock { newest }
    }

    /// Remembers `now` if it is newer, and returns the time to use: `max(now, newest seen)`.
    #[inline]
    pub fn observe(&mut self, now: u64) -> u64 {
        self.newest = self.peek(now);
        self.newest
    }

    /// The time to use for an operation told `now`, without remembering it.
    #[inline]
    #[must_use]
    pub const fn peek(self, now: u64) -> u64 {
        if now > self.newest { now } else { self.newest }
    }

    /// The newest time seen.
    #[inline]
    #[must_use]
    pub const fn newest(self) -> u64 {
        self.newest
    }
}

/// The newest `now` a machine has been told, for a machine shared between threads: one atomic
/// word raised with `fetch_max`, so concurrent observers never lower it. Its orderings are
/// `Relaxed`: a caller that needs the time ordered with other memory orders that memory itself.
#[derive(Debug)]
pub struct AtomicMonotonicClock {
    newest: AtomicU64,
}

impl AtomicMonotonicClock {
    /// A clock that has seen `newest`.
    #[must_use]
    pub fn new(newest: u64) -> AtomicMonotonicClock {
        AtomicMonotonicClock { newest: AtomicU64::new(newest) }
    }

    /// Remembers `now` if it is newer, and returns the time to use: `max(now, newest seen)`. A
    /// `now` no newer than the word costs one load; only a newer one writes.
    #[inline]
    pub fn observe(&self, now: u64) -> u64 {
        let newest = self.newest.load(Ordering::Relaxed);
        if now <= newest {
            return newest;
        }
        self.observe_fresh(now)
    }

    /// [`observe`](Self::observe) with a read-modify-write even when `now` is not newer: for a
    /// caller whose plain read may have been stale and that needs the word's latest value.
    #[inline]
    pub fn observe_fresh(&self, now: u64) -> u64 {
        self.newest.fetch_max(now, Ordering::Relaxed).max(now)
    }

    /// The newest time seen.
    #[inline]
    #[must_use]
    pub fn newest(&self) -> u64 {
        self.newest.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{AtomicMonotonicClock, MonotonicClock};

    #[test]
    fn a_regressing_now_is_clamped_to_the_newest_seen() {
        let mut clock = MonotonicClock::default();
        assert_eq!(clock.observe(50), 50);
        assert_eq!(clock.observe(10), 50);
        assert_eq!(clock.peek(70), 70);
        assert_eq!(clock.newest(), 50, "a peek remembers nothing");
        assert_eq!(clock.observe(60), 60);
        assert_eq!(MonotonicClock::new(u64::MAX).observe(0), u64::MAX);
    }

    #[test]
    fn the_atomic_clock_clamps_the_same_way() {
        let clock = AtomicMonotonicClock::new(50);
        assert_eq!(clock.observe(10), 50);
        assert_eq!(clock.observe_fresh(10), 50);
        assert_eq!(clock.observe(60), 60);
        assert_eq!(clock.observe_fresh(70), 70);
        assert_eq!(clock.newest(), 70);
        assert_eq!(clock.observe(70), 70);
    }
}
