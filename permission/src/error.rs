//! The one error type of the permission crate, with NebulaGraph's error codes and message texts.
//!
//! Display is exactly what a NebulaGraph user sees (prefixes such as `PermissionError: ` included), so an
//! engine can forward `code()` and `to_string()` to its clients unchanged. Where this crate refuses something
//! NebulaGraph allows (deliberate fix 8, see docs/fixes.md, "Fix 8") or bounds something NebulaGraph leaves
//! unbounded (the limits), the variant says so and the text follows NebulaGraph's style.
//!
//! The refusals a validator hits on every statement carry no data, so refusing allocates nothing.

use std::borrow::Cow;

use crate::limits::{ROLES_MAX, SPACE_NAME_BYTES_MAX, SPACES_MAX, USER_NAME_BYTES_MAX, USERS_MAX};
use crate::role::{ROOT_USER, Role};
use graphsession_base::Violation;

/// NebulaGraph's `ErrorCode` values this crate returns (from the workspace's one list,
/// `graphsession_base::codes`):
///
/// - `E_ROLE_NOT_FOUND`: revoke from a user with no role in that space.
/// - `E_USER_NOT_FOUND`: unknown user on grant, revoke or drop user.
/// - `E_EXECUTION_ERROR`: a limit of this crate was reached.
/// - `E_BAD_PERMISSION`: every permission error.
/// - `E_SEMANTIC_ERROR`: a statement that can never succeed (granting to GOD, names too long).
/// - `E_EXISTED`: CREATE USER of a user that exists.
/// - `E_NOT_DROP`: DROP USER of a GOD user.
/// - `E_IMPROPER_ROLE`: revoke of a role other than the one the user holds.
pub mod error_code {
    pub use graphsession_base::codes::{
        E_BAD_PERMISSION, E_EXECUTION_ERROR, E_EXISTED, E_IMPROPER_ROLE, E_NOT_DROP,
        E_ROLE_NOT_FOUND, E_SEMANTIC_ERROR, E_USER_NOT_FOUND,
    };
}

/// Why a caller may not do something, or why a role-table transition was refused.
///
/// A refused transition leaves the [`RoleTable`](crate::RoleTable) exactly as it was, version included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    /// USE, DESCRIBE SPACE, SHOW CREATE SPACE or SHOW ROLES IN a space the caller holds no role in.
    #[error("PermissionError: No permission to read space.")]
    ReadSpace,
    /// Reading schema or data of the current space without a role in it (or before USE).
    #[error("PermissionError: No permission to read schema/data.")]
    ReadSchemaOrData,
    /// Creating, altering, dropping or clearing a space, snapshots, hosts, zones, configs, text search,
    /// balance data or zone, SHOW CONFIGS, SHOW ZONES: GOD only.
    #[error("PermissionError: No permission to write space.")]
    WriteSpace,
    /// Tags, edges, indexes, full-text indexes, listeners: GOD, ADMIN or DBA of the current space.
    #[error("PermissionError: No permission to write schema.")]
    WriteSchema,
    /// Data and the space's jobs: GOD, ADMIN, DBA or USER of the current space.
    #[error("PermissionError: No permission to write data.")]
    WriteData,
    /// CREATE, ALTER or DROP USER: GOD only.
    #[error("PermissionError: No permission to write user.")]
    WriteUser,
    /// DESCRIBE USER of another user by a caller that is not GOD.
    #[error("PermissionError: No permission to read user `{user}'.")]
    ReadUser {
        /// The user that was to be described.
        user: String,
    },
    /// GRANT of the GOD role; refused even with authorization off.
    #[error("PermissionError: No permission to grant/revoke god user.")]
    GrantRevokeGod,
    /// REVOKE of the GOD role; refused even with authorization off. NebulaGraph's
    /// `RevokeRoleExecutor` refuses it with these words before its `canWriteRole` could say "No
    /// permission to grant/revoke god user.".
    #[error("PermissionError: Permission denied")]
    RevokeGod,
    /// GRANT or REVOKE whose target is the caller itself.
    #[error("PermissionError: No permission to grant/revoke yourself.")]
    GrantRevokeYourself,
    /// GRANT or REVOKE in a space where the caller holds no role.
    #[error("PermissionError: No permission to write grant/revoke role.")]
    WriteRole,
    /// GRANT or REVOKE by a caller whose role in the space is not ADMIN, or of ADMIN by an ADMIN.
    #[error("PermissionError: No permission to grant/revoke `{caller_role}' to `{user}'.")]
    GrantRevokeRole {
        /// The caller's role in the space.
        caller_role: Role,
        /// The user that was to be changed.
        user: String,
    },
    /// Deliberate fix 8 (NebulaGraph allows it; see docs/fixes.md, "Fix 8"): the target's current role in the
    /// space is not strictly below the caller's, so an ADMIN cannot demote another ADMIN.
    #[error(
        "PermissionError: No permission to grant/revoke: `{user}' holds `{target_role}', which is not below \
         your role `{caller_role}'."
    )]
    TargetRoleNotBelow {
        /// The user that was to be changed.
        user: String,
        /// That user's current role in the space.
        target_role: Role,
        /// The caller's role in the space.
        caller_role: Role,
    },
    /// One of NebulaGraph's GOD-only listings (SHOW SESSIONS, SHOW LOCAL SESSIONS, SHOW SESSION, SHOW
    /// USERS, SHOW SNAPSHOTS, SHOW TEXT SEARCH CLIENTS) by a caller that is not GOD: NebulaGraph's one
    /// message for all of them.
    #[error("PermissionError: No permission to show users/snapshots/serviceClients")]
    ShowSessions,
    /// KILL SESSION by a caller that is not GOD.
    #[error("PermissionError: No permission to kill session")]
    KillSession,
    /// KILL QUERY of another user's query by a caller that is not GOD; refused even with authorization off.
    #[error("PermissionError: Only GOD role could kill others' queries.")]
    KillQuery,
    /// GRANT to a user that is GOD: GOD is everything everywhere, a space role would mean nothing.
    #[error("SemanticError: User '{user}' is GOD, cannot be granted.")]
    GodCannotBeGranted {
        /// The GOD user.
        user: String,
    },
    /// A user name longer than [`USER_NAME_BYTES_MAX`] (NebulaGraph's own limit and text).
    #[error("SemanticError: Username exceed maximum length {USER_NAME_BYTES_MAX} characters.")]
    UserNameTooLong {
        /// The length given, in bytes.
        bytes: u64,
    },
    /// An empty user name; NebulaGraph's grammar cannot produce one.
    #[error("SemanticError: Username is empty.")]
    UserNameEmpty,
    /// A space name longer than [`SPACE_NAME_BYTES_MAX`].
    #[error("SemanticError: Space name exceed maximum length {SPACE_NAME_BYTES_MAX} bytes.")]
    SpaceNameTooLong {
        /// The length given, in bytes.
        bytes: u64,
    },
    /// An empty space name; NebulaGraph's grammar cannot produce one.
    #[error("SemanticError: Space name is empty.")]
    SpaceNameEmpty,
    /// GRANT, REVOKE or DROP USER naming a user that does not exist.
    #[error("User not existed!")]
    UserNotFound {
        /// The unknown user.
        user: String,
    },
    /// REVOKE from a user that holds no role in the space.
    #[error("Role not existed!")]
    RoleNotFound {
        /// The user.
        user: String,
        /// The space.
        space: String,
    },
    /// REVOKE of a role other than the one the user holds in the space.
    #[error("Improper role!")]
    ImproperRole {
        /// The user.
        user: String,
        /// The role the user actually holds there.
        held: Role,
    },
    /// CREATE USER of a user that exists.
    #[error("Existed!")]
    UserExists {
        /// The existing user.
        user: String,
    },
    /// DROP USER of a GOD user, in both authorization modes: a table always keeps its GOD users.
    /// NebulaGraph refuses `DROP USER root` with this code and text (when authorization is on); the
    /// same words name any other GOD user (see docs/fixes.md, "DROP USER of a GOD user").
    #[error("SemanticError: Can't drop {}.", god_user_words(.user))]
    GodUserNotDroppable {
        /// The GOD user.
        user: String,
    },
    /// CREATE USER when the table holds [`USERS_MAX`] users.
    #[error("Too many users: the role table holds at most {USERS_MAX}.")]
    UsersFull,
    /// GRANT into a new space when roles exist in [`SPACES_MAX`] spaces.
    #[error(
        "Too many spaces with roles: the role table holds roles in at most {SPACES_MAX} spaces."
    )]
    SpacesFull,
    /// GRANT of a new (user, space) role when the table holds [`ROLES_MAX`] roles.
    #[error("Too many roles: the role table holds at most {ROLES_MAX}.")]
    RolesFull,
    /// The table's version counter is at `u64::MAX`; no further change can be told apart from the last.
    #[error("The role table's version counter is exhausted.")]
    VersionExhausted,
}

