//! SHOW QUERIES and SHOW LOCAL QUERIES: rows with NebulaGraph's columns.
//!
//! NebulaGraph shows every user's query text to every user. Deliberate fix 7 (see docs/fixes.md,
//! "Fix 7"): a caller that is not GOD sees only the queries of its own user. The decision is the
//! permission crate's ([`may_see_queries_of`](graphsession_permission::may_see_queries_of)); this
//! file only applies it. A query whose executor already finished, but which the host has not
//! removed yet, is not shown: in NebulaGraph it would already be gone.

use crate::error::QueryError;
use crate::lifecycle::QueryPhase;
use crate::registry::{QueryEntry, QueryKey, QueryRegistry, SessionEntry};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{Caller, Policy, may_see_queries_of};

/// The Status column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum QueryStatus {
    /// `RUNNING`.
    #[serde(rename = "RUNNING")]
    Running,
    /// `KILLING`: a kill won; the executor has not ended yet.
    #[serde(rename = "KILLING")]
    Killing,
}

impl QueryStatus {
    /// NebulaGraph's text.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Running => "RUNNING",
            QueryStatus::Killing => "KILLING",
        }
    }
}

impl std::fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of SHOW QUERIES / SHOW LOCAL QUERIES, in column order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueryRow {
    /// SessionID.
    pub session_id: SessionId,
    /// ExecutionPlanID.
    pub execution_plan_id: PlanId,
    /// User: the session's user.
    pub user: String,
    /// Host: the session's host, as given to `open_session`.
    pub host: String,
    /// StartTime, microseconds since the Unix epoch.
    pub start_time_unix_us: u64,
    /// DurationInUSec: from the start to the `now` of the listing.
    pub duration_us: u64,
    /// Status.
    pub status: QueryStatus,
    /// Query: the statement text.
    pub query: String,
}

impl QueryRow {
    /// NebulaGraph's column names, in order.
    pub const COLUMNS: [&'static str; 8] = [
        "SessionID",
        "ExecutionPlanID",
        "User",
        "Host",
        "StartTime",
        "DurationInUSec",
        "Status",
        "Query",
    ];
}

impl QueryRegistry {
    /// SHOW QUERIES, this node's part: every running query the caller may see (fix 7, see
    /// docs/fixes.md), in (session, plan) order. A cluster-wide listing merges the rows of every node.
    #[must_use]
    pub fn show_queries(&self, now_unix_us: u64, caller: &Caller, policy: Policy) -> Vec<QueryRow> {
        self.rows(now_unix_us, |user| may_see_queries_of(caller, policy, user))
    }

    /// Every running query, whoever owns it, in (session, plan) order: what a node reports to
    /// its cluster's meta store for SHOW QUERIES on other nodes (each of which applies fix 7
    /// for its own caller).
    #[must_use]
    pub fn running_queries(&self, now_unix_us: u64) -> Vec<QueryRow> {
        self.rows(now_unix_us, |_| true)
    }

    /// The rows of the sessions whose user `shown` accepts, in (session, plan) order.
    fn rows(&self, now_unix_us: u64, shown: impl Fn(&str) -> bool) -> Vec<QueryRow> {
        let now_unix_us = self.clock.peek(now_unix_us);
        let mut sessions: Vec<(&SessionId, &SessionEntry)> = self.sessions.iter().collect();
        sessions.sort_unstable_by_key(|&(&session, _)| session);
        let mut rows = Vec::new();
        for (&session, session_entry) in sessions {
            if !shown(&session_entry.user) {
                continue;
            }
            rows.extend(self.rows_of(session, session_entry, now_unix_us));
        }
        rows
    }

    /// SHOW LOCAL QUERIES: the running queries of the caller's own session, in plan order.
    pub fn show_local_queries(
        &self,
        now_unix_us: u64,
        current_session: SessionId,
    ) -> Result<Vec<QueryRow>, QueryError> {
        let Some(session_entry) = self.sessions.get(&current_session) else {
            return Err(QueryError::SessionNotFound { session: current_session });
        };
        let now_unix_us = self.clock.peek(now_unix_us);
        Ok(self.rows_of(current_session, session_entry, now_unix_us).collect())
    }

    /// The rows of `session`'s queries, in plan order.
    fn rows_of<'a>(
        &'a self,
        session: SessionId,
        session_entry: &'a SessionEntry,
        now_unix_us: u64,
    ) -> impl Iterator<Item = QueryRow> + 'a {
        session_entry.plans.sorted().into_iter().filter_map(move |plan| {
            let key = QueryKey { session, plan };
            let entry = self.queries.get(&key)?;
            row(key, session_entry, entry, now_unix_us)
        })
    }
}

fn row(
    key: QueryKey,
    session: &SessionEntry,
    entry: &QueryEntry,
    now_unix_us: u64,
) -> Option<QueryRow> {
    let status = match entry.handle.phase() {
        QueryPhase::Running => QueryStatus::Running,
        QueryPhase::KillRequested(_) | QueryPhase::Killed(_) => QueryStatus::Killing,
        QueryPhase::Finished | QueryPhase::Failed => return None,
    };
    Some(QueryRow {
        session_id: key.session,
        execution_plan_id: key.plan,
        user: session.user.to_string(),
        host: session.host.to_string(),
        start_time_unix_us: entry.start_unix_us,
        duration_us: now_unix_us.saturating_sub(entry.start_unix_us),
        status,
        query: entry.statement.to_string(),
    })
}
