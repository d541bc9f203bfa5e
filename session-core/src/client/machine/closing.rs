//! Close and forced clean-up: terminal, idempotent, whatever the transport state.
//!
//! Close cancels the queue, the reconnect and the zombie timer at once, moves the held session to the
//! outbox, and then only delivers sign-outs: it may wait for the one reply already in flight (whose
//! result, or session id, must not be lost), dial a socket, write sign-outs and the ping that proves
//! them, and close sockets. It never authenticates, selects a space or executes with a session. At
//! `close_flush_timeout_ms` whatever is left is reported abandoned and stays in the ledger.

use super::SessionMachine;
use super::replies::{Rerun, Verdict};
use crate::client::action::{ConnectionId, Event};
use crate::client::error::{RequestError, TransportError};
use crate::client::ledger::SessionStatus;
use crate::client::outbox::Pace;
use crate::client::state::{Closing, InFlight, State};
use crate::client::timers::after;
use crate::client::wire::{E_SESSION_INVALID, Response};
use graphsession_id_gen::SessionId;

/// How close treats a reply in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseMode {
    /// Wait for it (bounded by its deadline and the close deadline).
    Graceful,
    /// Discard the socket now; the request's outcome is unknown.
    Forced,
}

impl SessionMachine {
    pub(crate) fn begin_close(&mut self, now: u64, mode: CloseMode) {
        let deadline_ms = after(now, self.config.close_flush_timeout_ms);
        match self.take_state() {
            State::Closing { phase, deadline_ms } => {
                self.state = State::Closing { phase, deadline_ms };
                if mode == CloseMode::Forced {
                    self.cut_drain_short(now);
                }
            }
            State::Closed => self.state = State::Closed,
            state => {
                self.cancel_queued();
                self.zombie_check_at_ms = None;
                self.close_from(now, state, mode, deadline_ms);
            }
        }
    }

    fn close_from(&mut self, now: u64, state: State, mode: CloseMode, deadline_ms: u64) {
        if let Some(session) = state.held_session() {
            self.queue_sign_out(now, session);
        }
        match state {
            State::AwaitingOpen | State::AwaitingReconnect { .. } | State::Closed => {
                self.closing_without_link(now, deadline_ms);
            }
            State::AwaitingConnect { connection, deadline_ms: connect_deadline_ms, .. } => {
                self.promote_overflow(now);
                if self.outbox.is_empty() {
                    // Nothing to sign out: the dial is not needed.
                    self.close_socket(connection);
                    return self.finish_close();
                }
                let phase = Closing::AwaitingConnect { connection, connect_deadline_ms };
                self.state = State::Closing { phase, deadline_ms };
            }
            State::AwaitingSignOutProof { connection, deadline_ms: proof_deadline_ms, .. } => {
                let phase = Closing::AwaitingSignOutProof { connection, proof_deadline_ms };
                self.state = State::Closing { phase, deadline_ms };
            }
            State::Ready { connection, .. } => self.closing_link_idle(now, connection, deadline_ms),
            State::AwaitingAuthenticate { connection, deadline_ms: reply_deadline_ms } => {
                let in_flight = InFlight::Authenticate;
                self.drain(now, connection, in_flight, reply_deadline_ms, mode, deadline_ms);
            }
            State::AwaitingUseSpace {
                connection, session, deadline_ms: reply_deadline_ms, ..
            }
            | State::AwaitingProbe {
                connection, session, deadline_ms: reply_deadline_ms, ..
            } => {
                let in_flight = InFlight::SessionCheck { session };
                self.drain(now, connection, in_flight, reply_deadline_ms, mode, deadline_ms);
            }
            State::AwaitingReply { connection, session, request, deadline_ms: reply } => {
                let in_flight = InFlight::Request { session, request };
                self.drain(now, connection, in_flight, reply, mode, deadline_ms);
            }
            State::Closing { phase, deadline_ms } => {
                self.state = State::Closing { phase, deadline_ms }
            }
        }
    }

    fn drain(
        &mut self,
        now: u64,
        connection: ConnectionId,
        in_flight: InFlight,
        reply_deadline_ms: u64,
        mode: CloseMode,
        deadline_ms: u64,
    ) {
        match mode {
            CloseMode::Graceful => {
                // The reply may take as long as its own deadline, but the sign-outs need their
                // share of the close: after half of it the drain is cut short (a statement that
                // outlives the close must not cost its session's sign-out).
                let drain_max_ms = after(now, self.config.close_flush_timeout_ms / 2);
                let reply_deadline_ms = reply_deadline_ms.min(drain_max_ms);
                let phase = Closing::Draining { connection, in_flight, reply_deadline_ms };
                self.state = State::Closing { phase, deadline_ms };
            }
            CloseMode::Forced => {
                self.close_socket(connection);
                self.abandon_in_flight(now, connection, in_flight, TransportError::Closed);
                self.closing_without_link(now, deadline_ms);
            }
        }
    }

