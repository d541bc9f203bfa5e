//! The fields of ids as an admin tool or a host reads them: layouts' widths, the sequence a decoded
//! session id carries, the codec's sealed flag and what its Debug shows, plan ids built from their
//! parts, and the plan lease's bound, which only grows.

#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_id_gen::{
    IdError, Layout, PLAN_COUNTER_BITS, PlanId, PlanIdGenerator, PlanLease, SealKey,
    SessionIdCodec, SessionIdConfig, SessionIdGenerator, SessionLease,
};

const NOW_UNIX_MS: u64 = 1_760_000_000_000;
const KEY: SealKey = SealKey::from_bytes(*b"sixteen byte key");
const PLAN_COUNTER_MAX: u64 = (1 << PLAN_COUNTER_BITS) - 1;

fn lease(slot: u16) -> SessionLease {
    SessionLease { slot, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 }
}

#[test]
fn each_layout_reports_the_widths_it_was_built_with() {
    let widths = |layout: Layout| (layout.time_bits(), layout.slot_bits(), layout.sequence_bits());
    assert_eq!(widths(Layout::SESSION), (41, 10, 12));
    assert_eq!(widths(Layout::JS_SAFE), (41, 8, 4));
    let custom = Layout::new(40, 6, 3).unwrap();
    assert_eq!((widths(custom), custom.width_bits(), custom.slot_count()), ((40, 6, 3), 49, 64));
}

#[test]
fn ids_of_one_millisecond_decode_to_consecutive_sequence_numbers_from_zero() {
    for layout in [Layout::SESSION, Layout::JS_SAFE] {
        let config = SessionIdConfig { layout, ..SessionIdConfig::default() };
        let unsealed = SessionIdGenerator::unsealed(lease(3), config).unwrap();
        let sealed = SessionIdGenerator::new(lease(5), KEY, config).unwrap();
        for (generator, slot) in [(unsealed, 3), (sealed, 5)] {
            let codec = generator.codec();
            let decoded: Vec<_> = (0..3)
                .map(|_| codec.open(generator.next(NOW_UNIX_MS).unwrap().get()).unwrap())
                .collect();
            let fields: Vec<_> = decoded.iter().map(|d| (d.slot, d.unix_ms, d.sequence)).collect();
            let expected: Vec<_> = (0..3).map(|sequence| (slot, NOW_UNIX_MS, sequence)).collect();
            assert_eq!(fields, expected, "{layout:?}");
        }
    }
}

#[test]
fn a_codec_says_whether_it_seals_and_its_debug_shows_that_but_not_the_key() {
    let sealed = SessionIdCodec::sealed(Layout::SESSION, KEY);
    let unsealed = SessionIdCodec::unsealed(Layout::JS_SAFE);
    assert!(sealed.is_sealed());
    assert!(!unsealed.is_sealed());
    let shown = format!("{sealed:?}");
    assert!(shown.starts_with("SessionIdCodec") && shown.contains("sealed: true"), "{shown}");
    assert!(!shown.contains("sixteen"), "{shown}");
    assert!(format!("{unsealed:?}").contains("sealed: false"));
}

#[test]
fn a_plan_id_is_built_from_any_slot_and_counter_that_fit_and_from_nothing_else() {
    for (slot, counter) in [(0, 0), (1, 1), (5, 1_000), (1_023, PLAN_COUNTER_MAX), (512, 1 << 40)] {
        let id = PlanId::from_parts(slot, counter).unwrap();
        assert_eq!((id.slot(), id.counter()), (slot, counter));
        assert_eq!(id.get(), (u64::from(slot) << PLAN_COUNTER_BITS) | counter);
    }
    assert_eq!(PlanId::from_parts(1_024, 0), None);
    assert_eq!(PlanId::from_parts(0, PLAN_COUNTER_MAX + 1), None);
    assert_eq!(PlanId::from_parts(u16::MAX, u64::MAX), None);
}

#[test]
fn every_plan_id_is_a_positive_i64_as_on_nebulagraphs_wire() {
    let largest = PlanId::from_parts(1_023, PLAN_COUNTER_MAX).unwrap();
    assert_eq!(largest.get(), u64::from_ne_bytes(i64::MAX.to_ne_bytes()));
    assert_eq!(largest.to_string(), i64::MAX.to_string());
}

#[test]
fn a_plan_id_prints_as_its_wire_value() {
    let id = PlanId::from_parts(2, 7).unwrap();
    assert_eq!(id.to_string(), ((2_u64 << PLAN_COUNTER_BITS) | 7).to_string());
    assert_eq!(PlanId::from_u64(42).to_string(), "42");
    assert_eq!(PlanId::from_u64(u64::from_ne_bytes((-5_i64).to_ne_bytes())).to_string(), "-5");
}

