//! What a seed decides about its catalog world before the first step.

use graphsession_permission::Policy;

use super::StepKind;
use crate::prng::Prng;

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
