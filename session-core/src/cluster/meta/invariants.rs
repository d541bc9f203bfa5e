//! [`MetaStore::check_invariants`]: the indexes agree with the maps, every count is within its
//! limit, and nothing sits ahead of the change log. Tests and the simulator call it after every
//! step; [`MetaStore::restore`] calls it before accepting a persisted state.
//!
//! One verdict, two ways to reach it. [`explain`] is the reference: it tests each property as
//! stated, with two searches of a tree per session, and names the first property broken.
//! [`holds`] decides the same properties for a store of up to [`SESSIONS_ON_STACK_MAX`] sessions
//! (the simulator's, which runs this check after every step meta takes) by walking the change
//! log and the tombstone order beside a small table on the stack instead. The reference runs
//! whenever the fast way does not say yes, so the message is always the reference's, and the
//! fast way only has to be sound: when it says yes, the reference does (the proof is on
//! [`holds`]).

use graphsession_base::Violation;

use crate::cluster::config::MetaConfig;
use crate::cluster::meta::MetaStore;
use crate::cluster::meta::state::{ChangeKey, EntryState, MetaState, SEQ_MAX};

/// The most sessions [`holds`] tables on the stack; a store with more goes to [`explain`].
const SESSIONS_ON_STACK_MAX: usize = 64;
/// Buckets of that table: twice as many, so that a probe always meets an empty one.
const SESSION_BUCKETS: usize = 2 * SESSIONS_ON_STACK_MAX;
/// The most sessions of the smaller table [`holds`] takes first (the simulator's store holds
/// about a dozen): a quarter of the memory to clear per check.
const SESSIONS_SMALL_MAX: usize = 16;
/// Buckets of the smaller table.
const SMALL_BUCKETS: usize = 2 * SESSIONS_SMALL_MAX;

impl MetaStore {
    /// Checks every invariant of the store.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        check_state(&self.state)?;
        let state = &self.state;
        let config = &self.config;
        let limits = [
            (
                "live_sessions_within_limit",
                "live sessions",
                state.live_count as usize,
                config.sessions_max,
            ),
            (
                "tombstones_within_limit",
                "tombstones",
                state.tombstone_order.len(),
                config.tombstones_max,
            ),
            ("kill_marks_within_limit", "kill marks", state.kills.len(), config.kill_marks_max),
            ("nodes_within_limit", "nodes", state.nodes.len(), config.nodes_max),
        ];
        for (property, what, count, max) in limits {
            if count > max as usize {
                let detail = format!("{count} {what}, more than the limit {max}");
                return Err(violation(property, detail));
            }
        }
        if state.seq >= SEQ_MAX {
            let detail = format!("change-log position {}, at or past {SEQ_MAX}", state.seq);
            return Err(violation("change_log_position_within_bound", detail));
        }
        check_node_queries(state, config)
    }
}

/// Each node's reported queries: a node the store knows, a non-empty list in strictly
/// increasing (session, plan) order, within the request limits it was admitted under.
fn check_node_queries(state: &MetaState, config: &MetaConfig) -> Result<(), Violation> {
    for (node, queries) in &state.node_queries {
        if !state.nodes.contains_key(node) {
            let detail = format!("queries of node {} which the store does not know", node.0);
            return Err(violation("node_queries_of_known_nodes", detail));
        }
        if queries.is_empty() || !queries.is_sorted_by(|a, b| a.key < b.key) {
            let detail = format!("node {}'s queries are empty, unsorted or repeated", node.0);
            return Err(violation("node_queries_sorted_and_distinct", detail));
        }
        let items_max = config.request_items_max;
        if queries.len() > items_max as usize {
            let detail = format!(
                "node {} reported {} queries, more than the limit {items_max}",
                node.0,
                queries.len()
            );
            return Err(violation("node_queries_within_limit", detail));
        }
        let bytes_max = config.text_bytes_max;
        if let Some(query) = queries.iter().find(|query| query.statement.len() > bytes_max as usize)
        {
            let detail = format!(
                "a statement of {} bytes from node {}, longer than the limit {bytes_max}",
                query.statement.len(),
                node.0
            );
            return Err(violation("node_queries_within_limit", detail));
        }
    }
    Ok(())
}

fn violation(property: &'static str, detail: String) -> Violation {
    Violation::new("MetaStore", property, detail)
}

/// Checks the state's own invariants (those that need no configuration).
pub(crate) fn check_state(state: &MetaState) -> Result<(), Violation> {
    if holds(state) {
        return Ok(());
    }
    explain(state)
}

