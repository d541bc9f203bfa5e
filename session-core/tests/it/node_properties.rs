//! GraphNode under random traffic: two nodes and meta, synchronous clients (one request at a
//! time per connection, as NebulaGraph's clients are) that authenticate, execute queries and
//! session statements on either node with any session they learnt of, sign out and close; a
//! transport that delivers, holds, reorders and drops meta's messages; an executor that
//! finishes or fails queries; time that passes. After every step: every invariant (the
//! harness), no reply to a sign-out, at most one reply per request, every reply to an execute
//! names the space its session has on that node, no session id given twice. Half the cases run
//! with limits small enough that refusals happen; half with a node query timeout, and sessions
//! set their own (`SET SESSION query_timeout_ms`): no query runs past its deadline, and a query
//! the timeout killed is answered -1005 "timed out", never as a success. At the end, with everything delivered: every
//! request on an open connection was answered, no query runs, and once every session is signed
//! out and every connection closed, meta and both registries hold no session.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{Config, Reply, SessionStatement, Statement};
use graphsession_core::server::{QUERY_TIMED_OUT, QUERY_TIMEOUT_VARIABLE};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{KillCause, KillTarget, QueryPhase};
use proptest::prelude::*;

use crate::node_support::{Conn, Harness, SYNC_INTERVAL_MS, Setup, space};

const CLIENTS: usize = 8;
const USERS: [&str; 3] = ["root", "alice", "bob"];
const SPACES: [&str; 3] = ["nba", "ncaa", ""];
/// Values of a session's `query_timeout_ms`: none, shorter and longer than the node's.
const TIMEOUTS: [&str; 3] = ["0", "300", "2000"];

#[derive(Debug, Clone)]
enum Kind {
    Query,
    Use(usize),
    ShowSessions(bool),
    ShowQueries(bool),
    ShowSession(usize),
    KillSession(usize),
    KillQuery(usize),
    SetTimeout(usize),
}

#[derive(Debug, Clone)]
enum Step {
    Authenticate { client: usize, user: usize },
    Execute { client: usize, session: usize, kind: Kind },
    SignOut { client: usize, session: usize },
    Close { client: usize },
    ToMeta { at: usize },
    ToNode { at: usize },
    DropToMeta { at: usize },
    DropToNode { at: usize },
    Finish { at: usize },
    Fail { at: usize },
    Advance { ms: u64 },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => Just(Kind::Query),
        2 => (0..SPACES.len()).prop_map(Kind::Use),
        1 => any::<bool>().prop_map(Kind::ShowSessions),
        1 => any::<bool>().prop_map(Kind::ShowQueries),
        1 => (0..20_usize).prop_map(Kind::ShowSession),
        1 => (0..20_usize).prop_map(Kind::KillSession),
        1 => (0..8_usize).prop_map(Kind::KillQuery),
        1 => (0..TIMEOUTS.len()).prop_map(Kind::SetTimeout),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let client = || 0..CLIENTS;
    prop_oneof![
        3 => (client(), 0..USERS.len()).prop_map(|(client, user)| Step::Authenticate { client, user }),
        6 => (client(), 0..20_usize, kind())
            .prop_map(|(client, session, kind)| Step::Execute { client, session, kind }),
        1 => (client(), 0..20_usize).prop_map(|(client, session)| Step::SignOut { client, session }),
        1 => client().prop_map(|client| Step::Close { client }),
        10 => (0..4_usize).prop_map(|at| Step::ToMeta { at }),
        10 => (0..4_usize).prop_map(|at| Step::ToNode { at }),
        1 => (0..4_usize).prop_map(|at| Step::DropToMeta { at }),
        1 => (0..4_usize).prop_map(|at| Step::DropToNode { at }),
        5 => (0..8_usize).prop_map(|at| Step::Finish { at }),
        1 => (0..8_usize).prop_map(|at| Step::Fail { at }),
        5 => (0..2_500_u64).prop_map(|ms| Step::Advance { ms }),
    ]
}

/// What a connection's one outstanding request was.
#[derive(Debug, Clone, Copy)]
enum Asked {
    Authenticate,
    Execute { session: i64, is_use: bool },
}

