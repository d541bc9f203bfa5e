//! What GraphNode tells its host about itself, each figure checked at a value only the right
//! count gives: the sync rounds it ran, the authenticates waiting for meta's registration, the
//! queries handed to the executor, the installs from meta its registry refused, and whether the
//! registry changed since the host last asked (what makes a host write its snapshot again).

use graphsession_core::node::Reply;

use crate::node_support::{Harness, Setup};

#[test]
fn sync_rounds_count_every_round_the_node_ran() {
    let mut h = Harness::new(1);
    let before = h.nodes[0].sync_rounds();
    for _ in 0..3 {
        h.next_sync();
    }
    assert_eq!(h.nodes[0].sync_rounds(), before + 3);
    assert!(before + 3 >= 4, "the start-up reload ran rounds too");
}

#[test]
fn registrations_waiting_count_authenticates_until_meta_registered_them() {
    let mut h = Harness::new(1);
    let (first, second) = (h.connect(0), h.connect(0));
    h.authenticate(first, "alice");
    h.authenticate(second, "bob");
    assert_eq!(h.nodes[0].registrations_waiting(), 2);
    h.settle();
    assert_eq!(h.nodes[0].registrations_waiting(), 0);
    assert!(matches!(h.last_reply(second), Some(Reply::Authenticated { .. })));
}

#[test]
fn queries_running_are_those_handed_to_the_executor_and_not_returned() {
    let mut h = Harness::new(1);
    let (conn, alice) = h.open(0, "alice");
    assert_eq!(h.nodes[0].queries_running().count(), 0);
    h.query(conn, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    assert_eq!(h.nodes[0].queries_running().collect::<Vec<_>>(), [key]);
    h.finish(key, None);
    assert_eq!(h.nodes[0].queries_running().count(), 0);
}

#[test]
fn installs_refused_count_the_pick_ups_a_full_registry_turned_down() {
    let mut h =
        Harness::with(Setup { tune: |config| config.server.sessions_max = 1, ..Setup::nodes(2) });
    let (_, bob) = h.open(1, "bob");
    let (_, alice) = h.open(0, "alice");
    assert_eq!(h.nodes[1].installs_refused(), 0);
    let conn = h.connect(1);
    h.query(conn, alice, "YIELD 1");
    h.settle();
    assert!(h.holds(1, bob) && !h.holds(1, alice), "node 1 is full");
    assert_eq!(h.nodes[1].installs_refused(), 1);
    assert_eq!(h.nodes[0].installs_refused(), 0);
}

#[test]
fn the_registry_changed_flag_is_set_by_a_change_and_cleared_by_the_host_reading_it() {
    let mut h = Harness::new(1);
    let (conn, alice) = h.open(0, "alice");
    assert!(h.nodes[0].take_registry_changed(), "the login changed it");
    assert!(!h.nodes[0].take_registry_changed(), "read once, cleared");
    h.next_sync();
    assert!(!h.nodes[0].take_registry_changed(), "a round that changes nothing leaves it clear");
    h.sign_out(conn, alice);
    h.settle();
    assert!(h.nodes[0].take_registry_changed());
}
