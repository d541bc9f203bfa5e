//! [`CatalogTurns`]: one process's turns on the shared catalog (see the module docs).

use std::collections::VecDeque;

use crate::Violation;

/// The most commands that can wait for the host at once: a release and the next take, or a
/// release after a failed take and the next take.
const COMMANDS_MAX: usize = 3;
/// The machine every violation names.
const MACHINE: &str = "CatalogTurns";

/// The register as a turn read it, under the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRead {
    /// The value's revision (0 when the register is empty).
    pub revision: i64,
    /// The value; `None` when the register is empty.
    pub value: Option<Vec<u8>>,
}

/// What the host asks of the register, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnCommand {
    /// Take the lock (waiting for it), then read the register: answer with
    /// [`CatalogTurns::handle_taken`].
    Take,
    /// Write `value` if the lock is still held and the register is still at `read_revision`:
    /// answer with [`CatalogTurns::handle_written`].
    Write {
        /// The revision the turn read.
        read_revision: i64,
        /// The changed copy.
        value: Vec<u8>,
    },
    /// Release the lock (no answer).
    End,
}

/// What the host does to its copy and its statements, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnAction<K, T, R> {
    /// Take `value` (the register's at `revision`, which differs from the copy) as the copy.
    Adopt {
        /// Its revision.
        revision: i64,
        /// The value.
        value: Vec<u8>,
    },
    /// Run `statement` on its node now, as any statement.
    Run {
        /// Whose it is.
        key: K,
        /// The statement.
        statement: T,
    },
    /// Send `reply` on: the statement's change (if any) is in the register.
    Reply {
        /// Whose it is.
        key: K,
        /// The reply held.
        reply: R,
    },
    /// Answer the statement with a failure instead (NebulaGraph's -1005 with `message`): its
    /// turn could not start, or its change was not written.
    Fail {
        /// Whose it is.
        key: K,
        /// Why.
        message: String,
    },
    /// Put the copy back to `value`, the copy before the change the register refused.
    Restore {
        /// The copy before the turn's statement ran.
        value: Vec<u8>,
    },
}

/// [`CatalogTurns::handle_statement`] refused: `parked_max` statements wait already. The
/// statement is handed back untouched.
#[derive(Debug, thiserror::Error)]
#[error("{parked_max} catalog changes wait already; retry later")]
pub struct TurnsFull<T> {
    /// The statement refused.
    pub statement: T,
    /// The bound.
    pub parked_max: usize,
}

/// A statement in its turn.
#[derive(Debug, Clone)]
struct Running<K, R> {
    key: K,
    /// The register's revision the turn read.
    read_revision: i64,
    /// The copy when the statement started (the register's value, or the copy when equal).
    before: Vec<u8>,
    /// The reply, held until the change is written.
    reply: Option<R>,
    /// An executor task of the statement still runs (the copy may still change).
    executing: bool,
    /// The statement's connection closed: no reply will come, none will be sent.
    closed: bool,
}

/// Where the turn is; each variant says what it waits for.
#[derive(Debug, Clone)]
enum Turn<K, R> {
    /// No turn: the next parked statement starts one.
    Idle,
    /// For the lock and the read ([`CatalogTurns::handle_taken`]).
    Taking,
    /// For the statement's reply (or its connection's close).
    Running(Running<K, R>),
    /// For the write of `value` ([`CatalogTurns::handle_written`]).
    Writing {
        /// The statement.
        running: Running<K, R>,
        /// The changed copy being written.
        value: Vec<u8>,
    },
}

/// One process's turns on the shared catalog. `K` names a statement's connection, `T` is the
/// statement, `R` its reply. See the module docs.
#[derive(Debug, Clone)]
pub struct CatalogTurns<K, T, R> {
    parked_max: usize,
    parked: VecDeque<(K, T)>,
    turn: Turn<K, R>,
    /// The newest register revision the copy was taken from, written at or found equal to.
    adopted_revision: i64,
    /// A value delivered during a turn, taken when the turn ends.
    deferred: Option<(i64, Vec<u8>)>,
    commands: VecDeque<TurnCommand>,
    actions: VecDeque<TurnAction<K, T, R>>,
}

