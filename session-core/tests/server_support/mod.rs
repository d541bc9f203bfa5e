//! Shared set-up for the server registry's tests: a clock value, a client ip, sealed id and plan
//! generators on a leased slot, and a registry built from them.

#![allow(dead_code, reason = "each test file uses a different subset of the helpers")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_core::server::{Config, SessionManager};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};

pub(crate) const NOW: u64 = 1_763_900_000_000;
pub(crate) const IP: &str = "10.0.0.1";

/// A sealed session-id generator and a plan-id generator, both on `slot`.
pub(crate) fn generators(slot: u16) -> (SessionIdGenerator, PlanIdGenerator) {
    let lease = SessionLease { slot, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let key = SealKey::from_bytes([7; 16]);
    let ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default()).unwrap();
    let plans = PlanIdGenerator::new(PlanLease { slot, floor_counter: 0, bound_counter: 1 << 40 });
    (ids, plans.unwrap())
}

/// A registry on slot 3 with `config`.
pub(crate) fn manager(config: Config) -> SessionManager {
    let (ids, plans) = generators(3);
    SessionManager::new(config, ids, plans).unwrap()
}
