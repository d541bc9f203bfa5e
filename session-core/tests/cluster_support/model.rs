//! The reference model of the whole cluster (one map of sessions with instant propagation) and
//! [`run_case`], which drives three nodes and a meta store over a faulty network next to it and
//! checks convergence once the network heals (invariants after every step). Shared by
//! `cluster_model.rs` (proptest) and the fuzz target `cluster` (included with `#[path]`, next to
//! `cluster_support`).

use std::collections::{BTreeMap, BTreeSet};

use super::cluster_support::{Cluster, Faults, fast_meta_config, fast_node_config};
use graphsession_core::cluster::{
    MetaConfig, NodeConfig, NodeEvent, QueryKill, QueryKillResult, RemoveReason,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{KillCause, QueryKey};

pub(crate) const NODES: usize = 3;
pub(crate) const SPACES: [&str; 3] = ["nba", "ldbc", "social"];
/// Every model login's user.
const USER: &str = "alice";
/// The user of a login that issues an id the cluster already gave out ([`Op::Clash`]).
const CLASH_USER: &str = "mallory";
const TICK_MS: u64 = 10;

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Login {
        node: usize,
    },
    Touch {
        node: usize,
        session: usize,
    },
    Use {
        node: usize,
        session: usize,
        space: usize,
    },
    PickUp {
        node: usize,
        session: usize,
    },
    Begin {
        node: usize,
        session: usize,
    },
    Finish {
        query: usize,
    },
    SignOut {
        node: usize,
        session: usize,
    },
    KillSession {
        node: usize,
        session: usize,
    },
    KillQuery {
        node: usize,
        query: usize,
    },
    /// The node's registry ends its copy on its own (a local idle timer): not a removal.
    Forget {
        node: usize,
        session: usize,
    },
    Advance {
        ms: u64,
    },
    /// A login on `node` issues the id of a registered session, for another user (graph servers
    /// sealing ids with different keys may): meta must refuse it, so the model does not change.
    /// Only on a node that never created, held or asked for that id: one that did would be a
    /// second coincidence, which the node does not tell apart (its pick-up would install the
    /// session over the registering copy). Ops naming that id on that node leave the refused
    /// copy alone (a node's own registry may still drop it).
    #[allow(dead_code, reason = "the fuzz target, which includes this model, issues no clash")]
    Clash {
        node: usize,
        session: usize,
    },
}

/// The reference: every session and query of the cluster in one place, changes visible at once.
#[derive(Debug, Default)]
struct Model {
    /// Live sessions and their space as (time of USE, space): the newest USE wins.
    live: BTreeMap<SessionId, (u64, String)>,
    removed: BTreeSet<SessionId>,
    running: BTreeSet<QueryKey>,
    /// Queries a KILL QUERY named.
    named: BTreeSet<QueryKey>,
    /// (session, node) pairs with a USE on that node's copy.
    used_on: BTreeSet<(SessionId, usize)>,
    /// Sessions whose copy with a USE was ended by a node's own registry: that USE may never
    /// have reached meta (it is lost with the copy), so only convergence is checked.
    space_uncertain: BTreeSet<SessionId>,
    /// Queries the model killed while they ran.
    killed: BTreeSet<QueryKey>,
}

impl Model {
    fn remove(&mut self, session: SessionId) {
        if self.live.remove(&session).is_some() {
            self.removed.insert(session);
        }
        self.running.retain(|key| key.session != session);
    }
}

struct Run {
    cluster: Cluster,
    model: Model,
    sessions: Vec<SessionId>,
    queries: Vec<QueryKey>,
    next_session: i64,
    next_plan: u64,
    /// (node, session) pairs where the node created the session or asked for it.
    asked: BTreeSet<(usize, SessionId)>,
}

impl Run {
    fn session(&self, index: usize) -> Option<SessionId> {
        (!self.sessions.is_empty()).then(|| self.sessions[index % self.sessions.len()])
    }

    fn query(&self, index: usize) -> Option<QueryKey> {
        (!self.queries.is_empty()).then(|| self.queries[index % self.queries.len()])
    }

    fn holds(&self, node: usize, session: SessionId) -> bool {
        self.cluster.nodes[node].local.sessions.contains_key(&session)
    }

