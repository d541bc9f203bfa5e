//! One test per failure mode of `nebulagraph-clients.md` (1-17): each drives the machine (or the pool)
//! with the events that caused the mode in the Node.js, Go, Java or Python clients and asserts on the
//! actions it emits, showing the mode cannot happen here.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use crate::client_support::*;
use graphsession_core::client::{
    Acquire, Action, ClientConfig, ConnectionId, Event, Idempotency, InvalidSessionPolicy,
    LossReason, OutcomeError, PoolConfig, PoolEvent, ReconnectPolicy, Release, Request,
    RequestError, RetireReason, SessionError, SessionStatus, State, TransportError, TransportEvent,
    ZombieKind,
};

fn execute(connection: ConnectionId, id: i64, statement: &str) -> (ConnectionId, Request) {
    (connection, Request::Execute { session_id: id, statement: statement.into() })
}

fn pool_config(min: u32, max: u32) -> PoolConfig {
    PoolConfig { client: config(), sessions_min: min, sessions_max: max, ..PoolConfig::default() }
}

fn granted(acquire: Acquire) -> graphsession_core::client::Handle {
    match acquire {
        Acquire::Granted(handle) => handle,
        Acquire::Queued(waiter) => panic!("queued as {waiter:?}"),
    }
}

#[test]
fn mode_01_sign_out_on_a_dead_socket_is_retried_until_delivered() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.close();
    assert_eq!(sends(&h.take_actions()), vec![sign_out(first, 7), ping(first)]);

    // The socket dies before the proof: the error is not swallowed, 7 stays owned.
    h.socket_lost(first);
    assert_eq!(h.machine.ledger().get(sid(7)).unwrap().status, SessionStatus::SignOutPending);

    // A new socket after the retry delay carries the sign-out again.
    h.fire_next_timeout();
    let second = h.last_dial();
    assert_ne!(first, second);
    h.connected(second);
    assert_eq!(sends(&h.take_actions()), vec![sign_out(second, 7), ping(second)]);
    h.reply(second, exec_err(-1002));

    assert!(h.machine.ledger().is_empty());
    assert!(h.event_log.contains(&Event::SignedOut { session_id: sid(7) }));
    assert_eq!(h.event_log.last(), Some(&Event::Closed { abandoned: vec![] }));
    h.assert_no_socket_leak();
}

#[test]
fn mode_02_a_written_sign_out_is_not_assumed_delivered() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.close();
    // The write succeeded, but nothing proves the server read it yet.
    let entry = *h.machine.ledger().get(sid(7)).unwrap();
    assert_eq!(entry.status, SessionStatus::SignOutSent { connection: first });
    assert_eq!(h.machine.metrics().sessions_pending_sign_out, 1);
    assert_eq!(h.machine.metrics().sessions_signed_out, 0);

    // No proof before its deadline: the socket is discarded and the sign-out written again.
    h.fire_next_timeout();
    assert!(socket_closes(&h.take_actions()).contains(&first));
    assert_eq!(h.machine.ledger().get(sid(7)).unwrap().status, SessionStatus::SignOutPending);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    h.reply(second, exec_err(-1002));
    assert_eq!(sign_outs(&h.log), vec![7, 7]);
    assert_eq!(h.machine.metrics().sessions_signed_out, 1);
    assert!(h.machine.is_closed());
}

#[test]
fn mode_03_reconnect_never_forgets_the_old_session() {
    // Replace: the old id is signed out, and the sign-out proven, before a new session is created.
    let mut h =
        Harness::new(ClientConfig { reconnect_policy: ReconnectPolicy::Replace, ..config() });
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    assert_eq!(sends(&h.take_actions()), vec![sign_out(second, 7), ping(second)]);
    assert!(h.machine.ledger().contains(sid(7)));
    h.reply(second, exec_err(-1002));
    assert!(matches!(&sends(&h.take_actions())[..], [(_, Request::Authenticate { .. })]));
    h.reply(second, auth_ok(8));
    assert_eq!(h.machine.ledger().ids(), vec![sid(8)]);

    // Resume (the default): the same id is checked on the new socket; no second session.
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.socket_lost(first);
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    assert_eq!(sends(&h.take_actions()), vec![execute(second, 7, "YIELD 1")]);
    h.reply(second, ok());
    assert_eq!(h.machine.session_id(), Some(sid(7)));
    assert_eq!(authenticates(&h.log), 1);
}

