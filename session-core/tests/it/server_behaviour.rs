//! Table tests of the server registry: every code and message of the reference, login throttling,
//! deliberate fixes 2, 3 and 4 (see docs/fixes.md), events, history, statistics, and snapshot
//! corruption.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_core::server::{
    Change, Config, EndReason, Event, Login, PasswordCheck, Refusal, RestoreParts, ServerError,
    SessionManager, Snapshot, SnapshotError,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};
use graphsession_query_plan::{KillTarget, QueryOutcome};

use crate::server_support::{IP, NOW, generators, manager};

/// root (GOD), alice (USER in "nba") and bob (no role), authorization on.
pub(crate) fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::ENFORCED, "alice").unwrap();
    table.create_user(&root, Policy::ENFORCED, "bob").unwrap();
    table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice").unwrap();
    table
}

fn enforced() -> Config {
    Config { policy: Policy::ENFORCED, ..Config::default() }
}

fn login(manager: &SessionManager, table: &RoleTable, user: &str, now: u64) -> i64 {
    let login = Login { user, client_ip: IP, password: PasswordCheck::Verified };
    manager.login(now, login, table).unwrap().get()
}

/// The code and message of a refusal (a [`ServerError`], or find + touch's `Copy` error, which
/// must say the same as the [`ServerError`] it converts into).
fn refusal<E>(result: Result<impl std::fmt::Debug, E>) -> (i32, String)
where
    E: Into<ServerError> + std::fmt::Display + std::fmt::Debug,
{
    let error = result.unwrap_err();
    let message = error.to_string();
    let error: ServerError = error.into();
    assert_eq!(error.to_string(), message, "the Copy error says what its ServerError says");
    (error.code(), message)
}

fn drain(manager: &SessionManager) -> Vec<Event> {
    std::iter::from_fn(|| manager.poll_event()).collect()
}

#[test]
fn defaults_are_nebulagraphs() {
    let config = Config::default();
    assert_eq!(config.idle_timeout_ms, 28_800_000);
    assert_eq!(config.sessions_per_user_ip_max, 300);
    assert_eq!(config.sessions_max, i64::MAX as u64);
    assert_eq!((config.failed_login_attempts, config.password_lock_time_secs), (0, 0));
    assert!(!config.policy.authorization_enabled);
}

#[test]
fn show_sessions_has_nebulagraphs_columns_in_microseconds() {
    let table = table();
    let manager = manager(enforced());
    let id = login(&manager, &table, "alice", NOW);
    manager.touch(NOW + 5, id).unwrap();
    let root = Caller::resolve(&table, "root", None);
    let rows = manager.show_local_sessions(&root).unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.session_id.get(), row.user_name.as_str(), row.space_name.as_str()),
        (id, "alice", "")
    );
    assert_eq!(
        (row.create_time_unix_us, row.update_time_unix_us),
        (NOW * 1_000, (NOW + 5) * 1_000)
    );
    assert_eq!(
        (row.graph_addr.as_str(), row.timezone, row.client_ip.as_str()),
        ("127.0.0.1:9669", 0, IP)
    );
    assert!(id > 0, "sealed ids are positive");
}

#[test]
fn execute_errors_have_nebulagraphs_codes_and_messages() {
    let manager = manager(Config::default());
    assert_eq!(refusal(manager.touch(NOW, 0)), (-1002, "Invalid session id".to_owned()));
    let unknown = "Get sessionId[5] failed: Session `5' not found: Session not existed!";
    assert_eq!(refusal(manager.touch(NOW, 5)), (-1002, unknown.to_owned()));
    assert_eq!(refusal(manager.touch(NOW, -5)).0, -1002);
    let root = Caller::resolve(&RoleTable::new(), "root", None);
    let missing = "Get session `9' failed: Session not existed!.";
    assert_eq!(refusal(manager.show_session(&root, 9)), (-1005, missing.to_owned()));
}

#[test]
fn node_max_refuses_with_1010_and_changes_nothing() {
    let table = table();
    let manager = manager(Config { sessions_max: 1, ..Config::default() });
    login(&manager, &table, "alice", NOW);
    let second = manager.login(
        NOW,
        Login { user: "bob", client_ip: IP, password: PasswordCheck::Verified },
        &table,
    );
    assert_eq!(refusal(second), (-1010, "Too many connections in the cluster".to_owned()));
    assert_eq!((manager.session_count(), manager.user_ip_session_count("bob", IP)), (1, 0));
    assert_eq!(manager.stats().refused_by_node_max, 1);
    manager.check_invariants().unwrap();
}

