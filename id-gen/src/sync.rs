//! The workspace's one switch between `std::sync` and `loom::sync`.
//!
//! Code that shares memory between threads imports its atomics, locks and `Arc` from here, never from `std`
//! directly. Under `RUSTFLAGS="--cfg loom"` (what `cargo xtask loom` sets) these names resolve to loom's
//! model-checked versions, so the loom tests explore every interleaving of exactly the code that ships.
//! Other crates of the workspace use this module through `graphsession_id_gen::sync`, because id-gen is the
//! base every pure crate already depends on.

#[cfg(not(loom))]
pub use std::sync::{
    Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

#[cfg(loom)]
pub use loom::sync::{
    Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

/// `std`'s `OnceLock` under both configurations: loom has none. Code that uses it initializes it
/// only while holding a loom-checked lock and reads it with `get`, which never blocks, so loom's
/// scheduler never waits on it; the loom-checked atomics the cell holds are still explored.
pub use std::sync::OnceLock;
