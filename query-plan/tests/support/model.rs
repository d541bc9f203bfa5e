//! The query registry's reference model (a few `BTreeMap`s and hand-written rules, scanning
//! everything) and [`run`], which drives the registry and the model side by side and asserts that
//! they agree and that `check_invariants()` holds after every step. Shared by `model.rs`
//! (proptest) and the fuzz target `query_registry` (included with `#[path]`).

use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{Caller, PermissionError, Policy, Rights};
use graphsession_query_plan::{
    Config, Kill, KillCause, KillOutcome, KillTarget, Killed, QueryCounters, QueryError,
    QueryHandle, QueryOutcome, QueryPhase, QueryRegistry, QueryRow, QueryStatus, Registration,
    SessionClosed, SessionEnd,
};
use std::collections::BTreeMap;

const USERS: [&str; 3] = ["root", "alice", "bob"];
const CONFIG: Config = Config {
    sessions_max: 3,
    queries_per_session_max: 3,
    queries_per_node_max: 5,
    statement_bytes_max: 8,
};
const HOST: &str = "graphd:9669";
const REASON: &str = "boom";

#[derive(Debug, Clone)]
pub(crate) enum Op {
    OpenSession {
        session: i64,
        user: usize,
    },
    CloseSession {
        session: i64,
        expired: bool,
    },
    Register {
        session: i64,
        plan: u64,
        statement_bytes: usize,
        deadline_after_us: Option<u64>,
        skew_us: i64,
    },
    Finish {
        session: i64,
        plan: u64,
    },
    Fail {
        session: i64,
        plan: u64,
    },
    ExecutorFinish {
        session: i64,
        plan: u64,
    },
    Checkpoint {
        session: i64,
        plan: u64,
    },
    KillQuery {
        caller: usize,
        current: i64,
        target: Option<i64>,
        plan: u64,
        enforced: bool,
    },
    KillSession {
        session: i64,
        expired: bool,
    },
    Clock {
        delta_us: i64,
    },
    /// The host's timer fires exactly at `poll_timeout()`, the boundary case.
    ClockToDeadline,
    Show {
        caller: usize,
        delta_us: i64,
    },
    ShowLocal {
        session: i64,
    },
}

fn user_name(index: usize) -> String {
    USERS.get(index).map_or_else(|| "x".repeat(300), |user| (*user).to_owned())
}

fn caller(index: usize) -> Caller {
    let rights = if index == 0 { Rights::god() } else { Rights::none() };
    Caller::from_rights(USERS[index], rights, None)
}

fn sid(session: i64) -> SessionId {
    SessionId::new(session).unwrap()
}

fn shifted(now_us: u64, delta_us: i64) -> u64 {
    now_us.saturating_add_signed(delta_us)
}

struct ModelQuery {
    start_us: u64,
    deadline_us: Option<u64>,
    statement: String,
    kill: Option<Kill>,
}

/// The reference: scans everything, and mirrors each executor handle's word with hand-written
/// rules.
#[derive(Default)]
struct Model {
    sessions: BTreeMap<i64, String>,
    queries: BTreeMap<(i64, u64), ModelQuery>,
    /// Every handle ever issued (by key, newest), including those of removed queries.
    handles: BTreeMap<(i64, u64), QueryPhase>,
    now_us: u64,
    counters: QueryCounters,
}

impl Model {
    fn session_query_count(&self, session: i64) -> u32 {
        self.queries.keys().filter(|(s, _)| *s == session).count() as u32
    }

    fn open_session(&mut self, session: i64, user: &str) -> Result<(), QueryError> {
        if user.len() > 256 {
            let bytes = user.len() as u64;
            return Err(QueryError::SessionFieldTooLong {
                field: "user name",
                bytes,
                bytes_max: 256,
            });
        }
        if self.sessions.contains_key(&session) {
            return Err(QueryError::SessionAlreadyOpen { session: sid(session) });
        }
        if self.sessions.len() as u32 >= CONFIG.sessions_max {
            return Err(QueryError::SessionsFull { sessions_max: CONFIG.sessions_max });
        }
        self.sessions.insert(session, user.to_owned());
        Ok(())
    }

