//! One node's query registry: its sessions, their running queries keyed by (session id, plan id),
//! kills, and deadlines.
//!
//! NebulaGraph keeps queries inside its session objects and names them by a plan id that restarts
//! at 0, so a stale kill can hit a new query. Here plan ids come from id-gen (unique across nodes
//! and restarts), the outcome of every query lives in its [`QueryHandle`]'s atomic word, and the
//! registry removes each query exactly once, recording the outcome the word holds.

use crate::config::{Config, HOST_BYTES_MAX, USER_NAME_BYTES_MAX};
use crate::error::QueryError;
use crate::lifecycle::{Kill, KillCause, QueryEvent, QueryOutcome, QueryPhase, TransitionError};
use crate::metrics::QueryCounters;
use crate::recycle::Recycled;
use crate::signal::QueryHandle;
use crate::tables::{FixedMap, PlanList};
use crate::timeouts::DeadlineIndex;
use graphsession_base::MonotonicClock;
use graphsession_id_gen::{PlanId, SessionId};
use std::collections::hash_map::Entry;

/// The machine this file's invariant violations name.
pub(crate) const MACHINE: &str = "QueryRegistry";

/// The name of one query: NebulaGraph's (session id, plan id) pair.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct QueryKey {
    /// The session that runs the query.
    pub session: SessionId,
    /// The query's plan id.
    pub plan: PlanId,
}

/// A query to register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration<'a> {
    /// The session that runs it (must be open).
    pub session: SessionId,
    /// Its plan id, from [`PlanIdGenerator`](graphsession_id_gen::PlanIdGenerator).
    pub plan: PlanId,
    /// The statement text, shown by SHOW QUERIES; at most `statement_bytes_max` bytes.
    pub statement: &'a str,
    /// When the query is killed with [`KillCause::Timeout`], microseconds since the Unix epoch;
    /// `None` for no deadline (NebulaGraph's behaviour).
    pub deadline_unix_us: Option<u64>,
}

/// How a session ends; its running queries are killed with the matching cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionEnd {
    /// KILL SESSION, sign-out, or the cluster says it is gone: cause [`KillCause::SessionKilled`].
    Killed,
    /// Reclaimed after its idle timeout: cause [`KillCause::SessionExpired`].
    Expired,
}

/// What [`QueryRegistry::close_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionClosed {
    /// Queries removed with the session.
    pub queries_ended: u32,
    /// Of those, queries the close killed (a kill requested earlier keeps its own cause and is not
    /// counted).
    pub queries_killed: u32,
}

/// What a kill request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillOutcome {
    /// The kill won: the query's outcome is now killed, and its executor stops at its next
    /// checkpoint.
    Requested,
    /// An earlier kill already won; its cause stays.
    AlreadyRequested {
        /// The cause of the earlier kill.
        cause: KillCause,
    },
}

#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) user: Box<str>,
    pub(crate) host: Box<str>,
    /// The session's queries in the registry; its length is the session's query count.
    pub(crate) plans: PlanList,
}

/// A query as the registry sees it. The executor may have moved the word on (a `Running` entry
/// whose executor finished through its handle), which the registry learns when it next touches the
/// entry.
#[derive(Debug)]
pub(crate) enum EntryState {
    /// No kill yet; waits for finish, fail, a kill, or its deadline (which is in the index while
    /// `Some`).
    Running { deadline_unix_us: Option<u64> },
    /// A kill won; waits for the host to remove the query.
    KillRequested { kill: Kill },
}

#[derive(Debug)]
pub(crate) struct QueryEntry {
    pub(crate) handle: QueryHandle,
    pub(crate) statement: String,
    pub(crate) start_unix_us: u64,
    pub(crate) state: EntryState,
}

/// How a query leaves the registry.
enum Ending<'a> {
    Finish,
    Fail { reason: &'a str },
    Kill(Kill),
}

