//! [`GraphNode`]: the state one graph node keeps besides its registry and its sync, and the
//! machine's inputs and outputs. Requests are handled in `requests.rs`, session statements in
//! `statements.rs`, what meta and the registry report in `events.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use graphsession_id_gen::{PlanIdGenerator, SessionId};
use graphsession_permission::{Caller, RoleTable};
use graphsession_query_plan::{Kill, KillOutcome, KillTarget, QueryKey, QueryOutcome};

use crate::client::ConnectionId;
use crate::cluster::{Answer, NodeId, NodeSync, QueryKill, RemoveReason, ServerRegistry};
use crate::node::config::Config;
use crate::node::error::{CommandError, NodeStartError};
use crate::node::output::Output;
use crate::node::reply::{DataSet, Reply};
use crate::node::request::Request;
use crate::server::{Capture, RestoreParts, ServerError, SessionManager, Snapshot};

/// One graph node, sans-I/O: its session registry ([`SessionManager`]), its cluster sync
/// ([`NodeSync`]) and every rule a host must follow between them and its connections.
///
/// # Call order
///
/// - Inputs: [`handle_request`](Self::handle_request) for each request read from a connection,
///   [`handle_connection_closed`](Self::handle_connection_closed) when one closes,
///   [`handle_answer`](Self::handle_answer) for each answer from meta, and
///   [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)'s time
///   has come (a spurious call is a no-op).
/// - Commands, from the host's executor and admin tools: [`finish_query`](Self::finish_query),
///   [`fail_query`](Self::fail_query), [`kill_sessions`](Self::kill_sessions),
///   [`kill_query`](Self::kill_query), [`use_space`](Self::use_space).
/// - Outputs: after every input or command, drain [`poll_output`](Self::poll_output) until
///   `None` and carry each out in order (see [`Output`]); then read `poll_timeout` again.
///
/// `now` is the host's clock in Unix milliseconds, first argument of every input; one older than
/// a `now` already seen is clamped to it. The role table is meta's, passed to every input that
/// may read or change rights.
///
/// The registry is `&self` and `Sync` (executor threads may share it through
/// [`registry`](Self::registry)); this machine is `&mut self`, owned by the host's event loop.
#[derive(Debug)]
pub struct GraphNode {
    pub(crate) settings: Settings,
    pub(crate) registry: SessionManager,
    pub(crate) sync: NodeSync,
    /// The newest `now` seen.
    pub(crate) now_unix_ms: u64,
    pub(crate) waiting: Waiting,
    /// Queries handed to the host's executor, with the connection each answers on.
    pub(crate) running: BTreeMap<QueryKey, ConnectionId>,
    pub(crate) outputs: VecDeque<Output>,
    /// Sync rounds run.
    pub(crate) rounds: u64,
    /// Whether an input may have changed the registry since
    /// [`take_registry_changed`](Self::take_registry_changed) was last called.
    pub(crate) registry_changed: bool,
    /// Installs from meta the registry refused.
    pub(crate) installs_refused: u64,
}

/// The part of [`Config`] the node keeps after start.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) node_id: NodeId,
    pub(crate) client_versions: Vec<String>,
    pub(crate) peer_addrs: BTreeMap<NodeId, String>,
    pub(crate) waiting_requests_per_connection_max: u32,
    pub(crate) waiting_connections_max: u32,
}

