//! Test support for [`GraphNode`]: one meta store, one to three graph nodes, meta's role table,
//! a transport that carries requests to meta and answers back only when the test says so (so a
//! test can hold an answer and show that a reply waits for it), the replies written on each
//! connection, and an executor stub that finishes or fails the queries handed to it when told.
//! Every input goes through [`Harness`], which drains the node's outputs and checks every
//! machine's invariants after it.
#![allow(dead_code, reason = "each test file uses a different part of the support module")]
#![allow(unreachable_pub, reason = "a test support module: pub is for the test files")]
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::collections::{BTreeMap, VecDeque};

use graphsession_core::client::ConnectionId;
use graphsession_core::cluster::{Answer, MetaConfig, MetaStore, NodeConfig, NodeId, Request};
use graphsession_core::node::{
    Config, DataSet, Event, GraphNode, Output, Parts, Reply, Request as NodeRequest,
    SessionStatement, Statement,
};
use graphsession_core::server::{PasswordCheck, QueryStart};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::QueryKey;

pub const START: u64 = 1_763_900_000_000;
pub const IP: &str = "10.0.0.1";
/// The nodes' sync period: short, so "the next sync" is one [`Harness::advance`] away.
pub const SYNC_INTERVAL_MS: u64 = 1_000;
/// How long a node waits for meta's answer before sending its request again.
pub const REQUEST_TIMEOUT_MS: u64 = 2_000;

/// The `host:port` node `index` shows in SHOW SESSIONS.
pub fn graph_addr(index: usize) -> String {
    format!("graphd-{}:9669", index + 1)
}

/// One connection: the node it is open on and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conn {
    pub node: usize,
    pub id: ConnectionId,
}

/// A query the node handed to the executor (`Output::Run`), not yet returned.
#[derive(Debug)]
pub struct Run {
    pub node: usize,
    pub connection: ConnectionId,
    pub query: QueryStart,
    pub statement: String,
}

impl Run {
    pub fn key(&self) -> QueryKey {
        QueryKey { session: self.query.session, plan: self.query.plan }
    }
}

/// What the node asked of the host's password store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordChange {
    Set { user: String, password: String, debug: String },
    Forget { user: String },
}

/// How to build a [`Harness`]: the number of nodes, meta's configuration, and a change to every
/// node's configuration (its id, address, peers and sync timers are set by the harness first).
#[derive(Clone)]
pub struct Setup {
    pub nodes: usize,
    pub meta: MetaConfig,
    pub policy: Policy,
    pub tune: fn(&mut Config),
}

impl Setup {
    pub fn nodes(nodes: usize) -> Setup {
        Setup { nodes, meta: MetaConfig::default(), policy: Policy::OPEN, tune: |_| {} }
    }
}

/// One meta store, its nodes, and everything between them and their clients.
pub struct Harness {
    pub now: u64,
    pub meta: MetaStore,
    pub nodes: Vec<GraphNode>,
    pub roles: RoleTable,
    /// Requests on their way to meta, from node index.
    pub to_meta: VecDeque<(usize, Request)>,
    /// Answers on their way to node index.
    pub to_nodes: VecDeque<(usize, Answer)>,
    /// Every reply written, per connection, in order.
    pub replies: BTreeMap<Conn, Vec<Reply>>,
    /// The connection of every reply written, in the order written on all connections.
    pub written: Vec<Conn>,
    /// The executor: queries running, oldest first.
    pub running: Vec<Run>,
    pub passwords: Vec<PasswordChange>,
    pub events: Vec<(usize, Event)>,
    next_connection: u64,
    setup: Setup,
    /// Processes started per node, the first included: the next one's incarnation.
    starts: Vec<u64>,
}

impl Harness {
    /// `nodes` nodes with default settings, booted (their start-up reload done).
    pub fn new(nodes: usize) -> Harness {
        Harness::with(Setup::nodes(nodes))
    }

