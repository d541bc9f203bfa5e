//! The session-id generator: a hybrid logical clock in one atomic word, advanced by compare-and-swap.
//!
//! The word holds the clock state of the last id issued, `milliseconds << sequence_bits | sequence`.
//! Issuing moves it to `max(now << sequence_bits, last + 1)` with one compare-and-swap, so an id is unique
//! because the word only grows, not because the clock behaves: a stalled clock falls through to `last + 1`,
//! a clock stepped back (NTP) likewise, and a full millisecond carries into the next one (borrowing from the
//! future). The look-ahead limit stops a runaway burst with [`IdError::Backpressure`], measured from the
//! newest clock reading ever seen, so a clock that steps back does not stall the generator.

use crate::codec::SessionIdCodec;
use crate::{EPOCH_UNIX_MS, IdError, Layout, SealKey, SessionId, SessionLease};
use graphsession_base::AtomicMonotonicClock;
use graphsession_base::sync::{AtomicU64, Ordering};

/// Settings of a session-id generator, with production defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionIdConfig {
    /// The bit layout; [`Layout::SESSION`] by default, [`Layout::JS_SAFE`] for clients that hold ids in a
    /// double.
    pub layout: Layout,
    /// How far, in milliseconds, ids may run ahead of the newest clock reading (or lease floor) before
    /// issuing is refused with [`IdError::Backpressure`]. Default 1,000: a burst of 4 million ids in one
    /// millisecond with [`Layout::SESSION`].
    pub lookahead_max_ms: u64,
}

impl Default for SessionIdConfig {
    fn default() -> Self {
        SessionIdConfig { layout: Layout::SESSION, lookahead_max_ms: 1_000 }
    }
}

/// Issues session ids for one leased slot. `Send + Sync`: share it by reference or `Arc` among threads.
///
/// Sealed (the default, [`SessionIdGenerator::new`]) ids are a keyed permutation of the time-ordered ids and
/// cannot be guessed; [`SessionIdGenerator::unsealed`] ids sort by time.
///
/// ```
/// use graphsession_id_gen::{IdError, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease};
/// let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: 1_800_000_000_000 };
/// let generator = SessionIdGenerator::new(lease, SealKey::from_bytes([9; 16]), SessionIdConfig::default())?;
/// let now_unix_ms = 1_760_000_000_000;
/// let first = generator.next(now_unix_ms)?;
/// // The clock stepped back an hour: still a new id.
/// let second = generator.next(now_unix_ms - 3_600_000)?;
/// assert_ne!(first, second);
/// assert!(first.get() > 0 && second.get() > 0);
/// // At the lease bound the generator stops until the host extends the lease.
/// assert!(matches!(generator.next(1_800_000_000_000), Err(IdError::LeaseExhausted { .. })));
/// # Ok::<(), IdError>(())
/// ```
#[derive(Debug)]
pub struct SessionIdGenerator {
    /// Clock state of the last id issued (or the floor's state minus one before the first).
    last_state: AtomicU64,
    /// Newest clock reading seen, milliseconds since the epoch. Only grows.
    clock_high_ms: AtomicMonotonicClock,
    /// Lease bound, milliseconds since the epoch, exclusive. Only grows.
    bound_ms: AtomicU64,
    floor_ms: u64,
    slot: u16,
    lookahead_max_ms: u64,
    codec: SessionIdCodec,
}

impl SessionIdGenerator {
    /// A sealed generator: ids are permuted with `key` (see [`SealKey`]).
    pub fn new(
        lease: SessionLease,
        key: SealKey,
        config: SessionIdConfig,
    ) -> Result<SessionIdGenerator, IdError> {
        Self::with_codec(lease, config, SessionIdCodec::sealed(config.layout, key))
    }

    /// An unsealed generator: ids sort by time, and anyone who sees one can guess its neighbours. Use only
    /// where ids are not credentials.
    pub fn unsealed(
        lease: SessionLease,
        config: SessionIdConfig,
    ) -> Result<SessionIdGenerator, IdError> {
        Self::with_codec(lease, config, SessionIdCodec::unsealed(config.layout))
    }

