//! The machine's invariants, checked by tests and simulators after every step. Each one is a promise
//! to users: at most one held session and it is the state's; every id awaiting sign-out is in the
//! outbox or marked overflowed; unproven sign-outs belong to the current socket only; limits hold;
//! closed means closed.

use super::SessionMachine;
use crate::client::error::InvariantViolation;
use crate::client::ledger::SessionStatus;
use crate::client::state::State;

pub(super) fn check(machine: &SessionMachine) -> Result<(), InvariantViolation> {
    check_held(machine)?;
    check_outbox(machine)?;
    check_limits(machine)?;
    check_closed(machine)
}

fn fail(what: String) -> Result<(), InvariantViolation> {
    Err(InvariantViolation(what))
}

fn check_held(machine: &SessionMachine) -> Result<(), InvariantViolation> {
    let held_count = machine.ledger.count_with(|status| status == SessionStatus::Held);
    if held_count > 1 {
        return fail(format!("{held_count} sessions held"));
    }
    let state_held = machine.state.held_session();
    if machine.ledger.held() != state_held {
        return fail(format!(
            "ledger holds {:?} but the state {:?}",
            machine.ledger.held(),
            state_held
        ));
    }
    Ok(())
}

fn check_outbox(machine: &SessionMachine) -> Result<(), InvariantViolation> {
    for session in machine.outbox.sessions() {
        let status = machine.ledger.get(session).map(|entry| entry.status);
        let expected = match machine.outbox.sent_on(session) {
            Some(connection) => SessionStatus::SignOutSent { connection },
            None => SessionStatus::SignOutPending,
        };
        if status != Some(expected) {
            return fail(format!("outbox has {session} but the ledger says {status:?}"));
        }
    }
    for (session, entry) in machine.ledger.iter() {
        let in_outbox = machine.outbox.contains(session);
        let should_be = matches!(
            entry.status,
            SessionStatus::SignOutPending | SessionStatus::SignOutSent { .. }
        );
        if in_outbox != should_be {
            return fail(format!("{session} is {:?}, in outbox: {in_outbox}", entry.status));
        }
        if let SessionStatus::SignOutSent { connection } = entry.status {
            if machine.state.connection() != Some(connection) {
                return fail(format!("{session} awaits proof on dead socket {connection:?}"));
            }
        }
    }
    Ok(())
}

fn check_limits(machine: &SessionMachine) -> Result<(), InvariantViolation> {
    let config = &machine.config;
    if machine.outbox.len() > config.sign_out_outbox_max {
        return fail(format!("outbox holds {}", machine.outbox.len()));
    }
    let in_flight = u32::from(machine.state.has_request_in_flight());
    if machine.queue.len().saturating_add(in_flight) > config.execute_queue_max {
        return fail(format!("queue holds {} plus {in_flight}", machine.queue.len()));
    }
    if machine.ledger.budget_count() > machine.budget.max() {
        return fail(format!(
            "budget count {} over {}",
            machine.ledger.budget_count(),
            machine.budget.max()
        ));
    }
    if machine.failures > config.failures_max.saturating_add(1) {
        return fail(format!("{} failures", machine.failures));
    }
    if !machine.state.is_open() && !machine.queue.is_empty() {
        return fail("requests queued while not open".to_owned());
    }
    Ok(())
}

fn check_closed(machine: &SessionMachine) -> Result<(), InvariantViolation> {
    let closed = matches!(machine.state, State::Closed);
    if closed != machine.closed_reported {
        return fail(format!(
            "closed: {closed}, Closed event emitted: {}",
            machine.closed_reported
        ));
    }
    if closed {
        if !machine.outbox.is_empty() {
            return fail("outbox not empty after close".to_owned());
        }
        let live = machine.ledger.count_with(|status| status != SessionStatus::Abandoned);
        if live > 0 {
            return fail(format!("{live} sessions not abandoned after close"));
        }
        if machine.zombie_check_at_ms.is_some() {
            return fail("zombie timer armed after close".to_owned());
        }
    }
    Ok(())
}
