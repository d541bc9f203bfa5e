//! SipHash over exactly one 64-bit word, generic over its compression (`C`) and finalization (`D`) rounds.
//!
//! The sealing permutation needs a keyed pseudo-random function on small integers. SipHash is the field's
//! standard short-input PRF; we need it for a single word only, so this specialisation skips the byte-buffer
//! machinery and costs a handful of nanoseconds. Production uses SipHash-1-3 (what Rust's std hashes with);
//! the tests check this code with C = 2, D = 4 against std's SipHash-2-4 implementation.

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

/// SipHash-C-D of the 8-byte little-endian encoding of `word`.
#[inline(always)]
pub(crate) fn siphash_word<const C: usize, const D: usize>(key: SipKey, word: u64) -> u64 {
    let mut v = [
        key.k0 ^ 0x736f_6d65_7073_6575,
        key.k1 ^ 0x646f_7261_6e64_6f6d,
        key.k0 ^ 0x6c79_6765_6e65_7261,
        key.k1 ^ 0x7465_6462_7974_6573,
    ];
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
    }
}
