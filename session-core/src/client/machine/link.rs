//! The socket's side of the machine: dialling, the next step on an idle socket, and losing a socket.
//!
//! Every idle socket goes through [`SessionMachine::on_link_idle`], which decides in one place, in
//! priority order: deliver due sign-outs (they free budget and cost one round trip), then establish
//! the session (authenticate, or resume / replace the one held before the socket was lost), then serve
//! the queue, then keep the session alive. Nothing is sent without the session's ledger entry being
//! `Held`, and nothing with a session id the server's idle timeout may have ended.

use super::SessionMachine;
use crate::client::action::{ConnectionId, Event, ReadyOrigin};
use crate::client::config::{InvalidSessionPolicy, ReconnectPolicy};
use crate::client::error::{SessionError, TransportError};
use crate::client::ledger::SessionStatus;
use crate::client::outbox::Pace;
use crate::client::queue::{QueuedRequest, RequestKind};
use crate::client::state::{Held, Probe, State, Wait};
use crate::client::timers::{after, backoff_ms, earliest};
use crate::client::wire::{PROBE_STATEMENT, Request, use_statement};
use graphsession_id_gen::SessionId;

/// What a machine reports when a lost link is one failure too many.
pub(super) enum GiveUp {
    /// The transport kept failing: `RetriesExhausted` with every failure counted, the last one
    /// included (so it is built only once that one is counted).
    Retries,
    /// This error ended the attempts (a refused authentication).
    With(SessionError),
}

impl SessionMachine {
    /// Dials a new socket for `held`.
    pub(super) fn dial(&mut self, now: u64, held: Option<SessionId>, down_since_ms: u64) {
        let connection = self.new_connection();
        let deadline_ms = after(now, self.config.connect_timeout_ms);
        self.state = State::AwaitingConnect { connection, deadline_ms, held, down_since_ms };
    }

    pub(super) fn on_connected(&mut self, now: u64, connection: ConnectionId) {
        match self.take_state() {
            State::AwaitingConnect { held, .. } => {
                let held = held.map_or(Held::Nothing, Held::Unconfirmed);
                self.on_link_idle(now, connection, held);
            }
            State::Closing {
                phase: crate::client::state::Closing::AwaitingConnect { .. },
                deadline_ms,
            } => self.closing_link_idle(now, connection, deadline_ms),
            // A duplicate `Connected` for a socket already in use changes nothing.
            other => self.state = other,
        }
    }

    /// The one place that decides what an idle socket does next.
    pub(super) fn on_link_idle(&mut self, now: u64, connection: ConnectionId, held: Held) {
        if self.outbox.has_sendable(now, Pace::Due) {
            self.send_sign_outs(now, connection, Pace::Due);
            let deadline_ms = after(now, self.config.probe_timeout_ms);
            self.state = State::AwaitingSignOutProof { connection, deadline_ms, then: held };
            return;
        }
        match held {
            Held::Nothing => self.authenticate(now, connection),
            Held::Unconfirmed(session) => self.resume_or_replace(now, connection, session),
            Held::Confirmed(session) => self.serve(now, connection, session),
        }
    }

    /// Writes the sendable sign-outs, then a ping whose reply will prove they were read.
    pub(super) fn send_sign_outs(&mut self, now: u64, connection: ConnectionId, pace: Pace) {
        for session in self.outbox.mark_sent(now, connection, pace) {
            self.ledger.set_status(session, SessionStatus::SignOutSent { connection });
            self.send(connection, Request::SignOut { session_id: session });
            self.counters.sign_outs_sent = self.counters.sign_outs_sent.saturating_add(1);
        }
        self.send(connection, Request::ping());
    }

    fn authenticate(&mut self, now: u64, connection: ConnectionId) {
        if let Err(over) = self.budget.admit(self.ledger.budget_count()) {
            // Not a failure: wait, without a socket, until something can free budget (a sign-out
            // coming due, or a session or unknown authenticate certainly expiring).
            self.counters.budget_refusals = self.counters.budget_refusals.saturating_add(1);
            self.close_socket(connection);
            let frees_at_ms =
                earliest([self.outbox.next_due_ms(), self.ledger.next_expiry_ms(|_| true)])
                    .unwrap_or(after(now, self.config.reconnect_backoff_max_ms));
            let retry_at_ms = frees_at_ms.max(after(now, self.config.reconnect_backoff_initial_ms));
            let wait = Wait::BudgetExhausted;
            self.state =
                State::AwaitingReconnect { retry_at_ms, held: None, down_since_ms: now, wait };
            self.emit(Event::BudgetExhausted { count: over.count, max: over.max, retry_at_ms });
            return;
        }
        let request = Request::Authenticate {
            user: self.config.user.clone(),
            password: self.config.password.clone(),
        };
        self.send(connection, request);
        let deadline_ms = after(now, self.config.authenticate_timeout_ms);
        self.state = State::AwaitingAuthenticate { connection, deadline_ms };
    }

