//! The meta store on its own: its persistent form round-trips through serde and a corrupt,
//! truncated or foreign snapshot is a typed error with nothing applied; every limit refuses with
//! a typed answer; a node that missed collected tombstones is told to resync and drops what meta
//! no longer knows; configurations are validated. A capture keeps its instant while the store
//! changes, and a node's restart ends the queries meta counted for it.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use crate::cluster_support::{Cluster, START, fast_meta_config, fast_node_config, key, sid};
use graphsession_core::cluster::{
    Answer, GoneReason, META_FORMAT_VERSION, MetaConfig, MetaSnapshot, MetaStore, NodeConfig,
    NodeId, PersistError, QueryKill, QueryKillResult, QueryReport, Refusal, RemoveReason, Request,
    RequestId, SessionReport,
};
use graphsession_query_plan::QueryStatus;

const TICK_MS: u64 = 10;

fn report(id: i64, now: u64) -> SessionReport {
    SessionReport {
        session: sid(id),
        user: "alice".into(),
        client_ip: "10.0.0.1".into(),
        space: "nba".into(),
        space_set_unix_ms: now,
        created_unix_ms: now,
        last_activity_unix_ms: now,
        running_queries: 0,
    }
}

/// An empty request of round `round` (incarnation 1).
pub(crate) fn request(round: u64) -> Request {
    Request::empty(RequestId { incarnation: 1, round })
}

fn reply(answer: Answer) -> graphsession_core::cluster::Reply {
    match answer {
        Answer::Reply(reply) => reply,
        Answer::Refused { refusal, .. } => panic!("refused: {refusal:?}"),
    }
}

/// A store with live sessions, a tombstone and a kill mark.
fn busy_store() -> MetaStore {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut first = request(1);
    first.created = vec![report(1, START), report(2, START), report(3, START)];
    reply(meta.handle_request(START, NodeId(1), first));
    let mut second = request(2);
    second.removals.push(graphsession_core::cluster::Removal {
        session: sid(2),
        reason: RemoveReason::Killed,
    });
    // Session 1 runs plan 5 on node 1, which reports it before its KILL QUERY.
    second.updated = vec![SessionReport { running_queries: 1, ..report(1, START + 1) }];
    second.queries = Some(vec![QueryReport {
        key: key(1, 5),
        start_time_unix_us: START * 1_000,
        status: QueryStatus::Running,
        statement: "YIELD 1".to_owned(),
    }]);
    second.query_kills.push(QueryKill {
        key: key(1, 5),
        caller_user: "alice".into(),
        caller_is_god: false,
    });
    reply(meta.handle_request(START + 1, NodeId(1), second));
    assert_eq!((meta.live_count(), meta.kill_mark_count()), (2, 1));
    meta
}

#[test]
fn the_snapshot_round_trips_through_json_and_the_restored_store_behaves_the_same() {
    let meta = busy_store();
    let json = serde_json::to_string(&meta.snapshot()).unwrap();
    let snapshot: MetaSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(snapshot.format_version(), META_FORMAT_VERSION);
    let mut restored = MetaStore::restore(fast_meta_config(), snapshot).unwrap();
    assert_eq!(restored.snapshot(), meta.snapshot());
    // The restored store still refuses the old request ids and still knows the tombstone.
    match restored.handle_request(START + 2, NodeId(1), request(2)) {
        Answer::Refused { refusal: Refusal::Stale { .. }, .. } => {}
        other => panic!("{other:?}"),
    }
    let mut late = request(3);
    late.updated.push(report(2, START + 2));
    let answer = reply(restored.handle_request(START + 2, NodeId(1), late));
    assert_eq!(answer.gone[0].reason, GoneReason::Killed);
    assert!(restored.session(sid(2)).is_none());
}

#[test]
fn a_store_taken_apart_persists_the_same_snapshot_as_one_copied() {
    let meta = busy_store();
    let copied = meta.snapshot();
    assert_eq!(meta.clone().into_snapshot(), copied);
    let restored = MetaStore::restore(fast_meta_config(), meta.into_snapshot()).unwrap();
    assert_eq!(restored.snapshot(), copied);
}

