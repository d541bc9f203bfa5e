//! GraphNode's session statements about sessions: SHOW LOCAL SESSIONS from the registry with
//! NebulaGraph's columns and value types, SHOW SESSIONS from meta with every node's address,
//! SHOW SESSION of a missing id, and KILL SESSION of sessions held here and elsewhere, GOD only.
//! The host's USE, and the registry-changed flag (what makes a host write the snapshot again)
//! after an answer that ends a session or kills a query here.

use graphsession_core::client::{E_EXECUTION_ERROR, E_SESSION_INVALID};
use graphsession_core::cluster::NodeId;
use graphsession_core::node::{DataSet, KILLED_SESSIONS_COLUMN, Reply, SessionStatement, Value};
use graphsession_permission::Policy;

use crate::node_support::{Harness, IP, Setup, code, data, graph_addr, message, space};

fn row_of(data: &DataSet, session: i64) -> &[Value] {
    let row = data.rows.iter().find(|row| row[0] == Value::Int(session));
    row.unwrap_or_else(|| panic!("no row of {session} in {data:?}"))
}

#[test]
fn show_local_sessions_lists_this_nodes_sessions_with_nebulagraphs_columns_and_types() {
    let mut h = Harness::new(2);
    let created = h.now;
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    let _elsewhere = h.open(1, "bob");
    h.run_statement(conn, alice, SessionStatement::Use { space: "nba".into() });
    let reply = h.run_statement(admin, root, SessionStatement::ShowSessions { local: true });
    let data = data(&reply);
    let columns = [
        "SessionId",
        "UserName",
        "SpaceName",
        "CreateTime",
        "UpdateTime",
        "GraphAddr",
        "Timezone",
        "ClientIp",
    ];
    assert_eq!(data.column_names, columns);
    assert_eq!(data.rows.len(), 2, "bob's session is on node 1");
    let row = row_of(data, alice);
    assert_eq!(row[1..3], [Value::Str("alice".into()), Value::Str("nba".into())]);
    assert_eq!(row[3], Value::DateTime { unix_us: created * 1_000 });
    assert!(matches!(row[4], Value::DateTime { unix_us } if unix_us >= created * 1_000));
    assert_eq!(row[5..], [Value::Str(graph_addr(0)), Value::Int(0), Value::Str(IP.into())]);
    assert_eq!(row_of(data, root)[1], Value::Str("root".into()));
}

#[test]
fn show_sessions_asks_meta_and_shows_other_nodes_sessions_with_their_address() {
    let mut h = Harness::new(2);
    let (admin, root) = h.open(0, "root");
    let (_, bob) = h.open(1, "bob");
    let replies = h.reply_count(admin);
    h.statement(admin, root, SessionStatement::ShowSessions { local: false });
    assert_eq!(h.to_meta.len(), 1);
    h.deliver_to_meta();
    assert_eq!(h.reply_count(admin), replies, "answered with meta's page only");
    h.deliver_to_nodes();
    let reply = h.last_reply(admin).unwrap();
    let data = data(&reply);
    assert_eq!(data.rows.len(), 2);
    assert_eq!(row_of(data, bob)[1], Value::Str("bob".into()));
    assert_eq!(row_of(data, bob)[5], Value::Str(graph_addr(1)));
    assert_eq!(row_of(data, root)[5], Value::Str(graph_addr(0)));
}

#[test]
fn show_sessions_shows_a_peer_by_the_address_it_was_given_last_and_node_n_without_one() {
    let mut h = Harness::new(2);
    let (admin, root) = h.open(0, "root");
    let (_, bob) = h.open(1, "bob");
    let show = |h: &mut Harness| {
        h.statement(admin, root, SessionStatement::ShowSessions { local: false });
        h.deliver_to_meta();
        h.deliver_to_nodes();
        let reply = h.last_reply(admin).unwrap();
        row_of(data(&reply), bob)[5].clone()
    };
    h.nodes[0].set_peer_addrs([(NodeId(2), "10.0.0.2:9669".to_owned())].into());
    assert_eq!(show(&mut h), Value::Str("10.0.0.2:9669".into()));
    h.nodes[0].set_peer_addrs(Default::default());
    assert_eq!(show(&mut h), Value::Str("node-2".into()));
}

#[test]
fn show_session_of_a_missing_id_is_refused_1005_once_meta_does_not_know_it_either() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let before = h.reply_count(admin);
    h.statement(admin, root, SessionStatement::ShowSession { session_id: 77 });
    assert_eq!(h.reply_count(admin), before, "a session not held here is looked up at meta");
    h.settle();
    let reply = h.last_reply(admin).unwrap();
    assert_eq!(code(&reply), E_EXECUTION_ERROR);
    assert_eq!(message(&reply), "Get session `77' failed: Session not existed!.");
    for missing in [0, -5] {
        let show = SessionStatement::ShowSession { session_id: missing };
        let reply = h.run_statement(admin, root, show);
        assert_eq!(
            message(&reply),
            format!("Get session `{missing}' failed: Session not existed!.")
        );
    }
    let reply = h.run_statement(admin, root, SessionStatement::ShowSession { session_id: root });
    assert_eq!(data(&reply).rows.len(), 1);
}

/// NebulaGraph's SHOW SESSION reads meta: a session held by another node is shown with its row
/// there (its host the other node's), and only GOD may ask, before anything is looked up.
#[test]
fn show_session_of_a_session_held_on_another_node_shows_meta_s_record() {
    let mut h = Harness::new(2);
    let (admin, root) = h.open(0, "root");
    let (_on_b, bob) = h.open(1, "bob");
    h.settle();
    assert!(!h.holds(0, bob));
    let before = h.reply_count(admin);
    h.statement(admin, root, SessionStatement::ShowSession { session_id: bob });
    assert_eq!(h.reply_count(admin), before, "waits for meta");
    h.settle();
    let reply = h.last_reply(admin).unwrap();
    let row = row_of(data(&reply), bob);
    assert_eq!(row[1], Value::Str("bob".into()));
    assert_eq!(row[5], Value::Str(graph_addr(1)));
    assert!(!h.holds(0, bob), "showing a session does not pick it up");
}

