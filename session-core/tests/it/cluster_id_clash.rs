//! Two graph nodes that issue the same session id (graph servers sealing ids with different keys
//! may): meta refuses the second create, so the creating node ends its new session and fails the
//! login, and the first session is left exactly as it was (record, holders, activity, space); a
//! later sign-out of the first never reaches the refused node. A retried create from the node
//! that created the session is still an update, and a removal that overtook a login still wins.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use crate::cluster_support::{Cluster, START, fast_meta_config, fast_node_config, sid};
use graphsession_core::cluster::{
    Answer, Gone, GoneReason, MetaStore, NodeEvent, NodeId, Removal, RemoveReason, Reply, Request,
    RequestId, SessionReport,
};

const TICK_MS: u64 = 10;

fn report(id: i64, user: &str, space: &str, now: u64) -> SessionReport {
    SessionReport {
        space: space.into(),
        space_set_unix_ms: now,
        ..SessionReport::logged_in(sid(id), user, "10.0.0.1", now)
    }
}

fn request(round: u64) -> Request {
    Request::empty(RequestId { incarnation: 1, round })
}

fn create(round: u64, report: SessionReport) -> Request {
    Request { created: vec![report], ..request(round) }
}

fn reply(answer: Answer) -> Reply {
    match answer {
        Answer::Reply(reply) => reply,
        Answer::Refused { refusal, .. } => panic!("refused: {refusal:?}"),
    }
}

fn refused(id: i64) -> Gone {
    Gone { session: sid(id), reason: GoneReason::Refused }
}

#[test]
fn a_second_node_creating_a_live_sessions_id_is_refused_and_the_first_session_is_untouched() {
    let mut cluster = Cluster::new(2, fast_meta_config(), fast_node_config(), 11);
    cluster.run(100, TICK_MS);
    let now = cluster.now;
    let first = cluster.node(0);
    first.local.login(sid(7), "alice", now);
    first.local.use_space(sid(7), "nba", now);
    first.sync.announce(now, sid(7)).unwrap();
    cluster.run(200, TICK_MS);
    assert!(cluster.events(0).contains(&NodeEvent::Registered { session: sid(7) }));
    let record = cluster.meta.session(sid(7)).unwrap().clone();
    let holders = cluster.meta.holders(sid(7));
    assert_eq!(holders.len(), 1);
    // Node B issues the same id to another user, later, in another space.
    cluster.run(300, TICK_MS);
    let now = cluster.now;
    let second = cluster.node(1);
    second.local.login(sid(7), "mallory", now);
    second.local.use_space(sid(7), "ldbc", now);
    second.local.login(sid(8), "mallory", now);
    second.sync.announce(now, sid(7)).unwrap();
    second.sync.announce(now, sid(8)).unwrap();
    cluster.run(200, TICK_MS);
    let events = cluster.events(1);
    assert!(events.contains(&NodeEvent::Gone { session: sid(7), reason: GoneReason::Refused }));
    assert!(!events.contains(&NodeEvent::Registered { session: sid(7) }), "{events:?}");
    assert!(events.contains(&NodeEvent::Registered { session: sid(8) }));
    assert!(!cluster.node(1).local.sessions.contains_key(&sid(7)), "B ended its copy");
    assert_eq!(cluster.node(1).local.dropped, [(sid(7), GoneReason::Refused)]);
    // The first session: same record (user, space, activity), same single holder.
    assert_eq!(cluster.meta.session(sid(7)), Some(&record));
    assert_eq!(cluster.meta.holders(sid(7)), holders);
    // B goes on reporting its other session; nothing of the refused one comes back.
    let now = cluster.now;
    cluster.node(1).local.touch(sid(8), now);
    cluster.run(2_000, TICK_MS);
    assert_eq!(cluster.meta.session(sid(7)), Some(&record));
    assert_eq!(cluster.meta.holders(sid(7)), holders);
    // Alice signs out on A: her session ends there and nowhere else.
    let now = cluster.now;
    assert!(cluster.node(0).local.end(sid(7)));
    cluster.node(0).sync.remove(now, sid(7), RemoveReason::SignedOut).unwrap();
    cluster.run(2_000, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(7)), Some(GoneReason::SignedOut));
    assert!(cluster.events(1).is_empty(), "B is told nothing of A's session");
    assert_eq!(cluster.node(1).local.dropped, [(sid(7), GoneReason::Refused)]);
    assert_eq!(cluster.meta.session(sid(8)).unwrap().user, "mallory");
    assert!(cluster.node(1).local.sessions.contains_key(&sid(8)));
}

