//! Every permission rule of the reference as a pure function of (caller, policy, what is asked).
//!
//! Each `check_*` function is one rule; [`Action`] names them all so that [`check`] can dispatch, and the
//! property tests can iterate over every kind. With authorization off every check passes except:
//! granting or revoking GOD ([`check_write_role`], [`check_revoke_role`]) and killing another user's
//! query ([`check_kill_query`]), as in NebulaGraph.
//!
//! The checks read only the caller's inline fields (the GOD flag, the role in the current space, the user
//! name) except when a statement names a space other than the current one; they never allocate on success,
//! and the refusals of the space-local rules allocate nothing either.

use crate::caller::Caller;
use crate::error::PermissionError;
use crate::policy::Policy;
use crate::role::Role;

/// A kind of permission check, with what it needs to know. See [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// USE, DESCRIBE SPACE, SHOW CREATE SPACE of `space`.
    ReadSpace {
        /// The space named by the statement.
        space: &'a str,
    },
    /// Reading schema or data in the current space (GO, MATCH, LOOKUP, FETCH, DESCRIBE TAG, SHOW TAGS,
    /// SHOW JOBS, ...).
    ReadCurrentSpace,
    /// Space, snapshot, host, zone, config, text-search and balance data/zone statements, SHOW CONFIGS
    /// and SHOW ZONES.
    WriteSpace,
    /// Tag, edge, index, full-text index and listener statements in the current space.
    WriteSchema,
    /// Data statements and the space's jobs in the current space.
    WriteData,
    /// CREATE, ALTER and DROP USER.
    WriteUser,
    /// DESCRIBE USER `user`.
    ReadUser {
        /// The user to describe.
        user: &'a str,
    },
    /// GRANT `role` ON `space` TO `user` (NebulaGraph's checks; fix 8 of docs/fixes.md needs
    /// the table and is applied by [`RoleTable::grant`](crate::RoleTable::grant)).
    WriteRole {
        /// The role granted.
        role: Role,
        /// The space it is granted in.
        space: &'a str,
        /// The user it is granted to.
        user: &'a str,
    },
    /// REVOKE `role` ON `space` FROM `user`: [`check_revoke_role`] (fix 8 is applied by
    /// [`RoleTable::revoke`](crate::RoleTable::revoke)).
    RevokeRole {
        /// The role revoked.
        role: Role,
        /// The space it is revoked in.
        space: &'a str,
        /// The user it is revoked from.
        user: &'a str,
    },
    /// NebulaGraph's GOD-only listings, one case with one message in its `PermissionCheck.cpp`: SHOW
    /// SESSIONS, SHOW LOCAL SESSIONS, SHOW SESSION, SHOW USERS, SHOW SNAPSHOTS, SHOW TEXT SEARCH CLIENTS.
    ShowSessions,
    /// KILL SESSION.
    KillSession,
    /// KILL QUERY of a query whose session belongs to `owner_user`.
    KillQuery {
        /// The user owning the query's session.
        owner_user: &'a str,
    },
    /// SHOW ROLES IN `space`; which rows are shown is [`may_see_role_row`](crate::may_see_role_row).
    ShowRoles {
        /// The space.
        space: &'a str,
    },
    /// Statements anyone may run: SHOW HOSTS, SHOW CHARSET, SHOW COLLATION, SHOW META LEADER, CHANGE
    /// PASSWORD, SHOW SPACES and SHOW QUERIES (whose rows are filtered, see [`crate::may_see_space`] and
    /// [`crate::may_see_queries_of`]).
    Anyone,
}