#[test]
fn kill_session_of_a_session_held_here_counts_it_and_its_next_execute_gets_1002() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    let kill = SessionStatement::KillSessions { session_ids: vec![alice] };
    let reply = h.run_statement(admin, root, kill);
    assert_eq!(data(&reply).column_names, [KILLED_SESSIONS_COLUMN]);
    assert_eq!(data(&reply).rows, [[Value::Int(1)]]);
    assert!(!h.holds(0, alice));
    h.query(conn, alice, "YIELD 1");
    h.settle();
    assert_eq!(code(&h.last_reply(conn).unwrap()), E_SESSION_INVALID);
    assert_eq!(h.meta.live_count(), 1);
}

#[test]
fn kill_session_of_a_session_held_elsewhere_counts_it_after_meta_and_its_node_drops_it_at_sync() {
    let mut h = Harness::new(2);
    let (admin, root) = h.open(0, "root");
    let (on_b, alice) = h.open(1, "alice");
    let replies = h.reply_count(admin);
    h.statement(admin, root, SessionStatement::KillSessions { session_ids: vec![alice] });
    h.deliver_to_meta();
    assert_eq!(h.reply_count(admin), replies, "counted once meta's removal is back");
    h.deliver_to_nodes();
    assert_eq!(data(&h.last_reply(admin).unwrap()).rows, [[Value::Int(1)]]);
    // Node B learns of it at its next sync; until then the session still works there.
    assert!(h.holds(1, alice));
    h.next_sync();
    assert!(!h.holds(1, alice));
    h.query(on_b, alice, "YIELD 1");
    h.settle();
    assert_eq!(code(&h.last_reply(on_b).unwrap()), E_SESSION_INVALID);
}

#[test]
fn kill_session_of_an_unknown_id_counts_zero() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    h.statement(admin, root, SessionStatement::KillSessions { session_ids: vec![31_337] });
    h.settle();
    assert_eq!(data(&h.last_reply(admin).unwrap()).rows, [[Value::Int(0)]]);
}

#[test]
fn kill_session_by_a_user_that_is_not_god_is_refused_1008_with_authorization_on() {
    let mut h = Harness::with(Setup { policy: Policy::ENFORCED, ..Setup::nodes(1) });
    let (_admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    let kill = SessionStatement::KillSessions { session_ids: vec![root] };
    let reply = h.run_statement(conn, alice, kill);
    assert_eq!(code(&reply), -1008);
    assert_eq!(message(&reply), "PermissionError: No permission to kill session");
    assert_eq!(space(&reply), Some(""));
    assert!(h.holds(0, root));
    assert!(h.to_meta.is_empty(), "nothing removed at meta");
    assert_eq!(h.meta.live_count(), 2);
}

#[test]
fn kill_session_of_its_own_session_is_answered_as_a_success() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let kill = SessionStatement::KillSessions { session_ids: vec![root] };
    let reply = h.run_statement(admin, root, kill);
    assert!(matches!(reply, Reply::Executed { .. }));
    assert_eq!(data(&reply).rows, [[Value::Int(1)]]);
    assert!(!h.holds(0, root));
}

#[test]
fn the_hosts_use_space_moves_a_held_session_and_refuses_one_not_held_with_1002() {
    let mut h = Harness::new(1);
    let (_, alice) = h.open(0, "alice");
    let _ = h.nodes[0].take_registry_changed();
    let now = h.now;
    h.nodes[0].use_space(now, alice, "nba", &mut h.roles).unwrap();
    assert!(h.nodes[0].take_registry_changed(), "a USE changes what the snapshot holds");
    let session = graphsession_id_gen::SessionId::new(alice).unwrap();
    let view = h.nodes[0].registry().cluster_session(session).unwrap();
    assert_eq!((view.space.as_str(), view.space_set_unix_ms), ("nba", now));
    let missing = h.nodes[0].use_space(now, alice + 1, "nba", &mut h.roles).unwrap_err();
    assert_eq!(missing.code(), E_SESSION_INVALID);
}

#[test]
fn an_answer_that_ends_a_session_here_marks_the_registry_changed() {
    let mut h = Harness::new(2);
    let (admin, root) = h.open(0, "root");
    let (_, alice) = h.open(1, "alice");
    h.statement(admin, root, SessionStatement::KillSessions { session_ids: vec![alice] });
    h.settle();
    let reply = h.last_reply(admin).unwrap();
    assert_eq!(code(&reply), 0, "{reply:?}");
    assert!(h.holds(1, alice), "node 1 learns it at its next round");
    let _ = h.nodes[1].take_registry_changed();
    h.next_sync();
    assert!(!h.holds(1, alice));
    assert!(h.nodes[1].take_registry_changed(), "the snapshot must be written again");
}

#[test]
fn an_answer_that_kills_a_query_here_marks_the_registry_changed() {
    let (mut h, (admin, root), _, key) = crate::node_support::remote_query();
    h.statement(
        admin,
        root,
        SessionStatement::KillQuery {
            target: graphsession_query_plan::KillTarget::Session {
                session: key.session,
                plan: key.plan,
            },
        },
    );
    h.settle();
    let _ = h.nodes[1].take_registry_changed();
    h.next_sync();
    assert!(h.handle_of(key).query.handle.check().is_err(), "the kill reached node 1");
    assert!(h.nodes[1].take_registry_changed());
}
