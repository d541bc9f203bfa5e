//! The session pool: exact min/max accounting, FIFO waiters with deadlines and a bound, eviction
//! that signs out, generation-tokened handles that fail fast once revoked, close that cancels and
//! signs out; and a property test over random pool operations.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use crate::client_support::pool_model::{self, PoolOp};
use crate::client_support::*;
use graphsession_core::client::{
    Acquire, Handle, Idempotency, PoolConfig, PoolError, PoolEvent, Release, RetireReason, WaiterId,
};
use proptest::prelude::*;

fn pool_config(min: u32, max: u32) -> PoolConfig {
    PoolConfig { client: config(), sessions_min: min, sessions_max: max, ..PoolConfig::default() }
}

fn granted(acquire: Acquire) -> Handle {
    match acquire {
        Acquire::Granted(handle) => handle,
        Acquire::Queued(waiter) => panic!("queued as {waiter:?}"),
    }
}

fn queued(acquire: Acquire) -> WaiterId {
    match acquire {
        Acquire::Queued(waiter) => waiter,
        Acquire::Granted(handle) => panic!("granted {:?}", handle.lease()),
    }
}

#[test]
fn the_pool_opens_its_minimum_and_never_exceeds_its_maximum() {
    let mut p = PoolHarness::new(pool_config(1, 3));
    p.pool.open(0);
    p.run();
    assert_eq!(p.pool.stats().free, 1);
    let first = granted(p.pool.acquire(0).unwrap());
    let second = queued(p.pool.acquire(0).unwrap());
    let third = queued(p.pool.acquire(0).unwrap());
    p.run();
    let mut grants = Vec::new();
    while let Some((waiter, handle)) = p.pool.poll_grant() {
        grants.push(waiter);
        p.pool.release(0, handle, Release::Reuse);
    }
    assert_eq!(grants, vec![second, third]);
    let stats = p.pool.stats();
    assert_eq!((stats.members, stats.leased, stats.free), (3, 1, 2));

    // At the maximum, callers wait instead of a fourth session being opened.
    let _a = granted(p.pool.acquire(0).unwrap());
    let _b = granted(p.pool.acquire(0).unwrap());
    let waiter = queued(p.pool.acquire(0).unwrap());
    p.run();
    assert_eq!(p.pool.stats().members, 3);
    assert_eq!(p.server.authenticates, 3);
    p.pool.release(0, first, Release::Reuse);
    let (next, handle) = p.pool.poll_grant().unwrap();
    assert_eq!(next, waiter);
    p.pool.release(0, handle, Release::Reuse);
}

#[test]
fn waiters_are_served_first_in_first_out_and_time_out() {
    let mut p = PoolHarness::new(PoolConfig { acquire_timeout_ms: 1_000, ..pool_config(1, 1) });
    p.pool.open(0);
    p.run();
    let held = granted(p.pool.acquire(0).unwrap());
    let w1 = queued(p.pool.acquire(10).unwrap());
    let w2 = queued(p.pool.acquire(20).unwrap());
    p.pool.release(30, held, Release::Reuse);
    let (first, handle) = p.pool.poll_grant().unwrap();
    assert_eq!(first, w1);
    // w2 waits past its deadline.
    p.timeout_at(1_020);
    assert!(p.events.contains(&PoolEvent::WaitTimedOut { waiter: w2 }));
    assert_eq!(p.pool.stats().waiters, 0);
    p.pool.release(1_020, handle, Release::Reuse);
}

#[test]
fn waiters_are_bounded() {
    let mut p = PoolHarness::new(PoolConfig { waiters_max: 2, ..pool_config(0, 1) });
    queued(p.pool.acquire(0).unwrap());
    queued(p.pool.acquire(0).unwrap());
    assert_eq!(p.pool.acquire(0), Err(PoolError::WaitersFull { max: 2 }));
}

#[test]
fn eviction_signs_out_idle_sessions_above_the_minimum() {
    let mut p = PoolHarness::new(PoolConfig { idle_evict_ms: 1_000, ..pool_config(1, 2) });
    p.pool.open(0);
    p.run();
    let a = granted(p.pool.acquire(0).unwrap());
    let _w = queued(p.pool.acquire(0).unwrap());
    p.run();
    let (_, b) = p.pool.poll_grant().unwrap();
    p.pool.release(0, a, Release::Reuse);
    p.pool.release(0, b, Release::Reuse);
    p.drain();
    assert_eq!(p.pool.stats().free, 2);
    p.timeout_at(1_000);
    p.run();
    // One evicted (signed out), the minimum kept.
    assert_eq!(sign_outs(&p.log).len(), 1);
    assert_eq!(p.pool.stats().members, 1);
    assert_eq!(p.server.sessions.len(), 1);
    p.timeout_at(100_000);
    assert_eq!(p.pool.stats().members, 1);
}

