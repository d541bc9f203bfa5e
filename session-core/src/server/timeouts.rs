//! Query timeouts: each query gets a deadline when it starts, from the session's own
//! [`QUERY_TIMEOUT_VARIABLE`] or else the node's [`Config::query_timeout_ms`](crate::server::Config)
//! (`0`: none); the shard's query registry files it in its deadline index, and
//! [`SessionManager::handle_query_timeouts`] kills the queries whose deadline has come with
//! cause [`KillCause::Timeout`](graphsession_query_plan::KillCause). The executor sees the kill
//! at its next check of its handle, and the query's reply is NebulaGraph's answer to a killed
//! query, -1005, with [`QUERY_TIMED_OUT`] as its text.
//!
//! NebulaGraph 3.x has no query timeout (no flag, no session setting: docs/fixes.md, "Query
//! timeouts", cites the sources); this is ours, reported the way NebulaGraph reports a query
//! the server stopped.
//!
//! # Cost
//!
//! The earliest deadline of all shards is cached in one atomic (as the idle checks' is, see
//! `expiry.rs`): a start lowers it, a round recomputes it shard by shard, so `poll_query_timeout`
//! is one load and a round costs O(shards + expired · log n). A finished query leaves the
//! cache early, never late: the next round is then a spurious one that only recomputes it.

use graphsession_base::Violation;
use graphsession_base::sync::{Ordering, lock};

use crate::server::config::{QUERY_TIMEOUT_MS_MAX, QUERY_TIMEOUT_VARIABLE};
use crate::server::error::ServerError;
use crate::server::manager::SessionManager;
use crate::server::session::SessionEntry;

/// The text of the -1005 reply to a query killed at its deadline: NebulaGraph's text for a
/// killed query (`Executor::open`, src/graph/executor/Executor.cpp: "Execution had been
/// killed"), with the cause after a colon, as NebulaGraph's own execution errors carry theirs.
pub const QUERY_TIMED_OUT: &str = "Execution had been killed: query timed out";

impl SessionManager {
    /// When the earliest running query's deadline comes, Unix milliseconds; `None` with no
    /// deadline. One atomic load; may be early after queries ended, never late.
    #[must_use]
    pub fn poll_query_timeout(&self) -> Option<u64> {
        let at = self.earliest_query_deadline_ms.load(Ordering::Acquire);
        (at != u64::MAX).then_some(at)
    }

    /// Kills (cause timeout) every query whose deadline is at or before `now_unix_ms`; returns
    /// how many. Their executors see the kill at their next check; their replies are
    /// [`QUERY_TIMED_OUT`]. A spurious call costs one atomic load; a `now` older than one seen
    /// is clamped.
    pub fn handle_query_timeouts(&self, now_unix_ms: u64) -> u32 {
        let now = self.clock.observe(now_unix_ms);
        if now < self.earliest_query_deadline_ms.load(Ordering::Acquire) {
            return 0;
        }
        // One round at a time, shared with the idle checks' rounds.
        let _round = lock(&self.expiry_round);
        self.earliest_query_deadline_ms.store(u64::MAX, Ordering::Release);
        let now_unix_us = now.saturating_mul(1_000);
        let mut timed_out = 0_u32;
        for shard in &self.shards {
            let mut queries = lock(&shard.queries);
            timed_out = timed_out.saturating_add(queries.handle_timeout(now_unix_us));
            if let Some(at_us) = queries.poll_timeout() {
                self.earliest_query_deadline_ms.fetch_min(at_us.div_ceil(1_000), Ordering::AcqRel);
            }
        }
        timed_out
    }

    /// The deadline of a query of `entry` starting at `now`, Unix ms: its session's override,
    /// else the node's timeout; `None` for no timeout.
    pub(crate) fn query_deadline_ms(&self, now: u64, entry: &SessionEntry) -> Option<u64> {
        let timeout_ms = session_query_timeout_ms(entry).unwrap_or(self.config.query_timeout_ms);
        (timeout_ms > 0).then(|| now.saturating_add(timeout_ms))
    }

    /// A query with a deadline was registered: the cached earliest deadline may move earlier.
    pub(crate) fn query_deadline_set(&self, deadline_ms: u64) {
        self.earliest_query_deadline_ms.fetch_min(deadline_ms, Ordering::AcqRel);
    }

    /// The cached earliest deadline is no later than any query's: `poll_query_timeout` never
    /// sleeps through one.
    pub(crate) fn check_query_deadlines(&self) -> Result<(), Violation> {
        let cached = self.earliest_query_deadline_ms.load(Ordering::Acquire);
        let earliest = (self.shards.iter())
            .filter_map(|shard| lock(&shard.queries).poll_timeout())
            .map(|at_us| at_us.div_ceil(1_000))
            .min()
            .unwrap_or(u64::MAX);
        if cached > earliest {
            return Err(Violation::new(
                "SessionManager",
                "cached_earliest_query_deadline_not_late",
                format!("cached earliest query deadline {cached} after the true one {earliest}"),
            ));
        }
        Ok(())
    }
}

/// The session's own timeout, if it set one. A value [`parse_query_timeout`] refuses never
/// gets in through [`SessionManager::set_variable`]; one restored from a snapshot of another
/// build is ignored (the node's timeout applies).
fn session_query_timeout_ms(entry: &SessionEntry) -> Option<u64> {
    let inner = lock(&entry.inner);
    let value = inner.extras().variables.get(QUERY_TIMEOUT_VARIABLE)?;
    parse_query_timeout(value).ok()
}

/// A value of [`QUERY_TIMEOUT_VARIABLE`]: decimal milliseconds, `0 ..= QUERY_TIMEOUT_MS_MAX`.
pub(crate) fn parse_query_timeout(value: &str) -> Result<u64, ServerError> {
    let refused = || ServerError::InvalidQueryTimeout { value: value.to_owned() };
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(refused());
    }
    match value.parse::<u64>() {
        Ok(timeout_ms) if timeout_ms <= QUERY_TIMEOUT_MS_MAX => Ok(timeout_ms),
        Ok(_) | Err(_) => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decimal_milliseconds_up_to_a_week_are_a_query_timeout() {
        assert_eq!(parse_query_timeout("0"), Ok(0));
        assert_eq!(parse_query_timeout("1500"), Ok(1_500));
        assert_eq!(parse_query_timeout("604800000"), Ok(QUERY_TIMEOUT_MS_MAX));
        for refused in ["", "604800001", "-1", "+5", " 5", "5ms", "1e3", "99999999999999999999"] {
            let error = parse_query_timeout(refused).expect_err(refused);
            assert_eq!(error, ServerError::InvalidQueryTimeout { value: refused.to_owned() });
            assert_eq!(error.code(), -1009, "{refused}");
        }
    }
}
