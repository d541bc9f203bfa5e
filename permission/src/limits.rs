//! The bounds of a role table, and the name checks that enforce them.
//!
//! A role table is persisted by the host and copied into every session's [`Caller`](crate::Caller), so an
//! unbounded one is a memory problem for every node. The values are generous for real deployments and small
//! enough that a full table stays in the low megabytes.

use crate::error::PermissionError;

/// Longest user name, in bytes. NebulaGraph's own limit (`kUsernameMaxLength`), so any NebulaGraph user fits.
pub const USER_NAME_BYTES_MAX: u32 = 16;
/// Longest space name, in bytes. NebulaGraph identifiers are short in practice; 256 bytes leaves room for
/// generated names while bounding each role entry.
pub const SPACE_NAME_BYTES_MAX: u32 = 256;
/// Most users (GOD users included) one table holds. NebulaGraph clusters have tens to thousands of users.
pub const USERS_MAX: u32 = 16_384;
/// Most distinct spaces that roles may name. NebulaGraph deployments have at most a few hundred spaces.
pub const SPACES_MAX: u32 = 4_096;
/// Most (user, space) roles in one table, so a table is bounded well below `USERS_MAX * SPACES_MAX`.
pub const ROLES_MAX: u32 = 262_144;

/// Refuses a user name the table cannot hold.
pub fn check_user_name(user: &str) -> Result<(), PermissionError> {
    if user.is_empty() {
        return Err(PermissionError::UserNameEmpty);
    }
    if user.len() > USER_NAME_BYTES_MAX as usize {
        return Err(PermissionError::UserNameTooLong { bytes: len_u64(user) });
    }
    Ok(())
}

/// Refuses a space name the table cannot hold.
pub(crate) fn check_space_name(space: &str) -> Result<(), PermissionError> {
    if space.is_empty() {
        return Err(PermissionError::SpaceNameEmpty);
    }
    if space.len() > SPACE_NAME_BYTES_MAX as usize {
        return Err(PermissionError::SpaceNameTooLong { bytes: len_u64(space) });
    }
    Ok(())
}

fn len_u64(text: &str) -> u64 {
    u64::try_from(text.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_at_the_bound_pass_and_one_byte_more_is_refused() {
        let user_max = "u".repeat(USER_NAME_BYTES_MAX as usize);
        assert_eq!(check_user_name(&user_max), Ok(()));
        let too_long = format!("{user_max}u");
        assert_eq!(check_user_name(&too_long), Err(PermissionError::UserNameTooLong { bytes: 17 }));
        let space_max = "s".repeat(SPACE_NAME_BYTES_MAX as usize);
        assert_eq!(check_space_name(&space_max), Ok(()));
        assert!(check_space_name(&format!("{space_max}s")).is_err());
        assert_eq!(check_space_name(""), Err(PermissionError::SpaceNameEmpty));
    }
}
