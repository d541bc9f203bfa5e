//! A simulated graph node: the real [`GraphNode`] (registry, sync and every rule a graph server
//! follows), with what only the simulator keeps beside it: the executor of long queries, the
//! periodic snapshot persister, counters and the records its oracles read.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::client::{ConnectionId, Request, Response};
use graphsession_core::cluster::{Answer, NodeConfig, NodeId, NodeSync, Request as SyncRequest};
use graphsession_core::node::{
    self, Config as GraphConfig, Event as GraphEvent, GraphNode, Output, Parts, Reply,
    SessionStatement, Statement,
};
use graphsession_core::server::{
    CLIENT_IP_BYTES_MAX, Change, Config, EndReason, Event, PasswordCheck, QUERY_TIMEOUT_VARIABLE,
    SessionManager, Snapshot,
};
use graphsession_id_gen::{
    IdError, PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
    SessionIdSource, SessionLease,
};
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::{
    Config as QueryConfig, KillCause, KillTarget, QueryHandle, QueryKey,
};

mod behind;
mod limits;
mod restored;
mod timeouts;

use crate::chooser::Chooser;
use crate::ids::Generator;
use crate::world::config::ClusterConfig;
use crate::world::password::{PasswordModel, password_check};

pub(crate) use limits::BUSY_EXECUTE;

const SEAL_KEY: SealKey = SealKey::from_bytes(*b"sim-cluster-keys");

/// The first process's session-id lease starts at 0 and ends here; each restart leases the next
/// [`SESSION_LEASE_MS`]. Far above any time a run reaches, below the id layout's last time.
const LEASE_BASE_UNIX_MS: u64 = 1_800_000_000_000;
/// The length of one process's session-id lease.
const SESSION_LEASE_MS: u64 = 1_000_000_000;

/// A node that keeps snapshots writes one every this many sync rounds (a periodic persister, so
/// a restore is usually a little behind).
pub const SNAPSHOT_EVERY_ROUNDS: u64 = 4;

/// The client address every simulated client has (they share a host): an IPv6 address with a
/// zone, exactly [`CLIENT_IP_BYTES_MAX`] bytes long, the longest a node admits (so a bound that
/// refuses one byte too early refuses every login).
pub const CLIENT_IP: &str = "fe80::2a0:c9ff:fe12:3456%veth-graphsession-sim-client-bridge0001";

const _: () = assert!(CLIENT_IP.len() == CLIENT_IP_BYTES_MAX as usize);

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
    /// Of those, the ones stopped at their deadline (cause timeout).
    pub long_queries_timed_out: u64,
    /// USE statements clients sent.
    pub uses: u64,
}

/// Something the world sends for a node, in the order the node decided it.
#[derive(Debug)]
pub enum Send {
    /// A reply on a client's socket.
    Reply(ConnectionId, Response),
    /// A request to meta.
    ToMeta {
        /// The request (boxed: the other variant is a sixth of its size).
        request: Box<SyncRequest>,
        /// When it carries the node's query report: the long queries the executor ran (not
        /// stopped at a kill) as the node built it, by key (the query-kill refusal oracle's
        /// ground truth, `kill_refusals.rs`); `None` when it carries none.
        running: Option<Vec<QueryKey>>,
    },
}

/// What [`SimNode::kill_query`] did.
pub struct KillQueryDone {
    /// The node's answer.
    pub result: Result<node::KillQueryOutcome, node::CommandError>,
    /// Whether the query ran here and still ran right after the kill; `None` if it did not run
    /// here.
    pub still_runs: Option<bool>,
    /// What to send.
    pub sends: Vec<Send>,
}

/// A long query the node's executor runs: answered when it finishes, or when its executor sees
/// the kill at its next check.
pub struct RunningQuery {
    /// Its (session, plan) pair.
    pub key: QueryKey,
    /// The connection its reply goes to.
    pub connection: ConnectionId,
    /// When the node kills it for its timeout (the node's clock), if it has one.
    pub deadline_ms: Option<u64>,
    /// The handle the executor checks.
    pub handle: QueryHandle,
    /// When the executor started it (the node's clock).
    pub started_at_ms: u64,
    /// When the executor returns if not killed.
    pub finish_at_ms: u64,
}

