//! A simulated graph node: the real [`SessionManager`] and [`NodeSync`], and the glue a graph
//! server would have: client requests become registry calls, registry results become wire
//! responses, and an authenticate is answered only once meta has registered the session.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::client::{ConnectionId, E_SESSION_INVALID, Request, Response};
use graphsession_core::cluster::{
    Answer, GoneReason, LocalSessions, NodeConfig, NodeEvent, NodeId, NodeSync, RemoveReason,
    Request as SyncRequest, ServerRegistry, SessionRecord, SessionReport,
};
use graphsession_core::server::{
    Change, Config, EndReason, Event, Login, PasswordCheck, RestoreParts, SessionManager, Snapshot,
};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
    SessionLease,
};
use graphsession_permission::{Policy, RoleTable};
use graphsession_query_plan::{QueryHandle, QueryKey, QueryOutcome};

use crate::chooser::Chooser;
use crate::world::config::ClusterConfig;

const SEAL_KEY: SealKey = SealKey::from_bytes(*b"sim-cluster-keys");

/// The first process's session-id lease starts at 0 and ends here; each restart leases the next
/// [`SESSION_LEASE_MS`]. Far above any time a run reaches, below the id layout's last time.
const LEASE_BASE_UNIX_MS: u64 = 1_800_000_000_000;
/// The length of one process's session-id lease.
const SESSION_LEASE_MS: u64 = 1_000_000_000;

/// A node that keeps snapshots writes one every this many sync rounds (a periodic persister, so
/// a restore is usually a little behind).
pub const SNAPSHOT_EVERY_ROUNDS: u64 = 4;

/// The client ip every simulated client has (they share a host).
pub const CLIENT_IP: &str = "10.0.0.1";

/// Counters of one node.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeCounters {
    /// Sessions created by login.
    pub created: u64,
    /// Sessions ended by sign-out.
    pub signed_out: u64,
    /// Sessions ended by (meta's) idle expiry.
    pub expired: u64,
    /// Sessions ended for any other reason.
    pub ended_other: u64,
    /// Statements run.
    pub queries: u64,
    /// Pick-ups asked of meta (a client came over from another node).
    pub pick_ups: u64,
    /// Long queries started.
    pub long_queries: u64,
    /// Long queries whose executor stopped at a kill.
    pub long_queries_killed: u64,
    /// USE statements clients sent.
    pub uses: u64,
}

/// What a node does with a client request.
#[derive(Debug)]
pub enum Handled {
    /// Write this reply on the socket.
    Reply(Response),
    /// Nothing to write (sign-out), or the reply waits for a pick-up from meta.
    Nothing,
    /// A session was created; the reply waits for meta's registration.
    Created(SessionId),
}

/// A long query the node's executor runs: answered when it finishes, or when its executor sees
/// the kill at its next check.
pub struct RunningQuery {
    /// Its (session, plan) pair.
    pub key: QueryKey,
    /// The handle the executor checks.
    pub handle: QueryHandle,
    /// The socket to answer on.
    pub connection: ConnectionId,
    /// When the executor returns if not killed.
    pub finish_at_ms: u64,
}

/// One graph node.
pub struct SimNode {
    /// The node's id at meta (its id-gen slot).
    pub id: NodeId,
    /// The process number: grows with every restart.
    pub incarnation: u64,
    /// The node's session registry: read through [`registry`](Self::registry); every call that
    /// may change it goes through [`registry_input`](Self::registry_input), so the world knows
    /// to check its invariants.
    sessions: SessionManager,
    /// Whether the registry took an input since the world last checked its invariants (a new
    /// registry counts as changed).
    registry_touched: bool,
    /// The node's cluster sync.
    pub sync: NodeSync,
    /// Authenticates waiting for meta's registration: session -> socket to answer on.
    pending_auth: BTreeMap<SessionId, ConnectionId>,
    /// Executes of sessions not held here, waiting for their pick-up: socket and statement.
    pending_pick_up: BTreeMap<SessionId, Vec<(ConnectionId, String)>>,
    /// Sockets whose client signed a session out: later requests on them wait until meta
    /// acknowledged the removal, so the reply that proves the sign-out was read also proves it
    /// is durable (a node crash before that resets the socket and the client signs out again).
    after_sign_out: BTreeMap<ConnectionId, (SessionId, Vec<Request>)>,
    /// Sessions created by requests that waited behind a sign-out (for the world's id oracle).
    pub created_late: Vec<SessionId>,
    /// Counters.
    pub counters: NodeCounters,
    /// Every session that ended here: when, and whether by sign-out.
    pub ended: BTreeMap<SessionId, (u64, EndKind)>,
    /// Longest long query, milliseconds; 0: every query is short.
    long_query_ms_max: u64,
    /// Long queries the executor runs now.
    pub running: Vec<RunningQuery>,
    /// Every long query this node slot ever started (kept over restarts by the world).
    pub started: BTreeSet<QueryKey>,
    /// Query kills meta relayed to this node (`NodeEvent::QueryKilled`), not yet checked.
    pub query_kills_applied: Vec<QueryKey>,
    /// Long queries whose executor stopped at a kill, not yet checked for a cause.
    pub stopped: Vec<QueryKey>,
    /// Sessions that expired here, not yet seen by the world's coverage marks.
    pub recently_expired: Vec<SessionId>,
    /// The registry's last snapshot (taken every [`SNAPSHOT_EVERY_ROUNDS`] sync rounds), if the
    /// seed keeps them. A restart restores from its bytes ([`Snapshot::to_bytes`], a function
    /// of the snapshot alone), so they are written out when a restart reads them, not at every
    /// snapshot.
    pub snapshot: Option<Snapshot>,
    keep_snapshots: bool,
    /// Sync rounds run by this process.
    rounds: u64,
}

