//! The meta store's state and its primitive steps: bumping a session's change-log position,
//! removing a session (leaving a tombstone), recording kill marks, and collecting garbage.
//!
//! The change log is an index `seq -> what changed`: each session and each kill mark sits at
//! exactly one position, its newest change. A node's cursor into it says what it has seen, so an
//! answer carries only what changed since (bounded), and a lost answer is simply re-read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use graphsession_base::MonotonicClock;
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::QueryKey;

use crate::cluster::messages::{GoneReason, NodeId, QueryReport, RequestId, SessionRecord};

/// The change-log positions a store may reach: below 2^62, which a store that moves its log a
/// billion times a second reaches in 146 years. A restored snapshot at or past it is refused
/// (`change_log_position_within_bound`), so `seq += 1` never overflows.
pub(crate) const SEQ_MAX: u64 = 1 << 62;

/// What the store knows of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NodeEntry {
    /// The last request id handled; only greater ones are applied.
    pub(crate) last_request: RequestId,
    /// When its last request was handled (meta time, Unix ms).
    pub(crate) last_seen_unix_ms: u64,
}

/// One node's view of a live session it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Holder {
    /// The newest activity this node reported.
    pub(crate) activity_unix_ms: u64,
    /// Queries running on this node at its last report.
    pub(crate) running_queries: u32,
    /// When this node last voted for expiry (its clock), if it reported no activity since.
    pub(crate) idle_vote_unix_ms: Option<u64>,
}

/// A live session: the newest copy, and who caches it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Live {
    pub(crate) record: SessionRecord,
    pub(crate) holders: BTreeMap<NodeId, Holder>,
}

/// A removed session, kept so that no late report can bring it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tombstone {
    pub(crate) reason: GoneReason,
    pub(crate) removed_unix_ms: u64,
    /// The node whose removal ended it, so its retried removal is answered "removed".
    pub(crate) removed_by: Option<NodeId>,
    /// The nodes that held it: they are told it is gone.
    pub(crate) holders: BTreeSet<NodeId>,
    /// Whether it was live when removed (false: a removal that arrived before the create).
    pub(crate) ended_live: bool,
}

/// A session's state in the store.
///
/// Both kinds sit behind a shared pointer, copied on write (`Arc::make_mut`): a capture for a
/// snapshot ([`MetaStore::capture`](crate::cluster::MetaStore::capture)) shares every entry
/// instead of copying its strings and sets, and a change while the capture is held copies only
/// the entry it changes. The tree of sessions stays small to walk and to shift. (Serde writes a
/// pointer as what it holds: the persisted form is the same.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum EntryState {
    /// Usable; waits for removal or expiry.
    Live(Arc<Live>),
    /// Removed; waits for its retention to pass.
    Removed(Arc<Tombstone>),
}

/// A session and its change-log position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) state: EntryState,
}

/// A KILL QUERY recorded for a (session, plan) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct KillMark {
    pub(crate) seq: u64,
    pub(crate) recorded_unix_ms: u64,
}

/// What sits at one change-log position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKey {
    Session(SessionId),
    Kill(QueryKey),
}

/// The whole state. The maps are the truth; `changes`, the two orders and `live_count` are
/// indexes over them, rebuilt on restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MetaState {
    /// The newest `now` meta was told, Unix ms: an older one is clamped to it.
    pub(crate) clock: MonotonicClock,
    pub(crate) seq: u64,
    /// The newest change-log position collected: a cursor below it may have missed something.
    pub(crate) gc_floor_seq: u64,
    pub(crate) orphan_cursor: Option<SessionId>,
    pub(crate) nodes: BTreeMap<NodeId, NodeEntry>,
    /// The queries each node reported last (SHOW QUERIES), by (session, plan); only nodes in
    /// `nodes`, none with an empty list.
    pub(crate) node_queries: BTreeMap<NodeId, Vec<QueryReport>>,
    pub(crate) sessions: BTreeMap<SessionId, Entry>,
    pub(crate) kills: BTreeMap<QueryKey, KillMark>,
    pub(crate) changes: BTreeMap<u64, ChangeKey>,
    pub(crate) tombstone_order: BTreeSet<(u64, SessionId)>,
    pub(crate) kill_order: BTreeSet<(u64, QueryKey)>,
    pub(crate) live_count: u32,
}

impl MetaState {
    /// Moves session `id` to a new change-log position.
    pub(crate) fn bump_session(&mut self, id: SessionId) {
        let Some(entry) = self.sessions.get_mut(&id) else { return };
        self.seq += 1;
        self.changes.remove(&entry.seq);
        entry.seq = self.seq;
        self.changes.insert(self.seq, ChangeKey::Session(id));
    }

    /// A fresh entry at a new change-log position.
    pub(crate) fn insert_live(&mut self, live: Live) {
        let id = live.record.session;
        self.seq += 1;
        self.changes.insert(self.seq, ChangeKey::Session(id));
        self.sessions.insert(id, Entry { seq: self.seq, state: EntryState::Live(Arc::new(live)) });
        self.live_count = self.live_count.saturating_add(1);
    }

