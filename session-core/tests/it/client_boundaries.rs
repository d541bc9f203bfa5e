//! Where the machine's limits and deadlines lie exactly: how many times a statement is sent, when a
//! session held without transport becomes a zombie, when a certain expiry wakes the host (and when
//! it must not), and what each ending is reported as. Each test sits on the boundary it names.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use crate::client_support::*;
use graphsession_core::client::{
    Action, ClientConfig, Event, Idempotency, OutcomeError, ReconnectPolicy, RequestError,
    SessionError, State, TransportError, Wait, ZombieKind,
};

/// A server idle timeout of 10 s (certain expiry 11 s after the last use), with the other
/// durations scaled to fit it.
fn short_idle_timeout() -> ClientConfig {
    ClientConfig {
        server_idle_timeout_ms: 10_000,
        expiry_margin_ms: 1_000,
        keepalive_interval_ms: 1_000,
        execute_timeout_ms: 5_000,
        ..config()
    }
}

fn statement_sends(h: &Harness, statement: &str) -> Vec<i64> {
    executes(&h.log).into_iter().filter(|(_, s)| s == statement).map(|(id, _)| id).collect()
}

#[test]
fn a_statement_answered_minus_1002_is_sent_execute_attempts_max_times_at_most() {
    let mut h = Harness::new(config());
    assert_eq!(config().execute_attempts_max, 3);
    let connection = h.establish(7);
    let request = h.execute("RETURN 1", Idempotency::NotIdempotent);
    for replacement in [8, 9, 10] {
        h.reply(connection, exec_err(-1002));
        h.reply(connection, auth_ok(replacement));
    }
    assert_eq!(statement_sends(&h, "RETURN 1"), vec![7, 8, 9]);
    let failed = RequestError::Session(SessionError::Invalid { session_id: sid(9) });
    assert!(h.event_log.contains(&Event::Failed { request, error: failed }));
    assert!(matches!(h.machine.state(), State::Ready { .. }));
}

#[test]
fn an_idempotent_statement_whose_reply_is_lost_is_sent_execute_attempts_max_times_at_most() {
    let mut h = Harness::new(config());
    let mut connection = h.establish(7);
    let request = h.execute("MATCH (v) RETURN v", Idempotency::Idempotent);
    for _ in 0..3 {
        h.socket_lost(connection);
        h.fire_next_timeout();
        connection = h.last_dial();
        h.connected(connection);
        h.reply(connection, ok()); // the resume check; then the statement goes out again, if allowed
    }
    assert_eq!(statement_sends(&h, "MATCH (v) RETURN v"), vec![7, 7, 7]);
    let unknown = RequestError::Outcome(OutcomeError::Unknown { cause: TransportError::Closed });
    assert!(h.event_log.contains(&Event::Failed { request, error: unknown }));
}

#[test]
fn a_session_held_without_transport_is_a_zombie_exactly_at_the_threshold() {
    let config = ClientConfig {
        reconnect_backoff_initial_ms: 1_000_000,
        reconnect_backoff_max_ms: 1_000_000,
        ..config()
    };
    assert_eq!(
        (config.zombie_check_interval_ms, config.zombie_disconnected_max_ms),
        (30_000, 60_000)
    );
    let mut h = Harness::new(config);
    let first = h.establish(7);
    h.socket_lost(first);
    h.take_events();
    assert_eq!(h.fire_next_timeout(), 30_000);
    assert!(h.take_events().is_empty());
    assert_eq!(h.fire_next_timeout(), 60_000);
    let kind = ZombieKind::HeldWithoutTransport { disconnected_ms: 60_000 };
    assert!(h.take_events().contains(&Event::ZombieDetected { session_id: sid(7), kind }));
}

#[test]
fn a_dial_that_never_connects_waits_as_a_connect_timeout() {
    let mut h = Harness::new(config());
    h.open();
    assert_eq!(h.fire_next_timeout(), config().connect_timeout_ms);
    let wait = Wait::Transport(TransportError::ConnectTimedOut);
    assert!(
        matches!(h.machine.state(), State::AwaitingReconnect { wait: w, .. } if *w == wait),
        "{:?}",
        h.machine.state()
    );
}

