//! What goes into and out of the machine besides user commands: transport events in, actions for the
//! host (dial, send, close a socket) and events for the application out. All plain values, so a
//! simulator can record, compare and replay them.

use crate::client::error::{RequestError, SessionError};
use crate::client::wire::{Request, Response};
use graphsession_id_gen::SessionId;
use serde::{Deserialize, Serialize};

/// One socket, named by the machine when it asks to dial. Events about an old socket carry its old id
/// and are recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConnectionId(pub u64);

/// One user request (execute, ping or USE), named by the machine when it accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Whether running a statement twice is harmless. Only idempotent statements are re-sent after a reply
/// was lost; the others are reported as [`RequestError::Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Idempotency {
    /// Safe to run twice (reads, upserts of the same value).
    Idempotent,
    /// Must not run twice (inserts with side effects, counters).
    NotIdempotent,
}

/// What the host's transport reports about a socket the machine asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransportEvent {
    /// The dial succeeded.
    Connected,
    /// The dial failed.
    ConnectFailed,
    /// The socket closed or failed (reset, EOF, write error).
    Closed,
    /// The host's own socket timeout fired; treated like [`TransportEvent::Closed`].
    TimedOut,
    /// A reply arrived.
    Response(Response),
}

/// An effect the host must carry out, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Open a socket to the graph node; report [`TransportEvent::Connected`] or a failure.
    Dial {
        /// The id the machine gives the new socket.
        connection: ConnectionId,
    },
    /// Write `request` on the socket.
    Send {
        /// The socket to write on.
        connection: ConnectionId,
        /// What to write.
        request: Request,
    },
    /// Close the socket and forget it. Emitted exactly once for every socket dialled.
    CloseSocket {
        /// The socket to close.
        connection: ConnectionId,
    },
}

impl Action {
    /// The socket the action is about.
    #[must_use]
    pub fn connection(&self) -> ConnectionId {
        match self {
            Action::Dial { connection }
            | Action::Send { connection, .. }
            | Action::CloseSocket { connection } => *connection,
        }
    }
}

/// How a session became ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadyOrigin {
    /// A new session was authenticated (and its space selected).
    Created,
    /// The session held before a reconnect was confirmed alive on the new socket.
    Resumed,
}

/// Why the session the machine held is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LossReason {
    /// An execute was answered with -1002 (the statement did not run).
    InvalidOnExecute,
    /// The user's ping was answered with -1002.
    InvalidOnPing,
    /// A keepalive or a resume check was answered with -1002.
    InvalidOnProbe,
    /// USE was answered with -1002.
    InvalidOnUseSpace,
    /// The server's idle timeout certainly passed since the session was last used.
    IdleExpired,
    /// The session was held with no live transport for longer than `zombie_disconnected_max_ms`;
    /// it was queued for sign-out.
    HeldWithoutTransport,
}

/// Why a session counts as a zombie: the client believed it usable and it was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ZombieKind {
    /// The server answered -1002 for a session the client held as live.
    ServerSaysGone,
    /// Held with no live transport for `disconnected_ms` milliseconds.
    HeldWithoutTransport {
        /// How long the transport had been down.
        disconnected_ms: u64,
    },
    /// Held past the server's idle timeout (the host was suspended, or keepalives could not be sent).
    ExpiredWhileHeld,
}

/// The answer to the user's ping (a probe with the real session id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PingOutcome {
    /// The server knows the session: it is alive and its idle timer was reset.
    SessionAlive,
    /// The server answered -1002: the session is gone and will be replaced.
    SessionInvalid,
}

/// What the machine tells the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A session is ready for statements.
    Ready {
        /// The session.
        session_id: SessionId,
        /// New or resumed.
        origin: ReadyOrigin,
    },
    /// A statement (or a USE) ran; its result.
    Result {
        /// The request.
        request: RequestId,
        /// The server's result.
        result: String,
    },
    /// The user's ping was answered.
    PingAnswered {
        /// The request.
        request: RequestId,
        /// Alive or invalid.
        outcome: PingOutcome,
    },
    /// A request failed; the error says whether it may have run.
    Failed {
        /// The request.
        request: RequestId,
        /// Why.
        error: RequestError,
    },
    /// The session the machine held is gone (the machine replaces it unless configured to close).
    SessionLost {
        /// The session.
        session_id: SessionId,
        /// Why.
        reason: LossReason,
    },
    /// A zombie was found and cleaned up: counted in the metrics.
    ZombieDetected {
        /// The session.
        session_id: SessionId,
        /// Which kind.
        kind: ZombieKind,
    },
    /// A sign-out was delivered: a reply written after it arrived on the same socket.
    SignedOut {
        /// The session.
        session_id: SessionId,
    },
    /// A session left the ledger because the server's idle timeout certainly passed.
    SessionExpired {
        /// The session.
        session_id: SessionId,
    },
    /// The sign-out outbox was full: the session stays in the ledger (and the budget) and waits for room
    /// in the outbox or for expiry.
    SignOutOverflow {
        /// The session that did not fit.
        session_id: SessionId,
        /// The outbox's size.
        outbox_max: u32,
    },
    /// An authenticate was sent and its reply lost: the server may hold a session whose id the client
    /// never learned. Counted against the budget until the idle timeout passes.
    AuthenticateOutcomeUnknown {
        /// The socket the authenticate was written on.
        connection: ConnectionId,
    },
    /// Authenticate was refused (-1002 or -1010); the machine waits until `retry_at_ms`.
    AuthenticateRefused {
        /// The server's code.
        code: i32,
        /// The server's message.
        message: String,
        /// When the machine tries again, host milliseconds.
        retry_at_ms: u64,
    },
    /// The local budget is full; the machine waits until `retry_at_ms` instead of authenticating.
    BudgetExhausted {
        /// Sessions counted (held, awaiting sign-out, unknown outcome).
        count: u32,
        /// The budget.
        max: u32,
        /// When the machine tries again, host milliseconds.
        retry_at_ms: u64,
    },
    /// Opening failed for good (bad credentials, USE refused, retries exhausted); the machine closes.
    OpenFailed {
        /// Why.
        error: SessionError,
    },
    /// The machine is closed. `abandoned` lists sessions whose sign-out could not be delivered before
    /// the close deadline: they stay in the ledger, counted as leaked, until they expire.
    Closed {
        /// Sessions not signed out.
        abandoned: Vec<SessionId>,
    },
}
