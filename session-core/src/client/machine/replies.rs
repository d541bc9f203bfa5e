//! What a reply means in each state. Replies carry no request id, so the state says which request
//! a reply answers; a reply that does not fit is a protocol violation and the socket is discarded.
//!
//! The error codes are handled precisely: -1002 on an execute means the session is gone and the
//! statement did not run (re-run it on a new session); -1002 or -1010 on authenticate means creation
//! was refused (back off, never loop); -1001 is permanent; every other code, -1005 included, is the
//! statement's own failure and says nothing about the session.

use super::SessionMachine;
use super::link::GiveUp;
use crate::client::action::{ConnectionId, Event, LossReason, PingOutcome, ReadyOrigin};
use crate::client::error::{RequestError, SessionError, TransportError};
use crate::client::queue::{QueuedRequest, RequestKind};
use crate::client::state::{Held, Probe, State, Wait};
use crate::client::wire::{
    E_BAD_USERNAME_PASSWORD, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS, Response,
};
use graphsession_id_gen::SessionId;

/// Whether a request that got -1002 may be re-sent on a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rerun {
    /// Normal operation: yes, up to `execute_attempts_max` sends.
    Allowed,
    /// Closing: nothing starts after close.
    Forbidden,
}

/// What a reply to a user request meant.
pub(super) enum Verdict {
    /// The request is finished (result or statement error reported).
    Done,
    /// -1002: the session is gone; the request was re-queued or failed.
    SessionInvalid(LossReason),
    /// The reply does not answer an execute; the request is handed back.
    Violation(QueuedRequest),
}

impl SessionMachine {
    pub(super) fn on_response(&mut self, now: u64, connection: ConnectionId, response: Response) {
        match self.take_state() {
            State::AwaitingSignOutProof { then, .. } => {
                // Any reply proves the server read every byte written before the ping.
                self.confirm_sign_outs(now, connection);
                self.on_link_idle(now, connection, then);
            }
            state @ State::AwaitingAuthenticate { .. } => {
                self.on_authenticate_reply(now, connection, state, response);
            }
            State::AwaitingUseSpace { session, origin, deadline_ms, .. } => {
                let state = State::AwaitingUseSpace { connection, session, origin, deadline_ms };
                self.on_use_space_reply(now, state, response);
            }
            State::AwaitingProbe { session, probe, deadline_ms, .. } => {
                let state = State::AwaitingProbe { connection, session, probe, deadline_ms };
                self.on_probe_reply(now, state, response);
            }
            State::AwaitingReply { session, request, deadline_ms, .. } => {
                match self.settle_request(now, session, request, response, Rerun::Allowed) {
                    Verdict::Done => self.on_link_idle(now, connection, Held::Confirmed(session)),
                    Verdict::SessionInvalid(reason) => {
                        self.invalidate(session, reason);
                        self.after_loss(now, connection, None);
                    }
                    Verdict::Violation(request) => {
                        self.state =
                            State::AwaitingReply { connection, session, request, deadline_ms };
                        self.on_link_failure(now, TransportError::ProtocolViolation);
                    }
                }
            }
            State::Closing { phase, deadline_ms } => {
                self.closing_response(now, connection, phase, deadline_ms, response);
            }
            // A reply with nothing in flight (or before the socket connected).
            state @ (State::Ready { .. } | State::AwaitingConnect { .. }) => {
                self.state = state;
                self.on_link_failure(now, TransportError::ProtocolViolation);
            }
            state @ (State::AwaitingOpen | State::AwaitingReconnect { .. } | State::Closed) => {
                self.state = state;
            }
        }
    }

    fn on_authenticate_reply(
        &mut self,
        now: u64,
        connection: ConnectionId,
        state: State,
        response: Response,
    ) {
        match response {
            Response::AuthenticateOk { session_id } => match SessionId::from_wire(session_id) {
                Some(session) => {
                    self.ledger.insert_held(session, now);
                    self.outbox.remove(session);
                    self.counters.sessions_created =
                        self.counters.sessions_created.saturating_add(1);
                    self.check_session(now, connection, session, ReadyOrigin::Created);
                }
                None => {
                    self.state = state;
                    self.on_link_failure(now, TransportError::ProtocolViolation);
                }
            },
            Response::AuthenticateErr { code, message }
                if code == E_SESSION_INVALID || code == E_TOO_MANY_CONNECTIONS =>
            {
                self.counters.authenticate_refused =
                    self.counters.authenticate_refused.saturating_add(1);
                self.close_socket(connection);
                let give_up = SessionError::AuthenticateRefused { code, message: message.clone() };
                let retry = self.lose_link(
                    now,
                    None,
                    now,
                    Wait::AuthenticateRefused,
                    GiveUp::With(give_up),
                );
                if let Some(retry_at_ms) = retry {
                    self.emit(Event::AuthenticateRefused { code, message, retry_at_ms });
                }
            }
            Response::AuthenticateErr { code, message } => {
                let error = if code == E_BAD_USERNAME_PASSWORD {
                    SessionError::BadCredentials { code, message }
                } else {
                    SessionError::AuthenticateFailed { code, message }
                };
                self.emit(Event::OpenFailed { error });
                self.close_on_idle_link(now, connection, None);
            }
            Response::ExecuteOk { .. } | Response::ExecuteErr { .. } => {
                self.state = state;
                self.on_link_failure(now, TransportError::ProtocolViolation);
            }
        }
    }

