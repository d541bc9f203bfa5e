//! End to end: two real `SessionManager`s (two graph nodes, each with its own id-gen slot for
//! session and plan ids), each with its `NodeSync` through `ServerRegistry`, and one
//! `MetaStore`, on a simulated clock; the test carries every message with a delay of up to
//! `DELAY_MS`, so messages also overtake each other. Every machine's `check_invariants` runs
//! after every step.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_core::cluster::{
    Answer, CLUSTER_KILL_USER, MetaConfig, MetaStore, NodeConfig, NodeEvent, NodeId, NodeSync,
    QueryKill, QueryKillResult, RemoveReason, Request, ServerRegistry,
};
use graphsession_core::server::{
    Change, Config, EndReason, Event, Login, PasswordCheck, SessionManager,
};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
    SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};
use graphsession_query_plan::{Kill, KillCause, KillTarget, Killed, QueryKey, QueryOutcome};

const START: u64 = 1_763_900_000_000;
/// The sync interval `I`.
const INTERVAL_MS: u64 = 1_000;
/// The largest one-way delay `D`.
const DELAY_MS: u64 = 50;
const IDLE_TIMEOUT_MS: u64 = 10_000;
const IP: &str = "10.0.0.1";
const A: usize = 0;
const B: usize = 1;

enum Message {
    ToMeta { from: usize, request: Request },
    ToNode { to: usize, answer: Answer },
}

struct Node {
    id: NodeId,
    sessions: SessionManager,
    sync: NodeSync,
    events: Vec<NodeEvent>,
    server_events: Vec<Event>,
}

struct World {
    now: u64,
    meta: MetaStore,
    nodes: Vec<Node>,
    table: RoleTable,
    /// (deliver at, send order, message).
    network: Vec<(u64, u64, Message)>,
    sent: u64,
}

/// root (GOD) and alice (USER in "nba"), authorization on.
fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::ENFORCED, "alice").unwrap();
    table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice").unwrap();
    table.grant(&root, Policy::ENFORCED, Role::User, "ncaa", "alice").unwrap();
    table
}

