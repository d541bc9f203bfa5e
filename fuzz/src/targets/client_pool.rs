//! The client session pool: the property test's pool world of `session-core/tests`
//! (`client_support/pool_model.rs`) driven by fuzzer bytes with acquires, releases, dropped
//! handles, executes, healthy and failing servers and time steps; the pool's invariants after
//! every step, its accounting within bounds, and a liveness phase that must close it without
//! losing a session.

use arbitrary::{Result, Unstructured};
use graphsession_core::client::Release;

use super::{list, weighted, within};

use super::client_support::pool_model::{PoolOp, run_case};

const OPS_MAX: usize = 64;

fn op(u: &mut Unstructured<'_>) -> Result<PoolOp> {
    let handle = within(u, 0_usize..=3)?;
    Ok(match weighted(u, &[3, 2, 1, 2, 5, 2, 2, 2, 1])? {
        0 => PoolOp::Acquire,
        1 => {
            PoolOp::Release(handle, if u.arbitrary()? { Release::Reuse } else { Release::Discard })
        }
        2 => PoolOp::Drop(handle),
        3 => PoolOp::Execute(handle),
        4 => PoolOp::Run,
        5 => PoolOp::FailOne,
        6 => PoolOp::Advance(within(u, 0_u64..=19_999)?),
        7 => PoolOp::FireNext,
        _ => PoolOp::Close,
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let ops = list(&mut u, OPS_MAX, op);
    run_case(&ops);
}