    pub fn with(setup: Setup) -> Harness {
        let mut roles = RoleTable::with_god("root").unwrap();
        let root = Caller::resolve(&roles, "root", None);
        for user in ["alice", "bob"] {
            roles.create_user(&root, Policy::OPEN, user).unwrap();
        }
        let nodes = (0..setup.nodes).map(|index| start_node(&setup, index, None)).collect();
        let mut harness = Harness {
            now: START,
            meta: MetaStore::new(setup.meta).unwrap(),
            nodes,
            roles,
            to_meta: VecDeque::new(),
            to_nodes: VecDeque::new(),
            replies: BTreeMap::new(),
            written: Vec::new(),
            running: Vec::new(),
            passwords: Vec::new(),
            events: Vec::new(),
            next_connection: 1,
            starts: vec![1; setup.nodes],
            setup,
        };
        for index in 0..harness.nodes.len() {
            harness.nodes[index].handle_timeout(START, &mut harness.roles);
            harness.drain(index);
        }
        harness.settle();
        harness
    }

    /// Node `index`'s process crashes and a new one starts with its registry restored from
    /// `snapshot` (taken from an earlier process with `GraphNode::snapshot`); what was on its
    /// way to or from the old process is lost. Nothing is delivered: its first round waits in
    /// `to_meta` once its timer has run.
    pub fn restart_restored(&mut self, index: usize, snapshot: &[u8]) {
        self.starts[index] += 1;
        // The new process leases ids above the old one's (as a host's lease store gives it):
        // sessions from the next millisecond, plans from a counter range of its own.
        self.now += 1;
        self.to_meta.retain(|(from, _)| *from != index);
        self.to_nodes.retain(|(to, _)| *to != index);
        self.running.retain(|run| run.node != index);
        let restored = (snapshot, &self.roles, self.starts[index], self.now);
        self.nodes[index] = start_node(&self.setup, index, Some(restored));
        self.nodes[index].handle_timeout(self.now, &mut self.roles);
        self.drain(index);
    }

    // ---- clients

    /// A new connection to node `node`.
    pub fn connect(&mut self, node: usize) -> Conn {
        self.next_connection += 1;
        Conn { node, id: ConnectionId(self.next_connection) }
    }

    /// `request` arrives on `conn`.
    pub fn request(&mut self, conn: Conn, request: NodeRequest) {
        self.nodes[conn.node].handle_request(self.now, conn.id, request, &mut self.roles);
        self.drain(conn.node);
    }

    pub fn authenticate(&mut self, conn: Conn, user: &str) {
        self.authenticate_from(conn, user, IP, PasswordCheck::Verified);
    }

    pub fn authenticate_from(&mut self, conn: Conn, user: &str, ip: &str, check: PasswordCheck) {
        let (user, client_ip) = (user.to_owned(), ip.to_owned());
        self.request(conn, NodeRequest::Authenticate { user, client_ip, password: check });
    }

    /// A login that must succeed: authenticate, let meta register it, return the session id.
    pub fn login(&mut self, conn: Conn, user: &str) -> i64 {
        self.authenticate(conn, user);
        self.settle();
        match self.last_reply(conn) {
            Some(Reply::Authenticated { session_id, .. }) => session_id,
            other => panic!("login of {user} on {conn:?}: {other:?}"),
        }
    }

    /// A new connection to `node` with a session of `user` on it.
    pub fn open(&mut self, node: usize, user: &str) -> (Conn, i64) {
        let conn = self.connect(node);
        let session = self.login(conn, user);
        (conn, session)
    }

    pub fn execute(&mut self, conn: Conn, session_id: i64, statement: Statement) {
        self.request(conn, NodeRequest::Execute { session_id, statement });
    }

    pub fn query(&mut self, conn: Conn, session_id: i64, text: &str) {
        self.execute(conn, session_id, Statement::Query { text: text.to_owned() });
    }

    pub fn statement(&mut self, conn: Conn, session_id: i64, statement: SessionStatement) {
        self.execute(conn, session_id, Statement::Session(statement));
    }

