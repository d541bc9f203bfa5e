//! The id world: several graph nodes issue session and plan ids through restarts, lease hand-overs,
//! split-brain take-overs, clock steps and bursts, all chosen by one seed; every id is checked for global
//! uniqueness as it is issued.
//!
//! The hosts here follow id-gen's lease protocol against a simulated lease store with compare-and-set per
//! slot. The same world can run the naive generator (`now_ms & !0xFFFF | counter`) instead, which must be
//! caught colliding.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use graphsession_base::Fnv1a;
use graphsession_id_gen::{
    IdError, Layout, PlanIdGenerator, PlanLease, SealKey, SessionIdCodec, SessionIdConfig,
    SessionIdGenerator, SessionLease,
};

use crate::prng::Prng;

/// Which generator the simulated nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Generator {
    /// id-gen's session and plan id generators under the lease protocol.
    #[default]
    Ours,
    /// `(now_ms & 0xFFFF_FFFF_FFFF_0000) | (counter & 0xFFFF)`, counter restarting at 0 with the process.
    Naive,
}

impl Generator {
    /// The name the driver's `--generator` option gives it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Generator::Ours => "ours",
            Generator::Naive => "naive",
        }
    }
}

/// Session-id mode a seed runs ours in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMode {
    /// Sealed, 63 bits.
    Sealed,
    /// Unsealed, 63 bits.
    Unsealed,
    /// Sealed, JavaScript-safe 53 bits.
    JsSafe,
}

/// Kinds of step, also the index into [`IdWorldConfig::weights`] and [`IdRunStats::steps_by_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The global clock advances.
    Tick,
    /// A process issues a burst of ids.
    Burst,
    /// A process's clock steps back or forward.
    ClockStep,
    /// A process crashes and restarts on the same slot.
    Restart,
    /// A process gives its slot up and takes a free one.
    HandOver,
    /// A new process takes over a slot whose holder is still running (split brain).
    TakeOver,
}

impl StepKind {
    /// Every kind, in index order.
    pub const ALL: [StepKind; 6] = [
        StepKind::Tick,
        StepKind::Burst,
        StepKind::ClockStep,
        StepKind::Restart,
        StepKind::HandOver,
        StepKind::TakeOver,
    ];

    /// Lower-case name for summaries.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Tick => "tick",
            StepKind::Burst => "burst",
            StepKind::ClockStep => "clock_step",
            StepKind::Restart => "restart",
            StepKind::HandOver => "hand_over",
            StepKind::TakeOver => "take_over",
        }
    }
}

/// Everything a seed decides about its world before the first step (swarm testing: each seed enables a
/// different mix).
#[derive(Debug, Clone)]
pub struct IdWorldConfig {
    /// Processes running at once.
    pub nodes: u16,
    /// Slots in the lease store (at least `nodes`; extra slots make hand-overs possible).
    pub slots: u16,
    /// Steps in the run.
    pub steps: u32,
    /// Weight of each [`StepKind`], by index.
    pub weights: [u32; 6],
    /// Largest burst, in ids.
    pub burst_max: u32,
    /// Session lease length, milliseconds.
    pub lease_ms: u64,
    /// Plan lease length, counters.
    pub plan_lease_counters: u64,
    /// Largest clock step, milliseconds, either way.
    pub clock_step_max_ms: u64,
    /// Session-id mode.
    pub mode: IdMode,
}

