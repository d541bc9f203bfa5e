//! Idle expiry, driven by the host's timer: [`SessionManager::poll_timeout`] says when the next
//! idle check is due, [`SessionManager::handle_timeout`] runs the checks that are due.
//!
//! # Cost: proportional to the checks that are due, not to the sessions
//!
//! NebulaGraph scans every session every `session_reclaim_interval_secs`. Here each shard keeps
//! an index `(check_at_ms, id)` with one entry per session, first scheduled at login for
//! `now + idle_timeout`. A round pops only the due prefix of each shard's index and, for each
//! popped session, re-reads its atomic last activity and running-query count:
//!
//! - a running query (fix 3, see docs/fixes.md) reschedules the check at `now + idle_timeout`;
//! - activity since the check was scheduled reschedules it at `last_activity + idle_timeout`;
//! - otherwise the session has been idle for the timeout: it ends, its queries are killed.
//!
//! Touches never move the index (they raise an atomic word without a lock), so the hot path stays
//! lock-free; the price is that a busy session's check pops once per idle timeout and is
//! rescheduled. A popped session's slot is frozen while its check is decided, so a touch racing
//! the decision either lands before it (and is seen) or finds the slot frozen and waits for the
//! shard's lock: an expiry never ends a session on activity it did not see. So a round
//! costs O(due · log n) plus a read-locked peek at each shard; with nothing due it is one atomic
//! load against the cached earliest check (`earliest_check_ms`), which is also what
//! `poll_timeout` returns. A session never expires early: its check is never before
//! `last_activity + idle_timeout`, and `now` is clamped to the newest time seen.
//!
//! Rounds are serialized by a mutex. A round resets the cached earliest check and lowers it
//! again shard by shard, and logins lower it under their shard's lock, so no schedule is lost;
//! a `poll_timeout` read while a round runs may be late, never early.

use graphsession_base::sync::{Arc, Ordering, lock};

use crate::server::audit::EndReason;
use crate::server::manager::SessionManager;
use crate::server::session::SessionEntry;
use crate::server::shard::{Due, Shard};

/// What a due check decided.
enum Check {
    /// Idle for the timeout: end it.
    Expire,
    /// Not yet: check again at this time, Unix milliseconds.
    Recheck(u64),
}

impl SessionManager {
    /// When the next idle check is due, Unix milliseconds; `None` with no sessions. O(1).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let at = self.earliest_check_ms.load(Ordering::Acquire);
        (at != u64::MAX).then_some(at)
    }

    /// Runs the idle checks due at `now_unix_ms`; returns how many sessions expired. Each
    /// expired session's queries are killed and it comes out as an event. A spurious call is a
    /// no-op costing one atomic load; a `now` older than one seen before is clamped.
    pub fn handle_timeout(&self, now_unix_ms: u64) -> u32 {
        let now = self.clock.observe(now_unix_ms);
        if now < self.earliest_check_ms.load(Ordering::Acquire) {
            return 0;
        }
        let _round = lock(&self.expiry_round);
        self.earliest_check_ms.store(u64::MAX, Ordering::Release);
        let mut expired = 0_u32;
        for shard in &self.shards {
            for (entry, idle_ms) in self.expire_shard(now, shard) {
                self.release_ended(now, shard, &entry, EndReason::Expired { idle_ms });
                expired = expired.saturating_add(1);
            }
        }
        expired
    }

    /// Pops `shard`'s due checks; returns the sessions that expired (already out of the map).
    fn expire_shard(&self, now: u64, shard: &Shard) -> Vec<(Arc<SessionEntry>, u64)> {
        let first = shard.read().deadlines().first().map(|(at, _)| at);
        if first.is_none_or(|at| at > now) {
            if let Some(at) = first {
                self.earliest_check_ms.fetch_min(at, Ordering::AcqRel);
            }
            return Vec::new();
        }
        let mut sessions = shard.write();
        let mut expired = Vec::new();
        loop {
            let (frozen, entry) = match sessions.pop_due(now) {
                Due::Nothing => break,
                Due::Gone => continue,
                Due::Check(frozen, entry) => (frozen, entry),
            };
            match self.decide(now, &entry, frozen.last_ms()) {
                Check::Recheck(at) => sessions.reschedule(frozen, &entry, at),
                Check::Expire => {
                    let idle_ms = now.saturating_sub(frozen.last_ms());
                    expired.extend(sessions.expire(frozen).map(|entry| (entry, idle_ms)));
                }
            }
        }
        if let Some((at, _)) = sessions.first_deadline() {
            self.earliest_check_ms.fetch_min(at, Ordering::AcqRel);
        }
        expired
    }

    /// Decides a due check, under the shard's write lock (no query can start meanwhile) with
    /// the session's final activity `last_ms` (its slot is frozen).
    fn decide(&self, now: u64, entry: &SessionEntry, last_ms: u64) -> Check {
        let idle_timeout_ms = self.config.idle_timeout_ms;
        // The count first: a query that ended touched the session before lowering it.
        if entry.running() > 0 {
            return Check::Recheck(now.saturating_add(idle_timeout_ms));
        }
        let due_at = last_ms.saturating_add(idle_timeout_ms);
        if due_at <= now { Check::Expire } else { Check::Recheck(due_at) }
    }
}