/// One graph node.
pub struct SimNode {
    /// The node's id at meta (its id-gen slot).
    pub id: NodeId,
    /// The process number: grows with every restart.
    pub incarnation: u64,
    /// The machine that ships.
    graph: GraphNode,
    /// Its next timer as last asked (`None`: ask again). A pure machine's timer changes only
    /// with its inputs, and every input ends in `drain`, which forgets it.
    timer_cached: Cell<Option<Option<u64>>>,
    /// An empty list with room, which `drain` fills and the world hands back once it sent
    /// what the list held: one allocation kept instead of one per input.
    sends_spare: Vec<Send>,
    /// Sessions created since the world last took them (for its id oracle).
    created: Vec<SessionId>,
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
    /// Query kills meta relayed to this node, not yet checked.
    pub query_kills_applied: Vec<QueryKey>,
    /// Long queries whose executor stopped at a kill, not yet checked for a cause.
    pub stopped: Vec<QueryKey>,
    /// Sessions that expired here, not yet seen by the world's coverage marks.
    pub recently_expired: Vec<SessionId>,
    /// Sessions that saw activity here since the world last took them (a login answered, a
    /// long query's end), for the premature-expiry oracle.
    pub active: Vec<SessionId>,
    /// Plans whose executor saw the kill before it returned (kept over restarts by the world):
    /// none of them may be answered as a success.
    pub killed_plans: BTreeSet<u64>,
    /// Every plan id this node slot handed to its executor (kept over restarts by the world).
    pub plans_seen: BTreeSet<u64>,
    /// What the node did that an oracle forbids, found while its outputs were drained.
    pub violations: Vec<String>,
    /// Connections whose query's executor stopped at its deadline: their next reply must say
    /// it timed out.
    timed_out_replies: BTreeSet<ConnectionId>,
    /// Connections whose request is a SET SESSION of a valid query timeout: their next reply
    /// must accept it.
    set_replies: BTreeSet<ConnectionId>,
    /// The timeouts a query may have: the node's, and what clients may set for their session.
    query_timeouts_ms: BTreeSet<u64>,
    /// The registry's last snapshot (taken every [`SNAPSHOT_EVERY_ROUNDS`] sync rounds), if the
    /// seed keeps them. A restart restores from its bytes ([`Snapshot::to_bytes`], a function
    /// of the snapshot alone), so they are written out when a restart reads them, not at every
    /// snapshot.
    pub snapshot: Option<Snapshot>,
    keep_snapshots: bool,
    /// Sync rounds seen by the persister.
    rounds_seen: u64,
    /// The registry's configuration, as the node was started with it.
    pub server: Config,
    /// The password oracle's view of this process's throttle.
    password: PasswordModel,
    /// What the waiting-connections oracle sees of the requests the node holds.
    waiting_watch: limits::WaitingWatch,
    /// The removals the answer being handled acknowledged, in the order the node handles
    /// them (`behind.rs`).
    acknowledged: Vec<SessionId>,
    /// Restored sessions meta had ended when this process started (`restored.rs`).
    ended_at_start: BTreeMap<SessionId, restored::EndedAtStart>,
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
    /// Process `incarnation` (1, 2, ...) of node `index` (slot `index + 1`), started at `now_ms`.
    /// Each process leases the next range of its slot (the lease store's compare-and-set, which
    /// the id world tests, always wins here): session ids above the previous bound, plan counters
    /// above the previous one.
    pub fn new(
        index: u16,
        config: &ClusterConfig,
        now_ms: u64,
        incarnation: u64,
        generator: Generator,
    ) -> Result<SimNode, String> {
        SimNode::start(index, config, now_ms, incarnation, None, generator)
    }

    /// Like [`new`](SimNode::new), with the registry restored from `snapshot` (the bytes of
    /// [`SessionManager::snapshot`]); the sync starts fresh and reconciles with meta.
    pub fn restore(
        index: u16,
        config: &ClusterConfig,
        now_ms: u64,
        incarnation: u64,
        snapshot: (&[u8], &RoleTable),
        generator: Generator,
    ) -> Result<SimNode, String> {
        SimNode::start(index, config, now_ms, incarnation, Some(snapshot), generator)
    }

