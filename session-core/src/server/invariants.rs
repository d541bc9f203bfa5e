//! [`SessionManager::check_invariants`]: what must hold whenever no call is in flight. Tests and
//! simulators call it after every step; it costs O(n log n).

use std::collections::BTreeMap;

use crate::server::error::InvariantViolation;
use crate::server::limits::UserIp;
use crate::server::manager::SessionManager;
use crate::server::session::Origin;
use crate::server::shard::{Shard, hash_id, lock, shard_index};

impl SessionManager {
    /// Checks every invariant of a quiescent registry: each session in the right shard, live,
    /// with exactly one idle check at its scheduled time, open in its shard's query registry
    /// exactly while it has queries and nowhere else; the shard's slot table consistent; no query of an ended session in any registry; running-query counts
    /// matching the registries; the node count and every (user, ip) count equal to the sessions
    /// that hold them (fix 2), and the logged-in ones within their limits (installed sessions
    /// are counted without a limit); the cached earliest check no later than the true one;
    /// histories and variables within their bounds.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut user_ip: Counts = BTreeMap::new();
        let mut logged_in: Counts = BTreeMap::new();
        let mut total: u64 = 0;
        let mut earliest = u64::MAX;
        for (index, shard) in self.shards.iter().enumerate() {
            let (sessions, first) = self.check_shard(index, shard, &mut user_ip, &mut logged_in)?;
            total += sessions;
            earliest = earliest.min(first);
        }
        let fail = |what: String| Err(InvariantViolation(what));
        if total != self.node_count.get() {
            return fail(format!("node count {} != {total} sessions", self.node_count.get()));
        }
        if total > self.config.sessions_max {
            return fail(format!("{total} sessions above sessions_max"));
        }
        let mut pairs = 0_usize;
        let mut same = true;
        self.user_ip.each(|pair, count| {
            pairs += 1;
            // The very pair the sessions hold, with their number.
            same &= user_ip.get_key_value(pair).is_some_and(|(held, &sessions)| {
                std::sync::Arc::ptr_eq(held, pair) && sessions == count
            });
        });
        if !same || pairs != user_ip.len() {
            let counted = self.user_ip.all();
            let held: BTreeMap<(&str, &str), u32> = user_ip
                .iter()
                .map(|(pair, &count)| ((&*pair.user, &*pair.client_ip), count))
                .collect();
            return fail(format!("(user, ip) counts {counted:?} != sessions {held:?}"));
        }
        // Logins check the limit; sessions installed from the cluster are counted without one.
        if let Some(limit) = self.config.user_ip_limit()
            && let Some((pair, count)) = logged_in.iter().find(|(_, count)| **count > limit)
        {
            return fail(format!(
                "({}, {}) holds {count} logged-in sessions, above the limit {limit}",
                pair.user, pair.client_ip
            ));
        }
        if self.throttle.len() > self.config.throttled_users_max {
            return fail(format!("{} users in the lockout table", self.throttle.len()));
        }
        let cached = self.earliest_check_ms.load(graphsession_id_gen::sync::Ordering::Acquire);
        if cached > earliest {
            return fail(format!("cached earliest check {cached} after the true one {earliest}"));
        }
        Ok(())
    }

    /// Checks one shard; returns its session count and earliest check.
    fn check_shard(
        &self,
        index: usize,
        shard: &Shard,
        user_ip: &mut Counts,
        logged_in: &mut Counts,
    ) -> Result<(u64, u64), InvariantViolation> {
        let fail = |what: String| Err(InvariantViolation(what));
        let sessions = shard.read();
        let queries = lock(&shard.queries);
        if let Err(violation) = queries.check_invariants() {
            return fail(format!("shard {index} query registry: {violation}"));
        }
        if let Err(violation) = sessions.check_table() {
            return fail(format!("shard {index} slot table: {violation}"));
        }
        if sessions.deadlines().len() != sessions.len() {
            return fail(format!(
                "shard {index}: {} checks for {} sessions",
                sessions.deadlines().len(),
                sessions.len()
            ));
        }
        let open =
            sessions.iter().filter(|found| queries.session_user(found.entry.id).is_some()).count();
        if u64::from(queries.session_count()) != open as u64 {
            return fail(format!(
                "shard {index}: registry holds {} sessions, {open} of them live",
                queries.session_count(),
            ));
        }
        let mut running: u64 = 0;
        for found in sessions.iter() {
            let entry = found.entry;
            let id = entry.id;
            if shard_index(hash_id(id), self.shard_mask) != index || !entry.is_live() {
                return fail(format!("session {id} misplaced or ended in shard {index}"));
            }
            let check_at_ms = entry.check_at_ms();
            if !sessions.deadlines().contains(&(check_at_ms, id)) {
                return fail(format!("session {id} has no idle check at {check_at_ms}"));
            }
            if queries.session_user(id).is_some_and(|user| user != entry.user()) {
                return fail(format!("session {id} open in its query registry for another user"));
            }
            if queries.session_user(id).is_some() != (entry.running() > 0) {
                return fail(format!(
                    "session {id} runs {} queries but is {}open in its query registry",
                    entry.running(),
                    if queries.session_user(id).is_some() { "" } else { "not " }
                ));
            }
            let inner = lock(&entry.inner);
            let extras = inner.extras();
            if extras.history.entries.len() > self.config.session_history_max as usize
                || extras.variables.len() > self.config.variables_per_session_max as usize
            {
                return fail(format!("session {id} holds more history or variables than allowed"));
            }
            running += u64::from(entry.running());
            if entry.origin == Origin::LoggedIn {
                *logged_in.entry(std::sync::Arc::clone(&entry.pair)).or_insert(0) += 1;
            }
            *user_ip.entry(std::sync::Arc::clone(&entry.pair)).or_insert(0) += 1;
        }
        if running != u64::from(queries.query_count()) {
            return fail(format!(
                "shard {index}: {running} running queries, registry holds {}",
                queries.query_count()
            ));
        }
        // No query of an ended session: the query registry's own invariants put every query
        // in a session open there, and the count above makes every open session live here.
        let first = sessions.deadlines().first().map_or(u64::MAX, |&(at, _)| at);
        Ok((sessions.len() as u64, first))
    }
}

/// Sessions by (user, ip) pair.
type Counts = BTreeMap<std::sync::Arc<UserIp>, u32>;
