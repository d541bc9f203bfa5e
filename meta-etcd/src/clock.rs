//! The wall clock, read here and nowhere else in this crate: Unix milliseconds for the leader's
//! timer ticks and the process lease's local deadline.
#![expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the etcd host's edge: the one place it reads the wall clock"
)]

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}