    /// A forced clean-up during a graceful close stops waiting for the reply in flight.
    fn cut_drain_short(&mut self, now: u64) {
        match self.take_state() {
            State::Closing {
                phase: Closing::Draining { connection, in_flight, .. },
                deadline_ms,
            } => {
                self.close_socket(connection);
                self.abandon_in_flight(now, connection, in_flight, TransportError::Closed);
                self.closing_without_link(now, deadline_ms);
            }
            other => self.state = other,
        }
    }

    fn abandon_in_flight(
        &mut self,
        now: u64,
        connection: ConnectionId,
        in_flight: InFlight,
        cause: TransportError,
    ) {
        match in_flight {
            InFlight::Authenticate => self.authenticate_lost(now, connection),
            InFlight::SessionCheck { session } => self.ledger.touch(session, now),
            InFlight::Request { session, request } => {
                self.ledger.touch(session, now);
                self.report_outcome_unknown(request.id, cause);
            }
        }
    }

    /// Fails every queued request: close cancels queued work.
    pub(super) fn cancel_queued(&mut self) {
        for request in self.queue.drain() {
            self.emit(Event::Failed { request: request.id, error: RequestError::Cancelled });
        }
    }

    /// Gives up on an idle socket: sign out what is held, then close.
    pub(super) fn close_on_idle_link(
        &mut self,
        now: u64,
        connection: ConnectionId,
        held: Option<SessionId>,
    ) {
        self.cancel_queued();
        self.zombie_check_at_ms = None;
        if let Some(session) = held {
            self.queue_sign_out(now, session);
        }
        let deadline_ms = after(now, self.config.close_flush_timeout_ms);
        self.closing_link_idle(now, connection, deadline_ms);
    }

    /// Gives up with no socket: sign out what is held (dialling), then close.
    pub(super) fn close_without_link(&mut self, now: u64, held: Option<SessionId>) {
        self.cancel_queued();
        self.zombie_check_at_ms = None;
        if let Some(session) = held {
            self.queue_sign_out(now, session);
        }
        let deadline_ms = after(now, self.config.close_flush_timeout_ms);
        self.closing_without_link(now, deadline_ms);
    }

    pub(super) fn closing_link_idle(
        &mut self,
        now: u64,
        connection: ConnectionId,
        deadline_ms: u64,
    ) {
        self.promote_overflow(now);
        if self.outbox.has_sendable(now, Pace::All) {
            self.send_sign_outs(now, connection, Pace::All);
            let proof_deadline_ms = after(now, self.config.probe_timeout_ms);
            let phase = Closing::AwaitingSignOutProof { connection, proof_deadline_ms };
            self.state = State::Closing { phase, deadline_ms };
            return;
        }
        self.close_socket(connection);
        self.finish_close();
    }

    fn closing_without_link(&mut self, now: u64, deadline_ms: u64) {
        self.promote_overflow(now);
        if self.outbox.is_empty() {
            return self.finish_close();
        }
        self.closing_dial(now, deadline_ms);
    }

    pub(super) fn closing_dial(&mut self, now: u64, deadline_ms: u64) {
        let connection = self.new_connection();
        let connect_deadline_ms = after(now, self.config.connect_timeout_ms);
        let phase = Closing::AwaitingConnect { connection, connect_deadline_ms };
        self.state = State::Closing { phase, deadline_ms };
    }

    /// The closing socket failed or timed out: try another one after a short delay.
    pub(super) fn closing_link_failure(&mut self, now: u64, phase: Closing, deadline_ms: u64) {
        match phase {
            Closing::Draining { connection, in_flight, .. } => {
                self.close_socket(connection);
                self.abandon_in_flight(now, connection, in_flight, TransportError::Closed);
            }
            Closing::AwaitingConnect { connection, .. } => self.close_socket(connection),
            Closing::AwaitingSignOutProof { connection, .. } => {
                self.close_socket(connection);
                self.requeue_sign_outs(now, connection);
            }
            Closing::AwaitingRetry { .. } => {}
        }
        self.promote_overflow(now);
        if self.outbox.is_empty() {
            return self.finish_close();
        }
        // Redial soon: the close deadline, not a backoff, bounds how long close keeps trying.
        let retry_at_ms = after(now, self.config.reconnect_backoff_initial_ms);
        self.state = State::Closing { phase: Closing::AwaitingRetry { retry_at_ms }, deadline_ms };
    }

