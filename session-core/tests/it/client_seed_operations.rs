//! The seed's operations (the Node.js client fix) done right, one test each: close while connected,
//! close while disconnected, forced clean-up, reconnect clean-up, run without a session, ping answering
//! -1002, and the zombie check as a timer. Then the other guarantees of the reference that no failure
//! mode names: -1005 is not a session error, the budget, outbox overflow, expiry proof, clock rules.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use crate::client_support::*;
use graphsession_core::client::{
    ClientConfig, CommandError, Event, Idempotency, LossReason, OutcomeError, PingOutcome,
    ReadyOrigin, ReconnectPolicy, RequestError, SessionError, SessionStatus, State, TransportError,
    TransportEvent, ZombieKind,
};

#[test]
fn seed_close_while_connected_signs_out_then_closes_the_socket() {
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    h.close();
    assert_eq!(sends(&h.take_actions()), vec![sign_out(connection, 7), ping(connection)]);
    h.reply(connection, exec_err(-1002));
    assert_eq!(socket_closes(&h.take_actions()), vec![connection]);
    assert_eq!(h.take_events().last(), Some(&Event::Closed { abandoned: vec![] }));

    // Idempotent and terminal.
    h.close();
    h.force_close();
    assert!(h.take_actions().is_empty() && h.take_events().is_empty());
    let refused = h.machine.execute(h.now_ms, "RETURN 1", Idempotency::Idempotent);
    assert_eq!(refused, Err(CommandError::Closed));
    assert_eq!(h.machine.open(h.now_ms), Err(CommandError::Closed));
    h.assert_no_socket_leak();
}

#[test]
fn seed_close_while_disconnected_dials_only_to_sign_out() {
    // Never connected, nothing held: closes at once, the pending dial cancelled.
    let mut h = Harness::new(config());
    h.open();
    let dialled = h.last_dial();
    h.close();
    assert_eq!(socket_closes(&h.take_actions()), vec![dialled]);
    assert!(h.machine.is_closed());

    // Disconnected with a session: one dial, one sign-out, no login.
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.socket_lost(first);
    h.close();
    let second = h.last_dial();
    h.connected(second);
    h.reply(second, exec_err(-1002));
    assert_eq!(authenticates(&h.log), 1);
    assert_eq!(sign_outs(&h.log), vec![7]);
    assert!(h.machine.is_closed() && h.machine.ledger().is_empty());

    // Unreachable server: the close deadline ends it, and what is left is reported, not dropped.
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.socket_lost(first);
    h.close();
    while !h.machine.is_closed() {
        h.transport(h.last_dial(), TransportEvent::ConnectFailed);
        if !h.machine.is_closed() {
            h.fire_next_timeout();
        }
    }
    assert!(h.now_ms <= config().close_flush_timeout_ms);
    assert_eq!(h.event_log.last(), Some(&Event::Closed { abandoned: vec![sid(7)] }));
    assert_eq!(h.machine.ledger().get(sid(7)).unwrap().status, SessionStatus::Abandoned);
    assert_eq!(h.machine.metrics().sessions_leaked, 1);
    h.assert_no_socket_leak();
}

#[test]
fn seed_forced_clean_up_discards_the_socket_and_still_signs_out() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    let request = h.execute("INSERT VERTEX t() VALUES 1:()", Idempotency::NotIdempotent);
    h.take_actions();
    h.force_close();
    let actions = h.take_actions();
    assert_eq!(socket_closes(&actions), vec![first]);
    let unknown = RequestError::Outcome(OutcomeError::Unknown { cause: TransportError::Closed });
    assert!(h.take_events().contains(&Event::Failed { request, error: unknown }));

    // The sign-out goes out on a fresh socket.
    let second = h.last_dial();
    assert_ne!(second, first);
    h.connected(second);
    assert_eq!(sends(&h.take_actions()), vec![sign_out(second, 7), ping(second)]);
    h.reply(second, exec_err(-1002));
    assert!(h.machine.is_closed() && h.machine.ledger().is_empty());

    // A forced clean-up also cuts short a graceful close waiting for a reply.
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.execute("RETURN 1", Idempotency::Idempotent);
    h.close();
    assert!(matches!(h.machine.state(), State::Closing { .. }));
    h.force_close();
    assert!(socket_closes(&h.take_actions()).contains(&first));
}