impl PermissionError {
    /// NebulaGraph's error code for this error (see [`error_code`]).
    pub const fn code(&self) -> i32 {
        use error_code::*;
        match self {
            Self::ReadSpace
            | Self::ReadSchemaOrData
            | Self::WriteSpace
            | Self::WriteSchema
            | Self::WriteData
            | Self::WriteUser
            | Self::ReadUser { .. }
            | Self::GrantRevokeGod
            | Self::RevokeGod
            | Self::GrantRevokeYourself
            | Self::WriteRole
            | Self::GrantRevokeRole { .. }
            | Self::TargetRoleNotBelow { .. }
            | Self::ShowSessions
            | Self::KillSession
            | Self::KillQuery => E_BAD_PERMISSION,
            Self::GodCannotBeGranted { .. }
            | Self::GodUserNotDroppable { .. }
            | Self::UserNameTooLong { .. }
            | Self::UserNameEmpty
            | Self::SpaceNameTooLong { .. }
            | Self::SpaceNameEmpty => E_SEMANTIC_ERROR,
            Self::UserNotFound { .. } => E_USER_NOT_FOUND,
            Self::RoleNotFound { .. } => E_ROLE_NOT_FOUND,
            Self::ImproperRole { .. } => E_IMPROPER_ROLE,
            Self::UserExists { .. } => E_EXISTED,
            Self::UsersFull | Self::SpacesFull | Self::RolesFull | Self::VersionExhausted => {
                E_EXECUTION_ERROR
            }
        }
    }
}

/// How DROP USER's refusal names a GOD user: NebulaGraph's own words for root ("root user"), the same
/// shape for any other GOD user a table holds.
fn god_user_words(user: &str) -> Cow<'static, str> {
    if user == ROOT_USER {
        Cow::Borrowed("root user")
    } else {
        Cow::Owned(format!("GOD user '{user}'"))
    }
}

/// Why [`RoleTable::adopt`](crate::RoleTable::adopt) refused a table and left its own as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdoptError {
    /// The table offered breaks an invariant (a corrupted or foreign copy).
    #[error("the role table offered is not valid: {0}")]
    Invalid(Violation),
    /// The table's own version counter is at `u64::MAX`.
    #[error("The role table's version counter is exhausted.")]
    VersionExhausted,
}