    pub(super) fn closing_response(
        &mut self,
        now: u64,
        connection: ConnectionId,
        phase: Closing,
        deadline_ms: u64,
        response: Response,
    ) {
        match phase {
            Closing::Draining { in_flight, reply_deadline_ms, .. } => {
                if let Err(in_flight) = self.drained(now, in_flight, response) {
                    let phase = Closing::Draining { connection, in_flight, reply_deadline_ms };
                    return self.closing_link_failure(now, phase, deadline_ms);
                }
                self.closing_link_idle(now, connection, deadline_ms);
            }
            Closing::AwaitingSignOutProof { .. } => {
                self.confirm_sign_outs(now, connection);
                self.closing_link_idle(now, connection, deadline_ms);
            }
            phase @ (Closing::AwaitingConnect { .. } | Closing::AwaitingRetry { .. }) => {
                self.closing_link_failure(now, phase, deadline_ms);
            }
        }
    }

    /// Accounts for the reply to the request that was in flight at close. `Err` hands the request
    /// back when the reply does not answer it.
    fn drained(
        &mut self,
        now: u64,
        in_flight: InFlight,
        response: Response,
    ) -> Result<(), InFlight> {
        match (in_flight, response) {
            (InFlight::Authenticate, Response::AuthenticateOk { session_id }) => {
                let Some(session) = SessionId::from_wire(session_id) else {
                    return Err(InFlight::Authenticate);
                };
                // Created just as we closed: it goes straight to the outbox.
                self.ledger.insert_held(session, now);
                self.counters.sessions_created = self.counters.sessions_created.saturating_add(1);
                self.queue_sign_out(now, session);
                Ok(())
            }
            (InFlight::Authenticate, Response::AuthenticateErr { .. }) => Ok(()),
            (InFlight::SessionCheck { session }, Response::ExecuteErr { code, .. })
                if code == E_SESSION_INVALID =>
            {
                self.invalidate(session, crate::client::action::LossReason::InvalidOnProbe);
                Ok(())
            }
            (
                InFlight::SessionCheck { session },
                Response::ExecuteOk { .. } | Response::ExecuteErr { .. },
            ) => {
                self.ledger.touch(session, now);
                Ok(())
            }
            (InFlight::Request { session, request }, response) => {
                match self.settle_request(now, session, request, response, Rerun::Forbidden) {
                    Verdict::Done => Ok(()),
                    Verdict::SessionInvalid(reason) => {
                        self.invalidate(session, reason);
                        Ok(())
                    }
                    Verdict::Violation(request) => Err(InFlight::Request { session, request }),
                }
            }
            (in_flight, _) => Err(in_flight),
        }
    }

    /// The close deadline passed: discard the socket, account for what was in flight, and finish.
    pub(super) fn close_deadline_passed(&mut self, now: u64) {
        let State::Closing { phase, .. } = self.take_state() else { return };
        match phase {
            Closing::Draining { connection, in_flight, .. } => {
                self.close_socket(connection);
                self.abandon_in_flight(now, connection, in_flight, TransportError::ReplyTimedOut);
            }
            Closing::AwaitingConnect { connection, .. } => self.close_socket(connection),
            Closing::AwaitingSignOutProof { connection, .. } => {
                self.close_socket(connection);
                self.requeue_sign_outs(now, connection);
            }
            Closing::AwaitingRetry { .. } => {}
        }
        self.finish_close();
    }

    /// Terminal: whatever still awaits sign-out is abandoned (kept in the ledger, counted, reported).
    fn finish_close(&mut self) {
        self.outbox.drain();
        let abandoned: Vec<SessionId> = self
            .ledger
            .iter()
            .filter(|(_, entry)| entry.status != SessionStatus::Abandoned)
            .map(|(id, _)| id)
            .collect();
        for &session in &abandoned {
            self.ledger.set_status(session, SessionStatus::Abandoned);
        }
        let count = u64::try_from(abandoned.len()).unwrap_or(u64::MAX);
        self.counters.sign_outs_abandoned = self.counters.sign_outs_abandoned.saturating_add(count);
        self.zombie_check_at_ms = None;
        self.closed_reported = true;
        self.state = State::Closed;
        self.emit(Event::Closed { abandoned });
    }
}