/// How a session ended, as far as the liveness oracle cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// Signed out by its client.
    SignedOut,
    /// Reclaimed after its idle timeout.
    Expired,
    /// Anything else.
    Other,
}

impl SimNode {
    /// Node `index` (slot `index + 1`), started at `now_ms`.
    /// Process `incarnation` (1, 2, ...) of node `index` (slot `index + 1`), started at `now_ms`.
    /// Each process leases the next range of its slot (the lease store's compare-and-set, which
    /// the id world tests, always wins here): session ids above the previous bound, plan counters
    /// above the previous one.
    pub fn new(
        index: u16,
        config: &ClusterConfig,
        now_ms: u64,
        incarnation: u64,
    ) -> Result<SimNode, String> {
        SimNode::start(index, config, now_ms, incarnation, None)
    }

    /// Like [`new`](SimNode::new), with the registry restored from `snapshot` (the bytes of
    /// [`SessionManager::snapshot`]); the sync starts fresh and reconciles with meta.
    pub fn restore(
        index: u16,
        config: &ClusterConfig,
        now_ms: u64,
        incarnation: u64,
        snapshot: (&[u8], &RoleTable),
    ) -> Result<SimNode, String> {
        SimNode::start(index, config, now_ms, incarnation, Some(snapshot))
    }

    fn start(
        index: u16,
        config: &ClusterConfig,
        now_ms: u64,
        incarnation: u64,
        snapshot: Option<(&[u8], &RoleTable)>,
    ) -> Result<SimNode, String> {
        let slot = index + 1;
        let generation = incarnation.max(1);
        let floor_unix_ms = match generation {
            1 => 0,
            _ => LEASE_BASE_UNIX_MS + (generation - 2) * SESSION_LEASE_MS,
        };
        let bound_unix_ms = LEASE_BASE_UNIX_MS + (generation - 1) * SESSION_LEASE_MS;
        let lease = SessionLease { slot, floor_unix_ms, bound_unix_ms };
        let ids = SessionIdGenerator::new(lease, SEAL_KEY, SessionIdConfig::default())
            .map_err(|error| format!("session id lease refused: {error}"))?;
        let plan_lease = PlanLease {
            slot,
            floor_counter: (generation - 1) << 30,
            bound_counter: generation << 30,
        };
        let plans = PlanIdGenerator::new(plan_lease)
            .map_err(|error| format!("plan id lease refused: {error}"))?;
        let server = Config {
            idle_timeout_ms: config.idle_timeout_ms,
            graph_addr: format!("graphd-{slot}:9669"),
            shard_count: 4,
            policy: Policy { authorization_enabled: config.authorization_enabled },
            ..Config::default()
        };
        let sessions = match snapshot {
            None => SessionManager::new(server, ids, plans)
                .map_err(|error| format!("server config refused: {error}"))?,
            Some((bytes, table)) => {
                let parts =
                    RestoreParts { config: server, session_ids: ids, plan_ids: plans, table };
                SessionManager::restore(bytes, parts)
                    .map_err(|error| format!("restore from snapshot refused: {error}"))?
            }
        };
        let sync_config = NodeConfig {
            sync_interval_ms: config.sync_interval_ms,
            idle_timeout_ms: config.idle_timeout_ms,
            request_timeout_ms: 4 * config.latency_max_ms + 100,
            retry_backoff_ms: 50,
            retry_backoff_max_ms: config.sync_interval_ms,
            ..NodeConfig::default()
        };
        let sync = NodeSync::new(sync_config, incarnation, now_ms)
            .map_err(|error| format!("sync config refused: {error}"))?;
        Ok(SimNode {
            id: NodeId(slot),
            incarnation,
            sessions,
            registry_touched: true,
            sync,
            pending_auth: BTreeMap::new(),
            pending_pick_up: BTreeMap::new(),
            after_sign_out: BTreeMap::new(),
            created_late: Vec::new(),
            counters: NodeCounters::default(),
            ended: BTreeMap::new(),
            long_query_ms_max: config.long_query_ms_max,
            running: Vec::new(),
            started: BTreeSet::new(),
            query_kills_applied: Vec::new(),
            stopped: Vec::new(),
            recently_expired: Vec::new(),
            snapshot: None,
            keep_snapshots: config.node_snapshots,
            rounds: 0,
        })
    }

