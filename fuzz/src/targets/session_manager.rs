//! The server's session registry: the reference model and harness of `session-core/tests`
//! (`server_support/model.rs`) driven by fuzzer bytes with logins, execute (begin/finish),
//! touch, USE, variables, sign-out, KILL SESSION, KILL QUERY, GRANT/REVOKE, clock steps both
//! ways, expiry rounds and the cluster's calls; every result and the observable state must match
//! the model, and `check_invariants()` holds after every step.

use arbitrary::{Result, Unstructured};

use super::{index, list, within};

#[path = "../../../session-core/tests/server_support/model.rs"]
#[allow(
    clippy::unwrap_used,
    reason = "the shared test model: a failed unwrap is a broken property"
)]
mod model;

use model::{Harness, Op};

const OPS_MAX: usize = 96;

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let pick = u.arbitrary::<u16>()?;
    Ok(match index(u, 17)? {
        0 => Op::Login { user: index(u, 3)?, ip: index(u, 2)? },
        1 => Op::Touch(pick),
        2 => Op::Begin(pick),
        3 => Op::Finish(pick),
        4 => Op::Use { session: pick, space: index(u, 2)? },
        5 => Op::SignOut(pick),
        6 => Op::SetVariable { session: pick, name: index(u, 3)? },
        7 => Op::KillSession { by_root: u.arbitrary()?, target: pick },
        8 => Op::KillQuery { by: index(u, 3)?, query: pick },
        9 => Op::Grant { user: within(u, 1..=2)?, space: index(u, 2)?, role: index(u, 4)? },
        10 => Op::Revoke { user: within(u, 1..=2)?, space: index(u, 2)? },
        11 => Op::Clock { step_ms: within(u, -1_500_i64..=1_499)? },
        12 => Op::Timeout,
        13 => Op::Install {
            id: within(u, 0_u8..=7)?,
            user: index(u, 3)?,
            ip: index(u, 2)?,
            space: index(u, 3)?,
            idle_ms: within(u, 0_u16..=1_999)?,
        },
        14 => Op::AdoptSpace {
            session: pick,
            space: index(u, 2)?,
            offset_ms: within(u, -1_500_i64..=1_499)?,
        },
        15 => Op::EndFromCluster { session: pick, expired: u.arbitrary()? },
        _ => Op::KillFromCluster(pick),
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let ops = list(&mut u, OPS_MAX, op);
    let mut harness = Harness::new();
    for op in &ops {
        harness.step(op);
        harness.compare();
    }
}
