//! Table tests of the server registry's cluster methods (`cluster_hooks.rs`): installing a
//! session from the cluster, adopting a newer space, ending a session meta says is gone, killing
//! a query meta marked. Each checks the counts, `check_invariants` and the events.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_core::server::{
    Change, ClusterEnd, Config, EndReason, Event, InstalledSession, Login, Origin, PasswordCheck,
    RestoreParts, ServerError, SessionManager,
};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, Policy, Role, RoleTable};
use graphsession_query_plan::{Kill, KillCause, Killed, QueryKey, QueryOutcome};

use crate::server_support::{IP, NOW, generators, manager};

/// root (GOD) and alice (USER in "nba"), authorization on.
fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::ENFORCED, "alice").unwrap();
    table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice").unwrap();
    table
}

fn enforced(config: Config) -> Config {
    Config { policy: Policy::ENFORCED, ..config }
}

fn login(manager: &SessionManager, table: &RoleTable, now: u64) -> Result<i64, ServerError> {
    let login = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
    manager.login(now, login, table).map(SessionId::get)
}

fn sid(value: i64) -> SessionId {
    SessionId::new(value).unwrap()
}

/// A session of alice created on another node, in "nba" since `NOW - 50`.
fn remote(session: i64) -> InstalledSession<'static> {
    InstalledSession {
        session: sid(session),
        user: "alice",
        client_ip: IP,
        space: "nba",
        space_set_unix_ms: NOW - 50,
        created_unix_ms: NOW - 100,
        last_activity_unix_ms: NOW - 10,
    }
}

fn drain(manager: &SessionManager) -> Vec<Event> {
    std::iter::from_fn(|| manager.poll_event()).collect()
}

fn changes(manager: &SessionManager) -> Vec<Change> {
    let events = drain(manager).into_iter();
    events
        .filter_map(|event| match event {
            Event::Session { change, .. } => Some(change),
            Event::LoginRefused { .. } => None,
        })
        .collect()
}

fn counts(manager: &SessionManager) -> (u64, u32) {
    (manager.session_count(), manager.user_ip_session_count("alice", IP))
}

#[test]
fn an_installed_session_is_counted_exactly_without_the_user_ip_limit_but_within_the_node_max() {
    let table = table();
    let config = Config { sessions_per_user_ip_max: 1, sessions_max: 3, ..Config::default() };
    let manager = manager(enforced(config));
    login(&manager, &table, NOW).unwrap();
    assert_eq!(manager.install_session(NOW, remote(11), &table), Ok(true));
    // Above the pair's limit of 1: counted exactly, and the next login of the pair is refused.
    assert_eq!(counts(&manager), (2, 2));
    manager.check_invariants().unwrap();
    assert_eq!(login(&manager, &table, NOW).unwrap_err().code(), -1002);
    // Already here: false, nothing changes.
    assert_eq!(manager.install_session(NOW, remote(11), &table), Ok(false));
    assert_eq!(counts(&manager), (2, 2));
    assert_eq!(manager.install_session(NOW, remote(12), &table), Ok(true));
    // The node max applies: -1010, nothing changes.
    let refused = manager.install_session(NOW, remote(13), &table).unwrap_err();
    assert_eq!(refused.code(), -1010);
    let stranger = InstalledSession { user: "mallory", ..remote(14) };
    let refused = manager.install_session(NOW, stranger, &table).unwrap_err();
    assert!(matches!(refused, ServerError::UserNotFound { .. }), "{refused}");
    assert_eq!(counts(&manager), (3, 3));
    manager.check_invariants().unwrap();
    let picked_up = changes(&manager)
        .into_iter()
        .filter(|change| matches!(change, Change::PickedUp { client_ip } if client_ip == IP))
        .count();
    assert_eq!(picked_up, 2);
}

