//! The catalog world (`--world catalog`): graph processes sharing users and roles through one
//! fenced register, each following session-core's [`CatalogTurns`] around its copy, under crashes,
//! lost writes, failed takes, lost leases and connections closing at any moment, all chosen by
//! one seed.
//!
//! Each process holds a real [`RoleTable`] as its copy (encoded canonically, see
//! [`statement::encode`]) and a `CatalogTurns<ConnId, Stmt, Reply>`. Its host loop does what
//! graphd does: it drains the machine's actions (adopt a value, run a statement on the copy with
//! the permission crate's checks, answer the client, put the copy back) and commands (take the
//! lock, write, release), calls `handle_step_done` after each step and, while the machine is
//! writing, lets none of its sessions use the copy. The register ([`register::Register`]) has a
//! lock bound to the holder's lease and writes fenced by the lock and the revision read; every
//! committed value is delivered to every process in revision order after its own random delay,
//! so a process can take the lock before its watch delivered the previous writer's value.
//!
//! Oracles, after every step (a violation names its property in brackets):
//!
//! 1. `[invariant]`: every machine's and every copy's `check_invariants()`.
//! 2. `[lost_update]`: every statement runs on the register's value at the revision its turn
//!    read, and every commit equals a sequential reference table to which each committed
//!    statement was applied in commit order (with the same reply).
//! 3. `[ack_not_committed]`: a statement answered with success whose copy changed is in the
//!    register; one answered with a failure is not, and its process's copy was put back.
//! 4. `[uncommitted_use]`: a use of the copy sees a value the register held at some revision.
//! 5. `[liveness]`: once faults stop and everything drains, every statement got exactly one
//!    answer (or its connection closed), every copy equals the register's value and no lock is
//!    held.
//!
//! `[protocol]` names a break of the contract between the machine and its host (an answer on a
//! connection with no statement, a write of something other than the copy).

pub mod register;
pub mod statement;

use std::collections::{BTreeMap, VecDeque};

use graphsession_base::Fnv1a;
use graphsession_core::catalog::{CatalogTurns, TurnAction, TurnCommand};
use graphsession_permission::{Policy, RoleTable};

use crate::prng::Prng;
use register::{Holder, Register};
use statement::{Reply, Stmt, decode, encode};

/// A client connection's id: the machine's key.
pub type ConnId = u32;
/// A statement's index in the world's record.
type StmtId = usize;

/// The most steps the liveness phase may take to drain.
const LIVENESS_STEPS_MAX: u32 = 6_000;
/// The most connections one process keeps open at once.
const CONNS_PER_PROCESS_MAX: usize = 6;

/// A branch of the protocol the world must keep reaching (coverage marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A turn's read was newer than the copy: the value was adopted at the turn's start.
    AdoptAtTurnStart,
    /// The race: a process took the lock while its watch still held an undelivered newer value.
    TakeBeforeDelivery,
    /// A delivered value was adopted outside a turn.
    AdoptByDelivery,
    /// A value delivered during a turn was kept for its end.
    DeliveryDeferred,
    /// A deferred value was adopted when its turn ended.
    AdoptAtTurnEnd,
    /// A write committed.
    WriteCommitted,
    /// A write's reply was lost (the write not committed): the statement failed.
    WriteLost,
    /// A write was refused by the register's fence (the writer's lease lost the lock).
    WriteFenced,
    /// A copy was put back after a refused write.
    Restore,
    /// A take failed at once (the register out of reach).
    TakeFailed,
    /// A take gave up waiting for a lock another process held.
    TakeTimedOut,
    /// A take waited for a lock another process held.
    TakeWaited,
    /// A crashed process's lease expired while it held the lock, freeing it.
    LockFreedByExpiry,
    /// A process crashed holding the lock.
    CrashWhileHolding,
    /// A process crashed with its write in flight, and the write committed.
    CrashWriteCommitted,
    /// A connection closed while its statement had its turn.
    ClosedMidTurn,
    /// A connection closed while its statement ran in a task.
    ClosedWhileExecuting,
    /// A statement was refused because too many waited.
    TurnsFull,
    /// A statement in its turn was refused by the permission checks (nothing written).
    RefusedByRules,
    /// A session used the copy during a turn (not while writing).
    UseDuringTurn,
    /// A restarted process waited behind the lock its previous life held.
    RestartBehindOwnLock,
    /// A live process's lease was lost while it held the lock.
    LeaseLostHoldingLock,
}

impl Mark {
    /// Every mark, in index order.
    pub const ALL: [Mark; 22] = [
        Mark::AdoptAtTurnStart,
        Mark::TakeBeforeDelivery,
        Mark::AdoptByDelivery,
        Mark::DeliveryDeferred,
        Mark::AdoptAtTurnEnd,
        Mark::WriteCommitted,
        Mark::WriteLost,
        Mark::WriteFenced,
        Mark::Restore,
        Mark::TakeFailed,
        Mark::TakeTimedOut,
        Mark::TakeWaited,
        Mark::LockFreedByExpiry,
        Mark::CrashWhileHolding,
        Mark::CrashWriteCommitted,
        Mark::ClosedMidTurn,
        Mark::ClosedWhileExecuting,
        Mark::TurnsFull,
        Mark::RefusedByRules,
        Mark::UseDuringTurn,
        Mark::RestartBehindOwnLock,
        Mark::LeaseLostHoldingLock,
    ];

