//! `QueryRegistry::check_invariants`: every internal invariant of the registry, checked by tests
//! and the simulator after every step.

use crate::lifecycle::QueryPhase;
use crate::recycle::RECYCLED_MAX;
use crate::registry::{
    EntryState, MACHINE, QueryEntry, QueryKey, QueryRegistry, SessionEntry, deadline_live,
};
use crate::timeouts::STALE_ENTRIES_SLACK;
use graphsession_base::Violation;
use graphsession_id_gen::SessionId;

impl QueryRegistry {
    /// Checks every internal invariant; tests and simulators call it after every step. O(n log n).
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        if u64::from(self.query_count) != u64::try_from(self.queries.len()).unwrap_or(u64::MAX) {
            return fail(
                "query_count_matches_queries",
                format!("query_count {} != {} queries", self.query_count, self.queries.len()),
            );
        }
        if self.query_count > self.config.queries_per_node_max {
            return fail(
                "queries_within_node_limit",
                format!("{} queries exceed the node limit", self.query_count),
            );
        }
        if self.session_count() > self.config.sessions_max {
            return fail(
                "sessions_within_limit",
                format!("{} sessions exceed the limit", self.session_count()),
            );
        }
        // An empty map is not walked: a map's walk visits its whole table, used or not.
        let listed = if self.sessions.is_empty() { 0 } else { self.check_sessions()? };
        let mut deadline_count = 0_usize;
        if !self.queries.is_empty() {
            deadline_count = self.check_queries()?;
        }
        // Every query (each in an open session, checked above) is in its session's list, and the
        // lists hold nothing else.
        if listed != self.queries.len() {
            return fail(
                "session_plans_match_queries",
                format!("{listed} plans listed for {} queries", self.queries.len()),
            );
        }
        self.check_deadline_index(deadline_count)?;
        let (statements, handles) = self.recycled.counts();
        if statements > RECYCLED_MAX || handles > RECYCLED_MAX || !self.recycled.all_fresh() {
            return fail(
                "recycled_bounded_and_fresh",
                format!("{statements} buffers and {handles} handles kept, or one is in use"),
            );
        }
        let counters = self.counters;
        if counters.started != counters.ended() + u64::from(self.query_count) {
            return fail(
                "counters_add_up",
                format!("counters do not add up: {counters:?}, {} running", self.query_count),
            );
        }
        if counters.killed_by_timeout > counters.timed_out {
            return fail(
                "timeout_kills_within_fired_deadlines",
                format!("more timeout kills than fired deadlines: {counters:?}"),
            );
        }
        Ok(())
    }

    /// Every query's own rules, in key order; returns how many have a deadline that can fire.
    fn check_queries(&self) -> Result<usize, Violation> {
        let mut queries: Vec<(&QueryKey, &QueryEntry)> = self.queries.iter().collect();
        queries.sort_unstable_by_key(|&(&key, _)| key);
        // Searched once per query.
        let indexed = self.deadlines.sorted_entries();
        let mut deadline_count = 0_usize;
        for (&key, entry) in queries {
            self.check_entry(key, entry, &indexed)?;
            if let EntryState::Running { deadline_unix_us: Some(_) } = entry.state {
                deadline_count += 1;
            }
        }
        Ok(deadline_count)
    }

    /// Each session's plans are distinct queries of the map, within the per-session limit; returns
    /// how many plans the sessions list in all.
    fn check_sessions(&self) -> Result<usize, Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        let mut sessions: Vec<(&SessionId, &SessionEntry)> = self.sessions.iter().collect();
        sessions.sort_unstable_by_key(|&(&session, _)| session);
        let mut listed = 0_usize;
        for (&session, entry) in sessions {
            let plans = entry.plans.sorted();
            listed += plans.len();
            let unique = plans.windows(2).all(|pair| pair[0] != pair[1]);
            let missing =
                plans.iter().find(|&&plan| !self.queries.contains_key(&QueryKey { session, plan }));
            if !unique || missing.is_some() {
                return fail(
                    "session_plans_match_queries",
                    format!(
                        "session {session} lists {plans:?}, unique {unique}, missing {missing:?}"
                    ),
                );
            }
            if entry.plans.len() > self.config.queries_per_session_max {
                return fail(
                    "queries_within_session_limit",
                    format!("session {session} exceeds the per-session limit"),
                );
            }
        }
        Ok(listed)
    }

    /// The index counts the deadlines that can fire, its top is one of them, and its stale
    /// entries stay within their bound.
    fn check_deadline_index(&self, deadline_count: usize) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        if deadline_count != self.deadlines.len() {
            return fail(
                "deadline_index_matches_queries",
                format!("{} deadlines indexed for {deadline_count}", self.deadlines.len()),
            );
        }
        if !self.deadlines.front_precedes_heap() {
            return fail(
                "deadline_index_ordered",
                format!("the front {:?} follows the heap's top", self.deadlines.first()),
            );
        }
        let tops = [self.deadlines.first(), self.deadlines.heap_top()];
        for (deadline_unix_us, key) in tops.into_iter().flatten() {
            if !deadline_live(&self.queries, deadline_unix_us, key) {
                return fail(
                    "deadline_index_top_live",
                    format!("the earliest deadline {deadline_unix_us} of {key:?} cannot fire"),
                );
            }
        }
        if self.deadlines.stored() > 2 * self.deadlines.len() + STALE_ENTRIES_SLACK {
            return fail(
                "deadline_index_stale_bounded",
                format!(
                    "{} entries for {} live deadlines",
                    self.deadlines.stored(),
                    self.deadlines.len()
                ),
            );
        }
        Ok(())
    }

    fn check_entry(
        &self,
        key: QueryKey,
        entry: &QueryEntry,
        indexed: &[(u64, QueryKey)],
    ) -> Result<(), Violation> {
        let fail = |property, what: String| {
            Err(Violation::new(MACHINE, property, format!("query {key:?}: {what}")))
        };
        if !self.sessions.contains_key(&key.session) {
            return fail("query_session_open", "its session is not open".to_owned());
        }
        let statement_bytes = u64::try_from(entry.statement.len()).unwrap_or(u64::MAX);
        if statement_bytes > u64::from(self.config.statement_bytes_max) {
            return fail("statement_within_limit", format!("statement of {statement_bytes} bytes"));
        }
        if entry.start_unix_us > self.clock.newest() {
            return fail(
                "query_starts_before_clock",
                format!("starts at {} after the clock", entry.start_unix_us),
            );
        }
        // The executor moves the word only Running -> Finished and KillRequested -> Killed, so
        // these hold even while executors run.
        let phase = entry.handle.phase();
        match &entry.state {
            EntryState::Running { deadline_unix_us } => {
                if !matches!(phase, QueryPhase::Running | QueryPhase::Finished) {
                    return fail(
                        "running_phase_matches_word",
                        format!("registry says running, word says {phase:?}"),
                    );
                }
                let filed =
                    deadline_unix_us.is_none_or(|d| indexed.binary_search(&(d, key)).is_ok());
                if !filed {
                    return fail(
                        "deadline_indexed",
                        format!("deadline {deadline_unix_us:?} is not indexed"),
                    );
                }
            }
            EntryState::KillRequested { kill } => {
                if phase.kill_cause() != Some(kill.cause()) {
                    return fail(
                        "kill_request_matches_word",
                        format!("registry says {kill:?}, word says {phase:?}"),
                    );
                }
            }
        }
        Ok(())
    }
}
