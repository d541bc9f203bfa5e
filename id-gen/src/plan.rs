//! Plan ids: the name of one query on one node, unique across nodes and restarts.
//!
//! A plan id is `slot << 53 | counter`: 63 bits, so every plan id is a positive `i64`, as
//! NebulaGraph's `ExecutionPlanID` is on the wire (SHOW QUERIES, KILL QUERY). The counter comes from a [`PlanLease`] under the same
//! [lease protocol](crate::lease) as session ids, so a restarted node never reuses a plan id and two nodes
//! never share one: a kill mark that names a plan id can only ever hit the query it was meant for.
//! NebulaGraph's plan ids restart at 0 on every node and every restart.

use crate::{IdError, PlanLease};
use graphsession_base::sync::{AtomicU64, Ordering};

/// Bits of slot at the top of a plan id.
pub const PLAN_SLOT_BITS: u32 = 10;
/// Bits of counter below the slot: 2^53 plan ids per slot, 285 years at a million queries per second.
/// (54 until 2026-12-07: a plan id of a slot of 512 or more then passed `i64::MAX`, and SHOW
/// QUERIES could not show it.)
pub const PLAN_COUNTER_BITS: u32 = 53;
const _: () = assert!(PLAN_SLOT_BITS + PLAN_COUNTER_BITS == 63, "a plan id is a positive i64");
const PLAN_COUNTER_MAX: u64 = (1 << PLAN_COUNTER_BITS) - 1;

/// The id of one execution plan (one query).
///
/// ```
/// use graphsession_id_gen::PlanId;
/// let id = PlanId::from_parts(5, 1_000).unwrap();
/// assert_eq!((id.slot(), id.counter()), (5, 1_000));
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct PlanId(u64);

impl PlanId {
    /// The plan id of `counter` in `slot`, if both fit their fields.
    pub const fn from_parts(slot: u16, counter: u64) -> Option<PlanId> {
        if (slot as u32) >= (1 << PLAN_SLOT_BITS) || counter > PLAN_COUNTER_MAX {
            return None;
        }
        Some(PlanId(((slot as u64) << PLAN_COUNTER_BITS) | counter))
    }

    /// A plan id from its wire value (every `u64` is a well-formed plan id).
    pub const fn from_u64(value: u64) -> PlanId {
        PlanId(value)
    }

    /// The wire value.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The slot of the node that issued it.
    pub const fn slot(self) -> u16 {
        (self.0 >> PLAN_COUNTER_BITS) as u16
    }

    /// The counter within the slot.
    pub const fn counter(self) -> u64 {
        self.0 & PLAN_COUNTER_MAX
    }
}

/// The wire value as NebulaGraph's signed `ExecutionPlanID`: the same digits for every plan id
/// a generator issues (all below 2^63), and a negative one named in a KILL QUERY (which
/// [`PlanId::from_u64`] takes in two's complement, and no query ever has) prints as it was
/// typed.
impl std::fmt::Display for PlanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        i64::from_ne_bytes(self.0.to_ne_bytes()).fmt(f)
    }
}

/// Issues plan ids for one leased slot: one atomic add on the fast path. `Send + Sync`.
///
/// ```
/// use graphsession_id_gen::{IdError, PlanIdGenerator, PlanLease};
/// // The previous holder of slot 2 persisted bound 1,000; this holder persisted 2,000 before issuing.
/// let plans = PlanIdGenerator::new(PlanLease { slot: 2, floor_counter: 1_000, bound_counter: 2_000 })?;
/// assert_eq!(plans.next()?.counter(), 1_000);
/// # Ok::<(), IdError>(())
/// ```
#[derive(Debug)]
pub struct PlanIdGenerator {
    next_counter: AtomicU64,
    bound_counter: AtomicU64,
    slot: u16,
}

impl PlanIdGenerator {
    /// A generator for `lease`.
    pub fn new(lease: PlanLease) -> Result<PlanIdGenerator, IdError> {
        if u32::from(lease.slot) >= 1 << PLAN_SLOT_BITS {
            return Err(IdError::invalid_config(format!(
                "plan slot {} does not fit {PLAN_SLOT_BITS} bits",
                lease.slot
            )));
        }
        check_plan_bound(lease.bound_counter)?;
        if lease.floor_counter >= lease.bound_counter {
            return Err(IdError::invalid_config(format!(
                "plan lease floor {} is not below its bound {}",
                lease.floor_counter, lease.bound_counter
            )));
        }
        Ok(PlanIdGenerator {
            next_counter: AtomicU64::new(lease.floor_counter),
            bound_counter: AtomicU64::new(lease.bound_counter),
            slot: lease.slot,
        })
    }

    /// Issues the next plan id.
    ///
    /// At the bound it returns [`IdError::LeaseExhausted`] without changing anything. (When several threads
    /// race across the bound, the counters they took beyond it are skipped, never issued.)
    #[inline]
    pub fn next(&self) -> Result<PlanId, IdError> {
        let bound_counter = self.bound_counter.load(Ordering::Relaxed);
        if self.next_counter.load(Ordering::Relaxed) < bound_counter {
            // Below the bound, so at most `threads` past it: the counter cannot overflow its field.
            let counter = self.next_counter.fetch_add(1, Ordering::Relaxed);
            if counter < bound_counter {
                return Ok(PlanId(((u64::from(self.slot)) << PLAN_COUNTER_BITS) | counter));
            }
        }
        Err(IdError::LeaseExhausted { slot: self.slot, bound: bound_counter })
    }

    /// Raises the bound to `bound_counter`, which the host must already have persisted. Bounds only grow.
    pub fn extend_lease(&self, bound_counter: u64) -> Result<(), IdError> {
        check_plan_bound(bound_counter)?;
        let current = self.bound_counter.load(Ordering::Relaxed);
        if bound_counter < current {
            return Err(IdError::invalid_config(format!(
                "plan lease bound {bound_counter} is below the current bound {current}; bounds only grow"
            )));
        }
        self.bound_counter.fetch_max(bound_counter, Ordering::Relaxed);
        Ok(())
    }

    /// The counter the next plan id would get (it may lie past the bound after a refused race).
    pub fn next_counter(&self) -> u64 {
        self.next_counter.load(Ordering::Relaxed)
    }

    /// The current bound (exclusive).
    pub fn lease_bound_counter(&self) -> u64 {
        self.bound_counter.load(Ordering::Relaxed)
    }

    /// The slot this generator issues for.
    pub fn slot(&self) -> u16 {
        self.slot
    }
}

fn check_plan_bound(bound_counter: u64) -> Result<(), IdError> {
    // Exclusive bound: the largest counter may be issued, so the bound may be one past it.
    if bound_counter > PLAN_COUNTER_MAX + 1 {
        return Err(IdError::invalid_config(format!(
            "plan lease bound {bound_counter} exceeds the {PLAN_COUNTER_BITS}-bit counter"
        )));
    }
    Ok(())
}
