//! Feature `corruption`: break exactly one invariant of a live [`SessionManager`], so a test or
//! a simulator can show that [`SessionManager::check_invariants`] reports it (a checker made
//! weaker is invisible to a caller that only ever builds sound registries). Each
//! [`ManagerCorruption`] names the property its checker must report, or `None` for a bound met
//! exactly, which must pass. [`SessionManager::corrupt`] returns what
//! [`SessionManager::undo_corruption`] needs to put the registry back exactly as it was: the
//! corruptions change a limit, a count, one empty slot's word or a shard's query registry's
//! limits and counters, never a session.

use std::collections::BTreeMap;
use std::sync::Arc;

use graphsession_base::sync::{lock, write};
use graphsession_query_plan::{RegistryCorruption, RegistryRestore};

use crate::server::config::Config;
use crate::server::limits::UserIp;
use crate::server::manager::SessionManager;
use crate::server::session::Origin;

/// One way to break (or to meet exactly) one invariant of a [`SessionManager`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ManagerCorruption {
    /// The node count one above the sessions held.
    NodeCountOff,
    /// `sessions_max` one below the sessions held (needs one).
    SessionsOverLimit,
    /// `sessions_max` equal to the sessions held: sound.
    SessionsAtLimit,
    /// The per-(user, ip) limit one below the most logged-in sessions one pair holds (needs a
    /// pair with two: a limit of 0 means none).
    LoggedInOverPairLimit,
    /// The per-(user, ip) limit equal to the most logged-in sessions one pair holds: sound.
    LoggedInAtPairLimit,
    /// `throttled_users_max` one below the users in the lockout table (needs one).
    LockoutsOverLimit,
    /// `throttled_users_max` equal to the users in the lockout table: sound.
    LockoutsAtLimit,
    /// `session_history_max` one below the longest history a session holds (needs an entry).
    HistoryOverLimit,
    /// `session_history_max` equal to the longest history a session holds: sound.
    HistoryAtLimit,
    /// An empty slot of a shard's slot table left unfrozen (the first shard with one).
    EmptySlotUnfrozen,
    /// The (user, ip) pair of the session with the lowest id counted one session more than it
    /// holds (needs a session). Its report must state the pair's wrong count:
    /// [`ManagerRestore::miscounted_pair`].
    UserIpCountOff,
    /// A corruption of the first shard's query registry it applies to.
    Queries(RegistryCorruption),
}

impl ManagerCorruption {
    /// Every corruption, in a fixed order.
    #[must_use]
    pub fn all() -> Vec<ManagerCorruption> {
        let own = [
            ManagerCorruption::NodeCountOff,
            ManagerCorruption::SessionsOverLimit,
            ManagerCorruption::SessionsAtLimit,
            ManagerCorruption::LoggedInOverPairLimit,
            ManagerCorruption::LoggedInAtPairLimit,
            ManagerCorruption::LockoutsOverLimit,
            ManagerCorruption::LockoutsAtLimit,
            ManagerCorruption::HistoryOverLimit,
            ManagerCorruption::HistoryAtLimit,
            ManagerCorruption::EmptySlotUnfrozen,
            ManagerCorruption::UserIpCountOff,
        ];
        let queries = RegistryCorruption::ALL.into_iter().map(ManagerCorruption::Queries);
        own.into_iter().chain(queries).collect()
    }

    /// The property [`SessionManager::check_invariants`] must report once this corruption is
    /// applied; `None`: the registry stays sound and the check must pass. A query registry's
    /// break is reported as `shard_query_registry_sound`, its own property in the detail.
    #[must_use]
    pub fn property(self) -> Option<&'static str> {
        match self {
            ManagerCorruption::NodeCountOff => Some("node_count_matches_sessions"),
            ManagerCorruption::SessionsOverLimit => Some("sessions_within_limit"),
            ManagerCorruption::LoggedInOverPairLimit => {
                Some("logged_in_sessions_within_user_ip_limit")
            }
            ManagerCorruption::LockoutsOverLimit => Some("lockout_table_within_limit"),
            ManagerCorruption::HistoryOverLimit => Some("history_and_variables_within_limits"),
            ManagerCorruption::EmptySlotUnfrozen => Some("shard_slot_table_sound"),
            ManagerCorruption::UserIpCountOff => Some("user_ip_counts_match_sessions"),
            ManagerCorruption::Queries(inner) => {
                inner.property().map(|_| "shard_query_registry_sound")
            }
            ManagerCorruption::SessionsAtLimit
            | ManagerCorruption::LoggedInAtPairLimit
            | ManagerCorruption::LockoutsAtLimit
            | ManagerCorruption::HistoryAtLimit => None,
        }
    }
}