    /// The mark's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mark::AdoptAtTurnStart => "adopt_at_turn_start",
            Mark::TakeBeforeDelivery => "take_before_delivery",
            Mark::AdoptByDelivery => "adopt_by_delivery",
            Mark::DeliveryDeferred => "delivery_deferred",
            Mark::AdoptAtTurnEnd => "adopt_at_turn_end",
            Mark::WriteCommitted => "write_committed",
            Mark::WriteLost => "write_lost",
            Mark::WriteFenced => "write_fenced",
            Mark::Restore => "restore",
            Mark::TakeFailed => "take_failed",
            Mark::TakeTimedOut => "take_timed_out",
            Mark::TakeWaited => "take_waited",
            Mark::LockFreedByExpiry => "lock_freed_by_expiry",
            Mark::CrashWhileHolding => "crash_while_holding",
            Mark::CrashWriteCommitted => "crash_write_committed",
            Mark::ClosedMidTurn => "closed_mid_turn",
            Mark::ClosedWhileExecuting => "closed_while_executing",
            Mark::TurnsFull => "turns_full",
            Mark::RefusedByRules => "refused_by_rules",
            Mark::UseDuringTurn => "use_during_turn",
            Mark::RestartBehindOwnLock => "restart_behind_own_lock",
            Mark::LeaseLostHoldingLock => "lease_lost_holding_lock",
        }
    }
}

/// Kinds of step, also the index into [`CatalogConfig::weights`] and
/// [`CatalogStats::steps_by_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A client submits a statement on a connection of a process.
    Submit,
    /// A client closes a connection (whatever its statement is doing).
    Close,
    /// A session uses the copy: checks a user's role in a space.
    Use,
    /// The register answers a process's take or write.
    Register,
    /// A process's watch delivers its next value.
    Deliver,
    /// A statement running in a task finishes.
    Task,
    /// A process crashes (its lease expires later).
    Crash,
    /// A crashed process restarts from the register's value.
    Restart,
    /// A live process loses its lease (and so its lock).
    LeaseLost,
    /// Time passes.
    Tick,
}

impl StepKind {
    /// Every kind, in index order.
    pub const ALL: [StepKind; 10] = [
        StepKind::Submit,
        StepKind::Close,
        StepKind::Use,
        StepKind::Register,
        StepKind::Deliver,
        StepKind::Task,
        StepKind::Crash,
        StepKind::Restart,
        StepKind::LeaseLost,
        StepKind::Tick,
    ];

    /// Lower-case name for summaries.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Submit => "submit",
            StepKind::Close => "close",
            StepKind::Use => "use",
            StepKind::Register => "register",
            StepKind::Deliver => "deliver",
            StepKind::Task => "task",
            StepKind::Crash => "crash",
            StepKind::Restart => "restart",
            StepKind::LeaseLost => "lease_lost",
            StepKind::Tick => "tick",
        }
    }
}

/// Everything a seed decides before the first step (each fault is off for some seeds).
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Processes (2 to 4).
    pub processes: usize,
    /// Users statements name, root included (3 to 5).
    pub users: u8,
    /// Spaces roles name (2 or 3).
    pub spaces: u8,
    /// Authorization on or off.
    pub policy: Policy,
    /// Whether the register starts with a value (else empty, every process on the bootstrap
    /// table).
    pub seeded: bool,
    /// Steps of the safety phase.
    pub safety_steps: u32,
    /// Statements that may wait for their turn on one process.
    pub parked_max: usize,
    /// Weight of each [`StepKind`], by index.
    pub weights: [u32; 10],
    /// Largest ordinary delivery delay, in steps.
    pub delivery_delay_max_steps: u64,
    /// Percent of deliveries that take long.
    pub long_delivery_percent: u64,
    /// Largest long delivery delay, in steps.
    pub long_delivery_max_steps: u64,
    /// Largest delay before a write reaches the register, in steps.
    pub write_delay_max_steps: u64,
    /// How long a take waits for a lock another holds before it fails, in steps.
    pub take_wait_steps: u64,
    /// How long a crashed process's lease lives on, in steps.
    pub lease_steps: u64,
    /// Percent of statements that run in a task (their reply comes later).
    pub task_percent: u64,
    /// Percent of writes whose reply is lost (not committed).
    pub write_lost_percent: u64,
    /// Percent of takes that fail at once.
    pub take_fail_percent: u64,
}

impl CatalogConfig {
    /// Derives the configuration from the seed's generator.
    pub fn derive(prng: &mut Prng) -> CatalogConfig {
        let pick = |prng: &mut Prng, low: u64, high: u64| prng.range(low, high);
        let processes = usize::try_from(pick(prng, 2, 4)).unwrap_or(2);
        let users = u8::try_from(pick(prng, 3, 5)).unwrap_or(3);
        let spaces = u8::try_from(pick(prng, 2, 3)).unwrap_or(2);
        let policy = if prng.chance(1, 5) { Policy::OPEN } else { Policy::ENFORCED };
        let seeded = prng.chance(2, 3);
        let safety_steps = u32::try_from(pick(prng, 150, 500)).unwrap_or(150);
        let parked_max = usize::try_from(pick(prng, 1, 8)).unwrap_or(1);
        let mut weights = [0_u32; 10];
        let base: [(u64, u64); 10] =
            [(4, 10), (1, 4), (2, 8), (8, 16), (6, 14), (2, 6), (1, 2), (1, 3), (1, 2), (1, 4)];
        for (weight, (low, high)) in weights.iter_mut().zip(base) {
            *weight = u32::try_from(pick(prng, low, high)).unwrap_or(1);
        }
        // Faults are off for about a third of the seeds each.
        for kind in [StepKind::Close, StepKind::Crash, StepKind::LeaseLost] {
            if prng.chance(1, 3) {
                weights[kind as usize] = 0;
            }
        }
        let percent = |prng: &mut Prng, high: u64| {
            if prng.chance(1, 3) { 0 } else { prng.range(1, high) }
        };
        CatalogConfig {
            processes,
            users,
            spaces,
            policy,
            seeded,
            safety_steps,
            parked_max,
            weights,
            delivery_delay_max_steps: pick(prng, 0, 4),
            long_delivery_percent: percent(prng, 30),
            long_delivery_max_steps: pick(prng, 10, 80),
            write_delay_max_steps: pick(prng, 0, 8),
            take_wait_steps: pick(prng, 2, 60),
            lease_steps: pick(prng, 5, 120),
            task_percent: percent(prng, 60),
            write_lost_percent: percent(prng, 20),
            take_fail_percent: percent(prng, 15),
        }
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Default)]
pub struct CatalogStats {
    /// Steps taken in the safety phase, by [`StepKind`] index.
    pub steps_by_kind: [u64; 10],
    /// Steps the liveness phase took to drain.
    pub liveness_steps: u64,
    /// Statements submitted.
    pub statements: u64,
    /// Statements answered with the node's reply / with a failure / refused as too many /
    /// whose connection closed first.
    pub replied: u64,
    /// Statements answered with a failure.
    pub failed: u64,
    /// Statements refused because too many waited.
    pub refused: u64,
    /// Statements whose connection closed before an answer.
    pub closed: u64,
    /// Turns (statements run in their turn).
    pub turns: u64,
    /// Uses of a copy.
    pub uses: u64,
    /// Times each [`Mark`] was hit, by index.
    pub marks: [u64; 22],
}

