//! The cluster world: graph nodes (real [`SessionManager`]s with their [`NodeSync`]s), one
//! [`MetaStore`], and client processes (real [`SessionMachine`]s) on one simulated clock, joined by
//! a simulated network, all driven by one seed.
//!
//! A run has two phases. The safety phase picks one step at a time through the seed's generator:
//! deliver the next due message, fire due timers, advance the clock, client workload (open,
//! execute, close, restart a process), and faults (reset a client's socket, kill a client process
//! without close, lose a node-meta message), and the admin (root: KILL SESSION, KILL QUERY,
//! GRANT/REVOKE, USE; see `admin.rs`). Some executes run long: the node answers them when they
//! finish or stop at a kill. After every step every machine's `check_invariants` runs, every
//! session id a node issues must be new, no client may send a request naming a session id no
//! `AuthenticateOk` gave it, and the query oracles of `admin.rs` hold. The liveness phase then
//! stops faults and workload, closes every running client, and lets time pass (bounded) until
//! every sign-out was delivered, every running client's ledger is empty, and meta and every node
//! hold no session at all: each session was signed out, killed by the admin or, orphaned by a
//! killed client or a lost reply, expired.
//!
//! [`SessionManager`]: graphsession_core::server::SessionManager
//! [`NodeSync`]: graphsession_core::cluster::NodeSync
//! [`SessionMachine`]: graphsession_core::client::SessionMachine

mod admin;
pub mod client;
pub mod config;
mod faults;
pub mod legacy;
mod liveness;
pub mod marks;
pub mod network;
pub mod node;
mod stats;
mod trace;

use std::collections::{BTreeMap, BTreeSet};

use graphsession_base::Fnv1a;
use graphsession_core::client::{
    Action, ConnectionId, Event, Idempotency, LossReason, Request, Response, TransportEvent,
};
use graphsession_core::cluster::{MetaConfig, MetaStore};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::QueryKey;

use crate::chooser::{Chooser, WeightTable};
pub use crate::world::client::ClientKind;
use crate::world::client::{Life, SimClient};
pub use crate::world::config::{ClusterConfig, StepKind};
pub use crate::world::marks::{Mark, Marks};
use crate::world::network::{Message, Network};
use crate::world::node::{Handled, SimNode};
pub use crate::world::stats::{ClusterRunOutcome, ClusterStats, ClusterViolation};
pub use crate::world::trace::TraceLine;

const START_UNIX_MS: u64 = 1_763_900_000_000;
/// Steps the liveness phase may take before it counts as not converging.
pub const LIVENESS_STEPS_MAX: u32 = 200_000;

/// A client socket the network knows.
#[derive(Debug, Clone, Copy)]
struct Socket {
    client: u16,
    process: u32,
    node: u16,
    open: bool,
    /// The client closed it: nothing more arriving on it is read.
    closed_by_client: bool,
}

/// What a test may change about a world (the seed decides everything else).
#[derive(Debug, Clone, Copy, Default)]
pub struct Twist {
    /// Test only: meta's answers to node 0 lose their kill marks (sessions gone, queries to
    /// kill). The kill oracle must catch the queries left running.
    #[doc(hidden)]
    pub drop_kill_marks: bool,
}

/// How a run is set up besides its choices.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The client implementation of every process.
    pub client: ClientKind,
    /// A test's twist.
    pub twist: Twist,
    /// Record every step as a [`TraceLine`] (for `--trace`).
    pub trace: bool,
    /// Record the trace hash after every step (for `--check-determinism`).
    pub step_hashes: bool,
}

/// A link the partition fault can cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Link {
    /// Client slot `client` and graph node `node`.
    ClientNode {
        /// The client slot.
        client: u16,
        /// The node.
        node: u16,
    },
    /// Graph node `node` and meta.
    NodeMeta {
        /// The node.
        node: u16,
    },
}

