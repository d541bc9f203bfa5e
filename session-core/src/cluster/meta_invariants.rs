//! [`MetaStore::check_invariants`]: the indexes agree with the maps, every count is within its
//! limit, and nothing sits ahead of the change log. Tests and the simulator call it after every
//! step; [`MetaStore::restore`] calls it before accepting a persisted state.

use crate::cluster::error::InvariantViolation;
use crate::cluster::meta::MetaStore;
use crate::cluster::meta_state::{ChangeKey, EntryState, MetaState};

impl MetaStore {
    /// Checks every invariant of the store.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        check_state(&self.state)?;
        let limits = [
            ("live sessions", self.state.live_count as usize, self.config.sessions_max),
            ("tombstones", self.state.tombstone_order.len(), self.config.tombstones_max),
            ("kill marks", self.state.kills.len(), self.config.kill_marks_max),
            ("nodes", self.state.nodes.len(), self.config.nodes_max),
        ];
        for (what, count, max) in limits {
            if count > max as usize {
                return Err(violation(format!("{count} {what}, more than the limit {max}")));
            }
        }
        Ok(())
    }
}

fn violation(message: String) -> InvariantViolation {
    InvariantViolation(message)
}

pub(crate) fn check_state(state: &MetaState) -> Result<(), InvariantViolation> {
    let mut live = 0_u32;
    let mut tombstones = 0_usize;
    for (&id, entry) in &state.sessions {
        if entry.seq > state.seq || state.changes.get(&entry.seq) != Some(&ChangeKey::Session(id)) {
            return Err(violation(format!("session {id} is not at its change-log position")));
        }
        match &entry.state {
            EntryState::Live(record) => {
                live += 1;
                if record.record.session != id {
                    return Err(violation(format!("session {id} holds the record of another")));
                }
            }
            EntryState::Removed(tombstone) => {
                tombstones += 1;
                if !state.tombstone_order.contains(&(tombstone.removed_unix_ms, id)) {
                    return Err(violation(
                        "the tombstone order disagrees with the tombstones".to_owned(),
                    ));
                }
            }
        }
    }
    if live != state.live_count {
        return Err(violation(format!("{live} live sessions, counted {}", state.live_count)));
    }
    if tombstones != state.tombstone_order.len() {
        return Err(violation("the tombstone order disagrees with the tombstones".to_owned()));
    }
    let mut kills = 0_usize;
    for (&key, mark) in &state.kills {
        let live = matches!(
            state.sessions.get(&key.session).map(|entry| &entry.state),
            Some(EntryState::Live(_))
        );
        if !live {
            return Err(violation(format!("kill mark {key:?} outlives its session")));
        }
        if mark.seq > state.seq || state.changes.get(&mark.seq) != Some(&ChangeKey::Kill(key)) {
            return Err(violation(format!("kill mark {key:?} is not at its change-log position")));
        }
        kills += 1;
        if !state.kill_order.contains(&(mark.recorded_unix_ms, key)) {
            return Err(violation("the kill order disagrees with the kill marks".to_owned()));
        }
    }
    if kills != state.kill_order.len() {
        return Err(violation("the kill order disagrees with the kill marks".to_owned()));
    }
    if state.changes.len() != state.sessions.len() + state.kills.len() {
        return Err(violation("the change log holds entries of nothing".to_owned()));
    }
    if state.gc_floor_seq > state.seq {
        return Err(violation("the collected floor is ahead of the change log".to_owned()));
    }
    let newest_seen = state.nodes.values().map(|node| node.last_seen_unix_ms).max();
    if newest_seen.is_some_and(|seen| seen > state.now_unix_ms) {
        return Err(violation("a node was seen after the store's clock".to_owned()));
    }
    Ok(())
}
