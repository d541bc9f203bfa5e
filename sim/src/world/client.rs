//! A simulated client process: the real [`SessionMachine`], a real [`SessionPool`], or the
//! [legacy client](crate::world::legacy), bound to one graph node, and what the world remembers
//! about it (the ids the server gave it, whether it was killed).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::client::{
    Acquire, Action, ClientConfig, ConnectionId, Event, Handle, Idempotency, MemberId, PoolConfig,
    PoolEvent, ReconnectPolicy, Release, SessionMachine, SessionPool, SessionStatus,
};
use graphsession_id_gen::SessionId;

use crate::world::client_watch::ClientWatch;
use crate::world::config::ClusterConfig;
use crate::world::legacy::LegacyClient;
use crate::world::password::{PASSWORD, WRONG_PASSWORD_USER};

/// The user every known client logs in as; strangers use [`STRANGER_USER`].
pub const USER: &str = "alice";
/// How long a closing client tries to deliver its sign-outs before it abandons them.
pub const CLOSE_FLUSH_TIMEOUT_MS: u64 = 5_000;
/// A user the role table does not know.
pub const STRANGER_USER: &str = "mallory";
/// The sign-out retry backoff of the seeds that do not run production's (see
/// [`ClusterConfig::production_sign_out_backoff`]): the clients' reconnect backoff.
const SIGN_OUT_BACKOFF_INITIAL_MS: u64 = 50;
/// Its largest delay.
const SIGN_OUT_BACKOFF_MAX_MS: u64 = 1_000;

/// Bit 63 marks a pool member's socket on the simulated network (pool members number their
/// sockets `member << 32 | n` in every process, so the world adds the process).
const POOL_SOCKET_BIT: u64 = 1 << 63;
/// The low bits of a pooled socket's id that are the pool's own.
const POOL_LOCAL_MASK: u64 = (1 << 40) - 1;

/// Which client implementation a run's processes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientKind {
    /// This project's machines (some processes through the pool).
    #[default]
    Ours,
    /// The legacy client model: the simulator must find its leaks.
    Legacy,
    /// Test only: the legacy model with close cancelling its reconnect, so it never logs in
    /// after close and only its leaks are left to find (issue 15's acceptance case).
    #[doc(hidden)]
    LegacyCloseCancelsReconnect,
}

/// Where a client process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running (its machine may be closed).
    Running,
    /// Killed without closing: its sessions are orphans that must expire.
    Killed,
}

/// The client implementation of one process.
pub enum Machine {
    /// One session machine.
    Single(Box<SessionMachine>),
    /// A pool of machines, with the handles the application holds.
    Pool(Box<PooledClient>),
    /// The legacy client model.
    Legacy(Box<LegacyClient>),
}

/// A pool and the leases its application holds while a statement runs.
pub struct PooledClient {
    /// The pool.
    pub pool: SessionPool,
    /// Handles leased for a running statement, by member.
    leased: BTreeMap<MemberId, Handle>,
    /// Statements waiting for a queued acquire.
    waiting: u32,
    /// The highest member id seen (members are numbered from 1).
    members_seen: u32,
    /// The application's leaks and the pool's reports of them (see `pool_watch.rs`).
    leaks: crate::world::pool_watch::Leaks,
}

/// One client process.
pub struct SimClient {
    /// The graph node it talks to.
    pub node: u16,
    /// The process number: the machine's connection prefix, unique over the run.
    pub process: u32,
    /// The client implementation (changed only through [`machine_mut`](Self::machine_mut)).
    machine: Machine,
    /// The machine's earliest timer, if asked for since its last input: a query of the
    /// machine's state, which only its inputs change, and the world asks for it every step.
    timeout_cached: Cell<Option<Option<u64>>>,
    /// Running or killed.
    pub life: Life,
    /// Every session id an `AuthenticateOk` gave this process.
    pub given: BTreeSet<i64>,
    /// Whether the application asked the client to close.
    pub close_requested: bool,
    /// What the process does on the wire, judged against the client's specification.
    watch: ClientWatch,
}

