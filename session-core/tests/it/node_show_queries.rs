//! SHOW QUERIES across nodes: every node reports its running queries to meta with its sync
//! round, and SHOW QUERIES lists this node's own from its registry and the others' from meta
//! (NebulaGraph lists them all from meta), with each node's address, fix 7 applied for the
//! caller, KILLING for a query meta holds a kill mark for, and nothing of a node presumed dead.

use graphsession_core::cluster::{Answer, MetaConfig, NodeConfig, ReloadFrom, Request, RequestId};
use graphsession_core::node::{DataSet, SessionStatement, Value};
use graphsession_permission::Policy;
use graphsession_query_plan::KillTarget;

use crate::node_support::{Harness, REMOTE_QUERY, Setup, data, graph_addr, remote_query};

/// The rows of session `session`.
fn rows_of(data: &DataSet, session: i64) -> Vec<&[Value]> {
    data.rows.iter().filter(|row| row[0] == Value::Int(session)).map(Vec::as_slice).collect()
}

fn text(row: &[Value]) -> &str {
    match &row[7] {
        Value::Str(text) => text,
        other => panic!("a statement that is not a string: {other:?}"),
    }
}

#[test]
fn a_query_on_another_node_is_listed_with_that_nodes_address_after_its_next_sync() {
    let (mut h, (admin, root), (_, alice), key) = remote_query();
    let reply = h.show_queries(admin, root);
    let rows = rows_of(data(&reply), alice);
    assert_eq!(rows.len(), 1, "{reply:?}");
    let row = rows[0];
    assert_eq!(row[1], Value::Int(i64::try_from(key.plan.get()).unwrap()));
    assert_eq!(row[2], Value::Str("alice".into()));
    assert_eq!(row[3], Value::Str(graph_addr(1)));
    assert_eq!(row[6], Value::Str("RUNNING".into()));
    assert_eq!(text(row), REMOTE_QUERY);
    // The statement itself (root's, on node 0) is listed fresh from the registry.
    assert_eq!(rows_of(data(&reply), root).len(), 1);

    // Finished on node 1: gone from the listing after node 1's next sync.
    h.finish(key, None);
    h.next_sync();
    let reply = h.show_queries(admin, root);
    assert!(rows_of(data(&reply), alice).is_empty(), "{reply:?}");
}

#[test]
fn a_user_who_is_not_god_sees_only_its_own_users_queries_on_every_node() {
    let mut setup = Setup::nodes(2);
    setup.policy = Policy { authorization_enabled: true };
    let mut h = Harness::with(setup);
    let (on_0, alice_0) = h.open(0, "alice");
    let (alice_conn, alice_1) = h.open(1, "alice");
    let (bob_conn, bob) = h.open(1, "bob");
    h.query(alice_conn, alice_1, "YIELD 1");
    h.query(bob_conn, bob, "YIELD 2");
    h.next_sync();
    let reply = h.show_queries(on_0, alice_0);
    let listed = data(&reply);
    assert_eq!(rows_of(listed, alice_1).len(), 1, "{reply:?}");
    assert!(rows_of(listed, bob).is_empty(), "fix 7: bob's query is not alice's to see");
    let (admin, root) = h.open(0, "root");
    let reply = h.show_queries(admin, root);
    assert_eq!(rows_of(data(&reply), bob).len(), 1, "GOD sees every user's");
}

#[test]
fn a_query_killed_from_another_node_is_listed_killing() {
    let (mut h, (admin, root), (_, alice), key) = remote_query();
    let target = KillTarget::Session { session: key.session, plan: key.plan };
    h.statement(admin, root, SessionStatement::KillQuery { target });
    // Meta records the mark; node 1 has not applied it yet: meta lists it KILLING already.
    h.deliver_to_meta();
    h.to_nodes.retain(|(index, _)| *index == 0);
    h.deliver_to_nodes();
    let reply = h.show_queries(admin, root);
    let rows = rows_of(data(&reply), alice);
    assert_eq!(rows.len(), 1, "{reply:?}");
    assert_eq!(rows[0][6], Value::Str("KILLING".into()));
}

#[test]
fn the_queries_of_a_node_presumed_dead_are_not_listed() {
    let mut setup = Setup::nodes(2);
    setup.meta = MetaConfig { holder_silence_ms: 5_000, ..MetaConfig::default() };
    let mut h = Harness::with(setup);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(1, "alice");
    h.query(conn, alice, "YIELD 1");
    h.next_sync();
    assert_eq!(rows_of(data(&h.show_queries(admin, root)), alice).len(), 1);
    // Node 1 falls silent (its requests never reach meta) for the holder silence.
    for _ in 0..6 {
        h.advance(1_000);
        h.to_meta.retain(|(index, _)| *index != 1);
        h.settle();
    }
    let reply = h.show_queries(admin, root);
    assert!(rows_of(data(&reply), alice).is_empty(), "{reply:?}");
}

#[test]
fn a_node_reports_its_longest_running_queries_with_statements_cut_at_a_character_boundary() {
    let mut setup = Setup::nodes(2);
    setup.tune = |config| {
        config.sync =
            NodeConfig { reported_queries_max: 2, reported_statement_bytes_max: 8, ..config.sync };
    };
    let mut h = Harness::with(setup);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(1, "alice");
    // Three queries, one millisecond apart; "YIELD \"é…\"": byte 8 falls inside the 'é'.
    for text in ["YIELD \"\u{e9}\u{e9}\"", "YIELD 22", "YIELD 33"] {
        h.query(conn, alice, text);
        h.advance(1);
    }
    h.next_sync();
    let reply = h.show_queries(admin, root);
    let texts: Vec<&str> = rows_of(data(&reply), alice).into_iter().map(text).collect();
    assert_eq!(texts, ["YIELD \"", "YIELD 22"], "the two oldest, the first cut before the 'é'");
}

#[test]
fn a_restarted_node_lists_none_of_its_old_processs_queries() {
    let mut h = Harness::new(2);
    let (conn, alice) = h.open(1, "alice");
    h.query(conn, alice, "YIELD 1");
    h.next_sync();
    let listed = h.meta.listed_queries();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let node = listed[0].node;
    // A new process of that node starts its reload; its queries died with the old one, even
    // before it says which run now.
    let mut request = Request::empty(RequestId { incarnation: u64::MAX, round: 1 });
    request.reload = Some(ReloadFrom { after: None });
    let answer = h.meta.handle_request(h.now, node, request);
    assert!(matches!(answer, Answer::Reply(_)), "{answer:?}");
    assert_eq!(h.meta.listed_queries(), Vec::new());
}