/// The world of one seed.
pub struct ClusterWorld {
    seed: u64,
    choose: Chooser,
    config: ClusterConfig,
    /// The configuration's step weights, prepared for a draw at every step.
    step_weights: WeightTable,
    options: Options,
    twist: Twist,
    meta_config: MetaConfig,
    /// Cut links.
    partitions: BTreeSet<Link>,
    /// Each node's clock minus true time, milliseconds.
    skew_ms: Vec<i64>,
    /// The session (and the socket it was created on) each id was given on, by id.
    given_on: BTreeMap<SessionId, (u16, u32, ConnectionId)>,
    /// Sign-outs sent, by session (a second one is a retry).
    sign_outs_sent: BTreeSet<SessionId>,
    marks: Marks,
    trace_lines: Vec<TraceLine>,
    step_hashes: Vec<u64>,
    now_ms: u64,
    table: RoleTable,
    meta: MetaStore,
    nodes: Vec<SimNode>,
    clients: Vec<SimClient>,
    sockets: BTreeMap<ConnectionId, Socket>,
    network: Network,
    issued: BTreeSet<i64>,
    next_process: u32,
    stats: ClusterStats,
    trace_hash: Fnv1a,
    step: u64,
    /// Clients closed by the liveness phase: their ledgers must end empty.
    closed_in_liveness: BTreeSet<u16>,
    /// Sessions each client closed by the liveness phase owned at the close: each must end by
    /// sign-out (or have ended before the close).
    owned_at_close: Vec<(u16, Vec<SessionId>)>,
    /// When the liveness phase began.
    liveness_start_ms: u64,
    /// Whether the network is healed (the liveness phase runs).
    healed: bool,
    /// Clients that got a ready session or a result since the network healed.
    recovered: BTreeSet<u16>,
    /// The admin: root, GOD.
    root: Caller,
    /// Sessions the admin killed (they end by kill, not sign-out).
    admin_killed: BTreeSet<SessionId>,
    /// Queries the admin asked to kill.
    kills_asked: BTreeSet<QueryKey>,
    /// When (time, step) the kill oracle first saw meta's end of a session with a running query.
    gone_seen: BTreeMap<SessionId, (u64, u64)>,
    /// When the network healed.
    heal_ms: u64,
    /// Whether the workload user holds the admin's role in the space.
    granted: bool,
    /// Steps of the safety phase run.
    safety_steps: u64,
    /// A session id issued twice, found outside a step's result (checked with the oracles).
    late_duplicate: Option<SessionId>,
    /// Machines that took an input since their invariants were last checked: a pure machine's
    /// invariants change only with its inputs, so only these are checked after a step. (Each
    /// node's registry says for itself whether it took one: [`SimNode::take_registry_touched`].)
    dirty: Dirty,
}

/// Machines touched since the last invariant check: bit `i` of `nodes` is node `i`'s sync, of
/// `clients` client slot `i` (a world has at most 3 nodes and 6 clients).
#[derive(Debug, Clone, Copy, Default)]
struct Dirty {
    meta: bool,
    nodes: u64,
    clients: u64,
}

impl Dirty {
    fn node(&mut self, index: usize) {
        self.nodes |= 1 << (index % 64);
    }

    fn client(&mut self, slot: usize) {
        self.clients |= 1 << (slot % 64);
    }
}

/// The indexes of the set bits of `bits`, lowest first (one iteration per set bit: this runs
/// after every step).
fn bits(mut bits: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let index = bits.trailing_zeros();
        bits &= bits - 1;
        usize::try_from(index).ok()
    })
}

/// A step's or a check's result: the violated property, with expected and actual values.
type Checked = Result<(), String>;

impl ClusterWorld {
    /// Builds the world a seed describes.
    pub fn new(seed: u64) -> Result<ClusterWorld, String> {
        ClusterWorld::with_twist(seed, Twist::default())
    }

    /// Builds the world a seed describes, with a test's twist.
    pub fn with_twist(seed: u64, twist: Twist) -> Result<ClusterWorld, String> {
        ClusterWorld::with_chooser(
            seed,
            Chooser::from_seed(seed),
            Options { twist, ..Options::default() },
        )
    }

