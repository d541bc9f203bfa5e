//! Feature `corruption` on a live node: each of the node's own corruptions is reported with its
//! property where it applies, the bound met exactly passes, and an undo leaves the node sound.

use graphsession_core::node::NodeCorruption;

use crate::node_support::{Harness, Setup};

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
        let restore = node.corrupt(corruption).expect("one connection waits on meta");
        let property = node.check_invariants().err().map(|violation| violation.property);
        assert_eq!(property, corruption.property(), "{corruption:?}");
        node.undo_corruption(restore);
        assert_eq!(node.check_invariants(), Ok(()), "{corruption:?} undone");
    }
    h.settle();
}