    fn with_codec(
        lease: SessionLease,
        config: SessionIdConfig,
        codec: SessionIdCodec,
    ) -> Result<SessionIdGenerator, IdError> {
        let layout = config.layout;
        if u32::from(lease.slot) >= layout.slot_count() {
            return Err(IdError::invalid_config(format!(
                "slot {} does not fit the layout's {} slots",
                lease.slot,
                layout.slot_count()
            )));
        }
        let floor_ms = lease.floor_unix_ms.saturating_sub(EPOCH_UNIX_MS);
        let bound_ms = bound_ms(layout, lease.bound_unix_ms)?;
        if floor_ms >= bound_ms {
            return Err(IdError::invalid_config(format!(
                "lease floor {} ms is not below its bound {} ms",
                lease.floor_unix_ms, lease.bound_unix_ms
            )));
        }
        // The first id's state is at least the floor's and at least 1, so no id is ever 0.
        let floor_state = (floor_ms << layout.sequence_bits()).max(1);
        Ok(SessionIdGenerator {
            last_state: AtomicU64::new(floor_state - 1),
            clock_high_ms: AtomicMonotonicClock::new(0),
            bound_ms: AtomicU64::new(bound_ms),
            floor_ms,
            slot: lease.slot,
            lookahead_max_ms: config.lookahead_max_ms,
            codec,
        })
    }

    /// Issues a new id at `now_unix_ms` (the host's wall clock, Unix milliseconds).
    ///
    /// Never returns an id twice, whatever sequence of `now` values it is given. On error nothing changed
    /// except that the generator remembers `now_unix_ms` as a clock reading.
    #[inline]
    pub fn next(&self, now_unix_ms: u64) -> Result<SessionId, IdError> {
        let state = self.advance(now_unix_ms)?;
        let id = self.codec.encode(state, self.slot);
        SessionId::new(id)
            .ok_or(IdError::InvalidId { value: id, reason: "encoded to a non-positive value" })
    }

    #[inline(always)]
    fn advance(&self, now_unix_ms: u64) -> Result<u64, IdError> {
        let sequence_bits = self.codec.layout().sequence_bits();
        let now_ms = now_unix_ms.saturating_sub(EPOCH_UNIX_MS);
        if now_ms >= self.codec.layout().time_span_ms() {
            return Err(self.time_overflow(now_unix_ms));
        }
        let clock_high_ms = self.clock_high_ms.observe(now_ms);
        let now_state = now_ms << sequence_bits;
        let mut limit_state = self.limit_state(clock_high_ms);
        // Acquire pairs with the Release of the compare-and-swap below: whoever issued `last_state` raised
        // `clock_high_ms` first, so the refusal path's re-read sees at least that thread's clock.
        let mut last_state = self.last_state.load(Ordering::Acquire);
        loop {
            // `last_state < 2^62` (its time is below the bound), so `+ 1` cannot overflow.
            let next_state = now_state.max(last_state + 1);
            if next_state >= limit_state {
                // The lease bound or the look-ahead is in the way: the cold path decides which.
                limit_state = self.recheck_limit(now_ms, next_state)?;
                continue;
            }
            // Uniqueness needs only the total order of this one word's updates; the orderings are for the
            // look-ahead bookkeeping above and cost nothing on x86.
            match self.last_state.compare_exchange_weak(
                last_state,
                next_state,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(next_state),
                Err(current) => last_state = current,
            }
        }
    }

    /// The first clock state the generator may not issue: at the lease bound, or past the look-ahead from
    /// the newest clock reading (or the floor, whichever is later).
    #[inline(always)]
    fn limit_state(&self, clock_high_ms: u64) -> u64 {
        let ahead_limit_ms = clock_high_ms
            .max(self.floor_ms)
            .saturating_add(self.lookahead_max_ms)
            .saturating_add(1);
        let limit_ms = self.bound_ms.load(Ordering::Relaxed).min(ahead_limit_ms);
        // `limit_ms <= 2^time_bits`, so the shift stays within 63 bits.
        limit_ms << self.codec.layout().sequence_bits()
    }

