//! The cluster world's configuration: everything a seed decides before the first step (swarm testing:
//! each seed runs a different cluster size, client count, latency and mix of faults).

use graphsession_core::client::ClientConfig;

use crate::chooser::Chooser;

/// Kinds of step, also the index into [`ClusterConfig::weights`] and the step counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Deliver the next due message.
    Deliver,
    /// Fire every due timer (clients, node syncs, meta).
    Timers,
    /// Advance the clock.
    Tick,
    /// A client opens (dials, authenticates).
    Open,
    /// A client queues a statement.
    Execute,
    /// A client closes gracefully.
    Close,
    /// A closed or killed client is replaced by a new process.
    Restart,
    /// Fault: a client's socket is reset.
    Reset,
    /// Fault: a client process is killed without closing.
    Kill,
    /// Fault: a message between a node and meta is lost.
    MetaLoss,
    /// Fault: a graph node process crashes and restarts (new registry, new leases, reload).
    NodeRestart,
    /// The admin (root) acts: KILL SESSION, KILL QUERY, GRANT/REVOKE, or USE for a session.
    Admin,
    /// Fault: a link is cut (a client from a node: its sockets' traffic is held; a node from meta:
    /// its messages are lost).
    Partition,
    /// One cut link heals.
    Heal,
    /// Fault: a graph node's clock steps forward or back.
    ClockStep,
    /// Fault: a node-meta message in flight is duplicated.
    MetaDuplicate,
    /// Fault: a node-meta message in flight is delayed past later ones (reordered).
    MetaReorder,
    /// Fault: the meta leader crashes; a new one restores the persisted state, messages in
    /// flight to or from meta are lost.
    MetaCrash,
}

impl StepKind {
    /// Every kind, in index order.
    pub const ALL: [StepKind; 18] = [
        StepKind::Deliver,
        StepKind::Timers,
        StepKind::Tick,
        StepKind::Open,
        StepKind::Execute,
        StepKind::Close,
        StepKind::Restart,
        StepKind::Reset,
        StepKind::Kill,
        StepKind::MetaLoss,
        StepKind::NodeRestart,
        StepKind::Admin,
        StepKind::Partition,
        StepKind::Heal,
        StepKind::ClockStep,
        StepKind::MetaDuplicate,
        StepKind::MetaReorder,
        StepKind::MetaCrash,
    ];

    /// Lower-case name for summaries.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Deliver => "deliver",
            StepKind::Timers => "timers",
            StepKind::Tick => "tick",
            StepKind::Open => "open",
            StepKind::Execute => "execute",
            StepKind::Close => "close",
            StepKind::Restart => "restart",
            StepKind::Reset => "reset",
            StepKind::Kill => "kill",
            StepKind::MetaLoss => "meta_loss",
            StepKind::NodeRestart => "node_restart",
            StepKind::Admin => "admin",
            StepKind::Partition => "partition",
            StepKind::Heal => "heal",
            StepKind::ClockStep => "clock_step",
            StepKind::MetaDuplicate => "meta_duplicate",
            StepKind::MetaReorder => "meta_reorder",
            StepKind::MetaCrash => "meta_crash",
        }
    }

    /// Whether the kind is a fault (switched off in the liveness phase).
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            StepKind::Reset
                | StepKind::Kill
                | StepKind::MetaLoss
                | StepKind::NodeRestart
                | StepKind::Partition
                | StepKind::ClockStep
                | StepKind::MetaDuplicate
                | StepKind::MetaReorder
                | StepKind::MetaCrash
        )
    }
}

