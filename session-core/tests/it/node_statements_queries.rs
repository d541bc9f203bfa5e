//! GraphNode's session statements about queries and the current space: SHOW [LOCAL] QUERIES
//! (the statement itself runs as a query), KILL QUERY decided here or forwarded to meta, and
//! USE, whose space every later reply names.

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{Reply, SessionStatement, Value};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{KillTarget, QueryKey, QueryRow};

use crate::node_support::{Harness, code, data, message, remote_query, space};

const KILLED: &str = "Execution had been killed";

fn kill(key: QueryKey) -> SessionStatement {
    SessionStatement::KillQuery {
        target: KillTarget::Session { session: key.session, plan: key.plan },
    }
}

#[test]
fn show_queries_lists_the_statement_itself_and_other_running_queries_local_only_its_session() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let reply = h.show_queries(admin, root);
    let data = data(&reply);
    assert_eq!(data.column_names, QueryRow::COLUMNS);
    let sessions: Vec<&Value> = data.rows.iter().map(|row| &row[0]).collect();
    assert_eq!(data.rows.len(), 2, "{data:?}");
    assert!(sessions.contains(&&Value::Int(root)) && sessions.contains(&&Value::Int(alice)));
    let texts: Vec<&Value> = data.rows.iter().map(|row| &row[7]).collect();
    assert!(texts.contains(&&Value::Str("GO FROM 1 OVER follow".into())));
    let reply = h.run_statement(admin, root, SessionStatement::ShowQueries { local: true });
    let local = crate::node_support::data(&reply);
    assert_eq!(local.rows.len(), 1);
    assert_eq!(local.rows[0][0], Value::Int(root));
    assert_eq!(local.rows[0][6], Value::Str("RUNNING".into()));
    assert_eq!(h.nodes[0].registry().session_stats(root).unwrap().queries_active, 0);
}

#[test]
fn kill_query_of_a_query_running_here_stops_its_executor_and_its_reply_is_1005_killed() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    let (other, alice_again) = (h.connect(0), alice);
    h.query(conn, alice, "GO FROM 1 OVER follow");
    h.query(other, alice_again, "GO FROM 2 OVER follow");
    let (first, second) = (h.run_of("GO FROM 1 OVER follow"), h.run_of("GO FROM 2 OVER follow"));
    for key in [first, second] {
        let reply = h.run_statement(admin, root, kill(key));
        assert!(matches!(reply, Reply::Executed { data: None, .. }), "{reply:?}");
        assert!(h.handle_of(key).query.handle.check().is_err(), "the executor sees the kill");
    }
    // One executor stops at its check, the other returns as if it had not seen it.
    h.fail(first, E_EXECUTION_ERROR, KILLED);
    h.finish(second, None);
    for conn in [conn, other] {
        let reply = h.last_reply(conn).unwrap();
        assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, KILLED));
    }
}

#[test]
fn kill_query_of_a_query_on_another_node_is_answered_after_meta_and_reaches_it_at_sync() {
    // Node B's round tells meta the query runs (meta refuses a kill of a plan no node reported).
    let (mut h, (admin, root), (on_b, _), key) = remote_query();
    let replies = h.reply_count(admin);
    h.statement(admin, root, kill(key));
    assert_eq!(h.to_meta.len(), 1, "forwarded to meta");
    h.deliver_to_meta();
    assert_eq!(h.reply_count(admin), replies);
    h.deliver_to_nodes();
    assert!(matches!(h.last_reply(admin), Some(Reply::Executed { data: None, .. })));
    assert!(h.handle_of(key).query.handle.check().is_ok(), "node B has not synced yet");
    h.next_sync();
    assert!(h.handle_of(key).query.handle.check().is_err());
    h.finish(key, None);
    assert_eq!(message(&h.last_reply(on_b).unwrap()), KILLED);
}

#[test]
fn kill_query_of_a_plan_no_other_node_reported_is_refused_after_meta_with_nebulagraphs_text() {
    let (mut h, (admin, root), (_, alice), key) = remote_query();
    let other = QueryKey { session: key.session, plan: PlanId::from_u64(key.plan.get() + 1) };
    h.statement(admin, root, kill(other));
    h.settle();
    let reply = h.last_reply(admin).unwrap();
    let expected = format!("ExecutionPlanId[{}] does not exist in Session[{alice}].", other.plan);
    assert_eq!((code(&reply), message(&reply)), (-2073, expected.as_str()));
    assert!(h.handle_of(key).query.handle.check().is_ok(), "the running query is untouched");
}

