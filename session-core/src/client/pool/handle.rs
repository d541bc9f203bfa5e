//! Handles to pooled sessions: the member's id, a generation token, so a handle whose lease was
//! revoked fails fast, and a drop guard, so a handle dropped without release is found, counted as
//! a leak and its session signed out (failure mode 16) instead of vanishing silently.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// A pooled session's id; its sockets' connection ids are `member << 32 | n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId(pub u32);

/// One lease of one member: the member and the generation the lease was granted at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeaseId {
    /// The member (one session, one socket).
    pub member: MemberId,
    /// Bumped at every lease; a handle with an older generation is stale.
    pub generation: u64,
}

const HELD: u8 = 0;
const RELEASED: u8 = 1;
const DROPPED: u8 = 2;

/// Shared between a handle and the pool; written once by whichever ends the lease.
#[derive(Debug, Default)]
pub(crate) struct LeaseGuard(AtomicU8);

impl LeaseGuard {
    /// Whether the handle was dropped without being released.
    pub(crate) fn is_dropped(&self) -> bool {
        self.0.load(Ordering::Acquire) == DROPPED
    }
}

/// A leased pooled session. Not `Clone`: one lease, one owner. Return it with
/// [`SessionPool::release`](crate::client::SessionPool::release); dropping it instead is
/// a leak the pool detects at its next input.
#[derive(Debug)]
#[must_use = "a dropped handle is a leaked session: release it to the pool"]
pub struct Handle {
    lease: LeaseId,
    guard: Arc<LeaseGuard>,
}

impl Handle {
    pub(crate) fn new(lease: LeaseId) -> (Handle, Arc<LeaseGuard>) {
        let guard = Arc::new(LeaseGuard::default());
        (Handle { lease, guard: Arc::clone(&guard) }, guard)
    }

    /// The lease this handle holds.
    #[must_use]
    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// Ends the lease normally, so dropping the handle is not a leak.
    pub(crate) fn mark_released(&self) {
        self.guard.0.store(RELEASED, Ordering::Release);
    }
}

impl PartialEq for Handle {
    fn eq(&self, other: &Handle) -> bool {
        self.lease == other.lease
    }
}

impl Eq for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // Only a handle still held can be leaked; a released one stays released.
        let _was_held =
            self.guard.0.compare_exchange(HELD, DROPPED, Ordering::AcqRel, Ordering::Acquire);
    }
}
