//! `CatalogTurns` against a reference model: processes sharing a set through a fenced register
//! (one lock, writes fenced by the lock and the revision read, every value delivered to every
//! process in order after any delay), under any interleaving of statements, takes, failed takes,
//! writes, failed writes, deliveries, closed connections, statements running as tasks and a
//! lock holder's lease expiring behind its back. After every step: every machine's
//! invariants hold, and every write was made on the register's newest value (no lost update).
//! At the end, with everything served and delivered: every statement whose connection stayed
//! open was answered once, the register holds exactly the changes acknowledged as made, applied
//! in commit order to the first value (the reference model), and every copy equals it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use graphsession_core::catalog::{CatalogTurns, RegisterRead, TurnAction, TurnCommand};
use proptest::prelude::*;

/// A statement: add `x` to the set (refused, changing nothing, when it is there already).
type Stmt = u8;
/// Its reply: whether it changed the set.
type Answer = bool;
type Turns = CatalogTurns<u32, Stmt, Answer>;

fn encode(set: &BTreeSet<u8>) -> Vec<u8> {
    set.iter().copied().collect()
}

fn decode(bytes: &[u8]) -> BTreeSet<u8> {
    bytes.iter().copied().collect()
}

#[derive(Debug, Clone)]
enum Op {
    Submit {
        process: usize,
        connection: u32,
        value: u8,
    },
    ServeTake {
        process: usize,
    },
    FailTake {
        process: usize,
    },
    ServeWrite {
        process: usize,
    },
    FailWrite {
        process: usize,
    },
    Deliver {
        process: usize,
    },
    Close {
        process: usize,
        connection: u32,
    },
    /// A reply of a statement that is no catalog change, on a connection of its own.
    Unrelated {
        process: usize,
        connection: u32,
    },
    /// The task of a statement that runs off the host's loop (values 8 and up) returns.
    Finish {
        process: usize,
    },
    /// The lock holder's lease expires (it does not know): another may take the lock and
    /// write while its turn runs, and its own write is fenced.
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    let process = 0..3_usize;
    prop_oneof![
        4 => (process.clone(), 0..4_u32, 0..12_u8)
            .prop_map(|(process, connection, value)| Op::Submit { process, connection, value }),
        4 => process.clone().prop_map(|process| Op::ServeTake { process }),
        1 => process.clone().prop_map(|process| Op::FailTake { process }),
        4 => process.clone().prop_map(|process| Op::ServeWrite { process }),
        1 => process.clone().prop_map(|process| Op::FailWrite { process }),
        5 => process.clone().prop_map(|process| Op::Deliver { process }),
        1 => (process.clone(), 0..4_u32).prop_map(|(process, connection)| Op::Close { process, connection }),
        2 => (process.clone(), 0..4_u32).prop_map(|(process, connection)| Op::Unrelated { process, connection }),
        2 => process.prop_map(|process| Op::Finish { process }),
        1 => Just(Op::Expire),
    ]
}

/// One process: its machine, its copy, what it asked of the register, what it was delivered.
struct Process {
    turns: Turns,
    copy: BTreeSet<u8>,
    /// A take or a write waiting for the register (the machine sends one at a time).
    asked: VecDeque<TurnCommand>,
    deliveries: VecDeque<(i64, Vec<u8>)>,
    /// The copy when the statement in its turn ran, and that statement.
    ran: Option<(BTreeSet<u8>, u32, u8)>,
    /// Statements of open connections not answered yet, by connection.
    unanswered: BTreeMap<u32, Vec<u8>>,
    /// A statement running as a task, its change not applied yet.
    task: Option<(u32, u8)>,
}

struct World {
    processes: Vec<Process>,
    value: BTreeSet<u8>,
    revision: i64,
    lock: Option<usize>,
    /// Every change acknowledged as made, in commit order.
    acknowledged: Vec<u8>,
    /// Statements whose change was committed, by (process, connection, value), awaiting their reply.
    committed: Vec<(usize, u32, u8)>,
    /// Takes, writes and deliveries served so far (how `settle` sees progress).
    served: u64,
}

