//! The persistent form of the meta store: [`MetaSnapshot`], a versioned serde value with a digest
//! over its content. The host writes it to its replicated store after every handled request (or
//! keeps the store's maps there directly, see docs/cluster-protocol.md) and restores it on the new
//! leader. A corrupt or truncated snapshot is a typed [`PersistError`], and nothing of it is
//! applied: [`MetaStore::restore`] builds a new store and checks every invariant first.
//!
//! Only the truth is persisted (nodes, sessions, kill marks, counters); the indexes are rebuilt.
//! Lists, not maps, so that any serde format can carry them (JSON keys must be strings).

use graphsession_base::codec::Writer;
use graphsession_base::{Fnv1a, MonotonicClock, Violation};
use graphsession_id_gen::SessionId;
use graphsession_query_plan::QueryKey;

use crate::cluster::config::MetaConfig;
use crate::cluster::error::PersistError;
use graphsession_query_plan::QueryStatus;

use crate::cluster::messages::{GoneReason, NodeId, QueryReport};
use crate::cluster::meta::MetaStore;
use crate::cluster::meta::state::{ChangeKey, Entry, EntryState, KillMark, MetaState, NodeEntry};

/// The format version this build writes. It reads it and version 1, which had no queries
/// (restored with none: each node reports its list again when it changes).
pub const META_FORMAT_VERSION: u32 = 2;

/// The oldest format version this build reads (a host that keeps the format in a record of its
/// own, as the etcd host does, may upgrade a record of this version or newer).
pub const META_FORMAT_VERSION_OLDEST: u32 = 1;

/// The meta store's state, as the host persists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetaSnapshot {
    format_version: u32,
    now_unix_ms: u64,
    seq: u64,
    gc_floor_seq: u64,
    orphan_cursor: Option<SessionId>,
    nodes: Vec<(NodeId, NodeEntry)>,
    sessions: Vec<(SessionId, Entry)>,
    kills: Vec<(QueryKey, KillMark)>,
    /// Each node's last reported queries (format 2 on; absent in format 1).
    #[serde(default)]
    node_queries: Vec<(NodeId, Vec<QueryReport>)>,
    digest: u64,
}

impl MetaSnapshot {
    /// The snapshot of `state` whose sessions, by id, are `sessions`.
    fn of(state: &MetaState, sessions: Vec<(SessionId, Entry)>) -> MetaSnapshot {
        MetaSnapshot::undigested(state, sessions).digested()
    }

    /// [`of`](Self::of) without its digest (0), for [`MetaCapture`] to compute later.
    fn undigested(state: &MetaState, sessions: Vec<(SessionId, Entry)>) -> MetaSnapshot {
        MetaSnapshot {
            format_version: META_FORMAT_VERSION,
            now_unix_ms: state.clock.newest(),
            seq: state.seq,
            gc_floor_seq: state.gc_floor_seq,
            orphan_cursor: state.orphan_cursor,
            nodes: state.nodes.iter().map(|(node, entry)| (*node, *entry)).collect(),
            sessions,
            kills: state.kills.iter().map(|(key, mark)| (*key, *mark)).collect(),
            node_queries: (state.node_queries.iter())
                .map(|(node, queries)| (*node, queries.clone()))
                .collect(),
            digest: 0,
        }
    }

    /// With its digest computed.
    fn digested(mut self) -> MetaSnapshot {
        self.digest = self.compute_digest();
        self
    }

    /// The format version it was written with.
    #[must_use]
    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    fn compute_digest(&self) -> u64 {
        let mut digest = Digest::new(Fnv1a::new());
        digest.u64(u64::from(self.format_version));
        digest.u64(self.now_unix_ms);
        digest.u64(self.seq);
        digest.u64(self.gc_floor_seq);
        digest.u64(self.orphan_cursor.map_or(0, |id| id.get().unsigned_abs()));
        digest.length(self.nodes.len());
        for (node, entry) in &self.nodes {
            digest.u64(u64::from(node.0));
            digest.u64(entry.last_request.incarnation);
            digest.u64(entry.last_request.round);
            digest.u64(entry.last_seen_unix_ms);
        }
        digest.length(self.sessions.len());
        for (id, entry) in &self.sessions {
            digest.u64(id.get().unsigned_abs());
            digest.u64(entry.seq);
            digest_entry(&mut digest, &entry.state);
        }
        digest.length(self.kills.len());
        for (key, mark) in &self.kills {
            digest.u64(key.session.get().unsigned_abs());
            digest.u64(key.plan.get());
            digest.u64(mark.seq);
            digest.u64(mark.recorded_unix_ms);
        }
        if self.format_version >= 2 {
            digest.length(self.node_queries.len());
            for (node, queries) in &self.node_queries {
                digest.u64(u64::from(node.0));
                digest.length(queries.len());
                for query in queries {
                    digest.u64(query.key.session.get().unsigned_abs());
                    digest.u64(query.key.plan.get());
                    digest.u64(query.start_time_unix_us);
                    digest.u64(match query.status {
                        QueryStatus::Running => 1,
                        QueryStatus::Killing => 2,
                    });
                    digest.str(&query.statement);
                }
            }
        }
        digest.into_inner().finish()
    }
}