impl IdWorldConfig {
    /// Derives the configuration from the seed's generator.
    pub fn derive(prng: &mut Prng) -> IdWorldConfig {
        let nodes = u16::try_from(prng.range(2, 8)).unwrap_or(2);
        let mut weights = [0_u32; 6];
        for weight in &mut weights {
            // Each fault is off for about a third of the seeds.
            *weight =
                if prng.chance(1, 3) { 0 } else { u32::try_from(prng.range(1, 10)).unwrap_or(1) };
        }
        weights[StepKind::Tick as usize] = weights[StepKind::Tick as usize].max(1);
        weights[StepKind::Burst as usize] = weights[StepKind::Burst as usize].max(3);
        let mode = [IdMode::Sealed, IdMode::Unsealed, IdMode::JsSafe]
            [usize::try_from(prng.below(3)).unwrap_or(0)];
        IdWorldConfig {
            nodes,
            slots: nodes + u16::try_from(prng.below(3)).unwrap_or(0),
            steps: u32::try_from(prng.range(50, 300)).unwrap_or(50),
            weights,
            burst_max: [16, 256, 4_096, 10_000][usize::try_from(prng.below(4)).unwrap_or(0)],
            lease_ms: [5, 200, 10_000, 600_000][usize::try_from(prng.below(4)).unwrap_or(0)],
            plan_lease_counters: [1, 64, 100_000][usize::try_from(prng.below(3)).unwrap_or(0)],
            clock_step_max_ms: [1, 1_000, 7_200_000][usize::try_from(prng.below(3)).unwrap_or(0)],
            mode,
        }
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Default)]
pub struct IdRunStats {
    /// Session ids issued and checked.
    pub session_ids: u64,
    /// Plan ids issued and checked.
    pub plan_ids: u64,
    /// Steps taken, by [`StepKind`] index.
    pub steps_by_kind: [u64; 6],
    /// Leases extended through the store's compare-and-set.
    pub lease_extensions: u64,
    /// Holders that found their slot taken over when extending, and stopped.
    pub fenced: u64,
    /// Backpressure refusals.
    pub backpressure: u64,
}

impl IdRunStats {
    /// Adds another run's counters.
    pub fn add(&mut self, other: &IdRunStats) {
        self.session_ids += other.session_ids;
        self.plan_ids += other.plan_ids;
        for (total, count) in self.steps_by_kind.iter_mut().zip(other.steps_by_kind) {
            *total += count;
        }
        self.lease_extensions += other.lease_extensions;
        self.fenced += other.fenced;
        self.backpressure += other.backpressure;
    }
}

/// A property the run broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdViolation {
    /// The step at which it was found.
    pub step: u32,
    /// What was expected and what happened.
    pub message: String,
}

/// The outcome of one seed.
#[derive(Debug, Clone)]
pub struct IdRunOutcome {
    /// The seed.
    pub seed: u64,
    /// Counters.
    pub stats: IdRunStats,
    /// A rolling FNV-1a hash of every step and id: equal for equal runs.
    pub trace_hash: u64,
    /// The first violated property, if any.
    pub violation: Option<IdViolation>,
}

/// Multiply-xorshift hasher for ids: deterministic (no OS seed) and fast.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }
    fn write_u64(&mut self, value: u64) {
        let mixed = (self.0 ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }
    fn write_i64(&mut self, value: i64) {
        self.write_u64(u64::from_ne_bytes(value.to_ne_bytes()));
    }
}

type IdSet<T> = HashSet<T, BuildHasherDefault<IdHasher>>;

/// One process holding a slot: its clock, its generators and the bounds it wrote.
struct Process {
    node: u16,
    slot: u16,
    clock_offset_ms: i64,
    session_floor_unix_ms: u64,
    written_session_bound_unix_ms: u64,
    written_plan_bound: u64,
    issuer: Issuer,
    /// False once the process found its slot taken over (or was replaced): it issues nothing more.
    live: bool,
}

enum Issuer {
    /// Boxed: the session generator carries its seal's prepared keys (a few hundred bytes).
    Ours {
        sessions: Box<SessionIdGenerator>,
        plans: PlanIdGenerator,
    },
    Naive {
        counter: u64,
    },
}

const START_UNIX_MS: u64 = 1_763_900_000_000;
const SEAL_KEY: SealKey = SealKey::from_bytes(*b"sim-id-world-key");

