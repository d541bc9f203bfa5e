//! The node's timer and the building of one sync round: which sessions go in it (created ones
//! first, then changed ones in turn, at most `sync_batch_sessions_max`), which are idle votes,
//! and every unacknowledged removal, kill and pick-up.

use graphsession_id_gen::SessionId;

use crate::cluster::local::{LocalSessions, SessionState};
use crate::cluster::messages::{IdleVote, ReloadFrom, Removal, Request, RequestId, SessionReport};
use crate::cluster::node::{Acked, Flight, NodeSync, Reload, Sent};

impl NodeSync {
    /// The timer: abandons a request past its timeout (its content goes in the next one), and
    /// sends a round when one is due or urgent. Reads the node's sessions from `local`.
    pub fn handle_timeout(&mut self, now_unix_ms: u64, local: &impl LocalSessions) {
        let now = self.observe(now_unix_ms);
        match self.flight {
            Flight::Awaiting { timeout_unix_ms, next_round_unix_ms, .. } => {
                if now < timeout_unix_ms {
                    return;
                }
                self.back_off(now, next_round_unix_ms);
            }
            Flight::BackingOff { resend_unix_ms, next_round_unix_ms } => {
                if now >= resend_unix_ms {
                    self.send(now, local, next_round_unix_ms);
                }
            }
            Flight::Idle { next_round_unix_ms } => {
                if self.urgent() || now >= next_round_unix_ms {
                    self.send(now, local, next_round_unix_ms);
                }
            }
        }
    }