/// Whether `caller` may do `action` under `policy`: the one entry point behind every rule.
// Always inlined: as a call, the dispatch costs more than the rule itself (measured in benches/check.rs).
#[inline(always)]
pub fn check(caller: &Caller, policy: Policy, action: Action<'_>) -> Result<(), PermissionError> {
    match action {
        Action::ReadSpace { space } => check_read_space(caller, policy, space),
        Action::ReadCurrentSpace => check_read_current_space(caller, policy),
        Action::WriteSpace => check_write_space(caller, policy),
        Action::WriteSchema => check_write_schema(caller, policy),
        Action::WriteData => check_write_data(caller, policy),
        Action::WriteUser => check_write_user(caller, policy),
        Action::ReadUser { user } => check_read_user(caller, policy, user),
        Action::WriteRole { role, space, user } => {
            check_write_role(caller, policy, role, space, user)
        }
        Action::RevokeRole { role, space, user } => {
            check_revoke_role(caller, policy, role, space, user)
        }
        Action::ShowSessions => check_show_sessions(caller, policy),
        Action::KillSession => check_kill_session(caller, policy),
        Action::KillQuery { owner_user } => check_kill_query(caller, policy, owner_user),
        Action::ShowRoles { space } => check_show_roles(caller, policy, space),
        Action::Anyone => Ok(()),
    }
}

/// Refuses with `error` unless authorization is off, the caller is GOD, or `allowed` holds.
#[inline]
fn require(
    caller: &Caller,
    policy: Policy,
    allowed: bool,
    error: PermissionError,
) -> Result<(), PermissionError> {
    if !policy.authorization_enabled || caller.is_god() || allowed { Ok(()) } else { Err(error) }
}

/// The caller's role in the current space is at least `least`.
#[inline]
fn current_role_at_least(caller: &Caller, least: Role) -> bool {
    caller.current_role().is_some_and(|role| role >= least)
}

/// Read space `space` (USE, DESCRIBE SPACE, SHOW CREATE SPACE): GOD, or any role in it.
#[inline]
pub fn check_read_space(
    caller: &Caller,
    policy: Policy,
    space: &str,
) -> Result<(), PermissionError> {
    require(caller, policy, caller.role_in(space).is_some(), PermissionError::ReadSpace)
}

/// Read schema or data in the current space: GOD, or any role in it; no space chosen counts as no role.
#[inline]
pub fn check_read_current_space(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, caller.current_role().is_some(), PermissionError::ReadSchemaOrData)
}

/// Write space (create/alter/drop/clear space, snapshots, hosts, zones, configs, text search, balance
/// data/zone; SHOW CONFIGS and SHOW ZONES too, as NebulaGraph checks them): GOD only.
#[inline]
pub fn check_write_space(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, false, PermissionError::WriteSpace)
}

/// Write schema in the current space: GOD, ADMIN, DBA.
#[inline]
pub fn check_write_schema(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, current_role_at_least(caller, Role::Dba), PermissionError::WriteSchema)
}

/// Write data or run a job in the current space: GOD, ADMIN, DBA, USER.
#[inline]
pub fn check_write_data(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, current_role_at_least(caller, Role::User), PermissionError::WriteData)
}

/// Write user (CREATE, ALTER, DROP USER): GOD only.
#[inline]
pub fn check_write_user(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, false, PermissionError::WriteUser)
}

/// Read user `user` (DESCRIBE USER): GOD, or `user` itself.
pub fn check_read_user(caller: &Caller, policy: Policy, user: &str) -> Result<(), PermissionError> {
    if !policy.authorization_enabled || caller.is_god() || caller.user() == user {
        return Ok(());
    }
    Err(PermissionError::ReadUser { user: user.to_owned() })
}

/// GRANT or REVOKE `role` ON `space` TO/FROM `user`, NebulaGraph's permission checks in NebulaGraph's
/// order (`PermissionManager::canWriteRole`): `role` is GOD (refused even with authorization off); the
/// caller is `user`; the caller is GOD (allowed); the caller has no role in `space`; the caller is ADMIN
/// there and `role` is not ADMIN (allowed); otherwise refused.
///
/// The semantic checks come first ([`validate_statement`](crate::validate_statement)): a GRANT to a GOD
/// user is -1009 even when the caller is that user. Deliberate fix 8 is [`check_role_change_target`],
/// after this one and after the target is found (see docs/fixes.md, "Fix 8" and "Order of checks").
pub fn check_write_role(
    caller: &Caller,
    policy: Policy,
    role: Role,
    space: &str,
    user: &str,
) -> Result<(), PermissionError> {
    if role == Role::God {
        return Err(PermissionError::GrantRevokeGod);
    }
    if !policy.authorization_enabled {
        return Ok(());
    }
    if caller.user() == user {
        return Err(PermissionError::GrantRevokeYourself);
    }
    if caller.is_god() {
        return Ok(());
    }
    match caller.role_in(space) {
        None => Err(PermissionError::WriteRole),
        Some(Role::Admin) if role != Role::Admin => Ok(()),
        Some(caller_role) => {
            Err(PermissionError::GrantRevokeRole { caller_role, user: user.to_owned() })
        }
    }
}

