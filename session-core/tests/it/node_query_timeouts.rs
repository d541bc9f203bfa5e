//! GraphNode's query timeouts: the node's `query_timeout_ms` and a session's own
//! `query_timeout_ms` variable (`SET SESSION`) give each query a deadline; `poll_timeout` names
//! it, `handle_timeout` kills the query there (its executor sees the kill, SHOW QUERIES says
//! KILLING), and its reply is -1005 "Execution had been killed: query timed out" whatever the
//! executor returns: never a success.

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{Config, GraphNode, Reply, SessionStatement, Value};
use graphsession_core::server::{QUERY_TIMED_OUT, QUERY_TIMEOUT_MS_MAX, QUERY_TIMEOUT_VARIABLE};
use graphsession_query_plan::{KillCause, KillTarget, QueryKey, QueryPhase};

use crate::node_support::{Harness, START, Setup, code, data, message, parts};

const KILLED: &str = "Execution had been killed";

/// One node whose queries time out after `timeout_ms` unless their session says otherwise.
fn harness(timeout_ms: u64) -> Harness {
    let tune: fn(&mut Config) = match timeout_ms {
        0 => |_| {},
        1_500 => |config| config.server.query_timeout_ms = 1_500,
        _ => unreachable!("the tests use 0 or 1500"),
    };
    Harness::with(Setup { tune, ..Setup::nodes(1) })
}

fn set_timeout(value: &str) -> SessionStatement {
    SessionStatement::SetVariable { name: QUERY_TIMEOUT_VARIABLE.into(), value: value.into() }
}

fn timed_out(reply: &Reply) -> bool {
    code(reply) == E_EXECUTION_ERROR && message(reply) == QUERY_TIMED_OUT
}

fn phase(h: &Harness, key: QueryKey) -> QueryPhase {
    h.handle_of(key).query.handle.phase()
}

#[test]
fn the_nodes_timeout_kills_a_query_at_its_deadline_and_the_reply_is_1005_timed_out() {
    let mut h = harness(1_500);
    let (conn, alice) = h.open(0, "alice");
    let started = h.now;
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    assert_eq!(h.handle_of(key).query.deadline_unix_ms, Some(started + 1_500));
    assert!(h.nodes[0].poll_timeout().is_some_and(|at| at <= started + 1_500));
    h.advance(1_499);
    assert_eq!(phase(&h, key), QueryPhase::Running, "one millisecond before its deadline");
    h.advance(1);
    assert_eq!(phase(&h, key), QueryPhase::KillRequested(KillCause::Timeout));
    let killed = h.handle_of(key).query.handle.check().expect_err("the executor sees the kill");
    assert_eq!(killed.cause, KillCause::Timeout);
    // The executor stops at its check and fails the query with NebulaGraph's text.
    h.fail(key, E_EXECUTION_ERROR, KILLED);
    let reply = h.last_reply(conn).unwrap();
    assert!(timed_out(&reply), "{reply:?}");
    assert_eq!(h.nodes[0].registry().session_stats(alice).unwrap().queries_active, 0);
}

#[test]
fn an_executor_that_returns_a_result_after_the_deadline_still_gets_no_success() {
    let mut h = harness(1_500);
    let (conn, alice) = h.open(0, "alice");
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    h.advance(2_000);
    h.finish(key, None);
    let reply = h.last_reply(conn).unwrap();
    assert!(timed_out(&reply), "{reply:?}");
}

#[test]
fn a_query_that_returns_before_its_deadline_succeeds_and_its_timer_goes_quietly() {
    let mut h = harness(1_500);
    let (conn, alice) = h.open(0, "alice");
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    h.advance(1_000);
    h.finish(key, None);
    assert!(matches!(h.last_reply(conn), Some(Reply::Executed { .. })));
    // Its deadline may still wake the node once; that round kills nothing.
    h.advance(600);
    h.query(conn, alice, "GO FROM 2 OVER follow");
    let next = h.run_of("GO FROM 2 OVER follow");
    assert_eq!(phase(&h, next), QueryPhase::Running);
    assert_eq!(h.nodes[0].registry().poll_query_timeout(), Some(h.now + 1_500));
}

#[test]
fn show_queries_shows_a_timed_out_query_killing_until_its_executor_returns() {
    let mut h = harness(1_500);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    h.advance(1_500);
    let reply = h.show_queries(admin, root);
    let rows = &data(&reply).rows;
    let row = rows.iter().find(|row| row[0] == Value::Int(alice)).expect("alice's query");
    assert_eq!(row[1], Value::Int(i64::try_from(key.plan.get()).unwrap()));
    assert_eq!(row[6], Value::Str("KILLING".into()));
    h.fail(key, E_EXECUTION_ERROR, KILLED);
    let reply = h.show_queries(admin, root);
    assert!(data(&reply).rows.iter().all(|row| row[0] != Value::Int(alice)), "{reply:?}");
}

