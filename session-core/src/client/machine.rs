//! The connection/session machine: one user's session on one graph node, over one socket at a time.
//!
//! The public API is here; the transitions live in the child modules, one concern each:
//! [`link`] (dialling, the idle socket's next step, losing the socket), [`replies`] (what each reply
//! means in each state), [`closing`] (close and forced clean-up), [`housekeeping`] (deadlines,
//! expiry, zombie check), [`bookkeeping`] (ledger and outbox updates) and [`invariants`].

mod bookkeeping;
mod closing;
#[cfg(feature = "corruption")]
pub(crate) mod corrupt;
mod housekeeping;
mod invariants;
mod link;
mod replies;

use crate::client::action::{Action, ConnectionId, Event, Idempotency, RequestId, TransportEvent};
use crate::client::budget::Budget;
use crate::client::config::ClientConfig;
use crate::client::error::{CommandError, ConfigError, TransportError};
use crate::client::ledger::{Ledger, SessionStatus};
use crate::client::metrics::{Counters, Metrics};
use crate::client::outbox::Outbox;
use crate::client::queue::{QueuedRequest, RequestKind, RequestQueue};
use crate::client::state::State;
use crate::client::timers::{after, earliest};
use crate::client::wire::{Request, is_valid_space_name};
use graphsession_base::{MonotonicClock, Violation};
use graphsession_id_gen::SessionId;
use std::collections::VecDeque;

pub(crate) use closing::CloseMode;

/// A sans-I/O NebulaGraph client session: it never leaks a session and never keeps a zombie.
///
/// The machine owns no socket, thread or clock. The host feeds it inputs and carries out what it asks:
///
/// 1. Call a `handle_*` method with the current time of a monotonic clock in milliseconds: a user
///    command ([`open`](Self::open), [`execute`](Self::execute),
///    [`ping`](Self::ping), [`use_space`](Self::use_space),
///    [`close`](Self::close), [`force_close`](Self::force_close)), a
///    transport event ([`handle_transport`](Self::handle_transport)), or a timer
///    ([`handle_timeout`](Self::handle_timeout)).
/// 2. Drain [`poll_action`](Self::poll_action) until `None` and carry out each [`Action`] in order
///    (dial, write, close a socket), reporting results back through `handle_transport`.
/// 3. Drain [`poll_event`](Self::poll_event) until `None` and give each [`Event`] to the application.
/// 4. Arm one timer at [`poll_timeout`](Self::poll_timeout); when it fires, call `handle_timeout`.
///
/// A spurious `handle_timeout` is a no-op; a `now` older than one already seen is clamped to it. The
/// machine is deterministic: the same inputs give the same actions and events.
#[derive(Debug, Clone)]
pub struct SessionMachine {
    config: ClientConfig,
    /// The newest `now` seen, host milliseconds: an older `now` is clamped to it, so deadlines
    /// already passed stay passed and durations never underflow.
    clock: MonotonicClock,
    state: State,
    ledger: Ledger,
    outbox: Outbox,
    queue: RequestQueue,
    budget: Budget,
    counters: Counters,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    connection_prefix: u32,
    connection_seq: u32,
    dials: u64,
    next_request: u64,
    zombie_check_at_ms: Option<u64>,
    /// Consecutive failures since a session was last ready.
    failures: u32,
    /// The space selected last (the configured one until a successful USE changes it).
    space: Option<String>,
    /// Whether the `Closed` event was emitted (it is, exactly when the state is `Closed`).
    closed_reported: bool,
}

impl SessionMachine {
    /// A machine for `config`, not yet open.
    pub fn new(config: ClientConfig) -> Result<SessionMachine, ConfigError> {
        SessionMachine::with_connection_prefix(config, 0)
    }