/// Connections whose reply waits on meta.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    /// Authenticates waiting for meta's registration of their session.
    pub(crate) registrations: BTreeMap<SessionId, ConnectionId>,
    /// Executes of sessions not held here, waiting for their pick-up.
    pub(crate) pick_ups: BTreeMap<SessionId, Vec<(ConnectionId, crate::node::Statement)>>,
    /// Executes of sessions restored from a snapshot, waiting for meta to confirm them live
    /// ([`NodeSync::await_confirmation`]); they run, or fail as the registry says, once it has.
    pub(crate) confirmations: BTreeMap<SessionId, Vec<(ConnectionId, crate::node::Statement)>>,
    /// Connections whose client signed a session out: later requests wait until meta
    /// acknowledged the removal, so the reply that proves the sign-out was read also proves it
    /// is durable (a node crash before that resets the connection, and the client signs out
    /// again).
    pub(crate) sign_outs: BTreeMap<ConnectionId, (SessionId, Vec<Request>)>,
    /// SHOW SESSIONS statements waiting for meta's page.
    pub(crate) show_sessions: Waits<Statement>,
    /// SHOW SESSION statements of sessions not held here, waiting for meta's record.
    pub(crate) show_session: Waits<ShowSessionWait>,
    /// SHOW QUERIES statements waiting for the cluster's queries from meta.
    pub(crate) show_queries: Waits<ShowQueriesWait>,
    /// KILL SESSION statements waiting for meta's removals of sessions held elsewhere.
    pub(crate) kill_sessions: Waits<KillSessionsWait>,
    /// KILL QUERY statements forwarded to meta.
    pub(crate) kill_queries: Waits<Statement>,
}

/// Session statements waiting on meta, by connection and the statement's own query: a
/// connection may have several waiting at once (a host that reads the next request before it
/// wrote the last reply), and each is answered; none replaces another.
pub(crate) type Waits<W> = BTreeMap<(ConnectionId, QueryKey), W>;

/// A session statement that runs as a query while it waits on meta.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Statement {
    pub(crate) query: QueryKey,
    /// For KILL QUERY: the query to kill.
    pub(crate) target: Option<QueryKey>,
    /// When its query times out, Unix ms: it is answered then if meta has not answered.
    pub(crate) deadline_ms: Option<u64>,
}

/// A SHOW QUERIES waiting for meta, with its caller: the rows it may see (fix 7, see
/// docs/fixes.md) are chosen when they arrive.
#[derive(Debug)]
pub(crate) struct ShowQueriesWait {
    pub(crate) statement: Statement,
    pub(crate) caller: graphsession_permission::Caller,
}

/// A SHOW SESSION of a session not held here, waiting for meta's record of it.
#[derive(Debug)]
pub(crate) struct ShowSessionWait {
    pub(crate) statement: Statement,
    pub(crate) session: SessionId,
}

/// A KILL SESSION waiting for meta.
#[derive(Debug)]
pub(crate) struct KillSessionsWait {
    pub(crate) statement: Statement,
    pub(crate) remaining: BTreeSet<SessionId>,
    pub(crate) killed: u32,
}

impl Waiting {
    /// Takes out every statement waiting on meta that `picked` picks (by its connection and
    /// itself), with its connection, in (connection, query) order per kind.
    pub(crate) fn take_statements(
        &mut self,
        picked: impl Fn(ConnectionId, &Statement) -> bool,
    ) -> Vec<(ConnectionId, Statement)> {
        let mut taken = take(&mut self.show_sessions, |s| s, &picked);
        taken.extend(take(&mut self.show_session, |w| &w.statement, &picked));
        taken.extend(take(&mut self.show_queries, |w| &w.statement, &picked));
        taken.extend(take(&mut self.kill_sessions, |w| &w.statement, &picked));
        taken.extend(take(&mut self.kill_queries, |s| s, &picked));
        taken
    }

    /// The queries of every statement waiting on meta.
    pub(crate) fn statement_queries(&self) -> impl Iterator<Item = QueryKey> + '_ {
        let keys = self.show_sessions.keys().chain(self.kill_queries.keys());
        let keys = keys.chain(self.show_queries.keys()).chain(self.kill_sessions.keys());
        let keys = keys.chain(self.show_session.keys());
        keys.map(|(_, query)| *query)
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.registrations.len()
            + self.pick_ups.values().map(Vec::len).sum::<usize>()
            + self.confirmations.values().map(Vec::len).sum::<usize>()
            + self.sign_outs.len()
            + self.show_sessions.len()
            + self.show_session.len()
            + self.show_queries.len()
            + self.kill_sessions.len()
            + self.kill_queries.len()
    }
}