/// REVOKE `role` ON `space` FROM `user`: NebulaGraph's `RevokeRoleExecutor` refuses the GOD role first,
/// with authorization on or off, in its own words ("Permission denied"), then runs
/// [`check_write_role`].
pub fn check_revoke_role(
    caller: &Caller,
    policy: Policy,
    role: Role,
    space: &str,
    user: &str,
) -> Result<(), PermissionError> {
    if role == Role::God {
        return Err(PermissionError::RevokeGod);
    }
    check_write_role(caller, policy, role, space, user)
}

/// Deliberate fix 8 (see docs/fixes.md, "Fix 8"): a GRANT or REVOKE may only change `user` if its current
/// role in `space` (`target_role`, `Some(God)` for a GOD user) is strictly below the caller's there. GOD
/// callers are exempt; with authorization off nothing is checked. It runs last of the refusals that name
/// the caller's rights: after the semantic checks, [`check_write_role`] and the lookup of `user`.
pub fn check_role_change_target(
    caller: &Caller,
    policy: Policy,
    space: &str,
    user: &str,
    target_role: Option<Role>,
) -> Result<(), PermissionError> {
    if !policy.authorization_enabled || caller.is_god() {
        return Ok(());
    }
    let Some(caller_role) = caller.role_in(space) else {
        return Err(PermissionError::WriteRole);
    };
    match target_role {
        Some(target_role) if target_role >= caller_role => {
            Err(PermissionError::TargetRoleNotBelow {
                user: user.to_owned(),
                target_role,
                caller_role,
            })
        }
        _ => Ok(()),
    }
}

/// SHOW SESSIONS, SHOW LOCAL SESSIONS, SHOW SESSION, and the other listings NebulaGraph checks in the
/// same case with the same message (SHOW USERS, SHOW SNAPSHOTS, SHOW TEXT SEARCH CLIENTS): GOD only.
#[inline]
pub fn check_show_sessions(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, false, PermissionError::ShowSessions)
}

/// KILL SESSION: GOD only.
#[inline]
pub fn check_kill_session(caller: &Caller, policy: Policy) -> Result<(), PermissionError> {
    require(caller, policy, false, PermissionError::KillSession)
}

/// KILL QUERY on a session owned by `owner_user`: same user or GOD; checked even with authorization off.
/// Err is PermissionError with code -1008 and message "PermissionError: Only GOD role could kill others' queries."
///
/// Call it after finding the session and before looking for the plan (deliberate fix 6, see docs/fixes.md,
/// "Fix 6"), so a refused caller learns nothing about another user's plans.
#[inline]
pub fn check_kill_query(
    caller: &Caller,
    policy: Policy,
    owner_user: &str,
) -> Result<(), PermissionError> {
    let _ = policy; // NebulaGraph checks this one with authorization off too.
    if caller.is_god() || caller.user() == owner_user {
        Ok(())
    } else {
        Err(PermissionError::KillQuery)
    }
}

/// SHOW ROLES IN `space`: GOD and any role in `space` may run it (which rows: [`may_see_role_row`](crate::may_see_role_row)); no
/// role is refused as a read of the space.
pub fn check_show_roles(
    caller: &Caller,
    policy: Policy,
    space: &str,
) -> Result<(), PermissionError> {
    require(caller, policy, caller.role_in(space).is_some(), PermissionError::ReadSpace)
}
