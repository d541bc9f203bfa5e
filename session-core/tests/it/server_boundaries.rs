//! Boundary tests of the server registry (`src/server/`), one per behaviour a surviving mutant of
//! the session-core mutants run showed untested: the exact limits of the checks on logins and
//! installed sessions, of the node's bounds and timers, and the values the accessors report.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_base::fnv1a64;
use graphsession_core::server::{
    CLIENT_IP_BYTES_MAX, Config, Event, GRAPH_ADDR_BYTES_MAX, IDLE_TIMEOUT_MS_MAX,
    IDLE_TIMEOUT_MS_MIN, InstalledSession, Login, PasswordCheck, Refusal, RestoreParts,
    SHARD_COUNT_MAX, ServerError, SessionManager, SnapshotError,
};
use graphsession_id_gen::SessionId;
use graphsession_permission::{
    Caller, Policy, RoleTable, SPACE_NAME_BYTES_MAX, USER_NAME_BYTES_MAX,
};

use graphsession_query_plan::QueryError;

use crate::server_behaviour::table;
use crate::server_support::{IP, NOW, manager};

fn fresh() -> SessionManager {
    manager(Config { policy: Policy::ENFORCED, ..Config::default() })
}

fn sid(value: i64) -> SessionId {
    SessionId::new(value).unwrap()
}

/// A session of alice from `client_ip` created on another node, in "nba".
fn remote(session: i64, client_ip: &str) -> InstalledSession<'_> {
    InstalledSession {
        session: sid(session),
        user: "alice",
        client_ip,
        space: "nba",
        space_set_unix_ms: NOW - 50,
        created_unix_ms: NOW - 100,
        last_activity_unix_ms: NOW - 10,
    }
}

#[test]
fn an_installed_client_ip_of_exactly_the_maximum_length_is_accepted_and_one_byte_more_is_not() {
    let table = table();
    let manager = fresh();
    let longest = "1".repeat(CLIENT_IP_BYTES_MAX as usize);
    assert_eq!(manager.install_session(NOW, remote(11, &longest), &table), Ok(true));
    let too_long = "1".repeat(CLIENT_IP_BYTES_MAX as usize + 1);
    let refused = manager.install_session(NOW, remote(12, &too_long), &table);
    let bytes = u64::from(CLIENT_IP_BYTES_MAX) + 1;
    assert_eq!(
        refused,
        Err(ServerError::ClientIpTooLong { bytes, bytes_max: CLIENT_IP_BYTES_MAX })
    );
    assert_eq!(manager.session_count(), 1);
    manager.check_invariants().unwrap();
}

#[test]
fn a_login_client_ip_of_exactly_the_maximum_length_is_accepted_and_one_byte_more_is_not() {
    let table = table();
    let manager = fresh();
    let longest = "1".repeat(CLIENT_IP_BYTES_MAX as usize);
    let login = Login { user: "alice", client_ip: &longest, password: PasswordCheck::Verified };
    manager.login(NOW, login, &table).unwrap();
    let too_long = "1".repeat(CLIENT_IP_BYTES_MAX as usize + 1);
    let login = Login { client_ip: &too_long, ..login };
    let refused = manager.login(NOW, login, &table).unwrap_err();
    let bytes = u64::from(CLIENT_IP_BYTES_MAX) + 1;
    assert_eq!(refused, ServerError::ClientIpTooLong { bytes, bytes_max: CLIENT_IP_BYTES_MAX });
    assert_eq!(manager.user_ip_session_count("alice", &longest), 1);
}

#[test]
fn an_installed_session_with_a_bad_space_name_is_refused_and_without_a_space_is_installed() {
    let table = table();
    let manager = fresh();
    let long_space = "s".repeat(SPACE_NAME_BYTES_MAX as usize + 1);
    let bad = InstalledSession { space: &long_space, ..remote(11, IP) };
    assert_eq!(manager.install_session(NOW, bad, &table).map_err(|error| error.code()), Err(-1009));
    let none = InstalledSession { space: "", space_set_unix_ms: NOW - 5, ..remote(12, IP) };
    assert_eq!(manager.install_session(NOW, none, &table), Ok(true));
    let views = manager.cluster_sessions();
    assert_eq!(views.len(), 1);
    assert_eq!((views[0].space.as_str(), views[0].space_set_unix_ms), ("", 0));
}

/// The field `config` is refused for, `None` if it is valid.
fn refused_field(config: Config) -> Option<&'static str> {
    config.validate().err().map(|error| error.field)
}

