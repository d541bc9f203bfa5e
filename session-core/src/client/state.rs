//! The lifecycle of a [`SessionMachine`](crate::client::SessionMachine) as one enum. Each variant names
//! what the machine waits for and carries only that state's data: the socket exists only in states
//! that have one, a session id only where one is held, a deadline in every state that waits on the
//! network. At most one request awaits a reply per socket, because replies carry no request id.

use crate::client::action::{ConnectionId, ReadyOrigin};
use crate::client::error::TransportError;
use crate::client::queue::QueuedRequest;
use graphsession_id_gen::SessionId;

/// What the machine holds on a fresh or idle socket, deciding its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// No session: authenticate.
    Nothing,
    /// A session held before the socket was lost, not yet checked on this socket: resume or replace.
    Unconfirmed(SessionId),
    /// A session usable on this socket.
    Confirmed(SessionId),
}

impl Held {
    /// The session, if any.
    #[must_use]
    pub fn session(self) -> Option<SessionId> {
        match self {
            Held::Nothing => None,
            Held::Unconfirmed(session) | Held::Confirmed(session) => Some(session),
        }
    }
}

/// Which probe with the real session id is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Keepalive of an idle session (every `keepalive_interval_ms`).
    Keepalive,
    /// Check of a resumed session on a new socket (no space configured, so no USE).
    Resume,
}

/// Why the machine is waiting to reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The transport failed.
    Transport(TransportError),
    /// Authenticate was refused (-1002 or -1010).
    AuthenticateRefused,
    /// The local budget was full.
    BudgetExhausted,
}

/// The request awaiting a reply when close was called; close waits for it (drains) before signing out
/// on the same socket, so its result is not lost and its session id is not orphaned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFlight {
    /// An authenticate: its reply may carry a session to sign out.
    Authenticate,
    /// A USE, keepalive or resume check of `session`.
    SessionCheck {
        /// The session.
        session: SessionId,
    },
    /// A user request in `session`.
    Request {
        /// The session.
        session: SessionId,
        /// The request.
        request: QueuedRequest,
    },
}

/// Where a close stands. Nothing here ever authenticates or executes with a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// Waiting for the reply of the request sent before close.
    Draining {
        /// The socket.
        connection: ConnectionId,
        /// The request.
        in_flight: InFlight,
        /// Its reply deadline.
        reply_deadline_ms: u64,
    },
    /// Dialling a socket to deliver sign-outs.
    AwaitingConnect {
        /// The socket.
        connection: ConnectionId,
        /// Dial deadline.
        connect_deadline_ms: u64,
    },
    /// Sign-outs and a ping written; waiting for the ping's reply.
    AwaitingSignOutProof {
        /// The socket.
        connection: ConnectionId,
        /// Proof deadline.
        proof_deadline_ms: u64,
    },
    /// The last socket failed; dialling again at `retry_at_ms`.
    AwaitingRetry {
        /// When to dial again.
        retry_at_ms: u64,
    },
}

/// The machine's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Created; waiting for `open`.
    AwaitingOpen,
    /// No socket; dialling again at `retry_at_ms`.
    AwaitingReconnect {
        /// When to dial.
        retry_at_ms: u64,
        /// The session to resume (or replace) on the next socket.
        held: Option<SessionId>,
        /// Since when no socket has been usable.
        down_since_ms: u64,
        /// Why.
        wait: Wait,
    },
    /// Dialling.
    AwaitingConnect {
        /// The socket.
        connection: ConnectionId,
        /// Dial deadline.
        deadline_ms: u64,
        /// The session to resume (or replace) once connected.
        held: Option<SessionId>,
        /// Since when no socket has been usable.
        down_since_ms: u64,
    },
    /// Due sign-outs and a ping written; waiting for the ping's reply, then doing `then`.
    AwaitingSignOutProof {
        /// The socket.
        connection: ConnectionId,
        /// Proof deadline.
        deadline_ms: u64,
        /// What is held on this socket.
        then: Held,
    },
    /// Authenticate written; waiting for the session id.
    AwaitingAuthenticate {
        /// The socket.
        connection: ConnectionId,
        /// Reply deadline.
        deadline_ms: u64,
    },
    /// USE of the configured space written (after authenticate or on resume).
    AwaitingUseSpace {
        /// The socket.
        connection: ConnectionId,
        /// The session.
        session: SessionId,
        /// New or resumed.
        origin: ReadyOrigin,
        /// Reply deadline.
        deadline_ms: u64,
    },
    /// A probe with the real id written (keepalive, or resume check).
    AwaitingProbe {
        /// The socket.
        connection: ConnectionId,
        /// The session.
        session: SessionId,
        /// Which probe.
        probe: Probe,
        /// Reply deadline.
        deadline_ms: u64,
    },
    /// A session usable on an idle socket.
    Ready {
        /// The socket.
        connection: ConnectionId,
        /// The session.
        session: SessionId,
    },
    /// A user request written; waiting for its reply.
    AwaitingReply {
        /// The socket.
        connection: ConnectionId,
        /// The session.
        session: SessionId,
        /// The request.
        request: QueuedRequest,
        /// Reply deadline.
        deadline_ms: u64,
    },
    /// `close` was called (or the machine gave up): delivering sign-outs until done or `deadline_ms`.
    Closing {
        /// Where the close stands.
        phase: Closing,
        /// When the close ends whatever is left (`close_flush_timeout_ms` after it began).
        deadline_ms: u64,
    },
    /// Terminal.
    Closed,
}