#[test]
fn per_user_ip_limit_is_exact_after_two_to_one() {
    let table = table();
    let manager = manager(Config { sessions_per_user_ip_max: 2, ..Config::default() });
    let first = login(&manager, &table, "alice", NOW);
    login(&manager, &table, "alice", NOW);
    let message = "Create Session failed: Too many sessions created from 10.0.0.1 by user \
                   alice. the threshold is 2. You can change it by modifying \
                   'max_sessions_per_ip_per_user' in nebula-graphd.conf";
    let third = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
    assert_eq!(refusal(manager.login(NOW, third, &table)), (-1002, message.to_owned()));
    // NebulaGraph drops the counter on 2 -> 1 and then admits three; here the count stays exact.
    assert!(manager.sign_out(NOW, first));
    assert_eq!(manager.user_ip_session_count("alice", IP), 1);
    login(&manager, &table, "alice", NOW);
    assert_eq!(refusal(manager.login(NOW, third, &table)).0, -1002);
    let other_ip = Login { client_ip: "10.0.0.2", ..third };
    manager.login(NOW, other_ip, &table).unwrap();
    assert_eq!(manager.stats().refused_by_limit, 2);
    manager.check_invariants().unwrap();
}

#[test]
fn a_limit_of_zero_or_less_is_unlimited() {
    let table = table();
    for limit in [0, -1] {
        let manager = manager(Config { sessions_per_user_ip_max: limit, ..Config::default() });
        for _ in 0..400 {
            login(&manager, &table, "alice", NOW);
        }
        assert_eq!(manager.user_ip_session_count("alice", IP), 400);
    }
}

#[test]
fn login_of_a_user_the_table_does_not_know_is_refused() {
    let manager = manager(Config::default());
    let ghost = Login { user: "ghost", client_ip: IP, password: PasswordCheck::Skipped };
    let message = "Create session failed: User not existed!".to_owned();
    assert_eq!(refusal(manager.login(NOW, ghost, &table())), (-1002, message));
    assert_eq!((manager.session_count(), manager.user_ip_session_count("ghost", IP)), (0, 0));
    let events = drain(&manager);
    assert!(matches!(
        &events[..],
        [Event::LoginRefused { refusal: Refusal::Other, code: -1002, .. }]
    ));
}

#[test]
fn password_failures_without_throttling() {
    let manager = manager(Config::default());
    let table = table();
    let wrong = Login { user: "alice", client_ip: IP, password: PasswordCheck::Rejected };
    assert_eq!(refusal(manager.login(NOW, wrong, &table)), (-1001, "Invalid password".to_owned()));
    let unknown = Login { password: PasswordCheck::UnknownUser, ..wrong };
    assert_eq!(refusal(manager.login(NOW, unknown, &table)), (-1001, "User not exist".to_owned()));
    assert_eq!(manager.stats().refused_by_password, 2);
}

#[test]
fn throttling_counts_down_locks_and_resets_on_success() {
    let config =
        Config { failed_login_attempts: 3, password_lock_time_secs: 10, ..Config::default() };
    let manager = manager(config);
    let table = table();
    let wrong = Login { user: "alice", client_ip: IP, password: PasswordCheck::Rejected };
    let right = Login { password: PasswordCheck::Verified, ..wrong };
    let remaining = |n: u32| (-1001, format!("Invalid password, remaining attempts: {n}"));
    assert_eq!(refusal(manager.login(NOW, wrong, &table)), remaining(2));
    // A success resets the count.
    manager.login(NOW, right, &table).unwrap();
    assert_eq!(refusal(manager.login(NOW, wrong, &table)), remaining(2));
    assert_eq!(refusal(manager.login(NOW, wrong, &table)), remaining(1));
    let locked = |secs: u64| {
        let text = format!(
            "3 times consecutive incorrect passwords has been input, user name: alice has been \
             locked, try again in {secs} seconds"
        );
        (-1001, text)
    };
    assert_eq!(refusal(manager.login(NOW, wrong, &table)), locked(10));
    // Locked: even the right password is refused until the lock ends.
    assert_eq!(refusal(manager.login(NOW + 3_500, right, &table)), locked(7));
    // Other users are not affected.
    manager.login(NOW, Login { user: "bob", ..right }, &table).unwrap();
    manager.login(NOW + 10_000, right, &table).unwrap();
    assert_eq!(refusal(manager.login(NOW + 10_000, wrong, &table)), remaining(2));
    manager.check_invariants().unwrap();
}

