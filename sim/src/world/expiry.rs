//! What the cluster decides about time, judged at every step:
//!
//! - **No premature expiry.** No session ends by expiry at meta while some node saw it active
//!   within the idle timeout, less the slack an asynchronous cluster cannot avoid (a sync round,
//!   the messages, two clock skews), nor while it runs a query that started before that slack;
//!   unless a holder was cut from meta for the holder-silence time (meta must then presume it
//!   dead). Activity is a use that succeeded on a live session, as the simulator saw it: a query
//!   begun, a login answered, a long query's end (a request that finds its session past its
//!   idle deadline is no activity: its -1002 is right).
//! - **Convergence.** Meta's record of a session never moves backwards (newest activity, time of
//!   its space), and on the healed network it reaches each holder's activity within the sync
//!   bound (`check_converged`, from the liveness phase).

use std::collections::{BTreeMap, VecDeque};

use graphsession_core::cluster::GoneReason;
use graphsession_id_gen::SessionId;

use crate::world::{Checked, ClusterWorld, Link};

/// Cut runs remembered per node (older ones end before any window still judged).
const CUT_RUNS_MAX: usize = 32;

/// What the oracles keep between steps.
#[derive(Debug, Default)]
pub(super) struct TimeOracles {
    /// The newest activity each node saw of each session not yet ended (true time). A node that
    /// crashes loses what it saw and had not reported: its entries go with it.
    activity: BTreeMap<(SessionId, usize), u64>,
    /// Meta's record of each live session as last seen: (newest activity, time of its space).
    records: BTreeMap<SessionId, (u64, u64)>,
    /// Whether meta took an input since its records were last compared.
    pub(super) meta_changed: bool,
    /// Per node: since when its link to meta has been cut, and its earlier cut runs.
    meta_cut_since: Vec<Option<u64>>,
    meta_cuts: Vec<VecDeque<(u64, u64)>>,
}

impl ClusterWorld {
    /// Node `index` saw `session` active now (true time).
    fn note_activity(&mut self, session: SessionId, index: usize) {
        self.time_oracles.activity.insert((session, index), self.now_ms);
    }

    /// Node `index` crashed: what it saw is gone with it.
    pub(super) fn forget_activity_of(&mut self, index: usize) {
        self.time_oracles.activity.retain(|&(_, node), _| node != index);
    }

    /// What an asynchronous cluster cannot avoid between a session's last activity and meta's
    /// knowledge of it.
    fn expiry_slack_ms(&self) -> u64 {
        self.config.sync_interval_ms
            + 4 * self.config.latency_max_ms
            + 2 * self.config.clock_skew_max_ms
            + 100
    }

    /// Updates the nodes' meta-link cut runs (after each step).
    fn watch_meta_links(&mut self) {
        let nodes = self.nodes.len();
        let oracles = &mut self.time_oracles;
        oracles.meta_cut_since.resize(nodes, None);
        oracles.meta_cuts.resize_with(nodes, VecDeque::new);
        for index in 0..nodes {
            let node = u16::try_from(index).unwrap_or(0);
            let cut = self.partitions.contains(&Link::NodeMeta { node });
            match (cut, oracles.meta_cut_since[index]) {
                (true, None) => oracles.meta_cut_since[index] = Some(self.now_ms),
                (false, Some(since)) => {
                    oracles.meta_cut_since[index] = None;
                    let runs = &mut oracles.meta_cuts[index];
                    if runs.len() == CUT_RUNS_MAX {
                        runs.pop_front();
                    }
                    runs.push_back((since, self.now_ms));
                }
                _ => {}
            }
        }
    }

    /// Whether some node's link to meta was cut, without a break, for the holder-silence time
    /// at some point after `from_ms`.
    fn holder_presumed_dead_since(&self, from_ms: u64) -> bool {
        let silence_ms = self.meta_config.holder_silence_ms;
        let oracles = &self.time_oracles;
        (0..oracles.meta_cuts.len()).any(|index| {
            let current = oracles.meta_cut_since[index].map(|since| (since, self.now_ms));
            (oracles.meta_cuts[index].iter().copied().chain(current))
                .any(|(start, end)| end.saturating_sub(start.max(from_ms)) >= silence_ms)
        })
    }