impl CatalogStats {
    /// Adds another run's counters.
    pub fn add(&mut self, other: &CatalogStats) {
        for (total, count) in self.steps_by_kind.iter_mut().zip(other.steps_by_kind) {
            *total += count;
        }
        for (total, count) in self.marks.iter_mut().zip(other.marks) {
            *total += count;
        }
        self.liveness_steps += other.liveness_steps;
        self.statements += other.statements;
        self.replied += other.replied;
        self.failed += other.failed;
        self.refused += other.refused;
        self.closed += other.closed;
        self.turns += other.turns;
        self.uses += other.uses;
    }

    /// How often `mark` was hit.
    pub fn mark(&self, mark: Mark) -> u64 {
        self.marks[mark as usize]
    }
}

/// A property the run broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogViolation {
    /// The step at which it was found (safety steps first, then liveness steps).
    pub step: u32,
    /// What was expected and what happened, opening with its property's tag.
    pub message: String,
}

/// The outcome of one seed.
#[derive(Debug, Clone)]
pub struct CatalogRunOutcome {
    /// The seed.
    pub seed: u64,
    /// Counters.
    pub stats: CatalogStats,
    /// A rolling FNV-1a hash of every step: equal for equal runs.
    pub trace_hash: u64,
    /// The first violated property, if any.
    pub violation: Option<CatalogViolation>,
}

/// How a statement ended for its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Replied,
    Failed,
    Refused,
    Closed,
}

/// A statement and what became of it.
#[derive(Debug, Clone)]
struct StmtRecord {
    stmt: Stmt,
    outcome: Option<Outcome>,
    /// The copy when it ran in its turn.
    before: Option<Vec<u8>>,
    /// Whether running it changed the copy.
    changed: bool,
    /// The node's reply.
    reply: Option<Reply>,
    /// The revision its change was committed at.
    committed: Option<i64>,
}

/// A process's call to the register under way.
#[derive(Debug, Clone)]
enum Op {
    Take { give_up_at: u64 },
    Write { due: u64, read_revision: i64, value: Vec<u8>, stmt: StmtId },
}

/// A statement running in a task of the host's.
#[derive(Debug, Clone, Copy)]
struct Task {
    key: ConnId,
    stmt: Stmt,
    id: StmtId,
    due: u64,
}

/// What made the host drain its machine (the coverage marks of an adoption tell them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Taken,
    Delivered,
    Other,
}

/// One graph process: its copy, its machine and its host loop's state.
struct Process {
    alive: bool,
    lease: u64,
    turns: CatalogTurns<ConnId, Stmt, Reply>,
    copy: RoleTable,
    /// `encode(copy)`, kept current.
    encoded: Vec<u8>,
    /// Values committed and not yet delivered: (due step, revision), in revision order.
    watch: VecDeque<(u64, i64)>,
    op: Option<Op>,
    /// Open connections and the statement each waits on.
    conns: BTreeMap<ConnId, Option<StmtId>>,
    /// The revision the current turn read.
    read_revision: Option<i64>,
    /// The statement that ran in the current turn.
    running: Option<StmtId>,
    task: Option<Task>,
}

/// The world of one seed.
pub struct CatalogWorld {
    seed: u64,
    prng: Prng,
    config: CatalogConfig,
    now: u64,
    step: u32,
    register: Register,
    /// The sequential reference: every committed statement applied in commit order.
    reference: RoleTable,
    processes: Vec<Process>,
    /// Leases of crashed processes, with the step they expire at.
    dead_leases: Vec<(u64, u64)>,
    next_lease: u64,
    next_conn: ConnId,
    records: Vec<StmtRecord>,
    stats: CatalogStats,
    trace_hash: Fnv1a,
    /// Whether faults may still be injected (the safety phase).
    faults: bool,
    startup_violation: Option<String>,
}

impl CatalogWorld {
    /// Builds the world a seed describes.
    pub fn new(seed: u64) -> CatalogWorld {
        let mut prng = Prng::from_seed(seed);
        let config = CatalogConfig::derive(&mut prng);
        let mut startup_violation = None;
        let bootstrap = encode(&RoleTable::new()).unwrap_or_else(|error| {
            startup_violation = Some(format!("[invariant] bootstrap: {error}"));
            Vec::new()
        });
        let mut register = Register::new(0, None, bootstrap);
        if config.seeded {
            let mut table = RoleTable::new();
            for user in 1..config.users {
                if prng.chance(2, 3) {
                    let _ = Stmt::CreateUser { caller: 0, user }.apply(&mut table, config.policy);
                }
            }
            match encode(&table) {
                Ok(value) => {
                    let revision = i64::try_from(prng.range(1, 50)).unwrap_or(1);
                    register = Register::new(revision, Some(value), register.current().to_vec());
                }
                Err(error) => startup_violation = Some(format!("[invariant] seeding: {error}")),
            }
        }
        let reference = decode(register.current()).unwrap_or_default();
        let mut world = CatalogWorld {
            seed,
            prng,
            config,
            now: 0,
            step: 0,
            register,
            reference,
            processes: Vec::new(),
            dead_leases: Vec::new(),
            next_lease: 1,
            next_conn: 1,
            records: Vec::new(),
            stats: CatalogStats::default(),
            trace_hash: Fnv1a::new(),
            faults: true,
            startup_violation,
        };
        for _ in 0..world.config.processes {
            match world.fresh_process() {
                Ok(process) => world.processes.push(process),
                Err(error) => world.startup_violation = Some(error),
            }
        }
        world
    }