#[test]
fn each_configuration_bound_admits_its_limit_and_refuses_one_past_it() {
    let base = Config::default();
    assert_eq!(refused_field(base.clone()), None);
    for (idle_timeout_ms, refused) in [
        (IDLE_TIMEOUT_MS_MIN - 1, true),
        (IDLE_TIMEOUT_MS_MIN, false),
        (IDLE_TIMEOUT_MS_MAX, false),
        (IDLE_TIMEOUT_MS_MAX + 1, true),
    ] {
        let config = Config { idle_timeout_ms, ..base.clone() };
        assert_eq!(
            refused_field(config),
            refused.then_some("idle_timeout_ms"),
            "{idle_timeout_ms}"
        );
    }
    assert_eq!(refused_field(Config { sessions_max: 0, ..base.clone() }), Some("sessions_max"));
    assert_eq!(refused_field(Config { sessions_max: 1, ..base.clone() }), None);
    for (shard_count, refused) in
        [(0, true), (1, false), (3, true), (SHARD_COUNT_MAX, false), (SHARD_COUNT_MAX * 2, true)]
    {
        let config = Config { shard_count, ..base.clone() };
        assert_eq!(refused_field(config), refused.then_some("shard_count"), "{shard_count}");
    }
    for (bytes, refused) in [(GRAPH_ADDR_BYTES_MAX, false), (GRAPH_ADDR_BYTES_MAX + 1, true)] {
        let config = Config { graph_addr: "a".repeat(bytes as usize), ..base.clone() };
        assert_eq!(refused_field(config), refused.then_some("graph_addr"), "{bytes}");
    }
    assert_eq!(refused_field(Config { events_max: 0, ..base.clone() }), Some("events_max"));
    assert_eq!(refused_field(Config { events_max: 1, ..base }), None);
}

#[test]
fn a_per_user_ip_limit_of_zero_or_below_is_unlimited_and_one_admits_exactly_one() {
    let table = table();
    for (limit, admitted) in [(-1, 3), (0, 3), (1, 1)] {
        let manager = manager(Config { sessions_per_user_ip_max: limit, ..Config::default() });
        let login = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
        let logins = (0..3).filter(|_| manager.login(NOW, login, &table).is_ok()).count();
        assert_eq!(logins, admitted, "limit {limit}");
    }
}

fn login_as(
    manager: &SessionManager,
    table: &RoleTable,
    user: &str,
    password: PasswordCheck,
    now: u64,
) -> Result<(), ServerError> {
    let login = Login { user, client_ip: IP, password };
    manager.login(now, login, table).map(drop)
}

fn locked(user: &str, remaining_secs: u64) -> Result<(), ServerError> {
    Err(ServerError::Locked { attempts: 2, user: user.to_owned(), remaining_secs })
}

#[test]
fn a_locked_user_stays_locked_until_the_last_millisecond_and_may_log_in_at_the_lock_end() {
    let table = table();
    let config =
        Config { failed_login_attempts: 2, password_lock_time_secs: 3, ..Config::default() };
    let manager = manager(config);
    let (rejected, verified) = (PasswordCheck::Rejected, PasswordCheck::Verified);
    let remaining = Err(ServerError::InvalidPasswordRemaining { remaining: 1 });
    assert_eq!(login_as(&manager, &table, "bob", rejected, NOW), remaining);
    assert_eq!(login_as(&manager, &table, "bob", rejected, NOW), locked("bob", 3));
    assert_eq!(login_as(&manager, &table, "bob", verified, NOW + 1), locked("bob", 3));
    assert_eq!(login_as(&manager, &table, "bob", verified, NOW + 2_000), locked("bob", 1));
    assert_eq!(login_as(&manager, &table, "bob", verified, NOW + 2_999), locked("bob", 1));
    assert_eq!(login_as(&manager, &table, "bob", verified, NOW + 3_000), Ok(()));
    // The lock ended and the count starts again from the top.
    assert_eq!(login_as(&manager, &table, "bob", rejected, NOW + 3_000), remaining);
}

