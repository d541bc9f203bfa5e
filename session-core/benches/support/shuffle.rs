//! The deterministic shuffle the find + touch bench and the examples that measure it share, so
//! each visits the sessions in the same order (an xorshift Fisher-Yates with a fixed seed).

/// `ids` in a fixed pseudo-random order.
pub(crate) fn shuffled(mut ids: Vec<i64>) -> Vec<i64> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for index in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bound = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        let other = usize::try_from(state % bound).unwrap_or(0);
        ids.swap(index, other);
    }
    ids
}
