//! The audit trail: every state change of a session as a value the host can log or forward
//! (drained with [`poll_event`](crate::server::SessionManager::poll_event)), and each session's
//! own bounded history for SHOW SESSION.
//!
//! The event queue is bounded (`events_max`); when it is full a new event is dropped and counted
//! in [`NodeStats::events_dropped`](crate::server::NodeStats), so an overflow is never silent.
//! The hot path (find + touch, a query starting or ending) is not a state change of the session
//! and emits nothing.

use std::collections::VecDeque;

use graphsession_base::sync::{AtomicU64, Mutex, Ordering, lock};
use graphsession_id_gen::SessionId;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EndReason {
    /// Reclaimed after `idle_ms` without activity or running query.
    Expired {
        /// How long it had been idle, in milliseconds.
        idle_ms: u64,
    },
    /// KILL SESSION by `by` (a user name).
    Killed {
        /// The user that ran KILL SESSION.
        by: String,
    },
    /// The client signed out.
    SignedOut,
    /// The cluster says it ended elsewhere (signed out or killed on another node, or unknown to
    /// meta): see
    /// [`SessionManager::end_from_cluster`](crate::server::SessionManager::end_from_cluster).
    EndedElsewhere,
    /// Its user was dropped from the role table; seen at the session's next request (fix 4, see
    /// docs/fixes.md).
    UserDropped,
}

/// One change of one session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// Login created it.
    Created {
        /// The client's ip.
        client_ip: String,
    },
    /// USE moved it to `space`.
    SpaceChanged {
        /// The space before, `None` before the first USE.
        from: Option<String>,
        /// The new space.
        to: String,
    },
    /// A session variable was set.
    VariableSet {
        /// The variable's name.
        name: String,
    },
    /// It was restored from a snapshot.
    Restored,
    /// It was picked up or reloaded from the cluster (created on another node or by this node's
    /// previous process).
    PickedUp {
        /// The client's ip.
        client_ip: String,
    },
    /// It ended; `queries_killed` of its queries were killed with it.
    Ended {
        /// Why.
        reason: EndReason,
        /// Queries the end killed.
        queries_killed: u32,
    },
}

/// One line of a session's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    /// When, Unix milliseconds.
    pub at_unix_ms: u64,
    /// What changed.
    pub change: Change,
}

/// Why a login was refused, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    /// The password check failed or the user is locked (-1001).
    BadPassword,
    /// The node holds `sessions_max` sessions (-1010).
    NodeFull,
    /// The (user, ip) pair is at its limit (-1002).
    UserIpLimit,
    /// Anything else (unknown user, id generator, bad input) (-1002).
    Other,
}

/// Something the host may log or forward.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// A session changed.
    Session {
        /// Which session.
        session: SessionId,
        /// Its user.
        user: String,
        /// When, Unix milliseconds.
        at_unix_ms: u64,
        /// What changed.
        change: Change,
    },
    /// A login was refused.
    LoginRefused {
        /// The user that tried.
        user: String,
        /// From where.
        client_ip: String,
        /// When, Unix milliseconds.
        at_unix_ms: u64,
        /// The class of refusal.
        refusal: Refusal,
        /// NebulaGraph's error code the client got.
        code: i32,
        /// The message the client got.
        message: String,
    },
}

/// The node's bounded event queue.
#[derive(Debug)]
pub(crate) struct EventQueue {
    events: Mutex<VecDeque<Event>>,
    events_max: u32,
    /// The queue's length, stored under the mutex after every change: a push that finds the
    /// queue full drops its event without taking the mutex (one locked instruction, the count,
    /// instead of three), and the statistics read it without the mutex.
    queued: AtomicU64,
    dropped: AtomicU64,
}