#[test]
fn a_full_lockout_table_keeps_counting_its_users_and_leaves_new_ones_unthrottled() {
    let table = table();
    let config = Config {
        failed_login_attempts: 2,
        password_lock_time_secs: 3,
        throttled_users_max: 1,
        ..Config::default()
    };
    let manager = manager(config);
    let rejected = PasswordCheck::Rejected;
    let remaining = Err(ServerError::InvalidPasswordRemaining { remaining: 1 });
    assert_eq!(login_as(&manager, &table, "bob", rejected, NOW), remaining);
    // The table holds one user: alice's failures are answered but not counted.
    for _ in 0..3 {
        assert_eq!(login_as(&manager, &table, "alice", rejected, NOW), remaining);
    }
    assert_eq!(login_as(&manager, &table, "bob", rejected, NOW), locked("bob", 3));
}

fn login_alice(manager: &SessionManager, table: &RoleTable) -> i64 {
    let login = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
    manager.login(NOW, login, table).unwrap().get()
}

#[test]
fn a_variable_of_exactly_the_byte_limit_is_set_and_one_byte_more_is_refused() {
    let table = table();
    let manager = manager(Config { variable_bytes_max: 8, ..Config::default() });
    let id = login_alice(&manager, &table);
    assert_eq!(manager.set_variable(NOW, id, "ab", "cdefgh"), Ok(()));
    let refused = manager.set_variable(NOW, id, "ab", "cdefghi");
    assert_eq!(refused, Err(ServerError::VariableTooLong { bytes: 9, bytes_max: 8 }));
    let variables = manager.variables(NOW, id).unwrap();
    assert_eq!(variables.into_iter().collect::<Vec<_>>(), [("ab".to_owned(), "cdefgh".to_owned())]);
}

#[test]
fn a_session_at_its_variable_limit_still_overwrites_its_own_but_takes_no_new_one() {
    let table = table();
    let manager = manager(Config { variables_per_session_max: 2, ..Config::default() });
    let id = login_alice(&manager, &table);
    assert_eq!(manager.set_variable(NOW, id, "a", "1"), Ok(()));
    assert_eq!(manager.set_variable(NOW, id, "b", "2"), Ok(()));
    let full = Err(ServerError::VariablesFull { variables_max: 2 });
    assert_eq!(manager.set_variable(NOW, id, "c", "3"), full);
    assert_eq!(manager.set_variable(NOW, id, "a", "4"), Ok(()));
    let variables: Vec<_> = manager.variables(NOW, id).unwrap().into_iter().collect();
    let expected =
        [("a", "4"), ("b", "2")].map(|(name, value)| (name.to_owned(), value.to_owned()));
    assert_eq!(variables, expected);
}

#[test]
fn a_space_name_of_exactly_the_maximum_length_can_be_used_and_one_byte_more_cannot() {
    let table = table();
    let manager = fresh();
    let login = Login { user: "root", client_ip: IP, password: PasswordCheck::Verified };
    let id = manager.login(NOW, login, &table).unwrap().get();
    let longest = "s".repeat(SPACE_NAME_BYTES_MAX as usize);
    assert_eq!(manager.use_space(NOW, id, &longest, &table), Ok(()));
    let too_long = "s".repeat(SPACE_NAME_BYTES_MAX as usize + 1);
    assert_eq!(
        manager.use_space(NOW, id, &too_long, &table).map_err(|error| error.code()),
        Err(-1009)
    );
    assert_eq!(manager.use_space(NOW, id, "", &table).map_err(|error| error.code()), Err(-1009));
}

#[test]
fn a_login_name_no_role_table_can_hold_is_an_unknown_user_counted_as_a_bad_password() {
    let table = table();
    let manager = fresh();
    let too_long = "u".repeat(USER_NAME_BYTES_MAX as usize + 1);
    for user in ["", too_long.as_str()] {
        let refused = login_as(&manager, &table, user, PasswordCheck::Verified, NOW);
        assert_eq!(refused, Err(ServerError::UserNotExist), "{user:?}");
    }
    // A name of a valid length the table does not know, and a too-long ip: the other class.
    let stranger = login_as(&manager, &table, "mallory", PasswordCheck::Verified, NOW);
    assert_eq!(stranger, Err(ServerError::UserNotFound { user: "mallory".to_owned() }));
    let long_ip = "1".repeat(CLIENT_IP_BYTES_MAX as usize + 1);
    let login = Login { user: "alice", client_ip: &long_ip, password: PasswordCheck::Verified };
    assert!(manager.login(NOW, login, &table).is_err());
    let stats = manager.stats();
    assert_eq!((stats.refused_by_password, stats.refused_other, stats.active), (2, 2, 0));
    let refusals: Vec<(Refusal, i32)> = std::iter::from_fn(|| manager.poll_event())
        .filter_map(|event| match event {
            Event::LoginRefused { refusal, code, .. } => Some((refusal, code)),
            Event::Session { .. } => None,
        })
        .collect();
    let bad_password = (Refusal::BadPassword, ServerError::UserNotExist.code());
    assert_eq!(
        refusals,
        [bad_password, bad_password, (Refusal::Other, -1002), (Refusal::Other, -1002)]
    );
}

