//! Errors of cluster sync, with NebulaGraph's codes where one exists.
//!
//! Every operation that returns an error leaves its machine as it was (except that the `now`
//! passed in advances its clock).

use graphsession_base::Violation;
use graphsession_id_gen::SessionId;
use graphsession_query_plan::QueryKey;

/// NebulaGraph's `ErrorCode` values cluster sync returns (from the workspace's one list,
/// `graphsession_base::codes`):
///
/// - `E_SESSION_INVALID`: a pick-up of a session meta does not have.
/// - `E_EXECUTION_ERROR`: a limit of this module was reached.
/// - `E_BAD_PERMISSION`: KILL QUERY of another user's query by a caller that is not GOD.
/// - `E_SESSION_NOT_FOUND`: meta has no live session with that id.
/// - `E_QUERY_NOT_FOUND`: KILL QUERY of a plan no holder of the session reported.
pub mod error_code {
    pub use graphsession_base::codes::{
        E_BAD_PERMISSION, E_EXECUTION_ERROR, E_QUERY_NOT_FOUND, E_SESSION_INVALID,
        E_SESSION_NOT_FOUND,
    };
}

/// A configuration field that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cluster configuration: {field} {reason}")]
pub struct ConfigError {
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Why the node-side machine refused a call. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// `pending_removals_max` removals already wait for meta.
    #[error("cannot remove session {session}: {pending_max} removals already wait for meta")]
    RemovalsFull {
        /// The session.
        session: SessionId,
        /// The limit.
        pending_max: u32,
    },
    /// `pending_query_kills_max` kills already wait for meta.
    #[error("cannot kill query {key:?}: {pending_max} kills already wait for meta")]
    QueryKillsFull {
        /// The query.
        key: QueryKey,
        /// The limit.
        pending_max: u32,
    },
    /// `pending_pick_ups_max` pick-ups already wait for meta.
    #[error("cannot pick up session {session}: {pending_max} pick-ups already wait for meta")]
    PickUpsFull {
        /// The session.
        session: SessionId,
        /// The limit.
        pending_max: u32,
    },
    /// `unannounced_max` sessions created here already wait for meta.
    #[error("cannot announce session {session}: {pending_max} new sessions already wait for meta")]
    UnannouncedFull {
        /// The session.
        session: SessionId,
        /// The limit.
        pending_max: u32,
    },
}

impl NodeError {
    /// NebulaGraph's error code: every limit is `E_EXECUTION_ERROR` (-1005).
    #[must_use]
    pub fn code(&self) -> i32 {
        error_code::E_EXECUTION_ERROR
    }
}

/// A persisted meta state that cannot be restored. Nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// Written by a format this build does not read.
    #[error("meta state format {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The digest does not match the content: corrupt or truncated.
    #[error("meta state digest mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    DigestMismatch {
        /// The stored digest.
        stored: u64,
        /// The digest of the content.
        computed: u64,
    },
    /// The content is well-formed but breaks an invariant.
    #[error("meta state is inconsistent: {0}")]
    Inconsistent(Violation),
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