/// The reference check: each property as stated, and the first one broken.
fn explain(state: &MetaState) -> Result<(), Violation> {
    let mut live = 0_u32;
    let mut tombstones = 0_usize;
    for (&id, entry) in &state.sessions {
        if entry.seq > state.seq || state.changes.get(&entry.seq) != Some(&ChangeKey::Session(id)) {
            return Err(violation(
                "sessions_at_their_change_log_position",
                format!("session {id} is not at its change-log position"),
            ));
        }
        match &entry.state {
            EntryState::Live(record) => {
                live += 1;
                if record.record.session != id {
                    return Err(violation(
                        "live_records_match_their_id",
                        format!("session {id} holds the record of another"),
                    ));
                }
            }
            EntryState::Removed(tombstone) => {
                tombstones += 1;
                if !state.tombstone_order.contains(&(tombstone.removed_unix_ms, id)) {
                    return Err(violation(
                        "tombstone_order_matches_tombstones",
                        "the tombstone order disagrees with the tombstones".to_owned(),
                    ));
                }
            }
        }
    }
    if live != state.live_count {
        return Err(violation(
            "live_count_matches_sessions",
            format!("{live} live sessions, counted {}", state.live_count),
        ));
    }
    if tombstones != state.tombstone_order.len() {
        return Err(violation(
            "tombstone_order_matches_tombstones",
            "the tombstone order disagrees with the tombstones".to_owned(),
        ));
    }
    explain_rest(state)
}

/// The reference check of everything after the sessions: the kill marks, the change log's
/// size, the collected floor and the nodes' clocks.
fn explain_rest(state: &MetaState) -> Result<(), Violation> {
    let mut kills = 0_usize;
    for (&key, mark) in &state.kills {
        let live = matches!(
            state.sessions.get(&key.session).map(|entry| &entry.state),
            Some(EntryState::Live(_))
        );
        if !live {
            return Err(violation(
                "kill_marks_on_live_sessions",
                format!("kill mark {key:?} outlives its session"),
            ));
        }
        if mark.seq > state.seq || state.changes.get(&mark.seq) != Some(&ChangeKey::Kill(key)) {
            return Err(violation(
                "kill_marks_at_their_change_log_position",
                format!("kill mark {key:?} is not at its change-log position"),
            ));
        }
        kills += 1;
        if !state.kill_order.contains(&(mark.recorded_unix_ms, key)) {
            return Err(violation(
                "kill_order_matches_kill_marks",
                "the kill order disagrees with the kill marks".to_owned(),
            ));
        }
    }
    if kills != state.kill_order.len() {
        return Err(violation(
            "kill_order_matches_kill_marks",
            "the kill order disagrees with the kill marks".to_owned(),
        ));
    }
    if state.changes.len() != state.sessions.len() + state.kills.len() {
        return Err(violation(
            "change_log_names_only_entries",
            "the change log holds entries of nothing".to_owned(),
        ));
    }
    if state.gc_floor_seq > state.seq {
        return Err(violation(
            "collected_floor_within_change_log",
            "the collected floor is ahead of the change log".to_owned(),
        ));
    }
    let newest_seen = state.nodes.values().map(|node| node.last_seen_unix_ms).max();
    if newest_seen.is_some_and(|seen| seen > state.clock.newest()) {
        return Err(violation(
            "nodes_seen_before_the_clock",
            "a node was seen after the store's clock".to_owned(),
        ));
    }
    Ok(())
}

/// The sessions of a small store by id, for [`holds`]: open addressing with linear probing over
/// `BUCKETS` buckets (twice the `SLOTS`, at most 64, so that a probe always meets an empty one),
/// each the position of a slot plus one (0: empty). A slot holds
/// the position at which the change log names the session and, once the session is walked,
/// whether and when it was removed.
struct SessionTable<const SLOTS: usize, const BUCKETS: usize> {
    ids: [i64; SLOTS],
    seqs: [u64; SLOTS],
    removed_unix_ms: [Option<u64>; SLOTS],
    buckets: [u8; BUCKETS],
    len: usize,
}

impl<const SLOTS: usize, const BUCKETS: usize> SessionTable<SLOTS, BUCKETS> {
    fn new() -> Self {
        SessionTable {
            ids: [0; SLOTS],
            seqs: [0; SLOTS],
            removed_unix_ms: [None; SLOTS],
            buckets: [0; BUCKETS],
            len: 0,
        }
    }

