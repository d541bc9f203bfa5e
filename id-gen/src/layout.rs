//! How a session id's bits are laid out: `time | slot | sequence`, below the sign bit.
//!
//! The time field counts milliseconds since [`EPOCH_UNIX_MS`] (2024-01-01T00:00:00Z). The slot names the
//! generator (one per graph node, leased by the host). The sequence counts ids within one millisecond; when it
//! overflows it carries into the time field, which is how a burst "borrows from the future".

use crate::IdError;

/// The fixed epoch of every layout: 2024-01-01T00:00:00Z in milliseconds since the Unix epoch.
///
/// Clock readings before it are treated as the epoch itself (a clock that far back is broken; uniqueness does
/// not depend on it).
pub const EPOCH_UNIX_MS: u64 = 1_704_067_200_000;

/// The bit widths of an id's fields. The sum is the id's width: at most 63, so ids are positive `i64`s.
///
/// ```
/// use graphsession_id_gen::Layout;
/// assert_eq!(Layout::SESSION.width_bits(), 63);
/// assert_eq!(Layout::JS_SAFE.width_bits(), 53);
/// assert_eq!(Layout::SESSION.slot_count(), 1024);
/// // 2^41 ms after 2024-01-01 is in September 2093.
/// assert!(Layout::SESSION.last_unix_ms() > 3_786_912_000_000); // 2090-01-01
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    time_bits: u32,
    slot_bits: u32,
    sequence_bits: u32,
}

impl Layout {
    /// The default session-id layout: 41 bits of milliseconds (until 2093), 10 bits of slot (1,024 nodes),
    /// 12 bits of sequence (4,096 ids per millisecond per node before borrowing from the future).
    pub const SESSION: Layout = Layout { time_bits: 41, slot_bits: 10, sequence_bits: 12 };

    /// The JavaScript-safe layout: 53 bits in all, so every id is exactly representable in an IEEE double
    /// (`Number.MAX_SAFE_INTEGER` is 2^53 - 1). 41 bits of milliseconds (until 2093), 8 bits of slot
    /// (256 nodes), 4 bits of sequence (16 ids per millisecond per node, 16,000 per second sustained; bursts
    /// borrow from the future up to the look-ahead). Sealed, a guess hits one of `n` live sessions with
    /// probability n / 2^53 instead of n / 2^63.
    pub const JS_SAFE: Layout = Layout { time_bits: 41, slot_bits: 8, sequence_bits: 4 };

    /// A custom layout. The time field needs at least 32 bits (about 50 days) so a lease is meaningful; the
    /// slot and sequence fields may be 0 to 16 bits; the sum may not exceed 63.
    pub fn new(time_bits: u32, slot_bits: u32, sequence_bits: u32) -> Result<Layout, IdError> {
        if !(32..=63).contains(&time_bits) {
            return Err(IdError::invalid_config(format!(
                "layout time_bits is {time_bits}; it must be 32 to 63"
            )));
        }
        if slot_bits > 16 || sequence_bits > 16 {
            return Err(IdError::invalid_config(format!(
                "layout slot_bits {slot_bits} and sequence_bits {sequence_bits} must each be at most 16"
            )));
        }
        let width_bits = time_bits + slot_bits + sequence_bits;
        if width_bits > 63 {
            return Err(IdError::invalid_config(format!(
                "layout is {width_bits} bits wide; ids are positive i64s, so at most 63"
            )));
        }
        Ok(Layout { time_bits, slot_bits, sequence_bits })
    }

    /// Bits of milliseconds since [`EPOCH_UNIX_MS`].
    pub const fn time_bits(self) -> u32 {
        self.time_bits
    }

    /// Bits of slot.
    pub const fn slot_bits(self) -> u32 {
        self.slot_bits
    }

    /// Bits of per-millisecond sequence.
    pub const fn sequence_bits(self) -> u32 {
        self.sequence_bits
    }

    /// Total bits of an id: every id is below `2^width_bits`.
    pub const fn width_bits(self) -> u32 {
        self.time_bits + self.slot_bits + self.sequence_bits
    }

    /// How many slots (generators that may run at once) the layout has.
    pub const fn slot_count(self) -> u32 {
        1 << self.slot_bits
    }

    /// The last Unix millisecond the time field can represent.
    pub const fn last_unix_ms(self) -> u64 {
        EPOCH_UNIX_MS + self.time_span_ms() - 1
    }

    /// Milliseconds the time field spans.
    pub(crate) const fn time_span_ms(self) -> u64 {
        1 << self.time_bits
    }

    /// Packs the generator's clock state (`time << sequence_bits | sequence`) and a slot into a raw id.
    #[inline(always)]
    pub(crate) const fn pack(self, state: u64, slot: u16) -> u64 {
        let time_ms = state >> self.sequence_bits;
        let sequence = state & ((1 << self.sequence_bits) - 1);
        (time_ms << (self.slot_bits + self.sequence_bits))
            | ((slot as u64) << self.sequence_bits)
            | sequence
    }

    /// Splits a raw id into (milliseconds since the epoch, slot, sequence).
    pub(crate) const fn unpack(self, raw: u64) -> (u64, u16, u32) {
        let sequence = raw & ((1 << self.sequence_bits) - 1);
        let slot = (raw >> self.sequence_bits) & ((1 << self.slot_bits) - 1);
        let time_ms = raw >> (self.slot_bits + self.sequence_bits);
        // Both fields are at most 16 bits wide by construction of `Layout`.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "slot and sequence fields are <= 16 bits"
        )]
        (time_ms, slot as u16, sequence as u32)
    }
}
