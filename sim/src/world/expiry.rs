//! What the cluster decides about time, judged at every step:
//!
//! - **No premature expiry.** No session ends by expiry at meta while some node saw it active
//!   within the idle timeout, less the slack an asynchronous cluster cannot avoid (a sync round,
//!   the messages, two clock skews), nor while it runs a query that started before that slack;
//!   unless a holder was cut from meta for the holder-silence time (meta must then presume it
//!   dead) after the activity; and activity seen by a node meta has heard nothing from for the
//!   holder-silence time (meta presumes it dead, and what it sees cannot reach meta) does not
//!   count. Activity is a use that succeeded on a live session, as the simulator saw it: a query
//!   begun, a login answered, a long query's end (a request that finds its session past its
//!   idle deadline is no activity: its -1002 is right).
//! - **Convergence.** Meta's record of a session never moves backwards (newest activity, time of
//!   its space), and on the healed network it reaches each holder's activity within the sync
//!   bound (`check_converged`, from the liveness phase); so do the nodes' spaces
//!   (`space_converge.rs`).

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
    /// Meta's record of each live session as last seen, by id: (newest activity, time of its
    /// space).
    records: Vec<(SessionId, (u64, u64))>,
    /// The buffer the next comparison fills (kept to reuse its allocation).
    records_spare: Vec<(SessionId, (u64, u64))>,
    /// Whether meta took an input since its records were last compared.
    pub(super) meta_changed: bool,
    /// Whether a node saw activity since the ended sessions were last looked for.
    activity_added: bool,
    /// Meta's change-log position when the ended sessions were last looked for: every end of a
    /// session at meta moves it, so while it stands (and no activity came) none ended.
    ended_seen_seq: Option<u64>,
    /// Per node: since when its link to meta has been cut, and its earlier cut runs.
    meta_cut_since: Vec<Option<u64>>,
    meta_cuts: Vec<VecDeque<(u64, u64)>>,
    /// The nodes cut from meta at the last look, as bits.
    meta_cut_bits: u64,
    /// An empty list to swap with a node's list of activity.
    active_spare: Vec<SessionId>,
    /// Whether a link was cut or healed since the cut runs were last updated.
    pub(super) links_changed: bool,
    /// Per node: when meta last handled one of its requests (true time, meta's clock), if ever.
    meta_heard_ms: Vec<Option<u64>>,
}

impl ClusterWorld {
    /// Node `index` saw `session` active now (true time).
    fn note_activity(&mut self, session: SessionId, index: usize) {
        self.time_oracles.activity.insert((session, index), self.now_ms);
        self.time_oracles.activity_added = true;
    }

