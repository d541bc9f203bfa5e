//! The id world of the uniqueness properties: slots whose holders issue session and plan ids under
//! the lease protocol while clocks stall, step and burst, and restart with persisted floors; every
//! id is checked as it is issued (unique, positive, opening to its slot and to a time inside its
//! lease). [`run`] returns the first broken property as the error. Shared by `uniqueness.rs`
//! (proptest) and the fuzz target `id_gen` (included with `#[path]`).

use std::collections::BTreeMap;

use graphsession_id_gen::{
    EPOCH_UNIX_MS, IdError, Layout, PlanIdGenerator, PlanLease, SealKey, SessionIdConfig,
    SessionIdGenerator, SessionLease,
};

/// Returns the message as the error when the condition does not hold.
macro_rules! ensure {
    ($condition:expr) => {
        if !$condition {
            return Err(format!("{} does not hold", stringify!($condition)));
        }
    };
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// Returns both values as the error when they differ.
macro_rules! ensure_eq {
    ($left:expr, $right:expr) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{} = {left:?} but {} = {right:?}",
                stringify!($left),
                stringify!($right)
            ));
        }
    }};
}

pub(crate) const HOUR_MS: i64 = 3_600_000;
const LEASE_MS: u64 = 60_000;
const PLAN_LEASE_COUNTERS: u64 = 1_000;
pub(crate) const START_UNIX_MS: u64 = 1_760_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Unsealed,
    Sealed,
    JsSafe,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Every clock moves forward by this many milliseconds.
    Tick(u64),
    /// One slot's clock jumps (NTP step), backwards or forwards.
    ClockStep { slot: usize, delta_ms: i64 },
    /// One slot issues a burst of ids at its current clock.
    Burst { slot: usize, count: u32 },
    /// One slot's holder crashes; a new holder takes the slot over with the persisted bounds as floors.
    Restart { slot: usize },
}

/// The host side of one slot: its clock offset, the bounds it persisted, and its current generators.
struct Holder {
    slot: u16,
    clock_offset_ms: i64,
    persisted_session_bound_unix_ms: u64,
    persisted_plan_bound: u64,
    session_floor_unix_ms: u64,
    sessions: SessionIdGenerator,
    plans: PlanIdGenerator,
}

pub(crate) struct World {
    mode: Mode,
    key: SealKey,
    now_unix_ms: u64,
    holders: Vec<Holder>,
    /// id -> slot that issued it.
    session_ids: BTreeMap<i64, u16>,
    plan_ids: BTreeMap<u64, u16>,
}

impl World {
    pub(crate) fn new(mode: Mode, slots: &[u16]) -> World {
        let mut world = World {
            mode,
            key: SealKey::from_bytes(*b"property-test-k!"),
            now_unix_ms: START_UNIX_MS,
            holders: Vec::new(),
            session_ids: BTreeMap::new(),
            plan_ids: BTreeMap::new(),
        };
        for &slot in slots {
            let holder = world.acquire(slot, 0, 0, 0);
            world.holders.push(holder);
        }
        world
    }

    fn config(&self) -> SessionIdConfig {
        let layout = if self.mode == Mode::JsSafe { Layout::JS_SAFE } else { Layout::SESSION };
        SessionIdConfig { layout, ..SessionIdConfig::default() }
    }

    fn clock(&self, clock_offset_ms: i64) -> u64 {
        self.now_unix_ms.saturating_add_signed(clock_offset_ms)
    }