    /// The registry, for queries (lookups, counts, views, snapshots), which change nothing.
    pub fn registry(&self) -> &SessionManager {
        &self.sessions
    }

    /// The registry, for a call that may change it (a login, a statement, a kill, an event
    /// drained): its invariants are checked after the step.
    pub fn registry_input(&mut self) -> &SessionManager {
        self.registry_touched = true;
        &self.sessions
    }

    /// Whether the registry took an input since the last call (for the world's invariant
    /// check after each step).
    pub fn take_registry_touched(&mut self) -> bool {
        std::mem::take(&mut self.registry_touched)
    }

    /// A client request arrives on `connection`.
    pub fn handle_request(
        &mut self,
        now_ms: u64,
        table: &RoleTable,
        connection: ConnectionId,
        request: Request,
        choose: &mut Chooser,
    ) -> Result<Handled, String> {
        if let Some((_, waiting)) = self.after_sign_out.get_mut(&connection) {
            waiting.push(request);
            return Ok(Handled::Nothing);
        }
        match request {
            Request::Authenticate { user, .. } => {
                let password = if table.contains_user(&user) {
                    PasswordCheck::Verified
                } else {
                    PasswordCheck::UnknownUser
                };
                let login = Login { user: &user, client_ip: CLIENT_IP, password };
                match self.registry_input().login(login, table, now_ms) {
                    Ok(session) => {
                        self.sync
                            .announce(now_ms, session)
                            .map_err(|error| format!("announce of {session} refused: {error}"))?;
                        self.pending_auth.insert(session, connection);
                        self.counters.created += 1;
                        Ok(Handled::Created(session))
                    }
                    Err(error) => Ok(Handled::Reply(Response::AuthenticateErr {
                        code: error.code(),
                        message: error.to_string(),
                    })),
                }
            }
            Request::Execute { session_id, statement } => {
                self.execute_or_pick_up(now_ms, table, connection, session_id, statement, choose)
            }
            Request::SignOut { session_id } => {
                // Ended here if held here; removed at meta in any case (it may be held elsewhere).
                let _was_here = self.registry_input().sign_out(session_id.get(), now_ms);
                self.pending_pick_up.remove(&session_id);
                self.sync
                    .remove(now_ms, session_id, RemoveReason::SignedOut)
                    .map_err(|error| format!("removal of {session_id} refused: {error}"))?;
                self.after_sign_out.insert(connection, (session_id, Vec::new()));
                Ok(Handled::Nothing)
            }
        }
    }

    /// Execute of a session not held here: ask meta for it and answer once it is picked up.
    fn execute_or_pick_up(
        &mut self,
        now_ms: u64,
        table: &RoleTable,
        connection: ConnectionId,
        session_id: i64,
        statement: String,
        choose: &mut Chooser,
    ) -> Result<Handled, String> {
        let Some(session) = SessionId::new(session_id) else {
            return Ok(self.execute(now_ms, table, connection, session_id, &statement, choose));
        };
        if self.sessions.session_stats(session_id).is_some() {
            return Ok(self.execute(now_ms, table, connection, session_id, &statement, choose));
        }
        self.sync
            .pick_up(now_ms, session)
            .map_err(|error| format!("pick-up of {session} refused: {error}"))?;
        self.pending_pick_up.entry(session).or_default().push((connection, statement));
        self.counters.pick_ups += 1;
        Ok(Handled::Nothing)
    }

