//! The execute path: a query starting and ending, USE, session variables, KILL QUERY and SHOW
//! QUERIES. Each request refreshes the session's caller from the host's role table when it
//! changed (fix 4); a session with a running query is never idle (fix 3). Both fixes are
//! explained in docs/fixes.md.

use std::collections::BTreeMap;

use graphsession_base::sync::{Arc, lock};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{
    Caller, PermissionError, RoleTable, SPACE_NAME_BYTES_MAX, check_kill_query, check_read_space,
};
use graphsession_query_plan::{
    KillOutcome, KillTarget, QueryError, QueryHandle, QueryOutcome, QueryRow, Registration,
};

use crate::server::audit::{Change, EndReason};
use crate::server::error::ServerError;
use crate::server::manager::SessionManager;
use crate::server::metrics::Counters;
use crate::server::session::SessionEntry;

/// A query that started: what the executor needs.
#[derive(Debug, Clone)]
#[must_use = "a started query must end with finish_query or fail_query"]
pub struct QueryStart {
    /// The session it runs in.
    pub session: SessionId,
    /// Its plan id (unique across nodes and restarts).
    pub plan: PlanId,
    /// The handle the executor checks for kills.
    pub handle: QueryHandle,
    /// The session's caller with current rights: run the statement's permission check on it.
    pub caller: Caller,
    /// When the query is killed for its timeout, Unix ms (its session's
    /// [`QUERY_TIMEOUT_VARIABLE`](crate::server::QUERY_TIMEOUT_VARIABLE), else the node's
    /// `query_timeout_ms`); `None` for no timeout. The executor may use it to bound its own
    /// waits; the kill reaches it through `handle` either way.
    pub deadline_unix_ms: Option<u64>,
}

impl SessionManager {
    /// A request of session `session_id` arrives with `statement` at `now_unix_ms`: finds and
    /// touches the session, refreshes its caller from `table` (fix 4), and registers the query.
    /// Until [`finish_query`](Self::finish_query) or [`fail_query`](Self::fail_query) the session
    /// is never idle (fix 3). Both fixes are explained in docs/fixes.md.
    ///
    /// Errors: [`ServerError::InvalidSessionId`], [`ServerError::SessionNotFound`] (also when the
    /// session's user was dropped: the session ends then), or the query registry's limits.
    pub fn begin_query(
        &self,
        now_unix_ms: u64,
        session_id: i64,
        statement: &str,
        table: &RoleTable,
    ) -> Result<QueryStart, ServerError> {
        let now = self.clock.observe(now_unix_ms);
        let (id, entry) = self.find_for_query(now, session_id)?;
        let started = self.register(now, id, &entry, statement, table);
        if started.is_err() {
            self.query_ended(now, id);
        }
        started
    }

    /// Finds a live session and counts a query on it, under the shard's read lock so that an
    /// expiry (write lock) either sees the query or ends the session before it is found.
    fn find_for_query(
        &self,
        now: u64,
        session_id: i64,
    ) -> Result<(SessionId, Arc<SessionEntry>), ServerError> {
        let id = crate::server::manager::parse_id(session_id)?;
        let sessions = self.shard(id).read();
        let found = sessions.get(id).ok_or(ServerError::SessionNotFound { session: session_id })?;
        found.entry.query_started();
        found.activity.touch(now);
        Ok((id, Arc::clone(found.entry)))
    }

    fn register(
        &self,
        now: u64,
        id: SessionId,
        entry: &SessionEntry,
        statement: &str,
        table: &RoleTable,
    ) -> Result<QueryStart, ServerError> {
        let caller = self.current_caller(now, id, entry, table)?;
        let plan = self.plan_ids.next()?;
        let deadline_unix_ms = self.query_deadline_ms(now, entry);
        let deadline_unix_us = deadline_unix_ms.map(|at| at.saturating_mul(1_000));
        let registration = Registration { session: id, plan, statement, deadline_unix_us };
        let handle = {
            let mut queries = lock(&self.shard(id).queries);
            // Checked under the registry's lock: an end marks the session before it closes the
            // session's queries under this lock, so a query is never left on an ended session.
            if !entry.is_live() {
                return Err(ServerError::SessionNotFound { session: id.get() });
            }
            // Open while it has queries: an idle session costs the query registry nothing.
            if queries.session_user(id).is_none() {
                queries.open_session(id, entry.user(), &self.config.graph_addr)?;
            }
            let registered = queries.register(now.saturating_mul(1_000), registration);
            if registered.is_err() {
                queries.close_session_if_idle(id);
            }
            let handle = registered?;
            if let Some(at) = deadline_unix_ms {
                self.query_deadline_set(at);
            }
            handle
        };
        entry.queries_run.fetch_add(1, graphsession_base::sync::Ordering::Relaxed);
        Counters::bump(&self.counters.queries_started);
        Ok(QueryStart { session: id, plan, handle, caller, deadline_unix_ms })
    }