/// One node's running queries.
///
/// # Call order
///
/// 1. [`open_session`](Self::open_session) when a session becomes usable on this node.
/// 2. Per statement: [`register`](Self::register) returns the [`QueryHandle`] the executor checks;
///    when the executor returns, [`finish`](Self::finish) or [`fail`](Self::fail) removes the query
///    and returns the one recorded outcome. Every registered query is removed exactly once, by
///    those or by `close_session`.
/// 3. Kills at any time: [`kill_query`](Self::kill_query) (the KILL QUERY statement),
///    [`request_kill`](Self::request_kill), [`request_kill_session`](Self::request_kill_session).
/// 4. Timers: call [`handle_timeout`](Self::handle_timeout) when
///    [`poll_timeout`](Self::poll_timeout)'s time has come (a spurious call is a no-op); read
///    `poll_timeout` again after every `register`, whose deadline may be the new earliest.
/// 5. [`close_session`](Self::close_session) when the session ends: it kills and removes its
///    queries.
///
/// Sessions must be open to run or be named by a query, which is what makes KILL QUERY's "session
/// exists" check well-defined: a session exists here from `open_session` until `close_session`.
///
/// # Threads
///
/// `QueryRegistry` is `Send + Sync`; its operations take `&mut self`, so a multi-threaded host
/// wraps it in a `Mutex`. Executors never take that lock on their hot path: they hold a
/// [`QueryHandle`].
#[derive(Debug)]
pub struct QueryRegistry {
    pub(crate) config: Config,
    pub(crate) sessions: FixedMap<SessionId, SessionEntry>,
    pub(crate) queries: FixedMap<QueryKey, QueryEntry>,
    pub(crate) query_count: u32,
    pub(crate) deadlines: DeadlineIndex<QueryKey>,
    /// The newest time told, microseconds since the Unix epoch. A `now` that goes backwards is
    /// clamped to it, so time never runs backwards here and nothing expires early.
    pub(crate) clock: MonotonicClock,
    pub(crate) counters: QueryCounters,
    /// Buffers and handles of removed queries, for the next ones.
    pub(crate) recycled: Recycled,
}

impl QueryRegistry {
    /// An empty registry with `config`'s limits.
    pub fn new(config: Config) -> QueryRegistry {
        QueryRegistry {
            config,
            sessions: FixedMap::default(),
            queries: FixedMap::default(),
            query_count: 0,
            deadlines: DeadlineIndex::default(),
            clock: MonotonicClock::default(),
            counters: QueryCounters::default(),
            recycled: Recycled::default(),
        }
    }

    /// Starts tracking `session`, owned by `user`; `host` is what SHOW QUERIES prints in its Host
    /// column (NebulaGraph prints the address of the graph node that runs the query).
    pub fn open_session(
        &mut self,
        session: SessionId,
        user: &str,
        host: &str,
    ) -> Result<(), QueryError> {
        check_field_bytes("user name", user, USER_NAME_BYTES_MAX)?;
        check_field_bytes("host", host, HOST_BYTES_MAX)?;
        if self.sessions.contains_key(&session) {
            return Err(QueryError::SessionAlreadyOpen { session });
        }
        if self.session_count() >= self.config.sessions_max {
            return Err(QueryError::SessionsFull { sessions_max: self.config.sessions_max });
        }
        let entry =
            SessionEntry { user: user.into(), host: host.into(), plans: PlanList::default() };
        self.sessions.insert(session, entry);
        Ok(())
    }

