//! The five NebulaGraph roles, ordered by the rights they give.
//!
//! NebulaGraph numbers its roles GOD = 1 .. GUEST = 5, so a smaller number means more rights. Comparing those
//! numbers directly reads backwards and is an easy source of escalation bugs, so [`Role`]'s `Ord` compares
//! rights instead: `GUEST < USER < DBA < ADMIN < GOD`. The numbers are kept only for the wire.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// NebulaGraph's built-in GOD user, created by [`RoleTable::new`](crate::RoleTable::new). Here, not
/// beside the table, so the error type can name it without depending on the table.
pub const ROOT_USER: &str = "root";

/// A NebulaGraph role. `Ord` is by rights: `Guest < User < Dba < Admin < God`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// Everything everywhere; held by root. Never granted or revoked.
    God,
    /// Everything inside one space, and may grant DBA, USER and GUEST in it.
    Admin,
    /// Reads and writes schema and data in one space.
    Dba,
    /// Reads schema and data, writes data, in one space.
    User,
    /// Reads schema and data in one space.
    Guest,
}

impl Role {
    /// Every role, from most to fewest rights.
    pub const ALL: [Role; 5] = [Role::God, Role::Admin, Role::Dba, Role::User, Role::Guest];

    /// NebulaGraph's numeric value (`meta::cpp2::RoleType`): GOD = 1, ADMIN = 2, DBA = 3, USER = 4, GUEST = 5.
    pub const fn value(self) -> i32 {
        match self {
            Role::God => 1,
            Role::Admin => 2,
            Role::Dba => 3,
            Role::User => 4,
            Role::Guest => 5,
        }
    }

    /// The role with NebulaGraph's numeric `value`, if there is one.
    pub const fn from_value(value: i32) -> Option<Role> {
        match value {
            1 => Some(Role::God),
            2 => Some(Role::Admin),
            3 => Some(Role::Dba),
            4 => Some(Role::User),
            5 => Some(Role::Guest),
            _ => None,
        }
    }

    /// The name NebulaGraph prints and parses: `GOD`, `ADMIN`, `DBA`, `USER`, `GUEST`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::God => "GOD",
            Role::Admin => "ADMIN",
            Role::Dba => "DBA",
            Role::User => "USER",
            Role::Guest => "GUEST",
        }
    }

    /// The rank by rights, GUEST = 0 .. GOD = 4; what `Ord` compares.
    const fn rank(self) -> u8 {
        match self {
            Role::Guest => 0,
            Role::User => 1,
            Role::Dba => 2,
            Role::Admin => 3,
            Role::God => 4,
        }
    }
}

impl Ord for Role {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text given to [`Role::from_str`] names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}' is not a role; expected one of GOD, ADMIN, DBA, USER, GUEST")]
pub struct ParseRoleError {
    /// The text that was given.
    pub text: String,
}

impl FromStr for Role {
    type Err = ParseRoleError;

    /// Parses a role name, ignoring ASCII case as NebulaGraph's keywords do.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| ParseRoleError { text: text.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_by_rights_and_values_are_nebulagraphs() {
        assert!(Role::Guest < Role::User && Role::User < Role::Dba);
        assert!(Role::Dba < Role::Admin && Role::Admin < Role::God);
        let values: Vec<i32> = Role::ALL.iter().map(|r| r.value()).collect();
        assert_eq!(values, [1, 2, 3, 4, 5]);
        for role in Role::ALL {
            assert_eq!(Role::from_value(role.value()), Some(role));
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            assert_eq!(role.name().to_lowercase().parse::<Role>(), Ok(role));
        }
        assert_eq!(Role::from_value(0), None);
        assert_eq!(Role::from_value(6), None);
        assert!("ROOT".parse::<Role>().is_err());
    }
}