#[test]
fn mode_04_a_failed_use_does_not_log_in_again() {
    let mut h = Harness::new(ClientConfig { space: Some("g".into()), ..config() });
    h.open();
    let connection = h.last_dial();
    h.connected(connection);
    h.reply(connection, auth_ok(7));
    assert_eq!(executes(&h.take_actions()), vec![(7, "USE `g`".to_owned())]);
    h.reply(connection, exec_err(-1005));

    // Reported once, the session signed out on the same socket, and no new login.
    assert!(h.take_events().iter().any(|event| matches!(
        event,
        Event::OpenFailed { error: SessionError::UseSpaceFailed { code: -1005, .. } }
    )));
    assert_eq!(sends(&h.take_actions()), vec![sign_out(connection, 7), ping(connection)]);
    h.reply(connection, exec_err(-1002));
    for minute in 1..=10 {
        h.timeout_at(minute * 60_000);
    }
    assert_eq!(authenticates(&h.log), 1);
    assert!(h.machine.is_closed());
    assert!(h.machine.ledger().is_empty());
}

#[test]
fn mode_05_pool_close_signs_out_every_session() {
    let mut p = PoolHarness::new(pool_config(2, 2));
    p.pool.open(0);
    p.run();
    assert_eq!(p.pool.stats().free, 2);
    assert_eq!(p.server.sessions.len(), 2);

    p.pool.close(p.now_ms);
    p.run();
    let mut signed_out = sign_outs(&p.log);
    signed_out.sort_unstable();
    assert_eq!(signed_out, vec![100, 101]);
    assert!(p.server.sessions.is_empty());
    assert!(p.pool.is_closed());
    assert_eq!(p.pool.metrics().sessions_signed_out, 2);
    assert_eq!(p.events.last(), Some(&PoolEvent::Closed));
}

#[test]
fn mode_06_close_while_disconnected_never_logs_in_again() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    h.socket_lost(first);
    assert!(matches!(h.machine.state(), State::AwaitingReconnect { .. }));
    h.take_actions();

    h.close();
    // It dials only to deliver the sign-out.
    let second = h.last_dial();
    assert_ne!(first, second);
    h.connected(second);
    assert_eq!(sends(&h.take_actions()), vec![sign_out(second, 7), ping(second)]);
    h.reply(second, exec_err(-1002));
    assert!(h.machine.is_closed());
    assert_eq!(socket_closes(&h.take_actions()), vec![second]);

    // The reconnect loop is gone: hours later nothing happens.
    assert_eq!(h.machine.poll_timeout(), None);
    h.timeout_at(10 * 3_600_000);
    assert!(h.take_actions().is_empty());
    assert_eq!(authenticates(&h.log), 1);
    assert!(h.machine.open(h.now_ms).is_err());
}

#[test]
fn mode_07_an_invalid_session_never_leaves_its_socket_open() {
    let config = ClientConfig { invalid_session_policy: InvalidSessionPolicy::Close, ..config() };
    let mut h = Harness::new(config);
    let connection = h.establish(7);
    let request = h.execute("MATCH (v) RETURN v", Idempotency::NotIdempotent);
    h.reply(connection, exec_err(-1002));

    let events = h.take_events();
    let lost = Event::SessionLost { session_id: sid(7), reason: LossReason::InvalidOnExecute };
    assert!(events.contains(&lost));
    // The statement did not run: reported as such, and the socket is closed with the session.
    assert!(events.contains(&Event::Failed { request, error: RequestError::Cancelled }));
    assert!(socket_closes(&h.log).contains(&connection));
    assert!(h.machine.is_closed());
    assert!(h.machine.ledger().is_empty());
    h.assert_no_socket_leak();
}

