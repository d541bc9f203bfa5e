//! The node-side machine on its own, fed arbitrary answers (matching its request or not, with
//! any content) between arbitrary local changes and timer calls at arbitrary times: it never
//! panics, keeps its invariants after every step, never has more than one request waiting, and
//! applies an answer only to the request in flight.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use crate::cluster_support::{FakeLocal, START, fast_node_config, key, sid};
use graphsession_core::cluster::{
    Answer, Gone, GoneReason, NodeId, NodeSync, Page, QueryKill, QueryKillResult, Refusal,
    RemovalOutcome, RemoveReason, Reply, RequestId, SessionRecord,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Login(i64),
    Touch(i64),
    Remove(i64),
    PickUp(i64),
    Kill(i64, u64),
    Show,
    Timer(u64),
    /// An answer to the request in flight (`true`) or to a made-up id.
    Answer {
        to_in_flight: bool,
        reply: Box<Reply>,
    },
    Refused {
        to_in_flight: bool,
        stale: bool,
    },
}

fn record(id: i64) -> SessionRecord {
    SessionRecord {
        session: sid(id),
        user: "alice".into(),
        client_ip: "10.0.0.1".into(),
        space: "nba".into(),
        space_set_unix_ms: START + 5,
        created_unix_ms: START,
        last_activity_unix_ms: START,
        owner: NodeId(2),
    }
}

fn reply() -> impl Strategy<Value = Reply> {
    let ids = || proptest::collection::vec(1..8_i64, 0..3);
    (
        (any::<u64>(), any::<bool>(), any::<bool>()),
        (ids(), ids(), ids(), ids(), ids()),
        proptest::option::of(proptest::option::of(1..8_i64)),
        any::<bool>(),
    )
        .prop_map(|((seq, more, resync), lists, reload, show)| {
            let (gone, records, not_found, kills, removals) = lists;
            Reply {
                id: RequestId { incarnation: 0, round: 0 },
                changes_seen_seq: seq,
                more_changes: more,
                resync,
                gone: (gone.iter())
                    .map(|&id| Gone { session: sid(id), reason: GoneReason::Killed })
                    .collect(),
                records: records.iter().map(|&id| record(id)).collect(),
                not_found: not_found.iter().map(|&id| sid(id)).collect(),
                kills: kills.iter().map(|&id| key(id, 1)).collect(),
                removals: (removals.iter())
                    .map(|&id| RemovalOutcome { session: sid(id), removed: true })
                    .collect(),
                query_kills: vec![(key(1, 1), QueryKillResult::Recorded)],
                reload: reload
                    .map(|next| Page { records: vec![record(7)], next_after: next.map(sid) }),
                sessions: show.then(|| Page { records: Vec::new(), next_after: None }),
                queries: show.then(Vec::new),
                shown: records.iter().map(|&id| record(id)).collect(),
            }
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1..8_i64).prop_map(Step::Login),
        (1..8_i64).prop_map(Step::Touch),
        (1..8_i64).prop_map(Step::Remove),
        (1..8_i64).prop_map(Step::PickUp),
        (1..8_i64, 0..3_u64).prop_map(|(id, plan)| Step::Kill(id, plan)),
        Just(Step::Show),
        (0..20_000_u64).prop_map(Step::Timer),
        (any::<bool>(), reply()).prop_map(|(to_in_flight, reply)| Step::Answer {
            to_in_flight,
            reply: Box::new(reply)
        }),
        (any::<bool>(), any::<bool>())
            .prop_map(|(to_in_flight, stale)| Step::Refused { to_in_flight, stale }),
    ]
}

proptest! {
    #[test]
    fn any_answers_keep_the_node_invariants(steps in proptest::collection::vec(step(), 1..60)) {
        let mut node = NodeSync::new(fast_node_config(), 3, START).unwrap();
        let mut local = FakeLocal::default();
        let mut in_flight: Option<RequestId> = None;
        let mut now = START;
        for step in steps {
            match step {
                Step::Login(id) => {
                    local.login(sid(id), "alice", now);
                    let _ = node.announce(now, sid(id));
                }
                Step::Touch(id) => {
                    local.touch(sid(id), now);
                }
                Step::Remove(id) => {
                    local.end(sid(id));
                    let _ = node.remove(now, sid(id), RemoveReason::Killed);
                }
                Step::PickUp(id) => {
                    let _ = node.pick_up(now, sid(id));
                }
                Step::Kill(id, plan) => {
                    let kill = QueryKill {
                        key: key(id, plan),
                        caller_user: "root".into(),
                        caller_is_god: true,
                    };
                    let _ = node.kill_query(now, kill);
                }
                Step::Show => node.show_sessions(now),
                Step::Timer(advance) => {
                    now = now.saturating_add(advance).saturating_sub(1_000);
                    node.handle_timeout(now, &local);
                    if let Some(request) = node.poll_request() {
                        in_flight = Some(request.id);
                    }
                    prop_assert!(node.poll_request().is_none());
                }
                Step::Answer { to_in_flight, mut reply } => {
                    let made_up = RequestId { incarnation: 99, round: 1 };
                    reply.id = if to_in_flight { in_flight.unwrap_or(made_up) } else { made_up };
                    let before = node.counters().0;
                    let matched = node.is_awaiting_answer() && Some(reply.id) == in_flight;
                    node.handle_answer(now, Answer::Reply(*reply), &mut local);
                    prop_assert_eq!(node.counters().0, before + u64::from(!matched));
                }
                Step::Refused { to_in_flight, stale } => {
                    let id = if to_in_flight {
                        in_flight.unwrap_or(RequestId { incarnation: 0, round: 0 })
                    } else {
                        RequestId { incarnation: 99, round: 1 }
                    };
                    let refusal = if stale {
                        Refusal::Stale { last: RequestId { incarnation: 3, round: 50 } }
                    } else {
                        Refusal::NodesFull { nodes_max: 1 }
                    };
                    node.handle_answer(now, Answer::Refused { id, refusal }, &mut local);
                }
            }
            node.check_invariants().unwrap();
            while node.poll_event().is_some() {}
        }
        let floor = RequestId { incarnation: 3, round: 0 };
        prop_assert!(node.next_request_id() > floor, "ids never go below the incarnation");
    }
}