    /// The first bucket to probe for `id`: the top bits of a Fibonacci hash, so that ids that
    /// differ in any bits spread.
    fn bucket(id: i64) -> usize {
        let hash = id.unsigned_abs().wrapping_mul(0x9e37_79b9_7f4a_7c15);
        usize::try_from(hash >> (u64::BITS - BUCKETS.trailing_zeros())).unwrap_or(0)
    }

    /// The slot of `id`, if tabled.
    fn find(&self, id: i64) -> Option<usize> {
        let mut bucket = Self::bucket(id);
        loop {
            let slot = usize::from(self.buckets[bucket % BUCKETS]).checked_sub(1)?;
            if self.ids[slot % SLOTS] == id {
                return Some(slot % SLOTS);
            }
            bucket += 1;
        }
    }

    /// Tables `id`, named by the change log at `seq`; false when it is tabled already (named
    /// twice) or the table is full.
    fn insert(&mut self, id: i64, seq: u64) -> bool {
        let slot = self.len;
        if slot == SLOTS {
            return false;
        }
        let mut bucket = Self::bucket(id);
        loop {
            let taken = usize::from(self.buckets[bucket % BUCKETS]);
            if taken == 0 {
                break;
            }
            if self.ids[(taken - 1) % SLOTS] == id {
                return false;
            }
            bucket += 1;
        }
        // At most SLOTS (64 at most), which fits in a u8.
        self.buckets[bucket % BUCKETS] = u8::try_from(slot + 1).unwrap_or(0);
        self.ids[slot % SLOTS] = id;
        self.seqs[slot % SLOTS] = seq;
        self.len += 1;
        true
    }
}

/// Whether every property [`explain`] checks holds, for a store whose change log names at most
/// [`SESSIONS_ON_STACK_MAX`] sessions (no for a larger one). Never yes when [`explain`] would
/// refuse; the converse holds too, so [`explain`] runs only on a broken or a large state.
///
/// [`explain`] searches the change log `C` for every session's position and the tombstone order
/// `T` for every tombstone's pair. Here `C` and `T` are walked instead, beside a table by id:
///
/// - Walking `C`, each session it names is tabled with the position naming it (a session named
///   twice is refused: in a sound state `C` names each session once, since it has one entry per
///   session and mark). Walking the sessions, each must then be tabled with its own `seq` and
///   that `seq` be at most `state.seq`: that is "`C[seq]` names it", as stated.
/// - Walking the sessions also marks each tombstone's slot with its removal time, and every
///   entry of `T` must then name a marked slot removed at that entry's time. Two entries naming
///   the same tombstone would be the same pair (it has one removal time), but `T` is a set: so
///   `T` maps one-to-one into the tombstones, and with the counts equal, onto them. Every
///   tombstone is thus named by an entry of `T`, which is its own pair: as stated.
/// - The records, the counts, the kill marks and the clocks are checked as stated.
///
/// Conversely, in a state [`explain`] accepts every step here succeeds, so the two agree.
fn holds(state: &MetaState) -> bool {
    if state.sessions.len() <= SESSIONS_SMALL_MAX {
        holds_in(state, &mut SessionTable::<SESSIONS_SMALL_MAX, SMALL_BUCKETS>::new())
    } else {
        holds_in(state, &mut SessionTable::<SESSIONS_ON_STACK_MAX, SESSION_BUCKETS>::new())
    }
}

/// [`holds`] with a table of `SLOTS` sessions (a store with more is refused).
fn holds_in<const SLOTS: usize, const BUCKETS: usize>(
    state: &MetaState,
    table: &mut SessionTable<SLOTS, BUCKETS>,
) -> bool {
    for (&seq, change) in &state.changes {
        if let ChangeKey::Session(id) = *change {
            if !table.insert(id.get(), seq) {
                return false;
            }
        }
    }
    let mut live = 0_u32;
    let mut tombstones = 0_usize;
    for (&id, entry) in &state.sessions {
        let Some(slot) = table.find(id.get()) else { return false };
        if entry.seq > state.seq || table.seqs[slot] != entry.seq {
            return false;
        }
        match &entry.state {
            EntryState::Live(record) => {
                live += 1;
                if record.record.session != id {
                    return false;
                }
            }
            EntryState::Removed(tombstone) => {
                tombstones += 1;
                table.removed_unix_ms[slot] = Some(tombstone.removed_unix_ms);
            }
        }
    }
    if live != state.live_count || tombstones != state.tombstone_order.len() {
        return false;
    }
    for &(removed_unix_ms, id) in &state.tombstone_order {
        let removed = table.find(id.get()).and_then(|slot| table.removed_unix_ms[slot]);
        if removed != Some(removed_unix_ms) {
            return false;
        }
    }
    // The kill marks, the change log's size and the clocks, as stated.
    explain_rest(state).is_ok()
}