fn digest_entry(digest: &mut Digest, state: &EntryState) {
    match state {
        EntryState::Live(live) => {
            let record = &live.record;
            digest.u64(1);
            digest.str(&record.user);
            digest.str(&record.client_ip);
            digest.str(&record.space);
            digest.u64(record.space_set_unix_ms);
            digest.u64(record.created_unix_ms);
            digest.u64(record.last_activity_unix_ms);
            digest.u64(u64::from(record.owner.0));
            digest.length(live.holders.len());
            for (node, holder) in &live.holders {
                digest.u64(u64::from(node.0));
                digest.u64(holder.activity_unix_ms);
                digest.u64(u64::from(holder.running_queries));
                digest.u64(holder.idle_vote_unix_ms.map_or(u64::MAX, |voted| voted));
            }
        }
        EntryState::Removed(tombstone) => {
            digest.u64(2);
            digest.u64(gone_code(tombstone.reason));
            digest.u64(tombstone.removed_unix_ms);
            digest.u64(tombstone.removed_by.map_or(u64::MAX, |node| u64::from(node.0)));
            digest.u64(u64::from(tombstone.ended_live));
            digest.length(tombstone.holders.len());
            for node in &tombstone.holders {
                digest.u64(u64::from(node.0));
            }
        }
    }
}

fn gone_code(reason: GoneReason) -> u64 {
    match reason {
        GoneReason::SignedOut => 1,
        GoneReason::Killed => 2,
        GoneReason::Expired => 3,
        GoneReason::Refused => 4,
        GoneReason::Unknown => 5,
    }
}

/// The digest: FNV-1a-64 of the snapshot's content in the workspace's canonical encoding, fed
/// to the hash as it is written. It detects corruption and truncation, not tampering (the
/// replicated store's own integrity and access control cover that).
type Digest = Writer<Fnv1a>;

/// The meta store as one instant had it, to make a [`MetaSnapshot`] of later, on any thread:
/// from [`MetaStore::capture`]. The store's entries are shared with it, not copied (a change to
/// the store while the capture is held copies the entry it changes), so capturing costs about a
/// reference count per session; the digest, the costly part, is computed by
/// [`into_snapshot`](Self::into_snapshot).
///
/// ```
/// use graphsession_core::cluster::{MetaConfig, MetaStore};
///
/// let meta = MetaStore::new(MetaConfig::default())?;
/// let captured = meta.capture();
/// let snapshot = std::thread::spawn(move || captured.into_snapshot()).join().unwrap();
/// assert_eq!(snapshot, meta.snapshot());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetaCapture {
    /// Everything but the digest (0 until [`into_snapshot`](Self::into_snapshot)).
    undigested: MetaSnapshot,
}

impl MetaCapture {
    /// Sessions and tombstones captured.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.undigested.sessions.len()
    }

    /// The [`MetaSnapshot`] of the captured instant, its digest computed: the value
    /// [`MetaStore::snapshot`] would have returned then.
    #[must_use]
    pub fn into_snapshot(self) -> MetaSnapshot {
        self.undigested.digested()
    }
}

impl MetaStore {
    /// The persistent form of the whole state: [`capture`](Self::capture) and
    /// [`MetaCapture::into_snapshot`] at once.
    #[must_use]
    pub fn snapshot(&self) -> MetaSnapshot {
        self.capture().into_snapshot()
    }

    /// The state at this instant, sharing its entries, for a host that must not stop long (a
    /// leader that serves while it persists) to make the snapshot elsewhere.
    #[must_use]
    pub fn capture(&self) -> MetaCapture {
        let sessions = self.state.sessions.iter().map(|(id, entry)| (*id, entry.clone()));
        MetaCapture { undigested: MetaSnapshot::undigested(&self.state, sessions.collect()) }
    }

