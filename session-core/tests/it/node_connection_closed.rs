//! GraphNode when a connection closes: a session whose id was never sent is signed out here and
//! at meta (no client can ever name it, so it would leak); whatever waited on the connection is
//! dropped without a reply, and a statement that waited ends its query.

use graphsession_core::node::{SessionStatement, Statement};

use crate::node_support::Harness;

#[test]
fn closed_while_authenticate_waits_for_meta_signs_the_session_out_here_and_at_meta() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    h.authenticate(conn, "alice");
    assert_eq!(h.held(0), 1);
    h.close(conn);
    assert_eq!(h.held(0), 0, "ended here at once");
    assert_eq!(h.nodes[0].registrations_waiting(), 0);
    h.settle();
    assert_eq!(h.reply_count(conn), 0);
    assert_eq!(h.meta.live_count(), 0, "removed at meta after its registration");
}

#[test]
fn closed_after_meta_registered_but_before_its_answer_arrived_still_leaks_nothing() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    h.authenticate(conn, "alice");
    h.deliver_to_meta();
    assert_eq!(h.meta.live_count(), 1);
    h.close(conn);
    h.settle();
    assert_eq!(h.reply_count(conn), 0);
    assert_eq!((h.held(0), h.meta.live_count()), (0, 0));
}

#[test]
fn closed_while_an_execute_waits_for_its_pick_up_drops_the_execute() {
    let mut h = Harness::new(2);
    let (_on_a, session) = h.open(0, "alice");
    let on_b = h.connect(1);
    h.query(on_b, session, "YIELD 1");
    h.close(on_b);
    h.settle();
    assert_eq!(h.reply_count(on_b), 0);
    assert!(h.running.is_empty(), "the dropped execute never ran");
    h.nodes[1].check_invariants().unwrap();
}

#[test]
fn closed_while_held_behind_a_sign_out_drops_the_queued_requests() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    let (_other, other_session) = h.open(0, "bob");
    let replies = h.reply_count(conn);
    h.sign_out(conn, session);
    h.query(conn, other_session, "YIELD 1");
    h.close(conn);
    h.settle();
    assert_eq!(h.reply_count(conn), replies);
    assert!(h.running.is_empty());
    assert_eq!(h.meta.live_count(), 1);
}

#[test]
fn closed_while_a_statement_waits_on_meta_ends_the_statements_query() {
    let mut h = Harness::new(2);
    let (conn, session) = h.open(0, "root");
    let (_, target) = h.open(1, "alice");
    let show = Statement::Session(SessionStatement::ShowSessions { local: false });
    h.execute(conn, session, show);
    assert_eq!(h.nodes[0].registry().session_stats(session).unwrap().queries_active, 1);
    let kill = Statement::Session(SessionStatement::KillSessions { session_ids: vec![target] });
    let second = h.connect(0);
    h.execute(second, session, kill);
    assert_eq!(h.nodes[0].registry().session_stats(session).unwrap().queries_active, 2);
    h.close(conn);
    h.close(second);
    h.settle();
    assert_eq!(h.reply_count(conn) + h.reply_count(second), 1, "only the logins were answered");
    let stats = h.nodes[0].registry().session_stats(session).unwrap();
    assert_eq!(stats.queries_active, 0, "no statement runs for a connection that is gone");
}
