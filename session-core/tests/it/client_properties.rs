//! Property tests of the session machine: random sequences of user commands, transport events,
//! replies (right, wrong and stale) and time steps never panic, and after every step:
//!
//! - `check_invariants()` holds;
//! - no execute is sent with a session id that is not live (acquired from an authenticate, not
//!   signed out, not answered -1002, not certainly expired), and none after close;
//! - after close, only sign-outs, their proof pings, dials to deliver them, and socket closes; after
//!   the `Closed` event, nothing at all;
//! - the machine's ledger matches a reference ledger (a `BTreeSet` with the obvious rules): no id
//!   appears that the server did not give, and an id leaves only with a proven sign-out, a -1002, or
//!   certain expiry;
//! - every socket dialled is closed exactly once by the time the machine is closed;
//! - after `handle_timeout(now)` no deadline at or before `now` is left (no busy loop).
//!
//! Each case ends with a liveness phase: close, a healthy server, and a machine that was still open
//! must close with every known session signed out.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use crate::client_support::machine_model::{Op, Reply, Shape, World, test_config};
use graphsession_core::client::{Idempotency, State, TransportEvent};
use proptest::prelude::*;

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        (-1_i64..6).prop_map(Reply::AuthOk),
        prop::sample::select(vec![-1001, -1002, -1010, -18]).prop_map(Reply::AuthErr),
        Just(Reply::ExecOk),
        prop::sample::select(vec![-1002, -1005, -1008]).prop_map(Reply::ExecErr),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let idempotency = prop_oneof![Just(Idempotency::Idempotent), Just(Idempotency::NotIdempotent)];
    let transport = prop_oneof![
        3 => Just(TransportEvent::Connected),
        1 => Just(TransportEvent::ConnectFailed),
        1 => Just(TransportEvent::Closed),
        1 => Just(TransportEvent::TimedOut),
    ];
    prop_oneof![
        1 => Just(Op::Open),
        3 => idempotency.prop_map(Op::Execute),
        1 => Just(Op::Ping),
        1 => Just(Op::UseSpace),
        4 => transport.prop_map(Op::Transport),
        3 => reply().prop_map(Op::Reply),
        10 => Just(Op::Serve),
        1 => reply().prop_map(Op::StaleReply),
        3 => (0_u64..5_000).prop_map(Op::Advance),
        1 => (5_000_u64..400_000).prop_map(Op::Advance),
        3 => Just(Op::FireNext),
        1 => (0_u64..10_000).prop_map(Op::Regress),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    (any::<bool>(), any::<bool>(), prop::bool::weighted(0.2), any::<bool>()).prop_map(
        |(space, replace, close_on_invalid, tight)| Shape {
            space,
            replace,
            close_on_invalid,
            tight,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_every_promise(
        shape in shape(),
        ops in prop::collection::vec(op(), 1..120),
        close_at in prop::option::of(0..120_usize),
        force in any::<bool>(),
    ) {
        let mut world = World::new(test_config(shape));
        world.apply(&Op::Open);
        for (index, op) in ops.iter().enumerate() {
            if close_at == Some(index) {
                world.apply(if force { &Op::ForceClose } else { &Op::Close });
            }
            world.apply(op);
        }
        world.liveness();
    }
}

#[test]
fn a_healthy_open_execute_close_round_trip_signs_out() {
    let shape = Shape { space: true, replace: false, close_on_invalid: false, tight: false };
    let mut world = World::new(test_config(shape));
    for op in [Op::Open, Op::Execute(Idempotency::NotIdempotent)] {
        world.apply(&op);
    }
    for _ in 0..10 {
        world.apply(&Op::Serve);
    }
    assert!(matches!(world.machine.state(), State::Ready { .. }));
    world.liveness();
    assert_eq!(world.machine.metrics().sessions_signed_out, 1);
}

/// Shrunk from a failure: close drained a USE in flight while its session already waited for
/// sign-out, and the expiry sweep dropped the session although the USE could still keep it alive.
#[test]
fn regression_01_a_session_used_by_a_draining_request_is_not_expired() {
    let shape = Shape { space: true, replace: false, close_on_invalid: false, tight: false };
    let mut world = World::new(test_config(shape));
    for op in [Op::Open, Op::Serve, Op::Serve, Op::Close, Op::Advance(201_000)] {
        world.apply(&op);
    }
    assert!(world.machine.is_closed());
}

/// Shrunk from a failure: a socket failing during close was redialled after the sign-out backoff,
/// which can be later than the close deadline, so the sign-out was abandoned needlessly.
#[test]
fn regression_02_close_redials_before_its_deadline() {
    let shape = Shape { space: false, replace: false, close_on_invalid: false, tight: true };
    let mut world = World::new(test_config(shape));
    for op in [Op::Open, Op::Serve, Op::Serve, Op::Close, Op::Transport(TransportEvent::Closed)] {
        world.apply(&op);
    }
    for op in [Op::FireNext, Op::Serve, Op::Serve] {
        world.apply(&op);
    }
    assert!(world.machine.is_closed());
    assert_eq!(world.machine.metrics().sessions_signed_out, 1);
    assert_eq!(world.machine.metrics().sessions_leaked, 0);
}

/// Shrunk from a failure: a reply deadline re-queued an idempotent request whose queue deadline had
/// already passed, after the queue's deadlines were checked, leaving a due deadline behind.
#[test]
fn regression_03_a_requeued_request_past_its_queue_deadline_fails_in_the_same_step() {
    let shape = Shape { space: false, replace: false, close_on_invalid: false, tight: false };
    let mut world = World::new(test_config(shape));
    let ops = [
        Op::Open,
        Op::Execute(Idempotency::Idempotent),
        Op::Transport(TransportEvent::Connected),
        Op::Serve,
        Op::Reply(Reply::AuthOk(0)),
        Op::Advance(100),
        Op::Serve,
        Op::Serve,
        Op::Advance(29_900),
    ];
    for op in &ops {
        world.apply(op);
    }
    assert!(matches!(world.machine.state(), State::AwaitingReconnect { .. }));
}
