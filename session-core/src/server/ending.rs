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
use crate::server::metrics::Counters;
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
    pub(crate) fn end_session(&self, now: u64, id: SessionId, reason: EndReason) -> Option<u32> {
        let (entry, _) = self.take_session(id)?;
        Some(self.release_ended(now, self.shard(id), &entry, reason))
    }

    /// Takes session `id` out of its shard's map and marks it ended; returns it with its last
    /// activity (Unix ms). The caller must [`release_ended`](Self::release_ended) it.
    pub(crate) fn take_session(&self, id: SessionId) -> Option<(Arc<SessionEntry>, u64)> {
        self.shard(id).write().take(id)
    }

    /// The part of a session's end after it left its shard's map (and was marked ended): the
    /// counts, its queries, the statistics, the event. Returns the queries killed.
    pub(crate) fn release_ended(
        &self,
        now: u64,
        shard: &Shard,
        entry: &Arc<SessionEntry>,
        reason: EndReason,
    ) -> u32 {
        self.user_ip.release(&entry.pair);
        self.node_count.release();
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
        let counter = match reason {
            EndReason::Expired { .. } => &self.counters.expired,
            EndReason::Killed { .. } | EndReason::EndedElsewhere => &self.counters.killed,
            EndReason::SignedOut => &self.counters.signed_out,
            EndReason::UserDropped => &self.counters.user_dropped,
        };
        Counters::bump(counter);
        // An event only: the session is gone, so its own history would never be read again.
        let change = Change::Ended { reason, queries_killed: closed.queries_killed };
        self.announce(now, entry, change);
        closed.queries_killed
    }
}
