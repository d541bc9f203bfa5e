//! The registry's error types, with NebulaGraph's codes and message texts.
//!
//! Display is what a NebulaGraph client sees, so a host forwards `code()` and `to_string()`
//! unchanged. Every operation that returns an error leaves the registry as it was, with three
//! deliberate exceptions: a wrong password counts towards the login lockout (its purpose); a
//! refused request of a live session (USE of a space without a role, say) still counts as that
//! session's activity (the client did use it); and every `now` passed in advances the node clock.

use graphsession_base::codec::ReadError;
use graphsession_id_gen::IdError;
use graphsession_permission::PermissionError;
use graphsession_query_plan::QueryError;

/// NebulaGraph's `ErrorCode` values the registry returns (from the workspace's one list,
/// `graphsession_base::codes`):
///
/// - `E_BAD_USERNAME_PASSWORD`: login refused by the password check or the lockout.
/// - `E_SESSION_INVALID`: session creation refused, session id 0, unknown session.
/// - `E_EXECUTION_ERROR`: SHOW SESSION of a missing id, and the registry's own limits.
/// - `E_TOO_MANY_CONNECTIONS`: the node holds `sessions_max` sessions.
pub mod error_code {
    pub use graphsession_base::codes::{
        E_BAD_USERNAME_PASSWORD, E_EXECUTION_ERROR, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS,
    };
}

/// Why a registry operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// The host's password check found no such user.
    #[error("User not exist")]
    UserNotExist,
    /// Wrong password, throttling off.
    #[error("Invalid password")]
    InvalidPassword,
    /// Wrong password, throttling on: `remaining` attempts before the user is locked.
    #[error("Invalid password, remaining attempts: {remaining}")]
    InvalidPasswordRemaining {
        /// Attempts left.
        remaining: u32,
    },
    /// The user is locked on this node after too many wrong passwords.
    #[error(
        "{attempts} times consecutive incorrect passwords has been input, user name: {user} has \
         been locked, try again in {remaining_secs} seconds"
    )]
    Locked {
        /// `failed_login_attempts`.
        attempts: u32,
        /// The locked user.
        user: String,
        /// Seconds until the lock ends (rounded up).
        remaining_secs: u64,
    },
    /// The node holds `sessions_max` sessions.
    #[error("Too many connections in the cluster")]
    TooManyConnections,
    /// The (user, ip) pair holds `sessions_per_user_ip_max` sessions.
    #[error(
        "Create Session failed: Too many sessions created from {client_ip} by user {user}. the \
         threshold is {threshold}. You can change it by modifying 'max_sessions_per_ip_per_user' \
         in nebula-graphd.conf"
    )]
    TooManySessionsFromIp {
        /// The client ip.
        client_ip: String,
        /// The user.
        user: String,
        /// The limit.
        threshold: u32,
    },
    /// Login of a user the role table does not know.
    #[error("Create session failed: User not existed!")]
    UserNotFound {
        /// The user.
        user: String,
    },
    /// The client ip is longer than [`CLIENT_IP_BYTES_MAX`](crate::server::CLIENT_IP_BYTES_MAX).
    #[error("Create session failed: client ip of {bytes} bytes is longer than {bytes_max}")]
    ClientIpTooLong {
        /// Its length.
        bytes: u64,
        /// The limit.
        bytes_max: u32,
    },
    /// The id generator refused (lease exhausted, backpressure): the host extends or waits.
    #[error("Create session failed: {0}")]
    IdGen(#[from] IdError),
    /// Session id 0 on execute (clients use it as a ping).
    #[error("Invalid session id")]
    InvalidSessionId,
    /// The session is not on this node (never was, signed out, killed, expired).
    #[error("Get sessionId[{session}] failed: Session `{session}' not found: Session not existed!")]
    SessionNotFound {
        /// The id asked for.
        session: i64,
    },
    /// SHOW SESSION of an id that is not on this node.
    #[error("Get session `{session}' failed: Session not existed!.")]
    ShowSessionNotFound {
        /// The id asked for.
        session: i64,
    },
    /// The session holds `variables_per_session_max` variables already.
    #[error("Too many session variables: at most {variables_max}")]
    VariablesFull {
        /// The limit.
        variables_max: u32,
    },
    /// A variable's name plus value is longer than `variable_bytes_max`.
    #[error("Session variable of {bytes} bytes is longer than the limit of {bytes_max} bytes")]
    VariableTooLong {
        /// Its length.
        bytes: u64,
        /// The limit.
        bytes_max: u32,
    },
    /// A value of the session variable
    /// [`QUERY_TIMEOUT_VARIABLE`](crate::server::QUERY_TIMEOUT_VARIABLE) that is not a count of
    /// milliseconds up to [`QUERY_TIMEOUT_MS_MAX`](crate::server::QUERY_TIMEOUT_MS_MAX).
    #[error(
        "SemanticError: query_timeout_ms must be an integer of 0 ..= 604800000 milliseconds, \
         got `{value}'"
    )]
    InvalidQueryTimeout {
        /// The value refused.
        value: String,
    },
    /// The permission crate refused: -1008 with its own message.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// The query registry refused: its own code and message.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl ServerError {
    /// NebulaGraph's error code.
    #[must_use]
    pub fn code(&self) -> i32 {
        use error_code::*;
        match self {
            Self::UserNotExist
            | Self::InvalidPassword
            | Self::InvalidPasswordRemaining { .. }
            | Self::Locked { .. } => E_BAD_USERNAME_PASSWORD,
            Self::TooManyConnections => E_TOO_MANY_CONNECTIONS,
            Self::TooManySessionsFromIp { .. }
            | Self::UserNotFound { .. }
            | Self::ClientIpTooLong { .. }
            | Self::IdGen(_)
            | Self::InvalidSessionId
            | Self::SessionNotFound { .. } => E_SESSION_INVALID,
            Self::ShowSessionNotFound { .. }
            | Self::VariablesFull { .. }
            | Self::VariableTooLong { .. } => E_EXECUTION_ERROR,
            Self::InvalidQueryTimeout { .. } => graphsession_base::codes::E_SEMANTIC_ERROR,
            Self::Permission(error) => error.code(),
            Self::Query(error) => error.code(),
        }
    }
}

