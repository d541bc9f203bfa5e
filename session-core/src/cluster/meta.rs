//! The meta store as a state machine: [`MetaStore::handle_request`] applies one node's sync
//! round and returns its answer. The host keeps the store's state in a replicated store (see
//! docs/cluster-protocol.md for the contract) and runs one `MetaStore` on the leader.
//!
//! A request is applied in a fixed order: the reset of a restarted node, removals, releases,
//! created sessions, updated sessions, expiry votes, the node's queries, KILL QUERY (checked
//! against every holder's queries), pick-ups, the reload and SHOW pages, then the change-log scan. So a session removed by a request is never recreated by the
//! same request, and the answer reflects the state after the whole request.
//!
//! A create of an id meta already knows is a retry (its answer was lost) only from the node that
//! created it: one of its holders reporting the same login, or a holder its tombstone records.
//! From any other node it is a second session with the same id (graph servers sealing ids with
//! different keys can issue one: id-gen's `SealKey`), refused as `GoneReason::Refused` with
//! nothing changed, so the creating node fails that login and the first session keeps its
//! record, holders, activity and space (docs/fixes.md, fix 1).

pub(super) mod answer;
mod invariants;
pub(super) mod state;

use std::collections::BTreeMap;
use std::ops::Bound;

use graphsession_id_gen::SessionId;

use crate::cluster::config::MetaConfig;
use crate::cluster::error::ConfigError;
use crate::cluster::messages::{
    Answer, Gone, GoneReason, IdleVote, NodeId, QueryKill, QueryKillResult, QueryReport, Refusal,
    Removal, RemovalOutcome, Reply, Request, SessionRecord, SessionReport,
};
use crate::cluster::meta::state::{EntryState, Holder, Live, MetaState, NodeEntry};

/// The meta-side session store of a cluster.
///
/// # Call order
///
/// 1. [`new`](Self::new), or [`restore`](Self::restore) from the replicated store.
/// 2. For each request a node sends: [`handle_request`](Self::handle_request), then persist
///    ([`snapshot`](Self::snapshot)) before the answer leaves (see docs/cluster-protocol.md), then
///    send the answer back to that node.
/// 3. Timer: call [`handle_timeout`](Self::handle_timeout) when
///    [`poll_timeout`](Self::poll_timeout) says (a spurious call only collects garbage early,
///    which is harmless).
///
/// `now` is meta's clock, Unix ms; one older than a `now` already seen is clamped to it.
#[derive(Debug, Clone)]
pub struct MetaStore {
    pub(crate) config: MetaConfig,
    pub(crate) state: MetaState,
    /// When the timer is due next: set when it runs, so a steady stream of requests (each moves
    /// the clock) cannot push it away forever. Not persisted: a restored store is due at once.
    pub(crate) timer_due_unix_ms: u64,
}