#[test]
fn a_sessions_own_timeout_overrides_the_nodes_and_zero_turns_it_off() {
    let mut h = harness(1_500);
    let (conn, alice) = h.open(0, "alice");
    let reply = h.run_statement(conn, alice, set_timeout("200"));
    assert!(matches!(reply, Reply::Executed { data: None, .. }), "{reply:?}");
    let variables = h.nodes[0].registry().variables(h.now, alice).unwrap();
    assert_eq!(variables.get(QUERY_TIMEOUT_VARIABLE).map(String::as_str), Some("200"));
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    assert_eq!(h.handle_of(key).query.deadline_unix_ms, Some(h.now + 200));
    h.advance(200);
    assert_eq!(phase(&h, key), QueryPhase::KillRequested(KillCause::Timeout));
    h.finish(key, None);
    assert!(timed_out(&h.last_reply(conn).unwrap()));

    h.run_statement(conn, alice, set_timeout("0"));
    h.query(conn, alice, "GO FROM 2 OVER follow");
    let key = h.run_of("GO FROM 2 OVER follow");
    assert_eq!(h.handle_of(key).query.deadline_unix_ms, None);
    h.advance(10_000);
    assert_eq!(phase(&h, key), QueryPhase::Running, "no timeout for this session");
    h.finish(key, None);
    assert!(matches!(h.last_reply(conn), Some(Reply::Executed { .. })));
}

#[test]
fn a_session_may_set_a_timeout_on_a_node_without_one_and_other_sessions_keep_none() {
    let mut h = harness(0);
    let (conn, alice) = h.open(0, "alice");
    let (other, bob) = h.open(0, "bob");
    h.run_statement(conn, alice, set_timeout("50"));
    h.query(conn, alice, "GO FROM 1 OVER follow");
    h.query(other, bob, "GO FROM 2 OVER follow");
    let (mine, theirs) = (h.run_of("GO FROM 1 OVER follow"), h.run_of("GO FROM 2 OVER follow"));
    h.advance(50);
    assert_eq!(phase(&h, mine), QueryPhase::KillRequested(KillCause::Timeout));
    assert_eq!(phase(&h, theirs), QueryPhase::Running);
    assert_eq!(h.nodes[0].registry().poll_query_timeout(), None, "no deadline is left");
    h.finish(mine, None);
    h.finish(theirs, None);
    assert!(timed_out(&h.last_reply(conn).unwrap()));
    assert!(matches!(h.last_reply(other), Some(Reply::Executed { .. })));
}

#[test]
fn a_timeout_that_is_not_milliseconds_up_to_a_week_is_refused_with_1009_and_changes_nothing() {
    let mut h = harness(1_500);
    let (conn, alice) = h.open(0, "alice");
    h.run_statement(conn, alice, set_timeout("300"));
    let too_long = (QUERY_TIMEOUT_MS_MAX + 1).to_string();
    for refused in ["-1", "1.5", "soon", "", too_long.as_str()] {
        let reply = h.run_statement(conn, alice, set_timeout(refused));
        assert_eq!(code(&reply), -1009, "{refused:?}: {reply:?}");
        assert!(message(&reply).starts_with("SemanticError: query_timeout_ms"), "{reply:?}");
    }
    let variables = h.nodes[0].registry().variables(h.now, alice).unwrap();
    assert_eq!(variables.get(QUERY_TIMEOUT_VARIABLE).map(String::as_str), Some("300"));
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    assert_eq!(h.handle_of(key).query.deadline_unix_ms, Some(h.now + 300));
}

#[test]
fn a_kill_before_the_deadline_keeps_its_own_cause_and_text() {
    let mut h = harness(1_500);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    let target = KillTarget::Session { session: key.session, plan: key.plan };
    h.run_statement(admin, root, SessionStatement::KillQuery { target });
    h.advance(2_000);
    assert_eq!(phase(&h, key), QueryPhase::KillRequested(KillCause::User));
    h.fail(key, E_EXECUTION_ERROR, KILLED);
    let reply = h.last_reply(conn).unwrap();
    assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, KILLED));
}

#[test]
fn a_node_timeout_above_a_week_is_refused_at_start() {
    let mut config = Config::default();
    config.server.query_timeout_ms = QUERY_TIMEOUT_MS_MAX + 1;
    let error = GraphNode::new(config, parts(1), START).expect_err("above a week");
    assert!(error.to_string().contains("query_timeout_ms"), "{error}");
    let mut config = Config::default();
    config.server.query_timeout_ms = QUERY_TIMEOUT_MS_MAX;
    assert!(GraphNode::new(config, parts(1), START).is_ok());
}

#[test]
fn a_statement_waiting_on_meta_is_answered_timed_out_at_its_deadline_and_only_once() {
    for statement in [
        SessionStatement::ShowSessions { local: false },
        SessionStatement::ShowQueries { local: false },
    ] {
        waiting_statement_times_out_once(statement);
    }
}

fn waiting_statement_times_out_once(statement: SessionStatement) {
    let mut h = harness(1_500);
    let (admin, root) = h.open(0, "root");
    let replies = h.reply_count(admin);
    h.statement(admin, root, statement);
    assert_eq!(h.reply_count(admin), replies, "the statement waits for meta");
    h.to_meta.clear();
    h.advance(1_499);
    assert_eq!(h.reply_count(admin), replies);
    h.advance(1);
    assert_eq!(h.reply_count(admin), replies + 1);
    assert!(timed_out(&h.last_reply(admin).expect("the timed-out reply")));
    let stats = h.nodes[0].registry().session_stats(root).expect("root's session");
    assert_eq!(stats.queries_active, 0);
    // Meta's answer, when it comes, answers nobody: the connection got its one reply.
    h.next_sync();
    h.next_sync();
    assert_eq!(h.reply_count(admin), replies + 1);
}