/// The client configuration every simulated process uses.
fn client_config(slot: u16, config: &ClusterConfig) -> ClientConfig {
    let node = slot % config.nodes;
    let user = match (config.stranger_client && slot == 0, config.stranger_wrong_password) {
        (false, _) => USER,
        (true, false) => STRANGER_USER,
        (true, true) => WRONG_PASSWORD_USER,
    };
    let password = if user == WRONG_PASSWORD_USER { "wrong" } else { PASSWORD };
    let idle = config.idle_timeout_ms;
    let production = ClientConfig::default();
    let (sign_out_backoff_initial_ms, sign_out_backoff_max_ms) =
        if config.production_sign_out_backoff {
            (production.sign_out_retry_backoff_initial_ms, production.sign_out_retry_backoff_max_ms)
        } else {
            (SIGN_OUT_BACKOFF_INITIAL_MS, SIGN_OUT_BACKOFF_MAX_MS)
        };
    let mut client = ClientConfig {
        user: user.to_owned(),
        password: password.to_owned(),
        client_ip: crate::world::node::CLIENT_IP.to_owned(),
        node: format!("graphd-{}:9669", node + 1),
        connect_timeout_ms: 1_000,
        authenticate_timeout_ms: 2_000 + 4 * config.sync_interval_ms,
        use_space_timeout_ms: 1_000,
        execute_timeout_ms: idle / 2,
        probe_timeout_ms: 1_000,
        execute_queue_timeout_ms: idle,
        keepalive_interval_ms: idle / 3,
        zombie_check_interval_ms: 1_000,
        zombie_disconnected_max_ms: idle,
        reconnect_backoff_initial_ms: 50,
        reconnect_backoff_max_ms: 1_000,
        authenticate_refused_backoff_ms: 1_000,
        server_idle_timeout_ms: idle,
        expiry_margin_ms: 3 * config.sync_interval_ms + 1_000,
        sign_out_retry_backoff_initial_ms: sign_out_backoff_initial_ms,
        sign_out_retry_backoff_max_ms: sign_out_backoff_max_ms,
        close_flush_timeout_ms: CLOSE_FLUSH_TIMEOUT_MS,
        sessions_per_user_ip_node_max: 20,
        reconnect_policy: if config.reconnect_replace {
            ReconnectPolicy::Replace
        } else {
            ReconnectPolicy::Resume
        },
        ..production
    };
    if slot == crate::world::client_watch::SMALL_BOUNDS_SLOT {
        crate::world::client_watch::small_bounds(&mut client, config);
    }
    client
}

impl SimClient {
    /// A new process `process` for client slot `slot`, of `kind`.
    pub fn new(
        slot: u16,
        process: u32,
        config: &ClusterConfig,
        kind: ClientKind,
    ) -> Result<SimClient, String> {
        let node = slot % config.nodes;
        let client = client_config(slot, config);
        let watch = ClientWatch::new(&client);
        let machine = match kind {
            ClientKind::Legacy | ClientKind::LegacyCloseCancelsReconnect => {
                let cancels = kind == ClientKind::LegacyCloseCancelsReconnect;
                Machine::Legacy(Box::new(LegacyClient::new(&client.user, process, cancels)))
            }
            // Pools are for the known user (a stranger's pool would retry its refused logins forever).
            ClientKind::Ours if config.pooled_clients > slot && client.user == USER => {
                let pool = SessionPool::new(PoolConfig {
                    client,
                    sessions_min: 1,
                    sessions_max: 3,
                    waiters_max: 8,
                    acquire_timeout_ms: config.idle_timeout_ms,
                    idle_evict_ms: config.idle_timeout_ms / 2,
                })
                .map_err(|error| format!("pool config refused: {error}"))?;
                Machine::Pool(Box::new(PooledClient {
                    pool,
                    leased: BTreeMap::new(),
                    waiting: 0,
                    members_seen: 0,
                    leaks: crate::world::pool_watch::Leaks::default(),
                }))
            }
            ClientKind::Ours => Machine::Single(Box::new(
                SessionMachine::with_connection_prefix(client, process)
                    .map_err(|error| format!("client config refused: {error}"))?,
            )),
        };
        Ok(SimClient {
            node,
            process,
            machine,
            timeout_cached: Cell::new(None),
            life: Life::Running,
            given: BTreeSet::new(),
            close_requested: false,
            watch,
        })
    }