    /// Execute: id 0 is the ping (-1002); otherwise a query, short (begun and finished at once)
    /// or long (answered when it finishes: [`finish_due`](Self::finish_due)).
    fn execute(
        &mut self,
        now_ms: u64,
        table: &RoleTable,
        connection: ConnectionId,
        session_id: i64,
        statement: &str,
        choose: &mut Chooser,
    ) -> Handled {
        if let Some(space) = statement.strip_prefix("USE `").and_then(|rest| rest.strip_suffix('`'))
        {
            // The client's USE: a statement the node glue routes to the registry.
            self.counters.uses += 1;
            let response = match self.registry_input().use_space(session_id, space, table, now_ms) {
                Ok(()) => Response::ExecuteOk { result: format!("space {space}") },
                Err(error) => {
                    Response::ExecuteErr { code: error.code(), message: error.to_string() }
                }
            };
            return Handled::Reply(response);
        }
        let query = match self.registry_input().begin_query(session_id, statement, table, now_ms) {
            Ok(query) => query,
            Err(error) => {
                let response =
                    Response::ExecuteErr { code: error.code(), message: error.to_string() };
                return Handled::Reply(response);
            }
        };
        self.counters.queries += 1;
        let key = QueryKey { session: query.session, plan: query.plan };
        if self.long_query_ms_max > 0 && choose.chance(1, 4) {
            let finish_at_ms = now_ms + choose.range(1, self.long_query_ms_max);
            self.running.push(RunningQuery { key, handle: query.handle, connection, finish_at_ms });
            self.started.insert(key);
            self.counters.long_queries += 1;
            return Handled::Nothing;
        }
        Handled::Reply(self.finish(now_ms, key))
    }

    /// The executor returned (or stopped at a check that saw a kill): the reply.
    fn finish(&mut self, now_ms: u64, key: QueryKey) -> Response {
        match self.registry_input().finish_query(key.session, key.plan, now_ms) {
            Ok(QueryOutcome::Killed(_)) => Response::ExecuteErr {
                code: graphsession_core::client::E_EXECUTION_ERROR,
                message: "Execution had been killed".to_owned(),
            },
            Ok(_) => Response::ExecuteOk { result: format!("ok {}", key.plan.get()) },
            Err(error) => Response::ExecuteErr { code: error.code(), message: error.to_string() },
        }
    }

    /// Runs the sync timer if due; returns the request to send to meta, if any.
    pub fn on_timer(&mut self, now_ms: u64, table: &RoleTable) -> Option<SyncRequest> {
        if self.sync.poll_timeout().is_some_and(|at| at <= now_ms) {
            let registry = ServerRegistry::new(&self.sessions, table, now_ms);
            self.sync.handle_timeout(now_ms, &registry);
            self.rounds += 1;
            if self.keep_snapshots && self.rounds % SNAPSHOT_EVERY_ROUNDS == 1 {
                self.snapshot = Some(self.sessions.snapshot());
            }
        }
        self.sync.poll_request()
    }

    /// Meta's answer arrives; returns installs the registry refused.
    pub fn handle_answer(&mut self, now_ms: u64, table: &RoleTable, answer: Answer) -> u32 {
        let mut registry =
            Noting { registry: ServerRegistry::new(&self.sessions, table, now_ms), changed: false };
        self.sync.handle_answer(now_ms, answer, &mut registry);
        self.registry_touched |= registry.changed;
        registry.registry.installs_refused()
    }

