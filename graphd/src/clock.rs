//! The wall clock, read here and nowhere else in graphd: Unix milliseconds for the machines
//! (`GraphNode` and `MetaStore` take `now` as an argument), never going backwards within this
//! process (a regressing reading is clamped to the newest one, as the machines would do).
#![expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "graphd's edge: the one place the host reads the wall clock"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The newest reading handed out.
static NEWEST_UNIX_MS: AtomicU64 = AtomicU64::new(0);

/// Now, in Unix milliseconds, never older than a reading already returned.
pub fn now_unix_ms() -> u64 {
    let read = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
    NEWEST_UNIX_MS.fetch_max(read, Ordering::Relaxed).max(read)
}

/// The newest reading handed out so far (0 before the first).
pub fn newest_unix_ms() -> u64 {
    NEWEST_UNIX_MS.load(Ordering::Relaxed)
}