    /// The machine, for an input: forgets its cached earliest timer.
    fn machine_mut(&mut self) -> &mut Machine {
        self.timeout_cached.set(None);
        &mut self.machine
    }

    /// Whether the process runs a session pool.
    pub fn is_pooled(&self) -> bool {
        matches!(self.machine, Machine::Pool(_))
    }

    /// Whether the process runs and its client is not closed.
    pub fn is_open(&self) -> bool {
        self.life == Life::Running && !self.is_closed()
    }

    /// Whether the application closed the client (and, for ours, it finished closing).
    pub fn is_closed(&self) -> bool {
        match &self.machine {
            Machine::Single(machine) => machine.is_closed(),
            Machine::Pool(pooled) => pooled.pool.is_closed(),
            Machine::Legacy(legacy) => legacy.is_closed(),
        }
    }

    /// The network's id of the client's socket `local`.
    pub fn wire_id(&self, local: ConnectionId) -> ConnectionId {
        match self.machine {
            Machine::Pool(_) => {
                ConnectionId(POOL_SOCKET_BIT | u64::from(self.process) << 40 | local.0)
            }
            _ => local,
        }
    }

    /// The client's own id of the network's socket `wire`.
    pub fn local_id(&self, wire: ConnectionId) -> ConnectionId {
        match self.machine {
            Machine::Pool(_) => ConnectionId(wire.0 & POOL_LOCAL_MASK),
            _ => wire,
        }
    }

    /// Opens.
    pub fn open(&mut self, now_ms: u64) {
        self.watch.opened(now_ms);
        match self.machine_mut() {
            Machine::Single(machine) => {
                let _refused = machine.open(now_ms);
            }
            Machine::Pool(pooled) => pooled.pool.open(now_ms),
            Machine::Legacy(legacy) => legacy.open(),
        }
    }

    /// Runs a statement (a pool leases a session for it, released when it ends).
    pub fn execute(&mut self, now_ms: u64, statement: String, idempotency: Idempotency) {
        self.watch.input(now_ms);
        match self.machine_mut() {
            Machine::Single(machine) => {
                let _refused = machine.execute(now_ms, statement, idempotency);
            }
            Machine::Pool(pooled) => pooled.execute(now_ms, statement, idempotency),
            Machine::Legacy(legacy) => {
                let _request = legacy.execute(statement);
            }
        }
    }

    /// USE `space` (a pool runs it as a statement).
    pub fn use_space(&mut self, now_ms: u64, space: &str) {
        self.watch.input(now_ms);
        match self.machine_mut() {
            Machine::Single(machine) => {
                let _refused = machine.use_space(now_ms, space);
            }
            Machine::Pool(pooled) => {
                pooled.execute(now_ms, format!("USE `{space}`"), Idempotency::Idempotent);
            }
            Machine::Legacy(legacy) => {
                let _request = legacy.execute(format!("USE `{space}`"));
            }
        }
    }

    /// Closes gracefully (`force`: without waiting for statements in flight).
    pub fn close(&mut self, now_ms: u64, force: bool) {
        self.close_requested = true;
        self.watch.closed(now_ms);
        match self.machine_mut() {
            Machine::Single(machine) if force => machine.force_close(now_ms),
            Machine::Single(machine) => machine.close(now_ms),
            Machine::Pool(pooled) => {
                // The application gives back what it holds, then closes the pool.
                for (_, handle) in std::mem::take(&mut pooled.leased) {
                    pooled.pool.release(now_ms, handle, Release::Reuse);
                }
                pooled.pool.close(now_ms);
            }
            Machine::Legacy(legacy) => legacy.close(),
        }
    }

