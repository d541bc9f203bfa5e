//! Cluster sync, `MetaStore` and `NodeSync` together: the cluster model of `session-core/tests`
//! (`cluster_support/model.rs`, one map of sessions with instant propagation) driven by fuzzer
//! bytes with logins, touches, USEs, pick-ups, queries, sign-outs, KILL SESSION, KILL QUERY and
//! copies ended by a node's own registry, over a network that loses, duplicates, delays and
//! reorders messages as the bytes decide; then the network heals and the cluster must agree with
//! the model. Every machine's invariants are checked after every step.

use arbitrary::{Result, Unstructured};

use super::{index, list, weighted, within};

#[path = "../../../session-core/tests/cluster_support/model.rs"]
#[allow(
    clippy::unwrap_used,
    reason = "the shared test model: a failed unwrap is a broken property"
)]
mod model;

use super::cluster_support::{self, Faults};
use model::{NODES, Op, SPACES, run_case};

const OPS_MAX: usize = 48;

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let node = index(u, NODES)?;
    let pick = within(u, 0_usize..=63)?;
    Ok(match weighted(u, &[3, 2, 3, 3, 3, 2, 1, 1, 2, 1, 3])? {
        0 => Op::Login { node },
        1 => Op::Touch { node, session: pick },
        2 => Op::Use { node, session: pick, space: index(u, SPACES.len())? },
        3 => Op::PickUp { node, session: pick },
        4 => Op::Begin { node, session: pick },
        5 => Op::Finish { query: pick },
        6 => Op::SignOut { node, session: pick },
        7 => Op::KillSession { node, session: pick },
        8 => Op::KillQuery { node, query: pick },
        9 => Op::Forget { node, session: pick },
        _ => Op::Advance { ms: within(u, 1_u64..=1_499)? },
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(faults) = faults(&mut u) else { return };
    let seed = u.arbitrary::<u64>().unwrap_or(0);
    let ops = list(&mut u, OPS_MAX, op);
    run_case(&ops, seed, faults);
}

fn faults(u: &mut Unstructured<'_>) -> Result<Faults> {
    Ok(Faults {
        loss_percent: within(u, 0_u64..=34)?,
        duplicate_percent: within(u, 0_u64..=34)?,
        delay_max_ms: within(u, 0_u64..=699)?,
    })
}