#[test]
fn an_installed_session_keeps_its_id_space_and_times_and_takes_roles_from_the_table() {
    let table = table();
    let manager = manager(enforced(Config { idle_timeout_ms: 10_000, ..Config::default() }));
    let _ = manager.handle_timeout(NOW);
    // A clock ahead on the other node: activity is clamped to this node's newest time.
    let ahead = InstalledSession { last_activity_unix_ms: NOW + 60_000, ..remote(21) };
    assert_eq!(manager.install_session(NOW, remote(11), &table), Ok(true));
    assert_eq!(manager.install_session(NOW, ahead, &table), Ok(true));
    let views = manager.cluster_sessions();
    assert_eq!(views.len(), 2);
    let view = &views[0];
    assert_eq!((view.session, view.user.as_str(), view.client_ip.as_str()), (sid(11), "alice", IP));
    assert_eq!((view.space.as_str(), view.space_set_unix_ms), ("nba", NOW - 50));
    assert_eq!((view.created_unix_ms, view.last_activity_unix_ms), (NOW - 100, NOW - 10));
    assert_eq!(views[1].last_activity_unix_ms, NOW);
    // The idle check runs from the last activity reported.
    assert_eq!(manager.poll_timeout(), Some(NOW - 10 + 10_000));
    // Usable at once, in its space, with the table's role there.
    let query = manager.begin_query(NOW + 1, 11, "GO FROM 1 OVER e", &table).unwrap();
    assert_eq!(query.caller.current_space(), Some("nba"));
    assert_eq!(query.caller.current_role(), Some(Role::User));
    assert_eq!(manager.cluster_sessions()[0].running_queries, 1);
    manager.finish_query(NOW + 2, query.session, query.plan).unwrap();
    // Reading the sessions is not activity.
    assert_eq!(manager.cluster_sessions()[0].last_activity_unix_ms, NOW + 2);
    manager.check_invariants().unwrap();
}

#[test]
fn adopt_space_takes_only_a_newer_use_and_is_neither_activity_nor_checked() {
    let table = table();
    let manager = manager(enforced(Config::default()));
    let id = login(&manager, &table, NOW).unwrap();
    manager.use_space(NOW + 10, id, "nba", &table).unwrap();
    let view = &manager.cluster_sessions()[0];
    assert_eq!((view.space.as_str(), view.space_set_unix_ms), ("nba", NOW + 10));
    drain(&manager);
    let session = sid(id);
    // Older, or as old with a smaller space: not adopted.
    assert!(!manager.adopt_space(session, "zzz", NOW + 5));
    assert!(!manager.adopt_space(session, "aaa", NOW + 10));
    // As old with a greater space (the tie-break every node applies), then newer: adopted.
    assert!(manager.adopt_space(session, "nbb", NOW + 10));
    assert!(manager.adopt_space(session, "mmm", NOW + 20));
    assert!(!manager.adopt_space(session, "mmm", NOW + 20));
    assert!(!manager.adopt_space(session, "", NOW + 30));
    assert!(!manager.adopt_space(sid(999), "mmm", NOW + 30));
    let view = &manager.cluster_sessions()[0];
    assert_eq!((view.space.as_str(), view.space_set_unix_ms), ("mmm", NOW + 20));
    assert_eq!(view.last_activity_unix_ms, NOW + 10);
    let spaces: Vec<Change> = changes(&manager);
    assert_eq!(
        spaces,
        [
            Change::SpaceChanged { from: Some("nba".into()), to: "nbb".into() },
            Change::SpaceChanged { from: Some("nbb".into()), to: "mmm".into() },
        ]
    );
    // A USE here after a space adopted from a clock far ahead is still the newest.
    assert!(manager.adopt_space(session, "far", NOW + 60_000));
    manager.use_space(NOW + 40, id, "nba", &table).unwrap();
    let view = &manager.cluster_sessions()[0];
    assert_eq!((view.space.as_str(), view.space_set_unix_ms), ("nba", NOW + 60_001));
    manager.check_invariants().unwrap();
}

#[test]
fn a_space_adopted_before_the_first_request_gets_its_roles_at_that_request() {
    let table = table();
    let manager = manager(enforced(Config::default()));
    let id = login(&manager, &table, NOW).unwrap();
    assert!(manager.adopt_space(sid(id), "nba", NOW + 5));
    let query = manager.begin_query(NOW + 6, id, "GO FROM 1 OVER e", &table).unwrap();
    assert_eq!(query.caller.current_space(), Some("nba"));
    assert_eq!(query.caller.current_role(), Some(Role::User));
    manager.finish_query(NOW + 7, query.session, query.plan).unwrap();
    manager.check_invariants().unwrap();
}