    /// The derived configuration.
    pub fn config(&self) -> &CatalogConfig {
        &self.config
    }

    /// Runs the safety phase, then the liveness phase; stops at the first violation.
    pub fn run(mut self) -> CatalogRunOutcome {
        let violation = match self.startup_violation.take() {
            Some(message) => Some(CatalogViolation { step: 0, message }),
            None => self.phases().err(),
        };
        CatalogRunOutcome {
            seed: self.seed,
            stats: self.stats,
            trace_hash: self.trace_hash.finish(),
            violation,
        }
    }

    fn phases(&mut self) -> Result<(), CatalogViolation> {
        for step in 1..=self.config.safety_steps {
            self.step = step;
            self.safety_step().and_then(|()| self.check_all()).map_err(|e| self.violation(e))?;
        }
        self.faults = false;
        for index in 0..self.processes.len() {
            if !self.processes[index].alive {
                self.restart(index).map_err(|e| self.violation(e))?;
            }
        }
        let mut drained = false;
        for _ in 0..LIVENESS_STEPS_MAX {
            if self.quiescent() {
                drained = true;
                break;
            }
            self.step += 1;
            self.stats.liveness_steps += 1;
            self.liveness_step().and_then(|()| self.check_all()).map_err(|e| self.violation(e))?;
        }
        if !drained {
            return Err(self.violation(format!(
                "[liveness] the world did not drain in {LIVENESS_STEPS_MAX} steps after faults \
                 stopped: {}",
                self.describe_pending()
            )));
        }
        self.check_liveness().map_err(|e| self.violation(e))
    }

    fn violation(&self, message: String) -> CatalogViolation {
        CatalogViolation { step: self.step, message }
    }

    fn trace(&mut self, value: u64) {
        self.trace_hash.u64_le(value);
    }

    fn mark(&mut self, mark: Mark) {
        self.stats.marks[mark as usize] += 1;
        self.trace(0x4d00 | mark as u64);
    }

    fn next_lease(&mut self) -> u64 {
        self.next_lease += 1;
        self.next_lease
    }

    /// A process starting now: its copy read from the register, its watch from the next value.
    fn fresh_process(&mut self) -> Result<Process, String> {
        let copy = decode(self.register.current())
            .map_err(|error| format!("[invariant] the register's value: {error}"))?;
        let encoded = encode(&copy).map_err(|error| format!("[invariant] {error}"))?;
        let lease = self.next_lease();
        Ok(Process {
            alive: true,
            lease,
            turns: CatalogTurns::new(self.config.parked_max, self.register.revision),
            copy,
            encoded,
            watch: VecDeque::new(),
            op: None,
            conns: BTreeMap::new(),
            read_revision: None,
            running: None,
            task: None,
        })
    }

    fn holder(&self, index: usize) -> Holder {
        Holder { process: index, lease: self.processes[index].lease }
    }

    fn safety_step(&mut self) -> Result<(), String> {
        self.now += 1;
        self.expire_leases();
        let kind = StepKind::ALL[self.prng.weighted(&self.config.weights)];
        self.stats.steps_by_kind[kind as usize] += 1;
        let index = self.pick_process();
        self.trace((kind as u64) << 8 | u64::try_from(index).unwrap_or(0));
        self.run_step(kind, index)
    }

    fn liveness_step(&mut self) -> Result<(), String> {
        self.now += 1;
        self.expire_leases();
        let mut weights = [0_u32; 10];
        for kind in [StepKind::Register, StepKind::Deliver, StepKind::Task, StepKind::Tick] {
            weights[kind as usize] = self.config.weights[kind as usize].max(1);
        }
        let kind = StepKind::ALL[self.prng.weighted(&weights)];
        let index = self.pick_process();
        self.trace((kind as u64) << 8 | u64::try_from(index).unwrap_or(0));
        self.run_step(kind, index)
    }

    fn pick_process(&mut self) -> usize {
        let count = u64::try_from(self.processes.len()).unwrap_or(1);
        usize::try_from(self.prng.below(count)).unwrap_or(0)
    }

