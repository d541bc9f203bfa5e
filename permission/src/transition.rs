//! The role table's transitions: CREATE USER, DROP USER, GRANT, REVOKE and DROP SPACE.
//!
//! Each transition re-checks its statement's permission itself, against the caller's rights as the table
//! holds them now (a stale [`Caller`] is re-resolved first), so no validator bug and no stale session can
//! change the table without the right to. Each one either succeeds and bumps the version, or returns an error
//! and leaves the table exactly as it was: every check and every bound is tested before the first write.
//!
//! # Order of checks
//!
//! NebulaGraph's `Validator::validate` runs a statement's semantic checks before its permission check,
//! and each transition follows that order (see docs/fixes.md, "Order of checks"):
//!
//! 1. semantic checks ([`validate_statement`]), whoever asks and in both authorization modes: names
//!    within bounds (-1009), and for GRANT a target that is not GOD (-1009 "User 'u' is GOD, cannot be
//!    granted.");
//! 2. NebulaGraph's permission checks: [`check_write_user`] for CREATE and DROP USER, [`check_write_role`]
//!    for GRANT, [`check_revoke_role`] for REVOKE (-1008);
//! 3. DROP USER only: the target is not GOD (-1009 "Can't drop root user."), where NebulaGraph's
//!    `DropUserValidator::checkPermission` puts it, after the permission check;
//! 4. the named user exists (-18), or for CREATE USER does not (-2002);
//! 5. GRANT and REVOKE only: deliberate fix 8, the target's current role is strictly below the caller's
//!    ([`check_role_change_target`]; see docs/fixes.md, "Fix 8");
//! 6. REVOKE only: "Role not existed!" (-11) and "Improper role!" (-2030);
//! 7. this crate's bounds (-1005).

use std::borrow::Cow;
use std::sync::Arc;

use crate::caller::Caller;
use crate::check::{
    check_revoke_role, check_role_change_target, check_write_role, check_write_space,
    check_write_user,
};
use crate::error::{AdoptError, PermissionError};
use crate::limits::{ROLES_MAX, SPACES_MAX, USERS_MAX};
use crate::names::check_user_name;
use crate::policy::Policy;
use crate::rights::Rights;
use crate::role::Role;
use crate::semantic::{check_drop_target, validate_statement};
use crate::statement::Statement;
use crate::table::RoleTable;

