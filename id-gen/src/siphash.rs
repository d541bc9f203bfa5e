//! SipHash over exactly one 64-bit word, generic over its compression (`C`) and finalization (`D`) rounds.
//!
//! The sealing permutation needs a keyed pseudo-random function on small integers. SipHash is the field's
//! standard short-input PRF; we need it for a single word only, so this specialisation skips the byte-buffer
//! machinery and costs a handful of nanoseconds. Production uses SipHash-1-3 (what Rust's std hashes with),
//! through [`PreparedSip13`], which does once per key the work that depends only on the key and the word's
//! top byte (the sealing's round number); the tests check it against [`siphash_word`] with C = 1, D = 3, and
//! that with C = 2, D = 4 against std's SipHash-2-4 implementation.

/// A 128-bit SipHash key as two little-endian words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SipKey {
    pub(crate) k0: u64,
    pub(crate) k1: u64,
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-C-D of the 8-byte little-endian encoding of `word`: the reference [`PreparedSip13`] is
/// checked against.
#[cfg(test)]
pub(crate) fn siphash_word<const C: usize, const D: usize>(key: SipKey, word: u64) -> u64 {
    let mut v = initial_state(key);
    // The message block.
    v[3] ^= word;
    for _ in 0..C {
        sip_round(&mut v);
    }
    v[0] ^= word;
    // The final block holds only the message length (8 bytes) in its top byte.
    let last = 8_u64 << 56;
    v[3] ^= last;
    for _ in 0..C {
        sip_round(&mut v);
    }
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..D {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The key's initial state: SipHash's constants XORed with the key.
const fn initial_state(key: SipKey) -> [u64; 4] {
    [
        key.k0 ^ 0x736f_6d65_7073_6575,
        key.k1 ^ 0x646f_7261_6e64_6f6d,
        key.k0 ^ 0x6c79_6765_6e65_7261,
        key.k1 ^ 0x7465_6462_7974_6573,
    ]
}

/// SipHash-1-3 of words `high | low` under one key and one fixed `high` (bits of the word that `low`
/// never sets), with what depends only on those computed once: the key's initial state, `high`'s share
/// of the message block, and the first compression round's opening step, which reads only `v0` and
/// `v1`. [`hash`](Self::hash) gives exactly `siphash_word::<1, 3>(key, high | low)` in about ten
/// instructions fewer.
#[derive(Clone, Copy)]
pub(crate) struct PreparedSip13 {
    /// `v0` and `v1` after the first round's opening step; `v2`; `v3` with `high` XORed in.
    v: [u64; 4],
    high: u64,
}

impl PreparedSip13 {
    pub(crate) const fn new(key: SipKey, high: u64) -> PreparedSip13 {
        let [v0, v1, v2, v3] = initial_state(key);
        let sum = v0.wrapping_add(v1);
        PreparedSip13 { v: [sum.rotate_left(32), v1.rotate_left(13) ^ sum, v2, v3 ^ high], high }
    }

    /// SipHash-1-3 of `high | low`; `low` must not overlap `high`.
    #[inline(always)]
    pub(crate) fn hash(&self, low: u64) -> u64 {
        debug_assert!(low & self.high == 0);
        let word = self.high | low;
        let [mut v0, mut v1, mut v2, mut v3] = self.v;
        v3 ^= low;
        // The rest of the message block's one compression round (its opening step is in `v0`, `v1`).
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16) ^ v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21) ^ v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17) ^ v2;
        v2 = v2.rotate_left(32);
        let mut v = [v0 ^ word, v1, v2, v3];
        // The final block holds only the message length (8 bytes) in its top byte.
        let last = 8_u64 << 56;
        v[3] ^= last;
        sip_round(&mut v);
        v[0] ^= last;
        v[2] ^= 0xff;
        for _ in 0..3 {
            sip_round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[expect(deprecated, reason = "std's SipHasher is the SipHash-2-4 reference we check against")]
    fn std_siphash24(key: SipKey, word: u64) -> u64 {
        use std::hash::Hasher;
        let mut hasher = std::hash::SipHasher::new_with_keys(key.k0, key.k1);
        hasher.write(&word.to_le_bytes());
        hasher.finish()
    }

    #[test]
    fn siphash24_matches_the_papers_test_vector_for_eight_bytes() {
        // Key 00..0f, message 00..07: the reference implementation's vector for an 8-byte input.
        let key = SipKey { k0: 0x0706_0504_0302_0100, k1: 0x0f0e_0d0c_0b0a_0908 };
        assert_eq!(siphash_word::<2, 4>(key, 0x0706_0504_0302_0100), 0x93f5_f579_9a93_2462);
    }

    proptest! {
        #[test]
        fn siphash24_matches_std_on_any_key_and_word(k0: u64, k1: u64, word: u64) {
            let key = SipKey { k0, k1 };
            prop_assert_eq!(siphash_word::<2, 4>(key, word), std_siphash24(key, word));
        }

        #[test]
        fn the_prepared_siphash13_is_siphash13(k0: u64, k1: u64, top: u8, low in 0_u64..(1 << 56)) {
            let key = SipKey { k0, k1 };
            let high = u64::from(top) << 56;
            prop_assert_eq!(PreparedSip13::new(key, high).hash(low), siphash_word::<1, 3>(key, high | low));
        }
    }
}