#[test]
fn a_capture_keeps_its_instant_while_the_store_changes_and_the_store_its_changes() {
    let mut meta = busy_store();
    let before = meta.snapshot();
    let captured = meta.capture();
    assert_eq!(captured.sessions(), 3, "two live sessions and a tombstone");

    // A new activity and a vote, then a new process of node 1 (its holders reset), a removal
    // and a create: every way an entry changes, after the capture.
    let mut third = request(3);
    third.updated = vec![SessionReport { running_queries: 2, ..report(1, START + 10) }];
    reply(meta.handle_request(START + 10, NodeId(1), third));
    let mut restarted = Request::empty(RequestId { incarnation: 2, round: 0 });
    restarted.reload = Some(graphsession_core::cluster::ReloadFrom { after: None });
    reply(meta.handle_request(START + 20, NodeId(1), restarted));
    let mut fourth = Request::empty(RequestId { incarnation: 2, round: 1 });
    fourth.removals.push(graphsession_core::cluster::Removal {
        session: sid(3),
        reason: RemoveReason::SignedOut,
    });
    fourth.created = vec![report(4, START + 30)];
    reply(meta.handle_request(START + 30, NodeId(1), fourth));

    assert_eq!(captured.clone().into_snapshot(), before, "the capture is the instant it was taken");
    let after = meta.snapshot();
    assert_ne!(after, before);
    assert_eq!(meta.session(sid(1)).unwrap().last_activity_unix_ms, START + 10);
    assert!(meta.session(sid(3)).is_none() && meta.session(sid(4)).is_some());
    // Both restore, each to its own instant.
    let restored_before = MetaStore::restore(fast_meta_config(), captured.into_snapshot()).unwrap();
    assert_eq!(restored_before.session(sid(1)).unwrap().last_activity_unix_ms, START + 1);
    assert!(restored_before.session(sid(3)).is_some() && restored_before.session(sid(4)).is_none());
    assert_eq!(MetaStore::restore(fast_meta_config(), after.clone()).unwrap().snapshot(), after);
    meta.check_invariants().unwrap();
}

#[test]
fn a_corrupt_or_truncated_or_foreign_snapshot_is_refused_with_nothing_applied() {
    let meta = busy_store();
    let json = serde_json::to_string(&meta.snapshot()).unwrap();
    // One changed byte of content: the digest no longer matches.
    let corrupt = json.replacen("\"nba\"", "\"nbb\"", 1);
    let snapshot: MetaSnapshot = serde_json::from_str(&corrupt).unwrap();
    let error = MetaStore::restore(fast_meta_config(), snapshot).unwrap_err();
    assert!(matches!(error, PersistError::DigestMismatch { .. }), "{error}");
    // Truncated bytes do not even decode; the host never gets a half snapshot.
    assert!(serde_json::from_str::<MetaSnapshot>(&json[..json.len() / 2]).is_err());
    // A list cut short but well-formed: the digest catches it.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["sessions"].as_array_mut().unwrap().pop();
    let snapshot: MetaSnapshot = serde_json::from_value(value).unwrap();
    let error = MetaStore::restore(fast_meta_config(), snapshot).unwrap_err();
    assert!(matches!(error, PersistError::DigestMismatch { .. }), "{error}");
    // Another format version.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["format_version"] = serde_json::json!(99);
    let snapshot: MetaSnapshot = serde_json::from_value(value).unwrap();
    let error = MetaStore::restore(fast_meta_config(), snapshot).unwrap_err();
    assert_eq!(
        error,
        PersistError::UnsupportedVersion { found: 99, supported: META_FORMAT_VERSION }
    );
    // An unusable configuration.
    let config = MetaConfig { sessions_max: 0, ..fast_meta_config() };
    let error = MetaStore::restore(config, meta.snapshot()).unwrap_err();
    assert!(matches!(error, PersistError::Config(_)), "{error}");
}