#[test]
fn seed_reconnect_resumes_or_replaces_and_signs_out_the_old_session() {
    // Resume with a space: USE again with the same id.
    let mut h = Harness::new(ClientConfig { space: Some("g".into()), ..config() });
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    assert_eq!(executes(&h.take_actions()), vec![(7, "USE `g`".to_owned())]);
    // The server lost 7 meanwhile: -1002 on the USE replaces it; no sign-out is needed for 7.
    h.reply(second, exec_err(-1002));
    assert_eq!(authenticates(&h.take_actions()), 1);
    h.reply(second, auth_ok(8));
    h.reply(second, ok());
    let ready = Event::Ready { session_id: sid(8), origin: ReadyOrigin::Created };
    assert!(h.event_log.contains(&ready));
    assert_eq!(h.machine.ledger().ids(), vec![sid(8)]);
    assert!(sign_outs(&h.log).is_empty());

    // Replace: the old id goes to the outbox and is signed out before the new login.
    let mut h =
        Harness::new(ClientConfig { reconnect_policy: ReconnectPolicy::Replace, ..config() });
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    h.serve_until_ready(second, 8);
    assert_eq!(sign_outs(&h.log), vec![7]);
    assert_eq!(h.machine.ledger().ids(), vec![sid(8)]);
    assert_eq!(h.machine.metrics().reconnects, 1);
}

#[test]
fn seed_run_without_a_session_waits_for_one() {
    let mut h = Harness::new(config());
    let refused = h.machine.execute(0, "RETURN 1", Idempotency::Idempotent);
    assert_eq!(refused, Err(CommandError::NotOpen));

    // Queued while connecting and authenticating: nothing is sent without a session.
    h.open();
    let request = h.execute("RETURN 1", Idempotency::Idempotent);
    let connection = h.last_dial();
    h.connected(connection);
    assert!(executes(&h.take_actions()).is_empty());
    h.reply(connection, auth_ok(7));
    assert_eq!(executes(&h.take_actions()), vec![(7, "RETURN 1".to_owned())]);
    h.reply(connection, ok());
    assert!(h.event_log.contains(&Event::Result { request, result: "ok".into() }));

    // Validation before run: after a host suspension longer than the idle timeout, the old id is
    // certainly expired and is never used; a new session runs the statement.
    let suspended_ms = config().server_idle_timeout_ms + config().expiry_margin_ms;
    h.now_ms = suspended_ms;
    h.execute("RETURN 2", Idempotency::Idempotent);
    let actions = h.take_actions();
    assert_eq!(authenticates(&actions), 1);
    assert!(executes(&actions).is_empty());
    let expired = Event::ZombieDetected { session_id: sid(7), kind: ZombieKind::ExpiredWhileHeld };
    assert!(h.take_events().contains(&expired));
    h.reply(connection, auth_ok(8));
    assert_eq!(executes(&h.take_actions()), vec![(8, "RETURN 2".to_owned())]);

    // A queued request not sent in time fails as not run.
    let mut h = Harness::new(config());
    h.open();
    let request = h.execute("RETURN 1", Idempotency::Idempotent);
    h.timeout_at(config().execute_queue_timeout_ms);
    let not_sent = Event::Failed { request, error: RequestError::QueueTimedOut };
    assert!(h.event_log.contains(&not_sent));
}

