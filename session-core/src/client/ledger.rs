//! The session ledger: every session id the client ever got from an `AuthenticateOk`, until it is
//! provably gone.
//!
//! An id leaves only by [`Departure`]: its sign-out was delivered (a reply written after it arrived
//! on the same socket), the server answered -1002 for it, or the server's idle timeout plus a margin
//! certainly passed since the last request that used it. Nothing else removes an id: a close, a lost
//! socket or a full outbox only changes its [`SessionStatus`]. Authenticates whose reply was lost are
//! kept too, as anonymous "phantoms", so the budget counts sessions the server may hold.

use crate::client::action::ConnectionId;
use graphsession_id_gen::SessionId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a session of the ledger stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionStatus {
    /// Held by the machine for the user (at most one).
    Held,
    /// In the sign-out outbox, waiting for a socket (or for its retry delay).
    SignOutPending,
    /// Sign-out written on `connection`; waiting for the reply that proves it was read.
    SignOutSent {
        /// The socket it was written on.
        connection: ConnectionId,
    },
    /// The outbox was full; waits for room in it, or for expiry.
    SignOutOverflow,
    /// The machine closed before the sign-out was delivered; stays until expiry, counted as leaked.
    Abandoned,
}

/// One session of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Where it stands.
    pub status: SessionStatus,
    /// When the client learned the id, host milliseconds.
    pub acquired_ms: u64,
    /// The last time a request using the id was sent, answered or abandoned, host milliseconds. The
    /// server's idle timer cannot have been reset after it.
    pub last_activity_ms: u64,
}

/// How an id left the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Departure {
    /// Its sign-out was delivered.
    SignedOut,
    /// The server answered -1002 for it.
    Invalidated,
    /// The server's idle timeout certainly passed.
    Expired,
}

/// The ledger. Bounded by the budget: the machine authenticates only while
/// [`Ledger::budget_count`] is below `sessions_per_user_ip_node_max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    entries: BTreeMap<SessionId, LedgerEntry>,
    /// Certain-expiry times of authenticates whose reply was lost.
    phantom_expiries_ms: Vec<u64>,
    /// `server_idle_timeout_ms + expiry_margin_ms`.
    expiry_after_ms: u64,
    departures: DepartureCounts,
}

/// How many ids left the ledger, by [`Departure`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartureCounts {
    /// Sign-out delivered.
    pub signed_out: u64,
    /// -1002 from the server.
    pub invalidated: u64,
    /// Idle timeout certainly passed.
    pub expired: u64,
}

impl Ledger {
    pub(crate) fn new(expiry_after_ms: u64) -> Ledger {
        Ledger {
            entries: BTreeMap::new(),
            phantom_expiries_ms: Vec::new(),
            expiry_after_ms,
            departures: DepartureCounts::default(),
        }
    }

    /// The entry of `session`.
    #[must_use]
    pub fn get(&self, session: SessionId) -> Option<&LedgerEntry> {
        self.entries.get(&session)
    }

    /// Whether `session` is in the ledger.
    #[must_use]
    pub fn contains(&self, session: SessionId) -> bool {
        self.entries.contains_key(&session)
    }