#[test]
fn the_registry_reports_its_configuration_and_newest_time() {
    let config = Config { idle_timeout_ms: 5_000, shard_count: 2, ..Config::default() };
    let manager = manager(config.clone());
    assert_eq!(manager.config(), &config);
    assert_eq!(manager.now_unix_ms(), 0);
    assert_eq!(manager.handle_timeout(NOW + 7), 0);
    assert_eq!(manager.now_unix_ms(), NOW + 7);
    assert_eq!(manager.handle_timeout(NOW), 0);
    assert_eq!(manager.now_unix_ms(), NOW + 7, "a clock that steps back is clamped");
}

#[test]
fn finishing_a_query_that_is_not_running_blames_the_query_while_the_session_lives() {
    let table = table();
    let manager = fresh();
    let id = login_alice(&manager, &table);
    let query = manager.begin_query(NOW, id, "GO", &table).unwrap();
    manager.finish_query(NOW, query.session, query.plan).unwrap();
    // Live, but with no query left (so not open in its query registry): the query is missing.
    let again = manager.finish_query(NOW, query.session, query.plan).unwrap_err();
    let missing = QueryError::QueryNotFoundInSession { session: query.session, plan: query.plan };
    assert_eq!(again, ServerError::Query(missing));
    assert_eq!(again.code(), -2073);
    // Signed out: the session is missing.
    assert!(manager.sign_out(NOW, id));
    let gone = manager.fail_query(NOW, query.session, query.plan, "late").unwrap_err();
    assert_eq!(gone, ServerError::Query(QueryError::SessionNotFound { session: query.session }));
    assert_eq!(gone.code(), -2069);
}

#[test]
fn the_configured_query_limits_apply_and_a_refused_query_is_not_left_counted_as_running() {
    let table = table();
    let queries = graphsession_query_plan::Config {
        queries_per_session_max: 1,
        ..graphsession_query_plan::Config::default()
    };
    let manager = manager(Config { queries, ..Config::default() });
    let id = login_alice(&manager, &table);
    let running = manager.begin_query(NOW, id, "GO", &table).unwrap();
    let refused = manager.begin_query(NOW, id, "GO", &table).unwrap_err();
    let full =
        QueryError::SessionQueriesFull { session: running.session, queries_per_session_max: 1 };
    assert_eq!(refused, ServerError::Query(full));
    // The refused query was counted on the session when it was found: the count is lowered
    // again, so the session runs exactly the one query its registry holds.
    manager.check_invariants().unwrap();
    manager.finish_query(NOW, running.session, running.plan).unwrap();
    assert_eq!(manager.session_stats(id).unwrap().queries_active, 0);
}

#[test]
fn show_queries_lists_every_visible_running_query_of_every_shard_by_session_and_plan() {
    let table = table();
    let manager = manager(Config { policy: Policy::ENFORCED, shard_count: 4, ..Config::default() });
    let mut started: Vec<(SessionId, graphsession_id_gen::PlanId, &str)> = Vec::new();
    for user in ["alice", "bob", "alice", "bob"] {
        let login = Login { user, client_ip: IP, password: PasswordCheck::Verified };
        let id = manager.login(NOW, login, &table).unwrap();
        for statement in ["GO", "MATCH"] {
            let query = manager.begin_query(NOW, id.get(), statement, &table).unwrap();
            started.push((query.session, query.plan, user));
        }
    }
    started.sort_unstable();
    let root = Caller::resolve(&table, "root", None);
    let rows = manager.show_queries(NOW + 3, &root);
    let listed: Vec<_> =
        rows.iter().map(|row| (row.session_id, row.execution_plan_id, row.user.as_str())).collect();
    assert_eq!(listed, started);
    assert!(rows.iter().all(|row| row.duration_us == 3_000 && row.host == "127.0.0.1:9669"));
    // A USER sees only its own queries (fix 7, docs/fixes.md).
    let alice = Caller::resolve(&table, "alice", Some("nba"));
    let own = manager.show_queries(NOW + 3, &alice);
    assert_eq!(own.len(), 4);
    assert!(own.iter().all(|row| row.user == "alice"));
}

