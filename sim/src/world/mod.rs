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

mod accounting;
mod admin;
mod candidates;
mod checkers;
mod checks;
pub mod client;
mod client_watch;
pub mod config;
mod delivery;
mod expiry;
mod faults;
mod kill_refusals;
pub mod legacy;
mod liveness;
pub mod marks;
mod meta_probes;
pub mod network;
pub mod node;
mod password;
mod pool_watch;
mod probes;
mod probes_kill;
mod selftest;
mod show;
mod snapshot_bytes;
mod space_converge;
mod stats;
mod step;
mod sync_probes;
mod trace;

use std::collections::{BTreeMap, BTreeSet};

use graphsession_base::Fnv1a;
use graphsession_core::client::ConnectionId;
use graphsession_core::cluster::{MetaConfig, MetaStore};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::QueryKey;

use crate::chooser::{Chooser, WeightTable};
use crate::ids::Generator;
use crate::world::accounting::Accounting;
pub use crate::world::client::ClientKind;
use crate::world::client::SimClient;
pub use crate::world::config::{ClusterConfig, StepKind};
use crate::world::expiry::TimeOracles;
pub use crate::world::marks::{Mark, Marks};
use crate::world::network::Network;
use crate::world::node::SimNode;
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
    /// Test only: meta's answers tell every KILL QUERY it recorded as not found (-2073), as a
    /// meta that ignored the holders' reports would. The refusal oracle must catch a refusal of
    /// a query a holder reported.
    #[doc(hidden)]
    pub refuse_query_kills: bool,
    /// Test only (feature `checkers`): a node restored from a snapshot serves its sessions
    /// before meta confirmed them (`GraphNode::trust_restored_sessions`). The restored-zombie
    /// oracle must catch a session meta had ended being served.
    #[doc(hidden)]
    pub trust_snapshots: bool,
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
    /// The session-id generator the graph nodes run (the naive one must be caught).
    pub generator: Generator,
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
    issued: crate::oracles::UniqueIds,
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
    /// The recovery step's statements refused as busy, waiting to run again.
    recovery_retries: liveness::RecoveryRetries,
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
    /// Machines that took an input since their invariants were last checked: a pure machine's
    /// invariants change only with its inputs, so only these are checked after a step. (Each
    /// node's registry says for itself whether it took one: [`SimNode::take_registry_touched`].)
    dirty: Dirty,
    /// The accounting oracle's memory.
    accounting: Accounting,
    /// What the last step gave an input to (set by `check_all`).
    last_step: LastStep,
    /// Whether, at the kill oracle's last look, a query ran whose session meta had ended: only
    /// then does the passing of time alone matter to it (the bound on the healed network).
    running_after_gone: bool,
    /// Authenticates each client slot sent (a stranger must not loop on its refusals).
    authenticates_sent: Vec<u64>,
    /// Refusals each client slot received that a client retries by design (-1002 and -1010:
    /// a node busy or full, not a verdict on the user), each allowing one more authenticate.
    authenticates_busy: Vec<u64>,
    /// The time oracles' memory (premature expiry, convergence).
    time_oracles: TimeOracles,
    /// The listing oracles' memory.
    listings: show::Listings,
    /// Whether a restore tried the corrupted copies of a snapshot (the first restore of a run).
    snapshot_refusals_checked: bool,
    /// Whether a meta crash tried a corrupted copy of meta's snapshot (the first of a run).
    meta_refusals_checked: bool,
    /// The corruptions the checkers' self-test judged this run.
    checker_tests: checkers::CheckerTests,
    /// The query-kill refusal oracle's memory: the query report meta holds for each node.
    kill_refusals: kill_refusals::KillRefusals,
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

/// What the last step gave an input to, as `check_all` saw it.
#[derive(Debug, Clone, Copy, Default)]
struct LastStep {
    /// Whether it gave any machine an input.
    changed: bool,
    /// Whether it gave meta or a node one: only such a step can change what the nodes told,
    /// ran, stopped or saw active, or what meta ended.
    servers: bool,
    /// The client slots it gave one, as bits.
    clients: u64,
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

/// The role table a world starts with (the workload's user, and the wrong-password stranger
/// of the seeds that have one), and its admin, root.
fn role_table(config: &ClusterConfig) -> Result<(RoleTable, Caller), String> {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table
        .create_user(&root, Policy::OPEN, client::USER)
        .map_err(|error| format!("create user: {error}"))?;
    if config.stranger_wrong_password {
        table
            .create_user(&root, Policy::OPEN, password::WRONG_PASSWORD_USER)
            .map_err(|error| format!("create user: {error}"))?;
    }
    Ok((table, root))
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
        let (table, root) = role_table(&config)?;
        let meta_config = MetaConfig {
            idle_timeout_ms: config.idle_timeout_ms,
            holder_silence_ms: 60_000,
            ..MetaConfig::default()
        };
        let meta =
            MetaStore::new(meta_config).map_err(|error| format!("meta config refused: {error}"))?;
        let nodes = (0..config.nodes)
            .map(|index| SimNode::new(index, &config, START_UNIX_MS, 1, options.generator))
            .collect::<Result<Vec<_>, _>>()?;
        nodes.first().map_or(Ok(()), |node| selftest::check_config_refusals(0, &node.server))?;
        meta_probes::check_meta_edges(&meta_config, START_UNIX_MS)?;
        sync_probes::check_sync_edges(&meta_config, &node::sync_config(&config), START_UNIX_MS)?;
        let clients = (0..config.clients)
            .map(|slot| SimClient::new(slot, u32::from(slot) + 1, &config, options.client))
            .collect::<Result<Vec<_>, _>>()?;
        let clients_count = clients.len();
        let skew_ms = draw_skews(&mut choose, &config);
        Ok(ClusterWorld {
            seed,
            choose,
            next_process: u32::from(config.clients) + 1,
            step_weights: WeightTable::new(&config.weights),
            kill_refusals: kill_refusals::KillRefusals::new(&config),
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
            issued: crate::oracles::UniqueIds::new(),
            stats: ClusterStats::default(),
            trace_hash: Fnv1a::new(),
            step: 0,
            closed_in_liveness: BTreeSet::new(),
            owned_at_close: Vec::new(),
            liveness_start_ms: 0,
            healed: false,
            recovered: BTreeSet::new(),
            recovery_retries: liveness::RecoveryRetries::default(),
            root,
            admin_killed: BTreeSet::new(),
            kills_asked: BTreeSet::new(),
            gone_seen: BTreeMap::new(),
            heal_ms: 0,
            granted: false,
            safety_steps: 0,
            dirty: Dirty::default(),
            accounting: Accounting::default(),
            last_step: LastStep::default(),
            running_after_gone: false,
            authenticates_sent: vec![0; clients_count],
            authenticates_busy: vec![0; clients_count],
            time_oracles: TimeOracles::default(),
            listings: show::Listings::default(),
            snapshot_refusals_checked: false,
            meta_refusals_checked: false,
            checker_tests: checkers::CheckerTests::default(),
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
}

/// Each node's clock skew, drawn within `clock_skew_max_ms` either way.
fn draw_skews(choose: &mut Chooser, config: &ClusterConfig) -> Vec<i64> {
    let skew_max = i64::try_from(config.clock_skew_max_ms).unwrap_or(0);
    (0..config.nodes)
        .map(|_| {
            let spread = u64::try_from(2 * skew_max).unwrap_or(0);
            i64::try_from(choose.range(0, spread)).unwrap_or(0) - skew_max
        })
        .collect()
}
