//! The catalog world is deterministic, passes with CatalogTurns and reaches its races.

use graphsession_sim::catalog::{CatalogWorld, Mark};

#[test]
fn the_same_seed_gives_the_same_run_bit_for_bit() {
    for seed in [0, 1, 99, 12_345] {
        let first = CatalogWorld::new(seed).run();
        let second = CatalogWorld::new(seed).run();
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.stats.statements, second.stats.statements, "seed {seed}");
        assert_eq!(first.violation, second.violation, "seed {seed}");
    }
}

#[test]
fn different_seeds_build_different_worlds() {
    let hashes: std::collections::BTreeSet<u64> =
        (0..20).map(|seed| CatalogWorld::new(seed).run().trace_hash).collect();
    assert_eq!(hashes.len(), 20);
}

#[test]
fn catalog_turns_survive_forty_seeds_and_meet_the_race() {
    let mut races = 0;
    let mut commits = 0;
    for seed in 0..40 {
        let outcome = CatalogWorld::new(seed).run();
        assert!(outcome.violation.is_none(), "seed {seed}: {:?}", outcome.violation);
        assert!(outcome.stats.statements > 0, "seed {seed} submitted nothing");
        races += outcome.stats.mark(Mark::TakeBeforeDelivery);
        commits += outcome.stats.mark(Mark::WriteCommitted);
    }
    assert!(commits > 0, "no write committed in forty seeds");
    assert!(races > 0, "no process took the lock before its watch delivered a newer value");
}
