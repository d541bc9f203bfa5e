//! Shards: the registry's sessions split by a hash of their id, each shard behind its own lock.
//!
//! # Why shards of `RwLock<HashMap>`
//!
//! Find + touch is the hot path of every request of every executor thread. It takes one shard's
//! read lock, probes one fixed-hasher map whose slot holds the session's last activity inline,
//! and stores that activity only when the millisecond changed: no global lock, and the session's
//! own data is read in one probe. Writers (login, sign-out, kill, expiry) take one shard's write
//! lock; two threads meet on a lock only when they hit the same shard.
//!
//! The alternatives: the seed plan's sketch, one `Mutex<HashMap>`, serializes every request
//! of every thread (the benches measure it). A concurrent-map crate would add a dependency we
//! cannot loom-check. A lock-free map needs `unsafe` (memory reclamation), which the workspace
//! forbids. The cost we accept: acquiring a read lock writes the shard's lock word, so two
//! threads touching random sessions still move those lines between cores; the shards only make
//! them wait on each other rarely.
//!
//! Each shard also owns the query registry of its sessions (queries shard with their session)
//! behind its own mutex, and the deadline index of its sessions' idle checks (see `expiry.rs`).

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use graphsession_id_gen::SessionId;
use graphsession_id_gen::sync::{
    Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use graphsession_query_plan::QueryRegistry;

use crate::server::session::{Activity, SessionEntry};

/// Locks `mutex`. A panic while it was held (a bug elsewhere) leaves data whose invariants
/// `check_invariants` reports; failing every later request would not help.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fixed, deterministic hash of a session id: a folded 64x64 -> 128-bit multiply. Sealed ids
/// are already uniform; the multiply spreads unsealed (time-ordered) ids too. Deterministic, so
/// behaviour never depends on OS randomness.
#[inline]
#[expect(clippy::cast_possible_truncation, reason = "folding the product: truncation is the point")]
pub(crate) fn mix(value: u64) -> u64 {
    let product = u128::from(value) * 0x9E37_79B9_7F4A_7C15_u128;
    (product as u64) ^ ((product >> 64) as u64)
}

/// The map's hasher: [`mix`] of the id; other input falls back to FNV-1a.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn write_i64(&mut self, value: i64) {
        self.0 = mix(u64::from_ne_bytes(value.to_ne_bytes()));
    }
}

pub(crate) type IdMap<V> = HashMap<SessionId, V, BuildHasherDefault<IdHasher>>;

/// A session in its shard's map, with the time its next idle check is scheduled at.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) entry: Arc<SessionEntry>,
    pub(crate) activity: Activity,
}

/// What a shard's `RwLock` guards.
#[derive(Debug, Default)]
pub(crate) struct ShardState {
    pub(crate) sessions: IdMap<Slot>,
    /// `(check_at_ms, id)` of every session in `sessions`, earliest first.
    pub(crate) deadlines: BTreeSet<(u64, SessionId)>,
}

/// One shard, on its own cache lines so two shards' locks never share one.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Shard {
    pub(crate) state: RwLock<ShardState>,
    /// The queries of this shard's sessions; taken after `state`, never while holding it.
    pub(crate) queries: Mutex<QueryRegistry>,
}

impl Shard {
    pub(crate) fn new(queries: QueryRegistry) -> Shard {
        Shard { state: RwLock::new(ShardState::default()), queries: Mutex::new(queries) }
    }
}

/// The shard of `id` among `mask + 1` shards. Bits 32.. of the mix, so the map inside the
/// shard (which uses the low bits and the top seven) still sees well-spread hashes.
#[inline]
pub(crate) fn shard_index(id: SessionId, mask: u64) -> usize {
    usize::try_from((mix(u64::from_ne_bytes(id.get().to_ne_bytes())) >> 32) & mask).unwrap_or(0)
}