#[test]
fn kill_query_of_another_users_query_on_another_node_is_refused_after_meta_with_1008() {
    let (mut h, _, _, key) = remote_query();
    let (conn, bob) = h.open(0, "bob");
    h.statement(conn, bob, kill(key));
    h.settle();
    let reply = h.last_reply(conn).unwrap();
    let expected = "PermissionError: Only GOD role could kill others' queries.";
    assert_eq!((code(&reply), message(&reply)), (-1008, expected));
    h.next_sync();
    assert!(h.handle_of(key).query.handle.check().is_ok(), "the query runs on");
}

#[test]
fn kill_query_of_a_plan_that_does_not_run_is_refused_with_nebulagraphs_text() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let (_, alice) = h.open(0, "alice");
    let plan = PlanId::from_u64(123_456);
    let own = SessionStatement::KillQuery { target: KillTarget::CurrentSession { plan } };
    let reply = h.run_statement(admin, root, own);
    assert_eq!(message(&reply), "ExecutionPlanId[123456] does not exist in current Session.");
    assert_eq!(code(&reply), -2073);
    let session = SessionId::new(alice).unwrap();
    let reply = h.run_statement(admin, root, kill(QueryKey { session, plan }));
    let expected = format!("ExecutionPlanId[123456] does not exist in Session[{alice}].");
    assert_eq!((code(&reply), message(&reply)), (-2073, expected.as_str()));
    // The caller's own session named by its id is the current session, as NebulaGraph has it.
    let own = QueryKey { session: SessionId::new(root).unwrap(), plan };
    let reply = h.run_statement(admin, root, kill(own));
    let expected = "ExecutionPlanId[123456] does not exist in current Session.";
    assert_eq!((code(&reply), message(&reply)), (-2073, expected));
}

#[test]
fn kill_query_of_a_session_no_node_holds_is_refused_by_meta_with_nebulagraphs_text() {
    let mut h = Harness::new(2);
    let (admin, root) = h.open(0, "root");
    let session = SessionId::new(4_242).unwrap();
    let replies = h.reply_count(admin);
    h.statement(admin, root, kill(QueryKey { session, plan: PlanId::from_u64(9) }));
    assert_eq!(h.reply_count(admin), replies, "only meta knows the sessions of other nodes");
    h.settle();
    let reply = h.last_reply(admin).unwrap();
    assert_eq!((code(&reply), message(&reply)), (-2069, "SessionId[4242] does not exist"));
    assert_eq!(h.nodes[0].registry().session_stats(root).unwrap().queries_active, 0);
}

#[test]
fn use_sets_the_space_every_later_reply_names() {
    let mut h = Harness::new(1);
    let (conn, alice) = h.open(0, "alice");
    let reply = h.run_statement(conn, alice, SessionStatement::Use { space: "nba".into() });
    assert_eq!(reply, Reply::Executed { space_name: "nba".into(), data: None, plan_id: None });
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    h.finish(key, None);
    assert_eq!(space(&h.last_reply(conn).unwrap()), Some("nba"));
    // A session not held here is looked up at meta, and its refusal names the space too.
    h.statement(conn, alice, SessionStatement::ShowSession { session_id: 5 });
    h.settle();
    let reply = h.last_reply(conn).unwrap();
    assert_eq!((code(&reply), space(&reply)), (E_EXECUTION_ERROR, Some("nba")));
    let reply = h.run_statement(conn, alice, SessionStatement::ShowQueries { local: true });
    assert_eq!(space(&reply), Some("nba"));
    h.query(conn, alice, "GO FROM 2 OVER follow");
    let key = h.run_of("GO FROM 2 OVER follow");
    h.fail(key, -1009, "SemanticError: nope");
    assert_eq!(space(&h.last_reply(conn).unwrap()), Some("nba"));
    h.run_statement(conn, alice, SessionStatement::Use { space: "ncaa".into() });
    let reply = h.run_statement(conn, alice, SessionStatement::ShowQueries { local: true });
    assert_eq!(space(&reply), Some("ncaa"));
}

#[test]
fn use_on_node_a_reaches_the_replies_of_node_b_after_its_next_sync() {
    let mut h = Harness::new(2);
    let (on_a, alice) = h.open(0, "alice");
    let on_b = h.connect(1);
    h.run_statement(on_a, alice, SessionStatement::ShowQueries { local: true });
    h.statement(on_b, alice, SessionStatement::ShowQueries { local: true });
    h.settle();
    assert_eq!(space(&h.last_reply(on_b).unwrap()), Some(""));
    h.run_statement(on_a, alice, SessionStatement::Use { space: "nba".into() });
    h.next_sync();
    h.next_sync();
    let reply = h.run_statement(on_b, alice, SessionStatement::ShowQueries { local: true });
    assert_eq!(space(&reply), Some("nba"));
}