    /// A session statement whose reply comes without meta: returns it.
    pub fn run_statement(
        &mut self,
        conn: Conn,
        session_id: i64,
        statement: SessionStatement,
    ) -> Reply {
        let before = self.reply_count(conn);
        self.statement(conn, session_id, statement);
        assert_eq!(self.reply_count(conn), before + 1, "{conn:?} got no reply at once");
        self.last_reply(conn).unwrap()
    }

    /// SHOW QUERIES (every node's): asks meta, settles, and returns the one reply.
    pub fn show_queries(&mut self, conn: Conn, session_id: i64) -> Reply {
        let before = self.reply_count(conn);
        self.statement(conn, session_id, SessionStatement::ShowQueries { local: false });
        assert_eq!(self.reply_count(conn), before, "SHOW QUERIES waits for meta");
        self.settle();
        assert_eq!(self.reply_count(conn), before + 1, "SHOW QUERIES answered once");
        self.last_reply(conn).unwrap()
    }

    pub fn sign_out(&mut self, conn: Conn, session_id: i64) {
        self.request(conn, NodeRequest::SignOut { session_id });
    }

    pub fn close(&mut self, conn: Conn) {
        self.nodes[conn.node].handle_connection_closed(self.now, conn.id, &mut self.roles);
        self.drain(conn.node);
    }

    // ---- replies

    pub fn replies(&self, conn: Conn) -> &[Reply] {
        self.replies.get(&conn).map_or(&[], Vec::as_slice)
    }

    pub fn reply_count(&self, conn: Conn) -> usize {
        self.replies(conn).len()
    }

    pub fn last_reply(&self, conn: Conn) -> Option<Reply> {
        self.replies(conn).last().cloned()
    }

    // ---- the transport

    /// Meta handles every request on its way (their answers start on their way back).
    pub fn deliver_to_meta(&mut self) {
        while !self.to_meta.is_empty() {
            self.deliver_one_to_meta(0);
        }
    }

    /// Every answer on its way arrives at its node.
    pub fn deliver_to_nodes(&mut self) {
        while !self.to_nodes.is_empty() {
            self.deliver_one_to_node(0);
        }
    }

    /// Meta handles the request at `at` among those on their way (requests of different nodes
    /// overtake each other).
    pub fn deliver_one_to_meta(&mut self, at: usize) {
        let Some((index, request)) = self.to_meta.remove(at) else { return };
        let node = self.nodes[index].node_id();
        let answer = self.meta.handle_request(self.now, node, request);
        self.to_nodes.push_back((index, answer));
        self.check();
    }

    /// The answer at `at` among those on their way arrives at its node.
    pub fn deliver_one_to_node(&mut self, at: usize) {
        let Some((index, answer)) = self.to_nodes.remove(at) else { return };
        self.nodes[index].handle_answer(self.now, answer, &mut self.roles);
        self.drain(index);
    }

    /// Delivers both ways until nothing is on its way.
    pub fn settle(&mut self) {
        for _ in 0..64 {
            if self.to_meta.is_empty() && self.to_nodes.is_empty() {
                return;
            }
            self.deliver_to_meta();
            self.deliver_to_nodes();
        }
        panic!("meta and the nodes did not settle in 64 round trips");
    }