/// The world of one seed.
pub struct IdWorld {
    seed: u64,
    prng: Prng,
    config: IdWorldConfig,
    generator: Generator,
    now_unix_ms: u64,
    /// The lease store: per slot, the persisted (session bound, plan bound). Compare-and-set only.
    store: Vec<(u64, u64)>,
    processes: Vec<Process>,
    /// Processes that lost their slot to a take-over but still run until their lease runs out.
    zombies: Vec<Process>,
    session_ids: IdSet<i64>,
    plan_ids: IdSet<u64>,
    stats: IdRunStats,
    trace_hash: Fnv1a,
    step: u32,
    startup_violation: Option<IdViolation>,
}

impl IdWorld {
    /// Builds the world a seed describes.
    pub fn new(seed: u64, generator: Generator) -> IdWorld {
        let mut prng = Prng::from_seed(seed);
        let config = IdWorldConfig::derive(&mut prng);
        let mut world = IdWorld {
            seed,
            prng,
            store: vec![(0, 0); usize::from(config.slots)],
            config,
            generator,
            now_unix_ms: START_UNIX_MS,
            processes: Vec::new(),
            zombies: Vec::new(),
            session_ids: IdSet::default(),
            plan_ids: IdSet::default(),
            stats: IdRunStats::default(),
            trace_hash: Fnv1a::new(),
            step: 0,
            startup_violation: None,
        };
        for node in 0..world.config.nodes {
            match world.acquire(node, node, 0) {
                Ok(process) => world.processes.push(process),
                Err(violation) => world.startup_violation = Some(violation),
            }
        }
        world
    }

    /// The derived configuration.
    pub fn config(&self) -> &IdWorldConfig {
        &self.config
    }

    /// Runs every step; stops at the first violation.
    pub fn run(mut self) -> IdRunOutcome {
        let mut violation = self.startup_violation.take();
        for step in 0..self.config.steps {
            if violation.is_some() {
                break;
            }
            self.step = step;
            if let Err(found) = self.step() {
                violation = Some(found);
                break;
            }
        }
        IdRunOutcome {
            seed: self.seed,
            stats: self.stats,
            trace_hash: self.trace_hash.finish(),
            violation,
        }
    }

    fn trace(&mut self, value: u64) {
        self.trace_hash.u64_le(value);
    }

    fn clock(&self, clock_offset_ms: i64) -> u64 {
        self.now_unix_ms.saturating_add_signed(clock_offset_ms)
    }

    /// Lease protocol steps 1-2: read the slot's bounds, write new ones by compare-and-set, then build the
    /// generators with the old bounds as floors. (Single-threaded store: the compare-and-set always wins.)
    fn acquire(
        &mut self,
        node: u16,
        slot: u16,
        clock_offset_ms: i64,
    ) -> Result<Process, IdViolation> {
        let (session_floor, plan_floor) = self.store[usize::from(slot)];
        let now = self.clock(clock_offset_ms);
        let session_bound = now.max(session_floor) + self.config.lease_ms;
        let plan_bound = plan_floor + self.config.plan_lease_counters;
        self.store[usize::from(slot)] = (session_bound, plan_bound);
        let issuer = match self.generator {
            Generator::Naive => Issuer::Naive { counter: 0 },
            Generator::Ours => {
                let lease = SessionLease {
                    slot,
                    floor_unix_ms: session_floor,
                    bound_unix_ms: session_bound,
                };
                let plan_lease =
                    PlanLease { slot, floor_counter: plan_floor, bound_counter: plan_bound };
                let sessions = match self.config.mode {
                    IdMode::Sealed => {
                        SessionIdGenerator::new(lease, SEAL_KEY, SessionIdConfig::default())
                    }
                    IdMode::Unsealed => {
                        SessionIdGenerator::unsealed(lease, SessionIdConfig::default())
                    }
                    IdMode::JsSafe => SessionIdGenerator::new(
                        lease,
                        SEAL_KEY,
                        SessionIdConfig { layout: Layout::JS_SAFE, ..SessionIdConfig::default() },
                    ),
                };
                match (sessions, PlanIdGenerator::new(plan_lease)) {
                    (Ok(sessions), Ok(plans)) => {
                        Issuer::Ours { sessions: Box::new(sessions), plans }
                    }
                    (Err(error), _) | (_, Err(error)) => {
                        return Err(IdViolation {
                            step: self.step,
                            message: format!("a valid lease was refused: {error}"),
                        });
                    }
                }
            }
        };
        Ok(Process {
            node,
            slot,
            clock_offset_ms,
            session_floor_unix_ms: session_floor,
            written_session_bound_unix_ms: session_bound,
            written_plan_bound: plan_bound,
            issuer,
            live: true,
        })
    }