    fn start(
        index: u16,
        config: &ClusterConfig,
        now_ms: u64,
        incarnation: u64,
        snapshot: Option<(&[u8], &RoleTable)>,
        generator: Generator,
    ) -> Result<SimNode, String> {
        let slot = index + 1;
        let mut parts = leased_parts(slot, incarnation)?;
        if generator == Generator::Naive {
            parts.session_ids = Box::new(NaiveSessionIds::default());
        }
        let graph_config = GraphConfig {
            node_id: NodeId(slot),
            incarnation,
            server: server_config(config, slot),
            sync: sync_config(config),
            waiting_connections_max: config.waiting_connections_max,
            waiting_requests_per_connection_max: config.waiting_requests_per_connection_max,
            ..GraphConfig::default()
        };
        let server = graph_config.server.clone();
        let password = PasswordModel::new(
            config.failed_login_attempts,
            config.password_lock_secs,
            snapshot.is_some(),
        );
        let graph = match snapshot {
            None => GraphNode::new(graph_config, parts, now_ms),
            Some((bytes, table)) => GraphNode::restore(graph_config, parts, bytes, table, now_ms),
        }
        .map_err(|error| format!("node {slot} refused to start: {error}"))?;
        crate::world::selftest::check_node_config(slot, &server, graph.registry().config())?;
        Ok(SimNode {
            id: NodeId(slot),
            incarnation,
            graph,
            timer_cached: Cell::new(None),
            sends_spare: Vec::new(),
            created: Vec::new(),
            counters: NodeCounters::default(),
            ended: BTreeMap::new(),
            long_query_ms_max: config.long_query_ms_max,
            running: Vec::new(),
            started: BTreeSet::new(),
            query_kills_applied: Vec::new(),
            stopped: Vec::new(),
            recently_expired: Vec::new(),
            active: Vec::new(),
            killed_plans: BTreeSet::new(),
            plans_seen: BTreeSet::new(),
            violations: Vec::new(),
            timed_out_replies: BTreeSet::new(),
            set_replies: BTreeSet::new(),
            query_timeouts_ms: query_timeouts_ms(config),
            snapshot: None,
            keep_snapshots: config.node_snapshots,
            rounds_seen: 0,
            server,
            password,
            waiting_watch: limits::WaitingWatch::new(config),
            acknowledged: Vec::new(),
            ended_at_start: BTreeMap::new(),
        })
    }

    /// The registry, for queries (lookups, counts, views, snapshots), which change nothing.
    pub fn registry(&self) -> &SessionManager {
        self.graph.registry()
    }

    /// The node's cluster sync, for queries.
    pub fn sync(&self) -> &NodeSync {
        self.graph.sync()
    }

    /// The machine, for its invariant check.
    pub fn graph(&self) -> &GraphNode {
        &self.graph
    }

    /// The node's machine, for the checkers' self-test (which undoes what it changes).
    pub fn graph_mut(&mut self) -> &mut GraphNode {
        &mut self.graph
    }

    /// Whether the registry took an input since the last call (for the world's invariant
    /// check after each step).
    pub fn take_registry_touched(&mut self) -> bool {
        self.graph.take_registry_changed()
    }

    /// Takes back a list `drain` returned, emptied, for the next input's sends.
    pub fn give_back_sends(&mut self, mut sends: Vec<Send>) {
        sends.clear();
        self.sends_spare = sends;
    }

    /// Sessions created since the last call.
    pub fn take_created(&mut self) -> Vec<SessionId> {
        std::mem::take(&mut self.created)
    }