#[test]
fn a_query_longer_than_the_idle_timeout_keeps_its_session() {
    // Deliberate fix 3 (docs/fixes.md).
    let table = table();
    let manager = manager(Config { idle_timeout_ms: 1_000, ..Config::default() });
    let id = login(&manager, &table, "alice", NOW);
    let query = manager.begin_query(NOW + 10, id, "GO FROM 1 OVER follow", &table).unwrap();
    assert_eq!(manager.poll_timeout(), Some(NOW + 1_000));
    for step in 1..=5 {
        assert_eq!(manager.handle_timeout(NOW + step * 1_000), 0);
        assert!(query.handle.check().is_ok());
    }
    assert_eq!(
        manager.finish_query(NOW + 5_500, query.session, query.plan).unwrap(),
        QueryOutcome::Finished
    );
    // Activity is touched when the query ends: idle from there.
    assert_eq!(manager.handle_timeout(NOW + 6_499), 0);
    assert_eq!(manager.handle_timeout(NOW + 6_500), 1);
    assert_eq!(refusal(manager.touch(NOW + 7_000, id)).0, -1002);
    manager.check_invariants().unwrap();
}

#[test]
fn expiry_is_never_early_and_a_clock_stepping_back_expires_nothing() {
    let table = table();
    let manager = manager(Config { idle_timeout_ms: 1_000, ..Config::default() });
    let id = login(&manager, &table, "alice", NOW);
    // The clock steps back an hour: the touch counts as the newest time seen.
    manager.touch(NOW - 3_600_000, id).unwrap();
    assert_eq!(manager.handle_timeout(NOW - 3_600_000), 0);
    assert_eq!(manager.handle_timeout(NOW + 999), 0);
    assert_eq!(manager.session_stats(id).unwrap().last_activity_unix_ms, NOW);
    assert_eq!(manager.handle_timeout(NOW + 1_000), 1);
    assert_eq!(manager.poll_timeout(), None);
    let events = drain(&manager);
    let Some(Event::Session { change: Change::Ended { reason, queries_killed }, .. }) =
        events.last()
    else {
        panic!("no end event in {events:?}")
    };
    assert_eq!((reason, *queries_killed), (&EndReason::Expired { idle_ms: 1_000 }, 0));
    assert_eq!(manager.stats().expired, 1);
    manager.check_invariants().unwrap();
}

#[test]
fn an_idle_round_costs_nothing_and_a_busy_session_is_rechecked_once_per_timeout() {
    let table = table();
    let manager = manager(Config { idle_timeout_ms: 1_000, ..Config::default() });
    let ids: Vec<i64> = (0..50).map(|_| login(&manager, &table, "alice", NOW)).collect();
    for &id in &ids[..25] {
        manager.touch(NOW + 500, id).unwrap();
    }
    assert_eq!(manager.handle_timeout(NOW + 999), 0);
    assert_eq!(manager.handle_timeout(NOW + 1_000), 25);
    assert_eq!(manager.poll_timeout(), Some(NOW + 1_500));
    assert_eq!(manager.handle_timeout(NOW + 1_500), 25);
    manager.check_invariants().unwrap();
}

