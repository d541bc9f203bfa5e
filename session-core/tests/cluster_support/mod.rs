//! Test support for cluster sync: an in-memory node registry ([`FakeLocal`]) implementing
//! `LocalSessions`, and a simulated cluster ([`Cluster`]): one meta store, a few nodes, and a
//! network that loses, duplicates, delays and reorders messages as a seeded RNG decides.
#![allow(dead_code, reason = "each test file uses a different part of the support module")]
#![allow(unreachable_pub, reason = "a test support module: pub is for the test files")]
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::collections::{BTreeMap, BTreeSet};

/// The nodes' sync period.
pub const SYNC_INTERVAL_MS: u64 = 1_000;

use graphsession_core::cluster::{
    Answer, GoneReason, LocalSessions, MetaConfig, MetaStore, NodeConfig, NodeEvent, NodeId,
    NodeSync, QueryReport, Request, SessionRecord, SessionReport,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{KillCause, QueryKey, QueryStatus};

pub const START: u64 = 1_763_900_000_000;

/// A node's registry: sessions and running queries, and a log of every kill applied.
#[derive(Debug, Default, Clone)]
pub struct FakeLocal {
    pub sessions: BTreeMap<SessionId, SessionReport>,
    pub queries: BTreeSet<QueryKey>,
    pub killed: Vec<(QueryKey, KillCause)>,
    pub dropped: Vec<(SessionId, GoneReason)>,
    /// Reports at most this many queries (as a node whose `reported_queries_max` cuts them).
    pub queries_reported_max: Option<usize>,
    /// How many times every session was read (`sessions`): once per full round.
    pub full_reads: std::cell::Cell<u32>,
}

impl FakeLocal {
    pub fn login(&mut self, session: SessionId, user: &str, now: u64) {
        self.sessions.insert(session, SessionReport::logged_in(session, user, "10.0.0.1", now));
    }

    pub fn touch(&mut self, session: SessionId, now: u64) -> bool {
        match self.sessions.get_mut(&session) {
            Some(report) => {
                report.last_activity_unix_ms = report.last_activity_unix_ms.max(now);
                true
            }
            None => false,
        }
    }

    pub fn use_space(&mut self, session: SessionId, space: &str, now: u64) -> bool {
        match self.sessions.get_mut(&session) {
            Some(report) => {
                report.last_activity_unix_ms = report.last_activity_unix_ms.max(now);
                report.space = space.to_owned();
                report.space_set_unix_ms = now;
                true
            }
            None => false,
        }
    }

    pub fn begin(&mut self, key: QueryKey, now: u64) -> bool {
        let Some(report) = self.sessions.get_mut(&key.session) else { return false };
        report.last_activity_unix_ms = report.last_activity_unix_ms.max(now);
        report.running_queries += 1;
        self.queries.insert(key)
    }

    pub fn finish(&mut self, key: QueryKey, now: u64) -> bool {
        if !self.queries.remove(&key) {
            return false;
        }
        if let Some(report) = self.sessions.get_mut(&key.session) {
            report.last_activity_unix_ms = report.last_activity_unix_ms.max(now);
            report.running_queries -= 1;
        }
        true
    }

    /// Sign-out or a local KILL SESSION: the session and its queries end here.
    pub fn end(&mut self, session: SessionId) -> bool {
        self.end_with(session, KillCause::SessionKilled)
    }

    fn end_with(&mut self, session: SessionId, cause: KillCause) -> bool {
        let keys: Vec<QueryKey> =
            self.queries.iter().filter(|key| key.session == session).copied().collect();
        for key in keys {
            self.queries.remove(&key);
            self.killed.push((key, cause));
        }
        self.sessions.remove(&session).is_some()
    }
}

impl LocalSessions for FakeLocal {
    fn sessions(&self) -> Vec<SessionReport> {
        self.full_reads.set(self.full_reads.get() + 1);
        self.sessions.values().cloned().collect()
    }

    fn session(&self, session: SessionId) -> Option<SessionReport> {
        self.sessions.get(&session).cloned()
    }

    fn holds(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    fn queries(&self, queries_max: usize, _statement_bytes_max: usize) -> Vec<QueryReport> {
        let queries_max = self.queries_reported_max.unwrap_or(queries_max).min(queries_max);
        (self.queries.iter().take(queries_max))
            .map(|&key| QueryReport {
                key,
                start_time_unix_us: 0,
                status: QueryStatus::Running,
                statement: String::new(),
            })
            .collect()
    }

    fn install(&mut self, record: &SessionRecord) {
        self.sessions.entry(record.session).or_insert_with(|| SessionReport {
            session: record.session,
            user: record.user.clone(),
            client_ip: record.client_ip.clone(),
            space: record.space.clone(),
            space_set_unix_ms: record.space_set_unix_ms,
            created_unix_ms: record.created_unix_ms,
            last_activity_unix_ms: record.last_activity_unix_ms,
            running_queries: 0,
        });
    }

    fn adopt_space(&mut self, record: &SessionRecord) -> bool {
        let Some(report) = self.sessions.get_mut(&record.session) else { return false };
        let newer = (record.space_set_unix_ms, record.space.as_str())
            > (report.space_set_unix_ms, report.space.as_str());
        if newer {
            report.space.clone_from(&record.space);
            report.space_set_unix_ms = record.space_set_unix_ms;
        }
        newer
    }

    fn drop_session(&mut self, session: SessionId, reason: GoneReason) {
        let cause = match reason {
            GoneReason::Expired => KillCause::SessionExpired,
            _ => KillCause::SessionKilled,
        };
        if self.end_with(session, cause) {
            self.dropped.push((session, reason));
        }
    }

    fn kill_query(&mut self, key: QueryKey) -> bool {
        if !self.queries.remove(&key) {
            return false;
        }
        if let Some(report) = self.sessions.get_mut(&key.session) {
            report.running_queries -= 1;
        }
        self.killed.push((key, KillCause::User));
        true
    }
}

/// A small deterministic RNG (xorshift64*), so a failing case replays from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next() % bound }
    }

    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What the network does to each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    pub loss_percent: u64,
    pub duplicate_percent: u64,
    /// Each copy is delayed uniformly in 0..=delay_max_ms, so messages overtake each other.
    pub delay_max_ms: u64,
}

