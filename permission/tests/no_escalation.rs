//! Property test: over any sequence of GRANT, REVOKE, CREATE USER and DROP USER by non-GOD callers (with
//! authorization on), privilege escalation is impossible:
//!
//! - a change made by a caller leaves the target with a role strictly below the caller's in that space,
//!   and changes only targets that were strictly below it (fix 8, see docs/fixes.md);
//! - so nobody ever holds a role at or above the highest role of any non-GOD caller who changed them;
//! - the set of ADMINs never changes (no non-GOD can make or unmake one);
//! - GOD is never created or removed (with authorization off too), nobody changes their own role;
//! - every step keeps the table's invariants, and a refused step changes nothing, version included.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_permission::{Caller, Policy, Role, RoleTable};
use proptest::prelude::*;

const USERS: [&str; 5] = ["root", "u1", "u2", "u3", "u4"];
const SPACES: [&str; 3] = ["s0", "s1", "s2"];
const ON: Policy = Policy { authorization_enabled: true };
const OFF: Policy = Policy { authorization_enabled: false };

#[derive(Debug, Clone, Copy)]
enum Op {
    Grant,
    Revoke,
    CreateUser,
    DropUser,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    op: Op,
    /// Index into `USERS[1..]`: never root.
    caller: usize,
    role: Role,
    space: usize,
    target: usize,
}

fn step() -> impl Strategy<Value = Step> {
    let op = prop_oneof![4 => Just(Op::Grant), 4 => Just(Op::Revoke), 1 => Just(Op::CreateUser), 1 => Just(Op::DropUser)];
    (op, 1..USERS.len(), prop::sample::select(Role::ALL.to_vec()), 0..SPACES.len(), 0..USERS.len())
        .prop_map(|(op, caller, role, space, target)| Step { op, caller, role, space, target })
}

/// Initial roles: for each non-root user and space, maybe a non-GOD role, granted by root.
fn initial() -> impl Strategy<Value = Vec<Option<Role>>> {
    let role = prop::option::of(prop::sample::select(Role::ALL[1..].to_vec()));
    prop::collection::vec(role, (USERS.len() - 1) * SPACES.len())
}

fn setup(roles: &[Option<Role>]) -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    for user in &USERS[1..] {
        table.create_user(&root, ON, user).expect("root creates users");
    }
    for (index, role) in roles.iter().enumerate() {
        if let Some(role) = role {
            let user = USERS[1 + index / SPACES.len()];
            table.grant(&root, ON, *role, SPACES[index % SPACES.len()], user).expect("root grants");
        }
    }
    table
}

fn admins(table: &RoleTable) -> BTreeSet<(String, String)> {
    let mut admins = BTreeSet::new();
    for space in SPACES {
        for (user, role) in table.roles_in_space(space) {
            if role == Role::Admin {
                admins.insert((user.to_owned(), space.to_owned()));
            }
        }
    }
    admins
}

fn apply(table: &mut RoleTable, policy: Policy, step: Step) -> Result<(), String> {
    let caller = Caller::resolve(table, USERS[step.caller], None);
    let (space, target) = (SPACES[step.space], USERS[step.target]);
    let result = match step.op {
        Op::Grant => table.grant(&caller, policy, step.role, space, target),
        Op::Revoke => table.revoke(&caller, policy, step.role, space, target),
        Op::CreateUser => table.create_user(&caller, policy, target),
        Op::DropUser => table.drop_user(&caller, policy, target),
    };
    result.map_err(|error| error.to_string())
}

proptest! {
    #[test]
    fn non_god_callers_cannot_escalate(roles in initial(), steps in prop::collection::vec(step(), 1..40)) {
        let mut table = setup(&roles);
        let admins_at_start = admins(&table);
        // For each (user, space) changed by a non-GOD caller: the highest role any of its changers held.
        let mut changer_max: BTreeMap<(usize, usize), Role> = BTreeMap::new();
        for step in steps {
            let before = table.clone();
            let caller_role = table.role_of(USERS[step.caller], SPACES[step.space]);
            let caller_roles_before: Vec<_> = SPACES.iter().map(|s| table.role_of(USERS[step.caller], s)).collect();
            let result = apply(&mut table, ON, step);
            table.check_invariants().unwrap();
            prop_assert_eq!(table.god_users().collect::<Vec<_>>(), vec!["root"]);
            prop_assert_eq!(admins(&table), admins_at_start.clone());
            match (result, step.op) {
                (Err(_), _) => prop_assert_eq!(&table, &before),
                (Ok(()), Op::CreateUser | Op::DropUser) => prop_assert!(false, "non-GOD changed users"),
                (Ok(()), Op::Grant | Op::Revoke) => {
                    prop_assert_ne!(step.caller, step.target, "changed their own role");
                    prop_assert_eq!(table.version(), before.version() + 1);
                    let held_before = before.role_of(USERS[step.target], SPACES[step.space]);
                    let held_after = table.role_of(USERS[step.target], SPACES[step.space]);
                    let caller_role = caller_role.expect("a caller without a role changed a role");
                    prop_assert!(held_before.is_none_or(|r| r < caller_role));
                    prop_assert!(held_after.is_none_or(|r| r < caller_role));
                    let max = changer_max.entry((step.target, step.space)).or_insert(caller_role);
                    *max = (*max).max(caller_role);
                }
            }
            let caller_roles_after: Vec<_> = SPACES.iter().map(|s| table.role_of(USERS[step.caller], s)).collect();
            prop_assert_eq!(caller_roles_before, caller_roles_after, "a caller changed its own rights");
            for ((target, space), max) in &changer_max {
                let held = table.role_of(USERS[*target], SPACES[*space]);
                prop_assert!(held.is_none_or(|r| r < *max), "{:?} holds {:?} >= {:?}", USERS[*target], held, max);
            }
        }
    }

    #[test]
    fn god_is_never_created_or_removed_even_with_authorization_off(
        roles in initial(), steps in prop::collection::vec(step(), 1..40),
    ) {
        let mut table = setup(&roles);
        for step in steps {
            let before = table.clone();
            if apply(&mut table, OFF, step).is_err() {
                prop_assert_eq!(&table, &before);
            }
            table.check_invariants().unwrap();
            prop_assert_eq!(table.god_users().collect::<Vec<_>>(), vec!["root"]);
            prop_assert!(table.version() >= before.version());
        }
    }
}