    fn register(
        &mut self,
        session: i64,
        plan: u64,
        statement: &str,
        deadline_us: Option<u64>,
        now_us: u64,
    ) -> Result<(), QueryError> {
        let (s, p) = (sid(session), PlanId::from_u64(plan));
        if !self.sessions.contains_key(&session) {
            return Err(QueryError::SessionNotFound { session: s });
        }
        if self.queries.contains_key(&(session, plan)) {
            return Err(QueryError::QueryAlreadyRegistered { session: s, plan: p });
        }
        if statement.len() > CONFIG.statement_bytes_max as usize {
            return Err(QueryError::StatementTooLong {
                statement_bytes: statement.len() as u64,
                statement_bytes_max: CONFIG.statement_bytes_max,
            });
        }
        if self.session_query_count(session) >= CONFIG.queries_per_session_max {
            return Err(QueryError::SessionQueriesFull {
                session: s,
                queries_per_session_max: CONFIG.queries_per_session_max,
            });
        }
        if self.queries.len() as u32 >= CONFIG.queries_per_node_max {
            return Err(QueryError::NodeQueriesFull {
                queries_per_node_max: CONFIG.queries_per_node_max,
            });
        }
        self.now_us = self.now_us.max(now_us);
        let query = ModelQuery {
            start_us: self.now_us,
            deadline_us,
            statement: statement.to_owned(),
            kill: None,
        };
        self.queries.insert((session, plan), query);
        self.handles.insert((session, plan), QueryPhase::Running);
        self.counters.started += 1;
        Ok(())
    }

    fn existing(&self, session: i64, plan: u64) -> Result<(), QueryError> {
        if !self.sessions.contains_key(&session) {
            return Err(QueryError::SessionNotFound { session: sid(session) });
        }
        if !self.queries.contains_key(&(session, plan)) {
            let (session, plan) = (sid(session), PlanId::from_u64(plan));
            return Err(QueryError::QueryNotFoundInSession { session, plan });
        }
        Ok(())
    }

    /// Removes a query whose handle has already been moved; records the outcome the handle holds.
    fn remove(&mut self, key: (i64, u64), reason: &str) -> QueryOutcome {
        let query = self.queries.remove(&key).unwrap();
        let outcome = match (self.handles[&key], query.kill) {
            (QueryPhase::Finished, _) => QueryOutcome::Finished,
            (QueryPhase::Failed, _) => QueryOutcome::Failed { reason: reason.to_owned() },
            (QueryPhase::KillRequested(_) | QueryPhase::Killed(_), Some(kill)) => {
                QueryOutcome::Killed(kill)
            }
            (phase, kill) => panic!("model: removing {phase:?} with kill {kill:?}"),
        };
        let counters = &mut self.counters;
        match &outcome {
            QueryOutcome::Finished => counters.finished += 1,
            QueryOutcome::Failed { .. } => counters.failed += 1,
            QueryOutcome::Killed(Kill::ByUser { .. }) => counters.killed_by_user += 1,
            QueryOutcome::Killed(Kill::SessionKilled) => counters.killed_by_session_kill += 1,
            QueryOutcome::Killed(Kill::SessionExpired) => counters.killed_by_session_expiry += 1,
            QueryOutcome::Killed(Kill::Timeout { .. }) => counters.killed_by_timeout += 1,
        }
        outcome
    }

    /// The executor ends (`failed`: with an error): a kill that came first wins.
    fn end_handle(&mut self, key: (i64, u64), failed: bool) {
        let phase = self.handles.get_mut(&key).unwrap();
        *phase = match *phase {
            QueryPhase::Running if failed => QueryPhase::Failed,
            QueryPhase::Running => QueryPhase::Finished,
            QueryPhase::KillRequested(cause) => QueryPhase::Killed(cause),
            ended => ended,
        };
    }

    fn finish(
        &mut self,
        session: i64,
        plan: u64,
        failed: bool,
    ) -> Result<QueryOutcome, QueryError> {
        self.existing(session, plan)?;
        self.end_handle((session, plan), failed);
        Ok(self.remove((session, plan), REASON))
    }

    /// A kill attempt on one query: true if it won.
    fn kill_one(&mut self, key: (i64, u64), kill: &Kill) -> Result<bool, KillCause> {
        let query = self.queries.get_mut(&key).unwrap();
        if let Some(first) = &query.kill {
            return Err(first.cause());
        }
        query.deadline_us = None;
        let phase = self.handles.get_mut(&key).unwrap();
        if *phase == QueryPhase::Running {
            *phase = QueryPhase::KillRequested(kill.cause());
            query.kill = Some(kill.clone());
            return Ok(true);
        }
        Ok(false)
    }

    fn kill_query(
        &mut self,
        caller: usize,
        current: i64,
        target: Option<i64>,
        plan: u64,
    ) -> Result<KillOutcome, QueryError> {
        let session = target.unwrap_or(current);
        let Some(owner) = self.sessions.get(&session) else {
            return Err(QueryError::SessionNotFound { session: sid(session) });
        };
        if caller != 0 && USERS[caller] != owner {
            return Err(QueryError::Permission(PermissionError::KillQuery));
        }
        let not_found = match target {
            None => QueryError::QueryNotFoundInCurrentSession { plan: PlanId::from_u64(plan) },
            Some(_) => QueryError::QueryNotFoundInSession {
                session: sid(session),
                plan: PlanId::from_u64(plan),
            },
        };
        if !self.queries.contains_key(&(session, plan)) {
            return Err(not_found);
        }
        let kill = Kill::ByUser { user: USERS[caller].to_owned() };
        match self.kill_one((session, plan), &kill) {
            Ok(true) => Ok(KillOutcome::Requested),
            Ok(false) => Err(not_found),
            Err(cause) => Ok(KillOutcome::AlreadyRequested { cause }),
        }
    }