    /// Every entry, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (SessionId, &LedgerEntry)> {
        self.entries.iter().map(|(&id, entry)| (id, entry))
    }

    /// Every id, in order.
    #[must_use]
    pub fn ids(&self) -> Vec<SessionId> {
        self.entries.keys().copied().collect()
    }

    /// How many ids.
    #[must_use]
    pub fn len(&self) -> u32 {
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// Whether there are no ids and no phantoms.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.phantom_expiries_ms.is_empty()
    }

    /// How many authenticates had their reply lost and have not certainly expired.
    #[must_use]
    pub fn phantom_count(&self) -> u32 {
        u32::try_from(self.phantom_expiries_ms.len()).unwrap_or(u32::MAX)
    }

    /// What the budget counts: every id plus every phantom.
    #[must_use]
    pub fn budget_count(&self) -> u32 {
        self.len().saturating_add(self.phantom_count())
    }

    /// How many ids have `status`.
    #[must_use]
    pub fn count_with(&self, status: impl Fn(SessionStatus) -> bool) -> u32 {
        let count = self.entries.values().filter(|entry| status(entry.status)).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// The held session, if any.
    #[must_use]
    pub fn held(&self) -> Option<SessionId> {
        self.iter().find(|(_, entry)| entry.status == SessionStatus::Held).map(|(id, _)| id)
    }

    /// When `entry` has certainly expired on the server.
    #[must_use]
    pub fn certain_expiry_ms(&self, entry: &LedgerEntry) -> u64 {
        entry.last_activity_ms.saturating_add(self.expiry_after_ms)
    }

    /// Whether `session` has certainly expired at `now_ms`.
    #[must_use]
    pub fn certainly_expired(&self, now_ms: u64, session: SessionId) -> bool {
        self.get(session).is_some_and(|entry| self.certain_expiry_ms(entry) <= now_ms)
    }

    /// Records a new session as held. An id already present (a server that reissued an id) is held
    /// again: its pending sign-out must not end the new session.
    pub(crate) fn insert_held(&mut self, session: SessionId, now_ms: u64) {
        let entry = LedgerEntry {
            status: SessionStatus::Held,
            acquired_ms: now_ms,
            last_activity_ms: now_ms,
        };
        self.entries.insert(session, entry);
    }

    /// Records a request using `session` at `now_ms`.
    pub(crate) fn touch(&mut self, session: SessionId, now_ms: u64) {
        if let Some(entry) = self.entries.get_mut(&session) {
            entry.last_activity_ms = entry.last_activity_ms.max(now_ms);
        }
    }

    /// Sets the status of `session`; false if absent.
    pub(crate) fn set_status(&mut self, session: SessionId, status: SessionStatus) -> bool {
        match self.entries.get_mut(&session) {
            Some(entry) => {
                entry.status = status;
                true
            }
            None => false,
        }
    }

    /// Removes `session` for `departure`. The caller holds the proof the departure names.
    pub(crate) fn remove(
        &mut self,
        session: SessionId,
        departure: Departure,
    ) -> Option<LedgerEntry> {
        let entry = self.entries.remove(&session)?;
        let count = match departure {
            Departure::SignedOut => &mut self.departures.signed_out,
            Departure::Invalidated => &mut self.departures.invalidated,
            Departure::Expired => &mut self.departures.expired,
        };
        *count = count.saturating_add(1);
        Some(entry)
    }

    /// How many ids left, by departure.
    #[must_use]
    pub fn departures(&self) -> DepartureCounts {
        self.departures
    }

    /// Records an authenticate whose reply was lost at `now_ms`.
    pub(crate) fn add_phantom(&mut self, now_ms: u64) {
        self.phantom_expiries_ms.push(now_ms.saturating_add(self.expiry_after_ms));
    }

    /// The earliest certain expiry among ids with `status` and phantoms.
    pub(crate) fn next_expiry_ms(&self, status: impl Fn(SessionStatus) -> bool) -> Option<u64> {
        let ids = self
            .entries
            .values()
            .filter(|entry| status(entry.status))
            .map(|entry| self.certain_expiry_ms(entry));
        ids.chain(self.phantom_expiries_ms.iter().copied()).min()
    }

    /// The earliest certain expiry among phantoms.
    pub(crate) fn next_phantom_expiry_ms(&self) -> Option<u64> {
        self.phantom_expiries_ms.iter().copied().min()
    }

    /// Ids with `status` certainly expired at `now_ms`, in order.
    pub(crate) fn expired(
        &self,
        now_ms: u64,
        status: impl Fn(SessionStatus) -> bool,
    ) -> Vec<SessionId> {
        self.iter()
            .filter(|(_, entry)| status(entry.status) && self.certain_expiry_ms(entry) <= now_ms)
            .map(|(id, _)| id)
            .collect()
    }

    /// Forgets phantoms certainly expired at `now_ms`; returns how many.
    pub(crate) fn expire_phantoms(&mut self, now_ms: u64) -> u32 {
        let before = self.phantom_expiries_ms.len();
        self.phantom_expiries_ms.retain(|&expiry_ms| expiry_ms > now_ms);
        u32::try_from(before - self.phantom_expiries_ms.len()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_phantoms_counts_only_the_phantoms_it_forgets() {
        let mut ledger = Ledger::new(100);
        ledger.add_phantom(0);
        ledger.add_phantom(50);
        assert_eq!(ledger.expire_phantoms(99), 0);
        assert_eq!(ledger.expire_phantoms(100), 1);
        assert_eq!(ledger.phantom_count(), 1);
        assert_eq!(ledger.expire_phantoms(150), 1);
        assert!(ledger.is_empty());
    }
}