    /// Waits before sending again: `retry_backoff_ms`, doubling per consecutive failure.
    pub(crate) fn back_off(&mut self, now: u64, next_round_unix_ms: u64) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let shift = self.consecutive_failures.saturating_sub(1).min(20);
        let wait_ms = self
            .config
            .retry_backoff_ms
            .saturating_mul(1 << shift)
            .min(self.config.retry_backoff_max_ms);
        let resend_unix_ms = now.saturating_add(wait_ms);
        self.flight = Flight::BackingOff { resend_unix_ms, next_round_unix_ms };
    }

    /// Sends the next round. It is a **full round** when the periodic one is due (at
    /// `due_unix_ms`, every `sync_interval_ms`) or changed sessions are left over from the last:
    /// it reads every session held, reports the changed ones and the idle votes, and lets go of
    /// those no longer held. Any other round is **urgent** (a login to announce, a removal, a
    /// pick-up, a kill, SHOW SESSIONS, the start-up reload): it carries only those, looking up
    /// each announced session on its own, so its cost does not grow with the sessions held, and
    /// it leaves the periodic round where it was.
    fn send(&mut self, now: u64, local: &impl LocalSessions, due_unix_ms: u64) {
        let full = now >= due_unix_ms || self.backlog;
        self.round += 1;
        let id = RequestId { incarnation: self.incarnation, round: self.round };
        let batch_max = self.config.sync_batch_sessions_max as usize;
        let (created, updated, idle) = if full {
            self.full_reports(now, local, batch_max)
        } else {
            (self.announced_reports(local, batch_max), Vec::new(), Vec::new())
        };
        let released: Vec<SessionId> = self.releases.iter().copied().take(batch_max).collect();
        let shown: Vec<SessionId> = self.shown_wanted.iter().copied().take(batch_max).collect();
        // The node's queries, when they differ from what meta holds (its list replaces it).
        let queries = local.queries(
            self.config.reported_queries_max as usize,
            self.config.reported_statement_bytes_max as usize,
        );
        let queries = (self.acked_queries.as_ref() != Some(&queries)).then_some(queries);
        let reports = created.iter().chain(&updated);
        let reports = reports.map(|report| (report.session, Acked::of(report))).collect();
        let request = Request {
            id,
            changes_seen_seq: self.cursor,
            reload: match self.reload {
                Reload::Pending { after } => Some(ReloadFrom { after }),
                Reload::Done => None,
            },
            created,
            updated,
            idle,
            removals: (self.removals.iter())
                .map(|(&session, &reason)| Removal { session, reason })
                .take(batch_max)
                .collect(),
            query_kills: self.query_kills.values().take(batch_max).cloned().collect(),
            released: released.clone(),
            pick_ups: self.pick_ups.iter().copied().take(batch_max).collect(),
            show_sessions: self.show_wanted,
            queries: queries.clone(),
            show_queries: self.queries_wanted,
            show_session_ids: shown.clone(),
        };
        let next_round_unix_ms = match full {
            true => now.saturating_add(self.config.sync_interval_ms),
            false => due_unix_ms,
        };
        self.flight = Flight::Awaiting {
            sent: Sent { id, reports, released, queries, shown },
            timeout_unix_ms: now.saturating_add(self.config.request_timeout_ms),
            next_round_unix_ms,
        };
        self.outbox = Some(request);
    }

    /// A full round's reports: every session held is read (O(n), in the light form of
    /// [`LocalSessions::session_states`]); the created ones first, then the changed ones in
    /// turn, and the idle votes; only the sessions reported are read whole. Sessions no longer
    /// held are let go of.
    fn full_reports(
        &mut self,
        now: u64,
        local: &impl LocalSessions,
        batch_max: usize,
    ) -> (Vec<SessionReport>, Vec<SessionReport>, Vec<IdleVote>) {
        let held = by_id(local.session_states());
        let holds = |session: &SessionId| find(&held, *session).is_some();
        // A session dropped locally is neither announced nor reported any more. Meta may hold it
        // all the same (a create applied whose answer was lost): release it, which is a no-op
        // at meta if the create never arrived.
        let (removals, releases) = (&self.removals, &mut self.releases);
        self.unannounced.retain(|session| {
            let kept = holds(session);
            if !kept && !removals.contains_key(session) {
                releases.insert(*session);
            }
            kept
        });
        // The acknowledged sessions are visited in id order, as `held` is sorted: one walk of
        // both lists instead of a search per session (a full round at 200,000 sessions held).
        let mut walk = held.iter().peekable();
        self.acked.retain(|session, _| {
            while walk.next_if(|state| state.session < *session).is_some() {}
            let kept = walk.peek().is_some_and(|state| state.session == *session);
            if !kept && !removals.contains_key(session) {
                releases.insert(*session);
            }
            kept
        });
        // Dropped here before meta confirmed it: nothing is left to serve.
        self.unconfirmed.retain(|session| holds(session));
        // Held again (picked up anew): nothing to release.
        self.releases.retain(|session| !holds(session));
        // Every unannounced session is held (retained above), so each finds its state.
        let created: Vec<usize> = (self.unannounced.iter())
            .filter_map(|&session| find(&held, session))
            .take(batch_max)
            .collect();
        let updated = self.changed_in_turn(&held, batch_max - created.len());
        let idle = self.idle_votes(now, &held, batch_max);
        (reports_at(local, &held, created), reports_at(local, &held, updated), idle)
    }

    /// An urgent round's reports: the sessions to announce, each looked up on its own
    /// (O(log n) apiece). One no longer held is let go of as a full round would; the releases
    /// sent are checked the same way, so none names a session held again.
    fn announced_reports(
        &mut self,
        local: &impl LocalSessions,
        batch_max: usize,
    ) -> Vec<SessionReport> {
        let mut created = Vec::new();
        let (removals, releases) = (&self.removals, &mut self.releases);
        self.unannounced.retain(|&session| match local.session(session) {
            Some(report) => {
                if created.len() < batch_max {
                    created.push(report);
                }
                true
            }
            None => {
                if !removals.contains_key(&session) {
                    releases.insert(session);
                }
                false
            }
        });
        self.releases.retain(|&session| !local.holds(session));
        created
    }

    /// The positions in `held` of sessions whose state differs from what meta acknowledged,
    /// starting after the last one reported so that none starves, at most `room` of them; sets
    /// `backlog` when more remain than fit.
    fn changed_in_turn(&mut self, held: &[SessionState], room: usize) -> Vec<usize> {
        if held.is_empty() {
            self.backlog = false;
            return Vec::new();
        }
        let changed = self.changed_flags(held);
        // `held` is by id: those after the rotation point come first, then the rest.
        let split = self.rotation.map_or(0, |last| held.partition_point(|r| r.session <= last));
        let in_turn = (split..held.len()).chain(0..split);
        let mut dirty = in_turn.filter(|&index| changed.get(index).copied().unwrap_or(false));
        let batch: Vec<usize> = dirty.by_ref().take(room).collect();
        let backlog = dirty.next().is_some();
        self.backlog = backlog;
        if backlog {
            self.rotation = batch.last().and_then(|&index| held.get(index)).map(|r| r.session);
        }
        batch
    }

    /// Whether each session of `held` (by id) is announced and differs from what meta
    /// acknowledged, or was never acknowledged: one walk of `held` beside the acknowledged
    /// sessions, which are in id order too.
    fn changed_flags(&self, held: &[SessionState]) -> Vec<bool> {
        let mut acked = self.acked.iter().peekable();
        (held.iter())
            .map(|state| {
                while acked.next_if(|(session, _)| **session < state.session).is_some() {}
                let seen = acked.peek().filter(|(session, _)| **session == state.session);
                !self.unannounced.contains(&state.session)
                    && seen.is_none_or(|(_, acked)| acked.differs(state))
            })
            .collect()
    }

    /// Sessions idle here for the idle timeout with no running query: this node's expiry
    /// votes. Meta decides (a node never ends a session on its own timer; NebulaGraph issue
    /// 5094, see docs/fixes.md).
    fn idle_votes(&self, now: u64, held: &[SessionState], batch_max: usize) -> Vec<IdleVote> {
        let idle_timeout_ms = self.config.idle_timeout_ms;
        held.iter()
            .filter(|report| !self.unannounced.contains(&report.session))
            .filter(|report| report.running_queries == 0)
            .filter(|report| report.last_activity_unix_ms.saturating_add(idle_timeout_ms) <= now)
            .map(|report| IdleVote {
                session: report.session,
                last_activity_unix_ms: report.last_activity_unix_ms,
                voted_unix_ms: now,
            })
            .take(batch_max)
            .collect()
    }
}