    fn keys_of(&self, session: i64) -> Vec<(i64, u64)> {
        self.queries.keys().filter(|(s, _)| *s == session).copied().collect()
    }

    fn kill_session(&mut self, session: i64, kill: &Kill) -> Result<u32, QueryError> {
        if !self.sessions.contains_key(&session) {
            return Err(QueryError::SessionNotFound { session: sid(session) });
        }
        let keys = self.keys_of(session);
        Ok(keys.into_iter().filter(|&key| self.kill_one(key, kill) == Ok(true)).count() as u32)
    }

    fn close_session(&mut self, session: i64, kill: &Kill) -> Result<SessionClosed, QueryError> {
        if !self.sessions.contains_key(&session) {
            return Err(QueryError::SessionNotFound { session: sid(session) });
        }
        let mut closed = SessionClosed::default();
        for key in self.keys_of(session) {
            if self.kill_one(key, kill) == Ok(true) {
                closed.queries_killed += 1;
            }
            self.remove(key, "");
            closed.queries_ended += 1;
        }
        self.sessions.remove(&session);
        Ok(closed)
    }

    fn handle_timeout(&mut self, now_us: u64) -> u32 {
        self.now_us = self.now_us.max(now_us);
        let mut fired = 0;
        for (key, query) in &mut self.queries {
            let Some(deadline_us) = query.deadline_us.filter(|&d| d <= self.now_us) else {
                continue;
            };
            query.deadline_us = None;
            let phase = self.handles.get_mut(key).unwrap();
            if *phase == QueryPhase::Running {
                *phase = QueryPhase::KillRequested(KillCause::Timeout);
                query.kill = Some(Kill::Timeout { deadline_unix_us: deadline_us });
                fired += 1;
            }
        }
        self.counters.timed_out += u64::from(fired);
        fired
    }

    fn poll_timeout(&self) -> Option<u64> {
        self.queries.values().filter_map(|query| query.deadline_us).min()
    }

    fn rows(
        &self,
        visible: impl Fn(&str) -> bool,
        only: Option<i64>,
        now_us: u64,
    ) -> Vec<QueryRow> {
        let now_us = self.now_us.max(now_us);
        let mut rows = Vec::new();
        for (&(session, plan), query) in &self.queries {
            let user = &self.sessions[&session];
            if !visible(user) || only.is_some_and(|only| only != session) {
                continue;
            }
            let status = match self.handles[&(session, plan)] {
                QueryPhase::Running => QueryStatus::Running,
                QueryPhase::KillRequested(_) | QueryPhase::Killed(_) => QueryStatus::Killing,
                QueryPhase::Finished | QueryPhase::Failed => continue,
            };
            rows.push(QueryRow {
                session_id: sid(session),
                execution_plan_id: PlanId::from_u64(plan),
                user: user.clone(),
                host: HOST.to_owned(),
                start_time_unix_us: query.start_us,
                duration_us: now_us - query.start_us,
                status,
                query: query.statement.clone(),
            });
        }
        rows
    }
}

fn session_kill(expired: bool) -> (SessionEnd, Kill) {
    if expired {
        (SessionEnd::Expired, Kill::SessionExpired)
    } else {
        (SessionEnd::Killed, Kill::SessionKilled)
    }
}

