//! The machine's invariants, checked by tests and simulators after every step. Each one is a promise
//! to users: at most one held session and it is the state's; every id awaiting sign-out is in the
//! outbox or marked overflowed; unproven sign-outs belong to the current socket only; limits hold;
//! closed means closed.

use graphsession_base::Violation;

use super::SessionMachine;
use crate::client::ledger::SessionStatus;
use crate::client::state::State;

pub(super) fn check(machine: &SessionMachine) -> Result<(), Violation> {
    check_held(machine)?;
    check_outbox(machine)?;
    check_limits(machine)?;
    check_closed(machine)
}

fn fail(property: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation::new("SessionMachine", property, detail))
}

fn check_held(machine: &SessionMachine) -> Result<(), Violation> {
    let held_count = machine.ledger.count_with(|status| status == SessionStatus::Held);
    if held_count > 1 {
        return fail("at_most_one_session_held", format!("{held_count} sessions held"));
    }
    let state_held = machine.state.held_session();
    if machine.ledger.held() != state_held {
        return fail(
            "held_session_matches_state",
            format!("ledger holds {:?} but the state {:?}", machine.ledger.held(), state_held),
        );
    }
    Ok(())
}

fn check_outbox(machine: &SessionMachine) -> Result<(), Violation> {
    for session in machine.outbox.sessions() {
        let status = machine.ledger.get(session).map(|entry| entry.status);
        let expected = match machine.outbox.sent_on(session) {
            Some(connection) => SessionStatus::SignOutSent { connection },
            None => SessionStatus::SignOutPending,
        };
        if status != Some(expected) {
            return fail(
                "outbox_entries_pending_in_ledger",
                format!("outbox has {session} but the ledger says {status:?}"),
            );
        }
    }
    for (session, entry) in machine.ledger.iter() {
        let in_outbox = machine.outbox.contains(session);
        let should_be = matches!(
            entry.status,
            SessionStatus::SignOutPending | SessionStatus::SignOutSent { .. }
        );
        if in_outbox != should_be {
            return fail(
                "pending_sign_outs_in_outbox",
                format!("{session} is {:?}, in outbox: {in_outbox}", entry.status),
            );
        }
        if let SessionStatus::SignOutSent { connection } = entry.status {
            if machine.state.connection() != Some(connection) {
                return fail(
                    "sign_out_proof_on_current_socket",
                    format!("{session} awaits proof on dead socket {connection:?}"),
                );
            }
        }
    }
    Ok(())
}

fn check_limits(machine: &SessionMachine) -> Result<(), Violation> {
    let config = &machine.config;
    if machine.outbox.len() > config.sign_out_outbox_max {
        return fail("outbox_within_limit", format!("outbox holds {}", machine.outbox.len()));
    }
    let in_flight = u32::from(machine.state.has_request_in_flight());
    if machine.queue.len().saturating_add(in_flight) > config.execute_queue_max {
        return fail(
            "queue_within_limit",
            format!("queue holds {} plus {in_flight}", machine.queue.len()),
        );
    }
    if machine.ledger.budget_count() > machine.budget.max() {
        return fail(
            "budget_within_limit",
            format!("budget count {} over {}", machine.ledger.budget_count(), machine.budget.max()),
        );
    }
    if machine.failures > config.failures_max.saturating_add(1) {
        return fail("failures_within_limit", format!("{} failures", machine.failures));
    }
    if !machine.state.is_open() && !machine.queue.is_empty() {
        return fail("nothing_queued_unless_open", "requests queued while not open".to_owned());
    }
    Ok(())
}

fn check_closed(machine: &SessionMachine) -> Result<(), Violation> {
    let closed = matches!(machine.state, State::Closed);
    if closed != machine.closed_reported {
        return fail(
            "closed_event_matches_state",
            format!("closed: {closed}, Closed event emitted: {}", machine.closed_reported),
        );
    }
    if closed {
        if !machine.outbox.is_empty() {
            return fail("no_outbox_after_close", "outbox not empty after close".to_owned());
        }
        let live = machine.ledger.count_with(|status| status != SessionStatus::Abandoned);
        if live > 0 {
            return fail(
                "sessions_abandoned_after_close",
                format!("{live} sessions not abandoned after close"),
            );
        }
        if machine.zombie_check_at_ms.is_some() {
            return fail(
                "no_zombie_timer_after_close",
                "zombie timer armed after close".to_owned(),
            );
        }
    }
    Ok(())
}

