//! Property tests of session and plan ids: whatever the clocks do (stalls, steps back and forward by hours,
//! bursts beyond one millisecond's capacity), across restarts with lease floors and several slots, every id
//! is unique, positive, decodes to the slot that issued it and to a time inside its lease.

#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

#[path = "support/world.rs"]
mod world;

use graphsession_id_gen::{
    IdError, Layout, PlanIdGenerator, PlanLease, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use proptest::prelude::*;
use world::{HOUR_MS, Mode, Op, START_UNIX_MS};

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0_u64..50).prop_map(Op::Tick),
        1 => (0_usize..3, -2 * HOUR_MS..2 * HOUR_MS).prop_map(|(slot, delta_ms)| Op::ClockStep { slot, delta_ms }),
        1 => (0_usize..3, prop_oneof![Just(0_i64), Just(-1), Just(1)]).prop_map(|(slot, delta_ms)| Op::ClockStep { slot, delta_ms }),
        4 => (0_usize..3, 1_u32..10_000).prop_map(|(slot, count)| Op::Burst { slot, count }),
        1 => (0_usize..3).prop_map(|slot| Op::Restart { slot }),
    ]
}

/// Runs `ops` in the shared id world, as a proptest failure.
fn run(mode: Mode, slots: &[u16], ops: &[Op]) -> Result<(), TestCaseError> {
    world::run(mode, slots, ops).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn unsealed_ids_are_unique_under_any_clock(ops in prop::collection::vec(op(), 1..40)) {
        run(Mode::Unsealed, &[0, 1, 1023], &ops)?;
    }

    #[test]
    fn sealed_ids_are_unique_and_open_to_their_slot(ops in prop::collection::vec(op(), 1..40)) {
        run(Mode::Sealed, &[5, 6, 7], &ops)?;
    }

    #[test]
    fn js_safe_ids_stay_below_2_pow_53(ops in prop::collection::vec(op(), 1..40)) {
        run(Mode::JsSafe, &[0, 100, 255], &ops)?;
    }

    #[test]
    fn unsealed_ids_of_one_generator_increase_whatever_the_clock(
        clock in prop::collection::vec(START_UNIX_MS - 7_200_000..START_UNIX_MS + 7_200_000, 1..500)
    ) {
        let lease = SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: START_UNIX_MS + 10_000_000 };
        let config = SessionIdConfig { lookahead_max_ms: u64::MAX, ..SessionIdConfig::default() };
        let generator = SessionIdGenerator::unsealed(lease, config).unwrap();
        let mut last = 0;
        for now in clock {
            let id = generator.next(now).unwrap().get();
            prop_assert!(id > last, "{} after {}", id, last);
            last = id;
        }
    }
}

#[test]
fn a_stalled_clock_borrows_from_the_future_then_backs_off() {
    let lease =
        SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: START_UNIX_MS + 1_000_000 };
    let config = SessionIdConfig { lookahead_max_ms: 2, ..SessionIdConfig::default() };
    let generator = SessionIdGenerator::unsealed(lease, config).unwrap();
    // 4,096 ids per millisecond: the 3 milliseconds now, now+1, now+2 hold 12,288 ids.
    for _ in 0..3 * 4096 {
        generator.next(START_UNIX_MS).unwrap();
    }
    assert_eq!(generator.last_issued_unix_ms(), Some(START_UNIX_MS + 2));
    let refused = generator.next(START_UNIX_MS).unwrap_err();
    assert_eq!(refused, IdError::Backpressure { slot: 1, ahead_ms: 3, lookahead_max_ms: 2 });
    // Refusing changed nothing; once the clock catches up, issuing resumes.
    assert_eq!(generator.last_issued_unix_ms(), Some(START_UNIX_MS + 2));
    generator.next(START_UNIX_MS + 1).unwrap();
}

#[test]
fn a_clock_stepped_back_an_hour_does_not_stall_the_generator() {
    let lease =
        SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: START_UNIX_MS + 1_000_000 };
    let generator = SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap();
    let before = generator.next(START_UNIX_MS).unwrap();
    let after = generator.next(START_UNIX_MS - 3_600_000).unwrap();
    assert!(after > before);
}

#[test]
fn a_restarted_holder_issues_above_its_floor_even_with_a_clock_behind_it() {
    // The previous holder persisted bound START+60s; this holder's clock says START-1h.
    let floor = START_UNIX_MS + 60_000;
    let lease = SessionLease { slot: 4, floor_unix_ms: floor, bound_unix_ms: floor + 60_000 };
    let generator = SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap();
    let id = generator.next(START_UNIX_MS - 3_600_000).unwrap();
    assert_eq!(generator.codec().open(id.get()).unwrap().unix_ms, floor);
}

#[test]
fn the_lease_bound_stops_issuing_until_it_is_extended() {
    let lease = SessionLease { slot: 2, floor_unix_ms: 0, bound_unix_ms: START_UNIX_MS + 1 };
    let generator = SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap();
    generator.next(START_UNIX_MS).unwrap();
    let exhausted = generator.next(START_UNIX_MS + 1).unwrap_err();
    assert_eq!(exhausted, IdError::LeaseExhausted { slot: 2, bound: START_UNIX_MS + 1 });
    assert!(matches!(generator.extend_lease(START_UNIX_MS), Err(IdError::InvalidConfig { .. })));
    assert_eq!(generator.lease_bound_unix_ms(), START_UNIX_MS + 1);
    generator.extend_lease(START_UNIX_MS + 2).unwrap();
    generator.next(START_UNIX_MS + 1).unwrap();
}

