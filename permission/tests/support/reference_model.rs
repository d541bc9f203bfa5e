//! The reference model of the role table and callers (a few sets and a map, with the reference's
//! rules written out plainly), the real system next to it, and [`replay`], which drives both and
//! compares them after every step. Shared by `reference_model.rs` (proptest) and the fuzz target
//! `permission` (included with `#[path]`), so that both check against one model.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_permission::{Action, Caller, PermissionError, Policy, Role, RoleTable, check};

pub(crate) const USERS: [&str; 5] = ["root", "a", "b", "c", "d"];
pub(crate) const SPACES: [&str; 3] = ["s0", "s1", "s2"];

/// The obviously-correct model.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    gods: BTreeSet<String>,
    users: BTreeSet<String>,
    roles: BTreeMap<(String, String), Role>,
    version: u64,
}

pub(crate) type Outcome = Result<(), PermissionError>;

impl Model {
    fn new() -> Model {
        let gods: BTreeSet<String> = ["root".to_owned()].into();
        Model { users: gods.clone(), gods, roles: BTreeMap::new(), version: 0 }
    }

    fn role(&self, user: &str, space: &str) -> Option<Role> {
        if self.gods.contains(user) {
            return Some(Role::God);
        }
        self.roles.get(&(user.to_owned(), space.to_owned())).copied()
    }

    fn god(&self, user: &str) -> bool {
        self.gods.contains(user)
    }

    fn done(&mut self) -> Outcome {
        self.version += 1;
        Ok(())
    }

    /// The reference's rules, one line each, with authorization on; off passes but for the noted few.
    fn check(&self, on: bool, by: &str, current: Option<&str>, action: Action<'_>) -> Outcome {
        use PermissionError as E;
        // GOD holds everything even before USE.
        let cur =
            if self.god(by) { Some(Role::God) } else { current.and_then(|s| self.role(by, s)) };
        let at_least = |least: Role| cur.is_some_and(|role| role >= least);
        let rule = |allowed: bool, error: E| if !on || allowed { Ok(()) } else { Err(error) };
        match action {
            Action::ReadSpace { space } => rule(self.role(by, space).is_some(), E::ReadSpace),
            Action::ReadCurrentSpace => rule(cur.is_some(), E::ReadSchemaOrData),
            Action::WriteSpace => rule(self.god(by), E::WriteSpace),
            Action::WriteSchema => rule(at_least(Role::Dba), E::WriteSchema),
            Action::WriteData => rule(at_least(Role::User), E::WriteData),
            Action::WriteUser => rule(self.god(by), E::WriteUser),
            Action::ReadUser { user } => {
                rule(self.god(by) || by == user, E::ReadUser { user: user.to_owned() })
            }
            Action::WriteRole { role, space, user } => self.write_role(on, by, role, space, user),
            Action::RevokeRole { role: Role::God, .. } => Err(E::RevokeGod),
            Action::RevokeRole { role, space, user } => self.write_role(on, by, role, space, user),
            Action::ShowSessions => rule(self.god(by), E::ShowSessions),
            Action::KillSession => rule(self.god(by), E::KillSession),
            Action::KillQuery { owner_user } => {
                if self.god(by) || by == owner_user {
                    Ok(())
                } else {
                    Err(E::KillQuery)
                }
            }
            Action::ShowRoles { space } => rule(self.role(by, space).is_some(), E::ReadSpace),
            Action::Anyone => Ok(()),
        }
    }

    fn write_role(&self, on: bool, by: &str, role: Role, space: &str, user: &str) -> Outcome {
        use PermissionError as E;
        if role == Role::God {
            return Err(E::GrantRevokeGod);
        }
        if !on || self.god(by) && by != user {
            return Ok(());
        }
        if by == user {
            return Err(E::GrantRevokeYourself);
        }
        match self.role(by, space) {
            None => Err(E::WriteRole),
            Some(Role::Admin) if role != Role::Admin => Ok(()),
            Some(caller_role) => Err(E::GrantRevokeRole { caller_role, user: user.to_owned() }),
        }
    }

