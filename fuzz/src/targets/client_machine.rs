//! The client session machine: the property tests' world of `session-core/tests`
//! (`client_support/machine_model.rs`: a scripted server and a reference ledger) driven by
//! fuzzer bytes with user commands, transport events, right, wrong and stale replies and time
//! steps both ways, then a liveness phase. It asserts every promise of the machine (no execute
//! with an id it does not hold, nothing after close but sign-outs, no id leaving the ledger
//! without proof, every socket closed once, no due deadline left) and `check_invariants()` after
//! every step.

use arbitrary::{Result, Unstructured};
use graphsession_core::client::{Idempotency, TransportEvent};

use super::{index, list, weighted, within};

use super::client_support::machine_model::{Op, Reply, Shape, World, test_config};

const OPS_MAX: usize = 128;

fn reply(u: &mut Unstructured<'_>) -> Result<Reply> {
    Ok(match index(u, 4)? {
        0 => Reply::AuthOk(within(u, -1_i64..=5)?),
        1 => Reply::AuthErr(*u.choose(&[-1001, -1002, -1010, -18])?),
        2 => Reply::ExecOk,
        _ => Reply::ExecErr(*u.choose(&[-1002, -1005, -1008])?),
    })
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match weighted(u, &[1, 3, 1, 1, 4, 3, 10, 1, 3, 1, 3, 1])? {
        0 => Op::Open,
        1 => Op::Execute(if u.arbitrary()? {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        }),
        2 => Op::Ping,
        3 => Op::UseSpace,
        4 => Op::Transport(match weighted(u, &[3, 1, 1, 1])? {
            0 => TransportEvent::Connected,
            1 => TransportEvent::ConnectFailed,
            2 => TransportEvent::Closed,
            _ => TransportEvent::TimedOut,
        }),
        5 => Op::Reply(reply(u)?),
        6 => Op::Serve,
        7 => Op::StaleReply(reply(u)?),
        8 => Op::Advance(within(u, 0_u64..=4_999)?),
        9 => Op::Advance(within(u, 5_000_u64..=399_999)?),
        10 => Op::FireNext,
        _ => Op::Regress(within(u, 0_u64..=9_999)?),
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(shape) = shape(&mut u) else { return };
    let close_at = u.arbitrary::<Option<u8>>().unwrap_or(None).map(usize::from);
    let force = u.arbitrary::<bool>().unwrap_or(false);
    let ops = list(&mut u, OPS_MAX, op);
    let mut world = World::new(test_config(shape));
    world.apply(&Op::Open);
    for (step, op) in ops.iter().enumerate() {
        if close_at == Some(step) {
            world.apply(if force { &Op::ForceClose } else { &Op::Close });
        }
        world.apply(op);
    }
    world.liveness();
}

fn shape(u: &mut Unstructured<'_>) -> Result<Shape> {
    Ok(Shape {
        space: u.arbitrary()?,
        replace: u.arbitrary()?,
        close_on_invalid: weighted(u, &[4, 1])? == 1,
        tight: u.arbitrary()?,
    })
}
