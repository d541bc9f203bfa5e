//! The node's session count and the per-(user, client ip) counts, each changed with its limit
//! check in one atomic step (deliberate fix 2, see docs/fixes.md).
//!
//! NebulaGraph checks the per-(user, ip) count and changes it in two steps (so concurrent logins
//! overshoot) and drops the counter on the 2 -> 1 transition (so it under-counts afterwards).
//! Here the node count is reserved with one compare-and-swap against `sessions_max`, and each
//! (user, ip) count is checked and incremented inside one critical section of its shard's mutex;
//! a count is decremented exactly once per session end and removed only at zero.
//!
//! A pair whose count falls to zero is kept (at zero) while its shard keeps fewer than
//! [`IDLE_PAIRS_PER_SHARD_MAX`] such pairs, so a client that logs in again from the same ip (the
//! common case: a connection pool, a reconnecting driver) finds its pair without allocating it,
//! hashing it into the map and freeing it again at its end. A kept pair counts nothing: every
//! reader skips zero counts, and the limit check sees 0.

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

/// Pairs at zero a shard of the per-(user, ip) counts keeps for their next login; past it, a
/// pair is removed when its count reaches zero. 16 shards of 256 pairs of about 160 bytes each
/// (the pair with its inline names, its map entry) hold at most about 650 KB.
pub(crate) const IDLE_PAIRS_PER_SHARD_MAX: usize = 256;

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

    /// The count of the very pair `pair` (a session's end holds the pair it was counted under,
    /// so a pointer comparison finds it without comparing names).
    fn find_pair(&mut self, pair: &UserIp) -> Option<&mut PairCount> {
        if std::ptr::eq(&*self.first.pair, pair) {
            return Some(&mut self.first);
        }
        self.more.iter_mut().find(|counted| std::ptr::eq(&*counted.pair, pair))
    }

    fn counts(&self) -> impl Iterator<Item = &PairCount> {
        std::iter::once(&self.first).chain(&self.more)
    }
}

/// Pairs by the hash of their names ([`pair_hash`]): a hash map with a fixed hasher, looked up
/// once per login and once per session end. Its order never leaks: it is only visited to check
/// invariants, and [`UserIpCounts::all`] sorts.
type UserIpMap = HashMap<u64, Bucket, BuildHasherDefault<PassHasher>>;

/// One shard of the per-(user, ip) counts.
#[derive(Debug, Default)]
struct UserIpShard {
    pairs: UserIpMap,
    /// Pairs of `pairs` at zero, kept for their next login; at most
    /// [`IDLE_PAIRS_PER_SHARD_MAX`].
    idle: usize,
}

/// Sessions per (user, client ip), sharded by a hash of the pair.
#[derive(Debug)]
pub(crate) struct UserIpCounts {
    shards: Vec<Mutex<UserIpShard>>,
}

impl UserIpCounts {
    pub(crate) fn new() -> UserIpCounts {
        UserIpCounts { shards: (0..USER_IP_SHARD_COUNT).map(|_| Mutex::default()).collect() }
    }