    /// The session's caller, refreshed from `table`; a session whose user was dropped ends here.
    fn current_caller(
        &self,
        now: u64,
        id: SessionId,
        entry: &SessionEntry,
        table: &RoleTable,
    ) -> Result<Caller, ServerError> {
        let caller = entry.current_caller(table, &self.callers);
        if !caller.user_exists() {
            let _ = self.end_session(now, id, EndReason::UserDropped);
            return Err(ServerError::SessionNotFound { session: id.get() });
        }
        Ok(caller)
    }

    /// The executor returned: removes the query, touches the session, and returns the one
    /// recorded outcome (killed if a kill won the race).
    pub fn finish_query(
        &self,
        now_unix_ms: u64,
        session: SessionId,
        plan: PlanId,
    ) -> Result<QueryOutcome, ServerError> {
        self.end_query(now_unix_ms, session, plan, None)
    }

    /// The executor failed with `reason`: as [`finish_query`](Self::finish_query).
    pub fn fail_query(
        &self,
        now_unix_ms: u64,
        session: SessionId,
        plan: PlanId,
        reason: &str,
    ) -> Result<QueryOutcome, ServerError> {
        self.end_query(now_unix_ms, session, plan, Some(reason))
    }

    fn end_query(
        &self,
        now_unix_ms: u64,
        session: SessionId,
        plan: PlanId,
        failure: Option<&str>,
    ) -> Result<QueryOutcome, ServerError> {
        let now = self.clock.observe(now_unix_ms);
        let shard = self.shard(session);
        let ended = {
            let mut queries = lock(&shard.queries);
            let ended = match failure {
                None => queries.finish(session, plan),
                Some(reason) => queries.fail(session, plan, reason),
            };
            queries.close_session_if_idle(session);
            ended
        };
        let outcome = match ended {
            // A live session with no query is not open in the query registry (it costs nothing
            // there): for the caller that is the query missing, -2073, not the session, -2069.
            Err(QueryError::SessionNotFound { .. }) if shard.read().contains(session) => {
                return Err(QueryError::QueryNotFoundInSession { session, plan }.into());
            }
            ended => ended?,
        };
        let sessions = shard.read();
        if let Some(found) = sessions.get(session) {
            if matches!(outcome, QueryOutcome::Killed(_)) {
                lock(&found.entry.inner).extras_mut().queries_killed += 1;
            }
            found.activity.touch(now);
            found.entry.query_ended();
        }
        Ok(outcome)
    }

    /// A query of `session` left the registry (or was refused): touch, then lower the count. A
    /// session that ended meanwhile has nothing to lower.
    fn query_ended(&self, now: u64, session: SessionId) {
        let sessions = self.shard(session).read();
        if let Some(found) = sessions.get(session) {
            found.activity.touch(now);
            found.entry.query_ended();
        }
    }

    /// KILL QUERY by `caller`, whose session is `current_session`, with deliberate fix 6 (see
    /// docs/fixes.md and `graphsession-query-plan`): session exists (-2069), caller may act on its
    /// user (-1008), plan runs in it (-2073). The executor stops at its next check.
    pub fn kill_query(
        &self,
        caller: &Caller,
        current_session: SessionId,
        target: KillTarget,
    ) -> Result<KillOutcome, ServerError> {
        let (session, not_found) = match target {
            KillTarget::CurrentSession { plan } => {
                (current_session, QueryError::QueryNotFoundInCurrentSession { plan })
            }
            KillTarget::Session { session, plan } => {
                (session, QueryError::QueryNotFoundInSession { session, plan })
            }
        };
        let shard = self.shard(session);
        let owner = shard.read().get(session).map(|found| Arc::clone(found.entry));
        let Some(owner) = owner else {
            return Err(QueryError::SessionNotFound { session }.into());
        };
        check_kill_query(caller, self.config.policy, owner.user()).map_err(QueryError::from)?;
        let mut queries = lock(&shard.queries);
        // Not open in the registry: no query of the session runs now.
        if queries.session_user(session).is_none() {
            return Err(not_found.into());
        }
        Ok(queries.kill_query(caller, self.config.policy, current_session, target)?)
    }

    /// SHOW QUERIES on this node: every running query `caller` may see (fix 7, see
    /// docs/fixes.md), by session and plan.
    #[must_use]
    pub fn show_queries(&self, now_unix_ms: u64, caller: &Caller) -> Vec<QueryRow> {
        let now_unix_us = self.clock.newest_ms().max(now_unix_ms).saturating_mul(1_000);
        let mut rows: Vec<QueryRow> = (self.shards.iter())
            .flat_map(|shard| {
                lock(&shard.queries).show_queries(now_unix_us, caller, self.config.policy)
            })
            .collect();
        rows.sort_by_key(|row| (row.session_id, row.execution_plan_id));
        rows
    }