    fn on_use_space_reply(&mut self, now: u64, state: State, response: Response) {
        let State::AwaitingUseSpace { connection, session, origin, .. } = state else {
            self.state = state;
            return;
        };
        match response {
            Response::ExecuteOk { .. } => {
                self.ledger.touch(session, now);
                self.become_ready(now, connection, session, origin);
            }
            Response::ExecuteErr { code: E_SESSION_INVALID, .. } => {
                self.invalidate(session, LossReason::InvalidOnUseSpace);
                let give_up = SessionError::Invalid { session_id: session };
                self.after_loss(now, connection, Some(give_up));
            }
            Response::ExecuteErr { code, message } => {
                // The session is fine but the space is not usable: logging in again cannot help
                // (failure mode 4), so sign the session out and stop.
                self.ledger.touch(session, now);
                let space = self.space.clone().unwrap_or_default();
                let error = SessionError::UseSpaceFailed { space, code, message };
                self.emit(Event::OpenFailed { error });
                self.close_on_idle_link(now, connection, Some(session));
            }
            Response::AuthenticateOk { .. } | Response::AuthenticateErr { .. } => {
                self.state = state;
                self.on_link_failure(now, TransportError::ProtocolViolation);
            }
        }
    }

    fn on_probe_reply(&mut self, now: u64, state: State, response: Response) {
        let State::AwaitingProbe { connection, session, probe, .. } = state else {
            self.state = state;
            return;
        };
        match response {
            Response::ExecuteErr { code: E_SESSION_INVALID, .. } => {
                self.invalidate(session, LossReason::InvalidOnProbe);
                let give_up = match probe {
                    Probe::Resume => Some(SessionError::Invalid { session_id: session }),
                    Probe::Keepalive => None,
                };
                self.after_loss(now, connection, give_up);
            }
            // Any other execute reply means the server found the session (it checks it first).
            Response::ExecuteOk { .. } | Response::ExecuteErr { .. } => {
                self.ledger.touch(session, now);
                match probe {
                    Probe::Keepalive => {
                        self.on_link_idle(now, connection, Held::Confirmed(session));
                    }
                    Probe::Resume => {
                        self.become_ready(now, connection, session, ReadyOrigin::Resumed);
                    }
                }
            }
            Response::AuthenticateOk { .. } | Response::AuthenticateErr { .. } => {
                self.state = state;
                self.on_link_failure(now, TransportError::ProtocolViolation);
            }
        }
    }

    /// Reports what a reply to a user request means and, on -1002, re-queues the request if allowed.
    pub(super) fn settle_request(
        &mut self,
        now: u64,
        session: SessionId,
        request: QueuedRequest,
        response: Response,
        rerun: Rerun,
    ) -> Verdict {
        let id = request.id;
        match response {
            Response::ExecuteErr { code: E_SESSION_INVALID, .. } => {
                let reason = match request.kind {
                    RequestKind::Ping => {
                        let outcome = PingOutcome::SessionInvalid;
                        self.emit(Event::PingAnswered { request: id, outcome });
                        return Verdict::SessionInvalid(LossReason::InvalidOnPing);
                    }
                    RequestKind::Execute { .. } => LossReason::InvalidOnExecute,
                    RequestKind::UseSpace { .. } => LossReason::InvalidOnUseSpace,
                };
                // The session check comes first on the server: the statement did not run.
                if rerun == Rerun::Allowed && request.attempts < self.config.execute_attempts_max {
                    self.queue.push_front(request);
                } else {
                    let error =
                        RequestError::Session(SessionError::Invalid { session_id: session });
                    self.emit(Event::Failed { request: id, error });
                }
                Verdict::SessionInvalid(reason)
            }
            Response::ExecuteOk { result } => {
                self.ledger.touch(session, now);
                match request.kind {
                    RequestKind::Ping => {
                        let outcome = PingOutcome::SessionAlive;
                        self.emit(Event::PingAnswered { request: id, outcome });
                    }
                    RequestKind::UseSpace { space } => {
                        self.space = Some(space);
                        self.emit(Event::Result { request: id, result });
                    }
                    RequestKind::Execute { .. } => self.emit(Event::Result { request: id, result }),
                }
                Verdict::Done
            }
            Response::ExecuteErr { code, message } => {
                self.ledger.touch(session, now);
                let event = match request.kind {
                    RequestKind::Ping => {
                        Event::PingAnswered { request: id, outcome: PingOutcome::SessionAlive }
                    }
                    RequestKind::Execute { .. } | RequestKind::UseSpace { .. } => {
                        let error = RequestError::Server { code, message };
                        Event::Failed { request: id, error }
                    }
                };
                self.emit(event);
                Verdict::Done
            }
            Response::AuthenticateOk { .. } | Response::AuthenticateErr { .. } => {
                Verdict::Violation(request)
            }
        }
    }
}
