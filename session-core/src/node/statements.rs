//! Session statements, run by the node itself as queries of the session that sent them (so
//! SHOW QUERIES lists them and they keep the session from idling), with NebulaGraph's columns,
//! codes and permission checks.

use std::collections::BTreeSet;

use graphsession_id_gen::SessionId;
use graphsession_permission::{
    Caller, PermissionError, RoleTable, check_show_sessions, check_user_name, check_write_user,
};
use graphsession_query_plan::{KillTarget, QueryKey, QueryOutcome};

use crate::client::ConnectionId;
use crate::node::GraphNode;
use crate::node::machine::{
    BUSY, KillQueryOutcome, KillSessionsWait, ShowQueriesWait, ShowSessionWait, Statement,
    error_reply, killed_reply,
};
use crate::node::output::{Output, Secret};
use crate::node::reply::{DataSet, Reply};
use crate::node::request::SessionStatement;
use crate::server::ServerError;

/// What a statement did right away.
enum Done {
    /// Finished, with this result set (or none).
    Finished(Option<DataSet>),
    /// Failed with NebulaGraph's code and text.
    Failed(i32, String),
    /// Waits on meta; the reply comes with meta's answer.
    Waiting,
}

impl GraphNode {
    pub(crate) fn session_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        session_id: i64,
        statement: SessionStatement,
        table: &mut RoleTable,
    ) {
        let text = statement.to_string();
        let query = match self.registry.begin_query(now, session_id, &text, table) {
            Ok(query) => query,
            Err(error) => {
                let space = SessionId::new(session_id)
                    .map(|session| self.space_of(session))
                    .unwrap_or_default();
                return self.reply(connection, error_reply(&error, space));
            }
        };
        let key = QueryKey { session: query.session, plan: query.plan };
        let caller = query.caller;
        let pending = Statement { query: key, target: None, deadline_ms: query.deadline_unix_ms };
        match self.run_statement(now, connection, &caller, pending, statement, table) {
            Done::Finished(data) => self.finish_statement(now, connection, pending, data),
            Done::Failed(code, message) => {
                self.fail_statement(now, connection, pending, code, &message);
            }
            Done::Waiting => {}
        }
    }

    fn run_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        caller: &Caller,
        pending: Statement,
        statement: SessionStatement,
        table: &mut RoleTable,
    ) -> Done {
        let policy = self.registry.config().policy;
        let session = pending.query.session;
        match statement {
            SessionStatement::Use { .. } => Done::Failed(
                crate::client::E_EXECUTION_ERROR,
                "USE runs through the registry, not as a statement".to_owned(),
            ),
            SessionStatement::ShowSessions { local: true } => {
                match self.registry.show_local_sessions(caller) {
                    Ok(rows) => Done::Finished(Some(DataSet::sessions(&rows))),
                    Err(error) => Done::Failed(error.code(), error.to_string()),
                }
            }
            SessionStatement::ShowSessions { local: false } => {
                if let Err(error) = check_show_sessions(caller, policy) {
                    return permission_failed(&error);
                }
                if self.waiting_full() {
                    return busy();
                }
                self.sync.show_sessions(now);
                self.waiting.show_sessions.insert((connection, pending.query), pending);
                Done::Waiting
            }
            SessionStatement::ShowSession { session_id } => {
                self.show_session_statement(now, connection, caller, pending, session_id)
            }
            SessionStatement::KillSessions { session_ids } => {
                self.kill_sessions_statement(now, connection, caller, pending, &session_ids)
            }
            SessionStatement::ShowQueries { local: true } => {
                let mut rows = self.registry.show_queries(now, caller);
                rows.retain(|row| row.session_id == session);
                Done::Finished(Some(DataSet::queries(&rows)))
            }
            // Every node's queries: this node's from its registry, the others' as they last
            // reported them to meta (NebulaGraph lists them all from meta).
            SessionStatement::ShowQueries { local: false } => {
                if self.waiting_full() {
                    return busy();
                }
                self.sync.show_queries(now);
                let wait = ShowQueriesWait { statement: pending, caller: caller.clone() };
                self.waiting.show_queries.insert((connection, pending.query), wait);
                Done::Waiting
            }
            SessionStatement::KillQuery { target } => {
                self.kill_query_statement(now, connection, caller, pending, target)
            }
            SessionStatement::Grant { role, space, user } => {
                changed(table.grant(caller, policy, role, &space, &user))
            }
            SessionStatement::Revoke { role, space, user } => {
                changed(table.revoke(caller, policy, role, &space, &user))
            }
            SessionStatement::SetVariable { name, value } => {
                match self.registry.set_variable(now, session.get(), &name, &value) {
                    Ok(()) => Done::Finished(None),
                    Err(error) => Done::Failed(error.code(), error.to_string()),
                }
            }
            SessionStatement::CreateUser { .. }
            | SessionStatement::DropUser { .. }
            | SessionStatement::AlterUser { .. } => self.user_statement(caller, statement, table),
        }
    }

    /// CREATE, DROP and ALTER USER: the role table changes here; the password store is the
    /// host's ([`Output::SetPassword`], [`Output::ForgetPassword`]).
    fn user_statement(
        &mut self,
        caller: &Caller,
        statement: SessionStatement,
        table: &mut RoleTable,
    ) -> Done {
        let policy = self.registry.config().policy;
        match statement {
            SessionStatement::CreateUser { user, if_not_exists, password } => {
                match table.create_user(caller, policy, &user) {
                    Ok(()) => {
                        let password = Secret(password);
                        self.outputs.push_back(Output::SetPassword { user, password });
                        Done::Finished(None)
                    }
                    Err(PermissionError::UserExists { .. }) if if_not_exists => {
                        Done::Finished(None)
                    }
                    Err(error) => permission_failed(&error),
                }
            }
            SessionStatement::DropUser { user, if_exists } => {
                match table.drop_user(caller, policy, &user) {
                    Ok(()) => {
                        self.outputs.push_back(Output::ForgetPassword { user });
                        Done::Finished(None)
                    }
                    Err(PermissionError::UserNotFound { .. }) if if_exists => Done::Finished(None),
                    Err(error) => permission_failed(&error),
                }
            }
            SessionStatement::AlterUser { user, password } => {
                // The name first, as NebulaGraph's validator does, then the permission.
                if let Err(error) = check_user_name(&user) {
                    return permission_failed(&error);
                }
                if let Err(error) = check_write_user(caller, policy) {
                    return permission_failed(&error);
                }
                if !table.contains_user(&user) {
                    return permission_failed(&PermissionError::UserNotFound { user });
                }
                self.outputs.push_back(Output::SetPassword { user, password: Secret(password) });
                Done::Finished(None)
            }
            other => Done::Failed(
                crate::client::E_EXECUTION_ERROR,
                format!("{other:?} is not a user statement"),
            ),
        }
    }

    /// KILL SESSION: sessions held here end now; the others are removed at meta and counted
    /// when meta says the removal ended them.
    fn kill_sessions_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        caller: &Caller,
        pending: Statement,
        session_ids: &[i64],
    ) -> Done {
        let elsewhere: BTreeSet<SessionId> = (session_ids.iter())
            .filter(|id| self.registry.session_stats(**id).is_none())
            .filter_map(|id| SessionId::new(*id))
            .collect();
        if !elsewhere.is_empty() && self.waiting_full() {
            return busy();
        }
        let killed = match self.kill_sessions_here(now, caller, session_ids) {
            Ok(killed) => killed,
            Err(error) => return Done::Failed(error.code(), error.to_string()),
        };
        if elsewhere.is_empty() {
            return Done::Finished(Some(DataSet::killed_sessions(killed)));
        }
        let wait = KillSessionsWait { statement: pending, remaining: elsewhere, killed };
        self.waiting.kill_sessions.insert((connection, pending.query), wait);
        Done::Waiting
    }

    fn kill_query_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        caller: &Caller,
        pending: Statement,
        target: KillTarget,
    ) -> Done {
        // The caller's own session named by its id is the current session, as session 0 is
        // (NebulaGraph's `KillQueryExecutor`: `sessionId == session->id() || sessionId == 0`).
        let target = match target {
            KillTarget::Session { session, plan } if session == pending.query.session => {
                KillTarget::CurrentSession { plan }
            }
            target => target,
        };
        let forwarded = matches!(target, KillTarget::Session { session, .. }
            if self.registry.session_stats(session.get()).is_none());
        if forwarded && self.waiting_full() {
            return busy();
        }
        match self.kill_query_here(now, caller, pending.query.session, target) {
            Ok(KillQueryOutcome::Local(_)) => Done::Finished(None),
            Ok(KillQueryOutcome::Forwarded) => {
                // Only a query of another session can be forwarded: the current one is here.
                if let KillTarget::Session { session, plan } = target {
                    let statement =
                        Statement { target: Some(QueryKey { session, plan }), ..pending };
                    self.waiting.kill_queries.insert((connection, pending.query), statement);
                }
                Done::Waiting
            }
            Err(error) => Done::Failed(error.code(), error.to_string()),
        }
    }

    /// SHOW SESSION: a session held here is shown from the registry; one held elsewhere from
    /// meta's record, as NebulaGraph reads meta (the statement waits for it).
    fn show_session_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        caller: &Caller,
        pending: Statement,
        session_id: i64,
    ) -> Done {
        let error = match self.registry.show_session(caller, session_id) {
            Ok(detail) => return Done::Finished(Some(DataSet::sessions(&[detail.row]))),
            Err(error) => error,
        };
        let (ServerError::ShowSessionNotFound { .. }, Some(session)) =
            (&error, SessionId::new(session_id))
        else {
            return Done::Failed(error.code(), error.to_string());
        };
        if self.waiting_full() {
            return busy();
        }
        self.sync.show_session(now, session);
        let wait = ShowSessionWait { statement: pending, session };
        self.waiting.show_session.insert((connection, pending.query), wait);
        Done::Waiting
    }

    /// The statement's query ends and its reply goes out. A statement that ended its own
    /// session (KILL SESSION of itself) still ran: it is answered as a success.
    pub(crate) fn finish_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        statement: Statement,
        data: Option<DataSet>,
    ) {
        let key = statement.query;
        self.registry_changed = true;
        let space = self.space_of(key.session);
        let reply = match self.registry.finish_query(now, key.session, key.plan) {
            Ok(QueryOutcome::Killed(kill)) => killed_reply(&kill, space),
            Ok(_) | Err(_) => {
                Reply::Executed { space_name: space, data, plan_id: Some(key.plan.get()) }
            }
        };
        self.reply(connection, reply);
    }

    /// Statements waiting on meta whose query timed out are answered now (-1005 "query timed
    /// out"), not when meta answers: no statement outlives its deadline. What they asked of
    /// meta (a removal, a kill mark) may still happen.
    pub(crate) fn answer_timed_out_statements(&mut self, now: u64) {
        let due = |statement: &Statement| statement.deadline_ms.is_some_and(|at| at <= now);
        let timed_out = self.waiting.take_statements(|_, statement| due(statement));
        for (connection, statement) in timed_out {
            self.finish_statement(now, connection, statement, None);
        }
    }

    pub(crate) fn fail_statement(
        &mut self,
        now: u64,
        connection: ConnectionId,
        statement: Statement,
        code: i32,
        message: &str,
    ) {
        let key = statement.query;
        self.registry_changed = true;
        let space = self.space_of(key.session);
        let _outcome = self.registry.fail_query(now, key.session, key.plan, message);
        let reply = Reply::ExecuteFailed { code, message: message.to_owned(), space_name: space };
        self.reply(connection, reply);
    }
}

fn changed(result: Result<(), PermissionError>) -> Done {
    match result {
        Ok(()) => Done::Finished(None),
        Err(error) => permission_failed(&error),
    }
}

/// A statement that would wait on meta while `waiting_connections_max` connections do.
fn busy() -> Done {
    Done::Failed(crate::client::E_EXECUTION_ERROR, BUSY.to_owned())
}

fn permission_failed(error: &PermissionError) -> Done {
    Done::Failed(error.code(), error.to_string())
}