#[test]
fn a_plan_lease_bound_may_be_extended_to_itself_or_beyond_but_never_lowered() {
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 4, floor_counter: 10, bound_counter: 12 }).unwrap();
    assert_eq!(plans.extend_lease(12), Ok(()), "extending to the current bound is a no-op");
    assert_eq!(plans.lease_bound_counter(), 12);
    assert!(matches!(plans.extend_lease(11), Err(IdError::InvalidConfig { .. })));
    assert_eq!(plans.lease_bound_counter(), 12, "a refused extension changes nothing");
    plans.extend_lease(13).unwrap();
    let counters: Vec<u64> = (0..3).map(|_| plans.next().unwrap().counter()).collect();
    assert_eq!(counters, [10, 11, 12]);
    assert_eq!(plans.next(), Err(IdError::LeaseExhausted { slot: 4, bound: 13 }));
}

#[test]
fn a_seal_key_never_shows_its_bytes() {
    assert_eq!(format!("{KEY:?}"), "SealKey(<redacted>)");
}

#[test]
fn a_plan_lease_may_reach_one_past_the_largest_counter_and_no_further() {
    let last =
        PlanLease { slot: 7, floor_counter: PLAN_COUNTER_MAX, bound_counter: PLAN_COUNTER_MAX + 1 };
    let plans = PlanIdGenerator::new(last).unwrap();
    assert_eq!(plans.slot(), 7);
    let id = plans.next().unwrap();
    assert_eq!((id.slot(), id.counter()), (7, PLAN_COUNTER_MAX));
    assert!(matches!(plans.next(), Err(IdError::LeaseExhausted { slot: 7, .. })));
    assert!(matches!(plans.extend_lease(PLAN_COUNTER_MAX + 2), Err(IdError::InvalidConfig { .. })));
    let beyond = PlanLease { bound_counter: PLAN_COUNTER_MAX + 2, ..last };
    assert!(matches!(PlanIdGenerator::new(beyond), Err(IdError::InvalidConfig { .. })));
}

#[test]
fn sealed_ids_are_stable_across_versions() {
    // Known answers: an id sealed by one version must open to the same fields in every later one
    // (hosts persist ids, admin tools decode them). Changing the network changes these values.
    let mut issued = Vec::new();
    for layout in [Layout::SESSION, Layout::JS_SAFE] {
        let config = SessionIdConfig { layout, ..SessionIdConfig::default() };
        let generator = SessionIdGenerator::new(lease(9), KEY, config).unwrap();
        issued.push([(); 2].map(|()| generator.next(NOW_UNIX_MS).unwrap().get()));
    }
    let expected = [
        [353_329_607_379_089_089, 6_754_614_041_443_471_987],
        [2_570_814_539_903_247, 2_322_631_164_437_118],
    ];
    assert_eq!(issued, expected);
    let opened = SessionIdCodec::sealed(Layout::SESSION, KEY).open(expected[0][1]).unwrap();
    assert_eq!((opened.slot, opened.unix_ms, opened.sequence), (9, NOW_UNIX_MS, 1));
}

#[test]
fn after_a_hand_over_the_first_id_starts_at_the_floor_with_sequence_zero() {
    // The previous holder persisted a bound 5 ms ahead of this node's clock.
    let floor_unix_ms = NOW_UNIX_MS + 5;
    let lease = SessionLease { slot: 2, floor_unix_ms, bound_unix_ms: NOW_UNIX_MS + 60_000 };
    let generator = SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap();
    assert_eq!((generator.slot(), generator.last_issued_unix_ms()), (2, None));
    let first = generator.next(NOW_UNIX_MS).unwrap();
    let decoded = generator.codec().open(first.get()).unwrap();
    assert_eq!((decoded.slot, decoded.unix_ms, decoded.sequence), (2, floor_unix_ms, 0));
    assert_eq!(generator.last_issued_unix_ms(), Some(floor_unix_ms));
    assert_eq!(first.to_string(), first.get().to_string(), "an id prints as its number");
}

#[test]
fn a_session_lease_bound_may_be_extended_to_itself_but_never_lowered() {
    let bound_unix_ms = NOW_UNIX_MS + 60_000;
    let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms };
    let generator = SessionIdGenerator::new(lease, KEY, SessionIdConfig::default()).unwrap();
    assert_eq!(generator.extend_lease(bound_unix_ms), Ok(()), "extending to itself is a no-op");
    assert!(matches!(
        generator.extend_lease(bound_unix_ms - 1),
        Err(IdError::InvalidConfig { .. })
    ));
    assert_eq!(generator.lease_bound_unix_ms(), bound_unix_ms);
}