    /// Step 1 and 2 of the lease protocol: read the persisted bounds, persist new ones, build generators.
    fn acquire(
        &self,
        slot: u16,
        clock_offset_ms: i64,
        session_floor: u64,
        plan_floor: u64,
    ) -> Holder {
        let now = self.clock(clock_offset_ms);
        let session_bound = now.max(session_floor) + LEASE_MS;
        let lease =
            SessionLease { slot, floor_unix_ms: session_floor, bound_unix_ms: session_bound };
        let sessions = match self.mode {
            Mode::Unsealed => SessionIdGenerator::unsealed(lease, self.config()),
            Mode::Sealed | Mode::JsSafe => SessionIdGenerator::new(lease, self.key, self.config()),
        }
        .unwrap();
        let plan_bound = plan_floor + PLAN_LEASE_COUNTERS;
        let plans = PlanIdGenerator::new(PlanLease {
            slot,
            floor_counter: plan_floor,
            bound_counter: plan_bound,
        })
        .unwrap();
        Holder {
            slot,
            clock_offset_ms,
            persisted_session_bound_unix_ms: session_bound,
            persisted_plan_bound: plan_bound,
            session_floor_unix_ms: session_floor,
            sessions,
            plans,
        }
    }

    pub(crate) fn apply(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Tick(ms) => self.now_unix_ms += ms,
            Op::ClockStep { slot, delta_ms } => {
                let count = self.holders.len();
                let holder = &mut self.holders[slot % count];
                holder.clock_offset_ms = holder.clock_offset_ms.saturating_add(delta_ms);
            }
            Op::Burst { slot, count } => {
                let index = slot % self.holders.len();
                for _ in 0..count {
                    if !self.issue_one(index)? {
                        break;
                    }
                }
            }
            Op::Restart { slot } => {
                let index = slot % self.holders.len();
                let old = &self.holders[index];
                let (slot, offset) = (old.slot, old.clock_offset_ms);
                let (session_floor, plan_floor) =
                    (old.persisted_session_bound_unix_ms, old.persisted_plan_bound);
                self.holders[index] = self.acquire(slot, offset, session_floor, plan_floor);
            }
        }
        Ok(())
    }

    /// Issues one session id and one plan id; extends leases the protocol's way when they run out.
    /// Returns false when the generator asks the caller to back off.
    fn issue_one(&mut self, index: usize) -> Result<bool, String> {
        let now = self.clock(self.holders[index].clock_offset_ms);
        let holder = &mut self.holders[index];
        let id = match holder.sessions.next(now) {
            Ok(id) => id,
            Err(IdError::LeaseExhausted { .. }) => {
                // Persist first, then extend in memory.
                holder.persisted_session_bound_unix_ms += LEASE_MS;
                holder.sessions.extend_lease(holder.persisted_session_bound_unix_ms).unwrap();
                return Ok(true);
            }
            Err(IdError::Backpressure { .. }) => return Ok(false),
            Err(other) => return Err(format!("unexpected {other}")),
        };
        let raw = id.get();
        ensure!(raw > 0);
        if self.mode == Mode::JsSafe {
            ensure!(raw < 1 << 53, "JS-safe id {} is not below 2^53", raw);
        }
        let decoded = holder.sessions.codec().open(raw).unwrap();
        ensure_eq!(decoded.slot, holder.slot);
        ensure!(decoded.unix_ms >= holder.session_floor_unix_ms.max(EPOCH_UNIX_MS));
        ensure!(decoded.unix_ms < holder.persisted_session_bound_unix_ms);
        if let Some(previous_slot) = self.session_ids.insert(raw, holder.slot) {
            return Err(format!(
                "session id {raw} issued twice: by slot {previous_slot} and by slot {}",
                holder.slot
            ));
        }
        let plan = match holder.plans.next() {
            Ok(plan) => plan,
            Err(IdError::LeaseExhausted { .. }) => {
                holder.persisted_plan_bound += PLAN_LEASE_COUNTERS;
                holder.plans.extend_lease(holder.persisted_plan_bound).unwrap();
                holder.plans.next().unwrap()
            }
            Err(other) => return Err(format!("unexpected {other}")),
        };
        ensure_eq!(plan.slot(), holder.slot);
        ensure!(plan.counter() < holder.persisted_plan_bound);
        ensure!(self.plan_ids.insert(plan.get(), holder.slot).is_none(), "plan id {} twice", plan);
        Ok(true)
    }
}

pub(crate) fn run(mode: Mode, slots: &[u16], ops: &[Op]) -> Result<(), String> {
    let mut world = World::new(mode, slots);
    for op in ops {
        world.apply(op)?;
    }
    Ok(())
}
