//! Sealing: a keyed permutation of the id space, so issued ids are unique (it is a bijection) and cannot be
//! guessed or enumerated without the key.
//!
//! The permutation is a Feistel network over the id's `width` bits, split into a high half of `width / 2`
//! bits and a low half of the rest. Each of [`FEISTEL_ROUNDS`] rounds XORs one half with SipHash-1-3 of the
//! other (keyed by the host's key, with the round number in the message for domain separation) and the halves
//! alternate. Every round is invertible on its own, so the whole network is a permutation of
//! `[0, 2^width)`, for odd widths too. Four rounds is the Luby-Rackoff bound for a strong pseudo-random
//! permutation. Ids are never 0, so the one value the network maps to 0 is walked one step further (cycle
//! walking); the result is a permutation of `[1, 2^width)`.
//!
//! Each round's function is prepared once per key (`PreparedSip13`): SipHash's key state with the round
//! number XORed in, and the first compression round's opening step, which reads only the key's words. That
//! is the same SipHash-1-3 of the same words (a proptest checks it against the plain computation), so every
//! id keeps its value, with about 60 instructions fewer per id.

use crate::siphash::{PreparedSip13, SipKey};

/// Feistel rounds: four gives a strong pseudo-random permutation (Luby-Rackoff).
pub const FEISTEL_ROUNDS: u64 = 4;
const _: () = assert!(FEISTEL_ROUNDS == 4, "Feistel::rounds holds one prepared function per round");

/// The host's secret sealing key: 128 bits, from the host's own secure random source or secret store.
///
/// Every node of a cluster must use the same key: ids are unique across the cluster because one permutation
/// maps the nodes' unique (time, slot, sequence) values to unique ids, and two keys are two permutations, which
/// can map two different values to one id (odds of about n² / 2^width over n ids). The same key also lets any
/// node `open` an id issued elsewhere. `Debug` never prints the key.
///
/// ```
/// use graphsession_id_gen::SealKey;
/// let key = SealKey::from_bytes([7; 16]);
/// assert_eq!(format!("{key:?}"), "SealKey(<redacted>)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SealKey(pub(crate) SipKey);

impl SealKey {
    /// A key from 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> SealKey {
        let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = bytes;
        SealKey(SipKey {
            k0: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            k1: u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        })
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// The keyed permutation of `[1, 2^width_bits)`.
#[derive(Clone, Copy)]
pub(crate) struct Feistel {
    /// Round `r`'s function: SipHash-1-3 under the key of `(r << 56) | half`, prepared once.
    rounds: [PreparedSip13; 4],
    high_bits: u32,
    low_bits: u32,
}

impl Feistel {
    pub(crate) fn new(key: SealKey, width_bits: u32) -> Feistel {
        debug_assert!((2..=64).contains(&width_bits));
        let high_bits = width_bits / 2;
        let rounds = [0, 1, 2, 3].map(|round: u64| PreparedSip13::new(key.0, round << 56));
        Feistel { rounds, high_bits, low_bits: width_bits - high_bits }
    }

    /// SipHash-1-3 of `(round << 56) | half` (halves have at most 32 bits), cut to `out_bits`.
    #[inline(always)]
    fn round(&self, round: u64, half: u64, out_bits: u32) -> u64 {
        let mask = (1_u64 << out_bits) - 1;
        let prepared = &self.rounds[usize::try_from(round).unwrap_or(0) % self.rounds.len()];
        prepared.hash(half) & mask
    }

    /// The raw network: a permutation of `[0, 2^width)`.
    #[inline(always)]
    fn forward(&self, value: u64) -> u64 {
        let low_mask = (1_u64 << self.low_bits) - 1;
        let mut high = value >> self.low_bits;
        let mut low = value & low_mask;
        for round in 0..FEISTEL_ROUNDS {
            if round % 2 == 0 {
                high ^= self.round(round, low, self.high_bits);
            } else {
                low ^= self.round(round, high, self.low_bits);
            }
        }
        (high << self.low_bits) | low
    }

    #[inline(always)]
    fn backward(&self, value: u64) -> u64 {
        let low_mask = (1_u64 << self.low_bits) - 1;
        let mut high = value >> self.low_bits;
        let mut low = value & low_mask;
        for round in (0..FEISTEL_ROUNDS).rev() {
            if round % 2 == 0 {
                high ^= self.round(round, low, self.high_bits);
            } else {
                low ^= self.round(round, high, self.low_bits);
            }
        }
        (high << self.low_bits) | low
    }

    /// Seals a value of `[1, 2^width)` to a value of `[1, 2^width)`.
    #[inline(always)]
    pub(crate) fn seal(&self, value: u64) -> u64 {
        debug_assert!(value != 0);
        match self.forward(value) {
            // `value` is the one preimage of 0; its image is taken over by 0's image, which no id uses.
            0 => self.forward(0),
            sealed => sealed,
        }
    }

    /// Inverts [`Feistel::seal`].
    pub(crate) fn open(&self, sealed: u64) -> u64 {
        match self.backward(sealed) {
            0 => self.backward(0),
            value => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_small_width_is_a_permutation_of_the_nonzero_values() {
        // Exhaustive on 12 bits, odd split and even split: every value has exactly one image, none is 0.
        for width_bits in [11, 12] {
            let feistel = Feistel::new(SealKey::from_bytes([0x5a; 16]), width_bits);
            let mut seen = vec![false; 1 << width_bits];
            for value in 1..(1_u64 << width_bits) {
                let sealed = feistel.seal(value);
                assert!(sealed != 0 && sealed < (1 << width_bits));
                assert!(!seen[usize::try_from(sealed).unwrap()], "two values sealed to {sealed}");
                seen[usize::try_from(sealed).unwrap()] = true;
                assert_eq!(feistel.open(sealed), value);
            }
        }
    }

    #[test]
    fn the_preimage_of_zero_is_walked_to_the_image_of_zero() {
        // Find, on a tiny width, a key for which some nonzero value maps to 0 under the raw network.
        let width_bits = 8;
        for key_byte in 0..=255_u8 {
            let feistel = Feistel::new(SealKey::from_bytes([key_byte; 16]), width_bits);
            let preimage = feistel.backward(0);
            if preimage != 0 {
                assert_eq!(feistel.seal(preimage), feistel.forward(0));
                assert_eq!(feistel.open(feistel.forward(0)), preimage);
                return;
            }
        }
        panic!("no key among 256 moved the preimage of 0; the network is not mixing");
    }

    proptest! {
        #[test]
        fn sealing_round_trips_on_63_and_53_bits(value in 1_u64..(1 << 63), key: [u8; 16]) {
            for width_bits in [63, 53] {
                let value = value & ((1 << width_bits) - 1);
                prop_assume!(value != 0);
                let feistel = Feistel::new(SealKey::from_bytes(key), width_bits);
                let sealed = feistel.seal(value);
                prop_assert!(sealed != 0 && sealed < (1 << width_bits));
                prop_assert_eq!(feistel.open(sealed), value);
            }
        }

        #[test]
        fn neighbouring_ids_seal_to_unrelated_values(value in 1_u64..(1 << 62), key: [u8; 16]) {
            // Consecutive ids (same millisecond, next sequence) must not stay close once sealed: on average
            // half the bits differ; we require at least 8 of 63, which a keyed PRF misses with negligible odds.
            let feistel = Feistel::new(SealKey::from_bytes(key), 63);
            let distance = (feistel.seal(value) ^ feistel.seal(value + 1)).count_ones();
            prop_assert!(distance >= 8, "only {} bits differ", distance);
        }
    }
}
