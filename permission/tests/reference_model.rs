//! A reference model (a few sets and a map, with the reference's rules written out plainly) driven side by
//! side with the real `RoleTable` and `Caller`s on random operations: every result, every error and the
//! resulting roles must agree.
//!
//! The real sessions keep cached callers: transitions are given the cached (possibly stale) caller, checks
//! use it after `refresh`, as the version protocol says. The model has no cache at all, so any agreement
//! also proves that refresh-then-check sees exactly the table's current rights (fix 4, see docs/fixes.md).

#[path = "support/reference_model.rs"]
mod model;

use graphsession_permission::Role;
use model::{Op, SPACES, USERS, actions};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS.len();
    // Root (index 0) acts often, so that users and roles exist for the others to act on.
    let by = prop_oneof![Just(0), 0..USERS.len()];
    let space = 0..SPACES.len();
    let role = prop::sample::select(Role::ALL.to_vec());
    prop_oneof![
        2 => (by.clone(), user.clone()).prop_map(|(by, user)| Op::CreateUser { by, user }),
        1 => (by.clone(), user.clone()).prop_map(|(by, user)| Op::DropUser { by, user }),
        5 => (by.clone(), role.clone(), space.clone(), user.clone())
            .prop_map(|(by, role, space, user)| Op::Grant { by, role, space, user }),
        3 => (by.clone(), role, space.clone(), user.clone())
            .prop_map(|(by, role, space, user)| Op::Revoke { by, role, space, user }),
        1 => (by, space.clone()).prop_map(|(by, space)| Op::DropSpace { by, space }),
        2 => (user.clone(), prop::option::of(space)).prop_map(|(session, space)| Op::Use { session, space }),
        6 => (user, 0..actions().len()).prop_map(|(session, action)| Op::Check { session, action }),
    ]
}

/// Replays `ops` through the shared model, as a proptest failure.
fn replay(ops: &[(bool, Op)]) -> Result<(), TestCaseError> {
    model::replay(ops).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn real_table_and_callers_agree_with_the_model(
        ops in prop::collection::vec((any::<bool>(), op()), 1..60),
    ) {
        replay(&ops)?;
    }
}

/// Shrunk by proptest while the crate was written: the first user's check of the third action, with
/// authorization on, before any USE.
#[test]
fn regression_01_a_check_before_any_use_agrees_with_the_model() {
    replay(&[(true, Op::Check { session: 0, action: 2 })]).unwrap();
}