/// A graph node whose session and plan ids come from id-gen leases of `slot`.
fn node(slot: u16) -> Node {
    let lease = SessionLease { slot, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let ids =
        SessionIdGenerator::new(lease, SealKey::from_bytes([7; 16]), SessionIdConfig::default());
    let plans = PlanIdGenerator::new(PlanLease { slot, floor_counter: 0, bound_counter: 1 << 40 });
    let config = Config {
        policy: Policy::ENFORCED,
        idle_timeout_ms: IDLE_TIMEOUT_MS,
        graph_addr: format!("graphd-{slot}:9669"),
        ..Config::default()
    };
    let sync_config = NodeConfig {
        sync_interval_ms: INTERVAL_MS,
        idle_timeout_ms: IDLE_TIMEOUT_MS,
        request_timeout_ms: 400,
        retry_backoff_ms: 100,
        retry_backoff_max_ms: 800,
        ..NodeConfig::default()
    };
    Node {
        id: NodeId(slot),
        sessions: SessionManager::new(config, ids.unwrap(), plans.unwrap()).unwrap(),
        sync: NodeSync::new(sync_config, 1, START).unwrap(),
        events: Vec::new(),
        server_events: Vec::new(),
    }
}

impl World {
    /// Nodes A (slot 1) and B (slot 2), started and reloaded.
    fn new() -> World {
        let meta = MetaConfig {
            idle_timeout_ms: IDLE_TIMEOUT_MS,
            holder_silence_ms: 60_000,
            ..MetaConfig::default()
        };
        let mut world = World {
            now: START,
            meta: MetaStore::new(meta).unwrap(),
            nodes: vec![node(1), node(2)],
            table: table(),
            network: Vec::new(),
            sent: 0,
        };
        world.run(200, 10);
        assert!(world.nodes.iter().all(|node| node.sync.is_reloaded()));
        world
    }

    /// Each message is delayed by 0..=DELAY_MS, varying so that messages overtake each other.
    fn send(&mut self, message: Message) {
        self.sent += 1;
        let delay_ms = (self.sent * 17) % (DELAY_MS + 1);
        self.network.push((self.now + delay_ms, self.sent, message));
    }

    /// One step at `now`: deliver what is due, run due timers, send what the machines want to
    /// send, drain events, check every machine's invariants. The host never runs a registry's
    /// own idle timer: in a cluster, meta decides expiry.
    fn step(&mut self) {
        let now = self.now;
        self.network.sort_by_key(|(at, order, _)| (*at, *order));
        let due = self.network.iter().take_while(|(at, _, _)| *at <= now).count();
        let messages: Vec<(u64, u64, Message)> = self.network.drain(..due).collect();
        for (_, _, message) in messages {
            self.deliver(message);
        }
        if self.meta.poll_timeout().is_some_and(|at| at <= now) {
            let _expired = self.meta.handle_timeout(now);
        }
        for index in 0..self.nodes.len() {
            let node = &mut self.nodes[index];
            if node.sync.poll_timeout().is_some_and(|at| at <= now) {
                let registry = ServerRegistry::new(now, &node.sessions, &self.table);
                node.sync.handle_timeout(now, &registry);
            }
            if let Some(request) = node.sync.poll_request() {
                self.send(Message::ToMeta { from: index, request });
            }
        }
        self.drain_events();
        self.check();
    }

    fn deliver(&mut self, message: Message) {
        let now = self.now;
        match message {
            Message::ToMeta { from, request } => {
                let answer = self.meta.handle_request(now, self.nodes[from].id, request);
                self.send(Message::ToNode { to: from, answer });
            }
            Message::ToNode { to, answer } => {
                let node = &mut self.nodes[to];
                let mut registry = ServerRegistry::new(now, &node.sessions, &self.table);
                node.sync.handle_answer(now, answer, &mut registry);
                assert_eq!(registry.installs_refused(), 0);
            }
        }
    }

    fn drain_events(&mut self) {
        for node in &mut self.nodes {
            node.events.extend(std::iter::from_fn(|| node.sync.poll_event()));
            node.server_events.extend(std::iter::from_fn(|| node.sessions.poll_event()));
        }
    }

    fn check(&self) {
        self.meta.check_invariants().unwrap();
        for node in &self.nodes {
            node.sync.check_invariants().unwrap();
            node.sessions.check_invariants().unwrap();
        }
    }

    fn run(&mut self, ms: u64, tick_ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + tick_ms).min(end);
            self.step();
        }
    }

    /// Runs 1 ms steps until `done` holds (at most `limit_ms`); returns when it did.
    fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&World) -> bool) -> u64 {
        let end = self.now + limit_ms;
        while !done(self) {
            assert!(self.now < end, "not done within {limit_ms} ms");
            self.run(1, 1);
        }
        self.now
    }

    /// Alice logs in on `node`; the host answers the client once meta has it (`Registered`).
    fn login(&mut self, node: usize) -> SessionId {
        let now = self.now;
        let login = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
        let id = self.nodes[node].sessions.login(now, login, &self.table).unwrap();
        self.nodes[node].sync.announce(now, id).unwrap();
        self.run(200, 10);
        assert!(self.nodes[node].events.contains(&NodeEvent::Registered { session: id }));
        assert_eq!(self.meta.session(id).map(|record| record.owner), Some(self.nodes[node].id));
        id
    }

    /// A request for `id` reaches `node`, which does not hold it: picked up from meta.
    fn pick_up(&mut self, node: usize, id: SessionId) {
        let now = self.now;
        let missing = self.nodes[node].sessions.touch(now, id.get()).unwrap_err();
        assert_eq!(missing.code(), -1002);
        self.nodes[node].sync.pick_up(now, id).unwrap();
        self.run(200, 10);
        assert!(self.nodes[node].events.contains(&NodeEvent::PickedUp { session: id }));
        self.nodes[node].sessions.touch(self.now, id.get()).unwrap();
    }

    /// Node `node`'s view of session `id`, if it holds it.
    fn space_on(&self, node: usize, id: SessionId) -> Option<String> {
        let views = self.nodes[node].sessions.cluster_sessions();
        views.into_iter().find(|view| view.session == id).map(|view| view.space)
    }

    fn holds(&self, node: usize, id: SessionId) -> bool {
        self.space_on(node, id).is_some()
    }

    fn ended(&self, node: usize, id: SessionId) -> Vec<(EndReason, u32)> {
        let events = self.nodes[node].server_events.iter();
        events
            .filter_map(|event| match event {
                Event::Session {
                    session,
                    change: Change::Ended { reason, queries_killed },
                    ..
                } if *session == id => Some((reason.clone(), *queries_killed)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn issue_5094_a_session_used_on_node_b_is_not_expired_by_node_a_and_expires_when_idle_everywhere() {
    let mut world = World::new();
    let id = world.login(A);
    world.pick_up(B, id);
    assert!(world.nodes[B].server_events.iter().any(|event| matches!(
        event,
        Event::Session { session, change: Change::PickedUp { .. }, .. } if *session == id
    )));
    // A never sees the session again; B runs a query in it every second for three idle
    // timeouts. A votes for expiry every round; meta must refuse while B is active.
    for _ in 0..30 {
        let node = &world.nodes[B].sessions;
        let query =
            node.begin_query(world.now, id.get(), "GO FROM 1 OVER e", &world.table).unwrap();
        world.run(500, 10);
        let node = &world.nodes[B].sessions;
        node.finish_query(world.now, query.session, query.plan).unwrap();
        world.run(500, 10);
        assert!(world.meta.session(id).is_some(), "expired while in use on B");
        assert!(world.holds(A, id) && world.holds(B, id));
    }
    assert_eq!(world.nodes[A].sessions.session_count(), 1);
    // B stops: after the idle timeout and a round or two, meta expires it on both nodes.
    world.run(IDLE_TIMEOUT_MS + 3 * INTERVAL_MS, 10);
    assert!(world.meta.session(id).is_none());
    for node in [A, B] {
        assert!(!world.holds(node, id));
        assert_eq!(world.nodes[node].sessions.session_count(), 0);
        assert_eq!(world.nodes[node].sessions.user_ip_session_count("alice", IP), 0);
        let ended = world.ended(node, id);
        assert!(matches!(ended.as_slice(), [(EndReason::Expired { .. }, 0)]), "{ended:?}");
    }
}

#[test]
fn issue_5585_use_on_node_a_reaches_node_b_at_its_next_sync() {
    let mut world = World::new();
    let id = world.login(A);
    world.pick_up(B, id);
    let used_at = world.now;
    world.nodes[A].sessions.use_space(used_at, id.get(), "nba", &world.table).unwrap();
    let reached_at =
        world.run_until(5_000, |world| world.space_on(B, id).as_deref() == Some("nba"));
    // At meta by t + I + D, at every other holder by t + 2I + 3D.
    assert!(reached_at - used_at <= 2 * INTERVAL_MS + 3 * DELAY_MS + 1, "{}", reached_at - used_at);
    // B's next request runs in that space, with the role the table gives alice there.
    let query = world.nodes[B].sessions.begin_query(world.now, id.get(), "GO", &world.table);
    let query = query.unwrap();
    assert_eq!(query.caller.current_space(), Some("nba"));
    assert_eq!(query.caller.current_role(), Some(Role::User));
    world.nodes[B].sessions.finish_query(world.now, query.session, query.plan).unwrap();
    // A later USE on B wins everywhere, whatever order the reports arrive in.
    world.run(7, 1);
    world.nodes[B].sessions.use_space(world.now, id.get(), "ncaa", &world.table).unwrap();
    world.run(2 * INTERVAL_MS + 3 * DELAY_MS + 1, 1);
    assert_eq!(world.space_on(A, id).as_deref(), Some("ncaa"));
    assert_eq!(world.meta.session(id).map(|record| record.space.as_str()), Some("ncaa"));
}

#[test]
fn kill_session_on_node_b_ends_the_session_and_its_query_on_node_a_within_the_bound() {
    for offset in [0, 330, 770] {
        let mut world = World::new();
        let id = world.login(A);
        let query = world.nodes[A].sessions.begin_query(world.now, id.get(), "GO", &world.table);
        let query = query.unwrap();
        world.run(offset, 1);
        // KILL SESSION on B, which does not hold the session: nothing ends locally, meta
        // records the removal, A applies it at its next sync.
        let killed_at = world.now;
        let root = Caller::resolve(&world.table, "root", None);
        assert_eq!(world.nodes[B].sessions.kill_sessions(killed_at, &root, &[id.get()]), Ok(0));
        world.nodes[B].sync.remove(killed_at, id, RemoveReason::Killed).unwrap();
        let applied_at = world.run_until(5_000, |_| query.handle.check().is_err());
        assert!(
            applied_at - killed_at <= INTERVAL_MS + 5 * DELAY_MS + 1,
            "offset {offset}: {}",
            applied_at - killed_at
        );
        assert_eq!(query.handle.check(), Err(Killed { cause: KillCause::SessionKilled }));
        let sessions = &world.nodes[A].sessions;
        assert_eq!(sessions.touch(world.now, id.get()).unwrap_err().code(), -1002);
        assert_eq!((sessions.session_count(), sessions.user_ip_session_count("alice", IP)), (0, 0));
        assert_eq!(world.ended(A, id), [(EndReason::EndedElsewhere, 1)]);
        world.run(200, 10);
        let removed = NodeEvent::Removed { session: id, removed: true };
        assert!(world.nodes[B].events.contains(&removed));
    }
}

#[test]
fn kill_query_from_node_b_reaches_the_executor_on_node_a_within_the_bound() {
    for offset in [0, 330, 770] {
        let mut world = World::new();
        let id = world.login(A);
        let query = world.nodes[A].sessions.begin_query(world.now, id.get(), "GO", &world.table);
        let query = query.unwrap();
        let other = world.nodes[A].sessions.begin_query(world.now, id.get(), "GO", &world.table);
        let other = other.unwrap();
        // A's next round tells meta both run (meta refuses a kill of a plan no node reported).
        world.run(INTERVAL_MS + 2 * DELAY_MS + offset, 1);
        // KILL QUERY (session=id, plan=p) on B: the session is not here (-2069), so B asks meta.
        let killed_at = world.now;
        let alice = Caller::resolve(&world.table, "alice", None);
        let target = KillTarget::Session { session: id, plan: query.plan };
        let local = world.nodes[B].sessions.kill_query(&alice, id, target).unwrap_err();
        assert_eq!(local.code(), -2069);
        let key = QueryKey { session: id, plan: query.plan };
        let kill = QueryKill { key, caller_user: "alice".into(), caller_is_god: false };
        world.nodes[B].sync.kill_query(killed_at, kill).unwrap();
        let applied_at = world.run_until(5_000, |_| query.handle.check().is_err());
        assert!(
            applied_at - killed_at <= INTERVAL_MS + 5 * DELAY_MS + 1,
            "offset {offset}: {}",
            applied_at - killed_at
        );
        assert_eq!(query.handle.check(), Err(Killed { cause: KillCause::User }));
        // Only the query it names; the session lives on.
        assert!(other.handle.check().is_ok());
        let sessions = &world.nodes[A].sessions;
        let outcome = sessions.finish_query(world.now, query.session, query.plan).unwrap();
        let by = Kill::ByUser { user: CLUSTER_KILL_USER.to_owned() };
        assert_eq!(outcome, QueryOutcome::Killed(by));
        sessions.finish_query(world.now, other.session, other.plan).unwrap();
        sessions.touch(world.now, id.get()).unwrap();
        world.run(200, 10);
        assert!(world.nodes[A].events.contains(&NodeEvent::QueryKilled { key }));
        let answered = NodeEvent::QueryKillAnswered { key, result: QueryKillResult::Recorded };
        assert!(world.nodes[B].events.contains(&answered));
    }
}
