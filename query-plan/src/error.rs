//! The one error type of query-plan, with NebulaGraph's codes and message texts.
//!
//! Display is what a NebulaGraph user sees, so a host forwards `code()` and `to_string()`
//! unchanged. Two deliberate differences: E_QUERY_NOT_FOUND carries a real message (NebulaGraph
//! shows "Unknown error -2073!"; part of fix 6, see docs/fixes.md), and the registry's limits,
//! which NebulaGraph does not have, are E_EXECUTION_ERROR (-1005), the code NebulaGraph uses for a
//! statement that could not run. Every operation that returns an error leaves the registry exactly
//! as it was.

use crate::lifecycle::{KillCause, QueryOutcome};
use crate::signal::Killed;
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::PermissionError;

/// NebulaGraph's `ErrorCode` values this crate returns (from the workspace's one list,
/// `graphsession_base::codes`):
///
/// - `E_SESSION_INVALID`: a session the registry already tracks was opened again.
/// - `E_EXECUTION_ERROR`: a killed query, and every limit of this crate.
/// - `E_BAD_PERMISSION`: KILL QUERY of another user's query by a caller that is not GOD.
/// - `E_SESSION_NOT_FOUND`: the session is not on this node.
/// - `E_QUERY_NOT_FOUND`: the plan is not running in that session.
pub mod error_code {
    pub use graphsession_base::codes::{
        E_BAD_PERMISSION, E_EXECUTION_ERROR, E_QUERY_NOT_FOUND, E_SESSION_INVALID,
        E_SESSION_NOT_FOUND,
    };
}

/// Why a registry operation was refused, or how a query ended for its client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The session is not open in this registry.
    #[error("SessionId[{session}] does not exist")]
    SessionNotFound {
        /// The session named.
        session: SessionId,
    },
    /// KILL QUERY (plan=p): the plan is not running in the caller's session.
    #[error("ExecutionPlanId[{plan}] does not exist in current Session.")]
    QueryNotFoundInCurrentSession {
        /// The plan named.
        plan: PlanId,
    },
    /// The plan is not running in the named session (KILL QUERY (session=s, plan=p), finish, fail,
    /// kill).
    #[error("ExecutionPlanId[{plan}] does not exist in Session[{session}].")]
    QueryNotFoundInSession {
        /// The session named.
        session: SessionId,
        /// The plan named.
        plan: PlanId,
    },
    /// The permission crate refused (KILL QUERY of another user's query): -1008, its own message.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// The query was killed; what its client gets instead of a result.
    #[error("Execution had been killed")]
    Killed {
        /// Why.
        cause: KillCause,
    },
    /// The session was opened twice; session ids are unique, so this is a host bug.
    #[error("SessionId[{session}] is already open")]
    SessionAlreadyOpen {
        /// The session named.
        session: SessionId,
    },
    /// The plan was registered twice in the session; plan ids are unique, so this is a host bug.
    #[error("ExecutionPlanId[{plan}] is already running in Session[{session}].")]
    QueryAlreadyRegistered {
        /// The session named.
        session: SessionId,
        /// The plan named.
        plan: PlanId,
    },
    /// The registry tracks `sessions_max` sessions already.
    #[error("Too many sessions on this node: at most {sessions_max} can run queries")]
    SessionsFull {
        /// The configured limit.
        sessions_max: u32,
    },
    /// The session runs `queries_per_session_max` queries already.
    #[error(
        "Too many queries in Session[{session}]: at most {queries_per_session_max} may run at once"
    )]
    SessionQueriesFull {
        /// The session named.
        session: SessionId,
        /// The configured limit.
        queries_per_session_max: u32,
    },
    /// The node runs `queries_per_node_max` queries already.
    #[error("Too many queries on this node: at most {queries_per_node_max} may run at once")]
    NodeQueriesFull {
        /// The configured limit.
        queries_per_node_max: u32,
    },
    /// The statement text is longer than `statement_bytes_max`.
    #[error(
        "Statement of {statement_bytes} bytes is longer than the limit of \
         {statement_bytes_max} bytes"
    )]
    StatementTooLong {
        /// The statement's length.
        statement_bytes: u64,
        /// The configured limit.
        statement_bytes_max: u32,
    },
    /// A session's user name or host is longer than its limit.
    #[error("Session {field} of {bytes} bytes is longer than the limit of {bytes_max} bytes")]
    SessionFieldTooLong {
        /// `"user name"` or `"host"`.
        field: &'static str,
        /// The value's length.
        bytes: u64,
        /// The limit ([`USER_NAME_BYTES_MAX`](crate::USER_NAME_BYTES_MAX) or
        /// [`HOST_BYTES_MAX`](crate::HOST_BYTES_MAX)).
        bytes_max: u32,
    },
}

impl QueryError {
    /// NebulaGraph's error code (see [`error_code`]).
    #[must_use]
    pub fn code(&self) -> i32 {
        use error_code::*;
        match self {
            QueryError::SessionNotFound { .. } => E_SESSION_NOT_FOUND,
            QueryError::QueryNotFoundInCurrentSession { .. }
            | QueryError::QueryNotFoundInSession { .. } => E_QUERY_NOT_FOUND,
            QueryError::Permission(error) => error.code(),
            QueryError::SessionAlreadyOpen { .. } => E_SESSION_INVALID,
            QueryError::Killed { .. }
            | QueryError::QueryAlreadyRegistered { .. }
            | QueryError::SessionsFull { .. }
            | QueryError::SessionQueriesFull { .. }
            | QueryError::NodeQueriesFull { .. }
            | QueryError::StatementTooLong { .. }
            | QueryError::SessionFieldTooLong { .. } => E_EXECUTION_ERROR,
        }
    }
}

impl From<Killed> for QueryError {
    fn from(killed: Killed) -> QueryError {
        QueryError::Killed { cause: killed.cause }
    }
}

// Here, not in `lifecycle.rs`, so the lifecycle knows nothing of the error type that names its
// kill causes.
impl QueryOutcome {
    /// The result a client gets: `Err(QueryError::Killed)` (-1005 "Execution had been killed") for
    /// a killed query, `Ok` otherwise (a failed query carries its own error, which the host
    /// reports).
    pub fn into_client_result(self) -> Result<QueryOutcome, QueryError> {
        match self {
            QueryOutcome::Killed(kill) => Err(QueryError::Killed { cause: kill.cause() }),
            outcome @ (QueryOutcome::Finished | QueryOutcome::Failed { .. }) => Ok(outcome),
        }
    }
}