/// Runs `ops` against the registry and the model side by side.
pub(crate) fn run(ops: &[Op]) {
    let mut registry = QueryRegistry::new(CONFIG);
    let mut model = Model { now_us: 1_000, ..Model::default() };
    registry.handle_timeout(1_000);
    let mut handles: BTreeMap<(i64, u64), QueryHandle> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        let context = format!("step {step}: {op:?}");
        match *op {
            Op::OpenSession { session, user } => {
                let user = user_name(user);
                let real = registry.open_session(sid(session), &user, HOST);
                assert_eq!(real, model.open_session(session, &user), "{context}");
            }
            Op::CloseSession { session, expired } => {
                let (end, kill) = session_kill(expired);
                let real = registry.close_session(sid(session), end);
                assert_eq!(real, model.close_session(session, &kill), "{context}");
            }
            Op::Register { session, plan, statement_bytes, deadline_after_us, skew_us } => {
                let now_us = shifted(model.now_us, skew_us);
                let statement = "s".repeat(statement_bytes);
                let deadline_unix_us = deadline_after_us.map(|after| now_us + after);
                let registration = Registration {
                    session: sid(session),
                    plan: PlanId::from_u64(plan),
                    statement: &statement,
                    deadline_unix_us,
                };
                let real = registry.register(now_us, registration);
                let expected = model.register(session, plan, &statement, deadline_unix_us, now_us);
                assert_eq!(real.as_ref().err(), expected.as_ref().err(), "{context}");
                if let Ok(handle) = real {
                    handles.insert((session, plan), handle);
                }
            }
            Op::Finish { session, plan } => {
                let real = registry.finish(sid(session), PlanId::from_u64(plan));
                assert_eq!(real, model.finish(session, plan, false), "{context}");
            }
            Op::Fail { session, plan } => {
                let real = registry.fail(sid(session), PlanId::from_u64(plan), REASON);
                assert_eq!(real, model.finish(session, plan, true), "{context}");
            }
            Op::ExecutorFinish { session, plan } => {
                if let Some(handle) = handles.get(&(session, plan)) {
                    model.end_handle((session, plan), false);
                    let expected = match model.handles[&(session, plan)].kill_cause() {
                        Some(cause) => Err(Killed { cause }),
                        None => Ok(()),
                    };
                    assert_eq!(handle.finish(), expected, "{context}");
                }
            }
            Op::Checkpoint { session, plan } => {
                // Also checked for every handle after every step, below; here the executor's view
                // alone.
                if let Some(handle) = handles.get(&(session, plan)) {
                    let expected = model.handles[&(session, plan)].kill_cause();
                    assert_eq!(
                        handle.check().err().map(|killed| killed.cause),
                        expected,
                        "{context}"
                    );
                }
            }
            Op::KillQuery { caller: index, current, target, plan, enforced } => {
                let policy = Policy { authorization_enabled: enforced };
                let kill_target = match target {
                    None => KillTarget::CurrentSession { plan: PlanId::from_u64(plan) },
                    Some(session) => {
                        KillTarget::Session { session: sid(session), plan: PlanId::from_u64(plan) }
                    }
                };
                let real = registry.kill_query(&caller(index), policy, sid(current), kill_target);
                let expected = model.kill_query(index, current, target, plan);
                assert_eq!(real, expected, "{context}");
            }
            Op::KillSession { session, expired } => {
                let (_, kill) = session_kill(expired);
                let real = registry.request_kill_session(sid(session), &kill);
                assert_eq!(real, model.kill_session(session, &kill), "{context}");
            }
            Op::Clock { delta_us } => {
                let now_us = shifted(model.now_us, delta_us);
                assert_eq!(
                    registry.handle_timeout(now_us),
                    model.handle_timeout(now_us),
                    "{context}"
                );
            }
            Op::ClockToDeadline => {
                let now_us = registry.poll_timeout().unwrap_or(model.now_us);
                assert_eq!(
                    registry.handle_timeout(now_us),
                    model.handle_timeout(now_us),
                    "{context}"
                );
            }
            Op::Show { caller: index, delta_us } => {
                let now_us = shifted(model.now_us, delta_us);
                let real = registry.show_queries(now_us, &caller(index), Policy::default());
                let visible = |user: &str| index == 0 || user == USERS[index];
                assert_eq!(real, model.rows(visible, None, now_us), "{context}");
            }
            Op::ShowLocal { session } => {
                let real = registry.show_local_queries(model.now_us, sid(session));
                let expected = if model.sessions.contains_key(&session) {
                    Ok(model.rows(|_| true, Some(session), model.now_us))
                } else {
                    Err(QueryError::SessionNotFound { session: sid(session) })
                };
                assert_eq!(real, expected, "{context}");
            }
        }
        compare(&registry, &model, &handles, &context);
    }
}

fn compare(
    registry: &QueryRegistry,
    model: &Model,
    handles: &BTreeMap<(i64, u64), QueryHandle>,
    context: &str,
) {
    registry.check_invariants().unwrap_or_else(|error| panic!("{context}: {error}"));
    assert_eq!(registry.counters(), model.counters, "{context}");
    assert_eq!(registry.query_count(), model.queries.len() as u32, "{context}");
    assert_eq!(registry.session_count(), model.sessions.len() as u32, "{context}");
    assert_eq!(registry.poll_timeout(), model.poll_timeout(), "{context}");
    assert_eq!(registry.now_unix_us(), model.now_us, "{context}");
    for (&(session, plan), handle) in handles {
        let expected = model.handles[&(session, plan)];
        assert_eq!(handle.phase(), expected, "{context}: handle of {session}/{plan}");
        let check = expected.kill_cause().map_or(Ok(()), |cause| Err(Killed { cause }));
        assert_eq!(handle.check(), check, "{context}: checkpoint of {session}/{plan}");
        let in_registry = model.queries.contains_key(&(session, plan)).then_some(expected);
        assert_eq!(registry.phase(sid(session), PlanId::from_u64(plan)), in_registry, "{context}");
    }
}