    /// Ends `session`: requests a kill of each of its running queries (cause from `end`), removes
    /// them with their recorded outcomes, and forgets the session. Executors still running learn of
    /// the kill from their handles; a later `finish` or `fail` for them returns
    /// [`QueryError::SessionNotFound`].
    pub fn close_session(
        &mut self,
        session: SessionId,
        end: SessionEnd,
    ) -> Result<SessionClosed, QueryError> {
        let Some(session_entry) = self.sessions.get(&session) else {
            return Err(QueryError::SessionNotFound { session });
        };
        let kill = match end {
            SessionEnd::Killed => Kill::SessionKilled,
            SessionEnd::Expired => Kill::SessionExpired,
        };
        // Bounded by `queries_per_session_max`; in plan order, as before the plan lists.
        let plans = session_entry.plans.sorted();
        let mut closed = SessionClosed::default();
        for plan in plans {
            let key = QueryKey { session, plan };
            let running = self
                .queries
                .get(&key)
                .is_some_and(|entry| matches!(entry.state, EntryState::Running { .. }));
            // From `Running` the close's kill either wins (killed) or loses to the executor
            // (finished).
            let outcome = self.remove(key, Ending::Kill(kill.clone()));
            if running && matches!(outcome, Some(QueryOutcome::Killed(_))) {
                closed.queries_killed += 1;
            }
            closed.queries_ended += 1;
        }
        self.sessions.remove(&session);
        Ok(closed)
    }

    /// Forgets `session` if it has no query left: an open session without queries holds only its
    /// user and host, so a host that opens sessions at their first query can close them again when
    /// they go idle and pay nothing for idle sessions. Returns whether it was forgotten; an unknown
    /// session, or one with a query (running, or killed and not yet removed), is left as it is.
    pub fn close_session_if_idle(&mut self, session: SessionId) -> bool {
        if self.sessions.get(&session).is_none_or(|entry| entry.plans.len() > 0) {
            return false;
        }
        self.sessions.remove(&session);
        true
    }

    /// Registers a running query and returns the handle its executor checks. `now_unix_us` is its
    /// start.
    ///
    /// Refused, with nothing changed, when the session is not open, the (session, plan) pair
    /// already runs, or a limit of [`Config`] is reached.
    pub fn register(
        &mut self,
        now_unix_us: u64,
        registration: Registration<'_>,
    ) -> Result<QueryHandle, QueryError> {
        let Registration { session, plan, statement, deadline_unix_us } = registration;
        let key = QueryKey { session, plan };
        // One lookup per map: the session's entry and the query's vacant slot are held while
        // the limits are checked, and nothing changes until every check has passed.
        let Some(session_entry) = self.sessions.get_mut(&session) else {
            return Err(QueryError::SessionNotFound { session });
        };
        let Entry::Vacant(vacant) = self.queries.entry(key) else {
            return Err(QueryError::QueryAlreadyRegistered { session, plan });
        };
        let statement_bytes = u64::try_from(statement.len()).unwrap_or(u64::MAX);
        let statement_bytes_max = self.config.statement_bytes_max;
        if statement_bytes > u64::from(statement_bytes_max) {
            return Err(QueryError::StatementTooLong { statement_bytes, statement_bytes_max });
        }
        let queries_per_session_max = self.config.queries_per_session_max;
        if session_entry.plans.len() >= queries_per_session_max {
            return Err(QueryError::SessionQueriesFull { session, queries_per_session_max });
        }
        let queries_per_node_max = self.config.queries_per_node_max;
        if self.query_count >= queries_per_node_max {
            return Err(QueryError::NodeQueriesFull { queries_per_node_max });
        }

        let start_unix_us = self.clock.observe(now_unix_us);
        let handle = self.recycled.handle();
        let entry = QueryEntry {
            handle: handle.clone(),
            statement: self.recycled.statement(statement),
            start_unix_us,
            state: EntryState::Running { deadline_unix_us },
        };
        vacant.insert(entry);
        if let Some(deadline_unix_us) = deadline_unix_us {
            self.deadlines.insert(deadline_unix_us, key);
        }
        session_entry.plans.push(plan);
        self.query_count += 1;
        self.counters.started = self.counters.started.saturating_add(1);
        Ok(handle)
    }

    /// The executor returned a result: removes the query and returns its one recorded outcome,
    /// which is `Killed` if a kill won the race (see [`QueryHandle`]).
    pub fn finish(&mut self, session: SessionId, plan: PlanId) -> Result<QueryOutcome, QueryError> {
        let (key, entry) = self.take_existing(session, plan)?;
        Ok(self.retire(key, entry, Ending::Finish))
    }