    /// Drains both machines' events; returns the replies now due (authenticates registered,
    /// executes whose session was picked up or is unknown to meta).
    pub fn drain_events(
        &mut self,
        now_ms: u64,
        table: &RoleTable,
        choose: &mut Chooser,
    ) -> Vec<(ConnectionId, Response)> {
        let mut replies = Vec::new();
        while let Some(event) = self.sync.poll_event() {
            match event {
                NodeEvent::Registered { session } => {
                    if let Some(connection) = self.pending_auth.remove(&session) {
                        // The authenticate request ends now: like any request's end, it resets
                        // the idle timer (else a slow registration eats the idle timeout).
                        let _gone = self.registry_input().touch(session.get(), now_ms);
                        replies.push((
                            connection,
                            Response::AuthenticateOk { session_id: session.get() },
                        ));
                    }
                }
                NodeEvent::PickedUp { session } => {
                    for (connection, statement) in
                        self.pending_pick_up.remove(&session).unwrap_or_default()
                    {
                        let handled = self.execute(
                            now_ms,
                            table,
                            connection,
                            session.get(),
                            &statement,
                            choose,
                        );
                        if let Handled::Reply(response) = handled {
                            replies.push((connection, response));
                        }
                    }
                }
                NodeEvent::PickUpFailed { session } => {
                    for (connection, _) in self.pending_pick_up.remove(&session).unwrap_or_default()
                    {
                        replies.push((
                            connection,
                            Response::ExecuteErr {
                                code: E_SESSION_INVALID,
                                message: format!(
                                    "Session `{session}' not found: Session not existed!"
                                ),
                            },
                        ));
                    }
                }
                NodeEvent::Gone { session, .. } => {
                    if let Some(connection) = self.pending_auth.remove(&session) {
                        replies.push((
                            connection,
                            Response::AuthenticateErr {
                                code: E_SESSION_INVALID,
                                message: format!("Create session failed: {session} refused"),
                            },
                        ));
                    }
                }
                NodeEvent::QueryKilled { key } => self.query_kills_applied.push(key),
                NodeEvent::Removed { session, .. } => {
                    let released: Vec<ConnectionId> = self
                        .after_sign_out
                        .iter()
                        .filter(|(_, (signed_out, _))| *signed_out == session)
                        .map(|(connection, _)| *connection)
                        .collect();
                    for connection in released {
                        let Some((_, waiting)) = self.after_sign_out.remove(&connection) else {
                            continue;
                        };
                        for request in waiting {
                            match self.handle_request(now_ms, table, connection, request, choose) {
                                Ok(Handled::Reply(response)) => {
                                    replies.push((connection, response))
                                }
                                Ok(Handled::Created(session)) => self.created_late.push(session),
                                Ok(Handled::Nothing) | Err(_) => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // Draining an event changes the registry (its queue); finding none changes nothing.
        while let Some(event) = self.sessions.poll_event() {
            self.registry_touched = true;
            if let Event::Session {
                change: Change::Ended { reason, .. },
                session,
                at_unix_ms,
                ..
            } = event
            {
                // A session ended before registration is never answered.
                self.pending_auth.remove(&session);
                let kind = match reason {
                    EndReason::SignedOut => {
                        self.counters.signed_out += 1;
                        EndKind::SignedOut
                    }
                    EndReason::Expired { .. } => {
                        self.counters.expired += 1;
                        self.recently_expired.push(session);
                        EndKind::Expired
                    }
                    _ => {
                        self.counters.ended_other += 1;
                        EndKind::Other
                    }
                };
                self.ended.insert(session, (at_unix_ms, kind));
            }
        }
        replies.extend(self.finish_due(now_ms));
        replies
    }

    /// Long queries whose executor returns now: due, or killed (the executor stops at its next
    /// check, which the simulator takes to be now).
    fn finish_due(&mut self, now_ms: u64) -> Vec<(ConnectionId, Response)> {
        let returns =
            |query: &RunningQuery| query.finish_at_ms <= now_ms || query.handle.check().is_err();
        // Most services of a node finish nothing: no lists rebuilt then.
        if !self.running.iter().any(returns) {
            return Vec::new();
        }
        let (done, running): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.running).into_iter().partition(returns);
        self.running = running;
        for query in &done {
            if query.handle.check().is_err() {
                self.stopped.push(query.key);
                self.counters.long_queries_killed += 1;
            }
        }
        done.into_iter().map(|query| (query.connection, self.finish(now_ms, query.key))).collect()
    }

    /// When the next long query returns if not killed.
    pub fn next_finish_ms(&self) -> Option<u64> {
        self.running.iter().map(|query| query.finish_at_ms).min()
    }

    /// Authenticates waiting for registration.
    pub fn pending_auth_count(&self) -> usize {
        self.pending_auth.len()
    }
}

/// The registry as cluster sync's [`LocalSessions`], noting whether sync called anything that
/// may change it (reading its sessions changes nothing).
struct Noting<'a> {
    registry: ServerRegistry<'a>,
    changed: bool,
}

impl LocalSessions for Noting<'_> {
    fn sessions(&self) -> Vec<SessionReport> {
        self.registry.sessions()
    }

    fn install(&mut self, record: &SessionRecord) {
        self.changed = true;
        self.registry.install(record);
    }

    fn adopt_space(&mut self, record: &SessionRecord) -> bool {
        self.changed = true;
        self.registry.adopt_space(record)
    }

    fn drop_session(&mut self, session: SessionId, reason: GoneReason) {
        self.changed = true;
        self.registry.drop_session(session, reason);
    }

    fn kill_query(&mut self, key: QueryKey) -> bool {
        self.changed = true;
        self.registry.kill_query(key)
    }
}