    /// Fix 8 (see docs/fixes.md), plainly: a non-GOD caller may only change a target strictly below it.
    fn below(&self, on: bool, by: &str, space: &str, user: &str) -> Outcome {
        let (Some(caller_role), Some(target_role)) = (self.role(by, space), self.role(user, space))
        else {
            return Ok(());
        };
        if !on || self.god(by) || target_role < caller_role {
            return Ok(());
        }
        Err(PermissionError::TargetRoleNotBelow { user: user.to_owned(), target_role, caller_role })
    }

    fn create_user(&mut self, on: bool, by: &str, user: &str) -> Outcome {
        self.check(on, by, None, Action::WriteUser)?;
        if !self.users.insert(user.to_owned()) {
            return Err(PermissionError::UserExists { user: user.to_owned() });
        }
        self.done()
    }

    /// Permission, then "Can't drop root user." (in both modes), then existence.
    fn drop_user(&mut self, on: bool, by: &str, user: &str) -> Outcome {
        self.check(on, by, None, Action::WriteUser)?;
        if self.god(user) {
            return Err(PermissionError::GodUserNotDroppable { user: user.to_owned() });
        }
        if !self.users.contains(user) {
            return Err(PermissionError::UserNotFound { user: user.to_owned() });
        }
        self.users.remove(user);
        self.roles.retain(|(holder, _), _| holder != user);
        self.done()
    }

    /// The semantic check (a GOD target) before any permission check, as NebulaGraph validates.
    fn grant(&mut self, on: bool, by: &str, role: Role, space: &str, user: &str) -> Outcome {
        if self.god(user) {
            return Err(PermissionError::GodCannotBeGranted { user: user.to_owned() });
        }
        self.write_role(on, by, role, space, user)?;
        if !self.users.contains(user) {
            return Err(PermissionError::UserNotFound { user: user.to_owned() });
        }
        self.below(on, by, space, user)?;
        self.roles.insert((user.to_owned(), space.to_owned()), role);
        self.done()
    }

    /// REVOKE of GOD first, in NebulaGraph's `RevokeRoleExecutor`'s words.
    fn revoke(&mut self, on: bool, by: &str, role: Role, space: &str, user: &str) -> Outcome {
        if role == Role::God {
            return Err(PermissionError::RevokeGod);
        }
        self.write_role(on, by, role, space, user)?;
        if !self.users.contains(user) {
            return Err(PermissionError::UserNotFound { user: user.to_owned() });
        }
        self.below(on, by, space, user)?;
        let key = (user.to_owned(), space.to_owned());
        match self.roles.get(&key) {
            None => Err(PermissionError::RoleNotFound {
                user: user.to_owned(),
                space: space.to_owned(),
            }),
            Some(held) if *held != role => {
                Err(PermissionError::ImproperRole { user: user.to_owned(), held: *held })
            }
            Some(_) => {
                self.roles.remove(&key);
                self.done()
            }
        }
    }

    fn drop_space(&mut self, on: bool, by: &str, space: &str) -> Outcome {
        self.check(on, by, None, Action::WriteSpace)?;
        self.roles.retain(|(_, held_in), _| held_in != space);
        self.done()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    CreateUser { by: usize, user: usize },
    DropUser { by: usize, user: usize },
    Grant { by: usize, role: Role, space: usize, user: usize },
    Revoke { by: usize, role: Role, space: usize, user: usize },
    DropSpace { by: usize, space: usize },
    Use { session: usize, space: Option<usize> },
    Check { session: usize, action: usize },
}

/// Every action over the pools, indexed by `Op::Check`.
pub(crate) fn actions() -> Vec<Action<'static>> {
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
        actions.extend([Action::ReadSpace { space }, Action::ShowRoles { space }]);
        for user in USERS {
            actions.push(Action::WriteRole { role: Role::Dba, space, user });
            actions.push(Action::RevokeRole { role: Role::Dba, space, user });
        }
    }
    for user in USERS {
        actions.extend([Action::ReadUser { user }, Action::KillQuery { owner_user: user }]);
    }
    actions
}

/// The real system: the table and one cached caller per user's session.
pub(crate) struct Real {
    table: RoleTable,
    sessions: Vec<Caller>,
}

