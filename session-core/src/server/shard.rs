//! Shards: the registry's sessions split by a hash of their id. Each shard is a slot table
//! that find + touch reads without a lock (`table.rs`), an `RwLock` for everything else, and
//! the query registry of its sessions.
//!
//! # Why shards, and why this table
//!
//! Find + touch is the hot path of every request of every executor thread: it probes the
//! shard's slot table with plain loads and raises the session's activity word with one
//! compare-and-swap, taking no lock at all (see `table.rs` for the protocol and why a read
//! lock was too slow). Everything else (login, the execute path, sign-out, kill, expiry, SHOW)
//! takes the shard's `RwLock`: readers share it, writers (which change the slots) exclude each
//! other and the readers, so two threads meet on a lock only when they hit the same shard.
//!
//! The alternatives: the seed plan's sketch, one `Mutex<HashMap>`, serializes every request
//! of every thread (the benches measure it). A concurrent-map crate would add a dependency we
//! cannot loom-check, and its memory reclamation needs `unsafe`, which the workspace forbids;
//! the slot table needs neither because its blocks are never freed while the registry lives.
//!
//! Each shard also owns the query registry of its sessions (queries shard with their session)
//! behind its own mutex, and the deadline index of its sessions' idle checks (see `expiry.rs`).
//!
//! A shard keeps the entries of its last few ended sessions ([`RECYCLED_ENTRIES_PER_SHARD_MAX`]):
//! a login reuses one in place once `Arc::get_mut` proves that no request still holds it, so a
//! steady stream of logins and sign-outs neither allocates nor frees a session's entry.

use graphsession_base::sync::{
    Arc, AtomicU64, Mutex, Ordering, RwLock, RwLockReadGuard, RwLockWriteGuard, read, write,
};
use graphsession_id_gen::SessionId;
use graphsession_query_plan::QueryRegistry;

use crate::server::audit::EndReason;
use crate::server::metrics::SessionCounts;

use crate::server::hash::hash_id;
use crate::server::idle_checks::{IdleChecks, STALE_CHECKS_SLACK};
use crate::server::session::{NewSession, SessionEntry};
use crate::server::table::{Entries, Found, Frozen, NotInserted, SlotTable};

/// Ended sessions a shard keeps, so that its next logins reuse their allocations instead of
/// freeing one and allocating another. At most 64 shards of 4 entries of a few hundred bytes
/// (an ended session's history and variables go when its entry is reused).
pub(crate) const RECYCLED_ENTRIES_PER_SHARD_MAX: usize = 4;

/// What a shard's `RwLock` guards.
#[derive(Debug, Default)]
pub(crate) struct ShardState {
    /// Which session is in which slot of the shard's table.
    pub(crate) entries: Entries,
    /// `(check_at_ms, id)` of every session in `entries`, earliest first.
    pub(crate) deadlines: IdleChecks,
    /// Ended sessions, newest last, at most [`RECYCLED_ENTRIES_PER_SHARD_MAX`]: a login reuses
    /// one whose last other holder has let go (`Arc::get_mut` proves it).
    recycled: Vec<Arc<SessionEntry>>,
}

/// The count a session ended for `reason` adds to.
fn ended<'a>(counts: &'a SessionCounts, reason: &EndReason) -> &'a AtomicU64 {
    match reason {
        EndReason::Expired { .. } => &counts.expired,
        EndReason::Killed { .. } | EndReason::EndedElsewhere => &counts.killed,
        EndReason::SignedOut => &counts.signed_out,
        EndReason::UserDropped => &counts.user_dropped,
    }
}

/// One shard, on its own cache lines so two shards' locks never share one. In declared order
/// (`repr(C)`): the lock with what it guards, then the counts written under it, on the lines a
/// login or a sign-out touches anyway; the query registry; the slot table's header last, on
/// lines of its own that lock-free find + touch reads while writers take the lock.
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct Shard {
    pub(crate) state: RwLock<ShardState>,
    /// Sessions opened and ended here: written under `state`'s write lock only.
    pub(crate) counts: SessionCounts,
    /// The queries of this shard's sessions; taken after `state`, never while holding it.
    pub(crate) queries: Mutex<QueryRegistry>,
    /// The slots: read by find + touch without a lock, changed only under `state`'s write lock.
    pub(crate) table: SlotTable,
}

