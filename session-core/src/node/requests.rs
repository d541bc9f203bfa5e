//! One request of one connection: authenticate answered only once meta registered the session,
//! executes of sessions held elsewhere waiting for their pick-up, a signed-out connection held
//! until meta confirmed the removal.

use graphsession_id_gen::SessionId;
use graphsession_permission::RoleTable;
use graphsession_query_plan::QueryKey;

use crate::client::{ConnectionId, E_EXECUTION_ERROR, E_SESSION_INVALID};
use crate::cluster::RemoveReason;
use crate::node::GraphNode;
use crate::node::machine::{BUSY, error_reply};
use crate::node::output::{Event, Output};
use crate::node::reply::{E_CLIENT_SERVER_INCOMPATIBLE, Reply};
use crate::node::request::{Request, SessionStatement, Statement};
use crate::server::Login;

impl GraphNode {
    /// Handles `request` (without the service step that follows every input).
    pub(crate) fn request(
        &mut self,
        now: u64,
        connection: ConnectionId,
        request: Request,
        table: &mut RoleTable,
    ) {
        if let Some((_, waiting)) = self.waiting.sign_outs.get_mut(&connection) {
            if waiting.len() < self.settings.waiting_requests_per_connection_max as usize {
                waiting.push(request);
            } else {
                self.refuse_queued(now, connection, &request);
            }
            return;
        }
        match request {
            Request::VerifyClientVersion { version } => self.verify_version(connection, &version),
            Request::Authenticate { user, client_ip, password } => {
                self.authenticate(
                    now,
                    connection,
                    Login { user: &user, client_ip: &client_ip, password },
                    table,
                );
            }
            Request::Execute { session_id, statement } => {
                self.execute_or_pick_up(now, connection, session_id, statement, table);
            }
            Request::SignOut { session_id } => self.sign_out(now, connection, session_id),
        }
    }

    fn verify_version(&mut self, connection: ConnectionId, version: &str) {
        let versions = &self.settings.client_versions;
        let reply = if versions.is_empty() || versions.iter().any(|accepted| accepted == version) {
            Reply::ClientVersion { code: 0, message: String::new() }
        } else {
            Reply::ClientVersion {
                code: E_CLIENT_SERVER_INCOMPATIBLE,
                message: format!(
                    "Graph client version({version}) is not accepted, current graph client white \
                     list: {}.",
                    versions.join(":")
                ),
            }
        };
        self.reply(connection, reply);
    }

    fn authenticate(
        &mut self,
        now: u64,
        connection: ConnectionId,
        login: Login<'_>,
        table: &RoleTable,
    ) {
        if self.waiting_full() {
            self.reply(connection, busy_auth());
            return;
        }
        self.registry_changed = true;
        match self.registry.login(now, login, table) {
            Ok(session) => {
                if let Err(error) = self.sync.announce(now, session) {
                    // Meta cannot learn of it now: end it here, nobody was told its id.
                    let _ended = self.registry.sign_out(now, session.get());
                    self.reply(
                        connection,
                        Reply::AuthenticateFailed {
                            code: E_SESSION_INVALID,
                            message: error.to_string(),
                        },
                    );
                    return;
                }
                self.waiting.registrations.insert(session, connection);
                self.outputs
                    .push_back(Output::Event(Event::SessionCreated { session, connection }));
            }
            Err(error) => self.reply(
                connection,
                Reply::AuthenticateFailed { code: error.code(), message: error.to_string() },
            ),
        }
    }

    /// An execute of a session not held here asks meta for it and is answered once it is
    /// picked up (or meta says it does not exist).
    pub(crate) fn execute_or_pick_up(
        &mut self,
        now: u64,
        connection: ConnectionId,
        session_id: i64,
        statement: Statement,
        table: &mut RoleTable,
    ) {
        let Some(session) = SessionId::new(session_id) else {
            return self.execute(now, connection, session_id, statement, table);
        };
        if self.registry.session_stats(session_id).is_some() {
            if self.awaits_confirmation(session) {
                return self.wait_for_confirmation(connection, session, statement);
            }
            return self.execute(now, connection, session_id, statement, table);
        }
        if self.waiting_full() {
            return self.refuse_busy(connection);
        }
        let waiting_here = self.waiting.pick_ups.get(&session).map_or(0, Vec::len);
        if waiting_here >= self.settings.waiting_requests_per_connection_max as usize {
            return self.refuse_busy(connection);
        }
        if let Err(error) = self.sync.pick_up(now, session) {
            let reply = Reply::ExecuteFailed {
                code: E_EXECUTION_ERROR,
                message: error.to_string(),
                space_name: String::new(),
            };
            return self.reply(connection, reply);
        }
        self.waiting.pick_ups.entry(session).or_default().push((connection, statement));
        self.outputs.push_back(Output::Event(Event::PickUpAsked { session }));
    }

    /// An execute of a session restored from a snapshot waits until meta confirms the session
    /// live (`run_confirmed`), within the same limits as a pick-up's.
    fn wait_for_confirmation(
        &mut self,
        connection: ConnectionId,
        session: SessionId,
        statement: Statement,
    ) {
        let waiting_here = self.waiting.confirmations.get(&session).map_or(0, Vec::len);
        if self.waiting_full()
            || waiting_here >= self.settings.waiting_requests_per_connection_max as usize
        {
            return self.refuse_busy(connection);
        }
        self.waiting.confirmations.entry(session).or_default().push((connection, statement));
    }

