//! The role table: which users exist, which of them are GOD, and which role each holds in each space.
//!
//! # How GOD is represented
//!
//! NebulaGraph stores root's GOD as a role on its default space and reads it as "everything everywhere".
//! Here GOD is a flag on a user's [`Rights`] and a GOD user holds no space roles: GOD cannot be granted or
//! revoked, so the only way to create a GOD user is [`RoleTable::new`] (root) or [`RoleTable::with_god`], and
//! DROP USER refuses GOD users. A table always has at least one GOD user.
//!
//! # Versions
//!
//! [`RoleTable::version`] is bumped by every successful transition (and by no refused one), so a version
//! never names two different contents and a [`Caller`](crate::Caller) can tell with one comparison whether
//! its rights are current. The version is persisted with the table, so a reloaded table continues from it.
//!
//! The transitions themselves (CREATE USER, DROP USER, GRANT, REVOKE, DROP SPACE) are in `transition.rs`;
//! this file holds the storage, its bounds and its invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use graphsession_base::Violation;

use crate::error::PermissionError;
use crate::limits::{ROLES_MAX, SPACES_MAX, USERS_MAX};
use crate::names::{check_space_name, check_user_name};
use crate::rights::Rights;
use crate::role::{ROOT_USER, Role};

/// Which user holds which role in which space; GOD users included. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RoleTableData", into = "RoleTableData")]
pub struct RoleTable {
    /// Shared with the callers resolved from it; a change copies (`Arc::make_mut`), so a cached caller
    /// keeps the rights it was resolved with until it refreshes.
    pub(crate) users: BTreeMap<Box<str>, Arc<Rights>>,
    /// How many roles name each space; a space with none is absent.
    pub(crate) space_role_counts: BTreeMap<Box<str>, u32>,
    /// How many (user, space) roles there are.
    pub(crate) role_count: u32,
    pub(crate) version: u64,
}

/// The machine every violation of a [`RoleTable`]'s invariants names: a bug in this crate or a
/// corrupted persisted table.
const MACHINE: &str = "RoleTable";

impl Default for RoleTable {
    /// The same as [`RoleTable::new`].
    fn default() -> Self {
        RoleTable::new()
    }
}

impl RoleTable {
    /// A table with NebulaGraph's bootstrap state: the GOD user [`ROOT_USER`] and nothing else; version 0.
    pub fn new() -> RoleTable {
        let mut users = BTreeMap::new();
        users.insert(Box::from(ROOT_USER), Arc::new(Rights::god()));
        RoleTable { users, space_role_counts: BTreeMap::new(), role_count: 0, version: 0 }
    }

    /// A table whose only user is the GOD user `user`; version 0.
    pub fn with_god(user: &str) -> Result<RoleTable, PermissionError> {
        check_user_name(user)?;
        let mut users = BTreeMap::new();
        users.insert(Box::from(user), Arc::new(Rights::god()));
        Ok(RoleTable { users, space_role_counts: BTreeMap::new(), role_count: 0, version: 0 })
    }