    /// The time oracles after each step.
    pub(super) fn check_time(&mut self) -> Checked {
        self.watch_meta_links();
        for index in 0..self.nodes.len() {
            for session in std::mem::take(&mut self.nodes[index].active) {
                self.note_activity(session, index);
            }
        }
        // Expiries and records change only with meta's inputs.
        if !std::mem::take(&mut self.time_oracles.meta_changed) {
            return Ok(());
        }
        // The newest activity any live node saw, per session that meta has ended.
        let mut ended: BTreeMap<SessionId, (u64, GoneReason)> = BTreeMap::new();
        for (&(session, _), &at) in &self.time_oracles.activity {
            if let Some(reason) = self.meta.gone_reason(session) {
                let entry = ended.entry(session).or_insert((at, reason));
                entry.0 = entry.0.max(at);
            }
        }
        self.time_oracles.activity.retain(|(session, _), _| !ended.contains_key(session));
        for (session, (active_at_ms, reason)) in ended {
            if reason == GoneReason::Expired {
                self.judge_expiry(session, active_at_ms)?;
            }
        }
        self.check_records_monotonic()
    }

    fn judge_expiry(&self, session: SessionId, active_at_ms: u64) -> Checked {
        let slack_ms = self.expiry_slack_ms();
        let idle_ms = self.config.idle_timeout_ms;
        if self.holder_presumed_dead_since(active_at_ms) {
            return Ok(());
        }
        let quiet_ms = self.now_ms.saturating_sub(active_at_ms);
        if quiet_ms + slack_ms < idle_ms {
            return Err(format!(
                "[premature_expiry] meta expired session {session} {quiet_ms} ms after its last \
                 activity; expected at least the idle timeout {idle_ms} ms less the slack \
                 {slack_ms} ms"
            ));
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let node_now = self.node_now(index);
            let running = node.running.iter().find(|query| {
                query.key.session == session
                    && query.handle.check().is_ok()
                    && query.started_at_ms + slack_ms <= node_now
            });
            if let Some(query) = running {
                return Err(format!(
                    "[expired_with_running_query] meta expired session {session} while node \
                     {index} runs its query {:?} (started at {} ms, now {node_now} ms); \
                     expected a session with a running query never to expire",
                    query.key, query.started_at_ms
                ));
            }
        }
        Ok(())
    }

    /// Meta's record of a live session never moves backwards.
    fn check_records_monotonic(&mut self) -> Checked {
        let live: Vec<SessionId> = self.meta.live_sessions().collect();
        let records = &mut self.time_oracles.records;
        records.retain(|session, _| live.binary_search(session).is_ok());
        for session in live {
            let Some(record) = self.meta.session(session) else { continue };
            let now = (record.last_activity_unix_ms, record.space_set_unix_ms);
            if let Some(&before) = records.get(&session) {
                if now.0 < before.0 || now.1 < before.1 {
                    return Err(format!(
                        "[record_regressed] meta's record of session {session} moved backwards: \
                         (activity, space time) {before:?} -> {now:?}; expected the newest \
                         report to win"
                    ));
                }
            }
            records.insert(session, now);
        }
        Ok(())
    }

    /// On the healed network: meta's record of each session reached every holder's activity
    /// older than the sync bound.
    pub(super) fn check_converged(&self) -> Checked {
        let bound_ms = 2 * self.config.sync_interval_ms + 4 * self.config.latency_max_ms + 100;
        for (index, node) in self.nodes.iter().enumerate() {
            let node_now = self.node_now(index);
            for (session, activity_ms) in node.registry().session_activity() {
                let Some(record) = self.meta.session(session) else { continue };
                if activity_ms + bound_ms <= node_now && record.last_activity_unix_ms < activity_ms
                {
                    return Err(format!(
                        "[not_converged] meta's record of session {session} says last activity \
                         {} ms; node {index} saw it at {activity_ms} ms, more than {bound_ms} ms \
                         ago on the healed network",
                        record.last_activity_unix_ms
                    ));
                }
            }
        }
        Ok(())
    }
}