#[test]
fn role_changes_reach_open_sessions_at_their_next_request() {
    // Deliberate fix 4 (docs/fixes.md).
    let mut table = table();
    let manager = manager(enforced());
    let id = login(&manager, &table, "alice", NOW);
    manager.use_space(NOW, id, "nba", &table).unwrap();
    let query = manager.begin_query(NOW, id, "GO", &table).unwrap();
    assert_eq!(query.caller.current_role(), Some(Role::User));
    let _ = manager.finish_query(NOW, query.session, query.plan).unwrap();

    let root = Caller::resolve(&table, "root", None);
    table.revoke(&root, Policy::ENFORCED, Role::User, "nba", "alice").unwrap();
    let query = manager.begin_query(NOW, id, "GO", &table).unwrap();
    assert_eq!(query.caller.current_role(), None, "the revoke reached the open session");
    let _ = manager.finish_query(NOW, query.session, query.plan).unwrap();
    let refused = (-1008, "PermissionError: No permission to read space.".to_owned());
    assert_eq!(refusal(manager.use_space(NOW, id, "nba", &table)), refused);

    // Dropping the user ends the session at its next request.
    table.drop_user(&root, Policy::ENFORCED, "alice").unwrap();
    assert_eq!(refusal(manager.begin_query(NOW, id, "GO", &table)).0, -1002);
    assert_eq!(manager.session_count(), 0);
    assert_eq!(manager.stats().user_dropped, 1);
    manager.check_invariants().unwrap();
}

#[test]
fn kill_session_is_god_only_and_kills_the_sessions_queries() {
    let table = table();
    let manager = manager(enforced());
    let alice = login(&manager, &table, "alice", NOW);
    let bob = login(&manager, &table, "bob", NOW);
    let query = manager.begin_query(NOW, alice, "GO", &table).unwrap();
    let bob_caller = manager.begin_query(NOW, bob, "KILL SESSION", &table).unwrap();
    let refused = (-1008, "PermissionError: No permission to kill session".to_owned());
    assert_eq!(refusal(manager.kill_sessions(NOW, &bob_caller.caller, &[alice])), refused);
    assert!(query.handle.check().is_ok(), "a refused kill changes nothing");
    let root = Caller::resolve(&table, "root", None);
    assert_eq!(manager.kill_sessions(NOW, &root, &[alice, alice, 12_345, 0]).unwrap(), 1);
    assert!(query.handle.check().is_err(), "the session's query was killed");
    assert_eq!(refusal(manager.touch(NOW, alice)).0, -1002);
    assert!(manager.finish_query(NOW, query.session, query.plan).is_err());
    let ended = drain(&manager).into_iter().find_map(|event| match event {
        Event::Session { change: Change::Ended { reason, queries_killed }, .. } => {
            Some((reason, queries_killed))
        }
        _ => None,
    });
    assert_eq!(ended, Some((EndReason::Killed { by: "root".to_owned() }, 1)));
    let _ = manager.finish_query(NOW, bob_caller.session, bob_caller.plan).unwrap();
    manager.check_invariants().unwrap();
}

#[test]
fn kill_query_checks_session_then_user_then_plan() {
    let table = table();
    let manager = manager(enforced());
    let alice = login(&manager, &table, "alice", NOW);
    let bob = login(&manager, &table, "bob", NOW);
    let query = manager.begin_query(NOW, alice, "GO", &table).unwrap();
    let bob_query = manager.begin_query(NOW, bob, "KILL QUERY", &table).unwrap();
    let target = KillTarget::Session { session: query.session, plan: query.plan };
    let refused = manager.kill_query(&bob_query.caller, bob_query.session, target);
    assert_eq!(
        refusal(refused),
        (-1008, "PermissionError: Only GOD role could kill others' queries.".to_owned())
    );
    let own = KillTarget::CurrentSession { plan: bob_query.plan };
    manager.kill_query(&bob_query.caller, bob_query.session, own).unwrap();
    assert!(bob_query.handle.check().is_err());
    let root = Caller::resolve(&table, "root", None);
    manager.kill_query(&root, bob_query.session, target).unwrap();
    let outcome = manager.finish_query(NOW, query.session, query.plan).unwrap();
    assert!(matches!(outcome, QueryOutcome::Killed(_)));
    assert_eq!(manager.session_stats(alice).unwrap().queries_killed, 1);
    let missing = KillTarget::Session { session: query.session, plan: query.plan };
    assert_eq!(refusal(manager.kill_query(&root, bob_query.session, missing)).0, -2073);
    let _ = manager.finish_query(NOW, bob_query.session, bob_query.plan).unwrap();
    manager.check_invariants().unwrap();
}

