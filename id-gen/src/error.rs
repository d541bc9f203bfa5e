//! The one error type of id-gen. Every variant names its cause and carries the values involved, so a host can
//! log it and act on it (extend a lease, slow down, fix its configuration) without parsing text.

/// Why an id could not be issued or decoded.
///
/// Issuing never panics and never returns a duplicate: when the generator cannot guarantee uniqueness it
/// returns one of these instead, and its state is exactly as it was before the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Issuing now would run more than `lookahead_max_ms` ahead of the newest clock reading (or lease floor)
    /// the generator has seen: the caller is issuing faster than the layout's sequence allows for too long.
    /// Retry after the clock has advanced.
    #[error(
        "id generator of slot {slot} is {ahead_ms} ms ahead of its clock (look-ahead limit {lookahead_max_ms} ms); \
         retry after the clock advances"
    )]
    Backpressure {
        /// The slot whose generator refused.
        slot: u16,
        /// How far ahead of the clock the next id would have been, in milliseconds.
        ahead_ms: u64,
        /// The configured look-ahead limit, in milliseconds.
        lookahead_max_ms: u64,
    },
    /// The lease's bound is reached: no id may be issued until the host has persisted a new bound and called
    /// `extend_lease`.
    #[error(
        "lease of slot {slot} is exhausted at bound {bound}; persist a new bound, then extend the lease"
    )]
    LeaseExhausted {
        /// The slot whose lease ran out.
        slot: u16,
        /// The bound reached: Unix milliseconds for session ids, a counter value for plan ids.
        bound: u64,
    },
    /// The clock or a lease lies beyond what the layout's time field can represent.
    #[error(
        "time {unix_ms} ms since the Unix epoch is beyond the id layout's last representable time {last_unix_ms} ms"
    )]
    TimeOverflow {
        /// The offending time, Unix milliseconds.
        unix_ms: u64,
        /// The last time the layout can represent, Unix milliseconds.
        last_unix_ms: u64,
    },
    /// A configuration or lease value is out of range; the message says which and why.
    #[error("invalid id-gen configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, for a person.
        reason: String,
    },
    /// A value given to `open` or `decode` is not an id this generator could have issued.
    #[error("{value} is not an id of this layout: {reason}")]
    InvalidId {
        /// The value that was given.
        value: i64,
        /// Why it cannot be an id, for a person.
        reason: &'static str,
    },
}

impl IdError {
    pub(crate) fn invalid_config(reason: impl Into<String>) -> Self {
        Self::InvalidConfig { reason: reason.into() }
    }
}
