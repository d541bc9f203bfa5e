//! The server registry against a reference model: a `BTreeMap` of sessions and the rules of the
//! reference, single-threaded and obviously correct. Proptest drives both with random sequences of
//! login, execute (begin/finish), touch, USE, session variables, sign-out, KILL SESSION, KILL
//! QUERY, GRANT/REVOKE, clock steps forward and back, expiry rounds, and the cluster's calls
//! (install, adopt a space, end, kill a query); every result must match, the SHOW SESSIONS rows
//! and the cluster's view must match, and `check_invariants()` must hold after every step.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

#[path = "../server_support/model.rs"]
mod model;

use model::{Harness, Op};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3_usize, 0..2_usize).prop_map(|(user, ip)| Op::Login { user, ip }),
        2 => any::<u16>().prop_map(Op::Touch),
        3 => any::<u16>().prop_map(Op::Begin),
        3 => any::<u16>().prop_map(Op::Finish),
        2 => (any::<u16>(), 0..2_usize).prop_map(|(session, space)| Op::Use { session, space }),
        1 => any::<u16>().prop_map(Op::SignOut),
        1 => (any::<u16>(), 0..3_usize)
            .prop_map(|(session, name)| Op::SetVariable { session, name }),
        1 => (any::<bool>(), any::<u16>())
            .prop_map(|(by_root, target)| Op::KillSession { by_root, target }),
        1 => (0..3_usize, any::<u16>()).prop_map(|(by, query)| Op::KillQuery { by, query }),
        1 => (1..3_usize, 0..2_usize, 0..4_usize)
            .prop_map(|(user, space, role)| Op::Grant { user, space, role }),
        1 => (1..3_usize, 0..2_usize).prop_map(|(user, space)| Op::Revoke { user, space }),
        3 => (-1_500..1_500_i64).prop_map(|step_ms| Op::Clock { step_ms }),
        2 => Just(Op::Timeout),
        2 => (0..8_u8, 0..3_usize, 0..2_usize, 0..3_usize, 0..2_000_u16).prop_map(
            |(id, user, ip, space, idle_ms)| Op::Install { id, user, ip, space, idle_ms }
        ),
        2 => (any::<u16>(), 0..2_usize, -1_500..1_500_i64)
            .prop_map(|(session, space, offset_ms)| Op::AdoptSpace { session, space, offset_ms }),
        1 => (any::<u16>(), any::<bool>())
            .prop_map(|(session, expired)| Op::EndFromCluster { session, expired }),
        1 => any::<u16>().prop_map(Op::KillFromCluster),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_registry_matches_the_reference_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut harness = Harness::new();
        for op in &ops {
            harness.step(op);
            harness.compare();
        }
    }
}

#[test]
fn a_session_due_while_its_query_runs_expires_one_timeout_after_the_query_ends() {
    let mut harness = Harness::new();
    let script = [Op::Login { user: 1, ip: 0 }, Op::Begin(2)];
    for op in &script {
        harness.step(op);
        harness.compare();
    }
    for op in [
        Op::Clock { step_ms: 1_400 },
        Op::Timeout,
        Op::Finish(0),
        Op::Clock { step_ms: 999 },
        Op::Timeout,
    ] {
        harness.step(&op);
        harness.compare();
    }
    assert_eq!(harness.real.session_count(), 1);
    harness.step(&Op::Clock { step_ms: 1 });
    harness.step(&Op::Timeout);
    harness.compare();
    assert_eq!(harness.real.session_count(), 0);
}

/// Shrunk from a proptest failure: a refused call (a ping with id 0, a KILL SESSION without GOD)
/// must still advance the node clock, or a later login gets an earlier create time than the model.
#[test]
fn model_regression_01_refused_calls_advance_the_clock() {
    let mut harness = Harness::new();
    for op in [
        Op::Touch(0),
        Op::KillSession { by_root: false, target: 1 },
        Op::Clock { step_ms: -1 },
        Op::Login { user: 0, ip: 0 },
    ] {
        harness.step(&op);
        harness.compare();
    }
}