#[test]
fn every_limit_refuses_with_a_typed_answer() {
    let config = MetaConfig {
        request_items_max: 2,
        nodes_max: 1,
        sessions_max: 1,
        kill_marks_max: 1,
        ..fast_meta_config()
    };
    let mut meta = MetaStore::new(config).unwrap();
    let mut too_long = request(1);
    too_long.pick_ups = vec![sid(1), sid(2), sid(3)];
    let refused = meta.handle_request(START, NodeId(1), too_long);
    assert!(matches!(
        refused,
        Answer::Refused { refusal: Refusal::TooManyItems { count: 3, items_max: 2 }, .. }
    ));
    let mut create = request(2);
    create.created = vec![report(1, START), report(2, START)];
    let answer = reply(meta.handle_request(START, NodeId(1), create));
    assert_eq!(answer.gone.len(), 1);
    assert_eq!((answer.gone[0].session, answer.gone[0].reason), (sid(2), GoneReason::Refused));
    let refused = meta.handle_request(START, NodeId(2), request(1));
    assert!(matches!(
        refused,
        Answer::Refused { refusal: Refusal::NodesFull { nodes_max: 1 }, .. }
    ));
    let mut kills = request(3);
    let kill =
        |plan| QueryKill { key: key(1, plan), caller_user: "root".into(), caller_is_god: true };
    kills.query_kills = vec![kill(1), kill(2)];
    // Both plans run on node 1, which says so in the same request.
    kills.updated = vec![SessionReport { running_queries: 2, ..report(1, START) }];
    kills.queries = Some(vec![query(1, 1, "YIELD 1"), query(1, 2, "YIELD 2")]);
    let answer = reply(meta.handle_request(START, NodeId(1), kills));
    let results: Vec<QueryKillResult> =
        answer.query_kills.iter().map(|(_, result)| *result).collect();
    assert_eq!(results, vec![QueryKillResult::Recorded, QueryKillResult::KillMarksFull]);
    assert_eq!(QueryKillResult::KillMarksFull.code(), -1005);
    let mut long = request(4);
    long.updated.push(SessionReport { user: "u".repeat(5_000), ..report(1, START) });
    let refused = meta.handle_request(START, NodeId(1), long);
    let expected = Refusal::TextTooLong { bytes: 5_000, bytes_max: 1_024 };
    assert!(matches!(refused, Answer::Refused { refusal, .. } if refusal == expected));
    // A node's queries are one more list, and their statements more text.
    let mut many = request(5);
    many.queries = Some((1..=3).map(|plan| query(1, plan, "YIELD 1")).collect());
    let refused = meta.handle_request(START, NodeId(1), many);
    let expected = Refusal::TooManyItems { count: 3, items_max: 2 };
    assert!(matches!(refused, Answer::Refused { refusal, .. } if refusal == expected));
    let mut long = request(6);
    long.queries = Some(vec![query(1, 1, &"Y".repeat(1_025))]);
    let refused = meta.handle_request(START, NodeId(1), long);
    let expected = Refusal::TextTooLong { bytes: 1_025, bytes_max: 1_024 };
    assert!(matches!(refused, Answer::Refused { refusal, .. } if refusal == expected));
    meta.check_invariants().unwrap();
}

/// Plan `plan` of session `session` running `statement`, as a node reports it.
fn query(session: i64, plan: u64, statement: &str) -> QueryReport {
    QueryReport {
        key: key(session, plan),
        start_time_unix_us: START * 1_000,
        status: QueryStatus::Running,
        statement: statement.to_owned(),
    }
}

#[test]
fn a_node_that_missed_collected_tombstones_resyncs_and_drops_what_meta_forgot() {
    let meta_config = MetaConfig { tombstone_retention_ms: 1_000, ..fast_meta_config() };
    let mut cluster = Cluster::new(2, meta_config, fast_node_config(), 9);
    cluster.run(100, TICK_MS);
    let now = cluster.now;
    cluster.nodes[0].local.login(sid(1), "alice", now);
    cluster.nodes[0].sync.announce(now, sid(1)).unwrap();
    cluster.run(100, TICK_MS);
    cluster.nodes[1].sync.pick_up(cluster.now, sid(1)).unwrap();
    cluster.run(100, TICK_MS);
    assert!(cluster.nodes[1].local.sessions.contains_key(&sid(1)));
    // Node B is cut off while A kills the session and meta collects the tombstone.
    cluster.cut_off.insert(1);
    let now = cluster.now;
    cluster.nodes[0].local.end(sid(1));
    cluster.nodes[0].sync.remove(now, sid(1), RemoveReason::Killed).unwrap();
    cluster.run(3_000, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), None, "the tombstone is collected");
    cluster.cut_off.clear();
    cluster.run(3_000, TICK_MS);
    assert!(!cluster.nodes[1].local.sessions.contains_key(&sid(1)));
    assert_eq!(cluster.nodes[1].local.dropped, vec![(sid(1), GoneReason::Unknown)]);
    assert!(cluster.meta.session(sid(1)).is_none());
}

#[test]
fn configurations_are_validated() {
    assert!(MetaStore::new(MetaConfig { idle_timeout_ms: 0, ..MetaConfig::default() }).is_err());
    let config = NodeConfig { retry_backoff_max_ms: 1, ..NodeConfig::default() };
    assert!(graphsession_core::cluster::NodeSync::new(config, 1, START).is_err());
    let config = NodeConfig { sync_batch_sessions_max: 0, ..NodeConfig::default() };
    let error = graphsession_core::cluster::NodeSync::new(config, 1, START).unwrap_err();
    assert_eq!(error.field, "sync_batch_sessions_max");
    assert_eq!(NodeConfig::default().sync_interval_ms, 60_000);
}

