//! The deadline index.
//!
//! NebulaGraph has no query timeout. Here a query may carry a deadline; the index is a `BTreeSet`
//! ordered by `(deadline_unix_us, key)`, so the earliest deadline is its first element
//! (`poll_timeout` is O(log n)) and firing the expired ones pops a prefix (`handle_timeout` is
//! O(expired · log n), never a scan of all queries). A query leaves the index when it is killed or
//! removed, so the index holds only deadlines that can still fire; the one exception, a query whose
//! executor finished through its handle but which the host has not removed yet, is skipped when its
//! deadline pops, once.
//!
//! The index is generic over the key: it orders deadlines and knows nothing of the registry that
//! files queries in it (the registry's key is a `QueryKey`).

use std::collections::BTreeSet;

/// Deadlines, earliest first, each filed under a key `K` (the registry's is its `QueryKey`).
#[derive(Debug, Clone)]
pub(crate) struct DeadlineIndex<K> {
    entries: BTreeSet<(u64, K)>,
}

impl<K> Default for DeadlineIndex<K> {
    fn default() -> Self {
        DeadlineIndex { entries: BTreeSet::new() }
    }
}

impl<K: Ord + Copy> DeadlineIndex<K> {
    pub(crate) fn insert(&mut self, deadline_unix_us: u64, key: K) {
        let inserted = self.entries.insert((deadline_unix_us, key));
        debug_assert!(inserted, "a key has at most one deadline");
    }

    pub(crate) fn remove(&mut self, deadline_unix_us: u64, key: K) {
        let removed = self.entries.remove(&(deadline_unix_us, key));
        debug_assert!(removed, "the registry removes only deadlines it inserted");
    }

    /// The earliest deadline.
    pub(crate) fn first_unix_us(&self) -> Option<u64> {
        self.entries.first().map(|&(deadline_unix_us, _)| deadline_unix_us)
    }

    /// Removes and returns the earliest entry if its deadline is at or before `now_unix_us`.
    pub(crate) fn pop_expired(&mut self, now_unix_us: u64) -> Option<(u64, K)> {
        match self.entries.first() {
            Some(&(deadline_unix_us, _)) if deadline_unix_us <= now_unix_us => {
                self.entries.pop_first()
            }
            Some(_) | None => None,
        }
    }

    pub(crate) fn contains(&self, deadline_unix_us: u64, key: K) -> bool {
        self.entries.contains(&(deadline_unix_us, key))
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A (session, plan) pair, as the registry's key orders them.
    fn key(session: i64, plan: u64) -> (i64, u64) {
        (session, plan)
    }

    #[test]
    fn contains_only_the_exact_deadline_and_key_inserted() {
        let mut index = DeadlineIndex::default();
        index.insert(100, key(1, 7));
        assert!(index.contains(100, key(1, 7)));
        assert!(!index.contains(101, key(1, 7)), "same key, other deadline");
        assert!(!index.contains(100, key(1, 8)), "same deadline, other plan");
        assert!(!index.contains(100, key(2, 7)), "same deadline, other session");
        index.remove(100, key(1, 7));
        assert!(!index.contains(100, key(1, 7)));
        assert_eq!(index.len(), 0);
    }
}
