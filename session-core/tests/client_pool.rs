//! The session pool: exact min/max accounting, FIFO waiters with deadlines and a bound, eviction
//! that signs out, generation-tokened handles that fail fast once revoked, close that cancels and
//! signs out; and a property test over random pool operations.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod client_support;

use client_support::*;
use graphsession_core::client::{
    Acquire, Action, Handle, Idempotency, PoolConfig, PoolError, PoolEvent, Release, RetireReason,
    TransportEvent, WaiterId,
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
    p.pool.handle_open(0);
    p.run();
    assert_eq!(p.pool.stats().free, 1);
    let first = granted(p.pool.handle_acquire(0).unwrap());
    let second = queued(p.pool.handle_acquire(0).unwrap());
    let third = queued(p.pool.handle_acquire(0).unwrap());
    p.run();
    let mut grants = Vec::new();
    while let Some((waiter, handle)) = p.pool.poll_grant() {
        grants.push(waiter);
        p.pool.handle_release(0, handle, Release::Reuse);
    }
    assert_eq!(grants, vec![second, third]);
    let stats = p.pool.stats();
    assert_eq!((stats.members, stats.leased, stats.free), (3, 1, 2));

    // At the maximum, callers wait instead of a fourth session being opened.
    let _a = granted(p.pool.handle_acquire(0).unwrap());
    let _b = granted(p.pool.handle_acquire(0).unwrap());
    let waiter = queued(p.pool.handle_acquire(0).unwrap());
    p.run();
    assert_eq!(p.pool.stats().members, 3);
    assert_eq!(p.server.authenticates, 3);
    p.pool.handle_release(0, first, Release::Reuse);
    let (next, handle) = p.pool.poll_grant().unwrap();
    assert_eq!(next, waiter);
    p.pool.handle_release(0, handle, Release::Reuse);
}

#[test]
fn waiters_are_served_first_in_first_out_and_time_out() {
    let mut p = PoolHarness::new(PoolConfig { acquire_timeout_ms: 1_000, ..pool_config(1, 1) });
    p.pool.handle_open(0);
    p.run();
    let held = granted(p.pool.handle_acquire(0).unwrap());
    let w1 = queued(p.pool.handle_acquire(10).unwrap());
    let w2 = queued(p.pool.handle_acquire(20).unwrap());
    p.pool.handle_release(30, held, Release::Reuse);
    let (first, handle) = p.pool.poll_grant().unwrap();
    assert_eq!(first, w1);
    // w2 waits past its deadline.
    p.timeout_at(1_020);
    assert!(p.events.contains(&PoolEvent::WaitTimedOut { waiter: w2 }));
    assert_eq!(p.pool.stats().waiters, 0);
    p.pool.handle_release(1_020, handle, Release::Reuse);
}

#[test]
fn waiters_are_bounded() {
    let mut p = PoolHarness::new(PoolConfig { waiters_max: 2, ..pool_config(0, 1) });
    queued(p.pool.handle_acquire(0).unwrap());
    queued(p.pool.handle_acquire(0).unwrap());
    assert_eq!(p.pool.handle_acquire(0), Err(PoolError::WaitersFull { max: 2 }));
}

#[test]
fn eviction_signs_out_idle_sessions_above_the_minimum() {
    let mut p = PoolHarness::new(PoolConfig { idle_evict_ms: 1_000, ..pool_config(1, 2) });
    p.pool.handle_open(0);
    p.run();
    let a = granted(p.pool.handle_acquire(0).unwrap());
    let _w = queued(p.pool.handle_acquire(0).unwrap());
    p.run();
    let (_, b) = p.pool.poll_grant().unwrap();
    p.pool.handle_release(0, a, Release::Reuse);
    p.pool.handle_release(0, b, Release::Reuse);
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
    p.pool.handle_open(0);
    p.run();
    let handle = granted(p.pool.handle_acquire(0).unwrap());
    p.pool.handle_close(0);
    p.drain();
    let lease = handle.lease();
    assert_eq!(
        p.pool.handle_execute(0, &handle, "RETURN 1", Idempotency::Idempotent),
        Err(PoolError::StaleHandle { member: lease.member.0, generation: lease.generation })
    );
    p.pool.handle_release(0, handle, Release::Reuse);
    p.run();
    assert!(p.pool.is_closed());
    assert_eq!(p.pool.stats().leaked, 0);
    assert_eq!(sign_outs(&p.log), vec![100]);
}

