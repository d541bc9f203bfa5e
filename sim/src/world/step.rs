//! The safety phase's steps: one choice of the seed's generator per step (deliver, timers, tick,
//! workload, faults, admin), the timers of every party, and the helpers every step uses.

use graphsession_core::client::Idempotency;

use crate::world::client::{Life, SimClient};
use crate::world::config::StepKind;
use crate::world::trace::TraceLine;
use crate::world::{Checked, ClusterWorld};

impl ClusterWorld {
    pub(super) fn run_phases(&mut self) -> Checked {
        // Every node's machines (its registry among them) are checked after the first step.
        self.dirty.nodes = u64::MAX >> (64 - self.nodes.len().clamp(1, 64));
        for _ in 0..self.config.steps {
            // A replayed (or shrunk) list of choices that ran out ends the fault phase.
            if self.choose.is_exhausted() {
                break;
            }
            self.step += 1;
            self.safety_steps += 1;
            self.safety_step()?;
            self.check_all()?;
            self.self_test_checkers()?;
            self.check_oracles()?;
            self.end_step();
        }
        self.check_accounting_full()?;
        self.liveness()?;
        self.check_accounting_full()
    }

    /// After each step: the determinism log.
    pub(super) fn end_step(&mut self) {
        if self.options.step_hashes {
            self.step_hashes.push(self.trace_hash.finish());
        }
    }

    pub(super) fn trace(&mut self, value: u64) {
        self.trace_hash.u64_le(value);
    }

    /// Records a step for the trace file and the failure report (only when tracing: the
    /// description is not even built otherwise).
    pub(super) fn note(&mut self, kind: &'static str, detail: impl FnOnce() -> String) {
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
    pub(super) fn node_now(&self, index: usize) -> u64 {
        let skew = self.skew_ms.get(index).copied().unwrap_or(0);
        self.now_ms.saturating_add_signed(skew)
    }

    pub(super) fn delay(&mut self) -> u64 {
        self.choose.range(0, self.config.latency_max_ms)
    }

    pub(super) fn pick_client(&mut self) -> usize {
        self.choose.index(usize::from(self.config.clients))
    }

    pub(super) fn pick_node_index(&mut self) -> usize {
        self.choose.index(usize::from(self.config.nodes))
    }

    pub(super) fn safety_step(&mut self) -> Checked {
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
            StepKind::ClockStep => self.fault_clock_step()?,
            StepKind::MetaDuplicate => self.fault_meta_duplicate(),
            StepKind::MetaReorder => self.fault_meta_reorder(),
            StepKind::MetaCrash => self.fault_meta_crash()?,
        }
        Ok(())
    }

    pub(super) fn workload_execute(&mut self) -> Checked {
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
        } else if self.config.session_query_timeouts && self.choose.chance(1, 8) {
            let timeouts = crate::world::config::SESSION_QUERY_TIMEOUTS_MS;
            let timeout_ms = timeouts[self.choose.index(timeouts.len())];
            let statement = format!("SET SESSION query_timeout_ms = {timeout_ms}");
            self.note("execute", || format!("client {slot}: {statement}"));
            self.clients[slot].execute(self.now_ms, statement, Idempotency::Idempotent);
        } else {
            let statement = go_from(self.choose.below(100));
            self.note("execute", || format!("client {slot}: {statement}"));
            self.clients[slot].execute(self.now_ms, statement, idempotency);
        }
        self.pump_client(slot)
    }

    pub(super) fn workload_close(&mut self) -> Checked {
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

    pub(super) fn new_process(&mut self, slot: usize) -> Result<SimClient, String> {
        let process = self.next_process;
        self.next_process += 1;
        let slot = u16::try_from(slot).unwrap_or(0);
        SimClient::new(slot, process, &self.config, self.options.client)
    }

    /// A killed process, or one whose client closed, is replaced by a new process.
    pub(super) fn restart_client(&mut self) -> Checked {
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

    /// Fires every due timer: meta's, each node's sync, each running client's.
    pub(super) fn fire_timers(&mut self) -> Checked {
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
            let due = [node.poll_timeout(), node.next_finish_ms()]
                .into_iter()
                .flatten()
                .any(|at| at <= node_now);
            if due {
                self.stats.events += 1;
                self.service_node(index)?;
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

    /// The earliest time anything is due: a message or a timer (in true time).
    pub(super) fn next_due_ms(&self) -> Option<u64> {
        let clients = self
            .clients
            .iter()
            .filter(|client| client.life == Life::Running)
            .filter_map(SimClient::poll_timeout);
        let to_true = |index: usize, at: u64| {
            at.saturating_add_signed(-self.skew_ms.get(index).copied().unwrap_or(0))
        };
        let nodes = self.nodes.iter().enumerate().filter_map(|(index, node)| {
            let sync = node.poll_timeout();
            let query = node.next_finish_ms();
            [sync, query].into_iter().flatten().min().map(|at| to_true(index, at))
        });
        (clients.chain(nodes).chain(self.meta.poll_timeout()))
            .chain(self.network.next_at_ms())
            .chain(self.next_recovery_retry_ms())
            .min()
    }
}

/// `GO FROM {from} OVER follow`, the workload's query, written digit by digit: one is built at
/// most steps, and the formatting machinery costs several times the allocation.
fn go_from(from: u64) -> String {
    const HEAD: &str = "GO FROM ";
    const TAIL: &str = " OVER follow";
    let mut digits = [0_u8; 20];
    let mut start = digits.len();
    let mut rest = from;
    loop {
        start -= 1;
        digits[start] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut statement = String::with_capacity(HEAD.len() + digits.len() - start + TAIL.len());
    statement.push_str(HEAD);
    statement.extend(digits[start..].iter().map(|&digit| char::from(digit)));
    statement.push_str(TAIL);
    statement
}

#[cfg(test)]
mod tests {
    use super::go_from;

    #[test]
    fn go_from_writes_the_number_as_format_does() {
        for from in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
            assert_eq!(go_from(from), format!("GO FROM {from} OVER follow"));
        }
    }
}
