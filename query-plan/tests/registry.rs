//! Named scenarios for the NebulaGraph-facing behaviour: KILL QUERY's check order and messages (fix
//! 6), SHOW QUERIES visibility (fix 7), limits, session close, clock regression, timeouts, metrics.
//! The fixes are explained in docs/fixes.md.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{Caller, Policy, Rights, RoleTable};
use graphsession_query_plan::{
    Config, Kill, KillCause, KillOutcome, KillTarget, Killed, QueryCounters, QueryError,
    QueryOutcome, QueryRegistry, QueryRow, QueryStatus, Registration, SessionClosed, SessionEnd,
};

const T0_US: u64 = 1_763_900_000_000_000;
const ALICE_1: SessionId = SessionId::new(11).unwrap();
const ALICE_2: SessionId = SessionId::new(12).unwrap();
const BOB: SessionId = SessionId::new(21).unwrap();
const MISSING: SessionId = SessionId::new(99).unwrap();
const ENFORCED: Policy = Policy { authorization_enabled: true };
const OPEN: Policy = Policy { authorization_enabled: false };

fn plan(counter: u64) -> PlanId {
    PlanId::from_u64(counter)
}

fn user(name: &str) -> Caller {
    Caller::from_rights(name, Rights::none(), None)
}

fn root() -> Caller {
    Caller::resolve(&RoleTable::new(), "root", None)
}

fn run(registry: &mut QueryRegistry, session: SessionId, plan: PlanId, statement: &str) {
    let registration = Registration { session, plan, statement, deadline_unix_us: None };
    registry.register(T0_US, registration).unwrap();
}

/// alice has two sessions (plans 1, 2 in the first; 3 in the second), bob one (plan 4).
fn registry() -> QueryRegistry {
    let mut registry = QueryRegistry::new(Config::default());
    registry.open_session(ALICE_1, "alice", "graphd-1:9669").unwrap();
    registry.open_session(ALICE_2, "alice", "graphd-1:9669").unwrap();
    registry.open_session(BOB, "bob", "graphd-1:9669").unwrap();
    run(&mut registry, ALICE_1, plan(1), "GO FROM 1 OVER e");
    run(&mut registry, ALICE_1, plan(2), "MATCH (v) RETURN v");
    run(&mut registry, ALICE_2, plan(3), "FETCH PROP ON t 1");
    run(&mut registry, BOB, plan(4), "LOOKUP ON t");
    registry
}

#[test]
fn kill_query_of_a_missing_session_is_session_not_found_before_any_permission_check() {
    let mut registry = registry();
    let target = KillTarget::Session { session: MISSING, plan: plan(1) };
    let error = registry.kill_query(&user("bob"), ENFORCED, BOB, target).unwrap_err();
    assert_eq!((error.code(), error.to_string()), (-2069, "SessionId[99] does not exist".into()));
}

#[test]
fn kill_query_of_another_users_session_is_refused_before_revealing_whether_the_plan_exists() {
    let mut registry = registry();
    for (probe, policy) in [(plan(1), ENFORCED), (plan(77), ENFORCED), (plan(77), OPEN)] {
        let target = KillTarget::Session { session: ALICE_1, plan: probe };
        let error = registry.kill_query(&user("bob"), policy, BOB, target).unwrap_err();
        assert_eq!(error.code(), -1008);
        assert_eq!(error.to_string(), "PermissionError: Only GOD role could kill others' queries.");
    }
    assert_eq!(
        registry.phase(ALICE_1, plan(1)),
        Some(graphsession_query_plan::QueryPhase::Running)
    );
    registry.check_invariants().unwrap();
}

#[test]
fn kill_query_of_a_missing_plan_has_a_real_message_in_both_forms() {
    let mut registry = registry();
    let current = KillTarget::CurrentSession { plan: plan(77) };
    let error = registry.kill_query(&user("alice"), ENFORCED, ALICE_1, current).unwrap_err();
    let expected = "ExecutionPlanId[77] does not exist in current Session.";
    assert_eq!((error.code(), error.to_string()), (-2073, expected.into()));

    let named = KillTarget::Session { session: ALICE_2, plan: plan(1) };
    let error = registry.kill_query(&user("alice"), ENFORCED, ALICE_1, named).unwrap_err();
    let expected = "ExecutionPlanId[1] does not exist in Session[12].";
    assert_eq!((error.code(), error.to_string()), (-2073, expected.into()));
}

