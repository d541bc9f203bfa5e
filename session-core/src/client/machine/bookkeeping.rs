//! Ledger and outbox bookkeeping shared by the transitions: moving ids to the outbox (or marking
//! them overflowed, reported), promoting overflowed ids as room frees up, confirming or re-queuing
//! sign-outs by socket, and recording the three ways an id may leave the ledger or a request's
//! outcome becomes unknown. Every departure here names its proof.

use super::SessionMachine;
use crate::client::action::{ConnectionId, Event, LossReason, RequestId, ZombieKind};
use crate::client::error::{OutcomeError, TransportError};
use crate::client::ledger::{Departure, SessionStatus};
use graphsession_id_gen::SessionId;

impl SessionMachine {
    /// Moves `session` to the outbox; if full, marks it overflowed and reports it.
    pub(super) fn queue_sign_out(&mut self, now: u64, session: SessionId) {
        if !self.ledger.contains(session) {
            return;
        }
        match self.outbox.push(session, now) {
            Ok(()) => {
                self.ledger.set_status(session, SessionStatus::SignOutPending);
            }
            Err(_full) => {
                self.ledger.set_status(session, SessionStatus::SignOutOverflow);
                self.counters.sign_out_overflows =
                    self.counters.sign_out_overflows.saturating_add(1);
                let outbox_max = self.outbox.max();
                self.emit(Event::SignOutOverflow { session_id: session, outbox_max });
            }
        }
    }

    /// Overflowed sessions move into the outbox as room frees up, oldest id first.
    pub(super) fn promote_overflow(&mut self, now: u64) {
        let overflowed: Vec<SessionId> = self
            .ledger
            .iter()
            .filter(|(_, entry)| entry.status == SessionStatus::SignOutOverflow)
            .map(|(id, _)| id)
            .collect();
        for session in overflowed {
            if self.outbox.push(session, now).is_err() {
                break;
            }
            self.ledger.set_status(session, SessionStatus::SignOutPending);
        }
    }

    /// A reply arrived on `connection` after its sign-outs: they were read. They leave the ledger.
    pub(super) fn confirm_sign_outs(&mut self, now: u64, connection: ConnectionId) {
        for session in self.outbox.confirm(connection) {
            if self.ledger.remove(session, Departure::SignedOut).is_some() {
                self.emit(Event::SignedOut { session_id: session });
            }
        }
        self.promote_overflow(now);
    }

    /// `connection` died before proving its sign-outs: they wait for the next socket.
    pub(super) fn requeue_sign_outs(&mut self, now: u64, connection: ConnectionId) {
        for session in self.outbox.requeue(connection, now) {
            self.ledger.set_status(session, SessionStatus::SignOutPending);
        }
    }

    /// An authenticate's reply was lost: the server may hold a session we cannot name.
    pub(super) fn authenticate_lost(&mut self, now: u64, connection: ConnectionId) {
        self.ledger.add_phantom(now);
        self.counters.authenticate_outcome_unknown =
            self.counters.authenticate_outcome_unknown.saturating_add(1);
        self.emit(Event::AuthenticateOutcomeUnknown { connection });
    }

    /// The server answered -1002 for `session`: it is gone (proof enough to drop it), and the client
    /// believed it live, so it was a zombie.
    pub(super) fn invalidate(&mut self, session: SessionId, reason: LossReason) {
        self.ledger.remove(session, Departure::Invalidated);
        self.outbox.remove(session);
        self.counters.zombies = self.counters.zombies.saturating_add(1);
        self.emit(Event::ZombieDetected { session_id: session, kind: ZombieKind::ServerSaysGone });
        self.emit(Event::SessionLost { session_id: session, reason });
    }

    /// The held `session` is past the server's idle timeout: certainly gone.
    pub(super) fn lose_expired(&mut self, session: SessionId) {
        self.ledger.remove(session, Departure::Expired);
        self.outbox.remove(session);
        self.counters.zombies = self.counters.zombies.saturating_add(1);
        self.emit(Event::ZombieDetected {
            session_id: session,
            kind: ZombieKind::ExpiredWhileHeld,
        });
        self.emit(Event::SessionLost { session_id: session, reason: LossReason::IdleExpired });
        self.emit(Event::SessionExpired { session_id: session });
    }

    pub(super) fn report_outcome_unknown(&mut self, request: RequestId, cause: TransportError) {
        self.counters.outcome_unknown = self.counters.outcome_unknown.saturating_add(1);
        let error = OutcomeError::Unknown { cause }.into();
        self.emit(Event::Failed { request, error });
    }
}
