//! The role table and cached callers: the reference model of `permission/tests` (its
//! `support/reference_model.rs`) driven by fuzzer bytes with CREATE/DROP USER, GRANT, REVOKE,
//! DROP SPACE, USE and every check, with authorization on and off; every result, error, version
//! and role must agree with the model, and the table's invariants hold after every step.

use arbitrary::{Result, Unstructured};
use graphsession_permission::Role;

use super::{index, list};

#[path = "../../../permission/tests/support/reference_model.rs"]
mod model;

use model::{Op, SPACES, USERS, actions};

const OPS_MAX: usize = 64;

fn op(u: &mut Unstructured<'_>, action_count: usize) -> Result<Op> {
    // Root (index 0) acts often, so that users and roles exist for the others to act on.
    let by = if u.arbitrary::<bool>()? { 0 } else { index(u, USERS.len())? };
    let user = index(u, USERS.len())?;
    let space = index(u, SPACES.len())?;
    let role = Role::ALL[index(u, Role::ALL.len())?];
    Ok(match index(u, 7)? {
        0 => Op::CreateUser { by, user },
        1 => Op::DropUser { by, user },
        2 => Op::Grant { by, role, space, user },
        3 => Op::Revoke { by, role, space, user },
        4 => Op::DropSpace { by, space },
        5 => Op::Use { session: user, space: u.arbitrary::<bool>()?.then_some(space) },
        _ => Op::Check { session: user, action: index(u, action_count)? },
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let action_count = actions().len();
    let ops = list(&mut u, OPS_MAX, |u| Ok((u.arbitrary::<bool>()?, op(u, action_count)?)));
    if let Err(disagreement) = model::replay(&ops) {
        panic!("role table vs model: {disagreement}");
    }
}