    /// Time passes by `ms`: meta's and each node's timer runs if due (nothing is delivered).
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        if self.meta.poll_timeout().is_some_and(|at| at <= self.now) {
            let _expired = self.meta.handle_timeout(self.now);
            self.check();
        }
        for index in 0..self.nodes.len() {
            if self.nodes[index].poll_timeout().is_some_and(|at| at <= self.now) {
                self.nodes[index].handle_timeout(self.now, &mut self.roles);
                self.drain(index);
            }
        }
    }

    /// One sync period passes and everything is delivered: every node has had its next sync.
    pub fn next_sync(&mut self) {
        self.advance(SYNC_INTERVAL_MS);
        self.settle();
    }

    // ---- the executor

    /// The running query whose statement is `text`.
    pub fn run_of(&self, text: &str) -> QueryKey {
        let run = self.running.iter().find(|run| run.statement == text);
        run.unwrap_or_else(|| panic!("no running query {text:?}")).key()
    }

    pub fn handle_of(&self, key: QueryKey) -> &Run {
        self.running.iter().find(|run| run.key() == key).unwrap()
    }

    fn take_run(&mut self, key: QueryKey) -> Run {
        let at = self.running.iter().position(|run| run.key() == key);
        self.running.remove(at.unwrap_or_else(|| panic!("{key:?} does not run")))
    }

    /// The executor returns from `key` with `data`.
    pub fn finish(&mut self, key: QueryKey, data: Option<DataSet>) {
        let run = self.take_run(key);
        self.nodes[run.node].finish_query(self.now, key, data, &mut self.roles);
        self.drain(run.node);
    }

    /// The executor fails `key`.
    pub fn fail(&mut self, key: QueryKey, code: i32, message: &str) {
        let run = self.take_run(key);
        self.nodes[run.node].fail_query(self.now, key, code, message, &mut self.roles);
        self.drain(run.node);
    }

    /// The executor returns from every running query.
    pub fn finish_all(&mut self) {
        while let Some(run) = self.running.first() {
            self.finish(run.key(), None);
        }
    }

    // ---- the host loop

    /// Carries out node `index`'s outputs, then checks every invariant; then, as a host that
    /// sleeps until `poll_timeout` would, runs the node's timer if it is already due.
    pub fn drain(&mut self, index: usize) {
        for _ in 0..16 {
            self.carry_out(index);
            if self.nodes[index].poll_timeout().is_none_or(|at| at > self.now) {
                return;
            }
            self.nodes[index].handle_timeout(self.now, &mut self.roles);
        }
        panic!("node {index}'s timer stays due at {}", self.now);
    }

    fn carry_out(&mut self, index: usize) {
        while let Some(output) = self.nodes[index].poll_output() {
            match output {
                Output::Reply { connection, reply } => {
                    let conn = Conn { node: index, id: connection };
                    self.replies.entry(conn).or_default().push(reply);
                    self.written.push(conn);
                }
                Output::ToMeta(request) => self.to_meta.push_back((index, request)),
                Output::Run { connection, query, statement } => {
                    self.running.push(Run { node: index, connection, query, statement });
                }
                Output::SetPassword { user, password } => {
                    let debug = format!(
                        "{:?}",
                        Output::SetPassword { user: user.clone(), password: password.clone() }
                    );
                    let password = password.0;
                    self.passwords.push(PasswordChange::Set { user, password, debug });
                }
                Output::ForgetPassword { user } => {
                    self.passwords.push(PasswordChange::Forget { user });
                }
                Output::Event(event) => self.events.push((index, event)),
            }
        }
        self.check();
    }

    /// Every machine's invariants: each node's (registry, sync, its own), meta's, the roles'.
    pub fn check(&self) {
        for (index, node) in self.nodes.iter().enumerate() {
            if let Err(violation) = node.check_invariants() {
                panic!("node {index} at {}: {violation}", self.now);
            }
        }
        if let Err(violation) = self.meta.check_invariants() {
            panic!("meta at {}: {violation}", self.now);
        }
        if let Err(violation) = self.roles.check_invariants() {
            panic!("role table: {violation}");
        }
    }

    /// Sessions node `index` holds.
    pub fn held(&self, index: usize) -> u64 {
        self.nodes[index].registry().session_count()
    }

    /// Whether node `index` holds `session_id`.
    pub fn holds(&self, index: usize, session_id: i64) -> bool {
        self.nodes[index].registry().session_stats(session_id).is_some()
    }
}