    /// A machine whose connection ids are `prefix << 32 | n`, so that several machines (a pool's
    /// members) can share one host without their sockets' ids colliding.
    pub fn with_connection_prefix(
        config: ClientConfig,
        prefix: u32,
    ) -> Result<SessionMachine, ConfigError> {
        config.validate()?;
        let expiry_after_ms = config.server_idle_timeout_ms.saturating_add(config.expiry_margin_ms);
        Ok(SessionMachine {
            ledger: Ledger::new(expiry_after_ms),
            outbox: Outbox::new(
                config.sign_out_outbox_max,
                config.sign_out_retry_backoff_initial_ms,
                config.sign_out_retry_backoff_max_ms,
            ),
            budget: Budget::new(&config),
            space: config.space.clone(),
            config,
            clock: MonotonicClock::default(),
            state: State::AwaitingOpen,
            queue: RequestQueue::default(),
            counters: Counters::default(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            connection_prefix: prefix,
            connection_seq: 0,
            dials: 0,
            next_request: 1,
            zombie_check_at_ms: None,
            failures: 0,
            closed_reported: false,
        })
    }

    /// Opens: dials, authenticates, selects the space. Idempotent while open; `Closed` after close.
    pub fn open(&mut self, now_ms: u64) -> Result<(), CommandError> {
        let now = self.clock.observe(now_ms);
        match self.state {
            State::AwaitingOpen => {
                self.zombie_check_at_ms = Some(after(now, self.config.zombie_check_interval_ms));
                self.dial(now, None, now);
                Ok(())
            }
            State::Closing { .. } | State::Closed => Err(CommandError::Closed),
            _ => Ok(()),
        }
    }

    /// Queues `statement`; it is sent only on a ready session, and re-sent only if it certainly did
    /// not run or is `Idempotent`. The result comes as [`Event::Result`] or [`Event::Failed`].
    pub fn execute(
        &mut self,
        now_ms: u64,
        statement: impl Into<String>,
        idempotency: Idempotency,
    ) -> Result<RequestId, CommandError> {
        let kind = RequestKind::Execute { statement: statement.into(), idempotency };
        self.accept(now_ms, kind)
    }

    /// Queues a ping with the real session id: [`Event::PingAnswered`] says whether the server still
    /// knows the session; if not, the machine replaces it.
    pub fn ping(&mut self, now_ms: u64) -> Result<RequestId, CommandError> {
        self.accept(now_ms, RequestKind::Ping)
    }

    /// Queues a USE of `space`; once it succeeds, resumes select this space.
    pub fn use_space(
        &mut self,
        now_ms: u64,
        space: impl Into<String>,
    ) -> Result<RequestId, CommandError> {
        let space = space.into();
        if !is_valid_space_name(&space) {
            return Err(CommandError::InvalidSpaceName { space });
        }
        self.accept(now_ms, RequestKind::UseSpace { space })
    }

    /// Closes, whatever the transport state: cancels queued requests, reconnects and timers, waits
    /// for the reply in flight, delivers every pending sign-out (dialling if needed) until
    /// `close_flush_timeout_ms`, then emits [`Event::Closed`]. Idempotent; nothing logs in after it.
    pub fn close(&mut self, now_ms: u64) {
        let now = self.clock.observe(now_ms);
        self.begin_close(now, CloseMode::Graceful);
    }

    /// Forced clean-up: like [`close`](Self::close), but discards the socket at once
    /// (a request in flight is reported with an unknown outcome) and delivers the sign-outs on a
    /// fresh socket. Also cuts short a graceful close that is still waiting for a reply.
    pub fn force_close(&mut self, now_ms: u64) {
        let now = self.clock.observe(now_ms);
        self.begin_close(now, CloseMode::Forced);
    }

    /// A transport event about `connection`. Events about any socket but the current one are stale
    /// and ignored.
    pub fn handle_transport(
        &mut self,
        now_ms: u64,
        connection: ConnectionId,
        event: TransportEvent,
    ) {
        let now = self.clock.observe(now_ms);
        if self.state.connection() != Some(connection) {
            return;
        }
        match event {
            TransportEvent::Connected => self.on_connected(now, connection),
            TransportEvent::Response(response) => self.on_response(now, connection, response),
            TransportEvent::ConnectFailed => {
                self.on_link_failure(now, TransportError::ConnectFailed)
            }
            TransportEvent::Closed => self.on_link_failure(now, TransportError::Closed),
            TransportEvent::TimedOut => self.on_link_failure(now, TransportError::TimedOut),
        }
        self.advance(now);
    }

    /// Fires every deadline due at `now_ms`. A no-op if none is due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let now = self.clock.observe(now_ms);
        self.on_timeout(now);
        self.advance(now);
    }