    fn step(&mut self) -> Result<(), IdViolation> {
        let kind = StepKind::ALL[self.prng.weighted(&self.config.weights)];
        self.stats.steps_by_kind[kind as usize] += 1;
        self.trace(kind as u64);
        let index = usize::try_from(self.prng.below(u64::from(self.config.nodes))).unwrap_or(0);
        match kind {
            StepKind::Tick => self.now_unix_ms += self.prng.range(0, 20),
            StepKind::Burst => {
                let count = self.prng.range(1, u64::from(self.config.burst_max));
                // Zombies keep issuing too: that is what a take-over must survive.
                let zombie = !self.zombies.is_empty() && self.prng.chance(1, 3);
                for _ in 0..count {
                    if !self.issue_one(index, zombie)? {
                        break;
                    }
                }
            }
            StepKind::ClockStep => {
                let magnitude = self.prng.range(0, self.config.clock_step_max_ms);
                let magnitude = i64::try_from(magnitude).unwrap_or(0);
                let delta = if self.prng.chance(1, 2) { -magnitude } else { magnitude };
                let process = &mut self.processes[index];
                process.clock_offset_ms = process.clock_offset_ms.saturating_add(delta);
            }
            StepKind::Restart => {
                let (node, slot, offset) = {
                    let process = &self.processes[index];
                    (process.node, process.slot, process.clock_offset_ms)
                };
                self.processes[index] = self.acquire(node, slot, offset)?;
            }
            StepKind::HandOver => {
                let free = (0..self.config.slots)
                    .find(|slot| self.processes.iter().all(|process| process.slot != *slot));
                if let Some(slot) = free {
                    let (node, offset) =
                        (self.processes[index].node, self.processes[index].clock_offset_ms);
                    self.processes[index] = self.acquire(node, slot, offset)?;
                }
            }
            StepKind::TakeOver => {
                // A new process on another node grabs this slot; the old holder keeps running as a zombie.
                let (node, slot, offset) = {
                    let process = &self.processes[index];
                    (process.node, process.slot, process.clock_offset_ms)
                };
                let skew = i64::try_from(self.prng.range(0, 3_600_000)).unwrap_or(0);
                let successor = self.acquire(node, slot, offset - skew)?;
                let old = std::mem::replace(&mut self.processes[index], successor);
                self.zombies.push(old);
            }
        }
        Ok(())
    }