/// Node `index`'s first process, or a later one (`restored`: the snapshot its registry is
/// restored from, the role table, the process's incarnation and its start time).
fn start_node(
    setup: &Setup,
    index: usize,
    restored: Option<(&[u8], &RoleTable, u64, u64)>,
) -> GraphNode {
    let slot = u16::try_from(index + 1).unwrap();
    let mut config = Config {
        node_id: NodeId(slot),
        peer_addrs: (0..setup.nodes)
            .filter(|peer| *peer != index)
            .map(|peer| (NodeId(u16::try_from(peer + 1).unwrap()), graph_addr(peer)))
            .collect(),
        ..Config::default()
    };
    config.server.graph_addr = graph_addr(index);
    config.server.policy = setup.policy;
    config.server.shard_count = 4;
    config.sync = NodeConfig {
        sync_interval_ms: SYNC_INTERVAL_MS,
        request_timeout_ms: REQUEST_TIMEOUT_MS,
        retry_backoff_ms: 100,
        retry_backoff_max_ms: 1_000,
        ..NodeConfig::default()
    };
    (setup.tune)(&mut config);
    match restored {
        None => GraphNode::new(config, parts(slot), START).unwrap(),
        Some((snapshot, roles, incarnation, now)) => {
            config.incarnation = incarnation;
            let parts = process_parts(slot, incarnation, now);
            GraphNode::restore(config, parts, snapshot, roles, now).unwrap()
        }
    }
}

/// The statement of [`remote_query`]'s query.
pub const REMOTE_QUERY: &str = "GO FROM 1 OVER follow";

/// Two nodes: root's session on node 0, and alice's [`REMOTE_QUERY`] running on node 1 and
/// reported to meta by node 1's next round. Returns the harness, root's connection and session,
/// alice's, and the query.
pub fn remote_query() -> (Harness, (Conn, i64), (Conn, i64), QueryKey) {
    let mut h = Harness::new(2);
    let root = h.open(0, "root");
    let alice = h.open(1, "alice");
    h.query(alice.0, alice.1, REMOTE_QUERY);
    let key = h.run_of(REMOTE_QUERY);
    h.next_sync();
    (h, root, alice, key)
}

/// Sealed session ids and plan ids on `slot`.
pub fn parts(slot: u16) -> Parts {
    let lease = SessionLease { slot, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let key = SealKey::from_bytes([7; 16]);
    let session_ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default()).unwrap();
    let plans = PlanLease { slot, floor_counter: 0, bound_counter: 1 << 40 };
    Parts { session_ids: Box::new(session_ids), plan_ids: PlanIdGenerator::new(plans).unwrap() }
}

/// The parts of process `incarnation` (2, 3, ...) of `slot` started at `now`: session ids
/// from `now` on, plan counters in a range of their own.
fn process_parts(slot: u16, incarnation: u64, now: u64) -> Parts {
    let lease = SessionLease { slot, floor_unix_ms: now, bound_unix_ms: 3_000_000_000_000 };
    let key = SealKey::from_bytes([7; 16]);
    let session_ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default()).unwrap();
    let floor_counter = incarnation << 32;
    let plans = PlanLease { slot, floor_counter, bound_counter: floor_counter + (1 << 32) };
    Parts { session_ids: Box::new(session_ids), plan_ids: PlanIdGenerator::new(plans).unwrap() }
}

/// The code of a failed reply (0 for a success), for short assertions.
pub fn code(reply: &Reply) -> i32 {
    match reply {
        Reply::ClientVersion { code, .. }
        | Reply::AuthenticateFailed { code, .. }
        | Reply::ExecuteFailed { code, .. } => *code,
        Reply::Authenticated { .. } | Reply::Executed { .. } => 0,
    }
}

/// The message of a failed reply ("" for a success).
pub fn message(reply: &Reply) -> &str {
    match reply {
        Reply::ClientVersion { message, .. }
        | Reply::AuthenticateFailed { message, .. }
        | Reply::ExecuteFailed { message, .. } => message,
        Reply::Authenticated { .. } | Reply::Executed { .. } => "",
    }
}

/// The space a reply to an execute names.
pub fn space(reply: &Reply) -> Option<&str> {
    match reply {
        Reply::Executed { space_name, .. } | Reply::ExecuteFailed { space_name, .. } => {
            Some(space_name)
        }
        _ => None,
    }
}

/// The result set of a successful execute.
pub fn data(reply: &Reply) -> &DataSet {
    match reply {
        Reply::Executed { data: Some(data), .. } => data,
        other => panic!("no result set in {other:?}"),
    }
}
