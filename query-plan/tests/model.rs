//! Proves that the registry behaves like a small, obviously correct reference model (a few
//! `BTreeMap`s and hand-written rules, scanning everything) under random sequences of session,
//! register, finish, fail, executor finish and checkpoint, KILL QUERY, session kill, close, clock
//! and SHOW steps, and that `check_invariants()` holds after every step.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are tiny")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

#[path = "support/model.rs"]
mod support;

use proptest::prelude::*;
use support::{Op, run};

fn op() -> impl Strategy<Value = Op> {
    let session = 1_i64..=4;
    let plan = 0_u64..5;
    let key = || (session.clone(), plan.clone());
    let register = (key(), 0_usize..11, proptest::option::of(0_u64..60), -5_i64..5).prop_map(
        |((session, plan), statement_bytes, deadline_after_us, skew_us)| Op::Register {
            session,
            plan,
            statement_bytes,
            deadline_after_us,
            skew_us,
        },
    );
    let target = proptest::option::of(session.clone());
    let kill_query = (0_usize..3, session.clone(), target, plan.clone(), any::<bool>()).prop_map(
        |(caller, current, target, plan, enforced)| Op::KillQuery {
            caller,
            current,
            target,
            plan,
            enforced,
        },
    );
    prop_oneof![
        2 => (session.clone(), 0_usize..4)
            .prop_map(|(session, user)| Op::OpenSession { session, user }),
        1 => (session.clone(), any::<bool>())
            .prop_map(|(session, expired)| Op::CloseSession { session, expired }),
        6 => register,
        3 => key().prop_map(|(session, plan)| Op::Finish { session, plan }),
        1 => key().prop_map(|(session, plan)| Op::Fail { session, plan }),
        2 => key().prop_map(|(session, plan)| Op::ExecutorFinish { session, plan }),
        1 => key().prop_map(|(session, plan)| Op::Checkpoint { session, plan }),
        3 => kill_query,
        1 => (session.clone(), any::<bool>())
            .prop_map(|(session, expired)| Op::KillSession { session, expired }),
        3 => (-20_i64..40).prop_map(|delta_us| Op::Clock { delta_us }),
        2 => Just(Op::ClockToDeadline),
        1 => (0_usize..3, -10_i64..10).prop_map(|(caller, delta_us)| Op::Show { caller, delta_us }),
        1 => session.prop_map(|session| Op::ShowLocal { session }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn registry_matches_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(&ops);
    }
}

#[test]
fn model_regression_kill_after_executor_finished_reports_not_found_and_drops_the_deadline() {
    run(&[
        Op::OpenSession { session: 1, user: 1 },
        Op::Register {
            session: 1,
            plan: 0,
            statement_bytes: 1,
            deadline_after_us: Some(5),
            skew_us: 0,
        },
        Op::ExecutorFinish { session: 1, plan: 0 },
        Op::KillQuery { caller: 1, current: 1, target: None, plan: 0, enforced: true },
        Op::Clock { delta_us: 10 },
        Op::Finish { session: 1, plan: 0 },
    ]);
}

#[test]
fn model_regression_close_session_kills_running_and_keeps_first_causes() {
    run(&[
        Op::OpenSession { session: 2, user: 2 },
        Op::Register {
            session: 2,
            plan: 0,
            statement_bytes: 1,
            deadline_after_us: Some(3),
            skew_us: 0,
        },
        Op::Register {
            session: 2,
            plan: 1,
            statement_bytes: 1,
            deadline_after_us: None,
            skew_us: 0,
        },
        Op::Register {
            session: 2,
            plan: 2,
            statement_bytes: 1,
            deadline_after_us: None,
            skew_us: 0,
        },
        Op::Clock { delta_us: 5 },
        Op::ExecutorFinish { session: 2, plan: 2 },
        Op::CloseSession { session: 2, expired: true },
        Op::ExecutorFinish { session: 2, plan: 1 },
        Op::Finish { session: 2, plan: 1 },
    ]);
}

#[test]
fn model_regression_kill_query_on_another_users_session_with_authorization_off() {
    // KILL QUERY's permission step applies even with authorization off (the order of fix 6 in
    // docs/fixes.md: session, then permission, then plan).
    run(&[
        Op::OpenSession { session: 2, user: 0 },
        Op::KillQuery { caller: 1, current: 1, target: Some(2), plan: 0, enforced: false },
    ]);
}