    fn shard(&self, hash: u64) -> &Mutex<UserIpShard> {
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
        let mut shard = lock(self.shard(hash));
        let shard = &mut *shard;
        let bucket = match shard.pairs.entry(hash) {
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
            if counted.sessions == 0 {
                shard.idle = shard.idle.saturating_sub(1);
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
        let mut shard = lock(self.shard(hash));
        let shard = &mut *shard;
        let Entry::Occupied(mut occupied) = shard.pairs.entry(hash) else {
            debug_assert!(false, "released a (user, ip) slot that was never acquired");
            return;
        };
        let bucket = occupied.get_mut();
        let Some(counted) = bucket.find_pair(pair).filter(|counted| counted.sessions > 0) else {
            debug_assert!(false, "released a (user, ip) slot that was never acquired");
            return;
        };
        counted.sessions -= 1;
        if counted.sessions > 0 {
            return;
        }
        if shard.idle < IDLE_PAIRS_PER_SHARD_MAX {
            shard.idle += 1;
            return;
        }
        // Removed at zero: the bucket's last pair goes with the bucket.
        if std::ptr::eq(&*bucket.first.pair, pair) {
            match bucket.more.pop() {
                Some(last) => bucket.first = last,
                None => drop(occupied.remove()),
            }
        } else {
            bucket.more.retain(|counted| !std::ptr::eq(&*counted.pair, pair));
        }
    }

    /// The count of (`user`, `client_ip`).
    pub(crate) fn get(&self, user: &str, client_ip: &str) -> u32 {
        let (user, client_ip) = (user.as_bytes(), client_ip.as_bytes());
        self.get_hashed(pair_hash(user, client_ip), user, client_ip)
    }

    /// [`get`](Self::get) of a pair whose hash is `hash`.
    fn get_hashed(&self, hash: u64, user: &[u8], client_ip: &[u8]) -> u32 {
        let mut shard = lock(self.shard(hash));
        let counted = shard.pairs.get_mut(&hash).and_then(|bucket| bucket.find(user, client_ip));
        counted.map_or(0, |counted| counted.sessions)
    }

    /// Calls `visit` with every pair of a non-zero count, its count, and whether it is filed
    /// under its own kept hash, for invariant checks (no allocation). The order is the maps' and
    /// means nothing: callers only count and compare.
    pub(crate) fn each(&self, mut visit: impl FnMut(&std::sync::Arc<UserIp>, u32, bool)) {
        for shard in &self.shards {
            for (&hash, bucket) in lock(shard).pairs.iter() {
                for counted in bucket.counts().filter(|counted| counted.sessions > 0) {
                    visit(&counted.pair, counted.sessions, counted.pair.hash == hash);
                }
            }
        }
    }

    /// The kept pairs' own rules: each shard's idle count is its number of pairs at zero, within
    /// [`IDLE_PAIRS_PER_SHARD_MAX`], and every kept pair is filed under its own hash.
    #[cfg(test)]
    pub(crate) fn check_idle(&self) -> Result<(), String> {
        self.walk(|_, _, _| {})
    }

    /// [`each`](Self::each) and [`check_idle`](Self::check_idle) in one pass over the shards:
    /// `visit` sees every pair of a non-zero count (all of them, whatever the kept pairs'
    /// verdict), and the result is the kept pairs' rules, the first shard that breaks them.
    pub(crate) fn walk(
        &self,
        mut visit: impl FnMut(&std::sync::Arc<UserIp>, u32, bool),
    ) -> Result<(), String> {
        let mut verdict = Ok(());
        for (index, shard) in self.shards.iter().enumerate() {
            let shard = lock(shard);
            let mut idle = 0_usize;
            let mut misfiled = false;
            for (&hash, bucket) in &shard.pairs {
                for counted in bucket.counts() {
                    if counted.sessions > 0 {
                        visit(&counted.pair, counted.sessions, counted.pair.hash == hash);
                    } else {
                        misfiled |= counted.pair.hash != hash;
                        idle += 1;
                    }
                }
            }
            if verdict.is_err() {
                continue;
            }
            if misfiled {
                verdict = Err(format!("a kept pair of shard {index} is misfiled"));
            } else if idle != shard.idle || idle > IDLE_PAIRS_PER_SHARD_MAX {
                verdict = Err(format!(
                    "shard {index} keeps {idle} pairs at zero, counted {} (at most {})",
                    shard.idle, IDLE_PAIRS_PER_SHARD_MAX
                ));
            }
        }
        verdict
    }

    /// Drops every pair kept at zero (tests that need a pair allocated anew).
    #[cfg(test)]
    pub(crate) fn drop_idle(&self) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            shard.pairs.retain(|_, bucket| {
                bucket.more.retain(|counted| counted.sessions > 0);
                if bucket.first.sessions == 0 {
                    match bucket.more.pop() {
                        Some(last) => bucket.first = last,
                        None => return false,
                    }
                }
                true
            });
            shard.idle = 0;
        }
    }

    /// Counts one more kept pair in the first shard than it keeps (tests that break the rule).
    #[cfg(test)]
    pub(crate) fn miscount_idle(&self) {
        lock(&self.shards[0]).idle += 1;
    }

    /// Pairs kept at zero, over all shards.
    #[cfg(test)]
    pub(crate) fn idle_pairs(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).idle).sum()
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

    use super::{IDLE_PAIRS_PER_SHARD_MAX, UserIp, UserIpCounts};

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
        assert_eq!(left, 0, "no pair counts at zero");
        assert_eq!(counts.idle_pairs(), 3, "the pairs at zero are kept for their next login");
        counts.check_idle().expect("kept pairs counted");
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
        // Kept at zero: the next login of the pair gets the very same pair back.
        assert_eq!(counts.idle_pairs(), 1);
        let again = counts.try_acquire("alice", "10.0.0.1", Some(2)).expect("room");
        assert!(std::sync::Arc::ptr_eq(&one, &again), "the kept pair serves the next login");
        assert_eq!(counts.idle_pairs(), 0);
        assert_eq!(counts.get("alice", "10.0.0.1"), 1);
        // A kept pair still counts against a zero limit.
        counts.release(&again);
        assert_eq!(counts.try_acquire("alice", "10.0.0.1", Some(0)), Err(0));
        counts.check_idle().expect("kept pairs counted");
    }

    #[test]
    fn pairs_at_zero_are_kept_up_to_the_bound_per_shard() {
        // Every pair forced into one shard (hash 7 has top bits 0): the shard keeps the bound's
        // worth, and the pairs past it leave at zero.
        let counts = UserIpCounts::new();
        let ips: Vec<String> =
            (0..IDLE_PAIRS_PER_SHARD_MAX + 10).map(|i| format!("10.1.{i}")).collect();
        let pairs: Vec<_> = ips
            .iter()
            .map(|ip| counts.try_acquire_hashed(7, "alice", ip, None).expect("unlimited"))
            .collect();
        for (pair, ip) in pairs.iter().zip(&ips) {
            counts.release_hashed(7, pair);
            assert_eq!(counts.get_hashed(7, b"alice", ip.as_bytes()), 0);
            counts.check_idle().expect("within the bound");
        }
        assert_eq!(counts.idle_pairs(), IDLE_PAIRS_PER_SHARD_MAX);
        let mut stored = 0;
        for shard in &counts.shards {
            for bucket in graphsession_base::sync::lock(shard).pairs.values() {
                stored += bucket.counts().count();
            }
        }
        assert_eq!(stored, IDLE_PAIRS_PER_SHARD_MAX, "the pairs past the bound left");
        assert!(counts.all().is_empty());
    }
}
