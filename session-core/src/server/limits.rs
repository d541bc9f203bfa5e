//! The node's session count and the per-(user, client ip) counts, each changed with its limit
//! check in one atomic step (deliberate fix 2), and the node clock.
//!
//! NebulaGraph checks the per-(user, ip) count and changes it in two steps (so concurrent logins
//! overshoot) and drops the counter on the 2 -> 1 transition (so it under-counts afterwards).
//! Here the node count is reserved with one compare-and-swap against `sessions_max`, and each
//! (user, ip) count is checked and incremented inside one critical section of its shard's mutex;
//! a count is decremented exactly once per session end and removed only at zero.

use std::collections::BTreeMap;

use graphsession_id_gen::sync::{AtomicU64, Mutex, Ordering};

use crate::server::config::NOW_UNIX_MS_MAX;
use crate::server::shard::lock;

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

type UserIpMap = BTreeMap<Box<str>, BTreeMap<Box<str>, u32>>;

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
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in user.as_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let index = usize::try_from(hash % USER_IP_SHARD_COUNT as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// Checks the count of (`user`, `client_ip`) against `limit` and increments it, in one
    /// critical section. `Err(limit)` when it is at the limit; nothing changes then.
    pub(crate) fn try_acquire(
        &self,
        user: &str,
        client_ip: &str,
        limit: Option<u32>,
    ) -> Result<(), u32> {
        let mut map = lock(self.shard(user));
        let current = map.get(user).and_then(|ips| ips.get(client_ip)).copied().unwrap_or(0);
        if let Some(limit) = limit.filter(|&limit| current >= limit) {
            return Err(limit);
        }
        // Look up before inserting: a pair that has sessions already costs no allocation.
        if let Some(count) = map.get_mut(user).and_then(|ips| ips.get_mut(client_ip)) {
            *count = count.saturating_add(1);
            return Ok(());
        }
        map.entry(user.into()).or_default().insert(client_ip.into(), 1);
        Ok(())
    }

    /// One session of (`user`, `client_ip`) ended.
    pub(crate) fn release(&self, user: &str, client_ip: &str) {
        let mut map = lock(self.shard(user));
        let Some(ips) = map.get_mut(user) else {
            debug_assert!(false, "released a (user, ip) slot that was never acquired");
            return;
        };
        if let Some(count) = ips.get_mut(client_ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                ips.remove(client_ip);
            }
        }
        if ips.is_empty() {
            map.remove(user);
        }
    }

    /// The count of (`user`, `client_ip`).
    pub(crate) fn get(&self, user: &str, client_ip: &str) -> u32 {
        let map = lock(self.shard(user));
        map.get(user).and_then(|ips| ips.get(client_ip)).copied().unwrap_or(0)
    }

    /// Every non-zero count, for invariant checks.
    pub(crate) fn all(&self) -> BTreeMap<(String, String), u32> {
        let mut all = BTreeMap::new();
        for shard in &self.shards {
            for (user, ips) in lock(shard).iter() {
                for (ip, &count) in ips {
                    all.insert((user.to_string(), ip.to_string()), count);
                }
            }
        }
        all
    }
}

/// The newest time the node has been told, Unix milliseconds. Every `now` passed in is clamped
/// to it, so a clock that steps back never expires anything early and never panics, and to
/// [`NOW_UNIX_MS_MAX`], the latest time the slot table can hold.
#[derive(Debug)]
pub(crate) struct Clock {
    newest_ms: AtomicU64,
}

impl Clock {
    pub(crate) fn new(newest_ms: u64) -> Clock {
        Clock { newest_ms: AtomicU64::new(newest_ms.min(NOW_UNIX_MS_MAX)) }
    }

    /// `max(now, newest seen)`, remembering `now` if it is newer.
    #[inline]
    pub(crate) fn observe(&self, now_unix_ms: u64) -> u64 {
        let now_unix_ms = now_unix_ms.min(NOW_UNIX_MS_MAX);
        let newest_ms = self.newest_ms.load(Ordering::Relaxed);
        if now_unix_ms <= newest_ms {
            return newest_ms;
        }
        self.newest_ms.fetch_max(now_unix_ms, Ordering::Relaxed).max(now_unix_ms)
    }

    pub(crate) fn newest_ms(&self) -> u64 {
        self.newest_ms.load(Ordering::Relaxed)
    }
}