impl World {
    fn new(count: usize) -> World {
        let processes = (0..count)
            .map(|_| Process {
                turns: CatalogTurns::new(4, 1),
                copy: BTreeSet::new(),
                asked: VecDeque::new(),
                deliveries: VecDeque::new(),
                ran: None,
                unanswered: BTreeMap::new(),
                task: None,
            })
            .collect();
        World {
            processes,
            value: BTreeSet::new(),
            revision: 1,
            lock: None,
            acknowledged: Vec::new(),
            committed: Vec::new(),
            served: 0,
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let count = self.processes.len();
        match *op {
            Op::Submit { process, connection, value } => {
                let p = &mut self.processes[process % count];
                if p.turns.handle_statement(connection, value).is_ok() {
                    p.unanswered.entry(connection).or_default().push(value);
                    prop_assert!(p.turns.in_turn(), "a parked statement and no turn");
                }
            }
            Op::ServeTake { process } => self.serve_take(process, true),
            Op::FailTake { process } => self.serve_take(process, false),
            Op::ServeWrite { process } => self.serve_write(process, true)?,
            Op::FailWrite { process } => self.serve_write(process, false)?,
            Op::Deliver { process } => {
                let p = &mut self.processes[process % count];
                if let Some((revision, value)) = p.deliveries.pop_front() {
                    self.served += 1;
                    let current = encode(&p.copy);
                    p.turns.handle_delivered(revision, value, &current);
                }
            }
            Op::Unrelated { process, connection } => {
                let p = &mut self.processes[process % count];
                // Connections 100 and up never send a catalog change: their replies pass.
                prop_assert_eq!(p.turns.handle_reply(100 + connection, true), Some(true));
            }
            Op::Expire => self.lock = None,
            Op::Finish { process } => {
                let p = &mut self.processes[process % count];
                if let Some((key, statement)) = p.task.take() {
                    let changed = p.copy.insert(statement);
                    p.turns.handle_executed(key);
                    if let Some(reply) = p.turns.handle_reply(key, changed) {
                        return Err(TestCaseError::fail(format!("task reply {reply} not held")));
                    }
                }
            }
            Op::Close { process, connection } => {
                let p = &mut self.processes[process % count];
                p.unanswered.remove(&connection);
                p.turns.handle_closed(connection);
            }
        }
        for index in 0..self.processes.len() {
            self.host(index)?;
        }
        Ok(())
    }

    fn serve_take(&mut self, process: usize, succeed: bool) {
        let index = process % self.processes.len();
        if !matches!(self.processes[index].asked.front(), Some(TurnCommand::Take)) {
            return;
        }
        if succeed && self.lock.is_some_and(|holder| holder != index) {
            return; // waits for the lock
        }
        self.processes[index].asked.pop_front();
        self.served += 1;
        let p = &mut self.processes[index];
        let current = encode(&p.copy);
        if succeed {
            self.lock = Some(index);
            let read = RegisterRead { revision: self.revision, value: Some(encode(&self.value)) };
            p.turns.handle_taken(Ok(read), &current);
        } else {
            p.turns.handle_taken(Err("etcd out of reach".to_owned()), &current);
        }
    }

    fn serve_write(&mut self, process: usize, succeed: bool) -> Result<(), TestCaseError> {
        let index = process % self.processes.len();
        let Some(TurnCommand::Write { read_revision, value }) =
            self.processes[index].asked.front().cloned()
        else {
            return Ok(());
        };
        self.processes[index].asked.pop_front();
        self.served += 1;
        let fenced = self.lock == Some(index) && read_revision == self.revision;
        if succeed && fenced {
            // No lost update: the change was made on the register's newest value.
            let Some((before, connection, statement)) = self.processes[index].ran.clone() else {
                return Err(TestCaseError::fail("a write with no statement run"));
            };
            prop_assert_eq!(&before, &self.value, "a change made on a stale copy");
            self.value = decode(&value);
            self.revision += 1;
            self.acknowledged.push(statement);
            self.committed.push((index, connection, statement));
            for p in &mut self.processes {
                p.deliveries.push_back((self.revision, value.clone()));
            }
            self.processes[index].turns.handle_written(Ok(self.revision));
        } else {
            self.processes[index].turns.handle_written(Err("refused".to_owned()));
        }
        Ok(())
    }

    /// The host's loop of process `index`: actions carried out, commands sent, step done.
    fn host(&mut self, index: usize) -> Result<(), TestCaseError> {
        let World { processes, lock, committed, .. } = self;
        let p = &mut processes[index];
        loop {
            // The step's end first (what it gives is carried out below), as graphd does.
            let current = encode(&p.copy);
            p.turns.handle_step_done(&current);
            let mut acted = false;
            while let Some(command) = p.turns.poll_command() {
                acted = true;
                match command {
                    TurnCommand::End => {
                        if *lock == Some(index) {
                            *lock = None;
                        }
                    }
                    asked => p.asked.push_back(asked),
                }
            }
            while let Some(action) = p.turns.poll_action() {
                acted = true;
                match action {
                    TurnAction::Adopt { value, .. } | TurnAction::Restore { value } => {
                        p.copy = decode(&value);
                    }
                    TurnAction::Run { key, statement } if statement >= 8 => {
                        p.ran = Some((p.copy.clone(), key, statement));
                        p.turns.handle_executing(key);
                        p.task = Some((key, statement));
                    }
                    TurnAction::Run { key, statement } => {
                        p.ran = Some((p.copy.clone(), key, statement));
                        let changed = p.copy.insert(statement);
                        if let Some(reply) = p.turns.handle_reply(key, changed) {
                            return Err(TestCaseError::fail(format!("reply {reply} not held")));
                        }
                    }
                    TurnAction::Reply { key, reply } => {
                        let ran = p.ran.clone();
                        let Some((_, connection, statement)) = ran else {
                            return Err(TestCaseError::fail("a reply with no statement run"));
                        };
                        prop_assert_eq!(key, connection);
                        answer(p, key, statement)?;
                        if reply {
                            // Acknowledged as made: it must be the change just committed.
                            prop_assert_eq!(
                                committed.last().copied(),
                                Some((index, key, statement))
                            );
                        }
                    }
                    TurnAction::Fail { key, .. } => {
                        let statement = p.unanswered.get(&key).and_then(|s| s.first().copied());
                        if let Some(statement) = statement {
                            answer(p, key, statement)?;
                        }
                    }
                }
            }
            // Writing exactly while a write waits for the register.
            let write_asked =
                p.asked.iter().any(|asked| matches!(asked, TurnCommand::Write { .. }));
            prop_assert_eq!(p.turns.is_writing(), write_asked);
            if let Err(violation) = p.turns.check_invariants() {
                return Err(TestCaseError::fail(format!("{violation:?}")));
            }
            if !acted {
                return Ok(());
            }
        }
    }

    /// Whether anything waits that `settle` can serve: a write, a take the lock allows, a
    /// delivery or a task.
    fn servable(&self) -> bool {
        self.processes.iter().enumerate().any(|(index, p)| {
            let take_allowed = self.lock.is_none_or(|holder| holder == index);
            let asked = match p.asked.front() {
                Some(TurnCommand::Take) => take_allowed,
                Some(_) => true,
                None => false,
            };
            asked || !p.deliveries.is_empty() || p.task.is_some()
        })
    }

    /// Serves and delivers everything, in a fixed order, until nothing is left.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            let served = self.served;
            for index in 0..self.processes.len() {
                self.apply(&Op::ServeTake { process: index })?;
                self.apply(&Op::ServeWrite { process: index })?;
                self.apply(&Op::Deliver { process: index })?;
                if self.processes[index].task.is_some() {
                    self.served += 1;
                    self.apply(&Op::Finish { process: index })?;
                }
            }
            if self.served == served && !self.servable() {
                return Ok(());
            }
        }
        Err(TestCaseError::fail("the world did not settle"))
    }
}