#[test]
fn show_is_god_only_and_show_session_has_stats_variables_and_history() {
    let table = table();
    let manager = manager(Config {
        session_history_max: 3,
        variables_per_session_max: 2,
        variable_bytes_max: 8,
        ..enforced()
    });
    let id = login(&manager, &table, "alice", NOW);
    let alice = Caller::resolve(&table, "alice", None);
    let refused =
        (-1008, "PermissionError: No permission to show users/snapshots/serviceClients".to_owned());
    assert_eq!(refusal(manager.show_local_sessions(&alice)), refused.clone());
    assert_eq!(refusal(manager.show_session(&alice, id)), refused);
    manager.use_space(NOW + 1, id, "nba", &table).unwrap();
    manager.set_variable(NOW + 2, id, "a", "1").unwrap();
    manager.set_variable(NOW + 3, id, "b", "2").unwrap();
    manager.set_variable(NOW + 4, id, "a", "3").unwrap();
    assert_eq!(
        refusal(manager.set_variable(NOW, id, "c", "3")),
        (-1005, "Too many session variables: at most 2".to_owned())
    );
    assert_eq!(refusal(manager.set_variable(NOW, id, "long", "value")).0, -1005);
    let query = manager.begin_query(NOW + 5, id, "GO", &table).unwrap();
    let root = Caller::resolve(&table, "root", None);
    let detail = manager.show_session(&root, id).unwrap();
    assert_eq!(detail.row.space_name, "nba");
    assert_eq!((detail.stats.queries_run, detail.stats.queries_active), (1, 1));
    assert_eq!(detail.variables.get("a").map(String::as_str), Some("3"));
    assert_eq!(detail.history.len(), 3);
    assert_eq!(detail.history_dropped, 1);
    assert_eq!(detail.history[2].change, Change::VariableSet { name: "a".to_owned() });
    let _ = manager.finish_query(NOW + 6, query.session, query.plan).unwrap();
    manager.check_invariants().unwrap();
}

#[test]
fn every_state_change_is_an_event_in_order_and_overflow_is_counted() {
    let table = table();
    let manager = manager(Config { events_max: 3, ..Config::default() });
    let id = login(&manager, &table, "alice", NOW);
    manager.use_space(NOW, id, "nba", &table).unwrap();
    manager.set_variable(NOW, id, "x", "y").unwrap();
    assert!(manager.sign_out(NOW, id));
    assert!(!manager.sign_out(NOW, id), "unknown ids are ignored");
    let events = drain(&manager);
    let changes: Vec<&Change> = events
        .iter()
        .map(|event| match event {
            Event::Session { change, .. } => change,
            Event::LoginRefused { .. } => panic!("no refusal here"),
        })
        .collect();
    assert!(matches!(
        changes[..],
        [Change::Created { .. }, Change::SpaceChanged { .. }, Change::VariableSet { .. }]
    ));
    assert_eq!(manager.stats().events_dropped, 1);
    assert_eq!(manager.stats().signed_out, 1);
}

fn parts(table: &RoleTable, config: Config) -> RestoreParts<'_> {
    let (session_ids, plan_ids) = generators(4);
    RestoreParts { config, session_ids: Box::new(session_ids), plan_ids, table }
}

#[test]
fn a_snapshot_round_trips_through_bytes_and_json() {
    let table = table();
    let manager = manager(Config { idle_timeout_ms: 10_000, ..Config::default() });
    let old = login(&manager, &table, "alice", NOW);
    let fresh = login(&manager, &table, "bob", NOW + 9_000);
    manager.use_space(NOW + 9_000, fresh, "nba", &table).unwrap();
    manager.set_variable(NOW + 9_000, fresh, "k", "v").unwrap();
    let snapshot = manager.snapshot();
    let restored = SessionManager::restore(
        &snapshot.to_bytes(),
        parts(&table, Config { idle_timeout_ms: 10_000, ..Config::default() }),
    )
    .unwrap();
    restored.check_invariants().unwrap();
    let root = Caller::resolve(&table, "root", None);
    assert_eq!(
        restored.show_local_sessions(&root).unwrap(),
        manager.show_local_sessions(&root).unwrap()
    );
    assert_eq!(restored.snapshot().body.sessions.len(), 2);
    let json = serde_json::to_string(&snapshot).unwrap();
    let from_json: Snapshot = serde_json::from_str(&json).unwrap();
    let restored_json =
        SessionManager::restore_snapshot(from_json, parts(&table, Config::default())).unwrap();
    assert_eq!(restored_json.session_count(), 2);
    // The old session was idle past the timeout: it expires at the first round.
    assert_eq!(restored.handle_timeout(NOW + 10_000), 1);
    assert!(restored.touch(NOW + 10_000, old).is_err());
    assert_eq!(
        restored.variables(NOW + 10_000, fresh).unwrap().get("k").map(String::as_str),
        Some("v")
    );
    restored.check_invariants().unwrap();
}