/// What [`GraphNode::kill_query`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillQueryOutcome {
    /// The session is held here: the kill was decided here.
    Local(KillOutcome),
    /// The session is not held here: meta records the kill and the node running the query
    /// applies it at its next sync.
    Forwarded,
}

/// The parts a node is built from besides its [`Config`].
#[derive(Debug)]
pub struct Parts {
    /// The leased session-id generator.
    /// Any [`SessionIdSource`](graphsession_id_gen::SessionIdSource); production uses a leased
    /// [`SessionIdGenerator`](graphsession_id_gen::SessionIdGenerator).
    pub session_ids: Box<dyn graphsession_id_gen::SessionIdSource>,
    /// The leased plan-id generator.
    pub plan_ids: PlanIdGenerator,
}

impl GraphNode {
    /// A node process started at `now_unix_ms` with an empty registry.
    pub fn new(
        config: Config,
        parts: Parts,
        now_unix_ms: u64,
    ) -> Result<GraphNode, NodeStartError> {
        let server = config.server.clone();
        let registry = SessionManager::build_boxed(server, parts.session_ids, parts.plan_ids)?;
        GraphNode::assemble(config, registry, now_unix_ms)
    }

    /// A node process started at `now_unix_ms` with its registry restored from `snapshot` (the
    /// bytes of [`Snapshot::to_bytes`]); the sync starts fresh and reconciles with meta. A
    /// request of a restored session waits until meta confirms the session live (or it is
    /// answered "Session not existed" once meta says it is gone): the snapshot may predate a
    /// KILL SESSION, and a killed session must not serve again
    /// ([`NodeSync::await_confirmation`]).
    pub fn restore(
        config: Config,
        parts: Parts,
        snapshot: &[u8],
        table: &RoleTable,
        now_unix_ms: u64,
    ) -> Result<GraphNode, NodeStartError> {
        let restore = RestoreParts {
            config: config.server.clone(),
            session_ids: parts.session_ids,
            plan_ids: parts.plan_ids,
            table,
        };
        let registry = SessionManager::restore(snapshot, restore)?;
        let mut node = GraphNode::assemble(config, registry, now_unix_ms)?;
        let restored = node.registry.cluster_sessions().into_iter().map(|view| view.session);
        node.sync.await_confirmation(restored.collect::<Vec<_>>());
        Ok(node)
    }

    fn assemble(
        config: Config,
        registry: SessionManager,
        now_unix_ms: u64,
    ) -> Result<GraphNode, NodeStartError> {
        let sync = NodeSync::new(config.sync, config.incarnation, now_unix_ms)?;
        Ok(GraphNode {
            settings: Settings {
                node_id: config.node_id,
                client_versions: config.client_versions,
                peer_addrs: config.peer_addrs,
                waiting_requests_per_connection_max: config.waiting_requests_per_connection_max,
                waiting_connections_max: config.waiting_connections_max,
            },
            registry,
            sync,
            now_unix_ms,
            waiting: Waiting::default(),
            running: BTreeMap::new(),
            outputs: VecDeque::new(),
            rounds: 0,
            registry_changed: true,
            installs_refused: 0,
        })
    }

    // ---- inputs

    /// A request arrives on `connection`.
    pub fn handle_request(
        &mut self,
        now_unix_ms: u64,
        connection: ConnectionId,
        request: Request,
        table: &mut RoleTable,
    ) {
        let now = self.observe(now_unix_ms);
        self.request(now, connection, request, table);
        self.service(now, table);
    }

    /// `connection` closed. A session created for it that nobody was told of yet is signed out
    /// (no client can ever name it); requests waiting on it are dropped.
    pub fn handle_connection_closed(
        &mut self,
        now_unix_ms: u64,
        connection: ConnectionId,
        table: &mut RoleTable,
    ) {
        let now = self.observe(now_unix_ms);
        self.connection_closed(now, connection);
        self.service(now, table);
    }