    /// A client request arrives on `connection`.
    pub fn handle_request(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        connection: ConnectionId,
        request: Request,
        choose: &mut Chooser,
    ) -> Vec<Send> {
        let request = match request {
            Request::Authenticate { user, password } => {
                let password = password_check(table, &user, &password);
                if password == PasswordCheck::Rejected {
                    self.password.sent(connection);
                }
                let client_ip = CLIENT_IP.to_owned();
                node::Request::Authenticate { user, client_ip, password }
            }
            Request::Execute { session_id, statement } => {
                let statement = self.parse(statement);
                self.note_set(connection, &statement);
                node::Request::Execute { session_id, statement }
            }
            Request::SignOut { session_id } => {
                node::Request::SignOut { session_id: session_id.get() }
            }
        };
        let sign_out = matches!(request, node::Request::SignOut { .. });
        let execute = matches!(request, node::Request::Execute { .. });
        let before = self.waiting_before(connection, sign_out, execute);
        let behind = self.behind_before(connection, &request);
        self.graph.handle_request(now_ms, connection, request, table);
        let sends = self.drain(now_ms, table, choose);
        self.waiting_after(&before);
        self.behind_after(behind);
        sends
    }

    /// Socket `connection` closed, as the node sees it.
    pub fn connection_closed(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        connection: ConnectionId,
        choose: &mut Chooser,
    ) -> Vec<Send> {
        self.graph.handle_connection_closed(now_ms, connection, table);
        self.waiting_closed(connection);
        self.drain(now_ms, table, choose)
    }

    /// The simulator's parser: the client's USE and SET SESSION, and anything else as a user
    /// query.
    fn parse(&mut self, statement: String) -> Statement {
        if let Some(space) = statement.strip_prefix("USE `").and_then(|rest| rest.strip_suffix('`'))
        {
            self.counters.uses += 1;
            return Statement::Session(SessionStatement::Use { space: space.to_owned() });
        }
        // "SET SESSION {QUERY_TIMEOUT_VARIABLE} = ", matched piece by piece (no string built
        // per statement).
        let value = statement
            .strip_prefix("SET SESSION ")
            .and_then(|rest| rest.strip_prefix(QUERY_TIMEOUT_VARIABLE))
            .and_then(|rest| rest.strip_prefix(" = "));
        match value {
            Some(value) => Statement::Session(SessionStatement::SetVariable {
                name: QUERY_TIMEOUT_VARIABLE.to_owned(),
                value: value.to_owned(),
            }),
            None => Statement::Query { text: statement },
        }
    }

    /// The node's timer (sync round) and the executor's (long queries that return now).
    pub fn on_timer(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        choose: &mut Chooser,
    ) -> Vec<Send> {
        self.graph.handle_timeout(now_ms, table);
        self.drain(now_ms, table, choose)
    }

    /// Meta's answer arrives; returns what to send and the installs the registry refused.
    pub fn handle_answer(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        answer: Answer,
        choose: &mut Chooser,
    ) -> (Vec<Send>, u64) {
        let refused_before = self.graph.installs_refused();
        let answered = self.removals_answered(&answer);
        let ignored_before = self.graph.sync().counters().0;
        self.graph.handle_answer(now_ms, answer, table);
        // Only the answer the sync awaits acknowledges removals (a late one is ignored).
        if self.graph.sync().counters().0 == ignored_before {
            self.acknowledged = answered;
        }
        let refused = self.graph.installs_refused() - refused_before;
        (self.drain(now_ms, table, choose), refused)
    }

    /// KILL SESSION by `caller` of `session`.
    pub fn kill_session(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        caller: &Caller,
        session: SessionId,
        choose: &mut Chooser,
    ) -> Result<(u32, Vec<Send>), String> {
        self.timer_cached.set(None); // a refusal returns before `drain`
        let killed =
            self.graph.kill_sessions(now_ms, caller, &[session.get()], table).map_err(|error| {
                format!("KILL SESSION {session} by {} refused: {error}", caller.user())
            })?;
        Ok((killed, self.drain(now_ms, table, choose)))
    }

    /// KILL QUERY by `caller` of `key` (the admin has no session: it acts as the target's).
    /// Returns the outcome, whether the query was running here and still ran after the kill
    /// (`None`: it did not run here; read before the executor gets to see the kill), and what to
    /// send.
    pub fn kill_query(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        caller: &Caller,
        key: QueryKey,
        choose: &mut Chooser,
    ) -> KillQueryDone {
        let target = KillTarget::Session { session: key.session, plan: key.plan };
        let result = self.graph.kill_query(now_ms, caller, key.session, target, table);
        let still_runs = (self.running.iter())
            .find(|query| query.key == key)
            .map(|query| query.handle.check().is_ok());
        KillQueryDone { result, still_runs, sends: self.drain(now_ms, table, choose) }
    }