#[test]
fn node_queues_are_bounded_with_typed_errors() {
    let config =
        NodeConfig { pending_removals_max: 1, pending_pick_ups_max: 1, ..NodeConfig::default() };
    let mut node = graphsession_core::cluster::NodeSync::new(config, 1, START).unwrap();
    node.remove(START, sid(1), RemoveReason::Killed).unwrap();
    node.remove(START, sid(1), RemoveReason::Killed).unwrap();
    let error = node.remove(START, sid(2), RemoveReason::Killed).unwrap_err();
    assert_eq!(error.code(), -1005);
    node.pick_up(START, sid(3)).unwrap();
    assert!(node.pick_up(START, sid(4)).is_err());
    node.check_invariants().unwrap();
}

#[test]
fn issue_5094_a_vote_made_before_unreported_activity_cannot_expire_a_session() {
    use graphsession_core::cluster::IdleVote;
    let timeout = fast_meta_config().idle_timeout_ms;
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let (a, b) = (NodeId(1), NodeId(2));
    let mut create = request(1);
    create.created.push(report(1, START));
    reply(meta.handle_request(START, a, create));
    let mut pick_up = request(1);
    pick_up.pick_ups.push(sid(1));
    reply(meta.handle_request(START, b, pick_up));
    // B has been idle for the timeout and votes.
    let voted_b = START + timeout;
    let mut vote = request(2);
    let idle = IdleVote { session: sid(1), last_activity_unix_ms: START, voted_unix_ms: voted_b };
    vote.idle.push(idle);
    reply(meta.handle_request(voted_b, b, vote));
    // A was used just before B's vote; it reports that, then goes idle and votes in its turn.
    // (B was used again meanwhile, which meta has not heard yet.)
    let used_a = voted_b - 1;
    let mut activity = request(2);
    activity.updated.push(SessionReport { last_activity_unix_ms: used_a, ..report(1, START) });
    reply(meta.handle_request(voted_b + 10, a, activity));
    let voted_a = used_a + timeout;
    let mut vote = request(3);
    let idle = IdleVote { session: sid(1), last_activity_unix_ms: used_a, voted_unix_ms: voted_a };
    vote.idle.push(idle);
    let answer = reply(meta.handle_request(voted_a, a, vote));
    // Never idle everywhere for the timeout at one instant: B's vote is too early to count.
    assert!(answer.gone.is_empty());
    assert!(meta.session(sid(1)).is_some());
    meta.check_invariants().unwrap();
}

#[test]
fn the_meta_store_is_deterministic_so_a_host_may_replicate_its_inputs_instead() {
    use crate::cluster_support::{Faults, MetaInput};
    let mut cluster = Cluster::new(3, fast_meta_config(), fast_node_config(), 21);
    cluster.faults = Faults { loss_percent: 20, duplicate_percent: 20, delay_max_ms: 300 };
    cluster.run(100, TICK_MS);
    for (id, node) in [(1, 0), (2, 1), (3, 2), (4, 0)] {
        let now = cluster.now;
        cluster.nodes[node].local.login(sid(id), "alice", now);
        cluster.nodes[node].sync.announce(now, sid(id)).unwrap();
        cluster.run(700, TICK_MS);
    }
    let now = cluster.now;
    cluster.nodes[1].sync.remove(now, sid(1), RemoveReason::Killed).unwrap();
    cluster.nodes[2].sync.pick_up(now, sid(4)).unwrap();
    cluster.run(20_000, TICK_MS);
    let mut replica = MetaStore::new(fast_meta_config()).unwrap();
    for input in cluster.meta_log.clone() {
        match input {
            MetaInput::Request { now, node, request } => {
                let _ = replica.handle_request(now, node, *request);
            }
            MetaInput::Timeout { now } => {
                let _ = replica.handle_timeout(now);
            }
        }
    }
    assert_eq!(replica.snapshot(), cluster.meta.snapshot());
    // Something happened: a kill, expiries (20 s idle), a few dozen rounds.
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Killed));
    assert_eq!(cluster.meta.gone_reason(sid(2)), Some(GoneReason::Expired));
    assert!(cluster.meta_log.len() > 50);
}