impl<K: Copy + PartialEq, T, R> CatalogTurns<K, T, R> {
    /// Turns of a process whose copy was taken from the register at `adopted_revision`, with
    /// at most `parked_max` statements waiting.
    pub fn new(parked_max: usize, adopted_revision: i64) -> CatalogTurns<K, T, R> {
        CatalogTurns {
            parked_max,
            parked: VecDeque::new(),
            turn: Turn::Idle,
            adopted_revision,
            deferred: None,
            commands: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    /// A statement that may change the catalog, from `key`: it waits for its turn.
    pub fn handle_statement(&mut self, key: K, statement: T) -> Result<(), TurnsFull<T>> {
        if self.parked.len() >= self.parked_max {
            return Err(TurnsFull { statement, parked_max: self.parked_max });
        }
        self.parked.push_back((key, statement));
        self.kick();
        Ok(())
    }

    /// The register's answer to [`TurnCommand::Take`]; `current` is the copy now.
    pub fn handle_taken(&mut self, taken: Result<RegisterRead, String>, current: &[u8]) {
        if !matches!(self.turn, Turn::Taking) {
            return;
        }
        let read = match taken {
            Ok(read) => read,
            Err(message) => {
                // The register lets the lock go when a take fails; a release is harmless.
                self.turn = Turn::Idle;
                self.commands.push_back(TurnCommand::End);
                if let Some((key, _)) = self.parked.pop_front() {
                    let message = format!("the shared catalog is out of reach: {message}");
                    self.actions.push_back(TurnAction::Fail { key, message });
                }
                return self.kick();
            }
        };
        // Under the lock the register's value is the newest: the turn starts from it.
        let before = match read.value {
            Some(value) if value != current => {
                self.actions
                    .push_back(TurnAction::Adopt { revision: read.revision, value: value.clone() });
                value
            }
            _ => current.to_vec(),
        };
        self.adopted_revision = self.adopted_revision.max(read.revision);
        let Some((key, statement)) = self.parked.pop_front() else {
            self.turn = Turn::Idle;
            self.commands.push_back(TurnCommand::End);
            return;
        };
        let running = Running {
            key,
            read_revision: read.revision,
            before,
            reply: None,
            executing: false,
            closed: false,
        };
        self.turn = Turn::Running(running);
        self.actions.push_back(TurnAction::Run { key, statement });
    }

    /// A reply on `key`: held (`None`) when it is the reply of the statement in its turn,
    /// else handed back.
    pub fn handle_reply(&mut self, key: K, reply: R) -> Option<R> {
        match &mut self.turn {
            Turn::Running(running) if running.key == key && running.reply.is_none() => {
                running.reply = Some(reply);
                None
            }
            _ => Some(reply),
        }
    }

    /// The statement in its turn went on in a task of the host's (its copy may change until
    /// [`CatalogTurns::handle_executed`]).
    pub fn handle_executing(&mut self, key: K) {
        if let Turn::Running(running) = &mut self.turn {
            if running.key == key {
                running.executing = true;
            }
        }
    }

    /// The host's task for `key` returned.
    pub fn handle_executed(&mut self, key: K) {
        if let Turn::Running(running) = &mut self.turn {
            if running.key == key {
                running.executing = false;
            }
        }
    }

    /// `key`'s connection closed: its parked statements are dropped, and a statement in its
    /// turn is done once no task of it runs.
    pub fn handle_closed(&mut self, key: K) {
        self.parked.retain(|(parked, _)| *parked != key);
        match &mut self.turn {
            Turn::Running(running) | Turn::Writing { running, .. } if running.key == key => {
                running.closed = true;
            }
            _ => {}
        }
    }

    /// After each of the host's steps, with the copy now: a statement that is done has its
    /// change written, or its turn ends.
    pub fn handle_step_done(&mut self, current: &[u8]) {
        let Turn::Running(running) = &self.turn else { return };
        // Done once it answered (or its connection closed) and no task of it still runs: the
        // copy is final only then.
        let done = !running.executing && (running.reply.is_some() || running.closed);
        if !done {
            return;
        }
        let Turn::Running(running) = std::mem::replace(&mut self.turn, Turn::Idle) else {
            return;
        };
        if running.before == current {
            return self.end_turn(running, Ok(()), current);
        }
        let value = current.to_vec();
        let read_revision = running.read_revision;
        self.commands.push_back(TurnCommand::Write { read_revision, value: value.clone() });
        self.turn = Turn::Writing { running, value };
    }

    /// The register's answer to [`TurnCommand::Write`]: the new revision, or why not.
    pub fn handle_written(&mut self, written: Result<i64, String>) {
        if !matches!(self.turn, Turn::Writing { .. }) {
            return;
        }
        let Turn::Writing { running, value } = std::mem::replace(&mut self.turn, Turn::Idle) else {
            return;
        };
        match written {
            Ok(revision) => {
                self.adopted_revision = self.adopted_revision.max(revision);
                self.end_turn(running, Ok(()), &value);
            }
            Err(message) => {
                self.actions.push_back(TurnAction::Restore { value: running.before.clone() });
                let before = running.before.clone();
                self.end_turn(running, Err(message), &before);
            }
        }
    }

    /// A value of the register, delivered by its watch; `current` is the copy now.
    pub fn handle_delivered(&mut self, revision: i64, value: Vec<u8>, current: &[u8]) {
        if revision <= self.adopted_revision {
            return;
        }
        if matches!(self.turn, Turn::Running(_) | Turn::Writing { .. }) {
            if self.deferred.as_ref().is_none_or(|(deferred, _)| *deferred < revision) {
                self.deferred = Some((revision, value));
            }
            return;
        }
        self.adopt_delivered(revision, value, current);
    }

    /// The next command for the register.
    pub fn poll_command(&mut self) -> Option<TurnCommand> {
        self.commands.pop_front()
    }

    /// The next action for the host.
    pub fn poll_action(&mut self) -> Option<TurnAction<K, T, R>> {
        self.actions.pop_front()
    }

    /// Whether a change is being written: the host runs nothing else until it is answered.
    pub fn is_writing(&self) -> bool {
        matches!(self.turn, Turn::Writing { .. })
    }

    /// Whether a turn is under way (taking, running or writing).
    pub fn in_turn(&self) -> bool {
        !matches!(self.turn, Turn::Idle)
    }

    /// How many statements wait for their turn.
    pub fn parked_count(&self) -> usize {
        self.parked.len()
    }

    /// The newest register revision the copy was taken from, written at or found equal to.
    pub fn adopted_revision(&self) -> i64 {
        self.adopted_revision
    }

    /// Checks every invariant; tests, the simulator and the host's debug builds call it after
    /// every step.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        if self.parked.len() > self.parked_max {
            return fail(
                "parked_within_limit",
                format!("{} parked, more than {}", self.parked.len(), self.parked_max),
            );
        }
        if self.commands.len() > COMMANDS_MAX {
            return fail(
                "commands_within_limit",
                format!("{} commands wait, more than {COMMANDS_MAX}", self.commands.len()),
            );
        }
        if matches!(self.turn, Turn::Idle) && !self.parked.is_empty() {
            return fail(
                "parked_statements_have_a_turn_coming",
                format!("no turn under way while {} statements wait", self.parked.len()),
            );
        }
        if let Turn::Writing { running, value } = &self.turn {
            if running.before == *value {
                return fail("writes_only_changes", "writing an unchanged copy".to_owned());
            }
            if running.executing {
                return fail(
                    "writes_a_finished_change",
                    "writing while the statement's task still runs".to_owned(),
                );
            }
        }
        if let Some((revision, _)) = &self.deferred {
            if !matches!(self.turn, Turn::Running(_) | Turn::Writing { .. }) {
                return fail(
                    "deferred_only_during_a_turn",
                    format!("a value of revision {revision} deferred outside a turn"),
                );
            }
            if *revision <= self.adopted_revision {
                return fail(
                    "deferred_is_newer",
                    format!("deferred revision {revision}, adopted {}", self.adopted_revision),
                );
            }
        }
        Ok(())
    }