    /// Every query running on this node, whoever owns it, by session and plan: what the node
    /// reports to its cluster for SHOW QUERIES elsewhere (the showing node applies fix 7).
    #[must_use]
    pub fn running_queries(&self, now_unix_ms: u64) -> Vec<QueryRow> {
        let now_unix_us = self.clock.newest_ms().max(now_unix_ms).saturating_mul(1_000);
        let mut rows: Vec<QueryRow> = (self.shards.iter())
            .flat_map(|shard| lock(&shard.queries).running_queries(now_unix_us))
            .collect();
        rows.sort_by_key(|row| (row.session_id, row.execution_plan_id));
        rows
    }

    /// USE `space` in session `session_id`: the caller (refreshed, fix 4 of docs/fixes.md) needs a
    /// role in it or GOD. Whether the space exists is the host's catalog's business. Records when
    /// the space was set (`now`, or just after the newest space time seen if that is later), which
    /// orders USEs across nodes ([`adopt_space`](Self::adopt_space)).
    pub fn use_space(
        &self,
        now_unix_ms: u64,
        session_id: i64,
        space: &str,
        table: &RoleTable,
    ) -> Result<(), ServerError> {
        let now = self.clock.observe(now_unix_ms);
        check_space_name(space)?;
        let (id, entry) = self.find(now, session_id)?;
        let caller = self.current_caller(now, id, &entry, table)?;
        check_read_space(&caller, self.config.policy, space)?;
        let from = caller.current_space().map(str::to_owned);
        let caller = self.callers.get(table, entry.user(), Some(space));
        {
            let mut inner = lock(&entry.inner);
            inner.caller = Some(caller);
            // Newer than any space this session has seen, even one adopted from a node whose
            // clock is ahead: the USE here is the last writer (issue 5585, docs/fixes.md).
            inner.space_set_unix_ms = now.max(inner.space_set_unix_ms.saturating_add(1));
        }
        self.changed(now, &entry, Change::SpaceChanged { from, to: space.to_owned() });
        Ok(())
    }

    /// Sets session variable `name` to `value` (bounded count and size). The variable
    /// [`QUERY_TIMEOUT_VARIABLE`](crate::server::QUERY_TIMEOUT_VARIABLE) is this session's query
    /// timeout for the queries it starts from now on: its value must be decimal milliseconds up
    /// to [`QUERY_TIMEOUT_MS_MAX`](crate::server::QUERY_TIMEOUT_MS_MAX), `0` for none (-1009
    /// otherwise). Variables stay with the node that holds the session (and its snapshots): a
    /// session picked up by another node runs there with that node's timeout.
    pub fn set_variable(
        &self,
        now_unix_ms: u64,
        session_id: i64,
        name: &str,
        value: &str,
    ) -> Result<(), ServerError> {
        let now = self.clock.observe(now_unix_ms);
        let bytes_max = self.config.variable_bytes_max;
        let bytes = name.len().saturating_add(value.len());
        if bytes > bytes_max as usize {
            let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
            return Err(ServerError::VariableTooLong { bytes, bytes_max });
        }
        if name == crate::server::QUERY_TIMEOUT_VARIABLE {
            crate::server::timeouts::parse_query_timeout(value)?;
        }
        let (_, entry) = self.find(now, session_id)?;
        {
            let mut inner = lock(&entry.inner);
            let variables_max = self.config.variables_per_session_max;
            let variables = &inner.extras().variables;
            let full = variables.len() >= variables_max as usize;
            if full && !variables.contains_key(name) {
                return Err(ServerError::VariablesFull { variables_max });
            }
            inner.extras_mut().variables.insert(name.into(), value.into());
        }
        self.changed(now, &entry, Change::VariableSet { name: name.to_owned() });
        Ok(())
    }

    /// Session `session_id`'s variables, by name. Marks activity.
    pub fn variables(
        &self,
        now_unix_ms: u64,
        session_id: i64,
    ) -> Result<BTreeMap<String, String>, ServerError> {
        let now = self.clock.observe(now_unix_ms);
        let (_, entry) = self.find(now, session_id)?;
        let inner = lock(&entry.inner);
        Ok(inner
            .extras()
            .variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

/// The permission crate's bounds on a space name (-1009).
pub(crate) fn check_space_name(space: &str) -> Result<(), PermissionError> {
    if space.is_empty() {
        return Err(PermissionError::SpaceNameEmpty);
    }
    if space.len() > SPACE_NAME_BYTES_MAX as usize {
        let bytes = u64::try_from(space.len()).unwrap_or(u64::MAX);
        return Err(PermissionError::SpaceNameTooLong { bytes });
    }
    Ok(())
}
