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
mod liveness;
pub mod network;
pub mod node;
mod stats;

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::client::{
    Action, ConnectionId, Event, Idempotency, Request, Response, TransportEvent,
};
use graphsession_core::cluster::{MetaConfig, MetaStore};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::QueryKey;

use crate::prng::Prng;
use crate::world::client::{Life, SimClient};
pub use crate::world::config::{ClusterConfig, StepKind};
use crate::world::network::{Message, Network};
use crate::world::node::{Handled, SimNode};
pub use crate::world::stats::{ClusterRunOutcome, ClusterStats, ClusterViolation};

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
}

/// What a test may change about a world (the seed decides everything else).
#[derive(Debug, Clone, Copy, Default)]
pub struct Twist {
    /// Clients never sign out: close forgets the session as the public clients' `close()` does.
    /// The liveness phase must catch the leak.
    pub legacy_close: bool,
    /// Test only: meta's answers to node 0 lose their kill marks (sessions gone, queries to
    /// kill). The kill oracle must catch the queries left running.
    #[doc(hidden)]
    pub drop_kill_marks: bool,
}

/// The world of one seed.
pub struct ClusterWorld {
    seed: u64,
    prng: Prng,
    config: ClusterConfig,
    twist: Twist,
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
    trace_hash: u64,
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
        let mut prng = Prng::from_seed(seed);
        let config = ClusterConfig::derive(&mut prng);
        let mut table = RoleTable::new();
        let root = Caller::resolve(&table, "root", None);
        table
            .create_user(&root, Policy::OPEN, client::USER)
            .map_err(|error| format!("create user: {error}"))?;
        let meta = MetaStore::new(MetaConfig {
            idle_timeout_ms: config.idle_timeout_ms,
            holder_silence_ms: 60_000,
            ..MetaConfig::default()
        })
        .map_err(|error| format!("meta config refused: {error}"))?;
        let nodes = (0..config.nodes)
            .map(|index| SimNode::new(index, &config, START_UNIX_MS, 1, prng.next_u64()))
            .collect::<Result<Vec<_>, _>>()?;
        let clients = (0..config.clients)
            .map(|slot| SimClient::new(slot, u32::from(slot) + 1, &config))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClusterWorld {
            seed,
            prng,
            next_process: u32::from(config.clients) + 1,
            config,
            twist,
            now_ms: START_UNIX_MS,
            table,
            meta,
            nodes,
            clients,
            sockets: BTreeMap::new(),
            network: Network::default(),
            issued: BTreeSet::new(),
            stats: ClusterStats::default(),
            trace_hash: 0xcbf2_9ce4_8422_2325,
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
        ClusterRunOutcome {
            seed: self.seed,
            stats: self.stats,
            trace_hash: self.trace_hash,
            violation: result.err().map(|message| ClusterViolation { step: self.step, message }),
        }
    }

    fn run_phases(&mut self) -> Checked {
        for _ in 0..self.config.steps {
            self.step += 1;
            self.safety_step()?;
            self.check_all()?;
            self.check_oracles()?;
        }
        self.liveness()
    }