impl Shard {
    pub(crate) fn new(queries: QueryRegistry) -> Shard {
        Shard {
            table: SlotTable::new(),
            state: RwLock::new(ShardState::default()),
            counts: SessionCounts::default(),
            queries: Mutex::new(queries),
        }
    }

    /// The shard's sessions under its read lock.
    pub(crate) fn read(&self) -> ShardRead<'_> {
        ShardRead { table: &self.table, state: read(&self.state) }
    }

    /// The shard's sessions under its write lock.
    pub(crate) fn write(&self) -> ShardWrite<'_> {
        ShardWrite { table: &self.table, counts: &self.counts, state: write(&self.state) }
    }
}

/// A shard's sessions under its read lock: nothing moves, no slot is frozen.
pub(crate) struct ShardRead<'a> {
    table: &'a SlotTable,
    state: RwLockReadGuard<'a, ShardState>,
}

impl ShardRead<'_> {
    /// Session `id` with its activity.
    pub(crate) fn get(&self, id: SessionId) -> Option<Found<'_>> {
        self.state.entries.get(self.table, id, hash_id(id))
    }

    pub(crate) fn contains(&self, id: SessionId) -> bool {
        self.state.entries.find(self.table, id, hash_id(id)).is_some()
    }

    /// Every session of the shard, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Found<'_>> {
        self.state.entries.iter(self.table)
    }

    pub(crate) fn len(&self) -> usize {
        self.state.entries.len()
    }

    pub(crate) fn deadlines(&self) -> &IdleChecks {
        &self.state.deadlines
    }

    /// The slot table's own rules (see `Entries::check`).
    pub(crate) fn check_table(&self) -> Result<(), String> {
        self.state.entries.check(self.table)
    }

    /// The recycled entries' rules: within their bound, every one ended and none in the table.
    pub(crate) fn check_recycled(&self) -> Result<(), String> {
        let recycled = &self.state.recycled;
        if recycled.len() > RECYCLED_ENTRIES_PER_SHARD_MAX {
            return Err(format!("{} ended sessions kept", recycled.len()));
        }
        for entry in recycled {
            let held = self.get(entry.id).is_some_and(|found| Arc::ptr_eq(found.entry, entry));
            if entry.is_live() || held {
                return Err(format!("kept session {} is live or still in the table", entry.id));
            }
        }
        Ok(())
    }

    /// The idle checks' own rules (see `idle_checks.rs`): the earliest is live, and the stale
    /// entries stay within their bound.
    pub(crate) fn check_idle_checks(&self) -> Result<(), String> {
        let checks = &self.state.deadlines;
        if let Some((at, id)) = checks.first() {
            if !check_live(&self.state.entries, self.table, at, id) {
                return Err(format!("the earliest idle check {at} of session {id} is stale"));
            }
        }
        if checks.stored() > 2 * checks.len() + STALE_CHECKS_SLACK {
            return Err(format!(
                "{} idle checks stored for {} live",
                checks.stored(),
                checks.len()
            ));
        }
        Ok(())
    }
}

/// What [`ShardWrite::pop_due`] found.
pub(crate) enum Due {
    /// No idle check is due.
    Nothing,
    /// A check was due for a session that is not here (never happens while the index and the
    /// table agree, which `check_invariants` holds).
    Gone,
    /// A session to decide on, frozen.
    Check(Frozen, Arc<SessionEntry>),
}

/// A shard's sessions under its write lock: the only place slots change.
pub(crate) struct ShardWrite<'a> {
    table: &'a SlotTable,
    counts: &'a SessionCounts,
    state: RwLockWriteGuard<'a, ShardState>,
}

