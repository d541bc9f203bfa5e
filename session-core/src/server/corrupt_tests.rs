//! Each corruption of a live registry is reported with the property it names, each bound met
//! exactly passes, and a restore leaves the registry sound.

use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::RegistryCorruption;

use super::ManagerCorruption;
use crate::server::config::Config;
use crate::server::manager::{Login, SessionManager};
use crate::server::throttle::PasswordCheck;

const NOW: u64 = 1_763_900_000_000;
const IP: &str = "10.0.0.1";

/// Two sessions of alice from one address, one with a variable (a history entry) and a
/// running query; a wrong password of bob's in the lockout table.
fn busy() -> (SessionManager, RoleTable) {
    let lease = SessionLease { slot: 3, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let key = SealKey::from_bytes([7; 16]);
    let ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default()).expect("ids");
    let plans = PlanLease { slot: 3, floor_counter: 0, bound_counter: 1 << 40 };
    let plans = PlanIdGenerator::new(plans).expect("plans");
    let config =
        Config { failed_login_attempts: 3, password_lock_time_secs: 1, ..Config::default() };
    let manager = SessionManager::new(config, ids, plans).expect("config");
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::ENFORCED, "alice").expect("alice");
    table.create_user(&root, Policy::ENFORCED, "bob").expect("bob");
    let alice = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
    let first = manager.login(NOW, alice, &table).expect("login");
    manager.login(NOW, alice, &table).expect("login");
    manager.set_variable(NOW, first.get(), "a", "1").expect("variable");
    let _query = manager.begin_query(NOW, first.get(), "GO FROM 1 OVER e", &table).expect("query");
    let wrong = Login { user: "bob", client_ip: IP, password: PasswordCheck::Rejected };
    assert!(manager.login(NOW, wrong, &table).is_err());
    manager.check_invariants().expect("sound");
    (manager, table)
}

#[test]
fn each_corruption_is_reported_with_its_property_and_each_edge_passes() {
    for corruption in ManagerCorruption::all() {
        let (mut manager, _table) = busy();
        let restore = manager.corrupt(corruption).expect("applies to a busy registry");
        let found = manager.check_invariants().err();
        let property = found.as_ref().map(|violation| violation.property);
        assert_eq!(property, corruption.property(), "{corruption:?}: {found:?}");
        if let (ManagerCorruption::Queries(inner), Some(violation)) = (corruption, &found) {
            let inner = inner.property().expect("a break");
            assert!(violation.detail.contains(inner), "{corruption:?}: {violation:?}");
        }
        if let (Some((user, ip, counted)), Some(violation)) = (restore.miscounted_pair(), &found) {
            // Alice's two sessions, counted as three, and the report says so.
            assert_eq!((user, ip, counted), ("alice", IP, 3));
            let stated = format!("({user:?}, {ip:?}): {counted}");
            assert!(violation.detail.contains(&stated), "{corruption:?}: {violation:?}");
        }
        manager.undo_corruption(restore);
        assert_eq!(manager.check_invariants(), Ok(()), "{corruption:?} restored");
    }
}

#[test]
fn corruptions_that_need_a_state_do_not_apply_to_an_empty_registry() {
    let (mut manager, table) = busy();
    drop(table);
    let lease = SessionLease { slot: 4, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let key = SealKey::from_bytes([7; 16]);
    let ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default()).expect("ids");
    let plans = PlanLease { slot: 4, floor_counter: 0, bound_counter: 1 << 40 };
    let plans = PlanIdGenerator::new(plans).expect("plans");
    let mut empty = SessionManager::new(Config::default(), ids, plans).expect("config");
    for corruption in [
        ManagerCorruption::SessionsOverLimit,
        ManagerCorruption::LoggedInAtPairLimit,
        ManagerCorruption::LockoutsOverLimit,
        ManagerCorruption::HistoryAtLimit,
        ManagerCorruption::UserIpCountOff,
        ManagerCorruption::Queries(RegistryCorruption::SessionsOverLimit),
    ] {
        assert!(empty.corrupt(corruption).is_none(), "{corruption:?}");
    }
    assert_eq!(empty.check_invariants(), Ok(()));
    // The busy registry's first applicable shard is the one corrupted, and only it.
    let restore = manager.corrupt(ManagerCorruption::EmptySlotUnfrozen).expect("an empty slot");
    assert!(manager.check_invariants().is_err());
    manager.undo_corruption(restore);
    assert_eq!(manager.check_invariants(), Ok(()));
}
