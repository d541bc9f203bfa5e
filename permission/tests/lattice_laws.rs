//! Property tests: rights form a lattice (order and lattice laws), and every check is monotone in it: a
//! caller holding at least the rights of another is never refused what the other is allowed, for every
//! action kind, every row filter, fix 8 (see docs/fixes.md), and both policies.
//!
//! Monotonicity compares callers with the same user name: rules about identity (DESCRIBE USER of oneself,
//! KILL QUERY of one's own query, no GRANT to oneself) depend on who asks, not on rights.

use graphsession_permission::{
    Action, Caller, Policy, Rights, Role, check, check_role_change_target, may_see_queries_of,
    may_see_role_row, may_see_space,
};
use proptest::prelude::*;

const SPACES: [&str; 4] = ["s0", "s1", "s2", "s3"];
const USERS: [&str; 2] = ["me", "other"];
const POLICIES: [Policy; 2] =
    [Policy { authorization_enabled: true }, Policy { authorization_enabled: false }];

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn rights() -> impl Strategy<Value = Rights> {
    let roles = prop::collection::vec((prop::sample::select(SPACES.to_vec()), role()), 0..6);
    // GOD appears when a generated role is GOD (from_roles makes it GOD everywhere), about 1 in 5 values.
    roles.prop_map(|roles| Rights::from_roles(roles.iter().map(|(space, role)| (*space, *role))))
}

fn current_space() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(SPACES.to_vec()))
}

/// Every action over the small universe of spaces, users and roles.
fn every_action() -> Vec<Action<'static>> {
    let mut actions = vec![
        Action::ReadCurrentSpace,
        Action::WriteSpace,
        Action::WriteSchema,
        Action::WriteData,
        Action::WriteUser,
        Action::ShowSessions,
        Action::KillSession,
        Action::Anyone,
    ];
    for space in SPACES {
        actions.push(Action::ReadSpace { space });
        actions.push(Action::ShowRoles { space });
        for user in USERS {
            for role in Role::ALL {
                actions.push(Action::WriteRole { role, space, user });
                actions.push(Action::RevokeRole { role, space, user });
            }
        }
    }
    for user in USERS {
        actions.push(Action::ReadUser { user });
        actions.push(Action::KillQuery { owner_user: user });
    }
    actions
}

proptest! {
    #[test]
    fn order_is_reflexive_antisymmetric_transitive(a in rights(), b in rights(), c in rights()) {
        prop_assert!(a.le(&a));
        if a.le(&b) && b.le(&a) {
            prop_assert_eq!(&a, &b);
        }
        if a.le(&b) && b.le(&c) {
            prop_assert!(a.le(&c));
        }
        // Chains built with join are ordered, so transitivity is exercised, not only vacuous.
        let ab = a.join(&b);
        let abc = ab.join(&c);
        prop_assert!(a.le(&ab) && ab.le(&abc) && a.le(&abc));
    }

    #[test]
    fn meet_and_join_are_the_bounds_of_the_order(a in rights(), b in rights(), c in rights()) {
        let meet = a.meet(&b);
        let join = a.join(&b);
        prop_assert!(meet.le(&a) && meet.le(&b));
        prop_assert!(a.le(&join) && b.le(&join));
        // Greatest lower bound and least upper bound.
        if c.le(&a) && c.le(&b) {
            prop_assert!(c.le(&meet));
        }
        if a.le(&c) && b.le(&c) {
            prop_assert!(join.le(&c));
        }
        prop_assert_eq!(a.le(&b), a.join(&b) == b);
        prop_assert_eq!(a.le(&b), a.meet(&b) == a);
    }

    #[test]
    fn meet_and_join_are_commutative_associative_idempotent_absorptive(
        a in rights(), b in rights(), c in rights(),
    ) {
        prop_assert_eq!(a.meet(&b), b.meet(&a));
        prop_assert_eq!(a.join(&b), b.join(&a));
        prop_assert_eq!(a.meet(&b).meet(&c), a.meet(&b.meet(&c)));
        prop_assert_eq!(a.join(&b).join(&c), a.join(&b.join(&c)));
        prop_assert_eq!(a.meet(&a), a.clone());
        prop_assert_eq!(a.join(&a), a.clone());
        prop_assert_eq!(a.meet(&a.join(&b)), a.clone());
        prop_assert_eq!(a.join(&a.meet(&b)), a.clone());
        prop_assert!(Rights::none().le(&a) && a.le(&Rights::god()));
    }

    #[test]
    fn more_rights_never_allow_less(
        less in rights(), extra in rights(), user in prop::sample::select(USERS.to_vec()),
        space in current_space(),
    ) {
        let more = less.join(&extra);
        let weak = Caller::from_rights(user, less, space);
        let strong = Caller::from_rights(user, more, space);
        for policy in POLICIES {
            for action in every_action() {
                if check(&weak, policy, action).is_ok() {
                    prop_assert!(check(&strong, policy, action).is_ok(), "{:?} {:?}", action, policy);
                }
            }
            for space in SPACES {
                prop_assert!(!may_see_space(&weak, policy, space) || may_see_space(&strong, policy, space));
                for row_user in USERS {
                    prop_assert!(
                        !may_see_role_row(&weak, policy, space, row_user)
                            || may_see_role_row(&strong, policy, space, row_user)
                    );
                    for target in Role::ALL.into_iter().map(Some).chain([None]) {
                        let weak_ok = check_role_change_target(&weak, policy, space, row_user, target);
                        let strong_ok = check_role_change_target(&strong, policy, space, row_user, target);
                        prop_assert!(weak_ok.is_err() || strong_ok.is_ok(), "fix 8 {:?}", target);
                    }
                }
            }
            for owner in USERS {
                prop_assert!(
                    !may_see_queries_of(&weak, policy, owner) || may_see_queries_of(&strong, policy, owner)
                );
            }
        }
    }
}
