//! One pooled session: a [`SessionMachine`] and its lease. The pool's accounting is over members, and
//! a member counts from its creation until its machine has closed (signed out or abandoned), so the
//! pool never holds more server sessions than `sessions_max`.

use crate::client::SessionMachine;
use crate::client::pool::handle::LeaseGuard;
use std::sync::Arc;

/// Who has the member.
#[derive(Debug)]
pub(crate) enum Lease {
    /// Nobody, since `since_ms` (idle eviction counts from it).
    Free { since_ms: u64 },
    /// A handle of `generation`.
    Leased { generation: u64, guard: Arc<LeaseGuard> },
    /// Closing: signing out; never leased again.
    Retiring,
}

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) machine: SessionMachine,
    pub(crate) lease: Lease,
    /// Between `Ready` and the next loss: its session can serve a statement now.
    pub(crate) usable: bool,
    /// The generation of the latest lease.
    pub(crate) generation: u64,
}

impl Member {
    pub(crate) fn new(machine: SessionMachine, now_ms: u64) -> Member {
        Member { machine, lease: Lease::Free { since_ms: now_ms }, usable: false, generation: 0 }
    }

    pub(crate) fn is_free_and_usable(&self) -> bool {
        self.usable && matches!(self.lease, Lease::Free { .. })
    }

    pub(crate) fn is_retiring(&self) -> bool {
        matches!(self.lease, Lease::Retiring)
    }

    /// Whether the lease of `generation` is the current one.
    pub(crate) fn holds(&self, generation: u64) -> bool {
        matches!(self.lease, Lease::Leased { generation: current, .. } if current == generation)
    }

    pub(crate) fn leaked(&self) -> bool {
        matches!(&self.lease, Lease::Leased { guard, .. } if guard.is_dropped())
    }

    /// When this free member may be evicted as idle.
    pub(crate) fn idle_since_ms(&self) -> Option<u64> {
        match self.lease {
            Lease::Free { since_ms } if self.usable => Some(since_ms),
            _ => None,
        }
    }
}