#[test]
fn mode_08_a_replacement_whose_check_failed_is_not_abandoned() {
    let mut h = Harness::new(ClientConfig { space: Some("g".into()), ..config() });
    let first = h.establish(7);
    let request = h.execute("RETURN 1", Idempotency::Idempotent);
    assert_eq!(sends(&h.take_actions()), vec![execute(first, 7, "RETURN 1")]);
    h.reply(first, exec_err(-1002));
    assert!(matches!(&sends(&h.take_actions())[..], [(_, Request::Authenticate { .. })]));
    h.reply(first, auth_ok(8));
    assert_eq!(executes(&h.take_actions()), vec![(8, "USE `g`".to_owned())]);

    // The replacement's check fails with the transport: 8 is kept, its socket closed.
    h.socket_lost(first);
    assert_eq!(h.machine.ledger().get(sid(8)).unwrap().status, SessionStatus::Held);
    assert!(socket_closes(&h.take_actions()).contains(&first));

    // 8 is resumed on the next socket; no third session, and the statement runs on 8.
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    assert_eq!(executes(&h.take_actions()), vec![(8, "USE `g`".to_owned())]);
    h.reply(second, ok());
    assert_eq!(executes(&h.take_actions()), vec![(8, "RETURN 1".to_owned())]);
    h.reply(second, ok());
    assert!(h.event_log.contains(&Event::Result { request, result: "ok".into() }));
    assert_eq!(authenticates(&h.log), 2);
}

#[test]
fn mode_09_health_checks_treat_minus_1002_as_dead() {
    let mut p = PoolHarness::new(pool_config(1, 1));
    p.pool.open(0);
    p.run();
    // The server reclaims the idle session; the pool cannot know yet.
    p.server.sessions.clear();
    p.timeout_at(600_000);
    assert_eq!(executes(&p.log).last(), Some(&(100, "YIELD 1".to_owned())));
    p.run();

    let lost = Event::SessionLost { session_id: sid(100), reason: LossReason::InvalidOnProbe };
    assert!(
        p.events.iter().any(|e| matches!(e, PoolEvent::Member { event, .. } if *event == lost))
    );
    // The pooled session was replaced, not kept: the next caller gets the new one.
    let handle = granted(p.pool.acquire(p.now_ms).unwrap());
    let member = p.pool.member(handle.lease().member).unwrap();
    assert_eq!(member.session_id(), Some(sid(101)));
    assert_eq!(p.pool.metrics().sessions_zombie, 1);
    p.pool.release(p.now_ms, handle, Release::Reuse);
}

#[test]
fn mode_10_a_plain_session_recovers_from_minus_1002() {
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    let request = h.execute("INSERT VERTEX t() VALUES 1:()", Idempotency::NotIdempotent);
    let insert = execute(connection, 7, "INSERT VERTEX t() VALUES 1:()");
    assert_eq!(sends(&h.take_actions()), vec![insert]);
    h.reply(connection, exec_err(-1002));
    // -1002 on execute: it did not run; replace the session on the same socket and run it again.
    assert!(matches!(&sends(&h.take_actions())[..], [(_, Request::Authenticate { .. })]));
    h.reply(connection, auth_ok(8));
    assert_eq!(executes(&h.take_actions()), vec![(8, "INSERT VERTEX t() VALUES 1:()".to_owned())]);
    h.reply(connection, ok());
    assert!(h.event_log.contains(&Event::Result { request, result: "ok".into() }));
    assert_eq!(h.machine.ledger().ids(), vec![sid(8)]);
    let metrics = h.machine.metrics();
    assert_eq!((metrics.sessions_invalidated, metrics.reruns), (1, 1));
}

#[test]
fn mode_11_idle_sessions_are_kept_alive_with_their_real_id() {
    let config = config();
    assert!(config.keepalive_interval_ms < config.server_idle_timeout_ms / 2);
    let mut h = Harness::new(config.clone());
    let connection = h.establish(7);
    h.timeout_at(config.keepalive_interval_ms - 1);
    assert!(executes(&h.take_actions()).is_empty());
    // Ten hours idle, longer than the server's idle timeout: kept alive with id 7, never id 0.
    let mut now_ms = 0;
    while now_ms < 10 * 3_600_000 {
        now_ms += config.keepalive_interval_ms;
        h.timeout_at(now_ms);
        assert_eq!(executes(&h.take_actions()), vec![(7, "YIELD 1".to_owned())]);
        h.reply(connection, ok());
    }
    assert_eq!(h.machine.session_id(), Some(sid(7)));
    assert_eq!(authenticates(&h.log), 1);
}