    /// The session at `index`, unless `node`'s copy of it is a clash waiting for meta's refusal.
    fn own_session(&self, node: usize, index: usize) -> Option<SessionId> {
        let session = self.session(index)?;
        let copy = self.cluster.nodes[node].local.sessions.get(&session);
        copy.is_none_or(|report| report.user != CLASH_USER).then_some(session)
    }

    fn apply(&mut self, op: &Op) {
        let now = self.cluster.now;
        match *op {
            Op::Login { node } => self.login(node),
            Op::Touch { node, session } => {
                let Some(session) = self.own_session(node, session) else { return };
                self.cluster.nodes[node].local.touch(session, now);
            }
            Op::Use { node, session, space } => {
                let Some(session) = self.own_session(node, session) else { return };
                if !self.cluster.nodes[node].local.use_space(session, SPACES[space], now) {
                    return;
                }
                self.model.used_on.insert((session, node));
                if let Some(current) = self.model.live.get_mut(&session) {
                    let used = (now, SPACES[space].to_owned());
                    if used > *current {
                        *current = used;
                    }
                }
            }
            Op::PickUp { node, session } => {
                let Some(session) = self.session(session) else { return };
                if !self.holds(node, session) {
                    self.cluster.nodes[node].sync.pick_up(now, session).unwrap();
                    self.asked.insert((node, session));
                }
            }
            Op::Begin { node, session } => {
                let Some(session) = self.own_session(node, session) else { return };
                self.next_plan += 1;
                // Plan ids carry the node's slot, as id-gen issues them (fix 5,
                // docs/fixes.md).
                let slot = u16::try_from(node + 1).unwrap();
                let plan = PlanId::from_parts(slot, self.next_plan).unwrap();
                let key = QueryKey { session, plan };
                if !self.cluster.nodes[node].local.begin(key, now) {
                    return;
                }
                self.queries.push(key);
                if self.model.live.contains_key(&session) {
                    self.model.running.insert(key);
                }
            }
            Op::Finish { query } => {
                let Some(key) = self.query(query) else { return };
                for node in &mut self.cluster.nodes {
                    node.local.finish(key, now);
                }
                self.model.running.remove(&key);
            }
            Op::SignOut { node, session } => {
                let Some(session) = self.own_session(node, session) else { return };
                if self.cluster.nodes[node].local.end(session) {
                    let sync = &mut self.cluster.nodes[node].sync;
                    sync.remove(now, session, RemoveReason::SignedOut).unwrap();
                    self.model.remove(session);
                }
            }
            Op::KillSession { node, session } => {
                let Some(session) = self.own_session(node, session) else { return };
                let target = &mut self.cluster.nodes[node];
                target.local.end(session);
                target.sync.remove(now, session, RemoveReason::Killed).unwrap();
                self.model.remove(session);
            }
            Op::KillQuery { node, query } => self.kill_query(node, query),
            Op::Forget { node, session } => {
                let Some(session) = self.session(session) else { return };
                let local = &mut self.cluster.nodes[node].local;
                // A registry never ends a session with a running query (fix 3,
                // docs/fixes.md).
                if local.sessions.get(&session).is_some_and(|s| s.running_queries == 0) {
                    local.sessions.remove(&session);
                    if self.model.used_on.contains(&(session, node)) {
                        self.model.space_uncertain.insert(session);
                    }
                }
            }
            Op::Advance { ms } => self.cluster.run(ms, TICK_MS),
            Op::Clash { node, session } => self.clash(node, session),
        }
        self.cluster.run(TICK_MS, TICK_MS);
        self.note_registrations();
    }

    fn login(&mut self, node: usize) {
        let now = self.cluster.now;
        self.next_session += 1;
        let session = SessionId::new(self.next_session).unwrap();
        let target = &mut self.cluster.nodes[node];
        target.local.login(session, USER, now);
        self.asked.insert((node, session));
        target.sync.announce(now, session).unwrap();
        // The client gets its id (and the model the session) once meta registered it, as a
        // NebulaGraph login returns only after the session is in meta.
    }

    /// A login on `node` that issues the id of registered session `index` (see [`Op::Clash`]).
    fn clash(&mut self, node: usize, index: usize) {
        let Some(session) = self.session(index) else { return };
        if self.holds(node, session) || self.asked.contains(&(node, session)) {
            return;
        }
        let now = self.cluster.now;
        let target = &mut self.cluster.nodes[node];
        target.local.login(session, CLASH_USER, now);
        target.sync.announce(now, session).unwrap();
    }

