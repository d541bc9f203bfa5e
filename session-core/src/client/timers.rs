//! Time inside the machine: exponential backoff and the earliest of a set of deadlines (the clock
//! that never goes backwards is `graphsession_base::MonotonicClock`). The machine keeps no timer objects: [`poll_timeout`] recomputes the earliest
//! deadline from the state every time, so a timer can never be forgotten or left armed.
//!
//! [`poll_timeout`]: crate::client::SessionMachine::poll_timeout

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
}