/// The public API never produces a broken machine, so each check is shown one here: a healthy machine
/// with one field corrupted by hand, and the same check at its limit, where it must still pass.
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::client::action::{ConnectionId, Idempotency, RequestId, TransportEvent};
    use crate::client::config::ClientConfig;
    use crate::client::outbox::{Outbox, Pace};
    use crate::client::queue::{QueuedRequest, RequestKind};
    use crate::client::wire::Response;
    use graphsession_id_gen::SessionId;

    fn session(id: i64) -> SessionId {
        SessionId::new(id).expect("positive")
    }

    fn config() -> ClientConfig {
        ClientConfig { user: "alice".into(), ..ClientConfig::default() }
    }

    /// A machine ready with session 7 on its first socket; it passes every check.
    pub(in crate::client::machine) fn ready(config: ClientConfig) -> SessionMachine {
        let mut machine = SessionMachine::new(config).expect("valid configuration");
        machine.open(0).expect("opens");
        let connection = machine.state.connection().expect("dialling");
        machine.handle_transport(0, connection, TransportEvent::Connected);
        let reply = Response::AuthenticateOk { session_id: 7 };
        machine.handle_transport(0, connection, TransportEvent::Response(reply));
        assert!(matches!(machine.state, State::Ready { .. }), "{:?}", machine.state);
        assert_eq!(machine.check_invariants(), Ok(()));
        machine
    }

    /// A machine closed before it opened; it passes every check.
    fn closed() -> SessionMachine {
        let mut machine = SessionMachine::new(config()).expect("valid configuration");
        machine.close(0);
        assert!(machine.is_closed());
        assert_eq!(machine.check_invariants(), Ok(()));
        machine
    }

    fn violation(machine: &SessionMachine) -> String {
        match machine.check_invariants() {
            Err(violation) => violation.detail,
            Ok(()) => panic!("no violation found in {:?}", machine.state),
        }
    }

    fn ping(id: u64) -> QueuedRequest {
        QueuedRequest { id: RequestId(id), kind: RequestKind::Ping, attempts: 0, deadline_ms: 1 }
    }

    /// Adds `id` to the ledger with `status`.
    fn insert(machine: &mut SessionMachine, id: i64, status: SessionStatus) {
        machine.ledger.insert_held(session(id), 0);
        machine.ledger.set_status(session(id), status);
    }

    #[test]
    fn two_held_sessions_are_a_violation() {
        let mut machine = ready(config());
        machine.ledger.insert_held(session(8), 0);
        assert_eq!(violation(&machine), "2 sessions held");
    }

    #[test]
    fn the_ledgers_held_session_must_be_the_states() {
        let mut machine = ready(config());
        let connection = machine.state.connection().expect("a socket");
        machine.state = State::Ready { connection, session: session(8) };
        assert!(violation(&machine).starts_with("ledger holds Some("), "{}", violation(&machine));
    }

    #[test]
    fn an_outbox_entry_must_be_pending_in_the_ledger() {
        let mut machine = ready(config());
        machine.outbox.push(session(8), 0).expect("room");
        assert_eq!(violation(&machine), "outbox has 8 but the ledger says None");
    }

    #[test]
    fn a_written_sign_out_must_be_marked_sent_in_the_ledger() {
        let mut machine = ready(config());
        let connection = machine.state.connection().expect("a socket");
        insert(&mut machine, 8, SessionStatus::SignOutPending);
        machine.outbox.push(session(8), 0).expect("room");
        assert_eq!(machine.check_invariants(), Ok(()));
        let _ = machine.outbox.mark_sent(0, connection, Pace::All);
        assert_eq!(violation(&machine), "outbox has 8 but the ledger says Some(SignOutPending)");
        machine.ledger.set_status(session(8), SessionStatus::SignOutSent { connection });
        assert_eq!(machine.check_invariants(), Ok(()));
    }

    #[test]
    fn a_pending_sign_out_must_be_in_the_outbox() {
        let mut machine = ready(config());
        insert(&mut machine, 8, SessionStatus::SignOutPending);
        assert_eq!(violation(&machine), "8 is SignOutPending, in outbox: false");
    }

    #[test]
    fn a_sign_out_awaits_its_proof_only_on_the_current_socket() {
        let mut machine = ready(config());
        let dead = ConnectionId(99);
        insert(&mut machine, 8, SessionStatus::SignOutSent { connection: dead });
        machine.outbox.push(session(8), 0).expect("room");
        let _ = machine.outbox.mark_sent(0, dead, Pace::All);
        assert_eq!(violation(&machine), "8 awaits proof on dead socket ConnectionId(99)");
    }

    #[test]
    fn the_outbox_may_be_full_but_not_over_its_maximum() {
        let mut machine = ready(ClientConfig { sign_out_outbox_max: 1, ..config() });
        machine.outbox = Outbox::new(2, 200, 60_000);
        for id in [8, 9] {
            insert(&mut machine, id, SessionStatus::SignOutPending);
            machine.outbox.push(session(id), 0).expect("room");
            if id == 8 {
                assert_eq!(machine.check_invariants(), Ok(()));
            }
        }
        assert_eq!(violation(&machine), "outbox holds 2");
    }

    #[test]
    fn the_queue_and_the_request_in_flight_may_fill_the_maximum_but_not_exceed_it() {
        let mut machine = ready(ClientConfig { execute_queue_max: 2, ..config() });
        machine.execute(0, "RETURN 1", Idempotency::Idempotent).expect("queued");
        assert!(machine.state.has_request_in_flight());
        machine.queue.push_back(ping(100));
        assert_eq!(machine.check_invariants(), Ok(()));
        machine.queue.push_back(ping(101));
        assert_eq!(violation(&machine), "queue holds 2 plus 1");
    }

    #[test]
    fn the_ledger_may_fill_the_budget_but_not_exceed_it() {
        let mut machine = ready(ClientConfig { sessions_per_user_ip_node_max: 2, ..config() });
        machine.ledger.add_phantom(0);
        assert_eq!(machine.check_invariants(), Ok(()));
        machine.ledger.add_phantom(0);
        assert_eq!(violation(&machine), "budget count 3 over 2");
    }

    #[test]
    fn failures_may_reach_one_past_their_maximum_but_no_further() {
        let mut machine = ready(ClientConfig { failures_max: 3, ..config() });
        machine.failures = 4;
        assert_eq!(machine.check_invariants(), Ok(()));
        machine.failures = 5;
        assert_eq!(violation(&machine), "5 failures");
    }

    #[test]
    fn nothing_is_queued_before_open() {
        let mut machine = SessionMachine::new(config()).expect("valid configuration");
        machine.queue.push_back(ping(1));
        assert_eq!(violation(&machine), "requests queued while not open");
    }

    #[test]
    fn the_closed_event_is_emitted_exactly_when_closed() {
        let mut machine = ready(config());
        machine.closed_reported = true;
        assert_eq!(violation(&machine), "closed: false, Closed event emitted: true");
        let mut machine = closed();
        machine.closed_reported = false;
        assert_eq!(violation(&machine), "closed: true, Closed event emitted: false");
    }

    #[test]
    fn a_closed_machine_has_no_outbox() {
        let mut machine = closed();
        insert(&mut machine, 8, SessionStatus::SignOutPending);
        machine.outbox.push(session(8), 0).expect("room");
        assert_eq!(violation(&machine), "outbox not empty after close");
    }

    #[test]
    fn a_closed_machine_keeps_only_abandoned_sessions() {
        let mut machine = closed();
        insert(&mut machine, 8, SessionStatus::Abandoned);
        assert_eq!(machine.check_invariants(), Ok(()));
        insert(&mut machine, 9, SessionStatus::SignOutOverflow);
        assert_eq!(violation(&machine), "1 sessions not abandoned after close");
    }

    #[test]
    fn a_closed_machine_has_no_zombie_timer() {
        let mut machine = closed();
        machine.zombie_check_at_ms = Some(30_000);
        assert_eq!(violation(&machine), "zombie timer armed after close");
    }
}