/// The clients and what the properties remember of them.
struct World {
    h: Harness,
    /// Each client's current connection (a closed one is replaced by a new one).
    clients: Vec<Conn>,
    /// Every connection's outstanding request; `None` when it may send the next.
    asked: BTreeMap<Conn, Option<Asked>>,
    closed: BTreeSet<Conn>,
    /// Session ids given by Authenticated replies, in order.
    sessions: Vec<i64>,
    /// Replies of `h.written` already judged, in all and per connection.
    judged: usize,
    judged_of: BTreeMap<Conn, usize>,
}

impl World {
    /// `tight`: limits small enough that refusals happen (three connections waiting on meta,
    /// one request queued per connection or pick-up); `timeouts`: queries time out after 1.5 s
    /// unless their session says otherwise.
    fn new(tight: bool, timeouts: bool) -> World {
        let tune: fn(&mut Config) = match (tight, timeouts) {
            (true, false) => |config| {
                config.waiting_connections_max = 3;
                config.waiting_requests_per_connection_max = 1;
            },
            (true, true) => |config| {
                config.waiting_connections_max = 3;
                config.waiting_requests_per_connection_max = 1;
                config.server.query_timeout_ms = 1_500;
            },
            (false, true) => |config| config.server.query_timeout_ms = 1_500,
            (false, false) => |_| {},
        };
        let mut h = Harness::with(Setup { tune, ..Setup::nodes(2) });
        let clients: Vec<Conn> = (0..CLIENTS).map(|client| h.connect(client % 2)).collect();
        let asked = clients.iter().map(|conn| (*conn, None)).collect();
        World {
            h,
            clients,
            asked,
            closed: BTreeSet::new(),
            sessions: Vec::new(),
            judged: 0,
            judged_of: BTreeMap::new(),
        }
    }

    /// A session id a client knows: one given earlier, now and then an id no session has or
    /// the ping's 0.
    fn session(&self, pick: usize) -> i64 {
        match (pick, self.sessions.len()) {
            (19, _) => 0,
            (_, 0) | (18, _) => 4_242,
            (_, len) => self.sessions[pick % len],
        }
    }

    fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match *step {
            Step::Authenticate { client, user } => {
                if let Some(conn) = self.idle(client) {
                    self.asked.insert(conn, Some(Asked::Authenticate));
                    self.h.authenticate(conn, USERS[user]);
                }
            }
            Step::Execute { client, session, ref kind } => self.execute(client, session, kind),
            Step::SignOut { client, session } => {
                if let Some(conn) = self.idle(client) {
                    self.h.sign_out(conn, self.session(session));
                }
            }
            Step::Close { client } => self.close(client),
            Step::ToMeta { at } => self.h.deliver_one_to_meta(at % self.h.to_meta.len().max(1)),
            Step::ToNode { at } => self.h.deliver_one_to_node(at % self.h.to_nodes.len().max(1)),
            Step::DropToMeta { at } => {
                let _lost = self.h.to_meta.remove(at % self.h.to_meta.len().max(1));
            }
            Step::DropToNode { at } => {
                let _lost = self.h.to_nodes.remove(at % self.h.to_nodes.len().max(1));
            }
            Step::Finish { at } | Step::Fail { at } => self.executor_returns(at, step)?,
            Step::Advance { ms } => self.h.advance(ms),
        }
        self.judge_deadlines()?;
        self.judge()
    }

    /// The executor returns from a running query (`Finish`: with a result; `Fail`: failed): a
    /// query its timeout killed is answered "timed out" or with its session's end, never as a
    /// success; "timed out" answers nothing else.
    fn executor_returns(&mut self, at: usize, step: &Step) -> Result<(), TestCaseError> {
        let Some(run) = self.h.running.get(at % self.h.running.len().max(1)) else {
            return Ok(());
        };
        let (key, conn) = (run.key(), Conn { node: run.node, id: run.connection });
        let timed_out = run.query.handle.phase() == QueryPhase::KillRequested(KillCause::Timeout);
        match step {
            Step::Finish { .. } => self.h.finish(key, None),
            _ => self.h.fail(key, E_EXECUTION_ERROR, "the executor failed"),
        }
        let reply = self.h.last_reply(conn).expect("a query's end is answered");
        let says_timed_out = crate::node_support::message(&reply) == QUERY_TIMED_OUT;
        prop_assert!(!timed_out || !matches!(reply, Reply::Executed { .. }), "{reply:?}");
        prop_assert!(!says_timed_out || timed_out, "{reply:?}");
        Ok(())
    }

    /// No query the executor runs is still running at or after its deadline.
    fn judge_deadlines(&self) -> Result<(), TestCaseError> {
        for run in &self.h.running {
            let phase = run.query.handle.phase();
            if let Some(deadline) = run.query.deadline_unix_ms {
                prop_assert!(
                    deadline > self.h.now || phase != QueryPhase::Running,
                    "{:?} runs at {} past its deadline {}",
                    run.key(),
                    self.h.now,
                    deadline
                );
            }
        }
        Ok(())
    }

    /// The connection of `client`, or of the next client after it, that may send a request.
    fn idle(&self, client: usize) -> Option<Conn> {
        (0..CLIENTS)
            .map(|offset| self.clients[(client + offset) % CLIENTS])
            .find(|conn| self.asked[conn].is_none())
    }

    fn execute(&mut self, client: usize, pick: usize, kind: &Kind) {
        let Some(conn) = self.idle(client) else { return };
        let session = self.session(pick);
        let statement = match *kind {
            Kind::Query => Statement::Query { text: format!("GO FROM {pick} OVER follow") },
            Kind::Use(at) => session_statement(SessionStatement::Use { space: SPACES[at].into() }),
            Kind::ShowSessions(local) => {
                session_statement(SessionStatement::ShowSessions { local })
            }
            Kind::ShowQueries(local) => session_statement(SessionStatement::ShowQueries { local }),
            Kind::ShowSession(at) => {
                session_statement(SessionStatement::ShowSession { session_id: self.session(at) })
            }
            Kind::KillSession(at) => session_statement(SessionStatement::KillSessions {
                session_ids: vec![self.session(at)],
            }),
            Kind::KillQuery(at) => session_statement(SessionStatement::KillQuery {
                target: self.kill_target(session, at),
            }),
            Kind::SetTimeout(at) => session_statement(SessionStatement::SetVariable {
                name: QUERY_TIMEOUT_VARIABLE.into(),
                value: TIMEOUTS[at].into(),
            }),
        };
        let is_use = matches!(kind, Kind::Use(_));
        self.asked.insert(conn, Some(Asked::Execute { session, is_use }));
        self.h.execute(conn, session, statement);
    }

    /// A running query's key, or a plan nobody runs in `session`.
    fn kill_target(&self, session: i64, at: usize) -> KillTarget {
        match self.h.running.get(at % self.h.running.len().max(1)) {
            Some(run) => KillTarget::Session { session: run.key().session, plan: run.key().plan },
            None => match SessionId::new(session) {
                Some(session) => KillTarget::Session { session, plan: PlanId::from_u64(9) },
                None => KillTarget::CurrentSession { plan: PlanId::from_u64(9) },
            },
        }
    }

    fn close(&mut self, client: usize) {
        let conn = self.clients[client];
        self.h.close(conn);
        self.closed.insert(conn);
        let fresh = self.h.connect(conn.node);
        self.clients[client] = fresh;
        self.asked.insert(fresh, None);
    }

    /// Judges the replies written since the last call.
    fn judge(&mut self) -> Result<(), TestCaseError> {
        let mut executes: Vec<(usize, i64, bool, String)> = Vec::new();
        let (from, to) = (self.judged, self.h.written.len());
        for at in from..to {
            let conn = self.h.written[at];
            let position = self.judged_of.entry(conn).or_default();
            let reply = self.h.replies[&conn][*position].clone();
            *position += 1;
            let asked = self.asked.get_mut(&conn).and_then(Option::take);
            let Some(asked) = asked else {
                return Err(TestCaseError::fail(format!(
                    "{conn:?} got {reply:?} with no request waiting (a sign-out, or a second reply)"
                )));
            };
            match (asked, &reply) {
                (Asked::Authenticate, Reply::Authenticated { session_id, .. }) => {
                    prop_assert!(
                        !self.sessions.contains(session_id),
                        "session {session_id} given twice"
                    );
                    self.sessions.push(*session_id);
                }
                (Asked::Authenticate, Reply::AuthenticateFailed { .. }) => {}
                (Asked::Execute { session, is_use }, Reply::Executed { .. })
                | (Asked::Execute { session, is_use }, Reply::ExecuteFailed { .. }) => {
                    let named = space(&reply).unwrap_or_default().to_owned();
                    executes.push((conn.node, session, is_use, named));
                }
                (asked, reply) => prop_assert!(false, "{asked:?} answered with {reply:?}"),
            }
        }
        self.judged = to;
        self.judge_spaces(&executes)
    }

    /// Every reply to an execute names the space its session has on that node (after the
    /// step; a USE answered in the same step changes it, so replies before the last USE of a
    /// session are not judged).
    fn judge_spaces(&self, executes: &[(usize, i64, bool, String)]) -> Result<(), TestCaseError> {
        for (at, (node, session, _, named)) in executes.iter().enumerate() {
            let Some(now) = self.h.nodes[*node].registry().session_space(*session) else {
                continue;
            };
            let later_use = executes[at + 1..]
                .iter()
                .any(|(other, same, is_use, _)| other == node && same == session && *is_use);
            if !later_use {
                prop_assert_eq!(named, &now, "session {} on node {}", session, node);
            }
        }
        Ok(())
    }

    /// Delivers everything and returns every query, one input at a time (each judged on its
    /// own).
    fn deliver_all(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..1_024 {
            if !self.h.to_meta.is_empty() {
                self.h.deliver_one_to_meta(0);
            } else if !self.h.to_nodes.is_empty() {
                self.h.deliver_one_to_node(0);
            } else if let Some(run) = self.h.running.first() {
                self.h.finish(run.key(), None);
            } else {
                return Ok(());
            }
            self.judge()?;
        }
        Err(TestCaseError::fail("meta, the nodes and the executor did not settle"))
    }

    /// Everything delivered, then a few sync periods, each delivered.
    fn quiesce(&mut self) -> Result<(), TestCaseError> {
        self.deliver_all()?;
        for _ in 0..3 {
            self.h.advance(SYNC_INTERVAL_MS);
            self.judge()?;
            self.deliver_all()?;
        }
        Ok(())
    }

    /// The final phase: everything answered, then every session signed out and every
    /// connection closed, and nothing is left anywhere.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        self.h.advance(crate::node_support::REQUEST_TIMEOUT_MS);
        self.quiesce()?;
        for (conn, asked) in &self.asked {
            if !self.closed.contains(conn) {
                prop_assert!(asked.is_none(), "{:?} never got an answer to {:?}", conn, asked);
            }
        }
        for node in &self.h.nodes {
            for view in node.registry().cluster_sessions() {
                prop_assert_eq!(view.running_queries, 0, "{:?} runs a query", view.session);
            }
        }
        for session in self.sessions.clone() {
            let conn = self.h.connect(0);
            self.h.sign_out(conn, session);
            self.h.close(conn);
            self.judge()?;
        }
        for client in 0..CLIENTS {
            self.close(client);
        }
        self.quiesce()?;
        prop_assert_eq!(self.h.meta.live_count(), 0);
        prop_assert_eq!((self.h.held(0), self.h.held(1)), (0, 0));
        Ok(())
    }
}

fn session_statement(statement: SessionStatement) -> Statement {
    Statement::Session(statement)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_traffic_over_two_nodes_and_meta_keeps_every_reply_rule_and_leaks_nothing(
        tight in any::<bool>(),
        timeouts in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..200),
    ) {
        let mut world = World::new(tight, timeouts);
        for step in &steps {
            world.apply(step)?;
        }
        world.finish()?;
    }
}