    /// Builds a world whose every choice comes from `choose` (a seed's generator, a replayed
    /// list, or a fuzzer's bytes); `seed` only labels the run.
    pub fn with_chooser(
        seed: u64,
        mut choose: Chooser,
        options: Options,
    ) -> Result<ClusterWorld, String> {
        let twist = options.twist;
        let config = ClusterConfig::derive(&mut choose);
        let mut table = RoleTable::new();
        let root = Caller::resolve(&table, "root", None);
        table
            .create_user(&root, Policy::OPEN, client::USER)
            .map_err(|error| format!("create user: {error}"))?;
        let meta_config = MetaConfig {
            idle_timeout_ms: config.idle_timeout_ms,
            holder_silence_ms: 60_000,
            ..MetaConfig::default()
        };
        let meta =
            MetaStore::new(meta_config).map_err(|error| format!("meta config refused: {error}"))?;
        let nodes = (0..config.nodes)
            .map(|index| SimNode::new(index, &config, START_UNIX_MS, 1))
            .collect::<Result<Vec<_>, _>>()?;
        let clients = (0..config.clients)
            .map(|slot| SimClient::new(slot, u32::from(slot) + 1, &config, options.client))
            .collect::<Result<Vec<_>, _>>()?;
        let skew_max = i64::try_from(config.clock_skew_max_ms).unwrap_or(0);
        let skew_ms = (0..config.nodes)
            .map(|_| {
                let spread = u64::try_from(2 * skew_max).unwrap_or(0);
                i64::try_from(choose.range(0, spread)).unwrap_or(0) - skew_max
            })
            .collect();
        Ok(ClusterWorld {
            seed,
            choose,
            next_process: u32::from(config.clients) + 1,
            step_weights: WeightTable::new(&config.weights),
            config,
            options,
            twist,
            meta_config,
            partitions: BTreeSet::new(),
            skew_ms,
            given_on: BTreeMap::new(),
            sign_outs_sent: BTreeSet::new(),
            marks: Marks::default(),
            trace_lines: Vec::new(),
            step_hashes: Vec::new(),
            now_ms: START_UNIX_MS,
            table,
            meta,
            nodes,
            clients,
            sockets: BTreeMap::new(),
            network: Network::default(),
            issued: BTreeSet::new(),
            stats: ClusterStats::default(),
            trace_hash: Fnv1a::new(),
            step: 0,
            closed_in_liveness: BTreeSet::new(),
            owned_at_close: Vec::new(),
            liveness_start_ms: 0,
            healed: false,
            recovered: BTreeSet::new(),
            root,
            admin_killed: BTreeSet::new(),
            kills_asked: BTreeSet::new(),
            gone_seen: BTreeMap::new(),
            heal_ms: 0,
            granted: false,
            safety_steps: 0,
            late_duplicate: None,
            dirty: Dirty::default(),
        })
    }

    /// The derived configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Runs both phases; stops at the first violation.
    pub fn run(mut self) -> ClusterRunOutcome {
        let result = self.run_phases();
        self.collect_counters();
        let violation = result.err().map(|message| ClusterViolation {
            step: self.step,
            message,
            last_events: self.trace_lines.iter().rev().take(12).rev().cloned().collect(),
        });
        ClusterRunOutcome {
            seed: self.seed,
            stats: self.stats,
            marks: self.marks,
            trace_hash: self.trace_hash.finish(),
            violation,
            safety_steps: self.safety_steps,
            choices: self.choose.recorded().to_vec(),
            trace: if self.options.trace { self.trace_lines } else { Vec::new() },
            step_hashes: self.step_hashes,
        }
    }

    fn run_phases(&mut self) -> Checked {
        for _ in 0..self.config.steps {
            // A replayed (or shrunk) list of choices that ran out ends the fault phase.
            if self.choose.is_exhausted() {
                break;
            }
            self.step += 1;
            self.safety_steps += 1;
            self.safety_step()?;
            self.check_all()?;
            self.check_oracles()?;
            self.end_step();
        }
        self.liveness()
    }

