//! The judge of recorded real runs (`graphsession_sim::recorded`): a run as two graphd
//! processes on one log would record it passes, and each broken variant of it is caught with its
//! property: an id issued twice, a replica that applied another entry or answered otherwise, a
//! session meta ended without the test's kill, a session leaked or lost at the end, a kill that
//! landed late, a listing with a session twice, a killed query answered a success or late.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

use graphsession_core::cluster::{
    MetaConfig, MetaStore, NodeId, QueryKill, QueryReport, Removal, RemoveReason, Request,
    RequestId, SessionReport,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{QueryKey, QueryStatus};
use graphsession_sim::property::property_of;
use graphsession_sim::recorded::{Entry, Recorded, judge};

const T0: u64 = 1_763_900_000_000;
const BOUND_MS: u64 = 2_500;

fn sid(id: i64) -> SessionId {
    SessionId::new(id).unwrap()
}

fn request(round: u64) -> Request {
    Request::empty(RequestId { incarnation: 1, round })
}

fn report(id: i64) -> SessionReport {
    SessionReport::logged_in(sid(id), "root", "127.0.0.1", T0)
}

/// Node 1 (process 10) creates sessions 1 and 2, node 2 (process 20) picks 2 up; node 1 kills 2
/// at meta at T0 + 1000, node 2 lets it go 600 ms later. Both processes applied the whole log.
fn run() -> Vec<Recorded> {
    let meta = MetaConfig::default();
    let mut created = request(1);
    created.created = vec![report(1), report(2)];
    let mut killed = request(2);
    killed.removals.push(Removal { session: sid(2), reason: RemoveReason::Killed });
    let running = QueryKey { session: sid(1), plan: PlanId::from_u64(9) };
    // Session 1 runs plan 9 on node 1, which reports it with the kill (meta refuses a kill of a
    // plan no holder reported).
    killed.updated = vec![SessionReport { running_queries: 1, ..report(1) }];
    killed.queries = Some(vec![QueryReport {
        key: running,
        start_time_unix_us: T0 * 1_000,
        status: QueryStatus::Running,
        statement: "YIELD 1".into(),
    }]);
    killed.query_kills.push(QueryKill {
        key: running,
        caller_user: "root".into(),
        caller_is_god: true,
    });
    let entries = [
        Entry::Request { now_ms: T0, node: 1, request: Box::new(created) },
        Entry::Tick { now_ms: T0 + 500 },
        Entry::Request { now_ms: T0 + 1_000, node: 1, request: Box::new(killed) },
    ];
    let mut store = MetaStore::new(meta).unwrap();
    let mut events = vec![
        Recorded::Started { process: 10, at_ms: T0, meta },
        Recorded::Started { process: 20, at_ms: T0, meta },
        Recorded::SessionIssued { process: 10, node: 1, session: 1, at_ms: T0 },
        Recorded::SessionIssued { process: 10, node: 1, session: 2, at_ms: T0 },
        Recorded::LoggedIn { session: 1, at_ms: T0 + 10 },
        Recorded::LoggedIn { session: 2, at_ms: T0 + 10 },
        Recorded::SessionHeld { process: 20, node: 2, session: 2, at_ms: T0 + 300 },
        Recorded::PlanIssued { process: 20, node: 2, session: 2, plan: 7, at_ms: T0 + 400 },
        Recorded::SessionEnded {
            process: 10,
            node: 1,
            session: 2,
            at_ms: T0 + 990,
            reason: "Killed".into(),
        },
        Recorded::KilledByClient { session: 2, at_ms: T0 + 1_050 },
        Recorded::SessionEnded {
            process: 20,
            node: 2,
            session: 2,
            at_ms: T0 + 1_600,
            reason: "EndedElsewhere".into(),
        },
        Recorded::Listed { sessions: vec![1], at_ms: T0 + 2_000 },
        Recorded::QueryAnswered { session: 1, plan: 9, code: -1005, at_ms: T0 + 1_700 },
        Recorded::QueryAnswered { session: 1, plan: 8, code: 0, at_ms: T0 + 1_700 },
    ];
    for (revision, entry) in (1_i64..).zip(entries) {
        let answer = match &entry {
            Entry::Request { now_ms, node, request } => {
                Some(Box::new(store.handle_request(*now_ms, NodeId(*node), (**request).clone())))
            }
            Entry::Tick { now_ms } => {
                store.handle_timeout(*now_ms);
                None
            }
        };
        for process in [10, 20] {
            let (entry, answer) = (entry.clone(), answer.clone());
            events.push(Recorded::Applied { process, revision, entry, answer });
        }
    }
    events.push(Recorded::End { live: vec![1], at_ms: T0 + 10_000 });
    events
}

fn violation(events: &[Recorded]) -> String {
    judge(events, BOUND_MS).unwrap_err()
}

#[test]
fn a_sound_run_passes_with_what_it_showed() {
    let verdict = judge(&run(), BOUND_MS).unwrap();
    assert_eq!((verdict.entries, verdict.applied), (3, 6));
    assert_eq!((verdict.sessions, verdict.plans, verdict.meta_ends), (2, 1, 1));
    assert_eq!(verdict.kill_staleness_ms, [600]);
    assert_eq!(verdict.query_kill_staleness_ms, [700]);
}

#[test]
fn a_killed_query_answered_a_success_or_late_is_caught() {
    let mut events = run();
    events.push(Recorded::QueryAnswered { session: 1, plan: 9, code: 0, at_ms: T0 + 1_800 });
    assert_eq!(property_of(&violation(&events)), "killed_query_succeeded");
    let mut events = run();
    events.push(Recorded::QueryAnswered { session: 1, plan: 9, code: -1005, at_ms: T0 + 3_501 });
    assert!(violation(&events).starts_with("kill oracle: query (session 1, plan 9)"));
}

#[test]
fn an_id_issued_twice_is_caught() {
    let mut events = run();
    events.push(Recorded::PlanIssued { process: 10, node: 1, session: 1, plan: 7, at_ms: T0 });
    assert_eq!(property_of(&violation(&events)), "duplicate_id");
    let mut events = run();
    events.push(Recorded::SessionIssued { process: 20, node: 2, session: 1, at_ms: T0 });
    assert_eq!(property_of(&violation(&events)), "duplicate_id");
    let mut events = run();
    events.push(Recorded::LoggedIn { session: 99, at_ms: T0 });
    assert_eq!(property_of(&violation(&events)), "unknown_id");
}

#[test]
fn replicas_that_disagree_are_caught() {
    let mut events = run();
    let applied = events.iter_mut().rev().find(|event| matches!(event, Recorded::Applied { .. }));
    if let Some(Recorded::Applied { answer, .. }) = applied {
        *answer = None;
    }
    assert_eq!(property_of(&violation(&events)), "replicas_disagree");
    let mut events = run();
    events.push(Recorded::Applied {
        process: 30,
        revision: 2,
        entry: Entry::Tick { now_ms: T0 + 501 },
        answer: None,
    });
    assert_eq!(property_of(&violation(&events)), "replicas_disagree");
}

#[test]
fn a_session_lost_leaked_or_listed_twice_is_caught() {
    let mut events = run();
    events.retain(|event| !matches!(event, Recorded::KilledByClient { .. }));
    assert_eq!(property_of(&violation(&events)), "lost");
    let mut events = run();
    events.push(Recorded::End { live: vec![1, 2], at_ms: T0 + 10_000 });
    assert_eq!(property_of(&violation(&events)), "lost");
    let mut events = run();
    events.push(Recorded::End { live: Vec::new(), at_ms: T0 + 10_000 });
    assert_eq!(property_of(&violation(&events)), "leak");
    let mut events = run();
    events.push(Recorded::Listed { sessions: vec![1, 1], at_ms: T0 });
    assert_eq!(property_of(&violation(&events)), "show_sessions");
}

#[test]
fn a_kill_that_lands_late_is_caught_unless_its_process_stopped() {
    let late = |events: &mut Vec<Recorded>| {
        events.retain(|event| !matches!(event, Recorded::SessionEnded { process: 20, .. }));
    };
    let mut events = run();
    late(&mut events);
    assert!(violation(&events).starts_with("kill oracle: process 20 node 2: session 2"));
    let mut events = run();
    late(&mut events);
    events.push(Recorded::ProcessStopped { process: 20, at_ms: T0 + 3_000 });
    assert!(judge(&events, BOUND_MS).is_ok());
    let mut events = run();
    late(&mut events);
    events.push(Recorded::ProcessStopped { process: 20, at_ms: T0 + 3_501 });
    assert!(violation(&events).contains("still runs 2501 ms"));
}