    /// The executor failed with `reason`: removes the query and returns its one recorded outcome,
    /// which is `Killed` if a kill came first, or `Finished` if the executor had finished through
    /// its handle.
    pub fn fail(
        &mut self,
        session: SessionId,
        plan: PlanId,
        reason: &str,
    ) -> Result<QueryOutcome, QueryError> {
        let (key, entry) = self.take_existing(session, plan)?;
        Ok(self.retire(key, entry, Ending::Fail { reason }))
    }

    /// Requests a kill of one query, without permission checks (the host's own kills; KILL QUERY is
    /// [`kill_query`](Self::kill_query)). A query whose executor already finished is gone as far as
    /// a kill is concerned: [`QueryError::QueryNotFoundInSession`], as if the host had removed it
    /// already.
    pub fn request_kill(
        &mut self,
        session: SessionId,
        plan: PlanId,
        kill: Kill,
    ) -> Result<KillOutcome, QueryError> {
        let key = self.existing_key(session, plan)?;
        let not_found = QueryError::QueryNotFoundInSession { session, plan };
        let entry = self.queries.get_mut(&key).ok_or(not_found.clone())?;
        let (attempt, dropped) = kill_entry(entry, kill);
        self.drop_deadline(dropped, key);
        match attempt {
            KillAttempt::Requested => Ok(KillOutcome::Requested),
            KillAttempt::AlreadyRequested(cause) => Ok(KillOutcome::AlreadyRequested { cause }),
            KillAttempt::AlreadyEnded => Err(not_found),
        }
    }

    /// Requests a kill of every running query of `session`; returns how many kills won. The session
    /// stays open.
    pub fn request_kill_session(
        &mut self,
        session: SessionId,
        kill: &Kill,
    ) -> Result<u32, QueryError> {
        let Some(session_entry) = self.sessions.get(&session) else {
            return Err(QueryError::SessionNotFound { session });
        };
        let mut killed = 0_u32;
        // In plan order, as before the plan lists.
        for plan in session_entry.plans.sorted() {
            let key = QueryKey { session, plan };
            let Some(entry) = self.queries.get_mut(&key) else { continue };
            let (attempt, dropped) = kill_entry(entry, kill.clone());
            self.drop_deadline(dropped, key);
            if attempt == KillAttempt::Requested {
                killed += 1;
            }
        }
        Ok(killed)
    }

    /// Kills (cause [`KillCause::Timeout`]) every running query whose deadline is at or before
    /// `now_unix_us`; returns how many. Costs O(expired · log n). A `now_unix_us` older than one
    /// already seen is clamped to it.
    pub fn handle_timeout(&mut self, now_unix_us: u64) -> u32 {
        let now_unix_us = self.clock.observe(now_unix_us);
        let mut timed_out = 0_u32;
        let queries = &mut self.queries;
        while let Some((deadline_unix_us, key)) =
            self.deadlines.pop_expired(now_unix_us, |d, k| deadline_live(queries, d, k))
        {
            // A live entry is a query in the map.
            let Some(entry) = queries.get_mut(&key) else { continue };
            match entry.handle.apply(QueryEvent::RequestKill(KillCause::Timeout)) {
                Ok(_) => {
                    entry.state =
                        EntryState::KillRequested { kill: Kill::Timeout { deadline_unix_us } };
                    timed_out = timed_out.saturating_add(1);
                    self.counters.timed_out = self.counters.timed_out.saturating_add(1);
                }
                // The executor finished through its handle; the host removes the query soon.
                Err(_) => entry.state = EntryState::Running { deadline_unix_us: None },
            }
        }
        timed_out
    }

