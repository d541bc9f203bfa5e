//! The node's session count and the per-(user, client ip) counts, each changed with its limit
//! check in one atomic step (deliberate fix 2, see docs/fixes.md).
//!
//! NebulaGraph checks the per-(user, ip) count and changes it in two steps (so concurrent logins
//! overshoot) and drops the counter on the 2 -> 1 transition (so it under-counts afterwards).
//! Here the node count is reserved with one compare-and-swap against `sessions_max`, and each
//! (user, ip) count is checked and incremented inside one critical section of its shard's mutex;
//! a count is decremented exactly once per session end and removed only at zero.

use std::collections::BTreeMap;
use std::collections::hash_map::{Entry, HashMap};
use std::hash::BuildHasherDefault;

use graphsession_base::Fnv1a;
use graphsession_base::sync::{AtomicU64, Mutex, Ordering, lock};

use graphsession_permission::USER_NAME_BYTES_MAX;

use crate::server::config::CLIENT_IP_BYTES_MAX;
use crate::server::hash::{PassHasher, mix};

/// Bits of a pair's hash that pick its shard of the per-(user, ip) counts.
const USER_IP_SHARD_BITS: u32 = 4;

/// Shards of the per-(user, ip) counts: logins from different pairs rarely meet on one mutex.
const USER_IP_SHARD_COUNT: usize = 1 << USER_IP_SHARD_BITS;

/// The node's session count, reserved before a session is created.
#[derive(Debug)]
pub(crate) struct NodeCount {
    count: AtomicU64,
}

impl NodeCount {
    pub(crate) fn new(count: u64) -> NodeCount {
        NodeCount { count: AtomicU64::new(count) }
    }