impl ShardWrite<'_> {
    /// Adds one to a count of this shard. The write lock this guard holds is the only way to
    /// a count's writes, so a load and a store cannot lose an update.
    fn count(&self, count: &AtomicU64) {
        count.store(count.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }

    /// Counts a session opened here (the caller inserted it under this lock).
    pub(crate) fn count_opened(&self) {
        self.count(&self.counts.opened);
    }

    /// The entry of a new session: an ended session's allocation when one is kept and nobody
    /// else holds it any more, a new one otherwise. The caller inserts it.
    pub(crate) fn new_entry(&mut self, new: NewSession) -> Arc<SessionEntry> {
        if let Some(mut entry) = self.state.recycled.pop() {
            if let Some(reused) = Arc::get_mut(&mut entry) {
                *reused = SessionEntry::new(new);
                return entry;
            }
        }
        Arc::new(SessionEntry::new(new))
    }

    /// The kept ended entries (tests that break their rules on purpose).
    #[cfg(test)]
    pub(crate) fn recycled_mut(&mut self) -> &mut Vec<Arc<SessionEntry>> {
        &mut self.state.recycled
    }

    /// Keeps an ended session's entry for [`new_entry`](Self::new_entry), within the bound.
    pub(crate) fn recycle(&mut self, entry: &Arc<SessionEntry>) {
        if self.state.recycled.len() < RECYCLED_ENTRIES_PER_SHARD_MAX {
            self.state.recycled.push(Arc::clone(entry));
        }
    }

    /// [`recycle`](Self::recycle) of the caller's own reference: moved, not cloned and dropped
    /// (each is a locked instruction); dropped here when the bound is reached.
    pub(crate) fn recycle_owned(&mut self, entry: Arc<SessionEntry>) {
        if self.state.recycled.len() < RECYCLED_ENTRIES_PER_SHARD_MAX {
            self.state.recycled.push(entry);
        }
    }

    /// Adds a new session with last activity `last_ms` and its first idle check at
    /// `check_at_ms`. Changes nothing, and hands the entry back, if its id is here already or
    /// the table is at its largest.
    pub(crate) fn insert(
        &mut self,
        entry: Arc<SessionEntry>,
        last_ms: u64,
        check_at_ms: u64,
    ) -> Result<(), NotInserted> {
        let id = entry.id;
        entry.set_check_at_ms(check_at_ms);
        self.state.entries.insert(self.table, hash_id(id), last_ms, entry)?;
        self.state.deadlines.insert(check_at_ms, id);
        Ok(())
    }

    /// Takes session `id` out (never findable again) and marks it ended; returns it with its
    /// final last activity, Unix ms. The caller counts the end
    /// ([`count_end`](Self::count_end)) and keeps the entry ([`recycle`](Self::recycle) or
    /// [`recycle_owned`](Self::recycle_owned) offer it to the next login).
    pub(crate) fn take(&mut self, id: SessionId) -> Option<(Arc<SessionEntry>, u64)> {
        let index = self.state.entries.find(self.table, id, hash_id(id))?;
        let frozen = self.state.entries.freeze(self.table, index)?;
        let entry = self.state.entries.remove(self.table, frozen)?;
        let (table, state) = (self.table, &mut *self.state);
        let is_live = |at, id| check_live(&state.entries, table, at, id);
        state.deadlines.remove(entry.check_at_ms(), id, is_live);
        entry.end();
        Some((entry, frozen.last_ms()))
    }

    /// Counts a session [`take`](Self::take) ended for `reason`.
    pub(crate) fn count_end(&self, reason: &EndReason) {
        self.count(ended(self.counts, reason));
    }

    /// The earliest idle check, `(check_at_ms, id)`.
    pub(crate) fn first_deadline(&self) -> Option<(u64, SessionId)> {
        self.state.deadlines.first()
    }

    /// Pops the earliest idle check if it is due at `now`, and freezes its session: its
    /// activity is final until [`expire`](Self::expire) or [`reschedule`](Self::reschedule).
    pub(crate) fn pop_due(&mut self, now: u64) -> Due {
        let (table, state) = (self.table, &mut *self.state);
        let is_live = |at, id| check_live(&state.entries, table, at, id);
        let Some((_, id)) = state.deadlines.pop_due(now, is_live) else { return Due::Nothing };
        let Some(found) = self.state.entries.get(self.table, id, hash_id(id)) else {
            return Due::Gone;
        };
        let entry = Arc::clone(found.entry);
        match self.state.entries.freeze(self.table, found.index) {
            Some(frozen) => Due::Check(frozen, entry),
            None => Due::Gone,
        }
    }

    /// A popped session stays: unfrozen, its next idle check at `check_at_ms`.
    pub(crate) fn reschedule(&mut self, frozen: Frozen, entry: &SessionEntry, check_at_ms: u64) {
        self.state.entries.unfreeze(self.table, frozen);
        entry.set_check_at_ms(check_at_ms);
        self.state.deadlines.insert(check_at_ms, entry.id);
    }

    /// A popped session expires: out of the table (its check is popped already), ended,
    /// counted.
    pub(crate) fn expire(&mut self, frozen: Frozen) -> Option<Arc<SessionEntry>> {
        let entry = self.state.entries.remove(self.table, frozen)?;
        entry.end();
        self.count(&self.counts.expired);
        self.recycle(&entry);
        Some(entry)
    }
}