    /// USE `space` in `session`, as the admin's tool does.
    pub fn use_space(
        &mut self,
        now_ms: u64,
        table: &mut RoleTable,
        session: SessionId,
        space: &str,
        choose: &mut Chooser,
    ) -> (Result<(), graphsession_core::server::ServerError>, Vec<Send>) {
        let result = self.graph.use_space(now_ms, session.get(), space, table);
        (result, self.drain(now_ms, table, choose))
    }

    /// Carries out the machine's outputs: replies and meta requests to send, user queries to
    /// the executor (a quarter of them long), events into the records; then the persister and
    /// the long queries that return now.
    fn drain(&mut self, now_ms: u64, table: &mut RoleTable, choose: &mut Chooser) -> Vec<Send> {
        self.timer_cached.set(None);
        let mut sends = std::mem::take(&mut self.sends_spare);
        while let Some(output) = self.graph.poll_output() {
            match output {
                Output::Reply { connection, reply } => {
                    self.judge_reply(connection, &reply);
                    if let Some(response) = response_of(reply) {
                        sends.push(Send::Reply(connection, response));
                    }
                }
                Output::ToMeta(request) => {
                    // The node built the request as it emitted it: every query handed to the
                    // executor before (and only those) is among what its report read.
                    let running = request.queries.is_some().then(|| self.running_keys());
                    sends.push(Send::ToMeta { request: Box::new(request), running });
                }
                Output::Run { connection, query, .. } => {
                    self.counters.queries += 1;
                    let key = QueryKey { session: query.session, plan: query.plan };
                    self.judge_deadline(key, query.deadline_unix_ms);
                    // Begun: the registry found and touched the session.
                    self.active.push(key.session);
                    if !self.plans_seen.insert(key.plan.get()) {
                        self.violations.push(format!(
                            "[duplicate_plan_id] node {} handed plan {} to its executor twice \
                             (across restarts); expected every plan id unique",
                            self.id.0,
                            key.plan.get()
                        ));
                    }
                    if self.long_query_ms_max > 0 && choose.chance(1, 4) {
                        let finish_at_ms = now_ms + choose.range(1, self.long_query_ms_max);
                        let running = RunningQuery {
                            key,
                            connection,
                            deadline_ms: query.deadline_unix_ms,
                            handle: query.handle,
                            started_at_ms: now_ms,
                            finish_at_ms,
                        };
                        self.running.push(running);
                        self.started.insert(key);
                        self.counters.long_queries += 1;
                    } else {
                        self.graph.finish_query(now_ms, key, None, table);
                    }
                }
                Output::Event(event) => self.record(event),
                Output::SetPassword { .. } | Output::ForgetPassword { .. } => {}
            }
        }
        if self.keep_snapshots && self.graph.sync_rounds() != self.rounds_seen {
            self.rounds_seen = self.graph.sync_rounds();
            if self.rounds_seen % SNAPSHOT_EVERY_ROUNDS == 1 {
                self.snapshot = Some(self.graph.snapshot());
            }
        }
        if self.finish_due(now_ms, table) {
            sends.extend(self.drain(now_ms, table, choose));
        }
        self.judge_running_deadlines();
        self.judge_restored_zombies();
        let acknowledged = std::mem::take(&mut self.acknowledged);
        self.behind_released(acknowledged);
        sends
    }

