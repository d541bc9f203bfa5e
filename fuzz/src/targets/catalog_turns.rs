//! `CatalogTurns` (the shared catalog's turn protocol) fed any input in any state: statements,
//! takes and writes answered or failed whether or not the machine asked, replies and closes on
//! any connection, deliveries of any revision and value, and any copy as "current". Nothing may
//! panic, the invariants hold after every input (a write only of a changed copy among them),
//! commands and actions stay bounded, and a `Write` carries the copy as it is. The protocol itself (no
//! lost update, convergence) is checked against a reference model in
//! `session-core/tests/it/catalog_turns.rs`.

use arbitrary::{Result, Unstructured};
use graphsession_core::catalog::{CatalogTurns, RegisterRead, TurnAction, TurnCommand};

use super::{index, list};

const OPS_MAX: usize = 256;
const PARKED_MAX: usize = 4;

#[derive(Debug)]
enum Op {
    Statement { key: u8, statement: u8 },
    Taken { revision: i64, value: Option<Vec<u8>>, ok: bool },
    Reply { key: u8, reply: u8 },
    Executing { key: u8 },
    Executed { key: u8 },
    Closed { key: u8 },
    StepDone,
    Written { revision: i64, ok: bool },
    Delivered { revision: i64, value: Vec<u8> },
    Copy { value: Vec<u8> },
}

fn small_value(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    Ok((0..index(u, 4)?).map(|_| u.arbitrary::<u8>().unwrap_or(0) % 4).collect())
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let key = u.arbitrary::<u8>()? % 4;
    Ok(match index(u, 10)? {
        0 => Op::Statement { key, statement: u.arbitrary()? },
        1 => Op::Taken {
            revision: i64::from(u.arbitrary::<i8>()?),
            value: if u.arbitrary()? { Some(small_value(u)?) } else { None },
            ok: u.arbitrary()?,
        },
        2 => Op::Reply { key, reply: u.arbitrary()? },
        3 => Op::Executing { key },
        4 => Op::Executed { key },
        5 => Op::Closed { key },
        6 => Op::StepDone,
        7 => Op::Written { revision: i64::from(u.arbitrary::<i8>()?), ok: u.arbitrary()? },
        8 => Op::Delivered { revision: i64::from(u.arbitrary::<i8>()?), value: small_value(u)? },
        _ => Op::Copy { value: small_value(u)? },
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let ops = list(&mut u, OPS_MAX, op);
    let mut turns: CatalogTurns<u8, u8, u8> = CatalogTurns::new(PARKED_MAX, 0);
    let mut current: Vec<u8> = Vec::new();
    for op in ops {
        match op {
            Op::Statement { key, statement } => {
                let _refused = turns.handle_statement(key, statement);
            }
            Op::Taken { revision, value, ok } => {
                let taken =
                    if ok { Ok(RegisterRead { revision, value }) } else { Err("no".into()) };
                turns.handle_taken(taken, &current);
            }
            Op::Reply { key, reply } => {
                let _handed_back = turns.handle_reply(key, reply);
            }
            Op::Executing { key } => turns.handle_executing(key),
            Op::Executed { key } => turns.handle_executed(key),
            Op::Closed { key } => turns.handle_closed(key),
            Op::StepDone => turns.handle_step_done(&current),
            Op::Written { revision, ok } => {
                turns.handle_written(if ok { Ok(revision) } else { Err("no".into()) });
            }
            Op::Delivered { revision, value } => turns.handle_delivered(revision, value, &current),
            Op::Copy { value } => current = value,
        }
        if let Err(violation) = turns.check_invariants() {
            panic!("catalog turns: {violation:?}");
        }
        let mut commands = 0;
        while let Some(command) = turns.poll_command() {
            commands += 1;
            if let TurnCommand::Write { value, .. } = &command {
                // The copy is what the host writes: the machine checked it changed.
                assert_eq!(value, &current, "a write of something other than the copy");
            }
        }
        assert!(commands <= 3, "{commands} commands at once");
        let mut actions = 0;
        while let Some(action) = turns.poll_action() {
            actions += 1;
            if let TurnAction::Adopt { value, .. } | TurnAction::Restore { value } = action {
                current = value;
            }
        }
        assert!(actions <= PARKED_MAX + 4, "{actions} actions at once");
    }
}
