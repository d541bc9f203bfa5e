//! GraphNode's sign-out: never answered; the connection that sent it is held until meta
//! confirmed the removal, so the reply to its next request proves the sign-out is durable;
//! other connections go on; an id no session can have is ignored.

use graphsession_core::client::E_SESSION_INVALID;
use graphsession_core::node::{Reply, Request, SessionStatement};

use crate::node_support::{Harness, code};

fn version() -> Request {
    Request::VerifyClientVersion { version: "3.8.0".into() }
}

#[test]
fn sign_out_is_never_answered_and_ends_the_session_here_and_at_meta() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    let replies = h.reply_count(conn);
    h.sign_out(conn, session);
    assert!(!h.holds(0, session), "ended here at once");
    h.settle();
    h.next_sync();
    assert_eq!(h.reply_count(conn), replies);
    assert_eq!(h.meta.live_count(), 0);
}

#[test]
fn a_request_behind_a_sign_out_is_answered_only_after_meta_confirmed_the_removal() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    let replies = h.reply_count(conn);
    h.sign_out(conn, session);
    h.request(conn, version());
    h.query(conn, session, "YIELD 1");
    assert_eq!(h.reply_count(conn), replies, "held while the removal is on its way");
    h.deliver_to_meta();
    assert_eq!(h.reply_count(conn), replies, "meta removed it; its answer is on its way");
    h.deliver_to_nodes();
    assert_eq!(h.replies(conn)[replies..], [Reply::ClientVersion { code: 0, message: "".into() }]);
    // The execute of the signed-out session asks meta, which knows it is gone.
    h.settle();
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert_eq!(h.reply_count(conn), replies + 2);
    assert!(h.running.is_empty());
}

#[test]
fn a_sign_out_holds_only_its_own_connection() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    let (other, other_session) = h.open(0, "bob");
    h.sign_out(conn, session);
    h.query(other, other_session, "YIELD 1");
    let key = h.run_of("YIELD 1");
    h.finish(key, None);
    assert!(matches!(h.last_reply(other), Some(Reply::Executed { .. })));
    assert_eq!(h.to_meta.len(), 1, "the removal is still on its way");
}

#[test]
fn a_sign_out_of_an_id_no_session_can_have_is_ignored() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    for invalid in [0, -5, i64::MIN] {
        h.sign_out(conn, invalid);
        assert!(h.to_meta.is_empty(), "nothing to remove at meta for {invalid}");
        let replies = h.reply_count(conn);
        h.request(conn, version());
        assert_eq!(h.reply_count(conn), replies + 1, "the connection is not held");
    }
    assert!(h.holds(0, session));
}

#[test]
fn a_sign_out_on_node_b_of_a_session_held_on_node_a_ends_it_there_at_its_next_sync() {
    let mut h = Harness::new(2);
    let (_on_a, session) = h.open(0, "alice");
    let on_b = h.connect(1);
    h.sign_out(on_b, session);
    h.request(on_b, version());
    assert_eq!(h.reply_count(on_b), 0);
    h.settle();
    assert_eq!(h.reply_count(on_b), 1);
    assert_eq!(h.meta.live_count(), 0);
    h.next_sync();
    assert!(!h.holds(0, session));
}

#[test]
fn a_session_whose_id_was_sent_outlives_its_connection() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    h.close(conn);
    h.settle();
    assert!(h.holds(0, session));
    let again = h.connect(0);
    h.query(again, session, "YIELD 1");
    h.finish_all();
    assert!(matches!(h.last_reply(again), Some(Reply::Executed { .. })));
}

#[test]
fn a_sign_out_answers_the_executes_of_other_connections_waiting_for_its_pick_up() {
    let mut h = Harness::new(2);
    let (_on_a, session) = h.open(0, "alice");
    let (waiting, signing_out) = (h.connect(1), h.connect(1));
    h.query(waiting, session, "YIELD 1");
    h.sign_out(signing_out, session);
    h.settle();
    h.next_sync();
    let reply = h.last_reply(waiting).unwrap_or_else(|| panic!("the execute was never answered"));
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert_eq!(h.reply_count(waiting), 1);
    assert!(h.running.is_empty());
}

#[test]
fn a_kill_session_answers_the_executes_waiting_for_the_killed_sessions_pick_up() {
    let mut h = Harness::new(2);
    let (_on_a, session) = h.open(0, "alice");
    let (admin, root) = h.open(1, "root");
    let waiting = h.connect(1);
    h.query(waiting, session, "YIELD 1");
    let kill = SessionStatement::KillSessions { session_ids: vec![session] };
    h.statement(admin, root, kill);
    h.settle();
    h.next_sync();
    let reply = h.last_reply(waiting).unwrap_or_else(|| panic!("the execute was never answered"));
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert_eq!(h.reply_count(waiting), 1);
    assert!(h.running.is_empty());
}
