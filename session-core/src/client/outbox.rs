//! The sign-out outbox: sessions to sign out, retried with backoff until a sign-out is delivered or the
//! session has certainly expired.
//!
//! A sign-out is one-way, so a successful write proves nothing (failure mode 2). The machine writes the
//! due sign-outs, then a ping on the same socket; the ping's reply proves the server read them, and
//! only then are they [`confirm`](Outbox::confirm)ed. If the socket dies first they are
//! [`requeue`](Outbox::requeue)d with a longer delay and sent again on the next socket: re-sending a
//! sign-out is harmless (an unknown id is ignored). The outbox belongs to the machine, not to a
//! socket, so it survives reconnects.

use crate::client::action::ConnectionId;
use crate::client::timers::{after, backoff_ms};
use graphsession_id_gen::SessionId;
use std::collections::VecDeque;

/// Whether a send respects the retry delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Only entries whose delay passed (normal operation).
    Due,
    /// Every unsent entry (close flushes everything it can before its deadline).
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OutboxEntry {
    session: SessionId,
    /// Failed deliveries so far.
    failures: u32,
    next_attempt_ms: u64,
    sent_on: Option<ConnectionId>,
}

/// The outbox: at most `max` sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outbox {
    entries: VecDeque<OutboxEntry>,
    max: u32,
    backoff_initial_ms: u64,
    backoff_max_ms: u64,
}

/// The outbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutboxFull;

impl Outbox {
    pub(crate) fn new(max: u32, backoff_initial_ms: u64, backoff_max_ms: u64) -> Outbox {
        Outbox { entries: VecDeque::new(), max, backoff_initial_ms, backoff_max_ms }
    }

    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    pub(crate) fn len(&self) -> u32 {
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn contains(&self, session: SessionId) -> bool {
        self.entries.iter().any(|entry| entry.session == session)
    }

    pub(crate) fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.entries.iter().map(|entry| entry.session)
    }

    /// The socket `session`'s sign-out was last written on, if it awaits proof.
    pub(crate) fn sent_on(&self, session: SessionId) -> Option<ConnectionId> {
        self.entries.iter().find(|entry| entry.session == session).and_then(|entry| entry.sent_on)
    }

    /// Queues `session`, due at once. Idempotent.
    pub(crate) fn push(&mut self, session: SessionId, now_ms: u64) -> Result<(), OutboxFull> {
        if self.contains(session) {
            return Ok(());
        }
        if self.len() >= self.max {
            return Err(OutboxFull);
        }
        let entry = OutboxEntry { session, failures: 0, next_attempt_ms: now_ms, sent_on: None };
        self.entries.push_back(entry);
        Ok(())
    }

    /// Whether an unsent entry may be sent at `now_ms` with `pace`.
    pub(crate) fn has_sendable(&self, now_ms: u64, pace: Pace) -> bool {
        self.entries.iter().any(|entry| is_sendable(entry, now_ms, pace))
    }

    /// Marks the sendable entries as written on `connection`; returns their sessions, oldest first.
    pub(crate) fn mark_sent(
        &mut self,
        now_ms: u64,
        connection: ConnectionId,
        pace: Pace,
    ) -> Vec<SessionId> {
        let mut sent = Vec::new();
        for entry in self.entries.iter_mut().filter(|entry| is_sendable(entry, now_ms, pace)) {
            entry.sent_on = Some(connection);
            sent.push(entry.session);
        }
        sent
    }

    /// Removes and returns the entries written on `connection`: a reply proved them read.
    pub(crate) fn confirm(&mut self, connection: ConnectionId) -> Vec<SessionId> {
        let (confirmed, kept): (Vec<_>, Vec<_>) =
            self.entries.drain(..).partition(|entry| entry.sent_on == Some(connection));
        self.entries = kept.into();
        confirmed.into_iter().map(|entry| entry.session).collect()
    }

    /// `connection` died before the proof: its entries wait for a longer delay and a new socket.
    pub(crate) fn requeue(&mut self, connection: ConnectionId, now_ms: u64) -> Vec<SessionId> {
        let mut requeued = Vec::new();
        for entry in self.entries.iter_mut().filter(|entry| entry.sent_on == Some(connection)) {
            entry.sent_on = None;
            entry.next_attempt_ms = after(
                now_ms,
                backoff_ms(self.backoff_initial_ms, self.backoff_max_ms, entry.failures),
            );
            entry.failures = entry.failures.saturating_add(1);
            requeued.push(entry.session);
        }
        requeued
    }

    /// Removes `session` (it expired); true if it was there.
    pub(crate) fn remove(&mut self, session: SessionId) -> bool {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.session != session);
        before != self.entries.len()
    }

    /// Empties the outbox (the machine closed); returns the sessions.
    pub(crate) fn drain(&mut self) -> Vec<SessionId> {
        self.entries.drain(..).map(|entry| entry.session).collect()
    }

    /// When the next unsent entry becomes due.
    pub(crate) fn next_due_ms(&self) -> Option<u64> {
        self.entries
            .iter()
            .filter(|entry| entry.sent_on.is_none())
            .map(|entry| entry.next_attempt_ms)
            .min()
    }
}

fn is_sendable(entry: &OutboxEntry, now_ms: u64, pace: Pace) -> bool {
    entry.sent_on.is_none() && (pace == Pace::All || entry.next_attempt_ms <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: i64) -> SessionId {
        SessionId::new(id).expect("positive")
    }

    #[test]
    fn remove_says_whether_the_session_was_there() {
        let mut outbox = Outbox::new(4, 200, 60_000);
        outbox.push(session(7), 0).expect("room");
        assert!(!outbox.remove(session(8)));
        assert!(outbox.remove(session(7)));
        assert!(!outbox.remove(session(7)));
        assert!(outbox.is_empty());
    }
}
