//! Typed errors of the client lifecycle, one enum per kind of failure, so that a caller can tell "did my
//! statement run?" (outcome), "is the network down?" (transport), "is my session gone or refused?"
//! (session) and "is the pool out of sessions?" (pool) without parsing text.

use graphsession_id_gen::SessionId;
use serde::{Deserialize, Serialize};

/// A configuration value out of range. Checked once, when a machine or pool is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A duration, size or maximum that must be positive is 0.
    #[error("{field} must be positive")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// Keepalives would come too late to keep an idle session alive.
    #[error(
        "keepalive_interval_ms {keepalive_interval_ms} must be below half of server_idle_timeout_ms \
         {server_idle_timeout_ms}"
    )]
    KeepaliveTooSlow {
        /// The configured interval.
        keepalive_interval_ms: u64,
        /// The server's idle timeout.
        server_idle_timeout_ms: u64,
    },
    /// An execute could outlive the session it runs in.
    #[error("execute_timeout_ms {execute_timeout_ms} must be below server_idle_timeout_ms")]
    ExecuteTimeoutTooLong {
        /// The configured timeout.
        execute_timeout_ms: u64,
    },
    /// The local session budget must leave room for one live session and one pending sign-out, and
    /// stay below the server's per-(user, ip) limit.
    #[error("sessions_per_user_ip_node_max {max} must be in 2..{server_max}")]
    BudgetOutOfRange {
        /// The configured budget.
        max: u32,
        /// The server's limit.
        server_max: u32,
    },
    /// A backoff whose initial value exceeds its maximum.
    #[error("{field}: initial {initial_ms} ms exceeds maximum {max_ms} ms")]
    BackoffInverted {
        /// The backoff's name.
        field: &'static str,
        /// Its initial value.
        initial_ms: u64,
        /// Its maximum.
        max_ms: u64,
    },
    /// The user name is empty.
    #[error("user must not be empty")]
    EmptyUser,
    /// A space name that cannot be quoted in a USE statement.
    #[error("invalid space name {space:?}")]
    InvalidSpaceName {
        /// The name.
        space: String,
    },
    /// Pool sizes out of order.
    #[error("pool sizes must satisfy 0 <= sessions_min ({min}) <= sessions_max ({max}), max > 0")]
    PoolSizes {
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// The budget cannot give every pooled session room for itself and one pending sign-out.
    #[error("budget {budget} is below 2 x sessions_max {sessions_max}")]
    PoolBudgetTooSmall {
        /// The budget.
        budget: u32,
        /// The pool's maximum.
        sessions_max: u32,
    },
}

/// A user command refused synchronously; nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CommandError {
    /// The machine was not opened yet.
    #[error("the session is not open: call open first")]
    NotOpen,
    /// The machine is closing or closed; nothing starts after close.
    #[error("the session is closed")]
    Closed,
    /// The request queue (including the request in flight) is full.
    #[error("request queue full ({max} requests)")]
    QueueFull {
        /// `execute_queue_max`.
        max: u32,
    },
    /// A space name that cannot be quoted in a USE statement.
    #[error("invalid space name {space:?}")]
    InvalidSpaceName {
        /// The name.
        space: String,
    },
}

/// Why the transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum TransportError {
    /// The dial failed.
    #[error("connect failed")]
    ConnectFailed,
    /// The dial took longer than `connect_timeout_ms`.
    #[error("connect timed out")]
    ConnectTimedOut,
    /// The socket closed or failed.
    #[error("connection closed")]
    Closed,
    /// No reply within the phase's deadline; the socket was discarded.
    #[error("reply timed out")]
    ReplyTimedOut,
    /// The host's socket timeout fired.
    #[error("transport timed out")]
    TimedOut,
    /// A reply that does not match the request in flight (or arrived with none); the socket was
    /// discarded.
    #[error("protocol violation: unexpected reply")]
    ProtocolViolation,
}

/// Why a session could not be used, created or kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SessionError {
    /// The server answered -1002 for the session; the statement did not run.
    #[error("session {session_id} is invalid (-1002)")]
    Invalid {
        /// The session.
        session_id: SessionId,
    },
    /// Authenticate was refused with -1002 or -1010 (too many sessions); the machine backs off.
    #[error("authenticate refused ({code}): {message}")]
    AuthenticateRefused {
        /// -1002 or -1010.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// Wrong user name or password (-1001). Never retried.
    #[error("bad user name or password ({code}): {message}")]
    BadCredentials {
        /// -1001.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// Authenticate failed with another code. Never retried.
    #[error("authenticate failed ({code}): {message}")]
    AuthenticateFailed {
        /// The code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// USE of the configured space failed (not a session error): the session is signed out and the
    /// machine closes instead of logging in again in a loop.
    #[error("USE {space} failed ({code}): {message}")]
    UseSpaceFailed {
        /// The space.
        space: String,
        /// The code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// Too many consecutive failures before a session became ready.
    #[error("gave up after {failures} consecutive failures")]
    RetriesExhausted {
        /// How many.
        failures: u32,
    },
}

/// The outcome of a request that was sent and got no reply: it may or may not have run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum OutcomeError {
    /// Sent, then the transport failed; the statement may have run.
    #[error("outcome unknown: sent, then {cause}")]
    Unknown {
        /// What happened to the transport.
        cause: TransportError,
    },
}

/// Why a request failed. [`RequestError::certainly_not_run`] says whether re-running it is safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RequestError {
    /// The server answered with an error (the statement was refused or failed; -1005 is here).
    #[error("server error {code}: {message}")]
    Server {
        /// The NebulaGraph code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// Sent without reply: it may have run. Never re-sent unless marked idempotent.
    #[error(transparent)]
    Outcome(#[from] OutcomeError),
    /// Not run because of the session (it stayed invalid after the allowed re-runs).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Not sent: the transport was down until the queue deadline.
    #[error("not sent: {0}")]
    Transport(#[from] TransportError),
    /// Not sent: close was called (or the machine gave up) first.
    #[error("not sent: cancelled by close")]
    Cancelled,
    /// Not sent within `execute_queue_timeout_ms`.
    #[error("not sent: queued too long")]
    QueueTimedOut,
}

impl RequestError {
    /// Whether the statement certainly did not run, so the caller may re-run it.
    #[must_use]
    pub fn certainly_not_run(&self) -> bool {
        !matches!(self, RequestError::Server { .. } | RequestError::Outcome(_))
    }
}

/// Why a pool operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PoolError {
    /// The pool is closing or closed.
    #[error("the pool is closed")]
    Closed,
    /// `waiters_max` callers are already waiting.
    #[error("too many waiters ({max})")]
    WaitersFull {
        /// `waiters_max`.
        max: u32,
    },
    /// The handle's lease was revoked (its session closed) or already returned.
    #[error("stale handle: member {member} generation {generation}")]
    StaleHandle {
        /// The handle's member.
        member: u32,
        /// The handle's generation.
        generation: u64,
    },
    /// The member refused the command.
    #[error(transparent)]
    Command(#[from] CommandError),
}
