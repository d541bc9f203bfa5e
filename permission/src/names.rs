//! The name checks: a user or space name a role table cannot hold is refused (-1009), before
//! anything else looks at it. The bounds themselves are in `limits.rs`.

use crate::error::PermissionError;
use crate::limits::{SPACE_NAME_BYTES_MAX, USER_NAME_BYTES_MAX};

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