#[test]
fn mode_12_release_always_returns_the_slot() {
    let mut p = PoolHarness::new(pool_config(1, 1));
    p.pool.open(0);
    p.run();
    let handle = granted(p.pool.acquire(0).unwrap());
    // The member's socket breaks while the caller holds it.
    let member = handle.lease().member;
    let connection = p.pool.member(member).unwrap().state().connection().unwrap();
    p.pool.handle_transport(0, connection, TransportEvent::Closed);
    p.drain();
    // Release cannot fail, and the slot comes back.
    p.pool.release(0, handle, Release::Reuse);
    p.drain();
    assert_eq!(p.pool.stats().leased, 0);
    assert_eq!(p.pool.stats().members, 1);
    // The member reconnects (resuming its session) and serves the next caller.
    p.timeout_at(100);
    p.run();
    let handle = granted(p.pool.acquire(100).unwrap());
    // A broken-state release (Discard) also returns the slot: the member is signed out and replaced.
    p.pool.release(100, handle, Release::Discard);
    p.run();
    assert_eq!(sign_outs(&p.log), vec![100]);
    let stats = p.pool.stats();
    assert_eq!((stats.members, stats.free, stats.leased), (1, 1, 0));
}

#[test]
fn mode_13_idle_eviction_never_takes_a_leased_session() {
    let config = PoolConfig { idle_evict_ms: 1_000, ..pool_config(0, 1) };
    let mut p = PoolHarness::new(config);
    let Acquire::Queued(waiter) = p.pool.acquire(0).unwrap() else { panic!("no member yet") };
    p.run();
    let (granted_waiter, handle) = p.pool.poll_grant().unwrap();
    assert_eq!(granted_waiter, waiter);
    p.pool.release(0, handle, Release::Reuse);

    // Taken again just before its eviction time, then the eviction timer fires.
    let handle = granted(p.pool.acquire(999).unwrap());
    p.timeout_at(5_000);
    assert_eq!(p.pool.stats().leased, 1);
    assert!(sign_outs(&p.log).is_empty());
    p.pool.execute(5_000, &handle, "RETURN 1", Idempotency::Idempotent).unwrap();
    p.run();
    assert_eq!(executes(&p.log).last(), Some(&(100, "RETURN 1".to_owned())));

    // Once free and idle, it is evicted, and eviction signs out.
    p.pool.release(5_000, handle, Release::Reuse);
    p.timeout_at(6_000);
    p.run();
    assert_eq!(sign_outs(&p.log), vec![100]);
    assert!(p.events.contains(&PoolEvent::Retired {
        member: graphsession_core::client::MemberId(1),
        reason: RetireReason::Idle,
    }));
}

#[test]
fn mode_14_too_many_sessions_backs_off_instead_of_storming() {
    let config = ClientConfig { failures_max: 5, ..config() };
    let mut h = Harness::new(config.clone());
    h.open();
    let mut authenticate_times = Vec::new();
    let too_many = "Create Session failed: Too many sessions created from 10.0.0.1 by user alice.";
    for round in 0.. {
        let connection = h.last_dial();
        h.connected(connection);
        assert_eq!(authenticates(&h.take_actions()), 1);
        authenticate_times.push(h.now_ms);
        let code = if round % 2 == 0 { -1002 } else { -1010 };
        h.reply(
            connection,
            graphsession_core::client::Response::AuthenticateErr { code, message: too_many.into() },
        );
        if h.machine.state().is_open() {
            // However often the timer fires, nothing is sent before the retry time.
            assert_eq!(socket_closes(&h.take_actions()), vec![connection]);
            let retry_at_ms = match h.take_events().last() {
                Some(Event::AuthenticateRefused { retry_at_ms, .. }) => *retry_at_ms,
                other => panic!("expected a refusal, got {other:?}"),
            };
            for t in (h.now_ms..retry_at_ms).step_by(250) {
                h.timeout_at(t);
                assert!(h.take_actions().is_empty());
            }
            h.timeout_at(retry_at_ms);
            continue;
        }
        assert!(round >= 5);
        break;
    }
    assert_eq!(authenticate_times.len(), 6);
    for pair in authenticate_times.windows(2) {
        assert!(pair[1] - pair[0] >= config.authenticate_refused_backoff_ms);
    }
    assert!(h.event_log.iter().any(|event| matches!(
        event,
        Event::OpenFailed { error: SessionError::AuthenticateRefused { .. } }
    )));
    assert!(h.machine.is_closed());
}