    /// The version: bumped by every successful transition, never by a refused one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether `user` exists.
    pub fn contains_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `user` exists and is GOD.
    pub fn is_god_user(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|rights| rights.is_god())
    }

    /// `user`'s role in `space`: `Some(God)` for a GOD user, `None` for no role or no such user.
    pub fn role_of(&self, user: &str, space: &str) -> Option<Role> {
        self.users.get(user).and_then(|rights| rights.role_in(space))
    }

    /// All of `user`'s rights, if the user exists.
    pub fn rights_of(&self, user: &str) -> Option<&Rights> {
        self.users.get(user).map(|rights| &**rights)
    }

    pub(crate) fn shared_rights_of(&self, user: &str) -> Option<Arc<Rights>> {
        self.users.get(user).cloned()
    }

    /// The users, in name order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(|user| &**user)
    }

    /// The GOD users, in name order.
    pub fn god_users(&self) -> impl Iterator<Item = &str> {
        self.users.iter().filter(|(_, rights)| rights.is_god()).map(|(user, _)| &**user)
    }

    /// The rows of SHOW ROLES IN `space`: each user holding a role there, in name order. GOD users hold no
    /// space roles and so are not listed, as in NebulaGraph.
    pub fn roles_in_space<'a>(&'a self, space: &'a str) -> impl Iterator<Item = (&'a str, Role)> {
        self.users
            .iter()
            .filter(|(_, rights)| !rights.is_god())
            .filter_map(move |(user, rights)| rights.role_in(space).map(|role| (&**user, role)))
    }

    /// How many users there are, GOD users included (at most [`USERS_MAX`]).
    pub fn user_count(&self) -> u32 {
        u32::try_from(self.users.len()).unwrap_or(u32::MAX)
    }

    /// How many spaces some role names (at most [`SPACES_MAX`]).
    pub fn space_count(&self) -> u32 {
        u32::try_from(self.space_role_counts.len()).unwrap_or(u32::MAX)
    }

    /// How many (user, space) roles there are (at most [`ROLES_MAX`]).
    pub fn role_count(&self) -> u32 {
        self.role_count
    }

    /// The version the next successful transition will have; refuses when the counter is exhausted.
    pub(crate) fn next_version(&self) -> Result<u64, PermissionError> {
        self.version.checked_add(1).ok_or(PermissionError::VersionExhausted)
    }

    /// Checks every invariant: bounds, valid names, canonical rights, at least one GOD user, and counters
    /// that match the contents. Tests call it after every step; a host may call it after loading a table.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        if self.users.len() > USERS_MAX as usize {
            return fail(
                "users_within_limit",
                format!("{} users, more than {USERS_MAX}", self.users.len()),
            );
        }
        if !self.users.values().any(|rights| rights.is_god()) {
            return fail("god_user_exists", "no GOD user".to_owned());
        }
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        let mut role_count: u64 = 0;
        for (user, rights) in &self.users {
            if check_user_name(user).is_err() {
                return fail("user_names_valid", format!("invalid user name {user:?}"));
            }
            if !rights.is_canonical() {
                return fail(
                    "rights_canonical",
                    format!("rights of {user:?} are not canonical: {rights:?}"),
                );
            }
            for (space, _) in rights.roles() {
                if check_space_name(space).is_err() {
                    return fail(
                        "space_names_valid",
                        format!("invalid space name {space:?} in roles of {user:?}"),
                    );
                }
                *counts.entry(space).or_insert(0) += 1;
                role_count += 1;
            }
        }
        let stored: BTreeMap<&str, u32> =
            self.space_role_counts.iter().map(|(space, count)| (&**space, *count)).collect();
        if stored != counts {
            return fail(
                "space_role_counts_match_roles",
                format!("space role counts {stored:?}, contents give {counts:?}"),
            );
        }
        if role_count != u64::from(self.role_count) {
            return fail(
                "role_count_matches_roles",
                format!("role count {}, contents give {role_count}", self.role_count),
            );
        }
        if self.role_count > ROLES_MAX {
            return fail(
                "roles_within_limit",
                format!("{} roles, more than {ROLES_MAX}", self.role_count),
            );
        }
        if self.space_role_counts.len() > SPACES_MAX as usize {
            return fail(
                "spaces_within_limit",
                format!("roles in {} spaces, more than {SPACES_MAX}", counts.len()),
            );
        }
        Ok(())
    }
}

/// The persisted form of a [`RoleTable`]: plain names, so a host can read and diff it.
#[derive(serde::Serialize, serde::Deserialize)]
struct RoleTableData {
    version: u64,
    /// Every GOD user; each also appears in `users` with no roles.
    god_users: BTreeSet<String>,
    /// Every user, with its role in each space.
    users: BTreeMap<String, BTreeMap<String, Role>>,
}

impl From<RoleTable> for RoleTableData {
    fn from(table: RoleTable) -> Self {
        let god_users = table.god_users().map(str::to_owned).collect();
        let users = table
            .users
            .iter()
            .map(|(user, rights)| {
                let roles = rights.roles().map(|(space, role)| (space.to_owned(), role)).collect();
                (user.to_string(), roles)
            })
            .collect();
        RoleTableData { version: table.version, god_users, users }
    }
}

impl TryFrom<RoleTableData> for RoleTable {
    type Error = Violation;

    /// Rebuilds the table and refuses anything a sequence of transitions could not have produced.
    fn try_from(data: RoleTableData) -> Result<Self, Self::Error> {
        if let Some(god) = data.god_users.iter().find(|god| !data.users.contains_key(*god)) {
            return Err(Violation::new(
                MACHINE,
                "god_users_are_users",
                format!("GOD user {god:?} is not a user"),
            ));
        }
        let mut table = RoleTable {
            users: BTreeMap::new(),
            space_role_counts: BTreeMap::new(),
            role_count: 0,
            version: data.version,
        };
        for (user, roles) in data.users {
            let rights = if data.god_users.contains(&user) {
                if !roles.is_empty() {
                    return Err(Violation::new(
                        MACHINE,
                        "god_users_hold_no_space_role",
                        format!("GOD user {user:?} holds space roles"),
                    ));
                }
                Rights::god()
            } else {
                if roles.values().any(|role| *role == Role::God) {
                    return Err(Violation::new(
                        MACHINE,
                        "god_is_no_space_role",
                        format!("{user:?} holds GOD as a space role"),
                    ));
                }
                Rights::from_roles(roles.iter().map(|(space, role)| (space.as_str(), *role)))
            };
            for (space, _) in rights.roles() {
                let count = table.space_role_counts.entry(Box::from(space)).or_insert(0);
                *count = count.saturating_add(1);
                table.role_count = table.role_count.saturating_add(1);
            }
            table.users.insert(user.into_boxed_str(), Arc::new(rights));
        }
        table.check_invariants()?;
        Ok(table)
    }
}