    /// A transport event on the client's socket `local`.
    pub fn transport(
        &mut self,
        now_ms: u64,
        local: ConnectionId,
        event: graphsession_core::client::TransportEvent,
    ) {
        self.watch.transport(now_ms, &event);
        match self.machine_mut() {
            Machine::Single(machine) => machine.handle_transport(now_ms, local, event),
            Machine::Pool(pooled) => pooled.pool.handle_transport(now_ms, local, event),
            Machine::Legacy(legacy) => legacy.handle_transport(now_ms, local, event),
        }
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<u64> {
        if let Some(at) = self.timeout_cached.get() {
            return at;
        }
        let at = match &self.machine {
            Machine::Single(machine) => machine.poll_timeout(),
            Machine::Pool(pooled) => pooled.pool.poll_timeout(),
            Machine::Legacy(legacy) => legacy.poll_timeout(),
        };
        self.timeout_cached.set(Some(at));
        at
    }

    /// Fires due timers.
    pub fn timeout(&mut self, now_ms: u64) {
        self.watch.input(now_ms);
        match self.machine_mut() {
            Machine::Single(machine) => machine.handle_timeout(now_ms),
            Machine::Pool(pooled) => pooled.pool.handle_timeout(now_ms),
            Machine::Legacy(legacy) => {
                legacy.handle_timeout(now_ms);
                return;
            }
        }
        let next_ms = self.poll_timeout();
        self.watch.fired(now_ms, next_ms);
    }

    /// The next action, with the client's own socket id.
    pub fn poll_action(&mut self) -> Option<Action> {
        let (action, backoff_ms) = match self.machine_mut() {
            Machine::Single(machine) => {
                (machine.poll_action()?, Some(machine.config().reconnect_backoff_initial_ms))
            }
            Machine::Pool(pooled) => {
                let action = pooled.pool.poll_action()?;
                let member = u32::try_from(action.connection().0 >> 32).unwrap_or(0);
                pooled.members_seen = pooled.members_seen.max(member);
                (action, None)
            }
            Machine::Legacy(legacy) => return legacy.poll_action(),
        };
        self.watch.action(&action, backoff_ms);
        Some(action)
    }

    /// The next event (a pool's member events, unwrapped; a pool releases the lease of a
    /// statement that ended and runs statements whose acquire was granted).
    pub fn poll_event(&mut self, now_ms: u64) -> Option<Event> {
        let event = match self.machine_mut() {
            Machine::Single(machine) => machine.poll_event(),
            Machine::Pool(pooled) => pooled.poll_event(now_ms),
            Machine::Legacy(legacy) => return legacy.poll_event(),
        }?;
        self.watch.event(&event);
        Some(event)
    }

    /// The client's session machine, when it runs one alone (not a pool, not the legacy model).
    pub fn single_machine(&self) -> Option<&SessionMachine> {
        match &self.machine {
            Machine::Single(machine) => Some(machine),
            Machine::Pool(_) | Machine::Legacy(_) => None,
        }
    }

    /// The client's invariants (the legacy model has none it keeps).
    pub fn check_invariants(&mut self) -> Result<(), String> {
        match &self.machine {
            Machine::Single(machine) => {
                machine.check_invariants().map_err(|e| e.to_string())?;
                self.watch.check(|| machine.metrics().reruns)
            }
            Machine::Pool(pooled) => {
                pooled.pool.check_invariants().map_err(|e| e.to_string())?;
                pooled.leaks.check()?;
                self.watch.check(|| pooled.pool.metrics().reruns)?;
                let waiters = pooled.pool.stats().waiters;
                if waiters != pooled.waiting {
                    return Err(format!(
                        "[pool_stats] the pool reports {waiters} waiters; expected the {} acquires its application \
                         still waits on",
                        pooled.waiting
                    ));
                }
                Ok(())
            }
            Machine::Legacy(_) => Ok(()),
        }
    }

    /// Every session the client still accounts for (held, or waiting for its sign-out), with
    /// whether it is held.
    pub fn sessions(&self) -> Vec<(SessionId, bool)> {
        let from = |machine: &SessionMachine| -> Vec<(SessionId, bool)> {
            machine
                .ledger()
                .iter()
                .map(|(session, entry)| (session, entry.status == SessionStatus::Held))
                .collect()
        };
        match &self.machine {
            Machine::Single(machine) => from(machine),
            Machine::Pool(pooled) => (1..=pooled.members_seen)
                .filter_map(|member| pooled.pool.member(MemberId(member)))
                .flat_map(from)
                .collect(),
            Machine::Legacy(legacy) => legacy.session().map(|id| (id, true)).into_iter().collect(),
        }
    }

    /// Whether the client still accounts for `session` (held, or waiting for its sign-out),
    /// without copying its ledger.
    pub fn accounts_for(&self, session: SessionId) -> bool {
        match &self.machine {
            Machine::Single(machine) => machine.ledger().contains(session),
            Machine::Pool(pooled) => (1..=pooled.members_seen)
                .filter_map(|member| pooled.pool.member(MemberId(member)))
                .any(|machine| machine.ledger().contains(session)),
            Machine::Legacy(legacy) => legacy.session() == Some(session),
        }
    }

    /// Sign-outs waiting to be delivered.
    pub fn sign_outs_pending(&self) -> u32 {
        match &self.machine {
            Machine::Single(machine) => machine.metrics().sessions_pending_sign_out,
            Machine::Pool(pooled) => pooled.pool.metrics().sessions_pending_sign_out,
            Machine::Legacy(_) => 0,
        }
    }

    /// A description of the client's state for reports.
    pub fn describe(&self) -> String {
        match &self.machine {
            Machine::Single(machine) => format!("{:?}", machine.state()),
            Machine::Pool(pooled) => format!("pool {:?}", pooled.pool.stats()),
            Machine::Legacy(legacy) => format!("legacy {:?}", legacy.state()),
        }
    }
}

impl PooledClient {
    fn execute(&mut self, now_ms: u64, statement: String, idempotency: Idempotency) {
        match self.pool.acquire(now_ms) {
            Ok(Acquire::Granted(handle)) => self.run(now_ms, handle, statement, idempotency),
            Ok(Acquire::Queued(_)) => self.waiting += 1,
            Err(_refused) => {}
        }
    }

