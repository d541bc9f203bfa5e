//! How sessions end: KILL SESSION, sign-out, a dropped user, and (from `expiry.rs`) idle expiry
//! all go through [`SessionManager::end_session`]: out of the shard's map under its write lock
//! (so it is never findable again), then counts released, queries killed, event emitted.

use graphsession_base::sync::{Arc, lock};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, check_kill_session};
use graphsession_query_plan::{SessionClosed, SessionEnd};

use crate::server::audit::{Change, EndReason};
use crate::server::error::ServerError;
use crate::server::manager::SessionManager;
use crate::server::session::SessionEntry;
use crate::server::shard::Shard;

impl SessionManager {
    /// KILL SESSION (or KILL SESSIONS with piped ids) by `caller`: GOD only (through the
    /// permission crate, -1008 "No permission to kill session"; passes with authorization off,
    /// as in NebulaGraph). Ends each listed session, killing its queries; returns NebulaGraph's
    /// "Number of session killed": ids actually removed (unknown ids count 0). A refused caller
    /// changes nothing.
    pub fn kill_sessions(
        &self,
        now_unix_ms: u64,
        caller: &Caller,
        session_ids: &[i64],
    ) -> Result<u32, ServerError> {
        let now = self.clock.observe(now_unix_ms);
        check_kill_session(caller, self.config.policy)?;
        let mut killed = 0_u32;
        for &session_id in session_ids {
            let Some(id) = SessionId::new(session_id) else { continue };
            let reason = EndReason::Killed { by: caller.user().to_owned() };
            if self.end_session(now, id, reason).is_some() {
                killed = killed.saturating_add(1);
            }
        }
        Ok(killed)
    }

    /// Ends session `id` for `reason`; returns how many queries the end killed, `None` if the
    /// session was not here.
    ///
    /// A session without running queries (nearly every sign-out) ends wholly under its shard's
    /// write lock: the counts and the event queue are leaves of the lock order, and its entry
    /// moves into the shard's kept ones instead of being cloned there and dropped here. Only a
    /// session with queries to kill lets the shard go first, since the shard's query registry
    /// is never taken while its sessions are locked.
    pub(crate) fn end_session(&self, now: u64, id: SessionId, reason: EndReason) -> Option<u32> {
        let shard = self.shard(id);
        let mut sessions = shard.write();
        let (entry, _) = sessions.take(id)?;
        sessions.count_end(&reason);
        // Queries are raised only under the shard's lock, which this end holds since it marked
        // the session ended: zero now is zero for good.
        if entry.running() == 0 {
            self.release_counts(&entry);
            self.announce_end(now, &entry, reason, 0);
            sessions.recycle_owned(entry);
            return Some(0);
        }
        sessions.recycle(&entry);
        drop(sessions);
        Some(self.release_ended(now, shard, &entry, reason))
    }

    /// Takes session `id` out of its shard's map, marks it ended and counts its end for the
    /// reason `reason` gives from its last activity (Unix ms); returns it with that reason. The
    /// caller must [`release_ended`](Self::release_ended) it.
    pub(crate) fn take_session(
        &self,
        id: SessionId,
        reason: impl FnOnce(u64) -> EndReason,
    ) -> Option<(Arc<SessionEntry>, EndReason)> {
        let mut sessions = self.shard(id).write();
        let (entry, last_activity_ms) = sessions.take(id)?;
        let reason = reason(last_activity_ms);
        sessions.count_end(&reason);
        sessions.recycle(&entry);
        Some((entry, reason))
    }

    /// The part of a session's end after it left its shard's map (marked ended and counted):
    /// the counts it held, its queries, the event. Returns the queries killed.
    pub(crate) fn release_ended(
        &self,
        now: u64,
        shard: &Shard,
        entry: &Arc<SessionEntry>,
        reason: EndReason,
    ) -> u32 {
        self.release_counts(entry);
        let end = match reason {
            EndReason::Expired { .. } => SessionEnd::Expired,
            _ => SessionEnd::Killed,
        };
        // A session is open in the query registry only while it has queries; when it is not,
        // there is nothing to kill. Its running count is lowered only after a query left the
        // registry (and the session was closed there if idle), and raised only under the shard's
        // lock the end has taken since: at zero the registry's lock is not needed.
        let closed = if entry.running() == 0 {
            SessionClosed::default()
        } else {
            lock(&shard.queries).close_session(entry.id, end).unwrap_or_default()
        };
        self.announce_end(now, entry, reason, closed.queries_killed);
        closed.queries_killed
    }

    /// Gives back the node's and the (user, ip) pair's count an ended session held.
    fn release_counts(&self, entry: &SessionEntry) {
        self.user_ip.release(&entry.pair);
        self.node_count.release();
    }

    /// The end as an event only: the session is gone, so its own history would never be read
    /// again.
    fn announce_end(&self, now: u64, entry: &SessionEntry, reason: EndReason, killed: u32) {
        self.announce(now, entry, Change::Ended { reason, queries_killed: killed });
    }
}