    /// The persistent form of the whole state, taking the store apart instead of copying it:
    /// the same value as [`snapshot`](Self::snapshot), for a leader that stops (a host that
    /// persists its last state and drops the store, or a simulated crash).
    #[must_use]
    pub fn into_snapshot(mut self) -> MetaSnapshot {
        let sessions = std::mem::take(&mut self.state.sessions);
        MetaSnapshot::of(&self.state, sessions.into_iter().collect())
    }

    /// A store from a persisted `snapshot`: the version and digest are checked, the indexes
    /// rebuilt, and every invariant checked before anything is returned.
    pub fn restore(config: MetaConfig, snapshot: MetaSnapshot) -> Result<MetaStore, PersistError> {
        config.validate()?;
        if !(META_FORMAT_VERSION_OLDEST..=META_FORMAT_VERSION).contains(&snapshot.format_version) {
            return Err(PersistError::UnsupportedVersion {
                found: snapshot.format_version,
                supported: META_FORMAT_VERSION,
            });
        }
        let computed = snapshot.compute_digest();
        if computed != snapshot.digest {
            return Err(PersistError::DigestMismatch { stored: snapshot.digest, computed });
        }
        let state = rebuild(snapshot).map_err(PersistError::Inconsistent)?;
        let store = MetaStore { config, state, timer_due_unix_ms: 0 };
        store.check_invariants().map_err(PersistError::Inconsistent)?;
        Ok(store)
    }
}

fn rebuild(snapshot: MetaSnapshot) -> Result<MetaState, Violation> {
    match sorted_changes(&snapshot) {
        Some(changes) => Ok(build_sorted(snapshot, changes)),
        None => rebuild_one_by_one(snapshot),
    }
}

/// The change log of a snapshot that holds no duplicate, as `snapshot` writes them: every list
/// in strictly increasing key order and no two entries at one change-log position. `None`
/// otherwise, for [`rebuild_one_by_one`] to decide (and name the duplicate).
fn sorted_changes(snapshot: &MetaSnapshot) -> Option<Vec<(u64, ChangeKey)>> {
    let increasing = snapshot.nodes.is_sorted_by(|a, b| a.0 < b.0)
        && snapshot.node_queries.is_sorted_by(|a, b| a.0 < b.0)
        && snapshot.sessions.is_sorted_by(|a, b| a.0 < b.0)
        && snapshot.kills.is_sorted_by(|a, b| a.0 < b.0);
    if !increasing {
        return None;
    }
    let sessions = snapshot.sessions.iter().map(|(id, entry)| (entry.seq, ChangeKey::Session(*id)));
    let kills = snapshot.kills.iter().map(|(key, mark)| (mark.seq, ChangeKey::Kill(*key)));
    let mut changes: Vec<(u64, ChangeKey)> = sessions.chain(kills).collect();
    changes.sort_unstable_by_key(|&(seq, _)| seq);
    let distinct =
        changes.windows(2).all(|pair| pair.first().map(|p| p.0) != pair.last().map(|p| p.0));
    distinct.then_some(changes)
}

/// The state of a snapshot without duplicates, each map built at once from its sorted
/// entries: what [`rebuild_one_by_one`] inserts one by one, which for such a snapshot never
/// finds a duplicate.
fn build_sorted(snapshot: MetaSnapshot, changes: Vec<(u64, ChangeKey)>) -> MetaState {
    let mut live_count = 0_u32;
    let mut tombstones = Vec::new();
    for (id, entry) in &snapshot.sessions {
        match &entry.state {
            EntryState::Live(_) => live_count = live_count.saturating_add(1),
            EntryState::Removed(tombstone) => tombstones.push((tombstone.removed_unix_ms, *id)),
        }
    }
    let kill_order = snapshot.kills.iter().map(|(key, mark)| (mark.recorded_unix_ms, *key));
    MetaState {
        clock: MonotonicClock::new(snapshot.now_unix_ms),
        seq: snapshot.seq,
        gc_floor_seq: snapshot.gc_floor_seq,
        orphan_cursor: snapshot.orphan_cursor,
        kill_order: kill_order.collect(),
        tombstone_order: tombstones.into_iter().collect(),
        changes: changes.into_iter().collect(),
        nodes: snapshot.nodes.into_iter().collect(),
        sessions: snapshot.sessions.into_iter().collect(),
        kills: snapshot.kills.into_iter().collect(),
        node_queries: snapshot.node_queries.into_iter().collect(),
        live_count,
    }
}

