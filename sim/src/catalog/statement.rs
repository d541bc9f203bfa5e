//! The catalog world's statements: real role-table transitions (CREATE USER, DROP USER, GRANT,
//! REVOKE) run by root or by other users with the permission crate's own checks, and the copy's
//! canonical encoding.

use graphsession_permission::{Caller, PermissionError, Policy, Role, RoleTable};

/// The users a seed's statements name (index 0 is root, the bootstrap GOD user).
pub const USERS: [&str; 5] = ["root", "ann", "bob", "cat", "dan"];
/// The spaces a seed's roles name (a seed uses the first two or three).
pub const SPACES: [&str; 3] = ["s0", "s1", "s2"];
/// The roles GRANT and REVOKE name (GOD is never granted; the table would refuse it anyway).
pub const ROLES: [Role; 4] = [Role::Admin, Role::Dba, Role::User, Role::Guest];

/// One statement that may change the catalog; users and spaces are indexes into [`USERS`] and
/// [`SPACES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stmt {
    /// CREATE USER `user`, run by `caller`.
    CreateUser {
        /// Who runs it.
        caller: u8,
        /// The user created.
        user: u8,
    },
    /// DROP USER `user`, run by `caller`.
    DropUser {
        /// Who runs it.
        caller: u8,
        /// The user dropped.
        user: u8,
    },
    /// GRANT ROLE `role` ON `space` TO `user`, run by `caller`.
    Grant {
        /// Who runs it.
        caller: u8,
        /// The role granted.
        role: Role,
        /// The space.
        space: u8,
        /// The user.
        user: u8,
    },
    /// REVOKE ROLE `role` ON `space` FROM `user`, run by `caller`.
    Revoke {
        /// Who runs it.
        caller: u8,
        /// The role revoked.
        role: Role,
        /// The space.
        space: u8,
        /// The user.
        user: u8,
    },
}

/// A statement's reply: what the node answers (the permission crate's refusal, or success).
pub type Reply = Result<(), PermissionError>;

/// The name of user `index` (root for an index out of range).
pub fn user_name(index: u8) -> &'static str {
    USERS.get(usize::from(index)).copied().unwrap_or(USERS[0])
}

/// The name of space `index` (the first for an index out of range).
pub fn space_name(index: u8) -> &'static str {
    SPACES.get(usize::from(index)).copied().unwrap_or(SPACES[0])
}

impl Stmt {
    /// Runs the statement on `table` as its node does: the caller resolved from the table now,
    /// the transition with its own checks. A refused statement leaves the table as it was.
    pub fn apply(self, table: &mut RoleTable, policy: Policy) -> Reply {
        let caller_index = match self {
            Stmt::CreateUser { caller, .. }
            | Stmt::DropUser { caller, .. }
            | Stmt::Grant { caller, .. }
            | Stmt::Revoke { caller, .. } => caller,
        };
        let caller = Caller::resolve(table, user_name(caller_index), None);
        match self {
            Stmt::CreateUser { user, .. } => table.create_user(&caller, policy, user_name(user)),
            Stmt::DropUser { user, .. } => table.drop_user(&caller, policy, user_name(user)),
            Stmt::Grant { role, space, user, .. } => {
                table.grant(&caller, policy, role, space_name(space), user_name(user))
            }
            Stmt::Revoke { role, space, user, .. } => {
                table.revoke(&caller, policy, role, space_name(space), user_name(user))
            }
        }
    }

    /// A number naming the statement, for the trace hash.
    pub fn code(self) -> u64 {
        let role_code = |role: Role| {
            let index = ROLES.iter().position(|r| *r == role).unwrap_or(0);
            u64::try_from(index).unwrap_or(0)
        };
        match self {
            Stmt::CreateUser { caller, user } => (u64::from(caller) << 8) | u64::from(user),
            Stmt::DropUser { caller, user } => {
                (1 << 24) | (u64::from(caller) << 8) | u64::from(user)
            }
            Stmt::Grant { caller, role, space, user } => {
                (2 << 24)
                    | (role_code(role) << 20)
                    | (u64::from(space) << 16)
                    | (u64::from(caller) << 8)
                    | u64::from(user)
            }
            Stmt::Revoke { caller, role, space, user } => {
                (3 << 24)
                    | (role_code(role) << 20)
                    | (u64::from(space) << 16)
                    | (u64::from(caller) << 8)
                    | u64::from(user)
            }
        }
    }
}

/// The copy's canonical encoding: serde_json of the table after [`RoleTable::adopt`] into a
/// fresh table, so the version (each process counts its own) is normalised and equal contents
/// give equal bytes.
pub fn encode(table: &RoleTable) -> Result<Vec<u8>, String> {
    let mut normal = RoleTable::new();
    normal.adopt(table.clone()).map_err(|error| format!("the copy does not adopt: {error}"))?;
    serde_json::to_vec(&normal).map_err(|error| format!("the copy does not encode: {error}"))
}

/// Decodes a value of the register (refusing anything a sequence of transitions could not give).
pub fn decode(value: &[u8]) -> Result<RoleTable, String> {
    serde_json::from_slice(value).map_err(|error| format!("a value does not decode: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_contents_encode_to_equal_bytes_whatever_the_version() {
        let mut one = RoleTable::new();
        let mut two = RoleTable::new();
        let policy = Policy::ENFORCED;
        Stmt::CreateUser { caller: 0, user: 1 }.apply(&mut one, policy).unwrap();
        Stmt::CreateUser { caller: 0, user: 2 }.apply(&mut two, policy).unwrap();
        Stmt::DropUser { caller: 0, user: 2 }.apply(&mut two, policy).unwrap();
        Stmt::CreateUser { caller: 0, user: 1 }.apply(&mut two, policy).unwrap();
        assert_ne!(one.version(), two.version());
        assert_eq!(encode(&one).unwrap(), encode(&two).unwrap());
        let back = decode(&encode(&one).unwrap()).unwrap();
        assert_eq!(encode(&back).unwrap(), encode(&one).unwrap());
    }

    #[test]
    fn a_user_without_rights_is_refused_and_changes_nothing() {
        let mut table = RoleTable::new();
        let policy = Policy::ENFORCED;
        Stmt::CreateUser { caller: 0, user: 1 }.apply(&mut table, policy).unwrap();
        let before = encode(&table).unwrap();
        let refused = Stmt::CreateUser { caller: 1, user: 2 }.apply(&mut table, policy);
        assert!(refused.is_err());
        assert_eq!(encode(&table).unwrap(), before);
    }
}
