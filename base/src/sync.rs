//! The workspace's one switch between `std::sync` and `loom::sync`, and its lock helpers.
//!
//! Code that shares memory between threads imports its atomics, locks and `Arc` from here, never
//! from `std` directly. Under `RUSTFLAGS="--cfg loom"` (what `cargo xtask loom` sets) these names
//! resolve to loom's model-checked versions, so the loom tests explore every interleaving of
//! exactly the code that ships. It lives in the base crate, which every crate of the workspace
//! depends on.

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

/// Locks `mutex`. A panic while it was held (a bug elsewhere) leaves data whose invariants
/// `check_invariants` reports; failing every later request would not help.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes `lock` for reading, through a poisoning panic as [`lock`] does.
pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes `lock` for writing, through a poisoning panic as [`lock`] does.
pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Mutex, RwLock, lock, read, write};

    #[test]
    fn a_lock_poisoned_by_a_panic_is_still_taken_with_its_data() {
        let mutex = Mutex::new(1);
        let rw_lock = RwLock::new(2);
        let poisoned = std::panic::catch_unwind(|| {
            let _mutex = lock(&mutex);
            let _rw_lock = write(&rw_lock);
            panic!("poisons both");
        });
        assert!(poisoned.is_err() && mutex.is_poisoned() && rw_lock.is_poisoned());
        *lock(&mutex) += 10;
        *write(&rw_lock) += 20;
        assert_eq!((*lock(&mutex), *read(&rw_lock)), (11, 22));
    }
}
