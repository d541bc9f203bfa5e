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

mod config;
mod events;
mod host;
mod marks;
pub mod register;
pub mod statement;

pub use config::CatalogConfig;
pub use marks::{Mark, StepKind};

use std::collections::{BTreeMap, VecDeque};

use graphsession_base::Fnv1a;
use graphsession_core::catalog::CatalogTurns;
use graphsession_permission::RoleTable;

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

/// Counters of one run.
#[derive(Debug, Clone, Default)]
pub struct CatalogStats {
    /// Steps taken in the safety phase, by [`StepKind`] index.
    pub steps_by_kind: [u64; 10],
    /// Steps the liveness phase took to drain.
    pub liveness_steps: u64,
    /// Statements submitted.
    pub statements: u64,
    /// Statements answered with the node's reply (success or refusal).
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