    /// Ends the turn whose copy is now `current`: releases the lock, answers the statement,
    /// takes a value delivered meanwhile and starts the next turn.
    fn end_turn(&mut self, running: Running<K, R>, written: Result<(), String>, current: &[u8]) {
        self.turn = Turn::Idle;
        self.commands.push_back(TurnCommand::End);
        if !running.closed {
            match (running.reply, written) {
                (Some(reply), Ok(())) => {
                    self.actions.push_back(TurnAction::Reply { key: running.key, reply });
                }
                (Some(_), Err(message)) => {
                    let message = format!("the change was not stored: {message}");
                    self.actions.push_back(TurnAction::Fail { key: running.key, message });
                }
                (None, _) => {}
            }
        }
        if let Some((revision, value)) = self.deferred.take() {
            if revision > self.adopted_revision {
                self.adopt_delivered(revision, value, current);
            }
        }
        self.kick();
    }

    fn adopt_delivered(&mut self, revision: i64, value: Vec<u8>, current: &[u8]) {
        if value != current {
            self.actions.push_back(TurnAction::Adopt { revision, value });
        }
        self.adopted_revision = revision;
    }

    fn kick(&mut self) {
        if matches!(self.turn, Turn::Idle) && !self.parked.is_empty() {
            self.turn = Turn::Taking;
            self.commands.push_back(TurnCommand::Take);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Turns = CatalogTurns<u8, u8, u8>;

    fn running(before: &[u8]) -> Running<u8, u8> {
        Running {
            key: 1,
            read_revision: 5,
            before: before.to_vec(),
            reply: None,
            executing: false,
            closed: false,
        }
    }

    fn property(turns: &Turns) -> Option<String> {
        turns.check_invariants().err().map(|violation| format!("{violation:?}"))
    }

    /// Each invariant, broken alone, is reported by name; a state at each bound exactly is not.
    #[test]
    fn every_broken_invariant_is_reported() {
        let mut turns: Turns = CatalogTurns::new(2, 5);
        turns.turn = Turn::Taking;
        turns.parked.extend([(1, 1), (2, 2)]);
        turns.commands.extend([TurnCommand::End, TurnCommand::Take, TurnCommand::End]);
        assert_eq!(property(&turns), None, "both bounds met exactly");
        turns.parked.push_back((3, 3));
        assert!(property(&turns).unwrap().contains("parked_within_limit"));
        turns.parked.pop_back();
        turns.commands.push_back(TurnCommand::Take);
        assert!(property(&turns).unwrap().contains("commands_within_limit"));
        turns.commands.clear();

        turns.turn = Turn::Idle;
        assert!(property(&turns).unwrap().contains("parked_statements_have_a_turn_coming"));
        turns.parked.clear();
        assert_eq!(property(&turns), None);

        turns.turn = Turn::Writing { running: running(b"a"), value: b"a".to_vec() };
        assert!(property(&turns).unwrap().contains("writes_only_changes"));
        let mut busy = running(b"a");
        busy.executing = true;
        turns.turn = Turn::Writing { running: busy, value: b"b".to_vec() };
        assert!(property(&turns).unwrap().contains("writes_a_finished_change"));
        turns.turn = Turn::Writing { running: running(b"a"), value: b"b".to_vec() };
        assert_eq!(property(&turns), None);

        turns.deferred = Some((6, b"c".to_vec()));
        assert_eq!(property(&turns), None, "a newer value deferred during a turn");
        turns.deferred = Some((5, b"c".to_vec()));
        assert!(property(&turns).unwrap().contains("deferred_is_newer"));
        turns.deferred = Some((6, b"c".to_vec()));
        turns.turn = Turn::Taking;
        assert!(property(&turns).unwrap().contains("deferred_only_during_a_turn"));
        turns.turn = Turn::Running(running(b"a"));
        assert_eq!(property(&turns), None);
    }

    /// Values delivered during a turn whose write is then fenced (its holder's lease expired and
    /// another process wrote twice): the copy is restored, then the newest value is adopted.
    #[test]
    fn the_newest_value_deferred_during_a_fenced_turn_is_adopted_at_its_end() {
        let mut turns: Turns = CatalogTurns::new(4, 5);
        turns.handle_statement(1, 1).unwrap();
        assert_eq!(turns.poll_command(), Some(TurnCommand::Take));
        turns.handle_taken(Ok(RegisterRead { revision: 5, value: Some(b"a".to_vec()) }), b"a");
        assert_eq!(turns.poll_action(), Some(TurnAction::Run { key: 1, statement: 1 }));
        assert_eq!(turns.handle_reply(1, 1), None);
        turns.handle_step_done(b"ab");
        assert!(turns.is_writing());
        turns.handle_delivered(7, b"ac".to_vec(), b"ab");
        turns.handle_delivered(8, b"acd".to_vec(), b"ab");
        turns.handle_delivered(6, b"old".to_vec(), b"ab");
        turns.handle_written(Err("fenced".to_owned()));
        assert_eq!(turns.poll_action(), Some(TurnAction::Restore { value: b"a".to_vec() }));
        assert_eq!(
            turns.poll_action(),
            Some(TurnAction::Fail {
                key: 1,
                message: "the change was not stored: fenced".to_owned()
            })
        );
        assert_eq!(
            turns.poll_action(),
            Some(TurnAction::Adopt { revision: 8, value: b"acd".to_vec() })
        );
        assert_eq!(turns.poll_action(), None);
        assert_eq!(turns.adopted_revision(), 8);
        turns.check_invariants().unwrap();
    }

    #[test]
    fn the_counts_say_what_waits_and_what_was_adopted() {
        let mut turns: Turns = CatalogTurns::new(4, 5);
        assert_eq!((turns.parked_count(), turns.adopted_revision()), (0, 5));
        turns.handle_statement(1, 1).unwrap();
        turns.handle_statement(2, 2).unwrap();
        assert_eq!(turns.parked_count(), 2);
        turns.handle_delivered(9, b"x".to_vec(), b"");
        assert_eq!(turns.adopted_revision(), 9, "adopted while taking");
        turns.handle_taken(Ok(RegisterRead { revision: 12, value: Some(b"x".to_vec()) }), b"x");
        assert_eq!((turns.parked_count(), turns.adopted_revision()), (1, 12));
    }
}