/// Whether the idle check (`check_at_ms`, `id`) is live: its session is in the table with that
/// check time.
fn check_live(entries: &Entries, table: &SlotTable, check_at_ms: u64, id: SessionId) -> bool {
    entries
        .get(table, id, hash_id(id))
        .is_some_and(|found| found.entry.check_at_ms() == check_at_ms)
}

#[cfg(test)]
mod tests {
    //! The recycled entries: reused only when nobody else holds them, bounded, always ended.

    use super::*;
    use crate::server::limits::UserIp;
    use crate::server::session::Origin;

    fn new_session(id: i64) -> NewSession {
        NewSession {
            id: SessionId::new(id).expect("positive"),
            pair: std::sync::Arc::new(UserIp::new("alice", "10.0.0.1")),
            now_unix_ms: 1_000,
            caller: None,
            space_set_unix_ms: 0,
            origin: Origin::LoggedIn,
        }
    }

    fn add(shard: &Shard, id: i64) -> Arc<SessionEntry> {
        let mut sessions = shard.write();
        let entry = sessions.new_entry(new_session(id));
        sessions.insert(Arc::clone(&entry), 1_000, 2_000).expect("room");
        entry
    }

    /// Ends session `id` as a sign-out whose caller keeps a reference does: taken, counted and
    /// offered to the next login by a clone.
    fn end(shard: &Shard, id: i64) -> Arc<SessionEntry> {
        let mut sessions = shard.write();
        let id = SessionId::new(id).expect("positive");
        let (ended, _) = sessions.take(id).expect("here");
        sessions.count_end(&EndReason::SignedOut);
        sessions.recycle(&ended);
        ended
    }

