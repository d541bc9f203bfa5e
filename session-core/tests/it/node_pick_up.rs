//! GraphNode's pick-up: an execute naming a session this node does not hold waits for meta,
//! then runs (the session came over from another node) or is answered -1002 with NebulaGraph's
//! text (no such session); session id 0, the clients' ping, touches nothing.

use graphsession_core::client::E_SESSION_INVALID;
use graphsession_core::node::{Event, Reply};

use crate::node_support::{Harness, code, message};

#[test]
fn execute_on_node_b_of_a_session_created_on_node_a_waits_for_meta_then_runs_there() {
    let mut h = Harness::new(2);
    let (_on_a, session) = h.open(0, "alice");
    let on_b = h.connect(1);
    h.query(on_b, session, "YIELD 1");
    assert!(!h.holds(1, session));
    assert_eq!(h.to_meta.len(), 1, "node B asks meta for the session");
    assert!(h.running.is_empty(), "nothing runs before the pick-up");
    h.deliver_to_meta();
    assert_eq!(h.reply_count(on_b), 0);
    h.deliver_to_nodes();
    assert!(h.holds(1, session), "node B holds it now");
    let key = h.run_of("YIELD 1");
    assert_eq!((key.session.get(), h.handle_of(key).node), (session, 1));
    assert_eq!(h.reply_count(on_b), 0, "answered when the executor returns");
    h.finish(key, None);
    let reply = h.last_reply(on_b).unwrap();
    assert!(matches!(reply, Reply::Executed { plan_id: Some(plan), .. } if plan == key.plan.get()));
    assert!(h.events.iter().any(|(node, event)| *node == 1
        && matches!(event, Event::PickUpAsked { session: asked } if asked.get() == session)));
}

#[test]
fn executes_waiting_for_one_pick_up_all_run_after_meta_answers() {
    let mut h = Harness::new(2);
    let (_on_a, session) = h.open(0, "alice");
    let (first, second) = (h.connect(1), h.connect(1));
    h.query(first, session, "YIELD 1");
    h.query(second, session, "YIELD 2");
    assert_eq!(h.reply_count(first) + h.reply_count(second), 0);
    h.settle();
    h.finish_all();
    assert!(matches!(h.last_reply(first), Some(Reply::Executed { .. })));
    assert!(matches!(h.last_reply(second), Some(Reply::Executed { .. })));
}

#[test]
fn execute_of_a_session_meta_does_not_know_is_answered_1002_with_nebulagraphs_text() {
    let mut h = Harness::new(2);
    let conn = h.connect(1);
    h.query(conn, 4_242, "YIELD 1");
    assert_eq!(h.reply_count(conn), 0, "only meta can say it does not exist");
    h.settle();
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert_eq!(
        message(&reply),
        "Get sessionId[4242] failed: Session `4242' not found: Session not existed!"
    );
    assert_eq!(h.held(1), 0);
    assert!(h.running.is_empty());
}

#[test]
fn execute_with_session_id_zero_is_answered_1002_without_asking_meta_or_touching_a_session() {
    let mut h = Harness::new(1);
    let (conn, session) = h.open(0, "alice");
    let before = h.nodes[0].registry().session_stats(session).unwrap();
    h.advance(10);
    h.query(conn, 0, "YIELD 1");
    let reply = h.last_reply(conn).unwrap();
    assert_eq!((code(&reply), message(&reply)), (E_SESSION_INVALID, "Invalid session id"));
    assert!(h.to_meta.is_empty(), "the ping asked meta nothing");
    assert!(h.running.is_empty());
    assert!(!h.events.iter().any(|(_, event)| matches!(event, Event::PickUpAsked { .. })));
    assert_eq!(h.nodes[0].registry().session_stats(session).unwrap(), before);
}