impl Faults {
    pub const NONE: Faults = Faults { loss_percent: 0, duplicate_percent: 0, delay_max_ms: 0 };
}

#[derive(Debug, Clone)]
pub enum Message {
    ToMeta { from: usize, request: Request },
    ToNode { to: usize, answer: Answer },
}

/// One input the meta store handled, for replay.
#[derive(Debug, Clone)]
pub enum MetaInput {
    Request { now: u64, node: NodeId, request: Box<Request> },
    Timeout { now: u64 },
}

pub struct Node {
    pub id: NodeId,
    pub sync: NodeSync,
    pub local: FakeLocal,
    pub events: Vec<NodeEvent>,
}

/// One meta store and its nodes, on a simulated clock and network.
pub struct Cluster {
    pub now: u64,
    pub meta: MetaStore,
    pub nodes: Vec<Node>,
    pub network: Vec<(u64, u64, Message)>,
    pub faults: Faults,
    pub rng: Rng,
    sent: u64,
    /// Every session meta ever tombstoned: none may come back to life.
    pub removed_at_meta: BTreeSet<SessionId>,
    /// Drop every request of these nodes (a partition, or a meta that fails them).
    pub cut_off: BTreeSet<usize>,
    /// Every input the meta store handled, in order.
    pub meta_log: Vec<MetaInput>,
}

impl Cluster {
    pub fn new(nodes: u16, meta: MetaConfig, node: NodeConfig, seed: u64) -> Cluster {
        let nodes = (1..=nodes)
            .map(|id| Node {
                id: NodeId(id),
                sync: NodeSync::new(node, 1, START).unwrap(),
                local: FakeLocal::default(),
                events: Vec::new(),
            })
            .collect();
        Cluster {
            now: START,
            meta: MetaStore::new(meta).unwrap(),
            nodes,
            network: Vec::new(),
            faults: Faults::NONE,
            rng: Rng::new(seed),
            sent: 0,
            removed_at_meta: BTreeSet::new(),
            cut_off: BTreeSet::new(),
            meta_log: Vec::new(),
        }
    }