mod arbitrary_requests {
    //! Any sequence of well-typed requests from any node, at any (even regressing) time, with
    //! any change-log position: the store never panics, keeps its invariants after every step,
    //! and its snapshot restores to an identical store.
    use super::*;
    use graphsession_core::cluster::{IdleVote, ReloadFrom, Removal};
    use proptest::prelude::*;

    fn session() -> impl Strategy<Value = graphsession_id_gen::SessionId> {
        (1..12_i64).prop_map(sid)
    }

    fn session_report() -> impl Strategy<Value = SessionReport> {
        (session(), 0..3_usize, 0..50_000_u64, 0..50_000_u64, 0..3_u32).prop_map(
            |(session, space, set, activity, running)| SessionReport {
                session,
                space: ["", "nba", "ldbc"][space].to_owned(),
                space_set_unix_ms: START + set,
                last_activity_unix_ms: START + activity,
                running_queries: running,
                ..report(1, START)
            },
        )
    }

    fn any_request() -> impl Strategy<Value = Request> {
        let lists = (
            proptest::collection::vec(session_report(), 0..4),
            proptest::collection::vec(session_report(), 0..4),
            proptest::collection::vec((session(), 0..50_000_u64), 0..3),
            proptest::collection::vec((session(), any::<bool>()), 0..3),
            proptest::collection::vec(session(), 0..3),
            proptest::collection::vec((session(), 0..4_u64, any::<bool>()), 0..3),
            proptest::collection::vec(session(), 0..3),
        );
        let head = (
            0..3_u64,
            0..30_u64,
            prop_oneof![0..40_u64, any::<u64>()],
            proptest::option::of(proptest::option::of(session())),
            any::<bool>(),
        );
        (head, lists).prop_map(|((incarnation, round, seen, reload, show), lists)| {
            let (created, updated, idle, removals, released, kills, pick_ups) = lists;
            Request {
                id: RequestId { incarnation, round },
                changes_seen_seq: seen,
                reload: reload.map(|after| ReloadFrom { after }),
                created,
                updated,
                idle: (idle.into_iter())
                    .map(|(session, at)| IdleVote {
                        session,
                        last_activity_unix_ms: START + at / 2,
                        voted_unix_ms: START + at,
                    })
                    .collect(),
                removals: (removals.into_iter())
                    .map(|(session, killed)| Removal {
                        session,
                        reason: if killed { RemoveReason::Killed } else { RemoveReason::SignedOut },
                    })
                    .collect(),
                released,
                query_kills: (kills.into_iter())
                    .map(|(session, plan, god)| QueryKill {
                        key: key(session.get(), plan),
                        caller_user: if god { "root" } else { "alice" }.to_owned(),
                        caller_is_god: god,
                    })
                    .collect(),
                show_session_ids: pick_ups.clone(),
                pick_ups,
                show_sessions: show,
                queries: None,
                show_queries: false,
            }
        })
    }

    proptest! {
        #[test]
        fn any_requests_keep_the_invariants(
            steps in proptest::collection::vec(
                (1..5_u16, 0..60_000_u64, any_request(), any::<bool>()), 1..40),
        ) {
            let config = MetaConfig {
                tombstone_retention_ms: 20_000,
                kill_mark_retention_ms: 20_000,
                tombstones_max: 6,
                kill_marks_max: 4,
                sessions_max: 8,
                page_rows_max: 3,
                answer_items_max: 3,
                changes_scanned_per_answer_max: 5,
                orphan_checks_per_timeout_max: 3,
                ..fast_meta_config()
            };
            let mut meta = MetaStore::new(config).unwrap();
            for (node, at, request, timeout) in steps {
                let _ = meta.handle_request(START + at, NodeId(node), request);
                if timeout {
                    let _ = meta.handle_timeout(START + at);
                }
                meta.check_invariants().unwrap();
            }
            let restored = MetaStore::restore(config, meta.snapshot()).unwrap();
            prop_assert_eq!(restored.snapshot(), meta.snapshot());
        }
    }
}

#[test]
fn a_nodes_queries_are_kept_as_a_set_by_session_and_plan_whatever_order_it_sends() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut create = request(1);
    create.created = vec![report(1, START), report(2, START)];
    reply(meta.handle_request(START, NodeId(1), create));
    let mut queries = request(2);
    queries.queries = Some(vec![
        query(2, 1, "YIELD 3"),
        query(1, 9, "YIELD 2"),
        query(1, 4, "YIELD 1"),
        query(2, 1, "YIELD 3"),
    ]);
    reply(meta.handle_request(START + 1, NodeId(1), queries));
    meta.check_invariants().unwrap();
    let listed: Vec<(i64, u64)> = (meta.listed_queries().iter())
        .map(|listed| (listed.query.key.session.get(), listed.query.key.plan.get()))
        .collect();
    assert_eq!(listed, [(1, 4), (1, 9), (2, 1)]);
    // An empty list clears the node's.
    let mut none = request(3);
    none.queries = Some(Vec::new());
    reply(meta.handle_request(START + 2, NodeId(1), none));
    assert!(meta.listed_queries().is_empty());
    meta.check_invariants().unwrap();
}

