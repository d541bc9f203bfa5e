//! The swarm reaches the password throttle: some seeds have a known user typing a wrong
//! password, with throttling off and on, and those runs pass with every answer judged.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use graphsession_sim::world::{ClusterConfig, ClusterWorld};

/// The first seed below 1,000 whose configuration `wanted` accepts.
fn seed_where(wanted: impl Fn(&ClusterConfig) -> bool) -> u64 {
    (0..1_000).find(|seed| wanted(ClusterWorld::new(*seed).unwrap().config())).unwrap()
}

#[test]
fn a_wrong_password_stranger_runs_with_throttling_off_and_on() {
    let off = seed_where(|config| config.stranger_wrong_password && config.password_lock_secs == 0);
    let on = seed_where(|config| {
        config.stranger_wrong_password
            && config.failed_login_attempts > 1
            && config.password_lock_secs > 0
    });
    for seed in [off, on] {
        let outcome = ClusterWorld::new(seed).unwrap().run();
        assert_eq!(outcome.violation, None, "seed {seed}");
        assert!(outcome.stats.client_failed > 0, "seed {seed}: no login was refused");
    }
}

#[test]
fn only_seeds_with_a_stranger_draw_a_wrong_password() {
    for seed in 0..200 {
        let world = ClusterWorld::new(seed).unwrap();
        let config = world.config();
        assert!(config.stranger_client || !config.stranger_wrong_password, "seed {seed}");
        assert!(config.stranger_wrong_password || config.failed_login_attempts == 0, "seed {seed}");
    }
}
