//! The read side of the meta store: the change-log scan that tells a node what changed for it,
//! the start-up reload and SHOW SESSIONS pages, the SHOW QUERIES listing, and direct reads for
//! the host.

use std::sync::Arc;

use graphsession_id_gen::SessionId;

use graphsession_query_plan::QueryStatus;

use crate::cluster::messages::{Gone, ListedQuery, NodeId, Page, Reply, Request, SessionRecord};
use crate::cluster::meta::MetaStore;
use crate::cluster::meta::state::{ChangeKey, EntryState, Holder};

impl MetaStore {
    /// Adds the pages and the change-log scan to `reply`, then removes duplicates.
    pub(crate) fn finish_reply(&mut self, node: NodeId, request: &Request, reply: &mut Reply) {
        let reload_start = request.reload.is_some_and(|from| from.after.is_none());
        if let Some(from) = request.reload {
            reply.reload = Some(self.page(from.after, |live_holders| live_holders.contains(node)));
        }
        if request.show_sessions {
            reply.sessions = Some(self.page(None, |_| true));
        }
        if request.show_queries {
            reply.queries = Some(self.listed_queries());
        }
        if reload_start || request.changes_seen_seq > self.state.seq {
            // A fresh start reads everything from the pages; the log from here on. A cursor
            // ahead of the log cannot come from this store: start over with a full report.
            reply.resync = !reload_start;
            reply.changes_seen_seq = self.state.seq;
        } else {
            reply.resync = request.changes_seen_seq < self.state.gc_floor_seq;
            self.scan_changes(node, request.changes_seen_seq, reply);
        }
        reply.gone.sort_by_key(|gone| gone.session);
        reply.gone.dedup_by_key(|gone| gone.session);
        // A session gone in this answer is not also handed out as a record.
        reply.records.retain(|record| {
            reply.gone.binary_search_by_key(&record.session, |gone| gone.session).is_err()
        });
        reply.records.sort_by_key(|record| record.session);
        reply.records.dedup_by_key(|record| record.session);
        reply.kills.sort();
        reply.kills.dedup();
    }

    /// A node restarted: its queries died with it, and its old votes are void.
    pub(crate) fn reset_holder(&mut self, node: NodeId) {
        self.state.node_queries.remove(&node);
        for entry in self.state.sessions.values_mut() {
            let EntryState::Live(live) = &mut entry.state else { continue };
            let stale =
                |holder: &Holder| holder.running_queries != 0 || holder.idle_vote_unix_ms.is_some();
            // Only an entry that changes is copied out of a capture that shares it.
            if !live.holders.get(&node).is_some_and(stale) {
                continue;
            }
            if let Some(holder) = Arc::make_mut(live).holders.get_mut(&node) {
                holder.running_queries = 0;
                holder.idle_vote_unix_ms = None;
            }
        }
    }