    /// Reserves one session if fewer than `max` are held; false (and nothing changed) otherwise.
    pub(crate) fn try_reserve(&self, max: u64) -> bool {
        let mut current = self.count.load(Ordering::Relaxed);
        loop {
            if current >= max {
                return false;
            }
            match self.count.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn release(&self) {
        let previous = self.count.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(previous > 0, "released a session that was never reserved");
    }

    pub(crate) fn get(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

/// A (user, client ip) pair, shared by every session of the pair: a session holds one pointer
/// instead of two strings. Both names live in one buffer, the user's first, inside the pair's
/// own allocation when they fit (any login's do). Ordered by user, then client ip.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UserIp {
    text: PairText,
    /// Bytes of the text that are the user's name.
    user_len: usize,
    /// The pair's key in the counts ([`pair_hash`] of its names), kept so that a session's end
    /// finds its count without hashing the names again.
    hash: u64,
}

/// Bytes of names kept inline: a login's longest user name and client ip.
const INLINE_BYTES: usize = (USER_NAME_BYTES_MAX + CLIENT_IP_BYTES_MAX) as usize;

/// The user's name followed by the client's ip.
#[derive(Debug, PartialEq, Eq)]
enum PairText {
    /// In the pair's allocation: the first `len` bytes.
    Inline { bytes: [u8; INLINE_BYTES], len: usize },
    /// Longer names (a session installed from the cluster or a snapshot may carry them).
    Heap(Box<str>),
}

impl UserIp {
    #[cfg(test)]
    pub(crate) fn new(user: &str, client_ip: &str) -> UserIp {
        UserIp::with_hash(user, client_ip, pair_hash(user.as_bytes(), client_ip.as_bytes()))
    }

    /// The pair filed under `hash` (tests force collisions with it).
    fn with_hash(user: &str, client_ip: &str, hash: u64) -> UserIp {
        let len = user.len() + client_ip.len();
        let text = if len <= INLINE_BYTES {
            let mut bytes = [0; INLINE_BYTES];
            bytes[..user.len()].copy_from_slice(user.as_bytes());
            bytes[user.len()..len].copy_from_slice(client_ip.as_bytes());
            PairText::Inline { bytes, len }
        } else {
            PairText::Heap([user, client_ip].concat().into_boxed_str())
        };
        UserIp { text, user_len: user.len(), hash }
    }

    fn bytes(&self) -> &[u8] {
        match &self.text {
            PairText::Inline { bytes, len } => bytes.get(..*len).unwrap_or_default(),
            PairText::Heap(text) => text.as_bytes(),
        }
    }

    /// Part of the text; the parts are whole strings, so this never fails.
    fn part(&self, range: std::ops::Range<usize>) -> &str {
        let bytes = self.bytes().get(range).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    pub(crate) fn user(&self) -> &str {
        self.part(0..self.user_len)
    }

    pub(crate) fn client_ip(&self) -> &str {
        self.part(self.user_len..self.bytes().len())
    }

    /// The user's name and the client's ip, as bytes.
    fn split(&self) -> (&[u8], &[u8]) {
        self.bytes().split_at_checked(self.user_len).unwrap_or_default()
    }

    fn is(&self, user: &[u8], client_ip: &[u8]) -> bool {
        self.split() == (user, client_ip)
    }
}

impl PartialOrd for UserIp {
    fn partial_cmp(&self, other: &UserIp) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for UserIp {
    fn cmp(&self, other: &UserIp) -> std::cmp::Ordering {
        (self.user(), self.client_ip()).cmp(&(other.user(), other.client_ip()))
    }
}

/// A pair with sessions, and how many.
#[derive(Debug)]
struct PairCount {
    pair: std::sync::Arc<UserIp>,
    sessions: u32,
}

/// The pairs whose hashes are equal (nearly always one: the hash has 64 bits).
#[derive(Debug)]
struct Bucket {
    first: PairCount,
    more: Vec<PairCount>,
}

impl Bucket {
    fn find(&mut self, user: &[u8], client_ip: &[u8]) -> Option<&mut PairCount> {
        if self.first.pair.is(user, client_ip) {
            return Some(&mut self.first);
        }
        self.more.iter_mut().find(|counted| counted.pair.is(user, client_ip))
    }

    fn counts(&self) -> impl Iterator<Item = &PairCount> {
        std::iter::once(&self.first).chain(&self.more)
    }
}

/// Pairs by the hash of their names ([`pair_hash`]): a hash map with a fixed hasher, looked up
/// once per login and once per session end. Its order never leaks: it is only visited to check
/// invariants, and [`UserIpCounts::all`] sorts.
type UserIpMap = HashMap<u64, Bucket, BuildHasherDefault<PassHasher>>;

/// Sessions per (user, client ip), sharded by a hash of the pair.
#[derive(Debug)]
pub(crate) struct UserIpCounts {
    shards: Vec<Mutex<UserIpMap>>,
}

impl UserIpCounts {
    pub(crate) fn new() -> UserIpCounts {
        UserIpCounts { shards: (0..USER_IP_SHARD_COUNT).map(|_| Mutex::default()).collect() }
    }

    fn shard(&self, hash: u64) -> &Mutex<UserIpMap> {
        // The top bits: the map inside takes its own from the low ones. Already below the
        // shard count, so no modulo (one was here, and changing it changed nothing).
        let index = usize::try_from(hash >> (u64::BITS - USER_IP_SHARD_BITS)).unwrap_or(0);
        &self.shards[index]
    }

    /// Checks the count of (`user`, `client_ip`) against `limit` and increments it, in one
    /// critical section; returns the shared pair. `Err(limit)` when it is at the limit; nothing
    /// changes then.
    pub(crate) fn try_acquire(
        &self,
        user: &str,
        client_ip: &str,
        limit: Option<u32>,
    ) -> Result<std::sync::Arc<UserIp>, u32> {
        let hash = pair_hash(user.as_bytes(), client_ip.as_bytes());
        self.try_acquire_hashed(hash, user, client_ip, limit)
    }

    /// [`try_acquire`](Self::try_acquire) of a pair whose hash is `hash` (tests force
    /// collisions with it).
    fn try_acquire_hashed(
        &self,
        hash: u64,
        user: &str,
        client_ip: &str,
        limit: Option<u32>,
    ) -> Result<std::sync::Arc<UserIp>, u32> {
        let (user_bytes, ip_bytes) = (user.as_bytes(), client_ip.as_bytes());
        let mut map = lock(self.shard(hash));
        let bucket = match map.entry(hash) {
            Entry::Occupied(occupied) => occupied.into_mut(),
            Entry::Vacant(vacant) => {
                if limit == Some(0) {
                    return Err(0);
                }
                let pair = std::sync::Arc::new(UserIp::with_hash(user, client_ip, hash));
                let first = PairCount { pair: std::sync::Arc::clone(&pair), sessions: 1 };
                vacant.insert(Bucket { first, more: Vec::new() });
                return Ok(pair);
            }
        };
        if let Some(counted) = bucket.find(user_bytes, ip_bytes) {
            if let Some(limit) = limit.filter(|&limit| counted.sessions >= limit) {
                return Err(limit);
            }
            counted.sessions = counted.sessions.saturating_add(1);
            return Ok(std::sync::Arc::clone(&counted.pair));
        }
        if limit == Some(0) {
            return Err(0);
        }
        let pair = std::sync::Arc::new(UserIp::with_hash(user, client_ip, hash));
        bucket.more.push(PairCount { pair: std::sync::Arc::clone(&pair), sessions: 1 });
        Ok(pair)
    }

    /// One session of `pair` ended.
    pub(crate) fn release(&self, pair: &UserIp) {
        self.release_hashed(pair.hash, pair);
    }

    /// [`release`](Self::release) of a pair whose hash is `hash`.
    fn release_hashed(&self, hash: u64, pair: &UserIp) {
        let (user, client_ip) = pair.split();
        let mut map = lock(self.shard(hash));
        let Entry::Occupied(mut occupied) = map.entry(hash) else {
            debug_assert!(false, "released a (user, ip) slot that was never acquired");
            return;
        };
        let bucket = occupied.get_mut();
        let Some(counted) = bucket.find(user, client_ip) else {
            debug_assert!(false, "released a (user, ip) slot that was never acquired");
            return;
        };
        counted.sessions = counted.sessions.saturating_sub(1);
        if counted.sessions > 0 {
            return;
        }
        // Removed at zero: the bucket's last pair goes with the bucket.
        if bucket.first.pair.is(user, client_ip) {
            match bucket.more.pop() {
                Some(last) => bucket.first = last,
                None => drop(occupied.remove()),
            }
        } else {
            bucket.more.retain(|counted| !counted.pair.is(user, client_ip));
        }
    }

    /// The count of (`user`, `client_ip`).
    pub(crate) fn get(&self, user: &str, client_ip: &str) -> u32 {
        let (user, client_ip) = (user.as_bytes(), client_ip.as_bytes());
        self.get_hashed(pair_hash(user, client_ip), user, client_ip)
    }

    /// [`get`](Self::get) of a pair whose hash is `hash`.
    fn get_hashed(&self, hash: u64, user: &[u8], client_ip: &[u8]) -> u32 {
        let mut map = lock(self.shard(hash));
        let counted = map.get_mut(&hash).and_then(|bucket| bucket.find(user, client_ip));
        counted.map_or(0, |counted| counted.sessions)
    }

    /// Calls `visit` with every pair, its non-zero count, and whether it is filed under its own
    /// kept hash, for invariant checks (no allocation). The order is the maps' and means nothing:
    /// callers only count and compare.
    pub(crate) fn each(&self, mut visit: impl FnMut(&std::sync::Arc<UserIp>, u32, bool)) {
        for shard in &self.shards {
            for (&hash, bucket) in lock(shard).iter() {
                for counted in bucket.counts() {
                    visit(&counted.pair, counted.sessions, counted.pair.hash == hash);
                }
            }
        }
    }

    /// Every non-zero count, for invariant checks.
    pub(crate) fn all(&self) -> BTreeMap<(String, String), u32> {
        let mut all = BTreeMap::new();
        self.each(|pair, sessions, _| {
            all.insert((pair.user().to_owned(), pair.client_ip().to_owned()), sessions);
        });
        all
    }
}

/// The fixed hash of a (user, client ip) pair: FNV-1a of the user's name, a byte no UTF-8 text
/// holds, and the ip, folded by [`mix`] so every bit depends on every byte.
fn pair_hash(user: &[u8], client_ip: &[u8]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.bytes(user);
    hash.bytes(&[0xFF]);
    hash.bytes(client_ip);
    mix(hash.finish())
}

#[cfg(test)]
mod tests {
    //! The pair's one buffer, and the (user, ip) counts when two pairs share a hash (which real
    //! 64-bit hashes make all but impossible, so the tests force it).

    use super::{UserIp, UserIpCounts};

    #[test]
    fn a_pair_splits_its_buffer_and_orders_by_user_then_ip() {
        let pair = UserIp::new("ab", "c");
        assert_eq!((pair.user(), pair.client_ip()), ("ab", "c"));
        assert!(pair.is(b"ab", b"c"));
        assert!(!pair.is(b"a", b"bc"), "the split is part of the pair");
        assert!(UserIp::new("a", "bc") < pair, "user first: \"a\" < \"ab\"");
        assert!(UserIp::new("ab", "b") < pair);
        assert_eq!(UserIp::new("ab", "c"), pair);
        // Names longer than any login's are kept on the heap, with the same answers.
        let long_ip = "f".repeat(100);
        let long = UserIp::new("alice", &long_ip);
        assert_eq!((long.user(), long.client_ip()), ("alice", long_ip.as_str()));
        assert!(long.is(b"alice", long_ip.as_bytes()));
        assert!(UserIp::new("alice", "a") < long);
    }

    #[test]
    fn pairs_that_share_a_hash_are_counted_apart() {
        let counts = UserIpCounts::new();
        let first = counts.try_acquire_hashed(7, "alice", "10.0.0.1", Some(2)).expect("room");
        let second = counts.try_acquire_hashed(7, "bob", "10.0.0.1", Some(2)).expect("room");
        let third = counts.try_acquire_hashed(7, "carol", "10.0.0.1", Some(1)).expect("room");
        assert_eq!(counts.try_acquire_hashed(7, "carol", "10.0.0.1", Some(1)), Err(1));
        assert_eq!(counts.try_acquire_hashed(7, "dave", "10.0.0.1", Some(0)), Err(0));
        let again = counts.try_acquire_hashed(7, "bob", "10.0.0.1", Some(2)).expect("room");
        assert!(std::sync::Arc::ptr_eq(&second, &again), "one shared pair");
        assert_eq!(counts.get_hashed(7, b"bob", b"10.0.0.1"), 2);
        assert_eq!(counts.get_hashed(7, b"dave", b"10.0.0.1"), 0);
        // A pair after the first leaves alone; then the first, whose place the last takes.
        let mut filed = 0;
        counts.each(|_, _, filed_under_its_hash| filed += u32::from(filed_under_its_hash));
        assert_eq!(filed, 3, "each pair keeps the hash it is filed under");
        // `release` finds the pair by its kept hash, here the forced one.
        counts.release(&third);
        assert_eq!(counts.get_hashed(7, b"carol", b"10.0.0.1"), 0);
        counts.release_hashed(7, &first);
        assert_eq!(counts.get_hashed(7, b"alice", b"10.0.0.1"), 0);
        assert_eq!(counts.get_hashed(7, b"bob", b"10.0.0.1"), 2);
        counts.release_hashed(7, &second);
        counts.release_hashed(7, &again);
        assert_eq!(counts.get_hashed(7, b"bob", b"10.0.0.1"), 0);
        let mut left = 0;
        counts.each(|_, _, _| left += 1);
        assert_eq!(left, 0, "every pair is gone at zero");
    }

    #[test]
    fn the_count_is_checked_against_the_limit_and_kept_until_zero() {
        let counts = UserIpCounts::new();
        let one = counts.try_acquire("alice", "10.0.0.1", Some(2)).expect("room");
        let two = counts.try_acquire("alice", "10.0.0.1", Some(2)).expect("room");
        assert_eq!(counts.try_acquire("alice", "10.0.0.1", Some(2)), Err(2));
        assert_eq!(counts.get("alice", "10.0.0.1"), 2);
        counts.release(&one);
        assert_eq!(
            counts.all().into_iter().collect::<Vec<_>>(),
            [(("alice".to_owned(), "10.0.0.1".to_owned()), 1)]
        );
        counts.release(&two);
        assert!(counts.all().is_empty());
    }
}