    /// `next_state` reached the limit. Re-reads the newest clock with a read-modify-write (our plain read
    /// may have been stale) and returns the fresh limit if `next_state` is below it, or the refusal.
    #[cold]
    fn recheck_limit(&self, now_ms: u64, next_state: u64) -> Result<u64, IdError> {
        let next_ms = next_state >> self.codec.layout().sequence_bits();
        let bound_ms = self.bound_ms.load(Ordering::Relaxed);
        if next_ms >= bound_ms {
            return Err(IdError::LeaseExhausted {
                slot: self.slot,
                bound: bound_ms + EPOCH_UNIX_MS,
            });
        }
        let clock_high_ms = self.clock_high_ms.observe_fresh(now_ms);
        let ahead_ms = next_ms.saturating_sub(clock_high_ms.max(self.floor_ms));
        if ahead_ms > self.lookahead_max_ms {
            return Err(IdError::Backpressure {
                slot: self.slot,
                ahead_ms,
                lookahead_max_ms: self.lookahead_max_ms,
            });
        }
        Ok(self.limit_state(clock_high_ms))
    }

    #[cold]
    fn time_overflow(&self, now_unix_ms: u64) -> IdError {
        let last_unix_ms = self.codec.layout().last_unix_ms();
        IdError::TimeOverflow { unix_ms: now_unix_ms, last_unix_ms }
    }

    /// Raises the lease bound to `bound_unix_ms`, which the host must already have persisted (see the
    /// [lease protocol](crate::lease)). A bound never shrinks: a lower value is refused and changes nothing.
    pub fn extend_lease(&self, bound_unix_ms: u64) -> Result<(), IdError> {
        let new_bound_ms = bound_ms(self.codec.layout(), bound_unix_ms)?;
        let current_ms = self.bound_ms.load(Ordering::Relaxed);
        if new_bound_ms < current_ms {
            return Err(IdError::invalid_config(format!(
                "lease bound {bound_unix_ms} ms is below the current bound {} ms; bounds only grow",
                current_ms + EPOCH_UNIX_MS
            )));
        }
        self.bound_ms.fetch_max(new_bound_ms, Ordering::Relaxed);
        Ok(())
    }

    /// The current lease bound, Unix milliseconds (exclusive).
    pub fn lease_bound_unix_ms(&self) -> u64 {
        self.bound_ms.load(Ordering::Relaxed) + EPOCH_UNIX_MS
    }

    /// The logical time of the newest id issued, Unix milliseconds; `None` before the first id. A host
    /// extends the lease when this comes within its renewal margin of [`Self::lease_bound_unix_ms`].
    pub fn last_issued_unix_ms(&self) -> Option<u64> {
        let layout = self.codec.layout();
        let last_state = self.last_state.load(Ordering::Relaxed);
        let floor_state = (self.floor_ms << layout.sequence_bits()).max(1);
        (last_state >= floor_state).then(|| (last_state >> layout.sequence_bits()) + EPOCH_UNIX_MS)
    }

    /// The slot this generator issues for.
    pub fn slot(&self) -> u16 {
        self.slot
    }

    /// The codec that decodes this generator's ids.
    pub fn codec(&self) -> SessionIdCodec {
        self.codec
    }
}

/// A lease bound in milliseconds since the epoch, checked against the layout.
fn bound_ms(layout: Layout, bound_unix_ms: u64) -> Result<u64, IdError> {
    let bound_ms = bound_unix_ms.saturating_sub(EPOCH_UNIX_MS);
    // The bound is exclusive, so it may equal the span: the last representable millisecond is usable.
    if bound_ms > layout.time_span_ms() {
        return Err(IdError::TimeOverflow {
            unix_ms: bound_unix_ms,
            last_unix_ms: layout.last_unix_ms(),
        });
    }
    Ok(bound_ms)
}