/// Everything a seed decides about its cluster before the first step.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Graph nodes (1..=3), each with its own id-gen slot.
    pub nodes: u16,
    /// Client processes (1..=6), each bound to one node.
    pub clients: u16,
    /// Steps of the safety phase (faults and workload).
    pub steps: u32,
    /// Weight of each [`StepKind`], by index; a fault with weight 0 is off for this seed.
    pub weights: [u32; 18],
    /// Largest one-way delay on any link, milliseconds.
    pub latency_max_ms: u64,
    /// Largest clock advance of one tick, milliseconds.
    pub tick_max_ms: u64,
    /// The servers', meta's and clients' idle timeout, milliseconds.
    pub idle_timeout_ms: u64,
    /// The node syncs' round period, milliseconds.
    pub sync_interval_ms: u64,
    /// Whether clients replace (rather than resume) their session after a reconnect.
    pub reconnect_replace: bool,
    /// Whether some client logs in as a user the role table does not know (-1001/-1002 path).
    pub stranger_client: bool,
    /// Whether a client's dial may reach another node than its own (its session is picked up
    /// there from meta). Only with more than one node.
    pub failover: bool,
    /// Longest long query (answered only when it finishes), milliseconds; 0: every query is
    /// short. A quarter of the idle timeout, or (a quarter of the seeds) twice the idle timeout:
    /// such a query outlives the idle timeout and the client's execute timeout, so "a session
    /// with a running query never expires" is exercised.
    pub long_query_ms_max: u64,
    /// Each node's per-(user, ip) session limit (NebulaGraph's 300, or for a quarter of the
    /// seeds just what every client could hold at once on one node, so refusals happen and the
    /// counts are exact at the edge).
    pub sessions_per_user_ip_max: i64,
    /// Each node's session limit (NebulaGraph's default is unlimited; small in those seeds).
    pub node_sessions_max: u64,
    /// Whether the nodes enforce permissions (NebulaGraph's `enable_authorize`): then a USE needs
    /// a role the admin granted.
    pub authorization_enabled: bool,
    /// Client slots `0..pooled_clients` use a session pool (of up to 3 sessions).
    pub pooled_clients: u16,
    /// Largest distance of a node's clock from true time, milliseconds (0: clocks agree and
    /// never step).
    pub clock_skew_max_ms: u64,
    /// Whether a restarting node may restore its registry from its last snapshot (else it
    /// starts empty and reloads from meta).
    pub node_snapshots: bool,
    /// Each node's `query_timeout_ms` (0: none, NebulaGraph's behaviour). Only seeds with long
    /// queries draw one: then for half of them a quarter to all of the longest long query, so
    /// some long queries run past it.
    pub query_timeout_ms: u64,
    /// Whether clients now and then set their session's own timeout (`SET SESSION
    /// query_timeout_ms = v`, v from [`SESSION_QUERY_TIMEOUTS_MS`]). Only seeds with long
    /// queries draw it.
    pub session_query_timeouts: bool,
    /// Whether the stranger (if any) is a known user typing a wrong password, rather than a
    /// user the role table does not know.
    pub stranger_wrong_password: bool,
    /// Each node's `failed_login_attempts` (0..=3; 0: no lockout). Drawn only with a
    /// wrong-password stranger.
    pub failed_login_attempts: u32,
    /// Each node's `password_lock_time_secs` (0..=2; 0: no lockout).
    pub password_lock_secs: u32,
    /// Shards of each node's registry: 4, or 1 for half of the seeds, so one shard's slot table
    /// holds every session of its node and grows past its first blocks.
    pub shard_count: u32,
    /// Each node's `queries.sessions_max` (the query registry's own session bound, which the
    /// registry's `sessions_max` overrides): NebulaGraph's 1,048,576, or 1 for half of the
    /// seeds, where a node must still run queries of all its sessions at once.
    pub query_sessions_max: u32,
    /// Each node's `waiting_connections_max`: 65,536 (the default), or in the seeds with small
    /// limits 1 or 2, so requests waiting on meta are refused ("too many requests wait for
    /// the meta service") and the count is judged at the edge.
    pub waiting_connections_max: u32,
    /// Each node's `waiting_requests_per_connection_max`: 16 (the default), or 1 or 2 in half
    /// of the seeds, so a client's batch of sign-outs and the ping that proves them pass the
    /// queue behind its first sign-out and the node refuses the rest ("too many requests wait
    /// for the meta service"), judged at the edge.
    pub waiting_requests_per_connection_max: u32,
    /// Whether clients retry an unproven sign-out on production's schedule
    /// (`ClientConfig::default()`: 200 ms, doubling to 60 s) rather than on a copy of their
    /// reconnect backoff (50 ms to 1 s). On exactly in the seeds whose nodes run a small
    /// `waiting_requests_per_connection_max`: a sign-out whose proof failed then waits longer
    /// than the reconnect, the client logs in anew meanwhile, and when that session is lost too
    /// both sign-outs go out in one batch, which the node's queue refuses past its limit.
    pub production_sign_out_backoff: bool,
    /// Client slot 1's `sign_out_outbox_max` (its other small bound is `failures_max`):
    /// production's 64, or 1 in the seeds with production's sign-out backoff and a
    /// `waiting_requests_per_connection_max` of 2 (where two sign-outs in one batch stay within
    /// the node's queue), so that a second sign-out waiting for its proof does not fit.
    pub small_bounds_outbox_max: u32,
}

/// Each [`StepKind`]'s weight as (base, spread), by index: plenty of delivery and time, a steady
/// workload, rarer faults.
const STEP_SHAPE: [(u64, u64); 18] = [
    (20, 10),
    (10, 10),
    (5, 10),
    (1, 4),
    (3, 10),
    (1, 2),
    (1, 2),
    (1, 3),
    (1, 2),
    (1, 5),
    (1, 1),
    (1, 3),
    (1, 2),
    (1, 3),
    (1, 2),
    (1, 2),
    (1, 2),
    (1, 1),
];

/// The values clients give their session's `query_timeout_ms` (0 turns the node's off).
pub const SESSION_QUERY_TIMEOUTS_MS: [u64; 4] = [0, 250, 1_000, 5_000];

/// Each node's per-(user, ip) and session limits: NebulaGraph's (300, unlimited), or for a
/// quarter of the seeds just what every client could hold at once on one node (a pool holds up
/// to 3).
fn draw_limits(choose: &mut Chooser, clients: u16, pooled_clients: u16) -> (i64, u64) {
    if choose.chance(1, 4) {
        let needed = u64::from(clients) + 2 * u64::from(pooled_clients);
        let per_pair = needed + choose.below(2);
        (i64::try_from(per_pair).unwrap_or(300), per_pair + choose.below(3))
    } else {
        (300, u64::MAX)
    }
}