    /// An execute of a session held here (or of an id no session can have: the registry
    /// answers -1002). USE and the other session statements run here; a user query goes to the
    /// host's executor.
    pub(crate) fn execute(
        &mut self,
        now: u64,
        connection: ConnectionId,
        session_id: i64,
        statement: Statement,
        table: &mut RoleTable,
    ) {
        self.registry_changed = true;
        let text = match statement {
            Statement::Session(SessionStatement::Use { space }) => {
                let reply = match self.registry.use_space(now, session_id, &space, table) {
                    Ok(()) => Reply::Executed { space_name: space, data: None, plan_id: None },
                    Err(error) => {
                        let space = SessionId::new(session_id)
                            .map(|session| self.space_of(session))
                            .unwrap_or_default();
                        error_reply(&error, space)
                    }
                };
                return self.reply(connection, reply);
            }
            Statement::Session(statement) => {
                return self.session_statement(now, connection, session_id, statement, table);
            }
            Statement::Query { text } => text,
        };
        match self.registry.begin_query(now, session_id, &text, table) {
            Ok(query) => {
                let key = QueryKey { session: query.session, plan: query.plan };
                self.running.insert(key, connection);
                self.outputs.push_back(Output::Run { connection, query, statement: text });
            }
            Err(error) => {
                let space = SessionId::new(session_id)
                    .map(|session| self.space_of(session))
                    .unwrap_or_default();
                self.reply(connection, error_reply(&error, space));
            }
        }
    }

    /// Sign-out: ended here if held here, removed at meta in any case (it may be held
    /// elsewhere). The connection's next requests wait for meta's acknowledgement.
    fn sign_out(&mut self, now: u64, connection: ConnectionId, session_id: i64) {
        // Meta's removal queue full: the session stays at meta until its idle expiry, and the
        // connection is not held (nothing would release it).
        let Some(session) = self.end_signed_out(now, session_id) else { return };
        self.waiting.sign_outs.insert(connection, (session, Vec::new()));
    }

    /// Ends `session_id` here and asks meta to remove it, holding no connection; the session
    /// if its removal is on its way to meta.
    fn end_signed_out(&mut self, now: u64, session_id: i64) -> Option<SessionId> {
        let session = SessionId::new(session_id)?;
        self.registry_changed = true;
        let _was_here = self.registry.sign_out(now, session_id);
        self.fail_pick_ups(session);
        self.fail_confirmations(session);
        self.sync.remove(now, session, RemoveReason::SignedOut).ok()?;
        Some(session)
    }

    /// The connection closed: whatever waited on it is dropped; a session created for it whose
    /// id nobody was told yet is signed out, since no client can ever name it.
    pub(crate) fn connection_closed(&mut self, now: u64, connection: ConnectionId) {
        let queued = self.waiting.sign_outs.remove(&connection).map(|(_, queued)| queued);
        for waiting in
            self.waiting.pick_ups.values_mut().chain(self.waiting.confirmations.values_mut())
        {
            waiting.retain(|(waiting_on, _)| *waiting_on != connection);
        }
        self.waiting.pick_ups.retain(|_, waiting| !waiting.is_empty());
        self.waiting.confirmations.retain(|_, waiting| !waiting.is_empty());
        // A sign-out queued behind another was read: its client may hold the proof already (a
        // request past the queue is answered at once), so it still ends its session.
        for request in queued.unwrap_or_default() {
            if let Request::SignOut { session_id } = request {
                let _removing = self.end_signed_out(now, session_id);
            }
        }
        // A statement waiting on meta runs as a query of its session: it ends here, or the
        // session would count a running query forever (and never idle).
        let statements = self.waiting.take_statements(|waiting_on, _| waiting_on == connection);
        for (_, statement) in statements {
            let key = statement.query;
            self.registry_changed = true;
            let _outcome =
                self.registry.fail_query(now, key.session, key.plan, "Connection closed");
        }
        let orphans: Vec<SessionId> = (self.waiting.registrations.iter())
            .filter(|(_, waiting_on)| **waiting_on == connection)
            .map(|(session, _)| *session)
            .collect();
        for session in orphans {
            self.waiting.registrations.remove(&session);
            self.registry_changed = true;
            let _was_here = self.registry.sign_out(now, session.get());
            let _full = self.sync.remove(now, session, RemoveReason::SignedOut);
        }
    }

    pub(crate) fn waiting_full(&self) -> bool {
        self.waiting.connection_count() >= self.settings.waiting_connections_max as usize
    }

    fn refuse_busy(&mut self, connection: ConnectionId) {
        let reply = Reply::ExecuteFailed {
            code: E_EXECUTION_ERROR,
            message: BUSY.to_owned(),
            space_name: String::new(),
        };
        self.reply(connection, reply);
    }

    /// A request past the queue of a connection held behind its sign-out: refused with a reply
    /// of the request's own kind (a client reads an authenticate's answer as one); a sign-out
    /// gets none, as always, and is not lost: its session ends here and at meta without
    /// holding the connection again (the reply to a later request may already have told its
    /// client that the server read it).
    fn refuse_queued(&mut self, now: u64, connection: ConnectionId, request: &Request) {
        let reply = match request {
            Request::VerifyClientVersion { .. } => {
                Reply::ClientVersion { code: E_EXECUTION_ERROR, message: BUSY.to_owned() }
            }
            Request::Authenticate { .. } => busy_auth(),
            Request::Execute { session_id, .. } => Reply::ExecuteFailed {
                code: E_EXECUTION_ERROR,
                message: BUSY.to_owned(),
                space_name: self.registry.session_space(*session_id).unwrap_or_default(),
            },
            Request::SignOut { session_id } => {
                let _removing = self.end_signed_out(now, *session_id);
                return;
            }
        };
        self.reply(connection, reply);
    }
}

fn busy_auth() -> Reply {
    Reply::AuthenticateFailed {
        code: E_SESSION_INVALID,
        message: "Create session failed: too many requests wait for the meta service".to_owned(),
    }
}