#[test]
fn a_kill_of_a_plan_a_holders_list_names_is_recorded_before_its_session_report_counts_it() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut create = request(1);
    create.created = vec![report(1, START)];
    reply(meta.handle_request(START, NodeId(1), create));
    // Node 1's list names plan 4 of session 1; its session report (batched) still counts none.
    let mut round = request(2);
    round.queries = Some(vec![query(1, 4, "YIELD 1")]);
    let kill =
        |plan| QueryKill { key: key(1, plan), caller_user: "alice".into(), caller_is_god: false };
    round.query_kills = vec![kill(4), kill(5)];
    let answer = reply(meta.handle_request(START + 1, NodeId(1), round));
    let results: Vec<QueryKillResult> = answer.query_kills.iter().map(|(_, r)| *r).collect();
    // Plan 4 is named; plan 5 is not, but the list and the count disagree: meta cannot tell.
    assert_eq!(results, [QueryKillResult::Recorded, QueryKillResult::Recorded]);
    // Once the session report counts the one query the list names, a plan it omits is refused.
    let mut counted = request(3);
    counted.updated = vec![SessionReport { running_queries: 1, ..report(1, START + 2) }];
    counted.query_kills = vec![kill(6)];
    let answer = reply(meta.handle_request(START + 2, NodeId(1), counted));
    assert_eq!(answer.query_kills, [(key(1, 6), QueryKillResult::QueryNotFound)]);
}

#[test]
fn a_nodes_queries_are_listed_until_it_has_been_silent_for_holder_silence_ms() {
    // A silence shorter than the idle timeout: the session outlives its node's silence.
    let config =
        MetaConfig { holder_silence_ms: 1_000, idle_timeout_ms: 60_000, ..fast_meta_config() };
    let mut meta = MetaStore::new(config).unwrap();
    let mut create = request(1);
    create.created = vec![report(1, START)];
    create.queries = Some(vec![query(1, 4, "YIELD 1")]);
    reply(meta.handle_request(START, NodeId(1), create));
    let silent_at = START + config.holder_silence_ms;
    meta.handle_timeout(silent_at - 1);
    assert_eq!(meta.listed_queries().len(), 1, "one ms before the silence");
    meta.handle_timeout(silent_at);
    assert!(meta.session(sid(1)).is_some(), "the session lives on");
    assert!(meta.listed_queries().is_empty(), "presumed dead at the silence");
}

/// Session 1 created on node 1, which then reports a query running in it (its session report
/// counts one, no list names it); with `restart`, node 1's next process then starts its reload.
fn store_with_a_query_on_node_1(restart: bool) -> MetaStore {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut first = request(1);
    first.created = vec![report(1, START)];
    reply(meta.handle_request(START, NodeId(1), first));
    let mut second = request(2);
    second.updated = vec![SessionReport { running_queries: 1, ..report(1, START + 1) }];
    reply(meta.handle_request(START + 1, NodeId(1), second));
    if restart {
        let mut reload = Request::empty(RequestId { incarnation: 2, round: 0 });
        reload.reload = Some(graphsession_core::cluster::ReloadFrom { after: None });
        reply(meta.handle_request(START + 2, NodeId(1), reload));
    }
    meta
}

#[test]
fn a_node_restart_ends_its_queries_at_meta_so_a_kill_of_one_finds_nothing() {
    for (restart, expected) in
        [(false, QueryKillResult::Recorded), (true, QueryKillResult::QueryNotFound)]
    {
        let mut meta = store_with_a_query_on_node_1(restart);
        let mut kill = Request::empty(RequestId { incarnation: 1, round: 1 });
        kill.query_kills.push(QueryKill {
            key: key(1, 5),
            caller_user: "alice".into(),
            caller_is_god: false,
        });
        let answer = reply(meta.handle_request(START + 3, NodeId(2), kill));
        assert_eq!(answer.query_kills, [(key(1, 5), expected)], "restart: {restart}");
        meta.check_invariants().unwrap();
    }
}
