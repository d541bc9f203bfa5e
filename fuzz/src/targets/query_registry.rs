//! The query registry: the reference model of `query-plan/tests` (its `support/model.rs`) driven
//! by fuzzer bytes with sessions, registrations, finish and fail, executor finish and
//! checkpoints, KILL QUERY, session kills, closes, clock steps and SHOW; `run` asserts agreement
//! with the model and `check_invariants()` after every step.

use arbitrary::{Result, Unstructured};

use super::{index, list, within};

#[path = "../../../query-plan/tests/support/model.rs"]
#[allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    reason = "the shared test model: a failed unwrap is a broken property, sizes are tiny"
)]
mod model;

use model::Op;

const OPS_MAX: usize = 96;

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let session = within(u, 1_i64..=4)?;
    let plan = within(u, 0_u64..=4)?;
    let expired = u.arbitrary::<bool>()?;
    Ok(match index(u, 13)? {
        0 => Op::OpenSession { session, user: index(u, 4)? },
        1 => Op::CloseSession { session, expired },
        2 => Op::Register {
            session,
            plan,
            statement_bytes: index(u, 11)?,
            deadline_after_us: if u.arbitrary::<bool>()? {
                Some(within(u, 0_u64..=59)?)
            } else {
                None
            },
            skew_us: within(u, -5_i64..=4)?,
        },
        3 => Op::Finish { session, plan },
        4 => Op::Fail { session, plan },
        5 => Op::ExecutorFinish { session, plan },
        6 => Op::Checkpoint { session, plan },
        7 => Op::KillQuery {
            caller: index(u, 3)?,
            current: session,
            target: if u.arbitrary::<bool>()? { Some(within(u, 1_i64..=4)?) } else { None },
            plan,
            enforced: expired,
        },
        8 => Op::KillSession { session, expired },
        9 => Op::Clock { delta_us: within(u, -20_i64..=39)? },
        10 => Op::ClockToDeadline,
        11 => Op::Show { caller: index(u, 3)?, delta_us: within(u, -10_i64..=9)? },
        _ => Op::ShowLocal { session },
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let ops = list(&mut u, OPS_MAX, op);
    model::run(&ops);
}