    /// The earliest deadline still to fire, microseconds since the Unix epoch. O(1).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.deadlines.first_unix_us()
    }

    /// The phase of a query in the registry (a snapshot: its executor may move it on).
    #[must_use]
    pub fn phase(&self, session: SessionId, plan: PlanId) -> Option<QueryPhase> {
        self.queries.get(&QueryKey { session, plan }).map(|entry| entry.handle.phase())
    }

    /// A clone of a query's handle, for a host that hands the query to another executor thread.
    #[must_use]
    pub fn handle(&self, session: SessionId, plan: PlanId) -> Option<QueryHandle> {
        self.queries.get(&QueryKey { session, plan }).map(|entry| entry.handle.clone())
    }

    /// The user that owns `session`, if it is open.
    #[must_use]
    pub fn session_user(&self, session: SessionId) -> Option<&str> {
        self.sessions.get(&session).map(|entry| &*entry.user)
    }

    /// Queries in the registry (running, or killed and not yet removed).
    #[must_use]
    pub fn query_count(&self) -> u32 {
        self.query_count
    }

    /// Open sessions.
    #[must_use]
    pub fn session_count(&self) -> u32 {
        u32::try_from(self.sessions.len()).unwrap_or(u32::MAX)
    }

    /// The counters since creation.
    #[must_use]
    pub fn counters(&self) -> QueryCounters {
        self.counters
    }

    /// The limits.
    #[must_use]
    pub fn config(&self) -> Config {
        self.config
    }

    /// The newest time the registry has been told, microseconds since the Unix epoch.
    #[must_use]
    pub fn now_unix_us(&self) -> u64 {
        self.clock.newest()
    }

    /// `key`'s deadline, if it had one, can no longer fire: its entry has already left the map or
    /// left `Running` with that deadline.
    #[inline]
    fn drop_deadline(&mut self, deadline_unix_us: Option<u64>, key: QueryKey) {
        if let Some(deadline_unix_us) = deadline_unix_us {
            let queries = &self.queries;
            self.deadlines.remove(deadline_unix_us, key, |d, k| deadline_live(queries, d, k));
        }
    }

    fn existing_key(&self, session: SessionId, plan: PlanId) -> Result<QueryKey, QueryError> {
        if !self.sessions.contains_key(&session) {
            return Err(QueryError::SessionNotFound { session });
        }
        let key = QueryKey { session, plan };
        if !self.queries.contains_key(&key) {
            return Err(QueryError::QueryNotFoundInSession { session, plan });
        }
        Ok(key)
    }

    /// Takes query (`session`, `plan`) out of the map and out of its session's plans, with the
    /// errors of [`existing_key`](Self::existing_key); the caller [`retire`](Self::retire)s it.
    /// One lookup of each instead of a check and a removal.
    #[inline]
    fn take_existing(
        &mut self,
        session: SessionId,
        plan: PlanId,
    ) -> Result<(QueryKey, QueryEntry), QueryError> {
        let Some(session_entry) = self.sessions.get_mut(&session) else {
            return Err(QueryError::SessionNotFound { session });
        };
        let key = QueryKey { session, plan };
        let Some(entry) = self.queries.remove(&key) else {
            return Err(QueryError::QueryNotFoundInSession { session, plan });
        };
        let listed = session_entry.plans.remove(plan);
        debug_assert!(listed, "a query in the map is in its session's plans");
        Ok((key, entry))
    }

    /// Removes `key` after applying `ending` to its word; returns the outcome the word then holds.
    /// Leaves the session's plans to the caller (`close_session` forgets them all at once).
    fn remove(&mut self, key: QueryKey, ending: Ending<'_>) -> Option<QueryOutcome> {
        let entry = self.queries.remove(&key)?;
        Some(self.retire(key, entry, ending))
    }

    /// The rest of a removal once `entry` is out of the map (and out of its session's plans):
    /// applies `ending` to its word, drops its deadline and counts; returns the outcome the word
    /// then holds.
    // Always inlined: `finish` is the hot path, and its `Ending` then folds to one arm.
    #[inline(always)]
    fn retire(&mut self, key: QueryKey, mut entry: QueryEntry, ending: Ending<'_>) -> QueryOutcome {
        let deadline_unix_us = match entry.state {
            EntryState::Running { deadline_unix_us } => deadline_unix_us,
            EntryState::KillRequested { .. } => None,
        };
        let (phase, reason) = match ending {
            Ending::Finish => (entry.handle.end(QueryEvent::Finish), ""),
            Ending::Fail { reason } => (entry.handle.end(QueryEvent::Fail), reason),
            Ending::Kill(kill) => {
                let _ = kill_entry(&mut entry, kill);
                (entry.handle.phase(), "")
            }
        };
        // Out of the map, so no longer live whatever its state.
        self.drop_deadline(deadline_unix_us, key);
        self.query_count = self.query_count.saturating_sub(1);
        let outcome = recorded_outcome(phase, entry.state, reason);
        self.recycled.keep(entry.statement, entry.handle);
        self.counters.count_end(&outcome);
        outcome
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillAttempt {
    Requested,
    AlreadyRequested(KillCause),
    AlreadyEnded,
}

/// Requests `kill` on one entry: the compare-and-swap on its word decides, the entry follows.
/// Returns the attempt and the deadline the entry no longer has, which the caller drops from the
/// index once the entry is no longer borrowed.
fn kill_entry(entry: &mut QueryEntry, kill: Kill) -> (KillAttempt, Option<u64>) {
    let deadline = match &entry.state {
        EntryState::KillRequested { kill: first } => {
            return (KillAttempt::AlreadyRequested(first.cause()), None);
        }
        EntryState::Running { deadline_unix_us } => *deadline_unix_us,
    };
    let attempt = match entry.handle.apply(QueryEvent::RequestKill(kill.cause())) {
        Ok(_) => KillAttempt::Requested,
        Err(TransitionError::AlreadyEnded { .. }) => KillAttempt::AlreadyEnded,
        // Only the registry requests kills, and it records each one; check_invariants reports the
        // mismatch.
        Err(TransitionError::KillAlreadyRequested { cause }) => {
            return (KillAttempt::AlreadyRequested(cause), None);
        }
    };
    // Either way the deadline can no longer fire.
    entry.state = match attempt {
        KillAttempt::Requested => EntryState::KillRequested { kill },
        KillAttempt::AlreadyRequested(_) | KillAttempt::AlreadyEnded => {
            EntryState::Running { deadline_unix_us: None }
        }
    };
    (attempt, deadline)
}

/// Whether the deadline index's entry (`deadline_unix_us`, `key`) can still fire: the query is
/// in the map and running with that deadline.
pub(crate) fn deadline_live(
    queries: &FixedMap<QueryKey, QueryEntry>,
    deadline_unix_us: u64,
    key: QueryKey,
) -> bool {
    queries.get(&key).is_some_and(|entry| {
        matches!(entry.state, EntryState::Running { deadline_unix_us: Some(d) } if d == deadline_unix_us)
    })
}

/// The outcome the word's `phase` records, with the facts the registry kept.
fn recorded_outcome(phase: QueryPhase, state: EntryState, reason: &str) -> QueryOutcome {
    match (phase.kill_cause(), state) {
        (Some(_), EntryState::KillRequested { kill }) => QueryOutcome::Killed(kill),
        // Unreachable while the invariants hold (every kill goes through the registry): keep the
        // cause.
        (Some(cause), EntryState::Running { .. }) => {
            QueryOutcome::Killed(kill_without_facts(cause))
        }
        (None, _) => match phase {
            QueryPhase::Failed => QueryOutcome::Failed { reason: reason.to_owned() },
            // Callers apply an ending event first, so the word is terminal here: `Finished`.
            _ => QueryOutcome::Finished,
        },
    }
}

fn kill_without_facts(cause: KillCause) -> Kill {
    match cause {
        KillCause::User => Kill::ByUser { user: String::new() },
        KillCause::SessionKilled => Kill::SessionKilled,
        KillCause::SessionExpired => Kill::SessionExpired,
        KillCause::Timeout => Kill::Timeout { deadline_unix_us: 0 },
    }
}

fn check_field_bytes(field: &'static str, value: &str, bytes_max: u32) -> Result<(), QueryError> {
    let bytes = u64::try_from(value.len()).unwrap_or(u64::MAX);
    if bytes > u64::from(bytes_max) {
        return Err(QueryError::SessionFieldTooLong { field, bytes, bytes_max });
    }
    Ok(())
}

/// `check_invariants` must notice each kind of corruption it exists for; the public API cannot
/// produce one, so these tests corrupt the fields directly.
#[cfg(test)]
mod tests {
    use super::*;

    const T0_US: u64 = 1_763_900_000_000_000;

    fn session(value: i64) -> SessionId {
        SessionId::new(value).expect("positive")
    }

    /// One session (1) with two queries (plans 1 and 2), each with a deadline.
    fn registry() -> QueryRegistry {
        let mut registry = QueryRegistry::new(Config::default());
        registry.open_session(session(1), "alice", "graphd:9669").expect("open");
        for plan in 1..=2 {
            let registration = Registration {
                session: session(1),
                plan: PlanId::from_u64(plan),
                statement: "GO FROM 1 OVER e",
                deadline_unix_us: Some(T0_US + plan),
            };
            drop(registry.register(T0_US, registration).expect("register"));
        }
        registry.check_invariants().expect("a fresh registry is consistent");
        registry
    }

    #[test]
    fn a_node_query_count_that_disagrees_with_the_queries_is_reported() {
        let mut registry = registry();
        registry.query_count += 1;
        let error = registry.check_invariants().expect_err("count off by one");
        assert_eq!(error.property, "query_count_matches_queries");
        assert!(error.detail.contains("query_count 3 != 2 queries"), "{error}");
    }

    #[test]
    fn a_query_whose_session_is_gone_is_reported() {
        let mut registry = registry();
        registry.sessions.remove(&session(1));
        let error = registry.check_invariants().expect_err("orphaned queries");
        assert_eq!(error.property, "query_session_open");
        assert!(error.detail.contains("its session is not open"), "{error}");
    }

    #[test]
    fn a_deadline_missing_from_the_index_is_reported() {
        let mut registry = registry();
        let second = QueryKey { session: session(1), plan: PlanId::from_u64(2) };
        // Same number of deadlines, but query 2's is not the one filed.
        let entry = registry.queries.get_mut(&second).expect("registered");
        entry.state = EntryState::Running { deadline_unix_us: Some(T0_US + 99) };
        let error = registry.check_invariants().expect_err("misfiled deadline");
        assert_eq!(error.property, "deadline_indexed");
        assert!(error.detail.contains("is not indexed"), "{error}");
    }

    #[test]
    fn a_stale_top_of_the_deadline_index_is_reported() {
        let mut registry = registry();
        let stranger = QueryKey { session: session(9), plan: PlanId::from_u64(1) };
        let second = QueryKey { session: session(1), plan: PlanId::from_u64(2) };
        // An entry for no query, earliest of all; the count kept right by counting query 2's out
        // while it still runs.
        registry.deadlines.insert(T0_US, stranger);
        registry.deadlines.remove(T0_US + 2, second, |_, _| true);
        let error = registry.check_invariants().expect_err("stale top");
        assert_eq!(error.property, "deadline_index_top_live");
    }

    #[test]
    fn a_session_plan_list_that_disagrees_with_the_queries_is_reported() {
        let mut registry = registry();
        let entry = registry.sessions.get_mut(&session(1)).expect("open");
        assert!(entry.plans.remove(PlanId::from_u64(2)));
        let error = registry.check_invariants().expect_err("plan 2 unlisted");
        assert_eq!(error.property, "session_plans_match_queries");
        entry_of(&mut registry).plans.push(PlanId::from_u64(2));
        entry_of(&mut registry).plans.push(PlanId::from_u64(7));
        let error = registry.check_invariants().expect_err("plan 7 listed, never registered");
        assert_eq!(error.property, "session_plans_match_queries");
        assert!(error.detail.contains("missing Some"), "{error}");
    }

    fn entry_of(registry: &mut QueryRegistry) -> &mut SessionEntry {
        registry.sessions.get_mut(&session(1)).expect("open")
    }
}
