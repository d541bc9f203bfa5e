//! The simulator's cluster world with every choice taken from the fuzzer's bytes
//! ([`Chooser::from_bytes`]): the configuration, the faults, every client's and node's step. The
//! world checks every machine's invariants after every step and its oracles (kills land within
//! the staleness bound, KILL QUERY never hits the wrong query, per-(user, ip) counts within
//! limits, and the liveness phase converges); a violation panics with the world's message. When
//! the bytes run out every further choice is the simplest, so any input is a whole run.

use graphsession_sim::chooser::Chooser;
use graphsession_sim::world::{ClusterWorld, Options};

/// The target.
pub fn run(data: &[u8]) {
    let world = ClusterWorld::with_chooser(0, Chooser::from_bytes(data), Options::default());
    let world = world.unwrap_or_else(|error| panic!("the world refused its choices: {error}"));
    let outcome = world.run();
    if let Some(violation) = outcome.violation {
        panic!("sim_world: step {}: {}", violation.step, violation.message);
    }
}
