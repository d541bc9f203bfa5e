//! Leases: how a host hands a slot to a generator so that ids stay unique across restarts and hand-overs,
//! whatever the clocks say.
//!
//! # The protocol a host follows
//!
//! Each slot has one record in a store every holder can reach (the meta service, etcd, a file on a single
//! node): the slot's *persisted bound*. The store must offer compare-and-set on that record with
//! linearizable reads. A holder owns exactly the range `[the bound it read, the bound it wrote)`:
//!
//! 1. **Acquire.** Read the slot's persisted bound `b0` (0 if the slot was never used). Choose
//!    `b1 > b0` (for session ids, typically `max(now, b0) + lease_ms`). Compare-and-set the record from
//!    `b0` to `b1`. If the compare-and-set fails, another holder moved the bound: read again or pick
//!    another slot.
//! 2. **Issue.** Only after `b1` is durable, build the generator with `floor = b0, bound = b1`. It never
//!    issues an id outside `[b0, b1)`.
//! 3. **Extend.** Before the generator reaches its bound (watch [`SessionIdGenerator::last_issued_unix_ms`]
//!    or [`PlanIdGenerator::next_counter`]), compare-and-set the record from `b1` to a larger `b2`, and only
//!    when that succeeded call `extend_lease(b2)`. A failed compare-and-set means someone took the slot over:
//!    stop extending; the generator stops at `b1` with [`IdError::LeaseExhausted`].
//! 4. **Restart or hand-over.** The next holder starts again at step 1 and reads the last bound any holder
//!    wrote, which lies above every id any earlier holder can have issued.
//!
//! Because each range starts where the previous one ended, and the compare-and-set chain orders them, two
//! holders of one slot get disjoint ranges even if they overlap in time or their clocks disagree by hours.
//! A host that extends in memory before the new bound is durable breaks the chain: after a crash, the next
//! holder's floor would lie below ids already issued.
//!
//! [`SessionIdGenerator::last_issued_unix_ms`]: crate::SessionIdGenerator::last_issued_unix_ms
//! [`PlanIdGenerator::next_counter`]: crate::PlanIdGenerator::next_counter
//! [`IdError::LeaseExhausted`]: crate::IdError::LeaseExhausted

/// A leased slot for a session-id generator: ids are issued only for times in
/// `[floor_unix_ms, bound_unix_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionLease {
    /// The slot: unique among generators that run at the same time.
    pub slot: u16,
    /// The bound the slot's previous holder persisted (Unix milliseconds), or 0 for a fresh slot.
    pub floor_unix_ms: u64,
    /// The bound this holder persisted before issuing (Unix milliseconds, exclusive).
    pub bound_unix_ms: u64,
}

/// A leased slot for a plan-id generator: plan ids are issued only for counters in
/// `[floor_counter, bound_counter)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanLease {
    /// The slot: unique among generators that run at the same time.
    pub slot: u16,
    /// The bound the slot's previous holder persisted, or 0 for a fresh slot.
    pub floor_counter: u64,
    /// The bound this holder persisted before issuing (exclusive).
    pub bound_counter: u64,
}