#[test]
fn corrupted_or_truncated_snapshots_are_typed_errors() {
    let table = table();
    let manager = manager(Config::default());
    for _ in 0..3 {
        login(&manager, &table, "alice", NOW);
    }
    let bytes = manager.snapshot().to_bytes();
    let restore =
        |bytes: &[u8]| SessionManager::restore(bytes, parts(&table, Config::default())).map(|_| ());
    for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
        let error = restore(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(error, SnapshotError::Truncated { .. } | SnapshotError::BadMagic),
            "{cut}: {error}"
        );
    }
    for index in 28..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[index] ^= 0x20;
        assert!(
            matches!(restore(&flipped), Err(SnapshotError::ChecksumMismatch { .. })),
            "byte {index}"
        );
    }
    let mut version = bytes.clone();
    version[8] = 9;
    assert!(matches!(restore(&version), Err(SnapshotError::UnsupportedVersion { found: 9, .. })));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(restore(&magic), Err(SnapshotError::BadMagic));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(restore(&trailing), Err(SnapshotError::TrailingBytes { bytes: 1 })));
    // Valid bytes that the configuration does not admit are refused too.
    let tight = Config { sessions_per_user_ip_max: 2, ..Config::default() };
    let error = SessionManager::restore(&bytes, parts(&table, tight)).unwrap_err();
    assert!(matches!(error, SnapshotError::Invalid(_)), "{error}");
    let mut tampered = manager.snapshot();
    tampered.body.sessions[0].user = "mallory".to_owned();
    let error =
        SessionManager::restore_snapshot(tampered, parts(&table, Config::default())).unwrap_err();
    assert!(matches!(error, SnapshotError::ChecksumMismatch { .. }));
}

#[test]
fn a_lockout_survives_a_snapshot() {
    let config =
        Config { failed_login_attempts: 2, password_lock_time_secs: 60, ..Config::default() };
    let manager = manager(config.clone());
    let table = table();
    let wrong = Login { user: "alice", client_ip: IP, password: PasswordCheck::Rejected };
    let _ = manager.login(NOW, wrong, &table);
    assert_eq!(refusal(manager.login(NOW, wrong, &table)).0, -1001);
    let restored =
        SessionManager::restore(&manager.snapshot().to_bytes(), parts(&table, config)).unwrap();
    let right = Login { password: PasswordCheck::Verified, ..wrong };
    let locked = refusal(restored.login(NOW + 30_000, right, &table)).1;
    assert!(locked.ends_with("try again in 30 seconds"), "{locked}");
    restored.login(NOW + 60_000, right, &table).unwrap();
    restored.check_invariants().unwrap();
}

#[test]
fn sign_out_kills_the_sessions_queries_and_the_next_check_follows_logins() {
    let table = table();
    let manager = manager(Config { idle_timeout_ms: 5_000, ..Config::default() });
    assert_eq!(manager.poll_timeout(), None);
    let id = login(&manager, &table, "alice", NOW);
    assert_eq!(manager.poll_timeout(), Some(NOW + 5_000));
    let query = manager.begin_query(NOW, id, "GO", &table).unwrap();
    assert!(manager.sign_out(NOW + 1, id));
    assert!(query.handle.check().is_err());
    let ended = drain(&manager).into_iter().any(|event| {
        matches!(
            event,
            Event::Session {
                change: Change::Ended { reason: EndReason::SignedOut, queries_killed: 1 },
                ..
            }
        )
    });
    assert!(ended);
    // The cached next check may be early after a sign-out, never late: a spurious round is a no-op.
    assert_eq!(manager.handle_timeout(NOW + 5_000), 0);
    assert_eq!(manager.poll_timeout(), None);
    manager.check_invariants().unwrap();
}

