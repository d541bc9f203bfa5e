//! Inputs the fuzz targets (`fuzz/`) found, each as a named test: the smallest form of the
//! failure, and what the fix guarantees.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use crate::server_support::{IP, NOW, generators, manager};
use graphsession_core::server::{
    Config, Login, PasswordCheck, RestoreParts, SessionManager, Snapshot, SnapshotError,
};
use graphsession_permission::RoleTable;

/// The snapshot's checksum (FNV-1a-64 over the body, which `to_bytes` writes after a 28-byte
/// header), recomputed after a field was changed.
fn resealed(mut snapshot: Snapshot) -> Snapshot {
    let bytes = snapshot.to_bytes();
    snapshot.checksum = graphsession_base::fnv1a64(&bytes[28..]);
    snapshot
}

fn parts(table: &RoleTable, config: Config) -> RestoreParts<'_> {
    let (session_ids, plan_ids) = generators(4);
    RestoreParts { config, session_ids: Box::new(session_ids), plan_ids, table }
}

/// fuzz target `snapshot_decode`: a lockout record both locked and with attempts left (or with
/// more attempts than the configuration allows) was restored silently, as a state the throttle
/// never writes; a snapshot taken after it differed from the one restored. Now refused.
#[test]
fn fuzz_regression_01_restore_refuses_lockouts_the_throttle_cannot_have_written() {
    let config =
        Config { failed_login_attempts: 3, password_lock_time_secs: 60, ..Config::default() };
    let manager = manager(config.clone());
    let table = RoleTable::new();
    for user in ["alice", "alice", "alice", "bob"] {
        let wrong = Login { user, client_ip: IP, password: PasswordCheck::Rejected };
        assert!(manager.login(NOW, wrong, &table).is_err());
    }
    let snapshot = manager.snapshot();
    let locked = snapshot.body.lockouts.iter().position(|l| l.user == "alice").unwrap();
    let counting = snapshot.body.lockouts.iter().position(|l| l.user == "bob").unwrap();
    assert!(snapshot.body.lockouts[locked].locked_until_unix_ms.is_some());
    assert_eq!(snapshot.body.lockouts[counting].remaining_attempts, 2);
    let restored =
        SessionManager::restore_snapshot(snapshot.clone(), parts(&table, config.clone()));
    assert!(restored.is_ok(), "what the throttle writes is restored");

    for (index, remaining) in [(locked, 16_777_216), (counting, 0), (counting, 4)] {
        let mut tampered = snapshot.clone();
        tampered.body.lockouts[index].remaining_attempts = remaining;
        let tampered = resealed(tampered);
        let error = SessionManager::restore_snapshot(tampered, parts(&table, config.clone()));
        assert!(matches!(error, Err(SnapshotError::Invalid(_))), "{index} {remaining}: {error:?}");
    }
}
