//! FNV-1a, 64 bits: the workspace's one fixed hash. It checksums the server snapshot, digests
//! the meta snapshot, picks the shard of a user's name and hashes the simulator's trace. Fixed
//! (no key, no OS seed), so a value hashes the same in every process and on every build; it
//! detects corruption, not tampering.
//!
//! Every output is persisted or compared somewhere (snapshot checksums, shard choice, trace
//! hashes), so the function must never change: the tests pin it to the published test vectors.

/// FNV-1a's 64-bit offset basis: the hash of no bytes.
pub const FNV1A64_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a's 64-bit prime.
pub const FNV1A64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// [`FNV1A64_PRIME`] to the 8th power, wrapping: what eight zero bytes multiply the hash by.
const PRIME_TO_THE_8TH: u64 = {
    let mut power = 1_u64;
    let mut times = 0;
    while times < 8 {
        power = power.wrapping_mul(FNV1A64_PRIME);
        times += 1;
    }
    power
};

/// FNV-1a-64 of `bytes`.
#[inline]
#[must_use]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.bytes(bytes);
    hash.finish()
}

/// An FNV-1a-64 hash being fed, for input that comes in pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a(u64);

impl Fnv1a {
    /// A hash of no bytes yet.
    #[must_use]
    pub const fn new() -> Fnv1a {
        Fnv1a(FNV1A64_OFFSET_BASIS)
    }

    /// Continues the hash whose [`finish`](Self::finish) was `hash` (FNV's state is its
    /// output), for a hash kept as a plain `u64` between pieces.
    #[must_use]
    pub const fn resume(hash: u64) -> Fnv1a {
        Fnv1a(hash)
    }

    /// Feeds `bytes`, one at a time.
    #[inline]
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(FNV1A64_PRIME);
        }
    }

    /// Feeds the value's eight little-endian bytes. A zero byte only multiplies (the xor does
    /// nothing), so a value below 256, most of the small numbers hashed, is one xor and one
    /// multiplication by the prime's eighth power.
    #[inline]
    pub fn u64_le(&mut self, value: u64) {
        if value <= 0xff {
            self.0 = (self.0 ^ value).wrapping_mul(PRIME_TO_THE_8TH);
            return;
        }
        self.bytes(&value.to_le_bytes());
    }

    /// The hash of everything fed so far.
    #[must_use]
    pub const fn finish(self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a {
    /// The same as [`Fnv1a::new`].
    fn default() -> Fnv1a {
        Fnv1a::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{FNV1A64_PRIME, Fnv1a, fnv1a64};

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // From the FNV reference (draft-eastlake-fnv): a hash that only agrees with itself would
        // still round-trip every snapshot, so only known values pin the function down.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn bytes_fed_in_pieces_hash_as_fed_at_once() {
        let mut hash = Fnv1a::default();
        hash.bytes(b"foo");
        hash.bytes(b"");
        hash.bytes(b"bar");
        assert_eq!(hash.finish(), fnv1a64(b"foobar"));
    }

    fn bytewise(start: u64, value: u64) -> u64 {
        let mut hash = start;
        for byte in value.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV1A64_PRIME);
        }
        hash
    }

    #[test]
    fn a_u64_hashes_as_its_eight_bytes_one_by_one() {
        let mut values = vec![0, 1, 0xff, 0x100, 0xffff, 0x1_0000, 1 << 40, 1 << 63, u64::MAX];
        values.extend((0..64).map(|shift| 1_u64 << shift));
        values.extend((0..64).map(|shift| (1_u64 << shift) - 1));
        values.extend([1_700_000_000_000, 0x0100_0000_0000_0001, 0x00ff_00ff_00ff_00ff]);
        for start in [Fnv1a::new().finish(), 0, 12_345, u64::MAX] {
            for &value in &values {
                let mut hash = Fnv1a::resume(start);
                hash.u64_le(value);
                assert_eq!(hash.finish(), bytewise(start, value), "{value:#x} from {start:#x}");
            }
        }
    }
}