#[test]
fn seed_ping_answering_minus_1002_replaces_the_session() {
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    let alive = h.ping();
    assert_eq!(executes(&h.take_actions()), vec![(7, "YIELD 1".to_owned())]);
    h.reply(connection, ok());
    let answered = Event::PingAnswered { request: alive, outcome: PingOutcome::SessionAlive };
    assert!(h.take_events().contains(&answered));

    let dead = h.ping();
    h.take_actions();
    h.reply(connection, exec_err(-1002));
    let events = h.take_events();
    let answered = Event::PingAnswered { request: dead, outcome: PingOutcome::SessionInvalid };
    assert!(events.contains(&answered));
    let lost = Event::SessionLost { session_id: sid(7), reason: LossReason::InvalidOnPing };
    assert!(events.contains(&lost));
    // 7 left the ledger on the server's word; a replacement is on its way.
    assert!(!h.machine.ledger().contains(sid(7)));
    assert_eq!(authenticates(&h.take_actions()), 1);
    assert_eq!(h.machine.metrics().sessions_zombie, 1);
}

#[test]
fn seed_zombie_check_finds_a_session_held_without_transport() {
    let config = config();
    let mut h = Harness::new(config.clone());
    let first = h.establish(7);
    h.socket_lost(first);
    // The node stays unreachable; the check runs every 30 s as a timer of the machine.
    while h.now_ms < 2 * config.zombie_disconnected_max_ms {
        h.fire_next_timeout();
        if let State::AwaitingConnect { connection, .. } = *h.machine.state() {
            h.transport(connection, TransportEvent::ConnectFailed);
        }
    }
    let zombie = h.event_log.iter().find_map(|event| match event {
        Event::ZombieDetected { session_id, kind: ZombieKind::HeldWithoutTransport { .. } } => {
            Some(*session_id)
        }
        _ => None,
    });
    assert_eq!(zombie, Some(sid(7)));
    assert_eq!(h.machine.ledger().get(sid(7)).unwrap().status, SessionStatus::SignOutPending);

    // When the node is back, the zombie is signed out before a fresh session is created.
    h.fire_next_timeout();
    let connection = h.last_dial();
    h.take_actions();
    h.connected(connection);
    assert_eq!(sends(&h.take_actions()), vec![sign_out(connection, 7), ping(connection)]);
    h.serve_until_ready(connection, 8);
    assert_eq!(h.machine.ledger().ids(), vec![sid(8)]);
}

#[test]
fn minus_1005_is_a_statement_error_not_a_session_error() {
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    let request = h.execute("KILL QUERY (plan=1)", Idempotency::NotIdempotent);
    h.take_actions();
    h.reply(connection, exec_err(-1005));
    let failed = Event::Failed {
        request,
        error: RequestError::Server { code: -1005, message: "error -1005".into() },
    };
    assert_eq!(h.take_events(), vec![failed]);
    assert!(h.take_actions().is_empty());
    assert_eq!(h.machine.session_id(), Some(sid(7)));
}

#[test]
fn the_budget_counts_unknown_authenticates_and_refuses_before_the_server() {
    let config = ClientConfig { sessions_per_user_ip_node_max: 2, ..config() };
    let mut h = Harness::new(config.clone());
    h.open();
    // Two authenticates whose replies are lost: the server may hold two sessions.
    for _ in 0..2 {
        let connection = h.last_dial();
        h.connected(connection);
        h.socket_lost(connection);
        h.fire_next_timeout();
    }
    assert_eq!(h.machine.ledger().phantom_count(), 2);
    h.take_actions();
    h.connected(h.last_dial());
    assert_eq!(authenticates(&h.take_actions()), 0);
    assert!(h.take_events().iter().any(|e| matches!(e, Event::BudgetExhausted { max: 2, .. })));

    // Once they have certainly expired, login resumes.
    let expired_ms = config.server_idle_timeout_ms + config.expiry_margin_ms + 10_000;
    while h.now_ms < expired_ms && authenticates(&h.log) == 2 {
        h.fire_next_timeout();
        if let State::AwaitingConnect { connection, .. } = *h.machine.state() {
            h.connected(connection);
        }
    }
    // As soon as the first one has certainly expired, and not before.
    assert_eq!(authenticates(&h.log), 3);
    assert!(h.now_ms >= config.server_idle_timeout_ms + config.expiry_margin_ms);
    assert_eq!(h.machine.ledger().phantom_count(), 1);
}