/// Why find + touch ([`SessionManager::touch`](crate::server::SessionManager::touch)) found no
/// session: the execute path's two -1002 answers as a `Copy` value, so the hot path never runs
/// the drop of an error that may own strings (about 20 instructions per touch when the result
/// is consumed opaquely, an eighth of the path). Converts into the [`ServerError`] of the same
/// code and message, so `?` in a function returning [`ServerError`] works unchanged.
///
/// ```
/// use graphsession_core::server::{ServerError, TouchError};
/// let missing = TouchError::SessionNotFound { session: 7 };
/// assert_eq!(missing.code(), -1002);
/// assert_eq!(missing.to_string(), ServerError::from(missing).to_string());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchError {
    /// Session id 0 (clients use it as a ping): [`ServerError::InvalidSessionId`].
    InvalidSessionId,
    /// The session is not on this node (never was, signed out, killed, expired):
    /// [`ServerError::SessionNotFound`].
    SessionNotFound {
        /// The id asked for.
        session: i64,
    },
}

impl TouchError {
    /// NebulaGraph's error code: `E_SESSION_INVALID` (-1002) for both.
    #[must_use]
    pub fn code(self) -> i32 {
        ServerError::from(self).code()
    }
}

impl From<TouchError> for ServerError {
    fn from(error: TouchError) -> ServerError {
        match error {
            TouchError::InvalidSessionId => ServerError::InvalidSessionId,
            TouchError::SessionNotFound { session } => ServerError::SessionNotFound { session },
        }
    }
}

/// The message of the [`ServerError`] it converts into.
impl std::fmt::Display for TouchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ServerError::from(*self).fmt(f)
    }
}

impl std::error::Error for TouchError {}

/// A [`Config`](crate::server::Config) the registry cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid session registry configuration: {field} {reason}")]
pub struct ConfigError {
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Why a snapshot could not be restored. Nothing is built unless everything checks out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes do not start with the snapshot magic.
    #[error("not a session registry snapshot")]
    BadMagic,
    /// A format version this build does not read.
    #[error("snapshot format version {found}, this build reads {supported}")]
    UnsupportedVersion {
        /// The version in the snapshot.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The bytes end before the snapshot does.
    #[error("snapshot truncated at byte {at}")]
    Truncated {
        /// Where the input ran out.
        at: u64,
    },
    /// Bytes left after the snapshot.
    #[error("{bytes} unexpected bytes after the snapshot")]
    TrailingBytes {
        /// How many.
        bytes: u64,
    },
    /// The body does not match its checksum.
    #[error("snapshot checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// The checksum in the snapshot.
        stored: u64,
        /// The checksum of the body read.
        computed: u64,
    },
    /// A field is malformed or inconsistent; says which.
    #[error("invalid snapshot: {0}")]
    Invalid(String),
    /// The configuration given to restore is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A value the snapshot's byte reader refused: the truncation where the input ran out, and
/// the malformed string or option tag as [`SnapshotError::Invalid`].
impl From<ReadError> for SnapshotError {
    fn from(error: ReadError) -> SnapshotError {
        match error {
            ReadError::Truncated { at } => SnapshotError::Truncated { at },
            ReadError::NotUtf8 => SnapshotError::Invalid("a string is not UTF-8".to_owned()),
            ReadError::OptionTag { tag } => SnapshotError::Invalid(format!("option tag {tag}")),
        }
    }
}