#[test]
fn a_refused_create_changes_no_record_holder_or_change_log_position_and_is_refused_again() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    reply(meta.handle_request(START, NodeId(1), create(1, report(7, "alice", "nba", START))));
    let record = meta.session(sid(7)).unwrap().clone();
    let (holders, seq) = (meta.holders(sid(7)), meta.changes_seq());
    // Another node, another user, newer activity and space: a collision, not a retry.
    for round in 1..=2 {
        let clash = report(7, "mallory", "ldbc", START + 500);
        let answer = reply(meta.handle_request(START + 500, NodeId(2), create(round, clash)));
        assert_eq!(answer.gone, [refused(7)], "refused again when its answer was lost");
        assert!(answer.records.is_empty());
        assert_eq!(meta.session(sid(7)), Some(&record));
        assert_eq!((meta.holders(sid(7)), meta.changes_seq()), (holders.clone(), seq));
        meta.check_invariants().unwrap();
    }
    // The same user's login from a node that once picked the session up is no retry either.
    let answer = reply(meta.handle_request(
        START + 600,
        NodeId(2),
        Request { pick_ups: vec![sid(7)], ..request(3) },
    ));
    assert_eq!(answer.records.len(), 1);
    let holders = meta.holders(sid(7));
    let clash = report(7, "alice", "nba", START + 700);
    let answer = reply(meta.handle_request(START + 700, NodeId(2), create(4, clash)));
    assert_eq!(answer.gone, [refused(7)]);
    assert_eq!(meta.holders(sid(7)), holders);
    meta.check_invariants().unwrap();
}

#[test]
fn a_retried_create_from_its_creator_is_an_update_as_before() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let login = report(7, "alice", "nba", START);
    reply(meta.handle_request(START, NodeId(1), create(1, login.clone())));
    // The answer was lost; the node reports the same login again, with newer activity.
    let retry = SessionReport { last_activity_unix_ms: START + 400, ..login };
    let answer = reply(meta.handle_request(START + 400, NodeId(1), create(2, retry.clone())));
    assert!(answer.gone.is_empty(), "{:?}", answer.gone);
    assert_eq!(meta.session(sid(7)).unwrap().last_activity_unix_ms, START + 400);
    assert_eq!(meta.holders(sid(7)).len(), 1);
    // Killed on node 2 meanwhile: the creator's next retry is told why, not "refused".
    let kill = Removal { session: sid(7), reason: RemoveReason::Killed };
    reply(meta.handle_request(
        START + 500,
        NodeId(2),
        Request { removals: vec![kill], ..request(1) },
    ));
    let answer = reply(meta.handle_request(START + 600, NodeId(1), create(3, retry)));
    assert_eq!(answer.gone, [Gone { session: sid(7), reason: GoneReason::Killed }]);
    meta.check_invariants().unwrap();
}

#[test]
fn a_create_of_another_nodes_removed_session_is_refused_not_told_its_reason() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    reply(meta.handle_request(START, NodeId(1), create(1, report(7, "alice", "nba", START))));
    let sign_out = Removal { session: sid(7), reason: RemoveReason::SignedOut };
    reply(meta.handle_request(
        START + 100,
        NodeId(1),
        Request { removals: vec![sign_out], ..request(2) },
    ));
    let seq = meta.changes_seq();
    let clash = report(7, "mallory", "ldbc", START + 200);
    let answer = reply(meta.handle_request(START + 200, NodeId(2), create(1, clash)));
    assert_eq!(answer.gone, [refused(7)], "mallory never signed out");
    assert_eq!(meta.gone_reason(sid(7)), Some(GoneReason::SignedOut));
    assert_eq!(meta.changes_seq(), seq);
    meta.check_invariants().unwrap();
}

#[test]
fn a_removal_that_overtook_any_create_of_its_id_still_gives_its_reason() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let kill = Removal { session: sid(7), reason: RemoveReason::Killed };
    reply(meta.handle_request(START, NodeId(2), Request { removals: vec![kill], ..request(1) }));
    let login = report(7, "alice", "nba", START + 100);
    let answer = reply(meta.handle_request(START + 100, NodeId(1), create(1, login)));
    assert_eq!(answer.gone, [Gone { session: sid(7), reason: GoneReason::Killed }]);
    assert!(meta.session(sid(7)).is_none());
    meta.check_invariants().unwrap();
}