    fn note_registrations(&mut self) {
        for node in 0..NODES {
            for event in self.cluster.events(node) {
                match event {
                    NodeEvent::Registered { session } => {
                        assert!(!self.sessions.contains(&session), "{session} registered twice");
                        self.sessions.push(session);
                        self.model.live.insert(session, (0, String::new()));
                    }
                    // A KILL QUERY forwarded to meta kills only once meta recorded it: meta
                    // refuses a plan its holders' last reports do not show (NebulaGraph's
                    // check, as stale as theirs), and then the query runs on.
                    NodeEvent::QueryKillAnswered { key, result: QueryKillResult::Recorded }
                        if self.model.running.remove(&key) =>
                    {
                        self.model.killed.insert(key);
                    }
                    _ => {}
                }
            }
        }
    }

    fn kill_query(&mut self, node: usize, query: usize) {
        let Some(key) = self.query(query) else { return };
        let now = self.cluster.now;
        self.model.named.insert(key);
        let target = &mut self.cluster.nodes[node];
        if target.local.queries.contains(&key) {
            use graphsession_core::cluster::LocalSessions;
            if self.model.running.remove(&key) {
                self.model.killed.insert(key);
            }
            target.local.kill_query(key);
        } else {
            let kill = QueryKill { key, caller_user: "root".to_owned(), caller_is_god: true };
            target.sync.kill_query(now, kill).unwrap();
        }
    }

    fn check_converged(&self) {
        let meta = &self.cluster.meta;
        let live: BTreeSet<SessionId> = meta.live_sessions().collect();
        let expected: BTreeSet<SessionId> = self.model.live.keys().copied().collect();
        assert_eq!(live, expected, "live sessions");
        for (session, (_, space)) in &self.model.live {
            assert_eq!(meta.session(*session).unwrap().user, USER, "user of {session}");
            if !self.model.space_uncertain.contains(session) {
                assert_eq!(&meta.session(*session).unwrap().space, space, "space of {session}");
            }
        }
        for node in &self.cluster.nodes {
            assert_eq!(node.sync.pending_removals().count(), 0);
            for (session, report) in &node.local.sessions {
                assert!(live.contains(session), "node {:?} holds dead {session}", node.id);
                let record = meta.session(*session).unwrap();
                assert_eq!(report.user, record.user, "a refused clash kept on {:?}", node.id);
                assert_eq!(&report.space, &record.space, "space on {:?}", node.id);
            }
            for (key, cause) in &node.local.killed {
                match cause {
                    KillCause::User => assert!(self.model.named.contains(key), "{key:?}"),
                    _ => assert!(self.model.removed.contains(&key.session), "{key:?}"),
                }
            }
            for key in &node.local.queries {
                assert!(!self.model.killed.contains(key), "{key:?} still runs");
                assert!(live.contains(&key.session), "{key:?} outlives its session");
            }
        }
    }
}

fn configs() -> (MetaConfig, NodeConfig) {
    let idle_timeout_ms = 1_000_000_000;
    let meta = MetaConfig { idle_timeout_ms, ..fast_meta_config() };
    let node = NodeConfig { idle_timeout_ms, sync_batch_sessions_max: 4, ..fast_node_config() };
    (meta, node)
}

/// One case: `ops` on three nodes over a network with `faults` (seeded by `seed`), then the
/// network heals and the cluster must have converged to the model.
pub(crate) fn run_case(ops: &[Op], seed: u64, faults: Faults) {
    let (meta, node) = configs();
    let mut cluster = Cluster::new(u16::try_from(NODES).unwrap(), meta, node, seed);
    cluster.faults = faults;
    let mut run = Run {
        cluster,
        model: Model::default(),
        sessions: Vec::new(),
        queries: Vec::new(),
        next_session: 0,
        next_plan: 0,
        asked: BTreeSet::new(),
    };
    for op in ops {
        run.apply(op);
    }
    run.cluster.faults = Faults::NONE;
    run.cluster.run(20_000, 50);
    run.note_registrations();
    run.check_converged();
}