#[test]
fn outbox_overflow_is_reported_and_the_session_signed_out_later() {
    let config = ClientConfig {
        reconnect_policy: ReconnectPolicy::Replace,
        sign_out_outbox_max: 1,
        sign_out_retry_backoff_initial_ms: 10_000,
        ..config()
    };
    let mut h = Harness::new(config);
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second); // sign-out of 7 written, then the socket dies before its proof
    h.socket_lost(second);
    h.fire_next_timeout();
    let third = h.last_dial();
    h.connected(third); // 7 is not due yet: a new session first
    h.serve_until_ready(third, 8);
    h.socket_lost(third);
    h.fire_next_timeout();
    let fourth = h.last_dial();
    h.connected(fourth); // replacing 8: the outbox (holding 7) is full
    let overflow = Event::SignOutOverflow { session_id: sid(8), outbox_max: 1 };
    assert!(h.event_log.contains(&overflow));
    assert_eq!(h.machine.ledger().get(sid(8)).unwrap().status, SessionStatus::SignOutOverflow);
    h.serve_until_ready(fourth, 9);

    // When 7's retry comes due it is delivered, then 8 moves in and is delivered too.
    for _ in 0..10 {
        if h.machine.ledger().ids() == vec![sid(9)] {
            break;
        }
        if matches!(h.machine.state(), State::AwaitingSignOutProof { .. }) {
            h.reply(fourth, exec_err(-1002));
        } else {
            h.fire_next_timeout();
        }
    }
    assert_eq!(h.machine.ledger().ids(), vec![sid(9)]);
    assert_eq!(h.machine.metrics().sign_out_overflows, 1);
    assert_eq!(h.machine.metrics().sessions_signed_out, 2);
}

#[test]
fn an_undeliverable_sign_out_leaves_the_ledger_only_by_certain_expiry() {
    let config = ClientConfig {
        failures_max: 1_000,
        reconnect_backoff_max_ms: 600_000,
        zombie_check_interval_ms: 60_000,
        ..config()
    };
    let mut h = Harness::new(config.clone());
    let first = h.establish(7);
    h.socket_lost(first);
    let lost_at_ms = h.now_ms;
    while h.machine.ledger().contains(sid(7)) {
        h.fire_next_timeout();
        if let State::AwaitingConnect { connection, .. } = *h.machine.state() {
            h.transport(connection, TransportEvent::ConnectFailed);
        }
    }
    assert!(h.now_ms >= lost_at_ms + config.server_idle_timeout_ms + config.expiry_margin_ms);
    assert!(h.event_log.contains(&Event::SessionExpired { session_id: sid(7) }));
    assert_eq!(h.machine.metrics().sessions_expired, 1);
}

#[test]
fn a_spurious_timeout_changes_nothing_and_time_never_goes_backwards() {
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    let state = h.machine.state().clone();
    h.timeout_at(10);
    assert!(h.take_actions().is_empty() && h.take_events().is_empty());
    assert_eq!(h.machine.state(), &state);

    // A regressing now is clamped: deadlines count from the newest time seen.
    h.timeout_at(20_000);
    h.machine.handle_timeout(5);
    assert_eq!(h.machine.now_ms(), 20_000);
    h.machine.ping(5).unwrap();
    let probe_deadline_ms = 20_000 + config().probe_timeout_ms;
    assert!(matches!(
        h.machine.state(),
        State::AwaitingReply { deadline_ms, connection: c, .. }
            if *deadline_ms == probe_deadline_ms && *c == connection
    ));
    h.machine.check_invariants().unwrap();
}