#[test]
fn a_snapshots_statistics_leave_out_what_a_restart_resets() {
    let table = table();
    let manager = manager(Config { events_max: 1, ..Config::default() });
    login_alice(&manager, &table);
    login_alice(&manager, &table);
    let live = manager.stats();
    assert_eq!((live.active, live.events_queued, live.events_dropped), (2, 1, 1));
    // Active sessions are counted again from the restored sessions, and the event queue
    // starts empty: neither is part of the persisted statistics.
    let stats = manager.snapshot().body.stats;
    assert_eq!((stats.active, stats.events_queued, stats.events_dropped), (0, 0, 0));
    assert_eq!(stats.opened, 2);
}

#[test]
fn show_sessions_without_a_cluster_is_show_local_sessions_and_god_only() {
    let table = table();
    let manager = fresh();
    login_alice(&manager, &table);
    login_alice(&manager, &table);
    let root = Caller::resolve(&table, "root", None);
    let rows = manager.show_sessions(&root).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows, manager.show_local_sessions(&root).unwrap());
    let alice = Caller::resolve(&table, "alice", Some("nba"));
    assert_eq!(manager.show_sessions(&alice).map_err(|error| error.code()), Err(-1008));
}

#[test]
fn a_body_with_bytes_after_the_snapshot_is_refused_even_with_a_matching_checksum() {
    let table = table();
    let manager = fresh();
    login_alice(&manager, &table);
    let bytes = manager.snapshot().to_bytes();
    // Magic (8), format version (4), checksum (8), body length (8), body.
    let mut body = bytes[28..].to_vec();
    body.push(0);
    let mut forged = bytes[..12].to_vec();
    forged.extend_from_slice(&fnv1a64(&body).to_le_bytes());
    forged.extend_from_slice(&(body.len() as u64).to_le_bytes());
    forged.extend_from_slice(&body);
    let (session_ids, plan_ids) = crate::server_support::generators(4);
    let parts = RestoreParts {
        config: Config::default(),
        session_ids: Box::new(session_ids),
        plan_ids,
        table: &table,
    };
    let refused = SessionManager::restore(&forged, parts).map(|_| ()).unwrap_err();
    assert_eq!(refused, SnapshotError::TrailingBytes { bytes: 1 });
}

/// An id source that issues one id again and again: what a lease overlapping a restored
/// snapshot's ids would amount to.
#[derive(Debug)]
struct RepeatingIds(SessionId);

impl graphsession_id_gen::SessionIdSource for RepeatingIds {
    fn next_session_id(
        &self,
        _now_unix_ms: u64,
    ) -> Result<SessionId, graphsession_id_gen::IdError> {
        Ok(self.0)
    }
}

#[test]
fn a_login_given_an_id_already_open_is_refused_and_changes_nothing_but_the_refusal() {
    let table = table();
    let (_, plans) = crate::server_support::generators(3);
    let manager = SessionManager::new(Config::default(), RepeatingIds(sid(42)), plans).unwrap();
    let alice = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
    assert_eq!(manager.login(NOW, alice, &table), Ok(sid(42)));
    while manager.poll_event().is_some() {}
    let again = Login { user: "bob", client_ip: "10.0.0.2", password: PasswordCheck::Verified };
    assert_eq!(
        manager.login(NOW + 1, again, &table),
        Err(ServerError::Query(QueryError::SessionAlreadyOpen { session: sid(42) }))
    );
    // The open session is alice's as it was; bob's counts were given back.
    assert_eq!(manager.session_count(), 1);
    assert_eq!(manager.user_ip_session_count("alice", IP), 1);
    assert_eq!(manager.user_ip_session_count("bob", "10.0.0.2"), 0);
    let stats = manager.stats();
    assert_eq!((stats.opened, stats.refused_other), (1, 1));
    assert!(matches!(
        manager.poll_event(),
        Some(Event::LoginRefused { refusal: Refusal::Other, .. })
    ));
    assert_eq!(manager.poll_event(), None);
    manager.check_invariants().unwrap();
    // An install of the same id is no install, and leaves the counts as they were.
    assert_eq!(manager.install_session(NOW + 2, remote(42, IP), &table), Ok(false));
    assert_eq!((manager.session_count(), manager.user_ip_session_count("alice", IP)), (1, 1));
    manager.check_invariants().unwrap();
    assert!(manager.sign_out(NOW + 3, 42));
    assert_eq!(manager.session_count(), 0);
    manager.check_invariants().unwrap();
}