impl EventQueue {
    pub(crate) fn new(events_max: u32) -> EventQueue {
        EventQueue {
            events: Mutex::new(VecDeque::new()),
            events_max,
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Pushes the event `make` builds, if the queue has room: a dropped event costs no
    /// allocation. A push that sees the queue full drops at that moment; one that races a pop
    /// may drop with room just made, as it would have a moment earlier.
    pub(crate) fn push_with(&self, make: impl FnOnce() -> Event) {
        let events_max = u64::from(self.events_max);
        if self.queued.load(Ordering::Acquire) >= events_max {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut events = lock(&self.events);
        if events.len() >= self.events_max as usize {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        events.push_back(make());
        self.queued.store(len_u64(&events), Ordering::Release);
    }

    pub(crate) fn pop(&self) -> Option<Event> {
        let mut events = lock(&self.events);
        let event = events.pop_front()?;
        self.queued.store(len_u64(&events), Ordering::Release);
        Some(event)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }

    /// The queue's rules: within `events_max`, and its stored length is its length.
    pub(crate) fn check(&self) -> Result<(), String> {
        let events = lock(&self.events);
        let (len, queued) = (len_u64(&events), self.queued.load(Ordering::Acquire));
        if len > u64::from(self.events_max) {
            return Err(format!("{len} events queued, events_max {}", self.events_max));
        }
        if queued != len {
            return Err(format!("{len} events queued, stored as {queued}"));
        }
        Ok(())
    }

    /// Stores a wrong length (corruption self-tests).
    #[cfg(test)]
    pub(crate) fn corrupt_queued(&self, queued: u64) {
        self.queued.store(queued, Ordering::Release);
    }
}

fn len_u64(events: &VecDeque<Event>) -> u64 {
    u64::try_from(events.len()).unwrap_or(u64::MAX)
}

/// A session's own bounded history; the oldest entries go first.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    pub(crate) entries: VecDeque<HistoryEntry>,
    pub(crate) dropped: u32,
}

impl History {
    pub(crate) fn record(&mut self, entry: HistoryEntry, history_max: u32) {
        if history_max == 0 {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        let history_max = history_max as usize;
        while self.entries.len() >= history_max {
            self.entries.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        // Grown by half at a time, never past the maximum: most sessions record one or two
        // changes, and a default-sized buffer (four entries) would cost them more than the rest
        // of the session.
        let len = self.entries.len();
        if len == self.entries.capacity() {
            self.entries.reserve_exact((len / 2).max(1).min(history_max - len));
        }
        self.entries.push_back(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, History, HistoryEntry};

    fn entry(at_unix_ms: u64) -> HistoryEntry {
        HistoryEntry { at_unix_ms, change: Change::Restored }
    }

    /// The capacity of the history after each of `records` records with `history_max`.
    fn capacities(history_max: u32, records: u64) -> Vec<usize> {
        let mut history = History::default();
        (0..records)
            .map(|at| {
                history.record(entry(at), history_max);
                history.entries.capacity()
            })
            .collect()
    }

    // The growth policy is invisible from outside (SHOW SESSION shows the same entries whatever
    // the buffer's size): only the memory a session costs changes, so only the capacity tells.
    // std's `reserve_exact` on a VecDeque sets the capacity to exactly `len + additional` (its
    // docs promise only at least that; a std that rounds up would fail these tests, not the code).

    #[test]
    fn history_grows_by_one_entry_until_four_then_by_half_its_length() {
        assert_eq!(capacities(100, 14), [1, 2, 3, 4, 6, 6, 9, 9, 9, 13, 13, 13, 13, 19]);
    }

    #[test]
    fn history_growth_stops_exactly_at_the_maximum() {
        // At four entries half would be two more, but the maximum of five allows only one; once
        // full, the oldest entry makes room and the buffer never grows again.
        assert_eq!(capacities(5, 8), [1, 2, 3, 4, 5, 5, 5, 5]);
        let mut history = History::default();
        for at in 0..8 {
            history.record(entry(at), 5);
        }
        let kept: Vec<u64> = history.entries.iter().map(|entry| entry.at_unix_ms).collect();
        assert_eq!((kept, history.dropped), (vec![3, 4, 5, 6, 7], 3));
    }
}