impl RoleTable {
    /// The caller's rights as this table holds them now.
    fn fresh<'c>(&self, caller: &'c Caller) -> Cow<'c, Caller> {
        if caller.is_stale(self) {
            Cow::Owned(Caller::resolve(self, caller.user(), caller.current_space()))
        } else {
            Cow::Borrowed(caller)
        }
    }

    /// CREATE USER `user`: GOD only (when authorization is on); the new user holds no role. The name is
    /// checked first, as NebulaGraph's `CreateUserValidator::validateImpl` does.
    pub fn create_user(
        &mut self,
        caller: &Caller,
        policy: Policy,
        user: &str,
    ) -> Result<(), PermissionError> {
        check_user_name(user)?;
        check_write_user(&self.fresh(caller), policy)?;
        if self.contains_user(user) {
            return Err(PermissionError::UserExists { user: user.to_owned() });
        }
        if self.user_count() >= USERS_MAX {
            return Err(PermissionError::UsersFull);
        }
        let next = self.next_version()?;
        self.users.insert(Box::from(user), Arc::new(Rights::none()));
        self.version = next;
        Ok(())
    }

    /// DROP USER `user`: GOD only (when authorization is on); removes all of the user's roles, and the
    /// version bump makes every session of that user lose them at its next request (fix 4, see
    /// docs/fixes.md). GOD users cannot be dropped, with authorization on or off: -1009 "Can't drop root
    /// user.", after the permission check as in NebulaGraph (see docs/fixes.md, "DROP USER of a GOD
    /// user").
    pub fn drop_user(
        &mut self,
        caller: &Caller,
        policy: Policy,
        user: &str,
    ) -> Result<(), PermissionError> {
        check_user_name(user)?;
        check_write_user(&self.fresh(caller), policy)?;
        check_drop_target(self, user)?;
        if !self.contains_user(user) {
            return Err(PermissionError::UserNotFound { user: user.to_owned() });
        }
        let next = self.next_version()?;
        if let Some(rights) = self.users.remove(user) {
            for (space, _) in rights.roles() {
                self.forget_role(space);
            }
        }
        self.version = next;
        Ok(())
    }

    /// GRANT ROLE `role` ON `space` TO `user`: overwrites the user's role in `space`. Checks in the order
    /// of the module docs: a GOD target is refused before any permission check.
    pub fn grant(
        &mut self,
        caller: &Caller,
        policy: Policy,
        role: Role,
        space: &str,
        user: &str,
    ) -> Result<(), PermissionError> {
        validate_statement(self, &Statement::Grant { role, space, user })?;
        let caller = self.fresh(caller);
        check_write_role(&caller, policy, role, space, user)?;
        let Some(rights) = self.users.get(user) else {
            return Err(PermissionError::UserNotFound { user: user.to_owned() });
        };
        debug_assert!(!rights.is_god(), "validate_statement refuses a GOD target");
        let held = rights.role_in(space);
        check_role_change_target(&caller, policy, space, user, held)?;
        if held.is_none() {
            if self.role_count >= ROLES_MAX {
                return Err(PermissionError::RolesFull);
            }
            if !self.space_role_counts.contains_key(space) && self.space_count() >= SPACES_MAX {
                return Err(PermissionError::SpacesFull);
            }
        }
        let next = self.next_version()?;
        if let Some(rights) = self.users.get_mut(user) {
            Arc::make_mut(rights).set_role(space, role);
            if held.is_none() {
                self.remember_role(space);
            }
        }
        self.version = next;
        Ok(())
    }

    /// REVOKE ROLE `role` ON `space` FROM `user`: `role` must be the one the user holds there. Checks in
    /// the order of the module docs. A GOD target has no semantic refusal here (NebulaGraph's
    /// `RevokeRoleValidator` has none): a non-GOD caller meets fix 8, a GOD caller "Role not existed!".
    pub fn revoke(
        &mut self,
        caller: &Caller,
        policy: Policy,
        role: Role,
        space: &str,
        user: &str,
    ) -> Result<(), PermissionError> {
        validate_statement(self, &Statement::Revoke { role, space, user })?;
        let caller = self.fresh(caller);
        check_revoke_role(&caller, policy, role, space, user)?;
        let Some(rights) = self.users.get(user) else {
            return Err(PermissionError::UserNotFound { user: user.to_owned() });
        };
        check_role_change_target(&caller, policy, space, user, rights.role_in(space))?;
        // A GOD user holds GOD, not a role in this space: nothing to revoke.
        let space_role = if rights.is_god() { None } else { rights.role_in(space) };
        match space_role {
            None => {
                return Err(PermissionError::RoleNotFound {
                    user: user.to_owned(),
                    space: space.to_owned(),
                });
            }
            Some(held) if held != role => {
                return Err(PermissionError::ImproperRole { user: user.to_owned(), held });
            }
            Some(_) => {}
        }
        let next = self.next_version()?;
        if let Some(rights) = self.users.get_mut(user) {
            if Arc::make_mut(rights).remove_role(space).is_some() {
                self.forget_role(space);
            }
        }
        self.version = next;
        Ok(())
    }

    /// DROP SPACE `space`: GOD only (when authorization is on); forgets every role held in it, as
    /// NebulaGraph's meta does. The engine drops the space itself.
    pub fn drop_space(
        &mut self,
        caller: &Caller,
        policy: Policy,
        space: &str,
    ) -> Result<(), PermissionError> {
        check_write_space(&self.fresh(caller), policy)?;
        let next = self.next_version()?;
        if self.space_role_counts.contains_key(space) {
            for rights in self.users.values_mut() {
                if rights.role_in(space).is_some() && !rights.is_god() {
                    Arc::make_mut(rights).remove_role(space);
                    self.role_count = self.role_count.saturating_sub(1);
                }
            }
            self.space_role_counts.remove(space);
        }
        self.version = next;
        Ok(())
    }

    /// Takes `contents`' users and roles as this table's, under a new version of this table's own
    /// counter (its version plus one), whatever `contents`' version is.
    ///
    /// For a host that keeps the table somewhere shared and learns of other processes' changes
    /// (graphd on etcd): each process counts its own versions, so a version never names two
    /// contents in one process even when a change it applied locally is taken back, and every
    /// [`Caller`] resolved before re-resolves at its next request. `contents` must satisfy
    /// [`RoleTable::check_invariants`]; on any error the table is left as it was.
    ///
    /// ```
    /// use graphsession_permission::{Caller, Policy, RoleTable};
    ///
    /// let mut here = RoleTable::new();
    /// let root = Caller::resolve(&here, "root", None);
    /// let mut there = RoleTable::new();
    /// there.create_user(&root, Policy { authorization_enabled: true }, "alice")?;
    /// here.adopt(there)?;
    /// assert!(here.contains_user("alice"));
    /// assert_eq!(here.version(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt(&mut self, contents: RoleTable) -> Result<(), AdoptError> {
        contents.check_invariants().map_err(AdoptError::Invalid)?;
        let version = self.next_version().map_err(|_| AdoptError::VersionExhausted)?;
        *self = RoleTable { version, ..contents };
        Ok(())
    }

    fn remember_role(&mut self, space: &str) {
        let count = self.space_role_counts.entry(Box::from(space)).or_insert(0);
        *count = count.saturating_add(1);
        self.role_count = self.role_count.saturating_add(1);
    }

    fn forget_role(&mut self, space: &str) {
        if let Some(count) = self.space_role_counts.get_mut(space) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.space_role_counts.remove(space);
            }
        }
        self.role_count = self.role_count.saturating_sub(1);
    }
}