#[test]
fn a_revoked_handle_fails_fast_and_its_release_is_harmless() {
    let mut p = PoolHarness::new(pool_config(1, 1));
    p.pool.open(0);
    p.run();
    let handle = granted(p.pool.acquire(0).unwrap());
    p.pool.close(0);
    p.drain();
    let lease = handle.lease();
    assert_eq!(
        p.pool.execute(0, &handle, "RETURN 1", Idempotency::Idempotent),
        Err(PoolError::StaleHandle { member: lease.member.0, generation: lease.generation })
    );
    p.pool.release(0, handle, Release::Reuse);
    p.run();
    assert!(p.pool.is_closed());
    assert_eq!(p.pool.stats().leaked, 0);
    assert_eq!(sign_outs(&p.log), vec![100]);
}

#[test]
fn pool_close_cancels_waiters_and_refuses_new_work() {
    let mut p = PoolHarness::new(pool_config(0, 1));
    let waiter = queued(p.pool.acquire(0).unwrap());
    p.pool.close(0);
    p.run();
    assert!(p.events.contains(&PoolEvent::WaitCancelled { waiter }));
    assert_eq!(p.pool.acquire(0), Err(PoolError::Closed));
    assert!(p.pool.is_closed());
    assert!(p.events.contains(&PoolEvent::Retired {
        member: graphsession_core::client::MemberId(1),
        reason: RetireReason::PoolClosing,
    }));
}

fn pool_op() -> impl Strategy<Value = PoolOp> {
    let release = prop_oneof![Just(Release::Reuse), Just(Release::Discard)];
    prop_oneof![
        3 => Just(PoolOp::Acquire),
        2 => (0_usize..4, release).prop_map(|(i, r)| PoolOp::Release(i, r)),
        1 => (0_usize..4).prop_map(PoolOp::Drop),
        2 => (0_usize..4).prop_map(PoolOp::Execute),
        5 => Just(PoolOp::Run),
        2 => Just(PoolOp::FailOne),
        2 => (0_u64..20_000).prop_map(PoolOp::Advance),
        2 => Just(PoolOp::FireNext),
        1 => Just(PoolOp::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_pool_operations_keep_the_accounting_and_lose_no_session(
        ops in prop::collection::vec(pool_op(), 1..60),
    ) {
        pool_model::run_case(&ops);
    }
}

/// Found by the simulator's pools (`sim`, replay shrunk to 11 steps): a member whose socket is
/// reset reconnects under `ReconnectPolicy::Replace`, which sends its old session to the sign-out
/// outbox without a `SessionLost` event. The pool kept the member "usable" with no session, and
/// could lease it as ready. Usability now follows the machine's held session.
#[test]
fn a_member_that_replaces_its_session_after_a_reset_is_not_usable_until_ready_again() {
    use graphsession_core::client::{Action, ClientConfig, ReconnectPolicy, TransportEvent};
    let client = ClientConfig { reconnect_policy: ReconnectPolicy::Replace, ..config() };
    let mut p = PoolHarness::new(PoolConfig { client, ..pool_config(1, 1) });
    p.pool.open(0);
    p.run();
    assert_eq!(p.pool.stats().free, 1);
    let first = dials(&p.log)[0];
    // The socket resets; the member redials; the new socket connects (the replace happens here).
    p.pool.handle_transport(0, first, TransportEvent::Closed);
    p.drain();
    p.timeout_at(p.pool.poll_timeout().unwrap());
    let redial = p
        .take_actions()
        .into_iter()
        .find_map(|action| match action {
            Action::Dial { connection } => Some(connection),
            _ => None,
        })
        .expect("the member redials");
    p.pool.handle_transport(p.now_ms, redial, TransportEvent::Connected);
    p.drain(); // checks the pool's invariants: no usable member without a session
    assert_eq!(p.pool.stats().free, 0, "{:?}", p.pool.stats());
    // Once the new session is ready, the member is usable again.
    p.run();
    assert_eq!(p.pool.stats().free, 1, "{:?}", p.pool.stats());
}

#[test]
fn handles_are_equal_exactly_when_they_hold_the_same_lease() {
    let mut p = PoolHarness::new(pool_config(2, 2));
    p.pool.open(0);
    p.run();
    let a = granted(p.pool.acquire(0).unwrap());
    let b = granted(p.pool.acquire(0).unwrap());
    assert_ne!(a.lease(), b.lease());
    assert!(a != b);
    let same = &a;
    assert!(a == *same);
    p.pool.release(0, a, Release::Reuse);
    p.pool.release(0, b, Release::Reuse);
}