/// The node's sessions by id, one state each, as a map collected from `states` would hold
/// them (of two states of one session, the later). The registry lists them by id already
/// (the server does), which costs one look here.
fn by_id(mut states: Vec<SessionState>) -> Vec<SessionState> {
    if !states.is_sorted_by(|a, b| a.session < b.session) {
        // Reversed, a stable sort puts the later of two states of a session first, and
        // `dedup` keeps the first of each run.
        states.reverse();
        states.sort_by_key(|state| state.session);
        states.dedup_by_key(|state| state.session);
    }
    states
}

/// The whole reports of the sessions at `positions` in `held`, read one by one for the request
/// (the registry finds each directly). A session the registry no longer holds between the two
/// reads (a host whose registry another thread changes) is left out: the next full round lets
/// go of it.
fn reports_at(
    local: &impl LocalSessions,
    held: &[SessionState],
    positions: Vec<usize>,
) -> Vec<SessionReport> {
    (positions.into_iter())
        .filter_map(|index| held.get(index))
        .filter_map(|state| local.session(state.session))
        .collect()
}

/// The position of `session`'s state in `held` (by id).
fn find(held: &[SessionState], session: SessionId) -> Option<usize> {
    held.binary_search_by_key(&session, |state| state.session).ok()
}

#[cfg(test)]
mod tests {
    //! `by_id` against the map it replaces.

    use std::collections::BTreeMap;

    use graphsession_id_gen::SessionId;

    use super::by_id;
    use crate::cluster::local::SessionState;
    use crate::cluster::messages::SessionReport;

    fn state(id: i64, last_activity_unix_ms: u64) -> SessionState {
        SessionState::of(&SessionReport {
            last_activity_unix_ms,
            ..SessionReport::logged_in(SessionId::new(id).unwrap(), "user", "127.0.0.1", 0)
        })
    }

    #[test]
    fn states_by_id_are_what_a_map_collected_from_them_holds() {
        let cases = [
            vec![],
            vec![state(1, 0), state(2, 0), state(5, 0)],
            vec![state(5, 0), state(1, 0), state(2, 0)],
            vec![state(2, 1), state(1, 0), state(2, 2), state(3, 0), state(2, 3)],
            vec![state(4, 1), state(4, 2)],
        ];
        for states in cases {
            let map: BTreeMap<SessionId, SessionState> =
                states.iter().map(|state| (state.session, state.clone())).collect();
            let expected: Vec<SessionState> = map.into_values().collect();
            assert_eq!(by_id(states), expected);
        }
    }
}
