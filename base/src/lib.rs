//! What every crate of graphsession shares, written once (rust-analyzer's `stdx` is the model).
//!
//! - [`sync`]: the one switch between `std::sync` and `loom::sync`, and the lock helpers that
//!   carry on through a poisoned lock.
//!
//! The crate is pure: it reads no clock, spawns no thread and does no I/O, and it depends on
//! nothing of this workspace. Everything else depends on it.

pub mod sync;
