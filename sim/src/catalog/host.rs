//! The host loop graphd runs around its `CatalogTurns`: actions on the copy and the clients,
//! commands to the register, `handle_step_done` after each step.

use graphsession_core::catalog::{TurnAction, TurnCommand};

use super::statement::{Reply, Stmt, decode, encode};
use super::{CatalogWorld, ConnId, Mark, Op, Origin, Outcome, StmtId, Task};

impl CatalogWorld {
    /// The host loop: drains the machine's actions and commands until it asks for nothing more.
    pub(super) fn drain(&mut self, index: usize, origin: Origin) -> Result<(), String> {
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

    pub(super) fn act(
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
            TurnAction::Run { key, statement } => self.run_statement(index, key, statement),
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

    /// A statement's turn came: it runs on the copy, now or in a task (oracle 2: on the
    /// register's value at the revision the turn read).
    fn run_statement(&mut self, index: usize, key: ConnId, statement: Stmt) -> Result<(), String> {
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

    /// The statement `key`'s connection waits on.
    pub(super) fn waiting_on(
        &self,
        index: usize,
        key: ConnId,
        what: &str,
    ) -> Result<StmtId, String> {
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
    pub(super) fn take_value(&mut self, index: usize, value: &[u8]) -> Result<(), String> {
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
    pub(super) fn execute(
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

    pub(super) fn command(&mut self, index: usize, command: TurnCommand) -> Result<(), String> {
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
}