    /// Meta handled a request of node `index` now: the node's silence at meta starts again.
    pub(super) fn note_meta_heard(&mut self, index: usize) {
        let heard = &mut self.time_oracles.meta_heard_ms;
        if heard.len() <= index {
            heard.resize(index + 1, None);
        }
        heard[index] = Some(self.now_ms);
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

    /// Updates the nodes' meta-link cut runs (after each step that cut or healed a link: the
    /// runs change only when the set of cut links does). The cut links are read in one walk of
    /// the partitions' node-meta part (their end).
    fn watch_meta_links(&mut self) {
        let nodes = self.nodes.len();
        let oracles = &mut self.time_oracles;
        if !std::mem::take(&mut oracles.links_changed) && oracles.meta_cut_since.len() == nodes {
            return;
        }
        let mut cut = 0_u64;
        // Node-meta links sort after every client-node link: read from the back.
        for link in self.partitions.iter().rev() {
            let Link::NodeMeta { node } = link else { break };
            cut |= 1 << (node % 64);
        }
        let oracles = &mut self.time_oracles;
        if oracles.meta_cut_since.len() != nodes {
            oracles.meta_cut_since.resize(nodes, None);
            oracles.meta_cuts.resize_with(nodes, VecDeque::new);
        }
        if cut == oracles.meta_cut_bits {
            return;
        }
        oracles.meta_cut_bits = cut;
        for index in 0..nodes {
            let cut = cut & (1 << (index % 64)) != 0;
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

    /// Whether meta presumes node `index` dead now: it has handled no request of the node for
    /// the holder-silence time (as the simulator delivered them), so activity the node saw
    /// since cannot have reached meta and keeps nothing alive there.
    fn presumed_dead_now(&self, index: usize) -> bool {
        let silence_ms = self.meta_config.holder_silence_ms;
        let heard = self.time_oracles.meta_heard_ms.get(index).copied().flatten();
        heard.is_some_and(|at| self.now_ms.saturating_sub(at) >= silence_ms)
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
        // A node notes activity only while it takes an input.
        let nodes = if self.last_step.servers { self.nodes.len() } else { 0 };
        for index in 0..nodes {
            if self.nodes[index].active.is_empty() {
                continue;
            }
            // Swapped with a kept buffer, so that neither list is allocated again.
            let mut active = std::mem::take(&mut self.time_oracles.active_spare);
            std::mem::swap(&mut active, &mut self.nodes[index].active);
            for &session in &active {
                self.note_activity(session, index);
            }
            active.clear();
            self.time_oracles.active_spare = active;
        }
        if self.healed && self.step % super::space_converge::SPACES_EVERY_STEPS == 0 {
            self.check_spaces_converged()?;
        }
        // Expiries and records change only with meta's inputs.
        if !std::mem::take(&mut self.time_oracles.meta_changed) {
            return Ok(());
        }
        let seq = Some(self.meta.changes_seq());
        if std::mem::take(&mut self.time_oracles.activity_added)
            || self.time_oracles.ended_seen_seq != seq
        {
            self.time_oracles.ended_seen_seq = seq;
            self.judge_ended()?;
        }
        self.check_records_monotonic()
    }

    /// The newest activity any live node saw, per session that meta has ended since the last
    /// look: an expiry among them is judged.
    fn judge_ended(&mut self) -> Checked {
        // Per ended session: the newest activity a node meta can hear saw (`None` when only
        // nodes meta presumes dead saw any: what they saw cannot reach meta), and why it ended.
        let mut ended: BTreeMap<SessionId, (Option<u64>, GoneReason)> = BTreeMap::new();
        for (&(session, index), &at) in &self.time_oracles.activity {
            if let Some(reason) = self.meta.gone_reason(session) {
                let entry = ended.entry(session).or_insert((None, reason));
                if !self.presumed_dead_now(index) {
                    entry.0 = Some(entry.0.map_or(at, |newest| newest.max(at)));
                }
            }
        }
        self.time_oracles.activity.retain(|(session, _), _| !ended.contains_key(session));
        for (session, (active_at_ms, reason)) in ended {
            if let (Some(active_at_ms), GoneReason::Expired) = (active_at_ms, reason) {
                self.judge_expiry(session, active_at_ms)?;
            }
        }
        Ok(())
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

    /// Meta's record of a live session never moves backwards. One merge of meta's live records
    /// (by id) with the ones seen last time (by id), into a reused buffer.
    fn check_records_monotonic(&mut self) -> Checked {
        let oracles = &mut self.time_oracles;
        let mut seen = std::mem::take(&mut oracles.records_spare);
        seen.clear();
        let before = &oracles.records;
        let mut at = 0;
        let mut regressed = None;
        for record in self.meta.live_records() {
            let session = record.session;
            let now = (record.last_activity_unix_ms, record.space_set_unix_ms);
            while before.get(at).is_some_and(|(old, _)| *old < session) {
                at += 1;
            }
            if let Some(&(old, then)) = before.get(at) {
                if old == session && (now.0 < then.0 || now.1 < then.1) && regressed.is_none() {
                    regressed = Some((session, then, now));
                }
            }
            seen.push((session, now));
        }
        oracles.records_spare = std::mem::replace(&mut oracles.records, seen);
        if let Some((session, before, now)) = regressed {
            return Err(format!(
                "[record_regressed] meta's record of session {session} moved backwards: \
                 (activity, space time) {before:?} -> {now:?}; expected the newest report to win"
            ));
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
        self.check_spaces_converged()
    }
}
