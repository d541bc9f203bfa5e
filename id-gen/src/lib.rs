//! Session ids and plan ids for graph database engines: unique by construction, a few nanoseconds each, and
//! (for sessions) unguessable.
//!
//! NebulaGraph 3.8 uses the meta leader's microsecond clock as the session id, so concurrent logins collide;
//! its master branch uses a random `i64` that can be negative and is never checked for duplicates; its plan
//! ids restart at 0 on every node and every restart. The session id is the only credential on every execute,
//! so a guessable id is a stolen session. This crate fixes all of it:
//!
//! - [`SessionIdGenerator`]: a hybrid logical clock packed in one atomic word (`time | slot | sequence`,
//!   see [`Layout`]), advanced by compare-and-swap to `max(now, last + 1)`. Uniqueness never depends on
//!   the clock: a clock that stalls or steps back cannot produce a duplicate. Bursts borrow from the future
//!   up to a look-ahead limit, then get [`IdError::Backpressure`].
//! - Sealed mode (the default): ids are a keyed permutation ([`SealKey`], a Feistel network over SipHash) of
//!   the time-ordered ids, so they stay unique and cannot be guessed. [`SessionIdCodec::open`] decodes
//!   an id back to its slot and time for admin tooling. Unsealed, time-sortable ids on request.
//! - [`Layout::JS_SAFE`]: ids below 2^53 for clients that hold them in a double.
//! - [`PlanIdGenerator`]: `slot | counter` plan ids, one atomic add each.
//! - Both take a lease ([`SessionLease`], [`PlanLease`]) under the [lease protocol](lease), so a slot
//!   handed to a new holder (a restart, another node) continues above everything the previous holder issued.
//!
//! The crate is pure: it reads no clock, spawns no thread and does no I/O. `now` is an argument, the key
//! comes from the host. Its shared state is behind the workspace's [`sync`] facade and is loom-tested.
//!
//! # Example
//!
//! ```
//! use graphsession_id_gen::{PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease};
//!
//! // The host read bound 0 for slot 7 from its store and persisted 1_900_000_000_000 before issuing.
//! let lease = SessionLease { slot: 7, floor_unix_ms: 0, bound_unix_ms: 1_900_000_000_000 };
//! let key = SealKey::from_bytes(*b"from the secrets");
//! let sessions = SessionIdGenerator::new(lease, key, SessionIdConfig::default())?;
//! let plans = PlanIdGenerator::new(PlanLease { slot: 7, floor_counter: 0, bound_counter: 1 << 20 })?;
//!
//! let now_unix_ms = 1_763_900_000_000; // the host's clock
//! let session = sessions.next(now_unix_ms)?;
//! let plan = plans.next()?;
//! assert!(session.get() > 0);
//! assert_eq!(sessions.codec().open(session.get())?.slot, 7);
//! assert_eq!(plan.slot(), 7);
//! # Ok::<(), graphsession_id_gen::IdError>(())
//! ```
//!
//! # Performance
//!
//! BENCHMARK-TABLE

mod codec;
mod error;
mod layout;
pub mod lease;
mod plan;
mod seal;
mod session_generator;
mod session_id;
mod siphash;
pub mod sync;

pub use codec::{DecodedSessionId, SessionIdCodec};
pub use error::IdError;
pub use layout::{EPOCH_UNIX_MS, Layout};
pub use lease::{PlanLease, SessionLease};
pub use plan::{PLAN_COUNTER_BITS, PLAN_SLOT_BITS, PlanId, PlanIdGenerator};
pub use seal::{FEISTEL_ROUNDS, SealKey};
pub use session_generator::{SessionIdConfig, SessionIdGenerator};
pub use session_id::{NotASessionId, SessionId};
