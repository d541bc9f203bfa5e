//! The registry's fixed hashes: a session id's hash, which picks its shard and its home slot,
//! a user name's shard for the shared callers, and a pass-through hasher for keys that are such
//! hashes already. Deterministic, so behaviour never depends on
//! OS randomness; here, apart from `shard.rs`, so the tables that hash (the slot table, the
//! (user, ip) counts, the shared callers) do not depend on the shards that hold them.

use graphsession_base::fnv1a64;
use graphsession_id_gen::SessionId;

/// A fixed, deterministic hash of a session id: a folded 64x64 -> 128-bit multiply. Sealed ids
/// are already uniform; the multiply spreads unsealed (time-ordered) ids too. Deterministic, so
/// behaviour never depends on OS randomness.
#[inline]
#[expect(clippy::cast_possible_truncation, reason = "folding the product: truncation is the point")]
pub(crate) fn mix(value: u64) -> u64 {
    let product = u128::from(value) * 0x9E37_79B9_7F4A_7C15_u128;
    (product as u64) ^ ((product >> 64) as u64)
}

/// The shard of a user's name among `shards` (FNV-1a: fixed, so behaviour never depends on OS
/// randomness). Used by the shared callers; the (user, ip) counts hash the whole pair.
pub(crate) fn name_shard(name: &str, shards: usize) -> usize {
    let hash = fnv1a64(name.as_bytes());
    let shards = u64::try_from(shards.max(1)).unwrap_or(u64::MAX);
    usize::try_from(hash % shards).unwrap_or(0)
}

/// The hash of a session id: [`mix`] of its value.
#[inline]
pub(crate) fn hash_id(id: SessionId) -> u64 {
    mix(id.get().unsigned_abs())
}

/// The shard of a session whose id hashes to `hash`, among `mask + 1` shards. Bits 32.. of the
/// hash, so the slot table inside the shard (which uses the top bits) sees independent ones.
#[inline]
pub(crate) fn shard_index(hash: u64, mask: u64) -> usize {
    usize::try_from((hash >> 32) & mask).unwrap_or(0)
}

/// A hasher for keys that are already fixed, well-spread 64-bit hashes: it passes them through.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PassHasher(u64);

impl std::hash::Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; anything else is folded in, still deterministic.
        for &byte in bytes {
            self.0 = mix(self.0 ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    //! The hashes are fixed functions (behaviour never depends on OS randomness) whose only job is
    //! to spread: a different function would still be correct, only slower, so their values are
    //! pinned here and the spread of sequential ids and names is checked.

    use super::{hash_id, mix, name_shard, shard_index};

    #[test]
    fn mix_is_the_folded_golden_ratio_multiply() {
        assert_eq!(mix(0), 0);
        assert_eq!(mix(1), 0x9E37_79B9_7F4A_7C15);
        // The high half of the product folds into the low half.
        assert_eq!(mix(12_345), 0xA12C_E22B_4ED9_8D60);
    }

    #[test]
    fn sequential_ids_spread_evenly_over_the_shards() {
        let mut counts = [0_u32; 64];
        for value in 1..=6_400 {
            let id = graphsession_id_gen::SessionId::new(value).expect("positive");
            counts[shard_index(hash_id(id), 63)] += 1;
        }
        assert!(counts.iter().all(|&count| (90..=110).contains(&count)), "{counts:?}");
    }

    #[test]
    fn name_shard_is_fnv1a_modulo_the_shard_count() {
        assert_eq!(name_shard("", 16), 5);
        assert_eq!(name_shard("alice", 16), 7);
        assert_eq!(name_shard("bob", 16), 4);
        assert_eq!(name_shard("alice", 0), 0, "no shards is taken as one");
        let mut counts = [0_u32; 16];
        for user in 0..1_600 {
            counts[name_shard(&format!("user{user}"), 16)] += 1;
        }
        assert!(counts.iter().all(|&count| (90..=110).contains(&count)), "{counts:?}");
    }
}
