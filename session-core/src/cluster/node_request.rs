//! The node's timer and the building of one sync round: which sessions go in it (created ones
//! first, then changed ones in turn, at most `sync_batch_sessions_max`), which are idle votes,
//! and every unacknowledged removal, kill and pick-up.

use std::collections::BTreeMap;

use graphsession_id_gen::SessionId;

use crate::cluster::local::LocalSessions;
use crate::cluster::messages::{IdleVote, ReloadFrom, Removal, Request, RequestId, SessionReport};
use crate::cluster::node::{Flight, NodeSync, Reload, Sent};

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
            Flight::BackingOff { resend_unix_ms, .. } => {
                if now >= resend_unix_ms {
                    self.send(now, local);
                }
            }
            Flight::Idle { next_round_unix_ms } => {
                if self.urgent() || now >= next_round_unix_ms {
                    self.send(now, local);
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

    fn send(&mut self, now: u64, local: &impl LocalSessions) {
        self.round += 1;
        let id = RequestId { incarnation: self.incarnation, round: self.round };
        let held: BTreeMap<SessionId, SessionReport> =
            local.sessions().into_iter().map(|report| (report.session, report)).collect();
        // A session dropped locally is neither announced nor reported any more.
        self.unannounced.retain(|id| held.contains_key(id));
        let dropped: Vec<SessionId> =
            self.acked.keys().filter(|id| !held.contains_key(id)).copied().collect();
        for id in dropped {
            self.acked.remove(&id);
            if !self.removals.contains_key(&id) {
                self.releases.insert(id);
            }
        }
        // Held again (picked up anew): nothing to release.
        self.releases.retain(|id| !held.contains_key(id));
        let batch_max = self.config.sync_batch_sessions_max as usize;
        let created: Vec<SessionReport> = self
            .unannounced
            .iter()
            .filter_map(|id| held.get(id).cloned())
            .take(batch_max)
            .collect();
        let updated = self.changed_in_turn(&held, batch_max - created.len());
        let idle = self.idle_votes(now, &held, batch_max);
        let released: Vec<SessionId> = self.releases.iter().copied().take(batch_max).collect();
        let request = Request {
            id,
            changes_seen_seq: self.cursor,
            reload: match self.reload {
                Reload::Pending { after } => Some(ReloadFrom { after }),
                Reload::Done => None,
            },
            created: created.clone(),
            updated: updated.clone(),
            idle,
            removals: (self.removals.iter())
                .map(|(&session, &reason)| Removal { session, reason })
                .take(batch_max)
                .collect(),
            query_kills: self.query_kills.values().take(batch_max).cloned().collect(),
            released: released.clone(),
            pick_ups: self.pick_ups.iter().copied().take(batch_max).collect(),
            show_sessions: self.show_wanted,
        };
        let mut reports = created;
        reports.extend(updated);
        self.flight = Flight::Awaiting {
            sent: Sent { id, reports, released },
            timeout_unix_ms: now.saturating_add(self.config.request_timeout_ms),
            next_round_unix_ms: now.saturating_add(self.config.sync_interval_ms),
        };
        self.outbox = Some(request);
    }

    /// Sessions whose state differs from what meta acknowledged, starting after the last one
    /// reported so that none starves; sets `backlog` when more remain than fit.
    fn changed_in_turn(
        &mut self,
        held: &BTreeMap<SessionId, SessionReport>,
        room: usize,
    ) -> Vec<SessionReport> {
        let changed = |report: &&SessionReport| {
            !self.unannounced.contains(&report.session)
                && self.acked.get(&report.session).is_none_or(|acked| differs(acked, report))
        };
        let start = self.rotation;
        let after = held.values().filter(|report| start.is_none_or(|id| report.session > id));
        let before = held.values().filter(|report| start.is_some_and(|id| report.session <= id));
        let dirty: Vec<&SessionReport> = after.chain(before).filter(changed).collect();
        self.backlog = dirty.len() > room;
        let batch: Vec<SessionReport> = dirty.into_iter().take(room).cloned().collect();
        if self.backlog {
            self.rotation = batch.last().map(|report| report.session);
        }
        batch
    }

    /// Sessions idle here for the idle timeout with no running query: this node's expiry
    /// votes. Meta decides (a node never ends a session on its own timer, issue 5094).
    fn idle_votes(
        &self,
        now: u64,
        held: &BTreeMap<SessionId, SessionReport>,
        batch_max: usize,
    ) -> Vec<IdleVote> {
        let idle_timeout_ms = self.config.idle_timeout_ms;
        held.values()
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

/// Whether `now` says something meta has not acknowledged.
fn differs(acked: &SessionReport, now: &SessionReport) -> bool {
    now.last_activity_unix_ms > acked.last_activity_unix_ms
        || now.running_queries != acked.running_queries
        || now.space_set_unix_ms != acked.space_set_unix_ms
        || now.space != acked.space
}
