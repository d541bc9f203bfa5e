//! Time inside the machine: a clock that never goes backwards, exponential backoff, and the earliest
//! of a set of deadlines. The machine keeps no timer objects: [`poll_timeout`] recomputes the earliest
//! deadline from the state every time, so a timer can never be forgotten or left armed.
//!
//! [`poll_timeout`]: crate::client::SessionMachine::poll_timeout

/// The newest `now` seen. A `now` older than it is clamped to it, so deadlines already passed stay
/// passed and durations never underflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Clock {
    now_ms: u64,
}

impl Clock {
    /// Records `now_ms` and returns the clamped time to use.
    pub(crate) fn observe(&mut self, now_ms: u64) -> u64 {
        self.now_ms = self.now_ms.max(now_ms);
        self.now_ms
    }

    /// The newest time seen.
    pub(crate) fn now_ms(self) -> u64 {
        self.now_ms
    }
}

/// `initial_ms * 2^attempt`, capped at `max_ms`. Deterministic: jitter, if wanted, belongs to the
/// host's dial.
pub(crate) fn backoff_ms(initial_ms: u64, max_ms: u64, attempt: u32) -> u64 {
    let factor = 2_u64.saturating_pow(attempt.min(63));
    initial_ms.saturating_mul(factor).min(max_ms)
}

/// `now_ms + duration_ms` without overflow.
pub(crate) fn after(now_ms: u64, duration_ms: u64) -> u64 {
    now_ms.saturating_add(duration_ms)
}

/// The earliest of some optional deadlines.
pub(crate) fn earliest(deadlines: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    deadlines.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(100, 1_000, 0), 100);
        assert_eq!(backoff_ms(100, 1_000, 3), 800);
        assert_eq!(backoff_ms(100, 1_000, 4), 1_000);
        assert_eq!(backoff_ms(100, 1_000, u32::MAX), 1_000);
    }

    #[test]
    fn clock_clamps_a_regressing_now() {
        let mut clock = Clock::default();
        assert_eq!(clock.observe(50), 50);
        assert_eq!(clock.observe(10), 50);
        assert_eq!(clock.now_ms(), 50);
    }
}