impl ClusterConfig {
    /// Derives the configuration from the seed's generator.
    pub fn derive(choose: &mut Chooser) -> ClusterConfig {
        let nodes = u16::try_from(choose.range(1, 3)).unwrap_or(1);
        let clients = u16::try_from(choose.range(1, 6)).unwrap_or(1);
        let mut weights = [0_u32; 18];
        for (index, weight) in weights.iter_mut().enumerate() {
            let kind = StepKind::ALL[index];
            let (base, spread) = STEP_SHAPE[index];
            // Each fault is off for about a third of the seeds.
            let off = kind.is_fault() && choose.chance(1, 3);
            let value = base + choose.below(spread);
            *weight = if off { 0 } else { u32::try_from(value).unwrap_or(1) };
        }
        let sync_interval_ms = choose.range(200, 1_000);
        let idle_timeout_ms = choose.range(2, 10) * 1_000;
        let long_query_ms_max = match choose.below(4) {
            0 => 0,
            1 => 2 * idle_timeout_ms,
            _ => idle_timeout_ms / 4,
        };
        let pooled_clients =
            u16::try_from(choose.below(u64::from(clients.min(2)) + 1)).unwrap_or(0);
        let (sessions_per_user_ip_max, node_sessions_max) =
            draw_limits(choose, clients, pooled_clients);
        let clock_skew_max_ms = if weights[StepKind::ClockStep as usize] > 0 {
            choose.range(1, idle_timeout_ms / 10)
        } else {
            0
        };
        ClusterConfig {
            nodes,
            clients,
            steps: u32::try_from(choose.range(1_000, 4_000)).unwrap_or(1_000),
            weights,
            latency_max_ms: [1, 10, 50][usize::try_from(choose.below(3)).unwrap_or(0)],
            tick_max_ms: [50, 200, 1_000][usize::try_from(choose.below(3)).unwrap_or(0)],
            idle_timeout_ms,
            sync_interval_ms,
            reconnect_replace: choose.chance(1, 2),
            stranger_client: choose.chance(1, 4),
            failover: nodes > 1 && choose.chance(1, 2),
            long_query_ms_max,
            authorization_enabled: choose.chance(1, 2),
            pooled_clients,
            sessions_per_user_ip_max,
            node_sessions_max,
            clock_skew_max_ms,
            node_snapshots: choose.chance(1, 2),
            query_timeout_ms: 0,
            session_query_timeouts: false,
            stranger_wrong_password: false,
            failed_login_attempts: 0,
            password_lock_secs: 0,
            shard_count: 4,
            query_sessions_max: 1 << 20,
            waiting_connections_max: 65_536,
            waiting_requests_per_connection_max: 16,
            production_sign_out_backoff: false,
            small_bounds_outbox_max: ClientConfig::default().sign_out_outbox_max,
        }
        .with_query_timeouts(choose)
        .with_password_throttle(choose)
        .with_node_shape()
    }

    /// The nodes' shard count, query-registry bound and waiting bounds (and with small waiting
    /// bounds the clients' sign-out retry backoff), derived from choices
    /// already made (the step count's low bits, the small-limits draw) rather than drawn: no
    /// seed's stream of choices moves. The step count is uniform over 1,000..=4,000 and drawn
    /// independently of the rest, so each option is on for about half of the seeds.
    fn with_node_shape(mut self) -> ClusterConfig {
        if self.steps % 2 == 1 {
            self.shard_count = 1;
        }
        if (self.steps / 2) % 2 == 1 {
            self.query_sessions_max = 1;
        }
        if self.node_sessions_max != u64::MAX {
            self.waiting_connections_max = 1 + (self.steps / 4) % 2;
        }
        if (self.steps / 8) % 2 == 1 {
            self.waiting_requests_per_connection_max = 1 + (self.steps / 16) % 2;
            self.production_sign_out_backoff = true;
            if self.waiting_requests_per_connection_max == 2 {
                self.small_bounds_outbox_max = 1;
            }
        }
        self
    }

    /// Draws the wrong-password stranger and the nodes' password throttle, last and only for
    /// seeds with a stranger: the other seeds make the same choices as before they existed.
    fn with_password_throttle(mut self, choose: &mut Chooser) -> ClusterConfig {
        if !self.stranger_client || !choose.chance(1, 2) {
            return self;
        }
        self.stranger_wrong_password = true;
        self.failed_login_attempts = u32::try_from(choose.below(4)).unwrap_or(0);
        self.password_lock_secs = u32::try_from(choose.below(3)).unwrap_or(0);
        self
    }

    /// Draws the query timeouts, last and only for seeds with long queries: the seeds without
    /// them make the same choices as before timeouts existed.
    fn with_query_timeouts(mut self, choose: &mut Chooser) -> ClusterConfig {
        if self.long_query_ms_max == 0 {
            return self;
        }
        if choose.chance(1, 2) {
            self.query_timeout_ms =
                choose.range(self.long_query_ms_max / 4, self.long_query_ms_max);
        }
        self.session_query_timeouts = choose.chance(1, 2);
        self
    }
}