/// `connection`'s oldest unanswered statement is answered (it must be `statement`).
fn answer(p: &mut Process, connection: u32, statement: u8) -> Result<(), TestCaseError> {
    let waiting = p.unanswered.get_mut(&connection);
    let Some(waiting) = waiting.filter(|waiting| !waiting.is_empty()) else {
        return Err(TestCaseError::fail(format!("answer on {connection} that nobody waits for")));
    };
    prop_assert_eq!(waiting.remove(0), statement, "answered out of order");
    if waiting.is_empty() {
        p.unanswered.remove(&connection);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn turns_lose_no_update_and_converge(count in 2..4_usize, ops in proptest::collection::vec(op(), 0..120)) {
        let mut world = World::new(count);
        for op in &ops {
            world.apply(op)?;
        }
        world.settle()?;
        // The reference model: the acknowledged changes in commit order.
        let model: BTreeSet<u8> = world.acknowledged.iter().copied().collect();
        prop_assert_eq!(model.len(), world.acknowledged.len(), "a change acknowledged twice");
        prop_assert_eq!(&world.value, &model);
        prop_assert_eq!(world.lock, None, "the lock is held after everything settled");
        for p in &world.processes {
            prop_assert_eq!(&p.copy, &world.value, "a copy differs from the register");
            prop_assert!(
                p.unanswered.is_empty(),
                "unanswered: {:?}; in turn {}, parked {}, asked {:?}, lock {:?}, ran {:?}",
                p.unanswered,
                p.turns.in_turn(),
                p.turns.parked_count(),
                p.asked,
                world.lock,
                p.ran
            );
            prop_assert!(!p.turns.in_turn());
        }
    }
}

/// A reply that comes while a task of the statement still runs (found by the `catalog_turns`
/// fuzz target): the copy is not final, so nothing is written until the task returns.
#[test]
fn a_change_is_written_only_once_its_task_returned() {
    let mut turns: Turns = CatalogTurns::new(4, 1);
    turns.handle_statement(7, 3).unwrap();
    assert_eq!(turns.poll_command(), Some(TurnCommand::Take));
    turns.handle_taken(Ok(RegisterRead { revision: 1, value: Some(Vec::new()) }), &[]);
    assert_eq!(turns.poll_action(), Some(TurnAction::Run { key: 7, statement: 3 }));
    turns.handle_executing(7);
    assert_eq!(turns.handle_reply(7, true), None);
    turns.handle_step_done(&[3]);
    assert_eq!(turns.poll_command(), None, "written while its task still runs");
    turns.check_invariants().unwrap();
    turns.handle_executed(7);
    turns.handle_step_done(&[3, 4]);
    let write = TurnCommand::Write { read_revision: 1, value: vec![3, 4] };
    assert_eq!(turns.poll_command(), Some(write));
    turns.check_invariants().unwrap();
}