#[test]
fn a_user_kills_queries_of_any_session_of_the_same_user_and_god_kills_anyones() {
    let mut registry = registry();
    let alice_other_session = KillTarget::Session { session: ALICE_2, plan: plan(3) };
    let killed = registry.kill_query(&user("alice"), ENFORCED, ALICE_1, alice_other_session);
    assert_eq!(killed, Ok(KillOutcome::Requested));
    let bobs = KillTarget::Session { session: BOB, plan: plan(4) };
    assert_eq!(registry.kill_query(&root(), ENFORCED, ALICE_1, bobs), Ok(KillOutcome::Requested));
    let again = registry.kill_query(
        &user("bob"),
        ENFORCED,
        BOB,
        KillTarget::CurrentSession { plan: plan(4) },
    );
    assert_eq!(again, Ok(KillOutcome::AlreadyRequested { cause: KillCause::User }));

    let outcome = registry.finish(BOB, plan(4)).unwrap();
    assert_eq!(outcome, QueryOutcome::Killed(Kill::ByUser { user: "root".into() }));
    let error = outcome.into_client_result().unwrap_err();
    assert_eq!((error.code(), error.to_string()), (-1005, "Execution had been killed".into()));
    registry.check_invariants().unwrap();
}

#[test]
fn show_queries_shows_a_non_god_caller_only_its_own_users_queries() {
    let mut registry = registry();
    let plans = |rows: Vec<QueryRow>| {
        rows.iter().map(|row| row.execution_plan_id.get()).collect::<Vec<_>>()
    };
    assert_eq!(plans(registry.show_queries(T0_US, &user("alice"), OPEN)), [1, 2, 3]);
    assert_eq!(plans(registry.show_queries(T0_US, &user("bob"), ENFORCED)), [4]);
    assert_eq!(plans(registry.show_queries(T0_US, &user("carol"), OPEN)), Vec::<u64>::new());
    assert_eq!(plans(registry.show_queries(T0_US, &root(), ENFORCED)), [1, 2, 3, 4]);
    assert_eq!(plans(registry.show_local_queries(T0_US, ALICE_1).unwrap()), [1, 2]);

    registry.request_kill(BOB, plan(4), Kill::SessionKilled).unwrap();
    let rows = registry.show_queries(T0_US + 1_500, &user("bob"), ENFORCED);
    assert_eq!(
        rows,
        [QueryRow {
            session_id: BOB,
            execution_plan_id: plan(4),
            user: "bob".into(),
            host: "graphd-1:9669".into(),
            start_time_unix_us: T0_US,
            duration_us: 1_500,
            status: QueryStatus::Killing,
            query: "LOOKUP ON t".into(),
        }]
    );
    assert_eq!(
        QueryRow::COLUMNS.join(","),
        "SessionID,ExecutionPlanID,User,Host,StartTime,DurationInUSec,Status,Query"
    );
}

