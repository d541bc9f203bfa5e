//! The simulator's one source of randomness: xoshiro256** seeded through SplitMix64.
//!
//! Owned by this crate (not `rand`) so a seed means the same run on every Rust version, platform and
//! dependency update: the algorithm is fixed here and tested against its known first outputs.

/// A deterministic pseudo-random generator. Not for cryptography.
#[derive(Debug, Clone)]
pub struct Prng {
    state: [u64; 4],
}

impl Prng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn from_seed(seed: u64) -> Prng {
        let mut splitmix = seed;
        let mut next = || {
            splitmix = splitmix.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = splitmix;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Prng { state: [next(), next(), next(), next()] }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A value in `0..n` (`0` when `n` is 0), by the multiply-high method.
    pub fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(n);
        // The high half of a 64x64 product always fits 64 bits.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// A value in `low..=high` (`low` when the range is empty).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// An index into `weights`, each chosen with probability proportional to its weight. Zero weights are
    /// never chosen; all-zero weights choose index 0.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&weight| u64::from(weight)).sum();
        let mut pick = self.below(total);
        for (index, &weight) in weights.iter().enumerate() {
            if pick < u64::from(weight) {
                return index;
            }
            pick -= u64::from(weight);
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_zero_gives_the_same_stream_forever() {
        // Pinned outputs: if these change, every recorded seed and replay file changes meaning.
        let mut prng = Prng::from_seed(0);
        let first: Vec<u64> = (0..3).map(|_| prng.next_u64()).collect();
        assert_eq!(first, PINNED_SEED_ZERO);
    }

    const PINNED_SEED_ZERO: [u64; 3] =
        [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0];

    #[test]
    fn weighted_never_picks_a_zero_weight() {
        let mut prng = Prng::from_seed(7);
        for _ in 0..10_000 {
            assert_ne!(prng.weighted(&[3, 0, 5]), 1);
        }
    }

    #[test]
    fn range_stays_inside_its_bounds() {
        let mut prng = Prng::from_seed(9);
        for _ in 0..10_000 {
            let value = prng.range(10, 12);
            assert!((10..=12).contains(&value));
        }
        assert_eq!(prng.range(5, 3), 5);
    }
}