    /// Meta's answer to this node's request arrives.
    pub fn handle_answer(&mut self, now_unix_ms: u64, answer: Answer, table: &mut RoleTable) {
        let now = self.observe(now_unix_ms);
        let mut registry = ServerRegistry::new(now, &self.registry, table);
        self.sync.handle_answer(now, answer, &mut registry);
        let refused = registry.installs_refused();
        // Only an answer that installed, ended or changed a session here (or killed a query)
        // changed the registry; what `service` does next flags its own changes.
        self.registry_changed |= registry.changed();
        self.installs_refused = self.installs_refused.saturating_add(u64::from(refused));
        self.service(now, table);
    }

    /// The time [`poll_timeout`](Self::poll_timeout) named has come: kills the queries whose
    /// deadline passed (their executors see the kill at their next check, and their replies are
    /// -1005 [`QUERY_TIMED_OUT`](crate::server::QUERY_TIMED_OUT)), runs the idle checks and the
    /// sync round if due.
    pub fn handle_timeout(&mut self, now_unix_ms: u64, table: &mut RoleTable) {
        let now = self.observe(now_unix_ms);
        self.service(now, table);
    }

    // ---- commands

    /// The executor returned from the query `key` with `data`: the reply goes out (a kill that
    /// won before it returned is answered as NebulaGraph does, -1005 "Execution had been
    /// killed"; a timeout's with [`QUERY_TIMED_OUT`](crate::server::QUERY_TIMED_OUT)).
    pub fn finish_query(
        &mut self,
        now_unix_ms: u64,
        key: QueryKey,
        data: Option<DataSet>,
        table: &mut RoleTable,
    ) {
        let now = self.observe(now_unix_ms);
        let Some(connection) = self.running.remove(&key) else { return };
        self.registry_changed = true;
        let result = self.registry.finish_query(now, key.session, key.plan);
        let reply = self.query_reply(key, result, data);
        self.reply(connection, reply);
        self.service(now, table);
    }

    /// The executor failed the query `key` with NebulaGraph's `code` and `message`.
    pub fn fail_query(
        &mut self,
        now_unix_ms: u64,
        key: QueryKey,
        code: i32,
        message: &str,
        table: &mut RoleTable,
    ) {
        let now = self.observe(now_unix_ms);
        let Some(connection) = self.running.remove(&key) else { return };
        self.registry_changed = true;
        let space = self.space_of(key.session);
        let reply = match self.registry.fail_query(now, key.session, key.plan, message) {
            Ok(QueryOutcome::Killed(kill)) => killed_reply(&kill, space),
            Ok(_) => Reply::ExecuteFailed { code, message: message.to_owned(), space_name: space },
            Err(error) => error_reply(&error, space),
        };
        self.reply(connection, reply);
        self.service(now, table);
    }

    /// KILL SESSION by `caller` (GOD only): ends each listed session held here and removes
    /// every listed session at meta, which ends it on the node that holds it at that node's next
    /// sync. Returns how many were ended here.
    pub fn kill_sessions(
        &mut self,
        now_unix_ms: u64,
        caller: &Caller,
        session_ids: &[i64],
        table: &mut RoleTable,
    ) -> Result<u32, CommandError> {
        let now = self.observe(now_unix_ms);
        let killed = self.kill_sessions_here(now, caller, session_ids)?;
        self.service(now, table);
        Ok(killed)
    }

    /// KILL QUERY of `target` by `caller`, whose session is `current_session`: decided here if
    /// the target's session is held here, else forwarded to meta.
    pub fn kill_query(
        &mut self,
        now_unix_ms: u64,
        caller: &Caller,
        current_session: SessionId,
        target: KillTarget,
        table: &mut RoleTable,
    ) -> Result<KillQueryOutcome, CommandError> {
        let now = self.observe(now_unix_ms);
        let outcome = self.kill_query_here(now, caller, current_session, target);
        self.service(now, table);
        outcome
    }