#[test]
fn a_pending_sign_out_wakes_the_host_at_its_certain_expiry() {
    let config = ClientConfig {
        reconnect_policy: ReconnectPolicy::Replace,
        sign_out_retry_backoff_initial_ms: 10_000,
        authenticate_refused_backoff_ms: 1_000_000,
        zombie_check_interval_ms: 1_000_000,
        ..short_idle_timeout()
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
    h.connected(third);
    h.reply(third, auth_err(-1002)); // refused: the next login is far off
    assert!(matches!(h.machine.state(), State::AwaitingReconnect { held: None, .. }));

    // 7, last used at 0, has certainly expired at 11 s: the host is woken then, not at the retry.
    assert_eq!(h.machine.poll_timeout(), Some(11_000));
    h.fire_next_timeout();
    assert!(h.event_log.contains(&Event::SessionExpired { session_id: sid(7) }));
    assert!(h.machine.ledger().is_empty());
}

#[test]
fn a_session_held_across_a_long_disconnect_is_dropped_at_its_certain_expiry() {
    let config = ClientConfig {
        reconnect_backoff_initial_ms: 1_000_000,
        reconnect_backoff_max_ms: 1_000_000,
        zombie_check_interval_ms: 1_000_000,
        ..short_idle_timeout()
    };
    let mut h = Harness::new(config);
    let first = h.establish(7);
    h.socket_lost(first);
    assert_eq!(h.machine.poll_timeout(), Some(11_000));
    h.fire_next_timeout();
    assert!(h.event_log.contains(&Event::SessionExpired { session_id: sid(7) }));
    assert!(matches!(h.machine.state(), State::AwaitingReconnect { held: None, .. }));
    assert!(h.machine.ledger().is_empty());
}

#[test]
fn a_session_whose_check_is_in_flight_at_close_is_not_expired_while_it_drains() {
    let config = ClientConfig {
        space: Some("g".into()),
        use_space_timeout_ms: 1_000_000,
        close_flush_timeout_ms: 1_000_000,
        ..short_idle_timeout()
    };
    let mut h = Harness::new(config);
    h.open();
    let connection = h.last_dial();
    h.connected(connection);
    h.reply(connection, auth_ok(7)); // USE `g` goes out with 7
    h.close();

    // The USE may still reach the server and keep 7 alive: its expiry is no deadline while it
    // drains. The drain takes at most half the close flush (the sign-out needs the rest).
    assert_eq!(h.machine.poll_timeout(), Some(500_000));
    h.timeout_at(20_000);
    assert!(h.machine.ledger().contains(sid(7)));
    assert!(!h.event_log.contains(&Event::SessionExpired { session_id: sid(7) }));
    h.take_actions();
    h.reply(connection, ok());
    assert_eq!(sends(&h.take_actions()), vec![sign_out(connection, 7), ping(connection)]);
}

#[test]
fn a_close_during_a_keepalive_answered_minus_1002_signs_nothing_out() {
    let config = ClientConfig { keepalive_interval_ms: 10_000, ..config() };
    let mut h = Harness::new(config.clone());
    let connection = h.establish(7);
    h.timeout_at(10_000); // the keepalive goes out
    h.close();
    h.reply(connection, exec_err(-1002));
    assert!(h.machine.is_closed());
    assert!(sign_outs(&h.log).is_empty());
    assert_eq!(h.machine.metrics().sessions_invalidated, 1);

    // Any other answer proves the session alive: it is signed out.
    let mut h = Harness::new(config);
    let connection = h.establish(7);
    h.timeout_at(10_000);
    h.close();
    h.reply(connection, exec_err(-1005));
    assert_eq!(sign_outs(&h.log), vec![7]);
    assert_eq!(h.machine.metrics().sessions_invalidated, 0);
}

#[test]
fn a_wrong_password_is_reported_as_bad_credentials_and_other_refusals_as_failures() {
    for (code, error) in [
        (-1001, SessionError::BadCredentials { code: -1001, message: "error -1001".into() }),
        (-1, SessionError::AuthenticateFailed { code: -1, message: "error -1".into() }),
    ] {
        let mut h = Harness::new(config());
        h.open();
        let connection = h.last_dial();
        h.connected(connection);
        h.reply(connection, auth_err(code));
        assert!(h.event_log.contains(&Event::OpenFailed { error }), "{:?}", h.event_log);
        assert!(h.machine.is_closed());
    }
}

#[test]
fn only_a_resumed_session_counts_as_resumed() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    assert_eq!(h.machine.metrics().sessions_resumed, 0);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    h.reply(second, ok()); // the resume check
    assert_eq!(h.machine.metrics().sessions_resumed, 1);
}

/// A statement that outlives half the close flush is cut short: its socket is closed (its
/// outcome unknown) and the session is signed out on a new one, within the close. Found by the
/// simulator's accounting oracle with queries that outlive the idle timeout.
#[test]
fn a_statement_outliving_half_the_close_flush_does_not_cost_its_sessions_sign_out() {
    let config = ClientConfig {
        execute_timeout_ms: 8_000,
        close_flush_timeout_ms: 10_000,
        ..short_idle_timeout()
    };
    let mut h = Harness::new(config);
    let first = h.establish(7);
    h.execute("RETURN sleep", Idempotency::NotIdempotent);
    h.take_actions();
    h.close();
    assert_eq!(h.machine.poll_timeout(), Some(h.now_ms + 5_000));
    h.fire_next_timeout();
    let actions = h.take_actions();
    assert!(actions.contains(&Action::CloseSocket { connection: first }), "{actions:?}");
    // A new socket, at once or after the reconnect backoff, still within the close.
    let mut second = h.last_dial();
    while second == first && h.machine.poll_timeout().is_some_and(|at| at < 10_000 + 5_000) {
        h.fire_next_timeout();
        second = h.last_dial();
    }
    assert_ne!(second, first);
    h.connected(second);
    assert!(sign_outs(&h.take_actions()).contains(&7));
}

/// A machine whose dials all fail dials `failures_max` times after the first failure, gives up
/// at the failure past the bound and says how many there were, that one included. Found by the
/// simulator's watch (the count said one less).
#[test]
fn giving_up_comes_at_the_failure_past_failures_max_and_counts_it() {
    let config = ClientConfig { failures_max: 3, ..config() };
    let mut h = Harness::new(config);
    h.open();
    let mut dials = 0;
    while h.machine.state().is_open() {
        if let State::AwaitingConnect { connection, .. } = *h.machine.state() {
            dials += 1;
            h.transport(connection, graphsession_core::client::TransportEvent::ConnectFailed);
        } else {
            h.fire_next_timeout();
        }
    }
    assert_eq!(dials, 4, "the first dial and failures_max more");
    let gave_up = Event::OpenFailed { error: SessionError::RetriesExhausted { failures: 4 } };
    assert!(h.event_log.contains(&gave_up), "{:?}", h.event_log);
}