impl State {
    /// The live socket, if the state has one.
    #[must_use]
    pub fn connection(&self) -> Option<ConnectionId> {
        match self {
            State::AwaitingConnect { connection, .. }
            | State::AwaitingSignOutProof { connection, .. }
            | State::AwaitingAuthenticate { connection, .. }
            | State::AwaitingUseSpace { connection, .. }
            | State::AwaitingProbe { connection, .. }
            | State::Ready { connection, .. }
            | State::AwaitingReply { connection, .. } => Some(*connection),
            State::Closing { phase, .. } => match phase {
                Closing::Draining { connection, .. }
                | Closing::AwaitingConnect { connection, .. }
                | Closing::AwaitingSignOutProof { connection, .. } => Some(*connection),
                Closing::AwaitingRetry { .. } => None,
            },
            State::AwaitingOpen | State::AwaitingReconnect { .. } | State::Closed => None,
        }
    }

    /// The session the state holds for the user, confirmed or not.
    #[must_use]
    pub fn held_session(&self) -> Option<SessionId> {
        match self {
            State::AwaitingReconnect { held, .. } | State::AwaitingConnect { held, .. } => *held,
            State::AwaitingSignOutProof { then, .. } => then.session(),
            State::AwaitingUseSpace { session, .. }
            | State::AwaitingProbe { session, .. }
            | State::Ready { session, .. }
            | State::AwaitingReply { session, .. } => Some(*session),
            State::AwaitingOpen
            | State::AwaitingAuthenticate { .. }
            | State::Closing { .. }
            | State::Closed => None,
        }
    }

    /// The deadline of the network step the state waits on (or its retry time).
    #[must_use]
    pub fn step_deadline_ms(&self) -> Option<u64> {
        match self {
            State::AwaitingReconnect { retry_at_ms, .. } => Some(*retry_at_ms),
            State::AwaitingConnect { deadline_ms, .. }
            | State::AwaitingSignOutProof { deadline_ms, .. }
            | State::AwaitingAuthenticate { deadline_ms, .. }
            | State::AwaitingUseSpace { deadline_ms, .. }
            | State::AwaitingProbe { deadline_ms, .. }
            | State::AwaitingReply { deadline_ms, .. } => Some(*deadline_ms),
            State::Closing { phase, deadline_ms } => {
                let step = match phase {
                    Closing::Draining { reply_deadline_ms, .. } => *reply_deadline_ms,
                    Closing::AwaitingConnect { connect_deadline_ms, .. } => *connect_deadline_ms,
                    Closing::AwaitingSignOutProof { proof_deadline_ms, .. } => *proof_deadline_ms,
                    Closing::AwaitingRetry { retry_at_ms } => *retry_at_ms,
                };
                Some(step.min(*deadline_ms))
            }
            State::AwaitingOpen | State::Ready { .. } | State::Closed => None,
        }
    }

    /// Whether the machine is open for work: opened, not closing, not closed.
    #[must_use]
    pub fn is_open(&self) -> bool {
        !matches!(self, State::AwaitingOpen | State::Closing { .. } | State::Closed)
    }

    /// Whether a user request is awaiting its reply.
    #[must_use]
    pub fn has_request_in_flight(&self) -> bool {
        matches!(
            self,
            State::AwaitingReply { .. }
                | State::Closing {
                    phase: Closing::Draining { in_flight: InFlight::Request { .. }, .. },
                    ..
                }
        )
    }
}
