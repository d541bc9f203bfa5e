//! GraphNode restored from a snapshot of an earlier process: meta, not the snapshot, decides
//! which sessions live. A request of a restored session waits until meta confirms the session
//! (its reload lists it, or it acknowledges the node's report of it); one meta ended after the
//! snapshot (a KILL SESSION, a sign-out elsewhere) is answered "Session not existed" and never
//! runs, though the restored registry held it. Requests waiting for that confirmation are
//! bounded as a pick-up's are.

use graphsession_core::client::{E_EXECUTION_ERROR, E_SESSION_INVALID};
use graphsession_core::node::{Reply, SessionStatement};
use graphsession_permission::Caller;

use crate::node_support::{Harness, Setup, code, message};

const BUSY: &str = "Too many requests wait for the meta service; try again";

/// Node 0 holds alice's session and root's; a snapshot of node 0's registry is taken; then
/// root kills alice's session, and meta records the kill.
fn killed_after_snapshot() -> (Harness, i64, Vec<u8>) {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let (_conn, alice) = h.open(0, "alice");
    let snapshot = h.nodes[0].snapshot().to_bytes();
    let kill = SessionStatement::KillSessions { session_ids: vec![alice] };
    let _reply = h.run_statement(admin, root, kill);
    h.settle();
    assert!(!h.holds(0, alice));
    assert!(
        h.meta.session(graphsession_id_gen::SessionId::new(alice).expect("an issued id")).is_none()
    );
    (h, alice, snapshot)
}

/// Node 0 held alice's session when its registry was saved, and restarted from it; meta has
/// not answered the new process yet.
fn restored_alice() -> (Harness, i64) {
    restored_alice_with(|_| {})
}

#[test]
fn a_session_killed_after_the_snapshot_is_never_served_by_the_restored_process() {
    let (mut h, alice, snapshot) = killed_after_snapshot();
    h.restart_restored(0, &snapshot);
    assert!(h.holds(0, alice), "the snapshot predates the kill");
    let conn = h.connect(0);
    h.query(conn, alice, "YIELD 1");
    assert!(h.running.is_empty(), "nothing runs before meta has answered");
    assert_eq!(h.reply_count(conn), 0);
    h.settle();
    assert!(h.running.is_empty(), "the killed session's statement never ran");
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert!(message(&reply).contains("Session not existed"), "{reply:?}");
    assert!(!h.holds(0, alice), "meta's answer ended the restored copy");
    h.check();
}

#[test]
fn a_restored_session_meta_still_holds_runs_once_meta_has_answered() {
    let (mut h, alice) = restored_alice();
    let conn = h.connect(0);
    h.query(conn, alice, "YIELD 1");
    assert!(h.running.is_empty());
    assert_eq!(h.nodes[0].sync().unconfirmed_count(), 1);
    h.check();
    h.settle();
    assert_eq!(h.nodes[0].sync().unconfirmed_count(), 0);
    let key = h.run_of("YIELD 1");
    assert_eq!(key.session.get(), alice);
    h.finish(key, None);
    assert!(matches!(h.last_reply(conn), Some(Reply::Executed { .. })));
    h.check();
}

#[test]
fn once_confirmed_a_restored_session_is_served_without_waiting() {
    let (mut h, alice) = restored_alice();
    h.settle();
    let conn = h.connect(0);
    h.query(conn, alice, "YIELD 1");
    assert!(h.to_meta.is_empty(), "nothing asked of meta");
    assert_eq!(h.run_of("YIELD 1").session.get(), alice);
}

#[test]
fn a_sign_out_of_an_unconfirmed_session_answers_its_waiting_executes() {
    let (mut h, alice) = restored_alice();
    let waiting = h.connect(0);
    h.query(waiting, alice, "YIELD 1");
    let signing_out = h.connect(0);
    h.sign_out(signing_out, alice);
    let reply = h.last_reply(waiting).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert!(!h.holds(0, alice));
    h.check();
    h.settle();
    assert!(h.running.is_empty());
    assert!(h.meta.session(graphsession_id_gen::SessionId::new(alice).unwrap()).is_none());
    h.check();
}

#[test]
fn a_connection_closed_while_waiting_for_confirmation_leaves_nothing_waiting() {
    let (mut h, alice) = restored_alice();
    let conn = h.connect(0);
    h.query(conn, alice, "YIELD 1");
    h.close(conn);
    h.check();
    h.settle();
    assert!(h.running.is_empty(), "nobody is left to answer");
    assert_eq!(h.reply_count(conn), 0);
    h.check();
}

#[test]
fn a_kill_of_an_unconfirmed_session_answers_its_waiting_executes_at_once() {
    let (mut h, alice) = restored_alice();
    let waiting = h.connect(0);
    h.query(waiting, alice, "YIELD 1");
    // An admin tool's KILL SESSION, before meta has said a word about alice.
    let root = Caller::resolve(&h.roles, "root", None);
    let now = h.now;
    let killed = h.nodes[0].kill_sessions(now, &root, &[alice], &mut h.roles).unwrap();
    assert_eq!(killed, 1);
    h.drain(0);
    let reply = h.last_reply(waiting).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID, "{reply:?}");
    assert!(message(&reply).contains("Session not existed"), "{reply:?}");
    h.check();
    h.settle();
    assert!(h.running.is_empty(), "alice's statement never ran");
    assert!(h.meta.session(graphsession_id_gen::SessionId::new(alice).unwrap()).is_none());
    h.check();
}

/// `restored_alice` on a node whose limits `tune` sets.
fn restored_alice_with(tune: fn(&mut graphsession_core::node::Config)) -> (Harness, i64) {
    let mut h = Harness::with(Setup { tune, ..Setup::nodes(1) });
    let (_conn, alice) = h.open(0, "alice");
    let snapshot = h.nodes[0].snapshot().to_bytes();
    h.restart_restored(0, &snapshot);
    (h, alice)
}

#[test]
fn executes_waiting_for_confirmation_are_bounded_per_session_and_by_waiting_connections() {
    // One request may wait per session: the second execute is refused as busy at once.
    let (mut h, alice) = restored_alice_with(|c| c.waiting_requests_per_connection_max = 1);
    let (first, second) = (h.connect(0), h.connect(0));
    h.query(first, alice, "YIELD 1");
    h.query(second, alice, "YIELD 2");
    assert_eq!(h.reply_count(first), 0, "the first waits for meta");
    assert_eq!(
        (code(&h.last_reply(second).unwrap()), message(&h.last_reply(second).unwrap())),
        (E_EXECUTION_ERROR, BUSY)
    );
    h.settle();
    assert_eq!(h.run_of("YIELD 1").session.get(), alice);
    h.check();

    // One connection may wait on meta: an authenticate waiting takes it.
    let (mut h, alice) = restored_alice_with(|c| c.waiting_connections_max = 1);
    let waiting = h.connect(0);
    h.authenticate(waiting, "bob");
    let conn = h.connect(0);
    h.query(conn, alice, "YIELD 1");
    assert_eq!(code(&h.last_reply(conn).unwrap()), E_EXECUTION_ERROR);
    assert_eq!(h.nodes[0].sync().unconfirmed_count(), 1, "nothing waits for it");
    h.settle();
    assert!(h.running.is_empty(), "the refused execute never runs");
    h.check();
}
