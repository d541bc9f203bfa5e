//! Turning a generator's clock state into an id and back: packing, then (in sealed mode) the keyed
//! permutation. Admin tooling uses [`SessionIdCodec`] alone to decode ids without a generator.

use crate::seal::Feistel;
use crate::{IdError, Layout, SealKey};

/// What an id says once opened: which slot issued it, at which (logical) time, with which sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecodedSessionId {
    /// The slot of the generator that issued the id.
    pub slot: u16,
    /// The id's logical time in Unix milliseconds. A burst that borrowed from the future shows a time a little
    /// ahead of the wall clock at issue.
    pub unix_ms: u64,
    /// The sequence number within that millisecond.
    pub sequence: u32,
}

/// Encodes and decodes session ids of one layout, sealed with a key or unsealed.
///
/// ```
/// use graphsession_id_gen::{Layout, SealKey, SessionIdCodec, SessionIdConfig, SessionIdGenerator, SessionLease};
/// let key = SealKey::from_bytes(*b"sixteen byte key");
/// let lease = SessionLease { slot: 3, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
/// let generator = SessionIdGenerator::new(lease, key, SessionIdConfig::default())?;
/// let id = generator.next(1_760_000_000_000)?;
///
/// // An admin tool that knows only the key and the layout can tell where and when the id was made.
/// let decoded = SessionIdCodec::sealed(Layout::SESSION, key).open(id.get())?;
/// assert_eq!((decoded.slot, decoded.unix_ms), (3, 1_760_000_000_000));
/// # Ok::<(), graphsession_id_gen::IdError>(())
/// ```
#[derive(Clone, Copy)]
pub struct SessionIdCodec {
    layout: Layout,
    feistel: Option<Feistel>,
}

impl std::fmt::Debug for SessionIdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionIdCodec")
            .field("layout", &self.layout)
            .field("sealed", &self.feistel.is_some())
            .finish()
    }
}

impl SessionIdCodec {
    /// A codec for ids sealed with `key`.
    pub fn sealed(layout: Layout, key: SealKey) -> SessionIdCodec {
        SessionIdCodec { layout, feistel: Some(Feistel::new(key, layout.width_bits())) }
    }

    /// A codec for unsealed, time-sortable ids.
    pub fn unsealed(layout: Layout) -> SessionIdCodec {
        SessionIdCodec { layout, feistel: None }
    }

    /// The layout this codec reads and writes.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether ids are sealed.
    pub fn is_sealed(&self) -> bool {
        self.feistel.is_some()
    }

    /// The id for a nonzero clock state of `slot`.
    #[inline(always)]
    pub(crate) fn encode(&self, state: u64, slot: u16) -> i64 {
        let raw = self.layout.pack(state, slot);
        let value = match &self.feistel {
            Some(feistel) => feistel.seal(raw),
            None => raw,
        };
        // The layout is at most 63 bits wide, so the value fits a positive i64.
        debug_assert!(value != 0 && value >> 63 == 0);
        #[expect(clippy::cast_possible_wrap, reason = "value < 2^63 by the layout's width")]
        let id = value as i64;
        id
    }

    /// Decodes an id back into its slot, time and sequence.
    pub fn open(&self, id: i64) -> Result<DecodedSessionId, IdError> {
        let Ok(value) = u64::try_from(id) else {
            return Err(IdError::InvalidId { value: id, reason: "ids are positive" });
        };
        if value == 0 {
            return Err(IdError::InvalidId { value: id, reason: "0 is the ping id, never issued" });
        }
        if value >> self.layout.width_bits() != 0 {
            return Err(IdError::InvalidId { value: id, reason: "wider than the layout" });
        }
        let raw = match &self.feistel {
            Some(feistel) => feistel.open(value),
            None => value,
        };
        let (time_ms, slot, sequence) = self.layout.unpack(raw);
        Ok(DecodedSessionId { slot, unix_ms: time_ms + crate::EPOCH_UNIX_MS, sequence })
    }
}