    #[test]
    fn an_ended_entry_nobody_holds_serves_the_next_session() {
        let shard = Shard::new(QueryRegistry::new(graphsession_query_plan::Config::default()));
        let first = add(&shard, 1);
        let address = Arc::as_ptr(&first);
        drop(first);
        let ended = end(&shard, 1);
        assert!(!ended.is_live());
        shard.read().check_recycled().expect("kept and ended");
        // Still held by the ending caller: not reused.
        let second = add(&shard, 2);
        assert_ne!(Arc::as_ptr(&second), address);
        assert!(shard.read().check_recycled().is_ok());
        // Let go, kept again, reused for the next session, live with its own id.
        drop((ended, second));
        let ended = end(&shard, 2);
        let second_address = Arc::as_ptr(&ended);
        drop(ended);
        let third = add(&shard, 3);
        assert_eq!(Arc::as_ptr(&third), second_address, "the kept allocation is reused");
        assert!(third.is_live() && third.id.get() == 3 && third.check_at_ms() == 2_000);
        shard.read().check_recycled().expect("nothing kept is live");
        assert_eq!(shard.counts.signed_out.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_owned_end_moves_the_entry_into_the_kept_ones_within_the_bound() {
        let shard = Shard::new(QueryRegistry::new(graphsession_query_plan::Config::default()));
        let count = i64::try_from(RECYCLED_ENTRIES_PER_SHARD_MAX).expect("small") + 2;
        drop((1..=count).map(|id| add(&shard, id)).collect::<Vec<_>>());
        for id in 1..=count {
            let mut sessions = shard.write();
            let id = SessionId::new(id).expect("positive");
            let (ended, _) = sessions.take(id).expect("here");
            sessions.count_end(&EndReason::Killed { by: "root".into() });
            sessions.recycle_owned(ended);
        }
        assert_eq!(shard.read().state.recycled.len(), RECYCLED_ENTRIES_PER_SHARD_MAX);
        shard.read().check_recycled().expect("within the bound, all ended");
        assert_eq!(
            shard.counts.killed.load(Ordering::Relaxed),
            u64::try_from(count).expect("small")
        );
        // Nobody else holds the kept entries: the next login reuses the newest in place.
        let newest = Arc::as_ptr(shard.read().state.recycled.last().expect("kept"));
        assert_eq!(Arc::as_ptr(&add(&shard, 50)), newest);
    }

    #[test]
    fn at_most_the_bound_of_ended_entries_is_kept() {
        let shard = Shard::new(QueryRegistry::new(graphsession_query_plan::Config::default()));
        let count = i64::try_from(RECYCLED_ENTRIES_PER_SHARD_MAX).expect("small") + 3;
        let entries: Vec<_> = (1..=count).map(|id| add(&shard, id)).collect();
        drop(entries);
        for id in 1..=count {
            end(&shard, id);
        }
        assert_eq!(shard.read().state.recycled.len(), RECYCLED_ENTRIES_PER_SHARD_MAX);
        assert_eq!(
            shard.counts.signed_out.load(Ordering::Relaxed),
            u64::try_from(count).expect("small")
        );
        shard.read().check_recycled().expect("within the bound");
        // A kept entry that is live again (which never happens) is reported.
        let live = add(&shard, 99);
        shard.write().state.recycled[0] = live;
        assert!(shard.read().check_recycled().is_err());
    }

    #[test]
    fn stale_idle_checks_are_admitted_up_to_their_bound_and_reported_one_past_it() {
        let shard = Shard::new(QueryRegistry::new(graphsession_query_plan::Config::default()));
        let _live = add(&shard, 1);
        let bound = 2 * shard.read().deadlines().len() + STALE_CHECKS_SLACK;
        let mut stale = 100_i64;
        while shard.read().deadlines().stored() < bound {
            // Later than the live check, so the earliest stays live.
            let id = SessionId::new(stale).expect("positive");
            shard.write().state.deadlines.push_stale(10_000, id);
            stale += 1;
        }
        shard.read().check_idle_checks().expect("at the bound");
        shard.write().state.deadlines.push_stale(10_000, SessionId::new(stale).expect("positive"));
        assert!(shard.read().check_idle_checks().is_err(), "one past the bound");
    }

    #[test]
    fn a_kept_entry_that_is_live_or_still_in_the_table_is_reported_each_on_its_own() {
        // Live, not in the table.
        let shard = Shard::new(QueryRegistry::new(graphsession_query_plan::Config::default()));
        let loose = shard.write().new_entry(new_session(7));
        assert!(loose.is_live() && shard.read().get(loose.id).is_none());
        shard.write().state.recycled.push(loose);
        assert!(shard.read().check_recycled().is_err());
        // Ended, still in the table.
        let shard = Shard::new(QueryRegistry::new(graphsession_query_plan::Config::default()));
        let held = add(&shard, 8);
        held.end();
        shard.write().state.recycled.push(held);
        assert!(shard.read().check_recycled().is_err());
    }
}
