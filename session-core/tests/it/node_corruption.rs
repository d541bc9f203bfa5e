//! Feature `corruption` on a live node: each of the node's own corruptions is reported with its
//! property where it applies, the bound met exactly passes, and an undo leaves the node sound.

use graphsession_core::node::{NodeCorruption, Request};

use crate::node_support::{Harness, Setup};

/// `corruption` applies to `node`, its check reports the property it names (or passes, at a
/// bound met exactly), and the undo leaves the node sound.
fn judged_and_undone(node: &mut graphsession_core::node::GraphNode, corruption: NodeCorruption) {
    let restore = node.corrupt(corruption).expect("the corruption applies");
    let property = node.check_invariants().err().map(|violation| violation.property);
    assert_eq!(property, corruption.property(), "{corruption:?}");
    node.undo_corruption(restore);
    assert_eq!(node.check_invariants(), Ok(()), "{corruption:?} undone");
}

#[test]
fn a_waiting_connection_past_the_limit_is_reported_and_at_it_passes() {
    let mut h = Harness::with(Setup::nodes(2));
    let node = &mut h.nodes[0];
    assert!(node.corrupt(NodeCorruption::WaitingConnectionsOverLimit).is_none(), "none waits");
    let first = h.connect(0);
    h.authenticate(first, "alice");
    let node = &mut h.nodes[0];
    for corruption in
        [NodeCorruption::WaitingConnectionsOverLimit, NodeCorruption::WaitingConnectionsAtLimit]
    {
        judged_and_undone(node, corruption);
    }
    h.settle();
}

#[test]
fn executes_waiting_for_a_pick_up_past_the_limit_are_reported_and_at_it_pass() {
    let mut h = Harness::with(Setup::nodes(2));
    let (_, alice) = h.open(0, "alice");
    assert!(h.nodes[1].corrupt(NodeCorruption::PickUpWaitersAtLimit).is_none(), "none waits");
    let first = h.connect(1);
    h.query(first, alice, "YIELD 1");
    let node = &mut h.nodes[1];
    for corruption in [NodeCorruption::PickUpWaitersOverLimit, NodeCorruption::PickUpWaitersAtLimit]
    {
        judged_and_undone(node, corruption);
    }
    h.settle();
}

#[test]
fn executes_waiting_for_a_confirmation_past_the_limit_are_reported_and_at_it_pass() {
    let mut h = Harness::with(Setup::nodes(1));
    let (_, alice) = h.open(0, "alice");
    let snapshot = h.nodes[0].snapshot().to_bytes();
    h.restart_restored(0, &snapshot);
    let none = h.nodes[0].corrupt(NodeCorruption::ConfirmationWaitersAtLimit);
    assert!(none.is_none(), "none waits");
    let first = h.connect(0);
    h.query(first, alice, "YIELD 1");
    let node = &mut h.nodes[0];
    for corruption in
        [NodeCorruption::ConfirmationWaitersOverLimit, NodeCorruption::ConfirmationWaitersAtLimit]
    {
        judged_and_undone(node, corruption);
    }
    h.settle();
    assert_eq!(h.run_of("YIELD 1").session.get(), alice);
}

#[test]
fn requests_queued_behind_a_sign_out_past_the_limit_are_reported_and_at_it_pass() {
    let mut h = Harness::with(Setup::nodes(1));
    let (conn, alice) = h.open(0, "alice");
    assert!(h.nodes[0].corrupt(NodeCorruption::SignOutQueueAtLimit).is_none(), "none queued");
    h.sign_out(conn, alice);
    assert!(h.nodes[0].corrupt(NodeCorruption::SignOutQueueAtLimit).is_none(), "none queued");
    h.request(conn, Request::VerifyClientVersion { version: "3.8.0".into() });
    let node = &mut h.nodes[0];
    for corruption in [NodeCorruption::SignOutQueueOverLimit, NodeCorruption::SignOutQueueAtLimit] {
        judged_and_undone(node, corruption);
    }
    h.settle();
}

#[test]
fn every_registry_corruption_reaches_the_registry_through_the_node() {
    let mut h = Harness::with(Setup::nodes(2));
    h.open(0, "alice");
    let node = &mut h.nodes[0];
    let corruption =
        NodeCorruption::Registry(graphsession_core::server::ManagerCorruption::NodeCountOff);
    let restore = node.corrupt(corruption).expect("applies");
    let property = node.check_invariants().err().map(|violation| violation.property);
    assert_eq!(property, Some("node_count_matches_sessions"));
    node.undo_corruption(restore);
    assert_eq!(node.check_invariants(), Ok(()));
}

#[test]
fn a_query_the_node_forgot_handing_out_is_reported_as_unowned() {
    let mut h = Harness::new(1);
    let (conn, alice) = h.open(0, "alice");
    assert!(h.nodes[0].corrupt(NodeCorruption::QueryUnowned).is_none(), "none handed out");
    h.query(conn, alice, "GO FROM 1 OVER follow");
    judged_and_undone(&mut h.nodes[0], NodeCorruption::QueryUnowned);
    let key = h.run_of("GO FROM 1 OVER follow");
    h.finish(key, None);
    assert_eq!(h.reply_count(conn), 2, "the query, undone, is answered");
}