#[cfg(test)]
mod tests {
    //! The fast way against the reference, on sound states and on each way to break one.

    use std::collections::BTreeMap;

    use graphsession_base::MonotonicClock;
    use graphsession_id_gen::{PlanId, SessionId};
    use graphsession_query_plan::QueryKey;

    use super::{SESSIONS_ON_STACK_MAX, check_state, explain, holds};
    use crate::cluster::messages::{GoneReason, NodeId, RequestId, SessionRecord};
    use crate::cluster::meta::state::{
        ChangeKey, EntryState, Holder, Live, MetaState, NodeEntry, Tombstone,
    };
    use crate::cluster::{MetaConfig, MetaStore};

    fn id(value: i64) -> SessionId {
        SessionId::new(value).unwrap()
    }

    fn kill(session: i64, plan: u64) -> QueryKey {
        QueryKey { session: id(session), plan: PlanId::from_u64(plan) }
    }

    fn live(session: SessionId) -> Live {
        let record = SessionRecord {
            session,
            user: "user".to_owned(),
            client_ip: "127.0.0.1".to_owned(),
            space: String::new(),
            space_set_unix_ms: 0,
            created_unix_ms: 1,
            last_activity_unix_ms: 1,
            owner: NodeId(1),
        };
        Live { record, holders: BTreeMap::from([(NodeId(1), Holder::default())]) }
    }

    /// Sessions 1 to `count` (ids spread by a multiplier), every third removed, one removed
    /// before its create, kill marks on others, some moved in the change log.
    fn sound(count: i64) -> MetaState {
        let spread = |value: i64| id(value * 7_919 + 13);
        let mut state = MetaState { clock: MonotonicClock::new(10), ..MetaState::default() };
        let node = NodeEntry {
            last_request: RequestId { incarnation: 1, round: 1 },
            last_seen_unix_ms: 5,
        };
        state.nodes.insert(NodeId(1), node);
        for value in 1..=count {
            state.clock = MonotonicClock::new(10 + value.unsigned_abs() / 4);
            state.insert_live(live(spread(value)));
        }
        for value in (1..=count).filter(|value| value % 3 == 0) {
            state.clock = MonotonicClock::new(state.clock.newest() + 1);
            state.remove_live(spread(value), GoneReason::Expired, None, u32::MAX);
        }
        state.remove_unknown(id(5), GoneReason::Killed, NodeId(1), u32::MAX);
        for value in (1..=count).filter(|value| value % 3 == 1) {
            let session = spread(value).get();
            state.insert_kill(kill(session, 1));
            state.insert_kill(kill(session, 2));
        }
        for value in (1..=count).filter(|value| value % 3 == 2) {
            state.bump_session(spread(value));
        }
        state
    }

    fn first_live(state: &MetaState) -> SessionId {
        let live = state.sessions.iter().find(|(_, e)| matches!(e.state, EntryState::Live(_)));
        *live.unwrap().0
    }

    fn first_tombstone(state: &mut MetaState) -> (SessionId, &mut Tombstone) {
        let removed = state.sessions.iter_mut().find_map(|(id, entry)| match &mut entry.state {
            EntryState::Removed(tombstone) => Some((*id, std::sync::Arc::make_mut(tombstone))),
            EntryState::Live(_) => None,
        });
        removed.unwrap()
    }

    type Break = fn(&mut MetaState);

