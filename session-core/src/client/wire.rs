//! The wire model: plain values for what the client sends and what the server answers.
//!
//! NebulaGraph's graph service speaks three client calls: `authenticate`, `execute` and the one-way
//! `signout`. Responses carry no request id, so a connection has at most one request awaiting a reply
//! and a socket whose reply timed out can never be trusted again. A ping is an execute with session
//! id 0: the server answers -1002 without touching any session, which proves the transport (and that
//! every byte written before it was read) and keeps nothing alive.

use graphsession_id_gen::SessionId;
use serde::{Deserialize, Serialize};

// The codes the client reads (from the workspace's one list, `graphsession_base::codes`):
// - `E_BAD_USERNAME_PASSWORD`: login failed. Permanent for this configuration: never retried.
// - `E_SESSION_INVALID`: on execute, the session is unknown (the statement did not run); on
//   authenticate, creation was refused (for example the per-(user, ip) limit of 300).
// - `E_EXECUTION_ERROR`: a statement failed (or was killed). Not a session error.
// - `E_TOO_MANY_CONNECTIONS`: authenticate refused because the node holds too many sessions.
pub use graphsession_base::codes::{
    E_BAD_USERNAME_PASSWORD, E_EXECUTION_ERROR, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS,
};

/// The session id of a ping: NebulaGraph answers it with -1002 and touches no session.
pub const PING_SESSION_ID: i64 = 0;
/// The statement of pings and keepalives: cheap, needs no space, changes nothing.
pub const PROBE_STATEMENT: &str = "YIELD 1";

/// A request the client writes on a connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Create a session for `user`.
    Authenticate {
        /// The user name.
        user: String,
        /// The password; redacted from `Debug` output.
        password: String,
    },
    /// Run `statement` in session `session_id` (0 is a ping).
    Execute {
        /// NebulaGraph's wire type: 0 for a ping, otherwise a live session's id.
        session_id: i64,
        /// The statement text.
        statement: String,
    },
    /// End session `session_id`. One-way: the server sends no reply.
    SignOut {
        /// The session to end.
        session_id: SessionId,
    },
}

impl Request {
    /// The ping: an execute with session id 0 and [`PROBE_STATEMENT`].
    pub fn ping() -> Request {
        Request::Execute { session_id: PING_SESSION_ID, statement: PROBE_STATEMENT.to_owned() }
    }

    /// Whether this is a ping (an execute with session id 0).
    #[must_use]
    pub fn is_ping(&self) -> bool {
        matches!(self, Request::Execute { session_id: PING_SESSION_ID, .. })
    }

    /// The session this request uses or ends; `None` for authenticate and pings.
    #[must_use]
    pub fn session_id(&self) -> Option<SessionId> {
        match self {
            Request::Authenticate { .. } => None,
            Request::Execute { session_id, .. } => SessionId::from_wire(*session_id),
            Request::SignOut { session_id } => Some(*session_id),
        }
    }
}

impl std::fmt::Debug for Request {
    // Hand-written so that logs of actions never contain a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Authenticate { user, .. } => f
                .debug_struct("Authenticate")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Request::Execute { session_id, statement } => f
                .debug_struct("Execute")
                .field("session_id", session_id)
                .field("statement", statement)
                .finish(),
            Request::SignOut { session_id } => {
                f.debug_struct("SignOut").field("session_id", session_id).finish()
            }
        }
    }
}

/// A reply the server writes on a connection (never for a sign-out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Authenticate succeeded; the new session's id (NebulaGraph's wire type: `i64`).
    AuthenticateOk {
        /// The new session's id: any non-zero value (NebulaGraph's development branch issues
        /// negative ones); 0 is a protocol violation.
        session_id: i64,
    },
    /// Authenticate failed.
    AuthenticateErr {
        /// The NebulaGraph error code (-1001, -1002, -1010, ...).
        code: i32,
        /// The server's message.
        message: String,
    },
    /// The statement ran.
    ExecuteOk {
        /// The result, rendered by the server.
        result: String,
    },
    /// The statement failed or was refused.
    ExecuteErr {
        /// The NebulaGraph error code (-1002 means the session is invalid and nothing ran).
        code: i32,
        /// The server's message.
        message: String,
    },
}

/// The USE statement for `space`, with the name quoted as an identifier.
pub(crate) fn use_statement(space: &str) -> String {
    format!("USE `{space}`")
}

/// Whether `space` can be quoted by [`use_statement`]: non-empty, at most 128 bytes, no backtick or
/// control character.
pub(crate) fn is_valid_space_name(space: &str) -> bool {
    !space.is_empty()
        && space.len() <= SPACE_NAME_BYTES_MAX
        && !space.chars().any(|c| c == '`' || c.is_control())
}

/// The longest space name accepted, in bytes.
pub const SPACE_NAME_BYTES_MAX: usize = 128;
