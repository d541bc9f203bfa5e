//! The deadline index.
//!
//! NebulaGraph has no query timeout. Here a query may carry a deadline; the index is a binary
//! min-heap of `(deadline_unix_us, key)` with lazy deletion: registering pushes (O(log n), O(1)
//! when the new deadline is the latest, the usual case), and a query that is killed or removed is
//! only counted out, its entry left in the heap as stale. Ordered by `(deadline, key)`, so entries
//! pop in the order a `BTreeSet` of the same pairs would give, and the kills of one
//! `handle_timeout` happen in the same order.
//!
//! The earliest entry may sit outside the heap, in a one-entry front: a deadline earlier than all
//! the heap's goes there (the one it displaces goes into the heap), so a query whose deadline is
//! the nearest, registered and then finished, costs O(1) both ways instead of a sift to the top and
//! back down.
//!
//! Three rules keep that exact and bounded:
//! - the front, when there is one, precedes every entry of the heap;
//! - the front and the heap's top are always live: when a removal makes the heap's top stale,
//!   stale entries are popped until a live one (or nothing) is on top, so `poll_timeout` is the
//!   earliest deadline that can still fire, O(1);
//! - stale entries are at most the live ones plus [`STALE_ENTRIES_SLACK`]: past that, a removal
//!   compacts the heap (keeps the live entries, one per pair), O(n log n) once per n removals.
//!
//! Which entries are live is the registry's knowledge (a query still running with that deadline);
//! the index asks through an `is_live` function at every operation that may drop entries. The one
//! remaining case of a live entry that cannot fire, a query whose executor finished through its
//! handle but which the host has not removed yet, is skipped when its deadline pops, once.
//!
//! The index is generic over the key: it orders deadlines and knows nothing of the registry that
//! files queries in it (the registry's key is a `QueryKey`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Stale entries the heap may hold beyond its live ones before a removal compacts it.
pub(crate) const STALE_ENTRIES_SLACK: usize = 64;

/// Deadlines, earliest first, each filed under a key `K` (the registry's is its `QueryKey`).
#[derive(Debug, Clone)]
pub(crate) struct DeadlineIndex<K> {
    /// The earliest entry, when it is not in the heap.
    front: Option<(u64, K)>,
    heap: BinaryHeap<Reverse<(u64, K)>>,
    /// Entries that can still fire; the rest of the heap is stale.
    live: usize,
}

impl<K: Ord> Default for DeadlineIndex<K> {
    fn default() -> Self {
        DeadlineIndex { front: None, heap: BinaryHeap::new(), live: 0 }
    }
}

impl<K: Ord + Copy> DeadlineIndex<K> {
    /// Files `key`'s deadline. A key has at most one live deadline.
    #[inline]
    pub(crate) fn insert(&mut self, deadline_unix_us: u64, key: K) {
        let entry = (deadline_unix_us, key);
        self.live += 1;
        let earliest = match (self.front, self.heap.peek()) {
            (Some(front), _) => entry < front,
            (None, Some(&Reverse(top))) => entry < top,
            (None, None) => true,
        };
        if !earliest {
            self.heap.push(Reverse(entry));
            return;
        }
        if let Some(displaced) = self.front.replace(entry) {
            self.heap.push(Reverse(displaced));
        }
    }

    /// `key`'s deadline can no longer fire; `is_live` must already say so of it.
    #[inline]
    pub(crate) fn remove(
        &mut self,
        deadline_unix_us: u64,
        key: K,
        is_live: impl Fn(u64, K) -> bool,
    ) {
        debug_assert!(self.live > 0, "the registry removes only deadlines it inserted");
        self.live = self.live.saturating_sub(1);
        if self.front == Some((deadline_unix_us, key)) {
            self.front = None;
        }
        if self.stored() > 2 * self.live + STALE_ENTRIES_SLACK {
            self.compact(is_live);
        } else if self.heap.peek() == Some(&Reverse((deadline_unix_us, key))) {
            // Only the removed pair can have made the top stale (a stale copy of the pair, left by
            // an earlier registration of the same key, reads as live until now).
            self.settle(is_live);
        }
    }

