//! Throwaway (not committed): server registry snapshot cost at scale.
#![allow(missing_docs, clippy::unwrap_used, clippy::disallowed_methods, clippy::disallowed_types)]
use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};
fn main() {
    let n: i64 = std::env::args().nth(1).map_or(100_000, |s| s.parse().unwrap());
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::OPEN, "alice").unwrap();
    table.grant(&root, Policy::OPEN, Role::User, "nba", "alice").unwrap();
    let lease = SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let ids =
        SessionIdGenerator::new(lease, SealKey::from_bytes([3; 16]), SessionIdConfig::default())
            .unwrap();
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 9, floor_counter: 0, bound_counter: 1 << 40 })
            .unwrap();
    let config =
        Config { sessions_per_user_ip_max: 0, sessions_max: 2_000_000, ..Config::default() };
    let registry = SessionManager::new(config, ids, plans).unwrap();
    for i in 0..n {
        let ip = format!("10.0.{}.{}", i % 250, i % 7);
        let now = 1_763_900_000_000 + (i as u64) / 1000;
        registry
            .login(
                now,
                Login { user: "alice", client_ip: &ip, password: PasswordCheck::Verified },
                &table,
            )
            .unwrap();
        while registry.poll_event().is_some() {}
    }
    let t = std::time::Instant::now();
    let snap = registry.snapshot();
    let t1 = t.elapsed();
    let bytes = snap.to_bytes();
    let t2 = t.elapsed();
    println!("{n} sessions: snapshot {t1:?}, to_bytes {:?} ({} bytes)", t2 - t1, bytes.len());
}
