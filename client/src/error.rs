//! The client's errors: one enum, each cause its own variant, with NebulaGraph's error code
//! where the server gave one ([`Error::code`]) and whether the statement certainly did not run
//! ([`Error::certainly_not_run`]).

use graphsession_core::client::{CommandError, ConfigError, PoolError, RequestError, SessionError};
use graphsession_wire::ClientCodecConfigError;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A session or pool setting is out of range.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A codec limit is out of range.
    #[error("invalid codec configuration: {0}")]
    CodecConfig(#[from] ClientCodecConfigError),
    /// No graphd address was given.
    #[error("no graphd address given")]
    NoAddress,
    /// An address did not resolve.
    #[error("cannot resolve {address:?}: {reason}")]
    Resolve {
        /// The address as given.
        address: String,
        /// Why.
        reason: String,
    },
    /// None of the addresses accepted a connection within `connect_timeout_ms`.
    #[error("no graphd reachable at {addresses}")]
    Unreachable {
        /// The addresses tried.
        addresses: String,
    },
    /// The statement failed on the server, with NebulaGraph's code (-1005 execution error,
    /// -1004 syntax error, ...), or was refused before it ran. See [`RequestError`].
    #[error(transparent)]
    Request(#[from] RequestError),
    /// No session could be opened: bad credentials (-1001), a refused USE, or too many
    /// failures in a row.
    #[error("opening a session failed: {0}")]
    Open(SessionError),
    /// The pool or session refused the operation (closed, too many waiters, stale lease).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The command was refused at once (queue full, bad space name).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// No session became free within `acquire_timeout_ms`.
    #[error("no session within the acquire timeout")]
    AcquireTimedOut,
    /// The session or pool was closed.
    #[error("the session is closed")]
    Closed,
    /// The background task stopped (its runtime shut down).
    #[error("the client's background task stopped")]
    Stopped,
    /// The server's replies did not fit the calls made.
    #[error("protocol violation: {reason}")]
    Protocol {
        /// What did not fit.
        reason: &'static str,
    },
    /// An `executeJson` reply that is not JSON.
    #[error("the JSON reply does not parse: {reason}")]
    Json {
        /// The parser's message.
        reason: String,
    },
}

impl Error {
    /// NebulaGraph's error code, when the server gave one.
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        let session_code = |error: &SessionError| match error {
            SessionError::Invalid { .. } => Some(graphsession_core::client::E_SESSION_INVALID),
            SessionError::AuthenticateRefused { code, .. }
            | SessionError::BadCredentials { code, .. }
            | SessionError::AuthenticateFailed { code, .. }
            | SessionError::UseSpaceFailed { code, .. } => Some(*code),
            SessionError::RetriesExhausted { .. } => None,
        };
        match self {
            Error::Request(RequestError::Server { code, .. }) => Some(*code),
            Error::Request(RequestError::Session(error)) | Error::Open(error) => {
                session_code(error)
            }
            _ => None,
        }
    }

    /// Whether the statement certainly did not run, so that running it again is safe.
    #[must_use]
    pub fn certainly_not_run(&self) -> bool {
        match self {
            Error::Request(error) => error.certainly_not_run(),
            Error::Stopped => false,
            _ => true,
        }
    }
}