#[test]
fn the_budget_counts_ids_awaiting_sign_out_next_to_unknown_authenticates() {
    let config = ClientConfig {
        sessions_per_user_ip_node_max: 2,
        reconnect_policy: ReconnectPolicy::Replace,
        sign_out_retry_backoff_initial_ms: 10_000,
        ..config()
    };
    let mut h = Harness::new(config);
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second); // sign-out of 7 written, then the socket dies before its proof
    h.socket_lost(second);
    h.fire_next_timeout();
    let third = h.last_dial();
    h.connected(third); // 7 is not due yet: authenticate, whose reply is lost
    h.socket_lost(third);
    assert_eq!(h.machine.ledger().len(), 1);
    assert_eq!(h.machine.ledger().phantom_count(), 1);
    h.fire_next_timeout();
    h.take_actions();
    h.connected(h.last_dial());

    // 7, still owned, and the unknown authenticate fill the budget: no third login.
    assert_eq!(authenticates(&h.take_actions()), 0);
    let refusals: Vec<_> = h
        .take_events()
        .into_iter()
        .filter(|e| matches!(e, Event::BudgetExhausted { .. }))
        .collect();
    // The machine waits for 7's sign-out retry (written at 100, retried 10 s later), not for expiry.
    let exhausted = Event::BudgetExhausted { count: 2, max: 2, retry_at_ms: 10_100 };
    assert_eq!(refusals, vec![exhausted]);
    assert_eq!(h.fire_next_timeout(), 10_100);
    let retry = h.last_dial();
    h.connected(retry);
    assert_eq!(sends(&h.take_actions()), vec![sign_out(retry, 7), ping(retry)]);
}

#[test]
fn an_unknown_authenticate_is_forgotten_as_soon_as_it_certainly_expired() {
    let config = ClientConfig {
        server_idle_timeout_ms: 10_000,
        expiry_margin_ms: 1_000,
        keepalive_interval_ms: 1_000,
        execute_timeout_ms: 5_000,
        reconnect_backoff_initial_ms: 1_000_000,
        reconnect_backoff_max_ms: 1_000_000,
        zombie_check_interval_ms: 1_000_000,
        ..config()
    };
    let mut h = Harness::new(config);
    h.open();
    let connection = h.last_dial();
    h.connected(connection);
    h.socket_lost(connection); // the authenticate's reply is lost at 0
    assert_eq!(h.machine.ledger().phantom_count(), 1);
    assert!(!h.machine.ledger().is_empty());

    // The reconnect is far off; the host is woken when the phantom certainly expired.
    assert_eq!(h.machine.poll_timeout(), Some(11_000));
    assert_eq!(h.fire_next_timeout(), 11_000);
    assert_eq!(h.machine.ledger().phantom_count(), 0);
    assert!(h.machine.ledger().is_empty());
    assert_eq!(h.machine.poll_timeout(), Some(1_000_000));
}

#[test]
fn an_idle_session_wakes_the_host_for_its_keepalive() {
    let config = ClientConfig {
        keepalive_interval_ms: 10_000,
        zombie_check_interval_ms: 60_000,
        ..config()
    };
    let mut h = Harness::new(config);
    h.establish(7);
    assert_eq!(h.machine.poll_timeout(), Some(10_000));
    h.fire_next_timeout();
    assert_eq!(executes(&h.take_actions()), vec![(7, "YIELD 1".to_owned())]);
}

#[test]
fn use_space_runs_on_the_held_session_and_later_resumes_select_that_space() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    let request = h.use_space("g2").unwrap();
    assert_eq!(executes(&h.take_actions()), vec![(7, "USE `g2`".to_owned())]);
    h.reply(first, ok());
    assert_eq!(h.take_events(), vec![Event::Result { request, result: "ok".into() }]);

    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    assert_eq!(executes(&h.take_actions()), vec![(7, "USE `g2`".to_owned())]);
}

#[test]
fn a_space_name_that_cannot_be_quoted_is_refused_before_the_queue() {
    let mut h = Harness::new(config());
    h.establish(7);
    let refused = Err(CommandError::InvalidSpaceName { space: "a`b".into() });
    assert_eq!(h.use_space("a`b"), refused);
    assert!(h.take_actions().is_empty());
    assert!(matches!(h.machine.state(), State::Ready { .. }));
}

