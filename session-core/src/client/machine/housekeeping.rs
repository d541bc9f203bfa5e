//! Deadlines that are not a reply's: queued requests waiting too long, sessions whose server idle
//! timeout certainly passed, and the periodic zombie check (the seed's 30-second monitor, as a timer
//! of the machine instead of a background interval).

use super::SessionMachine;
use crate::client::action::{Event, LossReason, ZombieKind};
use crate::client::error::{RequestError, TransportError};
use crate::client::ledger::{Departure, SessionStatus};
use crate::client::state::{Closing, InFlight, State};
use crate::client::timers::{after, earliest};
use graphsession_id_gen::SessionId;

impl SessionMachine {
    /// Fires everything due at `now`.
    pub(super) fn on_timeout(&mut self, now: u64) {
        // The step deadline first: a lost reply may put its request back in the queue, and the
        // queue's own deadlines must then see it.
        if self.state.step_deadline_ms().is_some_and(|deadline_ms| deadline_ms <= now) {
            self.on_step_deadline(now);
        }
        self.expire_queued(now);
        self.sweep_expired(now);
        if self.zombie_check_at_ms.is_some_and(|at_ms| at_ms <= now) {
            self.zombie_check(now);
        }
    }

    /// The earliest certain expiry the machine will act on.
    pub(super) fn next_expiry_ms(&self) -> Option<u64> {
        let in_flight = self.in_flight_session();
        let others = self
            .ledger
            .iter()
            .filter(|(id, entry)| entry.status != SessionStatus::Held && Some(*id) != in_flight)
            .map(|(_, entry)| self.ledger.certain_expiry_ms(entry));
        let others = earliest([others.min(), self.ledger.next_phantom_expiry_ms()]);
        // The held session's expiry is acted on only where it is safe to drop it: on an idle socket
        // (where `serve` validates it) or with no socket at all.
        let held = match &self.state {
            State::Ready { session, .. } => Some(*session),
            State::AwaitingReconnect { held, .. } | State::AwaitingConnect { held, .. } => *held,
            _ => None,
        };
        let held_expiry_ms = held
            .and_then(|session| self.ledger.get(session))
            .map(|entry| self.ledger.certain_expiry_ms(entry));
        earliest([others, held_expiry_ms])
    }

    fn on_step_deadline(&mut self, now: u64) {
        match &self.state {
            State::Closing { deadline_ms, .. } if *deadline_ms <= now => {
                self.close_deadline_passed(now);
            }
            State::Closing { .. } => {
                if let State::Closing { phase, deadline_ms } = self.take_state() {
                    match phase {
                        // `advance` dials when the retry time comes.
                        Closing::AwaitingRetry { .. } => {
                            self.state = State::Closing { phase, deadline_ms };
                        }
                        phase => self.closing_link_failure(now, phase, deadline_ms),
                    }
                }
            }
            // `advance` dials when the retry time comes.
            State::AwaitingReconnect { .. } => {}
            State::AwaitingConnect { .. } => {
                self.on_link_failure(now, TransportError::ConnectTimedOut);
            }
            _ => self.on_link_failure(now, TransportError::ReplyTimedOut),
        }
    }

    fn expire_queued(&mut self, now: u64) {
        for request in self.queue.take_expired(now) {
            self.emit(Event::Failed { request: request.id, error: RequestError::QueueTimedOut });
        }
    }

    /// Drops every id whose server idle timeout certainly passed: proof of expiry.
    fn sweep_expired(&mut self, now: u64) {
        self.ledger.expire_phantoms(now);
        let in_flight = self.in_flight_session();
        let expired = self.ledger.expired(now, |status| status != SessionStatus::Held);
        for session in expired.into_iter().filter(|&session| Some(session) != in_flight) {
            self.ledger.remove(session, Departure::Expired);
            self.outbox.remove(session);
            self.emit(Event::SessionExpired { session_id: session });
        }
        let expired_held = match &self.state {
            State::AwaitingReconnect { held: Some(session), .. }
            | State::AwaitingConnect { held: Some(session), .. } => {
                Some(*session).filter(|&session| self.ledger.certainly_expired(now, session))
            }
            _ => None,
        };
        if let Some(session) = expired_held {
            self.drop_held();
            self.lose_expired(session);
        }
    }

    /// The seed's monitor: a session held with no live transport for too long is a zombie. It is
    /// queued for sign-out, and the next socket authenticates a new one.
    fn zombie_check(&mut self, now: u64) {
        self.zombie_check_at_ms = Some(after(now, self.config.zombie_check_interval_ms));
        let (session, down_since_ms) = match &self.state {
            State::AwaitingReconnect { held: Some(session), down_since_ms, .. }
            | State::AwaitingConnect { held: Some(session), down_since_ms, .. } => {
                (*session, *down_since_ms)
            }
            _ => return,
        };
        let disconnected_ms = now.saturating_sub(down_since_ms);
        if disconnected_ms < self.config.zombie_disconnected_max_ms {
            return;
        }
        self.drop_held();
        self.counters.zombies = self.counters.zombies.saturating_add(1);
        let kind = ZombieKind::HeldWithoutTransport { disconnected_ms };
        self.emit(Event::ZombieDetected { session_id: session, kind });
        let reason = LossReason::HeldWithoutTransport;
        self.emit(Event::SessionLost { session_id: session, reason });
        self.queue_sign_out(now, session);
    }

    /// The session a request in flight uses while close drains it: that request may still be
    /// running on the server and resetting its idle timer, so the session cannot be expired yet.
    fn in_flight_session(&self) -> Option<SessionId> {
        match &self.state {
            State::Closing { phase: Closing::Draining { in_flight, .. }, .. } => match in_flight {
                InFlight::SessionCheck { session } | InFlight::Request { session, .. } => {
                    Some(*session)
                }
                InFlight::Authenticate => None,
            },
            _ => None,
        }
    }

    /// Forgets the session held across a lost socket (the caller accounts for it).
    fn drop_held(&mut self) {
        if let State::AwaitingReconnect { held, .. } | State::AwaitingConnect { held, .. } =
            &mut self.state
        {
            *held = None;
        }
    }
}