    fn breaks() -> Vec<(&'static str, Break)> {
        vec![
            ("a session moved to a free position", |s| {
                let session = first_live(s);
                s.sessions.get_mut(&session).unwrap().seq += 1_000;
            }),
            ("a session moved past the log", |s| {
                let (session, seq) = (first_live(s), s.seq + 1);
                let entry = s.sessions.get_mut(&session).unwrap();
                s.changes.remove(&entry.seq);
                entry.seq = seq;
                s.changes.insert(seq, ChangeKey::Session(session));
            }),
            ("the log's seq behind", |s| s.seq -= 1),
            ("a position dropped", |s| {
                let seq = s.sessions[&first_live(s)].seq;
                s.changes.remove(&seq);
            }),
            ("a position of nothing", |s| {
                s.changes.insert(s.seq + 5, ChangeKey::Session(id(999)));
            }),
            ("a session named twice", |s| {
                s.changes.insert(s.seq + 5, ChangeKey::Session(first_live(s)));
            }),
            ("a lost position and a stray one", |s| {
                let seq = s.sessions[&first_live(s)].seq;
                s.changes.remove(&seq);
                s.changes.insert(0, ChangeKey::Session(id(999)));
            }),
            ("two positions swapped", |s| {
                let mut seqs = s.sessions.values().map(|entry| entry.seq);
                let (a, b) = (seqs.next().unwrap(), seqs.next().unwrap());
                let (x, y) = (s.changes[&a], s.changes[&b]);
                s.changes.insert(a, y);
                s.changes.insert(b, x);
            }),
            ("a session's position names a mark", |s| {
                let seq = s.sessions[&first_live(s)].seq;
                let key = *s.kills.keys().next().unwrap();
                s.changes.insert(seq, ChangeKey::Kill(key));
            }),
            ("a mark moved", |s| s.kills.values_mut().next().unwrap().seq += 1_000),
            ("a mark at a session's position", |s| {
                let seq = s.sessions[&first_live(s)].seq;
                s.kills.values_mut().next().unwrap().seq = seq;
            }),
            ("live counted high", |s| s.live_count += 1),
            ("live counted low", |s| s.live_count -= 1),
            ("a record of another", |s| {
                let (one, other) = (first_live(s), id(999));
                if let EntryState::Live(live) = &mut s.sessions.get_mut(&one).unwrap().state {
                    std::sync::Arc::make_mut(live).record.session = other;
                }
            }),
            ("a tombstone's time moved", |s| first_tombstone(s).1.removed_unix_ms += 1),
            ("a tombstone out of the order", |s| {
                let (session, tombstone) = first_tombstone(s);
                let at = tombstone.removed_unix_ms;
                s.tombstone_order.remove(&(at, session));
            }),
            ("a tombstone's pair moved in the order", |s| {
                let (session, tombstone) = first_tombstone(s);
                let at = tombstone.removed_unix_ms;
                s.tombstone_order.remove(&(at, session));
                s.tombstone_order.insert((at + 1, session));
            }),
            ("a live session in the order", |s| {
                s.tombstone_order.insert((1, first_live(s)));
            }),
            ("a live session in the order instead of a tombstone", |s| {
                let live = first_live(s);
                let (session, tombstone) = first_tombstone(s);
                let at = tombstone.removed_unix_ms;
                s.tombstone_order.remove(&(at, session));
                s.tombstone_order.insert((at, live));
            }),
            ("an unknown session in the order", |s| {
                s.tombstone_order.insert((1, id(999)));
            }),
            ("a tombstone twice in the order, another missing", |s| {
                let pairs: Vec<_> = s.tombstone_order.iter().copied().take(2).collect();
                s.tombstone_order.remove(&pairs[1]);
                s.tombstone_order.insert((pairs[0].0 + 1, pairs[0].1));
            }),
            ("a mark of a tombstone", |s| {
                let session = s.kills.keys().next().unwrap().session;
                let tombstone = std::sync::Arc::new(first_tombstone(s).1.clone());
                s.sessions.get_mut(&session).unwrap().state = EntryState::Removed(tombstone);
            }),
            ("a mark out of its order", |s| {
                let (&key, mark) = s.kills.iter().next().unwrap();
                let at = mark.recorded_unix_ms;
                s.kill_order.remove(&(at, key));
                s.kill_order.insert((at + 1, key));
            }),
            ("the floor ahead", |s| s.gc_floor_seq = s.seq + 1),
            ("a node seen after the clock", |s| {
                s.nodes.get_mut(&NodeId(1)).unwrap().last_seen_unix_ms = s.clock.newest() + 1;
            }),
        ]
    }

