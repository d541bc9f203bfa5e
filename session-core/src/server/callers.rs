//! Callers shared by the sessions of one user in one space.
//!
//! A resolved [`Caller`] (user, rights, current space and role, role-table version) is the same
//! for every session of a user in the same space, so sessions share one `Arc<Caller>` per
//! (user, space) instead of each holding its own copy: a session's caller costs one pointer,
//! whatever it has done. Fix 4 (see docs/fixes.md) is unchanged: a session whose shared caller
//! is older than the role table asks the cache again, and the cache resolves a fresh one for
//! everyone.
//!
//! Bounded: an entry that no session holds any more (its `Arc` has one owner, the cache) is
//! dropped by the next prune, which runs when the cache has doubled since the last one, so the
//! cache never holds more than about twice the (user, space) pairs in use.

use std::collections::BTreeMap;
use std::sync::Arc;

use graphsession_base::sync::{Mutex, lock};
use graphsession_permission::{Caller, RoleTable};

use crate::server::hash::name_shard;

/// Shards of the cache: requests of different users rarely meet on one mutex.
const CALLER_SHARD_COUNT: usize = 16;
/// Entries of one shard the first prune waits for.
const PRUNE_AT_MIN: usize = 64;

/// The space key of a caller without a current space (space names are never empty).
const NO_SPACE: &str = "";

#[derive(Debug)]
struct CallerShard {
    /// By user, then by current space ([`NO_SPACE`] for none).
    callers: BTreeMap<Box<str>, BTreeMap<Box<str>, Arc<Caller>>>,
    len: usize,
    prune_at: usize,
}

impl Default for CallerShard {
    fn default() -> CallerShard {
        CallerShard { callers: BTreeMap::new(), len: 0, prune_at: PRUNE_AT_MIN }
    }
}

impl CallerShard {
    /// Drops the callers no session holds.
    fn prune(&mut self) {
        for spaces in self.callers.values_mut() {
            // Only the cache hands out clones, under this shard's lock: a count of one stays one.
            spaces.retain(|_, caller| Arc::strong_count(caller) > 1);
        }
        self.callers.retain(|_, spaces| !spaces.is_empty());
        self.len = self.callers.values().map(BTreeMap::len).sum();
        self.prune_at = (self.len * 2).max(PRUNE_AT_MIN);
    }
}

/// The node's shared callers.
#[derive(Debug)]
pub(crate) struct CallerCache {
    shards: Box<[Mutex<CallerShard>]>,
}

impl CallerCache {
    pub(crate) fn new() -> CallerCache {
        CallerCache { shards: (0..CALLER_SHARD_COUNT).map(|_| Mutex::default()).collect() }
    }

    fn shard(&self, user: &str) -> &Mutex<CallerShard> {
        &self.shards[name_shard(user, self.shards.len())]
    }

    /// The caller of `user` in `space`, current with `table`.
    pub(crate) fn get(&self, table: &RoleTable, user: &str, space: Option<&str>) -> Arc<Caller> {
        let space_key = space.unwrap_or(NO_SPACE);
        let mut shard = lock(self.shard(user));
        let cached = shard.callers.get(user).and_then(|spaces| spaces.get(space_key));
        if let Some(caller) = cached.filter(|caller| !caller.is_stale(table)) {
            return Arc::clone(caller);
        }
        let caller = Arc::new(Caller::resolve(table, user, space));
        let spaces = shard.callers.entry(user.into()).or_default();
        if spaces.insert(space_key.into(), Arc::clone(&caller)).is_none() {
            shard.len += 1;
            if shard.len >= shard.prune_at {
                shard.prune();
            }
        }
        caller
    }

    /// Callers cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len).sum()
    }
}

#[cfg(test)]
mod tests {
    use graphsession_permission::{Policy, Role};

    use super::*;

    fn table() -> RoleTable {
        let mut table = RoleTable::new();
        let root = Caller::resolve(&table, "root", None);
        table.create_user(&root, Policy::ENFORCED, "alice").expect("create");
        table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice").expect("grant");
        table
    }

    #[test]
    fn sessions_of_one_user_in_one_space_share_a_caller_until_the_table_changes() {
        let mut table = table();
        let cache = CallerCache::new();
        let first = cache.get(&table, "alice", Some("nba"));
        let second = cache.get(&table, "alice", Some("nba"));
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.current_role(), Some(Role::User));
        assert!(!Arc::ptr_eq(&first, &cache.get(&table, "alice", None)));
        let root = Caller::resolve(&table, "root", None);
        table.grant(&root, Policy::ENFORCED, Role::Dba, "nba", "alice").expect("grant");
        let fresh = cache.get(&table, "alice", Some("nba"));
        assert!(!Arc::ptr_eq(&first, &fresh), "fix 4: a stale caller is resolved again");
        assert_eq!(fresh.current_role(), Some(Role::Dba));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn callers_nobody_holds_are_pruned() {
        let table = table();
        let cache = CallerCache::new();
        let held = cache.get(&table, "alice", Some("nba"));
        // Spaces nobody stays in: each caller is dropped by its session at once.
        for space in 0..1_000 {
            drop(cache.get(&table, "alice", Some(&format!("space{space}"))));
        }
        assert!(cache.len() <= PRUNE_AT_MIN * 2, "{} callers cached", cache.len());
        assert!(Arc::ptr_eq(&held, &cache.get(&table, "alice", Some("nba"))), "a held one stays");
    }

    #[test]
    fn the_next_prune_waits_until_the_cache_has_doubled_since_the_last_one() {
        let table = table();
        let cache = CallerCache::new();
        // One user, so one shard: the 64th caller (all held) prunes nothing and sets the next
        // prune at twice the 64 callers that stayed.
        let held: Vec<_> = (0..PRUNE_AT_MIN)
            .map(|space| cache.get(&table, "alice", Some(&format!("held{space}"))))
            .collect();
        assert_eq!(cache.len(), PRUNE_AT_MIN);
        // Unheld callers accumulate up to the 127th; the 128th prunes all but itself (its
        // session holds it while the prune runs).
        for space in 0..PRUNE_AT_MIN - 1 {
            drop(cache.get(&table, "alice", Some(&format!("gone{space}"))));
        }
        assert_eq!(cache.len(), PRUNE_AT_MIN * 2 - 1);
        drop(cache.get(&table, "alice", Some("last")));
        assert_eq!(cache.len(), PRUNE_AT_MIN + 1);
        assert_eq!(held.len(), PRUNE_AT_MIN);
    }
}