/// What [`SessionManager::undo_corruption`] puts back.
#[derive(Debug)]
#[must_use = "a corrupted registry stays corrupted until restored"]
pub enum ManagerRestore {
    /// The configuration before the change.
    Config(Box<Config>),
    /// One session reserved in the node count.
    NodeCount,
    /// Slot `index` of shard `shard` had `word`.
    Slot {
        /// The shard.
        shard: usize,
        /// The slot.
        index: usize,
        /// Its word before the change.
        word: u64,
    },
    /// One session counted for this pair more than it holds.
    UserIpCount(UserIpHold),
    /// Shard `shard`'s query registry's fields before the change.
    Queries {
        /// The shard.
        shard: usize,
        /// Its registry's restore.
        restore: RegistryRestore,
    },
}

impl ManagerRestore {
    /// The (user, client ip) pair whose count the corruption changed, and the count it has now:
    /// a report of the broken invariant must state them, so a person reading it knows which
    /// pair is wrong and how.
    #[must_use]
    pub fn miscounted_pair(&self) -> Option<(&str, &str, u32)> {
        match self {
            ManagerRestore::UserIpCount(hold) => {
                Some((hold.pair.user(), hold.pair.client_ip(), hold.counted))
            }
            _ => None,
        }
    }
}

/// One count of a (user, ip) pair taken by [`ManagerCorruption::UserIpCountOff`] and given
/// back by [`SessionManager::undo_corruption`].
#[derive(Debug)]
pub struct UserIpHold {
    pair: Arc<UserIp>,
    /// The pair's count with the corruption: its sessions, plus one.
    counted: u32,
}

impl SessionManager {
    /// Applies `corruption`; `None` (and nothing changed) when it does not apply to the
    /// registry's state. Call [`SessionManager::undo_corruption`] with the result before any other
    /// call.
    pub fn corrupt(&mut self, corruption: ManagerCorruption) -> Option<ManagerRestore> {
        let sessions = self.session_count();
        match corruption {
            ManagerCorruption::NodeCountOff => {
                self.node_count.try_reserve(u64::MAX).then_some(ManagerRestore::NodeCount)
            }
            ManagerCorruption::SessionsOverLimit => {
                let max = sessions.checked_sub(1)?;
                Some(self.change_config(|config| config.sessions_max = max))
            }
            ManagerCorruption::SessionsAtLimit => {
                Some(self.change_config(|config| config.sessions_max = sessions))
            }
            ManagerCorruption::LoggedInOverPairLimit => {
                let most = self.most_logged_in_per_pair().filter(|&most| most >= 2)?;
                Some(self.change_config(|c| c.sessions_per_user_ip_max = i64::from(most - 1)))
            }
            ManagerCorruption::LoggedInAtPairLimit => {
                let most = self.most_logged_in_per_pair()?;
                Some(self.change_config(|c| c.sessions_per_user_ip_max = i64::from(most)))
            }
            ManagerCorruption::LockoutsOverLimit => {
                let max = self.throttle.len().checked_sub(1)?;
                Some(self.change_config(|config| config.throttled_users_max = max))
            }
            ManagerCorruption::LockoutsAtLimit => {
                let max = self.throttle.len();
                Some(self.change_config(|config| config.throttled_users_max = max))
            }
            ManagerCorruption::HistoryOverLimit => {
                let max = self.longest_history()?.checked_sub(1)?;
                Some(self.change_config(|config| config.session_history_max = max))
            }
            ManagerCorruption::HistoryAtLimit => {
                let max = self.longest_history()?;
                Some(self.change_config(|config| config.session_history_max = max))
            }
            ManagerCorruption::EmptySlotUnfrozen => {
                self.shards.iter().enumerate().find_map(|(shard, found)| {
                    let mut state = write(&found.state);
                    let (index, word) = state.entries.unfreeze_empty_slot(&found.table)?;
                    Some(ManagerRestore::Slot { shard, index, word })
                })
            }
            ManagerCorruption::UserIpCountOff => {
                let (first, _) = self.session_activity().into_iter().next()?;
                let pair = Arc::clone(&self.shard(first).read().get(first)?.entry.pair);
                // Counted from the sessions, not from the counts the check compares them with.
                let held = self.sessions_of_pair(&pair);
                // No limit: an existing pair's count goes up by one, with no session for it.
                let pair = self.user_ip.try_acquire(pair.user(), pair.client_ip(), None).ok()?;
                let counted = held.checked_add(1)?;
                Some(ManagerRestore::UserIpCount(UserIpHold { pair, counted }))
            }
            ManagerCorruption::Queries(inner) => {
                self.shards.iter().enumerate().find_map(|(shard, found)| {
                    let restore = lock(&found.queries).corrupt(inner)?;
                    Some(ManagerRestore::Queries { shard, restore })
                })
            }
        }
    }

