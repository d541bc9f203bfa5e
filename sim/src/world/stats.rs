//! What a run of the cluster world reports: counters, the first violated property, the outcome.

use crate::world::{Marks, TraceLine};

/// Counters of one run.
#[derive(Debug, Clone, Default)]
pub struct ClusterStats {
    /// Safety-phase steps, by [`StepKind`](crate::world::StepKind) index.
    pub steps_by_kind: [u64; 18],
    /// Steps of the liveness phase.
    pub liveness_steps: u64,
    /// Faults that hit something, by kind: socket resets, client kills, meta messages lost.
    pub resets: u64,
    /// Client processes killed.
    pub kills: u64,
    /// Node-meta messages lost.
    pub meta_losses: u64,
    /// Graph node processes restarted.
    pub node_restarts: u64,
    /// Sessions created (logins).
    pub sessions_created: u64,
    /// Sessions ended by sign-out.
    pub sessions_signed_out: u64,
    /// Sessions ended by idle expiry.
    pub sessions_expired: u64,
    /// Sessions ended otherwise (ended elsewhere).
    pub sessions_ended_other: u64,
    /// Statements run by nodes.
    pub queries: u64,
    /// Sessions picked up by a node from meta (a client failed over).
    pub pick_ups: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Sessions clients reported leaked (sign-out abandoned at close).
    pub client_leaked: u64,
    /// Zombies clients detected.
    pub client_zombies: u64,
    /// Sessions clients saw ready (created or resumed).
    pub client_ready: u64,
    /// Statement results clients received.
    pub client_results: u64,
    /// Requests clients saw fail.
    pub client_failed: u64,
    /// Long queries started (answered when they finish).
    pub long_queries: u64,
    /// Long queries whose executor stopped at a kill.
    pub long_queries_killed: u64,
    /// Of those, the ones stopped at their deadline (query timeout).
    pub long_queries_timed_out: u64,
    /// KILL SESSION issued by the admin.
    pub kill_sessions_issued: u64,
    /// KILL SESSION that ended a session on the node it was issued on.
    pub kill_sessions_applied: u64,
    /// KILL QUERY issued by the admin (locally or through meta).
    pub kill_queries_issued: u64,
    /// KILL QUERY that stopped a query (locally, or relayed by meta to its node).
    pub kill_queries_applied: u64,
    /// GRANT and REVOKE by the admin.
    pub grants: u64,
    /// USE by sessions (accepted or refused).
    pub uses: u64,
    /// Inputs fed to a real state machine: messages delivered, timers fired, client and admin
    /// commands.
    pub events: u64,
    /// Links cut.
    pub partitions: u64,
    /// Node clock steps.
    pub clock_steps: u64,
    /// Node-meta messages duplicated.
    pub meta_duplicates: u64,
    /// Node-meta messages reordered.
    pub meta_reorders: u64,
    /// Meta leader crashes.
    pub meta_crashes: u64,
    /// Sessions the leak oracle found (must be 0 for our clients).
    pub leaked: u64,
    /// Corruptions the checkers' self-test applied and judged (`checkers.rs`).
    pub checker_self_tests: u64,
    /// Counter probes judged (`probes.rs`).
    pub counter_probes: u64,
    /// Recovery statements run again after a node refused them as busy (`liveness.rs`).
    pub recovery_busy_retries: u64,
}

impl ClusterStats {
    /// Adds another run's counters.
    pub fn add(&mut self, other: &ClusterStats) {
        for (total, count) in self.steps_by_kind.iter_mut().zip(other.steps_by_kind) {
            *total += count;
        }
        let pairs: [(&mut u64, u64); 36] = [
            (&mut self.recovery_busy_retries, other.recovery_busy_retries),
            (&mut self.checker_self_tests, other.checker_self_tests),
            (&mut self.counter_probes, other.counter_probes),
            (&mut self.events, other.events),
            (&mut self.partitions, other.partitions),
            (&mut self.clock_steps, other.clock_steps),
            (&mut self.meta_duplicates, other.meta_duplicates),
            (&mut self.meta_reorders, other.meta_reorders),
            (&mut self.meta_crashes, other.meta_crashes),
            (&mut self.leaked, other.leaked),
            (&mut self.liveness_steps, other.liveness_steps),
            (&mut self.resets, other.resets),
            (&mut self.kills, other.kills),
            (&mut self.meta_losses, other.meta_losses),
            (&mut self.node_restarts, other.node_restarts),
            (&mut self.sessions_created, other.sessions_created),
            (&mut self.sessions_signed_out, other.sessions_signed_out),
            (&mut self.sessions_expired, other.sessions_expired),
            (&mut self.sessions_ended_other, other.sessions_ended_other),
            (&mut self.queries, other.queries),
            (&mut self.pick_ups, other.pick_ups),
            (&mut self.delivered, other.delivered),
            (&mut self.client_leaked, other.client_leaked),
            (&mut self.client_zombies, other.client_zombies),
            (&mut self.client_ready, other.client_ready),
            (&mut self.client_results, other.client_results),
            (&mut self.client_failed, other.client_failed),
            (&mut self.long_queries, other.long_queries),
            (&mut self.long_queries_killed, other.long_queries_killed),
            (&mut self.long_queries_timed_out, other.long_queries_timed_out),
            (&mut self.kill_sessions_issued, other.kill_sessions_issued),
            (&mut self.kill_sessions_applied, other.kill_sessions_applied),
            (&mut self.kill_queries_issued, other.kill_queries_issued),
            (&mut self.kill_queries_applied, other.kill_queries_applied),
            (&mut self.grants, other.grants),
            (&mut self.uses, other.uses),
        ];
        for (total, count) in pairs {
            *total += count;
        }
    }

    /// Steps of both phases.
    pub fn steps(&self) -> u64 {
        self.steps_by_kind.iter().sum::<u64>() + self.liveness_steps
    }
}

/// A property the run broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterViolation {
    /// The step at which it was found (liveness steps count on from the safety phase's).
    pub step: u64,
    /// What was expected and what happened.
    pub message: String,
    /// The last steps before it.
    pub last_events: Vec<TraceLine>,
}

/// The outcome of one seed.
#[derive(Debug, Clone)]
pub struct ClusterRunOutcome {
    /// The seed.
    pub seed: u64,
    /// Counters.
    pub stats: ClusterStats,
    /// Coverage marks hit.
    pub marks: Marks,
    /// A rolling FNV-1a hash of every step, time and message: equal for equal runs.
    pub trace_hash: u64,
    /// The first violated property, if any.
    pub violation: Option<ClusterViolation>,
    /// Steps of the safety phase run (the length of a shrunk trace).
    pub safety_steps: u64,
    /// Every choice made, if the chooser recorded them.
    pub choices: Vec<u64>,
    /// Every step, if the run was traced.
    pub trace: Vec<TraceLine>,
    /// The trace hash after each safety step, if asked for.
    pub step_hashes: Vec<u64>,
}