    /// The earliest deadline, host milliseconds; `None` when nothing will happen without an input.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        if matches!(self.state, State::AwaitingOpen | State::Closed) {
            return None;
        }
        let ready_session = match self.state {
            State::Ready { session, .. } => Some(session),
            _ => None,
        };
        let keepalive_at_ms = ready_session.and_then(|session| self.keepalive_at_ms(session));
        let outbox_due_ms = ready_session.and_then(|_| self.outbox.next_due_ms());
        earliest([
            self.state.step_deadline_ms(),
            self.zombie_check_at_ms,
            self.queue.next_deadline_ms(),
            self.next_expiry_ms(),
            keepalive_at_ms,
            outbox_due_ms,
        ])
    }

    /// The next action for the host, in order.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the application, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The ledger of every session id owned.
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The local budget.
    #[must_use]
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The session usable now (ready on an idle socket), if any.
    #[must_use]
    pub fn session_id(&self) -> Option<SessionId> {
        match self.state {
            State::Ready { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Whether the machine is closed (terminal).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The newest time seen, host milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.clock.newest()
    }

    /// A snapshot of the metrics.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        let departures = self.ledger.departures();
        let counters = self.counters;
        Metrics {
            sessions_live: self.ledger.count_with(|status| status == SessionStatus::Held),
            sessions_pending_sign_out: self.ledger.count_with(|status| {
                matches!(
                    status,
                    SessionStatus::SignOutPending
                        | SessionStatus::SignOutSent { .. }
                        | SessionStatus::SignOutOverflow
                )
            }),
            sessions_unknown: self.ledger.phantom_count(),
            sessions_created: counters.sessions_created,
            sessions_resumed: counters.sessions_resumed,
            sessions_signed_out: departures.signed_out,
            sessions_invalidated: departures.invalidated,
            sessions_expired: departures.expired,
            sessions_zombie: counters.zombies,
            sessions_leaked: counters.sign_outs_abandoned,
            sign_outs_sent: counters.sign_outs_sent,
            sign_out_overflows: counters.sign_out_overflows,
            authenticate_outcome_unknown: counters.authenticate_outcome_unknown,
            authenticate_refused: counters.authenticate_refused,
            budget_refusals: counters.budget_refusals,
            outcome_unknown: counters.outcome_unknown,
            reruns: counters.reruns,
            reconnects: counters.reconnects,
            session_ids_owned: self.ledger.ids(),
        }
    }

    /// Checks every internal invariant; tests and simulators call it after every step.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        invariants::check(self)
    }

    /// Accepts a user request into the queue (bounded, counting the one in flight).
    fn accept(&mut self, now_ms: u64, kind: RequestKind) -> Result<RequestId, CommandError> {
        let now = self.clock.observe(now_ms);
        match self.state {
            State::AwaitingOpen => return Err(CommandError::NotOpen),
            State::Closing { .. } | State::Closed => return Err(CommandError::Closed),
            _ => {}
        }
        let in_flight = u32::from(self.state.has_request_in_flight());
        let max = self.config.execute_queue_max;
        if self.queue.len().saturating_add(in_flight) >= max {
            return Err(CommandError::QueueFull { max });
        }
        let id = RequestId(self.next_request);
        self.next_request = self.next_request.saturating_add(1);
        let deadline_ms = after(now, self.config.execute_queue_timeout_ms);
        self.queue.push_back(QueuedRequest { id, kind, attempts: 0, deadline_ms });
        self.advance(now);
        Ok(id)
    }

    /// Moves the machine on after any input: an idle ready socket takes its next step, a due
    /// reconnect dials.
    fn advance(&mut self, now: u64) {
        match self.state {
            State::Ready { connection, session } => {
                self.on_link_idle(now, connection, crate::client::state::Held::Confirmed(session));
            }
            State::AwaitingReconnect { retry_at_ms, held, down_since_ms, .. }
                if retry_at_ms <= now =>
            {
                self.dial(now, held, down_since_ms);
            }
            State::Closing {
                phase: crate::client::state::Closing::AwaitingRetry { retry_at_ms },
                deadline_ms,
            } if retry_at_ms <= now => self.closing_dial(now, deadline_ms),
            _ => {}
        }
    }

    /// When an idle session needs a keepalive.
    fn keepalive_at_ms(&self, session: SessionId) -> Option<u64> {
        let entry = self.ledger.get(session)?;
        Some(after(entry.last_activity_ms, self.config.keepalive_interval_ms))
    }

    // Small emitters shared by the child modules.

    fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    fn send(&mut self, connection: ConnectionId, request: Request) {
        self.actions.push_back(Action::Send { connection, request });
    }

    fn close_socket(&mut self, connection: ConnectionId) {
        self.actions.push_back(Action::CloseSocket { connection });
    }

    /// Names a new socket and asks the host to dial it.
    fn new_connection(&mut self) -> ConnectionId {
        self.connection_seq = self.connection_seq.wrapping_add(1);
        let connection =
            ConnectionId(u64::from(self.connection_prefix) << 32 | u64::from(self.connection_seq));
        if self.dials > 0 {
            self.counters.reconnects = self.counters.reconnects.saturating_add(1);
        }
        self.dials = self.dials.saturating_add(1);
        self.actions.push_back(Action::Dial { connection });
        connection
    }

    /// Takes the state out to transition on it; every caller sets a new one.
    fn take_state(&mut self) -> State {
        std::mem::replace(&mut self.state, State::Closed)
    }
}
