//! Loom models: threads sharing one generator never get the same id, with a frozen clock, a regressing
//! clock, and across a lease extension racing the bound. Run with `cargo xtask loom`.
#![cfg(loom)]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_base::sync::Arc;
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use loom::thread;

const NOW_UNIX_MS: u64 = 1_760_000_000_000;

fn generator(bound_unix_ms: u64) -> Arc<SessionIdGenerator> {
    let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms };
    Arc::new(SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap())
}

/// Each thread issues one id per clock reading it is given; all ids must differ.
fn issue_concurrently(clocks: &[&'static [u64]]) {
    let generator = generator(NOW_UNIX_MS + 1_000);
    let handles: Vec<_> = clocks
        .iter()
        .map(|&clock| {
            let generator = generator.clone();
            thread::spawn(move || {
                clock.iter().map(|&now| generator.next(now).unwrap().get()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<i64> = handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect();
    let issued = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), issued, "duplicate id among {ids:?}");
}

#[test]
fn two_threads_with_a_frozen_clock_never_share_an_id() {
    loom::model(|| issue_concurrently(&[&[NOW_UNIX_MS, NOW_UNIX_MS], &[NOW_UNIX_MS, NOW_UNIX_MS]]));
}

#[test]
fn three_threads_with_a_regressing_clock_never_share_an_id() {
    loom::model(|| {
        issue_concurrently(&[
            &[NOW_UNIX_MS + 5, NOW_UNIX_MS],
            &[NOW_UNIX_MS + 4],
            &[NOW_UNIX_MS - 3_600_000],
        ])
    });
}

#[test]
fn an_extension_racing_the_bound_never_lets_an_id_reach_the_old_bound_twice() {
    loom::model(|| {
        let generator = generator(NOW_UNIX_MS + 1);
        let extender = {
            let generator = generator.clone();
            thread::spawn(move || generator.extend_lease(NOW_UNIX_MS + 2).unwrap())
        };
        let issuer = {
            let generator = generator.clone();
            thread::spawn(move || {
                (0..2)
                    .filter_map(|_| generator.next(NOW_UNIX_MS + 1).ok())
                    .map(|id| id.get())
                    .collect::<Vec<_>>()
            })
        };
        let mut ids =
            generator.next(NOW_UNIX_MS).ok().into_iter().map(|id| id.get()).collect::<Vec<_>>();
        extender.join().unwrap();
        ids.extend(issuer.join().unwrap());
        let issued = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), issued);
        for id in ids {
            let decoded = generator.codec().open(id).unwrap();
            assert!(decoded.unix_ms < generator.lease_bound_unix_ms());
        }
    });
}

#[test]
fn two_threads_racing_across_a_plan_bound_never_share_a_plan_id() {
    loom::model(|| {
        let plans = Arc::new(
            PlanIdGenerator::new(PlanLease { slot: 2, floor_counter: 0, bound_counter: 3 })
                .unwrap(),
        );
        let other = {
            let plans = plans.clone();
            thread::spawn(move || (0..2).filter_map(|_| plans.next().ok()).collect::<Vec<_>>())
        };
        let mut ids: Vec<_> = (0..2).filter_map(|_| plans.next().ok()).collect();
        ids.extend(other.join().unwrap());
        assert_eq!(ids.len(), 3, "exactly the three counters below the bound are issued: {ids:?}");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 3);
    });
}
