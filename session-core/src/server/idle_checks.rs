//! A shard's idle checks: `(check_at_ms, id)` of every session, earliest first, in a min-heap
//! with lazy deletion.
//!
//! A login's check is `now + idle_timeout_ms`, nearly always the latest, so its push stops at
//! the heap's bottom (O(1)); a session that ends is only counted out, its entry left in the heap
//! as stale, unless it is the earliest (then the stale entries on top are popped, O(log n) each).
//! The same `(check_at_ms, id)` order as a `BTreeSet` of the pairs, so checks pop in the order
//! they always did. Two rules keep that exact and bounded:
//! - the top is always live, so the earliest check is exact, O(1);
//! - stale entries are at most the live ones plus [`STALE_CHECKS_SLACK`]: past that, an end
//!   compacts the heap (keeps the live entries), O(n log n) once per n ends.
//!
//! Whether an entry is live is the shard's knowledge (its session is in the table with that
//! check time); the index asks through an `is_live` function whenever it may drop entries.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use graphsession_id_gen::SessionId;

/// Stale entries the heap may hold beyond its live ones before an end compacts it.
pub(crate) const STALE_CHECKS_SLACK: usize = 64;

/// Entries up to which [`IdleChecks::index`] scans the heap instead of sorting a copy.
const SCANNED_ENTRIES_MAX: usize = 16;

/// What [`IdleChecks::index`] gives: whether an entry is stored, one way or the other.
pub(crate) enum CheckIndex<'a> {
    /// Few entries: the heap, scanned.
    Scanned(&'a BinaryHeap<Reverse<(u64, SessionId)>>),
    /// More: a sorted copy, searched.
    Sorted(Vec<(u64, SessionId)>),
}

impl CheckIndex<'_> {
    /// Whether `entry` is stored (live or stale).
    pub(crate) fn contains(&self, entry: (u64, SessionId)) -> bool {
        match self {
            CheckIndex::Scanned(heap) => heap.iter().any(|&Reverse(stored)| stored == entry),
            CheckIndex::Sorted(sorted) => sorted.binary_search(&entry).is_ok(),
        }
    }
}

/// The idle checks of one shard.
#[derive(Debug, Default)]
pub(crate) struct IdleChecks {
    heap: BinaryHeap<Reverse<(u64, SessionId)>>,
    /// Checks of sessions still here; the rest of the heap is stale.
    live: usize,
}

impl IdleChecks {
    /// Schedules session `id`'s check at `check_at_ms`.
    pub(crate) fn insert(&mut self, check_at_ms: u64, id: SessionId) {
        self.heap.push(Reverse((check_at_ms, id)));
        self.live += 1;
    }

    /// Pushes a check already counted out, wherever it sorts (tests that break the rules).
    #[cfg(test)]
    pub(crate) fn push_stale(&mut self, check_at_ms: u64, id: SessionId) {
        self.heap.push(Reverse((check_at_ms, id)));
    }

    /// Session `id`'s check at `check_at_ms` is gone; `is_live` must already say so of it.
    pub(crate) fn remove(
        &mut self,
        check_at_ms: u64,
        id: SessionId,
        is_live: impl Fn(u64, SessionId) -> bool,
    ) {
        debug_assert!(self.live > 0, "removed an idle check never scheduled");
        self.live = self.live.saturating_sub(1);
        if self.heap.len() > 2 * self.live + STALE_CHECKS_SLACK {
            let mut entries = std::mem::take(&mut self.heap).into_vec();
            entries.retain(|&Reverse((at, id))| is_live(at, id));
            self.heap = BinaryHeap::from(entries);
        } else if self.heap.peek() == Some(&Reverse((check_at_ms, id))) {
            // The caller's check is stale already (`is_live` says so): popped without asking.
            self.heap.pop();
            self.settle(is_live);
        }
    }

    /// Pops the earliest check if it is due at `now`; the caller then reschedules or removes
    /// its session.
    pub(crate) fn pop_due(
        &mut self,
        now: u64,
        is_live: impl Fn(u64, SessionId) -> bool,
    ) -> Option<(u64, SessionId)> {
        self.settle(is_live);
        match self.heap.peek() {
            Some(&Reverse((at, _))) if at <= now => {
                let Reverse(entry) = self.heap.pop()?;
                self.live = self.live.saturating_sub(1);
                Some(entry)
            }
            Some(_) | None => None,
        }
    }

    /// The earliest check, live by the first rule.
    pub(crate) fn first(&self) -> Option<(u64, SessionId)> {
        self.heap.peek().map(|&Reverse(entry)| entry)
    }

    /// Checks of sessions still here.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Entries in the heap, stale ones included.
    pub(crate) fn stored(&self) -> usize {
        self.heap.len()
    }

    /// Every entry, stale ones included, sorted: for the invariant checks (binary search).
    pub(crate) fn sorted(&self) -> Vec<(u64, SessionId)> {
        let mut entries: Vec<(u64, SessionId)> = self.heap.iter().map(|&Reverse(e)| e).collect();
        entries.sort_unstable();
        entries
    }

    /// Every entry, stale ones included, for the invariant checks' membership tests: scanned as
    /// stored when there are at most [`SCANNED_ENTRIES_MAX`] or no live one (no buffer to
    /// build), sorted for a search when there are more.
    pub(crate) fn index(&self) -> CheckIndex<'_> {
        if self.live == 0 || self.heap.len() <= SCANNED_ENTRIES_MAX {
            CheckIndex::Scanned(&self.heap)
        } else {
            CheckIndex::Sorted(self.sorted())
        }
    }

    fn settle(&mut self, is_live: impl Fn(u64, SessionId) -> bool) {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if is_live(at, id) {
                return;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    fn id(value: i64) -> SessionId {
        SessionId::new(value).expect("positive")
    }

    /// Session `value`'s check time in the test: its id's value.
    fn at(value: i64) -> u64 {
        u64::try_from(value).expect("positive")
    }

    #[test]
    fn pops_like_an_ordered_set_and_stays_bounded() {
        let live = RefCell::new(BTreeSet::new());
        let is_live = |at, id| live.borrow().contains(&(at, id));
        let mut checks = IdleChecks::default();
        for value in 1..=1_000 {
            live.borrow_mut().insert((at(value), id(value)));
            checks.insert(at(value), id(value));
        }
        // Every other session ends, the earliest ones too.
        for value in (1..=1_000).step_by(2) {
            live.borrow_mut().remove(&(at(value), id(value)));
            checks.remove(at(value), id(value), is_live);
            assert!(checks.stored() <= 2 * checks.len() + STALE_CHECKS_SLACK);
            assert_eq!(checks.first(), live.borrow().first().copied(), "the top is live");
        }
        assert_eq!(checks.len(), 500);
        let popped: Vec<_> = std::iter::from_fn(|| {
            let entry = checks.pop_due(600, is_live)?;
            live.borrow_mut().remove(&entry);
            Some(entry)
        })
        .collect();
        let expected: Vec<_> = (2..=600).step_by(2).map(|v| (at(v), id(v))).collect();
        assert_eq!(popped, expected);
        assert_eq!(checks.first(), Some((602, id(602))));
    }
}
