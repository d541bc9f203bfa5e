//! Who is asking: one session's user and rights, resolved from the role table and cached with the table's
//! version so that role changes reach open sessions (deliberate fix 4, see docs/fixes.md, "Fix 4").
//!
//! # The version protocol
//!
//! 1. At login, the session resolves its caller: `Caller::resolve(&table, user, None)`.
//! 2. At the start of every request, before any check, the session calls [`Caller::refresh`]. It costs one
//!    integer comparison when nothing changed ([`Caller::is_stale`]); when any GRANT, REVOKE, CREATE USER,
//!    DROP USER or DROP SPACE happened since, it re-resolves the caller's rights from the table.
//! 3. USE changes the current space with [`Caller::use_space`], which needs no table.
//!
//! So a change is seen by every session at its next request, not only at its next login (NebulaGraph
//! copies roles at login and never refreshes them: NebulaGraph issue 3412, see docs/fixes.md). A caller
//! whose user was dropped resolves to no rights and [`Caller::user_exists`] is false, so the host can also
//! end that session.

use std::sync::Arc;

use crate::rights::Rights;
use crate::role::Role;
use crate::table::RoleTable;

/// Who is asking: a resolved, cheap-to-copy view of one session's user and rights.
///
/// Cloning bumps two reference counts; the checks read only inline fields (the GOD flag and the role in the
/// current space), so they neither allocate nor look anything up by name.
#[derive(Debug, Clone)]
pub struct Caller {
    user: Arc<str>,
    rights: Arc<Rights>,
    current_space: Option<Arc<str>>,
    /// `rights.role_in(current_space)`, cached for the hot path; `Some(God)` for GOD.
    current_role: Option<Role>,
    god: bool,
    user_exists: bool,
    /// The table version the rights were read at; `None` when built from a value (always stale).
    version: Option<u64>,
}

impl Caller {
    /// A caller for `user` with the rights `table` gives it now, `current_space` = the session's space (None before USE).
    ///
    /// An unknown user gets no rights (and [`Caller::user_exists`] is false).
    pub fn resolve(table: &RoleTable, user: &str, current_space: Option<&str>) -> Caller {
        let (rights, user_exists) = match table.shared_rights_of(user) {
            Some(rights) => (rights, true),
            None => (Arc::new(Rights::none()), false),
        };
        Caller::build(
            Arc::from(user),
            rights,
            current_space.map(Arc::from),
            user_exists,
            Some(table.version()),
        )
    }

    /// A caller holding `rights` without a table, for tests and for hosts that compute rights themselves.
    /// It is always stale: the first [`Caller::refresh`] replaces its rights with the table's.
    pub fn from_rights(user: &str, rights: Rights, current_space: Option<&str>) -> Caller {
        Caller::build(Arc::from(user), Arc::new(rights), current_space.map(Arc::from), true, None)
    }

    fn build(
        user: Arc<str>,
        rights: Arc<Rights>,
        current_space: Option<Arc<str>>,
        user_exists: bool,
        version: Option<u64>,
    ) -> Caller {
        let current_role = current_space.as_deref().and_then(|space| rights.role_in(space));
        let god = rights.is_god();
        Caller { user, rights, current_space, current_role, god, user_exists, version }
    }

    /// The session's user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the caller is GOD.
    pub fn is_god(&self) -> bool {
        self.god
    }

    /// Whether the user existed in the table when the caller was resolved.
    pub fn user_exists(&self) -> bool {
        self.user_exists
    }

    /// The session's current space; `None` before USE.
    pub fn current_space(&self) -> Option<&str> {
        self.current_space.as_deref()
    }

    /// The current space as the caller holds it, shared: a listing of many sessions (cluster
    /// sync's full round) takes it without copying the name.
    pub fn current_space_shared(&self) -> Option<&Arc<str>> {
        self.current_space.as_ref()
    }

    /// The caller's role in the current space: `Some(God)` for GOD, `None` for no role or no space.
    pub fn current_role(&self) -> Option<Role> {
        self.current_role
    }

    /// The caller's role in `space`: `Some(God)` for GOD; a lookup unless `space` is the current one.
    pub fn role_in(&self, space: &str) -> Option<Role> {
        if self.current_space.as_deref() == Some(space) {
            return self.current_role;
        }
        self.rights.role_in(space)
    }

    /// All of the caller's rights.
    pub fn rights(&self) -> &Rights {
        &self.rights
    }

    /// The table version the rights were resolved at; `None` for a caller built with [`Caller::from_rights`].
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Whether `table` changed since the caller was resolved: one integer comparison.
    pub fn is_stale(&self, table: &RoleTable) -> bool {
        self.version != Some(table.version())
    }

    /// Re-resolves the caller from `table` if it is stale, keeping the user and current space.
    /// Returns whether it re-resolved. Call it at the start of every request (see the module docs).
    pub fn refresh(&mut self, table: &RoleTable) -> bool {
        if !self.is_stale(table) {
            return false;
        }
        *self = Caller::resolve(table, &self.user, self.current_space.as_deref());
        true
    }

    /// USE `space` (or leave every space with `None`): the role in the new current space comes from the
    /// rights already resolved, so no table is needed.
    pub fn use_space(&mut self, space: Option<&str>) {
        self.current_space = space.map(Arc::from);
        self.current_role = space.and_then(|space| self.rights.role_in(space));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_space_reads_the_role_from_the_resolved_rights() {
        let rights = Rights::from_roles([("a", Role::Dba), ("b", Role::Guest)]);
        let mut caller = Caller::from_rights("me", rights, None);
        assert_eq!(caller.current_role(), None);
        caller.use_space(Some("b"));
        assert_eq!((caller.current_space(), caller.current_role()), (Some("b"), Some(Role::Guest)));
        assert_eq!(caller.role_in("a"), Some(Role::Dba));
        caller.use_space(Some("c"));
        assert_eq!(caller.current_role(), None);
        caller.use_space(None);
        assert_eq!(caller.current_space(), None);
    }

    #[test]
    fn a_caller_built_from_a_value_is_always_stale() {
        let table = RoleTable::new();
        let mut caller = Caller::from_rights("root", Rights::none(), Some("s"));
        assert!(caller.is_stale(&table));
        assert!(caller.refresh(&table));
        assert!(caller.is_god() && caller.user_exists());
        assert_eq!((caller.current_role(), caller.version()), (Some(Role::God), Some(0)));
        assert!(!caller.refresh(&table));
    }

    #[test]
    fn an_unknown_user_resolves_to_no_rights() {
        let caller = Caller::resolve(&RoleTable::new(), "nobody", Some("s"));
        assert!(!caller.user_exists() && !caller.is_god());
        assert_eq!(caller.rights(), &Rights::none());
    }
}
