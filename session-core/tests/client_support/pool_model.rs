//! The session pool's property model: random pool operations against a healthy or failing
//! scripted server, the pool's invariants after every step, and [`run_case`], whose liveness phase
//! requires a clean close that loses no session. Shared by `client_pool.rs` (proptest) and the
//! fuzz target `client_pool`.

use graphsession_core::client::{
    Acquire, Action, Handle, Idempotency, PoolConfig, Release, TransportEvent,
};

use super::PoolHarness;

#[derive(Debug, Clone)]
pub(crate) enum PoolOp {
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

pub(crate) struct PoolWorld {
    pub(crate) p: PoolHarness,
    pub(crate) handles: Vec<Handle>,
}

impl PoolWorld {
    pub(crate) fn apply(&mut self, op: &PoolOp) {
        let now = self.p.now_ms;
        match op {
            PoolOp::Acquire => {
                if let Ok(Acquire::Granted(handle)) = self.p.pool.acquire(now) {
                    self.handles.push(handle);
                }
            }
            PoolOp::Release(index, release) => {
                if *index < self.handles.len() {
                    let handle = self.handles.remove(*index);
                    self.p.pool.release(now, handle, *release);
                }
            }
            PoolOp::Drop(index) => {
                if *index < self.handles.len() {
                    drop(self.handles.remove(*index));
                }
            }
            PoolOp::Execute(index) => {
                if let Some(handle) = self.handles.get(*index) {
                    let _ = self.p.pool.execute(now, handle, "RETURN 1", Idempotency::Idempotent);
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
            PoolOp::Close => self.p.pool.close(now),
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

/// One case: the pool (1 to 3 sessions) through `ops`, then released, closed and healed: it must
/// close, and every session the server still holds is one the pool still reports as owned
/// (abandoned when a close deadline ran out during the random phase): none is lost silently.
pub(crate) fn run_case(ops: &[PoolOp]) {
    let client = super::config();
    let config = PoolConfig {
        client,
        sessions_min: 1,
        sessions_max: 3,
        acquire_timeout_ms: 5_000,
        idle_evict_ms: 10_000,
        ..PoolConfig::default()
    };
    let mut world = PoolWorld { p: PoolHarness::new(config), handles: Vec::new() };
    world.p.pool.open(0);
    for op in ops {
        world.apply(op);
    }
    for handle in std::mem::take(&mut world.handles) {
        world.p.pool.release(world.p.now_ms, handle, Release::Reuse);
    }
    world.p.pool.close(world.p.now_ms);
    for _ in 0..100 {
        world.p.run();
        if world.p.pool.is_closed() {
            break;
        }
        world.apply(&PoolOp::FireNext);
    }
    assert!(world.p.pool.is_closed(), "the pool did not close");
    let owned: Vec<i64> =
        world.p.pool.metrics().session_ids_owned.iter().map(|id| id.get()).collect();
    for id in &world.p.server.sessions {
        assert!(owned.contains(id), "server session {id} unknown to the pool");
    }
}