    #[test]
    fn the_fast_way_agrees_with_the_reference_on_every_break() {
        let larger = i64::try_from(SESSIONS_ON_STACK_MAX).unwrap() + 10;
        for count in [0, 2, 7, 40, larger] {
            let state = sound(count);
            assert_eq!(explain(&state), Ok(()), "{count} sessions");
            assert_eq!(check_state(&state), Ok(()), "{count} sessions");
            assert_eq!(holds(&state), state.sessions.len() <= SESSIONS_ON_STACK_MAX);
            if count < 7 {
                continue;
            }
            for (what, break_it) in breaks() {
                let mut broken = state.clone();
                break_it(&mut broken);
                assert!(explain(&broken).is_err(), "{what} ({count} sessions)");
                assert!(!holds(&broken), "{what} ({count} sessions)");
                assert!(check_state(&broken).is_err(), "{what} ({count} sessions)");
            }
        }
    }

    #[test]
    fn the_store_refuses_a_sound_state_over_any_of_its_limits() {
        let state = sound(40);
        let live = state.live_count;
        let tombstones = u32::try_from(state.tombstone_order.len()).unwrap();
        let marks = u32::try_from(state.kills.len()).unwrap();
        let at_limits = MetaConfig {
            sessions_max: live,
            tombstones_max: tombstones,
            kill_marks_max: marks,
            nodes_max: 1,
            ..MetaConfig::default()
        };
        let store = MetaStore { config: at_limits, state: state.clone(), timer_due_unix_ms: 0 };
        assert_eq!(store.check_invariants(), Ok(()));
        let over: [(&str, &str, MetaConfig); 4] = [
            (
                "live_sessions_within_limit",
                "live sessions",
                MetaConfig { sessions_max: live - 1, ..at_limits },
            ),
            (
                "tombstones_within_limit",
                "tombstones",
                MetaConfig { tombstones_max: tombstones - 1, ..at_limits },
            ),
            (
                "kill_marks_within_limit",
                "kill marks",
                MetaConfig { kill_marks_max: marks - 1, ..at_limits },
            ),
            ("nodes_within_limit", "nodes", MetaConfig { nodes_max: 0, ..at_limits }),
        ];
        for (property, what, config) in over {
            let store = MetaStore { config, state: state.clone(), timer_due_unix_ms: 0 };
            let error = store.check_invariants().unwrap_err();
            assert_eq!(error.property, property);
            assert!(error.detail.contains(what), "{what}: {error:?}");
        }
        let mut far = state.clone();
        far.seq = super::SEQ_MAX;
        let store = MetaStore { config: at_limits, state: far, timer_due_unix_ms: 0 };
        let error = store.check_invariants().unwrap_err();
        assert_eq!(error.property, "change_log_position_within_bound");
        let mut broken = state;
        broken.live_count += 1;
        assert!(
            MetaStore { config: at_limits, state: broken, timer_due_unix_ms: 0 }
                .check_invariants()
                .is_err()
        );
    }

    #[test]
    fn the_store_refuses_any_broken_list_of_a_nodes_queries() {
        use crate::cluster::messages::QueryReport;
        use graphsession_query_plan::QueryStatus;

        let state = sound(4);
        let node = *state.nodes.keys().next().unwrap();
        let query = |session: i64, plan: u64, statement: &str| QueryReport {
            key: kill(session, plan),
            start_time_unix_us: 1,
            status: QueryStatus::Running,
            statement: statement.to_owned(),
        };
        let config =
            MetaConfig { request_items_max: 2, text_bytes_max: 8, ..MetaConfig::default() };
        let with = |node: NodeId, queries: Vec<QueryReport>| {
            let mut state = state.clone();
            state.node_queries.insert(node, queries);
            MetaStore { config, state, timer_due_unix_ms: 0 }.check_invariants()
        };
        // Exactly at both bounds: two queries, statements of exactly eight bytes.
        assert_eq!(with(node, vec![query(1, 1, "YIELD 11"), query(1, 2, "YIELD 22")]), Ok(()));
        let broken = [
            ("node_queries_of_known_nodes", with(NodeId(999), vec![query(1, 1, "YIELD 1")])),
            ("node_queries_sorted_and_distinct", with(node, Vec::new())),
            (
                "node_queries_sorted_and_distinct",
                with(node, vec![query(1, 2, ""), query(1, 1, "")]),
            ),
            (
                "node_queries_sorted_and_distinct",
                with(node, vec![query(1, 1, ""), query(1, 1, "")]),
            ),
            (
                "node_queries_within_limit",
                with(node, vec![query(1, 1, ""), query(1, 2, ""), query(1, 3, "")]),
            ),
            ("node_queries_within_limit", with(node, vec![query(1, 1, "YIELD 1000")])),
        ];
        for (property, result) in broken {
            assert_eq!(result.map_err(|error| error.property), Err(property));
        }
    }
}