    /// USE `space` in session `session_id` (a command for admin tools; clients send
    /// [`SessionStatement::Use`](crate::node::SessionStatement::Use)). A session restored from
    /// a snapshot that meta has not confirmed yet is not found here (-1002): meta may have
    /// ended it since the snapshot ([`GraphNode::restore`]).
    pub fn use_space(
        &mut self,
        now_unix_ms: u64,
        session_id: i64,
        space: &str,
        table: &mut RoleTable,
    ) -> Result<(), ServerError> {
        let now = self.observe(now_unix_ms);
        self.registry_changed = true;
        let unconfirmed = SessionId::new(session_id).is_some_and(|id| self.awaits_confirmation(id));
        let result = if unconfirmed {
            Err(ServerError::SessionNotFound { session: session_id })
        } else {
            self.registry.use_space(now, session_id, space, table)
        };
        self.service(now, table);
        result
    }

    // ---- outputs

    /// The next effect for the host, oldest first.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next, Unix milliseconds: the
    /// sync round, the registry's idle check or the earliest query deadline, whichever comes
    /// first.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let timers = [
            self.sync.poll_timeout(),
            self.registry.poll_timeout(),
            self.registry.poll_query_timeout(),
        ];
        timers.into_iter().flatten().min()
    }

    // ---- getters

    /// The node's session registry (read-only; executor threads may share it).
    pub fn registry(&self) -> &SessionManager {
        &self.registry
    }

    /// The node's cluster sync.
    pub fn sync(&self) -> &NodeSync {
        &self.sync
    }

    /// The node's id at meta.
    pub fn node_id(&self) -> NodeId {
        self.settings.node_id
    }

    /// Replaces the other nodes' `host:port` that SHOW SESSIONS shows for the sessions they own
    /// (a host whose peers come and go, such as graphd processes sharing meta in etcd, passes
    /// every address it learns); a node not in `peer_addrs` shows as `node-N`.
    pub fn set_peer_addrs(&mut self, peer_addrs: BTreeMap<NodeId, String>) {
        self.settings.peer_addrs = peer_addrs;
    }

    /// Sync rounds this process ran (a host that persists snapshots periodically counts them).
    pub fn sync_rounds(&self) -> u64 {
        self.rounds
    }

    /// A snapshot of the registry, to persist.
    pub fn snapshot(&self) -> Snapshot {
        self.registry.snapshot()
    }

    /// The registry at this instant, to make a snapshot of later and elsewhere
    /// ([`Capture::into_snapshot`]): what a host that must not stop long captures.
    pub fn capture(&self) -> Capture {
        self.registry.capture()
    }

    /// Authenticates waiting for meta's registration.
    pub fn registrations_waiting(&self) -> usize {
        self.waiting.registrations.len()
    }

    /// Queries handed to the executor that have not returned.
    pub fn queries_running(&self) -> impl Iterator<Item = QueryKey> + '_ {
        self.running.keys().copied()
    }

    /// Installs from meta the registry refused (its `sessions_max`, a user the role table no
    /// longer knows): each such session is released at meta at the next round.
    pub fn installs_refused(&self) -> u64 {
        self.installs_refused
    }

    /// Whether an input may have changed the registry since the last call (a host that checks
    /// invariants only after inputs that may break them reads this).
    pub fn take_registry_changed(&mut self) -> bool {
        std::mem::take(&mut self.registry_changed)
    }

    // ---- shared steps

    pub(crate) fn observe(&mut self, now_unix_ms: u64) -> u64 {
        self.now_unix_ms = self.now_unix_ms.max(now_unix_ms);
        self.now_unix_ms
    }

    pub(crate) fn reply(&mut self, connection: ConnectionId, reply: Reply) {
        self.outputs.push_back(Output::Reply { connection, reply });
    }

    /// After every input: the registry's idle check and the sync round if due, the round's
    /// request, then what meta and the registry reported.
    ///
    /// The idle check ends a session here only as a local eviction (never a removal at meta):
    /// the next round releases this node's hold, and meta ends the session only if no holder saw
    /// it active within the idle timeout (docs/fixes.md, "NebulaGraph issue 5094"). A later
    /// request for it here picks it up again. It bounds what a node cut from meta keeps.
    pub(crate) fn service(&mut self, now: u64, table: &mut RoleTable) {
        // An authenticate waiting for meta is a request in progress: its session is not idle
        // (NebulaGraph resets the idle timer when a request starts and when it ends).
        for session in self.waiting.registrations.keys() {
            self.registry_changed = true;
            let _gone = self.registry.touch(now, session.get());
        }
        if self.registry.poll_query_timeout().is_some_and(|at| at <= now) {
            self.registry_changed = true;
            if self.registry.handle_query_timeouts(now) > 0 {
                self.answer_timed_out_statements(now);
            }
        }
        if self.registry.poll_timeout().is_some_and(|at| at <= now) {
            self.registry_changed = true;
            let _expired = self.registry.handle_timeout(now);
        }
        // Applying meta's answer may make new work urgent (a request released from behind a
        // sign-out needs a pick-up): one more pass sends it now, not at the next timer. Two
        // passes suffice: a round's request stays in flight until its answer.
        for _ in 0..2 {
            if self.sync.poll_timeout().is_some_and(|at| at <= now) {
                let registry = ServerRegistry::new(now, &self.registry, table);
                self.sync.handle_timeout(now, &registry);
                self.rounds += 1;
            }
            if let Some(request) = self.sync.poll_request() {
                self.outputs.push_back(Output::ToMeta(request));
            }
            self.apply_sync_events(now, table);
            self.apply_registry_events();
            if self.sync.poll_timeout().is_none_or(|at| at > now) {
                break;
            }
        }
        self.run_confirmed(now, table);
    }

    /// Runs the executes that waited for meta's confirmation of a restored session that is now
    /// confirmed, or no longer held here (evicted by the idle timer before meta answered: then
    /// they ask meta for it as any execute of a session not held here does). Those of a session
    /// meta said is gone, or signed out here, were answered then (`fail_confirmations`).
    fn run_confirmed(&mut self, now: u64, table: &mut RoleTable) {
        if self.waiting.confirmations.is_empty() {
            return;
        }
        let settled: Vec<SessionId> = (self.waiting.confirmations.keys())
            .filter(|&&session| !self.awaits_confirmation(session))
            .copied()
            .collect();
        for session in settled {
            for (connection, statement) in
                self.waiting.confirmations.remove(&session).unwrap_or_default()
            {
                self.execute_or_pick_up(now, connection, session.get(), statement, table);
            }
        }
    }

    /// Answers the executes waiting for meta's confirmation of `session`, which meta said is
    /// gone or which was signed out or killed here: "Session not existed", as for a failed
    /// pick-up.
    pub(crate) fn fail_confirmations(&mut self, session: SessionId) {
        for (connection, _) in self.waiting.confirmations.remove(&session).unwrap_or_default() {
            self.reply(connection, session_not_existed(session));
        }
    }

    /// Whether `session` is held here, restored from a snapshot, and not confirmed by meta yet.
    pub(crate) fn awaits_confirmation(&self, session: SessionId) -> bool {
        !self.sync.is_confirmed(session) && self.registry.session_stats(session.get()).is_some()
    }

    /// The current space of `session` here, "" when none or not held.
    pub(crate) fn space_of(&self, session: SessionId) -> String {
        self.registry.session_space(session.get()).unwrap_or_default()
    }

    pub(crate) fn query_reply(
        &self,
        key: QueryKey,
        result: Result<QueryOutcome, ServerError>,
        data: Option<DataSet>,
    ) -> Reply {
        let space = self.space_of(key.session);
        match result {
            Ok(QueryOutcome::Killed(kill)) => killed_reply(&kill, space),
            Ok(_) => Reply::Executed { space_name: space, data, plan_id: Some(key.plan.get()) },
            Err(error) => error_reply(&error, space),
        }
    }

    pub(crate) fn kill_sessions_here(
        &mut self,
        now: u64,
        caller: &Caller,
        session_ids: &[i64],
    ) -> Result<u32, CommandError> {
        self.registry_changed = true;
        let killed = self.registry.kill_sessions(now, caller, session_ids)?;
        for &session_id in session_ids {
            let Some(session) = SessionId::new(session_id) else { continue };
            // A full removal queue refuses only new ids; this one is retried by the admin.
            let _full = self.sync.remove(now, session, RemoveReason::Killed);
            self.fail_pick_ups(session);
            self.fail_confirmations(session);
        }
        Ok(killed)
    }

    /// Executes waiting for the pick-up of `session`, which this node is removing at meta (the
    /// sync drops the pick-up with it, so meta's answer never comes): answered as meta would,
    /// the session does not exist.
    pub(crate) fn fail_pick_ups(&mut self, session: SessionId) {
        for (connection, _) in self.waiting.pick_ups.remove(&session).unwrap_or_default() {
            self.reply(connection, session_not_existed(session));
        }
    }

    pub(crate) fn kill_query_here(
        &mut self,
        now: u64,
        caller: &Caller,
        current_session: SessionId,
        target: KillTarget,
    ) -> Result<KillQueryOutcome, CommandError> {
        let session = match target {
            KillTarget::CurrentSession { .. } => current_session,
            KillTarget::Session { session, .. } => session,
        };
        if let (KillTarget::Session { plan, .. }, None) =
            (target, self.registry.session_stats(session.get()))
        {
            let kill = QueryKill {
                key: QueryKey { session, plan },
                caller_user: caller.user().to_owned(),
                caller_is_god: caller.is_god(),
            };
            self.sync.kill_query(now, kill)?;
            return Ok(KillQueryOutcome::Forwarded);
        }
        self.registry_changed = true;
        Ok(self
            .registry
            .kill_query(caller, current_session, target)
            .map(KillQueryOutcome::Local)?)
    }
}