    fn run(&mut self, now_ms: u64, handle: Handle, statement: String, idempotency: Idempotency) {
        match self.pool.execute(now_ms, &handle, statement, idempotency) {
            Ok(_request) => {
                let lease = handle.lease();
                if let Some(old) = self.leased.insert(lease.member, handle) {
                    self.leaks.granted_twice(lease.member, old.lease(), lease);
                    self.pool.release(now_ms, old, Release::Reuse);
                }
            }
            Err(_refused) => self.pool.release(now_ms, handle, Release::Discard),
        }
    }

    /// A statement ended: the application gives its lease back, or (one result in
    /// `LEAK_EVERY_RESULTS`) forgets the handle, and the pool has an input at once.
    fn end_lease(&mut self, now_ms: u64, handle: Handle, result: bool) {
        if result && self.leaks.leaks_now() {
            self.leaks.dropped(handle.lease());
            drop(handle);
            self.pool.handle_timeout(now_ms);
        } else {
            self.pool.release(now_ms, handle, Release::Reuse);
        }
    }

    fn poll_event(&mut self, now_ms: u64) -> Option<Event> {
        while let Some((_waiter, handle)) = self.pool.poll_grant() {
            self.waiting = self.waiting.saturating_sub(1);
            self.run(now_ms, handle, "RETURN 1".to_owned(), Idempotency::Idempotent);
        }
        loop {
            match self.pool.poll_event()? {
                PoolEvent::Member { member, event } => {
                    if matches!(event, Event::Result { .. } | Event::Failed { .. }) {
                        if let Some(handle) = self.leased.remove(&member) {
                            self.end_lease(now_ms, handle, matches!(event, Event::Result { .. }));
                        }
                    }
                    return Some(event);
                }
                PoolEvent::LeakDetected { lease, .. } => self.leaks.reported(lease),
                PoolEvent::Closed => return Some(Event::Closed { abandoned: Vec::new() }),
                PoolEvent::WaitTimedOut { .. } | PoolEvent::WaitCancelled { .. } => {
                    self.waiting = self.waiting.saturating_sub(1);
                }
                _ => {}
            }
        }
    }
}
