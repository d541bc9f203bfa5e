//! The node's session count and the per-(user, client ip) counts, each changed with its limit
//! check in one atomic step (deliberate fix 2, see docs/fixes.md).
//!
//! NebulaGraph checks the per-(user, ip) count and changes it in two steps (so concurrent logins
//! overshoot) and drops the counter on the 2 -> 1 transition (so it under-counts afterwards).
//! Here the node count is reserved with one compare-and-swap against `sessions_max`, and each
//! (user, ip) count is checked and incremented inside one critical section of its shard's mutex;
//! a count is decremented exactly once per session end and removed only at zero.

use std::collections::BTreeMap;

use graphsession_base::sync::{AtomicU64, Mutex, Ordering, lock};

use crate::server::hash::name_shard;

/// Shards of the per-(user, ip) counts: logins of different users rarely meet on one mutex.
const USER_IP_SHARD_COUNT: usize = 16;

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
/// instead of two strings, and the user's name is shared by all the user's pairs.
/// Ordered by user, then client ip.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct UserIp {
    pub(crate) user: std::sync::Arc<str>,
    pub(crate) client_ip: Box<str>,
}

/// One user's pairs.
#[derive(Debug)]
struct UserCounts {
    name: std::sync::Arc<str>,
    ips: BTreeMap<Box<str>, PairCount>,
}

#[derive(Debug)]
struct PairCount {
    pair: std::sync::Arc<UserIp>,
    sessions: u32,
}

type UserIpMap = BTreeMap<Box<str>, UserCounts>;

/// Sessions per (user, client ip), sharded by a hash of the user.
#[derive(Debug)]
pub(crate) struct UserIpCounts {
    shards: Vec<Mutex<UserIpMap>>,
}

impl UserIpCounts {
    pub(crate) fn new() -> UserIpCounts {
        UserIpCounts { shards: (0..USER_IP_SHARD_COUNT).map(|_| Mutex::default()).collect() }
    }

    fn shard(&self, user: &str) -> &Mutex<UserIpMap> {
        &self.shards[name_shard(user, self.shards.len())]
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
        let mut map = lock(self.shard(user));
        // Look up before inserting: a pair that has sessions already costs no allocation.
        if let Some(counted) = map.get_mut(user).and_then(|counts| counts.ips.get_mut(client_ip)) {
            if let Some(limit) = limit.filter(|&limit| counted.sessions >= limit) {
                return Err(limit);
            }
            counted.sessions = counted.sessions.saturating_add(1);
            return Ok(std::sync::Arc::clone(&counted.pair));
        }
        if limit == Some(0) {
            return Err(0);
        }
        let counts = map.entry(user.into()).or_insert_with(|| UserCounts {
            name: std::sync::Arc::from(user),
            ips: BTreeMap::new(),
        });
        let pair = std::sync::Arc::new(UserIp {
            user: std::sync::Arc::clone(&counts.name),
            client_ip: client_ip.into(),
        });
        let counted = PairCount { pair: std::sync::Arc::clone(&pair), sessions: 1 };
        counts.ips.insert(client_ip.into(), counted);
        Ok(pair)
    }

    /// One session of `pair` ended.
    pub(crate) fn release(&self, pair: &UserIp) {
        let user = &*pair.user;
        let mut map = lock(self.shard(user));
        let Some(counts) = map.get_mut(user) else {
            debug_assert!(false, "released a (user, ip) slot that was never acquired");
            return;
        };
        if let Some(counted) = counts.ips.get_mut(&*pair.client_ip) {
            counted.sessions = counted.sessions.saturating_sub(1);
            if counted.sessions == 0 {
                counts.ips.remove(&*pair.client_ip);
            }
        }
        if counts.ips.is_empty() {
            map.remove(user);
        }
    }

    /// The count of (`user`, `client_ip`).
    pub(crate) fn get(&self, user: &str, client_ip: &str) -> u32 {
        let map = lock(self.shard(user));
        let counted = map.get(user).and_then(|counts| counts.ips.get(client_ip));
        counted.map_or(0, |counted| counted.sessions)
    }

    /// Calls `visit` with every pair and its non-zero count, for invariant checks (no
    /// allocation).
    pub(crate) fn each(&self, mut visit: impl FnMut(&std::sync::Arc<UserIp>, u32)) {
        for shard in &self.shards {
            for counts in lock(shard).values() {
                for counted in counts.ips.values() {
                    visit(&counted.pair, counted.sessions);
                }
            }
        }
    }

    /// Every non-zero count, for invariant checks.
    pub(crate) fn all(&self) -> BTreeMap<(String, String), u32> {
        let mut all = BTreeMap::new();
        for shard in &self.shards {
            for (user, counts) in lock(shard).iter() {
                for (ip, counted) in &counts.ips {
                    all.insert((user.to_string(), ip.to_string()), counted.sessions);
                }
            }
        }
        all
    }
}