#[test]
fn each_limit_is_a_typed_error_and_a_refusal_changes_nothing() {
    let config = Config {
        sessions_max: 2,
        queries_per_session_max: 2,
        queries_per_node_max: 3,
        statement_bytes_max: 4,
    };
    let mut registry = QueryRegistry::new(config);
    registry.open_session(ALICE_1, "alice", "h").unwrap();
    registry.open_session(BOB, "bob", "h").unwrap();
    let full = registry.open_session(ALICE_2, "alice", "h").unwrap_err();
    assert_eq!((full.code(), full), (-1005, QueryError::SessionsFull { sessions_max: 2 }));
    let twice = registry.open_session(BOB, "bob", "h").unwrap_err();
    assert_eq!(twice.code(), -1002);
    let long_user = registry.open_session(ALICE_2, &"u".repeat(257), "h").unwrap_err();
    assert!(matches!(long_user, QueryError::SessionFieldTooLong { field: "user name", .. }));

    let mut register = |session, counter, statement| {
        let registration =
            Registration { session, plan: plan(counter), statement, deadline_unix_us: Some(T0_US) };
        registry.register(T0_US, registration).map(drop)
    };
    assert_eq!(
        register(ALICE_1, 1, "12345"),
        Err(QueryError::StatementTooLong { statement_bytes: 5, statement_bytes_max: 4 })
    );
    register(ALICE_1, 1, "1234").unwrap();
    assert_eq!(
        register(ALICE_1, 1, "q"),
        Err(QueryError::QueryAlreadyRegistered { session: ALICE_1, plan: plan(1) })
    );
    register(ALICE_1, 2, "q").unwrap();
    assert_eq!(
        register(ALICE_1, 3, "q"),
        Err(QueryError::SessionQueriesFull { session: ALICE_1, queries_per_session_max: 2 })
    );
    register(BOB, 4, "q").unwrap();
    assert_eq!(register(BOB, 5, "q"), Err(QueryError::NodeQueriesFull { queries_per_node_max: 3 }));
    assert_eq!(register(MISSING, 6, "q"), Err(QueryError::SessionNotFound { session: MISSING }));

    assert_eq!(registry.query_count(), 3);
    assert_eq!(registry.counters().started, 3);
    registry.check_invariants().unwrap();
}

#[test]
fn closing_a_session_kills_its_queries_and_the_executor_sees_the_same_outcome() {
    let mut registry = registry();
    let handle = registry.handle(ALICE_1, plan(1)).unwrap();
    registry.request_kill(ALICE_1, plan(2), Kill::ByUser { user: "root".into() }).unwrap();
    let closed = registry.close_session(ALICE_1, SessionEnd::Expired).unwrap();
    assert_eq!(closed, SessionClosed { queries_ended: 2, queries_killed: 1 });
    assert_eq!(handle.check(), Err(Killed { cause: KillCause::SessionExpired }));
    assert_eq!(handle.finish(), Err(Killed { cause: KillCause::SessionExpired }));
    assert_eq!(
        registry.finish(ALICE_1, plan(1)),
        Err(QueryError::SessionNotFound { session: ALICE_1 })
    );
    let counters = registry.counters();
    assert_eq!((counters.killed_by_session_expiry, counters.killed_by_user), (1, 1));
    assert_eq!(
        registry.close_session(ALICE_1, SessionEnd::Killed),
        Err(QueryError::SessionNotFound { session: ALICE_1 })
    );
    registry.check_invariants().unwrap();
}

#[test]
fn a_clock_that_goes_backwards_is_clamped_and_never_expires_anything_early() {
    let mut registry = QueryRegistry::new(Config::default());
    registry.open_session(BOB, "bob", "h").unwrap();
    assert_eq!(registry.handle_timeout(T0_US), 0);
    let deadline_unix_us = Some(T0_US + 100);
    let registration =
        Registration { session: BOB, plan: plan(1), statement: "q", deadline_unix_us };
    registry.register(T0_US - 5_000, registration).unwrap();
    let rows = registry.show_local_queries(0, BOB).unwrap();
    assert_eq!((rows[0].start_time_unix_us, rows[0].duration_us), (T0_US, 0));
    assert_eq!(registry.handle_timeout(T0_US + 99), 0);
    assert_eq!(registry.handle_timeout(1), 0);
    assert_eq!(registry.now_unix_us(), T0_US + 99);
    assert_eq!(registry.poll_timeout(), deadline_unix_us);
    assert_eq!(registry.handle_timeout(T0_US + 100), 1);
    assert_eq!(registry.poll_timeout(), None);
    let outcome = registry.fail(BOB, plan(1), "stopped").unwrap();
    assert_eq!(outcome, QueryOutcome::Killed(Kill::Timeout { deadline_unix_us: T0_US + 100 }));
    assert_eq!(registry.counters().timed_out, 1);
    registry.check_invariants().unwrap();
}