    /// Applies `change` to the configuration; the restore holds it as it was. Cloned only once
    /// a corruption is known to apply (the self-test tries many that do not).
    fn change_config(&mut self, change: impl FnOnce(&mut Config)) -> ManagerRestore {
        let was = self.config.clone();
        change(&mut self.config);
        ManagerRestore::Config(Box::new(was))
    }

    /// Undoes the corruption `restore` came from: the registry is exactly as it was before.
    pub fn undo_corruption(&mut self, restore: ManagerRestore) {
        match restore {
            ManagerRestore::Config(config) => self.config = *config,
            ManagerRestore::NodeCount => self.node_count.release(),
            ManagerRestore::UserIpCount(hold) => self.user_ip.release(&hold.pair),
            ManagerRestore::Slot { shard, index, word } => {
                if let Some(found) = self.shards.get(shard) {
                    write(&found.state).entries.restore_slot(&found.table, index, word);
                }
            }
            ManagerRestore::Queries { shard, restore } => {
                if let Some(found) = self.shards.get(shard) {
                    lock(&found.queries).undo_corruption(restore);
                }
            }
        }
    }

    /// The most logged-in sessions one (user, ip) pair holds; `None` without a session.
    fn most_logged_in_per_pair(&self) -> Option<u32> {
        let mut counts: BTreeMap<(String, String), u32> = BTreeMap::new();
        for shard in self.shards.iter() {
            for found in shard.read().iter() {
                if found.entry.origin == Origin::LoggedIn {
                    let pair = &found.entry.pair;
                    let key = (pair.user().to_owned(), pair.client_ip().to_owned());
                    *counts.entry(key).or_insert(0) += 1;
                }
            }
        }
        counts.into_values().max()
    }

    /// The sessions of `pair`, whatever their origin.
    fn sessions_of_pair(&self, pair: &UserIp) -> u32 {
        let mut held = 0_u32;
        for shard in self.shards.iter() {
            for found in shard.read().iter() {
                if *found.entry.pair == *pair {
                    held = held.saturating_add(1);
                }
            }
        }
        held
    }

    /// The most history entries a session holds; `None` when none holds one.
    fn longest_history(&self) -> Option<u32> {
        let mut longest = 0_usize;
        for shard in self.shards.iter() {
            for found in shard.read().iter() {
                longest = longest.max(lock(&found.entry.inner).extras().history.entries.len());
            }
        }
        u32::try_from(longest).ok().filter(|&entries| entries > 0)
    }
}

#[cfg(test)]
#[path = "corrupt_tests.rs"]
mod tests;