    /// After each step: the determinism log.
    fn end_step(&mut self) {
        if self.options.step_hashes {
            self.step_hashes.push(self.trace_hash.finish());
        }
    }

    fn trace(&mut self, value: u64) {
        self.trace_hash.u64_le(value);
    }

    /// Records a step for the trace file and the failure report (only when tracing: the
    /// description is not even built otherwise).
    fn note(&mut self, kind: &'static str, detail: impl FnOnce() -> String) {
        if !self.options.trace {
            return;
        }
        let detail = detail();
        self.trace_lines.push(TraceLine {
            seed: self.seed,
            step: self.step,
            now_ms: self.now_ms,
            kind,
            detail,
        });
    }

    /// Node `index`'s clock.
    fn node_now(&self, index: usize) -> u64 {
        let skew = self.skew_ms.get(index).copied().unwrap_or(0);
        self.now_ms.saturating_add_signed(skew)
    }

    fn delay(&mut self) -> u64 {
        self.choose.range(0, self.config.latency_max_ms)
    }

    fn pick_client(&mut self) -> usize {
        self.choose.index(usize::from(self.config.clients))
    }

    fn pick_node_index(&mut self) -> usize {
        self.choose.index(usize::from(self.config.nodes))
    }

    fn safety_step(&mut self) -> Checked {
        let kind = StepKind::ALL[self.choose.weighted_table(&self.step_weights)];
        self.stats.steps_by_kind[kind as usize] += 1;
        self.trace(kind as u64);
        self.trace(self.now_ms);
        match kind {
            StepKind::Deliver => {
                // Nothing due: jump to the next arrival.
                if let Some(at) = self.network.next_at_ms() {
                    self.now_ms = self.now_ms.max(at);
                }
                self.deliver_one_due()?;
            }
            StepKind::Timers => self.fire_timers()?,
            StepKind::Tick => {
                let tick = self.choose.range(1, self.config.tick_max_ms);
                self.now_ms += tick;
                self.note("tick", || format!("+{tick} ms"));
            }
            StepKind::Open => {
                let slot = self.pick_client();
                if self.clients[slot].life == Life::Running {
                    self.note("open", || format!("client {slot}"));
                    self.stats.events += 1;
                    self.clients[slot].open(self.now_ms);
                    self.pump_client(slot)?;
                }
            }
            StepKind::Execute => self.workload_execute()?,
            StepKind::Close => self.workload_close()?,
            StepKind::Restart => self.restart_client()?,
            StepKind::Reset => self.fault_reset(),
            StepKind::NodeRestart => self.fault_node_restart()?,
            StepKind::Kill => self.fault_kill(),
            StepKind::Admin => self.admin_step()?,
            StepKind::MetaLoss => {
                let pick = self.choose.any_u64();
                if self.network.drop_meta_message(pick) {
                    self.stats.meta_losses += 1;
                    self.note("meta_loss", String::new);
                }
            }
            StepKind::Partition => self.fault_partition(),
            StepKind::Heal => self.heal_one(),
            StepKind::ClockStep => self.fault_clock_step(),
            StepKind::MetaDuplicate => self.fault_meta_duplicate(),
            StepKind::MetaReorder => self.fault_meta_reorder(),
            StepKind::MetaCrash => self.fault_meta_crash()?,
        }
        Ok(())
    }

