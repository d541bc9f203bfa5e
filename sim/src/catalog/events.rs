//! The catalog world's steps: clients, the register, the watch, tasks and faults.

use super::register::Holder;
use super::statement::{self, Stmt, encode};
use super::{
    CONNS_PER_PROCESS_MAX, CatalogWorld, ConnId, Mark, Op, Origin, Outcome, StmtId, StmtRecord,
};

impl CatalogWorld {
    pub(super) fn expire_leases(&mut self) {
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

    pub(super) fn random_stmt(&mut self) -> Stmt {
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

    pub(super) fn submit(&mut self, index: usize) -> Result<(), String> {
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

    pub(super) fn close(&mut self, index: usize) -> Result<(), String> {
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

    pub(super) fn use_copy(&mut self, index: usize) -> Result<(), String> {
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
    pub(super) fn answer(&mut self, index: usize) -> Result<(), String> {
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
    pub(super) fn write(
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
    pub(super) fn committed(
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

    pub(super) fn deliver(&mut self, index: usize) -> Result<(), String> {
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

    pub(super) fn finish_task(&mut self, index: usize) -> Result<(), String> {
        let Some(task) = self.processes[index].task else { return Ok(()) };
        if task.due > self.now {
            return Ok(());
        }
        self.processes[index].task = None;
        self.execute(index, task.key, task.stmt, task.id, true)?;
        self.drain(index, Origin::Other)
    }

    pub(super) fn crash(&mut self, index: usize) -> Result<(), String> {
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

    pub(super) fn restart(&mut self, index: usize) -> Result<(), String> {
        let old_lease = self.processes[index].lease;
        if self.register.holder.is_some_and(|holder| holder.lease == old_lease) {
            self.mark(Mark::RestartBehindOwnLock);
        }
        self.processes[index] = self.fresh_process()?;
        Ok(())
    }

    pub(super) fn lose_lease(&mut self, index: usize) {
        let me = self.holder(index);
        if self.register.holder != Some(me) {
            return;
        }
        self.mark(Mark::LeaseLostHoldingLock);
        self.register.expire(me.lease);
        let lease = self.next_lease();
        self.processes[index].lease = lease;
    }

    pub(super) fn set_outcome(&mut self, id: StmtId, outcome: Outcome) -> Result<(), String> {
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
}