    fn trace(&mut self, value: u64) {
        for byte in value.to_le_bytes() {
            self.trace_hash = (self.trace_hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn delay(&mut self) -> u64 {
        self.prng.range(0, self.config.latency_max_ms)
    }

    fn pick_client(&mut self) -> usize {
        usize::try_from(self.prng.below(u64::from(self.config.clients))).unwrap_or(0)
    }

    fn safety_step(&mut self) -> Checked {
        let kind = StepKind::ALL[self.prng.weighted(&self.config.weights)];
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
            StepKind::Tick => self.now_ms += self.prng.range(1, self.config.tick_max_ms),
            StepKind::Open => {
                let slot = self.pick_client();
                if self.clients[slot].life == Life::Running {
                    let _refused = self.clients[slot].machine.handle_open(self.now_ms);
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
                let pick = self.prng.next_u64();
                if self.network.drop_meta_message(pick) {
                    self.stats.meta_losses += 1;
                }
            }
        }
        Ok(())
    }

    fn workload_execute(&mut self) -> Checked {
        let slot = self.pick_client();
        let idempotency = if self.prng.chance(1, 2) {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        if self.clients[slot].life == Life::Running && self.prng.chance(1, 8) {
            let _refused = self.clients[slot].machine.handle_use_space(self.now_ms, "nba");
            self.pump_client(slot)?;
        } else if self.clients[slot].life == Life::Running {
            let statement = format!("GO FROM {} OVER follow", self.prng.below(100));
            let _refused =
                self.clients[slot].machine.handle_execute(self.now_ms, statement, idempotency);
            self.pump_client(slot)?;
        }
        Ok(())
    }

    fn workload_close(&mut self) -> Checked {
        let slot = self.pick_client();
        if self.clients[slot].life != Life::Running {
            return Ok(());
        }
        if self.twist.legacy_close {
            self.legacy_close(slot);
            return Ok(());
        }
        if self.prng.chance(1, 4) {
            self.clients[slot].machine.handle_force_close(self.now_ms);
        } else {
            self.clients[slot].machine.handle_close(self.now_ms);
        }
        self.pump_client(slot)
    }

    /// The public clients' close: drop the socket, forget the session, never sign out.
    fn legacy_close(&mut self, slot: usize) {
        let process = self.clients[slot].process;
        self.close_sockets_of(process);
        if let Ok(mut replacement) = self.new_process(slot) {
            // The handle is closed: what the application sees is a closed client.
            replacement.machine.handle_close(self.now_ms);
            self.clients[slot] = replacement;
        }
    }

    fn new_process(&mut self, slot: usize) -> Result<SimClient, String> {
        let process = self.next_process;
        self.next_process += 1;
        let slot = u16::try_from(slot).unwrap_or(0);
        SimClient::new(slot, process, &self.config)
    }

    /// A killed process, or one whose machine closed, is replaced by a new process.
    fn restart_client(&mut self) -> Checked {
        let slot = self.pick_client();
        let client = &self.clients[slot];
        if client.life == Life::Running && !client.machine.is_closed() {
            return Ok(());
        }
        self.clients[slot] = self.new_process(slot)?;
        Ok(())
    }

    /// Fault: a random open socket is reset; what was in flight on it is lost both ways.
    fn fault_reset(&mut self) {
        let open: Vec<ConnectionId> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.open)
            .map(|(connection, _)| *connection)
            .collect();
        let Ok(count) = u64::try_from(open.len()) else { return };
        if count == 0 {
            return;
        }
        let connection = open[usize::try_from(self.prng.below(count)).unwrap_or(0)];
        self.reset_socket(connection);
    }

    /// Socket `connection` is reset: what was in flight on it is lost both ways; its client learns.
    fn reset_socket(&mut self, connection: ConnectionId) {
        let _lost = self.network.drop_connection(connection);
        if let Some(socket) = self.sockets.get_mut(&connection) {
            socket.open = false;
        }
        self.stats.resets += 1;
        self.trace(connection.0);
        let delay = self.delay();
        let event = Message::ToClient { connection, event: TransportEvent::Closed };
        self.network.send(self.now_ms, delay, event);
    }

    /// Fault: a graph node process crashes and a new one starts on the same slot: its sockets
    /// reset, its registry and pending replies are lost, and it reloads its sessions from meta.
    fn fault_node_restart(&mut self) -> Checked {
        let index = usize::try_from(self.prng.below(u64::from(self.config.nodes))).unwrap_or(0);
        let node = u16::try_from(index).unwrap_or(0);
        let old = &self.nodes[index];
        let (incarnation, seed) = (old.incarnation + 1, self.prng.next_u64());
        let mut fresh = SimNode::new(node, &self.config, self.now_ms, incarnation, seed)?;
        // The simulator's own bookkeeping survives the process.
        fresh.counters = self.nodes[index].counters;
        fresh.started = std::mem::take(&mut self.nodes[index].started);
        fresh.ended = std::mem::take(&mut self.nodes[index].ended);
        self.nodes[index] = fresh;
        self.stats.node_restarts += 1;
        let reset: Vec<ConnectionId> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.open && socket.node == node)
            .map(|(connection, _)| *connection)
            .collect();
        for connection in reset {
            self.reset_socket(connection);
        }
        self.service_node(index);
        Ok(())
    }

    /// Fault: a client process dies without closing; its sessions become orphans.
    fn fault_kill(&mut self) {
        let slot = self.pick_client();
        if self.clients[slot].life != Life::Running {
            return;
        }
        self.clients[slot].life = Life::Killed;
        let process = self.clients[slot].process;
        self.close_sockets_of(process);
        self.stats.kills += 1;
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
        let now = self.now_ms;
        match message {
            Message::ToNode { node, connection, request } => {
                self.trace(1);
                self.trace(connection.0);
                let index = usize::from(node);
                let handled =
                    self.nodes[index].handle_request(now, &self.table, connection, request)?;
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
        if client.process != socket.process || client.life != Life::Running {
            return Ok(()); // the process is gone
        }
        if let TransportEvent::Response(Response::AuthenticateOk { session_id }) = &event {
            client.given.insert(*session_id);
        }
        client.machine.handle_transport(self.now_ms, connection, event);
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
        let now = self.now_ms;
        if let Some(request) = self.nodes[index].on_timer(now, &self.table) {
            let delay = self.delay();
            let node = u16::try_from(index).unwrap_or(0);
            self.network.send(now, delay, Message::ToMeta { node, request });
        }
        for (connection, response) in self.nodes[index].drain_events(now, &self.table) {
            self.reply(connection, response);
        }
    }

    /// Carries out a client's actions and drains its events.
    fn pump_client(&mut self, slot: usize) -> Checked {
        let slot_id = u16::try_from(slot).unwrap_or(0);
        loop {
            let client = &mut self.clients[slot];
            let Some(action) = client.machine.poll_action() else { break };
            let (process, home) = (client.process, client.node);
            match action {
                Action::Dial { connection } => {
                    // With failover on, a dial may reach any node: a resumed session moves.
                    let node = if self.config.failover && self.prng.chance(1, 2) {
                        u16::try_from(self.prng.below(u64::from(self.config.nodes))).unwrap_or(0)
                    } else {
                        home
                    };
                    let socket = Socket { client: slot_id, process, node, open: true };
                    self.sockets.insert(connection, socket);
                    let delay = self.delay();
                    let event = TransportEvent::Connected;
                    self.network.send(self.now_ms, delay, Message::ToClient { connection, event });
                }
                Action::Send { connection, request } => {
                    check_request_names_given_id(&self.clients[slot], slot, &request)?;
                    let socket = self.sockets.get(&connection).copied();
                    if let Some(Socket { node, open: true, .. }) = socket {
                        let delay = self.delay();
                        let message = Message::ToNode { node, connection, request };
                        self.network.send(self.now_ms, delay, message);
                    }
                }
                Action::CloseSocket { connection } => {
                    if let Some(socket) = self.sockets.get_mut(&connection) {
                        socket.open = false;
                    }
                }
            }
        }
        let client = &mut self.clients[slot];
        while let Some(event) = client.machine.poll_event() {
            match &event {
                Event::Closed { abandoned } => {
                    self.stats.client_leaked += u64::try_from(abandoned.len()).unwrap_or(0);
                }
                Event::ZombieDetected { .. } => self.stats.client_zombies += 1,
                Event::Ready { .. } | Event::Result { .. } if self.healed => {
                    self.recovered.insert(slot_id);
                }
                _ => {}
            }
            match &event {
                Event::Ready { .. } => self.stats.client_ready += 1,
                Event::Result { .. } => self.stats.client_results += 1,
                Event::Failed { .. } => self.stats.client_failed += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Fires every due timer: meta's, each node's sync, each running client's.
    fn fire_timers(&mut self) -> Checked {
        let now = self.now_ms;
        if self.meta.poll_timeout().is_some_and(|at| at <= now) {
            let _expired = self.meta.handle_timeout(now);
        }
        for index in 0..self.nodes.len() {
            self.service_node(index);
        }
        for slot in 0..self.clients.len() {
            let client = &mut self.clients[slot];
            if client.life != Life::Running {
                continue;
            }
            if client.machine.poll_timeout().is_some_and(|at| at <= now) {
                client.machine.handle_timeout(now);
                self.pump_client(slot)?;
            }
        }
        Ok(())
    }

    /// The earliest time anything is due: a message or a timer.
    fn next_due_ms(&self) -> Option<u64> {
        let clients = self
            .clients
            .iter()
            .filter(|client| client.life == Life::Running)
            .filter_map(|client| client.machine.poll_timeout());
        let nodes = self.nodes.iter().filter_map(|node| node.sync.poll_timeout());
        let queries = self.nodes.iter().filter_map(|node| node.next_finish_ms());
        clients
            .chain(nodes)
            .chain(queries)
            .chain(self.meta.poll_timeout())
            .chain(self.network.next_at_ms())
            .min()
    }

    /// Every machine's invariants.
    fn check_all(&self) -> Checked {
        self.meta.check_invariants().map_err(|error| format!("meta invariant: {error:?}"))?;
        for (index, node) in self.nodes.iter().enumerate() {
            node.sync
                .check_invariants()
                .map_err(|error| format!("node {index} sync invariant: {error:?}"))?;
            node.sessions
                .check_invariants()
                .map_err(|error| format!("node {index} registry invariant: {error:?}"))?;
        }
        for (slot, client) in self.clients.iter().enumerate() {
            if client.life == Life::Running {
                client
                    .machine
                    .check_invariants()
                    .map_err(|error| format!("client {slot} invariant: {error:?}"))?;
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
    }
}

/// Oracle: a client names only session ids an `AuthenticateOk` gave it.
fn check_request_names_given_id(client: &SimClient, slot: usize, request: &Request) -> Checked {
    let named = match request {
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