#[test]
fn pool_close_cancels_waiters_and_refuses_new_work() {
    let mut p = PoolHarness::new(pool_config(0, 1));
    let waiter = queued(p.pool.handle_acquire(0).unwrap());
    p.pool.handle_close(0);
    p.run();
    assert!(p.events.contains(&PoolEvent::WaitCancelled { waiter }));
    assert_eq!(p.pool.handle_acquire(0), Err(PoolError::Closed));
    assert!(p.pool.is_closed());
    assert!(p.events.contains(&PoolEvent::Retired {
        member: graphsession_core::client::MemberId(1),
        reason: RetireReason::PoolClosing,
    }));
}

#[derive(Debug, Clone)]
enum PoolOp {
    Acquire,
    Release(usize, Release),
    Drop(usize),
    Execute(usize),
    /// Carry out every pending action against a healthy server.
    Run,
    /// The next pending action's socket fails instead.
    FailOne,
    Advance(u64),
    FireNext,
    Close,
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

struct PoolWorld {
    p: PoolHarness,
    handles: Vec<Handle>,
}

impl PoolWorld {
    fn apply(&mut self, op: &PoolOp) {
        let now = self.p.now_ms;
        match op {
            PoolOp::Acquire => {
                if let Ok(Acquire::Granted(handle)) = self.p.pool.handle_acquire(now) {
                    self.handles.push(handle);
                }
            }
            PoolOp::Release(index, release) => {
                if *index < self.handles.len() {
                    let handle = self.handles.remove(*index);
                    self.p.pool.handle_release(now, handle, *release);
                }
            }
            PoolOp::Drop(index) => {
                if *index < self.handles.len() {
                    drop(self.handles.remove(*index));
                }
            }
            PoolOp::Execute(index) => {
                if let Some(handle) = self.handles.get(*index) {
                    let _ = self.p.pool.handle_execute(
                        now,
                        handle,
                        "RETURN 1",
                        Idempotency::Idempotent,
                    );
                }
            }
            PoolOp::Run => self.p.run(),
            PoolOp::FailOne => {
                let actions = self.p.take_actions();
                if let Some(action) = actions.first() {
                    let connection = action.connection();
                    self.p.pool.handle_transport(now, connection, TransportEvent::Closed);
                }
                self.requeue(actions.into_iter().skip(1));
            }
            PoolOp::Advance(ms) => self.p.timeout_at(now + ms),
            PoolOp::FireNext => {
                if let Some(at_ms) = self.p.pool.poll_timeout() {
                    self.p.timeout_at(at_ms.max(now));
                }
            }
            PoolOp::Close => self.p.pool.handle_close(now),
        }
        self.p.drain();
        if matches!(op, PoolOp::Advance(_) | PoolOp::FireNext) {
            let next = self.p.pool.poll_timeout();
            assert!(next.is_none_or(|at_ms| at_ms > self.p.now_ms), "due deadline {next:?} left");
        }
        self.grants();
        let stats = self.p.pool.stats();
        assert!(stats.members <= 3, "{stats:?}");
    }

    /// Keeps actions not yet carried out, in order, ahead of new ones.
    fn requeue(&mut self, actions: impl Iterator<Item = Action>) {
        let rest: Vec<Action> = actions.collect();
        self.p.drain();
        let newer = self.p.take_actions();
        self.p.push_actions(rest.into_iter().chain(newer));
    }

    fn grants(&mut self) {
        while let Some((_, handle)) = self.p.pool.poll_grant() {
            self.handles.push(handle);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_pool_operations_keep_the_accounting_and_lose_no_session(
        ops in prop::collection::vec(pool_op(), 1..60),
    ) {
        let config = PoolConfig { acquire_timeout_ms: 5_000, idle_evict_ms: 10_000, ..pool_config(1, 3) };
        let mut world = PoolWorld { p: PoolHarness::new(config), handles: Vec::new() };
        world.p.pool.handle_open(0);
        for op in &ops {
            world.apply(op);
        }
        // Liveness: release everything, close, heal the server.
        for handle in std::mem::take(&mut world.handles) {
            world.p.pool.handle_release(world.p.now_ms, handle, Release::Reuse);
        }
        world.p.pool.handle_close(world.p.now_ms);
        for _ in 0..100 {
            world.p.run();
            if world.p.pool.is_closed() {
                break;
            }
            world.apply(&PoolOp::FireNext);
        }
        prop_assert!(world.p.pool.is_closed());
        // Every session the server still holds is one the pool still reports as owned (abandoned
        // when a close deadline ran out during the random phase): none is lost silently.
        let owned: Vec<i64> =
            world.p.pool.metrics().session_ids_owned.iter().map(|id| id.get()).collect();
        for id in &world.p.server.sessions {
            prop_assert!(owned.contains(id), "server session {id} unknown to the pool");
        }
    }
}