impl Real {
    pub(crate) fn apply(&mut self, policy: Policy, op: &Op) -> Outcome {
        let t = &mut self.table;
        match *op {
            Op::CreateUser { by, user } => t.create_user(&self.sessions[by], policy, USERS[user]),
            Op::DropUser { by, user } => t.drop_user(&self.sessions[by], policy, USERS[user]),
            Op::Grant { by, role, space, user } => {
                t.grant(&self.sessions[by], policy, role, SPACES[space], USERS[user])
            }
            Op::Revoke { by, role, space, user } => {
                t.revoke(&self.sessions[by], policy, role, SPACES[space], USERS[user])
            }
            Op::DropSpace { by, space } => t.drop_space(&self.sessions[by], policy, SPACES[space]),
            Op::Use { session, space } => {
                let caller = &mut self.sessions[session];
                caller.refresh(t);
                let Some(space) = space.map(|space| SPACES[space]) else {
                    caller.use_space(None);
                    return Ok(());
                };
                check(caller, policy, Action::ReadSpace { space })?;
                caller.use_space(Some(space));
                Ok(())
            }
            Op::Check { session, action } => {
                let caller = &mut self.sessions[session];
                caller.refresh(t);
                check(caller, policy, actions()[action])
            }
        }
    }
}

pub(crate) fn apply_model(
    model: &mut Model,
    current: &mut [Option<&'static str>],
    on: bool,
    op: &Op,
) -> Outcome {
    match *op {
        Op::CreateUser { by, user } => model.create_user(on, USERS[by], USERS[user]),
        Op::DropUser { by, user } => model.drop_user(on, USERS[by], USERS[user]),
        Op::Grant { by, role, space, user } => {
            model.grant(on, USERS[by], role, SPACES[space], USERS[user])
        }
        Op::Revoke { by, role, space, user } => {
            model.revoke(on, USERS[by], role, SPACES[space], USERS[user])
        }
        Op::DropSpace { by, space } => model.drop_space(on, USERS[by], SPACES[space]),
        Op::Use { session, space } => {
            let space = space.map(|space| SPACES[space]);
            if let Some(space) = space {
                model.check(on, USERS[session], None, Action::ReadSpace { space })?;
            }
            current[session] = space;
            Ok(())
        }
        Op::Check { session, action } => {
            model.check(on, USERS[session], current[session], actions()[action])
        }
    }
}

/// Replays `ops` on the real table and on the model, comparing after every step; the first
/// disagreement or broken invariant is the error.
pub(crate) fn replay(ops: &[(bool, Op)]) -> Result<(), String> {
    macro_rules! ensure_eq {
        ($got:expr, $expected:expr, $($context:tt)+) => {{
            let (got, expected) = (&$got, &$expected);
            if got != expected {
                return Err(format!("{}: got {got:?}, the model says {expected:?}", format!($($context)+)));
            }
        }};
    }
    let table = RoleTable::new();
    let sessions = USERS.iter().map(|user| Caller::resolve(&table, user, None)).collect();
    let mut real = Real { table, sessions };
    let mut model = Model::new();
    let mut current = [None; USERS.len()];
    for (on, op) in ops {
        let policy = Policy { authorization_enabled: *on };
        let before = real.table.version();
        let got = real.apply(policy, op);
        let expected = apply_model(&mut model, &mut current, *on, op);
        ensure_eq!(got, expected, "{op:?} with authorization {on}");
        real.table.check_invariants().map_err(|violation| format!("{op:?}: {violation:?}"))?;
        if real.table.version() < before {
            return Err(format!("{op:?}: the version went back from {before}"));
        }
        ensure_eq!(real.table.version(), model.version, "{op:?}: version");
        ensure_eq!(
            real.table.users().collect::<Vec<_>>(),
            model.users.iter().map(String::as_str).collect::<Vec<_>>(),
            "{op:?}: users"
        );
        for user in USERS {
            for space in SPACES {
                ensure_eq!(
                    real.table.role_of(user, space),
                    model.role(user, space).filter(|_| model.users.contains(user)),
                    "{op:?}: role of {user} in {space}"
                );
            }
        }
    }
    Ok(())
}