    fn page(&self, after: Option<SessionId>, wanted: impl Fn(HoldersView<'_>) -> bool) -> Page {
        let rows_max = self.config.page_rows_max as usize;
        let mut records = Vec::new();
        let mut next_after = None;
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        for entry in self.state.sessions.range((start, std::ops::Bound::Unbounded)) {
            let (_, Some(live)) = (entry.0, live_of(&entry.1.state)) else { continue };
            if !wanted(HoldersView(live)) {
                continue;
            }
            if records.len() == rows_max {
                next_after = records.last().map(|record: &SessionRecord| record.session);
                break;
            }
            records.push(live.record.clone());
        }
        Page { records, next_after }
    }

    /// Everything after `cursor` that concerns `node`, bounded by `answer_items_max` items and
    /// `changes_scanned_per_answer_max` entries.
    fn scan_changes(&self, node: NodeId, cursor: u64, reply: &mut Reply) {
        let items_max = self.config.answer_items_max as usize;
        let scanned_max = self.config.changes_scanned_per_answer_max as usize;
        let mut position = self.state.seq;
        let mut items = 0_usize;
        for (scanned, (&seq, key)) in self.state.changes.range(cursor + 1..).enumerate() {
            if scanned == scanned_max || items == items_max {
                reply.more_changes = true;
                position = seq - 1;
                break;
            }
            if self.add_change(node, *key, reply) {
                items += 1;
            }
        }
        reply.changes_seen_seq = position.max(cursor);
    }

    fn add_change(&self, node: NodeId, key: ChangeKey, reply: &mut Reply) -> bool {
        match key {
            ChangeKey::Session(session) => match self.state.sessions.get(&session) {
                Some(entry) => match &entry.state {
                    EntryState::Live(live) if live.holders.contains_key(&node) => {
                        reply.records.push(live.record.clone());
                        true
                    }
                    EntryState::Removed(tombstone) if tombstone.holders.contains(&node) => {
                        reply.gone.push(Gone { session, reason: tombstone.reason });
                        true
                    }
                    EntryState::Live(_) | EntryState::Removed(_) => false,
                },
                None => false,
            },
            ChangeKey::Kill(query) => match self.state.sessions.get(&query.session) {
                Some(entry) => match &entry.state {
                    EntryState::Live(live) if live.holders.contains_key(&node) => {
                        reply.kills.push(query);
                        true
                    }
                    EntryState::Live(_) | EntryState::Removed(_) => false,
                },
                None => false,
            },
        }
    }

    /// SHOW QUERIES read directly from the store: every query a node reported last, of a live
    /// session, from nodes not presumed dead (silent for `holder_silence_ms`: their queries
    /// died with them, or will be reported again when they speak), by node, then (session,
    /// plan). A query meta holds a kill mark for is KILLING. At most `nodes_max` times
    /// `request_items_max` rows. The host (or the node) applies fix 7 for its caller.
    #[must_use]
    pub fn listed_queries(&self) -> Vec<ListedQuery> {
        let mut listed = Vec::new();
        for (node, queries) in &self.state.node_queries {
            if self.state.is_silent(*node, self.config.holder_silence_ms) {
                continue;
            }
            for query in queries {
                let Some(record) = self.session(query.key.session) else { continue };
                let mut query = query.clone();
                if self.state.kills.contains_key(&query.key) {
                    query.status = QueryStatus::Killing;
                }
                listed.push(ListedQuery { node: *node, user: record.user.clone(), query });
            }
        }
        listed
    }

    /// SHOW SESSIONS read directly from the store: up to `page_rows_max` live sessions after
    /// `after`, by id. The host checks the caller (GOD only, as in NebulaGraph).
    #[must_use]
    pub fn show_sessions(&self, after: Option<SessionId>) -> Page {
        self.page(after, |_| true)
    }

    /// The live record of `session`, if any.
    #[must_use]
    pub fn session(&self, session: SessionId) -> Option<&SessionRecord> {
        self.state.sessions.get(&session).and_then(|entry| live_of(&entry.state)).map(|l| &l.record)
    }

    /// Why `session` is not live: its tombstone's reason (`None` when live or unknown).
    #[must_use]
    pub fn gone_reason(&self, session: SessionId) -> Option<crate::cluster::GoneReason> {
        match self.state.sessions.get(&session).map(|entry| &entry.state) {
            Some(EntryState::Removed(tombstone)) => Some(tombstone.reason),
            Some(EntryState::Live(_)) | None => None,
        }
    }

    /// The nodes holding live session `session`, by id: each one's newest reported activity,
    /// queries running at its last report, and its idle vote if it stands (empty when not
    /// live). For hosts' diagnostics and the simulator's oracles.
    #[must_use]
    pub fn holders(&self, session: SessionId) -> Vec<HolderView> {
        let Some(live) = self.state.sessions.get(&session).and_then(|entry| live_of(&entry.state))
        else {
            return Vec::new();
        };
        (live.holders.iter())
            .map(|(&node, holder)| HolderView {
                node,
                activity_unix_ms: holder.activity_unix_ms,
                running_queries: holder.running_queries,
                idle_vote_unix_ms: holder.idle_vote_unix_ms,
            })
            .collect()
    }

    /// Every live session id, in order.
    pub fn live_sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.state
            .sessions
            .iter()
            .filter(|(_, entry)| live_of(&entry.state).is_some())
            .map(|(id, _)| *id)
    }

    /// Every live session's record, by id (the simulator compares them to its model at every
    /// step: one pass, no lookup per session).
    pub fn live_records(&self) -> impl Iterator<Item = &SessionRecord> + '_ {
        self.state.sessions.values().filter_map(|entry| live_of(&entry.state)).map(|l| &l.record)
    }

    /// Live sessions.
    #[must_use]
    pub fn live_count(&self) -> u32 {
        self.state.live_count
    }

    /// Kill marks kept.
    #[must_use]
    pub fn kill_mark_count(&self) -> u32 {
        u32::try_from(self.state.kills.len()).unwrap_or(u32::MAX)
    }

    /// The newest change-log position.
    #[must_use]
    pub fn changes_seq(&self) -> u64 {
        self.state.seq
    }

    /// The sessions whose entry took a change-log position after `seq`: created, removed or
    /// given a newer space since (newer activity alone moves no entry), oldest change first.
    /// Every tombstone is written at a new position, so a reader that last looked at position
    /// `seq` finds every session removed since among these; an entry collected since is not
    /// among them.
    pub fn sessions_changed_after(&self, seq: u64) -> impl Iterator<Item = SessionId> + '_ {
        let changes = self.state.changes.range(seq.saturating_add(1)..);
        changes.filter_map(|(_, change)| match change {
            ChangeKey::Session(session) => Some(*session),
            ChangeKey::Kill(_) => None,
        })
    }

    /// The newest time seen, Unix ms.
    #[must_use]
    pub fn now_unix_ms(&self) -> u64 {
        self.state.clock.newest()
    }
}

/// The holders of one live session, for page filters.
#[derive(Clone, Copy)]
struct HoldersView<'a>(&'a crate::cluster::meta::state::Live);

impl HoldersView<'_> {
    fn contains(&self, node: NodeId) -> bool {
        self.0.holders.contains_key(&node)
    }
}

fn live_of(state: &EntryState) -> Option<&crate::cluster::meta::state::Live> {
    match state {
        EntryState::Live(live) => Some(live),
        EntryState::Removed(_) => None,
    }
}

/// One holder of a live session, as [`MetaStore::holders`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderView {
    /// The node.
    pub node: NodeId,
    /// The newest activity it reported (its clock), Unix milliseconds.
    pub activity_unix_ms: u64,
    /// Queries running there at its last report.
    pub running_queries: u32,
    /// When it voted for expiry (its clock), if the vote stands.
    pub idle_vote_unix_ms: Option<u64>,
}
