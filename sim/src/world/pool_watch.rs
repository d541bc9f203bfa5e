//! A pooled application that sometimes forgets its handle, and what the pool must make of it
//! (judged from the pool's own events, against the pool's specification):
//!
//! - Leaks: the application of a pooled process drops the handle of every
//!   [`LEAK_EVERY_RESULTS`]th statement's lease without releasing it (a real application's bug the
//!   pool is built to survive). At its next input the pool must report exactly that lease
//!   (`PoolEvent::LeakDetected`) and retire the member, which signs its session out; the world
//!   gives the pool that input at once (a timer check, due timers only).
//! - Leases: the pool never grants a lease on a member whose current lease the application
//!   still holds.

use graphsession_core::client::{LeaseId, MemberId};

/// The application leaks the lease of one statement result in this many.
pub(super) const LEAK_EVERY_RESULTS: u64 = 16;

/// A pooled application's leaks and the pool's reports of them.
#[derive(Debug, Default)]
pub(super) struct Leaks {
    /// Statement results the application saw.
    results: u64,
    /// Leases the application dropped without a release, not yet reported.
    unreported: Vec<LeaseId>,
    /// The first violation seen, reported at the next check.
    violation: Option<String>,
}

impl Leaks {
    /// A statement's result arrived: whether the application forgets its lease this time.
    pub(super) fn leaks_now(&mut self) -> bool {
        self.results += 1;
        self.results % LEAK_EVERY_RESULTS == LEAK_EVERY_RESULTS / 2
    }

    /// The application dropped the handle of `lease`.
    pub(super) fn dropped(&mut self, lease: LeaseId) {
        self.unreported.push(lease);
    }

    /// The pool reported `lease` leaked.
    pub(super) fn reported(&mut self, lease: LeaseId) {
        match self.unreported.iter().position(|&dropped| dropped == lease) {
            Some(index) => {
                self.unreported.swap_remove(index);
            }
            None => self.note(format!(
                "[pool_leak] the pool reported lease {lease:?} leaked; its application released \
                 every handle of that lease"
            )),
        }
    }

    /// The pool granted a lease on `member` while the application held `held`, its current one.
    pub(super) fn granted_twice(&mut self, member: MemberId, held: LeaseId, granted: LeaseId) {
        self.note(format!(
            "[pool_double_lease] the pool granted lease {granted:?} on member {} while the \
             application still held its lease {held:?}; expected a free member",
            member.0
        ));
    }

    fn note(&mut self, violation: String) {
        if self.violation.is_none() {
            self.violation = Some(violation);
        }
    }

    /// After the pool's events were drained: every dropped lease was reported.
    pub(super) fn check(&self) -> Result<(), String> {
        if let Some(violation) = &self.violation {
            return Err(violation.clone());
        }
        match self.unreported.first() {
            Some(lease) => Err(format!(
                "[pool_leak] the application dropped the handle of lease {lease:?} without \
                 releasing it, and the pool had an input since; expected the pool to report the \
                 leak (LeakDetected) and retire the member"
            )),
            None => Ok(()),
        }
    }
}