#[test]
fn mode_15_a_statement_with_unknown_outcome_is_not_rerun() {
    let mut h = Harness::new(config());
    let first = h.establish(7);
    let insert = h.execute("INSERT VERTEX t() VALUES 1:()", Idempotency::NotIdempotent);
    h.socket_lost(first);
    let unknown = RequestError::Outcome(OutcomeError::Unknown { cause: TransportError::Closed });
    assert!(h.take_events().contains(&Event::Failed { request: insert, error: unknown }));
    h.fire_next_timeout();
    let second = h.last_dial();
    h.connected(second);
    h.reply(second, ok()); // the resume check
    assert!(matches!(h.machine.state(), State::Ready { .. }));

    // An idempotent read, by contrast, is re-sent after the next reconnect.
    let read = h.execute("MATCH (v) RETURN v", Idempotency::Idempotent);
    h.socket_lost(second);
    h.fire_next_timeout();
    let third = h.last_dial();
    h.connected(third);
    h.reply(third, ok()); // the resume check
    h.reply(third, ok()); // the read
    assert!(h.event_log.contains(&Event::Result { request: read, result: "ok".into() }));

    let count = |statement: &str| executes(&h.log).iter().filter(|(_, s)| s == statement).count();
    assert_eq!(count("INSERT VERTEX t() VALUES 1:()"), 1);
    assert_eq!(count("MATCH (v) RETURN v"), 2);
}

#[test]
fn mode_16_a_dropped_handle_is_reported_and_signed_out() {
    let mut p = PoolHarness::new(pool_config(1, 1));
    p.pool.open(0);
    p.run();
    let handle = granted(p.pool.acquire(0).unwrap());
    let lease = handle.lease();
    drop(handle);

    p.pool.handle_timeout(1);
    p.run();
    assert!(p.events.contains(&PoolEvent::LeakDetected { lease, session_id: Some(sid(100)) }));
    assert_eq!(sign_outs(&p.log), vec![100]);
    assert_eq!(p.pool.stats().leaked, 1);
    assert_eq!(p.pool.metrics().sessions_leaked, 1);
}

#[test]
fn mode_17_one_member_failure_does_not_close_the_pool() {
    let mut p = PoolHarness::new(pool_config(2, 2));
    p.pool.open(0);
    p.drain();
    // Member 2's login is refused for good; member 1's succeeds.
    for _ in 0..100 {
        let actions = p.take_actions();
        if actions.is_empty() {
            break;
        }
        for action in actions {
            match action {
                Action::Dial { connection } => {
                    p.pool.handle_transport(0, connection, TransportEvent::Connected);
                }
                Action::Send { connection, request } => {
                    let reply = match request {
                        Request::Authenticate { .. } if connection.0 >> 32 == 2 => {
                            Some(auth_err(-1001))
                        }
                        other => p.server.answer(&other),
                    };
                    if let Some(reply) = reply {
                        p.pool.handle_transport(0, connection, TransportEvent::Response(reply));
                    }
                }
                Action::CloseSocket { .. } => {}
            }
            p.drain();
        }
    }
    assert!(!p.pool.is_closed());
    let failed = PoolEvent::Retired {
        member: graphsession_core::client::MemberId(2),
        reason: RetireReason::Failed,
    };
    assert!(p.events.contains(&failed));
    // The healthy member still serves.
    let handle = granted(p.pool.acquire(0).unwrap());
    p.pool.execute(0, &handle, "RETURN 1", Idempotency::Idempotent).unwrap();
    p.run();
    assert_eq!(executes(&p.log).last(), Some(&(100, "RETURN 1".to_owned())));
    // A replacement member opens after a backoff, not at once.
    let dials_before = dials(&p.log).len();
    p.timeout_at(1_000);
    assert_eq!(dials(&p.log).len(), dials_before);
    p.timeout_at(5_000);
    p.run();
    assert_eq!(dials(&p.log).len(), dials_before + 1);
    assert_eq!(p.pool.stats().free, 1);
    p.pool.release(5_000, handle, Release::Reuse);
}

#[test]
fn modes_09_and_10_count_the_invalid_session_as_a_zombie() {
    // The client believed 7 live and the server said it was gone: that is a zombie, counted.
    let mut h = Harness::new(config());
    let connection = h.establish(7);
    h.execute("RETURN 1", Idempotency::Idempotent);
    h.reply(connection, exec_err(-1002));
    let zombie = Event::ZombieDetected { session_id: sid(7), kind: ZombieKind::ServerSaysGone };
    assert!(h.event_log.contains(&zombie));
    assert_eq!(h.machine.metrics().sessions_zombie, 1);
}
