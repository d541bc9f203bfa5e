//! Counters a host exports as metrics. Monotonic, serde-serializable, updated only by the registry.
//!
//! An outcome is counted when the registry removes the query (finish, fail, or the close of its
//! session), so `started == finished + failed + killed() + running` holds after every operation;
//! `timed_out` counts deadlines that fired and won, at the moment they fire.

use crate::lifecycle::{Kill, QueryOutcome};

/// What happened to the queries of one registry since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueryCounters {
    /// Queries registered.
    pub started: u64,
    /// Queries that ended finished.
    pub finished: u64,
    /// Queries that ended failed.
    pub failed: u64,
    /// Queries that ended killed by KILL QUERY.
    pub killed_by_user: u64,
    /// Queries that ended killed because their session was killed.
    pub killed_by_session_kill: u64,
    /// Queries that ended killed because their session expired.
    pub killed_by_session_expiry: u64,
    /// Queries that ended killed by their deadline.
    pub killed_by_timeout: u64,
    /// Deadlines that fired and killed a running query (counted when they fire).
    pub timed_out: u64,
}

impl QueryCounters {
    /// Queries that ended killed, for any cause.
    #[must_use]
    pub fn killed(&self) -> u64 {
        self.killed_by_user
            + self.killed_by_session_kill
            + self.killed_by_session_expiry
            + self.killed_by_timeout
    }

    /// Queries that ended, in any way.
    #[must_use]
    pub fn ended(&self) -> u64 {
        self.finished + self.failed + self.killed()
    }

    pub(crate) fn count_end(&mut self, outcome: &QueryOutcome) {
        let counter = match outcome {
            QueryOutcome::Finished => &mut self.finished,
            QueryOutcome::Failed { .. } => &mut self.failed,
            QueryOutcome::Killed(Kill::ByUser { .. }) => &mut self.killed_by_user,
            QueryOutcome::Killed(Kill::SessionKilled) => &mut self.killed_by_session_kill,
            QueryOutcome::Killed(Kill::SessionExpired) => &mut self.killed_by_session_expiry,
            QueryOutcome::Killed(Kill::Timeout { .. }) => &mut self.killed_by_timeout,
        };
        *counter = counter.saturating_add(1);
    }
}