    fn send(&mut self, message: Message) {
        let faults = self.faults;
        if self.rng.percent(faults.loss_percent) {
            return;
        }
        let copies = if self.rng.percent(faults.duplicate_percent) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.now + self.rng.below(faults.delay_max_ms + 1);
            self.sent += 1;
            self.network.push((at, self.sent, message.clone()));
        }
    }

    /// One step at the current time: deliver what is due (in random order), run due timers,
    /// send what the machines want to send. Checks every invariant.
    pub fn step(&mut self) {
        let now = self.now;
        let mut due: Vec<(u64, u64, Message)> = Vec::new();
        let mut index = 0;
        while index < self.network.len() {
            if self.network[index].0 <= now {
                due.push(self.network.swap_remove(index));
            } else {
                index += 1;
            }
        }
        due.sort_by_key(|(_, order, _)| *order);
        while !due.is_empty() {
            let pick = usize::try_from(self.rng.below(due.len() as u64)).unwrap();
            let (_, _, message) = due.swap_remove(pick);
            self.deliver(message);
        }
        if self.meta.poll_timeout().is_some_and(|at| at <= now) {
            self.meta.handle_timeout(now);
            self.meta_log.push(MetaInput::Timeout { now });
        }
        for index in 0..self.nodes.len() {
            self.pump(index);
        }
        self.observe_meta();
        self.check();
    }

    /// Runs node `index`'s timer and sends its request, if any.
    pub fn pump(&mut self, index: usize) {
        let now = self.now;
        let node = &mut self.nodes[index];
        if node.sync.poll_timeout().is_some_and(|at| at <= now) {
            node.sync.handle_timeout(now, &node.local);
        }
        if let Some(request) = node.sync.poll_request() {
            if !self.cut_off.contains(&index) {
                self.send(Message::ToMeta { from: index, request });
            }
        }
    }

    fn deliver(&mut self, message: Message) {
        let now = self.now;
        match message {
            Message::ToMeta { from, request } => {
                let node = self.nodes[from].id;
                self.meta_log.push(MetaInput::Request {
                    now,
                    node,
                    request: Box::new(request.clone()),
                });
                let answer = self.meta.handle_request(now, node, request);
                self.meta.check_invariants().unwrap();
                self.send(Message::ToNode { to: from, answer });
            }
            Message::ToNode { to, answer } => {
                let node = &mut self.nodes[to];
                node.sync.handle_answer(now, answer, &mut node.local);
                while let Some(event) = node.sync.poll_event() {
                    node.events.push(event);
                }
            }
        }
    }

    fn observe_meta(&mut self) {
        for session in self.removed_at_meta.iter() {
            assert!(self.meta.session(*session).is_none(), "session {session} came back to life");
        }
        let tracked: Vec<SessionId> = self.tracked_sessions().collect();
        for session in tracked {
            if self.meta.gone_reason(session).is_some() {
                self.removed_at_meta.insert(session);
            }
        }
    }

    fn tracked_sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        let local = self.nodes.iter().flat_map(|node| node.local.sessions.keys().copied());
        let meta = self.meta.live_sessions();
        local.chain(meta).collect::<BTreeSet<_>>().into_iter()
    }

    pub fn check(&self) {
        self.meta.check_invariants().unwrap();
        for node in &self.nodes {
            node.sync.check_invariants().unwrap();
        }
    }

    /// Advances the clock by `ms` in steps of `tick_ms`.
    pub fn run(&mut self, ms: u64, tick_ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + tick_ms).min(end);
            self.step();
        }
    }

    pub fn node(&mut self, index: usize) -> &mut Node {
        &mut self.nodes[index]
    }

    pub fn events(&mut self, index: usize) -> Vec<NodeEvent> {
        std::mem::take(&mut self.nodes[index].events)
    }
}

pub fn sid(value: i64) -> SessionId {
    SessionId::new(value).unwrap()
}

pub fn key(session: i64, plan: u64) -> QueryKey {
    QueryKey { session: sid(session), plan: PlanId::from_u64(plan) }
}

/// Fast settings for tests: 1 s sync interval, 10 s idle timeout.
pub fn fast_node_config() -> NodeConfig {
    NodeConfig {
        sync_interval_ms: SYNC_INTERVAL_MS,
        idle_timeout_ms: 10_000,
        request_timeout_ms: 400,
        retry_backoff_ms: 100,
        retry_backoff_max_ms: 800,
        ..NodeConfig::default()
    }
}

pub fn fast_meta_config() -> MetaConfig {
    MetaConfig {
        idle_timeout_ms: 10_000,
        holder_silence_ms: 60_000,
        tombstone_retention_ms: 3_600_000,
        kill_mark_retention_ms: 3_600_000,
        ..MetaConfig::default()
    }
}