    /// The earliest deadline that can still fire. O(1).
    pub(crate) fn first_unix_us(&self) -> Option<u64> {
        self.first().map(|(deadline_unix_us, _)| deadline_unix_us)
    }

    /// Removes and returns the earliest live entry if its deadline is at or before
    /// `now_unix_us`; the caller makes it stale (kills the query or clears its deadline) before
    /// the next call.
    pub(crate) fn pop_expired(
        &mut self,
        now_unix_us: u64,
        is_live: impl Fn(u64, K) -> bool,
    ) -> Option<(u64, K)> {
        self.settle(&is_live);
        if let Some(front @ (deadline_unix_us, _)) = self.front {
            if deadline_unix_us > now_unix_us {
                return None;
            }
            self.front = None;
            self.live = self.live.saturating_sub(1);
            return Some(front);
        }
        match self.heap.peek() {
            Some(&Reverse((deadline_unix_us, _))) if deadline_unix_us <= now_unix_us => {
                let Reverse(entry) = self.heap.pop()?;
                self.live = self.live.saturating_sub(1);
                Some(entry)
            }
            Some(_) | None => None,
        }
    }

    /// Every entry, stale ones included, sorted: for the invariant checks (binary search).
    pub(crate) fn sorted_entries(&self) -> Vec<(u64, K)> {
        let heap = self.heap.iter().map(|&Reverse(entry)| entry);
        let mut entries: Vec<(u64, K)> = self.front.into_iter().chain(heap).collect();
        entries.sort_unstable();
        entries
    }

    /// The earliest entry: the front, or else the heap's top; live by the second rule.
    pub(crate) fn first(&self) -> Option<(u64, K)> {
        self.front.or_else(|| self.heap.peek().map(|&Reverse(entry)| entry))
    }

    /// The heap's top, live by the second rule.
    pub(crate) fn heap_top(&self) -> Option<(u64, K)> {
        self.heap.peek().map(|&Reverse(entry)| entry)
    }

    /// The first rule: the front, if any, precedes the heap's top.
    pub(crate) fn front_precedes_heap(&self) -> bool {
        match (self.front, self.heap.peek()) {
            (Some(front), Some(&Reverse(top))) => front <= top,
            _ => true,
        }
    }

    /// Deadlines that can still fire.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Entries in the heap, stale ones included.
    pub(crate) fn stored(&self) -> usize {
        self.heap.len() + usize::from(self.front.is_some())
    }

    /// Pops stale entries until the top is live or the heap is empty.
    fn settle(&mut self, is_live: impl Fn(u64, K) -> bool) {
        while let Some(&Reverse((deadline_unix_us, key))) = self.heap.peek() {
            if is_live(deadline_unix_us, key) {
                return;
            }
            self.heap.pop();
        }
    }