    fn workload_execute(&mut self) -> Checked {
        let slot = self.pick_client();
        let idempotency = if self.choose.chance(1, 2) {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        if self.clients[slot].life != Life::Running {
            return Ok(());
        }
        self.stats.events += 1;
        if self.choose.chance(1, 8) {
            self.note("use", || format!("client {slot}"));
            self.clients[slot].use_space(self.now_ms, "nba");
        } else {
            let statement = format!("GO FROM {} OVER follow", self.choose.below(100));
            self.note("execute", || format!("client {slot}: {statement}"));
            self.clients[slot].execute(self.now_ms, statement, idempotency);
        }
        self.pump_client(slot)
    }

    fn workload_close(&mut self) -> Checked {
        let slot = self.pick_client();
        if self.clients[slot].life != Life::Running {
            return Ok(());
        }
        let force = self.choose.chance(1, 4);
        self.note("close", || format!("client {slot}{}", if force { " (force)" } else { "" }));
        self.stats.events += 1;
        self.clients[slot].close(self.now_ms, force);
        self.pump_client(slot)
    }

    fn new_process(&mut self, slot: usize) -> Result<SimClient, String> {
        let process = self.next_process;
        self.next_process += 1;
        let slot = u16::try_from(slot).unwrap_or(0);
        SimClient::new(slot, process, &self.config, self.options.client)
    }

    /// A killed process, or one whose client closed, is replaced by a new process.
    fn restart_client(&mut self) -> Checked {
        let slot = self.pick_client();
        let client = &self.clients[slot];
        if client.life == Life::Running && !client.is_closed() {
            return Ok(());
        }
        self.note("restart", || format!("client {slot}"));
        self.clients[slot] = self.new_process(slot)?;
        self.dirty.client(slot);
        Ok(())
    }

    /// The process's sockets close (its kernel flushes what it wrote; replies are lost).
    fn close_sockets_of(&mut self, process: u32) {
        for socket in self.sockets.values_mut() {
            if socket.process == process {
                socket.open = false;
            }
        }
    }

    fn deliver_one_due(&mut self) -> Checked {
        match self.network.pop_due(self.now_ms) {
            Some(message) => self.deliver(message),
            None => Ok(()),
        }
    }

    fn deliver(&mut self, message: Message) -> Checked {
        self.stats.delivered += 1;
        self.stats.events += 1;
        self.note("deliver", || trace::describe(&message));
        match message {
            Message::ToNode { node, connection, request } => {
                self.trace(1);
                self.trace(connection.0);
                let index = usize::from(node);
                let now = self.node_now(index);
                let handled = self.nodes[index].handle_request(
                    now,
                    &self.table,
                    connection,
                    request,
                    &mut self.choose,
                )?;
                match handled {
                    Handled::Reply(response) => self.reply(connection, response),
                    Handled::Nothing => {}
                    Handled::Created(session) => {
                        self.trace(u64::from_ne_bytes(session.get().to_ne_bytes()));
                        if !self.issued.insert(session.get()) {
                            return Err(format!(
                                "node {node} issued session id {session} twice; expected every id unique"
                            ));
                        }
                    }
                }
                self.service_node(index);
            }
            Message::ToClient { connection, event } => {
                self.trace(2);
                self.trace(connection.0);
                self.deliver_to_client(connection, event)?;
            }
            Message::ToMeta { node, request } => {
                self.trace(3);
                let now = self.now_ms;
                self.dirty.meta = true;
                let answer =
                    self.meta.handle_request(now, self.nodes[usize::from(node)].id, request);
                let delay = self.delay();
                let produced_step = self.step;
                self.network.send(now, delay, Message::FromMeta { node, answer, produced_step });
            }
            Message::FromMeta { node, mut answer, produced_step } => {
                self.trace(4);
                let complete = matches!(
                    &answer,
                    graphsession_core::cluster::Answer::Reply(reply) if !reply.more_changes
                );
                if self.twist.drop_kill_marks && node == 0 {
                    if let graphsession_core::cluster::Answer::Reply(reply) = &mut answer {
                        reply.gone.clear();
                        reply.kills.clear();
                    }
                }
                let index = usize::from(node);
                let now = self.node_now(index);
                let refused = self.nodes[index].handle_answer(now, &self.table, answer);
                if refused > 0 {
                    return Err(format!(
                        "node {node} refused {refused} installs from meta; expected 0"
                    ));
                }
                self.service_node(index);
                if complete {
                    self.check_answer_applied_kills(index, produced_step)?;
                }
            }
        }
        Ok(())
    }

    fn deliver_to_client(&mut self, connection: ConnectionId, event: TransportEvent) -> Checked {
        let Some(socket) = self.sockets.get(&connection).copied() else {
            return Err(format!("event for unknown socket {connection:?}"));
        };
        let slot = usize::from(socket.client);
        let client = &mut self.clients[slot];
        if client.process != socket.process
            || client.life != Life::Running
            || socket.closed_by_client
        {
            return Ok(()); // the process is gone, or closed the socket: nobody reads it
        }
        match &event {
            TransportEvent::Response(Response::AuthenticateOk { session_id }) => {
                client.given.insert(*session_id);
                if let Some(session) = SessionId::new(*session_id) {
                    self.given_on.insert(session, (socket.client, socket.process, connection));
                }
            }
            TransportEvent::Response(Response::AuthenticateErr { .. }) => {
                self.marks.hit(Mark::AuthenticateRefused);
            }
            _ => {}
        }
        let local = client.local_id(connection);
        client.transport(self.now_ms, local, event);
        self.pump_client(slot)
    }

    /// Writes `response` on `connection` if it is still open.
    fn reply(&mut self, connection: ConnectionId, response: Response) {
        if self.sockets.get(&connection).is_some_and(|socket| socket.open) {
            let delay = self.delay();
            let event = TransportEvent::Response(response);
            self.network.send(self.now_ms, delay, Message::ToClient { connection, event });
        }
    }

    /// After any input to a node: run its sync if due, send its request, answer registered logins.
    fn service_node(&mut self, index: usize) {
        self.dirty.node(index);
        let now = self.node_now(index);
        if let Some(request) = self.nodes[index].on_timer(now, &self.table) {
            let delay = self.delay();
            let node = u16::try_from(index).unwrap_or(0);
            self.network.send(self.now_ms, delay, Message::ToMeta { node, request });
        }
        let replies = self.nodes[index].drain_events(now, &self.table, &mut self.choose);
        for (connection, response) in replies {
            self.reply(connection, response);
        }
        if !self.nodes[index].recently_expired.is_empty() {
            self.note_expired(index);
        }
        for session in std::mem::take(&mut self.nodes[index].created_late) {
            if !self.issued.insert(session.get()) {
                self.late_duplicate = Some(session);
            }
        }
    }

    /// Carries out a client's actions and drains its events.
    fn pump_client(&mut self, slot: usize) -> Checked {
        self.dirty.client(slot);
        let slot_id = u16::try_from(slot).unwrap_or(0);
        loop {
            self.pump_actions(slot, slot_id)?;
            // A pool runs granted statements while its events drain: their actions come next.
            if !self.pump_events(slot, slot_id) {
                return Ok(());
            }
        }
    }

    /// Carries out a client's actions.
    fn pump_actions(&mut self, slot: usize, slot_id: u16) -> Checked {
        loop {
            let client = &mut self.clients[slot];
            let Some(action) = client.poll_action() else { break };
            let (process, home) = (client.process, client.node);
            let connection = client.wire_id(action.connection());
            match action {
                Action::Dial { .. } => {
                    // With failover on, a dial may reach any node: a resumed session moves.
                    let node = if self.config.failover && self.choose.chance(1, 2) {
                        u16::try_from(self.choose.below(u64::from(self.config.nodes))).unwrap_or(0)
                    } else {
                        home
                    };
                    let socket = Socket {
                        client: slot_id,
                        process,
                        node,
                        open: true,
                        closed_by_client: false,
                    };
                    self.sockets.insert(connection, socket);
                    let cut = self.partitions.contains(&Link::ClientNode { client: slot_id, node });
                    self.network.hold(connection, cut);
                    let delay = self.delay();
                    let event = TransportEvent::Connected;
                    self.network.send(self.now_ms, delay, Message::ToClient { connection, event });
                }
                Action::Send { request, .. } => {
                    check_request_names_given_id(&self.clients[slot], slot, &request)?;
                    if let Request::SignOut { session_id } = &request {
                        self.note_sign_out(*session_id, connection);
                    }
                    let socket = self.sockets.get(&connection).copied();
                    if let Some(Socket { node, open: true, .. }) = socket {
                        let delay = self.delay();
                        let message = Message::ToNode { node, connection, request };
                        self.network.send(self.now_ms, delay, message);
                    }
                }
                Action::CloseSocket { .. } => {
                    if let Some(socket) = self.sockets.get_mut(&connection) {
                        socket.open = false;
                        socket.closed_by_client = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// Drains a client's events; returns whether there were any.
    fn pump_events(&mut self, slot: usize, slot_id: u16) -> bool {
        let pooled = self.clients[slot].is_pooled();
        let mut any = false;
        while let Some(event) = self.clients[slot].poll_event(self.now_ms) {
            any = true;
            match &event {
                Event::Closed { abandoned } => {
                    self.stats.client_leaked += u64::try_from(abandoned.len()).unwrap_or(0);
                    if !abandoned.is_empty() {
                        self.marks.hit(Mark::SignOutAbandoned);
                    }
                }
                Event::ZombieDetected { .. } => {
                    self.stats.client_zombies += 1;
                    self.marks.hit(Mark::ZombieDetected);
                }
                Event::SessionLost { reason: LossReason::InvalidOnExecute, .. } => {
                    self.marks.hit(Mark::SessionLostOnExecute);
                }
                _ => {}
            }
            match &event {
                Event::Ready { .. } | Event::Result { .. } if self.healed => {
                    self.recovered.insert(slot_id);
                }
                _ => {}
            }
            match &event {
                Event::Ready { .. } => {
                    self.stats.client_ready += 1;
                    if pooled {
                        self.marks.hit(Mark::PooledSessionReady);
                    }
                }
                Event::Result { .. } => self.stats.client_results += 1,
                Event::Failed { .. } => self.stats.client_failed += 1,
                _ => {}
            }
        }
        any
    }

    /// A sign-out went out: a mark if on another socket than its session's creation.
    fn note_sign_out(&mut self, session: SessionId, connection: ConnectionId) {
        if let Some(&(_, _, created_on)) = self.given_on.get(&session) {
            if created_on != connection {
                self.marks.hit(Mark::SignOutAfterReconnect);
            }
        }
        self.sign_outs_sent.insert(session);
    }

    /// Fires every due timer: meta's, each node's sync, each running client's.
    fn fire_timers(&mut self) -> Checked {
        let now = self.now_ms;
        if self.meta.poll_timeout().is_some_and(|at| at <= now) {
            self.stats.events += 1;
            self.dirty.meta = true;
            let _expired = self.meta.handle_timeout(now);
        }
        for index in 0..self.nodes.len() {
            // Only nodes with a timer due: a node's events come from inputs, which are serviced
            // at once, so an idle node has nothing to do (and its invariants cannot change).
            let node_now = self.node_now(index);
            let node = &self.nodes[index];
            let due = [node.sync.poll_timeout(), node.next_finish_ms()]
                .into_iter()
                .flatten()
                .any(|at| at <= node_now);
            if due {
                self.stats.events += 1;
                self.service_node(index);
            }
        }
        for slot in 0..self.clients.len() {
            let client = &mut self.clients[slot];
            if client.life != Life::Running {
                continue;
            }
            if client.poll_timeout().is_some_and(|at| at <= now) {
                self.stats.events += 1;
                client.timeout(now);
                self.pump_client(slot)?;
            }
        }
        Ok(())
    }

    /// Sessions a node saw expire: a mark for those whose client process was killed.
    fn note_expired(&mut self, index: usize) {
        for session in std::mem::take(&mut self.nodes[index].recently_expired) {
            let Some(&(slot, process, _)) = self.given_on.get(&session) else { continue };
            let client = &self.clients[usize::from(slot)];
            if client.process != process || client.life == Life::Killed {
                self.marks.hit(Mark::OrphanExpired);
            }
        }
    }

    /// The earliest time anything is due: a message or a timer (in true time).
    fn next_due_ms(&self) -> Option<u64> {
        let clients = self
            .clients
            .iter()
            .filter(|client| client.life == Life::Running)
            .filter_map(SimClient::poll_timeout);
        let to_true = |index: usize, at: u64| {
            at.saturating_add_signed(-self.skew_ms.get(index).copied().unwrap_or(0))
        };
        let nodes = self.nodes.iter().enumerate().filter_map(|(index, node)| {
            let sync = node.sync.poll_timeout();
            let query = node.next_finish_ms();
            [sync, query].into_iter().flatten().min().map(|at| to_true(index, at))
        });
        clients.chain(nodes).chain(self.meta.poll_timeout()).chain(self.network.next_at_ms()).min()
    }

    /// The invariants of every machine that took an input since the last check; the per-node
    /// count oracle for the registries among them. A node's sync and its registry are two
    /// machines: a sync round that only reads the registry (most of them) leaves the registry
    /// as it was, and with it the result of its check.
    fn check_all(&mut self) -> Checked {
        let dirty = std::mem::take(&mut self.dirty);
        let mut registries = 0_u64;
        for (index, node) in self.nodes.iter_mut().enumerate() {
            if node.take_registry_touched() {
                registries |= 1 << (index % 64);
            }
        }
        self.check_user_ip_counts(bits(registries))?;
        if dirty.meta {
            self.meta.check_invariants().map_err(|error| format!("meta invariant: {error}"))?;
        }
        for index in bits(dirty.nodes | registries) {
            let node = &self.nodes[index];
            if dirty.nodes & (1 << index) != 0 {
                node.sync
                    .check_invariants()
                    .map_err(|error| format!("node {index} sync invariant: {error}"))?;
            }
            if registries & (1 << index) != 0 {
                node.registry()
                    .check_invariants()
                    .map_err(|error| format!("node {index} registry invariant: {error}"))?;
            }
        }
        for slot in bits(dirty.clients) {
            let client = &self.clients[slot];
            if client.life == Life::Running {
                client
                    .check_invariants()
                    .map_err(|error| format!("client {slot} invariant: {error}"))?;
            }
        }
        Ok(())
    }

    fn collect_counters(&mut self) {
        for node in &self.nodes {
            self.stats.sessions_created += node.counters.created;
            self.stats.sessions_signed_out += node.counters.signed_out;
            self.stats.sessions_expired += node.counters.expired;
            self.stats.sessions_ended_other += node.counters.ended_other;
            self.stats.queries += node.counters.queries;
            self.stats.pick_ups += node.counters.pick_ups;
            self.stats.long_queries += node.counters.long_queries;
            self.stats.long_queries_killed += node.counters.long_queries_killed;
            self.stats.uses += node.counters.uses;
        }
        if self.stats.pick_ups > 0 {
            self.marks.hit(Mark::PickUpOnAnotherNode);
        }
        if self.stats.long_queries_killed > 0 {
            self.marks.hit(Mark::LongQueryKilled);
        }
    }
}

/// Oracles: a client names only session ids an `AuthenticateOk` gave it, and never logs in
/// after its application closed it.
fn check_request_names_given_id(client: &SimClient, slot: usize, request: &Request) -> Checked {
    let named = match request {
        Request::Authenticate { .. } if client.close_requested => {
            return Err(format!(
                "client {slot} (process {}) sent Authenticate after its application closed it; \
                 expected no new session after close",
                client.process
            ));
        }
        Request::Execute { session_id, .. } if *session_id != 0 => *session_id,
        Request::SignOut { session_id } => session_id.get(),
        _ => return Ok(()),
    };
    if client.given.contains(&named) {
        return Ok(());
    }
    Err(format!(
        "client {slot} (process {}) sent {request:?} naming session {named}; expected only ids it was given: {:?}",
        client.process, client.given
    ))
}
