//! The registry's tables: hash maps with a fixed hasher, and each session's list of plans.
//!
//! Sessions and queries are found by key on every register and finish, so they sit in hash maps
//! (one probe each) instead of ordered maps (a tree walk each). The hasher is fixed, no OS seed,
//! so a map's layout is the same in every process; and nothing reads a map in its own order where
//! the order could show: SHOW QUERIES, KILL SESSION and `check_invariants` sort what they take
//! out. A session's queries are found through its [`PlanList`], not by a range of the query map.

use graphsession_id_gen::PlanId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hash map with the registry's fixed hasher.
pub(crate) type FixedMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// The registry's fixed hasher for its integer keys (session ids, plan ids): each word is mixed
/// into the state by a folded 64x64 -> 128-bit multiply by the golden ratio. Sealed session ids
/// are uniform already; the multiply spreads plan ids (a node slot and a counter) too.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

/// 2^64 divided by the golden ratio, odd: the multiplier of Fibonacci hashing.
const GOLDEN_RATIO_64: u128 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only integers are hashed with it; any other bytes are folded in eight at a time, still
        // deterministic.
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    #[expect(
        clippy::cast_possible_truncation,
        reason = "folding the product: truncation is the point"
    )]
    fn write_u64(&mut self, value: u64) {
        let product = u128::from(self.0 ^ value) * GOLDEN_RATIO_64;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    #[inline]
    fn write_i64(&mut self, value: i64) {
        self.write_u64(u64::from_le_bytes(value.to_le_bytes()));
    }
}

/// The plans a session has in the registry, in no order. The first is inline, so a session with
/// one query at a time (the common case) allocates nothing for its list.
#[derive(Debug, Default)]
pub(crate) struct PlanList {
    first: Option<PlanId>,
    more: Vec<PlanId>,
}

impl PlanList {
    /// How many plans.
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        let more = u32::try_from(self.more.len()).unwrap_or(u32::MAX);
        more.saturating_add(u32::from(self.first.is_some()))
    }

    /// Adds `plan` (the registry adds each plan once).
    #[inline]
    pub(crate) fn push(&mut self, plan: PlanId) {
        if self.first.is_none() {
            self.first = Some(plan);
        } else {
            self.more.push(plan);
        }
    }

    /// Removes `plan`; whether it was there. O(plans), bounded by `queries_per_session_max`; the
    /// newest plans are searched first (the list is scanned from its end), so a query that ends
    /// before those registered after it (the usual case: a session's latest statement) is found
    /// in one step.
    #[inline]
    pub(crate) fn remove(&mut self, plan: PlanId) -> bool {
        if self.first == Some(plan) {
            self.first = self.more.pop();
            return true;
        }
        match self.more.iter().rposition(|&other| other == plan) {
            Some(index) => {
                self.more.swap_remove(index);
                true
            }
            None => false,
        }
    }

    /// The plans, in plan order.
    pub(crate) fn sorted(&self) -> Vec<PlanId> {
        let mut plans: Vec<PlanId> = self.first.iter().chain(&self.more).copied().collect();
        plans.sort_unstable();
        plans
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn plan(value: u64) -> PlanId {
        PlanId::from_u64(value)
    }

    #[test]
    fn the_hasher_is_the_folded_golden_ratio_multiply_per_word() {
        let mut hasher = KeyHasher::default();
        1_u64.hash(&mut hasher);
        assert_eq!(hasher.finish(), 0x9E37_79B9_7F4A_7C15);
        let mut signed = KeyHasher::default();
        1_i64.hash(&mut signed);
        assert_eq!(signed.finish(), hasher.finish(), "an i64 hashes as its bits");
        let mut bytes = KeyHasher::default();
        bytes.write(&[1]);
        assert_eq!(bytes.finish(), hasher.finish(), "bytes are read as little-endian words");
    }

    #[test]
    fn a_plan_list_keeps_every_plan_once_and_sorts_them() {
        let mut list = PlanList::default();
        assert_eq!(list.len(), 0);
        for value in [5, 3, 9, 1] {
            list.push(plan(value));
        }
        assert_eq!(list.len(), 4);
        assert_eq!(list.sorted(), [plan(1), plan(3), plan(5), plan(9)]);
        assert!(list.remove(plan(5)), "the inline first");
        assert!(list.remove(plan(3)));
        assert!(!list.remove(plan(3)), "already gone");
        assert!(!list.remove(plan(7)), "never there");
        assert_eq!(list.sorted(), [plan(1), plan(9)]);
        assert!(list.remove(plan(1)));
        assert!(list.remove(plan(9)));
        assert_eq!(list.len(), 0);
        list.push(plan(2));
        assert_eq!(list.sorted(), [plan(2)]);
    }
}
