//! The client-side session lifecycle, sans-I/O: a machine that never leaks a session and never keeps a
//! zombie, and a session pool on top of it.
//!
//! NebulaGraph keeps sessions in its meta store, not in sockets: closing a socket frees nothing, a
//! forgotten session lives for the idle timeout (8 hours by default), sign-out has no reply, and the
//! server never says a session died until the next request. Every public NebulaGraph client leaks or
//! keeps dead sessions somewhere in that gap. Here:
//!
//! - [`SessionMachine`]: one user's session on one graph node. Typed [`State`]s for every phase; a
//!   [`Ledger`] that an id leaves only on a proven sign-out, a -1002, or certain expiry; a bounded
//!   sign-out outbox retried with backoff across reconnects and flushed on close; close that is
//!   idempotent and terminal in every state; reconnect that resumes or replaces-and-signs-out;
//!   outcome-aware retry; pings, keepalives and a zombie check as timers; a deadline on every
//!   phase; a local [`Budget`] per (user, ip, node); [`Metrics`].
//! - [`SessionPool`]: min/max sessions with exact accounting, FIFO waiters with deadlines, eviction
//!   that signs out, generation-tokened [`Handle`]s, and leak detection for dropped handles.
//!
//! Both take time as `now_ms` (the host's monotonic clock, milliseconds), and give back [`Action`]s
//! (dial, send a [`Request`], close a socket) and [`Event`]s; timers are one deadline from
//! `poll_timeout`. No socket, thread or clock inside: the same inputs give the same outputs.
//!
//! # A host loop
//!
//! The host owns the socket and the timer. This one runs against a scripted "server" so that the
//! example is complete; a real host would write to a socket and read replies from it.
//!
//! ```
//! use graphsession_core::client::{
//!     Action, ClientConfig, Event, Idempotency, Request, Response, SessionMachine, TransportEvent,
//! };
//!
//! let config = ClientConfig { user: "alice".into(), password: "secret".into(), ..Default::default() };
//! let mut machine = SessionMachine::new(config)?;
//! let mut now_ms = 0_u64;
//! machine.open(now_ms)?;
//! let request = machine.execute(now_ms, "MATCH (v) RETURN v LIMIT 1", Idempotency::Idempotent)?;
//!
//! let mut results = Vec::new();
//! for _round in 0..20 {
//!     // 1. Carry out every action, feeding what the transport reports straight back.
//!     while let Some(action) = machine.poll_action() {
//!         match action {
//!             Action::Dial { connection } => {
//!                 machine.handle_transport(now_ms, connection, TransportEvent::Connected)
//!             }
//!             Action::Send { connection, request } => {
//!                 let reply = match request {
//!                     Request::Authenticate { .. } => Some(Response::AuthenticateOk { session_id: 7 }),
//!                     Request::Execute { session_id: 0, .. } => Some(Response::ExecuteErr {
//!                         code: -1002,
//!                         message: "Invalid session id".into(),
//!                     }),
//!                     Request::Execute { .. } => Some(Response::ExecuteOk { result: "v1".into() }),
//!                     Request::SignOut { .. } => None, // one-way
//!                 };
//!                 if let Some(reply) = reply {
//!                     machine.handle_transport(now_ms, connection, TransportEvent::Response(reply));
//!                 }
//!             }
//!             Action::CloseSocket { .. } => {} // drop the socket
//!         }
//!     }
//!     // 2. Hand events to the application.
//!     while let Some(event) = machine.poll_event() {
//!         if let Event::Result { request: id, result } = event {
//!             results.push((id, result));
//!             machine.close(now_ms);
//!         }
//!     }
//!     // 3. Sleep until the next deadline, then fire it.
//!     match machine.poll_timeout() {
//!         Some(deadline_ms) => {
//!             now_ms = now_ms.max(deadline_ms);
//!             machine.handle_timeout(now_ms);
//!         }
//!         None => break,
//!     }
//! }
//! assert_eq!(results, vec![(request, "v1".to_owned())]);
//! assert!(machine.is_closed());
//! // Session 7 was signed out, and the sign-out proven by the ping that followed it.
//! assert_eq!(machine.metrics().sessions_signed_out, 1);
//! assert!(machine.ledger().is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod action;
mod budget;
mod config;
mod error;
mod ledger;
mod machine;
mod metrics;
mod outbox;
mod pool;
mod queue;
mod state;
mod timers;
mod wire;

pub use action::{
    Action, ConnectionId, Event, Idempotency, LossReason, PingOutcome, ReadyOrigin, RequestId,
    TransportEvent, ZombieKind,
};
pub use budget::{Budget, BudgetKey};
pub use config::{
    ClientConfig, InvalidSessionPolicy, PoolConfig, ReconnectPolicy,
    SERVER_SESSIONS_PER_USER_IP_MAX,
};
pub use error::{
    CommandError, ConfigError, OutcomeError, PoolError, RequestError, SessionError, TransportError,
};
pub use ledger::{Departure, DepartureCounts, Ledger, LedgerEntry, SessionStatus};
pub use machine::SessionMachine;
#[cfg(feature = "corruption")]
pub use machine::corrupt::ClientCorruption;
pub use metrics::Metrics;
pub use pool::{
    Acquire, Handle, LeaseId, MemberId, PoolEvent, PoolStats, Release, RetireReason, SessionPool,
    WaiterId,
};
pub use queue::{QueuedRequest, RequestKind};
pub use state::{Closing, Held, InFlight, Probe, State, Wait};
pub use wire::{
    E_BAD_USERNAME_PASSWORD, E_EXECUTION_ERROR, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS,
    PING_SESSION_ID, PROBE_STATEMENT, Request, Response, SPACE_NAME_BYTES_MAX,
};
