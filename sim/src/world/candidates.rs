//! The accounting oracle's candidates (every session created and not yet tombstoned at meta),
//! with the indexes that let a pass judge only the candidates whose verdict the step may have
//! changed: by owning client slot, the ones of a known owner not held, and the ones of no
//! recorded owner.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_id_gen::SessionId;

/// What the oracle learned of a candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Candidate {
    /// The client slot and process its creation reply reached, once recorded.
    pub(super) owner: Option<(u16, u32)>,
    /// At the last pass its owner held it (ledger or outbox): it stays accounted for until
    /// that client takes an input, whatever the servers do.
    pub(super) held: bool,
}

/// The candidates and their indexes. Every candidate is in exactly one of `ownerless` (no
/// recorded owner) and `by_slot[slot]` (its recorded owner's slot), and in `unheld` exactly
/// when it has a recorded owner and is not held (a candidate of no recorded owner is never
/// held: `Candidate::held` is learned together with the owner).
#[derive(Debug, Default)]
pub(super) struct Candidates {
    map: BTreeMap<SessionId, Candidate>,
    ownerless: BTreeSet<SessionId>,
    unheld: BTreeSet<SessionId>,
    by_slot: Vec<Vec<SessionId>>,
}

impl Candidates {
    /// A session just created: a candidate of no recorded owner, not held (replacing what was
    /// known of an earlier session of the same id, as a fresh entry).
    pub(super) fn insert(&mut self, session: SessionId) {
        self.remove(session);
        self.map.insert(session, Candidate::default());
        self.ownerless.insert(session);
    }

    /// What is known of `session`, if it is a candidate.
    pub(super) fn get(&self, session: SessionId) -> Option<Candidate> {
        self.map.get(&session).copied()
    }

    /// Whether `session` is a candidate.
    pub(super) fn contains(&self, session: SessionId) -> bool {
        self.map.contains_key(&session)
    }

    /// Every candidate, by id.
    pub(super) fn all(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.map.keys().copied()
    }

    /// The candidates of no recorded owner, by id.
    #[cfg(test)]
    pub(super) fn ownerless(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.ownerless.iter().copied()
    }

    /// The candidates of a recorded owner not held at their last judgement, by id.
    pub(super) fn unheld(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.unheld.iter().copied()
    }

    /// The candidates whose recorded owner is client slot `slot` (in no order).
    pub(super) fn of_slot(&self, slot: usize) -> &[SessionId] {
        self.by_slot.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Records what a pass learned of `session` (a candidate).
    pub(super) fn learn(&mut self, session: SessionId, learned: Candidate) {
        let Some(known) = self.map.get_mut(&session) else { return };
        let before = std::mem::replace(known, learned);
        if before.owner != learned.owner {
            self.unindex_owner(session, before.owner);
            self.index_owner(session, learned.owner);
        }
        if learned.held || learned.owner.is_none() {
            self.unheld.remove(&session);
        } else {
            self.unheld.insert(session);
        }
    }

    /// `session` leaves the candidates (settled for good, or replaced).
    pub(super) fn remove(&mut self, session: SessionId) {
        let Some(known) = self.map.remove(&session) else { return };
        self.unindex_owner(session, known.owner);
        self.unheld.remove(&session);
    }

    fn index_owner(&mut self, session: SessionId, owner: Option<(u16, u32)>) {
        match owner {
            None => {
                self.ownerless.insert(session);
            }
            Some((slot, _)) => {
                let slot = usize::from(slot);
                if self.by_slot.len() <= slot {
                    self.by_slot.resize_with(slot + 1, Vec::new);
                }
                self.by_slot[slot].push(session);
            }
        }
    }

    fn unindex_owner(&mut self, session: SessionId, owner: Option<(u16, u32)>) {
        match owner {
            None => {
                self.ownerless.remove(&session);
            }
            Some((slot, _)) => {
                if let Some(sessions) = self.by_slot.get_mut(usize::from(slot)) {
                    sessions.retain(|&held| held != session);
                }
            }
        }
    }

    /// Whether the indexes agree with the map (for tests and debug builds).
    pub(super) fn indexes_agree(&self) -> bool {
        let ownerless: BTreeSet<SessionId> =
            (self.map.iter()).filter(|(_, c)| c.owner.is_none()).map(|(s, _)| *s).collect();
        let unheld: BTreeSet<SessionId> = (self.map.iter())
            .filter(|(_, c)| !c.held && c.owner.is_some())
            .map(|(s, _)| *s)
            .collect();
        let slotted = self.by_slot.iter().enumerate().all(|(slot, sessions)| {
            let mut sessions = sessions.clone();
            sessions.sort_unstable();
            let expected: Vec<SessionId> = (self.map.iter())
                .filter(|(_, c)| c.owner.is_some_and(|(owner, _)| usize::from(owner) == slot))
                .map(|(s, _)| *s)
                .collect();
            sessions == expected
        });
        let counted = self.by_slot.iter().map(Vec::len).sum::<usize>() + ownerless.len();
        ownerless == self.ownerless && unheld == self.unheld && slotted && counted == self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: i64) -> SessionId {
        SessionId::new(value).unwrap()
    }

    #[test]
    fn the_indexes_follow_what_is_learned() {
        let mut candidates = Candidates::default();
        for value in 1..=4 {
            candidates.insert(id(value));
        }
        assert!(candidates.indexes_agree());
        assert_eq!(candidates.ownerless().count(), 4);
        candidates.learn(id(1), Candidate { owner: Some((2, 7)), held: true });
        candidates.learn(id(2), Candidate { owner: Some((2, 7)), held: false });
        candidates.learn(id(3), Candidate { owner: None, held: false });
        assert!(candidates.indexes_agree());
        assert_eq!(candidates.of_slot(2).len(), 2);
        assert_eq!(candidates.of_slot(5).len(), 0);
        assert_eq!(candidates.unheld().collect::<Vec<_>>(), vec![id(2)]);
        assert_eq!(candidates.ownerless().collect::<Vec<_>>(), vec![id(3), id(4)]);
        candidates.remove(id(1));
        candidates.insert(id(2)); // a fresh session of the same id: known as new
        assert!(candidates.indexes_agree());
        assert_eq!(candidates.get(id(2)), Some(Candidate::default()));
        assert!(candidates.of_slot(2).is_empty());
        assert!(!candidates.contains(id(1)));
        assert_eq!(candidates.all().count(), 3);
    }
}