#[test]
fn a_lease_overlapping_restored_ids_is_refused_not_merged() {
    let table = table();
    let manager = manager(Config::default());
    let id = login(&manager, &table, "alice", NOW);
    // A host error: the restored registry gets a generator that issues the same ids again.
    let (session_ids, plan_ids) = generators(3);
    let parts = RestoreParts {
        config: Config::default(),
        session_ids: Box::new(session_ids),
        plan_ids,
        table: &table,
    };
    let restored = SessionManager::restore(&manager.snapshot().to_bytes(), parts).unwrap();
    let again = Login { user: "bob", client_ip: IP, password: PasswordCheck::Verified };
    assert_eq!(refusal(restored.login(NOW, again, &table)).0, -1002);
    assert_eq!((restored.session_count(), restored.user_ip_session_count("bob", IP)), (1, 0));
    assert!(restored.touch(NOW, id).is_ok());
    restored.check_invariants().unwrap();
}

#[test]
fn stats_count_the_events_waiting_to_be_polled() {
    let table = table();
    let manager = manager(Config { events_max: 3, ..Config::default() });
    let id = login(&manager, &table, "alice", NOW);
    manager.use_space(NOW, id, "nba", &table).unwrap();
    assert_eq!(manager.stats().events_queued, 2);
    assert!(manager.poll_event().is_some());
    assert_eq!(manager.stats().events_queued, 1);
    drain(&manager);
    assert_eq!((manager.stats().events_queued, manager.stats().events_dropped), (0, 0));
}

#[test]
fn throttling_is_off_unless_both_attempts_and_lock_time_are_set() {
    let table = table();
    for (attempts, lock_secs) in [(3, 0), (0, 60)] {
        let config = Config {
            failed_login_attempts: attempts,
            password_lock_time_secs: lock_secs,
            ..Config::default()
        };
        let manager = manager(config);
        let wrong = Login { user: "alice", client_ip: IP, password: PasswordCheck::Rejected };
        for _ in 0..5 {
            let refused = refusal(manager.login(NOW, wrong, &table));
            assert_eq!(refused, (-1001, "Invalid password".to_owned()), "{attempts}/{lock_secs}");
        }
        let right = Login { password: PasswordCheck::Verified, ..wrong };
        manager.login(NOW, right, &table).unwrap();
        manager.check_invariants().unwrap();
    }
}

#[test]
fn a_user_name_of_the_longest_allowed_length_survives_a_snapshot() {
    let longest = "u".repeat(graphsession_permission::USER_NAME_BYTES_MAX as usize);
    let mut table = table();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::ENFORCED, &longest).unwrap();
    let manager = manager(Config::default());
    let id = login(&manager, &table, &longest, NOW);
    let restored =
        SessionManager::restore(&manager.snapshot().to_bytes(), parts(&table, Config::default()))
            .unwrap();
    restored.touch(NOW + 1, id).unwrap();
    assert_eq!(restored.user_ip_session_count(&longest, IP), 1);
}

#[test]
fn the_node_statistics_survive_a_snapshot() {
    let table = table();
    let config = Config { sessions_max: 3, idle_timeout_ms: 1_000, ..Config::default() };
    let manager = manager(config.clone());
    let root = Caller::resolve(&table, "root", None);
    let expiring = login(&manager, &table, "alice", NOW);
    let killed = login(&manager, &table, "alice", NOW + 500);
    let signed_out = login(&manager, &table, "bob", NOW + 500);
    let full = Login { user: "bob", client_ip: IP, password: PasswordCheck::Verified };
    assert_eq!(manager.login(NOW + 500, full, &table).unwrap_err().code(), -1010);
    let wrong = Login { password: PasswordCheck::Rejected, ..full };
    assert!(manager.login(NOW + 500, wrong, &table).is_err());
    let query = manager.begin_query(NOW + 600, killed, "GO", &table).unwrap();
    manager.finish_query(NOW + 600, query.session, query.plan).unwrap();
    assert_eq!(manager.kill_sessions(NOW + 700, &root, &[killed]).unwrap(), 1);
    assert!(manager.sign_out(NOW + 700, signed_out));
    assert_eq!(manager.handle_timeout(NOW + 1_000), 1);
    assert!(manager.touch(NOW + 1_000, expiring).is_err());
    drain(&manager);
    let stats = manager.stats();
    assert_eq!(
        (stats.opened, stats.expired, stats.killed, stats.signed_out, stats.queries_started),
        (3, 1, 1, 1, 1)
    );
    assert_eq!((stats.refused_by_node_max, stats.refused_by_password, stats.active), (1, 1, 0));
    let restored =
        SessionManager::restore(&manager.snapshot().to_bytes(), parts(&table, config)).unwrap();
    assert_eq!(restored.stats(), stats);
}

