//! What every crate of graphsession shares, written once (rust-analyzer's `stdx` is the model).
//!
//! - [`sync`]: the one switch between `std::sync` and `loom::sync`, and the lock helpers that
//!   carry on through a poisoned lock.
//! - [`MonotonicClock`] and [`AtomicMonotonicClock`]: `now` clamped to the newest time seen,
//!   the one way every machine keeps time from running backwards.
//! - [`Violation`]: what every `check_invariants()` returns: machine, property, detail.
//! - [`codes`]: NebulaGraph's error codes, one list for every crate.
//! - [`Fnv1a`] and [`fnv1a64`]: the one fixed hash (snapshot checksums, shard choice, trace
//!   hashes).
//! - [`codec`]: the byte encoding both persisted formats use: the server snapshot's body is
//!   written by a [`Writer`](codec::Writer) into bytes and read back by a
//!   [`Reader`](codec::Reader); the meta snapshot's digest is the same writes into an [`Fnv1a`].
//!
//! The crate is pure: it reads no clock, spawns no thread and does no I/O, and it depends on
//! nothing of this workspace. Everything else depends on it.

mod clock;
pub mod codec;
pub mod codes;
mod fnv;
pub mod sync;
mod violation;

pub use clock::{AtomicMonotonicClock, MonotonicClock};
pub use fnv::{FNV1A64_OFFSET_BASIS, FNV1A64_PRIME, Fnv1a, fnv1a64};
pub use violation::Violation;