    /// Keeps only the live entries, one per pair (a key removed and registered again with the
    /// same deadline may have left its old entry, which reads as live).
    fn compact(&mut self, is_live: impl Fn(u64, K) -> bool) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.retain(|&Reverse((deadline_unix_us, key))| is_live(deadline_unix_us, key));
        entries.sort_unstable();
        entries.dedup();
        self.heap = BinaryHeap::from(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    /// A (session, plan) pair, as the registry's key orders them.
    type Key = (i64, u64);

    /// The index beside the set of live pairs it is told about, as the registry keeps them.
    struct Harness {
        index: DeadlineIndex<Key>,
        live: RefCell<BTreeSet<(u64, Key)>>,
    }

    impl Harness {
        fn new() -> Harness {
            Harness { index: DeadlineIndex::default(), live: RefCell::new(BTreeSet::new()) }
        }

        fn insert(&mut self, deadline: u64, key: Key) {
            self.live.borrow_mut().insert((deadline, key));
            self.index.insert(deadline, key);
        }

        fn remove(&mut self, deadline: u64, key: Key) {
            self.live.borrow_mut().remove(&(deadline, key));
            let live = &self.live;
            self.index.remove(deadline, key, |d, k| live.borrow().contains(&(d, k)));
        }

        fn pop(&mut self, now: u64) -> Option<(u64, Key)> {
            let live = &self.live;
            let popped = self.index.pop_expired(now, |d, k| live.borrow().contains(&(d, k)));
            if let Some(entry) = popped {
                live.borrow_mut().remove(&entry);
            }
            popped
        }

        fn check(&self) {
            let live = self.live.borrow();
            assert_eq!(self.index.len(), live.len());
            assert_eq!(self.index.first(), live.first().copied(), "the top is the earliest live");
            assert!(self.index.stored() <= 2 * live.len() + STALE_ENTRIES_SLACK);
            assert!(self.index.front_precedes_heap());
            if let Some((d, k)) = self.index.heap_top() {
                assert!(live.contains(&(d, k)), "the heap's top is live");
            }
        }
    }

    #[test]
    fn the_top_is_always_the_earliest_live_deadline() {
        let mut harness = Harness::new();
        harness.insert(300, (1, 3));
        harness.insert(100, (1, 1));
        harness.insert(200, (1, 2));
        harness.check();
        harness.remove(200, (1, 2));
        harness.check();
        harness.remove(100, (1, 1));
        harness.check();
        assert_eq!(harness.index.first_unix_us(), Some(300));
        assert_eq!(harness.pop(299), None, "not due yet");
        assert_eq!(harness.pop(300), Some((300, (1, 3))));
        harness.check();
        assert_eq!(harness.index.first_unix_us(), None);
    }

    #[test]
    fn an_earlier_deadline_takes_the_front_and_the_displaced_one_goes_to_the_heap() {
        let mut harness = Harness::new();
        harness.insert(500, (1, 5));
        harness.insert(400, (1, 4));
        harness.insert(300, (1, 3));
        harness.insert(600, (1, 6));
        harness.check();
        assert_eq!(harness.index.first(), Some((300, (1, 3))));
        harness.remove(300, (1, 3));
        harness.check();
        assert_eq!(
            harness.index.first(),
            Some((400, (1, 4))),
            "the heap's top once the front is gone"
        );
        harness.insert(100, (1, 1));
        assert_eq!(harness.pop(150), Some((100, (1, 1))));
        assert_eq!(harness.pop(150), None);
        harness.check();
    }

    #[test]
    fn pops_in_deadline_then_key_order() {
        let mut harness = Harness::new();
        for (deadline, key) in [(5, (2, 1)), (5, (1, 9)), (4, (3, 3)), (5, (1, 2))] {
            harness.insert(deadline, key);
        }
        let popped: Vec<_> = std::iter::from_fn(|| harness.pop(5)).collect();
        assert_eq!(popped, [(4, (3, 3)), (5, (1, 2)), (5, (1, 9)), (5, (2, 1))]);
    }

    #[test]
    fn stale_entries_stay_bounded_and_a_reinserted_pair_fires_once() {
        let mut harness = Harness::new();
        harness.insert(1_000_000, (9, 9));
        for plan in 0..10_000 {
            harness.insert(2_000 + plan, (1, plan));
            harness.remove(2_000 + plan, (1, plan));
            // The same pair again, as a host may register it after its finish.
            harness.insert(1_000, (7, 7));
            harness.remove(1_000, (7, 7));
            harness.check();
        }
        harness.insert(1_000, (7, 7));
        assert_eq!(harness.pop(u64::MAX), Some((1_000, (7, 7))));
        assert_eq!(harness.pop(u64::MAX), Some((1_000_000, (9, 9))));
        assert_eq!(harness.pop(u64::MAX), None);
        harness.check();
    }
}