    /// Issues one session id and one plan id from a process; extends leases by compare-and-set when they run
    /// out. Returns false when the process cannot issue now (backpressure, fenced, or dead).
    fn issue_one(&mut self, index: usize, zombie: bool) -> Result<bool, IdViolation> {
        let now_unix_ms = self.now_unix_ms;
        let step = self.step;
        let lease_ms = self.config.lease_ms;
        let store = &mut self.store;
        let stats = &mut self.stats;
        let process = if zombie {
            let zombie_index = index % self.zombies.len();
            &mut self.zombies[zombie_index]
        } else {
            &mut self.processes[index]
        };
        if !process.live {
            return Ok(false);
        }
        let now = now_unix_ms.saturating_add_signed(process.clock_offset_ms);
        let (session_id, plan_id) = match &mut process.issuer {
            Issuer::Naive { counter } => {
                let id = (now & 0xFFFF_FFFF_FFFF_0000) | (*counter & 0xFFFF);
                let plan = *counter;
                *counter = counter.wrapping_add(1);
                (i64::try_from(id).unwrap_or(i64::MAX), plan)
            }
            Issuer::Ours { sessions, plans } => {
                let session_id = match sessions.next(now) {
                    Ok(id) => id.get(),
                    Err(IdError::LeaseExhausted { .. }) => {
                        // Lease protocol step 3: compare-and-set the store from what we wrote, then extend.
                        let slot = usize::from(process.slot);
                        if store[slot].0 != process.written_session_bound_unix_ms {
                            process.live = false;
                            stats.fenced += 1;
                            return Ok(false);
                        }
                        let new_bound = process.written_session_bound_unix_ms.max(now) + lease_ms;
                        store[slot].0 = new_bound;
                        process.written_session_bound_unix_ms = new_bound;
                        stats.lease_extensions += 1;
                        if sessions.extend_lease(new_bound).is_err() {
                            process.live = false;
                        }
                        return Ok(true);
                    }
                    Err(IdError::Backpressure { .. }) => {
                        stats.backpressure += 1;
                        return Ok(false);
                    }
                    Err(other) => {
                        return Err(IdViolation {
                            step,
                            message: format!("unexpected error {other}"),
                        });
                    }
                };
                let plan_id = match plans.next() {
                    Ok(plan) => plan,
                    Err(IdError::LeaseExhausted { .. }) => {
                        let slot = usize::from(process.slot);
                        if store[slot].1 != process.written_plan_bound {
                            process.live = false;
                            stats.fenced += 1;
                            return Ok(false);
                        }
                        store[slot].1 += 1;
                        process.written_plan_bound = store[slot].1;
                        stats.lease_extensions += 1;
                        if plans.extend_lease(process.written_plan_bound).is_err() {
                            process.live = false;
                            return Ok(false);
                        }
                        match plans.next() {
                            Ok(plan) => plan,
                            Err(other) => {
                                return Err(IdViolation {
                                    step,
                                    message: format!("plan id after extension: {other}"),
                                });
                            }
                        }
                    }
                    Err(other) => {
                        return Err(IdViolation {
                            step,
                            message: format!("unexpected plan error {other}"),
                        });
                    }
                };
                if plan_id.slot() != process.slot {
                    return Err(IdViolation {
                        step,
                        message: format!(
                            "plan id {plan_id} names slot {} instead of {}",
                            plan_id.slot(),
                            process.slot
                        ),
                    });
                }
                let codec: SessionIdCodec = sessions.codec();
                match codec.open(session_id) {
                    Ok(decoded)
                        if decoded.slot == process.slot
                            && decoded.unix_ms >= process.session_floor_unix_ms
                            && decoded.unix_ms < process.written_session_bound_unix_ms => {}
                    other => {
                        return Err(IdViolation {
                            step,
                            message: format!(
                                "session id {session_id} of slot {} with lease [{}, {}) opened to {other:?}",
                                process.slot,
                                process.session_floor_unix_ms,
                                process.written_session_bound_unix_ms
                            ),
                        });
                    }
                }
                (session_id, plan_id.get())
            }
        };
        let (node, slot) = (process.node, process.slot);
        if session_id <= 0 {
            return Err(IdViolation {
                step,
                message: format!("session id {session_id} is not positive"),
            });
        }
        if !self.session_ids.insert(session_id) {
            return Err(IdViolation {
                step,
                message: format!(
                    "[duplicate_id] session id {session_id} issued twice (second time by node {node}, slot {slot}); expected every id unique"
                ),
            });
        }
        // The naive generator has no plan-id scheme worth checking; its session ids fail first.
        if self.generator == Generator::Ours && !self.plan_ids.insert(plan_id) {
            return Err(IdViolation {
                step,
                message: format!(
                    "[duplicate_id] plan id {plan_id} issued twice (second time by node {node}, slot {slot})"
                ),
            });
        }
        self.stats.session_ids += 1;
        self.stats.plan_ids += u64::from(self.generator == Generator::Ours);
        self.trace(u64::from_ne_bytes(session_id.to_ne_bytes()));
        Ok(true)
    }
}