#[test]
fn only_a_server_answer_or_an_unknown_outcome_means_the_statement_may_have_run() {
    let may_have_run = [
        RequestError::Server { code: -1005, message: "error".into() },
        RequestError::Outcome(OutcomeError::Unknown { cause: TransportError::Closed }),
    ];
    for error in may_have_run {
        assert!(!error.certainly_not_run(), "{error:?}");
    }
    let not_run = [
        RequestError::Session(SessionError::Invalid { session_id: sid(7) }),
        RequestError::Transport(TransportError::ConnectFailed),
        RequestError::Cancelled,
        RequestError::QueueTimedOut,
    ];
    for error in not_run {
        assert!(error.certainly_not_run(), "{error:?}");
    }
}

#[test]
fn outbox_overflow_reports_the_configured_maximum() {
    let config = ClientConfig {
        reconnect_policy: ReconnectPolicy::Replace,
        sign_out_outbox_max: 2,
        sign_out_retry_backoff_initial_ms: 10_000,
        ..config()
    };
    let mut h = Harness::new(config);
    let mut connection = h.establish(7);
    for session in [8, 9] {
        // Replacing the previous session: its sign-out is written, the socket dies before the proof.
        h.socket_lost(connection);
        h.fire_next_timeout();
        let replacing = h.last_dial();
        h.connected(replacing);
        h.socket_lost(replacing);
        h.fire_next_timeout();
        connection = h.last_dial();
        h.connected(connection);
        h.serve_until_ready(connection, session);
    }
    assert_eq!(h.machine.metrics().sessions_pending_sign_out, 2);
    h.socket_lost(connection);
    h.fire_next_timeout();
    h.connected(h.last_dial()); // replacing 9: the outbox (holding 7 and 8) is full
    let overflow = Event::SignOutOverflow { session_id: sid(9), outbox_max: 2 };
    assert!(h.event_log.contains(&overflow));
}

#[test]
fn metrics_tell_live_sessions_from_pending_sign_outs_and_count_only_redials_as_reconnects() {
    let mut h =
        Harness::new(ClientConfig { reconnect_policy: ReconnectPolicy::Replace, ..config() });
    let first = h.establish(7);
    let counts = |h: &Harness| {
        let metrics = h.machine.metrics();
        (metrics.sessions_live, metrics.sessions_pending_sign_out, metrics.reconnects)
    };
    assert_eq!(counts(&h), (1, 0, 0));
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second); // 7's sign-out written, awaiting its proof
    assert_eq!(counts(&h), (0, 1, 1));
    h.reply(second, exec_err(-1002));
    h.reply(second, auth_ok(8));
    assert_eq!(counts(&h), (1, 0, 1));
    h.socket_lost(second);
    h.fire_next_timeout();
    assert_eq!(counts(&h), (1, 0, 2));
}

#[test]
fn an_idle_session_wakes_the_host_when_a_sign_out_retry_is_due() {
    let config = ClientConfig {
        reconnect_policy: ReconnectPolicy::Replace,
        sign_out_retry_backoff_initial_ms: 10_000,
        ..config()
    };
    let mut h = Harness::new(config);
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second); // sign-out of 7 written at 100, then the socket dies before its proof
    h.socket_lost(second);
    h.fire_next_timeout();
    let third = h.last_dial();
    h.connected(third);
    h.serve_until_ready(third, 8);

    // Ready and idle: the next deadline is 7's retry, and it goes out on the idle socket.
    assert_eq!(h.machine.poll_timeout(), Some(10_100));
    h.fire_next_timeout();
    assert_eq!(sends(&h.take_actions()), vec![sign_out(third, 7), ping(third)]);
}

#[test]
fn reruns_count_every_send_of_a_statement_after_its_first() {
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    let request = h.execute("RETURN 1", Idempotency::NotIdempotent);
    assert_eq!(h.machine.metrics().reruns, 0);
    // -1002 twice: the statement did not run, so it is re-sent on each replacement session.
    for replacement in [8, 9] {
        h.reply(connection, exec_err(-1002));
        h.reply(connection, auth_ok(replacement));
    }
    h.reply(connection, ok());
    assert!(h.event_log.contains(&Event::Result { request, result: "ok".into() }));
    let sent = executes(&h.log);
    assert_eq!(sent, [7, 8, 9].map(|session| (session, "RETURN 1".to_owned())));
    assert_eq!(h.machine.metrics().reruns, 2);
}