/// The state of any snapshot, entry by entry; the first duplicate is refused.
fn rebuild_one_by_one(snapshot: MetaSnapshot) -> Result<MetaState, Violation> {
    let duplicate = |what: &str| {
        let detail = format!("duplicate {what} in the snapshot");
        Violation::new("MetaStore", "snapshot_without_duplicates", detail)
    };
    let mut state = MetaState {
        clock: MonotonicClock::new(snapshot.now_unix_ms),
        seq: snapshot.seq,
        gc_floor_seq: snapshot.gc_floor_seq,
        orphan_cursor: snapshot.orphan_cursor,
        ..MetaState::default()
    };
    for (node, entry) in snapshot.nodes {
        if state.nodes.insert(node, entry).is_some() {
            return Err(duplicate("node"));
        }
    }
    for (id, entry) in snapshot.sessions {
        if state.changes.insert(entry.seq, ChangeKey::Session(id)).is_some() {
            return Err(duplicate("change-log position"));
        }
        match &entry.state {
            EntryState::Live(_) => state.live_count = state.live_count.saturating_add(1),
            EntryState::Removed(tombstone) => {
                state.tombstone_order.insert((tombstone.removed_unix_ms, id));
            }
        }
        if state.sessions.insert(id, entry).is_some() {
            return Err(duplicate("session"));
        }
    }
    for (key, mark) in snapshot.kills {
        if state.changes.insert(mark.seq, ChangeKey::Kill(key)).is_some() {
            return Err(duplicate("change-log position"));
        }
        state.kill_order.insert((mark.recorded_unix_ms, key));
        if state.kills.insert(key, mark).is_some() {
            return Err(duplicate("kill mark"));
        }
    }
    for (node, queries) in snapshot.node_queries {
        if state.node_queries.insert(node, queries).is_some() {
            return Err(duplicate("node's queries"));
        }
    }
    // Its invariants are checked by `restore`, with the limits, before the store is returned.
    Ok(state)
}

#[cfg(test)]
mod tests {
    //! The digest pinned to the value of the format's first build, and the sorted rebuild
    //! against the one entry by entry.

    use std::collections::{BTreeMap, BTreeSet};

    use graphsession_base::{MonotonicClock, Violation};
    use graphsession_id_gen::{PlanId, SessionId};
    use graphsession_query_plan::QueryKey;

    use graphsession_query_plan::QueryStatus;

    use super::{build_sorted, rebuild_one_by_one, sorted_changes};
    use crate::cluster::config::MetaConfig;
    use crate::cluster::error::PersistError;
    use crate::cluster::messages::{GoneReason, NodeId, QueryReport, RequestId, SessionRecord};
    use crate::cluster::meta::MetaStore;
    use crate::cluster::meta::state::{Holder, Live, MetaState, NodeEntry};

    fn store() -> MetaStore {
        let mut state = MetaState { clock: MonotonicClock::new(50), ..MetaState::default() };
        let node = NodeEntry {
            last_request: RequestId { incarnation: 1, round: 4 },
            last_seen_unix_ms: 40,
        };
        state.nodes.insert(NodeId(2), node);
        state.nodes.insert(NodeId(1), node);
        for value in [9, 3, 27, 1, 14, 8, 30, 2, 21] {
            let session = SessionId::new(value).unwrap();
            let record = SessionRecord {
                session,
                user: "user".to_owned(),
                client_ip: "10.0.0.1".to_owned(),
                space: String::new(),
                space_set_unix_ms: 0,
                created_unix_ms: 5,
                last_activity_unix_ms: 6,
                owner: NodeId(1),
            };
            let holders = BTreeMap::from([(NodeId(1), Holder::default())]);
            state.insert_live(Live { record, holders });
        }
        for value in [27, 2, 9] {
            state.clock = MonotonicClock::new(state.clock.newest() + 1);
            state.remove_live(SessionId::new(value).unwrap(), GoneReason::Killed, None, 100);
        }
        state.remove_unknown(SessionId::new(40).unwrap(), GoneReason::Killed, NodeId(2), 100);
        for (session, plan) in [(14, 7), (3, 1), (14, 2)] {
            let session = SessionId::new(session).unwrap();
            state.insert_kill(QueryKey { session, plan: PlanId::from_u64(plan) });
        }
        state.bump_session(SessionId::new(1).unwrap());
        MetaStore { config: MetaConfig::default(), state, timer_due_unix_ms: 0 }
    }

    #[test]
    fn a_snapshot_without_duplicates_rebuilds_at_once_to_the_same_state() {
        let store = store();
        let snapshot = store.snapshot();
        let changes = sorted_changes(&snapshot).expect("a written snapshot has no duplicate");
        let sorted = build_sorted(snapshot.clone(), changes);
        assert_eq!(sorted, rebuild_one_by_one(snapshot).unwrap());
        assert_eq!(sorted, store.state);
        assert_eq!(sorted.tombstone_order.len(), 4);
        assert_eq!(sorted.kill_order, BTreeSet::from_iter(store.state.kill_order.iter().copied()));
    }