#[test]
fn finished_and_killed_queries_leave_the_deadline_index() {
    let mut registry = QueryRegistry::new(Config::default());
    registry.open_session(BOB, "bob", "h").unwrap();
    for counter in 1..=3 {
        let deadline_unix_us = Some(T0_US + counter);
        let registration =
            Registration { session: BOB, plan: plan(counter), statement: "q", deadline_unix_us };
        registry.register(T0_US, registration).unwrap();
    }
    assert_eq!(registry.finish(BOB, plan(1)), Ok(QueryOutcome::Finished));
    assert_eq!(registry.poll_timeout(), Some(T0_US + 2));
    registry.request_kill(BOB, plan(2), Kill::SessionKilled).unwrap();
    assert_eq!(registry.poll_timeout(), Some(T0_US + 3));
    assert_eq!(
        registry.fail(BOB, plan(3), "disk"),
        Ok(QueryOutcome::Failed { reason: "disk".into() })
    );
    assert_eq!(registry.poll_timeout(), None);
    assert_eq!(registry.handle_timeout(u64::MAX), 0);
    registry.check_invariants().unwrap();
}

#[test]
fn counters_serialize_for_a_metrics_exporter() {
    let mut registry = registry();
    registry.finish(ALICE_1, plan(1)).unwrap();
    let json = serde_json::to_string(&registry.counters()).unwrap();
    let back: QueryCounters = serde_json::from_str(&json).unwrap();
    assert_eq!(back, registry.counters());
    assert!(json.contains("\"started\":4") && json.contains("\"finished\":1"), "{json}");
}

#[test]
fn the_registry_reports_the_limits_it_was_built_with() {
    let config = Config {
        sessions_max: 7,
        queries_per_session_max: 5,
        queries_per_node_max: 11,
        statement_bytes_max: 64,
    };
    assert_eq!(QueryRegistry::new(config).config(), config);
}

#[test]
fn a_user_name_or_host_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not() {
    let mut registry = QueryRegistry::new(Config::default());
    let at_limit = "u".repeat(256);
    registry.open_session(ALICE_1, &at_limit, "h").unwrap();
    registry.open_session(ALICE_2, "alice", &"h".repeat(256)).unwrap();
    let over = registry.open_session(BOB, &"u".repeat(257), "h").unwrap_err();
    assert_eq!(
        over,
        QueryError::SessionFieldTooLong { field: "user name", bytes: 257, bytes_max: 256 }
    );
    let over = registry.open_session(BOB, "bob", &"h".repeat(257)).unwrap_err();
    assert_eq!(over, QueryError::SessionFieldTooLong { field: "host", bytes: 257, bytes_max: 256 });
    assert_eq!(registry.session_count(), 2);
    registry.check_invariants().unwrap();
}

#[test]
fn the_published_bad_permission_code_is_the_one_a_refused_kill_returns() {
    let mut registry = registry();
    let target = KillTarget::Session { session: ALICE_1, plan: plan(1) };
    let error = registry.kill_query(&user("bob"), ENFORCED, BOB, target).unwrap_err();
    assert_eq!(error.code(), graphsession_query_plan::error_code::E_BAD_PERMISSION);
    assert_eq!(graphsession_query_plan::error_code::E_BAD_PERMISSION, -1008);
}

#[test]
fn query_status_prints_nebulagraphs_text_the_same_way_as_it_serializes() {
    for (status, text) in [(QueryStatus::Running, "RUNNING"), (QueryStatus::Killing, "KILLING")] {
        assert_eq!(status.as_str(), text);
        assert_eq!(status.to_string(), text);
        assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{text}\""));
    }
}

#[test]
fn an_idle_session_can_be_closed_and_one_with_queries_cannot() {
    let mut registry = registry();
    assert!(!registry.close_session_if_idle(ALICE_1), "two queries run in it");
    assert!(!registry.close_session_if_idle(MISSING));
    registry.finish(ALICE_2, plan(3)).unwrap();
    assert!(registry.close_session_if_idle(ALICE_2));
    assert_eq!((registry.session_count(), registry.session_user(ALICE_2)), (2, None));
    assert!(!registry.close_session_if_idle(ALICE_2), "closed already");
    // A killed query that is not removed yet still holds its session.
    let kill = Kill::SessionKilled;
    registry.request_kill(BOB, plan(4), kill).unwrap();
    assert!(!registry.close_session_if_idle(BOB));
    registry.check_invariants().unwrap();
}
