//! Session ids and plan ids for graph database engines: unique by construction, a few nanoseconds each, and
//! (for sessions) unguessable.
//!
//! NebulaGraph 3.8 uses the meta leader's microsecond clock as the session id, so concurrent logins collide;
//! its master branch uses a random `i64` that can be negative and is never checked for duplicates; its plan
//! ids restart at 0 on every node and every restart. The session id is the only credential on every execute,
//! so a guessable id is a stolen session. This crate fixes all of it (fixes 1 and 5 of docs/fixes.md):
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
//! comes from the host. Its shared state is behind the workspace's `graphsession_base::sync` facade and is
//! loom-tested.
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
//! # Sealed, unsealed and JavaScript-safe ids
//!
//! | mode | width | slots | ids per ms per slot | guessing odds with `n` live sessions | sorts by time |
//! |---|---|---|---|---|---|
//! | sealed [`Layout::SESSION`] (default) | 63 bits | 1,024 | 4,096 | n / 2^63 | no |
//! | unsealed [`Layout::SESSION`] | 63 bits | 1,024 | 4,096 | neighbours are predictable | yes |
//! | sealed [`Layout::JS_SAFE`] | 53 bits | 256 | 16 | n / 2^53 | no |
//!
//! The JavaScript-safe layout keeps every id below 2^53, so a client that parses ids into an IEEE double
//! (JavaScript's `Number`, JSON parsers by default) reads them exactly. It pays with fewer slots (256 nodes),
//! a lower sustained rate per node (16,000 ids/s before bursts borrow from the future and, past the
//! look-ahead, get [`IdError::Backpressure`]), and 2^10 times better odds for a guesser. Prefer the default
//! layout and send ids as strings to such clients when you can.
//!
//! Sealing uses four Feistel rounds of SipHash-1-3 under the host's 128-bit [`SealKey`]. Every node of a
//! cluster must use the same key: two keys are two permutations, which can map two different clock states
//! (of two nodes, or of one node before and after a key change) to one id, and only the same key lets
//! [`SessionIdCodec::open`] work anywhere. A host stores the key as text: [`SealKey::to_hex`], read back
//! and checked by
//! [`SealKey::from_hex`].
//!
//! # Performance
//!
//! Measured on the project's 2-core AMD EPYC (Zen 4) machine, 2026-11-23, with
//! `cargo bench -p graphsession-id-gen --bench ids -- --warm-up-time 2 --measurement-time 5` (criterion
//! median; other processes of the machine reniced). "Two threads" is wall time per id while two threads
//! share one generator, so it includes the cache-line contention of the shared word. Ours and the naive
//! baseline get a synthetic clock argument; `ulid` and `uuid` read the system clock and a random source
//! themselves, as they are used in practice.
//!
//! | generator | one thread | two threads sharing it | target (one thread) |
//! |---|---|---|---|
//! | session id, unsealed | 5.9 ns | 19.1 ns | at most 6 ns |
//! | session id, sealed (default) | 41.2 ns | 35.3 ns | at most 60 ns |
//! | session id, JS-safe, sealed | 40.5 ns | | |
//! | plan id | 2.2 ns | 7.6 ns | at most 3 ns |
//! | naive `now & !0xFFFF \| counter` (collides) | 2.2 ns | 4.3 ns | |
//! | `ulid::Ulid::new()` 1.x | 41.4 ns | 21.8 ns | |
//! | `uuid::Uuid::now_v7()` 1.x | 497 ns | 274 ns | |
//!
//! The naive baseline is as fast as a plan id and collides across nodes, restarts and clock steps
//! (`cargo xtask sim --generator naive` finds it at seed 0); ours pays one compare-and-swap for
//! uniqueness and about 35 ns more for sealing. A generator shared by two threads is bounded by its one
//! atomic word; an engine that issues ids from many threads at once gives each its own slot.

mod codec;
mod error;
mod layout;
pub mod lease;
mod plan;
mod seal;
mod seal_text;
mod session_generator;
mod session_id;
mod siphash;
mod source;

pub use codec::{DecodedSessionId, SessionIdCodec};
pub use error::IdError;
pub use layout::{EPOCH_UNIX_MS, Layout};
pub use lease::{PlanLease, SessionLease};
pub use plan::{PLAN_COUNTER_BITS, PLAN_SLOT_BITS, PlanId, PlanIdGenerator};
pub use seal::{FEISTEL_ROUNDS, SealKey};
pub use seal_text::{SEAL_KEY_HEX_CHARS, SealKeyError};
pub use session_generator::{SessionIdConfig, SessionIdGenerator};
pub use session_id::{NotASessionId, SessionId};
pub use source::SessionIdSource;
