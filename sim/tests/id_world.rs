//! The id world is deterministic, passes with our generators and catches the naive one.

use graphsession_sim::ids::{Generator, IdWorld};

#[test]
fn the_same_seed_gives_the_same_run_bit_for_bit() {
    for seed in [0, 1, 99, 12_345] {
        let first = IdWorld::new(seed, Generator::Ours).run();
        let second = IdWorld::new(seed, Generator::Ours).run();
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.stats.session_ids, second.stats.session_ids, "seed {seed}");
    }
}

#[test]
fn different_seeds_build_different_worlds() {
    let hashes: std::collections::BTreeSet<u64> =
        (0..20).map(|seed| IdWorld::new(seed, Generator::Ours).run().trace_hash).collect();
    assert_eq!(hashes.len(), 20);
}

#[test]
fn our_generators_survive_forty_seeds_of_faults() {
    for seed in 0..40 {
        let outcome = IdWorld::new(seed, Generator::Ours).run();
        assert!(outcome.violation.is_none(), "seed {seed}: {:?}", outcome.violation);
        assert!(outcome.stats.session_ids > 0, "seed {seed} issued nothing");
    }
}

#[test]
fn the_naive_generator_is_caught_colliding() {
    let caught = (0..20)
        .filter(|&seed| IdWorld::new(seed, Generator::Naive).run().violation.is_some())
        .count();
    assert!(caught >= 15, "only {caught} of 20 seeds caught the naive generator");
}
