//! The id leases of each node slot, kept in `leases` so that session and plan ids stay unique
//! across restarts (the lease protocol of `graphsession_id_gen::lease`: the bound is durable
//! before the first id is issued under it, and the next start's floor is the last bound written).
//!
//! `GraphNode` does not give its host its generators (see the crate docs, "What GraphNode
//! lacks"), so graphd cannot extend a lease while it runs: each start leases
//! [`SESSION_LEASE_MS`] of session-id time and [`PLAN_LEASE_COUNTERS`] plan ids per node. A clean
//! shutdown writes back the tightest safe session bound (the newest clock reading the node was
//! given plus the generator's look-ahead), so only a crash spends the rest of a lease.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use graphsession_id_gen::{PlanLease, SessionIdConfig, SessionLease};

use crate::store::DataDir;

/// The file's name in the data directory.
pub const LEASES_FILE: &str = "leases";
const KIND: &str = "leases";

/// Session-id time leased per start: 30 days. A node that runs longer refuses logins (its
/// generator reaches the bound) until it is restarted.
pub const SESSION_LEASE_MS: u64 = 30 * 24 * 3_600_000;
/// Plan ids leased per start (the counter has 54 bits: millions of starts).
pub const PLAN_LEASE_COUNTERS: u64 = 1 << 32;

/// One slot's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotRecord {
    /// The last session-id bound written (Unix ms, exclusive).
    pub session_bound_unix_ms: u64,
    /// The last plan counter bound written (exclusive).
    pub plan_bound_counter: u64,
    /// The last process incarnation of the slot (meta refuses an older one).
    pub incarnation: u64,
}

/// Every slot's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Leases {
    /// By slot.
    pub slots: BTreeMap<u16, SlotRecord>,
}

/// What one node starts with.
#[derive(Debug, Clone, Copy)]
pub struct Granted {
    /// Its session-id lease.
    pub session: SessionLease,
    /// Its plan-id lease.
    pub plan: PlanLease,
    /// Its incarnation.
    pub incarnation: u64,
}

impl Leases {
    /// The leases file, or none yet.
    pub fn load(dir: &DataDir) -> Result<Leases> {
        Ok(dir.read_json(LEASES_FILE, KIND)?.unwrap_or_default())
    }

    /// Leases the next ranges of `slots` at `now_unix_ms` and writes them durably; only then may
    /// generators be built from what it returns.
    pub fn acquire(
        &mut self,
        dir: &DataDir,
        slots: &[u16],
        now_unix_ms: u64,
    ) -> Result<Vec<Granted>> {
        let mut granted = Vec::new();
        for &slot in slots {
            let record = self.slots.entry(slot).or_default();
            let session_floor = record.session_bound_unix_ms;
            let session_bound = now_unix_ms.max(session_floor).saturating_add(SESSION_LEASE_MS);
            let plan_floor = record.plan_bound_counter;
            let Some(plan_bound) = plan_floor.checked_add(PLAN_LEASE_COUNTERS) else {
                bail!("slot {slot} has used up its plan ids");
            };
            *record = SlotRecord {
                session_bound_unix_ms: session_bound,
                plan_bound_counter: plan_bound,
                incarnation: record.incarnation.saturating_add(1),
            };
            granted.push(Granted {
                session: SessionLease {
                    slot,
                    floor_unix_ms: session_floor,
                    bound_unix_ms: session_bound,
                },
                plan: PlanLease { slot, floor_counter: plan_floor, bound_counter: plan_bound },
                incarnation: record.incarnation,
            });
        }
        dir.write_json(LEASES_FILE, KIND, self)?;
        Ok(granted)
    }

    /// At a clean shutdown: each of `granted`'s session bounds lowered to the newest clock
    /// reading any node was given (`newest_unix_ms`) plus the generator's look-ahead, above
    /// every id it can have issued; never below the floor.
    pub fn release(
        &mut self,
        dir: &DataDir,
        granted: &[Granted],
        newest_unix_ms: u64,
    ) -> Result<()> {
        let lookahead_ms = SessionIdConfig::default().lookahead_max_ms;
        for grant in granted {
            let Some(record) = self.slots.get_mut(&grant.session.slot) else { continue };
            let issued_below = newest_unix_ms
                .max(grant.session.floor_unix_ms)
                .saturating_add(lookahead_ms)
                .saturating_add(1);
            record.session_bound_unix_ms = grant.session.bound_unix_ms.min(issued_below);
        }
        dir.write_json(LEASES_FILE, KIND, self)
    }
}