#[test]
fn times_beyond_the_layout_are_refused_not_wrapped() {
    let last = Layout::SESSION.last_unix_ms();
    let lease = SessionLease { slot: 0, floor_unix_ms: 0, bound_unix_ms: last + 1 };
    let generator = SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap();
    assert_eq!(
        generator.next(last + 1).unwrap_err(),
        IdError::TimeOverflow { unix_ms: last + 1, last_unix_ms: last }
    );
    let id = generator.next(last).unwrap();
    assert_eq!(generator.codec().open(id.get()).unwrap().unix_ms, last);
    let too_far = SessionLease { slot: 0, floor_unix_ms: 0, bound_unix_ms: last + 2 };
    assert!(matches!(
        SessionIdGenerator::unsealed(too_far, SessionIdConfig::default()),
        Err(IdError::TimeOverflow { .. })
    ));
}

#[test]
fn invalid_configurations_are_typed_errors() {
    let config = SessionIdConfig::default();
    let bad_slot = SessionLease { slot: 1024, floor_unix_ms: 0, bound_unix_ms: START_UNIX_MS };
    assert!(matches!(
        SessionIdGenerator::unsealed(bad_slot, config),
        Err(IdError::InvalidConfig { .. })
    ));
    let empty =
        SessionLease { slot: 0, floor_unix_ms: START_UNIX_MS, bound_unix_ms: START_UNIX_MS };
    assert!(matches!(
        SessionIdGenerator::unsealed(empty, config),
        Err(IdError::InvalidConfig { .. })
    ));
    assert!(matches!(Layout::new(41, 10, 13), Err(IdError::InvalidConfig { .. })));
    assert!(matches!(Layout::new(31, 10, 12), Err(IdError::InvalidConfig { .. })));
    assert!(matches!(Layout::new(41, 17, 0), Err(IdError::InvalidConfig { .. })));
    assert_eq!(Layout::new(41, 10, 12).unwrap(), Layout::SESSION);
    let bad_plan = PlanLease { slot: 1024, floor_counter: 0, bound_counter: 1 };
    assert!(matches!(PlanIdGenerator::new(bad_plan), Err(IdError::InvalidConfig { .. })));
    let empty_plan = PlanLease { slot: 0, floor_counter: 5, bound_counter: 5 };
    assert!(matches!(PlanIdGenerator::new(empty_plan), Err(IdError::InvalidConfig { .. })));
    let huge_plan = PlanLease {
        slot: 0,
        floor_counter: 0,
        bound_counter: (1 << graphsession_id_gen::PLAN_COUNTER_BITS) + 1,
    };
    assert!(matches!(PlanIdGenerator::new(huge_plan), Err(IdError::InvalidConfig { .. })));
}

#[test]
fn open_refuses_values_that_are_not_ids() {
    let codec = graphsession_id_gen::SessionIdCodec::unsealed(Layout::JS_SAFE);
    assert!(matches!(codec.open(0), Err(IdError::InvalidId { value: 0, .. })));
    assert!(matches!(codec.open(-3), Err(IdError::InvalidId { value: -3, .. })));
    assert!(matches!(codec.open(1 << 53), Err(IdError::InvalidId { .. })));
}

#[test]
fn plan_ids_stop_at_the_bound_without_moving_and_resume_after_extension() {
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 3, floor_counter: 10, bound_counter: 12 }).unwrap();
    assert_eq!(plans.next().unwrap().counter(), 10);
    assert_eq!(plans.next().unwrap().counter(), 11);
    assert_eq!(plans.next().unwrap_err(), IdError::LeaseExhausted { slot: 3, bound: 12 });
    assert_eq!(plans.next_counter(), 12, "a refused call must not move the counter");
    plans.extend_lease(20).unwrap();
    assert_eq!(plans.next().unwrap().counter(), 12);
    assert_eq!(plans.lease_bound_counter(), 20);
}

#[test]
fn session_ids_serialize_as_plain_integers_and_refuse_non_positive_values() {
    let id = graphsession_id_gen::SessionId::new(77).unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "77");
    assert_eq!(serde_json::from_str::<graphsession_id_gen::SessionId>("77").unwrap(), id);
    assert!(serde_json::from_str::<graphsession_id_gen::SessionId>("0").is_err());
    assert!(serde_json::from_str::<graphsession_id_gen::SessionId>("-1").is_err());
}

/// Shrunk by proptest (`unsealed_ids_of_one_generator_increase_whatever_the_clock`): an unlimited look-ahead
/// (`u64::MAX`) overflowed the limit computation of the fast path.
#[test]
fn regression_01_an_unlimited_lookahead_does_not_overflow() {
    let lease =
        SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: START_UNIX_MS + 10_000_000 };
    let config = SessionIdConfig { lookahead_max_ms: u64::MAX, ..SessionIdConfig::default() };
    let generator = SessionIdGenerator::unsealed(lease, config).unwrap();
    let first = generator.next(START_UNIX_MS - 7_200_000).unwrap();
    assert!(generator.next(START_UNIX_MS - 7_200_000).unwrap() > first);
}
