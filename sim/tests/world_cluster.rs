//! The cluster world is deterministic, passes with the real machines, and catches a client that
//! forgets its sessions on close and a node that never hears of kills.

use graphsession_sim::world::{ClusterWorld, Twist};

#[test]
fn the_same_seed_gives_the_same_run_bit_for_bit() {
    for seed in [0, 1, 7, 12_345] {
        let first = ClusterWorld::new(seed).unwrap().run();
        let second = ClusterWorld::new(seed).unwrap().run();
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.stats.steps(), second.stats.steps(), "seed {seed}");
        assert_eq!(first.stats.sessions_created, second.stats.sessions_created, "seed {seed}");
        assert_eq!(first.violation, second.violation, "seed {seed}");
    }
}

#[test]
fn different_seeds_build_different_worlds() {
    let hashes: std::collections::BTreeSet<u64> =
        (0..20).map(|seed| ClusterWorld::new(seed).unwrap().run().trace_hash).collect();
    assert_eq!(hashes.len(), 20);
}

#[test]
fn the_real_machines_survive_forty_seeds_of_faults_and_settle() {
    let mut created = 0;
    let mut signed_out = 0;
    let mut expired = 0;
    let mut total = graphsession_sim::world::ClusterStats::default();
    for seed in 0..40 {
        let outcome = ClusterWorld::new(seed).unwrap().run();
        assert!(outcome.violation.is_none(), "seed {seed}: {:?}", outcome.violation);
        created += outcome.stats.sessions_created;
        signed_out += outcome.stats.sessions_signed_out;
        expired += outcome.stats.sessions_expired;
        total.add(&outcome.stats);
    }
    // The admin and the long queries are exercised: the kill oracles had something to check.
    assert!(total.long_queries_killed > 0, "no long query was killed: {total:?}");
    assert!(total.kill_sessions_applied > 0 && total.kill_queries_applied > 0, "{total:?}");
    assert!(total.grants > 0 && total.uses > 0, "{total:?}");
    // The seeds exercise both ways out: sign-out, and expiry of orphans.
    assert!(created > 100, "only {created} sessions created");
    assert!(signed_out > 0 && expired > 0, "signed out {signed_out}, expired {expired}");
}

#[test]
fn a_client_that_never_signs_out_on_close_is_caught_leaking() {
    let twist = Twist { legacy_close: true, ..Twist::default() };
    let caught = (0..20)
        .filter(|&seed| {
            let outcome = ClusterWorld::with_twist(seed, twist).unwrap().run();
            outcome.violation.is_some_and(|violation| violation.message.contains("sign-out"))
        })
        .count();
    assert!(caught >= 10, "only {caught} of 20 seeds caught the leaking close");
}

/// Meta's answers to node 0 lose their kill marks: the kill oracle must catch a query left
/// running after the node applied an answer produced once meta had ended its session.
#[test]
fn a_node_that_never_hears_of_kills_is_caught_running_killed_queries() {
    let twist = Twist { drop_kill_marks: true, ..Twist::default() };
    let caught: Vec<u64> = (0..120)
        .filter(|&seed| {
            let outcome = ClusterWorld::with_twist(seed, twist).unwrap().run();
            outcome.violation.is_some_and(|violation| violation.message.contains("kill oracle"))
        })
        .collect();
    assert!(caught.len() >= 3, "only {} of 120 seeds caught the deaf node", caught.len());
}