    #[test]
    fn a_snapshot_out_of_order_or_with_a_duplicate_goes_entry_by_entry() {
        let snapshot = store().snapshot();
        let mut reversed = snapshot.clone();
        reversed.sessions.reverse();
        assert!(sorted_changes(&reversed).is_none());
        assert_eq!(rebuild_one_by_one(reversed).unwrap(), store().state);
        let mut shared_position = snapshot.clone();
        let seq = shared_position.sessions[0].1.seq;
        shared_position.sessions[1].1.seq = seq;
        assert!(sorted_changes(&shared_position).is_none());
        assert!(rebuild_one_by_one(shared_position).is_err());
        let mut twice = snapshot.clone();
        let first = twice.nodes[0];
        twice.nodes.insert(0, first);
        assert!(sorted_changes(&twice).is_none());
        assert!(rebuild_one_by_one(twice).is_err());
        // A node's queries listed twice: not sorted, and refused entry by entry.
        let mut queries_twice = snapshot;
        queries_twice.node_queries = vec![(NodeId(1), Vec::new()), (NodeId(1), Vec::new())];
        assert!(sorted_changes(&queries_twice).is_none());
        assert!(rebuild_one_by_one(queries_twice).is_err());
    }

    #[test]
    fn a_snapshot_holding_a_session_or_a_kill_twice_is_refused_as_a_duplicate() {
        let snapshot = store().snapshot();
        // Each copy at a change-log position of its own, right after the original.
        let mut session_twice = snapshot.clone();
        let (id, mut entry) = session_twice.sessions[0].clone();
        entry.seq = snapshot.seq + 1;
        session_twice.sessions.insert(1, (id, entry));
        let mut kill_twice = snapshot.clone();
        let (key, mut mark) = kill_twice.kills[0];
        mark.seq = snapshot.seq + 1;
        kill_twice.kills.insert(1, (key, mark));
        for (mut twice, what) in [(session_twice, "session"), (kill_twice, "kill mark")] {
            twice.digest = twice.compute_digest();
            let detail = format!("duplicate {what} in the snapshot");
            let refused = Violation::new("MetaStore", "snapshot_without_duplicates", detail);
            assert_eq!(
                MetaStore::restore(MetaConfig::default(), twice).err(),
                Some(PersistError::Inconsistent(refused))
            );
        }
    }

    #[test]
    fn a_snapshot_rebuilt_entry_by_entry_keeps_the_log_floor_and_the_orphan_cursor() {
        let mut store = store();
        store.state.gc_floor_seq = 2;
        store.state.orphan_cursor = SessionId::new(8);
        let mut reversed = store.snapshot();
        reversed.sessions.reverse();
        assert_eq!(rebuild_one_by_one(reversed).unwrap(), store.state);
    }

    #[test]
    fn the_digest_of_format_1_is_the_one_every_build_of_that_format_computed() {
        // Computed by the digest's own FNV code before it moved to graphsession-base: a
        // snapshot a host persisted in format 1 must still restore after an upgrade.
        let mut snapshot = store().snapshot();
        snapshot.format_version = 1;
        assert_eq!(snapshot.compute_digest(), 0xa70b_3904_0358_102e);
        snapshot.digest = snapshot.compute_digest();
        let restored = MetaStore::restore(MetaConfig::default(), snapshot).unwrap();
        assert_eq!(restored.state, store().state);
    }

    #[test]
    fn format_2_keeps_the_nodes_queries_under_its_digest() {
        let mut store = store();
        let query = QueryReport {
            key: QueryKey { session: SessionId::new(14).unwrap(), plan: PlanId::from_u64(7) },
            start_time_unix_us: 45_000,
            status: QueryStatus::Running,
            statement: "YIELD 1".to_owned(),
        };
        store.state.node_queries.insert(NodeId(1), vec![query]);
        let snapshot = store.snapshot();
        assert_eq!(snapshot.format_version(), 2);
        let restored = MetaStore::restore(MetaConfig::default(), snapshot.clone()).unwrap();
        assert_eq!(restored.state, store.state);
        // The queries are under the digest: a changed statement is refused.
        let mut changed = snapshot;
        changed.node_queries[0].1[0].statement = "YIELD 2".to_owned();
        assert!(matches!(
            MetaStore::restore(MetaConfig::default(), changed),
            Err(PersistError::DigestMismatch { .. })
        ));
    }
}
