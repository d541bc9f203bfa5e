//! Which rows a caller may see in the listings that anyone may run: SHOW QUERIES, SHOW SPACES, SHOW ROLES.
//!
//! These are row filters, not refusals: the statement itself passes [`check`](crate::check), and the engine
//! keeps the rows these functions accept.

use crate::caller::Caller;
use crate::policy::Policy;
use crate::role::Role;

/// Deliberate fix 7 (see docs/fixes.md, "Fix 7"): may `caller` see the queries (rows and text) of sessions
/// owned by `owner_user`? GOD: all; others: only their own user's.
///
/// NebulaGraph shows every user's query text to every user. Here a caller sees exactly the queries it may
/// kill ([`check_kill_query`](crate::check_kill_query)), so, like KILL QUERY, this holds with authorization
/// off too: `policy` does not widen it.
#[inline]
pub fn may_see_queries_of(caller: &Caller, policy: Policy, owner_user: &str) -> bool {
    let _ = policy; // Same rule in both modes, see above.
    caller.is_god() || caller.user() == owner_user
}

/// SHOW SPACES: may `caller` see the row of `space`? GOD: every space; others: spaces where they hold a
/// role. With authorization off: every space.
#[inline]
pub fn may_see_space(caller: &Caller, policy: Policy, space: &str) -> bool {
    !policy.authorization_enabled || caller.role_in(space).is_some()
}

/// SHOW ROLES IN `space`: may `caller` see the row of `row_user`? GOD and ADMIN of `space` see every row,
/// other roles only their own, no role nothing. The same with authorization off: NebulaGraph's
/// `ListRolesExecutor` filters the rows in both modes (only the statement's check passes everyone then).
#[inline]
pub fn may_see_role_row(caller: &Caller, policy: Policy, space: &str, row_user: &str) -> bool {
    let _ = policy; // Same rule in both modes, see above.
    match caller.role_in(space) {
        Some(Role::God | Role::Admin) => true,
        Some(Role::Dba | Role::User | Role::Guest) => caller.user() == row_user,
        None => false,
    }
}