/// Why a request was refused while `waiting_connections_max` connections wait on meta.
pub(crate) const BUSY: &str = "Too many requests wait for the meta service; try again";

/// NebulaGraph's answer to an execute of a session meta does not have.
pub(crate) fn session_not_existed(session: SessionId) -> Reply {
    Reply::ExecuteFailed {
        code: crate::client::E_SESSION_INVALID,
        message: format!(
            "Get sessionId[{session}] failed: Session `{session}' not found: Session not existed!"
        ),
        space_name: String::new(),
    }
}

/// NebulaGraph's answer to a query whose kill won; a timeout says so after a colon.
pub(crate) fn killed_reply(kill: &Kill, space_name: String) -> Reply {
    let message = match kill {
        Kill::Timeout { .. } => crate::server::QUERY_TIMED_OUT,
        Kill::ByUser { .. } | Kill::SessionKilled | Kill::SessionExpired => {
            "Execution had been killed"
        }
    };
    Reply::ExecuteFailed {
        code: crate::client::E_EXECUTION_ERROR,
        message: message.to_owned(),
        space_name,
    }
}

pub(crate) fn error_reply(error: &ServerError, space_name: String) -> Reply {
    Reply::ExecuteFailed { code: error.code(), message: error.to_string(), space_name }
}

/// Takes out of `waits` the entries whose statement (`statement_of`) `picked` picks.
fn take<W>(
    waits: &mut Waits<W>,
    statement_of: impl Fn(&W) -> &Statement,
    picked: &impl Fn(ConnectionId, &Statement) -> bool,
) -> Vec<(ConnectionId, Statement)> {
    let keys: Vec<(ConnectionId, QueryKey)> = (waits.iter())
        .filter(|((connection, _), wait)| picked(*connection, statement_of(wait)))
        .map(|(key, _)| *key)
        .collect();
    (keys.into_iter())
        .filter_map(|key| waits.remove(&key).map(|wait| (key.0, *statement_of(&wait))))
        .collect()
}