    fn run_step(&mut self, kind: StepKind, index: usize) -> Result<(), String> {
        let alive = self.processes[index].alive;
        match kind {
            StepKind::Submit if alive => self.submit(index),
            StepKind::Close if alive => self.close(index),
            StepKind::Use if alive => self.use_copy(index),
            StepKind::Register if alive => self.answer(index),
            StepKind::Deliver if alive => self.deliver(index),
            StepKind::Task if alive => self.finish_task(index),
            StepKind::Crash if alive && self.faults => self.crash(index),
            StepKind::Restart if !alive => self.restart(index),
            StepKind::LeaseLost if alive && self.faults => {
                self.lose_lease(index);
                Ok(())
            }
            StepKind::Tick => {
                self.now += self.prng.range(1, 8);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn expire_leases(&mut self) {
        let now = self.now;
        let mut expired = Vec::new();
        self.dead_leases.retain(|&(lease, expires_at)| {
            if expires_at <= now {
                expired.push(lease);
                false
            } else {
                true
            }
        });
        for lease in expired {
            if self.register.expire(lease) {
                self.mark(Mark::LockFreedByExpiry);
            }
        }
    }

    fn random_stmt(&mut self) -> Stmt {
        let users = u64::from(self.config.users);
        let caller = if self.prng.chance(3, 4) { 0 } else { self.prng.range(1, users - 1) };
        let user = if self.prng.chance(1, 20) { 0 } else { self.prng.range(1, users - 1) };
        let caller = u8::try_from(caller).unwrap_or(0);
        let user = u8::try_from(user).unwrap_or(0);
        let role = statement::ROLES[usize::try_from(self.prng.below(4)).unwrap_or(0)];
        let space = u8::try_from(self.prng.below(u64::from(self.config.spaces))).unwrap_or(0);
        match self.prng.weighted(&[4, 1, 6, 2]) {
            0 => Stmt::CreateUser { caller, user },
            1 => Stmt::DropUser { caller, user },
            2 => Stmt::Grant { caller, role, space, user },
            _ => Stmt::Revoke { caller, role, space, user },
        }
    }

    fn submit(&mut self, index: usize) -> Result<(), String> {
        let idle: Vec<ConnId> = self.processes[index]
            .conns
            .iter()
            .filter(|(_, stmt)| stmt.is_none())
            .map(|(key, _)| *key)
            .collect();
        let open = self.processes[index].conns.len();
        let key = if !idle.is_empty() && (open >= CONNS_PER_PROCESS_MAX || self.prng.chance(2, 3)) {
            idle[usize::try_from(self.prng.below(idle.len() as u64)).unwrap_or(0)]
        } else if open < CONNS_PER_PROCESS_MAX {
            self.next_conn += 1;
            self.next_conn
        } else {
            return Ok(());
        };
        let stmt = self.random_stmt();
        self.trace(stmt.code());
        let id = self.records.len();
        self.records.push(StmtRecord {
            stmt,
            outcome: None,
            before: None,
            changed: false,
            reply: None,
            committed: None,
        });
        self.stats.statements += 1;
        self.processes[index].conns.insert(key, Some(id));
        if self.processes[index].turns.handle_statement(key, stmt).is_err() {
            self.mark(Mark::TurnsFull);
            self.set_outcome(id, Outcome::Refused)?;
            self.processes[index].conns.insert(key, None);
        }
        self.drain(index, Origin::Other)
    }

    fn close(&mut self, index: usize) -> Result<(), String> {
        let count = self.processes[index].conns.len();
        if count == 0 {
            return Ok(());
        }
        let nth = usize::try_from(self.prng.below(count as u64)).unwrap_or(0);
        let Some((&key, &waiting)) = self.processes[index].conns.iter().nth(nth) else {
            return Ok(());
        };
        self.processes[index].conns.remove(&key);
        self.trace(0xc105e << 16 | u64::from(key));
        if let Some(id) = waiting {
            let process = &self.processes[index];
            if process.running == Some(id) && process.turns.in_turn() {
                self.mark(Mark::ClosedMidTurn);
            }
            if self.processes[index].task.is_some_and(|task| task.key == key) {
                self.mark(Mark::ClosedWhileExecuting);
            }
            self.set_outcome(id, Outcome::Closed)?;
        }
        let process = &mut self.processes[index];
        process.turns.handle_closed(key);
        process.turns.handle_step_done(&process.encoded);
        self.drain(index, Origin::Other)
    }

    fn use_copy(&mut self, index: usize) -> Result<(), String> {
        if self.processes[index].turns.is_writing() {
            // The host runs nothing while a change is being written.
            return Ok(());
        }
        self.stats.uses += 1;
        let user = statement::user_name(
            u8::try_from(self.prng.below(u64::from(self.config.users))).unwrap_or(0),
        );
        let space = statement::space_name(
            u8::try_from(self.prng.below(u64::from(self.config.spaces))).unwrap_or(0),
        );
        let process = &self.processes[index];
        let role = process.copy.role_of(user, space);
        let in_turn = process.turns.in_turn();
        let committed = self.register.committed.contains(&process.encoded);
        self.trace(role.map_or(9, |role| role as u64));
        if in_turn {
            self.mark(Mark::UseDuringTurn);
        }
        if !committed {
            return Err(format!(
                "[uncommitted_use] process {index} let a session check {user}'s role in {space} \
                 ({role:?}) on a copy the register never held"
            ));
        }
        Ok(())
    }

    /// The register answers the process's take or write, if it is due.
    fn answer(&mut self, index: usize) -> Result<(), String> {
        let Some(op) = self.processes[index].op.take() else {
            return Ok(());
        };
        let me = self.holder(index);
        match op {
            Op::Take { give_up_at } => {
                if self.faults && self.prng.chance(self.config.take_fail_percent, 100) {
                    self.mark(Mark::TakeFailed);
                    let process = &mut self.processes[index];
                    let current = process.encoded.clone();
                    process.turns.handle_taken(Err("injected: etcd unreachable".into()), &current);
                    return self.drain(index, Origin::Other);
                }
                if self.register.holder == Some(me) {
                    return Err(format!(
                        "[protocol] process {index} asked for the lock it holds already"
                    ));
                }
                if self.register.try_take(me) {
                    let process = &self.processes[index];
                    if process
                        .watch
                        .front()
                        .is_some_and(|&(_, revision)| revision > process.turns.adopted_revision())
                    {
                        self.mark(Mark::TakeBeforeDelivery);
                    }
                    let read = self.register.read();
                    self.trace(u64::try_from(read.revision).unwrap_or(0));
                    let process = &mut self.processes[index];
                    process.read_revision = Some(read.revision);
                    let current = process.encoded.clone();
                    process.turns.handle_taken(Ok(read), &current);
                    return self.drain(index, Origin::Taken);
                }
                if self.now >= give_up_at {
                    self.mark(Mark::TakeTimedOut);
                    let process = &mut self.processes[index];
                    let current = process.encoded.clone();
                    process
                        .turns
                        .handle_taken(Err("timed out waiting for the lock".into()), &current);
                    return self.drain(index, Origin::Other);
                }
                self.mark(Mark::TakeWaited);
                self.processes[index].op = Some(Op::Take { give_up_at });
                Ok(())
            }
            Op::Write { due, read_revision, value, stmt } => {
                if self.now < due {
                    self.processes[index].op = Some(Op::Write { due, read_revision, value, stmt });
                    return Ok(());
                }
                let written = if self.faults
                    && self.prng.chance(self.config.write_lost_percent, 100)
                {
                    self.mark(Mark::WriteLost);
                    Err("injected: the write's reply was lost, the write not committed".to_owned())
                } else {
                    self.write(me, read_revision, &value, stmt)?
                };
                self.processes[index].turns.handle_written(written);
                self.drain(index, Origin::Other)
            }
        }
    }

    /// A write reaching the register: committed (oracle 2 checked), or refused.
    fn write(
        &mut self,
        me: Holder,
        read_revision: i64,
        value: &[u8],
        stmt: StmtId,
    ) -> Result<Result<i64, String>, String> {
        let step = i64::try_from(self.prng.range(1, 3)).unwrap_or(1);
        let before_commit = self.register.value_at(read_revision).map(<[u8]>::to_vec);
        match self.register.write(me, read_revision, value, step, true) {
            Ok(revision) => {
                self.mark(Mark::WriteCommitted);
                self.trace(u64::try_from(revision).unwrap_or(0));
                self.committed(me.process, stmt, read_revision, before_commit, revision)?;
                Ok(Ok(revision))
            }
            Err(refused) => {
                self.mark(Mark::WriteFenced);
                Ok(Err(format!("the register refused the write: {refused:?}")))
            }
        }
    }

    /// Oracle 2 at a commit, and the commit's delivery to every live process.
    fn committed(
        &mut self,
        index: usize,
        id: StmtId,
        read_revision: i64,
        at_read: Option<Vec<u8>>,
        revision: i64,
    ) -> Result<(), String> {
        let policy = self.config.policy;
        let record = &mut self.records[id];
        record.committed = Some(revision);
        if record.before != at_read {
            return Err(format!(
                "[lost_update] process {index} committed statement {id} ({:?}) at revision \
                 {revision}, made on a copy that is not the register's value at its read revision \
                 {read_revision}",
                record.stmt
            ));
        }
        let reply = record.stmt.apply(&mut self.reference, policy);
        let expected = encode(&self.reference).map_err(|error| format!("[invariant] {error}"))?;
        let record = &self.records[id];
        if Some(expected.as_slice()) != self.register.value.as_deref() {
            return Err(format!(
                "[lost_update] the register's value at revision {revision} (statement {id}, \
                 {:?}, from process {index}) is not the committed statements replayed in order",
                record.stmt
            ));
        }
        if record.reply.as_ref() != Some(&reply) {
            return Err(format!(
                "[lost_update] statement {id} ({:?}) replied {:?}; replayed in commit order it \
                 replies {reply:?}",
                record.stmt, record.reply
            ));
        }
        for process_index in 0..self.processes.len() {
            if !self.processes[process_index].alive {
                continue;
            }
            let delay = if self.prng.chance(self.config.long_delivery_percent, 100) {
                self.prng.range(
                    self.config.delivery_delay_max_steps,
                    self.config.long_delivery_max_steps,
                )
            } else {
                self.prng.range(0, self.config.delivery_delay_max_steps)
            };
            let process = &mut self.processes[process_index];
            let due = process.watch.back().map_or(0, |&(due, _)| due).max(self.now + delay);
            process.watch.push_back((due, revision));
        }
        Ok(())
    }

    fn deliver(&mut self, index: usize) -> Result<(), String> {
        let now = self.now;
        let process = &mut self.processes[index];
        let Some(&(due, revision)) = process.watch.front() else { return Ok(()) };
        if due > now {
            return Ok(());
        }
        process.watch.pop_front();
        let Some(value) = self.register.history.get(&revision).cloned() else {
            return Err(format!("[protocol] revision {revision} delivered but never committed"));
        };
        let process = &mut self.processes[index];
        let adopted = process.turns.adopted_revision();
        let in_turn = process.turns.in_turn();
        let current = process.encoded.clone();
        process.turns.handle_delivered(revision, value, &current);
        let deferred = in_turn && revision > adopted && process.turns.adopted_revision() == adopted;
        self.trace(u64::try_from(revision).unwrap_or(0));
        if deferred {
            self.mark(Mark::DeliveryDeferred);
        }
        self.drain(index, Origin::Delivered)
    }

    fn finish_task(&mut self, index: usize) -> Result<(), String> {
        let Some(task) = self.processes[index].task else { return Ok(()) };
        if task.due > self.now {
            return Ok(());
        }
        self.processes[index].task = None;
        self.execute(index, task.key, task.stmt, task.id, true)?;
        self.drain(index, Origin::Other)
    }

    fn crash(&mut self, index: usize) -> Result<(), String> {
        let me = self.holder(index);
        let waiting: Vec<StmtId> =
            self.processes[index].conns.values().filter_map(|stmt| *stmt).collect();
        for id in waiting {
            self.set_outcome(id, Outcome::Closed)?;
        }
        match self.processes[index].op.take() {
            Some(Op::Take { .. }) if self.prng.chance(1, 2) => {
                // The take reached etcd before the crash: the dead lease holds the lock.
                self.register.try_take(me);
            }
            Some(Op::Write { read_revision, value, stmt, .. }) if self.prng.chance(1, 2) => {
                let written = self.write(me, read_revision, &value, stmt)?;
                if written.is_ok() {
                    self.mark(Mark::CrashWriteCommitted);
                }
            }
            _ => {}
        }
        if self.register.holder == Some(me) {
            self.mark(Mark::CrashWhileHolding);
        }
        let expires_at = self.now + self.config.lease_steps;
        self.dead_leases.push((me.lease, expires_at));
        let process = &mut self.processes[index];
        process.alive = false;
        process.conns.clear();
        process.watch.clear();
        process.task = None;
        process.running = None;
        process.read_revision = None;
        Ok(())
    }

    fn restart(&mut self, index: usize) -> Result<(), String> {
        let old_lease = self.processes[index].lease;
        if self.register.holder.is_some_and(|holder| holder.lease == old_lease) {
            self.mark(Mark::RestartBehindOwnLock);
        }
        self.processes[index] = self.fresh_process()?;
        Ok(())
    }

    fn lose_lease(&mut self, index: usize) {
        let me = self.holder(index);
        if self.register.holder != Some(me) {
            return;
        }
        self.mark(Mark::LeaseLostHoldingLock);
        self.register.expire(me.lease);
        let lease = self.next_lease();
        self.processes[index].lease = lease;
    }

    fn set_outcome(&mut self, id: StmtId, outcome: Outcome) -> Result<(), String> {
        let record = &mut self.records[id];
        if let Some(earlier) = record.outcome {
            return Err(format!(
                "[protocol] statement {id} ({:?}) answered twice: {earlier:?}, then {outcome:?}",
                record.stmt
            ));
        }
        record.outcome = Some(outcome);
        match outcome {
            Outcome::Replied => self.stats.replied += 1,
            Outcome::Failed => self.stats.failed += 1,
            Outcome::Refused => self.stats.refused += 1,
            Outcome::Closed => self.stats.closed += 1,
        }
        self.trace(0x0a00 | outcome as u64);
        Ok(())
    }

    /// The host loop: drains the machine's actions and commands until it asks for nothing more.
    fn drain(&mut self, index: usize, origin: Origin) -> Result<(), String> {
        let mut origin = origin;
        loop {
            if let Some(action) = self.processes[index].turns.poll_action() {
                let taken = origin == Origin::Taken;
                if !matches!(action, TurnAction::Adopt { .. }) {
                    origin = Origin::Other;
                }
                self.act(index, action, taken, origin)?;
                continue;
            }
            if self.processes[index].op.is_none() {
                if let Some(command) = self.processes[index].turns.poll_command() {
                    self.command(index, command)?;
                    continue;
                }
            }
            return Ok(());
        }
    }

    fn act(
        &mut self,
        index: usize,
        action: TurnAction<ConnId, Stmt, Reply>,
        taken: bool,
        origin: Origin,
    ) -> Result<(), String> {
        match action {
            TurnAction::Adopt { revision, value } => {
                self.mark(if taken {
                    Mark::AdoptAtTurnStart
                } else if origin == Origin::Delivered {
                    Mark::AdoptByDelivery
                } else {
                    Mark::AdoptAtTurnEnd
                });
                if self.register.history.get(&revision) != Some(&value) {
                    return Err(format!(
                        "[protocol] process {index} was told to adopt a value the register did not \
                         hold at revision {revision}"
                    ));
                }
                self.take_value(index, &value)
            }
            TurnAction::Run { key, statement } => {
                let id = self.waiting_on(index, key, "Run")?;
                let process = &self.processes[index];
                let Some(read_revision) = process.read_revision else {
                    return Err(format!("[protocol] process {index} runs {id} outside a turn"));
                };
                let at_read = self.register.value_at(read_revision);
                if at_read != Some(process.encoded.as_slice()) {
                    return Err(format!(
                        "[lost_update] process {index} runs statement {id} ({statement:?}) on a \
                         copy that is not the register's value at the revision its turn read \
                         ({read_revision}, register now at {})",
                        self.register.revision
                    ));
                }
                self.stats.turns += 1;
                self.records[id].before = Some(process.encoded.clone());
                self.processes[index].running = Some(id);
                if self.prng.chance(self.config.task_percent, 100) {
                    let due = self.now + self.prng.range(1, 6);
                    let process = &mut self.processes[index];
                    process.turns.handle_executing(key);
                    process.task = Some(Task { key, stmt: statement, id, due });
                    return Ok(());
                }
                self.execute(index, key, statement, id, false)
            }
            TurnAction::Reply { key, reply } => {
                let id = self.waiting_on(index, key, "Reply")?;
                self.processes[index].conns.insert(key, None);
                self.set_outcome(id, Outcome::Replied)?;
                let record = &self.records[id];
                if record.reply.as_ref() != Some(&reply) {
                    return Err(format!(
                        "[protocol] statement {id} answered {reply:?}, its node replied {:?}",
                        record.reply
                    ));
                }
                if record.changed && record.committed.is_none() {
                    return Err(format!(
                        "[ack_not_committed] statement {id} ({:?}) changed the copy of process \
                         {index} and was answered {reply:?}, but its change is not in the register",
                        record.stmt
                    ));
                }
                Ok(())
            }
            TurnAction::Fail { key, message } => {
                let id = self.waiting_on(index, key, "Fail")?;
                self.processes[index].conns.insert(key, None);
                self.set_outcome(id, Outcome::Failed)?;
                self.trace(u64::try_from(message.len()).unwrap_or(0));
                let record = &self.records[id];
                if let Some(revision) = record.committed {
                    return Err(format!(
                        "[ack_not_committed] statement {id} ({:?}) was answered with a failure \
                         ({message}) but its change is in the register at revision {revision}",
                        record.stmt
                    ));
                }
                if let Some(before) = &record.before {
                    if *before != self.processes[index].encoded {
                        return Err(format!(
                            "[ack_not_committed] statement {id} ({:?}) failed ({message}) but \
                             process {index}'s copy still holds its change",
                            record.stmt
                        ));
                    }
                }
                Ok(())
            }
            TurnAction::Restore { value } => {
                self.mark(Mark::Restore);
                self.take_value(index, &value)
            }
        }
    }

    /// The statement `key`'s connection waits on.
    fn waiting_on(&self, index: usize, key: ConnId, what: &str) -> Result<StmtId, String> {
        match self.processes[index].conns.get(&key) {
            Some(Some(id)) => Ok(*id),
            Some(None) => Err(format!(
                "[protocol] process {index}: {what} for connection {key}, which waits on nothing"
            )),
            None => Err(format!(
                "[protocol] process {index}: {what} for connection {key}, which is closed"
            )),
        }
    }

    /// Takes `value` as the process's copy (adopt or restore), as graphd does: the table
    /// adopts the decoded contents under its own next version.
    fn take_value(&mut self, index: usize, value: &[u8]) -> Result<(), String> {
        let contents = decode(value).map_err(|error| format!("[invariant] {error}"))?;
        let process = &mut self.processes[index];
        process.copy.adopt(contents).map_err(|error| format!("[invariant] adopt: {error}"))?;
        process.encoded = encode(&process.copy).map_err(|error| format!("[invariant] {error}"))?;
        if process.encoded != value {
            return Err(format!(
                "[invariant] process {index}'s copy does not encode to the value it took"
            ));
        }
        Ok(())
    }

    /// Runs the statement in its turn on the copy and hands the reply to the machine.
    fn execute(
        &mut self,
        index: usize,
        key: ConnId,
        stmt: Stmt,
        id: StmtId,
        in_task: bool,
    ) -> Result<(), String> {
        let policy = self.config.policy;
        let process = &mut self.processes[index];
        let reply = stmt.apply(&mut process.copy, policy);
        process.encoded = encode(&process.copy).map_err(|error| format!("[invariant] {error}"))?;
        let changed = self.records[id].before.as_ref() != Some(&self.processes[index].encoded);
        if reply.is_err() {
            self.mark(Mark::RefusedByRules);
        }
        self.trace(u64::from(changed) << 1 | u64::from(reply.is_ok()));
        let record = &mut self.records[id];
        record.changed = changed;
        record.reply = Some(reply.clone());
        let process = &mut self.processes[index];
        if in_task {
            process.turns.handle_executed(key);
        }
        if process.turns.handle_reply(key, reply).is_some() {
            return Err(format!(
                "[protocol] process {index}: the reply of statement {id}, in its turn, was handed \
                 back instead of held"
            ));
        }
        process.turns.handle_step_done(&process.encoded);
        Ok(())
    }

    fn command(&mut self, index: usize, command: TurnCommand) -> Result<(), String> {
        match command {
            TurnCommand::Take => {
                let give_up_at = self.now + self.config.take_wait_steps;
                self.processes[index].op = Some(Op::Take { give_up_at });
            }
            TurnCommand::Write { read_revision, value } => {
                let process = &self.processes[index];
                if value != process.encoded {
                    return Err(format!(
                        "[protocol] process {index} was told to write something other than its copy"
                    ));
                }
                if process.read_revision != Some(read_revision) {
                    return Err(format!(
                        "[protocol] process {index} writes at revision {read_revision}, its turn \
                         read {:?}",
                        process.read_revision
                    ));
                }
                let Some(stmt) = process.running else {
                    return Err(format!("[protocol] process {index} writes with no statement run"));
                };
                let due = self.now + self.prng.range(0, self.config.write_delay_max_steps);
                self.processes[index].op = Some(Op::Write { due, read_revision, value, stmt });
            }
            TurnCommand::End => {
                let me = self.holder(index);
                self.register.release(me);
                let process = &mut self.processes[index];
                process.read_revision = None;
                process.running = None;
            }
        }
        Ok(())
    }

    /// Oracle 1 (every machine's and every copy's invariants), after every step.
    fn check_all(&self) -> Result<(), String> {
        for (index, process) in self.processes.iter().enumerate() {
            if !process.alive {
                continue;
            }
            process
                .turns
                .check_invariants()
                .map_err(|violation| format!("[invariant] process {index}: {violation}"))?;
            process
                .copy
                .check_invariants()
                .map_err(|violation| format!("[invariant] process {index}'s copy: {violation}"))?;
        }
        if let Some(holder) = self.register.holder {
            let live = self
                .processes
                .get(holder.process)
                .is_some_and(|process| process.alive && process.lease == holder.lease);
            let dead = self.dead_leases.iter().any(|&(lease, _)| lease == holder.lease);
            if !live && !dead {
                return Err(format!(
                    "[invariant] the lock is held by lease {} of process {}, which lives no more",
                    holder.lease, holder.process
                ));
            }
        }
        Ok(())
    }

    fn quiescent(&self) -> bool {
        self.register.holder.is_none()
            && self.dead_leases.is_empty()
            && self.processes.iter().all(|process| {
                process.alive
                    && process.op.is_none()
                    && process.watch.is_empty()
                    && process.task.is_none()
                    && !process.turns.in_turn()
                    && process.turns.parked_count() == 0
            })
    }

    fn describe_pending(&self) -> String {
        let mut parts = vec![format!("lock {:?}", self.register.holder)];
        for (index, process) in self.processes.iter().enumerate() {
            parts.push(format!(
                "process {index}: alive {} op {:?} watch {} task {} in_turn {} parked {}",
                process.alive,
                process.op.as_ref().map(|op| matches!(op, Op::Take { .. })),
                process.watch.len(),
                process.task.is_some(),
                process.turns.in_turn(),
                process.turns.parked_count()
            ));
        }
        parts.join("; ")
    }

    /// Oracle 5, once everything drained.
    fn check_liveness(&self) -> Result<(), String> {
        for (id, record) in self.records.iter().enumerate() {
            if record.outcome.is_none() {
                return Err(format!(
                    "[liveness] statement {id} ({:?}) never got an answer",
                    record.stmt
                ));
            }
        }
        for (index, process) in self.processes.iter().enumerate() {
            if process.encoded != self.register.current() {
                return Err(format!(
                    "[liveness] process {index}'s copy differs from the register's value (revision \
                     {}) after everything drained",
                    self.register.revision
                ));
            }
        }
        Ok(())
    }
}