    fn resume_or_replace(&mut self, now: u64, connection: ConnectionId, session: SessionId) {
        if self.ledger.certainly_expired(now, session) {
            self.lose_expired(session);
            return self.on_link_idle(now, connection, Held::Nothing);
        }
        match self.config.reconnect_policy {
            ReconnectPolicy::Resume => {
                self.check_session(now, connection, session, ReadyOrigin::Resumed)
            }
            ReconnectPolicy::Replace => {
                self.queue_sign_out(now, session);
                self.on_link_idle(now, connection, Held::Nothing);
            }
        }
    }

    /// Confirms `session` on this socket: USE of the space, or (resume without a space) a probe.
    pub(super) fn check_session(
        &mut self,
        now: u64,
        connection: ConnectionId,
        session: SessionId,
        origin: ReadyOrigin,
    ) {
        match (self.space.clone(), origin) {
            (Some(space), _) => {
                self.ledger.touch(session, now);
                self.send(connection, execute(session, use_statement(&space)));
                let deadline_ms = after(now, self.config.use_space_timeout_ms);
                self.state = State::AwaitingUseSpace { connection, session, origin, deadline_ms };
            }
            (None, ReadyOrigin::Resumed) => self.probe(now, connection, session, Probe::Resume),
            (None, ReadyOrigin::Created) => self.become_ready(now, connection, session, origin),
        }
    }

    pub(super) fn become_ready(
        &mut self,
        now: u64,
        connection: ConnectionId,
        session: SessionId,
        origin: ReadyOrigin,
    ) {
        self.failures = 0;
        if origin == ReadyOrigin::Resumed {
            self.counters.sessions_resumed = self.counters.sessions_resumed.saturating_add(1);
        }
        self.emit(Event::Ready { session_id: session, origin });
        self.on_link_idle(now, connection, Held::Confirmed(session));
    }

    /// A confirmed session on an idle socket: validate, then the queue, then keepalive.
    fn serve(&mut self, now: u64, connection: ConnectionId, session: SessionId) {
        if self.ledger.certainly_expired(now, session) {
            // Validation before run: an id the server has certainly reclaimed is never used.
            self.lose_expired(session);
            return self.after_loss(now, connection, None);
        }
        if let Some(request) = self.queue.pop_front() {
            return self.send_request(now, connection, session, request);
        }
        if self.keepalive_at_ms(session).is_some_and(|at_ms| at_ms <= now) {
            return self.probe(now, connection, session, Probe::Keepalive);
        }
        self.state = State::Ready { connection, session };
    }

    fn probe(&mut self, now: u64, connection: ConnectionId, session: SessionId, probe: Probe) {
        self.ledger.touch(session, now);
        self.send(connection, execute(session, PROBE_STATEMENT.to_owned()));
        let deadline_ms = after(now, self.config.probe_timeout_ms);
        self.state = State::AwaitingProbe { connection, session, probe, deadline_ms };
    }

    fn send_request(
        &mut self,
        now: u64,
        connection: ConnectionId,
        session: SessionId,
        mut request: QueuedRequest,
    ) {
        let (statement, timeout_ms) = match &request.kind {
            RequestKind::Execute { statement, .. } => {
                (statement.clone(), self.config.execute_timeout_ms)
            }
            RequestKind::Ping => (PROBE_STATEMENT.to_owned(), self.config.probe_timeout_ms),
            RequestKind::UseSpace { space } => {
                (use_statement(space), self.config.use_space_timeout_ms)
            }
        };
        if request.attempts > 0 {
            self.counters.reruns = self.counters.reruns.saturating_add(1);
        }
        request.attempts = request.attempts.saturating_add(1);
        self.ledger.touch(session, now);
        self.send(connection, execute(session, statement));
        let deadline_ms = after(now, timeout_ms);
        self.state = State::AwaitingReply { connection, session, request, deadline_ms };
    }