    /// Reply oracles on what the node writes: a query whose executor saw the kill is never a
    /// success, and one stopped at its deadline is answered as timed out; every failure carries
    /// a NebulaGraph code and a message; an answered login is activity.
    fn judge_reply(&mut self, connection: ConnectionId, reply: &Reply) {
        self.judge_timeout_reply(connection, reply);
        self.judge_set_reply(connection, reply);
        self.waiting_replied(connection, reply);
        self.judge_query_sessions_reply(reply);
        if let Err(violation) = self.password.judge(self.id.0, connection, reply) {
            self.violations.push(violation);
        }
        if let Some(violation) = super::show::check_reply_code(self.id.0, reply) {
            self.violations.push(violation);
        }
        match reply {
            Reply::Executed { plan_id: Some(plan), .. } if self.killed_plans.contains(plan) => {
                self.violations.push(format!(
                    "[killed_query_succeeded] node {} answered plan {plan} as a success; its \
                     executor stopped at a kill, expected -1005 \"Execution had been killed\"",
                    self.id.0
                ));
            }
            Reply::Authenticated { session_id, .. } => {
                if let Some(session) = SessionId::new(*session_id) {
                    self.active.push(session);
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, event: GraphEvent) {
        match event {
            GraphEvent::SessionCreated { session, connection } => {
                self.waiting_registering(session, connection);
                self.counters.created += 1;
                self.created.push(session);
                // A login is checked against the per-(user, ip) limit and counted in one step:
                // right after it the pair is within the limit, whatever installs did before.
                let registry = self.graph.registry();
                let limit = registry.config().sessions_per_user_ip_max;
                let count = registry.user_ip_session_count(crate::world::client::USER, CLIENT_IP);
                if limit > 0 && i64::from(count) > limit {
                    self.violations.push(format!(
                        "[user_ip_count] node {}: a login of {session} left ({}, {CLIENT_IP}) at \
                         {count} sessions; expected at most the limit {limit}",
                        self.id.0,
                        crate::world::client::USER
                    ));
                }
            }
            GraphEvent::PickUpAsked { .. } => self.counters.pick_ups += 1,
            GraphEvent::QueryKilledByMeta { key } => self.query_kills_applied.push(key),
            GraphEvent::Registry(Event::Session {
                change: Change::Ended { reason, .. },
                session,
                at_unix_ms,
                ..
            }) => {
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
            GraphEvent::Registry(_) => {}
        }
    }

    /// Long queries whose executor returns now: due, or killed (the executor stops at its next
    /// check, which the simulator takes to be now). Returns whether any returned.
    fn finish_due(&mut self, now_ms: u64, table: &mut RoleTable) -> bool {
        let returns =
            |query: &RunningQuery| query.finish_at_ms <= now_ms || query.handle.check().is_err();
        // Most services of a node finish nothing: no lists rebuilt then.
        if !self.running.iter().any(returns) {
            return false;
        }
        let (done, running): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.running).into_iter().partition(returns);
        self.running = running;
        for query in done {
            // The executor returns as graphd's does: `finish` on its handle, then the registry.
            let returned = query.handle.finish();
            if let Err(killed) = returned {
                if killed.cause == KillCause::Timeout {
                    self.timed_out(&query);
                } else {
                    self.stopped.push(query.key);
                }
                self.killed_plans.insert(query.key.plan.get());
                self.counters.long_queries_killed += 1;
            }
            self.active.push(query.key.session);
            self.graph.finish_query(now_ms, query.key, None, table);
        }
        true
    }

    /// The long queries the executor runs now and that no kill stopped yet, by key.
    pub fn running_keys(&self) -> Vec<QueryKey> {
        let mut keys: Vec<QueryKey> = (self.running.iter())
            .filter(|query| query.handle.check().is_ok())
            .map(|query| query.key)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// When the next long query returns if not killed.
    pub fn next_finish_ms(&self) -> Option<u64> {
        self.running.iter().map(|query| query.finish_at_ms).min()
    }

    /// When the node's own timer is due.
    pub fn poll_timeout(&self) -> Option<u64> {
        if let Some(at) = self.timer_cached.get() {
            debug_assert_eq!(at, self.graph.poll_timeout(), "a timer changed without an input");
            return at;
        }
        let at = self.graph.poll_timeout();
        self.timer_cached.set(Some(at));
        at
    }

    /// Authenticates waiting for registration.
    pub fn pending_auth_count(&self) -> usize {
        self.graph.registrations_waiting()
    }
}

/// The sync configuration of the world's nodes.
/// The registry's configuration of node slot `slot` in a world of `config`.
fn server_config(config: &ClusterConfig, slot: u16) -> Config {
    Config {
        idle_timeout_ms: config.idle_timeout_ms,
        graph_addr: format!("graphd-{slot}:9669"),
        shard_count: config.shard_count,
        policy: Policy { authorization_enabled: config.authorization_enabled },
        sessions_per_user_ip_max: config.sessions_per_user_ip_max,
        sessions_max: config.node_sessions_max,
        query_timeout_ms: config.query_timeout_ms,
        failed_login_attempts: config.failed_login_attempts,
        password_lock_time_secs: config.password_lock_secs,
        queries: QueryConfig { sessions_max: config.query_sessions_max, ..QueryConfig::default() },
        ..Config::default()
    }
}

pub(super) fn sync_config(config: &ClusterConfig) -> NodeConfig {
    NodeConfig {
        sync_interval_ms: config.sync_interval_ms,
        idle_timeout_ms: config.idle_timeout_ms,
        request_timeout_ms: 4 * config.latency_max_ms + 100,
        retry_backoff_ms: 50,
        retry_backoff_max_ms: config.sync_interval_ms,
        ..NodeConfig::default()
    }
}

/// The timeouts a query of a node with `config` may have: the node's, and each value clients
/// may give their session's (0 and the node's 0 are none).
fn query_timeouts_ms(config: &ClusterConfig) -> BTreeSet<u64> {
    let mut timeouts = BTreeSet::from([config.query_timeout_ms]);
    if config.session_query_timeouts {
        timeouts.extend(crate::world::config::SESSION_QUERY_TIMEOUTS_MS);
    }
    timeouts
}

/// The naive generator of the id world (`(now_ms & !0xFFFF) | (counter & 0xFFFF)`, its counter
/// restarting with the process), as a graph node's session-id source: `--generator naive` runs
/// the cluster world's nodes on it, and the world must catch an id issued twice.
#[derive(Debug, Default)]
struct NaiveSessionIds {
    counter: std::sync::atomic::AtomicU64,
}

impl SessionIdSource for NaiveSessionIds {
    fn next_session_id(&self, now_unix_ms: u64) -> Result<SessionId, IdError> {
        let counter = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = (now_unix_ms & 0xFFFF_FFFF_FFFF_0000) | (counter & 0xFFFF);
        let id = i64::try_from(id).unwrap_or(i64::MAX);
        SessionId::new(id).ok_or(IdError::InvalidId { value: 0, reason: "naive id out of range" })
    }
}

/// The leased id generators of process `incarnation` of `slot`.
pub(super) fn leased_parts(slot: u16, incarnation: u64) -> Result<Parts, String> {
    let generation = incarnation.max(1);
    let floor_unix_ms = match generation {
        1 => 0,
        _ => LEASE_BASE_UNIX_MS + (generation - 2) * SESSION_LEASE_MS,
    };
    let bound_unix_ms = LEASE_BASE_UNIX_MS + (generation - 1) * SESSION_LEASE_MS;
    let lease = SessionLease { slot, floor_unix_ms, bound_unix_ms };
    let session_ids = SessionIdGenerator::new(lease, SEAL_KEY, SessionIdConfig::default())
        .map_err(|error| format!("session id lease refused: {error}"))?;
    let plan_lease =
        PlanLease { slot, floor_counter: (generation - 1) << 30, bound_counter: generation << 30 };
    let plan_ids = PlanIdGenerator::new(plan_lease)
        .map_err(|error| format!("plan id lease refused: {error}"))?;
    Ok(Parts { session_ids: Box::new(session_ids), plan_ids })
}

/// The client model's view of a node's reply.
fn response_of(reply: Reply) -> Option<Response> {
    Some(match reply {
        Reply::Authenticated { session_id, .. } => Response::AuthenticateOk { session_id },
        Reply::AuthenticateFailed { code, message } => Response::AuthenticateErr { code, message },
        Reply::Executed { space_name, plan_id, .. } => Response::ExecuteOk {
            result: match plan_id {
                Some(plan) => format!("ok {plan}"),
                None => format!("space {space_name}"),
            },
        },
        Reply::ExecuteFailed { code, message, .. } => Response::ExecuteErr { code, message },
        Reply::ClientVersion { .. } => return None,
    })
}