    /// Removes a live session: tombstone, kill marks dropped, holders told through the log.
    /// Returns false if it was not live.
    pub(crate) fn remove_live(
        &mut self,
        id: SessionId,
        reason: GoneReason,
        removed_by: Option<NodeId>,
        tombstones_max: u32,
    ) -> bool {
        let now = self.clock.newest();
        let Some(entry) = self.sessions.get_mut(&id) else { return false };
        let EntryState::Live(live) = &entry.state else { return false };
        let holders = live.holders.keys().copied().collect();
        let removed_unix_ms = now;
        let tombstone =
            Tombstone { reason, removed_unix_ms, removed_by, holders, ended_live: true };
        entry.state = EntryState::Removed(Arc::new(tombstone));
        self.live_count = self.live_count.saturating_sub(1);
        self.tombstone_order.insert((now, id));
        self.drop_kills_of(id);
        self.bump_session(id);
        self.bound_tombstones(tombstones_max);
        true
    }

    /// A removal of a session meta has not heard of: its create may still be on the way (a
    /// KILL SESSION that overtook the login's announcement), so the tombstone makes that create
    /// answer "gone" instead of bringing the session to life.
    pub(crate) fn remove_unknown(
        &mut self,
        id: SessionId,
        reason: GoneReason,
        removed_by: NodeId,
        tombstones_max: u32,
    ) {
        if self.sessions.contains_key(&id) {
            return;
        }
        let now = self.clock.newest();
        let tombstone = Tombstone {
            reason,
            removed_unix_ms: now,
            removed_by: Some(removed_by),
            holders: BTreeSet::new(),
            ended_live: false,
        };
        self.seq += 1;
        self.changes.insert(self.seq, ChangeKey::Session(id));
        let state = EntryState::Removed(Arc::new(tombstone));
        self.sessions.insert(id, Entry { seq: self.seq, state });
        self.tombstone_order.insert((now, id));
        self.bound_tombstones(tombstones_max);
    }

    fn bound_tombstones(&mut self, tombstones_max: u32) {
        while self.tombstone_order.len() > tombstones_max as usize {
            let Some(&(_, oldest)) = self.tombstone_order.first() else { break };
            self.collect_tombstone(oldest);
        }
    }

    fn drop_kills_of(&mut self, id: SessionId) {
        let range = QueryKey { session: id, plan: PlanId::from_u64(0) }..=QueryKey {
            session: id,
            plan: PlanId::from_u64(u64::MAX),
        };
        let keys: Vec<QueryKey> = self.kills.range(range).map(|(key, _)| *key).collect();
        for key in keys {
            if let Some(mark) = self.kills.remove(&key) {
                self.changes.remove(&mark.seq);
                self.kill_order.remove(&(mark.recorded_unix_ms, key));
            }
        }
    }

    /// Records a kill mark at a new change-log position.
    pub(crate) fn insert_kill(&mut self, key: QueryKey) {
        self.seq += 1;
        let mark = KillMark { seq: self.seq, recorded_unix_ms: self.clock.newest() };
        self.changes.insert(self.seq, ChangeKey::Kill(key));
        self.kill_order.insert((mark.recorded_unix_ms, key));
        self.kills.insert(key, mark);
    }

    fn collect_tombstone(&mut self, id: SessionId) {
        let Some(entry) = self.sessions.get(&id) else { return };
        let EntryState::Removed(tombstone) = &entry.state else { return };
        self.tombstone_order.remove(&(tombstone.removed_unix_ms, id));
        self.changes.remove(&entry.seq);
        self.gc_floor_seq = self.gc_floor_seq.max(entry.seq);
        self.sessions.remove(&id);
    }

    /// Drops tombstones and kill marks past their retention.
    pub(crate) fn collect_garbage(&mut self, tombstone_retention_ms: u64, kill_retention_ms: u64) {
        let now = self.clock.newest();
        while let Some(&(removed, id)) = self.tombstone_order.first() {
            if removed.saturating_add(tombstone_retention_ms) > now {
                break;
            }
            self.collect_tombstone(id);
        }
        while let Some(&(recorded, key)) = self.kill_order.first() {
            if recorded.saturating_add(kill_retention_ms) > now {
                break;
            }
            self.kill_order.remove(&(recorded, key));
            if let Some(mark) = self.kills.remove(&key) {
                self.changes.remove(&mark.seq);
                self.gc_floor_seq = self.gc_floor_seq.max(mark.seq);
            }
        }
    }

    /// Whether `node` sent nothing for `silence_ms` (or never): presumed dead.
    pub(crate) fn is_silent(&self, node: NodeId, silence_ms: u64) -> bool {
        match self.nodes.get(&node) {
            Some(entry) => {
                entry.last_seen_unix_ms.saturating_add(silence_ms) <= self.clock.newest()
            }
            None => true,
        }
    }

    /// The live session `id`, if any, to change (copied first if a capture shares it).
    pub(crate) fn live_mut(&mut self, id: SessionId) -> Option<&mut Live> {
        match self.sessions.get_mut(&id) {
            Some(Entry { state: EntryState::Live(live), .. }) => Some(Arc::make_mut(live)),
            _ => None,
        }
    }

    /// Why session `id` is not live: its tombstone's reason, or unknown.
    pub(crate) fn gone_reason(&self, id: SessionId) -> Option<GoneReason> {
        match self.sessions.get(&id) {
            Some(Entry { state: EntryState::Live(_), .. }) => None,
            Some(Entry { state: EntryState::Removed(tombstone), .. }) => Some(tombstone.reason),
            None => Some(GoneReason::Unknown),
        }
    }
}