    /// The held session is gone and the socket is idle: replace it, or close, per policy.
    /// `give_up` is set when the loss happened while establishing and counts as a failure.
    pub(super) fn after_loss(
        &mut self,
        now: u64,
        connection: ConnectionId,
        give_up: Option<SessionError>,
    ) {
        if let Some(error) = give_up {
            if self.count_failure() {
                self.emit(Event::OpenFailed { error });
                return self.close_on_idle_link(now, connection, None);
            }
        }
        match self.config.invalid_session_policy {
            InvalidSessionPolicy::Replace => self.on_link_idle(now, connection, Held::Nothing),
            InvalidSessionPolicy::Close => self.close_on_idle_link(now, connection, None),
        }
    }

    /// The socket failed (or its deadline passed): discard it, account for what was in flight, and
    /// wait to reconnect holding the same session.
    pub(super) fn on_link_failure(&mut self, now: u64, cause: TransportError) {
        let held = match self.take_state() {
            State::AwaitingConnect { connection, held, down_since_ms, .. } => {
                self.close_socket(connection);
                self.lose_link(now, held, down_since_ms, Wait::Transport(cause), GiveUp::Retries);
                return;
            }
            State::AwaitingSignOutProof { connection, then, .. } => {
                self.close_socket(connection);
                self.requeue_sign_outs(now, connection);
                then.session()
            }
            State::AwaitingAuthenticate { connection, .. } => {
                self.close_socket(connection);
                self.authenticate_lost(now, connection);
                None
            }
            State::AwaitingUseSpace { connection, session, .. }
            | State::AwaitingProbe { connection, session, .. } => {
                // The request may still reach the server: its idle timer may restart until now.
                self.close_socket(connection);
                self.ledger.touch(session, now);
                Some(session)
            }
            State::Ready { connection, session } => {
                self.close_socket(connection);
                Some(session)
            }
            State::AwaitingReply { connection, session, request, .. } => {
                self.close_socket(connection);
                self.ledger.touch(session, now);
                self.reply_lost(request, cause);
                Some(session)
            }
            State::Closing { phase, deadline_ms } => {
                return self.closing_link_failure(now, phase, deadline_ms);
            }
            other @ (State::AwaitingOpen | State::AwaitingReconnect { .. } | State::Closed) => {
                self.state = other;
                return;
            }
        };
        self.lose_link(now, held, now, Wait::Transport(cause), GiveUp::Retries);
    }

    /// A request's reply was lost: re-queue it if re-sending is harmless and allowed, otherwise
    /// report the unknown outcome.
    fn reply_lost(&mut self, request: QueuedRequest, cause: TransportError) {
        let harmless = match &request.kind {
            RequestKind::Execute { idempotency, .. } => {
                *idempotency == crate::client::action::Idempotency::Idempotent
            }
            RequestKind::Ping | RequestKind::UseSpace { .. } => true,
        };
        if harmless && request.attempts < self.config.execute_attempts_max {
            self.queue.push_front(request);
            return;
        }
        self.report_outcome_unknown(request.id, cause);
    }

    /// Counts a failure and waits to reconnect; if too many failures, gives up with `give_up` and
    /// closes. Returns when the machine dials again, `None` if it gave up.
    pub(super) fn lose_link(
        &mut self,
        now: u64,
        held: Option<SessionId>,
        down_since_ms: u64,
        wait: Wait,
        give_up: GiveUp,
    ) -> Option<u64> {
        if self.count_failure() {
            let error = match give_up {
                GiveUp::Retries => SessionError::RetriesExhausted { failures: self.failures },
                GiveUp::With(error) => error,
            };
            self.emit(Event::OpenFailed { error });
            self.close_without_link(now, held);
            return None;
        }
        let attempt = self.failures.saturating_sub(1);
        let config = &self.config;
        let mut delay_ms = backoff_ms(
            config.reconnect_backoff_initial_ms,
            config.reconnect_backoff_max_ms,
            attempt,
        );
        if wait == Wait::AuthenticateRefused {
            delay_ms = delay_ms.max(config.authenticate_refused_backoff_ms);
        }
        let retry_at_ms = after(now, delay_ms);
        self.state = State::AwaitingReconnect { retry_at_ms, held, down_since_ms, wait };
        Some(retry_at_ms)
    }

    /// Counts a consecutive failure; true when `failures_max` is exceeded.
    pub(super) fn count_failure(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.failures > self.config.failures_max
    }
}

/// An execute in `session`.
fn execute(session: SessionId, statement: String) -> Request {
    Request::Execute { session_id: session.get(), statement }
}