impl MetaStore {
    /// An empty store.
    pub fn new(config: MetaConfig) -> Result<MetaStore, ConfigError> {
        config.validate()?;
        Ok(MetaStore { config, state: MetaState::default(), timer_due_unix_ms: 0 })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &MetaConfig {
        &self.config
    }

    fn observe(&mut self, now_unix_ms: u64) -> u64 {
        self.state.clock.observe(now_unix_ms)
    }

    /// Applies `node`'s `request` at `now_unix_ms` and returns the answer for `node`.
    /// A refused request changes nothing but the clock.
    ///
    /// Unlike the other machines' inputs, this one returns its output: a request has exactly one
    /// answer, for its sender, decided at once (ARCHITECTURE.md, "One machine shape").
    pub fn handle_request(&mut self, now_unix_ms: u64, node: NodeId, request: Request) -> Answer {
        self.observe(now_unix_ms);
        if let Err(refusal) = self.admit(node, &request) {
            return Answer::Refused { id: request.id, refusal };
        }
        let mut reply = empty_reply(&request);
        if request.reload.is_some_and(|from| from.after.is_none()) {
            // A new process of this node: before anything it reports is applied.
            self.reset_holder(node);
        }
        for removal in &request.removals {
            reply.removals.push(self.remove(node, *removal));
        }
        for &session in &request.released {
            self.release(node, session);
        }
        for report in &request.created {
            self.create(node, report, &mut reply);
        }
        for report in &request.updated {
            self.update(node, report, &mut reply);
        }
        for &vote in &request.idle {
            self.vote_idle(node, vote, &mut reply);
        }
        if let Some(queries) = &request.queries {
            self.report_queries(node, queries);
        }
        for kill in &request.query_kills {
            reply.query_kills.push((kill.key, self.record_kill(kill)));
        }
        for &session in &request.pick_ups {
            self.pick_up(node, session, &mut reply);
        }
        let mut shown: Vec<SessionRecord> =
            (request.show_session_ids.iter()).filter_map(|&id| self.session(id).cloned()).collect();
        shown.sort_by_key(|record| record.session);
        shown.dedup_by_key(|record| record.session);
        reply.shown = shown;
        self.finish_reply(node, &request, &mut reply);
        self.state.collect_garbage(
            self.config.tombstone_retention_ms,
            self.config.kill_mark_retention_ms,
        );
        Answer::Reply(reply)
    }

    fn admit(&mut self, node: NodeId, request: &Request) -> Result<(), Refusal> {
        let lengths = [
            request.created.len(),
            request.updated.len(),
            request.idle.len(),
            request.removals.len(),
            request.released.len(),
            request.query_kills.len(),
            request.pick_ups.len(),
            request.queries.as_ref().map_or(0, Vec::len),
            request.show_session_ids.len(),
        ];
        let items_max = self.config.request_items_max;
        if let Some(&count) = lengths.iter().find(|&&len| len > items_max as usize) {
            return Err(Refusal::TooManyItems { count: count as u64, items_max });
        }
        let reports = request.created.iter().chain(&request.updated);
        let texts = reports
            .flat_map(|report| [&report.user, &report.client_ip, &report.space])
            .chain(request.query_kills.iter().map(|kill| &kill.caller_user))
            .chain(request.queries.iter().flatten().map(|query| &query.statement));
        let bytes_max = self.config.text_bytes_max;
        if let Some(text) = texts.into_iter().find(|text| text.len() > bytes_max as usize) {
            return Err(Refusal::TextTooLong { bytes: text.len() as u64, bytes_max });
        }
        let now = self.state.clock.newest();
        let nodes_full = self.state.nodes.len() >= self.config.nodes_max as usize;
        match self.state.nodes.get_mut(&node) {
            Some(entry) if request.id <= entry.last_request => {
                Err(Refusal::Stale { last: entry.last_request })
            }
            Some(entry) => {
                *entry = NodeEntry { last_request: request.id, last_seen_unix_ms: now };
                Ok(())
            }
            None if nodes_full => Err(Refusal::NodesFull { nodes_max: self.config.nodes_max }),
            None => {
                let entry = NodeEntry { last_request: request.id, last_seen_unix_ms: now };
                self.state.nodes.insert(node, entry);
                Ok(())
            }
        }
    }

    /// `node`'s queries now: its list at meta is replaced, kept in (session, plan) order with
    /// each query once (a node's list is a set), and dropped when empty.
    fn report_queries(&mut self, node: NodeId, queries: &[QueryReport]) {
        let mut queries = queries.to_vec();
        queries.sort_by_key(|query| query.key);
        queries.dedup_by_key(|query| query.key);
        if queries.is_empty() {
            self.state.node_queries.remove(&node);
        } else {
            self.state.node_queries.insert(node, queries);
        }
    }

    fn remove(&mut self, node: NodeId, removal: Removal) -> RemovalOutcome {
        let session = removal.session;
        let tombstones_max = self.config.tombstones_max;
        if self.state.remove_live(session, removal.reason.into(), Some(node), tombstones_max) {
            return RemovalOutcome { session, removed: true };
        }
        self.state.remove_unknown(session, removal.reason.into(), node, tombstones_max);
        // A retried removal whose first answer was lost: it was this node's removal.
        let removed = matches!(
            self.state.sessions.get(&session).map(|entry| &entry.state),
            Some(EntryState::Removed(tombstone))
                if tombstone.removed_by == Some(node) && tombstone.ended_live
        );
        RemovalOutcome { session, removed }
    }

    /// `node` no longer holds `session`: it stops counting for its expiry, which may now be due.
    fn release(&mut self, node: NodeId, session: SessionId) {
        let Some(live) = self.state.live_mut(session) else { return };
        if live.holders.remove(&node).is_some() {
            self.try_expire(session);
        }
    }

    /// Registers `node`'s new session, or answers a create of an id meta already knows (see
    /// [`is_retry`]): a retry is an update (its first answer was lost, or the session was removed
    /// meanwhile and the update answers why), anything else is a collision, refused with nothing
    /// changed.
    fn create(&mut self, node: NodeId, report: &SessionReport, reply: &mut Reply) {
        if let Some(entry) = self.state.sessions.get(&report.session) {
            if is_retry(&entry.state, node, report) {
                return self.update(node, report, reply);
            }
            reply.gone.push(Gone { session: report.session, reason: GoneReason::Refused });
            return;
        }
        if self.state.live_count >= self.config.sessions_max {
            reply.gone.push(Gone { session: report.session, reason: GoneReason::Refused });
            return;
        }
        let record = SessionRecord {
            session: report.session,
            user: report.user.clone(),
            client_ip: report.client_ip.clone(),
            space: report.space.clone(),
            space_set_unix_ms: report.space_set_unix_ms,
            created_unix_ms: report.created_unix_ms,
            last_activity_unix_ms: report.last_activity_unix_ms.max(report.created_unix_ms),
            owner: node,
        };
        let holder = Holder {
            activity_unix_ms: record.last_activity_unix_ms,
            running_queries: report.running_queries,
            idle_vote_unix_ms: None,
        };
        self.state.insert_live(Live { record, holders: BTreeMap::from([(node, holder)]) });
    }

    fn update(&mut self, node: NodeId, report: &SessionReport, reply: &mut Reply) {
        let session = report.session;
        let Some(live) = self.state.live_mut(session) else {
            let reason = self.state.gone_reason(session).unwrap_or(GoneReason::Unknown);
            reply.gone.push(Gone { session, reason });
            return;
        };
        let holder = live.holders.entry(node).or_default();
        if report.last_activity_unix_ms > holder.activity_unix_ms || report.running_queries > 0 {
            holder.idle_vote_unix_ms = None;
        }
        holder.activity_unix_ms = holder.activity_unix_ms.max(report.last_activity_unix_ms);
        holder.running_queries = report.running_queries;
        let record = &mut live.record;
        record.last_activity_unix_ms =
            record.last_activity_unix_ms.max(report.last_activity_unix_ms);
        // The space is a last-writer-wins register ordered by (time of USE, space), so every
        // node converges on the same space whatever order reports arrive in (issue 5585,
        // docs/fixes.md).
        let newer = (report.space_set_unix_ms, report.space.as_str())
            > (record.space_set_unix_ms, record.space.as_str());
        if newer {
            record.space_set_unix_ms = report.space_set_unix_ms;
            record.space.clone_from(&report.space);
            self.state.bump_session(session);
        }
    }

    fn vote_idle(&mut self, node: NodeId, vote: IdleVote, reply: &mut Reply) {
        let session = vote.session;
        let Some(live) = self.state.live_mut(session) else {
            let reason = self.state.gone_reason(session).unwrap_or(GoneReason::Unknown);
            reply.gone.push(Gone { session, reason });
            return;
        };
        let holder = live.holders.entry(node).or_default();
        holder.activity_unix_ms = holder.activity_unix_ms.max(vote.last_activity_unix_ms);
        holder.idle_vote_unix_ms = Some(vote.voted_unix_ms);
        let record = &mut live.record;
        record.last_activity_unix_ms = record.last_activity_unix_ms.max(vote.last_activity_unix_ms);
        if self.try_expire(session) {
            reply.gone.push(Gone { session, reason: GoneReason::Expired });
        }
    }

    /// Expires `session` if there was an instant at which it had been idle for the idle timeout on
    /// every node holding it (fix 3 across nodes, NebulaGraph issue 5094; both in docs/fixes.md):
    /// every holder not presumed dead votes idle and runs no query, and the newest activity any
    /// node reported is at least the idle timeout older than the earliest of those votes. A vote
    /// made before activity the node has not reported yet is therefore too early to count once that
    /// activity is reported, and a node's activity report withdraws its vote.
    pub(crate) fn try_expire(&mut self, session: SessionId) -> bool {
        let Some(EntryState::Live(live)) = self.state.sessions.get(&session).map(|e| &e.state)
        else {
            return false;
        };
        if !self.expiry_due(live) {
            return false;
        }
        self.state.remove_live(session, GoneReason::Expired, None, self.config.tombstones_max)
    }

    /// Whether live session `live` is due to expire (see [`try_expire`](Self::try_expire)).
    /// Reads its holders, the nodes' last contact and the clock only: removing another session
    /// changes none of them.
    fn expiry_due(&self, live: &Live) -> bool {
        let now = self.state.clock.newest();
        let (idle_timeout_ms, silence_ms) =
            (self.config.idle_timeout_ms, self.config.holder_silence_ms);
        // The instant every live holder vouches for; meta's clock when none is alive.
        let mut idle_at = now;
        for (&node, holder) in &live.holders {
            if self.state.is_silent(node, silence_ms) {
                continue;
            }
            match holder.idle_vote_unix_ms {
                Some(voted) if holder.running_queries == 0 => idle_at = idle_at.min(voted),
                _ => return false,
            }
        }
        live.record.last_activity_unix_ms.saturating_add(idle_timeout_ms) <= idle_at
    }

    fn record_kill(&mut self, kill: &QueryKill) -> QueryKillResult {
        let Some(EntryState::Live(live)) =
            self.state.sessions.get(&kill.key.session).map(|entry| &entry.state)
        else {
            return QueryKillResult::SessionNotFound;
        };
        if !kill.caller_is_god && kill.caller_user != live.record.user {
            return QueryKillResult::PermissionDenied;
        }
        if self.state.kills.contains_key(&kill.key) {
            return QueryKillResult::Recorded;
        }
        if !may_run(&self.state.node_queries, &live.holders, kill.key) {
            return QueryKillResult::QueryNotFound;
        }
        if self.state.kills.len() >= self.config.kill_marks_max as usize {
            return QueryKillResult::KillMarksFull;
        }
        self.state.insert_kill(kill.key);
        QueryKillResult::Recorded
    }

    fn pick_up(&mut self, node: NodeId, session: SessionId, reply: &mut Reply) {
        let Some(live) = self.state.live_mut(session) else {
            reply.not_found.push(session);
            return;
        };
        let activity_unix_ms = live.record.last_activity_unix_ms;
        live.holders.entry(node).or_insert(Holder { activity_unix_ms, ..Holder::default() });
        // NebulaGraph sets graph_addr to the node that picks a session up.
        live.record.owner = node;
        reply.records.push(live.record.clone());
    }

    /// The timer: collects tombstones and kill marks past their retention, and expires up to
    /// `orphan_checks_per_timeout_max` idle sessions whose every holder is presumed dead (so a
    /// dead node's sessions do not leak: nebula-java issue 498, see docs/fixes.md). Returns how
    /// many expired.
    pub fn handle_timeout(&mut self, now_unix_ms: u64) -> u32 {
        let now = self.observe(now_unix_ms);
        self.timer_due_unix_ms = now.saturating_add(self.timer_period_ms());
        self.state.collect_garbage(
            self.config.tombstone_retention_ms,
            self.config.kill_mark_retention_ms,
        );
        // The next sessions after the cursor (tombstones too), at most the limit of them. Each
        // live one's expiry is decided as it is passed: an expiry decides nothing about another
        // session (see `expiry_due`), so deciding all before removing any, in the same order,
        // ends the same sessions as checking each in turn.
        let checks_max = self.config.orphan_checks_per_timeout_max as usize;
        let after = match self.state.orphan_cursor {
            Some(start) => (Bound::Excluded(start), Bound::Unbounded),
            None => (Bound::Unbounded, Bound::Unbounded),
        };
        let mut checked = 0_usize;
        let mut last_checked = None;
        let mut due = Vec::new();
        for (&session, entry) in self.state.sessions.range(after).take(checks_max) {
            checked += 1;
            last_checked = Some(session);
            if let EntryState::Live(live) = &entry.state {
                if self.expiry_due(live) {
                    due.push(session);
                }
            }
        }
        self.state.orphan_cursor = if checked < checks_max { None } else { last_checked };
        let mut expired = 0_u32;
        for session in due {
            if self.state.remove_live(
                session,
                GoneReason::Expired,
                None,
                self.config.tombstones_max,
            ) {
                expired += 1;
            }
        }
        expired
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next: a tenth of the idle
    /// timeout or of the holder silence, whichever is shorter, after it last ran (at once for a
    /// new or restored store). Measured from the last run, not from the newest time seen:
    /// requests move the clock, and a node syncing more often than the period must not starve
    /// the orphan expiry.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        Some(self.timer_due_unix_ms)
    }

    fn timer_period_ms(&self) -> u64 {
        (self.config.idle_timeout_ms.min(self.config.holder_silence_ms) / 10).max(1)
    }
}

/// Whether `node`'s create `report` of a session meta knows as `state` is a retry of the create
/// that made the entry (its answer was lost) rather than a second session issued with the same
/// id by another node (graph servers sealing ids with different keys: see id-gen's `SealKey`).
///
/// A retry comes from the creating node, which is the session's first holder and stays one until
/// it releases it (a node releases only a session it no longer holds, and then announces it no
/// more), and it reports the same login. So a create of a live session is a retry only from one
/// of its holders (not only its `owner`, which a pick-up moves) and with the record's user,
/// client address and creation time: a node that once picked the session up and then issued
/// the same id itself is not taken for its creator. A create of a tombstone is a retry from one
/// of the holders the tombstone records (it keeps no user, so the persisted form stays as it
/// is); from another node it is refused rather than told the removal's reason, which belongs to
/// another session. A tombstone of a removal that arrived before any create (`ended_live`
/// false: a KILL SESSION by id that overtook the login) records no holder and names an id, not
/// a session: any create of it is the one it was aimed at, and is told the reason as before.
fn is_retry(state: &EntryState, node: NodeId, report: &SessionReport) -> bool {
    match state {
        EntryState::Live(live) => {
            let record = &live.record;
            live.holders.contains_key(&node)
                && record.user == report.user
                && record.client_ip == report.client_ip
                && record.created_unix_ms == report.created_unix_ms
        }
        EntryState::Removed(tombstone) => {
            !tombstone.ended_live || tombstone.holders.contains(&node)
        }
    }
}

/// Whether query `key` may run on a holder of its session, as far as the holders' last reports
/// tell: false only when every holder reported all of its queries of the session (as many as its
/// running count) and none is `key`. A count the list does not match (a report cut to the node's
/// `reported_queries_max`, or a session report and a query list of different rounds) cannot
/// tell, so the kill is recorded. As stale as NebulaGraph's check, which also reads meta: a
/// query started since its node's last round is not known yet.
fn may_run(
    node_queries: &BTreeMap<NodeId, Vec<QueryReport>>,
    holders: &BTreeMap<NodeId, Holder>,
    key: graphsession_query_plan::QueryKey,
) -> bool {
    // A holder whose session report counts none and whose list names none cannot run it; one
    // whose list names queries its older session report does not count yet cannot tell.
    holders.iter().any(|(node, holder)| {
        let reported = node_queries.get(node).map_or(&[][..], Vec::as_slice);
        let of_session = reported.iter().filter(|query| query.key.session == key.session);
        let (mut count, mut named) = (0_u32, false);
        for query in of_session {
            count = count.saturating_add(1);
            named |= query.key == key;
        }
        named || count != holder.running_queries
    })
}

fn empty_reply(request: &Request) -> Reply {
    Reply {
        id: request.id,
        changes_seen_seq: request.changes_seen_seq,
        more_changes: false,
        resync: false,
        gone: Vec::new(),
        records: Vec::new(),
        not_found: Vec::new(),
        kills: Vec::new(),
        removals: Vec::with_capacity(request.removals.len()),
        query_kills: Vec::with_capacity(request.query_kills.len()),
        reload: None,
        sessions: None,
        queries: None,
        shown: Vec::new(),
    }
}