#[test]
fn statistics_count_the_active_sessions() {
    let table = table();
    let manager = manager(Config::default());
    let first = login(&manager, &table, "alice", NOW);
    login(&manager, &table, "bob", NOW);
    assert_eq!(manager.stats().active, 2);
    assert!(manager.sign_out(NOW, first));
    assert_eq!(manager.stats().active, 1);
}

#[test]
fn a_shard_holds_more_sessions_with_queries_than_the_query_registrys_own_session_limit() {
    // The registry's own `sessions_max` bounds sessions; a shard's query registry must not.
    let queries = graphsession_query_plan::Config { sessions_max: 1, ..Default::default() };
    let manager = manager(Config { shard_count: 1, queries, ..Config::default() });
    let table = table();
    let first = login(&manager, &table, "alice", NOW);
    let second = login(&manager, &table, "alice", NOW);
    let running = manager.begin_query(NOW, first, "GO", &table).unwrap();
    let also = manager.begin_query(NOW, second, "GO", &table).unwrap();
    assert!(running.handle.check().is_ok() && also.handle.check().is_ok());
    manager.check_invariants().unwrap();
}

#[test]
fn a_capture_keeps_its_instant_while_the_registry_changes_and_the_registry_its_changes() {
    let mut table = table();
    let root = Caller::resolve(&table, "root", None);
    table.grant(&root, Policy::ENFORCED, Role::User, "lakers", "alice").unwrap();
    let throttled = Config { failed_login_attempts: 3, password_lock_time_secs: 60, ..enforced() };
    let manager = manager(throttled);
    let alice = login(&manager, &table, "alice", NOW);
    let bob = login(&manager, &table, "bob", NOW);
    manager.use_space(NOW, alice, "nba", &table).unwrap();
    manager.set_variable(NOW, alice, "k", "v").unwrap();
    let wrong = Login { user: "bob", client_ip: IP, password: PasswordCheck::Rejected };
    let _ = manager.login(NOW, wrong, &table);
    let before = manager.snapshot();
    let captured = manager.capture();
    assert_eq!(captured.sessions(), 2);

    // Every part of a session a capture shares or copies changes after it.
    let later = NOW + 5_000;
    manager.use_space(later, alice, "lakers", &table).unwrap();
    manager.set_variable(later, alice, "k", "w").unwrap();
    let query = manager.begin_query(later, alice, "GO", &table).unwrap();
    let own = KillTarget::CurrentSession { plan: query.plan };
    manager.kill_query(&query.caller, query.session, own).unwrap();
    let _ = manager.finish_query(later, query.session, query.plan).unwrap();
    assert!(manager.sign_out(later, bob));
    let carol_table = {
        let mut grown = table.clone();
        grown.create_user(&root, Policy::ENFORCED, "carol").unwrap();
        grown
    };
    let _carol = login(&manager, &carol_table, "carol", later);
    let _ = manager.login(later, Login { user: "alice", ..wrong }, &table);

    assert_eq!(before.body.lockouts.len(), 1);
    assert_eq!(captured.into_snapshot(), before, "the capture is the instant it was taken");
    let after = manager.snapshot();
    let alice_after = after.body.sessions.iter().find(|record| record.id.get() == alice).unwrap();
    assert_eq!(alice_after.space.as_deref(), Some("lakers"));
    assert_eq!(alice_after.variables.get("k").map(String::as_str), Some("w"));
    assert_eq!((alice_after.queries_run, alice_after.queries_killed), (1, 1));
    assert_eq!(after.body.sessions.len(), 2, "bob signed out and carol logged in");
    assert_eq!(after.body.lockouts.len(), 2);
    let alice_before = before.body.sessions.iter().find(|record| record.id.get() == alice).unwrap();
    assert_eq!(alice_before.variables.get("k").map(String::as_str), Some("v"));
    manager.check_invariants().unwrap();
}
