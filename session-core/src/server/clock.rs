//! The registry's clock: the newest `now` it has been told, shared by every thread. Each call
//! clamps its `now` to it (time never goes backwards inside the registry) and to the latest time
//! the slot table can hold.

use graphsession_base::AtomicMonotonicClock;

use crate::server::config::NOW_UNIX_MS_MAX;

/// The newest time the node has been told, Unix milliseconds. Every `now` passed in is clamped
/// to it, so a clock that steps back never expires anything early and never panics, and to
/// [`NOW_UNIX_MS_MAX`], the latest time the slot table can hold.
#[derive(Debug)]
pub(crate) struct Clock {
    newest_ms: AtomicMonotonicClock,
}

impl Clock {
    pub(crate) fn new(newest_ms: u64) -> Clock {
        Clock { newest_ms: AtomicMonotonicClock::new(newest_ms.min(NOW_UNIX_MS_MAX)) }
    }

    /// `max(now, newest seen)`, remembering `now` if it is newer; `now` capped first.
    #[inline]
    pub(crate) fn observe(&self, now_unix_ms: u64) -> u64 {
        self.newest_ms.observe(now_unix_ms.min(NOW_UNIX_MS_MAX))
    }

    pub(crate) fn newest_ms(&self) -> u64 {
        self.newest_ms.newest()
    }
}