#[test]
fn end_from_cluster_kills_queries_with_the_matching_cause_and_releases_the_counts() {
    let table = table();
    let manager = manager(enforced(Config::default()));
    let expired = login(&manager, &table, NOW).unwrap();
    let killed = login(&manager, &table, NOW).unwrap();
    let first = manager.begin_query(NOW + 10, expired, "GO", &table).unwrap();
    let second = manager.begin_query(NOW + 10, killed, "GO", &table).unwrap();
    drain(&manager);
    assert!(manager.end_from_cluster(NOW + 30, sid(expired), ClusterEnd::Expired));
    assert_eq!(first.handle.check(), Err(Killed { cause: KillCause::SessionExpired }));
    assert!(manager.end_from_cluster(NOW + 40, sid(killed), ClusterEnd::EndedElsewhere));
    assert_eq!(second.handle.check(), Err(Killed { cause: KillCause::SessionKilled }));
    assert_eq!(counts(&manager), (0, 0));
    assert!(!manager.end_from_cluster(NOW + 50, sid(killed), ClusterEnd::EndedElsewhere));
    assert_eq!(manager.touch(NOW + 50, expired).unwrap_err().code(), -1002);
    assert_eq!(
        changes(&manager),
        [
            Change::Ended { reason: EndReason::Expired { idle_ms: 20 }, queries_killed: 1 },
            Change::Ended { reason: EndReason::EndedElsewhere, queries_killed: 1 },
        ]
    );
    let stats = manager.stats();
    assert_eq!((stats.expired, stats.killed, stats.active), (1, 1, 0));
    manager.check_invariants().unwrap();
}

#[test]
fn kill_from_cluster_kills_one_query_by_user_without_a_caller_check() {
    let table = table();
    let manager = manager(enforced(Config::default()));
    let id = login(&manager, &table, NOW).unwrap();
    let query = manager.begin_query(NOW, id, "GO", &table).unwrap();
    let other = manager.begin_query(NOW, id, "GO", &table).unwrap();
    let key = QueryKey { session: query.session, plan: query.plan };
    assert!(manager.kill_from_cluster(key, "root"));
    assert_eq!(query.handle.check(), Err(Killed { cause: KillCause::User }));
    assert!(other.handle.check().is_ok());
    // Killed already, or not running here: false.
    assert!(!manager.kill_from_cluster(key, "root"));
    let unknown_plan = QueryKey { session: query.session, plan: generators(9).1.next().unwrap() };
    assert!(!manager.kill_from_cluster(unknown_plan, "root"));
    let unknown_session = QueryKey { session: sid(999), plan: query.plan };
    assert!(!manager.kill_from_cluster(unknown_session, "root"));
    let outcome = manager.finish_query(NOW + 1, query.session, query.plan).unwrap();
    assert_eq!(outcome, QueryOutcome::Killed(Kill::ByUser { user: "root".to_owned() }));
    manager.finish_query(NOW + 1, other.session, other.plan).unwrap();
    assert_eq!(counts(&manager), (1, 1));
    manager.check_invariants().unwrap();
}

#[test]
fn a_snapshot_keeps_space_times_and_installed_sessions_above_the_limit() {
    let table = table();
    let config = enforced(Config { sessions_per_user_ip_max: 1, ..Config::default() });
    let manager = manager(config.clone());
    let id = login(&manager, &table, NOW).unwrap();
    manager.use_space(NOW + 10, id, "nba", &table).unwrap();
    assert_eq!(manager.install_session(NOW + 20, remote(11), &table), Ok(true));
    let snapshot = manager.snapshot();
    let origins: Vec<Origin> = snapshot.body.sessions.iter().map(|record| record.origin).collect();
    assert!(origins.contains(&Origin::LoggedIn) && origins.contains(&Origin::Installed));
    let (session_ids, plan_ids) = generators(4);
    let parts =
        RestoreParts { config, session_ids: Box::new(session_ids), plan_ids, table: &table };
    let restored = SessionManager::restore(&snapshot.to_bytes(), parts).unwrap();
    restored.check_invariants().unwrap();
    assert_eq!(restored.cluster_sessions(), manager.cluster_sessions());
    assert_eq!(counts(&restored), (2, 2));
}
